"""course layer · the grading framework behind `check()`; the guide is in the package docstring
(course_utils.course.checks). Lesson modules use only the names in `__all__`.

Shapes: B batch · H heads · T_q/T_k query/key positions · d_k/d_v widths · n items.
"""

from __future__ import annotations

import contextlib
import copy
import html
import importlib
import inspect
import math
import os
import pkgutil
import random
import re
import signal
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.base.i18n import msg, translate as _t  # CheckResult shows itself in the notebook's language

__all__ = [
    "check", "CheckResult", "Exercise", "exercise", "registry", "get_exercise",
    "Fail", "Pending", "call", "compare", "compare_prediction", "expect_callable",
    "expect_class", "expect_tuple", "probe_generator", "randn", "MIME_TYPE", "DEFAULT_TIME_LIMIT",
    "FORBIDDEN", "lesson_package", "lesson_modules", "load_errors",
    "is_instance", "signature_of", "read_weights", "load_weights", "Recorder",
]

MIME_TYPE = "application/vnd.course.check+json"
DEFAULT_TIME_LIMIT = 10.0  # seconds per call of learner code


# ----------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class Exercise:
    """One graded exercise: `id` is "NN.snake_name" with NN the lesson number; `name` is
    the learner's object in the notebook (`split_heads`); `uses` names earlier learner
    objects the answer may call, re-checked when the answer fails."""

    id: str
    title: str
    checker: Callable[[Any], Any]
    time_limit: float = DEFAULT_TIME_LIMIT
    name: str = ""
    uses: tuple[str, ...] = ()

    @property
    def lesson(self) -> str:
        return self.id.split(".", 1)[0]


_REGISTRY: dict[str, Exercise] = {}
_LESSON_PACKAGES: list[tuple[str, list[str]]] = []  # (package, __path__) holding lessonNN modules
_LOAD_ERRORS: dict[str, str] = {}  # lesson module -> why it could not be imported
_imported: set[str] = set()


def exercise(id: str, title: str, time_limit: float = DEFAULT_TIME_LIMIT, name: str | None = None,
             uses: tuple[str, ...] = ()):
    """Decorator registering `checker(learner_object)` as the grader of exercise `id`.

    `name`: the learner's object (default: the part of `id` after the dot).
    `uses`: names of earlier exercises' objects (their `name`) that the answer may call.
    """
    if not isinstance(id, str) or "." not in id or not id.split(".", 1)[0].isdigit():
        raise ValueError(f"exercise: id must look like 'NN.snake_name', got {id!r}")
    if isinstance(uses, str):
        raise TypeError(f"exercise {id}: uses must be a tuple of names, e.g. ('split_heads',), got {uses!r}")

    def register(checker):
        old = _REGISTRY.get(id)
        if old is not None and (old.checker.__module__, old.checker.__qualname__) != \
                (checker.__module__, checker.__qualname__):
            raise ValueError(f"exercise: id {id!r} is registered twice ({old.checker.__module__}."
                             f"{old.checker.__qualname__} and {checker.__module__}.{checker.__qualname__})")
        _REGISTRY[id] = Exercise(id, title, checker, time_limit, name or id.split(".", 1)[1], tuple(uses))
        return checker

    return register


def lesson_package(name: str, path) -> None:
    """Declare a package whose `lesson*` modules hold graders; they are imported on the
    first use of the registry (a broken one is recorded, see `load_errors`, not raised)."""
    _LESSON_PACKAGES.append((name, list(path)))


def lesson_modules() -> list[str]:
    """Every `lesson*` module of the declared packages, in name order."""
    return sorted(f"{package}.{m.name}" for package, path in _LESSON_PACKAGES
                  for m in pkgutil.iter_modules(path) if m.name.startswith("lesson"))


def load_errors() -> dict[str, str]:
    """{lesson module: why it could not be imported} (empty when all loaded)."""
    _load()
    return dict(_LOAD_ERRORS)


