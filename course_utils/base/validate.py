"""base layer · argument checks with clear errors: the one place the package validates its inputs.

Every function takes the argument's `name` (as the caller wants it shown, e.g.
"TransformerConfig.max_len") and its value, raises a TypeError (wrong kind of value) or a
ValueError (right kind, wrong value) whose message names the argument, what was expected
and what was given, and otherwise returns the value, so a check reads as an assignment:

    d_model = positive_int("d_model", d_model)
    norm_first = boolean("norm_first", norm_first)

`bool` is a subclass of `int` in Python, so `isinstance(True, int)` holds; every integer
check here refuses bools, and `boolean` refuses truthy strings such as "false".

Where the checks run: once per call, at the entry the caller used. A model call checks its
token ids and masks and the stacks check their first layer's inputs; the layers and the
attention inside then run on checked inputs (`forward_unchecked`, `unchecked_attention`),
and a decoding loop checks its first step and runs the later ones through
`Transformer.decode_unchecked` (with a key/value cache: `Transformer.one_token_step`).
Calling a layer or `attention` directly checks as before.
"""

import math

import torch

from course_utils.base.i18n import msg

_KINDS = {
    "float": ("a floating-point", lambda dt: dt.is_floating_point),
    "int": ("an integer", lambda dt: not dt.is_floating_point and not dt.is_complex and dt != torch.bool),
    "bool": ("a bool", lambda dt: dt == torch.bool),
}


def _shown(x) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def integer(name: str, x, *, min: int | None = None, max: int | None = None, hint: str = "") -> int:
    """`x` must be an int (not a bool) with min <= x <= max (each bound optional).
    `hint` is added to the error about `max`, to say why that bound exists."""
    if not _is_int(x):
        raise TypeError(f"{name} must be an int, got {type(x).__name__} ({_shown(x)})")
    if min is not None and x < min:
        raise ValueError(f"{name} must be >= {min}, got {x}")
    if max is not None and x > max:
        raise ValueError(f"{name} must be <= {max}, got {x}" + (f": {hint}" if hint else ""))
    return x


def positive_int(name: str, x, max: int | None = None, hint: str = "") -> int:
    """An int >= 1 (and <= max, if given)."""
    return integer(name, x, min=1, max=max, hint=hint)


def non_negative_int(name: str, x, max: int | None = None, hint: str = "") -> int:
    """An int >= 0 (and <= max, if given)."""
    return integer(name, x, min=0, max=max, hint=hint)


def int_in_range(name: str, x, low: int, high: int, hint: str = "") -> int:
    """An int with low <= x < high, e.g. a token id in a vocabulary of `high` tokens."""
    if not _is_int(x):
        raise TypeError(f"{name} must be an int, got {type(x).__name__} ({_shown(x)})")
    if not low <= x < high:
        raise ValueError(f"{name} must be in [{low}, {high}), got {x}" + (f": {hint}" if hint else ""))
    return x


def boolean(name: str, x) -> bool:
    """True or False itself: not 0/1, not "false" (a non-empty string is truthy)."""
    if not isinstance(x, bool):
        raise TypeError(f"{name} must be True or False, got {type(x).__name__} ({_shown(x)})")
    return x


