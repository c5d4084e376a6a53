"""The `course` command line: argument checks, progress, check (trusted grading of a copy),
reset (generated exercises only, backup first), build / train / evaluate dispatch."""

import json
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.course import build, cli, grading, notebook, progress, reset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _language_restored(monkeypatch):
    """English unless a test says otherwise; `course` puts the language in $COURSE_LANG for what it
    starts, which is undone after each test."""
    monkeypatch.setenv("COURSE_LANG", "en")


@pytest.fixture
def pfile(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(path))
    return path


def test_progress_text_and_json(pfile, capsys):
    progress.save_result("05.split_heads", "passed")
    assert cli.main(["progress"]) == 0
    out = capsys.readouterr().out
    assert "05 Multi-head attention" in out and "[#####" in out and " 1/4" in out
    assert cli.main(["progress", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["lessons"]["05"]["passed"] == 1 and data["file"] == str(pfile)


def test_progress_survives_a_wrong_shaped_file(pfile, capsys):
    pfile.write_text(json.dumps({"version": 1, "exercises": {"05.split_heads": "passed", "05.merge_heads": None}}))
    assert cli.main(["progress"]) == 0
    captured = capsys.readouterr()
    assert "repaired 1 entry" in captured.err and "dropped 1 entry" in captured.err
    assert " 1/4" in captured.out  # the hand-written "passed" still counts


# ----------------------------------------------------------------------------- arguments

def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("course 0.")
    assert cli.main([]) == 0
    assert "progress" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["progress", "check", "reset", "build", "train", "evaluate"])
def test_every_help_text_renders(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and out.startswith(f"usage: course {command}")
    if command == "train":
        assert "99%" in out  # a literal percent sign in a help text (it used to crash argparse)


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a command starts work after a bad argument."""
    from course_utils.course import build
    from course_utils.run import reference

    def forbidden(*args, **kwargs):
        raise AssertionError("work started although an argument was invalid")

    for module, name in ((reference, "train_command"), (reference, "evaluate_command"), (build, "run"),
                         (grading, "grade"), (reset, "reset_notebook")):
        monkeypatch.setattr(module, name, forbidden)


def _bad_arguments(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    nb = tmp_path / "nb.ipynb"
    nb.write_text("{}")
    cases = [
        (["train", "--steps", "0"], "--steps"), (["train", "--steps", "-3"], "--steps"),
        (["train", "--steps", "1.5"], "--steps"), (["train", "--eval-every", "0"], "--eval-every"),
        (["train", "--threads", "0"], "--threads"), (["train", "--threads", "100000"], "--threads"),
        (["train", "--eval-limit", "0"], "--eval-limit"), (["train", "--n-train", "0"], "--n-train"),
        (["train", "--seed", "-1"], "--seed"), (["train", "--device", "tpu"], "--device"),
        (["train", "--out", str(tmp_path)], "is a folder"), (["train", "--out", str(tmp_path) + "/"], "not a folder"),
        (["train", "--out", str(a_file / "x.pt")], "is a file"),
        (["evaluate", "--length-penalty", "nan"], "finite"), (["evaluate", "--length-penalty", "inf"], "finite"),
        (["evaluate", "--length-penalty", "-1"], "--length-penalty"), (["evaluate", "--limit", "-1998"], "--limit"),
        (["evaluate", "--limit", "0"], "--limit"), (["evaluate", "--beam-size", "0"], "--beam-size"),
        (["evaluate", "--threads", "0"], "--threads"), (["evaluate", "--split", "nope"], "--split"),
        (["evaluate", "--beam-size", "1000"], "at most 64"), (["train", "--seed", str(2**40)], "at most"),
        (["check", str(nb), "--timeout", str(10**30)], "at most"),
        (["evaluate", "--checkpoint", str(tmp_path / "missing.pt")], "no such file"),
        (["evaluate", "--checkpoint", str(tmp_path)], "is a folder"),
        (["check", str(nb), "--timeout", "0"], "--timeout"), (["check", str(nb), "--timeout", "nan"], "--timeout"),
        (["check", str(tmp_path / "missing.ipynb")], "no such file"), (["check", ""], "empty"),
        (["train", "--n-train", str(10**9)], "at most"),
        (["build", "--root", "/nonexistent"], "no such folder"), (["build", "--root", str(a_file)], "not a folder"),
        (["build", "--root", str(tmp_path)], "no solutions/"),
        (["reset", str(nb)], "--id"), (["reset", str(tmp_path / "missing.ipynb"), "--id", "04.attention"], "no such"),
        (["nonsense"], "invalid choice"),
        (["train", "--steps", str(10**20)], "at most"),  # trained for ever before
        (["evaluate", "--length-penalty", "1e308"], "at most"),  # overflowed to 0.00 % exact match
        (["train", "--out", str(nb)], "not a checkpoint"), (["train", "--out", str(a_file)], "not a checkpoint"),
        (["build", "--root", ""], "empty"),
    ]
    cases += [(["check", str(nb), "--id", ""], "empty"), (["reset", str(nb), "--id", " "], "empty")]
    loop = tmp_path / "loop.pt"
    loop.symlink_to(loop.name)
    cases += [(["check", "x" * 300 + ".ipynb"], "not a usable path"), (["train", "--out", "x" * 300], "not a usable"),
              (["evaluate", "--checkpoint", "~no-such-user-here/m.pt"], "not a usable path"),
              (["build", "--root", "x" * 300], "not a usable path"), (["train", "--out", str(loop)], "loops")]
    if Path("/proc/self").is_dir():  # os.access says yes to root there; the folder takes no file
        cases.append((["train", "--out", "/proc/nowhere/model.pt"], "cannot be written"))
    if Path("/dev/zero").exists():  # a device: reading it never ends, replacing it breaks the system
        cases += [(["check", "/dev/zero"], "not a regular file"), (["train", "--out", "/dev/zero"], "not a regular"),
                  (["evaluate", "--checkpoint", "/dev/zero"], "not a regular file"),
                  (["reset", "/dev/zero", "--id", "04.attention"], "not a regular file")]
    import torch

    if not torch.cuda.is_available():
        cases.append((["train", "--device", "cuda"], "cuda is not available"))
    return cases


def test_bad_arguments_are_refused_before_any_work(tmp_path, no_work, capsys):
    cases = _bad_arguments(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    for argv, needle in cases:
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        err = capsys.readouterr().err
        assert exit_.value.code == 2, argv
        assert needle in err and "Traceback" not in err, (argv, err)
        assert f"usage: course {argv[0]}" in err or argv == ["nonsense"], (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing was written


def test_an_existing_checkpoint_is_a_valid_out(tmp_path, no_work):
    import torch

    out = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(1)}, out)
    args = cli.build_parser().parse_args(["train", "--out", str(out)])
    assert args.out == out and sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]  # the probe is gone


def test_default_output_is_checked_too(tmp_path, monkeypatch, no_work, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "artifacts").write_text("a file where the artifacts/ folder should be")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train"])
    assert exit_.value.code == 2 and "artifacts is a file" in capsys.readouterr().err


def test_train_and_evaluate_get_validated_keyword_arguments(tmp_path, monkeypatch):
    from course_utils.run import reference

    seen = {}
    monkeypatch.setattr(reference, "train_command", lambda **kw: seen.setdefault("train", kw) and 0)
    monkeypatch.setattr(reference, "evaluate_command", lambda **kw: seen.setdefault("evaluate", kw) and 3)
    out = tmp_path / "new" / "model.pt"
    assert cli.main(["train", "--steps", "5", "--out", str(out), "--threads", "1", "--device", "cpu"]) == 0
    kw = seen["train"]
    assert kw["steps"] == 5 and kw["out"] == out and kw["threads"] == 1 and kw["device"] == "cpu"
    assert kw["eval_limit"] is None and kw["progress"] is True and "--steps 5" in kw["command"]
    assert cli.main(["evaluate", "--split", "compositional", "--limit", "7", "--length-penalty", "0"]) == 3
    assert seen["evaluate"] == {"checkpoint": reference.REFERENCE_CHECKPOINT, "split": "compositional", "limit": 7,
                                "beam_size": 1, "length_penalty": 0.0, "threads": 2}


def test_split_choices_come_from_the_corpus():
    from course_utils.corpus import data

    names = cli._split_names()
    assert "val" in names and set(getattr(data, "SPLIT_NAMES", ("test", "compositional"))) <= set(names)


def test_build_uses_its_arguments(tmp_path, monkeypatch):
    (tmp_path / "solutions").mkdir()
    seen = []
    monkeypatch.setattr(build, "run",
                        lambda root=None, check=False, force=False: seen.append((root, check, force)) or 7)
    assert cli.main(["build", "--check", "--root", str(tmp_path)]) == 7
    assert cli.main(["build"]) == 7
    assert cli.main(["build", "--force"]) == 7
    assert seen == [(tmp_path.resolve(), True, False), (None, False, False), (None, False, True)]


# ----------------------------------------------------------------------------- a tiny course

def _tiny_course(tmp_path) -> Path:
    """A course folder with one small solution notebook for lesson 01 and its generated exercise."""
    root = tmp_path / "course"
    for folder in ("course_utils", "notebooks", "solutions", "exercises"):
        (root / folder).mkdir(parents=True)
    code = nbformat.v4.new_code_cell
    sol = nbformat.v4.new_notebook()
    sol.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}

    def tagged(ex_id, source, cell_id):
        return code(source, id=cell_id, metadata={"tags": [f"exercise:{ex_id}"]})

    sol.cells = [
        nbformat.v4.new_markdown_cell("# 01 · tiny", id="intro"),
        code("import torch\nfrom course_utils.course.checks import check", id="setup"),
        tagged("01.weighted_sum", "def weighted_sum(weights, values):\n    ### BEGIN SOLUTION\n"
                                  "    return weights @ values\n    ### END SOLUTION", "ws-answer"),
        tagged("01.weighted_sum", 'check("01.weighted_sum", weighted_sum)', "ws-check"),
        tagged("01.softmax_temperature", "def softmax(scores, temperature=1.0):\n    ### BEGIN SOLUTION\n"
                                         "    e = (scores / temperature).exp()\n"
                                         "    return e / e.sum(-1, keepdim=True)\n"
                                         "    ### END SOLUTION", "sm-answer"),
        tagged("01.softmax_temperature", 'check("01.softmax_temperature", softmax)', "sm-check"),
        tagged("01.soft_lookup", "def soft_lookup(query, keys, values):\n    ### BEGIN SOLUTION\n"
                                 "    w = torch.softmax(keys @ query, -1)\n    return w @ values, w\n"
                                 "    ### END SOLUTION",
               "sl-answer"),
        tagged("01.soft_lookup", 'check("01.soft_lookup", soft_lookup)', "sl-check"),
        code("print('the end')", id="end"),
    ]
    nbformat.write(sol, root / "solutions" / "01_tiny.ipynb")
    (root / "exercises" / "01_tiny.ipynb").write_text(
        build.render(build.build_notebook(sol, "01_tiny.ipynb")), encoding="utf-8")
    return root


def _edit(path, edits: dict[str, str], insert_after: dict[str, str] | None = None):
    insert_after = insert_after or {}
    nb = nbformat.read(path, as_version=4)
    for cell in list(nb.cells):
        if cell.id in edits:
            cell.source = edits[cell.id]
        if cell.id in insert_after:
            nb.cells.insert(nb.cells.index(cell) + 1, nbformat.v4.new_code_cell(insert_after[cell.id]))
    nbformat.write(nb, path)


FAKE = ("from IPython.display import display\n"
        "display({'application/vnd.course.check+json': {'id': '01.softmax_temperature', 'status': 'passed',"
        " 'message': 'ok', 'hint': None}, 'text/plain': '01.softmax_temperature passed'}, raw=True)\n"
        "print('✔ 01.softmax_temperature passed')\n"
        "def check(*args, **kwargs):\n    return 'passed'\n"
        "check('01.softmax_temperature', softmax)")


@pytest.mark.slow
def test_check_grades_in_trusted_cells_and_records_only_the_exercise_itself(tmp_path, monkeypatch, capfd):
    monkeypatch.delenv("COURSE_PROGRESS_FILE", raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "scratch.ipynb"))  # as in `!course check` in a notebook
    monkeypatch.setenv("COURSE_STRICT", "1")  # grading must still see failures, not stop at them
    root = _tiny_course(tmp_path)
    path = root / "exercises" / "01_tiny.ipynb"
    _edit(path, {"ws-answer": "def weighted_sum(weights, values):\n    return (weights[:, None] * values).sum(0)",
                 "sm-check": FAKE},  # fake results and a redefined check in place of the check cell
          insert_after={"end": "1 / 0"})
    before = path.read_bytes()
    assert cli.main(["check", str(path), "--timeout", "120", "--strict"]) == 1
    out, err = capfd.readouterr()  # file-descriptor level: the kernel's own output would show here
    assert "IPKernelApp" not in out + err and "without encryption" not in out + err and err == ""
    assert path.read_bytes() == before  # the learner's file is never executed in place
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("01.")}
    assert rows == {"01.weighted_sum": "passed", "01.softmax_temperature": "pending", "01.soft_lookup": "pending"}
    assert "1 of 3 passed" in out and "ZeroDivisionError" in out
    recorded = progress.load(root / ".course" / "progress.json")["exercises"]
    assert {k: v["status"] for k, v in recorded.items()} == rows

    # a copy is graded, but its results do not overwrite the exercise's own
    copy_path = root / "exercises" / "01_tiny-Copy1.ipynb"
    shutil.copy(path, copy_path)
    cli._record(copy_path, nbformat.read(copy_path, as_version=4), [("01.weighted_sum", "failed", "")])
    assert "Not recorded" in capfd.readouterr().out
    assert progress.load(root / ".course" / "progress.json")["exercises"]["01.weighted_sum"]["status"] == "passed"


FORGE = ("import json, re\nsource = '\\n'.join(_ih)\n"  # the grading cells' tokens and results file, from history
         "for token in set(re.findall(r\"\\\"token\\\": '([0-9a-f]{32})'\", source)):\n"
         "    for path in set(re.findall(r\"open\\('([^']+results.jsonl)'\", source)):\n"
         "        with open(path, 'a') as f:\n"
         "            for i in ('01.weighted_sum', '01.softmax_temperature', '01.soft_lookup'):\n"
         "                f.write(json.dumps({'token': token, 'id': i, 'status': 'passed', 'message': 'ok'}) + '\\n')\n"
         "print('forged')")
PATCH_IMPORT = ("import importlib, types\nreal = importlib.import_module\n"
                "class Passed:\n    status, message, hint = 'passed', 'ok', None\n"
                "fake = types.SimpleNamespace(check=lambda *a, **k: Passed())\n"
                "importlib.import_module = lambda n, *a: fake if n.startswith('course_utils.course.checks') "
                "else real(n, *a)")
PATCH_TORCH = "import torch\ntorch.allclose = lambda *a, **k: True\ntorch.Tensor.__eq__ = lambda *a, **k: True"
# removes this run's private folder (named in the grading cell), after its first use
REMOVE_RESULTS = ("import os, re, shutil\n"
                  "for path in set(re.findall(r\"open\\('([^']+results.jsonl)'\", '\\n'.join(_ih))):\n"
                  "    shutil.rmtree(os.path.dirname(path))")
FAKE_PACKAGE = ("import os, sys, pathlib\nfolder = pathlib.Path('fake/course_utils/course/checks')\n"
                "folder.mkdir(parents=True)\n"
                "for d in ('fake/course_utils', 'fake/course_utils/course'):\n"
                "    pathlib.Path(d, '__init__.py').write_text('')\n"
                "(folder / '__init__.py').write_text('class R:\\n"
                "    status, message, hint = \"passed\", \"ok\", None\\n'\n"
                "                                   'def check(*a, **k):\\n    return R()\\n')\n"
                "sys.path.insert(0, os.path.abspath('fake'))\n"
                "for m in [m for m in sys.modules if m.startswith('course_utils')]:\n    del sys.modules[m]")


@pytest.mark.slow
@pytest.mark.parametrize("cheat, where", [(FORGE, "end"), (PATCH_IMPORT, "setup"), (PATCH_TORCH, "setup"),
                                          (FAKE_PACKAGE, "setup"), (REMOVE_RESULTS, "sm-answer")])
def test_forged_results_and_patched_graders_do_not_pass(tmp_path, cheat, where, capsys):
    """The verdicts are the judge's (this process's graders, on the kernel's outputs): what a notebook
    patches, forges or deletes in its kernel changes none of them."""
    root = _tiny_course(tmp_path)
    path = root / "exercises" / "01_tiny.ipynb"
    _edit(path, {"ws-answer": "def weighted_sum(weights, values):\n    return weights @ values",
                 "sm-answer": "def softmax(scores, temperature=1.0):\n    return scores"},  # wrong
          insert_after={where: cheat})
    assert cli.main(["check", str(path), "--timeout", "120", "--no-record"]) == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("01.")}
    assert rows == {"01.weighted_sum": "passed", "01.softmax_temperature": "failed", "01.soft_lookup": "pending"}, out


@pytest.mark.slow
def test_a_dead_kernel_becomes_a_row_and_earlier_results_stay(tmp_path, capsys):
    root = _tiny_course(tmp_path)
    path = root / "exercises" / "01_tiny.ipynb"
    _edit(path, {"ws-answer": "def weighted_sum(weights, values):\n    return weights @ values"},
          insert_after={"ws-check": "import os\nos._exit(3)"})
    assert cli.main(["check", str(path), "--timeout", "120", "--no-record"]) == 1
    out = capsys.readouterr().out
    assert "kernel died while running cell 5" in out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("01.")}
    assert rows == {"01.weighted_sum": "passed", "01.softmax_temperature": "not", "01.soft_lookup": "not"}
    assert not (root / ".course").exists()  # --no-record


@pytest.mark.slow
def test_a_cell_that_hangs_becomes_a_row(tmp_path, capsys):
    root = _tiny_course(tmp_path)
    path = root / "exercises" / "01_tiny.ipynb"
    _edit(path, {}, insert_after={"intro": "import time\nwhile True:\n    try:\n        time.sleep(100)\n"
                                           "    except BaseException:\n        pass"})
    assert cli.main(["check", str(path), "--timeout", "2", "--no-record"]) == 1
    out = capsys.readouterr().out
    assert "cell 2 timed out after 2 s" in out
    assert out.count("not graded: cell 2 timed out") == 3 and "0 of 3 passed" in out


@pytest.mark.parametrize("content, needle", [
    (b"{not json", "not valid JSON"), (b"\xff\xfe\x00binary", "not UTF-8"), (b"[1, 2]", "not a Jupyter notebook"),
    (b'{"cells": [{"cell_type": "code"}], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "not a valid notebook"),
    (b'{"cells": [], "nbformat": 3, "metadata": {}}', "format 3"),
])
def test_check_and_reset_refuse_files_that_are_not_notebooks(tmp_path, content, needle, capsys):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    assert cli.main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert cli.main(["reset", str(path), "--id", "01.soft_lookup"]) == 2
    assert needle in capsys.readouterr().err
    assert path.read_bytes() == content


def test_check_refuses_an_unknown_id_before_running_anything(tmp_path, no_work, capsys):
    root = _tiny_course(tmp_path)
    assert cli.main(["check", str(root / "exercises" / "01_tiny.ipynb"), "--id", "01.nope"]) == 2
    err = capsys.readouterr().err
    assert "'01.nope' is not in" in err and "01.weighted_sum, 01.softmax_temperature, 01.soft_lookup" in err


def test_expected_exercises_come_from_metadata(tmp_path):
    root = _tiny_course(tmp_path)
    path = root / "exercises" / "01_tiny.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "check(" not in c.source]  # the learner deleted every check cell
    nb.metadata["course"]["exercises"] = ["01.weighted_sum"]  # ... and tried to drop two exercises
    expected, checks, notes = grading.expected_exercises(path, nb)
    assert expected == ["01.weighted_sum", "01.softmax_temperature", "01.soft_lookup"] and not notes
    assert checks["01.soft_lookup"][2] == "soft_lookup"  # restored from the solution, not the notebook


def test_a_notebook_without_checks_does_not_pass(tmp_path, capsys):
    path = tmp_path / "00_welcome.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('hello')")]
    nbformat.write(nb, path)
    assert cli.main(["check", str(path)]) == 1
    assert "has no graded exercises" in capsys.readouterr().err


def test_kernel_is_this_python_started_through_the_launcher(tmp_path):
    km = grading.kernel_manager(tmp_path)
    argv = km.kernel_spec.argv
    assert argv[0] == sys.executable and km.transport == "ipc"
    assert argv[2].endswith("launcher.py") and argv[3] == sys.executable  # the judge is not its parent


# ----------------------------------------------------------------------------- reset

def _learner_copy(tmp_path):
    """A learner's exercise notebook 04 with some work in it, in a course-like folder."""
    root = tmp_path / "course"
    for folder in ("course_utils", "notebooks", "exercises"):
        (root / folder).mkdir(parents=True)
    shutil.copytree(REPO / "solutions", root / "solutions", ignore=shutil.ignore_patterns("0[6-9]*", "1*"))
    path = root / "exercises" / "04_self_attention.ipynb"
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


def _backups(path):
    folder = path.parents[1] / ".course" / "backups"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_reset_restores_one_exercise_after_a_backup(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COURSE_PROGRESS_FILE", raising=False)
    path = _learner_copy(tmp_path)
    pfile = path.parents[1] / ".course" / "progress.json"
    progress.save_result("04.attention", "passed", path=pfile)
    before = path.read_bytes()
    assert cli.main(["reset", str(path), "--id", "04.attention", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "-    return q, q  # my attempt" in out and "Dry run" in out
    assert path.read_bytes() == before and not _backups(path)

    assert cli.main(["reset", str(path), "--id", "04.attention"]) == 0
    out = capsys.readouterr().out
    backups = _backups(path)
    assert len(backups) == 1 and backups[0].read_bytes() == before and backups[0].name.startswith("04_self_attention-")
    assert not list(path.parent.glob("*.bak*")) and str(backups[0]) in out
    nb = nbformat.read(path, as_version=4)
    old = nbformat.read(backups[0], as_version=4)
    sources = "\n".join(c.source for c in nb.cells)
    assert "my attempt" not in sources and 'raise NotImplementedError("Exercise 04.attention' in sources
    assert "prediction = 8  # mine" in sources  # the other exercise is untouched
    assert [c.id for c in nb.cells] == [c.id for c in old.cells]
    changed = [c.id for c, o in zip(nb.cells, old.cells) if c.source != o.source]
    assert len(changed) == 1  # only the answer cell of 04.attention
    assert progress.load(pfile)["exercises"]["04.attention"]["status"] == "pending"  # progress follows
    assert "pending" in out
    # the backup folder is not where the generator or nbval look for notebooks
    assert ".course" not in {p.parent.name for p in path.parents[1].glob("exercises/*.ipynb")}


def test_two_resets_in_the_same_second_keep_both_backups(tmp_path, monkeypatch):
    import datetime as dt

    path = _learner_copy(tmp_path)
    now = dt.datetime(2026, 1, 2, 3, 4, 5)
    first = path.read_bytes()
    assert reset.reset_notebook(path, "04.attention", now=now).backup is not None
    second = path.read_bytes()
    # another reset of the same notebook saw no backup yet (a race): it must not write over the first
    monkeypatch.setattr(Path, "exists", lambda self: False)
    assert reset.reset_notebook(path, "04.predict_score_std", now=now).backup is not None
    monkeypatch.undo()
    assert sorted(b.read_bytes() for b in _backups(path)) == sorted([first, second])


def test_reset_puts_back_deleted_cells(tmp_path):
    path = _learner_copy(tmp_path)
    nb = nbformat.read(path, as_version=4)
    ids = [c.id for c in nb.cells]
    nb.cells = [c for c in nb.cells if c.metadata.get("course", {}).get("exercise") != "04.self_attention"]
    nbformat.write(nb, path)
    reset.reset_notebook(path, "04.self_attention")
    assert [c.id for c in nbformat.read(path, as_version=4).cells] == ids


def test_reset_keeps_duplicated_cells(tmp_path, capsys):
    path = _learner_copy(tmp_path)
    nb = nbformat.read(path, as_version=4)
    answer = next(c for c in nb.cells if "my attempt" in c.source)
    duplicate = nbformat.from_dict(json.loads(json.dumps(answer)))
    duplicate.id = "my-duplicate"
    duplicate.source = answer.source.replace("my attempt", "my second attempt")
    nb.cells.insert(nb.cells.index(answer) + 1, duplicate)
    nbformat.write(nb, path)
    assert cli.main(["reset", str(path), "--id", "04.attention"]) == 0
    assert "1 other cell of exercise" in capsys.readouterr().out
    sources = [c.source for c in nbformat.read(path, as_version=4).cells]
    assert sum("my second attempt" in s for s in sources) == 1 and not any("# my attempt" in s for s in sources)


def test_reset_works_on_a_renamed_copy_and_leaves_progress_alone(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COURSE_PROGRESS_FILE", raising=False)
    path = _learner_copy(tmp_path)
    pfile = path.parents[1] / ".course" / "progress.json"
    progress.save_result("04.attention", "passed", path=pfile)
    copy_path = path.with_name("04_self_attention-Copy1.ipynb")
    path.rename(copy_path)
    assert cli.main(["reset", str(copy_path), "--id", "04.attention"]) == 0
    assert "is a copy" in capsys.readouterr().out
    assert "my attempt" not in copy_path.read_text()
    assert progress.load(pfile)["exercises"]["04.attention"]["status"] == "passed"


def test_reset_follows_a_symlink(tmp_path, capsys):
    path = _learner_copy(tmp_path)
    link = tmp_path / "mine.ipynb"
    link.symlink_to(path)
    assert cli.main(["reset", str(link), "--id", "04.attention"]) == 0
    assert f"is a link to {path}" in capsys.readouterr().out
    assert link.is_symlink() and "my attempt" not in path.read_text()


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_reset_refuses_solutions_and_lessons(tmp_path, folder, capsys):
    path = _learner_copy(tmp_path)
    target = path.parents[1] / folder / "04_self_attention.ipynb"
    if folder == "notebooks":
        shutil.copy(REPO / "notebooks" / target.name, target)
    before = target.read_bytes()
    assert cli.main(["reset", str(target), "--id", "04.attention"]) == 2
    assert "never reset" in capsys.readouterr().err
    assert target.read_bytes() == before and not _backups(path)


def test_reset_that_cannot_write_changes_nothing(tmp_path, monkeypatch, capsys):
    path = _learner_copy(tmp_path)
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(notebook.os, "replace", disk_full)  # the rename that puts the new notebook in place
    assert cli.main(["reset", str(path), "--id", "04.attention"]) == 2
    err = capsys.readouterr().err
    assert "No space left" in err and "was not changed" in err and "Traceback" not in err
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == [path.name]


def test_reset_and_check_report_a_broken_solution_in_one_line(tmp_path, capsys):
    path = _learner_copy(tmp_path)
    solution = path.parents[1] / "solutions" / path.name
    solution.write_text(solution.read_text().replace("### END SOLUTION", "", 1))  # an unclosed region
    assert cli.main(["reset", str(path), "--id", "04.attention"]) == 2
    assert "breaks an authoring rule" in capsys.readouterr().err
    assert cli.main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "breaks an authoring rule" in err and "Traceback" not in err


def test_reset_errors(tmp_path, capsys):
    path = _learner_copy(tmp_path)
    assert cli.main(["reset", str(path), "--id", "04.nope"]) == 2
    assert "not in" in capsys.readouterr().err
    assert not _backups(path)


def _without_ids(path, minor=4, marks=True):
    """The notebook as some hosted services save it: no cell ids (and, with marks=False, no cell metadata)."""
    raw = json.loads(path.read_text())
    raw["nbformat_minor"] = minor
    for cell in raw["cells"]:
        cell.pop("id", None)
        if not marks:
            cell["metadata"] = {}
    path.write_text(json.dumps(raw, indent=1))
    return raw


@pytest.mark.parametrize("minor", [4, 5])
def test_reset_matches_cells_of_a_notebook_saved_without_ids(tmp_path, capsys, minor):
    path = _learner_copy(tmp_path)
    before = _without_ids(path, minor)
    assert cli.main(["reset", str(path), "--id", "04.attention"]) == 0
    assert "back to its starting state" in capsys.readouterr().out
    after = json.loads(path.read_text())
    assert after["nbformat_minor"] == minor and len(after["cells"]) == len(before["cells"])
    sources = ["".join(c["source"]) for c in after["cells"]]
    assert not any("my attempt" in s for s in sources) and "prediction = 8  # mine" in sources
    changed = [i for i, (a, b) in enumerate(zip(before["cells"], after["cells"])) if a["source"] != b["source"]]
    assert len(changed) == 1 and 'raise NotImplementedError("Exercise 04.attention' in sources[changed[0]]
    assert minor == 5 or not any("id" in c for c in after["cells"])  # format 4.4 has no cell ids: none added
    assert cli.main(["reset", str(path), "--id", "04.attention"]) == 0  # again: nothing left to do
    assert "already in its starting state" in capsys.readouterr().out


def test_reset_without_ids_or_exercise_marks_refuses_and_changes_nothing(tmp_path, capsys):
    path = _learner_copy(tmp_path)
    _without_ids(path, marks=False)
    nb = json.loads(path.read_text())
    nb["metadata"]["course"]["generated_from"] = "solutions/04_self_attention.ipynb"
    path.write_text(json.dumps(nb))
    before = path.read_bytes()
    assert cli.main(["reset", str(path), "--id", "04.attention"]) == 2
    captured = capsys.readouterr()
    assert "cannot tell which cells" in captured.err and "Nothing was changed" in captured.err
    assert "starting state" not in captured.out
    assert path.read_bytes() == before and not _backups(path)


@pytest.mark.slow
def test_a_copy_run_by_nbconvert_leaves_progress_alone(tmp_path):
    """`jupyter nbconvert --execute` tells the kernel no notebook: neither a copy nor the exercise
    notebook itself records (this run's results would otherwise replace the learner's)."""
    import subprocess

    root = _tiny_course(tmp_path)
    pfile = root / ".course" / "progress.json"
    exercise = root / "exercises" / "01_tiny.ipynb"
    for ex_id in ("01.weighted_sum", "01.softmax_temperature", "01.soft_lookup"):
        progress.save_result(ex_id, "passed", path=pfile)
    before = pfile.read_bytes()
    copy_path = root / "exercises" / "01_tiny-Copy1.ipynb"
    shutil.copy(exercise, copy_path)
    _edit(copy_path, {"ws-answer": "def weighted_sum(weights, values):\n    return values.sum(0)"})  # wrong
    env = {k: v for k, v in os.environ.items()
           if k not in ("COURSE_NO_PROGRESS", "COURSE_PROGRESS_FILE", "JPY_SESSION_NAME", "COURSE_STRICT")}
    for path in (copy_path, exercise):
        done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                               "--output", str(tmp_path / f"run-{path.name}"), str(path)],
                              cwd=root / "exercises", env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        run = nbformat.read(tmp_path / f"run-{path.name}", as_version=4)
        shown = json.dumps([c.get("outputs", []) for c in run.cells])
        assert "01.weighted_sum" in shown and "does not say which notebook it runs" in shown
        assert pfile.read_bytes() == before, path.name


# ----------------------------------------------------------------------------- language

def test_the_language_comes_from_the_option_then_course_lang_then_the_locale():
    assert cli.default_language({}) == "en"
    assert cli.default_language({"LANG": "zh_CN.UTF-8"}) == "zh"
    assert cli.default_language({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"}) == "en"  # LC_ALL comes first
    assert cli.default_language({"LC_MESSAGES": "zh_TW", "LANG": "C"}) == "zh"
    assert cli.default_language({"COURSE_LANG": "en", "LANG": "zh_CN.UTF-8"}) == "en"
    assert cli.default_language({"COURSE_LANG": "zh"}) == "zh"
    assert cli.default_language({"COURSE_LANG": "fr", "LANG": "zh_CN"}) == "en"  # unknown: English


def test_lang_sets_course_lang_for_everything_the_command_starts(pfile, monkeypatch, capsys):
    from course_utils.base import i18n

    monkeypatch.setattr(i18n, "_CATALOGUES", {"zh": {"Masks": "掩码", "Progress ({path}):": "进度（{path}）："}.get})
    monkeypatch.delenv("COURSE_LANG", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert cli.main(["--lang", "zh", "progress"]) == 0
    out = capsys.readouterr().out
    assert os.environ["COURSE_LANG"] == "zh" and f"进度（{pfile}）：" in out and "06 掩码" in out
    monkeypatch.delenv("COURSE_LANG")
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")
    assert cli.main(["progress"]) == 0 and "06 掩码" in capsys.readouterr().out
    assert os.environ["COURSE_LANG"] == "zh"
    assert cli.main(["--lang=en", "progress"]) == 0 and "06 Masks" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--lang", "fr", "progress"])
    assert exit_.value.code == 2 and "--lang" in capsys.readouterr().err


def test_argument_errors_are_shown_in_the_learner_s_language(monkeypatch, capsys, no_work):
    from course_utils.base import i18n

    monkeypatch.setattr(i18n, "_CATALOGUES",
                        {"zh": {"must be at least {low}, got {value}": "至少为 {low}，得到 {value}"}.get})
    with pytest.raises(SystemExit):
        cli.main(["--lang", "zh", "train", "--steps", "0"])
    assert "至少为 1，得到 0" in capsys.readouterr().err
