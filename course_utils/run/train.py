"""run layer · training an encoder-decoder Transformer: loss, learning-rate schedule, the
loop, and checkpoints (lesson 09).

Shapes: B batch · S source length · T target length · V target vocab.

The recipe follows the paper (Vaswani et al. 2017, sec. 5.3-5.4): Adam with
betas (0.9, 0.98), a learning rate that warms up linearly and then decays, and label
smoothing. We add gradient clipping, which small models on a CPU are grateful for.
"""

import dataclasses
import math
import os
import time
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm  # a widget in JupyterLab, text in a terminal

from course_utils.base import validate
from course_utils.base.i18n import msg
from course_utils.corpus.data import Vocab, collate
from course_utils.run.decoding import inference
from course_utils.transformer.layers import MultiHeadAttention
from course_utils.transformer.model import Transformer, TransformerConfig

CHECKPOINT_FORMAT_VERSION = 1


# -- device -----------------------------------------------------------------------------
def pick_device(prefer: str | None = None) -> torch.device:
    """The fastest device present: CUDA, then Apple's MPS, then the CPU.
    `prefer` ("cpu", "cuda", "mps") overrides the choice."""
    if prefer is not None:
        if prefer not in ("cpu", "cuda", "mps"):
            raise ValueError(f"pick_device: prefer must be 'cpu', 'cuda' or 'mps', got {prefer!r}")
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def use_fast_attention(model: nn.Module, fast: bool = True) -> nn.Module:
    """Switch every MultiHeadAttention in `model` to the fused SDPA kernel (fast=True,
    no attention weights kept) or back to the by-hand path (fast=False, weights kept in
    `last_weights` for plotting). The numbers are the same either way."""
    for module in model.modules():
        if isinstance(module, MultiHeadAttention):
            module.fast = fast
    return model


# -- loss -------------------------------------------------------------------------------
def label_smoothed_loss(logits: torch.Tensor, target: torch.Tensor, smoothing: float = 0.1,
                        pad_id: int = 0) -> torch.Tensor:
    """Mean cross-entropy over the non-pad target tokens, against a smoothed target:
    1 - smoothing on the right token plus smoothing / V spread over all V tokens
    (Szegedy et al. 2016; the paper uses smoothing = 0.1). Pad positions count for
    nothing. This is `F.cross_entropy(..., label_smoothing=smoothing, ignore_index=pad_id)`.
    Built by hand in lesson 09 (section 4, the exercise `label_smoothed_loss`).

    Shapes:
        logits (B, T, V) or (N, V), target (B, T) or (N,) ids -> scalar.
    """
    if not isinstance(logits, torch.Tensor) or not logits.dtype.is_floating_point:
        raise TypeError(f"label_smoothed_loss: logits must be a float tensor, got "
                        f"{getattr(logits, 'dtype', type(logits).__name__)}")
    if not isinstance(target, torch.Tensor) or target.dtype.is_floating_point:
        raise TypeError("label_smoothed_loss: target must be a tensor of token ids")
    if logits.shape[:-1] != target.shape:
        raise ValueError(f"label_smoothed_loss: logits {tuple(logits.shape)} must be target's shape "
                         f"{tuple(target.shape)} plus a vocabulary axis")
    smoothing = validate.probability("label_smoothed_loss: smoothing", smoothing)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1),
                           ignore_index=pad_id, label_smoothing=smoothing)


# -- learning rate ----------------------------------------------------------------------
def warmup_lr(step: int, d_model: int, warmup: int = 4000) -> float:
    """The paper's schedule (sec. 5.3): lr = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5).
    It rises linearly for `warmup` steps, peaks at (d_model * warmup)^-0.5, then decays
    as 1 / sqrt(step). Step 0 (before the first update) gives 0.
    Built by hand in lesson 09 (section 5, the exercise `warmup_lr`)."""
    validate.non_negative_int("step", step)
    validate.positive_int("d_model", d_model)
    validate.positive_int("warmup", warmup)
    if step == 0:
        return 0.0
    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


