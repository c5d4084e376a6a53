"""course layer · judging a learner's values: `compare` (tensors, with known mistakes), `compare_prediction`
("predict the output" answers), `expect_tuple`. These run on data only (tensors, numbers, lists), so a
judge runs them in its own process on the values the learner's kernel sent back.

Shapes: B batch · H heads · T_q/T_k query/key positions · d_k/d_v widths · n items.
"""

from __future__ import annotations

import decimal
import fractions
import math
from typing import Any

import numpy as np
import torch

from course_utils.base.i18n import Msg, msg
from course_utils.course.checks.framework import Fail, describe, short

__all__ = ["compare", "compare_prediction", "expect_tuple"]


def expect_tuple(value, n: int, names: tuple[str, ...], wants: tuple | None = None):
    """`value` as a tuple of `n` values. With `wants` (the right values, tensors), a pair
    returned in the other order fails with a hint saying so."""
    listed = ", ".join(names)
    if not isinstance(value, (tuple, list)) or len(value) != n:
        got = msg("{kind} of length {n}", kind=type(value).__name__, n=len(value)) \
            if isinstance(value, (tuple, list)) else describe(value)
        hint = None
        if isinstance(value, torch.Tensor) and wants is not None and \
                any(isinstance(w, torch.Tensor) and value.shape == w.shape for w in wants):
            hint = msg("Return all {n} values, as a tuple: `return {names}`.", n=n, names=listed)
        raise Fail(msg("Expected a tuple of {n} values ({names}), got {got}.", n=n, names=listed, got=got), hint)
    value = tuple(value)
    if wants is not None and n == 2 and all(isinstance(v, torch.Tensor) for v in (*value, *wants)):
        shapes = [tuple(v.shape) for v in value]
        want_shapes = [tuple(w.shape) for w in wants]
        swapped = shapes[::-1] == want_shapes and shapes != want_shapes
        if swapped or (shapes == want_shapes and _close(value[0], wants[1], 1e-5, 1e-4) and
                       _close(value[1], wants[0], 1e-5, 1e-4) and not _close(value[0], wants[0], 1e-5, 1e-4)):
            raise Fail(msg("The two returned values are in the other order: expected ({names}).", names=listed),
                       hint=msg("Return `{first}` first and `{second}` second.", first=names[0], second=names[1]))
    return value


def _kind(t: torch.Tensor) -> str:
    return "bool" if t.dtype == torch.bool else "float" if t.is_floating_point() else \
        "complex" if t.is_complex() else "int"


def _close(a: torch.Tensor, b: torch.Tensor, atol: float, rtol: float) -> bool:
    if a.shape != b.shape or _kind(a) != _kind(b):
        return False
    if _kind(b) != "float":
        return bool(torch.equal(a.detach().long(), b.detach().long()))
    a, b = a.detach().double(), b.detach().double()
    return bool(torch.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True))


_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _holds(test, got) -> bool:
    """Does the property `test` hold for `got`? A test that cannot run on it does not."""
    try:
        return bool(test(got))
    except Exception:
        return False


HINT_NUMPY = msg("Stay in torch: use torch operations (`@`, `.exp()`, `.max(dim=-1, keepdim=True)`, "
                 "`.sum(...)`) on the tensors you were given, not np.* functions.")
HINT_AXES_ORDER = msg("The axes are in another order: check each `transpose` / `permute` (which two axes it swaps) "
                      "and the order of the sizes in `view` / `reshape`.")
HINT_NAN = msg("NaN appears from exp() of large numbers (subtract the row maximum first), "
               "0 × inf, or a softmax over a row that is entirely -inf.")


