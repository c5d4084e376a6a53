"""course layer · signatures of common attention mistakes: properties of a learner's output that name a
mistake however it was written (bit-exact reproduction not needed). Each function returns
a test `got -> bool` for `compare(..., mistakes=[(test, hint)])`. Also `compare_close`, a prediction
check whose near misses get the exercise's own hint.

Shapes: B batch · H heads · T_q/T_k query/key positions. Masks: bool, True = may attend.
"""

import torch

from course_utils.base.i18n import msg
from course_utils.course.checks import Fail, compare_prediction

HINT_POLARITY = msg("The mask's polarity is inverted: True means *may attend*, so block the positions where the "
                    "mask is False (`scores.masked_fill(~mask, float('-inf'))`, or `mask == 0`).")
HINT_ROWS_SUM = msg("Each row of `weights` (one query) must sum to 1: take the softmax over the keys, the last "
                    "axis (dim=-1), after scaling and masking.")
HINT_IGNORED_MASK = msg("The mask has no effect in your answer: blocked keys must get weight 0.")
HINT_NOT_PROBABILITIES = msg("`weights` must be the probabilities after the softmax (each between 0 and 1, rows "
                             "summing to 1): return them, not the scores or log-probabilities.")


def _full(mask: torch.Tensor, shape) -> torch.Tensor:
    return mask.expand(shape) if mask.dim() == len(shape) else mask.broadcast_to(shape)


def inverted_mask(mask: torch.Tensor):
    """Weights that put their mass on the *blocked* keys, or NaN rows exactly where every
    key may be attended (all of them blocked by the inverted mask)."""
    def test(weights: torch.Tensor) -> bool:
        allowed = _full(mask, weights.shape)
        nan_rows = torch.isnan(weights).all(-1)
        if nan_rows.any():
            return bool(torch.equal(nan_rows, allowed.all(-1)))
        if not probabilities(weights):
            return False
        partial = ~allowed.all(-1) & allowed.any(-1)
        on_allowed = weights.masked_fill(~allowed, 0).sum(-1)
        return bool(partial.any()) and bool((on_allowed[partial] < 1e-4).all())
    return test


def rows_not_normalised(weights: torch.Tensor) -> bool:
    """Finite weights whose rows do not sum to 1."""
    return bool(torch.isfinite(weights).all()) and not torch.allclose(
        weights.sum(-1).double(), torch.ones(weights.shape[:-1], dtype=torch.float64), atol=1e-4)


def probabilities(weights: torch.Tensor) -> bool:
    """Finite and between 0 and 1 (rows may still not sum to 1)."""
    return bool(torch.isfinite(weights).all()) and bool(((weights >= 0) & (weights <= 1 + 1e-6)).all())


def not_probabilities(weights: torch.Tensor) -> bool:
    """Infinite (masked scores) or negative (log-probabilities) values where weights belong;
    NaN alone is left to the other tests."""
    return bool(torch.isinf(weights).any()) or bool((weights < 0).any())


def ignored_mask(mask: torch.Tensor):
    """Rows that sum to 1 but put weight on blocked keys."""
    def test(weights: torch.Tensor) -> bool:
        blocked = ~_full(mask, weights.shape)
        return bool(blocked.any()) and probabilities(weights) and not rows_not_normalised(weights) and \
            bool((weights.masked_fill(~blocked, 0).abs() > 1e-6).any())
    return test


def scaled_by(scores: torch.Tensor, mask: torch.Tensor | None = None):
    """Signature of a wrong scale: `weights` equal softmax(scores / c) for one constant c (found
    from the weights themselves). The test returns c, or None when no constant explains them.
    `scores` are the unscaled q·k (..., T_q, T_k); `mask` True = may attend."""
    s = scores.detach().double()
    allowed = torch.ones_like(s, dtype=torch.bool) if mask is None else _full(mask, s.shape)

    def fit(weights: torch.Tensor):
        if not isinstance(weights, torch.Tensor) or weights.shape != s.shape or not weights.is_floating_point():
            return None
        w = weights.detach().double()
        if not torch.isfinite(w).all() or (w[allowed] <= 0).any():
            return None
        logw = torch.where(allowed, w.clamp_min(1e-300).log(), torch.zeros_like(w))
        n = allowed.sum(-1, keepdim=True).clamp_min(1)
        ds = torch.where(allowed, s - (s * allowed).sum(-1, keepdim=True) / n, torch.zeros_like(s))
        dl = torch.where(allowed, logw - (logw * allowed).sum(-1, keepdim=True) / n, torch.zeros_like(s))
        denom = float((dl * dl).sum())
        if denom < 1e-12:
            return None
        c = float((ds * dl).sum()) / denom  # least squares: ds ≈ c · dl
        if not c > 0:
            return None
        again = (s / c).masked_fill(~allowed, float("-inf")).softmax(-1).nan_to_num(0.0)
        return c if torch.allclose(again, w, atol=1e-5, rtol=1e-4) else None
    return fit


def wrong_scale(scores: torch.Tensor, mask, d_k: int, sizes: dict[str, int]):
    """(test, hint) for `compare(mistakes=...)`: weights that are softmax(scores / c) for a c other
    than sqrt(d_k), with a hint naming what c is (sqrt(d_v), T_k, ...)."""
    fit = scaled_by(scores, mask)

    def test(weights):
        c = fit(weights)
        return c is not None and abs(c - d_k ** 0.5) > 1e-3 * d_k ** 0.5
    return test, lambda weights: scale_hint(fit(weights), d_k, sizes)


