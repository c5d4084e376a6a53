"""Graded exercises: `check("NN.name", learner_object)` gives instant, specific feedback.

A learner calls, in the last line of a check cell,

    check("04.attention", attention)

and sees **pending** (the stub still raises `NotImplementedError`, or a prediction is
still `...`), **passed**, or **failed** with the reason: wrong type, shape (naming the
axes), dtype, NaN/inf, inputs changed in place, a mismatch with the reference (max
difference, share of matching values) and, when the answer equals a *known mistake*
(softmax over the wrong axis, no 1/√d_k, ...), a hint about that mistake.
`check` never raises for a learner. With `COURSE_STRICT=1` (CI, solution notebooks)
anything but *passed* raises `AssertionError`. Each result is recorded in the learner's
progress file (course_utils.course.progress) unless `COURSE_NO_PROGRESS=1`.

How to add an exercise
----------------------
1. Write a checker in `checks/lessons_01_05.py` or `checks/lessons_06_10.py` and register it:

       from course_utils.course.checks import exercise, call, compare, expect_callable, probe_generator, Fail

       @exercise("06.causal_mask", "Build a causal mask")
       def _check_causal_mask(fn):
           expect_callable(fn, "causal_mask")
           for T in (1, 4, 7):                       # probe shapes that expose mistakes
               got = call(fn, T)                      # time limit, mutation check, pending
               want = torch.ones(T, T, dtype=torch.bool).tril()
               compare("mask", got, want, axes=("T_q", "T_k"),
                       mutants=[(want.T, "Upper instead of lower triangle: position i may "
                                         "see j <= i, so keep the part *below* the diagonal.")])

   - `call(fn, *args)` runs learner code: a time limit, a copy of every tensor argument to
     detect in-place changes, `NotImplementedError` -> pending, any other exception ->
     failed with the exception and the learner's line.
   - `compare(name, got, want, axes=..., mutants=[(wrong_value, hint), ...])` checks type,
     shape (naming axes), dtype, NaN/inf, then values; if `got` matches a wrong variant it
     fails with that variant's hint. Compute wrong variants on the *same* probe inputs.
   - `expect_tuple(got, 2, ("out", "weights"))` for functions that return several values;
     compare each of them.
   - `compare_value(name, got, want, rel=..., mutants=[(wrong_value, hint)])` for numbers
     ("predict the output" exercises: the learner stores a prediction in a variable).
   - `raise Fail("message", hint="...")` anywhere for a custom failure; return a short
     string from the checker to replace the default "passed" message.
   - Probe inputs come from `probe_generator(seed)` (a local torch.Generator: the global
     RNG is not disturbed). Use shapes where mistakes show: batch *and* head axes,
     T_q != T_k, d_v != d_k, masks with padding.
2. Test it in `tests/test_checks_NN_NN.py`: every correct variant passes (matmul/einsum,
   loops, -inf/-1e9 fill), every known mistake fails *with its hint*, garbage fails.
3. In `solutions/NN_name.ipynb` tag every cell of the exercise (statement, hint, answer,
   check) with `exercise:NN.name`; put the answer between `### BEGIN SOLUTION` and
   `### END SOLUTION` (see course_utils.course.build for stub rules); the check cell ends with
   `check("NN.name", your_object)` and is marked `# NBVAL_CHECK_OUTPUT`. Then run
   `python -m course_utils.course.build` to write `exercises/`.
"""

from __future__ import annotations

import html
import importlib
import inspect
import math
import os
import re
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

__all__ = [
    "check", "CheckResult", "Exercise", "exercise", "registry", "get_exercise",
    "Fail", "Pending", "call", "compare", "compare_value", "expect_callable", "expect_class",
    "expect_tuple", "probe_generator", "randn", "MIME_TYPE", "DEFAULT_TIME_LIMIT",
]

MIME_TYPE = "application/vnd.course.check+json"
DEFAULT_TIME_LIMIT = 10.0  # seconds per call of learner code
_LESSON_MODULES = ("course_utils.course.checks.lessons_01_05", "course_utils.course.checks.lessons_06_10")


