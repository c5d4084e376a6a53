"""Checkers for the graded exercises of lessons 01-05 (see checks/__init__.py for the API).

Shapes: B batch · H heads · T/T_q/T_k positions · d/d_k/d_v/d_h widths · n items.
Each checker probes with shapes that expose mistakes and compares with a reference
(torch built-ins where they exist, else course_utils), then with known wrong variants.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.course.checks import (
    Fail, call, compare, compare_value, exercise, expect_callable, expect_class, expect_tuple,
    probe_generator, randn,
)
from course_utils.transformer.positional import sinusoidal_encoding

# ============================================================================ lesson 01

HINT_NO_WEIGHTS = "This is the plain sum of the values: multiply each value row by its weight first."
HINT_MEAN = "This is the plain average of the values: the weights decide how much each value counts."


@exercise("01.weighted_sum", "A weighted sum of values")
def _check_weighted_sum(fn):
    expect_callable(fn, "weighted_sum")
    g = probe_generator(1)
    for n, d in ((4, 3), (1, 5), (6, 2)):
        weights = torch.rand(n, generator=g).softmax(0)
        values = randn(g, n, d)
        got = call(fn, weights, values)
        compare("output", got, weights @ values, axes=("d",),
                mutants=[(values.sum(0), HINT_NO_WEIGHTS), (values.mean(0), HINT_MEAN)])


HINT_TEMP_MULT = "Divide the scores by the temperature (scores / T): a high temperature should make the distribution flatter."
HINT_AXIS = "The softmax went over the wrong axis: each row (the last axis, dim=-1) must sum to 1."
HINT_NO_NORM = "Remember to divide by the sum of the exponentials, so the result sums to 1."
HINT_UNSTABLE = ("exp() of a large score overflows to inf, and inf / inf is NaN. Subtract the maximum "
                 "of each row before exp(): it cancels out in the ratio.")


def _softmax_temp_ref(scores, temperature):
    return torch.softmax(scores / temperature, dim=-1)


@exercise("01.softmax_temperature", "Softmax with a temperature")
def _check_softmax_temperature(fn):
    expect_callable(fn, "softmax")
    g = probe_generator(2)
    probes = [(randn(g, 5), 1.0), (randn(g, 3, 4), 0.5), (randn(g, 2, 3, 6) * 3, 2.0)]
    for scores, t in probes:
        got = call(fn, scores, t)
        mutants = [(torch.softmax(scores * t, dim=-1), HINT_TEMP_MULT),
                   ((scores / t).exp(), HINT_NO_NORM)]
        if scores.dim() > 1:
            mutants.append((torch.softmax(scores / t, dim=0), HINT_AXIS))
        compare("probabilities", got, _softmax_temp_ref(scores, t), axes=("B", "T", "n")[-scores.dim():],
                mutants=mutants)
    big = torch.tensor([[1000.0, 999.0, 0.0], [5.0, 6.0, 7.0]])
    got = call(fn, big, 1.0)
    compare("probabilities", got, _softmax_temp_ref(big, 1.0), axes=("B", "n"),
            mutants=[(big.exp() / big.exp().sum(-1, keepdim=True), HINT_UNSTABLE)])


HINT_HARD = ("That is a *hard* lookup: all the weight went to the best key. Attention is soft: "
             "softmax the scores and mix all the values.")
HINT_RAW_SCORES = "Turn the scores into weights with a softmax before mixing the values."


@exercise("01.soft_lookup", "Attention as a soft dictionary lookup")
def _check_soft_lookup(fn):
    expect_callable(fn, "soft_lookup")
    g = probe_generator(3)
    for n, d_k, d_v in ((4, 3, 2), (5, 2, 6)):
        query, keys, values = randn(g, d_k), randn(g, n, d_k), randn(g, n, d_v)
        got = expect_tuple(call(fn, query, keys, values), 2, ("out", "weights"))
        scores = keys @ query
        weights = scores.softmax(-1)
        hard = F.one_hot(scores.argmax(), n).float()
        compare("weights", got[1], weights, axes=("n",),
                mutants=[(hard, HINT_HARD), (scores, HINT_RAW_SCORES)])
        compare("out", got[0], weights @ values, axes=("d_v",),
                mutants=[(hard @ values, HINT_HARD), (scores @ values, HINT_RAW_SCORES)])


# ============================================================================ lesson 02

HINT_NO_TANH = "Apply the non-linearity: h_t = tanh(x_t W_xh + h_{t-1} W_hh + b)."
HINT_NO_HIDDEN = "The previous hidden state h_{t-1} must enter the update through W_hh."
HINT_NO_BIAS = "Add the bias b inside the tanh."


@exercise("02.rnn_step", "One step of a recurrent network")
def _check_rnn_step(fn):
    expect_callable(fn, "rnn_step")
    g = probe_generator(4)
    for B, d_in, d_h in ((2, 3, 4), (1, 5, 2)):
        x_t, h_prev = randn(g, B, d_in), randn(g, B, d_h)
        w_xh, w_hh, b = randn(g, d_in, d_h), randn(g, d_h, d_h) * 0.5, randn(g, d_h)
        got = call(fn, x_t, h_prev, w_xh, w_hh, b)
        pre = x_t @ w_xh + h_prev @ w_hh + b
        compare("h_t", got, torch.tanh(pre), axes=("B", "d_h"),
                mutants=[(pre, HINT_NO_TANH), (torch.tanh(x_t @ w_xh + b), HINT_NO_HIDDEN),
                         (torch.tanh(x_t @ w_xh + h_prev @ w_hh), HINT_NO_BIAS)])


def _rnn_reference(x, h0, w_xh, w_hh, b):
    """nn.RNN (tanh, batch_first) with our weights copied in."""
    d_in, d_h = w_xh.shape
    rnn = nn.RNN(d_in, d_h, batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(w_xh.T)
        rnn.weight_hh_l0.copy_(w_hh.T)
        rnn.bias_ih_l0.copy_(b)
        rnn.bias_hh_l0.zero_()
        states, h_last = rnn(x, h0[None])
    return states, h_last[0]


@exercise("02.rnn_forward", "Run an RNN over a whole sequence")
def _check_rnn_forward(fn):
    expect_callable(fn, "rnn_forward")
    g = probe_generator(5)
    for B, T, d_in, d_h in ((2, 5, 3, 4), (3, 1, 2, 2), (1, 7, 4, 3)):
        x, h0 = randn(g, B, T, d_in), randn(g, B, d_h)
        w_xh, w_hh, b = randn(g, d_in, d_h) * 0.5, randn(g, d_h, d_h) * 0.5, randn(g, d_h)
        got = expect_tuple(call(fn, x, h0, w_xh, w_hh, b), 2, ("states", "h_last"))
        states, h_last = _rnn_reference(x, h0, w_xh, w_hh, b)
        stale = torch.tanh(x @ w_xh + (h0 @ w_hh)[:, None] + b)  # h0 reused at every step
        compare("states", got[0], states, axes=("B", "T", "d_h"),
                mutants=[(stale, "Each step must use the hidden state of the *previous step*, not h0 "
                                 "every time: update h inside the loop."),
                         (states.flip(1), "The states are in reverse order: states[:, t] is the state after step t.")])
        compare("h_last", got[1], h_last, axes=("B", "d_h"),
                mutants=[(h0, "h_last should be the state after the last step, not the initial state."),
                         (states[:, 0], "h_last should be the state after the *last* step, states[:, -1].")])


def _gradient_truth(w: float, steps: int) -> float:
    x = torch.zeros(steps + 1, requires_grad=True)
    h = x[0]
    for t in range(1, steps + 1):
        h = w * h + x[t]
    h.backward()
    return x.grad[0].item()


@exercise("02.predict_gradient", "Predict the output: how much of x_0 survives 10 steps?")
def _check_predict_gradient(prediction):
    truth = _gradient_truth(0.5, 10)
    compare_value("prediction", prediction, truth, rel=0.02, mutants=[
        (0.5 * 10, "Gradients *multiply* along the chain rule, one factor w per step; they do not add."),
        (0.5 ** 9, "Count the steps again: from x_0 to h_10 the signal is multiplied by w ten times."),
        (0.5 ** 11, "Count the steps again: from x_0 to h_10 the signal is multiplied by w ten times."),
        (1.0, "With w = 0.5 each step halves the gradient; it does not stay at 1."),
    ])
    return "Right: 0.5^10 ≈ 0.001: after ten steps almost nothing of x_0 reaches the gradient."


# ============================================================================ lesson 03

def _word2idx_ref(sentences):
    table = {}
    for sentence in sentences:
        for token in sentence:
            if token not in table:
                table[token] = len(table) + 1
    return table


@exercise("03.word2idx", "word2idx: give every word an id")
def _check_word2idx(fn):
    expect_callable(fn, "build_word2idx")
    probes = [[["狗", "追", "猫"], ["猫", "追", "狗"]],
              [["the", "cat", "sat"], ["the", "dog", "sat", "down"], ["a", "cat"]]]
    for sentences in probes:
        copy = [list(s) for s in sentences]
        got = call(fn, sentences)
        if sentences != copy:
            raise Fail("`build_word2idx` changed the sentences it was given.")
        want = _word2idx_ref(sentences)
        if not isinstance(got, dict):
            raise Fail(f"`build_word2idx` should return a dict, got {type(got).__name__}.")
        if got == want:
            continue
        if set(got) != set(want):
            missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            raise Fail(f"The dict should have one entry per distinct word. Missing: {missing}; unexpected: {extra}.")
        if got == {w: i - 1 for w, i in want.items()}:
            raise Fail("The ids start at 0.", hint="Start at 1: id 0 is reserved for padding (<pad>).")
        if got == {w: i + 1 for i, w in enumerate(sorted(want))}:
            raise Fail("The ids follow alphabetical order.",
                       hint="Number the words in order of first appearance, as you read the sentences.")
        flat = [t for s in sentences for t in s]
        if got == {w: max(i + 1 for i, t in enumerate(flat) if t == w) for w in want} or \
                got == {w: max(i for i, t in enumerate(flat) if t == w) for w in want}:
            raise Fail("A repeated word got a new id.",
                       hint="A word seen again keeps the id it got the first time; only new words get new ids.")
        wrong = [w for w in want if got[w] != want[w]]
        raise Fail(f"{len(wrong)} of {len(want)} words have the wrong id, e.g. {wrong[0]!r} -> {got[wrong[0]]!r}, "
                   f"expected {want[wrong[0]]}.")


def _pe_concat(max_len, d_model):
    pe = sinusoidal_encoding(max_len, d_model)
    return torch.cat([pe[:, 0::2], pe[:, 1::2]], dim=1)


def _pe_swapped(max_len, d_model):
    pe = sinusoidal_encoding(max_len, d_model)
    out = pe.clone()
    out[:, 0::2], out[:, 1::2] = pe[:, 1::2], pe[:, 0::2]
    return out


def _pe_variant(max_len, d_model, exponent):
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]
    i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = pos / 10000 ** exponent(i)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angles), torch.cos(angles)
    return pe


def _pe_per_column(max_len, d_model):
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]
    j = torch.arange(d_model, dtype=torch.float32)
    angles = pos / 10000 ** (j / d_model)
    return torch.where(j.long() % 2 == 0, torch.sin(angles), torch.cos(angles))


@exercise("03.sinusoidal_encoding", "The sinusoidal positional encoding")
def _check_sinusoidal(fn):
    expect_callable(fn, "sinusoidal_encoding")
    for max_len, d_model in ((10, 8), (50, 16), (3, 2)):
        got = call(fn, max_len, d_model)
        compare("pe", got, sinusoidal_encoding(max_len, d_model), axes=("max_len", "d_model"), atol=1e-4,
                check_dtype=False, mutants=[
                    (_pe_swapped(max_len, d_model), "sin goes in the even columns (2i), cos in the odd ones (2i+1)."),
                    (_pe_concat(max_len, d_model), "Interleave: column 2i holds sin and column 2i+1 holds cos of the "
                                                   "same frequency; don't put all sines first."),
                    (_pe_variant(max_len, d_model, lambda i: 2 * i / d_model),
                     "The exponent is 2i/d_model where 2i is the even column index; you used twice that."),
                    (_pe_variant(max_len, d_model, lambda i: i),
                     "Divide the exponent by d_model: pos / 10000^(2i/d_model)."),
                    (_pe_variant(max_len, d_model, lambda i: -i / d_model),
                     "Divide the position by 10000^(2i/d_model); you multiplied by it."),
                    (_pe_per_column(max_len, d_model),
                     "Columns 2i and 2i+1 share one frequency, 1/10000^(2i/d_model); the cos column "
                     "must not use (2i+1)/d_model."),
                ])
        if got.dtype not in (torch.float32, torch.float64):
            raise Fail(f"`pe` should be a float tensor, got dtype {got.dtype}.")


@exercise("03.embed_with_positions", "Token ids -> embeddings + positions")
def _check_embed_with_positions(fn):
    expect_callable(fn, "embed_with_positions")
    g = probe_generator(6)
    for B, T, n_vocab, d_model in ((2, 4, 7, 6), (3, 1, 5, 4), (1, 6, 9, 8)):
        ids = torch.randint(0, n_vocab, (B, T), generator=g)
        table = randn(g, n_vocab, d_model)
        pe = sinusoidal_encoding(10, d_model)
        got = call(fn, ids, table, pe)
        emb = table[ids]
        mutants = [(emb, "Add the positional encoding: x = embedding[ids] + pe[:T]."),
                   (emb + pe[0], "Each position t gets its own row pe[t]; you added pe[0] everywhere."),
                   (emb * math.sqrt(d_model) + pe[:T], "No scaling by √d_model in this exercise: just the sum.")]
        if B <= 10 and B != T:
            mutants.append((emb + pe[:B, None], "The positions run along the sequence axis T (pe[:T]), "
                                                "not along the batch."))
        compare("x", got, emb + pe[:T], axes=("B", "T", "d_model"), mutants=mutants)


@exercise("03.predict_permutation", "Predict the output: where does 狗 go without positions?")
def _check_predict_permutation(prediction):
    if prediction is None:
        raise Fail("`prediction` is None, but one row of out2 is exactly equal to out1[0].",
                   hint="Follow the token 狗: its query and the set of keys it compares with are unchanged.")
    if isinstance(prediction, bool) or not isinstance(prediction, int):
        raise Fail(f"`prediction` should be a row index (an int 0, 1 or 2), got {type(prediction).__name__}.")
    compare_value("prediction", prediction, 2, rel=0, abs_tol=0, mutants=[
        (0, "Without positions, attention cannot tell *where* a token is: the output row follows the token "
            "狗, which now stands at position 2."),
        (1, "Row 1 is 追, which stays in the middle; follow 狗 instead."),
    ])
    return "Right: the outputs are the same rows, permuted like the inputs. Order is invisible without positions."


# ============================================================================ lesson 04

HINT_NO_SCALE = ("Divide the scores by √d_k (the width of q and k). Without it the scores grow with d_k "
                 "and the softmax saturates.")
HINT_SCALE_DK = "Divide by the *square root* of d_k, not by d_k itself."
HINT_SCALE_DV = "Scale by √d_k, the width of q and k, not by the width of v."
HINT_SOFTMAX_AXIS = "Take the softmax over the keys (dim=-1), so each query's weights sum to 1."
HINT_MASK_AFTER = ("Apply the mask *before* the softmax (blocked scores -> -inf); zeroing weights after "
                   "the softmax leaves rows that no longer sum to 1.")
HINT_MASK_ZERO = ("Blocked scores must become -inf (or a very large negative number), not 0: exp(0) = 1 "
                  "still gives them weight.")
HINT_MASK_INVERTED = "The mask is inverted: True means *may attend*, so fill where the mask is False (`~mask`)."


def _attn_variant(q, k, v, mask=None, scale=None, axis=-1, mask_mode="fill"):
    d = q.size(-1) if scale is None else scale
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    if mask is not None and mask_mode == "fill":
        scores = scores.masked_fill(~mask, float("-inf"))
    elif mask is not None and mask_mode == "zero":
        scores = scores.masked_fill(~mask, 0.0)
    elif mask is not None and mask_mode == "inverted":
        scores = scores.masked_fill(mask, float("-inf"))
    weights = scores.softmax(dim=axis)
    if mask is not None and mask_mode == "after":
        weights = weights * mask
    return weights @ v, weights


def _attention_probes(seed):
    g = probe_generator(seed)
    B, H, T_q, T_k, d_k, d_v = 2, 3, 4, 5, 6, 7
    q, k, v = randn(g, B, H, T_q, d_k), randn(g, B, H, T_k, d_k), randn(g, B, H, T_k, d_v)
    lengths = torch.tensor([5, 3])
    mask = (torch.arange(T_k)[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, T_k) padding
    yield q, k, v, mask
    yield q[0, 0] * 3, k[0, 0] * 3, v[0, 0], None  # (T_q, d_k) without batch or heads


def _attention_mutants(q, k, v, mask):
    d_k, d_v = q.size(-1), v.size(-1)
    variants = [(dict(scale=1.0), HINT_NO_SCALE), (dict(scale=d_k ** 2), HINT_SCALE_DK),
                (dict(scale=d_v), HINT_SCALE_DV), (dict(axis=-2), HINT_SOFTMAX_AXIS)]
    if mask is not None:
        variants += [(dict(mask_mode="after"), HINT_MASK_AFTER), (dict(mask_mode="zero"), HINT_MASK_ZERO),
                     (dict(mask_mode="inverted"), HINT_MASK_INVERTED)]
    return [(_attn_variant(q, k, v, mask, **kw), hint) for kw, hint in variants]


HINT_BOTH = ("Two things differ from the formula: the softmax must run over the keys (dim=-1), and the "
             "scores must be divided by √d_k.")


def _check_attention_fn(fn, with_mask: bool, seed: int):
    for q, k, v, mask in _attention_probes(seed):
        if not with_mask:
            mask = None
        args = (q, k, v) if mask is None and not with_mask else (q, k, v, mask)
        got = expect_tuple(call(fn, *args), 2, ("out", "weights"))
        want_out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        want_w = _attn_variant(q, k, v, mask)[1]
        axes = ("B", "H", "T_q", "T_k")[-q.dim():]
        mutants = _attention_mutants(q, k, v, mask) + [(_attn_variant(q, k, v, mask, scale=1.0, axis=-2), HINT_BOTH)]
        compare("weights", got[1], want_w, axes=axes, mutants=[(m[1], h) for m, h in mutants])
        compare("out", got[0], want_out, axes=axes[:-1] + ("d_v",), mutants=[(m[0], h) for m, h in mutants])


@exercise("04.attention", "Scaled dot-product attention with a mask")
def _check_attention(fn):
    expect_callable(fn, "attention")
    _check_attention_fn(fn, with_mask=True, seed=7)
    return "All probes match F.scaled_dot_product_attention."


@exercise("04.fix_attention", "Find the bug: attention that doesn't attend")
def _check_fix_attention(fn):
    expect_callable(fn, "attention_fixed")
    _check_attention_fn(fn, with_mask=False, seed=8)


@exercise("04.predict_score_std", "Predict the output: how big do dot products get?")
def _check_predict_score_std(prediction):
    compare_value("prediction", prediction, math.sqrt(64), rel=0.06, mutants=[
        (64.0, "64 is the *variance* of q·k (a sum of 64 terms of variance 1); the standard deviation is its square root."),
        (1.0, "That is the standard deviation *after* dividing by √d_k, which is what the scaling is for."),
        (0.0, "0 is the mean of q·k; the question asks how far typical values are from it."),
    ])
    return "Right: std(q·k) = √d_k = 8, so the paper divides by √d_k to bring it back to 1."


HINT_NO_PROJ = "Project the input first: q = x @ w_q, k = x @ w_k, v = x @ w_v."
HINT_SWAPPED_PROJ = "Each projection has its own matrix: keys use w_k and values use w_v."


@exercise("04.self_attention", "Self-attention: one input, three projections")
def _check_self_attention(fn):
    expect_callable(fn, "self_attention")
    g = probe_generator(9)
    for B, T, d_model, d_k, d_v in ((2, 5, 8, 4, 6), (1, 3, 4, 4, 2)):
        x = randn(g, B, T, d_model)
        w_q, w_k, w_v = randn(g, d_model, d_k) * 0.5, randn(g, d_model, d_k) * 0.5, randn(g, d_model, d_v) * 0.5
        got = expect_tuple(call(fn, x, w_q, w_k, w_v), 2, ("out", "weights"))
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        out, weights = _attn_variant(q, k, v)
        wrong = [(_attn_variant(q, k, v, scale=1.0), HINT_NO_SCALE),
                 (_attn_variant(q, k, v, axis=-2), HINT_SOFTMAX_AXIS),
                 (_attn_variant(x @ w_q, x @ w_q, v), HINT_SWAPPED_PROJ)]
        if d_k == d_model:
            wrong.append((_attn_variant(x, x, v), HINT_NO_PROJ))
        compare("weights", got[1], weights, axes=("B", "T_q", "T_k"), mutants=[(w[1], h) for w, h in wrong])
        compare("out", got[0], out, axes=("B", "T", "d_v"), mutants=[(w[0], h) for w, h in wrong])


# ============================================================================ lesson 05

HINT_NO_TRANSPOSE_SPLIT = ("Reshape to (B, T, H, d_k) first, then swap the T and H axes with .transpose(1, 2); "
                           "a direct view to (B, H, T, d_k) mixes positions across heads.")
HINT_NO_TRANSPOSE_MERGE = ("Move the head axis back next to d_k with .transpose(1, 2) before reshaping to "
                           "(B, T, H * d_k); reshaping (B, H, T, d_k) directly mixes positions.")


@exercise("05.split_heads", "Split the model width into heads")
def _check_split_heads(fn):
    expect_callable(fn, "split_heads")
    g = probe_generator(10)
    for B, T, d_model, H in ((2, 5, 12, 3), (1, 4, 8, 4), (3, 2, 6, 1)):
        x = randn(g, B, T, d_model)
        got = call(fn, x, H)
        want = x.view(B, T, H, d_model // H).transpose(1, 2)
        mutants = [(x.reshape(B, H, T, d_model // H), HINT_NO_TRANSPOSE_SPLIT),
                   (x.view(B, T, d_model // H, H).permute(0, 3, 1, 2),
                    "Heads take contiguous slices of the width: view as (B, T, H, d_k), with H before d_k.")]
        compare("heads", got, want, axes=("B", "H", "T", "d_k"), mutants=mutants)


@exercise("05.merge_heads", "Merge the heads back")
def _check_merge_heads(fn):
    expect_callable(fn, "merge_heads")
    g = probe_generator(11)
    for B, H, T, d_k in ((2, 3, 5, 4), (1, 4, 2, 2), (2, 1, 3, 5)):
        x = randn(g, B, H, T, d_k)
        got = call(fn, x)
        want = x.transpose(1, 2).reshape(B, T, H * d_k)
        compare("merged", got, want, axes=("B", "T", "d_model"),
                mutants=[(x.reshape(B, T, H * d_k), HINT_NO_TRANSPOSE_MERGE)])


def _mha_variant(x_q, x_kv, mask, w, n_heads, transpose=True, scale="d_k", use_w_o=True):
    """Multi-head attention from explicit weights `w` = {name: (weight, bias)}, with known mistakes."""
    B, T_q, d_model = x_q.shape
    T_k, d_k = x_kv.size(1), d_model // n_heads

    def lin(x, name):
        weight, bias = w[name]
        return x @ weight.T + bias

    def split(x, T):
        if transpose:
            return x.view(B, T, n_heads, d_k).transpose(1, 2)
        return x.reshape(B, n_heads, T, d_k)

    q, k, v = split(lin(x_q, "w_q"), T_q), split(lin(x_kv, "w_k"), T_k), split(lin(x_kv, "w_v"), T_k)
    out, _ = _attn_variant(q, k, v, mask, scale=d_model if scale == "d_model" else None)
    out = out.transpose(1, 2).reshape(B, T_q, d_model) if transpose else out.reshape(B, T_q, d_model)
    return lin(out, "w_o") if use_w_o else out


@exercise("05.multi_head_attention", "MultiHeadAttention, equal to nn.MultiheadAttention", time_limit=20)
def _check_mha(cls):
    expect_class(cls, "MultiHeadAttention")
    g = probe_generator(12)
    d_model, n_heads = 12, 3
    module = call(cls, d_model, n_heads, what="`MultiHeadAttention(d_model=12, n_heads=3)`")
    if not isinstance(module, nn.Module):
        raise Fail("`MultiHeadAttention` should subclass nn.Module (call super().__init__() first).")
    for name in ("w_q", "w_k", "w_v", "w_o"):
        layer = getattr(module, name, None)
        if not isinstance(layer, nn.Linear) or layer.weight.shape != (d_model, d_model) or layer.bias is None:
            raise Fail(f"`module.{name}` should be nn.Linear(d_model, d_model) with a bias, "
                       f"got {type(layer).__name__ if layer is not None else 'nothing'}.")
    torch_mha = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
    with torch.no_grad():
        for lin in (module.w_q, module.w_k, module.w_v, module.w_o):
            lin.weight.copy_(torch.randn(d_model, d_model, generator=g) / math.sqrt(d_model))
            lin.bias.copy_(torch.randn(d_model, generator=g) * 0.1)
        torch_mha.in_proj_weight.copy_(torch.cat([module.w_q.weight, module.w_k.weight, module.w_v.weight]))
        torch_mha.in_proj_bias.copy_(torch.cat([module.w_q.bias, module.w_k.bias, module.w_v.bias]))
        torch_mha.out_proj.weight.copy_(module.w_o.weight)
        torch_mha.out_proj.bias.copy_(module.w_o.bias)
    w = {n: (getattr(module, n).weight.detach().clone(), getattr(module, n).bias.detach().clone())
         for n in ("w_q", "w_k", "w_v", "w_o")}
    module.eval()
    B, T_q, T_k = 2, 4, 6
    x_q, x_kv = randn(g, B, T_q, d_model), randn(g, B, T_k, d_model)
    lengths = torch.tensor([6, 4])
    pad = torch.arange(T_k)[None, :] < lengths[:, None]  # (B, T_k)
    mask = pad[:, None, None, :]  # (B, 1, 1, T_k)
    for args in ((x_q, x_q, None), (x_q, x_kv, mask)):
        with torch.no_grad():
            got = call(module, *args, what="`MultiHeadAttention.forward`")
            q_in, kv_in, m = args
            want, _ = torch_mha(q_in, kv_in, kv_in, key_padding_mask=None if m is None else ~pad,
                                need_weights=False)
        mutants = [(_mha_variant(*args, w, n_heads, transpose=False), HINT_NO_TRANSPOSE_SPLIT),
                   (_mha_variant(*args, w, n_heads, scale="d_model"),
                    "Each head scales by √d_k with d_k = d_model / n_heads, the width of one head, not √d_model."),
                   (_mha_variant(*args, w, n_heads, use_w_o=False),
                    "After merging the heads, mix them with the output projection w_o.")]
        if m is not None:
            mutants.append((_mha_variant(q_in, kv_in, None, w, n_heads),
                            "Pass the mask on to the attention: padded keys must get no weight."))
        compare("output", got, want, axes=("B", "T_q", "d_model"), mutants=mutants)
    return "All probes match nn.MultiheadAttention with the same weights."


@exercise("05.predict_param_count", "Predict the output: how many parameters has multi-head attention?")
def _check_predict_param_count(prediction):
    d_model, n_heads = 512, 8
    truth = 4 * (d_model * d_model + d_model)
    compare_value("prediction", prediction, truth, rel=0, abs_tol=0.5, mutants=[
        (4 * d_model * d_model, "Each of the four nn.Linear layers also has a bias of d_model numbers."),
        (3 * (d_model * d_model + d_model), "Don't forget the output projection w_o: four linear layers in all."),
        (truth * n_heads, "The heads share the d_model x d_model matrices (each uses a slice): the count "
                          "doesn't grow with n_heads."),
        (truth / n_heads, "Each head uses a d_k = d_model / n_heads slice, but together the slices cover the "
                          "full d_model x d_model matrices."),
        (3 * d_model * d_model, "Count the biases and the output projection w_o as well."),
    ])
    return "Right: 4 · (512² + 512) = 1,050,624, whatever the number of heads."
