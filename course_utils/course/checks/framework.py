"""course layer · the grading framework behind `check()`; the guide is in the package docstring
(course_utils.course.checks). Lesson modules use only the names the package exports.

This module holds the registry, the results, `check`, running learner code (`call`) and the
helpers that touch learner objects; `comparing.py` judges the values. Learner objects may live
in this process (the in-notebook `check`) or in the learner's kernel, seen from a judge
(course_utils.course.judge) as a `RemoteObject`: every helper here asks such an object
instead of touching it, so a grader never knows which of the two it has.

Shapes: B batch · H heads · T_q/T_k query/key positions · d_k/d_v widths · n items.
"""

from __future__ import annotations

import contextlib
import copy
import html
import importlib
import inspect
import os
import pkgutil
import random
import re
import signal
import sysconfig
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.base.i18n import colon, join_list, msg  # CheckResult shows itself in the notebook's language
from course_utils.base.i18n import translate as _t

__all__ = [
    "check", "CheckResult", "Exercise", "exercise", "registry", "get_exercise",
    "Fail", "Pending", "call", "expect_callable", "expect_class", "probe_generator", "randn",
    "MIME_TYPE", "DEFAULT_TIME_LIMIT", "FORBIDDEN", "lesson_package", "lesson_modules", "load_errors",
    "is_instance", "signature_of", "read_weights", "load_weights", "Recorder", "type_name",
    "module_name",
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


class NotGraded(BaseException):
    """The learner's kernel could not be asked (it stopped answering, or its answers were
    malformed): the exercise is reported "not graded", never passed. A BaseException, so that
    no checker's `except Exception` mistakes it for the learner's answer."""


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
_WORDS = {"passed": msg("passed"), "failed": msg("failed"), "pending": msg("pending"), "Hint": msg("Hint")}


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
        lines = [f"{mark} {self.exercise_id} {_t(_WORDS[self.status])}{colon()}{_t(self.title)}",
                 f"  {_t(self.message)}"]
        lines += [f"  {_t(d)}" for d in self.details]
        if self.hint:
            lines.append(f"  {_t(_WORDS['Hint'])}{colon()}{_t(self.hint)}")
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        mark, bg, fg = _STYLE[self.status]

        def esc(text: str) -> str:  # escape, and show `code` as code
            return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))

        parts = [f'<div style="border-left:4px solid {fg};background:{bg};padding:6px 10px;'
                 f'margin:4px 0;font-family:sans-serif">',
                 f'<b style="color:{fg}">{mark} {esc(self.exercise_id)} {_t(_WORDS[self.status])}</b>{colon()}'
                 f'{esc(_t(self.title))}', f"<div>{esc(_t(self.message))}</div>"]
        parts += [f"<div>{esc(_t(d))}</div>" for d in self.details]
        if self.hint:
            label = _t(_WORDS["Hint"]) + colon()  # "Hint: " / "提示："; the space, if any, after the bold
            parts.append(f"<div><b>{label.rstrip()}</b>{label[len(label.rstrip()):]}{esc(_t(self.hint))}</div>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": repr(self), "text/html": self._repr_html_(), MIME_TYPE: self.to_dict()}


def _strict() -> bool:
    return os.environ.get("COURSE_STRICT", "") not in ("", "0", "false", "False") or _nbgrader_validating()


def _nbgrader_validating() -> bool:
    """True while `nbgrader validate` (or its Validate button) runs the notebook: a check that
    does not pass then fails its cell, which is nbgrader's graded cell in an exercise notebook,
    so validate never says "Success" on answers that will not earn their points."""
    return os.environ.get("NBGRADER_VALIDATING") == "1"


_PENDING_CODE = msg("Not attempted yet: replace the `raise NotImplementedError` line with your code, "
                    "run that cell, then this one.")
