"""Lesson 06's mask widget, driven headless: set `.value`, check what changed; in English
and in the Chinese edition (COURSE_LANG=zh)."""

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from course_utils.view.widgets_masks import PAD, MaskExplorer, build_mask, demo_batch, describe_weights, masked_weights


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """English unless a test says otherwise (the language follows COURSE_LANG first)."""
    monkeypatch.setenv("COURSE_LANG", "en")


def test_demo_batch_pads_to_longest_and_is_seeded():
    tokens, ids, scores = demo_batch([("a", "b", "c"), ("d",)], seed=3)
    assert tokens == [["a", "b", "c"], ["d", PAD, PAD]]
    assert ids.shape == (2, 3) and ids[1, 1:].tolist() == [0, 0] and (ids[0] != 0).all()
    assert scores.shape == (2, 3, 3)
    assert torch.equal(scores, demo_batch([("a", "b", "c"), ("d",)], seed=3)[2])


def test_demo_batch_rejects_empty_sentence():
    with pytest.raises(ValueError, match="sentences"):
        demo_batch([("a",), ()])


def test_build_mask_shapes_and_meaning():
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    assert build_mask(ids, use_padding=False, use_causal=False) is None
    pad = build_mask(ids, use_padding=True)
    assert pad.shape == (2, 1, 3) and pad[1, 0].tolist() == [True, False, False]
    causal = build_mask(ids, use_padding=False, use_causal=True)
    assert causal.shape == (3, 3) and causal.tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    both = build_mask(ids, use_padding=True, use_causal=True)
    assert both.shape == (2, 3, 3) and both[0].tolist() == [[True, False, False], [True, True, False],
                                                            [True, True, False]]


def test_masked_weights_zero_where_blocked_and_rows_sum_to_one():
    _, ids, scores = demo_batch()
    w = masked_weights(scores, build_mask(ids, use_padding=True, use_causal=True))
    assert torch.allclose(w.sum(-1), torch.ones(w.shape[:-1]))
    assert (w[ids == 0][:, :] >= 0).all()
    assert (w.transpose(-2, -1)[ids == 0] == 0).all()  # pad keys get exactly 0
    assert (torch.triu(w, diagonal=1) == 0).all()  # the future gets exactly 0


def test_masked_weights_rejects_float_mask():
    with pytest.raises(TypeError, match="bool"):
        masked_weights(torch.zeros(2, 2), torch.zeros(2, 2))


def test_describe_weights_reports_pad_and_future_weight():
    toks = ["a", "b", PAD]
    uniform = torch.full((3, 3), 1 / 3)
    assert describe_weights(uniform, toks) == ("largest weight on <pad> keys (real-token rows): 0.333 · "
                                               "largest weight on future keys: 0.667")
    assert "0.000" in describe_weights(torch.eye(3), toks)


def test_explorer_toggles_change_weights_summary_and_figure():
    ex = MaskExplorer()
    pad_cols = [i for i, t in enumerate(ex.tokens[0]) if t == PAD]
    assert not pad_cols  # sentence 0 is the longest: no padding
    ex.sentence.value = 1
    toks = ex.tokens[1]
    pad_cols = [i for i, t in enumerate(toks) if t == PAD]
    assert pad_cols
    before, fig_before, draws, png_before = ex.weights.clone(), ex.figure, ex.n_draws, bytes(ex.image.value)
    assert png_before.startswith(b"\x89PNG")
    assert ex.weights[:, pad_cols].sum() > 0.05  # no mask: pads get weight

    ex.padding.value = True
    assert ex.n_draws == draws + 1 and ex.figure is not fig_before
    assert bytes(ex.image.value) != png_before and bytes(ex.image.value).startswith(b"\x89PNG")
    assert not torch.equal(ex.weights, before)
    assert (ex.weights[:, pad_cols] == 0).all()
    assert "masks: padding" in ex.message.value and "&lt;pad&gt; keys (real-token rows): 0.000" in ex.message.value
    assert "padding" in ex.figure.axes[0].get_title()

    ex.causal.value = True
    assert (torch.triu(ex.weights, diagonal=1) == 0).all()
    assert "padding + causal" in ex.message.value and "future keys: 0.000" in ex.message.value

    ex.padding.value = False
    ex.causal.value = False
    assert torch.allclose(ex.weights, before)
    assert "masks: none" in ex.message.value


def test_explorer_controls_have_descriptions():
    ex = MaskExplorer()
    for control in (ex.padding, ex.causal, ex.sentence):
        assert control.description
    assert ex.widget.children[-1] is ex.image


def test_plot_transformer_flow_draws_the_eight_numbered_steps_and_highlights():
    import matplotlib
    matplotlib.use("Agg")
    from course_utils.view.plotting import plot_transformer_flow

    ax = plot_transformer_flow(highlight=6)
    texts = " ".join(t.get_text() for t in ax.texts)
    for n in range(1, 9):
        assert f"({n})" in texts
    highlighted = [p for p in ax.patches if p.get_facecolor()[:3] == matplotlib.colors.to_rgb("#ffd966")]
    assert len(highlighted) == 1 and "(6)" in texts
    assert len([p for p in plot_transformer_flow(highlight=None).patches
                if p.get_facecolor()[:3] == matplotlib.colors.to_rgb("#ffd966")]) == 0
    matplotlib.pyplot.close("all")


def test_explorer_in_chinese_shows_chinese_labels_and_the_same_numbers(monkeypatch):
    english_explorer = MaskExplorer()
    english_explorer.padding.value = True
    monkeypatch.setenv("COURSE_LANG", "zh")
    ex = MaskExplorer()
    assert (ex.padding.description, ex.causal.description, ex.sentence.description) == \
        ("填充掩码（隐藏 <pad> 键）", "因果掩码（隐藏未来）", "句子")
    assert [label for label, _ in ex.sentence.options][1] == "dogs chase cats"  # the sentences are data
    assert ex.message.value.startswith("<b>掩码：无</b> — &lt;pad&gt; 键上的最大权重（真实词元的行）：")
    ex.padding.value = True
    assert torch.equal(ex.weights, english_explorer.weights)
    assert "<b>掩码：填充</b>" in ex.message.value and "largest" not in ex.message.value
    ex.causal.value = True
    title = ex.figure.axes[0].get_title()
    assert title == "自注意力权重，掩码：填充 + 因果"
    assert (ex.figure.axes[0].get_xlabel(), ex.figure.axes[0].get_ylabel()) == ("键", "查询")
    with warnings.catch_warnings(record=True) as caught:  # every Chinese character has a glyph
        warnings.simplefilter("always")
        ex.figure.savefig(io.BytesIO(), format="png")
    assert not [w for w in caught if "missing from" in str(w.message)]


def test_describe_weights_is_a_message_with_a_chinese_form():
    from course_utils.base.i18n import translate
    text = describe_weights(torch.full((3, 3), 1 / 3), ["a", "b", PAD])
    assert translate(text, "zh") == "<pad> 键上的最大权重（真实词元的行）：0.333 · 未来的键上的最大权重：0.667"
