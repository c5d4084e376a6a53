"""course layer · graders of lesson 04 (self-attention): scaled dot-product attention with a mask, the
find-the-bug exercise, the size of dot products, self-attention with three projections.
Shapes: B batch · H heads · T_q/T_k query/key positions · d_k/d_v widths."""

import math

import torch
import torch.nn.functional as F

from course_utils.base.i18n import msg
from course_utils.base.validate import broadcast_shape
from course_utils.course.checks import (
    Fail,
    call,
    compare,
    exercise,
    expect_callable,
    expect_tuple,
    probe_generator,
    randn,
)
from course_utils.course.checks.signatures import (
    HINT_DROPOUT,
    HINT_IGNORED_MASK,
    HINT_NOT_PROBABILITIES,
    HINT_POLARITY,
    HINT_ROWS_SUM,
    compare_close,
    dropped_out,
    ignored_mask,
    inverted_mask,
    not_probabilities,
    rows_not_normalised,
    wrong_scale,
)
from course_utils.transformer import attention as reference_attention

HINT_NO_SCALE = msg("Divide the scores by √d_k (the width of q and k). Without it the scores grow with d_k and "
                    "the softmax saturates.")
HINT_SCALE_DK = msg("Divide by the *square root* of d_k, not by d_k itself.")
HINT_SCALE_DV = msg("Scale by √d_k, the width of q and k, not by the width of v.")
HINT_SCALE_AFTER = msg("Scale the *scores* before the softmax; dividing the weights afterwards breaks their sum "
                       "of 1.")
HINT_SOFTMAX_AXIS = msg("Take the softmax over the keys (dim=-1), so each query's weights sum to 1.")
HINT_MASK_AFTER = msg("Apply the mask *before* the softmax (blocked scores -> -inf); zeroing weights after the "
                      "softmax leaves rows that no longer sum to 1.")
HINT_MASK_ZERO = msg("Blocked scores must become -inf (or a very large negative number), not 0: exp(0) = 1 still "
                     "gives them weight.")
HINT_MASK_ADDED = msg("A bool mask selects positions; adding it to the scores only shifts them. Use masked_fill.")
HINT_BMM = msg("`torch.bmm` takes exactly 3-D tensors; `@` (torch.matmul) works with any number of leading axes "
               "(batch, heads, ...).")
HINT_BOOL_INDEX = msg("Indexing with a mask (`scores[~mask] = ...`) needs a mask of exactly the scores' shape; "
                      "`scores.masked_fill(~mask, float('-inf'))` broadcasts it.")
HINT_SCALE_TK = msg("Scale by √d_k, the width of q and k (their last axis), not by the number of keys T_k.")
HINT_IF_MASK = msg("`if mask:` asks for the truth of a whole tensor; test `if mask is not None:`.")
HINT_TRANSPOSE_AXES = msg("`transpose(2, 3)` assumes four axes; `k.transpose(-2, -1)` swaps the last two "
                          "whatever comes before them.")
HINT_PROJ_SHAPES = msg("Project with `x @ w_q` ((B, T, d_model) @ (d_model, d_k)); then "
                       "`q @ k.transpose(-2, -1)` gives (B, T, T).")
HINT_MASK_TRANSPOSED = msg("The mask is transposed: it comes laid out like the scores, (..., T_q, T_k), keys on "
                           "the last axis. Use it as given: `scores.masked_fill(~mask, float('-inf'))`.")
HINT_W_TRANSPOSED = msg("The projection matrices come as (d_model, d_k): project with `x @ w_q`, `x @ w_k`, "
                        "`x @ w_v`, without transposing them (only nn.Linear stores its weight as (out, in)).")
HINT_F_LINEAR = msg("`F.linear(x, w)` computes `x @ w.T`, for nn.Linear's (out, in) weights; these matrices are "
                    "(d_model, d_k): project with `x @ w_q`.")
HINT_DOT_T = msg("`k.T` reverses *all* axes of a batched tensor; `k.transpose(-2, -1)` swaps only the last two "
                 "(T_k and d_k).")


