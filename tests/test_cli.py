"""The `course` command line: progress, check (runs a copy), reset (backup first), dispatch."""

import json
import shutil
import sys
import types
from pathlib import Path

import nbformat
import pytest

from course_utils.course import cli, progress

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def pfile(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(path))
    return path


def test_progress_text_and_json(pfile, capsys):
    progress.record("05.split_heads", "passed")
    assert cli.main(["progress"]) == 0
    out = capsys.readouterr().out
    assert "05 Multi-head attention" in out and "[#####" in out and " 1/4" in out
    assert cli.main(["progress", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["lessons"]["05"]["passed"] == 1 and data["file"] == str(pfile)


def _learner_copy(tmp_path):
    """A learner's exercise notebook 04 with some work in it, in a course-like folder."""
    shutil.copytree(REPO / "solutions", tmp_path / "solutions", ignore=shutil.ignore_patterns("0[6-9]*", "1*"))
    (tmp_path / "exercises").mkdir()
    path = tmp_path / "exercises" / "04_self_attention.ipynb"
    shutil.copy(REPO / "exercises" / path.name, path)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        ex_id = cell.metadata.get("course", {}).get("exercise")
        if cell.cell_type == "code" and ex_id == "04.attention" and "def attention" in cell.source:
            cell.source = cell.source.replace('raise NotImplementedError("Exercise 04.attention: your code here")',
                                              "return q, q  # my attempt")
        if cell.cell_type == "code" and ex_id == "04.predict_score_std" and "prediction" in cell.source \
                and "check(" not in cell.source:
            cell.source = "prediction = 8  # mine"
    nbformat.write(nb, path)
    return path


def test_reset_restores_one_exercise_after_a_backup(tmp_path, capsys):
    path = _learner_copy(tmp_path)
    before = path.read_bytes()
    assert cli.main(["reset", str(path), "--id", "04.attention", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "-    return q, q  # my attempt" in out and "Dry run" in out
    assert path.read_bytes() == before and not list(path.parent.glob("*.bak-*"))

    assert cli.main(["reset", str(path), "--id", "04.attention"]) == 0
    backups = list(path.parent.glob("04_self_attention.bak-*.ipynb"))
    assert len(backups) == 1 and backups[0].read_bytes() == before
    nb = nbformat.read(path, as_version=4)
    old = nbformat.read(backups[0], as_version=4)
    sources = "\n".join(c.source for c in nb.cells)
    assert "my attempt" not in sources and 'raise NotImplementedError("Exercise 04.attention' in sources
    assert "prediction = 8  # mine" in sources  # the other exercise is untouched
    assert [c.id for c in nb.cells] == [c.id for c in old.cells]
    changed = [c.id for c, o in zip(nb.cells, old.cells) if c.source != o.source]
    assert len(changed) == 1  # only the answer cell of 04.attention


def test_reset_puts_back_deleted_cells(tmp_path):
    path = _learner_copy(tmp_path)
    nb = nbformat.read(path, as_version=4)
    ids = [c.id for c in nb.cells]
    nb.cells = [c for c in nb.cells if c.metadata.get("course", {}).get("exercise") != "04.self_attention"]
    nbformat.write(nb, path)
    cli.reset_notebook(path, "04.self_attention")
    assert [c.id for c in nbformat.read(path, as_version=4).cells] == ids


def test_reset_errors(tmp_path, capsys):
    path = _learner_copy(tmp_path)
    assert cli.main(["reset", str(path), "--id", "04.nope"]) == 2
    assert "not in" in capsys.readouterr().err
    assert cli.main(["reset", str(tmp_path / "missing.ipynb"), "--id", "04.attention"]) == 2
    assert not list(path.parent.glob("*.bak-*"))


def _tiny_exercise_nb(path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("from course_utils.course.checks import check\nimport torch"),
        nbformat.v4.new_code_cell("check('01.weighted_sum', lambda w, v: v.sum(0))"),
        nbformat.v4.new_code_cell("check('01.softmax_temperature', lambda s, t=1.0: torch.softmax(s / t, -1))"),
        nbformat.v4.new_code_cell("def soft_lookup(q, k, v):\n    raise NotImplementedError\n"
                                  "check('01.soft_lookup', soft_lookup)"),
        nbformat.v4.new_code_cell("1 / 0"),
    ]
    nbformat.write(nb, path)


@pytest.mark.slow
def test_check_runs_a_copy_and_prints_a_table(tmp_path, pfile, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_STRICT", "1")  # grading must still see failures, not stop at them
    monkeypatch.delenv("COURSE_NO_PROGRESS", raising=False)
    path = tmp_path / "01_attention_intuition.ipynb"
    _tiny_exercise_nb(path)
    before = path.read_bytes()
    assert cli.main(["check", str(path), "--timeout", "120"]) == 1
    out = capsys.readouterr().out
    assert path.read_bytes() == before  # the learner's file is never executed in place
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line[:3] in ("01.",)}
    assert rows == {"01.weighted_sum": "failed", "01.softmax_temperature": "passed", "01.soft_lookup": "pending"}
    assert "Hint: This is the plain sum" in out and "1 of 3 passed" in out
    assert "ZeroDivisionError" in out
    assert progress.load()["exercises"]["01.softmax_temperature"]["status"] == "passed"  # recorded


def test_collect_results_reads_check_json():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("check(...)")
    cell.outputs = [nbformat.v4.new_output("execute_result", data={
        "text/plain": "x", "application/vnd.course.check+json": {"id": "04.attention", "status": "passed",
                                                                "message": "ok", "hint": None}})]
    bad = nbformat.v4.new_code_cell("1/0", metadata={"tags": ["raises-exception"]})
    bad.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="", traceback=[])]
    nb.cells = [cell, bad]
    results, errors = cli.collect_results(nb)
    assert results == [{"id": "04.attention", "status": "passed", "message": "ok", "hint": None}]
    assert errors == []  # a raises-exception cell is expected to raise


def test_train_and_evaluate_dispatch(monkeypatch):
    seen = {}
    fake = types.ModuleType("course_utils.run.reference")
    fake.train_main = lambda argv: seen.setdefault("train", argv) and 0
    fake.evaluate_main = lambda argv: 3
    monkeypatch.setitem(sys.modules, "course_utils.run.reference", fake)
    import course_utils.run
    monkeypatch.setattr(course_utils.run, "reference", fake, raising=False)
    assert cli.main(["train", "--steps", "5"]) == 0 and seen["train"] == ["--steps", "5"]
    assert cli.main(["evaluate"]) == 3


def test_missing_reference_is_a_clear_error(monkeypatch, capsys):
    import course_utils.run

    monkeypatch.setitem(sys.modules, "course_utils.run.reference", None)  # import fails
    # an earlier test may have imported it already: hide the package attribute too
    monkeypatch.delattr(course_utils.run, "reference", raising=False)
    assert cli.main(["evaluate"]) == 2
    assert "not available" in capsys.readouterr().err


def test_build_dispatch(monkeypatch):
    from course_utils.course import build

    monkeypatch.setattr(build, "main", lambda argv: 7 if argv == ["--check"] else 0)
    assert cli.main(["build", "--check"]) == 7


def test_help(capsys):
    assert cli.main([]) == 0
    assert "progress" in capsys.readouterr().out
