"""course layer · the judge's end of the channel: requests to the learner's kernel, replies
checked as data, and handles on the learner's objects that the graders' helpers understand.

A `Channel` sends a request (pickled: the kernel is the untrusted side) over a transport
(judge/transports.py) and decodes the reply with wire.decode; anything late, malformed or
impossible raises NotGraded. A `RemoteHandle` is a framework.RemoteObject: `call`,
`expect_callable`, `is_instance`, `signature_of`, `read_weights`, `load_weights` and the
search for a failing dependency ask the kernel through it; reading an attribute, calling a
method, `len`, iterating or indexing run there too. `judge_exercise` grades one exercise
with the judge's own graders on what comes back.
"""

from __future__ import annotations

import builtins
import io
import operator
import pickle
import time
import types

import torch

from course_utils.base.i18n import msg
from course_utils.course.checks.framework import (
    CheckResult,
    Exercise,
    NotGraded,
    Recorder,
    RemoteMeta,
    RemoteObject,
    current_time_limit,
    grade_answer,
    short,
)
from course_utils.course.judge import wire

__all__ = ["Channel", "RemoteHandle", "RemoteError", "judge_exercise", "GRACE_S"]

GRACE_S = 15.0  # seconds a reply may take beyond the time limit of the learner code it runs
OP_TIMEOUT_S = 30.0  # an operation without learner time limit of its own (it has the kernel's 10 s)
_KINDS = {"ok", "not_implemented", "pending", "fail", "timeout", "error"}


class RemoteError(Exception):
    """An exception raised by learner code in the kernel, re-raised here under its own name."""


_exception_classes: dict[str, type] = {}