def _load() -> None:
    for name in lesson_modules():
        if name in _imported:
            continue
        _imported.add(name)
        try:
            importlib.import_module(name)
        except Exception as err:  # a broken lesson module must not break check() for the others
            _LOAD_ERRORS[name] = f"{type(err).__name__}: {err}"


def registry() -> dict[str, Exercise]:
    """All registered exercises, by id, sorted."""
    _load()
    return dict(sorted(_REGISTRY.items()))


def get_exercise(id: str) -> Exercise:
    _load()
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


class _Forbidden(BaseException):
    """Raised inside learner code that calls a built-in the exercise forbids."""


_STYLE = {
    "passed": ("✔", "#e6f4ea", "#1e7e34"),
    "failed": ("✘", "#fdecea", "#b02a37"),
    "pending": ("…", "#f1f3f4", "#5f6368"),
}
_WORDS = {"passed": msg("passed"), "failed": msg("failed"), "pending": msg("pending"), "Hint:": msg("Hint:")}


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
        lines = [f"{mark} {self.exercise_id} {_t(_WORDS[self.status])}: {_t(self.title)}", f"  {_t(self.message)}"]
        lines += [f"  {_t(d)}" for d in self.details]
        if self.hint:
            lines.append(f"  {_t(_WORDS['Hint:'])} {_t(self.hint)}")
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        mark, bg, fg = _STYLE[self.status]

        def esc(text: str) -> str:  # escape, and show `code` as code
            return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))

        parts = [f'<div style="border-left:4px solid {fg};background:{bg};padding:6px 10px;'
                 f'margin:4px 0;font-family:sans-serif">',
                 f'<b style="color:{fg}">{mark} {esc(self.exercise_id)} {_t(_WORDS[self.status])}</b>: '
                 f'{esc(_t(self.title))}', f"<div>{esc(_t(self.message))}</div>"]
        parts += [f"<div>{esc(_t(d))}</div>" for d in self.details]
        if self.hint:
            parts.append(f"<div><b>{_t(_WORDS['Hint:'])}</b> {esc(_t(self.hint))}</div>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": repr(self), "text/html": self._repr_html_(), MIME_TYPE: self.to_dict()}


def _strict() -> bool:
    return os.environ.get("COURSE_STRICT", "") not in ("", "0", "false", "False")


_PENDING_CODE = ("Not attempted yet: replace the `raise NotImplementedError` line with your code, "
                 "run that cell, then this one.")
_PENDING_VALUE = "Not attempted yet: replace the `...` with your answer, run that cell, then this one."


def check(exercise_id: str, *answer: Any, **learner_objects: Any) -> CheckResult:
    """Grade `obj` (a function, class or value) for exercise `exercise_id`.

    `learner_objects` may name the earlier functions the answer uses (`split_heads=...`);
    otherwise they are looked up where `obj` was defined and in the calling notebook.
    Never raises for a learner (except with COURSE_STRICT=1, where anything but a pass
    raises AssertionError). Returns a CheckResult, which the notebook displays.
    """
    _load()
    ex = _REGISTRY.get(exercise_id) if isinstance(exercise_id, str) else None
    if len(answer) != 1:
        result = CheckResult(str(exercise_id), ex.title if ex else "check", "failed",
                             f"`check` takes the exercise id and one answer, got {len(answer)} answers.",
                             f"Write it as `check({str(exercise_id)!r}, {ex.name if ex else 'your_answer'})`.")
    elif ex is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        broken = "".join(f" (Could not load {m}: {e})" for m, e in _LOAD_ERRORS.items())
        result = CheckResult(str(exercise_id), "unknown exercise", "failed",
                             f"There is no exercise with id {exercise_id!r}. Known ids: {known}.{broken}")
    else:
        obj = answer[0]
        caller = inspect.currentframe().f_back
        namespace = dict(caller.f_globals) if caller is not None else {}
        del caller
        result = _grade(ex, obj)
        if result.status == "failed" and ex.uses:
            result = _blame_dependency(ex, obj, result, learner_objects, namespace)
        _record(result)
    if _strict() and not result.passed:
        raise AssertionError(f"COURSE_STRICT: check did not pass\n{result!r}")
    return result



