"""Tests of the toy corpus (course_utils.corpus.grammar, course_utils.corpus.data): word order of every
phenomenon, splits, held-out combinations, vocabularies, batching, the TSV loader."""

import hashlib
import json
import random
import re
from collections import defaultdict
from pathlib import Path

import pytest
import torch

from course_utils.corpus import grammar
from course_utils.corpus.data import (
    BOS_ID,
    EOS_ID,
    HELD_OUT,
    PAD_ID,
    PHENOMENA,
    UNK_ID,
    Batch,
    Pair,
    UnknownWordError,
    Vocab,
    build_vocabs,
    collate,
    english_tokens,
    find_example,
    generate_pairs,
    held_out_features,
    load_parallel_tsv,
    make_splits,
    reference_translation,
    tokenize_en,
    tokenize_zh,
)
from course_utils.corpus.grammar import NP, Clause, RelativeSentence, realize
from course_utils.transformer.masks import causal_mask


@pytest.fixture(scope="module")
def full_splits():
    """The default splits (40k/2k/1k), as lesson 09 and the reference model use them."""
    return make_splits(seed=0)


@pytest.fixture(scope="module")
def random_pairs():
    """20k independent draws from the full grammar (no splitting, duplicates kept)."""
    return generate_pairs(20_000, seed=3)


def _pair(structure):
    r = realize(structure)
    return " ".join(r.src), " ".join(r.tgt), set(r.phenomena)


# ----------------------------------------------------------------------------- word order
@pytest.mark.parametrize("structure, en, zh, tags", [
    (Clause(NP("dog", adj="big"), "chase", NP("cat", adj="small")),
     "the big dog chases the small cat .", "大 狗 追 小 猫 。", {"svo", "adjective", "present"}),
    (Clause(NP("cat"), "chase", NP("dog")), "the cat chases the dog .", "猫 追 狗 。", {"svo"}),
    (Clause(NP("dog", det=3), "chase", NP("cat")),
     "three dogs chase the cat .", "三 只 狗 追 猫 。", {"number"}),
    (Clause(NP("girl"), "buy", NP("book", det=2)),
     "the girl buys two books .", "女孩 买 两 本 书 。", {"number"}),          # 两, not 二
    (Clause(NP("dog", det="this", adj="clever"), "see", NP("horse", det=1)),
     "this clever dog sees one horse .", "这 只 聪明 的 狗 看见 一 匹 马 。", {"demonstrative", "adjective"}),
    (Clause(NP("dog"), "chase", NP("cat"), tense="past", time="yesterday"),
     "the dog chased the cat yesterday .", "狗 昨天 追 了 猫 。", {"past", "time"}),
    (Clause(NP("cat"), "sleep", place="in the park"),
     "the cat sleeps in the park .", "猫 在 公园 睡觉 。", {"intransitive", "place"}),
    (Clause(NP("cat"), "sleep", tense="past"), "the cat slept .", "猫 睡觉 了 。", {"past"}),
    (Clause(NP("dog"), "chase", NP("cat"), tense="future", time="tomorrow", place="in the park"),
     "the dog will chase the cat in the park tomorrow .", "狗 明天 会 在 公园 追 猫 。",
     {"future", "time", "place"}),
    (Clause(NP("dog"), "chase", NP("cat"), negated=True),
     "the dog does not chase the cat .", "狗 不 追 猫 。", {"negation"}),
    (Clause(NP("dog", det=2), "chase", NP("cat"), tense="past", time="last night", negated=True),
     "two dogs did not chase the cat last night .", "两 只 狗 昨晚 没有 追 猫 。", {"negation", "past"}),
    (Clause(NP("dog"), "chase", NP("cat"), tense="future", negated=True, place="at home"),
     "the dog will not chase the cat at home .", "狗 不会 在 家 追 猫 。", {"negation", "future"}),
    (Clause(NP("dog"), "see", NP("cat"), negated=True),
     "the dog does not see the cat .", "狗 没有 看见 猫 。", {"negation"}),     # 看见 takes 没有
    (Clause(NP("dog"), "chase", NP("cat"), question=True),
     "does the dog chase the cat ?", "狗 追 猫 吗 ？", {"question"}),
    (Clause(NP("dog", det=3), "chase", NP("cat"), tense="past", time="yesterday", question=True),
     "did three dogs chase the cat yesterday ?", "三 只 狗 昨天 追 了 猫 吗 ？", {"question", "past"}),
    (Clause(NP("dog", det=4), "chase", NP("cat"), time="every day", question=True),
     "do four dogs chase the cat every day ?", "四 只 狗 每天 追 猫 吗 ？", {"question", "time"}),
    (Clause(NP("boy"), "swim", tense="future", question=True),
     "will the boy swim ?", "男孩 会 游泳 吗 ？", {"question", "future"}),
    (RelativeSentence("subject", NP("dog"), "chase", NP("cat"), ("adj", "big")),
     "the dog that chases the cat is big .", "追 猫 的 狗 很 大 。",
     {"relative_subject", "predicate_adjective"}),
    (RelativeSentence("object", NP("cat"), "chase", NP("dog", adj="big"), ("adj", "small")),
     "the cat that the big dog chases is small .", "大 狗 追 的 猫 很 小 。", {"relative_object"}),
    (RelativeSentence("subject", NP("dog"), "chase", NP("cat"), ("verb", "see", NP("bird"))),
     "the dog that chases the cat sees the bird .", "追 猫 的 狗 看见 鸟 。", {"relative_subject", "svo"}),
    (RelativeSentence("object", NP("book"), "buy", NP("girl"), ("adj", "new")),
     "the book that the girl buys is new .", "女孩 买 的 书 很 新 。", {"relative_object"}),
    (RelativeSentence("subject", NP("girl"), "feed", NP("duck"), ("verb", "play", "in the garden")),
     "the girl that feeds the duck plays in the garden .", "喂 鸭子 的 女孩 在 花园 玩 。", {"place"}),
])
def test_each_phenomenon_has_the_right_word_order(structure, en, zh, tags):
    got_en, got_zh, got_tags = _pair(structure)
    assert got_en == en
    assert got_zh == zh
    assert tags <= got_tags, f"missing tags {tags - got_tags}"


