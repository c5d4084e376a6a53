"""Greedy decoding with vs. without the key/value cache.

    python benchmarks/kv_cache.py [--threads 2] [--d-model 128] [--tiny]

A randomly initialised model (d_model 128, 2 + 2 layers, 4 heads, d_ff 512, the corpus's
vocabulary sizes) decodes exactly L tokens (no <eos> can stop it) for batch sizes 1 and
64 and L = 16, 32, 64, 128. For each setting: best of `--repeats` timings, generated
tokens per second with and without the cache, the speed-up, and a check that both paths
produced identical tokens, measured side by side in one run. Last, the goals at 64 tokens:
batch 1 >= 3x faster with the cache and >= 2,500 generated tokens/s, batch 64 >= 10x.

`--clock cpu` times with the process's CPU time instead of the wall clock: on a machine
shared with other work, the wall clock also counts the time other programs held the CPU,
while the CPU time counts only this process's own work (use it with `--threads 1`: with
more threads, threads waiting for each other count too). `--tiny` (d_model 16, L = 4, 8,
batch 1 and 4, one timing) is a smoke test of the script, not a measurement.
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


def best_time(fn, repeats, clock=time.perf_counter):
    times, out = [], None
    for _ in range(repeats):
        t0 = clock()
        out = fn()
        times.append(clock() - t0)
    return min(times), out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--lengths", default="16,32,64,128")
    parser.add_argument("--batch-sizes", default="1,64")
    parser.add_argument("--src-len", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall clock (default) or this process's CPU time (a shared machine)")
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
          f"d_ff {config.d_ff}; source length {args.src_len}; clock: {args.clock}")
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    figures = {}
    print(f"{'batch':>5} {'tokens':>6} | {'no cache tok/s':>14} {'cache tok/s':>11} | {'speed-up':>8} | identical")
    all_identical = True
    for B in map(int, args.batch_sizes.split(",")):
        src = torch.randint(4, 167, (B, args.src_len), generator=torch.Generator().manual_seed(B))
        for L in map(int, args.lengths.split(",")):
            kw = dict(max_new_tokens=L, eos_id=-1)  # -1: no <eos>, every row runs L steps
            greedy_decode(model, src, use_cache=True, **kw)  # warm-up: first calls allocate
            t_plain, plain = best_time(lambda: greedy_decode(model, src, use_cache=False, **kw), args.repeats, clock)
            t_cache, cached = best_time(lambda: greedy_decode(model, src, use_cache=True, **kw), args.repeats, clock)
            same = torch.equal(plain, cached) and plain.shape == (B, L)
            all_identical &= same
            figures[B, L] = (t_plain / t_cache, B * L / t_cache)
            print(f"{B:>5} {L:>6} | {B * L / t_plain:>14.0f} {B * L / t_cache:>11.0f} | "
                  f"{t_plain / t_cache:>7.1f}x | {'yes' if same else 'NO'}", flush=True)
    print("all decoded tokens identical:", all_identical)
    for B, want_speedup, want_rate in ((1, 3.0, 2500), (64, 10.0, None)):
        if (B, 64) in figures:
            speedup, rate = figures[B, 64]
            met = speedup >= want_speedup and (want_rate is None or rate >= want_rate)
            goal = f">= {want_speedup:g}x" + (f" and >= {want_rate:,} tok/s" if want_rate else "")
            print(f"goal at batch {B}, 64 tokens ({goal}): {speedup:.1f}x, {rate:,.0f} tok/s: "
                  f"{'met' if met else 'NOT met'}")
    return 0 if all_identical else 1


if __name__ == "__main__":
    sys.exit(main())
