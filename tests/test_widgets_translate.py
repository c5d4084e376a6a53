"""Lesson 10's translate widget, driven headless (no browser), and the attention helpers of
run/decoding it draws (attention_maps, translate_with_attention); in English and in the
Chinese edition (COURSE_LANG=zh), which reads the same English sentences."""

import html
import io
import warnings

import pytest
import torch

from course_utils import set_seed
from course_utils.corpus.data import SPLIT_NAMES, build_vocabs, make_splits
from course_utils.run.decoding import attention_maps, greedy_decode, translate_with_attention
from course_utils.transformer.model import Transformer, TransformerConfig
from course_utils.view.widgets_translate import TranslateExplorer, grammar_verdict, parse_sentence, plot_cross_attention

MAX_NEW = 8
REFERENCE_MAX_LEN = 64  # the reference model's max_len: the widget refuses longer input


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """English unless a test says otherwise (the language follows COURSE_LANG first)."""
    monkeypatch.setenv("COURSE_LANG", "en")


@pytest.fixture(scope="module")
def setup():
    """A tiny untrained model over the real vocabularies: its translations are nonsense but
    deterministic, which is all the plumbing needs."""
    src_vocab, tgt_vocab = build_vocabs()
    set_seed(0)
    config = TransformerConfig(src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab), d_model=16,
                               n_heads=2, n_layers=2, d_ff=32, dropout=0.0, max_len=32)
    return Transformer(config).eval(), src_vocab, tgt_vocab


def test_parse_sentence_known_words(setup):
    _, src_vocab, _ = setup
    tokens, problem = parse_sentence("The dog chases the cat", src_vocab)
    assert problem is None
    assert tokens == ["the", "dog", "chases", "the", "cat", "."]


def test_parse_sentence_unknown_word_names_it_and_lists_known_words(setup):
    _, src_vocab, _ = setup
    tokens, problem = parse_sentence("the dog eats pizza", src_vocab)
    assert tokens is None
    assert "pizza" in problem
    assert "dog" in problem and "cat" in problem  # a few known words
    tokens, problem = parse_sentence("   ", src_vocab)
    assert tokens is None and "Type an English sentence" in problem


def test_parse_sentence_rejects_non_str(setup):
    with pytest.raises(TypeError, match="text must be a str"):
        parse_sentence(["the", "dog"], setup[1])


def test_attention_maps_shapes_and_rows_sum_to_one(setup):
    model, src_vocab, tgt_vocab = setup
    src = torch.tensor([src_vocab.encode(["the", "dog", "sleeps", "."])])  # (1, 4)
    tgt_in = torch.tensor([[tgt_vocab.bos_id, 5, 6]])  # (1, 3)
    maps = attention_maps(model, src, tgt_in)
    assert set(maps) == {"encoder", "decoder_self", "cross"}
    assert [tuple(w.shape) for w in maps["encoder"]] == [(2, 4, 4)] * 2
    assert [tuple(w.shape) for w in maps["decoder_self"]] == [(2, 3, 3)] * 2
    assert [tuple(w.shape) for w in maps["cross"]] == [(2, 3, 4)] * 2
    for ws in maps.values():
        for w in ws:
            torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
    # the decoder's self-attention is causal: nothing above the diagonal
    assert maps["decoder_self"][0].triu(1).abs().max() == 0


def test_attention_maps_keeps_batch_axis_for_batches(setup):
    model, src_vocab, tgt_vocab = setup
    src = torch.tensor([src_vocab.encode(["the", "dog", "sleeps", "."])] * 3)
    tgt_in = torch.tensor([[tgt_vocab.bos_id, 5]] * 3)
    maps = attention_maps(model, src, tgt_in)
    assert tuple(maps["cross"][0].shape) == (3, 2, 2, 4)


def test_attention_maps_bad_input(setup):
    model = setup[0]
    with pytest.raises(ValueError, match=r"src must have 2 dims \(B, S\)"):
        attention_maps(model, torch.tensor([1, 2, 3]), torch.tensor([[1]]))