def finite_float(name: str, x, *, min: float | None = None, max: float | None = None,
                 below_max: bool = False) -> float:
    """A finite real number (int or float, not a bool, not NaN or inf), returned as a float,
    with min <= x <= max (x < max if `below_max`)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(x).__name__} ({_shown(x)})")
    try:
        x = float(x)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number, got an int too large for a float") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {x}")
    too_high = max is not None and (x >= max if below_max else x > max)
    if (min is not None and x < min) or too_high:
        top = "" if max is None else (f"< {max}" if below_max else f"<= {max}")
        bound = " and ".join(b for b in ("" if min is None else f">= {min}", top) if b)
        raise ValueError(f"{name} must be {bound}, got {x}")
    return x


def probability(name: str, x) -> float:
    """A dropout-style probability in [0, 1)."""
    return finite_float(name, x, min=0.0, max=1.0, below_max=True)


def one_of(name: str, x, choices):
    """`x` must be one of `choices` (compared with ==, types included: 1 is not "1")."""
    if not any(type(x) is type(c) and x == c for c in choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {_shown(x)}")
    return x


# -- tensors --------------------------------------------------------------------------
def tensor(name: str, x, *, kind: str | None = None, ndim: int | None = None,
           min_ndim: int | None = None, shape: str = "") -> torch.Tensor:
    """`x` must be a torch.Tensor; `kind` ("float", "int" or "bool") fixes its dtype family,
    `ndim` its exact number of dims, `min_ndim` the least. `shape` (e.g. "(B, T)") is shown
    in the message about dims."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_meta:
        raise ValueError(msg("{name} is a meta tensor: it has a shape but no values to compute with; "
                             "make it on a real device such as 'cpu'", name=name))
    if kind is not None:
        words, ok = _KINDS[kind]
        if not ok(x.dtype):
            raise TypeError(f"{name} must be {words} tensor, got dtype {x.dtype}")
    want = f" {shape}" if shape else ""
    if ndim is not None and x.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dims{want}, got shape {tuple(x.shape)}")
    if min_ndim is not None and x.dim() < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dims{want}, got shape {tuple(x.shape)}")
    return x


def token_ids(name: str, x, vocab_size: int | None = None, ndim: int = 2) -> torch.Tensor:
    """An integer tensor of token ids, `ndim` dims (B, T), each id in [0, vocab_size)."""
    if isinstance(x, torch.Tensor) and not _KINDS["int"][1](x.dtype):
        raise TypeError(f"{name} must hold integer token ids, got dtype {x.dtype}")
    tensor(name, x, ndim=ndim, shape="(B, T) of token ids" if ndim == 2 else "")
    if vocab_size is not None and x.numel():
        low, high = int(x.min()), int(x.max())
        if low < 0 or high >= vocab_size:
            bad = low if low < 0 else high
            raise ValueError(f"{name} holds token id {bad}, outside the vocabulary [0, {vocab_size})")
    return x


def same_dtype(**tensors: torch.Tensor) -> None:
    """All tensors share one dtype (e.g. q, k, v all float32: float64 and float32 do not mix)."""
    (first, t0), *rest = tensors.items()
    for name, t in rest:
        if t.dtype != t0.dtype:
            raise TypeError(f"{first} and {name} must have the same dtype, got {first} {t0.dtype} and "
                            f"{name} {t.dtype}; convert one with .to({t0.dtype})")


def same_size(dim: int, what: str, **tensors: torch.Tensor) -> None:
    """All tensors have the same size along `dim`; `what` names that axis in the message
    (e.g. same_size(0, "batch size", q=q, k=k))."""
    (first, t0), *rest = tensors.items()
    for name, t in rest:
        if t.size(dim) != t0.size(dim):
            raise ValueError(f"{first} and {name} must have the same {what}, got {first} {tuple(t0.shape)} "
                             f"and {name} {tuple(t.shape)}")


def same_batch(**tensors: torch.Tensor) -> None:
    """All tensors have the same batch size (dim 0)."""
    same_size(0, "batch size (dim 0)", **tensors)


def finite_tensor(name: str, x: torch.Tensor) -> torch.Tensor:
    """No NaN or inf anywhere in a floating-point tensor."""
    if x.dtype.is_floating_point and not bool(torch.isfinite(x).all()):
        n_bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} holds {n_bad} non-finite value(s) (NaN or inf) of {x.numel()}")
    return x


def broadcast_shape(*shapes) -> tuple[int, ...] | None:
    """The shape that `shapes` broadcast to under torch's rules (aligned at the right; two sizes
    agree when equal or when one is 1), or None when they do not broadcast.

    Written out instead of calling `torch.broadcast_shapes`, which imports sympy on its first call
    (about a second and a half of CPU time: in a notebook kernel, the first `attention` call would
    pay it). Same answers: the tests compare the two."""
    out: list[int] = []
    for shape in shapes:
        shape = tuple(int(n) for n in shape)
        if len(shape) > len(out):
            out = [1] * (len(shape) - len(out)) + out
        for i, n in enumerate(shape, start=len(out) - len(shape)):
            if out[i] == 1:
                out[i] = n
            elif n != 1 and n != out[i]:
                return None
    return tuple(out)
