"""course layer · the judge's helper inside the learner's kernel: it holds the learner's objects
that the judge has handles on, and does what the judge asks with them (evaluate the check
expression, call, read an attribute, ...). It answers with data only (judge/wire.py).

    install("course-judge-...")   # in an IPython kernel: a comm target the judge opens
    python -m course_utils.course.judge.kernel   # the same helper over stdin/stdout (tests)

Nothing here decides a verdict: the judge computes it from what comes back. A notebook can
break or replace this helper (it runs in the learner's process); the judge then gets no
answer, or a malformed one, and reports "not graded".
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import pickle
import sys
import threading

import torch

from course_utils.course.checks import Recorder
from course_utils.course.checks.framework import (
    apply_weights,
    defined_with,
    no_side_effects,
    read_weights,
    refers_to,
    run_learner,
    run_with_limit,
    signature_of,
)
from course_utils.course.judge import wire

__all__ = ["Server", "install", "serve_pipe", "OP_TIME_LIMIT"]

OP_TIME_LIMIT = 10.0  # seconds for an operation that may run learner code (a property, a repr)
_MISSING = ["missing"]


class _Unpickler(pickle.Unpickler):
    """Pickles from the judge, where a handle stands for an object held here."""

    def __init__(self, data: bytes, objects: dict):
        super().__init__(io.BytesIO(data))
        self.objects = objects

    def persistent_load(self, pid):
        if isinstance(pid, tuple) and len(pid) == 2 and pid[0] == "h" and pid[1] in self.objects:
            return self.objects[pid[1]]
        if isinstance(pid, tuple) and len(pid) == 2 and pid[0] == "m" and isinstance(pid[1], str):
            return importlib.import_module(pid[1])
        raise pickle.UnpicklingError(f"unknown handle {pid!r}")


def _meta(obj) -> dict:
    """What the judge keeps about an object it gets a handle on (see framework.RemoteMeta)."""
    kind = type(obj)
    try:  # learner code may run here; the time limit (a BaseException) is not caught
        text = repr(obj)
    except Exception:
        text = "<unprintable>"
    text = text if isinstance(text, str) else "<unprintable>"
    try:
        name = getattr(obj, "__name__", None)
    except Exception:
        name = None
    try:
        module = getattr(obj, "__module__", None)
    except Exception:
        module = None
    params = None
    if callable(obj):
        try:
            params = [str(p)[:200] for p in inspect.signature(obj).parameters]
        except (TypeError, ValueError):
            params = None
    return {"type_name": str(kind.__name__)[:400], "classes": [f"{c.__module__}.{c.__qualname__}"[:400]
                                                              for c in kind.__mro__][:200],
            "callable": callable(obj), "is_class": isinstance(obj, type), "repr": text[:200], "repr_len": len(text),
            "name": name[:400] if isinstance(name, str) else None, "params": params[:200] if params else params,
            "module": module[:400] if isinstance(module, str) else None}


class Server:
    """Answers the judge's requests (`handle`) about the objects of `namespace` (the notebook's)."""

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.objects: dict[int, object] = {}  # handle id -> object
        self.ids: dict[int, int] = {}  # id(object) -> handle id
        self.grads: dict[int, tuple] = {}  # gradient link id -> (output tensor, [(key, input tensor)])
        self.grad_inputs: list = []  # (key, tensor) of the call being answered
        self.scope = None
        self.next_id = 1  # handle and link ids are never reused, so a stale handle finds nothing

    # ----------------------------------------------------------------- the protocol
    def handle(self, header: dict, buffers: list) -> tuple[dict, list]:
        """One request -> one reply: {"seq", "ok": node} with its buffers, or {"seq", "error": text}."""
        seq = header.get("seq") if isinstance(header, dict) else None
        try:
            op = header["op"]
            payload = _Unpickler(bytes(buffers[0]), self.objects).load() if buffers else {}
            self.grad_inputs = []
            method = getattr(self, f"op_{op}", None)
            if method is None:
                raise ValueError(f"unknown operation {op!r}")
            result = method(**payload)
            node, out = run_with_limit(self.encode, (result,), {}, OP_TIME_LIMIT)
            return {"seq": seq, "ok": node}, out
        except BaseException as err:  # the reply says what went wrong; the judge decides
            return {"seq": seq, "error": f"{type(err).__name__}: {_text(err)[:300]}"}, []

    def encode(self, value):
        return wire.encode(value, self.handle_for, on_tensor=self.grad_link)

    def handle_for(self, obj) -> list:
        key = id(obj)
        if key not in self.ids or self.objects.get(self.ids[key]) is not obj:
            self.ids[key], self.next_id = self.next_id, self.next_id + 1
            self.objects[self.ids[key]] = obj
        return ["h", self.ids[key], _meta(obj)]

    def grad_link(self, tensor):
        """A link the judge's autograd can follow back here: [id, keys of the call's inputs it depends on]."""
        if tensor.grad_fn is None or not self.grad_inputs:
            return None
        reached = _leaves(tensor)
        inputs = [(k, t) for k, t in self.grad_inputs if id(t) in reached]
        if not inputs:
            return None
        link, self.next_id = self.next_id, self.next_id + 1
        self.grads[link] = (tensor, [t for _, t in inputs])
        return [link, [k for k, _ in inputs]]

    # ----------------------------------------------------------------- operations
    def op_begin(self):
        """Start grading an exercise: what its learner code changes in this process is undone at `end`."""
        self.op_end()
        self.scope = contextlib.ExitStack()
        self.scope.enter_context(no_side_effects())
        return None

    def op_end(self):
        if self.scope is not None:
            scope, self.scope = self.scope, None
            scope.close()
        self.objects.clear()
        self.ids.clear()
        self.grads.clear()
        return None

    def op_evaluate(self, expression: str):
        """The value of the check's expression in the notebook, or ["missing", error type]."""
        try:
            code = compile(expression, "<check>", "eval")
            return ["value", run_with_limit(eval, (code, self.namespace), {}, OP_TIME_LIMIT)]
        except BaseException as err:
            return ["missing", type(err).__name__]

    def op_reset_namespace(self):
        """A fresh namespace (the pipe transport's tests run each answer in its own, as a notebook would)."""
        self.namespace = {"__name__": "__main__"}
        return None

    def op_exec(self, source: str):
        """Run code in the notebook's namespace (the pipe transport's tests put answers there)."""
        exec(compile(source, "<answer>", "exec"), self.namespace)  # noqa: S102
        return None

    def op_call(self, fn, args, kwargs, forbid, limit, keep, state):
        """`run_learner` here; the facts, the arguments in `keep` after the call, and what the
        Recorders among the arguments recorded."""
        _set_state(state)
        inputs = list(enumerate(args)) + list(kwargs.items())
        self.grad_inputs = [(k, a) for k, a in inputs if isinstance(a, torch.Tensor) and a.requires_grad]
        facts = run_learner(fn, tuple(args), dict(kwargs), tuple(forbid), float(limit))
        facts["after"] = {key: args[key] if isinstance(key, int) else kwargs[key] for key in keep}
        facts["recorded"] = {key: arg.recorded() for key, arg in inputs if isinstance(arg, Recorder)}
        facts["state"] = _get_state()
        return facts

    def op_plain_call(self, fn, args, kwargs, state, limit):
        """fn(*args, **kwargs) for a method a grader calls on a handle (within the exercise's time
        limit): ["ok", value, state] or ["error", type, message, state]."""
        _set_state(state)
        try:
            out = run_with_limit(fn, args, kwargs, float(limit))
            return ["ok", out, _get_state()]
        except BaseException as err:
            return ["error", type(err).__name__, _text(err), _get_state()]

    def op_getattr(self, obj, name: str):
        try:
            return ["ok", run_with_limit(getattr, (obj, name), {}, OP_TIME_LIMIT)]
        except AttributeError as err:
            return ["attribute_error", _text(err)]
        except BaseException as err:
            return ["error", type(err).__name__, _text(err)]

    def op_iterate(self, obj):
        return run_with_limit(lambda: list(obj)[:100_000], (), {}, OP_TIME_LIMIT)

    def op_signature(self, obj, attribute):
        return run_with_limit(signature_of, (obj, attribute), {}, OP_TIME_LIMIT)

    def op_read_weights(self, module):
        return run_with_limit(read_weights, (module,), {}, OP_TIME_LIMIT)

    def op_load_weights(self, module, weights, strict):
        return run_with_limit(apply_weights, (module, weights, strict), {}, OP_TIME_LIMIT)

    def op_find(self, obj, name: str):
        """The object `obj`'s code calls as `name` (where it was defined, else in the notebook)."""
        return run_with_limit(self._find, (obj, name), {}, OP_TIME_LIMIT)  # learner code may run here

    def _find(self, obj, name: str):
        if not refers_to(obj, name):
            return _MISSING
        for space in defined_with(obj) + [self.namespace]:
            if name in space:
                return ["found", space[name]]
        return _MISSING

    def op_vjp(self, link: int, grad_output):
        """The gradients of a returned tensor with respect to the call's inputs it depends on."""
        out, inputs = self.grads[link]

        def backward():  # a learner's autograd.Function runs its own backward here
            with torch.enable_grad():
                return list(torch.autograd.grad(out, inputs, grad_output, retain_graph=True, allow_unused=True))
        return run_with_limit(backward, (), {}, OP_TIME_LIMIT)


