"""Length generalisation: sinusoidal vs. learned positions, at the same amount of training.

    python benchmarks/length_positions.py --positional sinusoidal --steps 500 [--threads 1] [--tiny]

Trains the reference recipe (course_utils.run.reference.REFERENCE_CONFIG: its 7,000-step
cosine schedule, data, seeds and batches) with the chosen positional encoding and stops
after exactly `--steps` steps (a multiple of the recipe's evaluation interval, 100), then
prints greedy exact match on the test split and the held-out splits long, nested and
relative_tense. `--tiny` (4 steps on 64 pairs, evaluated every 2; 8 sentences per split) is a
smoke test of the script, not a measurement.
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line  # noqa: E402

from course_utils.base.seed import set_seed  # noqa: E402
from course_utils.corpus.data import make_splits  # noqa: E402
from course_utils.run.reference import REFERENCE_CONFIG, load_data, score  # noqa: E402
from course_utils.run.train import batch_iterator, train, use_fast_attention  # noqa: E402
from course_utils.transformer.model import Transformer  # noqa: E402


class _Stop(Exception):
    """Raised from the evaluation hook to end training after exactly `steps` steps."""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positional", choices=("sinusoidal", "learned"), required=True)
    parser.add_argument("--steps", type=int, default=500, help="stop after this many steps (multiple of 100)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args(argv)
    cfg = REFERENCE_CONFIG
    steps, limit = (args.steps, None)
    if args.tiny:
        cfg = dataclasses.replace(cfg, n_train=64, n_val=0, eval_every=2)
        steps, limit = 4, 8
    if steps <= 0 or steps % cfg.eval_every:
        parser.error(f"--steps must be a positive multiple of {cfg.eval_every}, got {steps}")
    torch.set_num_threads(args.threads)
    print(machine_line())

    (train_pairs, _, _, _), (src_vocab, tgt_vocab) = load_data(cfg)
    set_seed(cfg.seed)
    model_config = dataclasses.replace(cfg.model, src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab),
                                       positional=args.positional)
    model = Transformer(model_config)
    use_fast_attention(model, True)
    evaluations = []

    def stop_after(_model):
        evaluations.append(1)
        if len(evaluations) * cfg.eval_every >= steps:
            raise _Stop
        return 0.0

    t0 = time.perf_counter()
    try:
        train(model, batch_iterator(train_pairs, src_vocab, tgt_vocab, cfg.batch_size, seed=cfg.seed),
              steps=cfg.steps, peak_lr=cfg.peak_lr, warmup=cfg.warmup, decay=cfg.decay,
              label_smoothing=cfg.label_smoothing, clip_norm=cfg.clip_norm, eval_fn=stop_after,
              eval_every=cfg.eval_every, device="cpu", progress=False)
    except _Stop:
        pass
    seconds = time.perf_counter() - t0
    use_fast_attention(model, False)
    model.eval()
    splits = make_splits(seed=cfg.data_seed, n_train=0)
    result = {"positional": args.positional, "steps": steps, "train_seconds": round(seconds, 1)}
    for name in ("test", "long", "nested", "relative_tense"):
        result[name] = score(model, src_vocab, tgt_vocab, splits[name][:limit])["exact_match"]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
