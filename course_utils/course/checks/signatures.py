"""Signatures of common attention mistakes: properties of a learner's output that name a
mistake however it was written (bit-exact reproduction not needed). Each function returns
a test `got -> bool` for `compare(..., mistakes=[(test, hint)])`.

Shapes: B batch · H heads · T_q/T_k query/key positions. Masks: bool, True = may attend.
"""

import torch

HINT_POLARITY = ("The mask's polarity is inverted: True means *may attend*, so block the positions where the "
                 "mask is False (`scores.masked_fill(~mask, float('-inf'))`, or `mask == 0`).")
HINT_ROWS_SUM = ("Each row of `weights` (one query) must sum to 1: take the softmax over the keys, the last "
                 "axis (dim=-1), after scaling and masking.")
HINT_IGNORED_MASK = "The mask has no effect in your answer: blocked keys must get weight 0."
HINT_NOT_PROBABILITIES = ("`weights` must be the probabilities after the softmax (each between 0 and 1, rows summing "
                          "to 1): return them, not the scores or log-probabilities.")


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
