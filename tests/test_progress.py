"""The progress file (locked, atomic, self-repairing), its summary and the lesson-00 widget."""

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from course_utils.course import progress


@pytest.fixture(autouse=True)
def _language_restored(monkeypatch):
    """English unless a test says otherwise; `course` puts the language in $COURSE_LANG for what it
    starts, which is undone after each test."""
    monkeypatch.setenv("COURSE_LANG", "en")


@pytest.fixture
def pfile(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "progress.json"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(path))
    return path


def test_record_and_statuses(pfile):
    progress.save_result("04.attention", "pending")
    assert progress.load()["exercises"]["04.attention"]["status"] == "pending"
    progress.save_result("04.attention", "failed")
    progress.save_result("04.attention", "passed")
    progress.save_result("04.attention", "pending")  # pending never overwrites an attempt
    entry = json.loads(pfile.read_text())["exercises"]["04.attention"]
    assert entry["status"] == "passed" and entry["attempts"] == 2 and "first_passed" in entry
    progress.save_result("04.attention", "failed")  # the latest real attempt counts
    assert progress.load()["exercises"]["04.attention"]["status"] == "failed"
    with pytest.raises(ValueError, match="status"):
        progress.save_result("04.attention", "great")


def test_write_is_atomic_and_a_failed_write_is_reported(pfile, monkeypatch, capsys):
    progress.save_result("01.weighted_sum", "passed")
    before = pfile.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(progress.json, "dump", crash)
    progress.save_result("01.soft_lookup", "passed")  # no exception: a check never breaks over progress
    err = capsys.readouterr().err
    assert "01.soft_lookup (passed) was NOT saved" in err and "disk full" in err
    assert pfile.read_bytes() == before  # the old file is intact
    assert sorted(p.name for p in pfile.parent.iterdir()) == ["progress.json", "progress.json.lock"]  # no temp file


def _hammer(path, worker, n):
    os.environ["COURSE_PROGRESS_FILE"] = str(path)
    for i in range(n):
        progress.save_result(f"99.w{worker}_{i}", "passed")
        progress.save_result("99.shared", "failed")


def test_concurrent_writers_keep_every_result(pfile):
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_hammer, args=(pfile, w, 40)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    exercises = progress.load()["exercises"]
    assert len([k for k in exercises if k.startswith("99.w")]) == 160  # 4 processes x 40 results, none lost
    assert exercises["99.shared"]["attempts"] == 160


def test_unreadable_file_is_moved_aside_with_a_unique_name(pfile, capsys):
    pfile.parent.mkdir(parents=True)
    names = set()
    for text in ("{not json", "[1, 2]", '{"exercises": "all passed"}', "\udcff".encode("utf-8", "surrogatepass")):
        pfile.write_bytes(text if isinstance(text, bytes) else text.encode())
        assert progress.load() == {"version": 1, "exercises": {}}
        err = capsys.readouterr().err
        aside = [p for p in pfile.parent.iterdir() if p.name.startswith("progress.json.unreadable-")]
        new = {p.name for p in aside} - names
        assert len(new) == 1, "each unreadable file gets its own backup (same second included)"
        names |= new
        assert str(pfile.parent / new.pop()) in err and "moved to" in err  # the learner is told where
    assert not pfile.exists()
    progress.save_result("01.weighted_sum", "passed")
    assert progress.load()["exercises"]["01.weighted_sum"]["status"] == "passed"


