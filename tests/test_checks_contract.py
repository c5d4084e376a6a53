"""The learner-object contract of the graders of lessons 01-10 (see the checks package docstring):
a grader touches a learner's object only through `call(...)`, attribute reads and the helpers
`is_instance`, `signature_of`, `read_weights`, `load_weights`; it never writes into it; what it hands
*to* learner code travels to the learner's kernel, so it pickles, and an object that reports back
how it was used is a `Recorder`.

Two tests keep it so. A static one reads each lesson module (ast, no imports run) and follows the
learner's object from each checker's first parameter into the helpers it is passed to: `isinstance`,
`inspect.signature`, in-place methods (`copy_`, ...), attribute or item assignment, `setattr`/`delattr`
on it are refused, and so is a locally made function stored as an attribute of any object (a closure
cannot travel to another process). A dynamic one grades a right answer of every exercise with `call`
watched: every argument handed to learner code survives a pickle round trip, and an object of a class
the graders define is a Recorder. The static scan is also run on a checker written the old way, to show
that it fails there.
"""

import ast
import pickle
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils.course.checks import Recorder, registry

CHECKS = Path(__file__).resolve().parents[1] / "course_utils" / "course" / "checks"
LESSONS = [f"lesson{n:02d}.py" for n in range(1, 11)]
HELPERS = {"is_instance", "signature_of", "read_weights", "load_weights"}


# ----------------------------------------------------------------------------- the static scan
def _root(node):
    """The name an expression starts from: `a` in `a.b[0].c()`, `getattr(a, n).w`; None for others."""
    while True:
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" and node.args:
            node = node.args[0]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def _is_exercise(fn: ast.FunctionDef) -> bool:
    """A checker of a learner's object (a "predict the output" exercise gets a value, which is data)."""
    return any(isinstance(d, ast.Call) and getattr(d.func, "id", None) == "exercise" and d.args and
               isinstance(d.args[0], ast.Constant) and ".predict_" not in d.args[0].value for d in fn.decorator_list)


def _params(fn):
    return [a.arg for a in fn.args.posonlyargs + fn.args.args]


def _learner_names(functions: dict) -> dict:
    """{function name: names holding the learner's object (or an instance of the learner's class)}, from each
    checker's first parameter through assignments and into the helpers it is passed to, to a fixed point."""
    tainted = {name: set() for name in functions}
    classes = {name: set() for name in functions}
    for name, fn in functions.items():
        if _is_exercise(fn) and _params(fn):
            tainted[name].add(_params(fn)[0])
            if any(isinstance(n, ast.Call) and getattr(n.func, "id", None) == "expect_class"
                   for n in ast.walk(fn)):
                classes[name].add(_params(fn)[0])
    changed = True
    while changed:
        changed = False
        for name, fn in functions.items():
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    value, target = node.value, node.targets[0].id
                    learner = _root(value) in tainted[name] and not isinstance(value, ast.Call) or (
                        isinstance(value, ast.Call) and getattr(value.func, "id", None) == "getattr"
                        and _root(value) in tainted[name])
                    made = isinstance(value, ast.Call) and getattr(value.func, "id", None) == "call" and \
                        value.args and _root(value.args[0]) in classes[name]
                    if (learner or made) and target not in tainted[name]:
                        tainted[name].add(target)
                        changed = True
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
                    callee = node.func.id
                    for i, arg in enumerate(node.args):
                        params = _params(functions[callee])
                        if i < len(params) and isinstance(arg, ast.Name) and arg.id in tainted[name] and \
                                params[i] not in tainted[callee]:
                            tainted[callee].add(params[i])
                            if arg.id in classes[name]:
                                classes[callee].add(params[i])
                            changed = True
    return tainted


def contract_breaches(source: str, filename: str = "<source>") -> list[str]:
    """Where `source` (a lesson module) touches a learner's object other than through the contract."""
    tree = ast.parse(source, filename=filename)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    tainted = _learner_names(functions)
    found = []

    def say(node, what):
        found.append(f"{filename}:{node.lineno}: {what}")

    for name, fn in functions.items():
        local_defs = {n.name for n in ast.walk(fn) if isinstance(n, (ast.FunctionDef, ast.Lambda)) and n is not fn
                      and hasattr(n, "name")}
        learner = tainted[name]
        for node in ast.walk(fn):
            if isinstance(node, ast.Call):
                func = node.func
                fname = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                roots = {_root(a) for a in node.args}
                if fname == "isinstance" and node.args and _root(node.args[0]) in learner:
                    say(node, f"isinstance() on the learner's object in {name} (use is_instance)")
                if fname == "signature" and roots & learner:
                    say(node, f"inspect.signature() on the learner's object in {name} (use signature_of)")
                if fname in ("setattr", "delattr") and node.args and _root(node.args[0]) in learner:
                    say(node, f"{fname}() on the learner's object in {name}")
                if isinstance(func, ast.Attribute) and fname.endswith("_") and not fname.startswith("_") and \
                        _root(func.value) in learner:
                    say(node, f"in-place `{fname}` on the learner's object in {name} (use load_weights)")
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, (ast.AugAssign, ast.AnnAssign)) else node.targets if isinstance(node, ast.Delete) else []
            for target in targets:
                if isinstance(target, (ast.Attribute, ast.Subscript)) and _root(target) in learner:
                    say(node, f"writes into the learner's object in {name}")
                if isinstance(node, ast.Assign) and isinstance(target, ast.Attribute) and (
                        isinstance(node.value, ast.Lambda) or
                        isinstance(node.value, ast.Name) and node.value.id in local_defs):
                    say(node, f"stores a local function as an attribute in {name} (it cannot be pickled: use a "
                              "Recorder subclass)")
    return found


