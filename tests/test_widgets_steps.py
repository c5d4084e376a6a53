"""Lesson 08's step-through widget, driven headless (no browser); in English and in the
Chinese edition (COURSE_LANG=zh), which reads the same English sentences."""

import io
import warnings

import pytest
import torch

from course_utils import set_seed
from course_utils.corpus.data import build_vocabs
from course_utils.run.decoding import greedy_decode
from course_utils.run.reference import load_reference
from course_utils.transformer.model import Transformer, TransformerConfig
from course_utils.view.widgets_steps import StepExplorer, draw_step, parse_input, trace_steps

SENTENCE = "the dog sees the black letter every day"


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """English unless a test says otherwise (the language follows COURSE_LANG first)."""
    monkeypatch.setenv("COURSE_LANG", "en")


@pytest.fixture(scope="module")
def reference():
    model, src_vocab, tgt_vocab, _ = load_reference()
    return model, src_vocab, tgt_vocab


@pytest.fixture(scope="module")
def tiny():
    """An untrained pre-LN model with a short max_len: nonsense output, but every code path."""
    src_vocab, tgt_vocab = build_vocabs()
    set_seed(0)
    config = TransformerConfig(src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab), d_model=16,
                               n_heads=2, n_layers=3, d_ff=32, dropout=0.0, max_len=12, norm_first=True)
    return Transformer(config).eval(), src_vocab, tgt_vocab


def test_parse_input_accepts_known_words_and_adds_the_full_stop(reference):
    _, src_vocab, _ = reference
    assert parse_input("The Dog sees the cat", src_vocab, 64) == (["the", "dog", "sees", "the", "cat", "."], None)


@pytest.mark.parametrize("text, expected", [
    ("", "empty"), ("   ", "empty"),
    ("the dog eats pizza", "pizza"),
    ("the dog sees the cat!", "'!'"),
    (" ".join(["dog"] * 70), "at most 64"),
    (None, "Expected text"),
])
def test_parse_input_explains_bad_input(reference, text, expected):
    _, src_vocab, _ = reference
    tokens, problem = parse_input(text, src_vocab, 64)
    assert tokens is None and expected in problem


def test_trace_has_the_eight_steps_with_the_models_shapes(reference):
    model, src_vocab, tgt_vocab = reference
    trace = trace_steps(model, src_vocab, tgt_vocab, SENTENCE.split() + ["."])
    S, T, d = 9, len(trace["tgt_labels"]), model.config.d_model
    assert [s.number for s in trace["steps"]] == list(range(1, 9))
    steps = {s.number: s for s in trace["steps"]}
    assert steps[1].panels[0][0].shape == (S, d) and steps[3].panels[0][0].shape == (S, d)
    assert steps[4].panels[0][0].shape == (T, d)
    for n, shape in ((2, (S, S)), (5, (T, T)), (6, (T, S))):
        assert len(steps[n].panels) == model.config.n_layers
        for matrix, rows, cols, _ in steps[n].panels:
            assert matrix.shape == shape and len(rows) == shape[0] and len(cols) == shape[1]
            assert torch.allclose(matrix.sum(-1), torch.ones(shape[0]), atol=1e-5)
    for matrix, *_ in steps[5].panels:  # the causal mask: nothing above the diagonal
        assert (matrix.triu(1) == 0).all()
    assert f"(1, 4, {T}, {S})" in " ".join(steps[6].shapes)
    assert trace["tgt_labels"][0] == "<bos>" and trace["stopped"]


def test_trace_translates_like_greedy_decode_and_the_single_pass_equals_the_loop(reference):
    model, src_vocab, tgt_vocab = reference
    tokens = SENTENCE.split() + ["."]
    trace = trace_steps(model, src_vocab, tgt_vocab, tokens)
    ids = greedy_decode(model, torch.tensor([src_vocab.encode(tokens)]), max_new_tokens=30,
                        bos_id=tgt_vocab.bos_id, eos_id=tgt_vocab.eos_id)[0].tolist()
    assert trace["output"] == tgt_vocab.decode(ids)
    assert trace["text"] == "狗每天看见黑信。"
    assert trace["loop_vs_pass"] < 1e-4
    # step 7's most likely column per row is the token the loop chose next
    matrix, rows, cols, _ = trace["steps"][6].panels[0]
    assert [cols[j] for j in matrix.argmax(-1).tolist()] == trace["output"] + ["<eos>"]
    # step 8's grid: call k was fed k tokens
    grid = trace["steps"][7].panels[0][0]
    assert grid.sum(-1).tolist() == [float(k + 1) for k in range(grid.size(0))]


