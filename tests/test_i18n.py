"""Translatable messages (course_utils.base.i18n), the language a kernel or command picks, the
Chinese message catalogue (course_utils.course.catalogue) and check results in Chinese."""

from pathlib import Path

import polib
import pytest

from course_utils.base import i18n
from course_utils.base.i18n import command_language, edition_of, language, msg, translate
from course_utils.course import catalogue
from course_utils.course.build import strip_solution
from course_utils.course.catalogue import Template
from course_utils.course.checks import check

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("COURSE_LANG", "JPY_SESSION_NAME", "LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(REPO)
    return monkeypatch


# ----------------------------------------------------------------------------- which language

def test_english_by_default(clean_env):
    assert language() == "en"


def test_course_lang_wins(clean_env):
    clean_env.setenv("COURSE_LANG", "zh_CN.UTF-8")
    assert language() == "zh"
    clean_env.setenv("JPY_SESSION_NAME", str(REPO / "zh" / "notebooks" / "00_welcome.ipynb"))
    clean_env.setenv("COURSE_LANG", "en")
    assert language() == "en"


def test_the_notebook_path_jupyter_gives_the_kernel(clean_env):
    clean_env.setenv("JPY_SESSION_NAME", str(REPO / "zh" / "exercises" / "01_attention_intuition.ipynb"))
    assert language() == "zh"
    clean_env.setenv("JPY_SESSION_NAME", "zh/notebooks/01_attention_intuition.ipynb")  # relative API path
    assert language() == "zh"
    clean_env.setenv("JPY_SESSION_NAME", str(REPO / "exercises" / "01_attention_intuition.ipynb"))
    assert language() == "en"


def test_the_working_folder_nbclient_and_nbval_give_the_kernel(clean_env):
    clean_env.chdir(REPO / "zh" / "solutions")
    assert language() == "zh"
    clean_env.chdir(REPO / "notebooks")
    assert language() == "en"


def test_a_folder_named_zh_outside_a_checkout_is_not_the_edition(clean_env, tmp_path):
    (tmp_path / "zh" / "notebooks").mkdir(parents=True)
    assert edition_of(tmp_path / "zh" / "notebooks" / "x.ipynb") is None
    (tmp_path / "notebooks").mkdir()
    assert edition_of(tmp_path / "zh" / "notebooks" / "x.ipynb") == "zh"


def test_command_language_follows_option_env_path_then_locale(clean_env):
    assert command_language() == "en"
    clean_env.setenv("LANG", "zh_CN.UTF-8")
    assert command_language() == "zh"
    assert command_language(path=REPO / "exercises" / "01_attention_intuition.ipynb") == "zh"  # the locale
    clean_env.setenv("LANG", "C.UTF-8")
    assert command_language(path=REPO / "zh" / "exercises" / "01_attention_intuition.ipynb") == "zh"
    assert command_language("zh") == "zh" and command_language("en", path=REPO / "zh" / "notebooks") == "en"


# ----------------------------------------------------------------------------- the catalogue

def test_every_template_has_a_chinese_form_or_is_deferred():
    """Fails on a msg(...) template (or exercise title) without a Chinese form that is not listed
    in translations/zh/catalogue-untranslated.txt, on a translation whose {fields} differ, on an
    obsolete entry and on a msg(...) whose template is not a literal. Strict mode: delete the
    deferred file."""
    problems = catalogue.problems()
    assert not problems, "\n".join(problems)


def test_the_catalogue_check_catches_each_kind_of_problem():
    templates = {"Shape {got} is wrong.": Template("Shape {got} is wrong.", "message", [("x.py", 1)]),
                 "New text": Template("New text", "message", [("x.py", 2)]),
                 "Deferred": Template("Deferred", "message", [("x.py", 3)])}
    po = polib.POFile()
    po.append(polib.POEntry(msgid="Shape {got} is wrong.", msgstr="形状 {shape} 不对。"))
    po.append(polib.POEntry(msgid="Gone from the package", msgstr="已删除"))
    found = catalogue.problems(templates=templates, po=po, deferred=["Deferred", "Removed long ago"])
    text = "\n".join(found)
    assert "has fields {shape}, the template has {got}" in text
    assert "'New text' has no Chinese form" in text
    assert "'Gone from the package' is no longer in the package" in text
    assert "'Removed long ago' is no longer in the package: delete its line" in text
    assert "Deferred" not in text.replace("'Removed long ago'", "")  # a deferred template is allowed
    po.append(polib.POEntry(msgid="Deferred", msgstr="推迟的"))
    assert any("is translated now: delete its line" in p
               for p in catalogue.problems(templates=templates, po=po, deferred=["Deferred"]))


def test_scan_finds_literal_templates_and_refuses_others(tmp_path):
    pkg = tmp_path / "course_utils"
    pkg.mkdir()
    (pkg / "m.py").write_text('A = msg("Hello {name}", name=1)\nB = msg(text)\n'
                              '@exercise("99.x", "A title")\ndef f(): pass\n', encoding="utf-8")
    found, not_literal = catalogue.scan(pkg)
    assert set(found) == {"Hello {name}", "A title"} and found["A title"].kind == "exercise title"
    assert len(not_literal) == 1 and "m.py:2" in not_literal[0]


def test_a_broken_translation_falls_back_to_english():
    i18n.register_catalogue("zh", {"Shape {got}": "形状 {wrong_field}"}.get)
    try:
        assert translate(msg("Shape {got}", got=3), "zh") == "Shape 3"
    finally:
        i18n.register_catalogue("zh", i18n._PoCatalogue(i18n.catalogue_path("zh")))


# ----------------------------------------------------------------------------- what a learner sees

def test_check_answers_in_chinese_in_a_chinese_notebook(clean_env):
    wrong = check("01.weighted_sum", lambda weights, values: values.sum(0))
    right = check("01.weighted_sum", lambda weights, values: weights @ values)
    assert "failed: A weighted sum of values" in repr(wrong) and "Hint:" in repr(wrong)
    clean_env.chdir(REPO / "zh" / "exercises")
    assert "✘ 01.weighted_sum 未通过：值的加权和" in repr(wrong)
    assert "提示：" in repr(wrong) and "Hint" not in repr(wrong)
    assert "通过" in right._repr_html_() and "值的加权和" in right._repr_html_()
    pending = check("01.weighted_sum", ...)
    assert "待完成" in repr(pending)


def test_the_exercise_stub_speaks_chinese_in_the_edition():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
    out, _ = strip_solution(src, "01.weighted_sum", "t", lang="zh")
    assert '    raise NotImplementedError("练习 01.weighted_sum：在这里写你的代码")' in out
    out, _ = strip_solution(src, "01.weighted_sum", "t")
    assert 'raise NotImplementedError("Exercise 01.weighted_sum: your code here")' in out


def test_a_prediction_hint_after_a_factor_message_is_translated_whole():
    from course_utils.course.checks.comparing import compare_prediction
    from course_utils.course.checks.framework import Fail

    hint = msg("Divide the scores by √d_k, the width of one head.")
    with pytest.raises(Fail) as failed:
        compare_prediction("x", 2.0, 1.0, hint=hint)
    shown = translate(failed.value.hint, "zh")
    assert translate(hint, "zh") in shown and "Divide" not in shown, shown
