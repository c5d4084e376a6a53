"""The exercise loop as a learner lives it, in JupyterLab: stub -> pending, answer -> passed,
known mistake -> the hint for that mistake.

Uses exercise 04.attention in exercises/04_self_attention.ipynb (a temporary copy is served).
"""

import re

import lab
import pytest

PATH = "exercises/04_self_attention.ipynb"
EXERCISE = "04.attention"
STUB = 'raise NotImplementedError("Exercise 04.attention'
CHECK = 'check("04.attention", attention)'

CORRECT = '''import math

def attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights
'''
# The classic mistake: no division by sqrt(d_k). The check must name it.
UNSCALED = CORRECT.replace(" / math.sqrt(q.size(-1))", "")


@pytest.fixture(scope="module")
def exercise_page(lab_server, lab_page):
    if not (lab.ROOT / PATH).exists():
        pytest.fail(f"{PATH} is missing (generate exercises with `python -m course_utils.course.build`)")
    page = lab_page
    try:
        lab.open_notebook(page, lab_server, PATH)
        lab.run_all(page, PATH, 180)
        yield page
    finally:
        lab.close_notebooks(page)
        lab_server.shutdown_kernels(PATH)  # the lessons started ahead run on


def test_stub_shows_pending(exercise_page):
    out = lab.cell_with_source(exercise_page, CHECK).locator(".jp-Cell-outputArea").inner_text()
    assert re.search(r"pending", out, re.I), f"{PATH}: check cell after Run All should say pending, shows:\n{out}"


def test_correct_answer_passes(exercise_page, screenshots_dir):
    page = exercise_page
    lab.replace_cell_source(page, lab.cell_with_source(page, STUB), CORRECT)
    lab.run_cell(page, lab.cell_with_source(page, "def attention(q, k, v, mask=None):"), PATH)
    check_cell = lab.cell_with_source(page, CHECK)
    out = lab.run_cell(page, check_cell, PATH)
    lab.cell_screenshot(page, check_cell, screenshots_dir / "exercise_04_attention_passed.png")
    assert f"{EXERCISE} passed" in out, f"{PATH}: a correct answer should pass, the check says:\n{out}"


def test_known_mistake_gets_its_hint(exercise_page, screenshots_dir):
    page = exercise_page
    answer = lab.cell_with_source(page, "def attention(q, k, v, mask=None):")
    lab.replace_cell_source(page, answer, UNSCALED)
    lab.run_cell(page, lab.cell_with_source(page, "def attention(q, k, v, mask=None):"), PATH)
    check_cell = lab.cell_with_source(page, CHECK)
    out = lab.run_cell(page, check_cell, PATH)
    lab.cell_screenshot(page, check_cell, screenshots_dir / "exercise_04_attention_hint.png")
    assert f"{EXERCISE} failed" in out, f"{PATH}: the unscaled answer should fail, the check says:\n{out}"
    assert "Hint:" in out and "√d_k" in out, f"{PATH}: expected the hint about dividing by √d_k, got:\n{out}"