def test_wrong_shaped_entries_are_repaired_or_dropped_with_a_message(pfile, capsys):
    pfile.parent.mkdir(parents=True)
    good = {"status": "passed", "attempts": 2, "last_checked": "2026-01-01T00:00:00+00:00"}
    pfile.write_text(json.dumps({"version": 1, "exercises": {
        "04.attention": "passed", "04.fix_attention": None, "04.self_attention": {"status": "great"},
        "05.split_heads": {"status": "failed", "attempts": -1}, "05.heads": {"status": "PASSED", "attempts": "3"},
        "06.causal": {"status": "passed", "attempts": 1, "first_passed": 5}, "01.weighted_sum": good}}))
    original = pfile.read_text()
    expected = {"01.weighted_sum": good, "04.attention": {"status": "passed", "attempts": 1},
                "05.split_heads": {"status": "failed", "attempts": 1}, "05.heads": {"status": "passed", "attempts": 3},
                "06.causal": {"status": "passed", "attempts": 1}}
    assert progress.load()["exercises"] == expected  # a passed exercise is never lost to a bad field
    err = capsys.readouterr().err
    assert "repaired 4 entries" in err and "04.attention" in err
    assert "dropped 2 entries" in err and "04.fix_attention" in err and "04.self_attention" in err
    kept = [p for p in pfile.parent.iterdir() if p.name.startswith("progress.json.repaired-")]
    assert len(kept) == 1 and kept[0].read_text() == original and str(kept[0]) in err
    assert json.loads(pfile.read_text())["exercises"] == expected  # repaired once
    progress.summary()  # no crash, no second message
    assert capsys.readouterr().err == ""


def test_a_special_file_as_progress_file_is_never_moved_or_replaced(monkeypatch, capsys):
    """Like COURSE_PROGRESS_FILE=/dev/null: a socket stands in for the device (never touch the real one)."""
    import shutil
    import socket
    import tempfile

    if not hasattr(socket, "AF_UNIX"):
        pytest.skip("no Unix sockets here")
    folder = Path(tempfile.mkdtemp(prefix="cp-"))  # short: socket paths are limited to ~100 bytes
    special = folder / "progress.json"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(special))
        before = os.stat(special)
        monkeypatch.setenv("COURSE_PROGRESS_FILE", str(special))
        assert progress.load()["exercises"] == {}
        progress.save_result("04.attention", "passed")
        err = capsys.readouterr().err
        assert "not a regular file" in err and "NOT saved" in err
        after = os.stat(special)
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
        assert sorted(p.name for p in folder.iterdir()) == ["progress.json"]  # no lock, nothing moved aside
    finally:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_reading_progress_makes_no_folder(tmp_path, monkeypatch):
    path = tmp_path / "missing" / "deeper" / "progress.json"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(path))
    assert progress.summary()["04"]["passed"] == 0
    assert not (tmp_path / "missing").exists()
    progress.save_result("04.attention", "passed")  # writing makes it
    assert json.loads(path.read_text())["exercises"]["04.attention"]["status"] == "passed"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_folder_says_results_are_not_saved(pfile, capsys):
    pfile.parent.mkdir(parents=True)
    progress.save_result("01.weighted_sum", "passed")
    os.chmod(pfile.parent, 0o555)
    try:
        progress.save_result("01.soft_lookup", "passed")
        err = capsys.readouterr().err
        assert "01.soft_lookup (passed) was NOT saved" in err and str(pfile) in err
        assert progress.load()["exercises"]["01.weighted_sum"]["status"] == "passed"
    finally:
        os.chmod(pfile.parent, 0o755)


def test_read_only_file_says_results_are_not_saved(tmp_path, monkeypatch, capsys):
    """Also as root: a progress path whose folder is a file cannot be written by anyone."""
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(blocker / "progress.json"))
    progress.save_result("01.soft_lookup", "passed")
    assert "was NOT saved" in capsys.readouterr().err
    assert progress.load()["exercises"] == {}


def test_reset_makes_an_exercise_pending_again(pfile):
    progress.save_result("04.attention", "passed")
    entry = progress.reset("04.attention")
    assert entry["status"] == "pending" and entry["attempts"] == 1 and "first_passed" not in entry
    assert progress.summary()["04"]["exercises"]["04.attention"] == "pending"
    assert progress.reset("04.never_checked") is None


