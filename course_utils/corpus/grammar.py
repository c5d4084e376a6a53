"""corpus layer · the toy English -> Chinese language the course trains on (lesson 09): a
small grammar whose phenomena force the word order to change between the two languages.

    the big dog chases the small cat .             -> 大 狗 追 小 猫 。
    three dogs chased the cat yesterday .          -> 三 只 狗 昨天 追 了 猫 。
    the cat sleeps in the park .                   -> 猫 在 公园 睡觉 。
    did the dog chase the cat ?                    -> 狗 追 了 猫 吗 ？
    the dog that chases the cat is big .           -> 追 猫 的 狗 很 大 。

A sentence is made in two steps: `sample_sentence(rng)` draws a *structure* (which nouns,
verb, tense, time, place, ...) and `realize(structure)` writes it out in both languages. The
same structure always gives the same pair, so the Chinese is a function of the English.
`count_sentences()` counts the distinct sentences exactly, following the same choices, and
`parse(tokens)` reads an English sentence back into its structure (so a typed sentence gets
its reference translation, and realize is shown to be one-to-one).

Tokens: English by words and punctuation; Chinese by words, separated by spaces
("狗 昨天 追 了 猫 。").
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from course_utils.base.i18n import msg

ANIMAL, PERSON, THING = "animal", "person", "thing"


# ----------------------------------------------------------------------------- lexicon
@dataclass(frozen=True)
class Noun:
    en: str
    en_plural: str
    zh: str
    classifier: str  # 量词 used with numbers and 这: 三 只 狗, 这 本 书
    kind: str        # ANIMAL, PERSON or THING


@dataclass(frozen=True)
class Adjective:
    en: str
    zh: str              # the stem: 大, 聪明
    kinds: tuple         # the noun kinds it may describe
    with_de: bool        # attributive form needs 的 (聪明 的 狗) or not (大 狗)
    gradable: bool       # may be a predicate with 很 (狗 很 大)

    def zh_attributive(self) -> list[str]:
        return [self.zh, "的"] if self.with_de else [self.zh]


@dataclass(frozen=True)
class Verb:
    en: str
    en_3sg: str
    en_past: str
    zh: str
    subjects: tuple      # nouns (English keys) allowed as subject
    objects: tuple = ()  # nouns allowed as object; () = intransitive
    resultative: bool = False     # 看见/找到: negated with 没有 also in the present
    needs_place: bool = False     # 玩 alone sounds unfinished: always "在 公园 玩"

    @property
    def transitive(self) -> bool:
        return bool(self.objects)


_NOUN_LIST = [
    Noun("dog", "dogs", "狗", "只", ANIMAL), Noun("cat", "cats", "猫", "只", ANIMAL),
    Noun("bird", "birds", "鸟", "只", ANIMAL), Noun("horse", "horses", "马", "匹", ANIMAL),
    Noun("rabbit", "rabbits", "兔子", "只", ANIMAL), Noun("fish", "fish", "鱼", "条", ANIMAL),
    Noun("snake", "snakes", "蛇", "条", ANIMAL), Noun("duck", "ducks", "鸭子", "只", ANIMAL),
    Noun("mouse", "mice", "老鼠", "只", ANIMAL), Noun("cow", "cows", "牛", "头", ANIMAL),
    Noun("boy", "boys", "男孩", "个", PERSON), Noun("girl", "girls", "女孩", "个", PERSON),
    Noun("teacher", "teachers", "老师", "位", PERSON), Noun("doctor", "doctors", "医生", "位", PERSON),
    Noun("student", "students", "学生", "个", PERSON), Noun("farmer", "farmers", "农民", "个", PERSON),
    Noun("child", "children", "孩子", "个", PERSON), Noun("woman", "women", "女人", "个", PERSON),
    Noun("book", "books", "书", "本", THING), Noun("ball", "balls", "球", "个", THING),
    Noun("car", "cars", "车", "辆", THING), Noun("box", "boxes", "箱子", "个", THING),
    Noun("apple", "apples", "苹果", "个", THING), Noun("cake", "cakes", "蛋糕", "块", THING),
    Noun("letter", "letters", "信", "封", THING), Noun("hat", "hats", "帽子", "顶", THING),
]
NOUNS = {n.en: n for n in _NOUN_LIST}

_ALL_KINDS = (ANIMAL, PERSON, THING)
_ADJECTIVE_LIST = [
    Adjective("big", "大", (ANIMAL, THING), False, True),
    Adjective("small", "小", (ANIMAL, THING), False, True),
    Adjective("black", "黑", (ANIMAL, THING), False, False),
    Adjective("white", "白", (ANIMAL, THING), False, False),
    Adjective("red", "红", (THING,), False, False),
    Adjective("old", "老", (ANIMAL,), False, True),
    Adjective("new", "新", (THING,), False, True),
    Adjective("clever", "聪明", (ANIMAL, PERSON), True, True),
    Adjective("pretty", "漂亮", _ALL_KINDS, True, True),
    Adjective("happy", "开心", (ANIMAL, PERSON), True, True),
    Adjective("cute", "可爱", (ANIMAL, PERSON), True, True),
    Adjective("kind", "善良", (PERSON,), True, True),
]
ADJECTIVES = {a.en: a for a in _ADJECTIVE_LIST}


def _nouns(*kinds, extra=(), without=()) -> tuple:
    return tuple(n.en for n in _NOUN_LIST if (n.kind in kinds or n.en in extra) and n.en not in without)


_AGENTS = _nouns(ANIMAL, PERSON)
_VERB_LIST = [
    # transitive: subject-verb-object
    Verb("chase", "chases", "chased", "追", _AGENTS, _nouns(ANIMAL, PERSON, extra=("ball", "car"))),
    Verb("see", "sees", "saw", "看见", _AGENTS, _nouns(ANIMAL, PERSON, THING), resultative=True),
    Verb("bite", "bites", "bit", "咬", _nouns(ANIMAL, without=("cow",)), _nouns(ANIMAL, PERSON, extra=("ball", "hat"))),
    Verb("find", "finds", "found", "找到", _AGENTS, _nouns(ANIMAL, PERSON, THING), resultative=True),
    Verb("help", "helps", "helped", "帮助", _nouns(PERSON), _nouns(ANIMAL, PERSON)),
    Verb("feed", "feeds", "fed", "喂", _nouns(PERSON), _nouns(ANIMAL)),
    Verb("wash", "washes", "washed", "洗", _nouns(PERSON), _nouns(ANIMAL, extra=("car", "ball", "box", "hat"))),
    Verb("buy", "buys", "bought", "买", _nouns(PERSON), _nouns(ANIMAL, THING)),
    Verb("draw", "draws", "drew", "画", _nouns(PERSON), _nouns(ANIMAL, PERSON, THING)),
    Verb("kick", "kicks", "kicked", "踢", _nouns(PERSON, extra=("horse", "cow")),
         _nouns(ANIMAL, extra=("ball", "box"))),
    Verb("catch", "catches", "caught", "抓", _AGENTS, _nouns(ANIMAL)),
    Verb("eat", "eats", "ate", "吃", _AGENTS, ("apple", "cake", "fish")),
    Verb("push", "pushes", "pushed", "推", _nouns(PERSON), _nouns(ANIMAL, PERSON, extra=("car", "box", "ball"))),
    Verb("visit", "visits", "visited", "看望", _nouns(PERSON), _nouns(PERSON)),
    # intransitive
    Verb("sleep", "sleeps", "slept", "睡觉", _AGENTS),
    Verb("swim", "swims", "swam", "游泳", _nouns(PERSON, extra=("dog", "fish", "duck", "snake", "horse"))),
    Verb("sing", "sings", "sang", "唱歌", _nouns(PERSON, extra=("bird",))),
    Verb("dance", "dances", "danced", "跳舞", _nouns(PERSON)),
    Verb("play", "plays", "played", "玩", _AGENTS, needs_place=True),
    Verb("run", "runs", "ran", "跑步", _nouns(PERSON)),
]
VERBS = {v.en: v for v in _VERB_LIST}
TRANSITIVE = tuple(v.en for v in _VERB_LIST if v.transitive)
INTRANSITIVE = tuple(v.en for v in _VERB_LIST if not v.transitive)

NUMBERS = {1: ("one", "一"), 2: ("two", "两"), 3: ("three", "三"), 4: ("four", "四"), 5: ("five", "五"),
           6: ("six", "六"), 7: ("seven", "七"), 8: ("eight", "八"), 9: ("nine", "九"), 10: ("ten", "十")}

# time phrases, by the tense they go with: English (at the end) -> Chinese (after the subject)
TIMES = {
    "present": {"every day": "每天"},
    "past": {"yesterday": "昨天", "last night": "昨晚", "last week": "上周", "this morning": "今天 早上"},
    "future": {"tomorrow": "明天", "tonight": "今晚", "next week": "下周"},
}
# place phrases: English (after the object) -> Chinese (before the verb)
PLACES = {"in the park": "在 公园", "at home": "在 家", "in the garden": "在 花园",
          "at school": "在 学校", "in the kitchen": "在 厨房", "by the river": "在 河边"}
TENSES = ("present", "past", "future")
# the names the parser's error messages use for a tense and a noun's role (shown translated)
TENSE_NAMES = {"present": msg("present"), "past": msg("past"), "future": msg("future")}
ROLE_NAMES = {"subject": msg("subject"), "object": msg("object")}

# Function words: negation and the auxiliary by tense
_ZH_NEGATION = {"present": "不", "past": "没有", "future": "不会"}
_EN_AUX = {"present": ("does", "do"), "past": ("did", "did"), "future": ("will", "will")}


def adjectives_for(noun: str) -> tuple:
    """The adjectives that may describe `noun` (English keys)."""
    return _ADJECTIVES_FOR[noun]


_ADJECTIVES_FOR = {n.en: tuple(a.en for a in _ADJECTIVE_LIST if n.kind in a.kinds) for n in _NOUN_LIST}
_SORTED_TIMES = {tense: sorted(TIMES[tense]) for tense in TENSES}
_SORTED_PLACES = sorted(PLACES)


def predicate_adjectives_for(noun: str) -> tuple:
    """The adjectives that may follow "is" / 很 with `noun` as subject."""
    return _PREDICATE_ADJECTIVES_FOR[noun]


_PREDICATE_ADJECTIVES_FOR = {n: tuple(a for a in adjs if ADJECTIVES[a].gradable)
                             for n, adjs in _ADJECTIVES_FOR.items()}


# ----------------------------------------------------------------------------- structures
@dataclass(frozen=True)
class NP:
    """A noun phrase: determiner ("the", "this" or a number 1..10), optional adjective, noun."""
    noun: str
    det: object = "the"
    adj: str | None = None

    @property
    def plural(self) -> bool:
        return isinstance(self.det, int) and self.det > 1

    def en(self) -> list[str]:
        n = NOUNS[self.noun]
        det = NUMBERS[self.det][0] if isinstance(self.det, int) else self.det
        adj = [self.adj] if self.adj else []
        return [det] + adj + [n.en_plural if self.plural else n.en]

    def zh(self) -> list[str]:
        n = NOUNS[self.noun]
        if isinstance(self.det, int):
            det = [NUMBERS[self.det][1], n.classifier]       # 三 只
        elif self.det == "this":
            det = ["这", n.classifier]                         # 这 只
        else:
            det = []                                          # "the": nothing in Chinese
        adj = ADJECTIVES[self.adj].zh_attributive() if self.adj else []
        return det + adj + [n.zh]


@dataclass(frozen=True)
class Clause:
    """A simple sentence: subject, verb, optional object, tense, time, place, negation, question."""
    subject: NP
    verb: str
    object: NP | None = None
    tense: str = "present"
    time: str | None = None      # a key of TIMES[tense]
    place: str | None = None     # a key of PLACES
    negated: bool = False
    question: bool = False


@dataclass(frozen=True)
class RelativeSentence:
    """"the dog that chases the cat is big" (kind "subject": the head is the subject of the
    relative clause) or "the cat that the dog chases is small" (kind "object").

    `predicate` is ("adj", adjective), ("verb", transitive verb, object NP) or
    ("verb", intransitive verb, place or None); the main verb is in the present tense.
    """
    kind: str
    head: NP
    rel_verb: str
    other: NP                    # the other noun phrase inside the relative clause
    predicate: tuple


@dataclass(frozen=True)
class RelativeNP:
    """A noun phrase with its own relative clause, used *inside* a RelativeSentence to nest
    one clause in another (the nested split) or as the subject of a `Clause` (the
    relative_tense split); the training grammar does neither:
    "the cat that sees the bird" (kind "subject") -> 看见 鸟 的 猫,
    "the cat that the girl sees" (kind "object")  -> 女孩 看见 的 猫.
    It offers what a relative sentence reads from an `NP` (noun, det, adj, en(), zh())."""
    np: NP
    kind: str
    verb: str
    other: NP

    noun = property(lambda self: self.np.noun)
    det = property(lambda self: self.np.det)
    adj = property(lambda self: self.np.adj)
    plural = property(lambda self: self.np.plural)

    @property
    def rel_object(self) -> str:
        return self.other.noun if self.kind == "subject" else self.np.noun

    def en(self) -> list[str]:
        v = VERBS[self.verb]
        if self.kind == "subject":
            return self.np.en() + ["that", v.en_3sg] + self.other.en()
        return self.np.en() + ["that"] + self.other.en() + [v.en_3sg]

    def zh(self) -> list[str]:
        v = VERBS[self.verb]
        if self.kind == "subject":
            return [v.zh] + self.other.zh() + ["的"] + self.np.zh()
        return self.other.zh() + [v.zh, "的"] + self.np.zh()


@dataclass(frozen=True)
class Realized:
    src: list
    tgt: list
    phenomena: tuple
    features: frozenset = field(default_factory=frozenset)  # combinations, for the compositional split


# ----------------------------------------------------------------------------- realization
def _np_tags(np_: NP) -> set:
    tags = set()
    if isinstance(np_.det, int):
        tags.add("number")
    elif np_.det == "this":
        tags.add("demonstrative")
    if np_.adj:
        tags.add("adjective")
    return tags


def _np_features(np_: NP) -> set:
    return {("adj_noun", np_.adj, np_.noun)} if np_.adj else set()


def _realize_clause(c: Clause) -> Realized:
    v = VERBS[c.verb]
    if v.transitive != (c.object is not None):
        raise ValueError(f"verb {c.verb!r} is {'transitive' if v.transitive else 'intransitive'}, "
                         f"object={c.object!r}")
    if c.time is not None and c.time not in TIMES[c.tense]:
        raise ValueError(f"time {c.time!r} does not go with tense {c.tense!r}; "
                         f"choose one of {sorted(TIMES[c.tense])}")
    if c.negated and c.question:
        raise ValueError(msg("negated questions are not part of the grammar"))
    if c.negated and c.time == "every day":
        raise ValueError(msg("'every day' is never negated in the grammar (its scope is ambiguous)"))
    if v.needs_place and c.place is None:
        raise ValueError(msg("verb {verb!r} needs a place phrase, one of {places}", verb=c.verb,
                             places=str(sorted(PLACES))))
    plural = c.subject.plural
    obj_en = c.object.en() if c.object else []
    place_en = c.place.split() if c.place else []
    time_en = c.time.split() if c.time else []
    aux = _EN_AUX[c.tense][1 if plural else 0]
    if c.question:
        en = [aux] + c.subject.en() + [v.en] + obj_en + place_en + time_en + ["?"]
    else:
        if c.negated:
            verb_en = [aux, "not", v.en]
        elif c.tense == "present":
            verb_en = [v.en if plural else v.en_3sg]
        elif c.tense == "past":
            verb_en = [v.en_past]
        else:
            verb_en = ["will", v.en]
        en = c.subject.en() + verb_en + obj_en + place_en + time_en + ["."]

    # Chinese: subject, time, (negation | 会), place, verb (了), object
    zh = c.subject.zh()
    if c.time:
        zh += TIMES[c.tense][c.time].split()
    if c.negated:
        zh.append("没有" if v.resultative and c.tense == "present" else _ZH_NEGATION[c.tense])
    elif c.tense == "future":
        zh.append("会")
    if c.place:
        zh += PLACES[c.place].split()
    zh.append(v.zh)
    past_le = c.tense == "past" and not c.negated  # 没有 replaces 了
    if past_le and v.transitive:
        zh.append("了")                 # 追 了 猫
    if c.object:
        zh += c.object.zh()
    if past_le and not v.transitive:
        zh.append("了")                 # 睡觉 了
    zh += ["吗", "？"] if c.question else ["。"]

    tags = {"svo" if v.transitive else "intransitive", c.tense} | _np_tags(c.subject)
    features = _np_features(c.subject)
    if isinstance(c.subject, RelativeNP):   # a relative clause in a full clause (the relative_tense split)
        tags |= {"relative_in_clause", f"relative_{c.subject.kind}"}
        features |= {("rel_object", c.subject.rel_object)} | _np_features(c.subject.other)
    if c.object:
        tags |= _np_tags(c.object)
        features |= _np_features(c.object)
    for flag, tag in ((c.time, "time"), (c.place, "place"), (c.negated, "negation"), (c.question, "question")):
        if flag:
            tags.add(tag)
    if c.question:
        features.add(("question_verb", c.verb))
    return Realized(en, zh, tuple(sorted(tags)), frozenset(features))


def _realize_relative(r: RelativeSentence) -> Realized:
    if r.kind not in ("subject", "object"):
        raise ValueError(f"kind must be 'subject' or 'object', got {r.kind!r}")
    rv = VERBS[r.rel_verb]
    head_en = r.head.en()
    if r.kind == "subject":   # the dog that chases the cat  ->  追 猫 的 狗
        en = head_en + ["that", rv.en_3sg] + r.other.en()
        zh = [rv.zh] + r.other.zh() + ["的"] + r.head.zh()
        rel_object = r.other.noun
    else:                     # the cat that the dog chases  ->  狗 追 的 猫
        en = head_en + ["that"] + r.other.en() + [rv.en_3sg]
        zh = r.other.zh() + [rv.zh, "的"] + r.head.zh()
        rel_object = r.head.noun
    tags = {f"relative_{r.kind}", "present"} | _np_tags(r.head) | _np_tags(r.other)
    features = _np_features(r.head) | _np_features(r.other) | {("rel_object", rel_object)}
    if isinstance(r.other, RelativeNP):   # a clause inside the clause (the nested split)
        tags |= {"nested_relative", f"relative_{r.other.kind}"}
        features |= {("rel_object", r.other.rel_object)} | _np_features(r.other.other)
    if r.predicate[0] == "adj":
        adj = ADJECTIVES[r.predicate[1]]
        en += ["is", adj.en]
        zh += ["很", adj.zh]
        tags.add("predicate_adjective")
        features.add(("adj_noun", adj.en, r.head.noun))
    else:
        _, verb, rest = r.predicate
        v = VERBS[verb]
        en.append(v.en_3sg)
        if v.transitive:
            en += rest.en()
            zh += [v.zh] + rest.zh()
            tags |= {"svo"} | _np_tags(rest)
            features |= _np_features(rest)
        else:
            if v.needs_place and rest is None:
                raise ValueError(msg("verb {verb!r} needs a place phrase, one of {places}", verb=verb,
                                     places=str(sorted(PLACES))))
            if rest:
                en += rest.split()
                zh += PLACES[rest].split()
                tags.add("place")
            zh.append(v.zh)
            tags.add("intransitive")
    return Realized(en + ["."], zh + ["。"], tuple(sorted(tags)), frozenset(features))


def _check_words(structure) -> None:
    """Clear errors for words outside the lexicon (instead of a KeyError deep inside)."""
    def known(value, table, what):
        if value not in table:
            raise ValueError(f"unknown {what} {value!r}; the grammar knows {sorted(table)}")

    nps = [structure.subject, structure.object] if isinstance(structure, Clause) else \
        [structure.head, structure.other, structure.predicate[2] if len(structure.predicate) > 2 else None]
    for np_ in nps:
        if isinstance(np_, NP):
            known(np_.noun, NOUNS, "noun")
            if np_.adj is not None:
                known(np_.adj, ADJECTIVES, "adjective")
            if np_.det not in _FULL_DETS or isinstance(np_.det, bool):
                raise ValueError(f"determiner must be 'the', 'this' or an int 1..10, got {np_.det!r}")
    if isinstance(structure, Clause):
        known(structure.verb, VERBS, "verb")
        known(structure.tense, TIMES, "tense")
        if structure.place is not None:
            known(structure.place, PLACES, "place")
    else:
        known(structure.rel_verb, VERBS, "verb")
        if not VERBS[structure.rel_verb].transitive:
            raise ValueError(f"a relative clause needs a transitive verb, got {structure.rel_verb!r}")
        predicate = tuple(structure.predicate)
        if predicate[:1] == ("adj",) and len(predicate) == 2:
            known(predicate[1], ADJECTIVES, "adjective")
        elif predicate[:1] == ("verb",) and len(predicate) == 3:
            _, verb, rest = predicate
            known(verb, VERBS, "verb")
            if VERBS[verb].transitive and not isinstance(rest, NP):
                raise ValueError(f"predicate verb {verb!r} needs an object NP, got {rest!r}")
            if not VERBS[verb].transitive and rest is not None:
                known(rest, PLACES, "place")
        else:
            raise ValueError("predicate must be ('adj', adjective) or ('verb', verb, object NP "
                             f"or place or None), got {predicate!r}")


def realize(structure, check: bool = True) -> Realized:
    """Write a `Clause` or `RelativeSentence` out in English and Chinese tokens.
    `check=False` skips the lexicon check (for structures made by `sample_sentence`).
    The corpus it writes is explored in lesson 09 (section 1)."""
    if isinstance(structure, Clause):
        if check:
            _check_words(structure)
        return _realize_clause(structure)
    if isinstance(structure, RelativeSentence):
        if check:
            _check_words(structure)
        return _realize_relative(structure)
    raise TypeError(f"realize: expected a Clause or RelativeSentence, got {type(structure).__name__}")


# ----------------------------------------------------------------------------- sampling
_FULL_DETS = ("the", "this") + tuple(NUMBERS)   # determiners of a full noun phrase


class _Force:
    """A combination the sampler must produce (used to build the compositional split)."""

    def __init__(self, feature=None):
        self.feature = feature
        self.pending = feature is not None and feature[0] == "adj_noun"


def _sample_np(rng: random.Random, nouns: tuple, full: bool, force: _Force | None = None) -> NP:
    if force is not None and force.pending and force.feature[2] in nouns:
        noun, adj = force.feature[2], force.feature[1]
        force.pending = False
    else:
        noun = rng.choice(nouns)
        adjs = adjectives_for(noun)
        adj = rng.choice(adjs) if adjs and rng.random() < 0.4 else None
    det = "the"
    if full:
        u = rng.random()
        det = "the" if u < 0.55 else "this" if u < 0.7 else rng.randint(1, 10)
    return NP(noun, det, adj)


def _sample_clause(rng: random.Random, force: _Force | None = None) -> Clause:
    if force is not None and force.feature[0] == "question_verb":
        verb, question = VERBS[force.feature[1]], True
    else:
        verb = VERBS[rng.choice(TRANSITIVE if rng.random() < 0.7 else INTRANSITIVE)]
        question = rng.random() < 0.2
    subject = _sample_np(rng, verb.subjects, True, force)
    obj = _sample_np(rng, verb.objects, True, force) if verb.transitive else None
    u = rng.random()
    tense = "present" if u < 0.4 else "past" if u < 0.75 else "future"
    time = rng.choice(_SORTED_TIMES[tense]) if rng.random() < 0.5 else None
    negated = not question and time != "every day" and rng.random() < 0.25
    p_place = 1.0 if verb.needs_place else 0.25 if verb.transitive else 0.6
    place = rng.choice(_SORTED_PLACES) if rng.random() < p_place else None
    return Clause(subject, verb.en, obj, tense, time, place, negated, question)


def _predicate_options(head: str) -> list:
    adj = list(predicate_adjectives_for(head))
    trans = [v for v in TRANSITIVE if head in VERBS[v].subjects]
    intrans = [v for v in INTRANSITIVE if head in VERBS[v].subjects]
    return adj, trans, intrans


def _sample_relative(rng: random.Random, force: _Force | None = None) -> RelativeSentence:
    kind = "subject" if rng.random() < 0.5 else "object"
    forced_noun = force.feature[1] if force is not None and force.feature[0] == "rel_object" else None
    while True:
        verb = VERBS[rng.choice(TRANSITIVE)]
        if forced_noun is None or forced_noun in verb.objects:
            break
    if kind == "subject":
        head = _sample_np(rng, verb.subjects, False, force)
        other = _sample_np(rng, (forced_noun,) if forced_noun else verb.objects, False, force)
    else:
        head = _sample_np(rng, (forced_noun,) if forced_noun else verb.objects, False, force)
        other = _sample_np(rng, verb.subjects, False, force)
    adj, trans, intrans = _predicate_options(head.noun)
    u = rng.random()
    if trans and (u < 0.4 or not adj):
        v = VERBS[rng.choice(trans)]
        predicate = ("verb", v.en, _sample_np(rng, v.objects, False, force))
    elif intrans and (u < 0.65 or not adj):
        verb_name = rng.choice(intrans)
        needs = VERBS[verb_name].needs_place
        place = rng.choice(_SORTED_PLACES) if needs or rng.random() < 0.6 else None
        predicate = ("verb", verb_name, place)
    else:
        predicate = ("adj", rng.choice(adj))
    return RelativeSentence(kind, head, verb.en, other, predicate)


def sample_sentence(rng: random.Random, force=None):
    """Draw one sentence structure (a `Clause` or `RelativeSentence`) with `rng`.
    The corpus it draws is explored in lesson 09 (section 1).

    `force`: an optional combination to include, one of ("adj_noun", adjective, noun),
    ("rel_object", noun) or ("question_verb", verb). The result may still lack it in rare
    cases (callers check `realize(...).features`).
    """
    f = _Force(force) if force is not None else None
    if force is not None and force[0] == "question_verb":
        return _sample_clause(rng, f)
    if force is not None and force[0] == "rel_object":
        return _sample_relative(rng, f)
    if rng.random() < 0.75:
        return _sample_clause(rng, f)
    return _sample_relative(rng, f)


def sample_nested_relative(rng: random.Random) -> RelativeSentence:
    """A relative sentence whose inner noun phrase has a relative clause of its own (two
    levels of nesting; the training grammar has one), e.g.
    "the dog that chases the cat that sees the bird is big ." -> 追 看见 鸟 的 猫 的 狗 很 大 。
    The selection rules of the lexicon hold at both levels."""
    while True:
        outer = _sample_relative(rng)
        inner = relative_np(rng, outer.other)
        if inner is not None:
            return RelativeSentence(outer.kind, outer.head, outer.rel_verb, inner, outer.predicate)


def relative_np(rng: random.Random, np_: NP):
    """`np_` with a relative clause of its own ("the cat" -> "the cat that sees the bird" or
    "the cat that the girl sees"), its verb and other noun drawn to fit the lexicon; None if
    no transitive verb takes that noun in the drawn role."""
    kind = "subject" if rng.random() < 0.5 else "object"
    role = "subjects" if kind == "subject" else "objects"
    verbs = [v for v in TRANSITIVE if np_.noun in getattr(VERBS[v], role)]
    if not verbs:
        return None
    v = VERBS[rng.choice(verbs)]
    other = _sample_np(rng, v.objects if kind == "subject" else v.subjects, False)
    return RelativeNP(np_, kind, v.en, other)


# ----------------------------------------------------------------------------- counting
def _count_nps(nouns, full: bool) -> int:
    """Distinct noun phrases over `nouns`: determiners x (no adjective + each fitting one)."""
    dets = len(_FULL_DETS) if full else 1
    return sum(dets * (1 + len(adjectives_for(n))) for n in nouns)


def _clause_frames() -> int:
    """Tense x time x (statement | negation | question) combinations a clause allows."""
    total = 0
    for tense in TENSES:
        for time in [None] + sorted(TIMES[tense]):
            total += 2 if time == "every day" else 3   # "every day" is never negated
    return total


def count_sentences() -> dict:
    """Exact number of distinct sentences of the grammar, by sentence type.

    Each count is a product over the independent choices the sampler makes (the same
    lexicon and rules), summed over verbs and head nouns:
      clause   = sum over verbs of  #subject NPs x #object NPs x #frames x #place choices
      relative = sum over verbs and heads of  #heads x #other NPs x #predicates(head)
    A full noun phrase has 12 determiners (the, this, one..ten) x (1 + #fitting adjectives);
    inside relative sentences noun phrases take "the" only.
    """
    def places(v: Verb) -> int:    # no place phrase, or one of them
        return len(PLACES) + (0 if v.needs_place else 1)

    frames = _clause_frames()
    clause = 0
    for name in TRANSITIVE + INTRANSITIVE:
        v = VERBS[name]
        objects = _count_nps(v.objects, True) if v.transitive else 1
        clause += _count_nps(v.subjects, True) * objects * frames * places(v)

    def predicates(head: str) -> int:
        adj, trans, intrans = _predicate_options(head)
        return (len(adj) + sum(_count_nps(VERBS[v].objects, False) for v in trans)
                + sum(places(VERBS[v]) for v in intrans))

    rel = {"subject": 0, "object": 0}
    for name in TRANSITIVE:
        v = VERBS[name]
        for kind, heads, others in (("subject", v.subjects, v.objects), ("object", v.objects, v.subjects)):
            n_other = _count_nps(others, False)
            rel[kind] += sum(_count_nps((h,), False) * n_other * predicates(h) for h in heads)
    return {"clause": clause, "relative_subject": rel["subject"], "relative_object": rel["object"],
            "total": clause + rel["subject"] + rel["object"]}


# ----------------------------------------------------------------------------- lexicon tokens
def english_words() -> list[str]:
    """Every English token the grammar can produce (sorted)."""
    words = {"the", "this", "that", "is", "not", "will", "do", "does", "did", ".", "?"}
    words |= {w for n in _NOUN_LIST for w in (n.en, n.en_plural)}
    words |= {a.en for a in _ADJECTIVE_LIST}
    words |= {w for v in _VERB_LIST for w in (v.en, v.en_3sg, v.en_past)}
    words |= {en for en, _ in NUMBERS.values()}
    words |= {w for t in TIMES.values() for phrase in t for w in phrase.split()}
    words |= {w for phrase in PLACES for w in phrase.split()}
    return sorted(words)


def chinese_words() -> list[str]:
    """Every Chinese token the grammar can produce (sorted)."""
    words = {"这", "了", "会", "吗", "很", "的", "。", "？"} | set(_ZH_NEGATION.values())
    words |= {w for n in _NOUN_LIST for w in (n.zh, n.classifier)}
    words |= {a.zh for a in _ADJECTIVE_LIST}
    words |= {v.zh for v in _VERB_LIST}
    words |= {zh for _, zh in NUMBERS.values()}
    words |= {w for t in TIMES.values() for phrase in t.values() for w in phrase.split()}
    words |= {w for phrase in PLACES.values() for w in phrase.split()}
    return sorted(words)


# ----------------------------------------------------------------------------- parsing
class _Parser:
    """Reads an English token list of the grammar back into its structure (the inverse of
    `realize` on English), so a typed sentence can get its reference translation."""

    _NUMBER_WORDS = {en: k for k, (en, _) in NUMBERS.items()}
    _AUX = {"does": "present", "do": "present", "did": "past", "will": "future"}

    def __init__(self, tokens):
        self.t = list(tokens)
        self.i = 0

    def fail(self, what: str):
        """Raise the error for the word at the cursor; `what` (a `msg`) is what should be there."""
        got = self.t[self.i] if self.i < len(self.t) else msg("the end of the sentence")
        raise ValueError(msg("not a sentence of the toy grammar: expected {what} at word {i}, "
                             "found {got!r} in {sentence!r}", what=what, i=self.i + 1, got=got,
                             sentence=" ".join(self.t)))

    def peek(self, k: int = 0):
        return self.t[self.i + k] if self.i + k < len(self.t) else None

    def take(self, word: str) -> bool:
        if self.peek() == word:
            self.i += 1
            return True
        return False

    def phrase(self, options) -> str | None:
        for p in sorted(options, key=len, reverse=True):
            words = p.split()
            if self.t[self.i:self.i + len(words)] == words:
                self.i += len(words)
                return p
        return None

    def np(self, full: bool = True) -> NP:
        word = self.peek()
        if word == "the" or (full and word == "this"):
            det = word
        elif full and word in self._NUMBER_WORDS:
            det = self._NUMBER_WORDS[word]
        else:
            self.fail(msg("a noun phrase (the, this or a number)") if full else msg("'the'"))
        self.i += 1
        adj = self.peek() if self.peek() in ADJECTIVES else None
        self.i += adj is not None
        np_ = NP("", det, adj)
        for n in _NOUN_LIST:
            if self.peek() == (n.en_plural if np_.plural else n.en):
                self.i += 1
                return NP(n.en, det, adj)
        self.fail(msg("a plural noun") if np_.plural else msg("a singular noun"))

    def verb(self, form: str) -> Verb:
        v = next((v for v in _VERB_LIST if getattr(v, form) == self.peek()), None)
        if v is None:
            self.fail({"en": msg("a verb"), "en_3sg": msg("a verb ending in -s"),
                       "en_past": msg("a past-tense verb")}[form])
        self.i += 1
        return v

    def end(self, mark: str):
        if not self.take(mark) or self.peek() is not None:
            self.fail(msg("{mark!r} closing the sentence", mark=mark))

    def np_with_clause(self, full: bool, clauses: int):
        """A noun phrase; when "that" follows and `clauses` > 0, with its own relative clause
        ("the cat that sees the bird", "the cat that the girl sees": a `RelativeNP`), whose
        other noun phrase may hold `clauses - 1` more."""
        start = self.i
        np_ = self.np(full)
        if clauses == 0 or self.peek() != "that":
            return np_
        if np_.det != "the":
            self.i = start
            self.fail(msg("'the' (a noun phrase with a relative clause starts with 'the')"))
        self.i += 1
        if self.peek() == "the":
            other = self.np_with_clause(False, clauses - 1)
            kind, verb = "object", self.verb("en_3sg")
        else:
            kind, verb = "subject", self.verb("en_3sg")
            other = self.np_with_clause(False, clauses - 1)
        return RelativeNP(np_, kind, verb.en, other)

    def relative(self):
        head = self.np(full=False)
        self.take("that")
        if self.peek() == "the":   # the other noun phrase may have a clause of its own (nested split)
            kind, other = "object", self.np_with_clause(False, 1)
            rel_verb = self.verb("en_3sg")
        else:
            kind, rel_verb = "subject", self.verb("en_3sg")
            other = self.np_with_clause(False, 1)
        if self.take("is"):
            if self.peek() not in ADJECTIVES:
                self.fail(msg("an adjective after 'is'"))
            predicate = ("adj", self.t[self.i])
            self.i += 1
        else:
            v = self.verb("en_3sg")
            predicate = ("verb", v.en, self.np(full=False) if v.transitive else self.phrase(PLACES))
        self.end(".")
        return RelativeSentence(kind, head, rel_verb.en, other, predicate)

    def clause(self):
        question = self.peek() in self._AUX
        negated = False
        if question:
            tense = self._AUX[self.t[self.i]]
            self.i += 1
            subject = self.np_with_clause(True, 1)   # a subject with a relative clause: relative_tense split
            v = self.verb("en")
        else:
            subject = self.np_with_clause(True, 1)
            if self.peek() in self._AUX:
                tense = self._AUX[self.t[self.i]]
                self.i += 1
                negated = self.take("not")
                if not negated and tense != "future":
                    self.fail(msg("'not'"))
                v = self.verb("en")
            elif self.peek() in {v.en_past for v in _VERB_LIST}:
                tense, v = "past", self.verb("en_past")
            else:
                tense, v = "present", self.verb("en" if subject.plural else "en_3sg")
        obj = self.np() if v.transitive else None
        place = self.phrase(PLACES)
        time = self.phrase(TIMES[tense])
        other = self.phrase([t for k in TENSES if k != tense for t in TIMES[k]])
        if time is None and other is not None:
            raise ValueError(msg("not a sentence of the toy grammar: {other!r} does not go with the "
                                 "{tense} tense in {sentence!r}", other=other, tense=TENSE_NAMES[tense],
                                 sentence=" ".join(self.t)))
        self.end("?" if question else ".")
        return Clause(subject, v.en, obj, tense, time, place, negated, question)


def _check_fits(s) -> None:
    """Raise ValueError if a structure breaks the lexicon's selection rules."""
    def noun_ok(np_: NP, allowed, role: str, verb: str):
        if np_.noun not in allowed:
            raise ValueError(msg("in the toy grammar {noun!r} cannot be the {role} of {verb!r}", noun=np_.noun,
                                 role=ROLE_NAMES[role], verb=verb))
        if np_.adj and np_.adj not in adjectives_for(np_.noun):
            raise ValueError(msg("in the toy grammar {adj!r} does not describe {noun!r}", adj=np_.adj,
                                 noun=np_.noun))

    def relative_ok(head, kind: str, verb: str, other):
        rv = VERBS[verb]
        subj, obj = (head, other) if kind == "subject" else (other, head)
        noun_ok(subj, rv.subjects, "subject", verb)
        noun_ok(obj, rv.objects, "object", verb)
        for np_ in (head, other):
            if isinstance(np_, RelativeNP):   # a clause of its own: the same rules inside it
                relative_ok(np_.np, np_.kind, np_.verb, np_.other)

    if isinstance(s, Clause):
        v = VERBS[s.verb]
        noun_ok(s.subject, v.subjects, "subject", s.verb)
        if isinstance(s.subject, RelativeNP):
            relative_ok(s.subject.np, s.subject.kind, s.subject.verb, s.subject.other)
        if s.object:
            noun_ok(s.object, v.objects, "object", s.verb)
        return
    relative_ok(s.head, s.kind, s.rel_verb, s.other)
    if s.predicate[0] == "adj":
        if s.predicate[1] not in predicate_adjectives_for(s.head.noun):
            raise ValueError(msg("in the toy grammar {noun!r} cannot be {adj!r} (after 'is')", noun=s.head.noun,
                                 adj=s.predicate[1]))
    else:
        v = VERBS[s.predicate[1]]
        noun_ok(s.head, v.subjects, "subject", v.en)
        if v.transitive:
            noun_ok(s.predicate[2], v.objects, "object", v.en)


def parse(tokens):
    """English tokens of a grammar sentence -> its `Clause` or `RelativeSentence`.

    It reads every sentence of every split, the held-out ones included: a clause whose
    subject has a relative clause (relative_tense) and a clause inside a clause (nested).
    Raises ValueError naming the first word that does not fit, or the broken rule
    ("'book' cannot be the subject of 'chase'"). `realize(parse(tokens)).src == tokens`.
    """
    tokens = list(tokens)
    if not tokens:
        raise ValueError(msg("parse: the sentence is empty"))
    # With "that", the sentence is a relative sentence ("the dog that chases the cat is big .")
    # or a clause whose subject has a relative clause ("the dog that chases the cat slept .").
    # Try both; if neither fits, report the reading that got furthest.
    readings = (_Parser.relative, _Parser.clause) if "that" in tokens else (_Parser.clause,)
    failures = []
    for read in readings:
        p = _Parser(tokens)
        try:
            structure = read(p)
        except ValueError as err:
            failures.append((p.i, err))
            continue
        try:
            _check_fits(structure)
            expected = realize(structure).src  # also checks the tense/time/place rules
        except ValueError as err:
            failures.append((len(tokens) + 1, err))   # the words fit; a rule does not
            continue
        if expected != tokens:
            failures.append((len(tokens) + 1, ValueError(
                msg("not a sentence of the toy grammar: did you mean {sentence!r}?", sentence=" ".join(expected)))))
            continue
        return structure
    raise max(failures, key=lambda f: f[0])[1]
