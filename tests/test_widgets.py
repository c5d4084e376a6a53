"""Headless tests of the lesson 01-04 widgets: set a control's value, assert the result
follows (no browser: ipywidgets fire `observe` callbacks synchronously). Also the shared
plotting helpers and the Chinese edition's labels of both (COURSE_LANG=zh)."""

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.text
import numpy as np
import pytest
import torch

from course_utils.transformer.intuition import attention_weights, normalize_weights, softmax, weighted_sum
from course_utils.transformer.positional import sinusoidal_encoding
from course_utils.view.plotting import plot_attention, plot_heatmap, plot_transformer_flow
from course_utils.view.widget_base import LessonWidget
from course_utils.view.widgets import positional_widget, query_widget, toy_photo, weighted_sum_widget


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """English unless a test says otherwise (the language follows COURSE_LANG first)."""
    monkeypatch.setenv("COURSE_LANG", "en")


def figure_texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def draws_every_glyph(fig) -> bool:
    """Render `fig` to PNG; False if matplotlib had to draw a missing glyph (a box)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    return not [w for w in caught if "missing from" in str(w.message)]


# ---------------------------------------------------------------- pure functions
def test_normalize_weights_sums_to_one_and_handles_all_zero():
    np.testing.assert_allclose(normalize_weights([0.99, 0.01]), [0.99, 0.01])
    np.testing.assert_allclose(normalize_weights([2.0, 2.0, 4.0]), [0.25, 0.25, 0.5])
    np.testing.assert_allclose(normalize_weights([0.0, 0.0]), [0.5, 0.5])


@pytest.mark.parametrize("bad", [[-0.1, 1.0], [], [[1.0]]])
def test_normalize_weights_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="normalize_weights"):
        normalize_weights(bad)


def test_weighted_sum_matches_a_loop_and_checks_shapes():
    rng = np.random.default_rng(0)
    values, weights = rng.normal(size=(3, 4, 5)), np.array([0.2, 0.3, 0.5])
    expected = sum(w * v for w, v in zip(weights, values))
    np.testing.assert_allclose(weighted_sum(weights, values), expected)  # the order of lesson 01's exercise
    with pytest.raises(ValueError, match="same T"):
        weighted_sum(weights[:2], values)


def test_softmax_matches_torch_and_temperature_sharpens():
    scores = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 10.0]])
    np.testing.assert_allclose(softmax(scores), torch.tensor(scores).softmax(-1).numpy(), atol=1e-12)
    assert softmax(scores[0], 0.1).max() > softmax(scores[0], 1.0).max() > softmax(scores[0], 10.0).max()
    with pytest.raises(ValueError, match="temperature"):
        softmax(scores, 0.0)


def test_attention_weights_match_course_attention():
    from course_utils.transformer.attention import attention
    q, keys = np.array([1.0, -0.5, 2.0, 0.3]), np.random.default_rng(1).normal(size=(5, 4))
    _, ref = attention(torch.tensor(q)[None], torch.tensor(keys), torch.tensor(keys))
    np.testing.assert_allclose(attention_weights(q, keys), ref[0].numpy(), atol=1e-12)
    np.testing.assert_allclose(attention_weights(q, keys, scale=False), softmax(keys @ q), atol=1e-12)
    with pytest.raises(ValueError, match="attention_weights"):
        attention_weights(q[:3], keys)


def test_toy_photo_shapes_and_range():
    photo = toy_photo(20)
    assert set(photo) == {"face", "background"}
    for img in photo.values():
        assert img.shape == (20, 20) and img.min() >= 0 and img.max() <= 1
    assert not np.allclose(photo["face"], photo["background"])


# ---------------------------------------------------------------- widgets, headless
def test_weighted_sum_widget_follows_the_sliders():
    w = weighted_sum_widget()
    photo = toy_photo()
    w.sliders["face"].value, w.sliders["background"].value = 0.99, 0.01
    np.testing.assert_allclose(w.weights, [0.99, 0.01])
    np.testing.assert_allclose(w.result, 0.99 * photo["face"] + 0.01 * photo["background"])
    assert "face = 0.99" in w.message.value and "background = 0.01" in w.message.value
    old_fig = w.figure
    w.sliders["face"].value = 0.0
    np.testing.assert_allclose(w.weights, [0.0, 1.0])
    np.testing.assert_allclose(w.result, photo["background"])
    assert "face = 0.00" in w.message.value
    assert w.figure is not old_fig and "weight 0.00" in w.figure.axes[0].get_title()


def test_weighted_sum_widget_rejects_mismatched_weights():
    with pytest.raises(ValueError, match="raw_weights"):
        weighted_sum_widget(raw_weights=[1.0])


def test_positional_widget_follows_the_sliders():
    w = positional_widget(max_len=40, d_model=16, pos=3, dim=0)
    pe = sinusoidal_encoding(40, 16).numpy()
    assert w.result == pytest.approx(pe[3, 0])
    w.pos_slider.value = 17
    assert w.result == pytest.approx(pe[17, 0])
    assert "PE[17, 0]" in w.message.value
    w.dim_slider.value = 5
    assert w.result == pytest.approx(pe[17, 5])
    assert "pos=17, column i=5" in w.figure.axes[0].get_title()
    assert "PE[pos, 5]" in w.figure.axes[1].get_ylabel()  # the wave plot (the colour bar is added last)


def test_query_widget_follows_the_sliders_and_the_scale_box():
    keys = np.array([[2.0, 0.0], [0.0, 2.0], [-1.5, -1.0]])
    w = query_widget(keys, ["cat", "dog", "ran"], query=(1.0, 0.0))
    np.testing.assert_allclose(w.result, attention_weights([1.0, 0.0], keys))
    assert w.result.argmax() == 0
    w.qx.value, w.qy.value = 0.0, 3.0
    np.testing.assert_allclose(w.result, attention_weights([0.0, 3.0], keys))
    assert w.result.argmax() == 1
    assert "dog: score +6.00" in w.message.value
    scaled_max = w.result.max()
    w.scale_box.value = False
    np.testing.assert_allclose(w.result, softmax(keys @ np.array([0.0, 3.0])))
    assert w.result.max() > scaled_max  # without 1/sqrt(d_k) the softmax is sharper
    assert [t.get_text() for t in w.figure.axes[1].get_xticklabels()] == ["cat", "dog", "ran"]


def test_query_widget_rejects_bad_keys():
    with pytest.raises(ValueError, match=r"keys must have shape \(T, 2\)"):
        query_widget(keys=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="key_labels"):
        query_widget(key_labels=["a"])


def test_query_widget_temperature_and_weighted_answer():
    keys = np.array([[-1.0, 0.2], [0.0, -0.8], [1.5, 2.0], [2.0, -1.0]])
    values = np.array([4.0, 30.0, 200.0, 500.0])
    w = query_widget(keys, ["cat", "dog", "tiger", "horse"], query=(-1.2, 0.1), values=values,
                     show_temperature=True)
    w.scale_box.value = False
    np.testing.assert_allclose(w.result, softmax(keys @ np.array([-1.2, 0.1])))
    assert w.answer == pytest.approx(float(w.result @ values))
    assert f"weighted answer {w.answer:.1f}" in w.message.value
    w.temperature.value = 0.01                     # cold: a hard lookup of the best key
    assert w.result.max() > 0.99 and w.answer == pytest.approx(4.0, abs=0.5)
    assert "temperature 0.01" in w.message.value
    w.temperature.value = 100.0                    # hot: the plain average
    np.testing.assert_allclose(w.result, 0.25, atol=0.02)
    assert w.answer == pytest.approx(values.mean(), rel=0.05)


def test_query_widget_without_temperature_has_no_slider():
    w = query_widget()
    assert w.temperature is None and w.answer is None
    with pytest.raises(ValueError, match="values must have shape"):
        query_widget(values=[1.0, 2.0])


@pytest.mark.parametrize("make", [weighted_sum_widget, positional_widget, query_widget])
def test_every_widget_follows_the_one_convention(make):
    w = make()
    assert isinstance(w, LessonWidget)
    assert w.widget.children[-1] is w.image and w.widget.children[-2] is w.message
    assert bytes(w.image.value).startswith(b"\x89PNG") and w.n_draws == 1 and w.figure is not None


def test_widget_base_reports_problems_escaped_and_clears_the_figure():
    w = query_widget()
    w.problem("unknown word '<b>'")
    assert "course-problem" in w.message.value and "&lt;b&gt;" in w.message.value and "<b>" not in w.message.value
    w.clear()
    assert w.figure is None and bytes(w.image.value) == b""
    w.update()
    assert w.figure is not None and bytes(w.image.value).startswith(b"\x89PNG") and w.n_draws == 2


# ---------------------------------------------------------------- the Chinese edition
def test_glyph_check_sees_a_missing_glyph():
    fig, ax = plt.subplots()
    ax.set_title("注意力权重")
    assert draws_every_glyph(fig)
    ax.set_title("\U0001F9EA")  # a glyph no bundled font has: drawn as a box
    assert not draws_every_glyph(fig)
    plt.close(fig)


@pytest.mark.parametrize("lang, want, unwanted", [
    ("en", ["key", "query", "attention weights"], ["键", "查询"]),
    ("zh", ["键", "查询", "注意力权重"], ["key", "query", "attention weights"]),
])
def test_plot_attention_labels_follow_the_language(monkeypatch, lang, want, unwanted):
    monkeypatch.setenv("COURSE_LANG", lang)
    fig, ax = plt.subplots()
    plot_attention(torch.full((2, 2), 0.5), ["the", "dog"], ["the", "dog"], ax=ax)
    texts = figure_texts(fig)
    assert all(w in texts for w in want) and not any(u in texts for u in unwanted)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["the", "dog"]  # tokens are data: never translated
    assert draws_every_glyph(fig)
    plt.close(fig)


def test_a_label_the_notebook_passes_is_drawn_as_written(monkeypatch):
    """The Chinese notebook carries its own title (translated in its PO file): drawn as it is;
    an English one that is no message of the package stays English."""
    monkeypatch.setenv("COURSE_LANG", "zh")
    fig, ax = plt.subplots()
    plot_heatmap(np.eye(2), ax=ax, title="狗追猫的权重", xlabel="output dimension", ylabel="")
    assert ax.get_title() == "狗追猫的权重" and ax.get_xlabel() == "output dimension"
    plt.close(fig)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_map_of_lesson_00_in_both_languages(monkeypatch, lang):
    monkeypatch.setenv("COURSE_LANG", lang)
    fig, ax = plt.subplots(figsize=(10, 7.5))
    plot_transformer_flow(ax=ax, highlight=6)
    texts = figure_texts(fig)
    if lang == "zh":
        assert "(6) 对中间表达的融合注意力\n+ 残差、LayerNorm" in texts and "编码器层，× N" in texts
        assert "中间表达  (B, S, d_model)" in texts and "源句子的词元" in texts
        assert not any("attention" in t or "embedding" in t for t in texts)
    else:
        assert "(6) cross-attention over the memory\n+ residual, LayerNorm" in texts
        assert "memory  (B, S, d_model)" in texts and "source tokens" in texts
    assert draws_every_glyph(fig)
    plt.close(fig)


def test_weighted_sum_widget_in_chinese(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "zh")
    w = weighted_sum_widget(raw_weights=[0.99, 0.01])
    assert [s.description for s in w.sliders.values()] == ["脸", "背景"]
    assert set(w.sliders) == {"face", "background"}  # the data keeps its English names
    assert w.message.value == "归一化后的权重：脸 = 0.99，背景 = 0.01（总和 = 1.00）"  # a Chinese list comma
    assert "<b>每张图的原始权重</b>" in w.widget.children[0].value
    assert figure_texts(w.figure) == ["脸：权重 0.99", "背景：权重 0.01", "0.99·脸 + 0.01·背景", "加权和"]
    assert draws_every_glyph(w.figure)


def test_positional_widget_in_chinese(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "zh")
    w = positional_widget(max_len=40, d_model=16, pos=3, dim=5)
    assert (w.pos_slider.description, w.dim_slider.description) == ("位置", "维度")
    assert "PE[3] 的前 6 个值" in w.message.value and "first" not in w.message.value
    texts = figure_texts(w.figure)
    assert "PE（第 pos=3 行，第 i=5 列）" in texts and "维度 i" in texts and "位置 pos" in texts
    assert any(t.startswith("第 5 维（cos，波长") for t in texts)
    assert draws_every_glyph(w.figure)


def test_query_widget_in_chinese(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "zh")
    w = query_widget(values=[1.0, 2.0, 3.0], show_temperature=True)
    assert w.scale_box.description == "除以 √d_k" and w.temperature.description == "温度"
    assert "键 0：分数 +2.00 → 权重" in w.message.value
    assert "温度 1.00" in w.message.value and "<b>加权答案" in w.message.value
    assert "score" not in w.message.value and "weight" not in w.message.value
    texts = figure_texts(w.figure)
    assert {"查询和键", "查询", "第 0 维", "第 1 维", "注意力权重", "键 2"} <= set(texts)
    assert draws_every_glyph(w.figure)
    assert w.key_labels[0] == "key 0"  # what the widget holds stays English; only what it shows changes


def test_the_english_widgets_show_no_chinese():
    for w in (weighted_sum_widget(), positional_widget(), query_widget(show_temperature=True)):
        shown_text = w.message.value + " ".join(figure_texts(w.figure))
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in shown_text)


def test_every_message_of_the_view_and_corpus_has_a_chinese_form():
    """`catalogue check` for the templates of course_utils/view and course_utils/corpus."""
    from course_utils.course.catalogue import problems
    ours = [p for p in problems() if "course_utils/view/" in p or "course_utils/corpus/" in p]
    assert not ours, "\n".join(ours)


def test_no_word_of_the_corpus_is_a_message_template():
    """Tokens go into messages as fields, and a plain-string field is looked up in the
    catalogue: no English or Chinese word of the corpus may be a template there."""
    from course_utils.corpus import grammar
    from course_utils.course.catalogue import scan
    templates, _ = scan()
    words = set(grammar.english_words()) | set(grammar.chinese_words())
    assert not words & set(templates)
