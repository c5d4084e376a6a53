"""Helpers of the tests of the graded exercises' checks (tests/test_checks_NN.py): run an
answer through `check` and assert the result, and count what the answer sets cover."""

from course_utils.course.checks import check


def passes(ex_id, obj):
    r = check(ex_id, obj)
    assert r.status == "passed", repr(r)
    return r


GENERIC_HINTS = ("NaN appears", "Create new tensors", "Check which operation", "Work the value")


def fails_with(ex_id, obj, *phrases):
    """The answer fails with a hint that names the mistake (not one of the framework's generic
    hints, nor none), and every phrase appears in the message or the hint."""
    r = check(ex_id, obj)
    assert r.status == "failed", repr(r)
    assert r.hint and not r.hint.startswith(GENERIC_HINTS), f"no hint naming the mistake:\n{r!r}"
    text = f"{r.message} {r.hint or ''}"
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in:\n{r!r}"
    return r


def answer_set_tests(right: dict, wrong: dict):
    """The three tests every lesson's answer set runs; a test file binds them to its names:

        (test_right_answers_pass, test_wrong_answers_name_the_mistake,
         test_every_exercise_has_three_right_and_three_wrong_answers) = answer_set_tests(RIGHT, WRONG)

    `right`: exercise id -> answers that must pass; `wrong`: exercise id -> (answer, phrase of
    the hint it must get) pairs."""
    import pytest

    right_cases = [(ex, a) for ex, answers in right.items() for a in answers]
    wrong_cases = [(ex, a, hint) for ex, pairs in wrong.items() for a, hint in pairs]

    def case_id(ex, answer, i):
        name = getattr(answer, "__name__", "")
        return f"{ex}-{i}" + (f"-{name}" if name and name != "<lambda>" else "")

    @pytest.mark.parametrize("ex_id,answer", right_cases,
                             ids=[case_id(e, a, i) for i, (e, a) in enumerate(right_cases)])
    def test_right_answers_pass(ex_id, answer):
        passes(ex_id, answer)

    @pytest.mark.parametrize("ex_id,answer,hint", wrong_cases,
                             ids=[case_id(e, a, i) for i, (e, a, _) in enumerate(wrong_cases)])
    def test_wrong_answers_name_the_mistake(ex_id, answer, hint):
        fails_with(ex_id, answer, hint)

    def test_every_exercise_has_three_right_and_three_wrong_answers():
        for ex in right:
            assert len(right[ex]) >= 3 and len(wrong.get(ex, ())) >= 3, ex

    return (test_right_answers_pass, test_wrong_answers_name_the_mistake,
            test_every_exercise_has_three_right_and_three_wrong_answers)
