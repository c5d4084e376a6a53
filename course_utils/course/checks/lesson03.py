"""course layer · graders of lesson 03 (tokens, embeddings, positions): a vocabulary, the permutation
puzzle, the sinusoidal encoding, ids -> embeddings + positions.
Shapes: B batch · T positions · V vocabulary · d_model width."""

import math
from collections import Counter

import torch

from course_utils.base.i18n import msg
from course_utils.course.checks import (
    Fail,
    call,
    compare,
    compare_prediction,
    exercise,
    expect_callable,
    probe_generator,
    randn,
)
from course_utils.transformer import sinusoidal_encoding

HINT_FROM_0 = msg("Start at 1: id 0 is reserved for padding (<pad>).")
HINT_ALPHA = msg("Number the words in order of first appearance, as you read the sentences, not alphabetically.")
HINT_FREQ = msg("Number the words in order of first appearance, not by how often they occur.")
HINT_NEW_ID = msg("A word seen again keeps the id it got the first time; only new words get new ids.")
HINT_PER_SENTENCE = msg("Use one dict for all the sentences: ids continue from one sentence to the next.")
HINT_INVERSE = msg("Map each word to its id (word -> id), not each id to its word.")
HINT_SPECIALS = msg("Only the words of the sentences: leave special tokens such as <pad> out of the dict (ids "
                    "simply start at 1).")
HINT_POSITIONS = msg("Your ids are the positions where the words first appear in the text; the ids count the "
                     "*distinct* words instead: 1, 2, 3, ... in order of first appearance (a new word gets "
                     "`len(word2idx) + 1`).")
HINT_TOKENS = msg("Each sentence is already a list of tokens: loop over it directly, no `.split()`.")
HINT_ORDER = msg("The ids 1..n are all there but in another order (a `set` has no order): number the words as "
                 "they first appear.")


def _mistakes(sentences):
    flat = [t for s in sentences for t in s]
    words = list(dict.fromkeys(flat))
    per_sentence = {}
    for s in sentences:
        per_sentence.update({w: i + 1 for i, w in enumerate(dict.fromkeys(s))})
    overwritten = {}  # `word2idx[w] = len(word2idx) + 1` without asking whether w is new
    for t in flat:
        overwritten[t] = len(overwritten) + 1
    return [({w: i for i, w in enumerate(words)}, HINT_FROM_0),
            ({w: i + 1 for i, w in enumerate(sorted(words))}, HINT_ALPHA),
            ({w: i + 1 for i, (w, _) in enumerate(Counter(flat).most_common())}, HINT_FREQ),
            ({w: i + 1 for i, w in enumerate(sorted(words, key=lambda w: -flat.count(w)))}, HINT_FREQ),
            ({w: max(i + 1 for i, t in enumerate(flat) if t == w) for w in words}, HINT_NEW_ID),
            ({w: max(i for i, t in enumerate(flat) if t == w) for w in words}, HINT_NEW_ID),
            (per_sentence, HINT_PER_SENTENCE),
            ({w: flat.index(w) + 1 for w in words}, HINT_POSITIONS),
            (overwritten, HINT_NEW_ID)]


@exercise("03.word2idx", "word2idx: give every word an id", name="build_word2idx")
def _check_word2idx(fn):
    expect_callable(fn, "build_word2idx")
    probes = [[["the", "cat", "sat"], ["the", "dog", "sat", "down"], ["a", "cat"]],
              [["狗", "追", "猫"], ["猫", "追", "狗"]],
              [["一", "只", "猫"], ["猫", "猫", "追", "猫"], ["只", "追"]]]  # first seen != most frequent
    for sentences in probes:
        got = call(fn, sentences, errors=[(r"has no attribute 'split'", HINT_TOKENS)])
        want = {w: i for i, w in enumerate(dict.fromkeys(t for s in sentences for t in s), start=1)}
        if got == want or got == {"<pad>": 0, **want}:  # an explicit entry for the reserved id 0 is fine
            continue
        if not isinstance(got, dict):
            raise Fail(msg("`build_word2idx` should return a dict, got {kind}.", kind=type(got).__name__),
                       hint=msg("Build a dict `{}` and return it.") if got is None or isinstance(got, (list, tuple))
                       else None)
        for wrong, hint in _mistakes(sentences):
            if got == wrong:
                raise Fail(msg("The ids are not right: they follow a known wrong rule."), hint=hint)
        if set(got) == set(want.values()) and set(got.values()) == set(want):
            raise Fail(msg("The dict maps ids to words."), hint=HINT_INVERSE)
        extra = set(got) - set(want)
        if extra and all(isinstance(w, str) and w.startswith("<") for w in extra):
            raise Fail(msg("The dict has entries that are not words of the sentences: {extra}.",
                           extra=sorted(extra)), hint=HINT_SPECIALS)
        if set(got) != set(want):
            missing, extra = sorted(set(want) - set(got)), sorted(map(str, set(got) - set(want)))
            raise Fail(msg("The dict should have one entry per distinct word. Missing: {missing}; unexpected: "
                           "{extra}.", missing=missing, extra=extra))
        if sorted(got.values()) == sorted(want.values()):
            raise Fail(msg("The ids are 1..n in the wrong order."), hint=HINT_ORDER)
        wrong = [w for w in want if got[w] != want[w]]
        if len(wrong) == 1:
            raise Fail(msg("1 of {n} words has the wrong id: {word!r} -> {got!r}, expected {want}.",
                           n=len(want), word=wrong[0], got=got[wrong[0]], want=want[wrong[0]]))
        raise Fail(msg("{n_wrong} of {n} words have the wrong id, e.g. {word!r} -> {got!r}, expected {want}.",
                       n_wrong=len(wrong), n=len(want), word=wrong[0], got=got[wrong[0]], want=want[wrong[0]]))


