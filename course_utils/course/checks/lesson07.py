"""course layer · graders of lesson 07 (cross-attention): cross_attention, alignment, predict_alignment.

Shapes: B batch · H heads · T target (query) positions · S source (key) positions · d_model · d_k · d_v.
References: course_utils.transformer.attention, torch, and the shipped reference model's weights.
"""

import math

import numpy as np
import torch

from course_utils.base.i18n import msg
from course_utils.course.checks import Fail, call, compare, exercise, expect_callable, expect_tuple, probe_generator
from course_utils.course.checks.reference_probes import real_batch, reference_model
from course_utils.course.checks.signatures import mask_mistakes, wrong_scale
from course_utils.transformer.attention import attention

HINT_KV_FROM_X = msg("The keys and values come from the decoder (`x`): your weights have one column per *target* "
                     "position. In cross-attention the queries come from `x`, the keys and values from `memory`: "
                     "`k = memory @ w_k`, `v = memory @ w_v`, so the weights are (B, T, S).")

HINT_CROSS_WEIGHTS = msg("weights = softmax((x @ w_q) @ (memory @ w_k).T / sqrt(d_k)) over the source axis, with "
                         "blocked source positions filled with -inf first.")
HINT_EQUAL_LENGTHS = msg("Your code only runs when the target and source lengths are equal: somewhere a T-sized and "
                         "an S-sized axis are combined. The keys and values come from `memory` (S positions), the "
                         "queries from `x` (T positions).")
HINT_CROSS_OUT = msg("out = weights @ (memory @ w_v).")
HINT_ALIGNMENT = msg("`weights.mean(dim=1).argmax(dim=-1)`: average over heads, then the most-attended source "
                     "position.")


def _cross_probes():
    g = probe_generator(70)
    B, T, S, d_model, d_k, d_v = 2, 3, 5, 8, 4, 6
    x, memory = torch.randn(B, T, d_model, generator=g), torch.randn(B, S, d_model, generator=g)
    w_q, w_k = torch.randn(d_model, d_k, generator=g), torch.randn(d_model, d_k, generator=g)
    w_v = torch.randn(d_model, d_v, generator=g)
    src_mask = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, :]  # (B, 1, S)
    return [(x, memory, w_q, w_k, w_v, None), (x, memory, w_q, w_k, w_v, src_mask)]


def _diagnose_crash(fn, fail, x, memory, w_q, w_k, w_v, src_mask):
    """An answer that raises when T != S: if it runs with T == S and then equals attention with
    keys/values from x, name that mistake instead of the raw exception."""
    x_sq = torch.cat([x, x[:, :2]], dim=1)  # T = S = 5
    mask = None if src_mask is None else src_mask
    try:
        got = call(fn, x_sq, memory, w_q, w_k, w_v, mask)
    except Fail:
        raise fail from None
    q, kx, vx = x_sq @ w_q, x_sq @ w_k, x_sq @ w_v
    if isinstance(got, (tuple, list)) and got and isinstance(got[0], torch.Tensor) and \
            torch.allclose(got[0], attention(q, kx, vx, mask)[0], atol=1e-5, rtol=1e-4):
        raise Fail(msg("{message} (with T = S it runs, but uses the decoder's states as keys and values)",
                       message=fail.message),
                   hint=HINT_KV_FROM_X) from None
    raise Fail(fail.message, hint=HINT_EQUAL_LENGTHS) from None