_PENDING_VALUE = msg("Not attempted yet: replace the `...` with your answer, run that cell, then this one.")


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
                             msg("`check` takes the exercise id and one answer, got {n} answers.", n=len(answer)),
                             msg("Write it as `check({ex_id!r}, {name})`.", ex_id=str(exercise_id),
                                 name=ex.name if ex else "your_answer"))
    elif ex is None:
        known = join_list(sorted(_REGISTRY)) or "none"
        broken = "".join(f" (Could not load {m}: {e})" for m, e in _LOAD_ERRORS.items())
        result = CheckResult(str(exercise_id), "unknown exercise", "failed",
                             msg("There is no exercise with id {ex_id!r}. Known ids: {known}.{broken}",
                                 ex_id=exercise_id, known=known, broken=broken))
    else:
        caller = inspect.currentframe().f_back
        namespace = dict(caller.f_globals) if caller is not None else {}
        del caller
        result = grade_answer(ex, answer[0], learner_objects, namespace)
        _record(result)
    if _strict() and not result.passed:
        raise AssertionError(f"COURSE_STRICT: check did not pass\n{result!r}")
    return result


def grade_answer(ex: Exercise, obj: Any, explicit: dict | None = None, namespace: dict | None = None) -> CheckResult:
    """The verdict on `obj` for `ex`, with a failing dependency named as the cause (see `check`).
    `obj` may be a RemoteObject (the judge): its dependencies are then looked up in the kernel.
    Raises NotGraded when a remote kernel could not be asked."""
    result = _grade(ex, obj)
    if result.status == "failed" and ex.uses:
        result = _blame_dependency(ex, obj, result, explicit or {}, namespace or {})
    return result


@contextlib.contextmanager
def no_side_effects():
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
    outer_limit, _current_limit = _current_limit, ex.time_limit  # a checker may grade parts with their own checks
    try:
        with no_side_effects():
            note = ex.checker(obj)
    except Pending as p:  # a checker may say what is missing: Pending("no part of yours yet ...")
        text = p.args[0] if len(p.args) == 1 and isinstance(p.args[0], str) else _text_of(p)
        return CheckResult(ex.id, ex.title, "pending", text or _PENDING_CODE)
    except Fail as f:
        return CheckResult(ex.id, ex.title, "failed", f.message, f.hint)
    except NotGraded:
        raise
    except BaseException as err:  # a checker that could not cope with the answer: still no raise
        return CheckResult(ex.id, ex.title, "failed",
                           msg("The checker could not handle your answer ({error}: {detail}).",
                               error=type(err).__name__, detail=_text_of(err)))
    finally:
        _current_limit = outer_limit
    message = note if isinstance(note, str) and note else msg("All probes match the reference.")
    return CheckResult(ex.id, ex.title, "passed", message)


def defined_with(obj) -> list[dict]:
    """The global namespaces of the functions that make up `obj` (a function or a class)."""
    funcs = [obj] if inspect.isfunction(obj) else []
    if isinstance(obj, type):
        funcs = [f for f in vars(obj).values() if inspect.isfunction(f)]
    return [f.__globals__ for f in funcs]


def refers_to(obj, name: str) -> bool:
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


_NOT_FOUND = object()


def find_dependency(obj, name: str, explicit: dict, namespace: dict):
    """The object the answer `obj` calls as `name`: passed to `check`, else where the answer
    was defined, else in the calling notebook; `_NOT_FOUND` when it does not call `name` or it
    is nowhere. A RemoteObject answers for itself (the lookup runs in its kernel)."""
    if isinstance(obj, RemoteObject):
        return obj._r_find(name) if name not in explicit else explicit[name]
    if name not in explicit and not refers_to(obj, name):
        return _NOT_FOUND
    spaces = [explicit] + defined_with(obj) + [namespace]
    return next((space[name] for space in spaces if name in space), _NOT_FOUND)


def _blame_dependency(ex, obj, result, explicit, namespace) -> CheckResult:
    """If an earlier learner object that `ex` uses (and that the answer calls) fails its own
    check, name it as the cause."""
    by_name = {e.name: e for e in _REGISTRY.values()}
    for name in ex.uses:
        dep = by_name.get(name)
        if dep is None:
            continue
        found = find_dependency(obj, name, explicit, namespace)
        if found is _NOT_FOUND or found is None:
            continue
        sub = _grade(dep, found)
        if sub.status == "passed":
            continue
        what = msg("is not written yet") if sub.status == "pending" else msg("fails its own check")
        return CheckResult(ex.id, ex.title, "failed",
                           msg("Your `{name}` above is the cause: it {what} ({dep}): {message}",
                               name=name, what=what, dep=dep.id, message=sub.message),
                           sub.hint or msg("Fix `{name}` first (run check(\"{dep}\", {name})), then run this check "
                                           "again.", name=name, dep=dep.id),
                           details=[msg("This exercise's own check said: {message}", message=result.message)])
    return result