def _variant(q, k, v, mask=None, scale=None, axis=-1, mask_mode="fill", scale_after=False):
    """Attention with a known mistake (scale = the number whose square root divides the scores)."""
    d = q.size(-1) if scale is None else scale
    scores = q @ k.transpose(-2, -1) / (1 if scale_after else math.sqrt(d))
    if mask is not None:
        fills = {"fill": (~mask, float("-inf")), "zero": (~mask, 0.0), "inverted": (mask, float("-inf")),
                 "transposed": (~mask.transpose(-2, -1), float("-inf"))}
        if mask_mode in fills:
            scores = scores.masked_fill(*fills[mask_mode])
        elif mask_mode == "added":
            scores = scores + mask
    weights = scores.softmax(dim=axis)
    if mask is not None and mask_mode == "after":
        weights = weights * mask
    if scale_after:
        weights = weights / math.sqrt(d)
    return weights @ v, weights


def _broadcasts(mask, shape) -> bool:
    return broadcast_shape(mask.shape, shape) == tuple(shape)


def _probes(seed):
    g = probe_generator(seed)
    B, H, T_q, T_k, d_k, d_v = 2, 3, 4, 5, 6, 7
    q, k, v = randn(g, B, H, T_q, d_k), randn(g, B, H, T_k, d_k), randn(g, B, H, T_k, d_v)
    lengths = torch.tensor([5, 3])  # batch row 0 has no padding, row 1 two padded keys
    mask = (torch.arange(T_k)[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, T_k)
    yield q, k, v, mask
    yield q[0, 0] * 3, k[0, 0] * 3, v[0, 0], None  # (T_q, d_k): no batch or heads


def _mistakes(q, k, v, mask, first_bug_only=False):
    """(wrong (out, weights), hint) for the mistakes learners make, most specific first."""
    d_k, d_v = q.size(-1), v.size(-1)
    variants = [(dict(scale=1.0, axis=-2), HINT_NO_SCALE if first_bug_only else HINT_SOFTMAX_AXIS),
                (dict(scale=1.0), HINT_NO_SCALE), (dict(scale=d_k ** 2), HINT_SCALE_DK),
                (dict(scale=d_v), HINT_SCALE_DV), (dict(scale=k.size(-2)), HINT_SCALE_TK),
                (dict(scale_after=True), HINT_SCALE_AFTER),
                (dict(axis=-2), HINT_SOFTMAX_AXIS)]
    if q.dim() == 4:
        variants.append((dict(axis=1), HINT_SOFTMAX_AXIS))
    if mask is not None:
        variants += [(dict(mask_mode="after"), HINT_MASK_AFTER), (dict(mask_mode="zero"), HINT_MASK_ZERO),
                     (dict(mask_mode="inverted"), HINT_POLARITY), (dict(mask_mode="added"), HINT_MASK_ADDED),
                     (dict(mask_mode="none"), HINT_IGNORED_MASK)]
        if _broadcasts(mask.transpose(-2, -1), q.shape[:-1] + k.shape[-2:-1]):
            variants.append((dict(mask_mode="transposed"), HINT_MASK_TRANSPOSED))
    return [(_variant(q, k, v, mask, **kw), hint) for kw, hint in variants]


def _diagnose_square(fn, fail, k, v, mask, with_mask, first_bug_only):
    """The answer crashed with T_q != T_k: run it with as many queries as keys, and if it then equals
    a known mistake, name that mistake (with the crash's message)."""
    q = k * 0.7  # (..., T_k, d_k): T_q = T_k
    m = mask if with_mask else None
    try:
        got = call(fn, *((q, k, v, m) if with_mask else (q, k, v)))
    except Fail:
        raise fail from None
    wrong = _mistakes(q, k, v, m, first_bug_only)
    w_t = _variant(q, k, v, m, axis=-2)[1].transpose(-2, -1)
    wrong.append(((w_t @ v, w_t), msg("The softmax goes over the keys, the last axis (dim=-1): taking it over "
                                      "dim=-2 and transposing back is not the same (and breaks when T_q != T_k).")))
    for (out, _weights), hint in wrong:
        if isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got) and \
                got[0].shape == out.shape and torch.allclose(got[0], out, atol=1e-5, rtol=1e-4, equal_nan=True):
            raise Fail(msg("{message} (with as many queries as keys it runs, and shows a known mistake)",
                           message=fail.message),
                       hint=hint) from None
    raise fail from None