def _cross_shapes(out_got, w_got, weights, d_v, src_mask):
    """Name an output of the wrong shape: an extra axis from the mask, keys from x, roles swapped."""
    B, T, S = weights.shape
    shape = tuple(w_got.shape) if isinstance(w_got, torch.Tensor) else None
    if src_mask is not None and shape == (B, B, T, S):
        raise Fail(msg("`weights` has shape {shape}: an extra axis from the mask.", shape=shape),
                   hint=msg("src_mask is already (B, 1, S) and broadcasts over the T target positions as it is; an "
                            "extra `unsqueeze` makes it (B, 1, 1, S), which spreads the batch over a new axis."))
    if shape == (B, T, T):
        raise Fail(msg("`weights` has shape {shape}: {T} columns (target positions) instead of S = {S}.", shape=shape,
                       T=T, S=S), hint=HINT_KV_FROM_X)
    if shape in ((B, S, T), (B, S, S)):
        raise Fail(msg("`weights` has shape {shape}: one row per *source* position.", shape=shape),
                   hint=msg("Roles swapped: the queries come from the decoder (`x`), the keys and values from the "
                            "encoder's `memory`."))


def _cross_mistakes(x, memory, w_q, w_k, w_v, src_mask, weights):
    """(wrong weights, hint) for the mistakes learners make, then the signatures of mask and scale mistakes."""
    (B, T, S), d_v = weights.shape, w_v.size(-1)
    q, k, v = x @ w_q, memory @ w_k, memory @ w_v
    mask = torch.ones(B, 1, S, dtype=torch.bool) if src_mask is None else src_mask
    scores = q @ k.transpose(-2, -1)

    def scaled(c, axis=-1):
        return (scores / c).masked_fill(~mask, -math.inf).softmax(axis)

    return [
        (scores.softmax(-1), msg("The scores are not scaled: divide `q @ k.T` by sqrt(d_k) (d_k = the width of q "
                                 "and k).")),
        (attention(x @ w_k, k, v, src_mask)[1], msg("The queries are projected with w_q: `q = x @ w_q` (w_k is for the "
                                                    "keys).")),
        (attention(q, memory @ w_q, v, src_mask)[1], msg("The keys are projected with w_k: `k = memory @ w_k`.")),
        (scaled(q.size(-1)), msg("You divided by d_k; the paper divides by its square root, sqrt(d_k).")),
        (scaled(math.sqrt(x.size(-1))), msg("You scaled by sqrt(d_model); use sqrt(d_k), the width of the queries "
                                            "and keys.")),
        (scaled(math.sqrt(q.size(-1)), axis=-2), msg("Softmax over the wrong axis: each target position distributes "
                                                     "its attention over the source positions, so normalise over the "
                                                     "last axis (S).")),
        (lambda got: T > 1 and (got - got[:, :1]).abs().max() < 1e-6 and (weights - weights[:, :1]).abs().max() > 1e-3,
         msg("Every target position gets the same weights: the queries play no part. The scores are `q @ "
             "k.transpose(-2, -1)` with `q = x @ w_q`, one row per target position.")),
    ] + mask_mistakes(mask) + [wrong_scale(scores, mask, q.size(-1), {"d_k": q.size(-1), "d_v": d_v, "S": S, "T": T,
                                                                      "d_model": x.size(-1)})]


def _out_shapes(out_got, x, d_k, d_v):
    shape = tuple(out_got.shape) if isinstance(out_got, torch.Tensor) else None
    B, T, d_model = x.shape
    if shape == (B, T, d_k) and d_k != d_v:
        raise Fail(msg("`out` has shape {shape}: width d_k instead of d_v = {d_v}.", shape=shape, d_v=d_v),
                   hint=msg("The values are projected with w_v: `v = memory @ w_v` (w_k is for the keys)."))
    if shape == (B, T, d_model):
        raise Fail(msg("`out` has shape {shape}: width d_model instead of d_v = {d_v}.", shape=shape, d_v=d_v),
                   hint=msg("Project the values first: `v = memory @ w_v`, then `out = weights @ v`."))


