"""`course classroom progress`: the instructor's view of a class, read from fake home folders and
from a collected folder (the Kubernetes layout), never changing a learner's file."""

import csv
import io
import json
import os

import pytest

from course_utils.course import class_progress, cli, progress

# four of the course's exercises, so the command (which counts all of them) reads the same files
EXERCISES = {"01.soft_lookup": "A", "01.weighted_sum": "B", "04.attention": "C", "04.self_attention": "D"}
A, B, C, D = EXERCISES


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "en")


def _write(path, exercises):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "exercises": exercises}))
    return path


def _home_file(homes, name):
    return homes / name / "attention-course" / ".course" / "progress.json"


@pytest.fixture
def homes(tmp_path):
    homes = tmp_path / "home"
    _write(_home_file(homes, "alice"), {
        A: {"status": "passed", "attempts": 1, "last_checked": "2026-12-01T09:00:00+00:00"},
        B: {"status": "passed", "attempts": 2, "last_checked": "2026-12-02T10:30:00+00:00"},
        C: {"status": "failed", "attempts": 5, "last_checked": "2026-12-03T11:15:00+00:00"}})
    (homes / "bob" / "attention-course").mkdir(parents=True)  # cloned, nothing checked yet
    (homes / "teacher").mkdir()  # no copy of the course: not a learner
    return homes


def test_homes_table_and_csv(homes):
    learners = class_progress.read_class(homes, exercises=EXERCISES)
    assert [x.name for x in learners] == ["alice", "bob"]
    alice, bob = learners
    assert alice.lessons["01"] == {"passed": 2, "total": 2, "failing": 0, "pending": 0, "failing_now": []}
    assert alice.lessons["04"] == {"passed": 0, "total": 2, "failing": 1, "pending": 1, "failing_now": ["04.attention"]}
    assert alice.failing == [("04.attention", 5, "2026-12-03T11:15:00+00:00")]
    assert alice.last_activity.isoformat() == "2026-12-03T11:15:00+00:00"
    assert not bob.found and bob.problem is None and bob.passed == 0 and bob.total == 4

    table = class_progress.format_table(learners)
    lines = table.splitlines()
    assert lines[0].split() == ["learner", "01", "04", "total", "last", "check", "(UTC)"]
    assert lines[1].split() == ["alice", "2/2", "0/2!", "2/4", "2026-12-03", "11:15"]
    assert lines[2].split()[:4] == ["bob", "-", "-", "0/4"] and "no progress file" in lines[2]
    assert "  alice: 04.attention (5 attempts, last 2026-12-03 11:15)" in lines

    out = io.StringIO()
    class_progress.write_csv(learners, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["learner"], r["lesson"], r["passed"], r["failing"], r["pending"], r["failing_now"]) for r in rows] == [
        ("alice", "01", "2", "0", "0", ""), ("alice", "04", "0", "1", "1", C),
        ("bob", "01", "0", "0", "2", ""), ("bob", "04", "0", "0", "2", "")]
    assert rows[0]["last_activity"] == "2026-12-03T11:15:00+00:00" and rows[2]["last_activity"] == ""


def test_learners_file_sets_who_and_order(homes, tmp_path):
    names = tmp_path / "learners.txt"
    names.write_text("# the class\nbob\n\ncarol   # not logged in yet\nalice\nbob\n")
    assert class_progress.read_learners_file(names) == ["bob", "carol", "alice"]
    learners = class_progress.read_class(homes, learners=["bob", "carol", "alice"], exercises=EXERCISES)
    assert [(x.name, x.found, x.passed) for x in learners] == [("bob", False, 0), ("carol", False, 0),
                                                              ("alice", True, 2)]
    names.write_text("alice\n../etc\n")
    with pytest.raises(class_progress.ClassProgressError, match="line 2: '../etc' is not a user name"):
        class_progress.read_learners_file(names)


