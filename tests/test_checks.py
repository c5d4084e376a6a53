"""The check framework (course_utils.course.checks): statuses, diagnostics, time limit, strict mode,
recording. Lesson checkers are tested in test_checks_01_05.py / test_checks_06_10.py."""

import json
import threading
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import torch

from course_utils.course import checks
from course_utils.course.checks import (
    MIME_TYPE,
    CheckResult,
    Fail,
    call,
    check,
    compare,
    compare_prediction,
    exercise,
    expect_tuple,
    registry,
)


@pytest.fixture
def toy(monkeypatch):
    """Register throw-away exercises '99.*' for one test, and remove them afterwards."""
    monkeypatch.delenv("COURSE_STRICT", raising=False)
    added = []

    def register(ex_id, checker, time_limit=checks.DEFAULT_TIME_LIMIT):
        exercise(ex_id, f"toy {ex_id}", time_limit=time_limit)(checker)
        added.append(ex_id)

    yield register
    for ex_id in added:
        checks.framework._REGISTRY.pop(ex_id, None)


def _double_checker(fn):
    x = torch.arange(6.0).reshape(2, 3)
    got = call(fn, x)
    compare("y", got, 2 * x, axes=("B", "n"), mistakes=[(x + 2, "You added 2; double instead.")])


def test_passed_failed_pending(toy):
    toy("99.double", _double_checker)
    assert check("99.double", lambda x: x * 2).status == "passed"
    assert check("99.double", lambda x: x + x).passed
    failed = check("99.double", lambda x: x * 3)
    assert failed.status == "failed" and "differs from the reference" in failed.message
    assert "max difference" in failed.message and "match" in failed.message

    def stub(x):
        raise NotImplementedError("Exercise 99.double: your code here")

    assert check("99.double", stub).status == "pending"
    assert check("99.double", ...).status == "pending"


def test_known_mistake_gives_its_hint(toy):
    toy("99.double", _double_checker)
    r = check("99.double", lambda x: x + 2)
    assert r.status == "failed" and r.hint == "You added 2; double instead."


def test_diagnostics_name_the_problem(toy):
    toy("99.double", _double_checker)
    assert "torch.Tensor" in check("99.double", lambda x: "hello").message
    assert "forget `return`" in check("99.double", lambda x: None).message
    assert "NumPy" in check("99.double", lambda x: (2 * x).numpy()).message
    shape = check("99.double", lambda x: (2 * x).T).message
    assert "shape (3, 2)" in shape and "B is 3, should be 2" in shape and "swapped" in shape
    assert "3 axes instead of 2" in check("99.double", lambda x: (2 * x)[None]).message
    assert check("99.double", lambda x: (2 * x).double()).passed  # float64 is accepted when right
    assert "too imprecise" in check("99.double", lambda x: (2 * x).half()).message
    assert "(int)" in check("99.double", lambda x: (2 * x).long()).message
    nan = check("99.double", lambda x: torch.full_like(x, float("nan")))
    assert "NaN" in nan.message and nan.hint


def test_learner_exceptions_and_garbage_never_raise(toy):
    toy("99.double", _double_checker)

    def broken(x):
        y = x @ x  # (2, 3) @ (2, 3): a shape error
        return y

    r = check("99.double", broken)
    assert r.status == "failed" and "RuntimeError" in r.message and "y = x @ x" in r.message
    assert check("99.double", 42).status == "failed"
    assert check("99.double", lambda: 1).status == "failed"  # wrong signature -> TypeError, reported


def test_in_place_mutation_is_reported(toy):
    toy("99.double", _double_checker)

    def sneaky(x):
        x *= 2
        return x

    r = check("99.double", sneaky)
    assert r.status == "failed" and "changed its input `x` in place" in r.message


def test_time_limit_stops_an_endless_loop(toy):
    toy("99.slow", _double_checker, time_limit=0.3)

    def forever(x):
        while True:
            pass

    r = check("99.slow", forever)
    assert r.status == "failed" and "time limit" in r.message


