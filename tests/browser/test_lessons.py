"""Every lesson, run through JupyterLab's UI in Chromium; every widget, moved by keyboard or mouse.

For each lesson in notebooks/: open it, Run All, wait for the kernel, save, and fail on an error
output or a cell left unexecuted; take a screenshot (artifacts/screenshots/). Then, for a lesson
that shows widgets, change each control as a learner would and require that what it drives
(the text and figures in the cell's output, not the control's own read-out) changes.
"""

import time
from dataclasses import dataclass, field

import lab
import nbformat
import pytest

EXPECTED_LESSONS = [
    "00_welcome", "01_attention_intuition", "02_rnns_to_attention",
    "03_tokens_embeddings_positions", "04_self_attention", "05_multi_head_attention", "06_masks",
    "07_cross_attention", "08_building_the_transformer", "09_training", "10_inference", "11_capstone",
]
# lab.AHEAD_LESSONS start at the beginning of the session in tabs of their own (conftest's
# started_ahead) and are checked last.
AHEAD = lab.AHEAD_LESSONS
RUN_TIMEOUT_S = {"09_training": 600, "10_inference": 600}
DEFAULT_RUN_TIMEOUT_S = 180
# Text to type into a lesson's text boxes, and what the output must then show (default: the
# box's text reversed, and any change). The boxes of lessons 08 (step-through) and 10 (translate)
# take a sentence of the toy grammar.
TEXT_INPUT = {"08_building_the_transformer": ("nine clever farmers push the dog .", "→"),
              "10_inference": ("nine clever farmers push the dog .", "→")}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
CONTROL_MODELS = {"FloatSliderModel", "IntSliderModel", "SelectionSliderModel", "FloatLogSliderModel",
                  "DropdownModel", "TextModel", "TextareaModel", "CheckboxModel",
                  "ToggleButtonsModel", "RadioButtonsModel"}

present = sorted(p.stem for p in (lab.ROOT / "notebooks").glob("*.ipynb"))
LESSONS = sorted(present, key=lambda name: (AHEAD.index(name) if name in AHEAD else -1, name))


def shows_widgets(name: str) -> bool:
    """Whether the committed lesson displays a control a learner can change.

    Judged from the widget state stored with the notebook (a progress bar is a widget too, but
    nothing to move); a notebook stored without widget state counts if it shows any widget view.
    """
    nb = nbformat.read(lab.ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE_MIME, {}).get("state")
    if state:
        return any(m.get("model_name") in CONTROL_MODELS for m in state.values())
    return any(WIDGET_MIME in out.get("data", {})
               for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", []))


@dataclass
class LessonRun:
    name: str
    page: object
    seconds: float = 0.0
    problems: list = field(default_factory=list)
    ahead: bool = False  # its Run All was started as the session began, in a tab of its own


def test_all_lessons_exist():
    missing = [name for name in EXPECTED_LESSONS if name not in present]
    assert not missing, f"lesson notebooks missing from notebooks/: {missing}"
    extra = [name for name in present if name not in EXPECTED_LESSONS]
    assert not extra, f"unexpected notebooks in notebooks/ (not in the course map): {extra}"


@pytest.fixture(scope="module", params=LESSONS)
def lesson(request, lab_server, lab_page, started_ahead):
    """Open the lesson, Run All through the UI, save; shared by the run and widget tests."""
    name = request.param
    path = f"notebooks/{name}.ipynb"
    ahead = started_ahead.get(name)
    page = ahead.page if ahead else lab_page
    run = LessonRun(name, page, ahead=bool(ahead))
    try:
        timeout = RUN_TIMEOUT_S.get(name, DEFAULT_RUN_TIMEOUT_S)
        if ahead:
            if ahead.error:
                raise ahead.error
            lab.finish_run_all(page, path, timeout)
            run.seconds = time.monotonic() - ahead.started
        else:
            lab.open_notebook(page, lab_server, path)
            run.seconds = lab.run_all(page, path, timeout)
        nb = lab.save(page, lab_server, path)
        run.problems = lab.run_problems(nb, path) + [
            f"{path}: widget failed to render: {t!r}" for t in lab.widget_render_errors(page)]
    except Exception as exc:  # keep the page for the screenshot; the test reports the failure
        run.problems.append(f"{path}: {type(exc).__name__}: {exc}")
    try:
        yield run
    finally:
        lab.close_notebooks(page)
        lab_server.shutdown_kernels(path)  # this lesson's kernel: the ones started ahead run on


def test_lesson_runs_in_jupyterlab(lesson, screenshots_dir):
    try:
        lab.screenshot(lesson.page, screenshots_dir / f"{lesson.name}.png")
    except Exception as exc:  # a screenshot must not hide the real result
        lesson.problems.append(f"screenshot failed: {exc}")
    print(f"{lesson.name}: run-all took {lesson.seconds:.1f} s in the browser"
          + (" (started ahead, in a tab of its own)" if lesson.ahead else ""))
    assert not lesson.problems, "\n".join(lesson.problems)


def test_lesson_widgets_respond(lesson, screenshots_dir):
    expected = shows_widgets(lesson.name)
    cells = lab.cells_with_controls(lesson.page)
    if not expected and not cells:
        pytest.skip(f"{lesson.name} shows no widget")
    if lesson.problems:
        pytest.fail(f"{lesson.name} did not run cleanly, so its widgets were not tried: {lesson.problems[0]}")
    assert cells, (f"{lesson.name}: the committed notebook displays a widget, but no control "
                   f"(slider, dropdown, text box, checkbox) rendered in JupyterLab")
    failures, tried = [], []
    code = lab.code_cells(lesson.page)
    for i in cells:
        cell = code.nth(i)
        controls = cell.locator(lab.CONTROL_SELECTOR)
        for j in range(controls.count()):
            control = controls.nth(j)
            label = (control.locator(".widget-label").first.inner_text()
                     if control.locator(".widget-label").count() else "") or control.inner_text()[:40]
            text, expect = TEXT_INPUT.get(lesson.name, (None, None))
            before = lab.output_signature(cell)
            action = lab.operate(lesson.page, control, text)
            after = lab.wait_for_change(lesson.page, cell, before)
            tried.append(f"code cell {i + 1}, {label!r}: {action}")
            lab.stamp(f"code cell {i + 1}, {label!r}: output settled")
            if after is None:
                failures.append(f"{lesson.name}, code cell {i + 1}: control {label!r} ({action}) "
                                f"changed nothing in the cell's output within 60 s")
            elif lab.images_of(before).strip() and lab.images_of(after) == lab.images_of(before):
                failures.append(f"{lesson.name}, code cell {i + 1}: control {label!r} ({action}) "
                                f"changed the text but not the figure")
            elif action.startswith("text box") and expect and expect not in after:
                failures.append(f"{lesson.name}, code cell {i + 1}: after {action}, the output does not "
                                f"show {expect!r}:\n{after[:500]}")
        lab.cell_screenshot(lesson.page, cell, screenshots_dir / f"{lesson.name}_widget_cell{i + 1}.png")
    print("\n".join(tried))
    assert not failures, "\n".join(failures)
