"""course layer · real-model probes for the graders of lessons 07-10: the shipped reference model
(course_utils.run.reference) and a padded batch of real corpus sentences.

An answer that only works on a tiny stand-in (ignores `src_mask`, assumes equal lengths,
hard-codes an id) fails here with the shipped model on real, mixed-length sentences.
Shapes: B = 6 sentences · S source length · T target length + 1 · V target vocabulary.
"""

import copy
import functools

import torch

from course_utils.corpus.data import collate, generate_pairs
from course_utils.run.reference import load_reference


@functools.lru_cache(maxsize=1)
def _loaded():
    with torch.random.fork_rng(devices=[]):  # building the model draws initial weights from the global RNG
        model, src_vocab, tgt_vocab, _ = load_reference()
    pairs = sorted(generate_pairs(300, seed=5), key=lambda p: len(p.src))
    short, long = pairs[:3], pairs[-3:]  # 4-token and 14-token sentences: the short ones are padded a lot
    mixed = [short[0], long[2], short[1], long[1], short[2], long[0]]
    return model.eval(), src_vocab, tgt_vocab, mixed


def reference_model():
    """(a private copy of the reference model in eval mode, src_vocab, tgt_vocab): a learner's
    code may change the copy without changing what the next check sees."""
    model, src_vocab, tgt_vocab, _ = _loaded()
    with torch.random.fork_rng(devices=[]):
        return copy.deepcopy(model), src_vocab, tgt_vocab


def vocabularies():
    """(src_vocab, tgt_vocab) of the reference model."""
    return _loaded()[1:3]


def real_pairs():
    """6 real sentence pairs of the course corpus, 4-token and 14-token sources mixed."""
    return list(_loaded()[3])


def real_batch():
    """`collate` of `real_pairs()`: src (6, S), tgt_in / tgt_out (6, T), src_mask (6, 1, 1, S),
    tgt_mask (6, 1, T, T)."""
    _, src_vocab, tgt_vocab, pairs = _loaded()
    return collate(pairs, src_vocab, tgt_vocab)