def scale_hint(c: float, d_k: int, sizes: dict[str, int]) -> str:
    """Name what the learner divided by, from the fitted constant c."""
    right = d_k ** 0.5
    if abs(c - 1) < 1e-3:
        return msg("The scores are not scaled: divide `q @ k.transpose(-2, -1)` by sqrt(d_k) = {right:.3g}, the "
                   "width of q and k.", right=right)
    for n, v in sizes.items():
        if abs(c - v ** 0.5) < 1e-3 * max(1, c):
            return msg("Your weights are the softmax of the scores divided by sqrt({name}) = {value:.3g}: divide by "
                       "sqrt(d_k) = {right:.3g}, the width of the queries and keys.", name=n, value=v ** 0.5,
                       right=right)
    for n, v in sizes.items():
        if abs(c - v) < 1e-3 * max(1, c):
            return msg("Your weights are the softmax of the scores divided by {name} = {value}: divide by sqrt(d_k) "
                       "= {right:.3g}, the width of the queries and keys.", name=n, value=v, right=right)
    return msg("Your weights are the softmax of the scores divided by {value:.3g}: divide by sqrt(d_k) = "
               "{right:.3g}, the width of the queries and keys.", value=c, right=right)


HINT_DROPOUT = msg("Some weights are zeroed and the others scaled up: that is dropout. No dropout here: the "
                   "weights must be the plain softmax (deterministic), without `F.dropout` / `nn.Dropout` in "
                   "training mode.")


def dropped_out(want: torch.Tensor):
    """Signature of dropout: some entries exactly 0 where `want` is not, the others `want` times one
    constant 1 / (1 - p) > 1."""
    def test(got: torch.Tensor) -> bool:
        if got.shape != want.shape or not torch.isfinite(got).all():
            return False
        zero = (got == 0) & (want.abs() > 1e-6)
        kept = (got != 0) & (want.abs() > 1e-6)
        if not zero.any() or not kept.any():
            return False
        ratio = got[kept].double() / want[kept].double()
        return bool(ratio.min() > 1 + 1e-6) and bool(torch.allclose(ratio, ratio.mean().expand_as(ratio), rtol=1e-4))
    return test


HINT_NAN_WHERE_ALLOWED = msg("NaN rows exactly where every key is allowed: the mask's polarity is inverted (True = "
                             "may attend, so fill where the mask is False: `masked_fill(~mask, ...)`).")
HINT_MASK_DOES_NOT_BLOCK = msg("Blocked keys still get weight: the mask is ignored or does not block. Fill the "
                               "blocked scores with -inf (`scores.masked_fill(~mask, float('-inf'))`) *before* the "
                               "softmax; a fill of 0 does not block (exp(0) = 1).")
HINT_NAN_EMPTY_ROWS = msg("NaN in the rows where every key is blocked: softmax of a row of -inf is 0/0. Give such "
                          "rows all-zero weights (e.g. `weights.nan_to_num(0.0)`).")
HINT_ONE_SOFTMAX = msg("All the weights together sum to 1: one softmax over every allowed entry at once "
                       "(`scores[mask]` flattens them). Each row (query) needs its own softmax over its keys: fill "
                       "the blocked scores with -inf, then `softmax(dim=-1)`.")
HINT_ROWS_AFTER_MASK = msg("The rows of the weights do not sum to 1: take the softmax over the keys (the last "
                           "axis), after masking.")


def mask_mistakes(mask: torch.Tensor) -> list:
    """Signatures of the mistakes attention weights show under a bool `mask` (True = may attend),
    as `compare` mistakes: inverted polarity, NaN rows, blocked keys that still get weight."""
    def allowed(got):
        return mask.expand(got.shape)

    def nan_rows(got):
        return torch.isnan(got).any(-1)

    def on(got, where):
        return got[torch.isfinite(got) & where].abs()

    def inverted(got):  # in the rows with allowed *and* blocked keys, the weight sits on the blocked ones
        partial = (allowed(got).any(-1) & ~allowed(got).all(-1))[..., None].expand(got.shape)
        return bool(partial.any()) and bool((on(got, ~allowed(got) & partial) > 1e-6).any()) and \
            bool((on(got, allowed(got) & partial) < 1e-6).all())

    return [
        (lambda got: nan_rows(got).any() and torch.equal(nan_rows(got), allowed(got).all(-1)), HINT_NAN_WHERE_ALLOWED),
        (inverted, HINT_POLARITY),
        (lambda got: (on(got, ~allowed(got)) > 1e-6).any(), HINT_MASK_DOES_NOT_BLOCK),
        (lambda got: nan_rows(got).any() and torch.equal(nan_rows(got), ~allowed(got).any(-1)), HINT_NAN_EMPTY_ROWS),
        (lambda got: abs(float(got.sum()) - 1) < 1e-4 and allowed(got).any(-1).sum() > 1, HINT_ONE_SOFTMAX),
        (lambda got: ((got.sum(-1) - allowed(got).any(-1).to(got.dtype)).abs() > 1e-3).any(), HINT_ROWS_AFTER_MASK),
    ]


def compare_close(name, prediction, want, close_hint, **kwargs):
    """`compare_prediction`, with `close_hint` (how to get the exact value, without giving it) for an answer
    that is close but not within the precision asked."""
    try:
        compare_prediction(name, prediction, want, **kwargs)
    except Fail as fail:
        if "is close" not in fail.message:
            raise
        raise Fail(fail.message, hint=close_hint) from None
