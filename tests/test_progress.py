"""The progress file (atomic, crash-safe), its summary and the lesson-00 widget."""

import json
from pathlib import Path

import pytest

from course_utils.course import progress


@pytest.fixture
def pfile(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "progress.json"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(path))
    return path


def test_record_and_statuses(pfile):
    progress.record("04.attention", "pending")
    assert progress.load()["exercises"]["04.attention"]["status"] == "pending"
    progress.record("04.attention", "failed")
    progress.record("04.attention", "passed")
    progress.record("04.attention", "pending")  # pending never overwrites an attempt
    entry = json.loads(pfile.read_text())["exercises"]["04.attention"]
    assert entry["status"] == "passed" and entry["attempts"] == 2 and "first_passed" in entry
    progress.record("04.attention", "failed")  # the latest real attempt counts
    assert progress.load()["exercises"]["04.attention"]["status"] == "failed"
    with pytest.raises(ValueError, match="status"):
        progress.record("04.attention", "great")


def test_write_is_atomic(pfile, monkeypatch):
    progress.record("01.weighted_sum", "passed")
    before = pfile.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(progress.json, "dump", crash)
    with pytest.raises(OSError):
        progress.record("01.soft_lookup", "passed")
    assert pfile.read_bytes() == before  # the old file is intact
    assert [p.name for p in pfile.parent.iterdir()] == ["progress.json"]  # no temp file left


def test_unreadable_file_is_kept_aside(pfile):
    pfile.parent.mkdir(parents=True)
    pfile.write_text("{not json")
    assert progress.load() == {"version": 1, "exercises": {}}
    assert any(p.name.startswith("progress.json.unreadable-") for p in pfile.parent.iterdir())
    progress.record("01.weighted_sum", "passed")
    assert progress.load()["exercises"]["01.weighted_sum"]["status"] == "passed"


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
    progress.record("04.attention", "passed")
    progress.record("04.self_attention", "failed")
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
    progress.record("04.attention", "passed")
    progress.record("04.fix_attention", "passed")
    w.button.click()  # the Refresh button re-reads the file
    assert w.bars["04"].value == 2 and w.labels["04"].value.startswith("2 / ")
    for ex_id in progress.summary()["01"]["exercises"]:
        progress.record(ex_id, "passed")
    w.refresh()
    assert w.bars["01"].bar_style == "success" and w.bars["02"].bar_style == ""
