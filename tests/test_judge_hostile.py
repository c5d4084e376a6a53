"""Fakes never pass: every hostile notebook of tests/hostile/cases.py (a copy of exercise 04 whose
honest grade is 0 of 4, plus one way of faking a pass) graded by `course check --strict` comes
back with no exercise passed and exit status 1, within its time limits; the honest copy gets
its honest verdicts. Slow: each case starts a kernel (about 10 s)."""

import time

import pytest
from hostile.cases import CASES, COURSE_REFERENCE, EXERCISES, HANG_TIMEOUT, HANGS, build, private_temporary_folder  # noqa: F401

from course_utils.course import cli

pytestmark = pytest.mark.slow

TIMEOUT = 20  # --timeout: seconds per cell (the notebook's own cells take well under 1 s)


def _grade(path, capsys, timeout: int = TIMEOUT) -> tuple[int, dict, str, float]:
    start = time.monotonic()
    code = cli.main(["check", str(path), "--strict", "--no-record", "--timeout", str(timeout)])
    elapsed = time.monotonic() - start
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("04.")}
    return code, rows, out, elapsed


def test_the_honest_copy_gets_its_honest_verdicts(tmp_path, capsys):
    code, rows, out, _ = _grade(build(None, tmp_path), capsys)
    assert code == 1 and rows == {"04.attention": "failed", "04.fix_attention": "failed",
                                  "04.predict_score_std": "pending", "04.self_attention": "pending"}, out
    assert "The mask has no effect" in out and "0 of 4 passed" in out


@pytest.mark.parametrize("name", sorted(CASES, key=lambda n: n not in HANGS))  # the longest first (xdist)
def test_a_fake_never_passes(tmp_path, capsys, name):
    timeout = HANG_TIMEOUT if name in HANGS else TIMEOUT
    code, rows, out, elapsed = _grade(build(CASES[name], tmp_path), capsys, timeout)
    assert code == 1, out
    assert set(rows) == set(EXERCISES) and "passed" not in rows.values(), f"{CASES[name].what}:\n{out}"
    assert "0 of 4 passed" in out
    if name in HANGS:  # what ended it is the cell's deadline: the kernel was stopped
        assert f"timed out after {timeout} s" in out, out
    # every wait has a deadline: a cell's timeout, or a request's (its time limit + 15 s)
    assert elapsed < 4 * timeout + 120, f"{elapsed:.0f} s"


def test_a_notebook_that_stops_its_parent_does_not_hang_the_check(tmp_path, capsys):
    code, rows, out, elapsed = _grade(build(CASES["stop_parent"], tmp_path), capsys)
    assert code == 1 and rows["04.attention"] == "failed" and elapsed < TIMEOUT + 120, out
    assert "The mask has no effect" in out  # graded as usual: the kernel's parent is the launcher, not the judge


def test_the_course_reference_as_the_answer_passes_with_a_note_on_its_row(tmp_path, capsys):
    code, rows, out, _ = _grade(build(COURSE_REFERENCE, tmp_path), capsys)
    assert rows["04.attention"] == "passed", out  # right outputs: the judge cannot prove who wrote the code
    row = next(line for line in out.splitlines() if line.startswith("04.attention"))
    assert "Note: cell 6 uses `course_utils.transformer.attention`, the course's own `attention`" in row, row
