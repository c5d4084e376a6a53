"""The judge (course_utils.course.judge): what crosses the channel (data only, every reply
checked), handles on objects in another process, `call` and the helpers over the channel,
deadlines, the launcher, the static scan, and a notebook planned once per run. The other
process is the kernel's helper over a pipe (the light transport; the Jupyter comm carries the
same requests in tests/test_cli.py and tests/test_judge_hostile.py)."""

import collections
import decimal
import fractions
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from course_utils.course import cli, grading
from course_utils.course.checks import (
    Fail,
    Recorder,
    call,
    compare,
    exercise,
    expect_callable,
    expect_class,
    framework,
    is_instance,
    load_weights,
    read_weights,
    signature_of,
    type_name,
)
from course_utils.course.checks.framework import NotGraded
from course_utils.course.judge import scan, wire
from course_utils.course.judge.remote import Channel, RemoteHandle, judge_exercise
from course_utils.course.judge.transports import start_pipe_helper

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def kernel():
    env = dict(os.environ, COURSE_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    transport = start_pipe_helper(cwd=str(TESTS.parent), env=env)
    channel = Channel(transport)
    channel.request("exec", source=f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n")
    yield channel
    transport.stop()


def remote(kernel, source: str, expression: str):
    """Run `source` in the kernel's namespace and return the value of `expression` there."""
    kernel.request("exec", source=source)
    found = kernel.request("evaluate", expression=expression)
    assert found[0] == "value", found
    return found[1]


# ----------------------------------------------------------------------------- the wire

def _round_trip(value):
    handles = []

    def handle_for(obj):
        handles.append(obj)
        return ["h", len(handles), {"type_name": type(obj).__name__, "classes": [], "callable": callable(obj),
                                    "is_class": isinstance(obj, type), "repr": "x", "repr_len": 1}]
    node, buffers = wire.encode(value, handle_for)
    import json
    node = json.loads(json.dumps(node))  # what a comm or a pipe carries
    return wire.decode(node, buffers, lambda i, meta: ("handle", i, meta["type_name"]))


class _Sub(torch.Tensor):
    def allclose(self, *a, **k):
        return True


def test_data_round_trips_exactly():
    values = [None, True, False, 0, -7, 2 ** 200, -(3 ** 300), 1.5, float("inf"), -0.0, 1e-310, 2 + 3j, "text",
              "猫\ud800", b"\x00\xff", fractions.Fraction(1, 3), decimal.Decimal("0.1"), Ellipsis, [1, [2, (3,)]],
              (1, "a"), {1, 2}, frozenset({3}), {"a": 1, (1, 2): [3]}, collections.OrderedDict(b=1, a=2),
              torch.float64, torch.Size([2, 3]), torch.device("cpu"), np.float64(0.5), np.int64(-3), np.bool_(True)]
    for value in values:
        back = _round_trip(value)
        assert back == value and type(back) is type(value), (value, back)
    assert math.isnan(_round_trip(float("nan")))
    assert type(_round_trip(collections.defaultdict(int, a=1))) is collections.defaultdict
    top = _round_trip(torch.tensor([3.0, 1.0]).max(0))
    assert type(top).__name__ == "max" and top.values == 3.0


def test_tensors_and_arrays_arrive_as_plain_copies():
    for t in (torch.randn(2, 3), torch.randn(2, 3).double().T, torch.tensor(5), torch.zeros(0, 4),
              torch.tensor([True, False]), torch.randn(3).bfloat16(), torch.randn(2, dtype=torch.complex64).conj(),
              torch.arange(6).reshape(2, 3)[:, 1:]):
        back = _round_trip(t)
        assert type(back) is torch.Tensor and back.dtype == t.dtype and back.shape == t.shape
        assert torch.equal(back, t.resolve_conj())
    sub = _round_trip(torch.ones(2).as_subclass(_Sub))
    assert type(sub) is torch.Tensor  # the subclass and its lying allclose stay behind
    for a in (np.arange(6.0).reshape(2, 3), np.array([True, False]), np.zeros((0, 2), np.int32)):
        back = _round_trip(a)
        assert back.dtype == a.dtype and np.array_equal(back, a)


def test_other_objects_become_handles_and_depth_is_bounded():
    assert _round_trip(nn.Linear(2, 2))[0] == "handle"
    assert _round_trip(np.array(["a"]))[0] == "handle"  # not a numeric array
    deep = value = []
    for _ in range(100):
        value.append([])
        value = value[0]
    back, depth = _round_trip(deep), 0
    while isinstance(back, list):
        back, depth = back[0], depth + 1
    assert back[0] == "handle" and depth == wire.LIMITS.max_depth


@pytest.mark.parametrize("node, buffers", [
    (["?"], []), ("N", []), (["i", "12x"], []), (["i", "f" * 200_000], []), (["f", "1.5"], []), (["s", 5], []),
    (["T", "float32", [2], 0, False, None], [b"\x00" * 4]),  # 2 floats need 8 bytes
    (["T", "float32", [-1], 0, False, None], [b""]), (["T", "int128", [1], 0, False, None], [b"\x00" * 16]),
    (["T", "bool", [2], 0, False, None], [b"\x01\x02"]),  # a bool that is neither 0 nor 1
    (["A", "<f8", [2], 0], [b"\x00" * 8]), (["A", "|O", [1], 0], [b"\x00" * 8]), (["y", 3], [b"x"]),
    (["d", [[["l", []], ["N"]]], None], []),  # an unhashable key
    (["F", "1", "0"], []), (["D", "not a number"], []), (["h", "1", {}], []), (["h", 1, {"type_name": 5}], []),
    (["l", [["l", [["l", [["l", [["l", [["N"]]]]]]]]]]], []),  # deeper than the limit (2 here)
])
def test_malformed_replies_are_refused(node, buffers):
    deep = ["N"]
    for _ in range(60):
        deep = ["l", [deep]]
    for bad in (node, deep):
        with pytest.raises(wire.WireError):
            wire.decode(bad, buffers, lambda i, meta: None, wire.Limits(max_depth=2) if bad is node and
                        node[0] == "l" else wire.LIMITS)


def test_frames_refuse_a_stream_out_of_step():
    frame = wire.pack_frame({"seq": 1}, [b"abc"])
    data = iter([frame])
    stream = b"".join(data)
    pos = [0]

    def read(n):
        chunk = stream[pos[0]:pos[0] + n]
        pos[0] += n
        return chunk
    assert wire.read_frame(read) == ({"seq": 1}, [b"abc"])
    with pytest.raises(wire.WireError):
        wire.read_frame(lambda n: b"XXXX"[:n])


# ----------------------------------------------------------------------------- grading over the channel

@pytest.fixture
def toy():
    added = []

    def register(ex_id, checker, **kw):
        exercise(ex_id, f"toy {ex_id}", **kw)(checker)
        added.append(ex_id)
    yield register
    for ex_id in added:
        framework._REGISTRY.pop(ex_id, None)


def _double(fn):
    expect_callable(fn, "double")
    x = torch.arange(6.0).reshape(2, 3)
    compare("y", call(fn, x, forbid=("softmax",)), 2 * x, mistakes=[(x + 2, "You added 2.")])


ANSWERS = '''
import torch
def right(x): return 2 * x
def plus_two(x): return x + 2
def stub(x): raise NotImplementedError
def loops(x):
    while True:
        pass
def mutates(x):
    x.mul_(2)
    return x
def softmaxes(x): return 2 * torch.softmax(x, -1)
def raises(x):
    return x.reshape(5)
def swallows_alarm(x):
    import signal
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    return 2 * x
'''


def test_verdicts_over_the_channel_are_those_of_check(kernel, toy):
    toy("97.double", _double, time_limit=0.5)
    kernel.request("exec", source=ANSWERS)
    ex = framework.get_exercise("97.double")
    results = {name: judge_exercise(kernel, ex, name) for name in
               ("right", "plus_two", "stub", "loops", "mutates", "softmaxes", "raises", "nothing")}
    assert results["right"].status == "passed"
    assert results["plus_two"].hint == "You added 2."
    assert results["stub"].status == "pending"
    assert "time limit of 0.5 s" in results["loops"].message
    assert "changed its input `x` in place" in results["mutates"].message
    assert "calls `torch.softmax`" in results["softmaxes"].message
    assert "`raises` raised RuntimeError: shape '[5]' is invalid" in results["raises"].message
    assert results["nothing"].status == "missing" and "NameError" in results["nothing"].message
    space = {}
    exec(ANSWERS, space)  # noqa: S102
    for name in ("right", "plus_two", "stub", "loops", "mutates", "softmaxes", "raises"):
        here = framework.grade_answer(ex, space[name])
        assert (here.status, here.message, here.hint) == (results[name].status, results[name].message,
                                                          results[name].hint), name


def test_a_kernel_that_stops_answering_is_not_graded_and_stopped(toy):
    toy("97.double", _double, time_limit=0.5)
    transport = start_pipe_helper(cwd=str(TESTS.parent), env=dict(os.environ))
    channel = Channel(transport)
    channel.request("exec", source=ANSWERS)
    ex = framework.get_exercise("97.double")
    assert judge_exercise(channel, ex, "swallows_alarm").status == "passed"  # the alarm was put back after it
    channel.request("exec", source="import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])")
    start = time.monotonic()
    with pytest.raises(NotGraded, match="did not answer within"):
        channel.request("exec", 1.0, source="import time\ntime.sleep(60)")
    assert time.monotonic() - start < 10 and transport.process.poll() is not None  # stopped
    with pytest.raises(NotGraded):
        judge_exercise(channel, ex, "right")  # the channel stays broken


class FakeTransport:
    def __init__(self, replies):
        self.replies = list(replies)

    def exchange(self, header, buffers, timeout):
        reply = self.replies.pop(0)
        return (dict(reply, seq=header["seq"]) if isinstance(reply, dict) and "seq" not in reply else reply), []


@pytest.mark.parametrize("reply", [
    {"ok": ["s", "passed"]},  # not a value of the form evaluate answers
    {"seq": 99, "ok": ["N"]},  # out of step
    {"error": "anything"}, {"ok": ["T", "float32", [1], 0, False, None]},  # a buffer that is not there
    "not a dict",
])
def test_impossible_replies_are_not_graded(toy, reply):
    toy("97.double", _double)
    channel = Channel(FakeTransport([{"ok": ["N"]}, reply, {"ok": ["N"]}]))
    with pytest.raises(NotGraded):
        judge_exercise(channel, framework.get_exercise("97.double"), "x")


def test_impossible_facts_of_a_call_are_not_graded(kernel, toy):
    toy("97.double", _double)
    handle = remote(kernel, ANSWERS, "right")
    bad_facts = {"kind": "ok", "out": None, "used": [], "dot_t": False, "after": {}, "recorded": {}}  # no state
    node, _ = wire.encode(bad_facts, lambda obj: None)
    channel = Channel(FakeTransport([{"ok": node}]))
    object.__setattr__(handle, "_r_channel", channel)
    with pytest.raises(NotGraded, match="impossible account"):
        call(handle, torch.ones(2))


# ----------------------------------------------------------------------------- handles and helpers

MODULES = '''
import importlib, torch
from torch import nn
from course_utils.course import capstone
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 3)
    def forward(self, x, scale=1.0):
        return self.lin(x) * scale
net = Net()
parts = capstone.Parts(winners={}, rows=[])
importlib.reload(capstone)   # the class object changes; its name does not
'''


def test_handles_answer_the_helpers(kernel):
    net = remote(kernel, MODULES, "net")
    assert isinstance(net, RemoteHandle) and type_name(net) == type(net).__name__ == "Net"
    assert is_instance(net, nn.Module) and not is_instance(net, nn.Linear) and is_instance(net, (int, nn.Module))
    from course_utils.course.capstone import Parts
    assert is_instance(remote(kernel, "", "parts"), Parts)  # by qualified names: a reloaded class still counts
    assert signature_of(net, "forward") == ["x", "scale"]
    expect_callable(net, "net")
    with pytest.raises(Fail, match="class `Net` itself"):
        expect_class(net, "Net")
    expect_class(remote(kernel, "", "Net"), "Net")
    weights = read_weights(net)
    assert set(weights) == {"lin.weight", "lin.bias"} and weights["lin.weight"].shape == (3, 2)
    load_weights(net, {"lin.weight": torch.ones(3, 2), "lin.bias": torch.zeros(3)})
    assert torch.equal(call(net, torch.ones(1, 2)), torch.full((1, 3), 2.0))
    with pytest.raises(Fail, match="no parameter named 'w_q'"):
        load_weights(net, {"w_q": torch.ones(1)})
    with pytest.raises(Fail, match="has shape \\(3, 2\\), expected \\(2, 2\\)"):
        load_weights(net, {"lin.weight": torch.ones(2, 2)})
    assert net.lin.weight.shape == (3, 2) and net.training is True
    assert net.eval() is not None and net.training is False  # a method runs in the kernel
    with pytest.raises(AttributeError):
        _ = net.nothing_here
    with pytest.raises(AttributeError, match="does not write"):
        net.lin = None
    items = remote(kernel, "class Box:\n    def __init__(self): self.v = [1, 2]\n"
                           "    def __len__(self): return 2\n    def __getitem__(self, i): return self.v[i]\n"
                           "box = Box()", "box")
    assert len(items) == 2 and items[1] == 2 and list(items) == [1, 2] and bool(items)


class Watcher(Recorder):
    """Handed to learner code: notes what it was fed."""

    RECORDED = ("fed",)

    def __init__(self):
        self.fed = []

    def __call__(self, x):
        self.fed.append(x.clone())
        return x + 1


def test_a_recorder_comes_back_with_what_it_recorded(kernel):
    fn = remote(kernel, "def uses(model, x):\n    return model(model(x))", "uses")
    watcher = Watcher()
    assert torch.equal(call(fn, watcher, torch.zeros(2)), torch.full((2,), 2.0))
    assert [t.tolist() for t in watcher.fed] == [[0.0, 0.0], [1.0, 1.0]]


def test_gradients_flow_back_through_the_kernel(kernel):
    fn = remote(kernel, "import torch\ndef loss(x):\n    return (x ** 3).sum()\n"
                        "def cut(x):\n    return torch.tensor(float(x.sum()), requires_grad=True)", "loss")
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    got = call(fn, x)
    (grad,) = torch.autograd.grad(got, x)
    assert torch.allclose(grad, 3 * x.detach() ** 2)
    cut = call(remote(kernel, "", "cut"), x)
    assert cut.requires_grad and torch.autograd.grad(cut, x, allow_unused=True)[0] is None


def test_the_judge_state_travels_with_a_call(kernel):
    fn = remote(kernel, "import torch\ndef state(x):\n    return torch.is_grad_enabled(), torch.rand(1)", "state")
    torch.manual_seed(3)
    with torch.no_grad():
        grad, drawn = call(fn, torch.ones(1))
    torch.manual_seed(3)
    assert grad is False and torch.equal(drawn, torch.rand(1))


# ----------------------------------------------------------------------------- the launcher, the scan, the plan

def test_the_launcher_runs_its_child_and_survives_being_stopped(tmp_path):
    from course_utils.course.judge.session import LAUNCHER
    child = "import os, signal, time\nos.kill(os.getppid(), signal.SIGSTOP)\ntime.sleep(0.2)\nprint('done')"
    process = subprocess.Popen([sys.executable, "-I", LAUNCHER, sys.executable, "-c", child],
                               stdout=subprocess.PIPE, start_new_session=True)
    time.sleep(2)
    assert process.poll() is None  # the launcher is stopped, its child finished its work
    os.killpg(process.pid, signal.SIGKILL)
    assert process.stdout.read() == b"done\n"
    done = subprocess.run([sys.executable, "-I", LAUNCHER, sys.executable, "-c", "raise SystemExit(3)"])
    assert done.returncode == 3


def _gone(pid: int) -> bool:
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()  # a zombie has ended
    except OSError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux's")
def test_the_launcher_and_the_kernel_die_with_the_judge():
    from course_utils.course.judge.session import LAUNCHER
    judge = (f"import subprocess, sys, time\n"
             f"p = subprocess.Popen([sys.executable, '-I', {LAUNCHER!r}, sys.executable, '-c', "
             f"'import time; time.sleep(60)'])\nprint(p.pid, flush=True)\ntime.sleep(60)")
    process = subprocess.Popen([sys.executable, "-c", judge], stdout=subprocess.PIPE, start_new_session=True)
    launcher = int(process.stdout.readline())
    deadline = time.monotonic() + 10
    while not Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split() and time.monotonic() < deadline:
        time.sleep(0.1)
    kernel = int(Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()[0])
    process.kill()  # the judge killed by an outer time limit
    process.wait()
    while not (_gone(launcher) and _gone(kernel)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(launcher) and _gone(kernel)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's processes are looked up in /proc")
def test_a_kernel_is_ended_at_once_when_grading_is_done(tmp_path):
    from course_utils.course.judge.session import KernelSession
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, COURSE_NO_PROGRESS="1", COURSE_STRICT="0", **{grading.JUDGED: "1"})
    with open(tmp_path / "kernel.log", "wb") as log, KernelSession(tmp_path, work, env, log) as kernel:
        # a notebook that stopped the kernel's parent: asked to shut down, the kernel would seem to live on
        ran = kernel.run_cell("import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)", 60)
        processes = [kernel.group, *kernel.kernel_pids]
        assert ran.status == "ok" and len(processes) == 2 and not any(_gone(pid) for pid in processes)
        start = time.monotonic()
    # not asked to shut down and waited for (a second and more; here the whole wait): killed at once
    closed = time.monotonic() - start
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in processes) and time.monotonic() < deadline:
        time.sleep(0.1)  # a killed process ends as soon as the machine runs it
    assert closed < 2.0 and all(_gone(pid) for pid in processes), f"{closed:.2f} s"


def test_the_scan_notes_the_course_reference_where_the_learner_used_it():
    import nbformat
    nb, fresh = nbformat.v4.new_notebook(), nbformat.v4.new_notebook()
    given = nbformat.v4.new_code_cell("from course_utils.transformer import attention as ref\nimport torch", id="imp")
    fresh.cells = [given]
    nb.cells = [given, nbformat.v4.new_code_cell("def attention(q, k, v, mask=None):\n    return ref(q, k, v, mask)"),
                nbformat.v4.new_code_cell("import course_utils.transformer as ct\nsplit_heads = ct.split_heads"),
                nbformat.v4.new_code_cell("x = open('../solutions/04_self_attention.ipynb').read()")]
    notes = scan.flags(nb, fresh, "attention")
    assert any("cell 2 uses `course_utils.transformer.attention`" in n for n in notes)
    assert any("names the solutions" in n for n in notes) and not any("split_heads" in n for n in notes)
    assert any("split_heads" in n for n in scan.flags(nb, fresh, "split_heads"))
    assert scan.flags(fresh, fresh, "attention") == []  # the notebook as given uses it itself: no note


def test_a_notebook_is_planned_once_per_run(monkeypatch, capsys):
    path = TESTS.parent / "exercises" / "04_self_attention.ipynb"
    built = []
    real = grading.fresh_exercise
    monkeypatch.setattr(grading, "fresh_exercise", lambda *a: built.append(a) or real(*a))
    monkeypatch.setattr(grading, "KernelSession", None)  # no kernel: planning only

    def grade(p, timeout, nb):
        grading.plan(p, nb)
        return grading.GradeReport(rows=[(i, "pending", "") for i in grading.plan(p, nb).expected])
    monkeypatch.setattr(grading, "grade", grade)
    assert cli.main(["check", str(path), "--no-record"]) == 0
    assert len(built) == 1 and "0 of 4 passed" in capsys.readouterr().out


def test_a_fraction_or_a_decimal_prediction_is_judged_by_its_value(kernel):
    kernel.request("exec", source="from fractions import Fraction\nfrom decimal import Decimal\n"
                                  "as_fraction, as_decimal = Fraction(1, 1024), Decimal('0.0009765625')")
    for expression in ("as_fraction", "as_decimal"):
        result = judge_exercise(kernel, framework.get_exercise("02.predict_gradient"), expression)
        assert result.status == "passed", result


# ------------------------------------------------------- pending, the learner's line, the scan, the parts

def test_only_a_stubs_own_not_implemented_error_means_pending(tmp_path):
    answers = tmp_path / "answers_pending.py"
    answers.write_text("import torch\n"
                       "def stub(x):\n    raise NotImplementedError('Exercise 04.attention: your code here')\n"
                       "def calls_a_stub(x):\n    return stub(x)\n"
                       "def torch_says_not_implemented(x):\n    return torch.nn.Module()(x)\n", encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        import answers_pending as a
    finally:
        sys.path.remove(str(tmp_path))
    x = torch.ones(2)
    assert framework.run_learner(a.stub, (x,), {})["kind"] == "not_implemented"
    assert framework.run_learner(a.calls_a_stub, (x,), {})["kind"] == "not_implemented"
    facts = framework.run_learner(a.torch_says_not_implemented, (x,), {})
    assert facts["kind"] == "error" and facts["type"] == "NotImplementedError", facts
    assert facts["line"] == "return torch.nn.Module()(x)", facts  # the learner's line, not torch's
    with pytest.raises(Fail, match="raised NotImplementedError at the line `return torch.nn.Module"):
        call(a.torch_says_not_implemented, x)


def test_the_learners_line_is_never_a_line_of_the_course_package(tmp_path):
    answers = tmp_path / "answers_line.py"
    answers.write_text("import torch\nfrom course_utils.transformer.attention import attention\n"
                       "def mine(q):\n    return attention(q, q[:, :2], q)\n", encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        import answers_line as a
    finally:
        sys.path.remove(str(tmp_path))
    facts = framework.run_learner(a.mine, (torch.ones(3, 4),), {})
    assert facts["kind"] == "error" and facts["line"] == "return attention(q, q[:, :2], q)", facts


def test_the_scan_does_not_note_the_given_code_of_another_exercise():
    import nbformat
    nb = nbformat.read(str(TESTS.parent / "exercises" / "06_masks.ipynb"), as_version=4)
    fresh = nbformat.read(str(TESTS.parent / "exercises" / "06_masks.ipynb"), as_version=4)
    border = next(c for c in nb.cells if c.cell_type == "code" and
                  c.get("metadata", {}).get("course", {}).get("exercise") == "06.nn_border"
                  and "check(" not in c.source)
    border.source = border.source.replace("T = x.size(1)", "T = x.shape[1]  # mine")  # the learner edits the cell
    assert scan.flags(nb, fresh, "causal_mask") == []  # its given line uses masks.causal_mask: not the learner's
    border.source += "\nmine = masks.causal_mask(4)\n"
    number = nb.cells.index(border) + 1
    assert scan.flags(nb, fresh, "causal_mask") == [
        f"cell {number} uses `course_utils.transformer.masks.causal_mask`, the course's own `causal_mask`"]
    assert scan.flags(nb, fresh, {"attention", "causal_mask"}) == scan.flags(nb, fresh, "causal_mask")


_FAKE_PARTS = '''
from course_utils.course.capstone import PARTS, Parts, _course_part
def _wrong_attention(q, k, v, mask=None):
    w = (q @ k.transpose(-2, -1)).softmax(-1)
    return w @ v, w
winners = {}
for name in PARTS:
    winners[name] = _course_part(name, winners)
winners["attention"] = _wrong_attention
rows = [{"part": n, "exercise": e, "used": "yours", "where": "here", "status": "passed", "why": "passes " + e}
        for n, e in PARTS.items()]
faked = Parts(winners, rows)
short = Parts(winners, rows[1:2])
'''


def test_a_faked_table_of_capstone_parts_is_graded_again_by_the_judge(kernel):
    kernel.request("exec", source=_FAKE_PARTS)
    result = judge_exercise(kernel, framework.get_exercise("11.parts"), "faked")
    assert result.status == "failed", result
    assert "attention (fails 04.attention" in str(result.message), result.message  # graded again: it fails
    assert "sinusoidal_encoding (the course's version" in str(result.message) or \
        "course's version stands in" in str(result.message), result.message
    result = judge_exercise(kernel, framework.get_exercise("11.parts"), "short")  # a table with parts left out
    assert result.status == "failed" and "not made by gather_parts" in str(result.message), result


def test_the_scan_notes_the_shipped_model_on_the_training_exercise_only():
    import nbformat
    nb, fresh = nbformat.v4.new_notebook(), nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from course_utils.run.reference import load_reference\n"
                                          "model = load_reference()[0]"),
                nbformat.v4.new_code_cell("state = torch.load('../course_utils/checkpoints/reference.pt')")]
    training = grading._scanned_names("11.train")
    notes = scan.flags(nb, fresh, training)
    assert any("cell 1 uses `course_utils.run.reference.load_reference`" in n for n in notes), notes
    assert any("cell 2 names the course's trained model" in n for n in notes), notes
    assert scan.flags(nb, fresh, grading._scanned_names("10.greedy_decode")) == []


def test_a_notebook_is_graded_as_the_exercise_its_name_says_but_a_lesson_is_not(tmp_path):
    import nbformat
    lesson = TESTS.parent / "notebooks" / "04_self_attention.ipynb"
    assert grading.plan(lesson, nbformat.read(str(lesson), as_version=4)).expected == []  # no check cells
    copy = tmp_path / "04_self_attention.ipynb"
    copy.write_bytes(lesson.read_bytes())  # the same file, named like the exercise notebook, elsewhere
    found = grading.plan(copy, nbformat.read(str(copy), as_version=4))
    assert found.expected == ["04.attention", "04.fix_attention", "04.predict_score_std", "04.self_attention"]
    assert any("graded as the course's 04_self_attention.ipynb" in str(n) for n in found.notes), found.notes
