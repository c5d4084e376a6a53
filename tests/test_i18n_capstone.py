"""The capstone in Chinese: its parts table lines up with Chinese cells (a Chinese character takes two
columns), a failing part's reason is in the learner's language even when it is cut short, and the
graders' feedback shows literal braces once."""

import torch

from course_utils.base.i18n import display_width as _width
from course_utils.course.capstone import Parts, gather_parts
from course_utils.course.checks import check


def _rows(used_where):
    return [{"part": f"part{i}", "exercise": f"0{i}.x", "used": used, "where": where, "status": "passed",
             "why": f"MARK{i}"} for i, (used, where) in enumerate(used_where)]


def test_the_parts_table_lines_up_in_chinese(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "zh")
    rows = _rows([("course", ""), ("yours", "here"), ("yours", "08_building_the_transformer.ipynb")])
    table = Parts({}, rows).table()
    assert "部件" in table and "课程的" in table and "你的（本笔记本）" in table, table
    lines = table.splitlines()
    starts = [_width(line[:line.index("原因")]) for line in lines[:1]]
    starts += [_width(line[:line.index(f"MARK{i}")]) for i, line in enumerate(lines[1:])]
    assert len(set(starts)) == 1, table  # the reasons start in one column on screen


def test_a_failing_parts_reason_is_in_the_learners_language(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "zh")
    monkeypatch.setenv("COURSE_NO_PROGRESS", "1")

    def layer_norm(x, gamma, beta, eps=1e-5):  # the unbiased variance: 08.layer_norm names the mistake
        return (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True) + eps).sqrt() * gamma + beta

    parts = gather_parts({"layer_norm": layer_norm}, exercises=None)
    row = next(r for r in parts.rows if r["part"] == "layer_norm")
    shown = parts.table()
    assert row["used"] == "course" and "你在本笔记本里定义的版本：未通过 08.layer_norm" in shown, shown
    assert "无偏方差" in shown and "unbiased variance" not in shown, shown  # the hint, cut to 120 characters
    monkeypatch.setenv("COURSE_LANG", "en")
    english = gather_parts({"layer_norm": layer_norm}, exercises=None).table()
    assert "yours (defined here): fails 08.layer_norm" in english and "unbiased variance" in english, english


def test_literal_braces_are_shown_once(monkeypatch):
    for lang in ("en", "zh"):
        monkeypatch.setenv("COURSE_LANG", lang)
        shown = repr(check("11.train", torch.zeros(1)))
        assert "{'model': ...," in shown and "{{" not in shown, shown
