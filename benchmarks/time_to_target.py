"""Time to >= 99% exact match: the course's Transformer (reference recipe) vs. a same-size
torch.nn.Transformer, trained on the same data, seed, batches, optimiser and schedule.

    python benchmarks/time_to_target.py [--threads 2] [--seeds 0,1,2] [--parallel] [--tiny]

Both models are evaluated every `--eval-every` steps (default 50) by batched greedy decoding
of the first 500 test sentences (exact match); evaluation time is not counted. Each seed
sets both models' initial weights and the (shared) batch order. `--parallel` trains all runs
at once, one process each (only where there are that many x threads idle cores); the
default runs them one after the other. Prints the times, their ratio ours / baseline per
seed and the ratio of the medians. `--tiny` runs a few steps on a few sentences (a smoke
test of the script, not a measurement).
"""

import argparse
import dataclasses
import json
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import TorchTransformerBaseline, machine_line  # noqa: E402

from course_utils.base.seed import set_seed  # noqa: E402
from course_utils.run.decoding import evaluate  # noqa: E402
from course_utils.run.reference import REFERENCE_CONFIG, load_data  # noqa: E402
from course_utils.run.train import batch_iterator, train, use_fast_attention  # noqa: E402
from course_utils.transformer.model import Transformer  # noqa: E402


def run(which: str, threads: int, max_steps: int, target: float, eval_size: int, seed: int, eval_every: int,
        n_train: int = REFERENCE_CONFIG.n_train) -> dict:
    torch.set_num_threads(threads)
    config = dataclasses.replace(REFERENCE_CONFIG, steps=max_steps, seed=seed, eval_every=eval_every,
                                 n_train=n_train)
    (train_pairs, _, test, _), (src_vocab, tgt_vocab) = load_data(config)
    set_seed(config.seed)
    if which == "ours":
        model = use_fast_attention(Transformer(config.model_config(len(src_vocab), len(tgt_vocab))), True)
    else:
        m = config.model
        model = TorchTransformerBaseline(len(src_vocab), len(tgt_vocab), m.d_model, m.n_heads, m.n_layers, m.d_ff,
                                         m.max_len, pad_id=m.pad_id)
    eval_pairs = test[:eval_size]

    def greedy(m):  # nn.Transformer has no key/value cache: the baseline decodes without one
        return evaluate(m, eval_pairs, src_vocab, tgt_vocab, batch_size=500, bleu=False,
                        use_cache=which == "ours")["exact_match"]

    history = train(model, batch_iterator(train_pairs, src_vocab, tgt_vocab, config.batch_size, seed=config.seed),
                    steps=config.steps, peak_lr=config.peak_lr, warmup=config.warmup, decay=config.decay,
                    label_smoothing=config.label_smoothing, clip_norm=config.clip_norm, pad_id=config.model.pad_id,
                    eval_fn=greedy, eval_every=config.eval_every, target=target, device="cpu", progress=False)
    return {"which": which, "seed": seed, "params": sum(p.numel() for p in model.parameters()),
            "target_seconds": history.target_seconds, "target_step": history.target_step,
            "steps_done": history.steps_done, "train_seconds": history.train_seconds,
            "steps_per_s": history.steps_done / history.train_seconds,
            "best_eval": max(history.eval_score), "last_eval": history.eval_score[-1]}


def _run_star(args):
    return run(*args)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=REFERENCE_CONFIG.steps)
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--eval-size", type=int, default=500)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default: %(default)s)")
    parser.add_argument("--parallel", action="store_true", help="train both at once in two processes")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--n-train", type=int, default=REFERENCE_CONFIG.n_train, help="training pairs")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test: 4 steps, 64 training pairs, 8 evaluation sentences")
    args = parser.parse_args(argv)
    if args.tiny:
        args.max_steps, args.eval_every, args.eval_size, args.n_train = 4, 2, 8, 64
    torch.set_num_threads(args.threads)
    print(machine_line(), flush=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(w, args.threads, args.max_steps, args.target, args.eval_size, seed, args.eval_every, args.n_train)
            for seed in seeds for w in ("ours", "baseline")]
    t0 = time.perf_counter()
    if args.parallel:
        with mp.get_context("spawn").Pool(len(jobs)) as pool:
            results = pool.map(_run_star, jobs)
    else:
        results = [run(*job) for job in jobs]
    for r in results:
        reached = (f"{r['target_seconds']:.1f} s (step {r['target_step']})" if r["target_seconds"] is not None
                   else f"not reached in {r['steps_done']} steps (best {r['best_eval']:.3f})")
        print(f"seed {r['seed']} {r['which']:>8}: {r['params']} parameters, {r['steps_per_s']:.1f} steps/s, "
              f"time to {args.target:.0%}: {reached}", flush=True)
    times = {"ours": [], "baseline": []}
    speed = {"ours": [], "baseline": []}
    for ours, base in zip(results[0::2], results[1::2]):
        speed["ours"].append(ours["steps_per_s"])
        speed["baseline"].append(base["steps_per_s"])
        if ours["target_seconds"] and base["target_seconds"]:
            times["ours"].append(ours["target_seconds"])
            times["baseline"].append(base["target_seconds"])
            print(f"seed {ours['seed']}: ratio ours / baseline (time to target) "
                  f"{ours['target_seconds'] / base['target_seconds']:.2f}")
    if times["ours"]:
        print(f"median time to target: ours {statistics.median(times['ours']):.1f} s, baseline "
              f"{statistics.median(times['baseline']):.1f} s, ratio of medians "
              f"{statistics.median(times['ours']) / statistics.median(times['baseline']):.2f}")
    print(f"ratio ours / baseline (seconds per step, median): "
          f"{statistics.median(speed['baseline']) / statistics.median(speed['ours']):.2f}")
    print(f"wall time {time.perf_counter() - t0:.0f} s{' (parallel)' if args.parallel else ''}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine_line(), "args": vars(args), "results": results},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
