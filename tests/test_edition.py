"""The Chinese edition (course_utils.course.edition): zh/ is what the build makes from the English
notebooks plus translations/zh, and drift (a changed English cell, a missing translation, a
hand-edited zh/ file) makes `course build --check` fail, naming the cell."""

import shutil
from pathlib import Path

import nbformat
import polib
import pytest

from course_utils.course import build, edition
from course_utils.course.edition import code_problem, link_target

REPO = Path(__file__).resolve().parents[1]
LESSON = "notebooks/01_attention_intuition.ipynb"
CELL_ID, CELL_NO = "68c5bf99", 5  # a markdown cell of lesson 01


def test_the_edition_is_in_step_with_its_sources():
    """What `course build --check` checks for zh/ (with printed numbers and stored outputs)."""
    ed = edition.generate(REPO, check_outputs=True)
    errors = [str(p) for p in ed.problems if not p.note]
    assert not errors, "\n".join(errors)
    stale = [p.relative_to(REPO).as_posix() for p, text in ed.texts.items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"run `course build`: {stale}"
    assert {"notebooks/00_welcome.ipynb", LESSON, "solutions/01_attention_intuition.ipynb"} <= set(ed.counts)


@pytest.fixture
def course(tmp_path):
    """A copy of the course's notebooks, translations and edition."""
    for folder in ("notebooks", "solutions", "exercises", "translations", "zh"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    (tmp_path / "README.md").write_text("readme", encoding="utf-8")
    return tmp_path


def check(root, capsys):
    rc = build.run(root, check=True)
    out = capsys.readouterr()
    return rc, out.out + out.err


def change_english_cell(root, new_text):
    nb = nbformat.read(root / LESSON, as_version=4)
    cell = nb.cells[CELL_NO]
    assert cell.id == CELL_ID and cell.cell_type == "markdown"
    old = cell.source
    cell.source = new_text
    nbformat.write(nb, root / LESSON)
    return old


def test_a_changed_english_cell_fails_the_check_and_names_the_cell(course, capsys):
    assert check(course, capsys)[0] == 0
    old = change_english_cell(course, "Now give the face weight 0.9 and the background 0.1.")
    rc, out = check(course, capsys)
    assert rc == 1
    assert f"{LESSON} cell {CELL_NO} (id {CELL_ID}): stale" in out
    assert "-" + old.splitlines()[0] in out and "+Now give the face weight 0.9 and the background 0.1." in out

    # the translator's round: update marks the entry fuzzy and keeps the English it was made from
    edition.update(course, [LESSON])
    po = polib.pofile(str(edition.po_path(course, LESSON)))
    entry = po.find(CELL_ID, by="msgctxt")
    assert "fuzzy" in entry.flags and entry.previous_msgid == old and entry.msgid.startswith("Now give")
    rc, out = check(course, capsys)
    assert rc == 1 and "stale (fuzzy)" in out and f"(id {CELL_ID})" in out
    entry.msgstr, entry.flags, entry.previous_msgid = "现在给脸 0.9 的权重，给背景 0.1。", [], None
    po.save()
    assert build.run(course) == 0  # writes zh/
    capsys.readouterr()
    assert check(course, capsys)[0] == 0
    zh = nbformat.read(course / "zh" / LESSON, as_version=4)
    assert zh.cells[CELL_NO].source == "现在给脸 0.9 的权重，给背景 0.1。"


def test_a_missing_markdown_translation_fails(course, capsys):
    po = polib.pofile(str(edition.po_path(course, LESSON)))
    po.find(CELL_ID, by="msgctxt").msgstr = ""
    po.save()
    rc, out = check(course, capsys)
    assert rc == 1 and f"cell {CELL_NO} (id {CELL_ID}): not translated yet" in out


def test_a_hand_edited_edition_file_fails(course, capsys):
    path = course / "zh" / LESSON
    nb = nbformat.read(path, as_version=4)
    nb.cells[CELL_NO].source += " 手改的。"
    nbformat.write(nb, path)
    rc, out = check(course, capsys)
    assert rc == 1 and f"zh/{LESSON}: differs from what `course build` writes" in out
    assert f"cell {CELL_NO} (id {CELL_ID}): its source differs" in out


def test_a_changed_code_cell_drops_its_outputs_and_the_check_asks_for_a_run(course, capsys):
    nb = nbformat.read(course / LESSON, as_version=4)
    cell = next(c for c in nb.cells if c.id == "c25a7c09")  # NBVAL_CHECK_OUTPUT: the temperature table
    cell.source = cell.source.replace("100.0]", "50.0]")
    nbformat.write(nb, course / LESSON)
    edition.update(course, [LESSON])
    po = polib.pofile(str(edition.po_path(course, LESSON)))
    entry = po.find("c25a7c09", by="msgctxt")
    entry.msgstr, entry.flags, entry.previous_msgid = entry.msgstr.replace("100.0]", "50.0]"), [], None
    po.save()
    assert build.run(course) == 0
    capsys.readouterr()
    rc, out = check(course, capsys)
    assert rc == 1 and "(id c25a7c09): no stored output" in out and "scripts/nb.py run zh/" in out


def test_printed_numbers_must_match_the_english(course, capsys):
    path = course / "zh" / LESSON
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.id == "59421512")
    cell.outputs[0]["text"] = cell.outputs[0]["text"].replace("0.99", "0.98")
    nbformat.write(nb, path)
    out = [str(p) for p in edition.generate(course, check_outputs=True).problems]
    assert any("(id 59421512): # NBVAL_CHECK_OUTPUT" in p and "other numbers" in p for p in out)


def test_the_list_of_untranslated_notebooks_may_only_shrink(course, capsys):
    listed = course / "translations" / "zh" / "untranslated.txt"
    listed.write_text(listed.read_text(encoding="utf-8") + LESSON + "\n", encoding="utf-8")
    rc, out = check(course, capsys)
    assert rc == 1 and f"{LESSON}: is fully translated now: delete its line" in out
    listed.write_text("\n".join(name for name in listed.read_text(encoding="utf-8").splitlines()
                                if name != LESSON) + "\n", encoding="utf-8")
    edition.po_path(course, LESSON).unlink()  # neither translated nor listed
    rc, out = check(course, capsys)
    assert rc == 1 and f"{LESSON}: has no translation" in out


def test_the_edition_links_stay_inside_it_and_reach_back_for_the_rest():
    assert link_target("../exercises/01_attention_intuition.ipynb", "notebooks", REPO) == \
        "../exercises/01_attention_intuition.ipynb"
    assert link_target("00_welcome.ipynb#the-map", "notebooks", REPO) == "00_welcome.ipynb#the-map"
    assert link_target("../docs/screenshots/a.png", "notebooks", REPO) == "../../docs/screenshots/a.png"
    assert link_target("../README.md#two-commands", "notebooks", REPO) == "../../README.zh-CN.md"
    assert link_target("https://example.org/x.png", "notebooks", REPO) == "https://example.org/x.png"


def test_untranslated_notebooks_get_a_chinese_page_that_links_to_the_english(course, capsys):
    solution = "solutions/01_attention_intuition.ipynb"  # made untranslated in the copy
    edition.po_path(course, solution).unlink()
    listed = course / "translations" / "zh" / "untranslated.txt"
    listed.write_text(listed.read_text(encoding="utf-8") + solution + "\n", encoding="utf-8")
    rc, out = build.run(course, force=True), capsys.readouterr()
    assert rc == 0, out
    page = nbformat.read(course / "zh" / "exercises" / "01_attention_intuition.ipynb", as_version=4)
    first = page.cells[0].source
    assert "还在翻译中" in first and "../../exercises/01_attention_intuition.ipynb" in first
    assert "generated_from" not in page.metadata.get("course", {})  # not an exercise notebook


def test_the_chinese_exercise_notebook_is_generated_from_the_chinese_solution():
    nb = nbformat.read(REPO / "zh" / "exercises" / "01_attention_intuition.ipynb", as_version=4)
    meta = nb.metadata["course"]
    assert meta["edition"] == "zh" and meta["generated_from"] == "zh/solutions/01_attention_intuition.ipynb"
    assert meta["exercises"] == ["01.weighted_sum", "01.softmax_temperature", "01.soft_lookup"]
    text = "\n".join(c.source for c in nb.cells)
    assert 'raise NotImplementedError("练习 01.weighted_sum：在这里写你的代码")' in text
    assert "return weights @ values" not in text and "练习 `01.weighted_sum`：值的加权和" in text


@pytest.mark.parametrize("zh, ok", [
    ('x = 1  # 一个数\nprint("值：", x)', True),
    ('x = 2  # 一个数\nprint("值：", x)', False),                     # code changed
    ('x = 1\nprint("value:", x, x)', False),                        # an argument added
    ('x = 1\n# 一个数\n# 第二行注释\nprint("value:", x)', True),       # comment lines may be split
    ('x = 1\nprint(f"值 {x:.2f}")', False),                         # an f-string field changed
])
def test_a_code_translation_may_change_only_comments_and_strings(zh, ok):
    en = 'x = 1  # a number\nprint("value:", x)' if "f\"" not in zh else 'x = 1\nprint(f"value {x:.3f}")'
    assert (code_problem(en, zh) is None) == ok, code_problem(en, zh)


def test_markers_and_check_calls_stay_english():
    en = '# NBVAL_CHECK_OUTPUT\ncheck("01.weighted_sum", weighted_sum)'
    assert code_problem(en, '# NBVAL_检查输出\ncheck("01.weighted_sum", weighted_sum)')
    assert code_problem(en, '# NBVAL_CHECK_OUTPUT\ncheck("01.加权和", weighted_sum)')
    assert code_problem(en, en) is None
    assert code_problem('def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION',
                        'def f():\n    ### 开始\n    return 1\n    ### END SOLUTION')


def test_a_stub_lines_comment_may_be_translated_but_not_its_code():
    """The exercise shows a `### STUB:` line's code and comment; the comment is read by the learner."""
    en = "### BEGIN SOLUTION\nprediction = 0.5\n### STUB: prediction = ...  # your number here\n### END SOLUTION"
    assert code_problem(en, en.replace("# your number here", "# 在这里填你的数")) is None
    assert code_problem(en, en.replace("prediction = ...  #", "prediction = None  #")), "the stub's code changed"
    assert code_problem(en, en.replace("### STUB: prediction", "### 桩: prediction")), "the marker changed"
    assert code_problem(en, en.replace("### STUB: prediction = ...  # your number here\n", "")), "a stub dropped"
