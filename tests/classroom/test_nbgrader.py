"""nbgrader from the one source: the course directory `course classroom nbgrader` writes,
student notebooks equal to exercises/, and an autograded class with a real nbgrader."""

from __future__ import annotations

import copy
import csv
import html
import json
import os
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from class_submissions import EXPECTED, MISTAKES, submission
from helpers import ROOT, run

from course_utils.course import build, classroom
from course_utils.course.checks import check

# The tests run as root on CI: autograding as root must then be asked for explicitly.
AS_ROOT = {"COURSE_AUTOGRADE_AS_ROOT": "1"}
GRADER_SUFFIX = re.compile(r"\n# Graded by the course's checker itself.*\Z", re.S)


def _exercise_view(cell):
    """What a learner sees of a cell: type, source (without the grader lines), tags."""
    source = GRADER_SUFFIX.sub("", cell.source)
    return cell.cell_type, source, cell.metadata.get("tags", [])


def test_source_notebooks_mark_every_cell(tmp_path):
    written = classroom.write_nbgrader_course(tmp_path)
    assert (tmp_path / "nbgrader_config.py").is_file()
    assert len(written) == len(list((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")))
    for path in written:
        nb = nbformat.read(path, as_version=4)
        exercises = {c.metadata.get("course", {}).get("exercise") for c in nb.cells} - {None}
        graded = {c.metadata.nbgrader.grade_id: c for c in nb.cells if c.metadata.nbgrader["grade"]}
        assert {classroom.grade_id(e) for e in exercises} == set(graded), path.name
        for cell in nb.cells:
            meta = cell.metadata.nbgrader
            if meta["solution"]:
                assert build.BEGIN in cell.source and not meta["locked"]
            else:
                assert meta["locked"], f"{path.name}: a statement or check cell must be read-only"
        for cell in graded.values():
            assert cell.metadata.nbgrader["points"] == 1
            assert "require_pass(" in cell.source


def test_unknown_lesson_and_bad_target_are_clear_errors(tmp_path, capsys):
    assert classroom.main(["nbgrader", str(tmp_path / "c"), "--lessons", "99"]) == 2
    assert "99" in capsys.readouterr().err
    afile = tmp_path / "file"
    afile.write_text("x")
    assert classroom.main(["nbgrader", str(afile)]) == 2
    assert "not a folder" in capsys.readouterr().err
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    bad = {"": "empty name", str(afile / "c"): "is a file, not a folder", "/proc/course": "cannot write",
           str(readonly / "c"): "cannot write"}
    if os.geteuid() == 0:  # root writes into a read-only folder
        del bad[str(readonly / "c")]
    for target, says in bad.items():
        assert classroom.main(["nbgrader", target, "--lessons", "01"]) == 2, target
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (target, err)


def test_writing_again_backs_up_what_the_instructor_edited(tmp_path, capsys):
    course = tmp_path / "course"
    assert classroom.main(["nbgrader", str(course), "--lessons", "01"]) == 0
    config, source = course / "nbgrader_config.py", course / "source/lesson01/01_attention_intuition.ipynb"
    capsys.readouterr()
    assert classroom.main(["nbgrader", str(course), "--lessons", "01"]) == 0  # nothing edited: no backup
    assert not (course / classroom.BACKUPS).exists() and "copied to" not in capsys.readouterr().out
    config.write_text(config.read_text() + "c.Execute.timeout = 1234  # mine\n")
    edited = source.read_text().replace("Exercises 01", "Exercises 01 (my class)")
    source.write_text(edited)
    assert classroom.main(["nbgrader", str(course), "--lessons", "01"]) == 0
    out = capsys.readouterr().out
    saved = sorted(p for p in (course / classroom.BACKUPS).rglob("*") if p.is_file())
    assert [p.name for p in saved] == ["nbgrader_config.py", "01_attention_intuition.ipynb"] or \
        sorted(p.name for p in saved) == ["01_attention_intuition.ipynb", "nbgrader_config.py"]
    assert any("1234  # mine" in p.read_text() for p in saved) and any(p.read_text() == edited for p in saved)
    assert out.count("copied to") == 2
    assert config.read_text() == classroom.config_text()  # the command's own version again


def test_autograding_as_root_is_refused(monkeypatch, tmp_path, nbgrader_bin, released):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.delenv(classroom.AS_ROOT_VARIABLE, raising=False)
    message = classroom.root_refusal(["autograde", "lesson04"])
    assert "sudo -u grader nbgrader autograde lesson04" in message and "COURSE_AUTOGRADE_AS_ROOT=1" in message
    assert classroom.root_refusal(["generate_assignment", "lesson04"]) is None  # only autograding runs learners' code
    monkeypatch.setenv(classroom.AS_ROOT_VARIABLE, "1")
    assert classroom.root_refusal(["autograde", "lesson04"]) is None
    monkeypatch.undo()
    if os.geteuid() != 0:
        return
    # the real command, as root: refused before anything runs, with the command to use instead
    course = released
    proc = run([nbgrader_bin, "autograde", "lesson01", "--create"], cwd=course, check=False,
               env={classroom.AS_ROOT_VARIABLE: ""})
    assert proc.returncode != 0 and "sudo -u grader nbgrader autograde lesson01 --create" in proc.stderr
    assert not (course / "autograded").exists()


def test_require_pass_raises_with_the_hint():
    right = lambda w, v: w @ v  # noqa: E731
    classroom.require_pass("01.weighted_sum", right)
    wrong = lambda w, v: (w[:, None] * v).mean(0)  # noqa: E731
    with pytest.raises(AssertionError, match="01.weighted_sum: failed"):
        classroom.require_pass("01.weighted_sum", wrong)
    with pytest.raises(AssertionError, match="pending"):
        classroom.require_pass("01.weighted_sum", _stub)


def _stub(w, v):  # what course build writes for an exercise not done yet
    raise NotImplementedError("Exercise 01.weighted_sum: your code here")


def test_generate_assignment_gives_the_exercise_notebooks(released_course):
    course = released_course  # every lesson released by one run of nbgrader generate_assignment
    sources = sorted((course / "source").iterdir())
    assert [p.name for p in sorted((course / "release").iterdir())] == [p.name for p in sources]
    for source in sources:
        for student_nb in sorted((course / "release" / source.name).glob("*.ipynb")):
            released = nbformat.read(student_nb, as_version=4)
            exercise = nbformat.read(ROOT / "exercises" / student_nb.name, as_version=4)
            assert [_exercise_view(c) for c in released.cells] == [_exercise_view(c) for c in exercise.cells], \
                student_nb.name
            # the same cells to nbgrader: a notebook worked in the course copy is graded like the assignment
            assert [(c.get("id"), c.metadata.nbgrader["grade_id"], c.metadata.nbgrader["grade"])
                    for c in released.cells] == \
                [(c.get("id"), c.metadata.nbgrader["grade_id"], c.metadata.nbgrader["grade"])
                 for c in exercise.cells], student_nb.name
            assert not any(build.BEGIN in c.source for c in released.cells)


def test_autograde_a_class(tmp_path, nbgrader_bin, released):
    """Five learners (right, typical mistakes, empty, fake output + redefined check, a kernel
    that dies): the gradebook holds the right points per learner and exercise, and the feedback
    of a failed exercise carries the course's message and hint."""
    course = released
    student_nb = nbformat.read(course / "release/lesson01/01_attention_intuition.ipynb", as_version=4)
    for learner in EXPECTED:
        target = course / "submitted" / learner / "lesson01" / "01_attention_intuition.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(submission(student_nb, learner), target)
    run([nbgrader_bin, "autograde", "lesson01", "--create"], cwd=course, timeout=900, env=AS_ROOT)
    run([nbgrader_bin, "generate_feedback", "lesson01"], cwd=course, check=False)
    run([nbgrader_bin, "export", "--to", "grades.csv"], cwd=course)

    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", classroom.COURSE_ID) as gb:
        for learner, want in EXPECTED.items():
            sub = gb.find_submission("lesson01", learner)
            got = {g.name: g.score for g in sub.notebooks[0].grades}
            assert got == {classroom.grade_id(k): float(v) for k, v in want.items()}, learner
    # the export holds every released lesson (a row per learner and assignment): lesson 01's rows
    with open(course / "grades.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["assignment"] == "lesson01"]
    totals = {r["student_id"]: float(r["score"]) for r in rows}
    assert len(rows) == len(EXPECTED) and totals == {k: float(sum(v.values())) for k, v in EXPECTED.items()}

    # The feedback for a failed exercise says what the course's checker says.
    ns: dict = {}
    exec("import torch\n" + MISTAKES["01.softmax_temperature"], ns)
    result = check("01.softmax_temperature", ns["softmax"])
    assert result.status == "failed"
    feedback = html.unescape((course / "feedback/ben/lesson01/01_attention_intuition.html").read_text())
    expected_text = result.hint or result.message
    assert expected_text and expected_text.split("\n")[0][:60] in feedback
    # the faker's printed "passed" lines did not earn anything, and its check() was not used
    dee = json.loads((course / "autograded/dee/lesson01/01_attention_intuition.ipynb").read_text())
    errors = [o for c in dee["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert len(errors) == 3 and all(o["ename"] == "AssertionError" for o in errors)
    # the kernel that died is shown on the cell where it died
    eve = json.loads((course / "autograded/eve/lesson01/01_attention_intuition.ipynb").read_text())
    died = [c for c in eve["cells"] for o in c.get("outputs", []) if o.get("ename") == "DeadKernelError"]
    assert len(died) == 1 and "os._exit" in "".join(died[0]["source"])
    shutil.rmtree(course / "autograded")  # keep tmp small


def test_autograde_a_class_of_lesson04(tmp_path, nbgrader_bin, released):
    """Eleven learners on lesson 04 (tests/classroom/class04.py): right answers (one printing a
    warning, one worked in the course copy) get 4 of 4, every cheat gets nothing, and nbgrader's
    gradebook holds exactly what each one earned."""
    from class04 import EXPECTED, describe, gradebook, write_submissions

    course = released
    write_submissions(course / "submitted", nbformat.read(course / "release/lesson04/04_self_attention.ipynb",
                                                          as_version=4))
    proc = run([nbgrader_bin, "autograde", "lesson04", "--create"], cwd=course, check=False, timeout=1500,
               env=AS_ROOT)
    got = gradebook(course)
    want = {learner: {classroom.grade_id(k): float(v) for k, v in points.items()}
            for learner, points in EXPECTED.items()}
    assert got == want, f"gradebook:\n{describe(got)}\n--- nbgrader\n{(proc.stdout + proc.stderr)[-3000:]}"
    shutil.rmtree(course / "autograded")


def _solved(released: nbformat.NotebookNode, solution: Path) -> nbformat.NotebookNode:
    """The released notebook with every answer cell holding the solution's answer (cells match by id)."""
    answers = {c.get("id"): c.source for c in nbformat.read(solution, as_version=4).cells}
    nb = copy.deepcopy(released)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[cell.get("id")]
    return nb


@pytest.mark.slow
def test_lesson11_solution_scores_full_marks_under_the_generated_config(tmp_path, nbgrader_bin, released):
    """The slowest lesson's correct solution (it trains a model) meets the generated config's
    time limit with room, with the threads it pins, and scores 3 of 3."""
    course = released
    name = "11_capstone.ipynb"
    target = course / "submitted/ada/lesson11" / name
    target.parent.mkdir(parents=True)
    nbformat.write(_solved(nbformat.read(course / "release/lesson11" / name, as_version=4), ROOT / "solutions" / name),
                   target)
    start = time.monotonic()
    # the generated config pins the threads itself: the test does not
    proc = run([nbgrader_bin, "autograde", "lesson11", "--create"], cwd=course, check=False, timeout=1800,
               env={**AS_ROOT, "OMP_NUM_THREADS": "", "MKL_NUM_THREADS": ""})
    seconds = time.monotonic() - start
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", classroom.COURSE_ID) as gb:
        grades = {g.name: g.score for g in gb.find_submission("lesson11", "ada").notebooks[0].grades}
    assert grades and all(score == 1.0 for score in grades.values()) and len(grades) == 3, \
        f"{grades}\n{(proc.stdout + proc.stderr)[-3000:]}"
    print(f"lesson 11 autograded in {seconds:.0f} s (load {os.getloadavg()[0]:.1f})")
    assert seconds < classroom.CELL_TIMEOUT, "the whole notebook should take less than one cell's limit"


def test_restore_nbgrader_cells_from_the_course_ids():
    """A course copy that lost nbgrader's metadata (and even its cell ids) gets it back: its
    check cells become the graded cells the gradebook knows."""
    course_copy = nbformat.read(ROOT / "exercises/04_self_attention.ipynb", as_version=4)
    want = {c.metadata.nbgrader["grade_id"]: c.source for c in course_copy.cells}
    bare = copy.deepcopy(course_copy)
    for cell in bare.cells:
        del cell.metadata["nbgrader"]
    restored = copy.deepcopy(bare)
    assert classroom.restore_nbgrader_cells(restored, "04_self_attention.ipynb") == len(want)
    assert {c.metadata.nbgrader["grade_id"]: c.source for c in restored.cells} == want
    no_ids = copy.deepcopy(bare)
    for cell in no_ids.cells:
        cell.pop("id", None)
    no_ids.cells.insert(3, nbformat.v4.new_code_cell("print('a cell of my own')"))
    assert classroom.restore_nbgrader_cells(no_ids, "04_self_attention.ipynb") == 4
    graded = {c.metadata.nbgrader["grade_id"] for c in no_ids.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert graded == {"04-attention", "04-fix_attention", "04-predict_score_std", "04-self_attention"}
    assert classroom.restore_nbgrader_cells(course_copy, "04_self_attention.ipynb") == 0  # nothing lost


def test_validate_never_says_success_on_work_that_will_score_zero(tmp_path, nbgrader_bin):
    """`nbgrader validate` on the course copy of an exercise (exercises/, what the learner
    works in): the stubs fail validation, right answers pass."""
    from class04 import RIGHT, _fill

    course_copy = nbformat.read(ROOT / "exercises/04_self_attention.ipynb", as_version=4)
    for answers, success in (({}, False), (RIGHT, True)):
        path = tmp_path / ("right" if answers else "stubs") / "04_self_attention.ipynb"
        path.parent.mkdir()
        nbformat.write(_fill(course_copy, answers), path)
        proc = run([nbgrader_bin, "validate", path], cwd=tmp_path, check=False)
        assert ("Success!" in proc.stdout) == success, proc.stdout[-3000:] + proc.stderr[-2000:]
        if not success:
            assert "VALIDATION FAILED ON 4 CELL(S)" in proc.stdout.replace("\n", " ")


@pytest.mark.slow
def test_every_known_fake_scores_nothing_under_nbgrader(tmp_path, nbgrader_bin, released):
    """Hostile notebooks of tests/hostile/cases.py (an honest 0 of 4 plus one fake each), each
    submitted by its own learner and autograded by nbgrader with the generated config: the
    gradebook holds 0 for every one of them.

    nbgrader's path grades through the same judge as `course check --strict`, which meets all 31
    fakes in the unit tests (tests/test_judge_hostile.py), and the class of lesson 04 above
    already holds five of them; here one fake of each remaining family goes through nbgrader
    itself (about 13 s each). COURSE_CLASSROOM_ALL_FAKES=1 submits all 31 (about 7 minutes)."""
    from class04 import gradebook_of
    from hostile.cases import CASES as ALL_CASES
    from hostile.cases import build as build_case

    families = ("glob_results", "post_run_cell_hook", "swap_json", "meta_path_finder", "tensor_subclass",
                "patched_reference_attention", "replaced_helper", "stop_parent")
    everything = os.environ.get("COURSE_CLASSROOM_ALL_FAKES", "") not in ("", "0")
    CASES = ALL_CASES if everything else {name: ALL_CASES[name] for name in families}

    course = released
    for name, case in CASES.items():
        build_case(case, course / "submitted" / name.replace("_", "-") / "lesson04")
    # a fake that breaks the kernel's replies makes its cell wait for the cell time limit: a shorter one here
    private_tmp = tmp_path / "tmp"  # a fake that hunts for result files searches the temporary folder
    private_tmp.mkdir()
    proc = run([nbgrader_bin, "autograde", "lesson04", "--create", "--Execute.timeout=60"], cwd=course,
               check=False, timeout=3600, env={**AS_ROOT, "TMPDIR": str(private_tmp)})
    got = gradebook_of(course, [name.replace("_", "-") for name in CASES])
    scored = {learner: grades for learner, grades in got.items() if grades is None or any(grades.values())}
    assert not scored, f"{scored}\n{(proc.stdout + proc.stderr)[-3000:]}"
    shutil.rmtree(course / "autograded")