def _record(result: CheckResult) -> None:
    if os.environ.get("COURSE_NO_PROGRESS", "") not in ("", "0"):
        return
    try:
        from course_utils.course import progress
        progress.record(result.exercise_id, result.status)
    except Exception:  # progress is a convenience; never break a check over it
        pass


# ----------------------------------------------------------------------------- learner objects elsewhere

@dataclass(frozen=True)
class RemoteMeta:
    """What a judge knows of an object in the learner's kernel without asking again."""

    type_name: str  # type(obj).__name__
    classes: tuple[str, ...]  # "module.QualName" of each class in type(obj).__mro__
    callable: bool
    is_class: bool
    repr: str  # the first characters of repr(obj)
    repr_len: int  # the length of the whole repr
    name: str | None = None  # obj.__name__ when it is a string
    params: tuple[str, ...] | None = None  # the parameter names of a callable, when known
    module: str | None = None  # obj.__module__ when it is a string


class RemoteObject:
    """Base of a judge's handles on objects that live in the learner's kernel (see
    course_utils.course.judge). The helpers of this module ask a handle instead of touching
    the object; a subclass answers over the judge's channel."""

    __slots__ = ()
    _r_meta: RemoteMeta

    def _r_call(self, args: tuple, kwargs: dict, forbid: tuple, limit: float, keep: list) -> dict:
        """`run_learner` in the kernel; the facts, with "after": {key: argument after the call} for `keep`."""
        raise NotImplementedError

    def _r_signature(self, attribute: str | None) -> list[str]:
        raise NotImplementedError

    def _r_read_weights(self) -> dict:
        raise NotImplementedError

    def _r_load_weights(self, weights: dict, strict: bool):
        raise NotImplementedError

    def _r_find(self, name: str):
        raise NotImplementedError


# ----------------------------------------------------------------------------- running learner code

_current_limit = DEFAULT_TIME_LIMIT


def current_time_limit() -> float:
    """The time limit of the exercise being graded (seconds per call of learner code)."""
    return _current_limit


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
    if isinstance(fn, RemoteObject):
        params = list(fn._r_meta.params or ())
    else:
        try:
            params = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            params = []
    return [params[i] if i < len(params) else f"argument {i + 1}" for i in range(n_args)]


def _text_of(err: BaseException) -> str:
    try:
        return str(err)
    except BaseException:  # a learner's exception whose __str__ fails
        return "<unprintable>"


# Where the learner's code never is: the whole course package (its graders, its judge and the course's own
# implementations a learner's answer may call into), Python's standard library, torch and the site packages.
_PACKAGE_FOLDER = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep
_LIBRARY_FOLDERS = tuple(dict.fromkeys(os.path.abspath(p) + os.sep for p in
                                       (sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("platstdlib"))
                                       if p))


def _library_file(fname: str) -> bool:
    """True for a file of a library or of the course package, never the learner's own code."""
    return "site-packages" in fname or "dist-packages" in fname or "/torch/" in fname or \
        fname.startswith(_PACKAGE_FOLDER) or fname.startswith(_LIBRARY_FOLDERS)


def learner_line(err: BaseException) -> str:
    """The innermost line of the traceback that is the learner's own: not in torch, a site package,
    Python's standard library or the course package (its graders, its judge, its reference code)."""
    frames = traceback.extract_tb(err.__traceback__)
    for fr in reversed(frames):
        if _library_file(fr.filename or ""):
            continue
        if fr.line:
            return fr.line.strip()
    return ""