@contextlib.contextmanager
def _no_side_effects():
    """Restore every global a check may disturb: the torch, Python and NumPy RNGs, grad
    mode, the default dtype and the signal handlers (learner code may change any of them)."""
    py_state, np_state = random.getstate(), np.random.get_state()
    grad, dtype = torch.is_grad_enabled(), torch.get_default_dtype()
    main = threading.current_thread() is threading.main_thread()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, getattr(signal, "SIGALRM", None)) if s} if main else {}
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
            torch.set_grad_enabled(grad)
            torch.set_default_dtype(dtype)
            for s, h in handlers.items():
                if h is not None:
                    signal.signal(s, h)


def _grade(ex: Exercise, obj: Any) -> CheckResult:
    global _current_limit
    if obj is Ellipsis:
        return CheckResult(ex.id, ex.title, "pending", _PENDING_VALUE)
    _current_limit = ex.time_limit
    try:
        with _no_side_effects():
            note = ex.checker(obj)
    except Pending as p:  # a checker may say what is missing: Pending("no part of yours yet ...")
        return CheckResult(ex.id, ex.title, "pending", str(p) if str(p) else _PENDING_CODE)
    except Fail as f:
        return CheckResult(ex.id, ex.title, "failed", f.message, f.hint)
    except BaseException as err:  # a checker that could not cope with the answer: still no raise
        return CheckResult(ex.id, ex.title, "failed",
                           f"The checker could not handle your answer ({type(err).__name__}: {err}).")
    finally:
        _current_limit = DEFAULT_TIME_LIMIT
    message = note if isinstance(note, str) and note else "All probes match the reference."
    return CheckResult(ex.id, ex.title, "passed", message)


def _defined_with(obj) -> list[dict]:
    """The global namespaces of the functions that make up `obj` (a function or a class)."""
    funcs = [obj] if inspect.isfunction(obj) else []
    if isinstance(obj, type):
        funcs = [f for f in vars(obj).values() if inspect.isfunction(f)]
    return [f.__globals__ for f in funcs]


def _refers_to(obj, name: str) -> bool:
    """Does the code of `obj` (a function, or the methods of a class) use the global `name`?"""
    funcs = [obj] if inspect.isfunction(obj) else \
        [f for f in vars(obj).values() if inspect.isfunction(f)] if isinstance(obj, type) else []
    codes = [f.__code__ for f in funcs]
    while codes:
        code = codes.pop()
        if name in code.co_names:
            return True
        codes += [c for c in code.co_consts if inspect.iscode(c)]
    return False


