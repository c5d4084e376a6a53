"""Tests of course_utils.corpus.metrics: exact match, sacreBLEU with Chinese tokenisation, breakdown by phenomenon."""

import pytest

from course_utils.corpus.metrics import by_phenomenon, corpus_bleu, exact_match

REFS = [["大", "狗", "追", "小", "猫", "。"],
        ["狗", "昨天", "追", "了", "猫", "。"],
        ["追", "猫", "的", "狗", "很", "大", "。"],
        ["猫", "在", "公园", "睡觉", "。"]]


def test_bleu_is_100_on_identical_output():
    assert corpus_bleu(REFS, REFS) == pytest.approx(100.0)


def test_bleu_drops_when_output_is_perturbed():
    swapped = [list(r) for r in REFS]
    swapped[0] = ["大", "猫", "追", "小", "狗", "。"]      # who chases whom, reversed
    swapped[2] = ["狗", "的", "追", "猫", "很", "大", "。"]  # relative clause in English order
    score = corpus_bleu(swapped, REFS)
    assert 0 < score < 90
    worse = [list(r) for r in swapped]
    worse[1] = ["猫", "追", "狗", "。"]
    assert corpus_bleu(worse, REFS) < score


def test_bleu_uses_chinese_character_tokenisation():
    """With tokenize="zh" a word split into characters scores the same as the word:
    "公园" and "公 园" are the same two character tokens."""
    joined = [["猫", "在", "公园", "睡觉", "。"]]
    chars = [["猫", "在", "公", "园", "睡", "觉", "。"]]
    assert corpus_bleu(chars, joined) == pytest.approx(100.0)
    assert corpus_bleu(["猫在公园睡觉。"], [" ".join(joined[0])]) == pytest.approx(100.0)


def test_exact_match():
    hyps = [list(r) for r in REFS]
    assert exact_match(hyps, REFS) == 1.0
    hyps[1] = ["狗", "昨天", "追", "猫", "。"]                   # forgot 了
    assert exact_match(hyps, REFS) == pytest.approx(0.75)
    assert exact_match(["狗 追 猫"], [["狗", "追", "猫"]]) == 1.0   # strings are split on spaces
    assert exact_match([["狗", "追", "猫"]], [["狗", "追", "猫", "。"]]) == 0.0
    assert exact_match([["猫", "追", "狗", "。"]], [["狗", "追", "猫", "。"]]) == 0.0  # same words, other order


@pytest.mark.parametrize("fn", [exact_match, corpus_bleu])
def test_metrics_reject_mismatched_or_empty_input(fn):
    with pytest.raises(ValueError, match="one reference per hypothesis"):
        fn(REFS[:2], REFS)
    with pytest.raises(ValueError, match="empty"):
        fn([], [])
    with pytest.raises(TypeError, match=r"hyps\[0\]"):
        fn([3], [REFS[0]])


def test_by_phenomenon():
    hyps = [list(r) for r in REFS]
    hyps[2] = ["狗", "追", "猫", "很", "大", "。"]
    tags = [("adjective", "svo"), ("past", "svo", "time"), ("relative_subject",), ("place",)]
    result = by_phenomenon(hyps, REFS, tags)
    assert result["svo"] == {"n": 2, "exact_match": 1.0}
    assert result["relative_subject"] == {"n": 1, "exact_match": 0.0}
    assert list(result) == sorted(result)
    with pytest.raises(ValueError, match="tag tuples"):
        by_phenomenon(hyps, REFS, tags[:3])