def test_trace_of_a_pre_ln_model_matches_its_forward(tiny):
    """The hand-written walk reproduces the model's own forward (pre-LN, final norms, 3 layers)."""
    model, src_vocab, tgt_vocab = tiny
    trace = trace_steps(model, src_vocab, tgt_vocab, ["the", "cat", "."], max_new_tokens=5)
    assert trace["loop_vs_pass"] < 1e-4
    assert len(trace["steps"][1].panels) == 3
    memory = trace["steps"][2].panels[0][0]
    src = torch.tensor([src_vocab.encode(["the", "cat", "."])])
    assert torch.allclose(memory, model.encode(src)[0], atol=1e-5)


def test_trace_rejects_unknown_or_too_many_tokens(tiny):
    model, src_vocab, tgt_vocab = tiny
    with pytest.raises(ValueError, match="known words"):
        trace_steps(model, src_vocab, tgt_vocab, ["the", "pizza"])
    with pytest.raises(ValueError, match="max_len"):
        trace_steps(model, src_vocab, tgt_vocab, ["dog"] * 13)


def test_explorer_step_controls_change_the_picture_and_the_text(reference):
    model, src_vocab, tgt_vocab = reference
    explorer = StepExplorer(model, src_vocab, tgt_vocab, SENTENCE)
    assert "狗每天看见黑信。" in explorer.message.value
    seen = {explorer.image.value}
    texts = {explorer.details.value}
    for _ in range(7):
        explorer.next.click()
        seen.add(explorer.image.value)
        texts.add(explorer.details.value)
    assert explorer.step.value == 8 and len(seen) == 8 and len(texts) == 8
    explorer.next.click()  # stays at 8
    assert explorer.step.value == 8
    explorer.step.value = 6
    assert "Step 6" in explorer.details.value and "(B, H, T, S)" in explorer.details.value
    explorer.previous.click()
    assert explorer.step.value == 5 and "Step 5" in explorer.details.value
    assert len(explorer.figure.axes) >= 3  # the map plus one panel per layer


def test_explorer_new_sentence_redraws(reference):
    model, src_vocab, tgt_vocab = reference
    explorer = StepExplorer(model, src_vocab, tgt_vocab, SENTENCE, step=6)
    before, draws = explorer.image.value, explorer.n_draws
    explorer.text.value = "nine clever farmers push the dog"
    assert "九个聪明的农民推狗。" in explorer.message.value
    assert explorer.n_draws == draws + 1 and explorer.image.value != before


@pytest.mark.parametrize("text", ["", "the dog eats pizza", "the dog sees the cat!", "dog " * 80])
def test_explorer_bad_input_gives_a_message_and_clears_the_stale_figure(reference, text):
    model, src_vocab, tgt_vocab = reference
    explorer = StepExplorer(model, src_vocab, tgt_vocab, SENTENCE)
    assert explorer.image.value and explorer.details.value
    explorer.text.value = text  # must not raise
    assert "course-problem" in explorer.message.value and "for example" in explorer.message.value
    assert explorer.trace is None and explorer.image.value == b"" and explorer.figure is None
    assert explorer.details.value == ""
    explorer.step.value = 4  # nothing to draw, and no error
    explorer.button.click()  # again through the button
    assert "course-problem" in explorer.message.value and explorer.image.value == b""
    explorer.text.value = SENTENCE  # and back to a working sentence
    assert explorer.trace is not None and explorer.image.value and "Step 4" in explorer.details.value


def test_explorer_opened_on_bad_input_shows_only_a_message(reference):
    model, src_vocab, tgt_vocab = reference
    explorer = StepExplorer(model, src_vocab, tgt_vocab, "")
    assert explorer.trace is None and explorer.image.value == b"" and "empty" in explorer.message.value
    explorer.step.value = 3  # nothing to draw yet, and no error
    explorer.text.value = SENTENCE
    assert explorer.trace is not None and explorer.image.value


def test_explorer_follows_the_widget_convention(reference):
    from course_utils.view.widget_base import LessonWidget

    model, src_vocab, tgt_vocab = reference
    explorer = StepExplorer(model, src_vocab, tgt_vocab, SENTENCE)
    assert isinstance(explorer, LessonWidget)
    assert explorer.message in explorer.widget.children and explorer.image in explorer.widget.children
    assert explorer.figure is not None and explorer.n_draws == 1