def compare(name: str, got, want: torch.Tensor, axes: tuple[str, ...] | None = None,
            mistakes: list[tuple[Any, str]] = (), atol: float = 1e-5, rtol: float = 1e-4,
            check_dtype: bool = True, hint: str | None = None) -> None:
    """Fail with a specific message unless tensor `got` matches `want`.

    `mistakes`: (wrong, hint) pairs. `wrong` is either the value a known mistake gives on
    the same probe inputs (matched within the tolerance), or a *signature*: a function
    `wrong(got) -> bool` that recognises the mistake by a property (rows all equal, NaN
    exactly where a mask row is empty, ...); a signature's hint may be a function of `got`
    that words the hint from what was measured (e.g. the constant the scores were divided by).
    The first matching mistake's hint wins; a `None` value is skipped (a mistake this probe
    cannot show). `hint`: shown when the values differ and no known mistake matches (what the
    right computation is, in one line).

    Dtype policy: a float answer in float32 or float64 is accepted when its values are
    right; float16/bfloat16 is not (too imprecise). Integer answers may use any width.
    Then, in order: type, device, known mistakes, shape (naming the `axes`), dtype,
    NaN/inf, values (max difference and share of matching values).
    """
    mistakes = list(mistakes)
    if not isinstance(got, torch.Tensor):
        if isinstance(got, np.ndarray) and np.issubdtype(got.dtype, np.number):
            as_tensor = torch.from_numpy(np.array(got))
            _match_mistakes(name, as_tensor, want, mistakes, atol, rtol)  # a known mistake's hint first
            right = msg(" (with the right values)") if _close(as_tensor, want, atol, rtol) else ""
            raise Fail(msg("`{name}` is a NumPy array{right}; expected a torch.Tensor.", name=name, right=right),
                       hint=HINT_NUMPY)
        raise Fail(msg("`{name}` should be a torch.Tensor, got {got}.", name=name, got=describe(got)))
    if got.device != want.device:
        raise Fail(msg("`{name}` is on device {got}, expected {want}.", name=name, got=got.device, want=want.device),
                   hint=msg("Create new tensors on the inputs' device (e.g. `device=x.device`)."))
    dtype_ok = not check_dtype or (_kind(got) == _kind(want) and got.dtype not in _LOW_PRECISION) or \
        (got.dtype == want.dtype)
    if dtype_ok and _close(got, want, atol, rtol):
        return
    _match_mistakes(name, got, want, mistakes, atol, rtol)
    if got.shape != want.shape:
        permuted = sorted(got.shape) == sorted(want.shape)
        raise Fail(_shape_message(name, tuple(got.shape), tuple(want.shape), axes),
                   HINT_AXES_ORDER if permuted else None)
    if not dtype_ok:
        if _kind(got) == _kind(want):
            raise Fail(msg("`{name}` has dtype {got}, too imprecise; expected {want}.",
                           name=name, got=got.dtype, want=want.dtype),
                       hint=msg("Keep the computation in float32 (or float64)."))
        raise Fail(msg("`{name}` has dtype {got} ({got_kind}), expected {want} ({want_kind}).", name=name,
                       got=got.dtype, got_kind=_kind(got), want=want.dtype, want_kind=_kind(want)),
                   hint=msg("Check which operation changed the kind of the values (a comparison gives bool, "
                            "`.long()` or `//` gives integers, `.float()` gives floats)."))
    if got.is_floating_point():
        bad_got = ~torch.isfinite(got)
        if (bad_got & torch.isfinite(want)).any():
            n_nan, n_inf = int(torch.isnan(got).sum()), int(torch.isinf(got).sum())
            raise Fail(msg("`{name}` contains {n_nan} NaN and {n_inf} infinite values out of {n} "
                           "where the reference is finite.", name=name, n_nan=n_nan, n_inf=n_inf, n=got.numel()),
                       hint=HINT_NAN)
    if not got.is_floating_point() and not want.is_floating_point():
        n_match = int((got.long() == want.long()).sum())
        raise Fail(msg("`{name}` differs from the reference: {k} of {n} values ({pct}) match.",
                       name=name, k=n_match, n=want.numel(), pct=_pct(n_match, want.numel())), hint)
    diff = (got.detach().double() - want.detach().double()).abs()
    ok = diff <= atol + rtol * want.detach().double().abs()
    ok = ok | (torch.isnan(got) & torch.isnan(want))
    diff = torch.nan_to_num(diff, nan=float("inf"))
    raise Fail(msg("`{name}` differs from the reference: max difference {diff}; {k} of {n} values ({pct}) match.",
                   name=name, diff=_fmt(diff.max().item()), k=int(ok.sum()), n=want.numel(),
                   pct=_pct(int(ok.sum()), want.numel())), hint)


