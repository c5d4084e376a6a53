"""run layer · the course's reference model: its recipe, the shipped checkpoint, and the two
commands that train and evaluate it (the model lessons 08 and 10 load).

    course train    [--out PATH] [--steps N] [--threads N] ...      -> train_command(...)
    course evaluate [--checkpoint PATH] [--split test] [--beam-size K]  -> evaluate_command(...)

(the options are parsed and validated in course_utils.course.cli.) The recipe is the one
calibrated on the course corpus (times in benchmarks/RESULTS.md): a small post-LN Transformer
(d_model 64, 2 + 2 layers, 4 heads, d_ff 256, no dropout), Adam (0.9, 0.98), peak
learning rate 2e-3 after 300 warm-up steps, cosine decay, clipping 1.0, label smoothing 0.1.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from course_utils.base import validate
from course_utils.base.i18n import msg
from course_utils.base.seed import set_seed
from course_utils.corpus.data import Vocab, build_vocabs, english_tokens, make_splits
from course_utils.run.decoding import evaluate, translate_batch
from course_utils.run.train import (
    CheckpointError,
    batch_iterator,
    load_checkpoint,
    pick_device,
    save_checkpoint,
    train,
    use_fast_attention,
)
from course_utils.transformer.model import Transformer, TransformerConfig

REFERENCE_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "reference.pt"


def _reference_model() -> TransformerConfig:
    """The reference model's shape over the course vocabularies (see build_vocabs)."""
    src_vocab, tgt_vocab = build_vocabs()
    return TransformerConfig(src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab), d_model=64,
                             n_heads=4, n_layers=2, d_ff=256, dropout=0.0, max_len=64, norm_first=False)


@dataclass(frozen=True)
class ReferenceConfig:
    """How the reference model is built and trained (one place, so the CLI, the
    benchmark and the lessons agree). `model` is a TransformerConfig, so every model
    option is there once, e.g. a pre-LN variant:

        dataclasses.replace(REFERENCE_CONFIG, model=dataclasses.replace(REFERENCE_CONFIG.model, norm_first=True))
    """

    model: TransformerConfig = field(default_factory=_reference_model)
    # data: the train split of make_splits(seed); `n_val` more sentences drawn from the
    # same stream are held out for deciding when to stop (never the test split)
    data_seed: int = 0
    n_train: int = 40_000
    n_val: int = 500
    # optimisation
    seed: int = 0
    steps: int = 7_000
    batch_size: int = 64
    peak_lr: float = 2e-3
    warmup: int = 300
    decay: str = "cosine"
    label_smoothing: float = 0.1
    clip_norm: float = 1.0
    # evaluation during training: greedy exact match on the validation sentences
    eval_every: int = 100
    target: float = 0.99

    def __post_init__(self):
        if not isinstance(self.model, TransformerConfig):
            raise TypeError(f"ReferenceConfig.model must be a TransformerConfig, got {type(self.model).__name__}")

    def model_config(self, src_vocab_size: int, tgt_vocab_size: int) -> TransformerConfig:
        """`model` for vocabularies of these sizes."""
        return dataclasses.replace(self.model, src_vocab_size=src_vocab_size, tgt_vocab_size=tgt_vocab_size)


REFERENCE_CONFIG = ReferenceConfig()
MAX_TRAIN_PAIRS = 1_000_000  # 25x the recipe's 40,000: a bound on memory and generation time


def load_data(config: ReferenceConfig = REFERENCE_CONFIG):
    """(train, val, test, compositional) pair lists and (src_vocab, tgt_vocab)."""
    splits = make_splits(seed=config.data_seed, n_train=config.n_train + config.n_val)
    train, val = splits.train[:config.n_train], splits.train[config.n_train:]
    return (train, val, splits.test, splits.compositional), build_vocabs()


def load_reference(path=None, device="cpu"):
    """The shipped reference model: (model in eval mode, src_vocab, tgt_vocab, meta).
    Loaded in lessons 08 and 10."""
    return load_checkpoint(REFERENCE_CHECKPOINT if path is None else path, device=device, recipe=ReferenceConfig)


