"""Greedy decoding vs. beam search on the reference checkpoint: exact match and BLEU on
the test and compositional splits.

    python benchmarks/beam_vs_greedy.py [--checkpoint PATH] [--beam-size 4] [--length-penalty 0.6] [--tiny]

Both are scored by course_utils.run.decoding.evaluate, the course's one evaluation. `--tiny`
(the first 4 sentences of each split, beam 2) is a smoke test of the script.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line  # noqa: E402

from course_utils.corpus.data import make_splits  # noqa: E402
from course_utils.run.decoding import evaluate  # noqa: E402
from course_utils.run.reference import REFERENCE_CHECKPOINT, load_reference  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=str(REFERENCE_CHECKPOINT))
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--length-penalty", type=float, default=0.6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="first N sentences of each split")
    parser.add_argument("--tiny", action="store_true", help="smoke test: 4 sentences per split, beam 2")
    args = parser.parse_args(argv)
    if args.tiny:
        args.limit, args.beam_size = 4, 2
    torch.set_num_threads(args.threads)
    print(machine_line())
    model, src_vocab, tgt_vocab, meta = load_reference(args.checkpoint)
    # the held-out splits do not depend on the training split's size: no need to generate it
    splits = make_splits(seed=meta.get("recipe", {}).get("data_seed", 0), n_train=0)
    test, compositional = splits.test, splits.compositional
    print(f"checkpoint {args.checkpoint} (trained {meta.get('steps')} steps)")
    for name, pairs in (("test", test), ("compositional", compositional)):
        pairs = pairs[:args.limit] if args.limit else pairs
        for label, beam in (("greedy", 1), (f"beam {args.beam_size} (alpha {args.length_penalty})", args.beam_size)):
            t0 = time.perf_counter()
            r = evaluate(model, pairs, src_vocab, tgt_vocab, beam_size=beam, length_penalty=args.length_penalty)
            print(f"{name:>13} {label:>22}: exact match {100 * r['exact_match']:6.2f}%  BLEU {r['bleu']:6.2f}  "
                  f"({r['n']} sentences, {time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
