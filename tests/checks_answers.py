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
