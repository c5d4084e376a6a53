"""More kinds of fakes and bad inputs (tests/hostile/cases.py: MORE_CASES, EDITS), graded by
`course check --strict`: none passes an exercise it should not, none gives a traceback (the
command runs in this process: an exception would fail the test), none runs past its deadlines,
and the learner's files are never changed. Slow: each case starts a kernel (about 10 s); the
bad inputs that are refused before a kernel starts take well under a second each."""

import hashlib
import json
import os
import sys
import time

import pytest
from hostile.cases import (  # noqa: F401  (private_temporary_folder: an autouse fixture)
    EDITS,
    EXERCISES,
    HANG_TIMEOUT,
    HANGS,
    MORE_CASES,
    build,
    build_edited,
    private_temporary_folder,
)

from course_utils.course import cli

TIMEOUT = 20  # --timeout: seconds per cell


def _files(folder) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _grade(path, capsys, timeout: int = TIMEOUT) -> tuple[int, dict, str, float]:
    (path.parent / "notes.txt").write_text("the learner's other file\n", encoding="utf-8")
    before = _files(path.parent)
    start = time.monotonic()
    code = cli.main(["check", str(path), "--strict", "--no-record", "--timeout", str(timeout)])
    elapsed = time.monotonic() - start
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert _files(path.parent) == before, "the learner's files changed"
    assert "Traceback" not in out, out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("04.")}
    return code, rows, out, elapsed


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MORE_CASES, key=lambda n: n not in HANGS))  # the longest first (xdist)
def test_a_fake_never_passes(tmp_path, capsys, name):
    timeout = HANG_TIMEOUT if name in HANGS else TIMEOUT
    code, rows, out, elapsed = _grade(build(MORE_CASES[name], tmp_path), capsys, timeout)
    assert code == 1, out
    assert set(rows) == set(EXERCISES) and "passed" not in rows.values(), f"{MORE_CASES[name].what}:\n{out}"
    if name in HANGS:  # what ended it is the cell's deadline: the kernel was stopped
        assert f"timed out after {timeout} s" in out, out
    assert elapsed < 4 * timeout + 120, f"{elapsed:.0f} s"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EDITS))
def test_a_notebook_whose_structure_lies_gets_its_honest_verdicts(tmp_path, capsys, name):
    code, rows, out, elapsed = _grade(build_edited(name, tmp_path), capsys)
    assert code == 1, out
    assert set(rows) == set(EXERCISES), f"{EDITS[name][0]}:\n{out}"  # the lesson's exercises, all of them
    passed = {ex for ex, status in rows.items() if status == "passed"}
    assert passed <= {"04.predict_score_std"}, f"{EDITS[name][0]}:\n{out}"  # the only one answered right
    assert elapsed < 4 * TIMEOUT + 120, f"{elapsed:.0f} s"


def _valid() -> dict:
    return json.loads(build(None, _valid.folder).read_text(encoding="utf-8"))


BAD_INPUTS = {
    "empty": lambda nb: "",
    "not_json": lambda nb: "{cells: [",
    "a_list": lambda nb: "[]",
    "deeply_nested": lambda nb: "[" * 100_000 + "]" * 100_000,
    "nested_metadata": lambda nb: json.dumps({**nb,
                                              "metadata": {}})[:-1] + ', "x": ' + "[" * 50_000 + "]" * 50_000 + "}",
    "no_cells": lambda nb: json.dumps({k: v for k, v in nb.items() if k != "cells"}),
    "cells_not_a_list": lambda nb: json.dumps({**nb, "cells": {"0": nb["cells"][0]}}),
    "cell_without_source": lambda nb: json.dumps({**nb, "cells": [{"cell_type": "code", "metadata": {}}]}),
    "source_a_number": lambda nb: json.dumps({**nb, "cells": [dict(c, source=5) for c in nb["cells"]]}),
    "unknown_cell_type": lambda nb: json.dumps({**nb, "cells": [dict(c, cell_type="sql") for c in nb["cells"]]}),
    "nbformat_3": lambda nb: json.dumps({**nb, "nbformat": 3, "nbformat_minor": 0}),
    "nbformat_99": lambda nb: json.dumps({**nb, "nbformat": 99}),
    "metadata_a_string": lambda nb: json.dumps({**nb, "metadata": "course"}),
    "course_metadata_a_list": lambda nb: json.dumps({**nb, "metadata": {"course": ["04.attention"]}}),
    "exercises_not_strings": lambda nb: json.dumps({**nb, "metadata": {"course": {**nb["metadata"]["course"],
                                                                                   "exercises": [1, None, {}]}}}),
    "generated_from_outside": lambda nb: json.dumps({**nb, "metadata": {"course": {
        **nb["metadata"]["course"], "generated_from": "../../etc/passwd"}}}),
    "cell_ids_numbers": lambda nb: json.dumps({**nb, "cells": [dict(c, id=i) for i, c in enumerate(nb["cells"])]}),
    "not_utf8": lambda nb: b"\xff\xfe" + json.dumps(nb).encode("utf-16-le"),
    "no_cells_at_all": lambda nb: json.dumps({**nb, "cells": []}),
}


