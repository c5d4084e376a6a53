"""Greedy decoding with vs. without the key/value cache.

    python benchmarks/kv_cache.py [--threads 2] [--d-model 128] [--tiny]

A randomly initialised model (d_model 128, 2 + 2 layers, 4 heads, d_ff 512, the corpus's
vocabulary sizes) decodes exactly L tokens (no <eos> can stop it) for batch sizes 1 and
64 and L = 16, 32, 64, 128. For each setting: best of `--repeats` timings, generated
tokens per second with and without the cache, the speed-up, and a check that both paths
produced identical tokens. `--tiny` (d_model 16, L = 4, 8, batch 1 and 4, one timing) is a
smoke test of the script, not a measurement.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line  # noqa: E402

from course_utils.run.decoding import greedy_decode  # noqa: E402
from course_utils.transformer.model import Transformer, TransformerConfig  # noqa: E402


def best_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--lengths", default="16,32,64,128")
    parser.add_argument("--batch-sizes", default="1,64")
    parser.add_argument("--src-len", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="smoke test: a tiny model, short lengths")
    args = parser.parse_args(argv)
    if args.tiny:
        args.d_model, args.lengths, args.batch_sizes, args.src_len, args.repeats = 16, "4,8", "1,4", 5, 1
    torch.set_num_threads(args.threads)
    print(machine_line())
    torch.manual_seed(0)
    config = TransformerConfig(src_vocab_size=167, tgt_vocab_size=110, d_model=args.d_model, n_heads=4, n_layers=2,
                               d_ff=4 * args.d_model, dropout=0.0, max_len=256)
    model = Transformer(config).eval()
    print(f"model: d_model {config.d_model}, {config.n_layers}+{config.n_layers} layers, {config.n_heads} heads, "
          f"d_ff {config.d_ff}; source length {args.src_len}")
    print(f"{'batch':>5} {'tokens':>6} | {'no cache tok/s':>14} {'cache tok/s':>11} | {'speed-up':>8} | identical")
    all_identical = True
    for B in map(int, args.batch_sizes.split(",")):
        src = torch.randint(4, 167, (B, args.src_len), generator=torch.Generator().manual_seed(B))
        for L in map(int, args.lengths.split(",")):
            kw = dict(max_new_tokens=L, eos_id=-1)  # -1: no <eos>, every row runs L steps
            t_plain, plain = best_time(lambda: greedy_decode(model, src, use_cache=False, **kw), args.repeats)
            t_cache, cached = best_time(lambda: greedy_decode(model, src, use_cache=True, **kw), args.repeats)
            same = torch.equal(plain, cached) and plain.shape == (B, L)
            all_identical &= same
            print(f"{B:>5} {L:>6} | {B * L / t_plain:>14.0f} {B * L / t_cache:>11.0f} | "
                  f"{t_plain / t_cache:>7.1f}x | {'yes' if same else 'NO'}", flush=True)
    print("all decoded tokens identical:", all_identical)
    return 0 if all_identical else 1


if __name__ == "__main__":
    sys.exit(main())