@exercise("07.cross_attention", "Cross-attention: decoder queries, encoder keys and values")
def _check_cross_attention(fn):
    expect_callable(fn, "cross_attention")
    for x, memory, w_q, w_k, w_v, src_mask in _cross_probes():
        try:
            got = call(fn, x, memory, w_q, w_k, w_v, src_mask)
        except Fail as fail:
            _diagnose_crash(fn, fail, x, memory, w_q, w_k, w_v, src_mask)
        out, weights = attention(x @ w_q, memory @ w_k, memory @ w_v, src_mask)
        out_got, w_got = expect_tuple(got, 2, ("out", "weights"), wants=(out, weights))
        _cross_shapes(out_got, w_got, weights, w_v.size(-1), src_mask)
        compare("weights", w_got, weights, axes=("B", "T", "S"),
                mistakes=_cross_mistakes(x, memory, w_q, w_k, w_v, src_mask, weights), hint=HINT_CROSS_WEIGHTS)
        _out_shapes(out_got, x, w_k.size(-1), w_v.size(-1))
        compare("out", out_got, out, axes=("B", "T", "d_v"), hint=HINT_CROSS_OUT)


def _real_weights():
    """Cross-attention weights (B, H, T, S) of the reference model's last decoder layer on a padded
    batch of real sentences (zero at the padded source positions)."""
    model, _, _ = reference_model()
    batch = real_batch()
    with torch.no_grad():
        model(batch.src, batch.tgt_in, batch.src_mask, batch.tgt_mask)
    return model.decoder.layers[-1].cross_attn.last_weights


def _alignment_form(got, want, weights):
    """Name an alignment of the wrong kind or shape: a list, an axis reduced or kept too many, floats."""
    if isinstance(got, (list, tuple)):
        raise Fail(msg("`alignment` is a {kind}; expected a tensor.", kind=type(got).__name__),
                   hint=msg("Keep the result of `argmax` as it is, a (B, T) torch.long tensor (no `.tolist()`)."))
    if not isinstance(got, torch.Tensor):
        return
    B, H, T, S = weights.shape
    shape = tuple(got.shape)
    named = [
        (want.shape[1:], msg("`alignment` has shape {shape}: the batch axis is gone.", shape=shape),
         msg("Average over the heads only, `weights.mean(dim=1)`, not over the batch too.")),
        ((B, H, T), msg("`alignment` has shape {shape} (B, H, T): one alignment per head.", shape=shape),
         msg("Average the weights over the heads first, `weights.mean(dim=1)`, then take the argmax.")),
        (want.shape + (1,), msg("`alignment` has shape {shape}: a trailing axis of size 1.", shape=shape),
         msg("`argmax(dim=-1)` gives one index per target position, (B, T); `topk`/`keepdim` keep an extra axis.")),
        ((B, H), msg("`alignment` has shape {shape} (B, H): you reduced the target and source axes.", shape=shape),
         msg("Average over the heads (dim=1) to get (B, T, S), then argmax over the source axis (the last).")),
        ((H, T), msg("`alignment` has shape {shape}: one row per *head*.", shape=shape),
         msg("You averaged over the batch axis (dim=0); the heads are the second axis: `weights.mean(dim=1)`.")),
    ]
    for wrong, message, hint in named:
        if shape == tuple(wrong) and shape != tuple(want.shape):
            raise Fail(message, hint=hint)
    if got.is_floating_point() and got.shape == want.shape and torch.allclose(
            got.double(), weights.double().mean(dim=1).amax(dim=-1), atol=1e-5):
        raise Fail(msg("`alignment` holds the largest weights themselves, not their positions."),
                   hint=msg("`max(...).values` gives the largest weight; the alignment is *where* it is: "
                            "`argmax(dim=-1)` (or `max(...).indices`)."))
    if got.is_floating_point() and got.shape == want.shape:
        raise Fail(msg("`alignment` has dtype {dtype}: positions are integer indices.", dtype=got.dtype),
                   hint=msg("Return integer indices (torch.long), as `argmax` gives them."))
    if shape == (B, S):
        raise Fail(msg("`alignment` has shape {shape}, expected {want} (B, T).", shape=shape, want=tuple(want.shape)),
                   hint=msg("argmax over the wrong axis: for every target position (query), pick the source position "
                            "(the last axis) with the most weight."))