# ----------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class Exercise:
    """One graded exercise: `id` is "NN.snake_name" with NN the lesson number."""

    id: str
    title: str
    checker: Callable[[Any], Any]
    time_limit: float = DEFAULT_TIME_LIMIT

    @property
    def lesson(self) -> str:
        return self.id.split(".", 1)[0]


_REGISTRY: dict[str, Exercise] = {}
_LOAD_ERRORS: dict[str, str] = {}  # lesson module -> why it could not be imported
_loaded = False


def exercise(id: str, title: str, time_limit: float = DEFAULT_TIME_LIMIT):
    """Decorator registering `checker(learner_object)` as the grader of exercise `id`."""
    if not isinstance(id, str) or "." not in id or not id.split(".", 1)[0].isdigit():
        raise ValueError(f"exercise: id must look like 'NN.snake_name', got {id!r}")

    def register(checker):
        if id in _REGISTRY and _REGISTRY[id].checker.__qualname__ != checker.__qualname__:
            raise ValueError(f"exercise: id {id!r} is registered twice")
        _REGISTRY[id] = Exercise(id, title, checker, time_limit)
        return checker

    return register


def _load_lessons() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in _LESSON_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:  # a lesson module not written yet
            if err.name != name:
                _LOAD_ERRORS[name] = f"{type(err).__name__}: {err}"
        except Exception as err:  # a broken lesson module must not break check() for the others
            _LOAD_ERRORS[name] = f"{type(err).__name__}: {err}"


def registry() -> dict[str, Exercise]:
    """All registered exercises, by id, sorted."""
    _load_lessons()
    return dict(sorted(_REGISTRY.items()))


def get_exercise(id: str) -> Exercise:
    _load_lessons()
    if id not in _REGISTRY:
        raise KeyError(id)
    return _REGISTRY[id]


# ----------------------------------------------------------------------------- results