def test_translate_with_attention_matches_greedy_decoding(setup):
    model, src_vocab, tgt_vocab = setup
    tokens = ["the", "girl", "drew", "five", "small", "horses", "."]
    result = translate_with_attention(model, src_vocab, tgt_vocab, tokens, max_new_tokens=MAX_NEW)
    src = torch.tensor([src_vocab.encode(tokens)])
    out = greedy_decode(model, src, max_new_tokens=MAX_NEW, bos_id=tgt_vocab.bos_id, eos_id=tgt_vocab.eos_id,
                        pad_id=tgt_vocab.pad_id)[0].tolist()
    assert result["translation"] == tgt_vocab.decode(out)
    assert result["text"] == "".join(result["translation"])
    assert result["src_labels"] == tokens
    T = len(result["tgt_labels"])
    assert tuple(result["maps"]["cross"][-1].shape) == (2, T, len(tokens))
    # the rows of the maps are the steps that produced the tokens: a teacher-forced pass on
    # <bos> + output[:-1] predicts exactly the output again
    tgt_in = torch.tensor([[tgt_vocab.bos_id] + out[:T - 1]])
    with torch.no_grad():
        again = model(src, tgt_in).argmax(-1)[0].tolist()
    assert again == out[:T]


def test_cross_attention_rows_are_the_decoding_steps(setup):
    """Row t of the cross-attention map is what the decoder looked at while producing
    output token t, one step at a time (here recorded with the key/value cache)."""
    model, src_vocab, tgt_vocab = setup
    tokens = ["the", "dog", "chases", "the", "cat", "in", "the", "park", "."]
    result = translate_with_attention(model, src_vocab, tgt_vocab, tokens, max_new_tokens=MAX_NEW)
    src = torch.tensor([src_vocab.encode(tokens)])
    steps = []
    with torch.no_grad():
        memory = model.encode(src)
        cache, ys = model.new_cache(), [tgt_vocab.bos_id]
        for t in range(len(result["tgt_labels"])):
            logits = model.decode(torch.tensor([[ys[-1]]]), memory, None, offset=t, cache=cache)
            steps.append(model.decoder.layers[-1].cross_attn.last_weights[0, :, 0])  # (H, S)
            ys.append(int(logits[0, -1].argmax()))
    torch.testing.assert_close(result["maps"]["cross"][-1], torch.stack(steps, dim=1))


def test_translate_with_attention_rejects_unknown_or_empty(setup):
    model, src_vocab, tgt_vocab = setup
    with pytest.raises(ValueError, match="not in the source vocabulary"):
        translate_with_attention(model, src_vocab, tgt_vocab, ["the", "pizza"])
    with pytest.raises(ValueError, match="empty"):
        translate_with_attention(model, src_vocab, tgt_vocab, [])


def test_plot_cross_attention_titles(setup):
    model, src_vocab, tgt_vocab = setup
    result = translate_with_attention(model, src_vocab, tgt_vocab, ["the", "dog", "sleeps", "."], MAX_NEW)
    ax = plot_cross_attention(result, layer=-1, head=None)
    assert "layer 1" in ax.get_title() and "mean of heads" in ax.get_title()
    ax = plot_cross_attention(result, layer=0, head=1)
    assert "layer 0" in ax.get_title() and "head 1" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == result["src_labels"]


def test_explorer_translates_when_text_changes(setup):
    model, src_vocab, tgt_vocab = setup
    ex = TranslateExplorer(model, src_vocab, tgt_vocab, max_new_tokens=MAX_NEW)
    assert ex.result is None and ex.figure is None
    ex.text.value = "the dog chases the cat"
    first = ex.result
    assert first is not None and ex.figure is not None
    assert first["text"] in ex.message.value and "the dog chases the cat ." in ex.message.value
    draws, png = ex.n_draws, ex.image.value
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    ex.text.value = "did the teacher wash the car in the garden yesterday"
    assert ex.n_draws == draws + 1 and ex.image.value != png
    assert ex.result["src_labels"][-1] == "?" and ex.result["src_labels"] != first["src_labels"]


def test_explorer_problem_clears_the_stale_translation_and_says_why(setup):
    model, src_vocab, tgt_vocab = setup
    ex = TranslateExplorer(model, src_vocab, tgt_vocab, sentence="the dog sleeps", max_new_tokens=MAX_NEW)
    assert ex.result is not None and ex.figure is not None and ex.image.value
    ex.text.value = "the dog eats pizza"
    assert "pizza" in ex.message.value and "unknown" in ex.message.value and "course-problem" in ex.message.value
    assert ex.result is None and ex.figure is None and bytes(ex.image.value) == b""  # nothing stale on screen
    ex.text.value = "the dog sleeps"
    assert ex.result is not None and bytes(ex.image.value).startswith(b"\x89PNG")