def _alignment_mistakes(weights):
    return [
        (weights[:, 0].argmax(-1), msg("You used head 0 only: average the weights over all heads (dim=1) first.")),
        (weights.amax(dim=1).argmax(-1), msg("You took the maximum over heads; the exercise asks for the *average* "
                                             "over heads (mean over dim=1).")),
        (weights.mean(dim=1).argmin(dim=-1), msg("argmin instead of argmax: pick the source position with the *most* "
                                                 "weight.")),
        (weights.log().mean(dim=1).argmax(-1), msg("You averaged the *log*-weights (a geometric mean); average the "
                                                   "weights themselves over the heads, `weights.mean(dim=1)`, then "
                                                   "argmax.")),
        (_head_vote(weights), msg("You took a vote of the heads' own argmaxes; the exercise asks to *average* the "
                                  "weights over the heads first, `weights.mean(dim=1)`, then take the argmax.")),
    ]


@exercise("07.alignment", "Read an alignment off the attention weights")
def _check_alignment(fn):
    expect_callable(fn, "alignment")
    g = probe_generator(71)
    scores = torch.randn(2, 3, 4, 6, generator=g) * 3
    scores[:, 0] = scores[:, 0].flip(-1) * 2  # head 0 disagrees with the others
    for weights in (_real_weights(), scores.softmax(-1)):  # real first: there a vote of the heads is not head 0
        got, want = call(fn, weights), weights.mean(dim=1).argmax(dim=-1)
        _alignment_form(got, want, weights)
        compare("alignment", got, want, axes=("B", "T"), mistakes=_alignment_mistakes(weights), hint=HINT_ALIGNMENT)


def _head_vote(weights):
    """Signature: every position is one of the most frequent per-head argmaxes (a majority vote)."""
    per_head = weights.argmax(-1)  # (B, H, T)

    def test(got):
        if got.shape != per_head[:, 0].shape or got.is_floating_point():
            return False
        votes = (per_head == got[:, None].long()).sum(1)  # (B, T) heads agreeing with the answer
        best = torch.stack([(per_head == per_head[:, h:h + 1]).sum(1) for h in range(per_head.size(1))]).amax(0)
        return bool((votes == best).all())
    return test


PREDICT_SRC = ["I", "love", "cats", "<pad>"]
PREDICT_MEANINGS = ["I", "love", "cats"]  # each target word's translation, the answer a guess gives


def predict_alignment_truth():
    """The truth for 07.predict_alignment (the notebook shows how it is computed)."""
    keys = torch.tensor([[2.0, 0, 0], [0, 1.0, 0], [0, 0, 3.0], [0, 0, 6.0]])
    queries = torch.tensor([[1.0, 0.2, 0.1], [0.1, 1.0, 0.4], [0.3, 0.2, 1.0]])  # 我, 爱, 猫
    _, weights = attention(queries, keys, keys, torch.tensor([[True, True, True, False]]))
    return [PREDICT_SRC[i] for i in weights.argmax(-1).tolist()]


def _positions(prediction):
    """The prediction as a list of source positions when it is given as numbers (ints, numeric strings,
    a tensor or array of indices), else None."""
    if isinstance(prediction, (torch.Tensor, np.ndarray)):
        prediction = prediction.tolist()
    if isinstance(prediction, (int, np.integer)) and not isinstance(prediction, bool):
        prediction = [prediction]
    if not isinstance(prediction, (list, tuple)) or not prediction:
        return None
    found = []
    for p in prediction:
        if isinstance(p, str) and p.strip().lstrip("-").isdigit():
            p = int(p)
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or p != int(p):
            return None
        found.append(int(p))
    return found