def _match_mistakes(name, got, want, mistakes, atol, rtol) -> None:
    """Fail with the hint of the first mistake `got` shows: values first, then signatures."""
    if _close(got, want, atol, rtol):
        return
    for wrong, hint in mistakes:
        if isinstance(wrong, torch.Tensor) and _close(got, wrong.to(got.device), atol, rtol):
            raise Fail(msg("`{name}` is not right: it equals what a known mistake gives.", name=name), hint=hint)
    for wrong, hint in mistakes:
        if callable(wrong) and not isinstance(wrong, torch.Tensor) and _holds(wrong, got):
            raise Fail(msg("`{name}` is not right: it shows the mark of a known mistake.", name=name),
                       hint=hint(got) if callable(hint) else hint)


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.0f}%" if n else "0%"


def _fmt(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.3g}"


def _shape_message(name, got, want, axes) -> str:
    legend = f" {_axes(want, axes)}" if axes and len(axes) == len(want) else ""
    text = msg("`{name}` has shape {got}, expected {want}{legend}.", name=name, got=got, want=want, legend=legend)
    if axes and len(axes) == len(want) and len(got) == len(want):
        wrong = [msg("{axis} is {got}, should be {want}", axis=a, got=g, want=w) for a, g, w in zip(axes, got, want)
                 if g != w]
        parts = [part for n, one in enumerate(wrong) for part in ((msg("; axis "), one) if n else (one,))]
        text += msg(" Axis {wrong}.", wrong=Msg.join(parts))  # each part in the learner's language
        if sorted(got) == sorted(want):
            text += msg(" Same sizes in another order: are two axes swapped (a missing or extra transpose)?")
    elif len(got) != len(want):
        text += msg(" It has {n} axes instead of {m}.", n=len(got), m=len(want))
    return text


def _axes(shape, axes) -> str:
    return "(" + ", ".join(f"{a}={s}" for a, s in zip(axes, shape)) + ")"


# ----------------------------------------------------------------------------- predictions

def _plain_numbers(got):
    """Fractions and Decimals (also inside lists and tuples) as floats; anything else unchanged."""
    if isinstance(got, (fractions.Fraction, decimal.Decimal)):
        try:
            return float(got)
        except (OverflowError, ValueError, decimal.InvalidOperation):
            return float("nan")
    if isinstance(got, (list, tuple)):
        return [_plain_numbers(x) for x in got]
    return got


def _as_numbers(name: str, got) -> np.ndarray:
    """Any numeric answer (int, float, Fraction, Decimal, NumPy scalar or array, tensor,
    list/tuple) as float64."""
    if isinstance(got, (str, bytes)):
        raise Fail(msg("`{name}` should be a number, got the text {got!r}.", name=name, got=got),
                   hint=msg("Store the number itself, without quotes; Python can compute it for you, e.g. `0.5 ** 3`."))
    values = _plain_numbers(got)
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    try:
        arr = np.asarray(values) if isinstance(values, (int, float, complex, list, tuple, np.ndarray, np.generic)) \
            else None
    except Exception:
        arr = None
    if arr is None or arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) \
            or arr.size == 0:
        raise Fail(msg("`{name}` should be a number, got {got}.", name=name, got=describe(got)))
    if arr.dtype == bool:
        raise Fail(msg("`{name}` should be a number, got a boolean ({got!r}).", name=name, got=got))
    return arr.astype(np.float64)