def test_where_the_file_lives(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_PROGRESS_FILE", raising=False)
    course = tmp_path / "course"
    (course / "course_utils").mkdir(parents=True)
    (course / "notebooks").mkdir()
    (course / "exercises").mkdir()
    monkeypatch.chdir(course / "exercises")
    assert progress.progress_path() == course / ".course" / "progress.json"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert progress.progress_path() == tmp_path / "home" / ".attention-course" / "progress.json"


def test_summary_counts_registered_exercises(pfile):
    progress.save_result("04.attention", "passed")
    progress.save_result("04.self_attention", "failed")
    s = progress.summary()
    assert s["04"]["passed"] == 1 and s["04"]["total"] >= 4
    assert s["04"]["exercises"]["04.self_attention"] == "failed"
    assert s["01"]["passed"] == 0 and s["01"]["exercises"]["01.weighted_sum"] == "pending"
    text = progress.format_summary(s)
    assert "04 Self-attention" in text and f"1/{s['04']['total']}" in text
    assert progress.bar(1, 4, width=8) == "[##------]" and progress.bar(0, 0, width=4) == "[----]"


def test_widget_headless(pfile):
    w = progress.progress_widget()
    assert w.bars["04"].value == 0 and w.labels["04"].value.startswith("0 / ")
    progress.save_result("04.attention", "passed")
    progress.save_result("04.fix_attention", "passed")
    w.button.click()  # the Refresh button re-reads the file
    assert w.bars["04"].value == 2 and w.labels["04"].value.startswith("2 / ")
    for ex_id in progress.summary()["01"]["exercises"]:
        progress.save_result(ex_id, "passed")
    w.refresh()
    assert w.bars["01"].bar_style == "success" and w.bars["02"].bar_style == ""


def _exercise_nb(path, generated_from, **meta):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": [], "metadata": {"course": {"generated_from": generated_from, **meta}},
                                "nbformat": 4, "nbformat_minor": 5}))
    return path


def _checkout(tmp_path) -> Path:
    root = tmp_path / "course"
    for folder in ("course_utils", "notebooks", "solutions", "exercises"):
        (root / folder).mkdir(parents=True)
    return root


def test_only_the_exercise_notebook_itself_records(pfile, tmp_path, monkeypatch, capsys):
    root = _checkout(tmp_path)
    exercise = _exercise_nb(root / "exercises" / "04_self_attention.ipynb", "solutions/04_self_attention.ipynb")
    copy = _exercise_nb(root / "exercises" / "04_self_attention-Copy1.ipynb", "solutions/04_self_attention.ipynb")
    elsewhere = _exercise_nb(tmp_path / "scratch" / "04_self_attention.ipynb", "solutions/04_self_attention.ipynb")
    solution = root / "solutions" / "04_self_attention.ipynb"
    solution.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert progress.file_for(exercise) == pfile
    assert not any(map(progress.file_for, (copy, elsewhere, solution, root / "exercises" / "missing.ipynb")))

    monkeypatch.setenv("JPY_SESSION_NAME", str(exercise))  # a kernel Jupyter started for the exercise
    progress.record("04.attention", "passed")
    for other in (copy, solution, elsewhere):
        monkeypatch.setenv("JPY_SESSION_NAME", str(other))  # ... and for a scratch copy, a solution
        assert progress.record("04.attention", "failed") is None
        progress.record("04.attention", "failed")
        assert capsys.readouterr().err.count(f"checked in {other.name} are not recorded") == 1  # said once
    assert progress.load()["exercises"]["04.attention"]["status"] == "passed"


def test_a_kernel_that_does_not_say_its_notebook_records_nothing(pfile, tmp_path, monkeypatch, capsys):
    """nbconvert, papermill and scripts set neither $JPY_SESSION_NAME nor VS Code's __vsc_ipynb_file__."""
    monkeypatch.setattr(progress, "_told", set())
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert progress.kernel_notebook() is None
    assert progress.record("04.attention", "passed") is None and progress.record("04.attention", "failed") is None
    assert not pfile.exists()
    assert capsys.readouterr().err.count("does not say which notebook it runs") == 1  # said once
    root = _checkout(tmp_path)
    exercise = _exercise_nb(root / "exercises" / "04_self_attention.ipynb", "solutions/04_self_attention.ipynb")
    assert progress.record("04.attention", "passed", notebook=exercise)["status"] == "passed"


def test_vs_code_names_its_notebook_in_the_kernel(tmp_path, monkeypatch):
    import IPython

    class Shell:
        user_ns = {"__vsc_ipynb_file__": str(tmp_path / "exercises" / "04_self_attention.ipynb")}

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    assert progress.kernel_notebook() == tmp_path / "exercises" / "04_self_attention.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", "04_self_attention.ipynb")  # relative: in the kernel's folder
    monkeypatch.chdir(tmp_path)
    assert progress.kernel_notebook() == tmp_path / "04_self_attention.ipynb"