def _expect_words(prediction, truth):
    """Name a prediction given as positions (0 = I, 1 = love, ...) rather than as the source words."""
    positions = _positions(prediction)
    example = ["I"] * len(truth)
    if positions is not None:
        valid = len(positions) == len(truth) and all(0 <= i < len(PREDICT_SRC) for i in positions)
        words = [PREDICT_SRC[i] for i in positions] if valid else None
        from_one = len(positions) == len(truth) and [PREDICT_SRC[i - 1] if 1 <= i <= 4 else None for i in positions]
        said = msg("they point at the right words") if words == truth else \
            msg("counted from 1, they point at the right words") if from_one == truth else \
            msg("they point at {words}", words=words) if words else msg("one source word per target position")
        raise Fail(msg("`prediction` holds positions, {positions}, not source words ({said}).", positions=positions,
                       said=said),
                   hint=msg("Name the words themselves, in quotes, as a list of {n} strings, e.g. {example} (`I` is "
                            "position 0, `<pad>` position 3).", n=len(truth), example=example))
    if not isinstance(prediction, (list, tuple)) or not all(isinstance(p, str) for p in prediction):
        raise Fail(msg("Write your prediction as a list of {n} source words (strings), e.g. {example}; got {kind} "
                       "{shown}.", n=len(truth), example=example, kind=type(prediction).__name__,
                       shown=repr(prediction)[:60]),
                   hint=msg("Name the source words themselves, as strings in a list: one for each of 我, 爱, 猫."))


@exercise("07.predict_alignment", "Predict which source word each query attends to")
def _check_predict_alignment(prediction):
    truth = predict_alignment_truth()
    if isinstance(prediction, str):
        prediction = prediction.replace(",", " ").split()
    _expect_words(prediction, truth)
    if len(prediction) != len(truth):
        raise Fail(msg("One source word per target position: expected {n} words, got {got}.", n=len(truth),
                       got=len(prediction)), hint=msg("One prediction for each of 我, 爱, 猫, in that order."))
    unknown = [p for p in prediction if p.strip() not in PREDICT_SRC]
    if unknown and any(ch > "\u2e80" for p in unknown for ch in p):
        raise Fail(msg("{word!r} is a target word.", word=unknown[0]),
                   hint=msg("For each target word (我, 爱, 猫), name the *source* token it attends to most, from "
                            "{tokens}.", tokens=PREDICT_SRC))
    if unknown:
        raise Fail(msg("{word!r} is not a source token; choose from {tokens}.", word=unknown[0], tokens=PREDICT_SRC),
                   hint=msg("Only the four source tokens can receive attention; spell them as in the table."))
    prediction = [p.strip() for p in prediction]
    if "<pad>" in prediction:
        raise Fail(msg("`<pad>` cannot win."), hint=msg("The <pad> key has the largest dot product, but the "
                                                        "source mask blocks it: its score becomes -inf before "
                                                        "the softmax, so it gets exactly zero weight."))
    if prediction == PREDICT_MEANINGS and prediction != truth:
        raise Fail(msg("`prediction` = {got} pairs each target word with its translation, but the weights follow the "
                       "dot products, not the meanings.", got=prediction),
                   hint=msg("For each query, work out q · k with every allowed key, as the table gives them: the "
                            "keys differ in length, so the largest coordinate of a query does not decide alone."))
    longest = "cats"  # the longest key the mask allows (length 3)
    if prediction == [longest] * len(truth) and prediction != truth:
        raise Fail(msg("`prediction` = {got} gives every query the longest key.", got=prediction),
                   hint=msg("A long key is not enough: q · k also needs the query to point along the key. 我's "
                            "query points almost only along d₁, where only the key of I is non-zero."))
    wrong = [i for i, (p, t) in enumerate(zip(prediction, truth)) if p != t]
    if wrong:
        said = msg("{n_wrong} of {n} predictions are off (target position {first} first).", n_wrong=len(wrong),
                   n=len(truth), first=wrong[0]) if len(wrong) > 1 else \
            msg("1 of {n} predictions is off (target position {first}).", n=len(truth), first=wrong[0])
        raise Fail(said,
                   hint=msg("For each query, compare its dot product with every allowed key; the largest one wins the "
                            "most weight."))
