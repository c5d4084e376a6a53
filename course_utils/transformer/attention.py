"""Scaled dot-product attention, the primitive everything else is built from.

Shapes: B batch · H heads · T_q/T_k query/key positions · d_k query/key width · d_v value width.

`attention` is written out as in the paper (Vaswani et al. 2017, eq. 1) and returns the
weights, so lessons can look at them. `sdpa_attention` is the fast path through
`torch.nn.functional.scaled_dot_product_attention`: the same numbers, no weights.
"""

import math

import torch
import torch.nn.functional as F

from course_utils.transformer.masks import check_mask


def _check_qkv(q, k, v) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"attention: {name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.dtype.is_floating_point:
            raise TypeError(f"attention: {name} must be a floating-point tensor, got dtype {t.dtype}")
        if t.dim() < 2:
            raise ValueError(f"attention: {name} must have shape (..., T, d), got {tuple(t.shape)}")
    if q.size(-1) != k.size(-1):
        raise ValueError(f"attention: q and k must share their last dim d_k, got q {tuple(q.shape)} "
                         f"and k {tuple(k.shape)}")
    if k.size(-2) != v.size(-2):
        raise ValueError(f"attention: k and v must have the same number of positions T_k, got "
                         f"k {tuple(k.shape)} and v {tuple(v.shape)}")


def attention(q, k, v, mask=None, dropout=None):
    """Scaled dot-product attention (Vaswani et al. 2017, eq. 1), by hand.

    Shapes:
        q (..., T_q, d_k), k (..., T_k, d_k), v (..., T_k, d_v)
        mask: bool, broadcastable to (..., T_q, T_k); True = may attend.
    Returns:
        out (..., T_q, d_v) and weights (..., T_q, T_k), each row summing to 1.
        A row whose keys are all masked is NaN (softmax of all -inf): masks built
        with course_utils.transformer.masks never produce one.
    """
    _check_qkv(q, k, v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T_q, T_k)
    if mask is not None:
        check_mask(mask, q.size(-2), k.size(-2))
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v, weights  # (..., T_q, d_v)


def sdpa_attention(q, k, v, mask=None, dropout_p: float = 0.0):
    """The fast path: `F.scaled_dot_product_attention`, same conventions as `attention`.

    Shapes:
        as `attention`. Returns (out, None): the fused kernel does not expose weights.
    """
    _check_qkv(q, k, v)
    if mask is not None:
        check_mask(mask, q.size(-2), k.size(-2))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
    return out, None