@pytest.mark.parametrize("text, words", [("the dog sleeps!", ["'!'", "'.'"]),
                                         ("the dog, the cat", ["','"])])
def test_explorer_names_punctuation_the_grammar_lacks(setup, text, words):
    model, src_vocab, tgt_vocab = setup
    ex = TranslateExplorer(model, src_vocab, tgt_vocab, max_new_tokens=MAX_NEW)
    ex.text.value = text
    assert ex.result is None and "course-problem" in ex.message.value
    assert "has no" in ex.message.value and all(html.escape(w) in ex.message.value for w in words)


def test_explorer_lowers_capitals_and_adds_the_final_full_stop(setup):
    model, src_vocab, tgt_vocab = setup
    ex = TranslateExplorer(model, src_vocab, tgt_vocab, max_new_tokens=MAX_NEW)
    ex.text.value = "The Dog Sleeps"
    assert ex.result is not None and ex.result["src_labels"] == ["the", "dog", "sleeps", "."]
    ex.text.value = "Does the dog sleep"
    assert ex.result["src_labels"][-1] == "?"


def test_explorer_refuses_a_sentence_over_the_length_limit(setup):
    model, src_vocab, tgt_vocab = setup
    limit = model.config.max_len
    ex = TranslateExplorer(model, src_vocab, tgt_vocab, sentence="the dog sleeps", max_new_tokens=MAX_NEW)
    ex.text.value = "the " + "big " * limit + "dog sleeps"
    assert ex.result is None and ex.figure is None
    assert f"at most {limit}" in ex.message.value and "course-problem" in ex.message.value


def test_explorer_button_and_pickers_redraw(setup):
    model, src_vocab, tgt_vocab = setup
    ex = TranslateExplorer(model, src_vocab, tgt_vocab, sentence="the cat sleeps", max_new_tokens=MAX_NEW)
    draws = ex.n_draws
    ex.button.click()
    assert ex.n_draws == draws + 1
    png = ex.image.value
    ex.head.value = 1
    assert "head 1" in ex.figure.axes[0].get_title() and ex.image.value != png
    ex.layer.value = 0
    assert "layer 0" in ex.figure.axes[0].get_title()
    assert ex.n_draws == draws + 3


def test_grammar_verdict_compares_with_the_grammars_translation():
    tokens = ["the", "dog", "chased", "the", "cat", "yesterday", "."]
    right = {"translation": ["狗", "昨天", "追", "了", "猫", "。"]}
    assert grammar_verdict(tokens, right).startswith("✓")
    wrong = {"translation": ["猫", "追", "狗", "。"]}
    assert grammar_verdict(tokens, wrong) == "✗ the grammar says 狗昨天追了猫。"
    outside = ["the", "dog", "chases", "the", "cat", "that", "sees", "the", "bird", "."]  # a clause on the object
    assert "not a sentence of the toy grammar" in grammar_verdict(outside, right)


def test_every_held_out_sentence_lesson_10_shows_gets_a_verdict():
    """Lesson 10 prints sentences of every held-out split with their references; typed into the
    widget, each must be read as the lesson reads it and compared with that same reference
    (a relative clause in a clause's subject and a clause inside a clause included)."""
    src_vocab, _ = build_vocabs()
    splits = make_splits(seed=0, n_train=0)
    for name in SPLIT_NAMES[1:]:
        for p in splits[name]:
            tokens, problem = parse_sentence(" ".join(p.src), src_vocab, max_tokens=REFERENCE_MAX_LEN)
            assert problem is None and tokens == p.src, (name, p.src, problem)
            assert grammar_verdict(tokens, {"translation": list(p.tgt)}) == "✓ the grammar's translation", p.src


def test_explorer_message_shows_the_verdict(setup):
    model, src_vocab, tgt_vocab = setup
    ex = TranslateExplorer(model, src_vocab, tgt_vocab, sentence="the dog sleeps", max_new_tokens=MAX_NEW)
    assert "course-verdict" in ex.message.value and "grammar" in ex.message.value



