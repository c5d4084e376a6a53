"""Tests of the held-out splits on which the reference recipe is meant to fail (course_utils.corpus.data:
LENGTH_LIMIT, SPLIT_NAMES, the long, nested and relative_tense splits; grammar.RelativeNP,
grammar.relative_np, grammar.sample_nested_relative)."""

import random
import re

import pytest

from course_utils.corpus import grammar
from course_utils.corpus.data import (
    LENGTH_LIMIT,
    SPLIT_NAMES,
    fits_length_limit,
    held_out_features,
    make_splits,
    reference_translation,
)
from course_utils.corpus.grammar import NP, RelativeNP, RelativeSentence, realize


@pytest.fixture(scope="module")
def splits():
    return make_splits(seed=0, n_train=3_000)


def test_every_split_name_is_a_split(splits):
    assert SPLIT_NAMES == ("train", "test", "compositional", "long", "nested", "relative_tense")
    for name in SPLIT_NAMES:
        assert splits[name] is getattr(splits, name) and len(splits[name]) > 0
    assert (len(splits.long), len(splits.nested), len(splits.relative_tense)) == (500, 500, 500)
    with pytest.raises(KeyError, match="no split 'val'.*train, test, compositional, long, nested, relative_tense"):
        splits["val"]


def test_only_the_long_split_goes_past_the_length_limit(splits):
    for name in ("train", "test", "compositional", "nested", "relative_tense"):
        assert all(fits_length_limit(p) for p in splits[name]), name
    assert all(min(len(p.src), len(p.tgt)) > LENGTH_LIMIT for p in splits.long)
    assert max(len(p.src) for p in splits.train) == LENGTH_LIMIT  # the limit is reached, not just respected


def test_long_sentences_are_grammar_sentences_with_its_translation(splits):
    for p in splits.long[:200]:
        assert reference_translation(p.src).tgt == p.tgt
        assert not held_out_features(p)


def test_nested_sentences_have_a_clause_inside_a_clause(splits):
    for p in splits.nested:
        assert "nested_relative" in p.phenomena
        assert p.src.count("that") == 2 and p.tgt.count("的") >= 2
        assert not held_out_features(p)
    kinds = {(p.src[p.src.index("that") + 1] == "the", p.src[len(p.src) - p.src[::-1].index("that")] == "the")
             for p in splits.nested}
    assert len(kinds) == 4  # outer and inner clause: subject and object relatives, all combinations
    for name in ("train", "test", "compositional"):
        assert not any("nested_relative" in p.phenomena for p in splits[name])


def test_relative_tense_puts_a_relative_clause_where_training_never_has_one(splits):
    frames = set()
    for p in splits.relative_tense:
        assert "relative_in_clause" in p.phenomena and p.src.count("that") == 1
        assert not held_out_features(p)
        assert {"past", "future", "negation", "question", "time"} & set(p.phenomena)
        frames |= {"past", "future", "negation", "question", "time"} & set(p.phenomena)
    assert frames == {"past", "future", "negation", "question", "time"}
    for name in ("train", "test", "compositional"):  # training: relative clauses only in present statements
        for p in splits[name]:
            if "that" in p.src:
                assert not {"past", "future", "negation", "question", "time"} & set(p.phenomena)


