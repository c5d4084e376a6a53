"""The exercise generator (course_utils.course.build): stubs, markers, determinism, --check."""

from pathlib import Path

import nbformat
import pytest
import torch

from course_utils.course import build, checks
from course_utils.course.build import BuildError, build_notebook, render, strip_solution
from course_utils.course.checks import call, compare, exercise

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy_exercise():
    def checker(fn):
        compare("y", call(fn, torch.ones(2)), torch.full((2,), 2.0))

    exercise("99.double", "double it")(checker)
    yield "99.double"
    checks.framework._REGISTRY.pop("99.double", None)


def test_stub_keeps_indentation_and_names_the_exercise():
    src = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x * 2\n    ### END SOLUTION\n"
    out, removed = strip_solution(src, "99.double", "t")
    assert out == 'def f(x):\n    y = 1\n    raise NotImplementedError("Exercise 99.double: your code here")\n'
    assert removed == ["    return x * 2"]


def test_stub_lines_replace_the_region():
    src = ("def f(x):\n    ### BEGIN SOLUTION\n    ### STUB: return x + 2  # the bug\n"
           "    return x * 2\n    ### END SOLUTION\n"
           "### BEGIN SOLUTION\n### STUB: guess = ...\nguess = 4\n### END SOLUTION")
    out, _ = strip_solution(src, "99.double", "t")
    assert out == "def f(x):\n    return x + 2  # the bug\nguess = ..."


@pytest.mark.parametrize("src, message", [
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "top level"),
    ("def f():\n    ### BEGIN SOLUTION\n    pass\n", "without ### END"),
    ("def f():\n    pass\n    ### END SOLUTION", "without ### BEGIN"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    ### END SOLUTION\n", "nested"),
    ("### STUB: x = 1", "outside a solution region"),
])
def test_bad_markers_are_errors(src, message):
    with pytest.raises(BuildError, match=message):
        strip_solution(src, "99.double", "t")


def test_region_needs_an_exercise_tag():
    with pytest.raises(BuildError, match="tag"):
        strip_solution("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION", None, "t")


def _solution_nb():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["widgets"] = {"state": "big"}
    tag = {"tags": ["exercise:99.double"]}
    cells = [
        nbformat.v4.new_markdown_cell("# Toy", id="intro"),
        nbformat.v4.new_markdown_cell("solutions only", id="secret", metadata={"tags": ["solution-only"]}),
        nbformat.v4.new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return x * 2\n    ### END SOLUTION",
                                  id="answer", metadata=dict(tag)),
        nbformat.v4.new_code_cell('check("99.double", double)', id="check", metadata=dict(tag)),
        nbformat.v4.new_code_cell("double(1)", id="uses", metadata={"tags": ["needs-solution"]}),
    ]
    cells[2].outputs = [nbformat.v4.new_output("stream", text="hi")]
    cells[2].execution_count = 3
    nb.cells = cells
    return nb


def test_build_notebook(toy_exercise):
    nb = build_notebook(_solution_nb(), "99_toy.ipynb")
    assert [c.id for c in nb.cells] == ["intro", "answer", "check", "uses"]  # ids kept, solution-only dropped
    answer = nb.cells[1]
    assert answer.outputs == [] and answer.execution_count is None
    assert "return x * 2" not in answer.source and "NotImplementedError" in answer.source
    assert answer.metadata["course"] == {"exercise": "99.double"}
    assert nb.cells[3].metadata["tags"] == ["raises-exception"]
    assert "widgets" not in nb.metadata and nb.metadata["kernelspec"]["name"] == "python3"
    assert render(nb) == render(build_notebook(_solution_nb(), "99_toy.ipynb"))  # byte-identical


def test_exercise_notebooks_say_what_they_are(toy_exercise):
    nb = build_notebook(_solution_nb(), "99_toy.ipynb")
    meta = nb.metadata["course"]
    assert meta["lesson"] == "99" and meta["exercises"] == ["99.double"]
    assert meta["generated_from"] == "solutions/99_toy.ipynb"  # `course reset` and `course check` read these


def test_the_exercise_list_matches_the_graders():
    assert build.EXERCISE_LIST.read_text(encoding="utf-8") == build.render_exercise_list(), "run `course build`"
    from course_utils.course.exercise_list import EXERCISES

    assert EXERCISES == {i: ex.title for i, ex in checks.registry().items()}


def test_root_must_be_a_course_folder(tmp_path, capsys):
    for root in ("/nonexistent", str(tmp_path)):
        with pytest.raises(SystemExit) as exit_:
            build.main(["--root", root])
        assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and "no solutions/" in err