def translate(model, src_vocab, tgt_vocab, sentence, beam_size: int = 1) -> str:
    """Translate one English sentence (a string such as "the dog chases the cat", or a
    token list) and return the Chinese as a string, e.g. "狗追猫。"."""
    if not isinstance(model, Transformer):
        raise TypeError(f"translate: model must be a course Transformer, got {type(model).__name__}")
    for name, vocab in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
        if not isinstance(vocab, Vocab):
            raise TypeError(f"translate: {name} must be a Vocab, got {type(vocab).__name__}")
    validate.positive_int("translate: beam_size", beam_size, max=64, hint="one sentence needs only a few beams")
    if not isinstance(sentence, (str, list, tuple)) or not all(isinstance(t, str) for t in sentence):
        raise TypeError(f"translate: sentence must be a str or a list of str tokens, got {sentence!r:.80}")
    # a token list goes through the same checks as a typed sentence (unknown words, final ".")
    tokens = english_tokens(sentence if isinstance(sentence, str) else " ".join(sentence), src_vocab)
    return "".join(translate_batch(model, src_vocab, tgt_vocab, [tokens], beam_size=beam_size)[0])


def train_reference(config: ReferenceConfig = REFERENCE_CONFIG, stop_at_target: bool = False,
                    device=None, progress: bool = True):
    """Train a model by the reference recipe. Returns (model, src_vocab, tgt_vocab, history, data).
    Lesson 09 trains a smaller model the same way, step by step."""
    (train_pairs, val, test, compositional), (src_vocab, tgt_vocab) = load_data(config)
    set_seed(config.seed)
    model = Transformer(config.model_config(len(src_vocab), len(tgt_vocab)))
    use_fast_attention(model, True)  # the fused kernel for training; weights for plots need fast=False
    device = pick_device() if device is None else torch.device(device)
    history = train(model, batch_iterator(train_pairs, src_vocab, tgt_vocab, config.batch_size, seed=config.seed),
                    steps=config.steps, peak_lr=config.peak_lr, warmup=config.warmup, decay=config.decay,
                    label_smoothing=config.label_smoothing, clip_norm=config.clip_norm,
                    eval_fn=lambda m: evaluate(m, val, src_vocab, tgt_vocab, batch_size=500, bleu=False)["exact_match"],
                    eval_every=config.eval_every, target=config.target if stop_at_target else None,
                    device=device, progress=progress)
    history.target = config.target  # when the target was first met, also when training did not stop there
    history.target_step, history.target_seconds = history.first_reaching(config.target)
    use_fast_attention(model, False)
    return model.cpu(), src_vocab, tgt_vocab, history, (train_pairs, val, test, compositional)


def score(model, src_vocab, tgt_vocab, pairs, beam_size: int = 1, length_penalty: float = 0.6) -> dict:
    """{"exact_match", "bleu", "n"} of `model` on `pairs` (exact match as a fraction):
    course_utils.run.decoding.evaluate without the hypotheses."""
    result = evaluate(model, pairs, src_vocab, tgt_vocab, beam_size=beam_size, length_penalty=length_penalty)
    return {"exact_match": result["exact_match"], "bleu": result["bleu"], "n": len(pairs)}