def stub_raised(err: NotImplementedError) -> bool:
    """True when `err` is a stub's own `raise NotImplementedError(...)` in learner code (the exercise
    not written yet), False when a library raised it inside a call the learner's code made (torch's
    "not implemented for this dtype or device", an nn.Module without forward): that is an error."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames or _library_file(frames[-1].filename or ""):
        return False
    if _is_stub_message(str(err)):  # the generated stub's own words, whatever its source is known as
        return True
    line = (frames[-1].line or "").strip()
    return not line or line.startswith("raise")


def _is_stub_message(text: str) -> bool:
    """True for the message of a generated stub (course build's), in any edition
    ("Exercise 04.attention: your code here")."""
    for lang in ("en", "zh"):
        shown = _t(msg("Exercise {exercise_id}: your code here", exercise_id="\0"), lang)
        if re.fullmatch(r"\d\d\.\w+".join(re.escape(part) for part in shown.split("\0")), text):
            return True
    return False


def run_with_limit(fn, args, kwargs, limit: float):
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
    "layer_norm": msg("`mean` and `var` over the last axis (keepdim=True), `sqrt`, then `* gamma + beta`"),
    "cross_entropy": msg("`log_softmax`, `gather` (or indexing) and `mean`"),
    "nll_loss": msg("`log_softmax`, `gather` (or indexing) and `mean`"),
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


_DOT_T_WARNING = "x.T` on tensors of dimension other than 2"
HINT_DOT_T = msg("`.T` reverses *all* axes of a tensor with more than two (batch and heads too); "
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


def run_learner(fn, args: tuple, kwargs: dict, forbid: tuple = (), limit: float = DEFAULT_TIME_LIMIT) -> dict:
    """Run learner code where it lives (this process, or the learner's kernel for a judge) and
    say what happened as facts, data a judge can receive: {"kind": "ok", "out": ...},
    "not_implemented", "pending" / "fail" (raised by a grader's object inside the call, with
    "message", "hint"), "timeout" ("thread": it may still run), or "error" ("type", "message",
    "line" of the learner's code); "used": the forbidden built-ins it called; "dot_t": torch
    warned about `.T` on a batched tensor."""
    used: list[str] = []
    seen: list = []
    facts: dict = {"used": used}
    try:
        with _forbidding(forbid, fn, used), _recording_warnings(seen):
            facts["out"] = run_with_limit(fn, args, kwargs, limit)
        facts["kind"] = "ok"
    except NotImplementedError as err:
        if stub_raised(err):
            facts["kind"] = "not_implemented"
        else:
            facts.update(kind="error", type=type(err).__name__, message=_text_of(err), line=learner_line(err))
    except _TimeLimit as t:
        facts.update(kind="timeout", thread=t.args == ("thread",))
    except Fail as f:
        facts.update(kind="fail", message=f.message, hint=f.hint)
    except Pending as p:
        facts.update(kind="pending", message=p.args[0] if len(p.args) == 1 and isinstance(p.args[0], str) else "")
    except BaseException as err:
        facts.update(kind="error", type=type(err).__name__, message=_text_of(err), line=learner_line(err))
    facts["dot_t"] = any(_DOT_T_WARNING in str(w.message) for w in seen)
    return facts


def _name_of(fn) -> str:
    if isinstance(fn, RemoteObject):
        return fn._r_meta.name or "your code"
    return getattr(fn, "__name__", "your code")


def call(fn, *args, what: str | None = None, forbid: tuple = (), errors: list[tuple[Any, str]] = (), **kwargs):
    """Call learner code with a time limit, in-place-mutation detection and, with `forbid`,
    built-ins patched to fail: keys of FORBIDDEN ("softmax") or (owner, "attribute") pairs
    such as (EncoderLayer, "forward").

    A stub's own NotImplementedError (see `stub_raised`) -> Pending; a time-out or any other
    exception (any BaseException: SystemExit, KeyboardInterrupt, ...) -> Fail that names the exception
    and the learner's line.
    `errors`: (pattern, hint) pairs for exceptions a known mistake raises; `pattern` is a
    regular expression searched in the failure message (which quotes the learner's line).
    A RemoteObject `fn` runs in the learner's kernel, with the same guarantees.
    """
    label = what or msg("`{name}`", name=_name_of(fn))
    names = _param_names(fn, len(args))
    watched = [(names[i], i, a, _snapshot(a)) for i, a in enumerate(args)]
    watched += [(k, k, a, _snapshot(a)) for k, a in kwargs.items()]
    limit = _current_limit
    if isinstance(fn, RemoteObject):
        facts = fn._r_call(args, kwargs, forbid, limit, [key for _, key, _, snap in watched if snap is not None])
    else:
        facts = run_learner(fn, args, kwargs, forbid, limit)
        facts["after"] = {key: arg for _, key, arg, snap in watched if snap is not None}
    return _verdict(facts, label, errors, limit, watched)


def _verdict(facts: dict, label: str, errors, limit: float, watched: list):
    """What `call` returns or raises, from the facts of `run_learner`."""
    kind, used = facts["kind"], facts.get("used") or []
    if kind == "not_implemented":
        raise Pending()
    if kind == "pending":
        raise Pending(*([facts["message"]] if facts.get("message") else []))
    if kind == "fail":
        raise Fail(facts["message"], facts.get("hint"))
    if kind == "timeout":
        extra = msg(" It may still be running in the background: restart the kernel if the "
                    "notebook becomes slow.") if facts.get("thread") else ""
        raise Fail(msg("{label} did not finish within the time limit of {limit:g} s and was stopped.{extra}",
                       label=label, limit=limit, extra=extra),
                   hint=msg("Look for a loop that never ends, or one that runs over far more elements "
                            "than the inputs have."))
    if used:  # the forbidden built-in raised, or the learner's own try/except swallowed it
        raise _forbidden_fail(label, used)
    if kind == "error":
        line = facts.get("line") or ""
        where = msg(" at the line `{line}`", line=line) if line else ""
        message = msg("{label} raised {error}{where}: {detail}", label=label, error=facts["type"], where=where,
                      detail=facts["message"])
        hint = next((h for pattern, h in errors if re.search(pattern, message)), None)
        if facts.get("dot_t"):  # torch warned about `.T` on a batched tensor
            hint = HINT_DOT_T
        raise Fail(message, hint)
    after = facts.get("after", {})
    for name, key, _, snap in watched:
        if snap is not None and not _same(after.get(key), snap):
            raise Fail(msg("{label} changed its input `{name}` in place.", label=label, name=name),
                       hint=msg("In-place operations (`+=`, `x[...] = ...`, `.append`, methods ending in `_` such "
                                "as `masked_fill_`) modify the caller's data; work on a copy or build a new value."))
    return facts["out"]


def _forbidden_fail(label: str, used: list[str]) -> Fail:
    parts = next((v for k, v in _BUILD_FROM.items()
                  if k.replace("_", "") in used[0].lower().replace("_", "")), "`exp`, `max`, `sum`")
    return Fail(msg("{label} calls `{used}`: this exercise asks you to write it yourself.", label=label, used=used[0]),
                hint=msg("Build it from the elementary operations the statement lists ({parts}); "
                         "the built-in is allowed again in the later exercises.", parts=parts))


# ----------------------------------------------------------------------------- learner objects
# A grader touches a learner's object (a function, a class, an instance of it) only through
# `call`, reading attributes, and the helpers below, never by isinstance() on it or by writing
# into it: graded runs (`course check`, nbgrader) hold the learner's objects in the learner's
# kernel, another process, where the helpers do the same thing over the judge's channel.

def type_name(obj) -> str:
    """type(obj).__name__, also for an object in the learner's kernel."""
    return obj._r_meta.type_name if isinstance(obj, RemoteObject) else type(obj).__name__


def module_name(obj) -> str:
    """obj.__module__ (where a function or class was defined; "" when not a string), also for an
    object in the learner's kernel."""
    if isinstance(obj, RemoteObject):
        return obj._r_meta.module or ""
    try:
        module = getattr(obj, "__module__", None)
    except Exception:
        return ""
    return module if isinstance(module, str) else ""


def short(obj) -> str:
    """"(repr)" of `obj` in at most 60 characters, or "" when it shows a memory address."""
    if isinstance(obj, RemoteObject):
        text, length = obj._r_meta.repr, obj._r_meta.repr_len
    else:
        try:
            text = repr(obj)
        except Exception:
            text = "<unprintable>"
        length = len(text)
    text = text if length <= 60 else text[:57] + "..."
    return "" if " at 0x" in text else f"({text})"


def describe(obj) -> str:
    """A few words for a learner's value in a message: "a tensor of shape (2, 3)", "int (5)"."""
    if isinstance(obj, torch.Tensor):
        return msg("a tensor of shape {shape}", shape=tuple(obj.shape))
    if obj is None:
        return msg("None (did you forget `return`?)")
    return f"{type_name(obj)} {short(obj)}"


def expect_callable(obj, name: str) -> None:
    remote = obj._r_meta if isinstance(obj, RemoteObject) else None
    is_class, is_callable = (remote.is_class, remote.callable) if remote else (isinstance(obj, type), callable(obj))
    if is_class or not is_callable:
        raise Fail(msg("Expected the function `{name}`, got {got}.", name=name, got=describe(obj)))


def expect_class(obj, name: str) -> None:
    is_class = obj._r_meta.is_class if isinstance(obj, RemoteObject) else isinstance(obj, type)
    if not is_class:
        raise Fail(msg("Expected the class `{name}` itself (not an instance), got {got}.",
                       name=name, got=describe(obj)))


def qualified_names(cls) -> tuple[str, ...]:
    """"module.QualName" of `cls` and of each class it derives from (how a judge knows a class)."""
    return tuple(f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__)


def is_instance(obj, cls) -> bool:
    """isinstance(obj, cls) for a learner's object (`cls` a class of torch or course_utils, or a
    tuple of them). For an object in the learner's kernel it is decided by the classes'
    qualified names, so a class the kernel imported anew still counts."""
    if isinstance(obj, RemoteObject):
        classes = cls if isinstance(cls, tuple) else (cls,)
        return any(f"{c.__module__}.{c.__qualname__}" in obj._r_meta.classes for c in classes)
    return isinstance(obj, cls)


def signature_of(obj, attribute: str | None = None) -> list[str]:
    """The parameter names of `obj` (or of its `attribute`, e.g. "forward"); [] when unknown."""
    if isinstance(obj, RemoteObject):
        return obj._r_signature(attribute)
    target = getattr(obj, attribute, None) if attribute else obj
    try:
        return list(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return []


def read_weights(module) -> dict[str, torch.Tensor]:
    """A detached copy of a learner module's `state_dict()` (name -> tensor)."""
    if isinstance(module, RemoteObject):
        return module._r_read_weights()
    return {name: t.detach().clone() for name, t in module.state_dict().items()}


def apply_weights(module, weights: dict, strict: bool = True):
    """Copy `weights` into `module` where it lives; the problem as data, or None:
    ("missing", [names], [the module's names]) or ("shape", name, its shape, the shape given)."""
    own = module.state_dict()
    missing = [n for n in weights if n not in own]
    if missing and strict:
        return ("missing", missing, list(own))
    with torch.no_grad():
        for name, value in weights.items():
            if name not in own:
                continue
            if own[name].shape != value.shape:
                return ("shape", name, list(own[name].shape), list(value.shape))
            own[name].copy_(value)
    return None


def load_weights(module, weights: dict[str, torch.Tensor], strict: bool = True) -> None:
    """Copy `weights` (name -> tensor, names as in `state_dict()`) into a learner's module, in
    place and without grad. strict: every name must exist with the same shape (else Fail)."""
    remote = isinstance(module, RemoteObject)
    problem = module._r_load_weights(weights, strict) if remote else apply_weights(module, weights, strict)
    if problem is None:
        return
    if problem[0] == "missing":
        raise Fail(msg("Your module has no parameter named {missing}; it has {own}.",
                       missing=join_list(map(repr, problem[1])), own=join_list(map(repr, problem[2])) or "none"))
    raise Fail(msg("Your module's `{name}` has shape {got}, expected {want}.",
                   name=problem[1], got=tuple(problem[2]), want=tuple(problem[3])))


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
