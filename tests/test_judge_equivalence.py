"""The judge and the in-notebook `check` agree: every answer of every answer bank in tests/
(the RIGHT/WRONG answers of test_checks_*.py, the sources of test_checks_answer_bank.py) graded
by the judge, with the answer living in another process, gets the same status, message and
hint as `check` grading it in this process.

The other process is the kernel's helper over a pipe (judge/transports.PipeTransport, one per
test session): the same requests, replies and checks as over a Jupyter comm, without starting
a kernel. The answers are rebuilt there by importing their test module, or by running their
source, as the answer bank does.
"""

import importlib
import os
import sys
from pathlib import Path

import pytest

from course_utils.course.checks import get_exercise, registry
from course_utils.course.checks.framework import CheckResult, NotGraded, grade_answer
from course_utils.course.judge.remote import Channel, judge_exercise
from course_utils.course.judge.transports import start_pipe_helper

TESTS = Path(__file__).resolve().parent
ANSWER_MODULES = ("test_checks_01_05", "test_checks_06", "test_checks_07", "test_checks_08", "test_checks_09",
                  "test_checks_10")
# Graders that do not follow the contract of the checks package yet (they touch a learner object
# directly), so the judge cannot grade them as `check` does: exercise id -> the grader's line.
# The list may only shrink: an exercise listed here that the judge grades like `check` fails the test.
NOT_YET: dict[str, str] = {}


@pytest.fixture(scope="session")
def kernel():
    env = dict(os.environ, COURSE_NO_PROGRESS="1", COURSE_STRICT="0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    transport = start_pipe_helper(cwd=str(TESTS.parent), env=env)
    channel = Channel(transport)
    channel.request("exec", source=f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n")
    yield channel
    transport.stop()


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("COURSE_NO_PROGRESS", "1")
    monkeypatch.delenv("COURSE_STRICT", raising=False)


def _same(ex_id, here, there) -> str | None:
    """None when the two results agree, else what differs."""
    a = (here.status, str(here.message), str(here.hint) if here.hint is not None else None)
    b = (there.status, str(there.message), str(there.hint) if there.hint is not None else None)
    return None if a == b else f"{ex_id}:\n  check: {a}\n  judge: {b}"


def _judged(kernel, ex, expression) -> CheckResult:
    try:
        return judge_exercise(kernel, ex, expression)
    except NotGraded as err:
        return CheckResult(ex.id, ex.title, "not graded", str(err))


def _compare(kernel, cases) -> list[str]:
    """cases: (exercise id, expression in the kernel, the same answer here, namespace here)."""
    differ, not_yet, tried = [], set(), set()
    for ex_id, expression, answer, namespace in cases:
        if ex_id in NOT_YET and ex_id in tried:
            continue  # one answer shows whether the judge grades it like `check` yet
        tried.add(ex_id)
        ex = get_exercise(ex_id)
        here = grade_answer(ex, answer, {}, namespace)
        found = _same(ex_id, here, _judged(kernel, ex, expression))
        if found and ex_id in NOT_YET:
            not_yet.add(ex_id)
        elif found:
            differ.append(f"{expression}: {found}")
    return differ + [f"{ex_id} is graded like `check` now: remove it from NOT_YET"
                     for ex_id in {c[0] for c in cases} & set(NOT_YET) - not_yet]


@pytest.mark.parametrize("module_name", ANSWER_MODULES)
def test_answer_sets_get_the_same_verdict_from_the_judge(kernel, module_name):
    sys.path.insert(0, str(TESTS))
    module = importlib.import_module(module_name)
    kernel.request("exec", source=f"import {module_name} as _module\nglobals().update(vars(_module))\n")
    namespace = dict(vars(module))
    cases = []
    for kind, bank in (("RIGHT", module.RIGHT), ("WRONG", module.WRONG)):
        for ex_id, answers in bank.items():
            for i, answer in enumerate(answers):
                here = answer[0] if kind == "WRONG" else answer
                there = f"_module.{kind}[{ex_id!r}][{i}]" + ("[0]" if kind == "WRONG" else "")
                cases.append((ex_id, there, here, namespace))
    differ = _compare(kernel, cases)
    assert not differ, f"{len(differ)} of {len(cases)} answers differ:\n" + "\n".join(differ[:20])


def test_the_answer_bank_gets_the_same_verdict_from_the_judge(kernel):
    bank = importlib.import_module("test_checks_answer_bank")
    differ, count = [], 0
    for ex_id, label, _, _, src, obj in bank.ANSWERS:
        if ex_id in NOT_YET:  # (test_answer_sets_get_the_same_verdict_from_the_judge keeps the list true)
            continue
        count += 1
        source = bank.PRELUDE + bank._source(src)
        namespace = {"__name__": "__main__"}
        exec(source, namespace)  # noqa: S102  (as the answer bank runs its answers)
        kernel.request("reset_namespace")
        kernel.request("exec", source=source)
        found = _same(ex_id, grade_answer(get_exercise(ex_id), eval(obj, namespace), {}, namespace),  # noqa: S307
                      _judged(kernel, get_exercise(ex_id), obj))
        if found:
            differ.append(f"{label}: {found}")
    assert not differ, f"{len(differ)} of {count} answers differ:\n" + "\n".join(differ[:20])


def test_not_yet_lists_only_registered_exercises():
    assert set(NOT_YET) <= set(registry())