# -- command line -----------------------------------------------------------------------
@contextlib.contextmanager
def torch_threads(threads: int):
    """torch's thread count set to `threads` inside the block, and the caller's count back after it:
    a command called from Python (a notebook, a test) must not leave the caller's process using more
    threads than it chose."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _backup_existing(path: Path) -> Path | None:
    """Copy an existing checkpoint to `<name>.bak-<UTC time>` before it is overwritten."""
    if not path.exists():
        return None
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    shutil.copy2(path, backup)
    return backup


def train_command(*, out, steps: int, n_train: int, seed: int, eval_every: int, stop_at_target: bool = False,
                  threads: int = 2, device: str | None = None, eval_limit: int | None = None, progress: bool = True,
                  command: str = "course train") -> int:
    """`course train` (its options are parsed and validated in course_utils.course.cli):
    train the reference model and write its checkpoint to `out`."""
    backup = _backup_existing(Path(out))
    if backup is not None:
        print(f"{out} exists: backed it up to {backup}")

    with torch_threads(threads):
        config = dataclasses.replace(REFERENCE_CONFIG, steps=steps, n_train=n_train, seed=seed, eval_every=eval_every)
        t0 = time.perf_counter()
        model, src_vocab, tgt_vocab, history, (_, _, test, compositional) = train_reference(
            config, stop_at_target=stop_at_target, device=device, progress=progress)
        meta = {
            "recipe": dataclasses.asdict(config),
            "steps": history.steps_done,
            "train_seconds": round(history.train_seconds, 1),
            "eval_seconds": round(history.eval_total_seconds, 1),
            "target": config.target,
            "target_step": history.target_step,
            "target_seconds": None if history.target_seconds is None else round(history.target_seconds, 1),
            "final_loss": round(history.loss[-1], 4),
            "val_exact_match": history.eval_score[-1] if history.eval_score else None,
            "history": {"eval_step": history.eval_step, "eval_score": history.eval_score,
                        "loss_every_50": [round(x, 4) for x in history.loss[::50]]},
            "threads": threads,
            "device": str(next(model.parameters()).device) if device is None else device,
            "torch": str(torch.__version__),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": command,
        }
        out = save_checkpoint(out, model, src_vocab, tgt_vocab, **meta)  # saved before scoring: never lose a run
        limit = slice(None) if eval_limit is None else slice(0, eval_limit)
        for name, pairs in (("test", test[limit]), ("compositional", compositional[limit])):
            meta[name] = score(model, src_vocab, tgt_vocab, pairs)
        save_checkpoint(out, model, src_vocab, tgt_vocab, **meta)
        print(f"trained {history.steps_done} steps in {history.train_seconds:.0f} s "
              f"(+ {history.eval_total_seconds:.0f} s evaluating; {time.perf_counter() - t0:.0f} s in all)")
        if history.target_step is not None:
            print(f"validation exact match reached {config.target:.0%} at step {history.target_step}, "
                  f"after {history.target_seconds:.0f} s of training")
        else:
            print(f"validation exact match never reached {config.target:.0%}")
        for name in ("test", "compositional"):
            print(_format_scores(name, meta[name]))
        print(f"wrote {out}")
        return 0


def evaluate_command(*, checkpoint=REFERENCE_CHECKPOINT, split: str = "test", limit: int | None = None,
                     beam_size: int = 1, length_penalty: float = 0.6, threads: int = 2) -> int:
    """`course evaluate` (options parsed and validated in course_utils.course.cli): print
    exact match and BLEU of a checkpoint on a split ("train", "val" or a name in
    course_utils.corpus.data's split list)."""
    with torch_threads(threads):
        try:
            model, src_vocab, tgt_vocab, meta = load_reference(checkpoint)
        except (FileNotFoundError, CheckpointError) as err:
            print(f"course evaluate: {err}", file=sys.stderr)
            return 1
        recipe = meta.get("recipe", {})
        for name in ("n_train", "n_val"):
            if not 0 <= recipe.get(name, 0) <= MAX_TRAIN_PAIRS:
                print(msg("course evaluate: {path}: meta['recipe'][{name!r}] is {n}, outside 0 to {top}: "
                          "the checkpoint was altered or not written by `course train`, and generating that many "
                          "sentences would take hours",
                          path=str(checkpoint), name=name, n=recipe[name], top=f"{MAX_TRAIN_PAIRS:,}"),
                      file=sys.stderr)
                return 1
        config = dataclasses.replace(REFERENCE_CONFIG, **{k: recipe[k] for k in ("data_seed", "n_train", "n_val")
                                                          if k in recipe})
        if split in ("train", "val"):  # these depend on the training split's size
            (train_pairs, val, _, _), _ = load_data(config)
            pairs = train_pairs if split == "train" else val
        else:  # the held-out splits do not depend on the training split's size
            pairs = getattr(make_splits(seed=config.data_seed, n_train=0), split)
        if limit is not None:
            pairs = pairs[:limit]
        result = score(model, src_vocab, tgt_vocab, pairs, beam_size=beam_size, length_penalty=length_penalty)
        decoder = "greedy" if beam_size == 1 else f"beam {beam_size}, alpha {length_penalty}"
        print(f"{checkpoint} ({decoder})")
        print(_format_scores(split, result))
        return 0


DEFAULT_TRAIN_OUT = Path("artifacts") / "reference.pt"  # never the shipped checkpoint


def _format_scores(name: str, result: dict) -> str:
    return (f"{name:>13}: exact match {100 * result['exact_match']:.2f}%  BLEU {result['bleu']:.2f}  "
            f"({result['n']} sentences)")