def test_the_chinese_edition_shares_the_progress_file(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_PROGRESS_FILE", raising=False)
    root = _checkout(tmp_path)
    zh = _exercise_nb(root / "zh" / "exercises" / "04_self_attention.ipynb", "zh/solutions/04_self_attention.ipynb")
    en = _exercise_nb(root / "exercises" / "04_self_attention.ipynb", "solutions/04_self_attention.ipynb")
    assert progress.file_for(zh) == progress.file_for(en) == root / ".course" / "progress.json"
    progress.record("04.attention", "passed", notebook=zh)
    assert progress.load(root / ".course" / "progress.json")["exercises"]["04.attention"]["status"] == "passed"


def test_a_folder_in_place_of_the_file_is_not_moved(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "progress.json"
    (folder / "inside").mkdir(parents=True)
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(folder))
    assert progress.load() == {"version": 1, "exercises": {}}
    progress.save_result("01.weighted_sum", "passed")
    err = capsys.readouterr().err
    assert "is a folder" in err and "NOT saved" in err
    assert (folder / "inside").is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["progress.json",
                                                                                          "progress.json.lock"]


def test_a_linked_progress_file_stays_a_link(tmp_path, monkeypatch):
    real = tmp_path / "synced" / "progress.json"
    real.parent.mkdir()
    link = tmp_path / "progress.json"
    link.symlink_to(real)
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(link))
    progress.save_result("01.weighted_sum", "passed")
    assert link.is_symlink() and json.loads(real.read_text())["exercises"]["01.weighted_sum"]["status"] == "passed"



@pytest.mark.parametrize("make", ["loop", "too_long", "no_such_home"])
def test_an_unusable_progress_path_is_a_message_not_a_traceback(tmp_path, monkeypatch, capsys, make):
    monkeypatch.chdir(tmp_path)  # a path used as written lands here
    if make == "loop":
        path = tmp_path / "progress.json"
        path.symlink_to(path.name)  # a link to itself
    elif make == "too_long":
        path = tmp_path / ("x" * 300)
    else:
        path = "~no-such-user-here/progress.json"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(path))
    assert progress.summary()["04"]["passed"] == 0
    progress.save_result("04.attention", "passed")
    err = capsys.readouterr().err
    assert "course progress:" in err or make == "no_such_home"  # that one is used as written: a relative path


# ----------------------------------------------------------------------------- nothing lost, nothing hangs

def test_an_unopenable_lock_file_falls_back_to_a_lock_that_works(pfile):
    """The lock file is a folder (it cannot be opened): four writers still keep all 120 results."""
    pfile.parent.mkdir(parents=True)
    (pfile.parent / "progress.json.lock").mkdir()
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_hammer, args=(pfile, w, 30)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    exercises = progress.load()["exercises"]
    assert len([k for k in exercises if k.startswith("99.w")]) == 120
    assert exercises["99.shared"]["attempts"] == 120


def test_no_lock_anywhere_is_said_and_nothing_is_written(pfile, monkeypatch, capsys):
    pfile.parent.mkdir(parents=True)
    (pfile.parent / "progress.json.lock").mkdir()
    blocker = pfile.parent / "a_file"
    blocker.write_text("x")
    monkeypatch.setattr(progress.tempfile, "gettempdir", lambda: str(blocker))  # no folder can be made there
    assert progress.save_result("01.weighted_sum", "passed") is None
    err = capsys.readouterr().err
    assert "01.weighted_sum (passed) was NOT saved" in err and "no lock file could be opened" in err
    assert not pfile.exists()


def _hold_lock(path, ready, release):
    import fcntl

    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    ready.set()
    release.wait(120)