def test_head_picker_starts_on_a_visible_choice(setup):
    """A Dropdown whose value is None renders blank in the browser; the head picker
    must start on its labelled 'mean of heads' option, and that option must draw the mean."""
    model, src_vocab, tgt_vocab = setup
    ex = TranslateExplorer(model, src_vocab, tgt_vocab, sentence="the dog sleeps", max_new_tokens=MAX_NEW)
    assert ex.head.label == "mean of heads" and ex.head.value is not None
    assert "mean of heads" in ex.figure.axes[0].get_title()
    ex.head.value = 0
    assert "head 0" in ex.figure.axes[0].get_title()


def test_explorer_in_chinese_reads_the_same_english_sentence(monkeypatch):
    """The reference model: the Chinese edition translates the English sentence of the English
    edition, to the same Chinese, and says so in Chinese."""
    from course_utils.run.reference import load_reference
    model, src_vocab, tgt_vocab, _ = load_reference()
    english = TranslateExplorer(model, src_vocab, tgt_vocab, sentence="the girl drew five small horses")
    monkeypatch.setenv("COURSE_LANG", "zh")
    ex = TranslateExplorer(model, src_vocab, tgt_vocab, sentence="the girl drew five small horses")
    assert ex.result is not None and ex.result["translation"] == english.result["translation"]
    assert f"<b>{ex.result['text']}</b>" in ex.message.value
    assert "✓ 与语法给出的译文一致" in ex.message.value and "grammar" not in ex.message.value
    assert (ex.text.description, ex.text.placeholder, ex.button.description) == ("英文", "输入一个英文句子", "翻译")
    assert (ex.layer.description, ex.head.description, ex.head.label) == ("层", "头", "各头的平均")
    assert [label for label, _ in ex.layer.options] == ["第 0 层", "第 1 层"]
    ax = ex.figure.axes[0]
    assert ax.get_title() == "融合注意力，解码器第 1 层，各头的平均"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("英文源句子（键）", "正在写出的中文词元（每一行是它的查询）")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["the", "girl", "drew", "five", "small", "horses", "."]
    ex.head.value = 2
    assert ex.figure.axes[0].get_title() == "融合注意力，解码器第 1 层，第 2 个头"
    with warnings.catch_warnings(record=True) as caught:  # every Chinese character has a glyph
        warnings.simplefilter("always")
        ex.figure.savefig(io.BytesIO(), format="png")
    assert not [w for w in caught if "missing from" in str(w.message)]
    ex.text.value = "the dog chases the cat that sees the bird"  # outside the grammar: no reference
    assert "（不是玩具语法中的句子：没有参考译文，只能看模型自己的了）" in ex.message.value


@pytest.mark.parametrize("text, expected", [
    ("the dog eats pizza", "不认识的单词 &#x27;pizza&#x27;：玩具语法只认识"),
    ("the dog sleeps!", "玩具语法里没有 &#x27;!&#x27;"),
    ("the dog, the cat", "玩具语法里没有 &#x27;,&#x27;"),
    ("   ", "请先输入一个英文句子"),
    ("the " + "big " * 40 + "dog sleeps", "模型最多只能读 32 个"),
])
def test_explorer_in_chinese_explains_bad_input_in_chinese(setup, monkeypatch, text, expected):
    model, src_vocab, tgt_vocab = setup
    monkeypatch.setenv("COURSE_LANG", "zh")
    ex = TranslateExplorer(model, src_vocab, tgt_vocab, sentence="the dog sleeps", max_new_tokens=MAX_NEW)
    ex.text.value = text
    assert ex.result is None and ex.figure is None and "course-problem" in ex.message.value
    assert expected in ex.message.value and "Type" not in ex.message.value and "grammar" not in ex.message.value


def test_verdicts_are_messages_with_chinese_forms():
    from course_utils.base.i18n import translate
    tokens = ["the", "dog", "chased", "the", "cat", "yesterday", "."]
    wrong = grammar_verdict(tokens, {"translation": ["猫", "。"]})
    assert translate(wrong, "zh") == "✗ 语法给出的译文是 狗昨天追了猫。"
    right = grammar_verdict(tokens, {"translation": ["狗", "昨天", "追", "了", "猫", "。"]})
    assert translate(right, "zh") == "✓ 与语法给出的译文一致"