@pytest.mark.parametrize("structure, en, zh", [
    (grammar.Clause(RelativeNP(NP("dog"), "subject", "chase", NP("cat")), "sleep", tense="past", time="yesterday"),
     "the dog that chases the cat slept yesterday .", "追 猫 的 狗 昨天 睡觉 了 。"),
    (grammar.Clause(RelativeNP(NP("girl"), "object", "see", NP("boy")), "feed", NP("cat", 3), tense="future",
                    question=True),
     "will the girl that the boy sees feed three cats ?", "男孩 看见 的 女孩 会 喂 三 只 猫 吗 ？"),
    (RelativeSentence("subject", NP("dog"), "chase", RelativeNP(NP("cat"), "subject", "see", NP("bird")),
                      ("verb", "run", None)),
     "the dog that chases the cat that sees the bird runs .", "追 看见 鸟 的 猫 的 狗 跑步 。"),
    (RelativeSentence("subject", NP("dog"), "chase", RelativeNP(NP("cat"), "object", "see", NP("girl")),
                      ("adj", "big")),
     "the dog that chases the cat that the girl sees is big .", "追 女孩 看见 的 猫 的 狗 很 大 。"),
    (RelativeSentence("object", NP("cat"), "chase", RelativeNP(NP("dog"), "object", "see", NP("bird")),
                      ("verb", "sleep", None)),
     "the cat that the dog that the bird sees chases sleeps .", "鸟 看见 的 狗 追 的 猫 睡觉 。"),
])
def test_word_order_of_the_new_structures(structure, en, zh):
    r = realize(structure)
    assert (" ".join(r.src), " ".join(r.tgt)) == (en, zh)
    tag = "relative_in_clause" if isinstance(structure, grammar.Clause) else "nested_relative"
    assert tag in r.phenomena


def test_nested_sampler_keeps_the_selection_rules():
    rng = random.Random(5)
    for _ in range(300):
        s = grammar.sample_nested_relative(rng)
        inner = s.other
        v = grammar.VERBS[inner.verb]
        subj, obj = (inner.np, inner.other) if inner.kind == "subject" else (inner.other, inner.np)
        assert subj.noun in v.subjects and obj.noun in v.objects
        realize(s)  # the lexicon check passes


def test_new_splits_are_deterministic_and_independent_of_other_sizes(splits):
    again = make_splits(seed=0, n_train=0, n_test=10, n_compositional=10)
    assert again.long == splits.long and again.nested == splits.nested
    assert make_splits(seed=1, n_train=0, n_test=0, n_compositional=0).long != splits.long
    sources = [" ".join(p.src) for name in SPLIT_NAMES for p in splits[name]]
    assert len(sources) == len(set(sources))


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="n_long"):
        make_splits(n_long=-1)
    with pytest.raises(ValueError, match="n_nested"):
        make_splits(n_nested=1.5)


def test_every_sentence_a_lesson_shows_gets_the_grammars_translation():
    """Lessons 00, 09 and 10 (and the capstone) show sentences of every split with their reference
    translations, and lesson 10's widget checks a typed sentence with `reference_translation`.
    So every sentence of every split must parse back to its own pair: the held-out splits too (a
    relative clause in a clause's subject, a clause inside a clause). make_splits(seed=0,
    n_train=40_500) is the largest call of the lessons (09: 40,000 + 500 validation); smaller
    calls take a prefix of its training split."""
    splits = make_splits(seed=0, n_train=40_500)
    for name in SPLIT_NAMES:
        refused = []
        for p in splits[name]:
            try:
                again = reference_translation(p.src)
            except ValueError as err:
                refused.append(f"{' '.join(p.src)!r}: {err}")
                continue
            assert (again.src, again.tgt, again.phenomena) == (p.src, p.tgt, p.phenomena), p.src
        assert not refused, f"{name}: {len(refused)} sentences refused, e.g. {refused[0]}"


@pytest.mark.parametrize("sentence, message", [
    ("the dog chases the cat that sees the bird .", "verb ending in -s at word 10"),   # a clause on the object
    ("this dog that chases the cat slept .", "expected 'the' at word 1"),
    ("the dog that chases the cat that sees the bird that sees the cat runs .", "at word 11"),  # three levels
    ("the dog that the book chases slept .", "'book' cannot be the subject of 'chase'"),
    ("the dog that chases the cat slept yesterday ?", "'.' closing the sentence at word 9"),
])
def test_sentences_with_a_clause_outside_the_grammar_are_explained(sentence, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        reference_translation(sentence)
