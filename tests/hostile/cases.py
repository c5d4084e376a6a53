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
from dataclasses import dataclass
from pathlib import Path

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
    roots = {_tempfile.gettempdir(), "/tmp", _os.getcwd(), _os.path.dirname(_os.getcwd())}
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
