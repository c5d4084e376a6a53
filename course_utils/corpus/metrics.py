"""corpus layer · translation metrics: sentence exact match, corpus BLEU (sacreBLEU, Chinese
tokenisation), and exact match broken down by phenomenon for error analysis (lesson 10).
course_utils.run.decoding.evaluate is the one function that translates and scores with them.

Hypotheses and references are token lists (["狗", "追", "猫", "。"]) or plain strings.
"""

from __future__ import annotations

from collections import defaultdict


def _check_lists(hyps, refs, fn: str) -> tuple[list, list]:
    hyps, refs = list(hyps), list(refs)
    if len(hyps) != len(refs):
        raise ValueError(f"{fn}: got {len(hyps)} hypotheses but {len(refs)} references; "
                         "need one reference per hypothesis")
    if not hyps:
        raise ValueError(f"{fn}: hyps and refs are empty; need at least one sentence")
    for name, seqs in (("hyps", hyps), ("refs", refs)):
        for i, s in enumerate(seqs):
            if not isinstance(s, (list, tuple, str)):
                raise TypeError(f"{fn}: {name}[{i}] must be a token list or a str, got {type(s).__name__}")
    return hyps, refs


def _as_tokens(s) -> list:
    return s.split() if isinstance(s, str) else list(s)


def _as_text(s) -> str:
    return s if isinstance(s, str) else " ".join(s)


def exact_match(hyps, refs) -> float:
    """Fraction (0..1) of hypotheses identical to their reference, token for token.
    Used in lessons 09 and 10 (through run.decoding.evaluate)."""
    hyps, refs = _check_lists(hyps, refs, "exact_match")
    return sum(_as_tokens(h) == _as_tokens(r) for h, r in zip(hyps, refs)) / len(hyps)


def corpus_bleu(hyps, refs) -> float:
    """Corpus BLEU (0..100) with sacreBLEU's Chinese tokenisation (`tokenize="zh"`: every
    Chinese character is a token), computed on the space-joined tokens. Used in lesson 10."""
    hyps, refs = _check_lists(hyps, refs, "corpus_bleu")
    from sacrebleu.metrics import BLEU  # imported late: only BLEU needs it, and it takes half a second

    bleu = BLEU(tokenize="zh")
    return float(bleu.corpus_score([_as_text(h) for h in hyps], [[_as_text(r) for r in refs]]).score)


def by_phenomenon(hyps, refs, phenomena) -> dict:
    """Exact match per phenomenon tag: {tag: {"n": count, "exact_match": fraction}}, sorted by
    tag. `phenomena[i]` is the tag tuple of sentence i (e.g. `pair.phenomena`). Used in
    lesson 10 (error analysis)."""
    hyps, refs = _check_lists(hyps, refs, "by_phenomenon")
    phenomena = list(phenomena)
    if len(phenomena) != len(hyps):
        raise ValueError(f"by_phenomenon: got {len(phenomena)} tag tuples for {len(hyps)} sentences")
    n, hits = defaultdict(int), defaultdict(int)
    for h, r, tags in zip(hyps, refs, phenomena):
        ok = _as_tokens(h) == _as_tokens(r)
        for tag in tags:
            n[tag] += 1
            hits[tag] += ok
    return {tag: {"n": n[tag], "exact_match": hits[tag] / n[tag]} for tag in sorted(n)}