def _exception(type_name: str, message: str) -> BaseException:
    """An exception like the kernel's: the built-in class of that name (an Exception), else a
    RemoteError subclass with the name, so `type(err).__name__` reads the same."""
    cls = getattr(builtins, type_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = _exception_classes.setdefault(type_name, type(type_name, (RemoteError,), {}))
    try:
        return cls(message)
    except Exception:
        return _exception_classes.setdefault(type_name, type(type_name, (RemoteError,), {}))(message)


def _state() -> dict:
    return {"grad": torch.is_grad_enabled(), "dtype": torch.get_default_dtype(), "rng": torch.get_rng_state()}


def _restore_rng(state) -> None:
    rng = state.get("rng") if isinstance(state, dict) else None
    mine = torch.get_rng_state()
    if not (isinstance(rng, torch.Tensor) and rng.dtype == torch.uint8 and rng.shape == mine.shape):
        raise NotGraded(msg("the kernel sent back an impossible random state"))
    torch.set_rng_state(rng)


class _Pickler(pickle.Pickler):
    """Pickles for the kernel: a handle travels as its id, a module as its name."""

    def __init__(self, file, channel):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.channel = channel

    def persistent_id(self, obj):
        if isinstance(obj, RemoteHandle):
            if object.__getattribute__(obj, "_r_channel") is not self.channel:
                raise pickle.PicklingError("a handle of another kernel")
            return ("h", object.__getattribute__(obj, "_r_id"))
        if isinstance(obj, types.ModuleType):
            return ("m", obj.__name__)
        return None


class _RemoteGrad(torch.autograd.Function):
    """A tensor computed in the kernel that keeps its gradient there: backward asks the kernel
    for the vector-Jacobian product with respect to the call's inputs."""

    @staticmethod
    def forward(ctx, value, link, *inputs):
        ctx.link, ctx.specs = link, [(i.shape, i.dtype) for i in inputs]
        return value.clone()

    @staticmethod
    def backward(ctx, grad_output):
        channel, link = ctx.link
        grads = channel.request("vjp", OP_TIMEOUT_S, link=link, grad_output=grad_output.detach())
        ok = isinstance(grads, list) and len(grads) == len(ctx.specs) and all(
            g is None or (isinstance(g, torch.Tensor) and g.shape == shape and g.dtype == dtype)
            for g, (shape, dtype) in zip(grads, ctx.specs))
        if not ok:
            raise NotGraded(msg("the kernel sent back gradients of the wrong shape"))
        return (None, None, *grads)


class Channel:
    """Requests to one kernel. `transport.exchange(header, buffers, timeout)` -> (header, buffers)
    raises NotGraded when the kernel does not answer in time or died; the channel is then broken
    and every later request raises NotGraded at once."""

    def __init__(self, transport, limits: wire.Limits = wire.LIMITS):
        self.transport, self.limits = transport, limits
        self.seq, self.broken = 0, None
        self.grad_args: dict = {}
        self.deadline: float | None = None  # time.monotonic() by which the current exercise must be graded

    def request(self, op: str, timeout: float = OP_TIMEOUT_S, **payload):
        if self.broken is not None:
            raise NotGraded(self.broken)
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise NotGraded(msg("grading this exercise took longer than the time it is given"))
            timeout = min(timeout, left)
        self.seq += 1
        data = io.BytesIO()
        try:
            _Pickler(data, self).dump(payload)
        except Exception as err:  # a grader handing the kernel something that cannot travel
            raise NotGraded(msg("the grader could not send the kernel its {op} request ({error})",
                                op=op, error=f"{type(err).__name__}: {err}")) from None
        try:
            header, buffers = self.transport.exchange({"op": op, "seq": self.seq}, [data.getvalue()], timeout)
        except NotGraded as err:
            self.broken = str(err)
            raise
        if not isinstance(header, dict) or header.get("seq") != self.seq:
            self.broken = msg("the kernel's replies are out of step")
            raise NotGraded(self.broken)
        if "error" in header:
            raise NotGraded(msg("the kernel's grading helper failed ({error})", error=str(header["error"])[:300]))
        try:
            return wire.decode(header.get("ok"), buffers, self.make_handle, self.limits, on_grad=self.on_grad)
        except wire.WireError as err:
            raise NotGraded(msg("the kernel sent back a malformed value ({error})", error=str(err))) from None

    def make_handle(self, ident: int, meta: dict) -> RemoteHandle:
        return _handle_class(meta["type_name"])(self, ident, RemoteMeta(**meta))

    def on_grad(self, tensor: torch.Tensor, link):
        if isinstance(link, list) and len(link) == 2 and type(link[0]) is int and isinstance(link[1], list):
            inputs = [self.grad_args.get(k) for k in link[1] if isinstance(k, (int, str))]
            if inputs and all(isinstance(t, torch.Tensor) and t.requires_grad for t in inputs):
                return _RemoteGrad.apply(tensor, (self, link[0]), *inputs)
        return tensor.requires_grad_(True)


_handle_classes: dict[str, type] = {}


def _handle_class(type_name: str) -> type:
    """A RemoteHandle subclass named like the learner's type, so `type(obj).__name__` reads the same."""
    if type_name not in _handle_classes:
        _handle_classes[type_name] = type(type_name, (RemoteHandle,), {"__slots__": ()})
    return _handle_classes[type_name]


_LOCAL_DUNDERS = {"__name__", "__qualname__", "__module__", "__doc__", "__wrapped__"}


class RemoteHandle(RemoteObject):
    """A learner's object (not data) in the kernel, seen from the judge."""

    __slots__ = ("_r_channel", "_r_id", "_r_meta")

    def __init__(self, channel: Channel, ident: int, meta: RemoteMeta):
        object.__setattr__(self, "_r_channel", channel)
        object.__setattr__(self, "_r_id", ident)
        object.__setattr__(self, "_r_meta", meta)

    def __repr__(self) -> str:
        return f"<{self._r_meta.type_name} in the learner's kernel {short(self)}>"

    def __setattr__(self, name, value):
        raise AttributeError("a grader does not write into a learner's object: use load_weights or a Recorder")

    def __getattr__(self, name: str):
        if name.startswith("_r_"):  # the handle's own slots, not set yet
            raise AttributeError(name)
        if name.startswith("__") and name.endswith("__"):
            if name == "__name__" and self._r_meta.name is not None:
                return self._r_meta.name
            if name not in _LOCAL_DUNDERS:
                raise AttributeError(name)
        reply = self._r_channel.request("getattr", obj=self, name=name)
        if isinstance(reply, list) and len(reply) == 2 and reply[0] == "ok":
            return reply[1]
        if isinstance(reply, list) and len(reply) == 2 and reply[0] == "attribute_error" and isinstance(reply[1], str):
            raise AttributeError(reply[1])
        if isinstance(reply, list) and len(reply) == 3 and reply[0] == "error" and \
                all(isinstance(r, str) for r in reply):
            raise _exception(reply[1], reply[2])
        raise NotGraded(msg("the kernel sent back an impossible reply to an attribute read"))

    def _r_apply(self, fn, *args, **kwargs):
        """fn(*args, **kwargs) run in the kernel (a method, len, bool, ...), its exceptions re-raised here."""
        channel, limit = self._r_channel, current_time_limit()
        reply = channel.request("plain_call", limit + GRACE_S, fn=fn, args=list(args), kwargs=kwargs, state=_state(),
                                limit=limit)
        if isinstance(reply, list) and len(reply) == 3 and reply[0] == "ok":
            _restore_rng(reply[2])
            return reply[1]
        if isinstance(reply, list) and len(reply) == 4 and reply[0] == "error" and \
                isinstance(reply[1], str) and isinstance(reply[2], str):
            _restore_rng(reply[3])
            raise _exception(reply[1], reply[2])
        raise NotGraded(msg("the kernel sent back an impossible reply to a call"))

    def __call__(self, *args, **kwargs):
        return self._r_apply(self, *args, **kwargs)

    def __len__(self):
        n = self._r_apply(len, self)
        if type(n) is not int or n < 0:
            raise NotGraded(msg("the kernel sent back an impossible length"))
        return n

    def __bool__(self):
        value = self._r_apply(bool, self)
        if type(value) is not bool:
            raise NotGraded(msg("the kernel sent back an impossible truth value"))
        return value

    def __getitem__(self, key):
        return self._r_apply(operator.getitem, self, key)

    def __contains__(self, item):
        return bool(self._r_apply(operator.contains, self, item))

    def __iter__(self):
        items = self._r_channel.request("iterate", obj=self)
        if not isinstance(items, list):
            raise NotGraded(msg("the kernel sent back an impossible iteration"))
        return iter(items)

    # ----------------------------------------------------------------- the framework's protocol
    def _r_call(self, args, kwargs, forbid, limit, keep) -> dict:
        channel = self._r_channel
        channel.grad_args = {**dict(enumerate(args)), **kwargs}
        try:
            facts = channel.request("call", limit + GRACE_S, fn=self, args=list(args), kwargs=dict(kwargs),
                                    forbid=list(forbid), limit=float(limit), keep=list(keep), state=_state())
        finally:
            channel.grad_args = {}
        _check_facts(facts, keep)
        _restore_rng(facts["state"])
        for key, state in facts["recorded"].items():
            target = args[key] if isinstance(key, int) and 0 <= key < len(args) else kwargs.get(key)
            if isinstance(target, Recorder) and isinstance(state, dict):
                target.restore_recorded(state)
        return facts

    def _r_signature(self, attribute):
        names = self._r_channel.request("signature", obj=self, attribute=attribute)
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise NotGraded(msg("the kernel sent back an impossible signature"))
        return names

    def _r_read_weights(self) -> dict:
        weights = self._r_channel.request("read_weights", module=self)
        if not (isinstance(weights, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                  for k, v in weights.items())):
            raise NotGraded(msg("the kernel sent back impossible weights"))
        return weights

    def _r_load_weights(self, weights, strict):
        problem = self._r_channel.request("load_weights", module=self, weights=dict(weights), strict=bool(strict))
        if problem is None:
            return None
        if isinstance(problem, tuple) and len(problem) == 3 and problem[0] == "missing" and \
                all(isinstance(p, list) and all(isinstance(n, str) for n in p) for p in problem[1:]):
            return problem
        if isinstance(problem, tuple) and len(problem) == 4 and problem[0] == "shape" and isinstance(problem[1], str):
            return problem
        raise NotGraded(msg("the kernel sent back an impossible answer to load_weights"))

    def _r_find(self, name):
        found = self._r_channel.request("find", obj=self, name=name)
        if isinstance(found, list) and len(found) == 2 and found[0] == "found":
            return found[1]
        if found == ["missing"]:
            return None
        raise NotGraded(msg("the kernel sent back an impossible answer to a lookup"))


def _check_facts(facts, keep) -> None:
    """The facts of a call (framework.run_learner) must have their form, else NotGraded."""
    ok = isinstance(facts, dict) and facts.get("kind") in _KINDS and \
        isinstance(facts.get("used"), list) and all(isinstance(u, str) for u in facts["used"]) and \
        type(facts.get("dot_t")) is bool and isinstance(facts.get("after"), dict) and \
        all(k in facts["after"] for k in keep) and isinstance(facts.get("recorded"), dict) and \
        isinstance(facts.get("state"), dict)
    kind = facts.get("kind") if isinstance(facts, dict) else None
    if ok and kind == "ok":
        ok = "out" in facts
    elif ok and kind == "error":
        ok = all(isinstance(facts.get(k), str) for k in ("type", "message", "line"))
    elif ok and kind in ("fail", "pending"):
        ok = isinstance(facts.get("message"), str) and (kind == "pending" or facts.get("hint") is None or
                                                       isinstance(facts.get("hint"), str))
    elif ok and kind == "timeout":
        ok = type(facts.get("thread")) is bool
    if not ok:
        raise NotGraded(msg("the kernel sent back an impossible account of a call"))


def judge_exercise(channel: Channel, ex: Exercise, expression: str) -> CheckResult:
    """Grade exercise `ex` on the value of `expression` in the kernel, with the judge's own
    grader. Status "missing" when the expression cannot be evaluated there; raises NotGraded
    when the kernel could not be asked."""
    channel.request("begin")
    try:
        found = channel.request("evaluate", expression=expression)
        if isinstance(found, list) and len(found) == 2 and found[0] == "missing" and isinstance(found[1], str):
            return CheckResult(ex.id, ex.title, "missing", msg(
                "not attempted: `{expression}` is not defined here ({error}); run the cells that define it",
                expression=expression, error=found[1]))
        if not (isinstance(found, list) and len(found) == 2 and found[0] == "value"):
            raise NotGraded(msg("the kernel sent back an impossible value for `{expression}`", expression=expression))
        return grade_answer(ex, found[1])
    finally:
        if channel.broken is None:
            try:
                channel.request("end")
            except NotGraded:
                pass