def test_phenomena_tags_are_from_the_documented_list(full_splits):
    seen = {t for p in full_splits.train for t in p.phenomena}
    assert seen == set(PHENOMENA)


@pytest.mark.parametrize("bad", [
    Clause(NP("dog"), "chase", NP("cat"), tense="past", time="tomorrow"),  # time vs tense
    Clause(NP("dog"), "sleep", NP("cat")),                                 # intransitive + object
    Clause(NP("dog"), "chase"),                                            # transitive, no object
    Clause(NP("dog"), "chase", NP("cat"), negated=True, question=True),
    Clause(NP("dog"), "chase", NP("cat"), time="every day", negated=True),
    Clause(NP("dog"), "play"),                                             # 玩 needs a place
    RelativeSentence("middle", NP("dog"), "chase", NP("cat"), ("adj", "big")),
    Clause(NP("unicorn"), "sleep"),                                        # unknown words
    Clause(NP("dog", det=11), "sleep"),
    Clause(NP("dog", adj="purple"), "sleep"),
    Clause(NP("dog"), "fly"),
    Clause(NP("dog"), "sleep", tense="pluperfect"),
    Clause(NP("dog"), "sleep", place="on the moon"),
    RelativeSentence("subject", NP("dog"), "sleep", NP("cat"), ("adj", "big")),
    RelativeSentence("subject", NP("dog"), "chase", NP("cat"), ("verb", "see", "in the park")),
    RelativeSentence("subject", NP("dog"), "chase", NP("cat"), ("colour", "big")),
])
def test_structures_outside_the_grammar_are_rejected(bad):
    with pytest.raises(ValueError):
        realize(bad)


def test_realize_rejects_other_types():
    with pytest.raises(TypeError, match="Clause or RelativeSentence"):
        realize("the dog chases the cat")


def test_a_source_always_has_the_same_translation(random_pairs):
    targets = defaultdict(set)
    for p in random_pairs:
        targets[" ".join(p.src)].add(" ".join(p.tgt))
    ambiguous = {s: t for s, t in targets.items() if len(t) > 1}
    assert not ambiguous


def test_sentence_lengths_are_moderate(full_splits):
    src_lens = [len(p.src) for p in full_splits.train]
    tgt_lens = [len(p.tgt) for p in full_splits.train]
    assert 4 <= min(src_lens) and max(src_lens) <= 15
    assert 3 <= min(tgt_lens) and max(tgt_lens) <= 18
    assert 7 <= sum(src_lens) / len(src_lens) <= 11