# these are read as notebooks and graded (a kernel starts, about 10 s each): the rest are refused at once
_GRADED_ANYWAY = {"course_metadata_a_list", "exercises_not_strings", "generated_from_outside", "no_cells_at_all"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in _GRADED_ANYWAY else n
                                  for n in BAD_INPUTS])
def test_a_bad_notebook_is_refused_or_graded_without_a_traceback(tmp_path, capsys, name, monkeypatch):
    _valid.folder = tmp_path / "src"
    text = BAD_INPUTS[name](_valid())
    path = tmp_path / "04_self_attention.ipynb"
    (path.write_bytes if isinstance(text, bytes) else lambda t: path.write_text(t, encoding="utf-8"))(text)
    code, rows, out, elapsed = _grade(path, capsys)
    assert code in (1, 2) and "passed" not in rows.values(), out
    assert elapsed < 4 * TIMEOUT + 120


@pytest.mark.parametrize("kind", ["missing", "folder", "fifo", "device", "loop"])
def test_a_path_that_is_not_a_notebook_file_is_refused(tmp_path, capsys, kind):
    path = tmp_path / "04_self_attention.ipynb"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "loop":
        path.symlink_to(path)
    start = time.monotonic()
    try:
        code = cli.main(["check", str(path), "--strict", "--no-record", "--timeout", str(TIMEOUT)])
    except SystemExit as stop:  # refused by the argument parser: its usage line and one error line
        code = stop.code
    out = capsys.readouterr()
    assert code == 2 and "Traceback" not in out.out + out.err and time.monotonic() - start < 10, out
    assert [line for line in out.err.splitlines() if "error" in line][0].startswith("course check"), out.err


@pytest.mark.slow
def test_a_notebook_that_grades_itself_is_refused_inside_and_graded_outside(tmp_path, capsys):
    from hostile.cases import NESTED_CHECK
    code, rows, out, elapsed = _grade(build(NESTED_CHECK, tmp_path), capsys)
    assert code == 1 and rows == {"04.attention": "failed", "04.fix_attention": "failed",
                                  "04.predict_score_std": "pending", "04.self_attention": "pending"}, out
    assert elapsed < TIMEOUT + 60, f"{elapsed:.0f} s"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the notebook finds the judge through /proc")
def test_a_progress_file_linked_to_the_notebook_never_replaces_it(tmp_path, capsys, monkeypatch):
    from hostile.cases import PROGRESS_LINK
    for folder in ("course_utils", "notebooks"):  # a course checkout, as a learner has one
        (tmp_path / folder).mkdir()
    path = build(PROGRESS_LINK, tmp_path / "exercises")
    before = path.read_bytes()
    monkeypatch.delenv("COURSE_NO_PROGRESS", raising=False)
    monkeypatch.delenv("COURSE_PROGRESS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    code = cli.main(["check", "exercises/04_self_attention.ipynb", "--timeout", str(TIMEOUT)])
    out = capsys.readouterr().out
    assert (tmp_path / ".course" / "progress.json").is_symlink(), out  # the notebook did make its link
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == [path.name], out
    assert "Not recorded in your progress" in out and code == 1, out
