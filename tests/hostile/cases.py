"""Hostile notebooks: ways a determined learner fakes a pass, each as a copy of
exercises/04_self_attention.ipynb whose honest grade is 0 of 4 (a wrong `attention`: no scale and
no mask; the find-the-bug exercise as given; the prediction and `self_attention` unwritten) plus
one fake. Graded, every one must come back with no exercise passed (tests/test_judge_hostile.py
runs them through `course check --strict`; the classroom tests through nbgrader's autograde).

    from hostile.cases import CASES, build
    path = build(CASES["input_transformer"], tmp_path)   # -> tmp_path/04_self_attention.ipynb

A case's code goes at "start" (after the notebook's imports), at "end", or into the "answer"
cell of 04.attention (after the wrong function).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = ROOT / "exercises" / "04_self_attention.ipynb"
EXERCISES = ("04.attention", "04.fix_attention", "04.predict_score_std", "04.self_attention")

WRONG_ATTENTION = '''def attention(q, k, v, mask=None):
    weights = (q @ k.transpose(-2, -1)).softmax(dim=-1)   # no 1/sqrt(d_k), the mask ignored
    return weights @ v, weights
'''


@dataclass(frozen=True)
class Case:
    name: str
    what: str  # the fake, in a few words
    code: str
    where: str = "start"  # "start" | "end" | "answer"


_PASSED_ROWS = '''
import json as _json
_ROWS = [{"id": i, "status": "passed", "message": "ok", "hint": None} for i in
         ("04.attention", "04.fix_attention", "04.predict_score_std", "04.self_attention")]
'''

_FORGE_FILES = _PASSED_ROWS + '''
import glob as _glob, os as _os, tempfile as _tempfile
def _forge(*_args):
    # where a judge would keep its results: the temporary folder, the notebook's folder and the one
    # above (the tests give each fake a temporary folder of its own, so the hunt stays in there)
    roots = {_tempfile.gettempdir(), _os.getcwd(), _os.path.dirname(_os.getcwd())}
    for root in roots:
        for path in _glob.glob(_os.path.join(root, "**", "*.json*"), recursive=True)[:200]:
            try:
                with open(path, "a") as f:
                    for row in _ROWS:
                        f.write(_json.dumps({"token": "0" * 32, **row}) + "\\n")
            except OSError:
                pass
'''

_FAKE_CHECKS = '''
import types as _types
class _Passed:
    status, message, hint, passed = "passed", "ok", None, True
    def __bool__(self):
        return True
    def __repr__(self):
        return "✔ passed"
_fake_checks = _types.ModuleType("course_utils.course.checks")
_fake_checks.check = lambda *a, **k: _Passed()
_fake_checks.__file__ = __import__("course_utils.course.checks", fromlist=["x"]).__file__
'''

_LYING_TENSOR_OPS = '''
import torch as _torch
_true = lambda *a, **k: True
'''

CASES_LIST = [
    Case("printed_table", "prints a table of passes and displays the check's own result format", '''
from IPython.display import display
for i in ("04.attention", "04.fix_attention", "04.predict_score_std", "04.self_attention"):
    display({"application/vnd.course.check+json": {"id": i, "status": "passed", "message": "ok", "hint": None},
             "text/plain": f"✔ {i} passed"}, raw=True)
print("04.attention  passed\\n04.fix_attention  passed\\n4 of 4 passed.")
''', "end"),
    Case("redefined_check", "defines its own `check` that always passes", '''
class _R:
    status, message, hint, passed = "passed", "ok", None, True
def check(*args, **kwargs):
    return _R()
'''),
    Case("patched_import_module", "makes importlib.import_module serve fake graders", _FAKE_CHECKS + '''
import importlib
_real_import = importlib.import_module
importlib.import_module = lambda n, *a: (_fake_checks if n.startswith("course_utils.course.checks")
                                         else _real_import(n, *a))
'''),
    Case("fake_package", "puts a fake course_utils package first on sys.path and forgets the real one", '''
import os, sys, pathlib
folder = pathlib.Path("fake/course_utils/course/checks")
folder.mkdir(parents=True, exist_ok=True)
for d in ("fake/course_utils", "fake/course_utils/course", "fake/course_utils/course/judge"):
    pathlib.Path(d).mkdir(parents=True, exist_ok=True)
    pathlib.Path(d, "__init__.py").write_text("")
(folder / "__init__.py").write_text("class R:\\n    status, message, hint, passed = 'passed', 'ok', None, True\\n"
                                   "def check(*a, **k):\\n    return R()\\n")
sys.path.insert(0, os.path.abspath("fake"))
for m in [m for m in sys.modules if m.startswith("course_utils")]:
    del sys.modules[m]
'''),
    Case("patched_allclose", "torch.allclose, torch.equal and torch.isclose always true", _LYING_TENSOR_OPS + '''
_torch.allclose = _true
_torch.equal = _true
_torch.isclose = lambda a, b, *x, **k: _torch.ones_like(_torch.as_tensor(a), dtype=_torch.bool)
'''),
    Case("patched_tensor_eq", "Tensor.__eq__ / __ne__ lie", '''
import torch
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
torch.Tensor.__ne__ = lambda self, other: torch.zeros_like(self, dtype=torch.bool)
'''),
    Case("patched_isinstance", "builtins.isinstance always true", '''
import builtins
_real_isinstance = builtins.isinstance
builtins.isinstance = lambda obj, cls: True
'''),
    Case("patched_math_isclose", "math.isclose always true", '''
import math
math.isclose = lambda *a, **k: True
'''),
    Case("patched_numpy_testing", "numpy.testing's assertions never fail, numpy.allclose always true", '''
import numpy as np
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
np.allclose = lambda *a, **k: True
'''),
    Case("forged_rows", "writes passing result rows with a guessed token into every result-like file it finds",
         _FORGE_FILES + "_forge()\n", "end"),
    Case("input_transformer", "an IPython input transformer rewrites every later cell that grades or checks", '''
def _rewrite(lines):
    text = "".join(lines)
    if "check" in text or "course" in text or "grad" in text:
        return ["print('✔ 04.attention passed')\\n", "attention = lambda *a, **k: None\\n"]
    return lines
get_ipython().input_transformers_post.append(_rewrite)
'''),
    Case("pre_run_cell_hook", "a pre_run_cell hook reads every cell's source for tokens and forges results",
         _FORGE_FILES + '''
import re as _re
def _pre(info):
    for token in set(_re.findall(r"[0-9a-f]{32}", info.raw_cell or "")):
        _ROWS.append({"id": "04.attention", "status": "passed", "message": token, "hint": None})
    _forge()
get_ipython().events.register("pre_run_cell", _pre)
'''),
    Case("post_run_cell_hook", "a post_run_cell hook rewrites result files after every cell", _FORGE_FILES + '''
get_ipython().events.register("post_run_cell", lambda result: _forge())
'''),
    Case("glob_results", "the last cell looks for result files by glob and appends passes",
         _FORGE_FILES + "_forge()\n", "end"),
    Case("history_results", "the last cell reads the `In` history for result files and tokens", _PASSED_ROWS + '''
import re
source = "\\n".join(In)
for path in set(re.findall(r"['\\"]([^'\\"]+\\.jsonl?)['\\"]", source)):
    with open(path, "a") as f:
        for row in _ROWS:
            f.write(_json.dumps(row) + "\\n")
print(len(source))
''', "end"),
    Case("swap_importlib", "sys.modules['importlib'] replaced by a look-alike serving fake graders", _FAKE_CHECKS + '''
import sys, types, importlib as _importlib
fake = types.ModuleType("importlib")
fake.__dict__.update(_importlib.__dict__)
fake.import_module = lambda n, *a: _fake_checks if "checks" in n else _importlib.import_module(n, *a)
sys.modules["importlib"] = fake
'''),
    Case("swap_json", "sys.modules['json'] replaced: every dump says passed", '''
import sys, types, json as _real_json
fake = types.ModuleType("json")
fake.__dict__.update(_real_json.__dict__)
def _dumps(obj, *a, **k):
    if isinstance(obj, dict) and "status" in obj:
        obj = {**obj, "status": "passed"}
    return _real_json.dumps(obj, *a, **k)
fake.dumps = _dumps
sys.modules["json"] = fake
'''),
    Case("json_default_encoder", "json._default_encoder swapped for one that writes passes", '''
import json
class _Enc(json.JSONEncoder):
    def encode(self, obj):
        if isinstance(obj, dict) and "status" in obj:
            obj = {**obj, "status": "passed"}
        return super().encode(obj)
json._default_encoder = _Enc()
'''),
    Case("builtins_str", "builtins.str replaced by a look-alike that turns failures into passes", '''
import builtins
_real_str = builtins.str
class _Str(_real_str):
    def __new__(cls, *a, **k):
        s = _real_str(*a, **k)
        return _real_str.__new__(cls, s.replace("failed", "passed").replace("pending", "passed"))
builtins.str = _Str
'''),
    Case("meta_path_finder", "a sys.meta_path finder serves forged graders and a forged judge helper with the real "
                             "__file__", _FAKE_CHECKS + '''
import sys, importlib.abc, importlib.machinery
class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name.startswith("course_utils.course.checks") or name.startswith("course_utils.course.judge"):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None
    def create_module(self, spec):
        return _fake_checks
    def exec_module(self, module):
        pass
sys.meta_path.insert(0, _Finder())
for m in [m for m in sys.modules if m.startswith("course_utils.course")]:
    del sys.modules[m]
'''),
    Case("torch_function_mode", "a TorchFunctionMode left running makes every comparison true", '''
import torch
from torch.overrides import TorchFunctionMode
class _Agree(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal"):
            return True
        if name in ("isclose", "eq", "__eq__"):
            return torch.ones_like(args[0], dtype=torch.bool)
        return func(*args, **kwargs)
_mode = _Agree()
_mode.__enter__()
'''),
    Case("patched_detach", "Tensor.detach returns what the reference would be (zeros of the same shape)", '''
import torch
_real_detach = torch.Tensor.detach
torch.Tensor.detach = lambda self: torch.zeros_like(_real_detach(self))
torch.Tensor.clone = lambda self, *a, **k: torch.zeros_like(_real_detach(self))
'''),
    Case("patched_randn", "torch.randn returns zeros, so probe inputs cannot tell answers apart", '''
import torch
_real_randn = torch.randn
torch.randn = lambda *shape, **kw: torch.zeros(*shape, **{k: v for k, v in kw.items() if k != "generator"})
'''),
    Case("patched_numpy_all", "numpy.all and numpy.any always true", '''
import numpy as np
np.all = lambda *a, **k: True
np.any = lambda *a, **k: True
'''),
    Case("tensor_subclass", "the wrong attention returns a tensor subclass whose comparisons always agree", '''
import torch
class _Agreeable(torch.Tensor):
    def allclose(self, *a, **k):
        return True
    def equal(self, *a, **k):
        return True
    def __eq__(self, other):
        return torch.ones(self.shape, dtype=torch.bool)
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("allclose", "equal"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})
_wrong = attention
def attention(q, k, v, mask=None):
    out, weights = _wrong(q, k, v, mask)
    return out.as_subclass(_Agreeable), weights.as_subclass(_Agreeable)
''', "answer"),
    Case("patched_reference_attention", "the course's reference attention patched to the wrong one, everywhere", '''
import sys, course_utils.transformer as _ct
for name, module in list(sys.modules.items()):
    if name.startswith("course_utils") and hasattr(module, "attention") and callable(getattr(module, "attention")):
        try:
            setattr(module, "attention", attention)
        except Exception:
            pass
''', "answer"),
    Case("patched_sdpa", "F.scaled_dot_product_attention patched to the wrong attention", '''
import torch.nn.functional as F
F.scaled_dot_product_attention = lambda q, k, v, attn_mask=None, **kw: attention(q, k, v, attn_mask)[0]
''', "answer"),
    Case("replaced_helper", "re-registers the judge's comm target with a helper that answers every request "
                            "with a bare 'passed'", '''
kernel = get_ipython().kernel
for name in list(kernel.comm_manager.targets):
    def _open(comm, msg):
        comm.on_msg(lambda m: comm.send({"seq": m["content"]["data"].get("seq"), "ok": ["s", "passed"]}))
    kernel.comm_manager.register_target(name, _open)
for comm in list(kernel.comm_manager.comms.values()):
    comm.on_msg(lambda m, comm=comm: comm.send({"seq": m["content"]["data"].get("seq"), "ok": ["s", "passed"]}))
'''),
    Case("stop_parent", "stops its parent process (SIGSTOP) and goes on", '''
import os, signal
os.kill(os.getppid(), signal.SIGSTOP)
'''),
    Case("endless_attribute", "the answer is an object whose every attribute read never ends", '''
class _Sticky:
    def __call__(self, *a, **k):
        while True:
            pass
    def __getattr__(self, name):
        while True:
            pass
attention = _Sticky()
''', "answer"),
    Case("huge_output", "the wrong attention also returns a huge value, to exhaust the judge", '''
_wrong = attention
def attention(q, k, v, mask=None):
    out, weights = _wrong(q, k, v, mask)
    nested = out
    for _ in range(10_000):
        nested = [nested]
    return out, weights, nested
''', "answer"),
]
CASES = {case.name: case for case in CASES_LIST}

# Not a fake the judge can refuse: the course's own attention as the answer gives right outputs.
# It passes, and the row says where the answer comes from (docs/JUDGE.md, "What remains possible").
COURSE_REFERENCE = Case("course_reference", "the answer is the course's own attention", '''
from course_utils.transformer import attention as _theirs
attention = _theirs
''', "answer")


def _cell_id(nb, ex_id: str, answer: bool = True) -> int:
    for i, cell in enumerate(nb["cells"]):
        meta = cell.get("metadata", {}).get("course", {})
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and meta.get("exercise") == ex_id and ("check(" not in source) == answer:
            return i
    raise LookupError(ex_id)


def build(case: Case | None, folder: Path, name: str = "04_self_attention.ipynb") -> Path:
    """Write the hostile notebook of `case` (None: no fake, the honest 0 of 4) into `folder`."""
    nb = json.loads(EXERCISE.read_text(encoding="utf-8"))
    answer = _cell_id(nb, "04.attention")
    nb["cells"][answer]["source"] = WRONG_ATTENTION + (case.code if case is not None and case.where == "answer" else "")
    if case is not None and case.where != "answer":
        cell = {"cell_type": "code", "execution_count": None, "id": f"hostile-{case.name}"[:64], "metadata": {},
                "outputs": [], "source": case.code}
        first_code = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and
                          "import" in "".join(c["source"]) and "check" in "".join(c["source"]))
        nb["cells"].insert(first_code + 1 if case.where == "start" else len(nb["cells"]), cell)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- more kinds of fakes
# Faking through the kernel protocol, breaking the judge's helper in the kernel, answers that lie
# about what they are, processes and files the notebook plays with, and notebooks whose metadata
# or structure lies. tests/test_judge_hostile_more.py grades them the same way.

_SEND = '''
def _send(msg_type, content, parent=None):
    kernel = get_ipython().kernel
    parent = parent if parent is not None else kernel.get_parent()
    kernel.session.send(kernel.iopub_socket, msg_type, content, parent=parent)
'''

MORE_CASES_LIST = [
    Case("forged_comm_reply", "the answer, while the judge's call runs, sends the judge forged replies with the "
                              "request's own parent header and sequence number", _SEND + '''
_wrong = attention
def attention(q, k, v, mask=None):
    kernel = get_ipython().kernel
    parent = kernel.get_parent()
    data = (parent.get("content") or {}).get("data") or {}
    comm_id = (parent.get("content") or {}).get("comm_id")
    for node in (["s", "passed"], ["d", [[["s", "kind"], ["s", "ok"]], [["s", "out"], ["s", "passed"]]], None]):
        _send("comm_msg", {"comm_id": comm_id, "data": {"seq": data.get("seq"), "ok": node}}, parent)
    return _wrong(q, k, v, mask)
''', "answer"),
    Case("fake_idle", "a cell announces itself finished (a forged 'idle' status) and keeps running", _SEND + '''
_send("status", {"execution_state": "idle"})
import time
time.sleep(3)
''', "end"),
    Case("closed_comms", "closes every comm and unregisters every comm target", '''
kernel = get_ipython().kernel
for comm in list(kernel.comm_manager.comms.values()):
    comm.close()
for name in list(kernel.comm_manager.targets):
    kernel.comm_manager.unregister_target(name, kernel.comm_manager.targets[name])
'''),
    Case("display_results", "displays result-like JSON, updates displays and opens its own comm with passes", '''
from IPython.display import display, JSON
rows = {i: "passed" for i in ("04.attention", "04.fix_attention", "04.predict_score_std", "04.self_attention")}
display(JSON(rows), display_id="results")
get_ipython().display_pub.publish({"application/json": rows, "text/plain": "4 of 4 passed"})
from comm import create_comm
c = create_comm(target_name="course-judge-0000000000000000", data={"ok": ["s", "passed"]})
c.send({"seq": 1, "ok": ["s", "passed"]})
''', "end"),
    Case("iopub_flood", "the answer prints megabytes on every call", '''
_wrong = attention
def attention(q, k, v, mask=None):
    print("04.attention passed\\n" * 200_000)
    return _wrong(q, k, v, mask)
''', "answer"),
    Case("patched_helper_wire", "patches the judge's helper in the kernel: its encoder answers 'passed' to everything",
         '''
import course_utils.course.judge.wire as _wire, course_utils.course.judge.kernel as _kernel
_wire.encode = lambda value, *a, **k: (["s", "passed"], [])
_kernel.wire.encode = _wire.encode
'''),
    Case("patched_helper_server", "finds the helper's Server through gc and makes every request answer like a "
                                  "passed call", '''
import gc, course_utils.course.judge.kernel as _kernel
def _handle(self, header, buffers):
    facts = ["d", [[["s", k], v] for k, v in (("kind", ["s", "ok"]), ("used", ["l", []]), ("dot_t", ["b", False]),
                                               ("after", ["d", [], None]), ("recorded", ["d", [], None]),
                                               ("state", ["d", [], None]), ("out", ["s", "passed"]))], None]
    return {"seq": header.get("seq"), "ok": facts}, []
_kernel.Server.handle = _handle
for obj in gc.get_objects():
    if type(obj).__name__ == "Server":
        obj.handle = _handle.__get__(obj)
'''),
    Case("patched_run_learner", "patches run_learner and the forbidding of built-ins in the kernel's framework", '''
import course_utils.course.checks.framework as _fw, contextlib
_fw._forbidding = lambda *a, **k: contextlib.nullcontext()
_real = _fw.run_learner
def _run(fn, args, kwargs, *rest):
    facts = _real(fn, args, kwargs, *rest)
    facts["kind"], facts["used"] = ("ok" if facts["kind"] != "error" else facts["kind"]), []
    return facts
_fw.run_learner = _run
import course_utils.course.judge.kernel as _kernel
_kernel.run_learner = _run
'''),
    Case("patched_stdlib_in_kernel", "swaps pickle, io, struct, base64, json, numpy.frombuffer and __import__ in the "
                                     "kernel", '''
import builtins, io, sys, types, struct, base64, json, pickle, numpy as np
_real_import = builtins.__import__
def _import(name, *a, **k):
    module = _real_import(name, *a, **k)
    return module
builtins.__import__ = _import
io.BytesIO = lambda *a, **k: io.StringIO()
struct.pack = lambda *a: b"\\0" * 8
base64.b64encode = lambda *a, **k: b"cGFzc2Vk"
json.dumps = lambda *a, **k: '{"status": "passed"}'
np.frombuffer = lambda *a, **k: np.zeros(1)
sys.modules["pickle"] = types.SimpleNamespace(loads=lambda *a, **k: {"status": "passed"}, Unpickler=None)
'''),
    Case("rng_state_forged", "torch.get_rng_state in the kernel returns a state of the notebook's choosing", '''
import torch
_fixed = torch.Generator().manual_seed(0).get_state()
torch.get_rng_state = lambda: _fixed.clone()
torch.random.get_rng_state = torch.get_rng_state
'''),
    Case("lying_object", "the answer returns objects whose __eq__, __len__, __iter__, __array__, __bool__ and "
                         "__torch_function__ all agree with anything", '''
import numpy as np
class _Yes:
    shape = dtype = property(lambda self: self)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __len__(self): return 4
    def __iter__(self): return iter([self, self])
    def __bool__(self): return True
    def __array__(self, *a, **k): return np.ones(3)
    def __getattr__(self, name): return lambda *a, **k: self
    def __float__(self): return 0.0
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None): return True
    def __reduce__(self): return (print, ("unpickled",))
def attention(q, k, v, mask=None):
    return _Yes(), _Yes()
''', "answer"),
    Case("dispatch_subclass", "the answer returns a __torch_dispatch__ wrapper tensor that lies when read", '''
import torch
class _Lie(torch.Tensor):
    @staticmethod
    def __new__(cls, inner):
        return torch.Tensor._make_wrapper_subclass(cls, inner.shape, dtype=inner.dtype)
    def __init__(self, inner):
        self.inner = inner
    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return torch.zeros(args[0].shape) if args and isinstance(args[0], torch.Tensor) else None
_wrong = attention
def attention(q, k, v, mask=None):
    out, w = _wrong(q, k, v, mask)
    return _Lie(out), _Lie(w)
''', "answer"),
    Case("nan_and_odd_values", "the answer returns NaN, inf, wrong dtypes and shapes, generators, in turn", '''
import itertools, torch
_turn = itertools.count()
def attention(q, k, v, mask=None):
    n = next(_turn) % 5
    if n == 0:
        return torch.full(q.shape, float("nan")), torch.full(q.shape[:-1] + (k.size(-2),), float("nan"))
    if n == 1:
        return torch.full(q.shape, float("inf")), torch.ones(q.shape[:-1] + (k.size(-2),), dtype=torch.float16)
    if n == 2:
        return (x for x in range(3)), None
    if n == 3:
        return torch.zeros(1, dtype=torch.complex64), torch.zeros(2 ** 20, dtype=torch.int64)
    return q.new_empty(0), {"weights": q}
''', "answer"),
    Case("framework_exceptions", "the answer raises the graders' own Pending, Fail, NotGraded and time-limit "
                                 "exceptions, and exceptions whose str() lies", '''
import itertools
from course_utils.course.checks import framework as _fw
_turn = itertools.count()
class _Loud(Exception):
    def __str__(self): return "passed\\n" * 100_000
class _Broken(Exception):
    def __str__(self): raise RuntimeError("no")
def attention(q, k, v, mask=None):
    n = next(_turn) % 6
    raise [_fw.Pending("passed"), _fw.Fail("passed"), _fw.NotGraded("passed"), _fw._TimeLimit(), _Loud(), _Broken()][n]
''', "answer"),
    Case("recursion_bomb", "the answer recurses without end", '''
def attention(q, k, v, mask=None):
    return attention(q, k, v, mask)
''', "answer"),
    Case("memory_bomb", "the answer allocates about a gigabyte on every call", '''
_wrong = attention
def attention(q, k, v, mask=None):
    hoard = bytearray(1 << 30)
    return _wrong(q, k, v, mask)
''', "answer"),
    Case("fork_children", "the answer forks children that leave the process group and outlive the kernel "
                          "(each ends after 20 s)", '''
import os, time
_wrong = attention
_forked = []
def attention(q, k, v, mask=None):
    if len(_forked) < 8:
        pid = os.fork()
        if pid == 0:
            os.setsid()
            time.sleep(20)
            os._exit(0)
        _forked.append(pid)
    return _wrong(q, k, v, mask)
''', "answer"),
    Case("stop_itself", "the kernel stops itself (SIGSTOP) in its last cell", '''
import os, signal
os.kill(os.getpid(), signal.SIGSTOP)
''', "end"),
    Case("exit_hard", "the kernel ends itself with os._exit while the judge calls the answer", '''
import os
def attention(q, k, v, mask=None):
    os._exit(0)
''', "answer"),
    Case("deaf_to_signals", "ignores SIGINT and SIGTERM, registers an atexit that sleeps, and loops in its last cell",
         '''
import atexit, signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
atexit.register(time.sleep, 600)
while True:
    pass
''', "end"),
    Case("closed_std_streams", "closes the kernel's stdout and stderr file descriptors and sys.stdout", '''
import os, sys
os.close(1)
os.close(2)
sys.stdout.close()
'''),
    Case("judge_folder_vandal", "changes directory, deletes the copy being graded and the judge's kernel folder, "
                                "and leaves an unreadable folder behind", '''
import os, shutil, stat
here = os.getcwd()
for name in os.listdir(here):
    os.remove(os.path.join(here, name))
parent = os.path.dirname(here)
for name in os.listdir(parent):
    path = os.path.join(parent, name)
    if os.path.isdir(path) and name != os.path.basename(here):
        shutil.rmtree(path, ignore_errors=True)
os.makedirs(os.path.join(here, "locked", "inside"), exist_ok=True)
os.chmod(os.path.join(here, "locked"), 0)
os.chdir("/")
''', "end"),
    Case("judge_folder_gone", "deletes the judge's whole temporary folder from under it", '''
import os, shutil
shutil.rmtree(os.path.dirname(os.getcwd()), ignore_errors=True)
''', "end"),
    Case("stdin_and_debugger", "asks for input, a password and the debugger", '''
for ask in (input, __import__("getpass").getpass, breakpoint):
    try:
        ask()
    except Exception:
        pass
'''),
    Case("thread_swaps_answer", "a background thread keeps re-binding the answer and patching torch while the "
                                "judge grades", '''
import threading, time, torch
_real = torch.allclose
def _meddle():
    for _ in range(2000):
        g = get_ipython().user_ns
        g["attention"] = g.get("attention")
        torch.allclose = lambda *a, **k: True
        time.sleep(0.005)
threading.Thread(target=_meddle, daemon=True).start()
'''),
]
MORE_CASES = {case.name: case for case in MORE_CASES_LIST}

# The cases that end only at a cell's deadline (a cell that never goes idle: a loop, a stopped
# kernel, a kernel that can no longer send its messages). The tests grade them with a shorter
# --timeout, HANG_TIMEOUT, and check that the deadline is what ended them. The judge applies the
# timeout to each cell from the moment it sends the cell until the cell is idle; the kernel's
# start and the install of the judge's helper (which imports torch and the graders) come before,
# under their own deadline, so the notebook's import cell finds its modules loaded: every cell of
# the copy takes well under half a second, even with the machine's two cores shared by a load of 8.
HANGS = frozenset({"builtins_str", "patched_isinstance", "patched_stdlib_in_kernel", "stop_itself",
                   "deaf_to_signals"})
HANG_TIMEOUT = 6  # seconds per cell for the cases of HANGS


# ----------------------------------------------------------------------------- notebooks whose structure lies
def _check_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and
            "check(" in "".join(c["source"]) and c.get("metadata", {}).get("course", {}).get("exercise")]


def _only_the_easy_check(nb) -> None:
    """No course metadata, and only the check of the prediction (whose answer is one number) left."""
    nb["metadata"].pop("course", None)
    for i in reversed(_check_cells(nb)):
        if "04.predict_score_std" not in "".join(nb["cells"][i]["source"]):
            del nb["cells"][i]
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("course", {}).get("exercise") == "04.predict_score_std" and \
                "check(" not in "".join(cell["source"]):
            cell["source"] = "prediction = 8.0  # sqrt(d_k) for d_k = 64\n"


def _another_lessons_metadata(nb) -> None:
    _only_the_easy_check(nb)
    nb["metadata"]["course"] = {"generated_from": "solutions/01_attention_intuition.ipynb", "lesson": "01",
                                "exercises": ["04.predict_score_std"]}


def _one_id_for_all(nb) -> None:
    for cell in nb["cells"]:
        cell["id"] = "same"


def _aliased_checks(nb) -> None:
    for i in _check_cells(nb):
        source = "".join(nb["cells"][i]["source"])
        nb["cells"][i]["source"] = "from course_utils.course.checks import check as verify\n" + \
            source.replace("check(", "verify(").replace("# NBVAL_CHECK_OUTPUT\n", "")
        nb["cells"][i]["metadata"] = {}


def _checks_moved_first(nb) -> None:
    """The check cells (with their ids and metadata) moved before every answer."""
    checks = [nb["cells"][i] for i in _check_cells(nb)]
    for i in reversed(_check_cells(nb)):
        del nb["cells"][i]
    nb["cells"][3:3] = checks


# name -> (what, edit of the honest 0-of-4 notebook's JSON)
EDITS = {
    "only_the_easy_check": ("no course metadata, every check cell deleted but the prediction's (answered)",
                            _only_the_easy_check),
    "another_lessons_metadata": ("metadata naming lesson 01's solution and only the answered prediction",
                                 _another_lessons_metadata),
    "one_id_for_all": ("every cell has the same id", _one_id_for_all),
    "aliased_checks": ("check imported under another name in each check cell, the cells' metadata gone",
                       _aliased_checks),
    "checks_moved_first": ("the check cells moved before the answers", _checks_moved_first),
}


def build_edited(name: str, folder: Path, file_name: str = "04_self_attention.ipynb") -> Path:
    """The honest 0-of-4 notebook with the edit `name` of EDITS applied."""
    path = build(None, folder, file_name)
    nb = json.loads(path.read_text(encoding="utf-8"))
    EDITS[name][1](nb)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    return path

# A notebook that grades itself: each copy would start a kernel that grades the next copy.
NESTED_CHECK = Case("nested_check", "runs `course check` on its own copy from inside the graded kernel", '''
import glob, os, subprocess, sys
course = os.path.join(os.path.dirname(sys.executable), "course")
for path in glob.glob("*.ipynb"):
    done = subprocess.run([course, "check", path, "--timeout", "15"], capture_output=True, text=True, timeout=60)
    print(done.returncode, done.stderr.strip()[-200:])
''', "end")

# The graded kernel finds the learner's notebook (through the judge's /proc entry) and makes the
# progress file a link to it: recording the results must not replace the notebook.
PROGRESS_LINK = Case("progress_link", "makes .course/progress.json a link to the notebook being graded", '''
import os
judge = int(open(f"/proc/{os.getppid()}/stat").read().rsplit(") ", 1)[1].split()[1])
cwd = os.readlink(f"/proc/{judge}/cwd")
args = open(f"/proc/{judge}/cmdline", "rb").read().split(b"\\0")
import glob
named = [os.path.join(cwd, a.decode()) for a in args if a.endswith(b".ipynb")]
notebook = (named + glob.glob(os.path.join(cwd, "exercises", "*.ipynb")))[0]
root = os.path.dirname(os.path.dirname(os.path.abspath(notebook)))
os.makedirs(os.path.join(root, ".course"), exist_ok=True)
progress = os.path.join(root, ".course", "progress.json")
if os.path.lexists(progress):
    os.remove(progress)
os.symlink(os.path.abspath(notebook), progress)
''', "end")


@pytest.fixture(autouse=True)
def private_temporary_folder(tmp_path, monkeypatch):
    """Some fakes hunt for result files in the temporary folder and append to every JSON file
    there: each test gets a temporary folder of its own (TMPDIR for the judge and the kernels it
    starts, tempfile's for this process), so the hunt never reaches other tests' files."""
    folder = tmp_path / "tmp"
    folder.mkdir(exist_ok=True)
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