def test_time_limit_off_the_main_thread(toy):
    toy("99.slow", _double_checker, time_limit=0.3)
    stop = threading.Event()

    def slow(x):
        stop.wait(5)
        return 2 * x

    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", check("99.slow", slow)))
    t.start()
    t.join(10)
    stop.set()
    assert box["r"].status == "failed" and "background" in box["r"].message


def test_checker_crash_is_a_failure_not_an_exception(toy):
    def buggy_checker(fn):
        raise KeyError("oops")

    toy("99.crash", buggy_checker)
    r = check("99.crash", lambda x: x)
    assert r.status == "failed" and "could not handle" in r.message


def test_unknown_id():
    r = check("99.nope", lambda x: x)
    assert r.status == "failed" and "no exercise" in r.message


def test_strict_mode_raises_unless_passed(toy, monkeypatch):
    toy("99.double", _double_checker)
    monkeypatch.setenv("COURSE_STRICT", "1")
    assert check("99.double", lambda x: 2 * x).passed
    with pytest.raises(AssertionError, match="99.double failed"):
        check("99.double", lambda x: 3 * x)
    with pytest.raises(AssertionError, match="pending"):
        check("99.double", ...)
    monkeypatch.setenv("COURSE_STRICT", "0")
    assert check("99.double", ...).status == "pending"


def test_display_is_deterministic_and_carries_json(toy):
    toy("99.double", _double_checker)
    a, b = check("99.double", lambda x: x + 2), check("99.double", lambda x: x + 2)
    assert repr(a) == repr(b) and a._repr_html_() == b._repr_html_()
    assert repr(a).startswith("✘ 99.double failed: toy 99.double") and "Hint: You added 2" in repr(a)
    bundle = a._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", MIME_TYPE}
    assert json.loads(json.dumps(bundle[MIME_TYPE]))["status"] == "failed"
    html = CheckResult("99.x", "<b>t</b>", "passed", "ok")._repr_html_()
    assert "&lt;b&gt;" in html  # escaped


def test_results_are_recorded_unless_disabled(toy, monkeypatch, tmp_path):
    toy("99.double", _double_checker)
    path = tmp_path / "p.json"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(path))
    for folder in ("course_utils", "notebooks", "exercises"):  # only the course's own exercise notebook records
        (tmp_path / folder).mkdir()
    exercise = tmp_path / "exercises" / "99_toy.ipynb"
    exercise.write_text(json.dumps({"cells": [], "metadata": {"course": {"generated_from": "solutions/99_toy.ipynb"}},
                                    "nbformat": 4, "nbformat_minor": 5}))
    monkeypatch.setenv("JPY_SESSION_NAME", str(exercise))  # the kernel JupyterLab started for it
    monkeypatch.setenv("COURSE_NO_PROGRESS", "1")
    check("99.double", lambda x: 2 * x)
    assert not path.exists()
    monkeypatch.setenv("COURSE_NO_PROGRESS", "0")
    check("99.double", lambda x: 3 * x)
    check("99.double", lambda x: 2 * x)
    entry = json.loads(path.read_text())["exercises"]["99.double"]
    assert entry["status"] == "passed" and entry["attempts"] == 2


def test_global_rng_untouched_by_a_check():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    check("04.attention", lambda q, k, v, mask=None: (q, q))
    assert torch.equal(torch.rand(3), expected)


def test_helpers_directly():
    with pytest.raises(Fail, match="tuple of 2"):
        expect_tuple(torch.zeros(2), 2, ("out", "weights"))
    compare_prediction("p", np.float32(8.0), 8.0)
    with pytest.raises(Fail) as e:
        compare_prediction("p", 64, 8.0, mistakes=[(64.0, "variance!")])
    assert e.value.hint == "variance!"
    with pytest.raises(Fail, match="should be a number"):
        compare_prediction("p", "8", 8.0)
    compare("m", torch.tensor([True, False]), torch.tensor([True, False]))
    with pytest.raises(Fail, match="1 of 2 values"):
        compare("m", torch.tensor([True, True]), torch.tensor([True, False]))