def _blame_dependency(ex, obj, result, explicit, namespace) -> CheckResult:
    """If an earlier learner object that `ex` uses (and that the answer calls) fails its own
    check, name it as the cause."""
    by_name = {e.name: e for e in _REGISTRY.values()}
    for name in ex.uses:
        dep = by_name.get(name)
        if dep is None or (name not in explicit and not _refers_to(obj, name)):
            continue
        spaces = [explicit] + _defined_with(obj) + [namespace]
        found = next((space[name] for space in spaces if name in space), None)
        if found is None:
            continue
        sub = _grade(dep, found)
        if sub.status == "passed":
            continue
        what = "is not written yet" if sub.status == "pending" else "fails its own check"
        return CheckResult(ex.id, ex.title, "failed",
                           f"Your `{name}` above is the cause: it {what} ({dep.id}): {sub.message}",
                           sub.hint or f"Fix `{name}` first (run check(\"{dep.id}\", {name})), then run this check again.",
                           details=[f"This exercise's own check said: {result.message}"])
    return result


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
    """A deep copy of a tensor / array / list / tuple / dict argument (None for others)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (np.ndarray, list, tuple, dict, set)):
        try:
            return copy.deepcopy(value)
        except Exception:
            return None
    return None


def _same(a, b) -> bool:
    if isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and \
            bool(torch.equal(a.detach(), b))
    if isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
    if isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in b)
    try:
        return bool(a == b)
    except Exception:
        return False


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


# Built-ins an exercise can forbid: name -> (owner, attribute) pairs patched while learner code runs.
FORBIDDEN: dict[str, list[tuple[Any, str]]] = {
    "softmax": [(torch, "softmax"), (F, "softmax"), (torch.Tensor, "softmax"), (torch.special, "softmax"),
                (nn.Softmax, "forward")],
    "log_softmax": [(torch, "log_softmax"), (F, "log_softmax"), (torch.Tensor, "log_softmax"),
                    (torch.special, "log_softmax"), (nn.LogSoftmax, "forward")],
    "cross_entropy": [(F, "cross_entropy"), (nn.CrossEntropyLoss, "forward")],
    "nll_loss": [(F, "nll_loss"), (nn.NLLLoss, "forward")],
    "scaled_dot_product_attention": [(F, "scaled_dot_product_attention")],
    "multi_head_attention": [(nn.MultiheadAttention, "forward"), (F, "multi_head_attention_forward")],
    "layer_norm": [(F, "layer_norm"), (torch, "layer_norm"), (torch, "native_layer_norm"), (nn.LayerNorm, "forward")],
}

# What to build a forbidden built-in from (the hint of `_forbidden_fail`), by the name it was patched under.
_BUILD_FROM = {
    "layer_norm": "`mean` and `var` over the last axis (keepdim=True), `sqrt`, then `* gamma + beta`",
    "cross_entropy": "`log_softmax`, `gather` (or indexing) and `mean`",
    "nll_loss": "`log_softmax`, `gather` (or indexing) and `mean`",
}


@contextlib.contextmanager
def _forbidding(names, fn, used: list):
    """Patch the built-ins `names` (keys of FORBIDDEN) to raise, also where the learner's
    module imported them under its own name (`from torch.nn.functional import softmax`)."""
    patches = []  # (owner, attribute, had_own, original)
    originals = {}
    for key in names:
        targets = [key] if isinstance(key, tuple) else FORBIDDEN[key]
        for owner, attr in targets:
            original = getattr(owner, attr)
            originals[id(original)] = (key, owner, attr)
            patches.append((owner, attr, attr in vars(owner), original))
    space = getattr(fn, "__globals__", None)
    if space is None and isinstance(fn, type):
        space = next((f.__globals__ for f in vars(fn).values() if inspect.isfunction(f)), None)
    if space is None and isinstance(fn, nn.Module):
        space = getattr(type(fn).forward, "__globals__", None)
    for gname, value in list((space or {}).items()):
        if id(value) in originals and not inspect.ismodule(value):
            patches.append((space, gname, True, value))

    def raiser(key, label):
        def forbidden(*args, **kwargs):
            used.append(label)
            raise _Forbidden(label)
        return forbidden

    try:
        for owner, attr, _, original in patches:
            key, o, a = originals[id(original)]
            label = f"{getattr(o, '__name__', type(o).__name__)}.{a}"
            if owner is space:
                owner[attr] = raiser(key, label)
            else:
                setattr(owner, attr, raiser(key, label))
        yield
    finally:
        for owner, attr, had_own, original in reversed(patches):
            if owner is space:
                owner[attr] = original
            elif had_own:
                setattr(owner, attr, original)
            else:
                delattr(owner, attr)


def call(fn, *args, what: str | None = None, forbid: tuple = (), errors: list[tuple[Any, str]] = (), **kwargs):
    """Call learner code with a time limit, in-place-mutation detection and, with `forbid`,
    built-ins patched to fail: keys of FORBIDDEN ("softmax") or (owner, "attribute") pairs
    such as (EncoderLayer, "forward").

    NotImplementedError -> Pending; a time-out or any other exception (any BaseException:
    SystemExit, KeyboardInterrupt, ...) -> Fail that names the exception and the learner's line.
    `errors`: (pattern, hint) pairs for exceptions a known mistake raises; `pattern` is a
    regular expression searched in the failure message (which quotes the learner's line).
    """
    label = what or f"`{getattr(fn, '__name__', 'your code')}`"
    names = _param_names(fn, len(args))
    before = [(names[i], a, _snapshot(a)) for i, a in enumerate(args)]
    before += [(k, a, _snapshot(a)) for k, a in kwargs.items()]
    limit = _current_limit
    used: list[str] = []
    seen: list = []
    try:
        with _forbidding(forbid, fn, used), _recording_warnings(seen):
            out = _run_with_limit(fn, args, kwargs, limit)
    except NotImplementedError:
        raise Pending() from None
    except _TimeLimit as t:
        extra = (" It may still be running in the background: restart the kernel if the "
                 "notebook becomes slow." if t.args == ("thread",) else "")
        raise Fail(f"{label} did not finish within the time limit of {limit:g} s and was stopped.{extra}",
                   hint="Look for a loop that never ends, or one that runs over far more elements "
                        "than the inputs have.") from None
    except (Fail, Pending):
        raise
    except BaseException as err:
        if used:
            raise _forbidden_fail(label, used) from None
        line = _learner_line(err)
        where = f" at the line `{line}`" if line else ""
        message = f"{label} raised {type(err).__name__}{where}: {err}"
        hint = next((h for pattern, h in errors if re.search(pattern, message)), None)
        if any(_DOT_T_WARNING in str(w.message) for w in seen):  # torch warned about `.T` on a batched tensor
            hint = HINT_DOT_T
        raise Fail(message, hint) from None
    if used:  # the learner's own try/except swallowed the failure
        raise _forbidden_fail(label, used)
    for name, arg, snap in before:
        if snap is not None and not _same(arg, snap):
            raise Fail(f"{label} changed its input `{name}` in place.",
                       hint="In-place operations (`+=`, `x[...] = ...`, `.append`, methods ending in `_` such "
                            "as `masked_fill_`) modify the caller's data; work on a copy or build a new value.")
    return out


_DOT_T_WARNING = "x.T` on tensors of dimension other than 2"
HINT_DOT_T = ("`.T` reverses *all* axes of a tensor with more than two (batch and heads too); "
              "`k.transpose(-2, -1)` (or `k.mT`) swaps only the last two.")


@contextlib.contextmanager
def _recording_warnings(seen: list):
    """Record the warnings learner code raises (torch's one-time warnings included), then show
    them as usual."""
    always = torch.is_warn_always_enabled()
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.set_warn_always(True)
            yield
    finally:
        torch.set_warn_always(always)
        seen.extend(caught)
        shown = set()
        for w in caught:
            key = (str(w.message), w.category, w.filename, w.lineno)
            if key not in shown:
                shown.add(key)
                try:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                except Warning:  # warnings turned into errors: the learner's code already ran, go on
                    pass


def _forbidden_fail(label: str, used: list[str]) -> Fail:
    parts = next((v for k, v in _BUILD_FROM.items()
                  if k.replace("_", "") in used[0].lower().replace("_", "")), "`exp`, `max`, `sum`")
    return Fail(f"{label} calls `{used[0]}`: this exercise asks you to write it yourself.",
                hint=f"Build it from the elementary operations the statement lists ({parts}); "
                     "the built-in is allowed again in the later exercises.")


# ----------------------------------------------------------------------------- comparisons

def expect_callable(obj, name: str) -> None:
    if isinstance(obj, type) or not callable(obj):
        raise Fail(f"Expected the function `{name}`, got {_describe(obj)}.")


def expect_class(obj, name: str) -> None:
    if not isinstance(obj, type):
        raise Fail(f"Expected the class `{name}` itself (not an instance), got {_describe(obj)}.")


# ----------------------------------------------------------------------------- learner objects
# A grader touches a learner's object (a function, a class, an instance of it) only through
# `call`, reading attributes, and the helpers below, never by isinstance() on it or by writing
# into it: graded runs (`course check`, nbgrader) hold the learner's objects in the learner's
# kernel, another process, where the helpers do the same thing over the judge's channel.

def is_instance(obj, cls) -> bool:
    """isinstance(obj, cls) for a learner's object (`cls` a class of torch or course_utils)."""
    return isinstance(obj, cls)


def signature_of(obj, attribute: str | None = None) -> list[str]:
    """The parameter names of `obj` (or of its `attribute`, e.g. "forward"); [] when unknown."""
    target = getattr(obj, attribute, None) if attribute else obj
    try:
        return list(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return []


def read_weights(module) -> dict[str, torch.Tensor]:
    """A detached copy of a learner module's `state_dict()` (name -> tensor)."""
    return {name: t.detach().clone() for name, t in module.state_dict().items()}


def load_weights(module, weights: dict[str, torch.Tensor], strict: bool = True) -> None:
    """Copy `weights` (name -> tensor, names as in `state_dict()`) into a learner's module, in
    place and without grad. strict: every name must exist with the same shape (else Fail)."""
    own = module.state_dict()
    missing = [n for n in weights if n not in own]
    if missing and strict:
        raise Fail(f"Your module has no parameter named {', '.join(map(repr, missing))}; it has "
                   f"{', '.join(map(repr, own)) or 'none'}.")
    with torch.no_grad():
        for name, value in weights.items():
            if name not in own:
                continue
            if own[name].shape != value.shape:
                raise Fail(f"Your module's `{name}` has shape {tuple(own[name].shape)}, expected {tuple(value.shape)}.")
            own[name].copy_(value)


class Recorder:
    """Base of objects a grader hands *to* learner code to watch how it is used (a model that
    notes what it was fed). Subclasses name the attributes they record in `RECORDED`; after a
    call in the learner's kernel, those attributes (data: tensors, numbers, lists, tuples,
    dicts) are copied back into the grader's object, so the grader reads them as usual."""

    RECORDED: tuple[str, ...] = ()

    def recorded(self) -> dict:
        return {name: getattr(self, name) for name in self.RECORDED}

    def restore_recorded(self, state: dict) -> None:
        for name in self.RECORDED:
            if name in state:
                setattr(self, name, state[name])


def expect_tuple(value, n: int, names: tuple[str, ...], wants: tuple | None = None):
    """`value` as a tuple of `n` values. With `wants` (the right values, tensors), a pair
    returned in the other order fails with a hint saying so."""
    if not isinstance(value, (tuple, list)) or len(value) != n:
        got = f"{type(value).__name__} of length {len(value)}" if isinstance(value, (tuple, list)) else _describe(value)
        hint = None
        if isinstance(value, torch.Tensor) and wants is not None and \
                any(isinstance(w, torch.Tensor) and value.shape == w.shape for w in wants):
            hint = f"Return all {n} values, as a tuple: `return {', '.join(names)}`."
        raise Fail(f"Expected a tuple of {n} values ({', '.join(names)}), got {got}.", hint)
    value = tuple(value)
    if wants is not None and n == 2 and all(isinstance(v, torch.Tensor) for v in (*value, *wants)):
        shapes = [tuple(v.shape) for v in value]
        want_shapes = [tuple(w.shape) for w in wants]
        swapped = shapes[::-1] == want_shapes and shapes != want_shapes
        if swapped or (shapes == want_shapes and _close(value[0], wants[1], 1e-5, 1e-4) and
                       _close(value[1], wants[0], 1e-5, 1e-4) and not _close(value[0], wants[0], 1e-5, 1e-4)):
            raise Fail(f"The two returned values are in the other order: expected ({', '.join(names)}).",
                       hint=f"Return `{names[0]}` first and `{names[1]}` second.")
    return value


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


def compare(name: str, got, want: torch.Tensor, axes: tuple[str, ...] | None = None,
            mistakes: list[tuple[Any, str]] = (), atol: float = 1e-5, rtol: float = 1e-4,
            check_dtype: bool = True, hint: str | None = None) -> None:
    """Fail with a specific message unless tensor `got` matches `want`.

    `mistakes`: (wrong, hint) pairs. `wrong` is either the value a known mistake gives on
    the same probe inputs (matched within the tolerance), or a *signature*: a function
    `wrong(got) -> bool` that recognises the mistake by a property (rows all equal, NaN
    exactly where a mask row is empty, ...); a signature's hint may be a function of `got`
    that words the hint from what was measured (e.g. the constant the scores were divided by). The first matching mistake's hint wins; a `None`
    value is skipped (a mistake this probe cannot show). `hint`: shown when the values differ and no
    known mistake matches (what the right computation is, in one line).

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
            right = _close(as_tensor, want, atol, rtol)
            raise Fail(f"`{name}` is a NumPy array{' (with the right values)' if right else ''}; expected a torch.Tensor.",
                       hint="Stay in torch: use torch operations (`@`, `.exp()`, `.max(dim=-1, keepdim=True)`, "
                            "`.sum(...)`) on the tensors you were given, not np.* functions.")
        raise Fail(f"`{name}` should be a torch.Tensor, got {_describe(got)}.")
    if got.device != want.device:
        raise Fail(f"`{name}` is on device {got.device}, expected {want.device}.",
                   hint="Create new tensors on the inputs' device (e.g. `device=x.device`).")
    dtype_ok = not check_dtype or (_kind(got) == _kind(want) and got.dtype not in _LOW_PRECISION) or \
        (got.dtype == want.dtype)
    if dtype_ok and _close(got, want, atol, rtol):
        return
    _match_mistakes(name, got, want, mistakes, atol, rtol)
    if got.shape != want.shape:
        permuted = sorted(got.shape) == sorted(want.shape)
        raise Fail(_shape_message(name, tuple(got.shape), tuple(want.shape), axes),
                   "The axes are in another order: check each `transpose` / `permute` (which two axes it swaps) and "
                   "the order of the sizes in `view` / `reshape`." if permuted else None)
    if not dtype_ok:
        if _kind(got) == _kind(want):
            raise Fail(f"`{name}` has dtype {got.dtype}, too imprecise; expected {want.dtype}.",
                       hint="Keep the computation in float32 (or float64).")
        raise Fail(f"`{name}` has dtype {got.dtype} ({_kind(got)}), expected {want.dtype} ({_kind(want)}).",
                   hint="Check which operation changed the kind of the values (a comparison gives bool, "
                        "`.long()` or `//` gives integers, `.float()` gives floats).")
    if got.is_floating_point():
        bad_got = ~torch.isfinite(got)
        if (bad_got & torch.isfinite(want)).any():
            n_nan, n_inf = int(torch.isnan(got).sum()), int(torch.isinf(got).sum())
            raise Fail(f"`{name}` contains {n_nan} NaN and {n_inf} infinite values out of {got.numel()} "
                       f"where the reference is finite.",
                       hint="NaN appears from exp() of large numbers (subtract the row maximum first), "
                            "0 × inf, or a softmax over a row that is entirely -inf.")
    if not got.is_floating_point() and not want.is_floating_point():
        n_match = int((got.long() == want.long()).sum())
        raise Fail(f"`{name}` differs from the reference: {n_match} of {want.numel()} values "
                   f"({_pct(n_match, want.numel())}) match.", hint)
    diff = (got.detach().double() - want.detach().double()).abs()
    ok = diff <= atol + rtol * want.detach().double().abs()
    ok = ok | (torch.isnan(got) & torch.isnan(want))
    diff = torch.nan_to_num(diff, nan=float("inf"))
    raise Fail(f"`{name}` differs from the reference: max difference {_fmt(diff.max().item())}; "
               f"{int(ok.sum())} of {want.numel()} values ({_pct(int(ok.sum()), want.numel())}) match.", hint)


def _match_mistakes(name, got, want, mistakes, atol, rtol) -> None:
    """Fail with the hint of the first mistake `got` shows: values first, then signatures."""
    if _close(got, want, atol, rtol):
        return
    for wrong, hint in mistakes:
        if isinstance(wrong, torch.Tensor) and _close(got, wrong.to(got.device), atol, rtol):
            raise Fail(f"`{name}` is not right: it equals what a known mistake gives.", hint=hint)
    for wrong, hint in mistakes:
        if callable(wrong) and not isinstance(wrong, torch.Tensor) and _holds(wrong, got):
            raise Fail(f"`{name}` is not right: it shows the mark of a known mistake.",
                       hint=hint(got) if callable(hint) else hint)


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


# ----------------------------------------------------------------------------- predictions

def _as_numbers(name: str, got) -> np.ndarray:
    """Any numeric answer (int, float, NumPy scalar or array, tensor, list/tuple) as float64."""
    if isinstance(got, torch.Tensor):
        got = got.detach().cpu().double().numpy()
    try:
        arr = np.asarray(got)
    except Exception:
        arr = None
    if isinstance(got, (str, bytes)):
        raise Fail(f"`{name}` should be a number, got the text {got!r}.",
                   hint="Store the number itself, without quotes; Python can compute it for you, e.g. `0.5 ** 3`.")
    if arr is None or arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) \
            or arr.size == 0:
        raise Fail(f"`{name}` should be a number, got {_describe(got)}.")
    if arr.dtype == bool:
        raise Fail(f"`{name}` should be a number, got a boolean ({got!r}).")
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
        return f"{10 ** e} times" if e > 0 else f"1/{10 ** -e} times"
    return None


def compare_prediction(name: str, got, want, rel: float = 1e-3, abs_tol: float = 1e-9, near: float = 0.1,
                       mistakes: list[tuple[Any, str]] = (), hint: str | None = None) -> None:
    """Judge a "predict the output" answer: `want` a number or array-like.

    Accepts int, float, NumPy scalar/array, 0-d or n-d tensor, list. Right when every value
    is within `rel` (relative) or `abs_tol` of `want` — the precision the statement asks
    for. A known wrong answer (`mistakes`: (value, hint)) gets its hint; an answer within
    `near` (relative) but not right is told "close: compute it exactly"; any other wrong value
    gets `hint` (the reasoning that leads to the answer).
    """
    arr, target = _as_numbers(name, got), np.asarray(want, dtype=np.float64)
    if arr.size != target.size:
        raise Fail(f"`{name}` should hold {target.size} number{'s' if target.size != 1 else ''}, "
                   f"got {arr.size}: {_short(got)}.", hint)
    arr = arr.reshape(target.shape)

    def within(value, tol_rel, tol_abs):
        value = np.asarray(value, dtype=np.float64)
        return bool(np.all(np.abs(arr - value) <= np.maximum(tol_abs, tol_rel * np.abs(value))))

    shown = f"{arr.item():.4g}" if arr.size == 1 else np.array2string(arr, precision=4)
    if within(target, rel, abs_tol):
        return
    for wrong, wrong_hint in mistakes:
        if within(wrong, rel, abs_tol):
            raise Fail(f"`{name}` = {shown} is a common wrong answer.", hint=wrong_hint)
    factor = _constant_factor(arr, target)
    if factor is not None:
        said = {"twice": "A factor of 2 is off: check each square root and each halving or doubling in your steps.",
                "half": "A factor of 2 is off: check each square root and each halving or doubling in your steps.",
                "minus": "Right size, wrong sign: check which way each term is subtracted."}.get(
            factor, "The digits are right but not the size: check the decimal point and the powers of ten "
                    "(e.g. 1e-3 = 0.001).")
        raise Fail(f"`{name}` = {shown} is {factor} the right value.", hint=said + (f" {hint}" if hint else ""))
    if near and within(target, near, abs_tol):
        raise Fail(f"`{name}` = {shown} is close: compute it exactly.",
                   hint="Work the value out step by step rather than estimating it.")
    raise Fail(f"`{name}` = {shown} is not right yet.", hint)