# ----------------------------------------------------------------------------- size of the language
def test_distinct_sentence_count_is_well_over_a_million():
    counts = grammar.count_sentences()
    assert counts["total"] > 1e6
    assert counts["total"] == counts["clause"] + counts["relative_subject"] + counts["relative_object"]
    assert len(grammar.NOUNS) >= 20 and len(grammar.ADJECTIVES) >= 8 and len(grammar.NUMBERS) == 10
    assert len(grammar.TRANSITIVE) + len(grammar.INTRANSITIVE) >= 12
    assert sum(len(t) for t in grammar.TIMES.values()) >= 3 and len(grammar.PLACES) >= 3


def test_count_components_match_what_the_sampler_produces():
    """The count multiplies per-slot choices; each factor must equal the sampler's support."""
    rng = random.Random(0)
    nps = {" ".join(grammar._sample_np(rng, ("dog",), True).en()) for _ in range(20_000)}
    assert len(nps) == grammar._count_nps(("dog",), True)
    frames = set()
    for _ in range(20_000):
        c = grammar._sample_clause(rng)
        frames.add((c.tense, c.time, c.negated, c.question))
    assert len(frames) == grammar._clause_frames()


def test_memorising_cannot_work(random_pairs):
    """Almost every random sentence is new: duplicates are rare among 20k draws."""
    assert len({" ".join(p.src) for p in random_pairs}) > 0.95 * len(random_pairs)


# ----------------------------------------------------------------------------- splits
def test_splits_are_deterministic_from_the_seed():
    a = make_splits(seed=0, n_train=300, n_test=50, n_compositional=30)
    b = make_splits(seed=0, n_train=300, n_test=50, n_compositional=30)
    c = make_splits(seed=1, n_train=300, n_test=50, n_compositional=30)
    assert a.train == b.train and a.test == b.test and a.compositional == b.compositional
    assert a.train != c.train and a.test != c.test and a.compositional != c.compositional


def test_generation_does_not_touch_the_global_rng():
    random.seed(123)
    expected = random.random()
    random.seed(123)
    make_splits(seed=0, n_train=100, n_test=10, n_compositional=10)
    assert random.random() == expected


def test_test_split_does_not_depend_on_train_size():
    small = make_splits(seed=0, n_train=100, n_test=50, n_compositional=30)
    large = make_splits(seed=0, n_train=1000, n_test=50, n_compositional=30)
    assert small.test == large.test and small.compositional == large.compositional


def test_default_splits_are_stable(full_splits):
    """The shipped reference model and the stored notebook outputs were made from exactly these
    splits. If you change the grammar on purpose, update the fingerprint and retrain the
    reference model (`course train`), then re-run the notebooks."""
    fingerprint = hashlib.md5(repr((full_splits.train, full_splits.test, full_splits.compositional))
                              .encode("utf-8")).hexdigest()
    assert " ".join(full_splits.train[0].src) == "the teacher that kicks the ball is cute ."
    assert fingerprint == "1943d263159d2bf14310ef4e7734aab9"


def test_split_sizes_and_defaults(full_splits):
    assert (len(full_splits.train), len(full_splits.test), len(full_splits.compositional)) == (40_000, 2_000, 1_000)
    assert all(isinstance(p, Pair) for p in full_splits.train[:10])


def test_no_source_repeats_within_or_across_splits(full_splits):
    sources = [" ".join(p.src) for split in (full_splits.train, full_splits.test, full_splits.compositional)
               for p in split]
    assert len(sources) == len(set(sources))


def _independent_held_out(src: list) -> set:
    """Held-out combinations found with plain string patterns (not the library's parser)."""
    text = " " + " ".join(src) + " "
    found = set()
    for adj, noun in HELD_OUT["adj_noun"]:
        plural = grammar.NOUNS[noun].en_plural
        if f" {adj} {noun} " in text or f" {adj} {plural} " in text:
            found.add(("adj_noun", adj, noun))
        if re.match(rf" the( \w+)? {noun} that .* is {adj} \. $", text):
            found.add(("adj_noun", adj, noun))
    for noun in HELD_OUT["rel_object"]:
        if re.search(rf" that \w+ the( \w+)? {noun} ", text) or re.match(rf" the( \w+)? {noun} that the ", text):
            found.add(("rel_object", noun))
    for verb in HELD_OUT["question_verb"]:
        if src[-1] == "?" and f" {verb} " in text:
            found.add(("question_verb", verb))
    return found


