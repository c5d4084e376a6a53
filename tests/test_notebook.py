"""The notebook format in one module (course_utils.course.notebook): reading with one-line
errors, atomic writing, backups, cells, exercise ids, check calls, course metadata, the
course's own exercise notebooks (both editions) and the solution <-> exercise pairing."""

import datetime as dt
import json
import os
from pathlib import Path

import nbformat
import pytest

from course_utils.base.i18n import Msg
from course_utils.course import notebook
from course_utils.course.notebook import NotebookError

REPO = Path(__file__).resolve().parents[1]


def _nb(cells=(), **course):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    if course:
        nb.metadata["course"] = course
    return nb


def _checkout(tmp_path) -> Path:
    root = tmp_path / "course"
    for folder in ("course_utils", "notebooks", "solutions", "exercises", "zh/solutions", "zh/exercises"):
        (root / folder).mkdir(parents=True)
    return root


# ----------------------------------------------------------------------------- reading and writing

def test_read_a_notebook_and_render_it_back(tmp_path):
    nb = _nb([nbformat.v4.new_code_cell("x = 1", id="a")])
    path = tmp_path / "a.ipynb"
    path.write_text(notebook.render(nb))
    again = notebook.read(path)
    assert again.cells[0].source == "x = 1" and notebook.render(again) == path.read_text()
    assert notebook.render(nb).endswith("\n")