def _check_attention_fn(fn, with_mask: bool, seed: int, first_bug_only=False):
    for q, k, v, mask in _probes(seed):
        mask = mask if with_mask else None
        args = (q, k, v, mask) if with_mask else (q, k, v)
        want_out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        want_w = reference_attention(q, k, v, mask)[1]
        errors = [(r"\.T\b", HINT_DOT_T), (r"Boolean value of Tensor", HINT_IF_MASK),
                  (r"Dimension out of range", HINT_TRANSPOSE_AXES), (r"must be a 3D tensor", HINT_BMM),
                  (r"shape of the mask|could not be broadcast", HINT_BOOL_INDEX)]
        try:
            got = expect_tuple(call(fn, *args, errors=errors), 2, ("out", "weights"), wants=(want_out, want_w))
        except Fail as fail:
            if fail.hint:
                raise
            _diagnose_square(fn, fail, k, v, mask, with_mask, first_bug_only)
        wrong = _mistakes(q, k, v, mask, first_bug_only)
        signatures = [(dropped_out(want_w), HINT_DROPOUT), (not_probabilities, HINT_NOT_PROBABILITIES),
                      (rows_not_normalised, HINT_ROWS_SUM)]
        if mask is not None:
            signatures = [(inverted_mask(mask), HINT_POLARITY), (ignored_mask(mask), HINT_IGNORED_MASK)] + signatures
        signatures.append(wrong_scale(q @ k.transpose(-2, -1), mask, q.size(-1),
                                      {"d_k": q.size(-1), "d_v": v.size(-1), "T_k": k.size(-2), "T_q": q.size(-2)}))
        axes = ("B", "H", "T_q", "T_k")[-q.dim():]
        compare("weights", got[1], want_w, axes=axes, mistakes=[(w[1], h) for w, h in wrong] + signatures)
        compare("out", got[0], want_out, axes=axes[:-1] + ("d_v",), mistakes=[(w[0], h) for w, h in wrong] + [
            (lambda o: o.shape[-1] == k.shape[-1] != v.shape[-1], msg("The output mixes the *values*: "
                                                                      "`weights @ v`."))],
            hint=msg("With these weights, out = `weights @ v`."))


@exercise("04.attention", "Scaled dot-product attention with a mask")
def _check_attention(fn):
    expect_callable(fn, "attention")
    _check_attention_fn(fn, with_mask=True, seed=7)
    return msg("All probes match F.scaled_dot_product_attention.")


@exercise("04.fix_attention", "Find the bug: attention that doesn't attend", name="attention_fixed")
def _check_fix_attention(fn):
    expect_callable(fn, "attention_fixed")
    _check_attention_fn(fn, with_mask=False, seed=8, first_bug_only=True)


HINT_STD_CLOSE = msg("Close, but not within 5 %: no experiment is needed. The variances of the 64 terms q_i k_i add "
                     "up exactly; the standard deviation is the square root of that sum.")


@exercise("04.predict_score_std", "Predict the output: how big do dot products get?")
def _check_predict_score_std(prediction):
    compare_close("prediction", prediction, math.sqrt(64), HINT_STD_CLOSE, rel=0.06, near=0.25, mistakes=[
        (64.0, msg("64 is the *variance* of q·k (a sum of 64 terms of variance 1); the standard deviation is its "
                   "square root.")),
        (1.0, msg("That is the standard deviation *after* dividing by √d_k, which is what the scaling is for.")),
        (0.0, msg("0 is the mean of q·k; the question asks how far typical values are from it.")),
        (1 / 8, msg("Each term has variance 1 and the 64 variances *add up*: the variance is 64, its square root "
                    "8.")),
    ], hint=msg("q·k is a sum of 64 independent terms q_i k_i, each of variance 1: the variances add up (64), "
                "and the standard deviation is the square root of the variance."))
    return msg("Right: std(q·k) = √d_k = 8, so the paper divides by √d_k to bring it back to 1.")


HINT_NO_PROJ = msg("Project the input first: q = x @ w_q, k = x @ w_k, v = x @ w_v.")
HINT_SWAPPED_PROJ = msg("Each projection has its own matrix: keys use w_k and values use w_v.")
HINT_QK_ROLES = msg("The queries and keys swapped roles (your weights are the softmax of the *transposed* "
                    "scores): queries are x @ w_q, keys x @ w_k, and the scores are q @ k.transpose(-2, -1).")
HINT_SCALE_MODEL = msg("Scale by √d_k, the width of q and k after projection, not by √d_model.")