def test_held_out_combinations_never_occur_in_train_or_test(full_splits):
    for split in (full_splits.train, full_splits.test):
        bad = [p for p in split if _independent_held_out(p.src) or held_out_features(p)]
        assert not bad, " ".join(bad[0].src)


def test_every_compositional_sentence_has_a_held_out_combination(full_splits):
    found = defaultdict(int)
    for p in full_splits.compositional:
        feats = _independent_held_out(p.src)
        assert feats, " ".join(p.src)
        assert feats == held_out_features(p)
        for f in feats:
            found[f] += 1
    expected = ([("adj_noun", a, n) for a, n in HELD_OUT["adj_noun"]]
                + [("rel_object", n) for n in HELD_OUT["rel_object"]]
                + [("question_verb", v) for v in HELD_OUT["question_verb"]])
    for f in expected:  # each held-out combination is well represented
        assert found[f] >= 100, (f, found[f])


def test_held_out_parts_are_seen_in_training(full_splits):
    """Compositional means new *combinations* of known parts: each part occurs in train."""
    train_words = {t for p in full_splits.train for t in p.src}
    for adj, noun in HELD_OUT["adj_noun"]:
        assert adj in train_words and noun in train_words
    questions = [p for p in full_splits.train if "question" in p.phenomena]
    rel = [p for p in full_splits.train if "relative_subject" in p.phenomena]
    assert len(questions) > 1000 and len(rel) > 1000
    assert any("rabbit" in p.src for p in full_splits.train)
    assert any("washes" in p.src for p in full_splits.train)


def test_changing_returned_splits_does_not_change_the_next_call():
    a = make_splits(seed=0, n_train=20, n_test=5, n_compositional=5)
    first = list(a.train[0].src)
    a.train[0].src.append("!")
    a.test.clear()
    b = make_splits(seed=0, n_train=20, n_test=5, n_compositional=5)
    assert b.train[0].src == first and len(b.test) == 5


def test_held_out_features_copes_with_any_sentence():
    assert held_out_features(Pair(["that"], ["x"])) == set()
    assert held_out_features(Pair("i know that she swims".split(), ["x"])) == set()
    assert held_out_features(Pair("the black cat sleeps .".split(), ["x"])) == {("adj_noun", "black", "cat")}


def test_make_splits_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_train"):
        make_splits(n_train=-1)
    with pytest.raises(ValueError, match="n_test"):
        make_splits(n_test=2.5)
    with pytest.raises(TypeError, match="seed"):
        make_splits(seed="0")


def test_find_example_returns_the_phenomenon(full_splits):
    for tag in PHENOMENA:
        p = find_example(tag)
        assert tag in p.phenomena
    p = find_example("time", pairs=full_splits.test, exclude=("question", "negation"))
    assert "time" in p.phenomena and "question" not in p.phenomena and p in full_splits.test
    with pytest.raises(ValueError, match="unknown phenomenon"):
        find_example("passive")