@pytest.mark.parametrize("lesson", LESSONS)
def test_graders_touch_learner_objects_only_through_the_contract(lesson):
    path = CHECKS / lesson
    assert contract_breaches(path.read_text(encoding="utf-8"), lesson) == []


OLD_STYLE = textwrap.dedent('''
    @exercise("05.multi_head_attention", "MultiHeadAttention")
    def _check_mha(cls):
        expect_class(cls, "MultiHeadAttention")
        params = list(inspect.signature(cls.forward).parameters.values())[1:]
        module = call(cls, 12, 3)
        if not isinstance(module, nn.Module):
            raise Fail("not a module")
        with torch.no_grad():
            for n, (weight, bias) in w.items():
                getattr(module, n).weight.copy_(weight)
        module.eval()
        _helper(module)

    def _helper(layer):
        layer.norm_first = True

    @exercise("06.nn_border", "masks at the border")
    def _check_nn_border(fn):
        seen = []

        def watched(*args, **kwargs):
            seen.append(kwargs)
        mha.forward = watched
        got = call(fn, mha)
''')


def test_the_scan_fails_on_a_checker_written_the_old_way():
    found = "\n".join(contract_breaches(OLD_STYLE))
    for what in ("inspect.signature()", "isinstance()", "in-place `copy_`", "writes into the learner's object in "
                 "_helper", "stores a local function"):
        assert what in found, f"{what!r} not found in:\n{found}"


def test_the_scan_accepts_the_contract_helpers():
    good = textwrap.dedent('''
        @exercise("05.multi_head_attention", "MultiHeadAttention")
        def _check_mha(cls):
            expect_class(cls, "MultiHeadAttention")
            params = signature_of(cls, "forward")
            module = call(cls, 12, 3)
            if not is_instance(module, nn.Module):
                raise Fail("not a module")
            load_weights(module, {"w_q.weight": w})
            own = nn.Linear(2, 2)
            own.weight.copy_(w)  # the check's own object
            got = call(module, x)
            if isinstance(got, torch.Tensor):  # what learner code returned is data
                pass
    ''')
    assert contract_breaches(good) == []


# ----------------------------------------------------------------------------- what is handed to learner code
DATA = (torch.Tensor, np.ndarray, int, float, bool, str, bytes, type(None), torch.dtype, torch.Generator)


def _is_data(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_data(v) for v in value)
    if isinstance(value, dict):
        return all(_is_data(k) and _is_data(v) for k, v in value.items())
    return isinstance(value, DATA)


def _right_answers():
    """One right answer per exercise of lessons 01-10, from the lessons' answer sets."""
    import test_checks_01_05
    import test_checks_06
    import test_checks_07
    import test_checks_08
    import test_checks_09
    import test_checks_10
    answers = {}
    for module in (test_checks_01_05, test_checks_06, test_checks_07, test_checks_08, test_checks_09, test_checks_10):
        answers.update({ex: right[0] for ex, right in module.RIGHT.items()})
    return answers


@pytest.mark.parametrize("ex_id", sorted(i for i in registry() if i[:2] <= "10"))
def test_objects_handed_to_learner_code_pickle_and_record_through_recorder(ex_id, monkeypatch):
    import importlib

    from course_utils.course.checks import check

    answer = _right_answers()[ex_id]
    module = importlib.import_module(registry()[ex_id].checker.__module__)
    handed = []
    real_call = module.call

    def watched_call(fn, *args, **kwargs):
        handed.extend(a for a in list(args) + [v for k, v in kwargs.items() if k not in ("what", "errors", "forbid")]
                      if not _is_data(a))
        return real_call(fn, *args, **kwargs)

    monkeypatch.setattr(module, "call", watched_call)
    monkeypatch.setenv("COURSE_NO_PROGRESS", "1")
    monkeypatch.delenv("COURSE_STRICT", raising=False)
    result = check(ex_id, answer)
    assert result.passed, repr(result)
    for obj in handed:
        kind = type(obj)
        if kind.__module__.startswith("course_utils.course.checks"):
            assert isinstance(obj, Recorder), f"{ex_id}: {kind.__name__} reports back but is not a Recorder"
            pickle.loads(pickle.dumps(obj.recorded()))
        copy = pickle.loads(pickle.dumps(obj))
        assert type(copy) is kind, f"{ex_id}: {kind.__name__} does not survive a pickle round trip"