def _sa_mistakes(x, w_q, w_k, w_v):
    """(wrong (out, weights), hint) for the mistakes learners make in self-attention."""
    (d_model, d_k), d_v = w_q.shape, w_v.size(-1)
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    square = d_model == d_k == d_v
    wrong = [(_variant(q, k, v, scale=1.0), HINT_NO_SCALE), (_variant(q, k, v, axis=-2), HINT_SOFTMAX_AXIS),
             (_variant(q, q, v), HINT_SWAPPED_PROJ), (_variant(k, q, v), HINT_QK_ROLES),
             (_variant(k, k, v), msg("Each projection has its own matrix: the queries use w_q, `q = x @ w_q`.")),
             (_variant(q, k, x @ w_k) if d_k == d_v else None, HINT_SWAPPED_PROJ),
             (_variant(x @ w_q.T, x @ w_k.T, x @ w_v.T) if square else None, HINT_W_TRANSPOSED),
             (_variant(q, k, v, scale=d_model) if d_model != d_k else None, HINT_SCALE_MODEL),
             (_variant(q, k, v, scale=d_v) if d_v != d_k else None, HINT_SCALE_DV),
             (_variant(x, x, v) if d_k == d_model else None, HINT_NO_PROJ),
             (_variant(x, x, x), HINT_NO_PROJ),  # attention(x, x, x): no projection at all
             (_variant(x, x, x, scale=d_k), HINT_NO_PROJ)]
    return [(w, h) for w, h in wrong if w is not None]


def _sa_square(fn, fail, g):
    """The answer raised on a product's shapes: run it with square projections (d_model = d_k = d_v), where
    transposed matrices still fit, and name the mistake its output shows."""
    x, (w_q, w_k, w_v) = randn(g, 2, 5, 4), (randn(g, 4, 4) * 0.5 for _ in range(3))
    try:
        got = call(fn, x, w_q, w_k, w_v)
    except Fail:
        raise fail from None
    for (out, _), hint in _sa_mistakes(x, w_q, w_k, w_v):
        if isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], torch.Tensor) and \
                got[0].shape == out.shape and torch.allclose(got[0], out, atol=1e-5, rtol=1e-4):
            raise Fail(msg("{message} (with d_model = d_k = d_v it runs, and shows a known mistake)",
                           message=fail.message), hint=hint) from None
    raise fail from None


@exercise("04.self_attention", "Self-attention: one input, three projections", uses=("attention",))
def _check_self_attention(fn):
    expect_callable(fn, "self_attention")
    g = probe_generator(9)
    for B, T, d_model, d_k, d_v in ((2, 5, 8, 4, 6), (1, 3, 4, 4, 2)):
        x = randn(g, B, T, d_model)
        w_q, w_k, w_v = randn(g, d_model, d_k) * 0.5, randn(g, d_model, d_k) * 0.5, randn(g, d_model, d_v) * 0.5
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        out, weights = reference_attention(q, k, v)
        errors = [(r"w_[qkv]\.(T\b|mT\b|t\(\)|transpose)", HINT_W_TRANSPOSED), (r"\blinear\(", HINT_F_LINEAR),
                  (r"\.T\b", HINT_DOT_T),
                  (r"cannot be multiplied|size mismatch|must match the size|Expected size for first two",
                   HINT_PROJ_SHAPES)]
        try:
            got = expect_tuple(call(fn, x, w_q, w_k, w_v, errors=errors), 2, ("out", "weights"), wants=(out, weights))
        except Fail as fail:
            if fail.hint is not HINT_PROJ_SHAPES:
                raise
            _sa_square(fn, fail, g)
        wrong = _sa_mistakes(x, w_q, w_k, w_v)
        compare("weights", got[1], weights, axes=("B", "T_q", "T_k"),
                mistakes=[(w[1], h) for w, h in wrong] + [(rows_not_normalised, HINT_ROWS_SUM), wrong_scale(
                    q @ k.transpose(-2, -1), None, d_k, {"d_k": d_k, "d_v": d_v, "d_model": d_model, "T": T})])
        compare("out", got[0], out, axes=("B", "T", "d_v"), mistakes=[(w[0], h) for w, h in wrong] + [
            (lambda o: o.shape[-1] == d_model != d_v, msg("The values are the projection `x @ w_v`, not x itself.")),
            (lambda o: o.shape[-1] == d_k != d_v, HINT_SWAPPED_PROJ)],
            hint=msg("With these weights, out = `weights @ (x @ w_v)`."))
