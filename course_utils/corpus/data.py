"""corpus layer · data for the course: the toy English -> Chinese corpus, vocabularies,
batching with masks, and a loader for real tab-separated parallel text (lesson 09).

Shapes: B batch · S source length · T target length (one more than the longest target).

    splits = make_splits(seed=0)      # .train .test .compositional .long .nested .relative_tense
    src_vocab, tgt_vocab = build_vocabs()
    batch = collate(splits.train[:4], src_vocab, tgt_vocab)
    batch.src (B, S)  batch.tgt_in (B, T)  batch.tgt_out (B, T)
    batch.src_mask (B, 1, 1, S)  batch.tgt_mask (B, 1, T, T)    bool, True = may attend

The sentences come from the grammar in `course_utils.corpus.grammar`; `reference_translation`
gives the grammar's translation of a typed sentence. The *compositional* split
holds combinations that never occur in training (`HELD_OUT`): a model that only memorised
whole phrases fails there, one that learned the parts and the rules does not.

Three more held-out splits go where the training data never goes, to find where a model
trained on it stops working (lesson 10): *long* (sentences longer, in both languages, than
any sentence of the other splits, which hold at most `LENGTH_LIMIT` tokens per side: length
generalisation and positional encodings), *nested* (a relative clause inside a relative
clause, where training has one level, within the same length limit) and *relative_tense*
(a relative clause on the subject of a past, future, negated or question clause: training
has relative clauses only in plain present statements).
`SPLIT_NAMES` lists every split by name.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch

from course_utils.base.i18n import Msg, msg
from course_utils.base.validate import boolean, int_in_range, positive_int
from course_utils.corpus import grammar
from course_utils.transformer.masks import causal_mask, padding_mask

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3


class Pair(NamedTuple):
    """One sentence pair: token lists and the phenomena it shows ("time", "question", ...)."""
    src: list
    tgt: list
    phenomena: tuple = ()


PHENOMENA = ("svo", "intransitive", "adjective", "number", "demonstrative", "present", "past",
             "future", "time", "place", "negation", "question", "relative_subject",
             "relative_object", "predicate_adjective")
# The tags of the training grammar. Sentences of the held-out splits may carry two more:
# "nested_relative" (nested) and "relative_in_clause" (relative_tense).

# Combinations never generated for train or test; the compositional split is made of them.
HELD_OUT = {
    # adjective-noun pairs (attributive "the black cat" or predicative "the cat ... is black")
    "adj_noun": (("black", "cat"), ("small", "horse"), ("clever", "girl"), ("red", "car")),
    # a noun never the object inside a relative clause ("the dog that chases the rabbit",
    # "the rabbit that the dog chases")
    "rel_object": ("rabbit",),
    # a verb never used in a question
    "question_verb": ("wash",),
}
# No sentence of train, test or compositional has more tokens than this, in either language;
# every sentence of the long split has more, in both.
LENGTH_LIMIT = 13

# The splits make_splits returns (course evaluate --split takes its choices from here).
SPLIT_NAMES = ("train", "test", "compositional", "long", "nested", "relative_tense")

_HELD_OUT_FEATURES = tuple(
    [("adj_noun", a, n) for a, n in HELD_OUT["adj_noun"]]
    + [("rel_object", n) for n in HELD_OUT["rel_object"]]
    + [("question_verb", v) for v in HELD_OUT["question_verb"]])


# ----------------------------------------------------------------------------- vocabulary
class Vocab:
    """Token <-> id mapping with fixed special ids: <pad>=0, <bos>=1, <eos>=2, <unk>=3.
    Built by hand in lesson 03 (section 1, tokens -> ids); used from lesson 09 on."""

    pad_id, bos_id, eos_id, unk_id = PAD_ID, BOS_ID, EOS_ID, UNK_ID

    def __init__(self, tokens):
        if isinstance(tokens, (str, bytes, torch.Tensor)) or not hasattr(tokens, "__iter__"):
            raise TypeError(f"Vocab: tokens must be a list of strings, got {type(tokens).__name__}")
        self.itos = list(SPECIALS)
        for tok in tokens:
            if not isinstance(tok, str):
                raise TypeError(f"Vocab: tokens must be strings, got {type(tok).__name__} ({tok!r})")
            if tok not in SPECIALS and tok not in self.itos:
                self.itos.append(tok)
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token) -> bool:
        return token in self.stoi

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def __repr__(self) -> str:
        shown = ", ".join(self.itos[4:12])
        return f"Vocab({len(self)} tokens: {shown}{', ...' if len(self) > 12 else ''})"

    def token_to_id(self, token: str) -> int:
        """The id of `token` (a str); unknown tokens get <unk> (id 3)."""
        if not isinstance(token, str):
            raise TypeError(f"Vocab.token_to_id: token must be a str, got {type(token).__name__} ({token!r})")
        return self.stoi.get(token, self.unk_id)

    def id_to_token(self, idx: int) -> str:
        """The token of id `idx`, 0 <= idx < len(vocab): no negative indexing from the end."""
        return self.itos[int_in_range("Vocab.id_to_token: idx", idx, 0, len(self.itos))]

    def encode(self, tokens, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Token list -> id list; unknown tokens become <unk> (id 3)."""
        if isinstance(tokens, str):
            raise TypeError("Vocab.encode: tokens must be a list of tokens, got a str; "
                            "tokenize first (tokenize_en / tokenize_zh or str.split())")
        if isinstance(tokens, (bytes, torch.Tensor)) or not hasattr(tokens, "__iter__"):
            raise TypeError(f"Vocab.encode: tokens must be a list of str tokens, got {type(tokens).__name__}")
        boolean("Vocab.encode: add_bos", add_bos)
        boolean("Vocab.encode: add_eos", add_eos)
        tokens = list(tokens)
        for tok in tokens:
            if not isinstance(tok, str):
                raise TypeError(f"Vocab.encode: tokens must be strings, got {type(tok).__name__} ({tok!r:.40})")
        ids = [self.stoi.get(tok, self.unk_id) for tok in tokens]
        return ([self.bos_id] if add_bos else []) + ids + ([self.eos_id] if add_eos else [])

    def decode(self, ids, strip_special: bool = True) -> list[str]:
        """Id list (or 1-D tensor) -> token list. With `strip_special`, stop at the first
        <eos> and drop <pad> and <bos> (what you want for model output); <unk> is kept."""
        boolean("Vocab.decode: strip_special", strip_special)
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"Vocab.decode: expected a 1-D tensor of ids, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        elif isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
            raise TypeError(f"Vocab.decode: ids must be a list of ints or a 1-D tensor, got {type(ids).__name__}")
        out = []
        for i in ids:
            if isinstance(i, bool) or not hasattr(i, "__index__"):
                raise TypeError(f"Vocab.decode: ids must be ints, got {type(i).__name__} ({i!r})")
            i = i.__index__()
            if not 0 <= i < len(self.itos):
                raise ValueError(f"Vocab.decode: id {i} is outside this vocabulary of {len(self)} tokens")
            if strip_special:
                if i == self.eos_id:
                    break
                if i in (self.pad_id, self.bos_id):
                    continue
            out.append(self.itos[i])
        return out

    def to_dict(self) -> dict:
        return {"tokens": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        tokens = d.get("tokens") if isinstance(d, dict) else None
        if type(tokens) not in (list, tuple) or list(tokens[:4]) != list(SPECIALS):
            raise ValueError(f"Vocab.from_dict: expected {{'tokens': [{', '.join(SPECIALS)}, ...]}}, "
                             f"got {str(d)[:80]}")
        return cls(tokens[4:])

    @classmethod
    def from_sentences(cls, sentences, min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Vocabulary of the tokens in `sentences` (lists of tokens) seen at least `min_freq`
        times, most frequent first (ties alphabetical), at most `max_size` tokens incl. specials."""
        positive_int("Vocab.from_sentences: min_freq", min_freq)
        if max_size is not None:
            positive_int("Vocab.from_sentences: max_size", max_size)
        if isinstance(sentences, (str, bytes)) or not hasattr(sentences, "__iter__"):
            raise TypeError(f"Vocab.from_sentences: sentences must be a list of token lists, got "
                            f"{type(sentences).__name__}")
        sentences = list(sentences)
        if any(isinstance(sent, (str, bytes)) or not hasattr(sent, "__iter__") for sent in sentences):
            raise TypeError("Vocab.from_sentences: each sentence must be a list of tokens (tokenize strings first)")
        counts = Counter(tok for sent in sentences for tok in sent)
        ranked = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[:max(0, max_size - len(SPECIALS))]
        return cls(ranked)

    @classmethod
    def from_pairs(cls, pairs, min_freq: int = 1, side: str = "src", max_size: int | None = None) -> Vocab:
        """Vocabulary of one side ("src" or "tgt") of a list of pairs, e.g. from `load_parallel_tsv`."""
        if side not in ("src", "tgt"):
            raise ValueError(f"Vocab.from_pairs: side must be 'src' or 'tgt', got {side!r}")
        return cls.from_sentences((p[0] if side == "src" else p[1] for p in pairs), min_freq, max_size)


def build_vocabs() -> tuple[Vocab, Vocab]:
    """(src_vocab, tgt_vocab) from the grammar's full lexicon: deterministic, and no split
    (compositional included) ever needs <unk>. Used in lesson 09 (section 1)."""
    return Vocab(grammar.english_words()), Vocab(grammar.chinese_words())


# ----------------------------------------------------------------------------- the toy corpus
def _to_pair(r: grammar.Realized) -> Pair:
    return Pair(list(r.src), list(r.tgt), r.phenomena)


def generate_pairs(n: int, seed: int = 0) -> list[Pair]:
    """`n` random sentence pairs of the full grammar (duplicates possible; no held-out filter)."""
    rng = random.Random(seed)
    return [_to_pair(grammar.realize(grammar.sample_sentence(rng))) for _ in range(n)]


def held_out_features(pair_or_realized) -> set:
    """The held-out combinations (see HELD_OUT) a generated sentence contains, read from its
    English tokens. Works on any `Pair` (generated or not)."""
    src = pair_or_realized.src if hasattr(pair_or_realized, "src") else pair_or_realized[0]
    return _english_features(src) & set(_HELD_OUT_FEATURES)


_NOUN_FORMS = {form: key for key, n in grammar.NOUNS.items() for form in (n.en, n.en_plural)}
_VERBS_3SG = {v.en_3sg for v in grammar.VERBS.values()}


def _english_features(src) -> set:
    """Adjective-noun pairs, objects of relative clauses and question verbs, recovered from
    the English tokens alone (independent of the generator's bookkeeping)."""
    feats = set()
    src = list(src)
    nouns = _NOUN_FORMS
    word = lambda i: src[i] if 0 <= i < len(src) else None  # noqa: E731  (None past either end)
    for a, b in zip(src, src[1:]):
        if a in grammar.ADJECTIVES and b in nouns:
            feats.add(("adj_noun", a, nouns[b]))
    if "that" in src:
        i = src.index("that")
        head = nouns.get(word(i - 1))
        if word(len(src) - 3) == "is" and word(len(src) - 2) in grammar.ADJECTIVES and head:
            feats.add(("adj_noun", src[-2], head))
        if word(i + 1) in _VERBS_3SG:           # subject relative: that chases the (adj) N
            j = i + 3 if word(i + 3) in nouns else i + 4
            if word(j) in nouns:
                feats.add(("rel_object", nouns[src[j]]))
        elif head:                             # object relative: the N that the dog chases
            feats.add(("rel_object", head))
    if src and src[0] in ("do", "does", "did", "will") and src[-1] == "?":
        verb = next((t for t in src[1:] if t in grammar.VERBS), None)
        if verb:
            feats.add(("question_verb", verb))
    return feats


@dataclass
class Splits:
    """The splits (see SPLIT_NAMES); sources never repeat within or across splits."""
    train: list
    test: list
    compositional: list
    seed: int = 0
    long: list = field(default_factory=list)
    nested: list = field(default_factory=list)
    relative_tense: list = field(default_factory=list)

    def __getitem__(self, name: str) -> list:
        """`splits["long"]`: a split by its name in SPLIT_NAMES."""
        if name not in SPLIT_NAMES:
            raise KeyError(f"no split {name!r}; the splits are {', '.join(SPLIT_NAMES)}")
        return getattr(self, name)

    def __repr__(self) -> str:
        return (f"Splits(train={len(self.train)}, test={len(self.test)}, "
                f"compositional={len(self.compositional)}, long={len(self.long)}, "
                f"nested={len(self.nested)}, relative_tense={len(self.relative_tense)}, seed={self.seed})")


def _fill(rng, n, seen, accept, force_cycle=None, max_tries_per_item=200, sampler=None) -> list[Pair]:
    out = []
    tries = 0
    k = 0
    while len(out) < n:
        tries += 1
        if tries > max_tries_per_item * (n + 1):
            raise RuntimeError(f"could only generate {len(out)} of {n} distinct sentences")
        force = force_cycle[k % len(force_cycle)] if force_cycle else None
        structure = sampler(rng) if sampler is not None else grammar.sample_sentence(rng, force)
        r = grammar.realize(structure, check=sampler is not None)
        key = " ".join(r.src)
        if key in seen or not accept(r):
            continue
        seen.add(key)
        out.append(_to_pair(r))
        k += 1
    return out


def make_splits(seed: int = 0, n_train: int = 40_000, n_test: int = 2_000,
                n_compositional: int = 1_000, n_long: int = 500, n_nested: int = 500,
                n_relative_tense: int = 500) -> Splits:
    """Generate the train, test, compositional, long and nested splits from `seed`
    (deterministic).

    train and test never contain a held-out combination (HELD_OUT); every compositional
    sentence contains at least one, cycling through them in turn. None of the three has
    more than LENGTH_LIMIT tokens on either side. Every *long* sentence has more on both
    sides (and no held-out combination); every *nested* sentence has a relative clause
    inside a relative clause (`grammar.sample_nested_relative`), no held-out combination,
    and fits the length limit; every *relative_tense* sentence has a relative clause on the
    subject of a clause that is past, future, negated, a question or has a time phrase
    (training has relative clauses only in plain present statements), within the limit.
    Each split has its own random stream, so no split depends
    on the size of another, and `train` of a smaller call is the start of `train` of a
    larger one (carve a validation set off the end).
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"make_splits: seed must be an int, got {type(seed).__name__} ({seed!r})")
    for name, n in (("n_train", n_train), ("n_test", n_test), ("n_compositional", n_compositional),
                    ("n_long", n_long), ("n_nested", n_nested), ("n_relative_tense", n_relative_tense)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"make_splits: {name} must be an int >= 0, got {n!r}")
    cached = _make_splits_cached(seed, n_train, n_test, n_compositional, n_long, n_nested, n_relative_tense)
    fresh = [[Pair(list(p.src), list(p.tgt), p.phenomena) for p in split] for split in cached]
    train, test, compositional, long, nested, relative_tense = fresh  # fresh lists: callers may change them
    return Splits(train, test, compositional, seed=seed, long=long, nested=nested, relative_tense=relative_tense)


def fits_length_limit(pair_or_realized) -> bool:
    """True if neither side has more than LENGTH_LIMIT tokens (train, test, compositional)."""
    return max(len(pair_or_realized.src), len(pair_or_realized.tgt)) <= LENGTH_LIMIT


def _long_sentence(rng: random.Random):
    """A clause of the grammar stretched past LENGTH_LIMIT: the draw of the sampler, with
    numbers, adjectives, a place and a time phrase added where they fit (tried until both
    sides are longer than the limit; `_fill` checks that)."""
    def np_(np0, plural_ok=True):
        adjs = grammar.adjectives_for(np0.noun)
        det = rng.randint(2, 10) if plural_ok and rng.random() < 0.7 else rng.choice(("this", "the", 1))
        return grammar.NP(np0.noun, det, rng.choice(adjs) if adjs else None)

    while True:
        c = grammar.sample_sentence(rng)
        if isinstance(c, grammar.Clause) and c.object is not None:
            break
    tense = rng.choice(("past", "future")) if c.tense == "present" and rng.random() < 0.7 else c.tense
    question = c.question and rng.random() < 0.5
    negated = tense != "present" and not question and rng.random() < 0.6   # "every day" is never negated
    return grammar.Clause(np_(c.subject), c.verb, np_(c.object), tense, rng.choice(sorted(grammar.TIMES[tense])),
                          rng.choice(sorted(grammar.PLACES)), negated=negated, question=question)


def _relative_tense_sentence(rng: random.Random):
    """A clause of the sampler that is not a plain present statement, its subject given a
    relative clause: "the dog that chases the cat slept yesterday ." -> 追 猫 的 狗 昨天 睡觉 了 。"""
    while True:
        c = grammar.sample_sentence(rng)
        if not isinstance(c, grammar.Clause) or not (c.tense != "present" or c.time or c.negated or c.question):
            continue
        subject = grammar.relative_np(rng, grammar.NP(c.subject.noun))
        if subject is not None:
            return dataclasses.replace(c, subject=subject)


@functools.lru_cache(maxsize=4)
def _make_splits_cached(seed, n_train, n_test, n_compositional, n_long=0, n_nested=0, n_relative_tense=0) -> tuple:
    """Lessons and tests ask for the same splits again and again: generate them once."""
    held = set(_HELD_OUT_FEATURES)
    seen: set = set()
    compositional = _fill(random.Random(f"compositional-{seed}"), n_compositional, seen,
                          lambda r: bool(r.features & held) and fits_length_limit(r),
                          force_cycle=_HELD_OUT_FEATURES)
    clean = lambda r: not (r.features & held) and fits_length_limit(r)  # noqa: E731
    test = _fill(random.Random(f"test-{seed}"), n_test, seen, clean)
    train = _fill(random.Random(f"train-{seed}"), n_train, seen, clean)
    long = _fill(random.Random(f"long-{seed}"), n_long, seen,
                 lambda r: not (r.features & held) and min(len(r.src), len(r.tgt)) > LENGTH_LIMIT,
                 sampler=_long_sentence)
    nested = _fill(random.Random(f"nested-{seed}"), n_nested, seen,
                   lambda r: not (r.features & held) and fits_length_limit(r),
                   sampler=grammar.sample_nested_relative)
    relative_tense = _fill(random.Random(f"relative_tense-{seed}"), n_relative_tense, seen,
                           lambda r: not (r.features & held) and fits_length_limit(r),
                           sampler=_relative_tense_sentence)
    # The promise of the compositional split, checked again from the English words alone.
    for name, split in (("train", train), ("test", test)):
        leaked = next((p for p in split if held_out_features(p)), None)
        if leaked is not None:
            raise RuntimeError(f"make_splits: held-out combination {held_out_features(leaked)} "
                               f"in {name}: {' '.join(leaked.src)!r}")
    missing = next((p for p in compositional if not held_out_features(p)), None)
    if missing is not None:
        raise RuntimeError(f"make_splits: compositional sentence without a held-out combination: "
                           f"{' '.join(missing.src)!r}")
    return tuple(train), tuple(test), tuple(compositional), tuple(long), tuple(nested), tuple(relative_tense)


def find_example(phenomenon: str, pairs=None, seed: int = 0, exclude=()) -> Pair:
    """A sentence pair showing `phenomenon` (one of PHENOMENA) and none of `exclude`: the
    first one in `pairs` if given, otherwise a freshly generated one (deterministic)."""
    if phenomenon not in PHENOMENA:
        raise ValueError(f"find_example: unknown phenomenon {phenomenon!r}; choose one of {PHENOMENA}")
    if pairs is None:
        rng = random.Random(f"example-{phenomenon}-{seed}")
        pairs = (_to_pair(grammar.realize(grammar.sample_sentence(rng))) for _ in range(100_000))
    for p in pairs:
        if phenomenon in p.phenomena and not set(exclude) & set(p.phenomena):
            return p
    raise LookupError(f"find_example: no pair with phenomenon {phenomenon!r} (excluding {tuple(exclude)})")


# ----------------------------------------------------------------------------- tokenizers
_EN_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_")
_ZH_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[.'][A-Za-z0-9]+)*|\S")


def tokenize_en(text: str) -> list[str]:
    """English: lowercased words (keeping "don't" and "don’t" whole, as "don't") and
    punctuation marks. Tokens are introduced in lesson 03 (section 1)."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize_en: text must be a str, got {type(text).__name__}")
    return _EN_TOKEN.findall(text.lower().replace("\u2019", "'"))


def tokenize_zh(text: str, by: str = "char") -> list[str]:
    """Chinese: by="char" (for real text without spaces) gives one token per character,
    keeping runs of Latin letters/digits ("3D", "2024") whole; by="space" splits text that
    is already segmented into words ("狗 昨天 追 了 猫")."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize_zh: text must be a str, got {type(text).__name__}")
    if by == "space":
        return text.split()
    if by != "char":
        raise ValueError(f"tokenize_zh: by must be 'char' or 'space', got {by!r}")
    return _ZH_TOKEN.findall(text)


class UnknownWordError(ValueError):
    """A typed sentence uses words the toy grammar does not know. Its message (`args[0]`) is a
    `msg`, which the lesson widgets show in the notebook's language."""

    def __init__(self, message: str, unknown: list):
        super().__init__(message)
        self.unknown = unknown


def english_tokens(sentence: str, vocab: Vocab | None = None) -> list[str]:
    """Turn a typed English sentence into tokens the toy model knows, e.g. for the translate
    widget: "The dog chases the cat" -> ["the", "dog", "chases", "the", "cat", "."].

    Adds the final "." (or "?" when it starts with do/does/did/will) if missing (and `vocab`,
    when given, has it). Raises
    `UnknownWordError` (a ValueError) naming every unknown word, with suggestions.
    Used in lesson 10 (typed sentences, the translate widget).
    """
    known = set(vocab.itos[len(SPECIALS):]) if vocab is not None else set(grammar.english_words())
    tokens = tokenize_en(sentence)
    if not tokens:
        raise ValueError(msg("english_tokens: the sentence is empty; type e.g. 'the dog chases the cat'"))
    unknown = [t for t in tokens if t not in known]
    if unknown:
        hints = []
        for t in dict.fromkeys(unknown):
            close = difflib.get_close_matches(t, sorted(known), n=3)
            word = f"'{t}'"  # quoted: a typed word is never looked up as a message
            hints.append(msg("{word} (did you mean {options}?)", word=word,
                             options=joined([f"'{c}'" for c in close], msg(" or ")))
                         if close else word)
        fields = dict(words=joined(hints, ", "), n=len(known), nouns=", ".join(list(grammar.NOUNS)[:6]))
        if len(hints) > 1:
            raise UnknownWordError(msg("unknown words {words}: the toy grammar knows only its {n} words "
                                       "(e.g. nouns: {nouns}, ...)", **fields), unknown)
        raise UnknownWordError(msg("unknown word {words}: the toy grammar knows only its {n} words "
                                   "(e.g. nouns: {nouns}, ...)", **fields), unknown)
    if tokens[-1] not in (".", "?"):
        mark = "?" if tokens[0] in ("do", "does", "did", "will") else "."
        if vocab is None or mark in vocab:  # a vocabulary without it would read the mark as <unk>
            tokens.append(mark)
    return tokens


def joined(parts, separator) -> Msg:
    """`separator.join(parts)` as a message whose parts (and a `msg` separator, such as
    `msg(" or ")`) are each translated where it is shown."""
    out = []
    for i, part in enumerate(parts):
        out += [separator, part] if i else [part]
    return Msg.join(out)


def reference_translation(sentence) -> Pair:
    """The grammar's own translation of a typed English sentence (a str or a token list):
    "the dog chased the cat yesterday" -> Pair(src=[...], tgt=["狗", "昨天", "追", "了", "猫", "。"]).

    Raises `UnknownWordError` for unknown words and ValueError (naming the word or rule
    that does not fit) for sentences outside the grammar.
    """
    tokens = english_tokens(sentence if isinstance(sentence, str) else " ".join(sentence))
    return _to_pair(grammar.realize(grammar.parse(tokens)))


# ----------------------------------------------------------------------------- batching
@dataclass
class Batch:
    """A padded batch for teacher forcing. Masks: bool, True = may attend.

    Shapes:
        src (B, S), tgt_in (B, T) = <bos> + target, tgt_out (B, T) = target + <eos>,
        src_mask (B, 1, 1, S), tgt_mask (B, 1, T, T) (padding & causal).
    """
    src: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor
    src_mask: torch.Tensor
    tgt_mask: torch.Tensor

    def to(self, device) -> Batch:
        return Batch(*(t.to(device) for t in (self.src, self.tgt_in, self.tgt_out, self.src_mask, self.tgt_mask)))

    @property
    def n_tokens(self) -> int:
        """Number of real (non-pad) target tokens, the denominator of a per-token loss."""
        return int((self.tgt_out != PAD_ID).sum())


def pad_sequences(seqs, pad_id: int = PAD_ID) -> torch.Tensor:
    """List of id lists -> long tensor, right-padded with `pad_id`.
    Built by hand in lesson 09 (section 2, the exercise `teacher_forcing`).

    Shapes:
        B lists of lengths <= T -> (B, T), T = the longest length.
    """
    if not seqs:
        raise ValueError("pad_sequences: seqs is empty")
    longest = max(len(s) for s in seqs)
    return torch.tensor([list(s) + [pad_id] * (longest - len(s)) for s in seqs], dtype=torch.long)


def collate(pairs, src_vocab: Vocab, tgt_vocab: Vocab) -> Batch:
    """Encode, pad and mask a list of pairs (anything with .src/.tgt token lists, or
    (src, tgt, ...) tuples). Built by hand in lesson 09 (section 2, batches: padding and masks).

    Shapes:
        returns Batch(src (B, S), tgt_in (B, T), tgt_out (B, T), src_mask (B, 1, 1, S),
        tgt_mask (B, 1, T, T)) with S = longest source, T = longest target + 1.
    """
    pairs = list(pairs)
    if not pairs:
        raise ValueError("collate: pairs is empty; need at least one sentence pair")
    for i, p in enumerate(pairs):
        if len(p[0]) == 0 or len(p[1]) == 0:
            raise ValueError(f"collate: pair {i} has an empty source or target: {p!r}")
    src = pad_sequences([src_vocab.encode(p[0]) for p in pairs], src_vocab.pad_id)        # (B, S)
    tgt = [tgt_vocab.encode(p[1]) for p in pairs]
    tgt_in = pad_sequences([[tgt_vocab.bos_id] + t for t in tgt], tgt_vocab.pad_id)       # (B, T)
    tgt_out = pad_sequences([t + [tgt_vocab.eos_id] for t in tgt], tgt_vocab.pad_id)      # (B, T)
    src_mask = padding_mask(src, src_vocab.pad_id)                                        # (B, 1, 1, S)
    tgt_mask = padding_mask(tgt_in, tgt_vocab.pad_id) & causal_mask(tgt_in.size(1))      # (B, 1, T, T)
    return Batch(src, tgt_in, tgt_out, src_mask, tgt_mask)


# ----------------------------------------------------------------------------- real data
class LineProblem(NamedTuple):
    line: int      # 1-based line number in the file
    reason: str
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.text[:60]!r}"


class ParallelCorpus(NamedTuple):
    """What `load_parallel_tsv` returns: the usable pairs and the problems found."""
    pairs: list
    problems: list


def load_parallel_tsv(path, max_len: int | None = None, zh_by: str = "char") -> ParallelCorpus:
    """Read `English<TAB>Chinese[<TAB>anything]` lines (the Tatoeba-style format).

    English is tokenized with `tokenize_en`, Chinese with `tokenize_zh(by=zh_by)`. Malformed
    lines (no tab, an empty side, not UTF-8, longer than `max_len` tokens) are skipped and
    reported as `LineProblem`s with their line numbers; blank lines are skipped silently.
    Returns ParallelCorpus(pairs, problems); raises FileNotFoundError for a missing file and
    ValueError when no line is usable. For a learner's own corpus: see the README section
    "Your own parallel corpus" (build vocabularies with `Vocab.from_pairs`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_parallel_tsv: no such file: {path}")
    pairs, problems = [], []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(LineProblem(number, "not valid UTF-8", raw.decode("utf-8", "replace")))
            continue
        if number == 1:
            line = line.lstrip("\ufeff")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            problems.append(LineProblem(number, "expected English<TAB>Chinese, found no tab", line))
            continue
        src, tgt = tokenize_en(fields[0]), tokenize_zh(fields[1].strip(), by=zh_by)
        if not src or not tgt:
            problems.append(LineProblem(number, f"empty {'English' if not src else 'Chinese'} side", line))
            continue
        if max_len is not None and max(len(src), len(tgt)) > max_len:
            problems.append(LineProblem(number, f"longer than max_len={max_len} tokens", line))
            continue
        pairs.append(Pair(src, tgt, ()))
    if not pairs:
        detail = "; ".join(str(p) for p in problems[:3]) or "the file has no non-blank lines"
        raise ValueError(f"load_parallel_tsv: no usable English<TAB>Chinese line in {path} ({detail})")
    return ParallelCorpus(pairs, problems)