# ----------------------------------------------------------------------------- translatable messages
MESSAGE_MODULES = LESSONS + ["signatures.py"]


def _parents(tree):
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def untranslatable_texts(source: str, filename: str = "<source>") -> list[str]:
    """Prose a learner may read that is not a `msg(...)`: an f-string or a literal of three words or more
    outside msg() (docstrings, regular expressions of `errors=[(regex, hint)]`, strings compared with `in`
    and exercise titles, which the catalogue takes from `@exercise` itself, excepted), a HINT_* constant
    that is not a msg(...), a msg whose template is not a literal or whose fields do not match its keywords."""
    import string

    tree = ast.parse(source, filename=filename)
    parents = _parents(tree)
    docstrings = {n.body[0].value for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body and
                  isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []

    def inside_msg(node):
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "msg":
                return True
        return False

    for node in ast.walk(tree):
        parent = parents.get(node)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id.startswith("HINT_")
                                                 for t in node.targets):
            if not (isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "msg"):
                found.append(f"{filename}:{node.lineno}: a HINT_ constant that is not msg(...)")
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "msg":
            if not (len(node.args) == 1 and isinstance(node.args[0], ast.Constant)):
                found.append(f"{filename}:{node.lineno}: msg() with a template that is not a literal")
            elif node.keywords:
                fields = {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(node.args[0].value)
                          if f is not None}
                if fields != {k.arg for k in node.keywords}:
                    found.append(f"{filename}:{node.lineno}: msg() fields {sorted(fields)} but keywords "
                                 f"{sorted(k.arg for k in node.keywords)}")
        regex = isinstance(parent, ast.Tuple) and parent.elts[0] is node  # errors=[(regex, hint)]
        title = isinstance(parent, ast.Call) and getattr(parent.func, "id", None) == "exercise"  # in the catalogue
        if isinstance(node, ast.JoinedStr) and not isinstance(parent, ast.JoinedStr) and not regex:
            words = sum(len(v.value.split()) for v in node.values if isinstance(v, ast.Constant))
            if words >= 3:
                found.append(f"{filename}:{node.lineno}: an f-string message (use msg with fields)")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value.split()) >= 3 and \
                node not in docstrings and not isinstance(parent, (ast.Compare, ast.JoinedStr)) and \
                not regex and not title and not inside_msg(node):
            found.append(f"{filename}:{node.lineno}: text outside msg(): {node.value[:50]!r}")
    return found


@pytest.mark.parametrize("module", MESSAGE_MODULES)
def test_every_message_and_hint_is_translatable(module):
    path = CHECKS / module
    assert untranslatable_texts(path.read_text(encoding="utf-8"), module) == []


def test_the_message_scan_fails_on_plain_strings():
    bad = textwrap.dedent('''
        HINT_X = "Divide the scores by the square root of d_k."

        def _check(fn):
            raise Fail(f"`out` has shape {got.shape}, expected more.", hint="Take the softmax over the keys.")
            msg("shape {shape}", other=1)
    ''')
    found = "\n".join(untranslatable_texts(bad))
    for what in ("HINT_ constant", "f-string", "text outside msg()", "fields ['shape']"):
        assert what in found, f"{what!r} not in:\n{found}"


def test_hints_come_back_as_messages(monkeypatch):
    """A grader's hint reaches the result as a Msg (its template kept for the Chinese edition), a hint worded
    from what was measured too."""
    from course_utils.base.i18n import Msg
    from course_utils.course.checks import check

    monkeypatch.setenv("COURSE_NO_PROGRESS", "1")

    def attention_by_d_v(q, k, v, mask=None):
        s = q @ k.transpose(-2, -1) / v.size(-1) ** 0.5
        w = (s if mask is None else s.masked_fill(~mask, float("-inf"))).softmax(-1)
        return w @ v, w

    for ex_id, answer in (("06.causal_mask", lambda T: torch.ones(T, T, dtype=torch.bool).triu(1)),
                          ("04.attention", attention_by_d_v),
                          ("10.length_penalty", lambda lp, n, a: lp / (5 + n) / 6 ** a)):
        result = check(ex_id, answer)
        assert result.status == "failed" and isinstance(result.hint, Msg), repr(result)