def test_an_unreadable_solution_is_a_problem_not_a_crash(tmp_path, toy_exercise):
    root = _course(tmp_path, _solution_nb())
    (root / "solutions" / "98_broken.ipynb").write_text("{not json")
    notebooks, problems = build.generate(root)
    assert len(notebooks) == 1 and any("98_broken.ipynb is not a notebook (not valid JSON" in p for p in problems)


def _course(tmp_path, nb):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    nbformat.write(nb, tmp_path / "solutions" / "99_toy.ipynb")
    return tmp_path


def test_write_then_check(tmp_path, toy_exercise, capsys):
    root = _course(tmp_path, _solution_nb())
    assert build.main(["--check", "--root", str(root)]) == 1  # not generated yet
    assert "missing" in capsys.readouterr().err
    assert build.main(["--root", str(root)]) == 0
    first = (root / "exercises" / "99_toy.ipynb").read_bytes()
    assert build.main(["--root", str(root)]) == 0
    assert (root / "exercises" / "99_toy.ipynb").read_bytes() == first
    assert build.main(["--check", "--root", str(root)]) == 0
    path = root / "exercises" / "99_toy.ipynb"
    path.write_text(path.read_text().replace("Toy", "Toy (edited)"))
    assert build.main(["--check", "--root", str(root)]) == 1
    assert "differs" in capsys.readouterr().err
    (root / "exercises" / "98_orphan.ipynb").write_text(first.decode())
    assert build.main(["--root", str(root), "--force"]) == 0  # the edit is backed up, then replaced
    assert build.main(["--check", "--root", str(root)]) == 1
    assert "no solution notebook" in capsys.readouterr().err


# ----------------------------------------------------------------------------- a learner's work is never lost

def _edit_answer(path):
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source = "def double(x):\n    return x + x  # my answer"
    nbformat.write(nb, path)
    return path.read_bytes()


def test_a_learners_edited_exercise_is_never_replaced_without_a_backup(tmp_path, toy_exercise, capsys):
    root = _course(tmp_path, _solution_nb())
    assert build.main(["--root", str(root)]) == 0
    path = root / "exercises" / "99_toy.ipynb"
    mine = _edit_answer(path)
    capsys.readouterr()
    assert build.main(["--root", str(root)]) == 1  # refused: nothing written
    err = capsys.readouterr().err
    assert "exercises/99_toy.ipynb has changes that `course build` did not write" in err and "--force" in err
    assert path.read_bytes() == mine and not (root / ".course" / "backups").exists()

    assert build.main(["--root", str(root), "--force"]) == 0
    out = capsys.readouterr().out
    backups = list((root / ".course" / "backups").iterdir())
    assert len(backups) == 1 and backups[0].read_bytes() == mine and str(backups[0]) in out
    assert "my answer" not in path.read_text() and "NotImplementedError" in path.read_text()


def test_maintainers_regenerate_after_editing_a_solution_in_one_command(tmp_path, toy_exercise, capsys):
    root = _course(tmp_path, _solution_nb())
    assert build.main(["--root", str(root)]) == 0  # remembers what it wrote (.course/build.json)
    for text in ("# Toy, second draft", "# Toy, third draft"):
        nb = _solution_nb()
        nb.cells[0].source = text
        nbformat.write(nb, root / "solutions" / "99_toy.ipynb")
        assert build.main(["--root", str(root)]) == 0
        assert text in (root / "exercises" / "99_toy.ipynb").read_text()
    assert not (root / ".course" / "backups").exists()


def test_a_fresh_clone_regenerates_what_git_holds_without_asking(tmp_path, toy_exercise, capsys):
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("no git here")
    root = _course(tmp_path, _solution_nb())
    assert build.main(["--root", str(root)]) == 0
    (root / ".course" / "build.json").unlink()  # a clone has no record of earlier builds
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "solutions", "exercises"], check=True)
    subprocess.run(git + ["commit", "-qm", "course"], check=True)
    nb = _solution_nb()
    nb.cells[0].source = "# Toy, edited by a maintainer"
    nbformat.write(nb, root / "solutions" / "99_toy.ipynb")
    assert build.main(["--root", str(root)]) == 0  # exercises/ is as committed: regenerated
    (root / ".course" / "build.json").unlink()
    _edit_answer(root / "exercises" / "99_toy.ipynb")  # differs from the commit and from the build
    assert build.main(["--root", str(root)]) == 1


