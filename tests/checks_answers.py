"""Helpers of the tests of the graded exercises' checks (tests/test_checks_NN.py): run an
answer through `check` and assert the result, and count what the answer sets cover."""

from course_utils.course.checks import check


def passes(ex_id, obj):
    r = check(ex_id, obj)
    assert r.status == "passed", repr(r)
    return r


def fails_with(ex_id, obj, *phrases):
    """The answer fails, and every phrase appears in the message or the hint."""
    r = check(ex_id, obj)
    assert r.status == "failed", repr(r)
    text = f"{r.message} {r.hint or ''}"
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in:\n{r!r}"
    return r


def ids(answers):
    """pytest ids for a list of functions or (function, phrase) pairs."""
    return [getattr(a[0] if isinstance(a, tuple) else a, "__name__", "answer") for a in answers]