def lr_at(step: int, peak_lr: float, warmup: int, total_steps: int | None = None, decay: str = "cosine") -> float:
    """Linear warm-up from 0 to `peak_lr` over `warmup` steps, then a decay:
    "inverse_sqrt" (the paper's shape, peak_lr * sqrt(warmup / step)), "cosine" (to 0 at
    `total_steps`) or "constant". Step 0 gives 0. Used in lesson 09 (section 5)."""
    validate.non_negative_int("step", step)
    validate.positive_int("warmup", warmup)
    if decay not in ("cosine", "inverse_sqrt", "constant"):
        raise ValueError(f"lr_at: decay must be 'cosine', 'inverse_sqrt' or 'constant', got {decay!r}")
    if decay == "cosine":
        if total_steps is None:
            raise ValueError("lr_at: cosine decay needs total_steps (the step where it reaches 0)")
        validate.positive_int("lr_at: total_steps", total_steps)
    if step <= warmup:
        return peak_lr * step / warmup
    if decay == "inverse_sqrt":
        return peak_lr * math.sqrt(warmup / step)
    if decay == "constant":
        return peak_lr
    if step >= total_steps:
        return 0.0
    progress = (step - warmup) / (total_steps - warmup)
    return peak_lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(optimizer, peak_lr: float, warmup: int, total_steps: int | None = None, decay: str = "cosine"):
    """A `LambdaLR` that sets the learning rate of update number n (1, 2, ...) to
    lr_at(n, ...). Call `scheduler.step()` after each `optimizer.step()`."""
    lr_at(0, peak_lr, warmup, total_steps, decay)  # validate the arguments now
    for group in optimizer.param_groups:
        group["lr"] = peak_lr
        group["initial_lr"] = peak_lr
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda n: lr_at(n + 1, peak_lr, warmup, total_steps, decay) / peak_lr)


def clip_gradients(model: nn.Module, max_norm: float) -> float:
    """Rescale all gradients together so their global L2 norm is at most `max_norm`;
    return the norm before clipping (worth plotting: spikes mean trouble). Used in lesson 09
    (section 6)."""
    return float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))