def test_an_unwritable_exercises_folder_is_one_line_and_exit_2(tmp_path, toy_exercise, capsys, monkeypatch):
    root = _course(tmp_path, _solution_nb())
    (root / "exercises").rmdir()
    (root / "exercises").write_text("a file where the folder should be")
    assert build.main(["--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "cannot write exercises/99_toy.ipynb" in err and "Traceback" not in err and len(err.splitlines()) == 1
    (root / "exercises").unlink()
    (root / "exercises").mkdir()

    def read_only(*args, **kwargs):  # what a read-only folder does (the tests may run as root)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(build.nbformat_course.os, "replace", read_only)
    assert build.main(["--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "cannot write exercises/99_toy.ipynb (Permission denied)" in err and "Traceback" not in err
    assert list((root / "exercises").iterdir()) == []  # no temporary file left


def test_an_edition_is_generated_into_its_own_folder(tmp_path, toy_exercise):
    from course_utils.course import notebook

    root = _course(tmp_path, _solution_nb())
    for folder in ("course_utils", "notebooks", "zh/solutions"):
        (root / folder).mkdir(parents=True)
    nbformat.write(_solution_nb(), root / "zh" / "solutions" / "99_toy.ipynb")
    assert build.main(["--root", str(root)]) == 0
    path = root / "zh" / "exercises" / "99_toy.ipynb"
    nb = notebook.read(path)
    assert nb.metadata["course"]["generated_from"] == "zh/solutions/99_toy.ipynb"
    assert nb.metadata["course"]["edition"] == "zh" and notebook.is_course_exercise_notebook(path)
    fresh, solution = build.fresh_exercise(path, nb)
    assert solution == root / "zh" / "solutions" / "99_toy.ipynb" and render(fresh) == path.read_text()
    assert build.main(["--check", "--root", str(root)]) == 0


def _problems(tmp_path, nb):
    root = _course(tmp_path, nb)
    return build.generate(root)[1]


def test_check_finds_leaks(tmp_path, toy_exercise):
    nb = _solution_nb()
    nb.cells[2].source = ("def double(x):\n    ### BEGIN SOLUTION\n    ### STUB: return x * 2.0 + 0\n"
                          "    return x * 2.0 + 0\n    ### END SOLUTION")
    assert any("leaks" in p for p in _problems(tmp_path, nb))


def test_check_finds_unregistered_and_unchecked_ids(tmp_path, toy_exercise):
    nb = _solution_nb()
    nb.cells[3].source = 'check("99.nothing", double)'
    problems = _problems(tmp_path, nb)
    assert any("'99.nothing' has no registered check" in p for p in problems)
    assert any("'99.double' has no check cell" in p for p in problems)


def test_check_finds_bad_markers(tmp_path, toy_exercise):
    nb = _solution_nb()
    nb.cells[2].source = "def double(x):\n    ### BEGIN SOLUTION\n    return x * 2"
    assert any("without ### END" in p for p in _problems(tmp_path, nb))


def test_repository_exercises_01_05_match_their_solutions():
    notebooks, problems = build.generate(REPO)
    mine = {p: nb for p, nb in notebooks.items() if p.name[:2] in ("01", "02", "03", "04", "05")
            and p.parent == REPO / "exercises"}  # the English edition's (zh/exercises is tested in test_edition)
    assert len(mine) == 5
    assert [p for p in problems if p.split("/", 1)[-1][:2] in ("01", "02", "03", "04", "05")] == []
    for path, nb in mine.items():
        assert path.read_text(encoding="utf-8") == render(nb), f"{path.name}: run `course build`"


def _run_in_process(path: Path, monkeypatch) -> dict:
    """Execute a notebook's code cells in this process; return {exercise id: status} of its checks."""
    import ast

    from course_utils.course.checks import CheckResult

    monkeypatch.chdir(path.parent)
    namespace, results = {"__name__": "__main__"}, {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, str(path), "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), str(path), "eval"), namespace)
            if isinstance(value, CheckResult):
                results[value.exercise_id] = value.status
    return results


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "exercises").glob("0[1-5]_*.ipynb")))
def test_exercise_notebooks_run_and_show_pending(name, monkeypatch):
    monkeypatch.delenv("COURSE_STRICT", raising=False)
    results = _run_in_process(REPO / "exercises" / name, monkeypatch)
    lesson_ids = {i for i in checks.registry() if i.startswith(name[:2] + ".")}
    assert set(results) == lesson_ids  # every exercise has a check cell that ran
    bugs = {"04.fix_attention"}  # "find the bug": the starting code runs and fails
    assert {i: s for i, s in results.items() if i not in bugs} == {i: "pending" for i in lesson_ids - bugs}
    assert all(results[i] == "failed" for i in bugs & lesson_ids)


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "solutions").glob("0[1-5]_*.ipynb")))
def test_solution_notebooks_pass_every_check(name, monkeypatch):
    monkeypatch.setenv("COURSE_STRICT", "1")
    results = _run_in_process(REPO / "solutions" / name, monkeypatch)
    assert results and set(results.values()) == {"passed"}