def test_reading_never_waits_for_a_writer_and_a_write_times_out_with_a_message(pfile, monkeypatch, capsys):
    import signal

    from course_utils.course import cli

    def waited(*args):
        raise TimeoutError("`course progress` waited for the lock")

    progress.save_result("04.attention", "passed")
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(pfile, ready, release))
    holder.start()
    before = signal.signal(signal.SIGALRM, waited)
    try:
        assert ready.wait(30)
        signal.alarm(30)
        assert cli.main(["progress"]) == 0
        signal.alarm(0)
        out = capsys.readouterr().out
        assert "04 Self-attention" in out and " 1/4" in out
        monkeypatch.setattr(progress, "LOCK_TIMEOUT", 0.3)
        assert progress.save_result("04.self_attention", "passed") is None
        err = capsys.readouterr().err
        assert "04.self_attention (passed) was NOT saved" in err and "held the progress file's lock" in err
        assert "writable" not in err  # not the advice for a folder that cannot be written
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
        release.set()
        holder.join(30)
    assert progress.save_result("04.self_attention", "passed")["status"] == "passed"  # once the lock is free


def test_deeply_nested_brackets_are_moved_aside_with_the_right_message(pfile, capsys):
    pfile.parent.mkdir(parents=True)
    pfile.write_text("[" * 100_000 + "]" * 100_000)
    progress.save_result("01.weighted_sum", "passed")
    err = capsys.readouterr().err
    aside = [p for p in pfile.parent.iterdir() if p.name.startswith("progress.json.unreadable-")]
    assert len(aside) == 1 and str(aside[0]) in err and "nested too deeply" in err
    assert "NOT saved" not in err and "writable" not in err
    assert progress.load()["exercises"]["01.weighted_sum"]["status"] == "passed"
    pfile.write_text("{" * 100_000)  # read by `course progress`: moved aside too
    assert progress.summary()["01"]["passed"] == 0
    assert "moved to" in capsys.readouterr().err


def test_a_pass_then_a_failure_shows_both(pfile, capsys):
    from course_utils.course import cli

    progress.save_result("04.attention", "passed")
    progress.save_result("04.attention", "failed")
    entry = progress.load()["exercises"]["04.attention"]
    assert entry["status"] == "failed" and entry["last_passed"] and entry["first_passed"]
    today = entry["last_passed"][:10]
    s = progress.summary()
    assert s["04"]["passed"] == 0 and s["04"]["failing_now"] == {"04.attention": today}
    assert cli.main(["progress"]) == 0
    out = capsys.readouterr().out
    assert "Passed before, failing now" in out and f"04.attention: passed on {today}, failing now" in out
    assert cli.main(["progress", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lessons"]["04"]["failing_now"] == {"04.attention": today}
    progress.save_result("04.attention", "passed")
    assert progress.summary()["04"]["failing_now"] == {}
    w = progress.progress_widget()
    progress.save_result("04.attention", "failed")
    w.refresh()
    assert "1 passed before, failing now" in w.labels["04"].value


def test_an_older_progress_file_loads_as_it_is(pfile):
    pfile.parent.mkdir(parents=True)
    old = {"version": 1, "exercises": {
        "04.attention": {"status": "failed", "attempts": 3, "first_passed": "2026-01-02T10:00:00+00:00",
                         "last_checked": "2026-01-05T10:00:00+00:00"},
        "05.split_heads": {"status": "passed", "attempts": 1, "first_passed": "2026-01-03T10:00:00+00:00"}}}
    pfile.write_text(json.dumps(old))
    assert progress.load()["exercises"] == old["exercises"]
    s = progress.summary()
    assert s["04"]["failing_now"] == {"04.attention": "2026-01-02"} and s["05"]["passed"] == 1
    assert pfile.read_text() == json.dumps(old)  # read, not rewritten


def test_the_table_speaks_the_learner_s_language(pfile, monkeypatch):
    from course_utils.base import i18n

    monkeypatch.setattr(i18n, "_CATALOGUES", {"zh": {"Masks": "掩码", "Total": "合计"}.get})
    monkeypatch.setenv("COURSE_LANG", "zh")
    text = progress.format_summary(progress.summary())
    assert "06 掩码" in text and "合计" in text
    rows = [line for line in text.splitlines() if line[:2] in ("05", "06")]
    assert rows[0].index("[") == rows[1].index("[") + 2  # two columns per Chinese character: the bars line up
