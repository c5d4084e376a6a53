"""The Chinese edition as its learner enters it: `make lab-zh` exactly as README.zh-CN.md says
(in a throw-away copy of the repository) opens the Chinese lesson 00, whose text is Chinese; its
link to exercise 04 opens the Chinese exercise notebook; after Run All the check cell says
待完成 (pending); a wrong answer typed into the exercise cell gets the Chinese verdict and hint.

Nothing here sets the language: the kernel speaks Chinese because its notebook lies in zh/.
Run with COURSE_LANG=en in the environment (which the kernels inherit) and the hint is English,
so the test fails.
"""

from __future__ import annotations

import re

import lab
import pytest
from test_entry_points import click_link, copy_checkout, wait_for_notebook
from test_exercise_loop import UNSCALED

LESSON_00 = "zh/notebooks/00_welcome.ipynb"
EXERCISE = "zh/exercises/04_self_attention.ipynb"
STUB = 'raise NotImplementedError("练习 04.attention'
ANSWER_CELL = "def attention(q, k, v, mask=None):"
CHECK = 'check("04.attention", attention)'
CJK = re.compile(r"[\u4e00-\u9fff]")


def readme_zh_command() -> str:
    """The make target README.zh-CN.md tells a learner to run for the Chinese edition."""
    text = (lab.ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    found = re.search(r"^\s*make (lab-zh)\b", text, re.M)
    assert found, "README.zh-CN.md no longer shows `make lab-zh` on a line of its own"
    return found.group(1)


@pytest.fixture(scope="module")
def lab_zh(tmp_path_factory):
    """JupyterLab started by `make lab-zh` in a copy of the repository (the browser is not
    opened by the server; the test's Chromium goes to the server's default page)."""
    base = tmp_path_factory.mktemp("lab_zh")
    checkout = copy_checkout(base / "checkout")
    state = base / "state"
    state.mkdir()
    server = lab.LabServer(checkout, state, command=["make", "--no-print-directory", readme_zh_command(),
                                                    "LAB_ARGS=--no-browser --port {port}"])
    try:
        server.start()
        yield server
    finally:
        server.stop()


def chinese_share(text: str) -> float:
    """The share of Chinese characters among the letters of `text` (Latin letters and CJK)."""
    cjk = len(CJK.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return cjk / max(cjk + latin, 1)


def test_make_lab_zh_opens_chinese_lesson_00_and_a_wrong_answer_gets_a_chinese_hint(lab_zh, browser,
                                                                                      screenshots_dir):
    page = browser.new_page(viewport=dict(lab.VIEWPORT))
    try:
        page.goto(f"{lab_zh.url}/?token={lab_zh.token}", wait_until="domcontentloaded")
        wait_for_notebook(page, LESSON_00)  # the server's default page is the Chinese lesson 00
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        first = panel.locator(".jp-RenderedMarkdown").first
        first.wait_for(timeout=30_000)
        heading = first.inner_text()
        prose = "\n".join(panel.locator(".jp-RenderedMarkdown").all_inner_texts())
        assert CJK.search(heading), f"{LESSON_00}: its first cell is not Chinese:\n{heading[:300]}"
        assert chinese_share(prose) > 0.5, \
            f"{LESSON_00}: the rendered text is mostly not Chinese ({chinese_share(prose):.0%}):\n{prose[:500]}"

        click_link(page, LESSON_00, EXERCISE)  # the lesson's table links to the Chinese exercises
        wait_for_notebook(page, EXERCISE)
        lab.run_all(page, EXERCISE, 180)
        check_cell = lab.cell_with_source(page, CHECK)
        out = check_cell.locator(".jp-Cell-outputArea").inner_text()
        assert "待完成" in out and "pending" not in out, \
            f"{EXERCISE}: after Run All the check cell should say 待完成, it says:\n{out}"

        # The classic mistake, typed in place of the stub: no division by √d_k.
        lab.replace_cell_source(page, lab.cell_with_source(page, STUB), UNSCALED)
        lab.run_cell(page, lab.cell_with_source(page, ANSWER_CELL), EXERCISE)
        out = lab.run_cell(page, check_cell, EXERCISE)
        lab.cell_screenshot(page, check_cell, screenshots_dir / "zh_exercise_04_attention_hint.png")
        assert "04.attention 未通过" in out, f"{EXERCISE}: the unscaled answer should fail in Chinese:\n{out}"
        assert "提示：" in out, f"{EXERCISE}: no Chinese hint (提示：) in the check's answer:\n{out}"
        hint = out.split("提示：", 1)[1]
        assert "√d_k" in hint and chinese_share(hint) > 0.5, \
            f"{EXERCISE}: the hint should be the Chinese one about dividing by √d_k, got:\n{hint}"
        assert "Hint" not in out and "failed" not in out, f"{EXERCISE}: English in the Chinese check:\n{out}"
    finally:
        lab.close_notebooks(page)
        lab_zh.shutdown_kernels()
        page.close()