# ----------------------------------------------------------------------------- vocabulary
def test_vocab_special_ids_and_round_trip():
    v = Vocab(["狗", "追", "猫"])
    assert (v.pad_id, v.bos_id, v.eos_id, v.unk_id) == (PAD_ID, BOS_ID, EOS_ID, UNK_ID) == (0, 1, 2, 3)
    assert v.itos[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"] and len(v) == 7
    ids = v.encode(["狗", "追", "猫"], add_bos=True, add_eos=True)
    assert ids == [1, 4, 5, 6, 2]
    assert v.decode(ids) == ["狗", "追", "猫"]
    assert v.decode(ids, strip_special=False) == ["<bos>", "狗", "追", "猫", "<eos>"]
    assert v.decode(torch.tensor([1, 4, 2, 5, 0])) == ["狗"]          # stops at <eos>
    assert v.encode(["鸟"]) == [UNK_ID]


def test_vocab_to_dict_from_dict_survives_json():
    v = Vocab(["a", "b"])
    assert Vocab.from_dict(json.loads(json.dumps(v.to_dict()))) == v
    with pytest.raises(ValueError):
        Vocab.from_dict({"tokens": ["a", "b"]})


def test_vocab_errors_are_clear():
    v = Vocab(["a"])
    with pytest.raises(TypeError, match="tokenize first"):
        v.encode("a b")
    with pytest.raises(ValueError, match="outside"):
        v.decode([99])
    with pytest.raises(TypeError):
        Vocab(["a", 3])


def test_vocab_from_pairs_min_freq():
    pairs = [Pair(["a", "b"], ["x"]), Pair(["a", "c"], ["x", "y"])]
    v = Vocab.from_pairs(pairs, min_freq=2)
    assert v.itos[4:] == ["a"]
    src_v, tgt_v = Vocab.from_pairs(pairs, side="src"), Vocab.from_pairs(pairs, side="tgt")
    assert src_v.itos[4:] == ["a", "b", "c"] and tgt_v.itos[4:] == ["x", "y"]
    with pytest.raises(ValueError, match="side"):
        Vocab.from_pairs(pairs, side="zh")


def test_grammar_vocabs_are_deterministic_and_cover_every_split(full_splits):
    src_vocab, tgt_vocab = build_vocabs()
    assert (src_vocab, tgt_vocab) == build_vocabs()
    for split in (full_splits.train, full_splits.test, full_splits.compositional):
        for p in split:
            assert UNK_ID not in src_vocab.encode(p.src), p.src
            assert UNK_ID not in tgt_vocab.encode(p.tgt), p.tgt
    used_src = {t for p in full_splits.train for t in p.src}
    used_tgt = {t for p in full_splits.train for t in p.tgt}
    assert used_src == set(src_vocab.itos[4:]) and used_tgt == set(tgt_vocab.itos[4:])  # no dead tokens


# ----------------------------------------------------------------------------- batching
def test_collate_shapes_padding_and_masks():
    pairs = [Pair(["the", "dog", "sleeps", "."], ["狗", "睡觉", "。"]),
             Pair(["the", "big", "dog", "chases", "the", "cat", "."], ["大", "狗", "追", "猫", "。"])]
    src_vocab, tgt_vocab = build_vocabs()
    b = collate(pairs, src_vocab, tgt_vocab)
    assert isinstance(b, Batch)
    assert b.src.shape == (2, 7) and b.tgt_in.shape == (2, 6) and b.tgt_out.shape == (2, 6)
    assert b.src_mask.shape == (2, 1, 1, 7) and b.tgt_mask.shape == (2, 1, 6, 6)
    for t in (b.src, b.tgt_in, b.tgt_out):
        assert t.dtype == torch.long
    assert b.src_mask.dtype == torch.bool and b.tgt_mask.dtype == torch.bool
    assert b.src[0].tolist() == src_vocab.encode(pairs[0].src) + [PAD_ID] * 3
    assert b.tgt_in[0].tolist() == [BOS_ID] + tgt_vocab.encode(pairs[0].tgt) + [PAD_ID] * 2
    assert b.tgt_out[0].tolist() == tgt_vocab.encode(pairs[0].tgt) + [EOS_ID] + [PAD_ID] * 2
    assert b.tgt_out[1].tolist() == tgt_vocab.encode(pairs[1].tgt) + [EOS_ID]
    real = b.tgt_in[:, 1:] != PAD_ID                                   # teacher forcing: shifted by one
    assert torch.equal(b.tgt_in[:, 1:][real], b.tgt_out[:, :-1][real])
    assert b.src_mask[0, 0, 0].tolist() == [True] * 4 + [False] * 3
    assert b.src_mask[1].all()
    assert torch.equal(b.tgt_mask[1, 0], causal_mask(6))                          # no padding: causal only
    expected0 = causal_mask(6) & torch.tensor([True] * 4 + [False] * 2)
    assert torch.equal(b.tgt_mask[0, 0], expected0)                               # causal & padding
    assert b.n_tokens == 4 + 6
    assert b.to("cpu").src.shape == b.src.shape


def test_collate_accepts_plain_tuples_and_rejects_empty():
    src_vocab, tgt_vocab = build_vocabs()
    b = collate([(["the", "dog", "sleeps", "."], ["狗", "睡觉", "。"])], src_vocab, tgt_vocab)
    assert b.src.shape == (1, 4)
    with pytest.raises(ValueError, match="empty"):
        collate([], src_vocab, tgt_vocab)
    with pytest.raises(ValueError, match="empty source or target"):
        collate([([], ["狗"])], src_vocab, tgt_vocab)


def test_a_collated_batch_runs_through_the_model():
    from course_utils.transformer.model import Transformer, TransformerConfig
    splits = make_splits(seed=0, n_train=8, n_test=1, n_compositional=1)
    src_vocab, tgt_vocab = build_vocabs()
    b = collate(splits.train, src_vocab, tgt_vocab)
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(len(src_vocab), len(tgt_vocab), d_model=16, n_heads=2,
                                          n_layers=1, d_ff=32, dropout=0.0))
    logits = model(b.src, b.tgt_in, b.src_mask, b.tgt_mask)
    assert logits.shape == (*b.tgt_out.shape, len(tgt_vocab))
    assert torch.isfinite(logits).all()


