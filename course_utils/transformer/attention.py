"""transformer layer · scaled dot-product attention, the primitive everything else is built from.

Shapes: B batch · H heads · T_q/T_k query/key positions · d_k query/key width · d_v value width.

`attention` is written out as in the paper (Vaswani et al. 2017, eq. 1) and returns the
weights, so lessons can look at them. `sdpa_attention` is the fast path through
`torch.nn.functional.scaled_dot_product_attention`: the same numbers, no weights.
"""

import math

import torch
import torch.nn.functional as F

from course_utils.base.validate import broadcast_shape, finite_tensor, probability, tensor
from course_utils.transformer.masks import check_mask


def _check_qkv(q, k, v, mask, fn: str) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        tensor(f"{fn}: {name}", t, kind="float", min_ndim=2, shape="(..., T, d)")
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"{fn}: q, k and v must share one dtype, got q {q.dtype}, k {k.dtype}, v {v.dtype}; "
                        "convert with .to(q.dtype)")
    if not q.device == k.device == v.device:
        raise ValueError(f"{fn}: q, k and v must be on one device, got {q.device}, {k.device}, {v.device}")
    if q.size(-1) != k.size(-1):
        raise ValueError(f"{fn}: q and k must share their last dim d_k, got q {tuple(q.shape)} "
                         f"and k {tuple(k.shape)}")
    if k.size(-2) != v.size(-2):
        raise ValueError(f"{fn}: k and v must have the same number of positions T_k, got "
                         f"k {tuple(k.shape)} and v {tuple(v.shape)}")
    if k.size(-2) == 0:
        raise ValueError(f"{fn}: k has no positions (T_k = 0, shape {tuple(k.shape)}): there is nothing to attend to")
    lead = broadcast_shape(q.shape[:-2], k.shape[:-2])  # the scores' leading dims
    if lead is None or broadcast_shape(q.shape[:-2], k.shape[:-2], v.shape[:-2]) is None:
        raise ValueError(f"{fn}: q, k and v must have the same leading (batch, head) dims, got "
                         f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}") from None
    if mask is not None:
        check_mask(mask, q.size(-2), k.size(-2))
        scores_shape = (*lead, q.size(-2), k.size(-2))
        if broadcast_shape(mask.shape, scores_shape) != scores_shape:
            raise ValueError(f"{fn}: mask of shape {tuple(mask.shape)} does not broadcast to the scores' "
                             f"shape {scores_shape} (leading dims: batch, heads)")


def _finite_result(out, q, k, v, fn: str):
    """`out`, unless it holds NaN or inf: then a ValueError naming the input that caused it.
    (One check of the output per call; the inputs are only examined when it fails.)"""
    if bool(torch.isfinite(out).all()):
        return out
    for name, t in (("q", q), ("k", k), ("v", v)):
        finite_tensor(f"{fn}: {name}", t)  # raises, naming the first non-finite input
    raise ValueError(f"{fn}: the output is not finite although q, k and v are: the scores overflowed "
                     f"{q.dtype} (scale the inputs down, or compute in float32)")


def _empty_rows(mask):
    """(..., T_q, 1) bool: True for a query row that may attend to no key at all."""
    return ~mask.any(dim=-1, keepdim=True)


def attention(q, k, v, mask=None, dropout=None):
    """Scaled dot-product attention (Vaswani et al. 2017, eq. 1), by hand.
    Built by hand in lesson 04 (the exercise `attention`).

    Shapes:
        q (..., T_q, d_k), k (..., T_k, d_k), v (..., T_k, d_v), one floating dtype;
        the leading dims (batch, heads) must match or broadcast.
        mask: bool, broadcastable to (..., T_q, T_k); True = may attend.
    Returns:
        out (..., T_q, d_v) and weights (..., T_q, T_k), each row summing to 1.
        A fully masked row (a query allowed no key) has zero weights and a zero output,
        not NaN, exactly as in `sdpa_attention`. NaN or inf in q, k or v is a ValueError
        naming the input, in both paths (never a silent NaN result). Masks built with
        course_utils.transformer.masks and right padding never produce one.
    """
    _check_qkv(q, k, v, mask, "attention")
    if dropout is not None and not callable(dropout):
        raise TypeError(f"attention: dropout must be None or a module such as nn.Dropout(p), got "
                        f"{type(dropout).__name__}; for a probability use sdpa_attention(..., dropout_p=p)")
    out, weights = unchecked_attention(q, k, v, mask, dropout)
    return _finite_result(out, q, k, v, "attention"), weights  # (..., T_q, d_v)


def unchecked_attention(q, k, v, mask=None, dropout=None):
    """`attention` on arguments its caller has checked (MultiHeadAttention checks its
    inputs once per call): the same computation, no argument checks, no finiteness check.
    A wrong shape here meets torch's own error, so call `attention` unless you checked."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T_q, T_k)
    if mask is not None:
        empty = _empty_rows(mask)
        # an empty row is let through the fill (no row of all -inf, so no NaN, not even in
        # the gradients) and its weights are zeroed after the softmax
        scores = scores.masked_fill(~(mask | empty), float("-inf"))
    weights = scores.softmax(dim=-1)
    if mask is not None:
        weights = weights.masked_fill(empty, 0.0)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v, weights  # (..., T_q, d_v), (..., T_q, T_k)


def one_query_attention(q, k, v, divisor):
    """`unchecked_attention` without a mask for one query per row, in three-dimensional
    products (the cached decoding step, with N = batch x heads): the same numbers in
    fewer torch calls. `divisor` is sqrt(d_k), a number or a 0-dim tensor of q's dtype.

    Shapes:
        q (N, 1, d_k), k (N, T_k, d_k), v (N, T_k, d_v) -> out (N, 1, d_v), weights (N, 1, T_k).
    """
    weights = torch.bmm(q, k.transpose(1, 2)).div_(divisor).softmax(dim=-1)
    return torch.bmm(weights, v), weights


def sdpa_attention(q, k, v, mask=None, dropout_p: float = 0.0):
    """The fast path: `F.scaled_dot_product_attention`, same conventions and same numbers
    as `attention` (a fully masked row gives a zero output here too).

    Shapes:
        as `attention`. Returns (out, None): the fused kernel does not expose weights.

    Compared with the by-hand path in lesson 04 (section 3).
    """
    _check_qkv(q, k, v, mask, "sdpa_attention")
    probability("sdpa_attention: dropout_p", dropout_p)
    return _finite_result(unchecked_sdpa_attention(q, k, v, mask, dropout_p), q, k, v, "sdpa_attention"), None


def unchecked_sdpa_attention(q, k, v, mask=None, dropout_p: float = 0.0):
    """`sdpa_attention`'s output on checked arguments (see `unchecked_attention`)."""
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
    if mask is not None:
        out = out.masked_fill(_empty_rows(mask), 0.0)  # the documented result, whatever the kernel
    return out