def test_registry_has_every_lesson_01_05_exercise_with_three_or_more_per_lesson():
    ids = registry()
    for lesson in ("01", "02", "03", "04", "05"):
        assert sum(i.startswith(lesson + ".") for i in ids) >= 3, lesson


def test_an_outer_alarm_timer_survives_a_check(toy):
    import signal

    toy("99.double", _double_checker)
    old = signal.signal(signal.SIGALRM, lambda *a: None)
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        assert check("99.double", lambda x: 2 * x).passed
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90 < remaining <= 100
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_a_broken_lesson_module_does_not_break_check(monkeypatch, tmp_path):
    from course_utils.course.checks import framework

    (tmp_path / "lesson98.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "helpers.py").write_text("raise RuntimeError('not a lesson module: never imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path.parent))
    (tmp_path / "__init__.py").write_text("")
    monkeypatch.setattr(framework, "_LESSON_PACKAGES", framework._LESSON_PACKAGES + [(tmp_path.name, [str(tmp_path)])])
    monkeypatch.setattr(framework, "_LOAD_ERRORS", {})
    assert check("04.predict_score_std", 8).passed
    assert checks.load_errors() == {f"{tmp_path.name}.lesson98": "RuntimeError: boom"}
    r = check("99.anything", 1)
    assert r.status == "failed" and f"Could not load {tmp_path.name}.lesson98" in r.message


def test_progress_does_not_import_the_graders():
    import ast
    import inspect as ins

    from course_utils.course import progress

    tree = ast.parse(ins.getsource(progress))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m and "checks" in m]


def test_device_mismatch_is_named():
    with pytest.raises(Fail, match="on device meta"):
        compare("x", torch.zeros(2, device="meta"), torch.zeros(2))


# ----------------------------------------------------------------------------- framework guarantees

@pytest.mark.parametrize("exc", [SystemExit(2), KeyboardInterrupt(), GeneratorExit(), StopIteration(),
                                 ValueError("bad"), RecursionError()])
def test_any_base_exception_from_learner_code_is_a_failure(toy, exc):
    toy("99.double", _double_checker)

    def raising(x):
        raise exc

    r = check("99.double", raising)
    assert r.status == "failed" and type(exc).__name__ in r.message


def test_strict_mode_raises_assertion_for_a_base_exception(toy, monkeypatch):
    toy("99.double", _double_checker)
    monkeypatch.setenv("COURSE_STRICT", "1")

    def exits(x):
        raise SystemExit(0)

    with pytest.raises(AssertionError, match="SystemExit"):
        check("99.double", exits)


def test_a_check_leaves_no_trace(toy):
    import random
    import signal

    def messy(x):  # learner code that changes every global it can
        torch.manual_seed(123)
        torch.rand(5)
        random.seed(1)
        np.random.seed(1)
        torch.set_grad_enabled(False)
        torch.set_default_dtype(torch.float64)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return 2 * x

    toy("99.double", _double_checker)
    torch.manual_seed(5), random.seed(5), np.random.seed(5)
    want = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(5), random.seed(5), np.random.seed(5)
    handler = signal.getsignal(signal.SIGINT)
    r = check("99.double", messy)
    assert r.passed, repr(r)
    assert torch.equal(torch.rand(3), want[0]) and random.random() == want[1] and np.random.rand() == want[2]
    assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32
    assert signal.getsignal(signal.SIGINT) is handler


def test_lists_and_dicts_changed_in_place_are_reported(toy):
    def checker(fn):
        call(fn, [["a", "b"], ["c"]], {"k": torch.zeros(2)})

    toy("99.mutate", checker)
    assert check("99.mutate", lambda s, d: None).passed
    assert "changed its input `s`" in check("99.mutate", lambda s, d: s[0].append("x")).message
    assert "changed its input `d`" in check("99.mutate", lambda s, d: d["k"].add_(1)).message
    assert "changed its input `d`" in check("99.mutate", lambda s, d: d.pop("k")).message


def _softmax_checker(fn):
    x = torch.tensor([[1.0, 2.0, 3.0]])
    compare("p", call(fn, x, forbid=("softmax",)), x.softmax(-1))


@pytest.mark.parametrize("answer", [
    lambda x: torch.softmax(x, -1), lambda x: x.softmax(-1), lambda x: torch.nn.functional.softmax(x, dim=-1),
    lambda x: torch.nn.Softmax(dim=-1)(x), lambda x: torch.special.softmax(x, -1)])
def test_a_forbidden_built_in_fails_clearly(toy, answer):
    toy("99.softmax", _softmax_checker)
    r = check("99.softmax", answer)
    assert r.status == "failed" and "write it yourself" in r.message, repr(r)
    # everything is restored afterwards
    assert torch.allclose(torch.softmax(torch.zeros(2), -1), torch.full((2,), 0.5))
    assert torch.allclose(torch.zeros(2).softmax(-1), torch.full((2,), 0.5))


def test_a_forbidden_built_in_swallowed_or_imported_by_name_still_fails(toy):
    toy("99.softmax", _softmax_checker)

    def swallowing(x):
        try:
            return torch.softmax(x, -1)
        except BaseException:
            e = (x - x.max(-1, keepdim=True).values).exp()
            return e / e.sum(-1, keepdim=True)

    assert "write it yourself" in check("99.softmax", swallowing).message
    space = {"torch": torch}
    exec("from torch.nn.functional import softmax as sm\ndef f(x):\n    return sm(x, dim=-1)\n", space)
    assert "write it yourself" in check("99.softmax", space["f"]).message
    assert space["sm"] is torch.nn.functional.softmax  # the learner's name is restored

    def own(x):
        e = (x - x.max(-1, keepdim=True).values).exp()
        return e / e.sum(-1, keepdim=True)

    assert check("99.softmax", own).passed


def test_a_mistake_signature_names_a_mistake_not_reproduced_exactly(toy):
    def checker(fn):
        x = torch.arange(6.0).reshape(2, 3)
        compare("y", call(fn, x), 2 * x, mistakes=[(x + 2, "You added 2."),
                                                   (lambda y: bool((y < 0).all()), "The sign is flipped.")])

    toy("99.sig", checker)
    assert check("99.sig", lambda x: x + 2).hint == "You added 2."
    assert check("99.sig", lambda x: -2 * x - 1).hint == "The sign is flipped."
    assert check("99.sig", lambda x: 3 * x).hint is None
    assert check("99.sig", lambda x: 2 * x).passed


@pytest.mark.parametrize("answer", [8, 8.0, np.int64(8), np.float32(8.0), np.array(8.0), np.array([8]),
                                    torch.tensor(8), torch.tensor([8.0]), [8], (8.0,), Fraction(8),
                                    Fraction(16, 2), Decimal("8"), Decimal("8.000"), [Fraction(8)], (Decimal(8),)])
def test_prediction_accepts_any_numeric_type(answer):
    checks.compare_prediction("p", answer, 8.0)


def test_prediction_fractions_and_decimals_are_judged_by_their_value():
    checks.compare_prediction("p", Fraction(1, 1024), 0.5 ** 10, rel=1e-6)
    checks.compare_prediction("p", [Fraction(1, 2), Decimal("1.5")], [0.5, 1.5])
    with pytest.raises(Fail, match="is twice the right value"):
        checks.compare_prediction("p", Fraction(16), 8.0)
    with pytest.raises(Fail, match="close: compute it exactly"):
        checks.compare_prediction("p", Decimal("7.7"), 8.0, rel=0.01)
    with pytest.raises(Fail, match="should be a number"):
        checks.compare_prediction("p", [Fraction(1, 2), "x"], [0.5, 1.5])


def test_prediction_arrays_near_misses_and_wrong_reasoning():
    from course_utils.course.checks import compare_prediction

    compare_prediction("p", np.array([0.5, 1.5]), [0.5, 1.5])
    compare_prediction("p", torch.tensor([[0.5, 1.5]]), [0.5, 1.5])
    compare_prediction("p", [0.5, 1.5], torch.tensor([0.5, 1.5]))
    with pytest.raises(Fail, match="close: compute it exactly"):
        compare_prediction("p", 7.7, 8.0, rel=0.01)
    with pytest.raises(Fail) as e:
        compare_prediction("p", np.float64(64), 8.0, mistakes=[(64, "variance!")])
    assert e.value.hint == "variance!"
    with pytest.raises(Fail, match="not right yet"):
        compare_prediction("p", 30, 8.0)
    for garbage in ("8", None, True, [], {"a": 1}, [1, 2]):
        with pytest.raises(Fail, match="number"):
            compare_prediction("p", garbage, 8.0)


def test_a_failing_dependency_is_named_as_the_cause(toy):
    def inner_checker(fn):
        x = torch.arange(4.0)
        compare("y", call(fn, x), x + 1)

    def outer_checker(fn):
        x = torch.arange(4.0)
        compare("z", call(fn, x), 2 * (x + 1))

    toy("98.plus_one", inner_checker)
    toy("98.twice_plus_one", outer_checker)
    checks.framework._REGISTRY["98.twice_plus_one"] = checks.Exercise(
        "98.twice_plus_one", "toy", outer_checker, name="twice_plus_one", uses=("plus_one",))
    space = {}
    exec("def plus_one(x):\n    return x + 2\ndef twice_plus_one(x):\n    return 2 * plus_one(x)\n", space)
    r = check("98.twice_plus_one", space["twice_plus_one"])
    assert r.status == "failed" and "Your `plus_one` above is the cause" in r.message, repr(r)
    # passed explicitly
    r = check("98.twice_plus_one", lambda x: 2 * (x + 2), plus_one=lambda x: x + 2)
    assert "`plus_one` above is the cause" in r.message
    # a right dependency: the answer's own mistake is reported
    r = check("98.twice_plus_one", lambda x: 3 * (x + 1), plus_one=lambda x: x + 1)
    assert r.status == "failed" and "cause" not in r.message
    # found in the calling notebook's namespace (the answer defined elsewhere)
    elsewhere = {}
    exec("answer = lambda x: 2 * plus_one(x)", elsewhere)  # refers to a plus_one it does not define
    notebook = {"check": check, "plus_one": space["plus_one"], "answer": elsewhere["answer"]}
    exec("r = check('98.twice_plus_one', answer)", notebook)
    assert "`plus_one` above is the cause" in notebook["r"].message
    # an answer that does not call plus_one is not blamed on it
    r = check("98.twice_plus_one", lambda x: 3 * (x + 1))
    assert r.status == "failed" and "cause" not in r.message


def test_an_id_registered_twice_is_refused(toy):
    toy("99.double", _double_checker)

    def another_checker(fn):
        pass

    with pytest.raises(ValueError, match="registered twice"):
        exercise("99.double", "again")(another_checker)
    with pytest.raises(TypeError, match="tuple of names"):
        exercise("99.other", "t", uses="split_heads")


def test_prediction_fallback_hint_is_not_a_mistakes_hint():
    from course_utils.course.checks import compare_prediction

    with pytest.raises(Fail) as e:
        compare_prediction("p", 30, 8.0, mistakes=[(64, "variance!")], hint="the reasoning")
    assert e.value.hint == "the reasoning"


def test_check_called_with_the_wrong_number_of_answers_does_not_raise(toy):
    toy("99.double", _double_checker)
    for args in ((), (lambda x: 2 * x, lambda x: x)):
        r = check("99.double", *args)
        assert r.status == "failed" and "one answer" in r.message and "check('99.double', double)" in r.hint