# ----------------------------------------------------------------------------- tokenizers, typed input
def test_tokenizers():
    assert tokenize_en("The dog doesn't chase the CAT, right?") == \
        ["the", "dog", "doesn't", "chase", "the", "cat", ",", "right", "?"]
    assert tokenize_en("I don\u2019t know.") == ["i", "don't", "know", "."]
    assert tokenize_zh("我有3D打印机，你呢？") == ["我", "有", "3D", "打", "印", "机", "，", "你", "呢", "？"]
    assert tokenize_zh("Tom 在 2024 年来了。") == ["Tom", "在", "2024", "年", "来", "了", "。"]
    assert tokenize_zh("狗 昨天 追 了 猫", by="space") == ["狗", "昨天", "追", "了", "猫"]
    with pytest.raises(ValueError, match="by"):
        tokenize_zh("狗", by="word")
    with pytest.raises(TypeError):
        tokenize_en(["dog"])


def test_english_tokens_accepts_grammar_words_and_adds_punctuation():
    assert english_tokens("The big dog chases the small cat") == \
        ["the", "big", "dog", "chases", "the", "small", "cat", "."]
    assert english_tokens("Did the dog chase the cat yesterday") == \
        ["did", "the", "dog", "chase", "the", "cat", "yesterday", "?"]
    assert english_tokens("the cat sleeps in the park .")[-1] == "."


def test_english_tokens_rejects_unknown_words_clearly():
    with pytest.raises(UnknownWordError, match="'doggo'.*did you mean 'dog'") as info:
        english_tokens("the doggo chases the elephant")
    assert info.value.unknown == ["doggo", "elephant"]
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="empty"):
        english_tokens("   ")
    src_vocab, _ = build_vocabs()
    assert english_tokens("the dog sleeps", vocab=src_vocab)[-1] == "."


def test_english_tokens_offers_up_to_three_close_words():
    # a swapped-letter typo: 'do' is closer by difflib's ratio, but 'dog' must be offered too
    with pytest.raises(UnknownWordError) as info:
        english_tokens("the dgo sees the cat .")
    hint = str(info.value).split(":")[0]
    assert "'do'" in hint and "'dog'" in hint, hint
    assert hint.count("' or '") <= 2, hint  # at most three suggestions


def test_parse_inverts_realize(random_pairs):
    for p in random_pairs[:5000]:
        r = realize(grammar.parse(p.src))
        assert (r.src, r.tgt) == (p.src, p.tgt)


def test_different_structures_give_different_sentences():
    """parse(realize(s)) == s, so realize is one-to-one: the count of structures
    (grammar.count_sentences) is a count of distinct English sentences."""
    rng = random.Random(9)
    for _ in range(5000):
        structure = grammar.sample_sentence(rng)
        assert grammar.parse(realize(structure).src) == structure


def test_train_prefix_does_not_depend_on_train_size():
    small = make_splits(seed=0, n_train=100, n_test=50, n_compositional=30)
    large = make_splits(seed=0, n_train=300, n_test=50, n_compositional=30)
    assert large.train[:100] == small.train