# -- batches ----------------------------------------------------------------------------
def batch_iterator(pairs, src_vocab, tgt_vocab, batch_size: int = 64, seed: int = 0):
    """Endless mini-batches (course_utils.corpus.data.Batch) of `pairs`, reshuffled every epoch
    with its own seeded generator (the global random state is left alone). Used in lesson 09
    (section 6)."""
    validate.positive_int("batch_size", batch_size)
    if len(pairs) == 0:
        raise ValueError("batch_iterator: pairs is empty")
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(pairs), generator=generator).tolist()
        for b in range(max(1, len(order) // batch_size)):  # full batches only (all pairs if fewer)
            yield collate([pairs[i] for i in order[b * batch_size:(b + 1) * batch_size]], src_vocab, tgt_vocab)


# -- the loop ---------------------------------------------------------------------------
@dataclass
class History:
    """What `train` measured, ready to plot: per-step loss, learning rate and gradient norm;
    per-evaluation scores; times in seconds (training only, evaluations excluded)."""

    step: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    eval_step: list = field(default_factory=list)
    eval_score: list = field(default_factory=list)
    eval_seconds: list = field(default_factory=list)
    train_seconds: float = 0.0
    eval_total_seconds: float = 0.0
    steps_done: int = 0
    target: float | None = None
    target_step: int | None = None
    target_seconds: float | None = None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def first_reaching(self, target: float) -> tuple[int | None, float | None]:
        """(step, training seconds) of the first evaluation scoring >= target, or (None, None)."""
        for step, score, seconds in zip(self.eval_step, self.eval_score, self.eval_seconds):
            if score >= target:
                return step, seconds
        return None, None


def train(model: nn.Module, batches, *, steps: int, peak_lr: float = 2e-3, warmup: int = 300,
          decay: str = "cosine", label_smoothing: float = 0.1, clip_norm: float | None = 1.0,
          betas=(0.9, 0.98), eps: float = 1e-9, pad_id: int | None = None, eval_fn=None,
          eval_every: int = 100, target: float | None = None, device=None, progress: bool = True) -> History:
    """Train `model` for up to `steps` updates on `batches` (an iterator of objects with
    `.src`, `.tgt_in`, `.tgt_out`, e.g. from `batch_iterator`) with teacher forcing.

    Every `eval_every` steps (and at the end) `eval_fn(model)` is called, if given, and its
    score (say, exact match in [0, 1]) recorded, the model in eval mode without autograd
    (course_utils.run.decoding.inference); with `target`, training stops at the first
    evaluation scoring >= target. The model is left in eval mode on `device`.
    Written out step by step in lesson 09 (section 6).

    Shapes:
        batch.src (B, S), batch.tgt_in (B, T) (<bos> + target), batch.tgt_out (B, T)
        (target + <eos>) -> model logits (B, T, V).
    """
    validate.positive_int("steps", steps)
    validate.positive_int("eval_every", eval_every)
    device = pick_device() if device is None else torch.device(device)
    if pad_id is None:
        pad_id = model.config.pad_id if hasattr(model, "config") else 0
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=peak_lr, betas=betas, eps=eps)
    scheduler = make_scheduler(optimizer, peak_lr, warmup, total_steps=steps, decay=decay)
    history = History(target=target)
    bar = _progress_bar(steps, progress)
    batches = iter(batches)

    def evaluate(step):
        t0 = time.perf_counter()
        with inference(model):
            score = float(eval_fn(model))
        history.eval_total_seconds += time.perf_counter() - t0
        history.eval_step.append(step)
        history.eval_score.append(score)
        history.eval_seconds.append(history.train_seconds)
        if bar is not None:
            bar.set_postfix(loss=f"{history.loss[-1]:.3f}", eval=f"{score:.3f}")
        return score

    model.train()
    t_start = time.perf_counter()
    for step in range(1, steps + 1):
        batch = next(batches)
        src, tgt_in, tgt_out = (t.to(device, non_blocking=True) for t in (batch.src, batch.tgt_in, batch.tgt_out))
        logits = model(src, tgt_in)  # (B, T, V)
        loss = label_smoothed_loss(logits, tgt_out, label_smoothing, pad_id)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = clip_gradients(model, clip_norm) if clip_norm else _grad_norm(model)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        history.step.append(step)
        history.loss.append(loss.item())
        history.lr.append(lr)
        history.grad_norm.append(grad_norm)
        history.steps_done = step
        if bar is not None:
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{history.loss[-1]:.3f}", lr=f"{lr:.1e}")
        if eval_fn is not None and (step % eval_every == 0 or step == steps):
            history.train_seconds = time.perf_counter() - t_start - history.eval_total_seconds
            score = evaluate(step)
            if target is not None and score >= target:
                break
    history.train_seconds = time.perf_counter() - t_start - history.eval_total_seconds
    if target is not None:
        history.target_step, history.target_seconds = history.first_reaching(target)
    if bar is not None:
        bar.close()
    model.eval()
    return history


def _progress_bar(steps, progress):
    if not progress:
        return None
    return tqdm(total=steps, desc="training", unit="step")


def _grad_norm(model) -> float:
    norms = [p.grad.detach().norm() for p in model.parameters() if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


# -- checkpoints ------------------------------------------------------------------------
class CheckpointError(ValueError):
    """A checkpoint file that is empty, corrupt, of another format, has an entry of the wrong
    type, or weights that do not fit its config or are not finite. The message names the
    file and the entry."""


def save_checkpoint(path, model: Transformer, src_vocab, tgt_vocab, **meta) -> Path:
    """Write weights, config and both vocabularies to `path` (plain types only, so
    `torch.load(weights_only=True)` can read it). `meta` holds plain values: numbers,
    strings, lists, dicts (e.g. steps, seconds, scores, seed)."""
    if not isinstance(getattr(model, "config", None), TransformerConfig):
        raise TypeError(f"save_checkpoint: model must be a course Transformer, got {type(model).__name__}")
    for name, vocab in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
        if not isinstance(vocab, Vocab):
            raise TypeError(f"save_checkpoint: {name} must be a Vocab, got {type(vocab).__name__}")
    _check_plain(meta, "meta")
    checkpoint = {
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "config": dataclasses.asdict(model.config),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "src_vocab": src_vocab.to_dict(),
        "tgt_vocab": tgt_vocab.to_dict(),
        "meta": dict(meta),
    }
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"save_checkpoint: path must be a str or a Path, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"save_checkpoint: {path} is a folder; give a file path such as {path / 'model.pt'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)  # never leave a half-written checkpoint behind
    return path


def load_checkpoint(path, device="cpu", recipe=None):
    """Read a checkpoint written by `save_checkpoint` (with `weights_only=True`: a file
    cannot run code while it loads).

    Returns (model in eval mode, src_vocab, tgt_vocab, meta). Raises FileNotFoundError
    for a missing file and CheckpointError (a ValueError) naming the path and the entry for
    anything else: an empty, truncated or non-torch file, another format, a missing entry or
    one of the wrong type, weights that do not fit the stored config, NaN or inf weights.
    `recipe`, a dataclass such as course_utils.run.reference.ReferenceConfig, is the type
    of meta["recipe"]: every field stored there must have the type that dataclass declares.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_checkpoint: path must be a str or a Path, got {type(path).__name__}")
    device = _checkpoint_device(device)
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): not a checkpoint (an interrupted copy or download?)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged file
        detail = (str(err).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt, truncated or not written by "
                              f"torch.save): {type(err).__name__}{': ' + detail if detail else ''}") from err
    if not isinstance(checkpoint, dict) or "format_version" not in checkpoint:
        raise CheckpointError(f"{path} is not a course checkpoint (no 'format_version' entry)")
    if checkpoint["format_version"] != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {checkpoint['format_version']!r}; this version "
                              f"of course_utils reads format {CHECKPOINT_FORMAT_VERSION}")
    missing = {"config", "state_dict", "src_vocab", "tgt_vocab", "meta"} - checkpoint.keys()
    if missing:
        raise CheckpointError(f"{path} lacks the entries {sorted(missing)}")
    for entry in ("config", "state_dict", "src_vocab", "tgt_vocab", "meta"):
        if type(checkpoint[entry]) is not dict:
            raise CheckpointError(f"{path}: the entry '{entry}' must be a dict, got {type(checkpoint[entry]).__name__}")
    try:
        config = TransformerConfig(**checkpoint["config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path} holds an invalid model config: {err}") from err
    vocabs = []
    for entry in ("src_vocab", "tgt_vocab"):
        try:
            vocabs.append(Vocab.from_dict(checkpoint[entry]))
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{path}: the entry '{entry}' is not a readable vocabulary: {err}") from err
    src_vocab, tgt_vocab = vocabs
    if (len(src_vocab), len(tgt_vocab)) != (config.src_vocab_size, config.tgt_vocab_size):
        raise CheckpointError(f"{path}: vocabularies have {len(src_vocab)} / {len(tgt_vocab)} tokens but the "
                              f"config says {config.src_vocab_size} / {config.tgt_vocab_size}")
    meta = checkpoint["meta"]
    try:
        _check_plain(meta, "meta")
    except TypeError as err:
        raise CheckpointError(f"{path}: {str(err).replace('save_checkpoint: ', '')}") from err
    if recipe is not None and "recipe" in meta:
        _check_fields(meta["recipe"], recipe, "meta['recipe']", path)
    _check_weights(checkpoint["state_dict"], path)
    _check_weight_shapes(checkpoint["state_dict"], config, path)  # before a single weight is allocated
    model = Transformer(config)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:  # missing/unexpected keys or wrong shapes
        raise CheckpointError(f"{path}: the weights do not fit the stored config: "
                              f"{' '.join(str(err).split())[:500]}") from err
    try:
        model = model.to(device)
    except (AssertionError, RuntimeError) as err:  # torch built without that device's support
        raise ValueError(f"load_checkpoint: cannot move the model to device '{device}': {err}") from err
    return model.eval(), src_vocab, tgt_vocab, meta


def _checkpoint_device(device) -> torch.device:
    """`device` as a torch.device that exists here, or a ValueError naming it."""
    try:
        device = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"load_checkpoint: device {device!r} is not a device ('cpu', 'cuda', 'mps'): "
                         f"{str(err).splitlines()[0][:120]}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("load_checkpoint: device 'cuda' is not available here (no GPU, or torch built without "
                         "CUDA); use device='cpu'")
    return device


def _check_weights(state_dict: dict, path) -> None:
    """Every entry a finite floating-point tensor under a string name."""
    for name, value in state_dict.items():
        where = f"{path}: state_dict[{name!r}]"
        if not isinstance(name, str):
            raise CheckpointError(f"{where}: weight names must be strings")
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{where} must be a tensor, got {type(value).__name__}")
        if not value.dtype.is_floating_point:
            raise CheckpointError(f"{where} must hold floating-point weights, got dtype {value.dtype}")
        bad = int((~torch.isfinite(value)).sum())
        if bad:
            raise CheckpointError(f"{where} holds {bad} NaN or infinite value(s) of {value.numel()}: the model "
                                  "diverged (or the file was altered) before it was saved; it cannot translate")


def _check_weight_shapes(state_dict: dict, config: TransformerConfig, path) -> None:
    """The file's weights have the names and shapes of the model its config describes. The
    model is built on the meta device (shapes, no memory), so a small file whose config
    describes a huge model is refused before that model is allocated."""
    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in Transformer(config).state_dict().items()}
    missing = sorted(expected.keys() - state_dict.keys())
    unexpected = sorted(state_dict.keys() - expected.keys())
    wrong = [f"{name} is {tuple(state_dict[name].shape)} in the file, {expected[name]} in the model"
             for name in expected.keys() & state_dict.keys() if tuple(state_dict[name].shape) != expected[name]]
    if missing or unexpected or wrong:
        parts = [f"{label}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
                 for label, items in (("missing", missing), ("unexpected", unexpected),
                                      ("size mismatch", sorted(wrong)))
                 if items]
        raise CheckpointError(msg("{path}: the weights do not fit the stored config (a model of about {n:.2e} "
                                  "parameters): {parts}", path=str(path), n=config.approx_parameters,
                                  parts="; ".join(parts)))


def _check_fields(value, cls, where: str, path) -> None:
    """`value` (a dict read from a file) has, for each field of dataclass `cls` it holds,
    that field's declared type (int, float, str, bool, None, a nested dataclass). Keys that
    `cls` does not declare are left alone (older checkpoints)."""
    if type(value) is not dict:
        raise CheckpointError(f"{path}: {where} must be a dict, got {type(value).__name__}")
    hints = typing.get_type_hints(cls)
    for field_ in dataclasses.fields(cls):
        if field_.name in value:
            _check_typed(value[field_.name], hints[field_.name], f"{where}[{field_.name!r}]", path)


def _check_typed(value, expected, where: str, path) -> None:
    options = typing.get_args(expected) if typing.get_origin(expected) in (typing.Union, types.UnionType) else (
        expected,)
    for option in options:
        if dataclasses.is_dataclass(option):
            if type(value) is dict:
                _check_fields(value, option, where, path)
                return
        elif option is type(None) and value is None:
            return
        elif option is float and type(value) in (int, float) and math.isfinite(value):
            return
        elif option in (int, str, bool) and type(value) is option:
            return
    names = " or ".join("a dict" if dataclasses.is_dataclass(o) else getattr(o, "__name__", str(o)) for o in options)
    raise CheckpointError(f"{path}: {where} must be {names}, got {type(value).__name__} ({value!r:.60})")


MAX_META_DEPTH = 32  # lists and dicts inside `meta`, nested at most this deep


def _check_plain(value, where: str, depth: int = 0) -> None:
    if value is None or type(value) in (bool, int, float, str):  # exact types: a str subclass is not plain
        return
    if depth >= MAX_META_DEPTH and type(value) in (list, tuple, dict):
        raise TypeError(msg("save_checkpoint: {where} is nested more than {n} lists or dicts deep; keep meta "
                            "flat (numbers, strings, short lists, dicts)", where=where, n=MAX_META_DEPTH))
    if type(value) in (list, tuple):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]", depth + 1)
        return
    if type(value) is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise TypeError(f"save_checkpoint: {where} keys must be strings, got {k!r}")
            _check_plain(v, f"{where}[{k!r}]", depth + 1)
        return
    raise TypeError(f"save_checkpoint: {where} must hold plain values (numbers, strings, lists, dicts) "
                    f"so the file loads with weights_only=True, got {type(value).__name__}")