def test_draw_step_without_the_map(reference):
    model, src_vocab, tgt_vocab = reference
    trace = trace_steps(model, src_vocab, tgt_vocab, SENTENCE.split())
    fig = draw_step(trace["steps"][5], show_flow=False)
    assert len([ax for ax in fig.axes if ax.get_title().startswith("cross-attention")]) == model.config.n_layers


def test_trace_leaves_the_models_mode_as_it_was(tiny):
    model, src_vocab, tgt_vocab = tiny
    model.train()
    try:
        trace_steps(model, src_vocab, tgt_vocab, ["the", "cat", "."], max_new_tokens=3)
        assert model.training
    finally:
        model.eval()
    trace_steps(model, src_vocab, tgt_vocab, ["the", "cat", "."], max_new_tokens=3)
    assert not model.training


ZH_TITLES = ["源句子嵌入 + 位置编码", "编码器自注意力", "前馈网络 → 中间表达", "目标句子嵌入 + 位置编码",
             "带掩码的自注意力", "对中间表达的融合注意力", "线性层 + softmax → 下一个词元的概率", "自回归循环"]


def test_explorer_in_chinese_reads_the_same_english_sentence(reference, monkeypatch):
    model, src_vocab, tgt_vocab = reference
    monkeypatch.setenv("COURSE_LANG", "zh")
    explorer = StepExplorer(model, src_vocab, tgt_vocab, SENTENCE)
    assert explorer.trace is not None and "狗每天看见黑信。" in explorer.message.value
    assert "the dog sees the black letter every day ." in explorer.message.value  # the input stays English
    assert (explorer.text.description, explorer.text.placeholder, explorer.button.description) == \
        ("英文", "输入一个英文句子", "运行")
    assert (explorer.step.description, explorer.previous.description, explorer.next.description) == \
        ("步骤", "◀ 上一步", "下一步 ▶")
    assert [s.title for s in explorer.trace["steps"]] == ZH_TITLES
    assert explorer.details.value.startswith("<b>第 1 步：源句子嵌入 + 位置编码</b><br>每个英文词元的编号")
    explorer.step.value = 6
    assert "<b>第 6 步：对中间表达的融合注意力</b>" in explorer.details.value
    assert "每层的权重 (1, 4, " in explorer.details.value and "(B, H, T, S)" in explorer.details.value
    fig = explorer.figure
    assert fig._suptitle.get_text() == "第 6 步：对中间表达的融合注意力"
    titles = [ax.get_title() for ax in fig.axes]
    assert "融合注意力，第 0 层（4 个头的平均）" in titles
    labels = {ax.get_xlabel() for ax in fig.axes} | {ax.get_ylabel() for ax in fig.axes}
    assert {"源词元（键）", "读入的目标词元（查询）"} <= labels
    map_texts = [t.get_text() for t in fig.axes[0].texts]
    assert "英文" in map_texts and "<bos> + 中文" in map_texts
    with warnings.catch_warnings(record=True) as caught:  # every Chinese character has a glyph
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    assert not [w for w in caught if "missing from" in str(w.message)]
    explorer.step.value = 8
    assert "第 1 次调用：输入 (1, 1) → logits (1, 1, " in explorer.details.value


@pytest.mark.parametrize("text, expected", [
    ("", "文本框是空的"),
    ("the dog eats pizza", "不认识的单词 &#x27;pizza&#x27;：玩具语法只认识"),
    ("the dog sees the cat!", "&#x27;!&#x27;"),
    ("dog " * 80, "这个模型最多只能读 64 个"),
])
def test_explorer_in_chinese_explains_bad_input_in_chinese(reference, monkeypatch, text, expected):
    model, src_vocab, tgt_vocab = reference
    monkeypatch.setenv("COURSE_LANG", "zh")
    explorer = StepExplorer(model, src_vocab, tgt_vocab, SENTENCE)
    explorer.text.value = text
    assert explorer.trace is None and "course-problem" in explorer.message.value
    assert expected in explorer.message.value
    shown = explorer.message.value
    assert "例如 &#x27;the dog sees" in shown or "可以试试：&#x27;the dog sees" in shown
    assert "Type" not in explorer.message.value and "unknown" not in explorer.message.value


def test_parse_input_gives_a_message_that_translates(reference):
    from course_utils.base.i18n import translate
    _, src_vocab, _ = reference
    tokens, problem = parse_input("the dog eats pizza", src_vocab, 64)
    assert tokens is None and problem.startswith("unknown word 'pizza'")
    assert translate(problem, "zh").startswith("不认识的单词 'pizza'：玩具语法只认识它自己的 ")
    assert translate(problem, "zh").endswith("可以试试：'the dog sees the black letter every day'。")