def test_collected_layout_as_on_kubernetes(tmp_path):
    collected = tmp_path / "course-progress"
    _write(collected / "dana" / "progress.json", {D: {"status": "passed", "attempts": 1}})
    (collected / "erik").mkdir(parents=True)  # a folder without a file yet is not listed
    learners = class_progress.read_class(collected, collected=True, exercises=EXERCISES)
    assert [(x.name, x.passed, x.lessons["04"]["passed"]) for x in learners] == [("dana", 1, 1)]
    assert learners[0].last_activity is None  # no dates in the file


def test_learners_files_are_never_changed_or_followed(homes, tmp_path):
    bad = _home_file(homes, "bob")
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    wrong = _write(_home_file(homes, "carol"), {A: "PASSED", B: {"status": 7}})
    secret = _write(tmp_path / "elsewhere" / "progress.json", {A: {"status": "passed", "attempts": 1}})
    link = _home_file(homes, "dave")
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    outside = homes / "erin"
    outside.mkdir()
    (outside / "attention-course").symlink_to(secret.parent.parent)  # leads out of erin's folder
    (secret.parent.parent / ".course").mkdir()
    _write(secret.parent.parent / ".course" / "progress.json", {A: {"status": "passed", "attempts": 1}})
    big = _home_file(homes, "fay")
    big.parent.mkdir(parents=True)
    big.write_text(" " * (class_progress.MAX_BYTES + 1))
    before = {p: p.read_bytes() for p in (bad, wrong, big)}
    listing = sorted(os.path.join(d, f) for d, dirs, files in os.walk(homes) for f in dirs + files)

    learners = {x.name: x for x in class_progress.read_class(homes, exercises=EXERCISES)}
    assert "not valid JSON" in learners["bob"].problem and not learners["bob"].found
    assert learners["carol"].found and learners["carol"].problem is None
    assert learners["carol"].lessons["01"]["passed"] == 1  # "PASSED" repaired in memory, 7 dropped
    assert "symbolic link" in learners["dave"].problem and learners["dave"].passed == 0
    assert "outside the learner's folder" in learners["erin"].problem and learners["erin"].passed == 0
    assert "larger than" in learners["fay"].problem
    assert {p: p.read_bytes() for p in before} == before  # nothing repaired or moved aside on disk
    assert sorted(os.path.join(d, f) for d, dirs, files in os.walk(homes) for f in dirs + files) == listing
    table = class_progress.format_table(list(learners.values()))
    assert "Not read (shown as nothing checked):" in table and "  bob: " in table


def test_unreadable_home_is_reported(homes, monkeypatch):
    """A learner's folder the instructor's account cannot read (not root on one machine)."""
    real_open = os.open

    def denied(path, *args, **kwargs):
        if str(path).endswith("progress.json"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(class_progress.os, "open", denied)
    (alice,) = class_progress.read_class(homes, learners=["alice"], exercises=EXERCISES)
    assert "permission denied" in alice.problem and "root" in alice.problem and not alice.found


def test_course_command(homes, tmp_path, capsys):
    assert cli.main(["classroom", "progress", "--homes", str(homes), "--csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ",".join(class_progress.CSV_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(out)))
    lesson01 = sum(ex.startswith("01.") for ex in progress.known_exercises())
    assert [r for r in rows if r["learner"] == "alice" and r["lesson"] == "01"][0]["passed"] == "2"
    assert [r for r in rows if r["learner"] == "alice" and r["lesson"] == "01"][0]["total"] == str(lesson01)
    assert sum(int(r["total"]) for r in rows if r["learner"] == "bob") == len(progress.known_exercises())
    assert cli.main(["classroom", "progress", "--homes", str(homes)]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("alice")
    assert cli.main(["--lang", "zh", "classroom", "progress", "--homes", str(homes)]) == 0
    assert "学习者" in capsys.readouterr().out
    assert cli.main(["--lang", "en", "classroom", "progress", "--homes", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["classroom", "progress"])
    assert exit_.value.code == 2 and "--homes" in capsys.readouterr().err