def _leaves(tensor, limit: int = 200_000) -> set[int]:
    """id() of the leaf tensors the autograd graph of `tensor` reaches."""
    found, seen, todo = set(), set(), [tensor.grad_fn]
    while todo and len(seen) < limit:
        fn = todo.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        variable = getattr(fn, "variable", None)
        if isinstance(variable, torch.Tensor):
            found.add(id(variable))
        todo += [nxt for nxt, _ in fn.next_functions]
    return found


def _text(err: BaseException) -> str:
    try:
        return str(err)[:2000]
    except BaseException:
        return "<unprintable>"


def _set_state(state: dict) -> None:
    """The judge's grad mode, default dtype and torch RNG, as if its grader ran here."""
    torch.set_grad_enabled(bool(state["grad"]))
    torch.set_default_dtype(state["dtype"])
    torch.set_rng_state(state["rng"])


def _get_state() -> dict:
    return {"rng": torch.get_rng_state()}


# ----------------------------------------------------------------------------- transports

def install(target: str) -> None:
    """Register the comm target `target` in this IPython kernel; the judge opens a comm on it."""
    from IPython import get_ipython

    shell = get_ipython()
    server = Server(shell.user_ns)

    def on_open(comm, _open_msg):
        def on_msg(message):
            content = message.get("content", {})
            reply, buffers = server.handle(content.get("data", {}), list(message.get("buffers") or []))
            comm.send(reply, buffers=buffers)
        comm.on_msg(on_msg)

    shell.kernel.comm_manager.register_target(target, on_open)


def serve_pipe() -> None:
    """Answer requests on stdin, replies on stdout (the light transport); the learner code's own
    prints go to stderr, so they cannot corrupt the replies."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    requests = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def read(n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = requests.read(left)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    server = Server({"__name__": "__main__"})
    assert threading.current_thread() is threading.main_thread()
    while True:
        try:
            header, buffers = wire.read_frame(read)
        except (EOFError, wire.WireError):
            return
        reply, out = server.handle(header, buffers)
        replies.write(wire.pack_frame(reply, out))


if __name__ == "__main__":
    serve_pipe()
