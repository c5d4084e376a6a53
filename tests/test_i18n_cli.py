"""The `course` command in Chinese: argparse's usage, help and errors, the tables of `course check`
and `course progress` (aligned by display width: a Chinese character takes two columns), the
language picked from a zh/ notebook path, and Chinese punctuation in the Chinese catalogue."""

import argparse
import os
import re
from pathlib import Path

import polib
import pytest

from course_utils.base.i18n import catalogue_path, display_width, msg
from course_utils.course import cli, grading, progress

REPO = Path(__file__).resolve().parents[1]
CJK = r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]"


@pytest.fixture
def clean_env(monkeypatch):
    """No language from the environment; `course` sets COURSE_LANG, restored afterwards."""
    monkeypatch.setenv("COURSE_LANG", "")
    for var in ("LANG", "LC_ALL", "LC_MESSAGES", "JPY_SESSION_NAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(REPO)
    return monkeypatch


def run(argv, capsys) -> tuple[int, str, str]:
    """`course ARGV` as a fresh process would run it (the last command's COURSE_LANG forgotten)."""
    os.environ["COURSE_LANG"] = ""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_is_chinese_with_lang_zh_and_english_otherwise(clean_env, capsys):
    code, out, _ = run(["--lang", "zh", "--help"], capsys)
    assert code == 0
    assert out.startswith("用法：course") and "\n选项：\n" in out and "显示这条帮助信息并退出" in out
    assert "根据 solutions/ 生成 exercises/" in out  # the subcommands' help
    assert not re.search(r"usage:|options:|show this help|exercises per lesson", out), out
    code, out, _ = run(["check", "--help"], capsys)
    assert out.startswith("usage: course check") and "\noptions:\n" in out and "the notebook to grade" in out
    assert not re.search(CJK, out), out
    assert argparse._("usage: ") == "usage: "  # argparse speaks English again after the command


def test_argparse_errors_follow_the_notebooks_edition(clean_env, capsys):
    code, _, err = run(["reset", "zh/exercises/04_self_attention.ipynb"], capsys)  # --id is missing
    assert code == 2
    assert "course reset：错误：缺少必需的参数：--id" in err and err.startswith("用法：course reset"), err
    code, _, err = run(["reset", "exercises/04_self_attention.ipynb"], capsys)
    assert code == 2 and "course reset: error: the following arguments are required: --id" in err, err
    code, _, err = run(["--lang", "zh", "progress", "--bogus"], capsys)
    assert code == 2 and "无法识别的参数：--bogus" in err, err
    code, _, err = run(["--lang", "zh", "check", "no-such.ipynb"], capsys)
    assert code == 2 and "参数 notebook：no-such.ipynb：" in err, err


def test_the_locale_picks_chinese(clean_env, capsys):
    clean_env.setenv("LANG", "zh_CN.UTF-8")
    code, _, err = run(["check", "no-such.ipynb"], capsys)
    assert code == 2 and "错误" in err and "error" not in err, err


def test_course_check_lines_are_chinese_for_a_chinese_notebook(clean_env, capsys):
    code, _, err = run(["check", "zh/notebooks/00_welcome.ipynb", "--id", "99.x"], capsys)
    assert code == 2
    want = "course check：zh/notebooks/00_welcome.ipynb 中没有练习 '99.x'；它的练习有：01.weighted_sum"
    assert err.strip() == want, err
    code, _, err = run(["reset", "zh/exercises/04_self_attention.ipynb", "--id", "04.nope"], capsys)  # nothing written
    assert code == 2 and "它的练习是：04.attention，04.fix_attention，" in err, err  # a Chinese list comma
    code, _, err = run(["reset", "exercises/04_self_attention.ipynb", "--id", "04.nope"], capsys)
    assert code == 2 and "its exercises are: 04.attention, 04.fix_attention, " in err, err


def _column_starts(line: str, cells) -> list[int]:
    return [display_width(line[:line.index(cell)]) for cell in cells]


def test_the_check_table_lines_up_in_chinese():
    rows = [("04.attention", "passed", msg("not reached")), ("04.fix_attention", "failed", "D1"),
            ("04.self_attention", "pending", "D2"), (msg("cell {n}", n=12), "timeout", "D3")]
    zh = grading.format_table(rows, "zh").splitlines()
    assert zh[0].split() == ["练习", "状态", "详情"] and "第 12 个单元格" in zh[5]
    words = ["通过", "未通过", "待完成", "超时"]
    details = ["没有运行到", "D1", "D2", "D3"]
    starts = {tuple(_column_starts(line, [w, d])) for line, w, d in zip(zh[1 + 1:], words, details)}
    assert len(starts) == 1, "\n".join(zh)  # every status and every detail starts in the same column
    assert _column_starts(zh[0], ["状态", "详情"]) == list(next(iter(starts)))
    en = grading.format_table(rows, "en")
    assert "passed" in en and "not reached" in en and not re.search(CJK, en)


def test_the_progress_table_lines_up_in_chinese(clean_env):
    clean_env.setenv("COURSE_LANG", "zh")
    summary = {nn: {"title": title, "passed": 1, "total": 3, "failing_now": {}}
               for nn, title in list(progress.LESSONS.items())[:4]}
    lines = progress.format_summary(summary).splitlines()
    assert "合计" in lines[-1]
    assert len({display_width(line[:line.index("[")]) for line in lines}) == 1, "\n".join(lines)


def chinese_punctuation_problems(entries) -> list[str]:
    """Chinese text joined with English punctuation: "提示: ", "键 0, 键 1", "缺少 ;"."""
    bad = re.compile(rf"{CJK}[,:;!?](\s|$)|[,:;!?]\s+{CJK}")
    return [f"{e.msgid!r} -> {e.msgstr!r}" for e in entries if e.msgstr and bad.search(e.msgstr)]


def test_the_chinese_catalogue_uses_chinese_punctuation():
    po = polib.pofile(str(catalogue_path("zh")))
    problems = chinese_punctuation_problems(e for e in po if not e.obsolete)
    assert not problems, "\n".join(problems)
    sample = [polib.POEntry(msgid="Hint: {h}", msgstr="提示: {h}"), polib.POEntry(msgid="a, b", msgstr="甲, 乙"),
              polib.POEntry(msgid="Hint: {h}", msgstr="提示：{h}"), polib.POEntry(msgid="{e}: {v}", msgstr="{e}: {v}")]
    assert len(chinese_punctuation_problems(sample)) == 2