@exercise("03.predict_permutation", "Predict the output: where does 狗 go without positions?")
def _check_predict_permutation(prediction):
    if prediction is None:
        raise Fail(msg("`prediction` is None, but one row of out2 is exactly equal to out1[0]."),
                   hint=msg("Follow the token 狗: its query and the set of keys it compares with are unchanged."))
    compare_prediction("prediction", prediction, 2, rel=0, abs_tol=1e-9, near=0, mistakes=[
        (0, msg("Without positions, attention cannot tell *where* a token is: the output row follows the token "
                "狗, which now stands at position 2.")),
        (1, msg("Row 1 is 追, which stays in the middle; follow 狗 instead.")),
    ], hint=msg("out2 has three rows, 0, 1 and 2 (or None if no row matches). Follow the token 狗: where does it "
                "stand in 猫追狗?"))
    return msg("Right: the outputs are the same rows, permuted like the inputs. Order is invisible without "
               "positions.")


def _pe(max_len, d_model, exponent, first=torch.sin, second=torch.cos, start=0):
    """A positional encoding built with a wrong exponent (a function of the even column index 2i)."""
    pos = torch.arange(start, start + max_len, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angles = pos / 10000 ** exponent(two_i)
    return torch.stack([first(angles), second(angles)], -1).flatten(1).float()


def _pe_per_column(max_len, d_model, times=1):
    """The exponent taken from each column's own index j (times * j / d_model), sin or cos by parity."""
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    j = torch.arange(d_model)
    angles = pos / 10000 ** (times * j / d_model)
    return torch.where(j % 2 == 0, angles.sin(), angles.cos()).float()


def _first_pair_only(max_len, d_model):
    """Signature: the frequency-1 pair (columns 0, 1) is right but another frequency is wrong."""
    pos = torch.arange(max_len, dtype=torch.float64)

    def test(pe):
        good = torch.allclose(pe[:, 0].double(), pos.sin(), atol=1e-4) and \
            torch.allclose(pe[:, 1].double(), pos.cos(), atol=1e-4)
        return good and d_model > 2
    return test


HINT_EXPONENT = msg("Check the exponent: pos / 10000^(2i/d_model), where 2i is the even column index (0, 2, 4, "
                    "...).")


HINT_PE = msg("Column 2i: sin(pos / 10000^(2i/d_model)); column 2i+1: cos of the same angle; rows pos = "
              "0..max_len-1.")


def _pe_mistakes(max_len, d, want):
    """(wrong table, hint) for the mistakes learners make in the encoding."""
    return [
        (_pe(max_len, d, lambda i: i / d, torch.cos, torch.sin), msg("sin goes in the even columns (2i), cos "
                                                                     "in the odd ones (2i+1).")),
        (torch.cat([want[:, 0::2], want[:, 1::2]], 1), msg("Interleave: column 2i holds sin and column 2i+1 "
                                                           "holds cos of the same frequency; don't put all "
                                                           "sines first.")),
        (_pe(max_len, d, lambda i: 2 * i / d), msg("The exponent is 2i/d_model where 2i is the even column "
                                                   "index; you used twice that.")),
        (_pe(max_len, d, lambda i: i / 2 / d), msg("The exponent is 2i/d_model: with i counting the pairs "
                                                   "(0, 1, 2, ...) you need 2*i, not i.")),
        (_pe(max_len, d, lambda i: i), msg("Divide the exponent by d_model: pos / 10000^(2i/d_model).")),
        (_pe(max_len, d, lambda i: -i / d), msg("Divide the position by 10000^(2i/d_model); you multiplied "
                                                "by it.")),
        (_pe(max_len, d, lambda i: i / d, start=1), msg("Positions start at 0: row 0 is position 0 (sin 0 = "
                                                        "0, cos 0 = 1).")),
        (_pe_per_column(max_len, d, times=2), msg("Columns 2i and 2i+1 share one exponent, 2i/d_model with "
                                                  "2i the *even* column of the pair: you used 2j/d_model "
                                                  "with j the column itself (j is not i).")),
        (_pe_per_column(max_len, d), msg("Columns 2i and 2i+1 share one frequency, 1/10000^(2i/d_model); the "
                                         "cos column must not use (2i+1)/d_model.")),
        (_pe(max_len, d, lambda i: i / d, torch.sin, torch.sin), msg("The odd columns (2i+1) hold the "
                                                                     "*cosine*.")),
        (_pe(max_len, d, lambda i: i / d, torch.cos, torch.cos), msg("The even columns (2i) hold the *sine*.")),
        (lambda pe: pe.dim() == 3 and pe.shape[0] == 1,
         msg("Return a (max_len, d_model) table, without a leading batch axis.")),
        (lambda pe: max_len > 1 and bool(torch.allclose(pe, pe[:1].expand_as(pe))),
         msg("Every row is the same: row pos must use its own position, pos = 0, 1, ..., max_len - 1.")),
        (_first_pair_only(max_len, d), HINT_EXPONENT),
    ]


@exercise("03.sinusoidal_encoding", "The sinusoidal positional encoding")
def _check_sinusoidal(fn):
    expect_callable(fn, "sinusoidal_encoding")
    for max_len, d_model in ((10, 8), (50, 16), (3, 2)):
        got = call(fn, max_len, d_model)
        want = sinusoidal_encoding(max_len, d_model)
        compare("pe", got, want, axes=("max_len", "d_model"), atol=1e-4, mistakes=_pe_mistakes(max_len, d_model, want),
                hint=HINT_PE)


HINT_NO_PE = msg("Add the positional encoding: x = table[ids] + pe[:T].")
HINT_PE0 = msg("Each position t gets its own row pe[t]; you added pe[0] everywhere.")
HINT_SQRT = msg("No scaling by √d_model in this exercise: just the sum.")
HINT_PE_BATCH = msg("The positions run along the sequence axis T (pe[:T]), not along the batch.")
HINT_PE_BY_ID = msg("pe is indexed by the position t, not by the token id: use pe[:T].")
HINT_PE_ALL = msg("Take only the first T rows of the encoding, pe[:T] with T = ids.size(1) (the sequence axis), "
                  "so it lines up with the T positions.")
HINT_TABLE = msg("Look the ids up in the given `table` (`table[ids]`); don't create a new embedding.")


def _other_table(ids, emb, pe):
    """Signature: x - pe looks each id up consistently (same id, same row), but not in `table`."""
    def test(x):
        rows = (x - pe).reshape(-1, x.size(-1))
        flat = ids.reshape(-1)
        consistent = all(torch.allclose(rows[flat == i], rows[flat == i][:1].expand(int((flat == i).sum()), -1),
                                        atol=1e-4) for i in flat.unique())
        return consistent and not torch.isclose(rows, emb.reshape(rows.shape), atol=1e-4).any()
    return test


HINT_BT_SWAPPED = msg("The batch and time axes are mixed up: `ids` is (B, T), so `table[ids]` is (B, T, d_model) "
                      "with the batch first, and pe[:T] (T, d_model) broadcasts over the batch. Don't transpose "
                      "ids.")


@exercise("03.embed_with_positions", "Token ids -> embeddings + positions")
def _check_embed_with_positions(fn):
    expect_callable(fn, "embed_with_positions")
    g = probe_generator(6)
    for B, T, n_vocab, d_model in ((2, 4, 7, 6), (3, 1, 5, 4), (1, 6, 9, 8)):
        ids = torch.randint(0, n_vocab, (B, T), generator=g)
        table = randn(g, n_vocab, d_model)
        pe = sinusoidal_encoding(10, d_model)
        got = call(fn, ids, table, pe, errors=[
            (r"ids\.T\b|ids\.t\(\)|must match the size of tensor .* at non-singleton dimension 0", HINT_BT_SWAPPED),
            (r"must match the size of tensor", HINT_PE_ALL)])
        emb = table[ids]
        compare("x", got, emb + pe[:T], axes=("B", "T", "d_model"), mistakes=[
            (emb, HINT_NO_PE), (emb + pe[0], HINT_PE0), (emb * math.sqrt(d_model) + pe[:T], HINT_SQRT),
            ((emb + pe[:T]) * math.sqrt(d_model), HINT_SQRT),
            (emb + pe[:B, None] if B != T else None, HINT_PE_BATCH), (emb + pe[ids], HINT_PE_BY_ID),
            (emb + pe[1:T + 1], msg("Position t uses pe[t], starting at pe[0]: add pe[:T].")),
            (emb.transpose(0, 1) + pe[:T, None] if B != T else None, HINT_BT_SWAPPED),
            (emb * pe[:T], msg("Add the positional encoding to the embeddings; don't multiply them.")),
            (_other_table(ids, emb, pe[:T]), HINT_TABLE),
            (lambda x: x.shape[:-1] == emb.shape[:-1] and x.size(-1) == 2 * d_model,
             msg("Add the positional encoding to the embeddings (same width d_model); don't concatenate them."))],
            hint=msg("x[b, t] = table[ids[b, t]] + pe[t]: `table[ids] + pe[:T]`."))