@pytest.mark.parametrize("content, needle", [
    ("{not json", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"cells": [], "metadata": {}, "nbformat": 3, "nbformat_minor": 0}', "format 3 is not supported"),
    ('{"cells": "none", "nbformat": 4}', "is not a Jupyter notebook"),
    ("[1, 2]", "is not a Jupyter notebook"),
    ('{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "not a valid notebook"),
    (b"\xff\xfe binary", "not UTF-8"),
])
def test_bad_files_give_one_line_errors(tmp_path, content, needle):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(NotebookError) as err:
        notebook.read(path)
    text = str(err.value)
    assert needle in text and "\n" not in text and str(path) in text
    assert isinstance(err.value.args[0], Msg)  # translatable: the edition shows it in the learner's language


def test_unreadable_files_are_one_line_errors(tmp_path):
    with pytest.raises(NotebookError, match="cannot be read"):
        notebook.read(tmp_path / "missing.ipynb")
    with pytest.raises(NotebookError, match="not a regular file"):
        notebook.read(tmp_path)  # a folder
    loop = tmp_path / "loop.ipynb"
    loop.symlink_to(loop.name)
    with pytest.raises(NotebookError, match="cannot be read"):
        notebook.read(loop)


def test_a_notebook_saved_without_cell_ids_is_read(tmp_path):
    raw = json.loads(notebook.render(_nb([nbformat.v4.new_code_cell("x = 1")])))
    for cell in raw["cells"]:
        del cell["id"]
    path = tmp_path / "old.ipynb"
    raw["nbformat_minor"] = 4  # the format before cell ids
    path.write_text(json.dumps(raw))
    assert notebook.read(path).cells[0].get("id") is None
    raw["nbformat_minor"] = 5  # ids missing where they belong: filled in, no warning printed
    path.write_text(json.dumps(raw))
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")
        assert notebook.read(path).cells[0].get("id")


def test_write_is_atomic_and_keeps_the_mode(tmp_path, monkeypatch):
    path = tmp_path / "a.ipynb"
    notebook.write(_nb([nbformat.v4.new_markdown_cell("one", id="a")]), path)
    os.chmod(path, 0o640)
    notebook.write(_nb([nbformat.v4.new_markdown_cell("two", id="a")]), path)
    assert "two" in path.read_text() and (path.stat().st_mode & 0o777) == 0o640
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(notebook.os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        notebook.write(_nb([nbformat.v4.new_markdown_cell("three", id="a")]), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["a.ipynb"]


def test_backups_never_share_a_name(tmp_path):
    root = _checkout(tmp_path)
    path = root / "exercises" / "04_self_attention.ipynb"
    path.write_text("mine, first")
    now = dt.datetime(2026, 1, 2, 3, 4, 5)
    first = notebook.backup(path, now)
    path.write_text("mine, second")
    second = notebook.backup(path, now)
    assert first.parent == root / ".course" / "backups" and first != second
    assert (first.read_text(), second.read_text()) == ("mine, first", "mine, second")
    assert first.name == "04_self_attention-20260102-030405.ipynb"
    elsewhere = tmp_path / "scratch.ipynb"
    elsewhere.write_text("x")
    assert notebook.backup(elsewhere).parent == tmp_path / ".course" / "backups"
    assert notebook.backup(elsewhere, root=root).parent == root / ".course" / "backups"


# ----------------------------------------------------------------------------- cells

def test_cell_source_ids_and_tags():
    raw = {"cell_type": "code", "source": ["def f():\n", "    return 1"],
           "metadata": {"tags": ["x", "exercise:04.attention"]}}
    assert notebook.cell_source(raw) == "def f():\n    return 1"  # a list of lines, as raw JSON holds it
    assert notebook.exercise_tag(raw) == "04.attention" == notebook.exercise_id(raw)
    generated = {"cell_type": "code", "source": "", "metadata": {"course": {"exercise": "05.split_heads"}}}
    assert notebook.exercise_id(generated) == "05.split_heads" and notebook.exercise_tag(generated) is None
    for broken in ({"metadata": {"tags": "exercise:04.attention"}}, {"metadata": {"tags": [3, None]}},
                   {"metadata": {"course": ["04.attention"]}}, {}):
        assert notebook.exercise_id(broken) is None


def test_check_calls_are_found_by_syntax_not_by_text():
    source = ('x = 1  # check("01.fake", x) in a comment is not a call\n'
              'check("04.attention", attention)\n'
              "print('check(\"01.other\", y)')\n"
              "if True:\n    check('04.self_attention', SelfAttention(d_model=8))\n"
              "check(name, attention)\ncheck(\"04.x\")\n")
    calls = notebook.check_calls(source)
    assert calls == [notebook.CheckCall("04.attention", "attention"),
                     notebook.CheckCall("04.self_attention", "SelfAttention(d_model=8)")]
    assert notebook.check_calls("def broken(:\n    check('04.attention', f)") == []  # a learner's broken cell
    assert notebook.check_calls("check('04.a', f)\x00") == []  # null bytes
    assert notebook.check_calls("(" * 10_000 + ")" * 10_000) == []  # too deep for the parser


def test_check_call_for_and_cell_roles():
    check = nbformat.v4.new_code_cell('check("04.attention", attention)',
                                      metadata={"course": {"exercise": "04.attention"}})
    answer = nbformat.v4.new_code_cell("def attention(q, k, v):\n    ...",
                                       metadata={"course": {"exercise": "04.attention"}})
    text = nbformat.v4.new_markdown_cell('check("04.attention", attention)')
    assert notebook.check_call_for(check, "04.attention").expression == "attention"
    assert notebook.check_call_for(check, "04.other") is None and notebook.check_call_for(text, "04.attention") is None
    assert [notebook.cell_role(c) for c in (check, answer, text)] == ["check", "code", "markdown"]
    assert notebook.cell_role({"cell_type": "raw", "source": ""}) == "raw"
    assert notebook.cell_role({"source": ["check('04.attention', f)"], "cell_type": "code"}) == "check"


# ----------------------------------------------------------------------------- course metadata

def test_course_metadata_and_generated_from():
    nb = _nb(generated_from="solutions/04_self_attention.ipynb", exercises=["04.attention", "04.attention", "04.x"])
    assert notebook.generated_from(nb) == "solutions/04_self_attention.ipynb"
    assert notebook.exercise_ids(nb) == ["04.attention", "04.x"]
    assert notebook.generated_from(_nb(generated_from="zh/solutions/04_a.ipynb")) == "zh/solutions/04_a.ipynb"
    for bad in ("../solutions/04_a.ipynb", "solutions/../../etc/passwd.ipynb", "solutions/sub/04.ipynb",
                "/solutions/04_a.ipynb", "solutions/04_a.py", "fr/solutions/04_a.ipynb", "solutions/", 4, None):
        assert notebook.generated_from(_nb(generated_from=bad)) is None, bad
    assert notebook.course_meta({"metadata": "nope"}) == {} and notebook.course_meta(_nb()) == {}
    cells = [nbformat.v4.new_code_cell("", metadata={"tags": ["exercise:01.b"]}),
             nbformat.v4.new_code_cell("", metadata={"tags": ["exercise:01.a"]})]
    assert notebook.exercise_ids(_nb(cells)) == ["01.b", "01.a"]  # no list in the metadata: the cells'


def test_edition_of_a_notebook():
    assert notebook.EDITIONS == ("zh",)
    assert notebook.edition(_nb(generated_from="solutions/04_a.ipynb")) == "en"
    assert notebook.edition(_nb(generated_from="zh/solutions/04_a.ipynb")) == "zh"
    assert notebook.edition(_nb(generated_from="solutions/04_a.ipynb", edition="zh")) == "zh"
    assert notebook.edition(_nb(generated_from="zh/solutions/04_a.ipynb", edition="zh")) == "zh"
    assert notebook.edition(_nb(generated_from="zh/solutions/04_a.ipynb", edition="en")) is None  # they disagree
    assert notebook.edition(_nb(generated_from="solutions/04_a.ipynb", edition="fr")) is None
    assert notebook.edition(_nb(generated_from="solutions/04_a.ipynb", edition=["zh"])) is None


# ----------------------------------------------------------------------------- where notebooks live

def test_course_folder_and_package_checkout(tmp_path):
    root = _checkout(tmp_path)
    assert notebook.course_folder_of(root / "zh" / "exercises") == root
    assert notebook.course_folder_of(root / "exercises" / "04_x.ipynb") == root
    assert notebook.course_folder_of(tmp_path) is None
    assert notebook.course_folder_of(tmp_path / ("x" * 300)) is None  # a name too long: no error
    assert notebook.package_checkout() == REPO


def _exercise(path: Path, **course) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook.render(_nb(**course)))
    return path


def test_the_course_s_own_exercise_notebook(tmp_path):
    root = _checkout(tmp_path)
    name = "04_self_attention.ipynb"
    own = _exercise(root / "exercises" / name, generated_from=f"solutions/{name}")
    assert notebook.is_course_exercise_notebook(own)
    assert notebook.is_course_exercise_notebook(own, notebook.read(own))
    not_own = [
        _exercise(root / "exercises" / "04_self_attention-Copy1.ipynb", generated_from=f"solutions/{name}"),
        _exercise(tmp_path / "scratch" / name, generated_from=f"solutions/{name}"),  # outside a checkout
        _exercise(root / "solutions" / name),  # a solution
        _exercise(root / "exercises" / "05_other.ipynb"),  # no metadata
        _exercise(root / "notebooks" / name, generated_from=f"solutions/{name}"),  # the lessons' folder
        _exercise(root / "exercises" / "sub" / name, generated_from=f"solutions/{name}"),
        root / "exercises" / "missing.ipynb",
    ]
    (root / "exercises" / "broken.ipynb").write_text("{not json")
    not_own.append(root / "exercises" / "broken.ipynb")
    assert not any(map(notebook.is_course_exercise_notebook, not_own))
    link = tmp_path / "mine.ipynb"
    link.symlink_to(own)
    assert notebook.is_course_exercise_notebook(link)  # a link to the exercise notebook is that notebook


def test_the_chinese_edition_s_exercise_notebook(tmp_path):
    root = _checkout(tmp_path)
    name = "04_self_attention.ipynb"
    by_source = _exercise(root / "zh" / "exercises" / name, generated_from=f"zh/solutions/{name}")
    by_field = _exercise(root / "zh" / "exercises" / "05_multi_head.ipynb",
                         generated_from="solutions/05_multi_head.ipynb",
                         edition="zh")
    assert notebook.is_course_exercise_notebook(by_source) and notebook.is_course_exercise_notebook(by_field)
    not_own = [
        _exercise(root / "zh" / "exercises" / "06_masks.ipynb", generated_from="solutions/06_masks.ipynb"),  # English
        _exercise(root / "exercises" / "07_cross.ipynb", generated_from="zh/solutions/07_cross.ipynb"),  # wrong folder
        _exercise(root / "fr" / "exercises" / name, generated_from=f"solutions/{name}", edition="fr"),
        _exercise(root / "zh" / "exercises" / "08_x.ipynb", generated_from="zh/solutions/08_x.ipynb", edition="en"),
        _exercise(tmp_path / "zh" / "exercises" / name, generated_from=f"zh/solutions/{name}"),  # no checkout
    ]
    assert not any(map(notebook.is_course_exercise_notebook, not_own))


def test_solution_of_both_editions(tmp_path):
    root = _checkout(tmp_path)
    for folder in ("solutions", "zh/solutions"):
        (root / folder / "04_a.ipynb").write_text(notebook.render(_nb()))
    (root / "solutions" / "05_b.ipynb").write_text(notebook.render(_nb()))
    en = _nb(generated_from="solutions/04_a.ipynb")
    assert notebook.solution_of(root / "exercises" / "04_a.ipynb", en) == root / "solutions" / "04_a.ipynb"
    assert notebook.solution_of(tmp_path / "copy.ipynb", en) is None  # no checkout here, not in the package's
    zh = _nb(generated_from="zh/solutions/04_a.ipynb")
    assert notebook.solution_of(root / "zh" / "exercises" / "04_a.ipynb",
                                zh) == root / "zh" / "solutions" / "04_a.ipynb"
    field = _nb(generated_from="solutions/04_a.ipynb", edition="zh")  # the edition's own solution comes first
    assert notebook.solution_of(root / "zh" / "exercises" / "04_a.ipynb", field) == root / "zh/solutions/04_a.ipynb"
    only_en = _nb(generated_from="solutions/05_b.ipynb", edition="zh")  # ... else the English one
    assert notebook.solution_of(root / "zh" / "exercises" / "05_b.ipynb", only_en) == root / "solutions/05_b.ipynb"
    assert notebook.solution_of(root / "exercises" / "x.ipynb", _nb(generated_from="../x.ipynb")) is None
    assert notebook.solution_of(root / "exercises" / "x.ipynb", _nb(generated_from="solutions/04_a.ipynb",
                                                                     edition="fr")) is None
    shipped = _nb(generated_from="solutions/04_self_attention.ipynb")  # found in the package's own checkout
    assert notebook.solution_of(tmp_path / "04.ipynb", shipped) == REPO / "solutions" / "04_self_attention.ipynb"