def test_reference_translation_of_typed_sentences():
    assert reference_translation("The dog chased the cat yesterday").tgt == ["狗", "昨天", "追", "了", "猫", "。"]
    assert reference_translation("the dog that chases the cat is big").tgt == ["追", "猫", "的", "狗", "很", "大", "。"]
    assert reference_translation(["does", "the", "cat", "sleep", "?"]).tgt == ["猫", "睡觉", "吗", "？"]


@pytest.mark.parametrize("sentence, message", [
    ("the book chases the cat", "'book' cannot be the subject of 'chase'"),
    ("the dog chase the cat", "verb ending in -s at word 3"),
    ("three dog sleeps", "plural noun at word 2"),
    ("do the dog chase the cat ?", "did you mean 'does the dog chase the cat ?'"),
    ("the dog chases the cat yesterday", "'yesterday' does not go with the present tense"),
    ("the red dog sleeps", "'red' does not describe 'dog'"),
    ("the dog that chases the cat is black", "'dog' cannot be 'black'"),
])
def test_reference_translation_explains_sentences_outside_the_grammar(sentence, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        reference_translation(sentence)


# ----------------------------------------------------------------------------- TSV loader
def test_load_parallel_tsv_reads_good_lines_and_reports_bad_ones(tmp_path):
    path = tmp_path / "cmn.txt"
    lines = [
        "\ufeffHi.\t嗨。\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123",  # 1: BOM + 3rd column
        "I'm home.\t我到家了。",                                              # 2
        "no tab on this line",                                                # 3: bad
        "",                                                                   # 4: blank, skipped
        "\t只有中文。",                                                        # 5: empty English
        "Only English.\t   ",                                                 # 6: empty Chinese
        "Tom has 3 cats.\tTom有3只猫。",                                       # 7
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8") + b"Bad \xff bytes\t\xe7\x8b\n")  # 8: not UTF-8
    pairs, problems = load_parallel_tsv(path)
    assert [p.src for p in pairs] == [["hi", "."], ["i'm", "home", "."], ["tom", "has", "3", "cats", "."]]
    assert [p.tgt for p in pairs] == [["嗨", "。"], ["我", "到", "家", "了", "。"],
                                      ["Tom", "有", "3", "只", "猫", "。"]]
    assert [p.line for p in problems] == [3, 5, 6, 8]
    assert "no tab" in problems[0].reason and "English" in problems[1].reason
    assert "Chinese" in problems[2].reason and "UTF-8" in problems[3].reason
    assert str(problems[0]).startswith("line 3:")


def test_load_parallel_tsv_max_len(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("Hi.\t嗨。\nThis is a rather long sentence indeed.\t这是一个很长的句子。\n", encoding="utf-8")
    pairs, problems = load_parallel_tsv(path, max_len=5)
    assert len(pairs) == 1 and problems[0].line == 2 and "max_len" in problems[0].reason


def test_load_parallel_tsv_missing_file_and_nothing_usable(tmp_path):
    missing = tmp_path / "nope.tsv"
    with pytest.raises(FileNotFoundError, match="nope.tsv"):
        load_parallel_tsv(missing)
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tabs here\nnor here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no usable.*line 1"):
        load_parallel_tsv(bad)
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no non-blank lines"):
        load_parallel_tsv(empty)


def test_tsv_pairs_train_end_to_end(tmp_path):
    """Real data flows through the same vocab and collate path as the toy corpus."""
    path = tmp_path / "cmn.txt"
    path.write_text("I run.\t我跑。\nThe cat sleeps.\t猫在睡觉。\n", encoding="utf-8")
    pairs, _ = load_parallel_tsv(path)
    src_vocab, tgt_vocab = Vocab.from_pairs(pairs, side="src"), Vocab.from_pairs(pairs, side="tgt")
    b = collate(pairs, src_vocab, tgt_vocab)
    assert b.src.shape == (2, 4) and b.tgt_out.shape == (2, 6)
    assert UNK_ID not in b.src.tolist()[0]


def test_readme_parallel_corpus_example_runs_and_prints_what_it_says(tmp_path, monkeypatch, capsys):
    """The README's "Your own parallel corpus" example: run it, compare each print with its comment."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"### Your own parallel corpus.*?```python\n(.*?)```", readme, re.S)
    assert block, "README lost its 'Your own parallel corpus' example"
    code = block.group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    promised = [line.split("#", 1)[1].strip() for line in code.splitlines() if line.startswith("print(")]
    assert printed == promised