def _constant_factor(arr: np.ndarray, target: np.ndarray, rel: float = 0.01) -> str | None:
    """'10 times', '1/100 times', 'minus' when `arr` is `target` times a power of ten or -1 (within `rel`)."""
    target = np.asarray(target, dtype=np.float64).reshape(arr.shape)
    if not np.all(np.isfinite(arr)) or np.any(target == 0) or np.any(arr == 0):
        return None
    ratio = arr / target
    if np.allclose(ratio, -1, rtol=rel, atol=0):
        return "minus"
    for f, said in ((2.0, "twice"), (0.5, "half")):
        if np.allclose(ratio, f, rtol=rel, atol=0):
            return said
    k = np.round(np.log10(np.abs(ratio)))
    if np.all(ratio > 0) and np.all(k == k.flat[0]) and k.flat[0] != 0 and abs(k.flat[0]) <= 9 and \
            np.allclose(ratio, 10.0 ** k, rtol=rel, atol=0):
        e = int(k.flat[0])
        return msg("{factor} times", factor=10 ** e) if e > 0 else msg("1/{factor} times", factor=10 ** -e)
    return None


_FACTOR_SAID = {
    "twice": msg("twice"), "half": msg("half"), "minus": msg("minus"),
}
HINT_FACTOR_2 = msg("A factor of 2 is off: check each square root and each halving or doubling in your steps.")
HINT_SIGN = msg("Right size, wrong sign: check which way each term is subtracted.")
HINT_POWER_OF_TEN = msg("The digits are right but not the size: check the decimal point and the powers of ten "
                        "(e.g. 1e-3 = 0.001).")


def _shown(arr: np.ndarray) -> str:
    """An answer as the feedback repeats it: whole numbers as integers (1050624, not 1.051e+06), other values
    to 4 significant digits."""
    if np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)) and np.all(np.abs(arr) < 1e15):
        whole = arr.astype(np.int64)
        return str(whole.item()) if arr.size == 1 else np.array2string(whole)
    return f"{arr.item():.4g}" if arr.size == 1 else np.array2string(arr, precision=4)


def compare_prediction(name: str, got, want, rel: float = 1e-3, abs_tol: float = 1e-9, near: float = 0.1,
                       mistakes: list[tuple[Any, str]] = (), hint: str | None = None) -> None:
    """Judge a "predict the output" answer: `want` a number or array-like.

    Accepts int, float, Fraction, Decimal, NumPy scalar/array, 0-d or n-d tensor, list. Right
    when every value is within `rel` (relative) or `abs_tol` of `want` — the precision the
    statement asks for. A known wrong answer (`mistakes`: (value, hint)) gets its hint; an answer
    within `near` (relative) but not right is told "close: compute it exactly"; any other wrong
    value gets `hint` (the reasoning that leads to the answer).
    """
    arr, target = _as_numbers(name, got), np.asarray(_plain_numbers(want), dtype=np.float64)
    if arr.size != target.size:
        if target.size == 1:
            raise Fail(msg("`{name}` should hold one number, got {k}: {got}.", name=name, k=arr.size,
                           got=short(got)), hint)
        raise Fail(msg("`{name}` should hold {n} numbers, got {k}: {got}.", name=name, n=target.size, k=arr.size,
                       got=short(got)), hint)
    arr = arr.reshape(target.shape)

    def within(value, tol_rel, tol_abs):
        value = np.asarray(_plain_numbers(value), dtype=np.float64)
        return bool(np.all(np.abs(arr - value) <= np.maximum(tol_abs, tol_rel * np.abs(value))))

    shown = _shown(arr)
    if within(target, rel, abs_tol):
        return
    for wrong, wrong_hint in mistakes:
        if within(wrong, rel, abs_tol):
            raise Fail(msg("`{name}` = {shown} is a common wrong answer.", name=name, shown=shown), hint=wrong_hint)
    factor = _constant_factor(arr, target)
    if factor is not None:
        said = {"twice": HINT_FACTOR_2, "half": HINT_FACTOR_2, "minus": HINT_SIGN}.get(factor, HINT_POWER_OF_TEN)
        raise Fail(msg("`{name}` = {shown} is {factor} the right value.", name=name, shown=shown,
                       factor=_FACTOR_SAID.get(factor, factor)),
                   hint=said + " " + hint if hint else said)
    if near and within(target, near, abs_tol):
        raise Fail(msg("`{name}` = {shown} is close: compute it exactly.", name=name, shown=shown),
                   hint=msg("Work the value out step by step rather than estimating it."))
    raise Fail(msg("`{name}` = {shown} is not right yet.", name=name, shown=shown), hint)