class Fail(Exception):
    """Raised by checkers (and helpers) to fail a check with a message and optional hint."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


class Pending(Exception):
    """The learner has not written an answer yet."""


class _TimeLimit(BaseException):
    """Raised inside learner code when its time is up (BaseException: `except Exception`
    in learner code cannot swallow it)."""


_STYLE = {
    "passed": ("✔", "#e6f4ea", "#1e7e34"),
    "failed": ("✘", "#fdecea", "#b02a37"),
    "pending": ("…", "#f1f3f4", "#5f6368"),
}


@dataclass
class CheckResult:
    """The outcome of one check. Its plain-text and HTML forms are deterministic (no
    timings), so check cells can be marked NBVAL_CHECK_OUTPUT."""

    exercise_id: str
    title: str
    status: str  # "passed" | "failed" | "pending"
    message: str
    hint: str | None = None
    details: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict:
        return {"id": self.exercise_id, "title": self.title, "status": self.status,
                "message": self.message, "hint": self.hint}

    def __repr__(self) -> str:
        mark = _STYLE[self.status][0]
        lines = [f"{mark} {self.exercise_id} {self.status}: {self.title}", f"  {self.message}"]
        lines += [f"  {d}" for d in self.details]
        if self.hint:
            lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        mark, bg, fg = _STYLE[self.status]

        def esc(text: str) -> str:  # escape, and show `code` as code
            return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))

        parts = [f'<div style="border-left:4px solid {fg};background:{bg};padding:6px 10px;'
                 f'margin:4px 0;font-family:sans-serif">',
                 f'<b style="color:{fg}">{mark} {esc(self.exercise_id)} {self.status}</b>: {esc(self.title)}',
                 f"<div>{esc(self.message)}</div>"]
        parts += [f"<div>{esc(d)}</div>" for d in self.details]
        if self.hint:
            parts.append(f"<div><b>Hint:</b> {esc(self.hint)}</div>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": repr(self), "text/html": self._repr_html_(), MIME_TYPE: self.to_dict()}


def _strict() -> bool:
    return os.environ.get("COURSE_STRICT", "") not in ("", "0", "false", "False")


def check(exercise_id: str, obj: Any) -> CheckResult:
    """Grade `obj` (a function, class or value) for exercise `exercise_id`.

    Never raises for a learner (except with COURSE_STRICT=1, where anything but a pass
    raises AssertionError). Returns a CheckResult, which the notebook displays.
    """
    _load_lessons()
    ex = _REGISTRY.get(exercise_id) if isinstance(exercise_id, str) else None
    if ex is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        broken = "".join(f" (Could not load {m}: {e})" for m, e in _LOAD_ERRORS.items())
        result = CheckResult(str(exercise_id), "unknown exercise", "failed",
                             f"There is no exercise with id {exercise_id!r}. Known ids: {known}.{broken}")
    else:
        result = _run_checker(ex, obj)
        _record(result)
    if _strict() and not result.passed:
        raise AssertionError(f"COURSE_STRICT: check did not pass\n{result!r}")
    return result


def _run_checker(ex: Exercise, obj: Any) -> CheckResult:
    global _current_limit
    if obj is Ellipsis:
        return CheckResult(ex.id, ex.title, "pending", _PENDING_VALUE)
    _current_limit = ex.time_limit
    try:
        note = ex.checker(obj)
    except Pending:
        return CheckResult(ex.id, ex.title, "pending", _PENDING_CODE)
    except Fail as f:
        return CheckResult(ex.id, ex.title, "failed", f.message, f.hint)
    except _TimeLimit:  # pragma: no cover (call() converts it; kept as a safety net)
        return CheckResult(ex.id, ex.title, "failed", "Your code ran past the time limit.")
    except Exception as err:  # a checker that could not cope with the answer: still no raise
        return CheckResult(ex.id, ex.title, "failed",
                           f"The checker could not handle your answer ({type(err).__name__}: {err}).")
    finally:
        _current_limit = DEFAULT_TIME_LIMIT
    message = note if isinstance(note, str) and note else "All probes match the reference."
    return CheckResult(ex.id, ex.title, "passed", message)


_PENDING_CODE = "Not attempted yet: replace the `raise NotImplementedError` line with your code, run that cell, then this one."
_PENDING_VALUE = "Not attempted yet: replace the `...` with your answer, run that cell, then this one."


def _record(result: CheckResult) -> None:
    if os.environ.get("COURSE_NO_PROGRESS", "") not in ("", "0"):
        return
    try:
        from course_utils.course import progress
        progress.record(result.exercise_id, result.status)
    except Exception:  # progress is a convenience; never break a check over it
        pass


# ----------------------------------------------------------------------------- running learner code

_current_limit = DEFAULT_TIME_LIMIT


def probe_generator(seed: int = 0) -> torch.Generator:
    """A local generator for probe inputs: the global RNG stays untouched."""
    return torch.Generator().manual_seed(seed)


def randn(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g)


def _snapshot(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    return None


def _param_names(fn, n_args: int) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"argument {i + 1}" for i in range(n_args)]


def _learner_line(err: BaseException) -> str:
    """The innermost line of the traceback that is not in torch or in the checks package."""
    here = os.path.dirname(os.path.abspath(__file__))
    frames = traceback.extract_tb(err.__traceback__)
    for fr in reversed(frames):
        fname = fr.filename or ""
        if "site-packages" in fname or fname.startswith(here) or "/torch/" in fname:
            continue
        if fr.line:
            return fr.line.strip()
    return ""


def _run_with_limit(fn, args, kwargs, limit: float):
    """Run fn(*args, **kwargs), stopping it after `limit` seconds.

    On the main thread (a Jupyter kernel, pytest) a SIGALRM timer interrupts even an
    endless Python loop. Elsewhere the call runs in a helper thread; a thread cannot be
    killed, so a runaway call keeps running in the background after we give up on it.
    """
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        # An outer timer (e.g. pytest-timeout) may already be set: fire it first if it is
        # due first, and re-arm it with its remaining time afterwards.
        old_handler = signal.getsignal(signal.SIGALRM)
        old_delay, old_interval = signal.getitimer(signal.ITIMER_REAL)
        outer_first = 0 < old_delay < limit

        def on_alarm(signum, frame):
            if outer_first and callable(old_handler):
                signal.signal(signal.SIGALRM, old_handler)
                return old_handler(signum, frame)
            raise _TimeLimit()

        start = time.monotonic()
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, old_delay if outer_first else limit)
        try:
            return fn(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            if old_delay > 0:
                remaining = max(old_delay - (time.monotonic() - start), 1e-3)
                signal.setitimer(signal.ITIMER_REAL, remaining, old_interval)
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as err:  # handed back to the caller's thread
            box["error"] = err

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        raise _TimeLimit("thread")
    if "error" in box:
        raise box["error"]
    return box["value"]


def call(fn, *args, what: str | None = None, **kwargs):
    """Call learner code with a time limit and in-place-mutation detection.

    NotImplementedError -> Pending; a time-out or any other exception -> Fail that
    names the exception and the learner's line.
    """
    label = what or f"`{getattr(fn, '__name__', 'your code')}`"
    names = _param_names(fn, len(args))
    before = [(names[i], a, _snapshot(a)) for i, a in enumerate(args)]
    before += [(k, a, _snapshot(a)) for k, a in kwargs.items()]
    limit = _current_limit
    try:
        out = _run_with_limit(fn, args, kwargs, limit)
    except NotImplementedError:
        raise Pending() from None
    except _TimeLimit as t:
        extra = (" It may still be running in the background: restart the kernel if the "
                 "notebook becomes slow." if t.args == ("thread",) else "")
        raise Fail(f"{label} did not finish within the time limit of {limit:g} s and was stopped.{extra}",
                   hint="Look for a loop that never ends, or one that runs over far more elements "
                        "than the inputs have.") from None
    except Fail:
        raise
    except Exception as err:
        line = _learner_line(err)
        where = f" at the line `{line}`" if line else ""
        raise Fail(f"{label} raised {type(err).__name__}{where}: {err}") from None
    for name, arg, snap in before:
        if snap is not None and (arg.shape != snap.shape or not torch.equal(arg.detach(), snap)):
            raise Fail(f"{label} changed its input `{name}` in place.",
                       hint="In-place operations (`+=`, `x[...] = ...`, methods ending in `_` such as "
                            "`masked_fill_`) modify the caller's tensor; use the out-of-place version.")
    return out


# ----------------------------------------------------------------------------- comparisons

def expect_callable(obj, name: str) -> None:
    if isinstance(obj, type) or not callable(obj):
        raise Fail(f"Expected the function `{name}`, got {_describe(obj)}.")


def expect_class(obj, name: str) -> None:
    if not isinstance(obj, type):
        raise Fail(f"Expected the class `{name}` itself (not an instance), got {_describe(obj)}.")


def expect_tuple(value, n: int, names: tuple[str, ...]):
    if not isinstance(value, (tuple, list)) or len(value) != n:
        got = f"{type(value).__name__} of length {len(value)}" if isinstance(value, (tuple, list)) else _describe(value)
        raise Fail(f"Expected a tuple of {n} values ({', '.join(names)}), got {got}.")
    return tuple(value)


def _describe(obj) -> str:
    if isinstance(obj, torch.Tensor):
        return f"a tensor of shape {tuple(obj.shape)}"
    if obj is None:
        return "None (did you forget `return`?)"
    return f"{type(obj).__name__} {_short(obj)}"


def _short(obj) -> str:
    try:
        text = repr(obj)
    except Exception:
        text = "<unprintable>"
    text = text if len(text) <= 60 else text[:57] + "..."
    return "" if " at 0x" in text else f"({text})"


def _close(a: torch.Tensor, b: torch.Tensor, atol: float, rtol: float) -> bool:
    if a.shape != b.shape:
        return False
    a, b = a.detach().double(), b.detach().double()
    return bool(torch.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True))


def compare(name: str, got, want: torch.Tensor, axes: tuple[str, ...] | None = None,
            mutants: list[tuple[Any, str]] = (), atol: float = 1e-5, rtol: float = 1e-4,
            check_dtype: bool = True) -> None:
    """Fail with a specific message unless tensor `got` matches `want`.

    Order: known mistakes (mutants) first, so their hint wins; then type, shape (naming
    the `axes`), dtype, NaN/inf, values (max difference and share of matching values).
    """
    if isinstance(got, torch.Tensor) and got.device == want.device and \
            got.is_floating_point() == want.is_floating_point():
        for wrong, hint in mutants:
            if isinstance(wrong, torch.Tensor) and _close(got, wrong, atol, rtol) and not _close(got, want, atol, rtol):
                raise Fail(f"`{name}` is not right: it equals what a known mistake gives.", hint=hint)
    if isinstance(got, torch.Tensor) and got.device != want.device:
        raise Fail(f"`{name}` is on device {got.device}, expected {want.device}.",
                   hint="Create new tensors on the inputs' device (e.g. `device=x.device`).")
    if not isinstance(got, torch.Tensor):
        import numpy as np
        if isinstance(got, np.ndarray):
            raise Fail(f"`{name}` is a NumPy array; expected a torch.Tensor.",
                       hint="Stay in torch: use torch operations (`@`, `torch.softmax`, ...) on the tensors you were given.")
        raise Fail(f"`{name}` should be a torch.Tensor, got {_describe(got)}.")
    if got.shape != want.shape:
        raise Fail(_shape_message(name, tuple(got.shape), tuple(want.shape), axes))
    if check_dtype and got.dtype != want.dtype:
        raise Fail(f"`{name}` has dtype {got.dtype}, expected {want.dtype}.",
                   hint="Create new tensors with the dtype of the inputs (e.g. `dtype=x.dtype`), "
                        "or avoid Python/NumPy steps that change it.")
    if got.is_floating_point():
        bad_got = ~torch.isfinite(got)
        if (bad_got & torch.isfinite(want)).any():
            n_nan, n_inf = int(torch.isnan(got).sum()), int(torch.isinf(got).sum())
            raise Fail(f"`{name}` contains {n_nan} NaN and {n_inf} infinite values out of {got.numel()} "
                       f"where the reference is finite.",
                       hint="NaN appears from exp() of large numbers (subtract the row maximum first), "
                            "0 × inf, or a softmax over a row that is entirely -inf.")
    if _close(got, want, atol, rtol):
        return
    if not got.is_floating_point() and not want.is_floating_point():
        n_match = int((got == want).sum())
        raise Fail(f"`{name}` differs from the reference: {n_match} of {want.numel()} values "
                   f"({_pct(n_match, want.numel())}) match.")
    diff = (got.detach().double() - want.detach().double()).abs()
    ok = diff <= atol + rtol * want.detach().double().abs()
    ok = ok | (torch.isnan(got) & torch.isnan(want))
    diff = torch.nan_to_num(diff, nan=float("inf"))
    raise Fail(f"`{name}` differs from the reference: max difference {_fmt(diff.max().item())}; "
               f"{int(ok.sum())} of {want.numel()} values ({_pct(int(ok.sum()), want.numel())}) match.")


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.0f}%" if n else "0%"


def _fmt(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.3g}"


def _shape_message(name, got, want, axes) -> str:
    legend = f" {_axes(want, axes)}" if axes and len(axes) == len(want) else ""
    msg = f"`{name}` has shape {got}, expected {want}{legend}."
    if axes and len(axes) == len(want) and len(got) == len(want):
        wrong = [f"{a} is {g}, should be {w}" for a, g, w in zip(axes, got, want) if g != w]
        msg += " Axis " + "; axis ".join(wrong) + "."
        if sorted(got) == sorted(want):
            msg += " Same sizes in another order: are two axes swapped (a missing or extra transpose)?"
    elif len(got) != len(want):
        msg += f" It has {len(got)} axes instead of {len(want)}."
    return msg


def _axes(shape, axes) -> str:
    return "(" + ", ".join(f"{a}={s}" for a, s in zip(axes, shape)) + ")"


def compare_value(name: str, got, want: float, rel: float = 1e-3, abs_tol: float = 1e-9,
                  mutants: list[tuple[float, str]] = ()) -> None:
    """Fail unless the number `got` is within `rel` (relative) of `want`; hints for known
    wrong answers (checked with the same tolerance)."""
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        try:
            import numpy as np
            if isinstance(got, np.generic):
                got = got.item()
        except ImportError:  # pragma: no cover
            pass
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        raise Fail(f"`{name}` should be a number, got {_describe(got)}.")
    if math.isclose(got, want, rel_tol=rel, abs_tol=abs_tol):
        return
    for wrong, hint in mutants:
        if math.isclose(got, wrong, rel_tol=rel, abs_tol=abs_tol):
            raise Fail(f"`{name}` = {got:.4g} is a common wrong answer.", hint=hint)
    raise Fail(f"`{name}` = {got:.4g} is not right yet.")
