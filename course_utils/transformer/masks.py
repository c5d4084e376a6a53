"""transformer layer · masks: the one convention the whole course uses, decided here.

Shapes: B batch · H heads · T_q/T_k query/key positions · T sequence length.

A mask is a **bool tensor, True = "may attend"**, broadcastable to (B, H, T_q, T_k);
the same meaning as the bool `attn_mask` of `F.scaled_dot_product_attention`.
Combine masks with `&`. Blocked scores are filled with -inf before the softmax.

`nn.MultiheadAttention` and `nn.Transformer` speak the opposite dialect (True =
blocked) and `nn.Transformer.generate_square_subsequent_mask` returns a float mask
(0 / -inf). Convert at that border with `to_torch_nn_mask` (or `~mask`).
"""

import torch

from course_utils.base.i18n import msg
from course_utils.base.validate import integer, positive_int, token_ids

# The longest sequence the course's model pieces are built for. A sequence of T tokens
# needs a (T, T) mask and a position table of T x d_model numbers (T = 10**12 with
# d_model = 512 would be 2 PB); the course's sentences have fewer than 100 tokens, the
# paper's at most a few hundred.
MAX_LEN_LIMIT = 65_536
MAX_LEN_WHY = (f"a sequence of T tokens needs a T x T mask and a T x d_model position table, so the course "
               f"caps lengths at {MAX_LEN_LIMIT} (its sentences have fewer than 100 tokens)")


def causal_mask(T: int, device=None) -> torch.Tensor:
    """(T, T) bool; True on and below the diagonal: position i may see j <= i.
    Built by hand in lesson 06 (the exercise `causal_mask`).

    Shapes:
        returns (T, T), broadcastable to (B, H, T, T).
    """
    positive_int("causal_mask: T", T, max=MAX_LEN_LIMIT, hint=MAX_LEN_WHY)
    try:
        device = None if device is None else torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"causal_mask: device {device!r} is not a device such as 'cpu' or 'cuda'") from err
    try:
        return torch.ones(T, T, dtype=torch.bool, device=device).tril()
    except (RuntimeError, AssertionError) as err:  # torch built without that device, or none present
        raise ValueError(msg("causal_mask: device {device!r} is not available here ({why}); use the device of "
                             "your tensors, e.g. device=x.device", device=str(device),
                             why=(str(err).strip().splitlines() or [type(err).__name__])[0][:100])) from None


def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, 1, 1, T) bool; True for real tokens, broadcast over heads and queries.
    Built by hand in lesson 06 (the exercise `padding_mask`).

    Shapes:
        tokens (B, T) integer ids -> (B, 1, 1, T).
    """
    token_ids("padding_mask: tokens", tokens)
    integer("padding_mask: pad_id", pad_id, min=0, hint="token ids are >= 0, so a negative pad_id would mask nothing")
    integer("padding_mask: pad_id", pad_id, max=torch.iinfo(tokens.dtype).max,
            hint=f"no token id of dtype {tokens.dtype} is that large")
    return (tokens != pad_id)[:, None, None, :]  # (B, 1, 1, T)


def to_torch_nn_mask(mask: torch.Tensor) -> torch.Tensor:
    """Our mask (True = may attend) -> torch.nn's `attn_mask` (True = blocked).
    The polarity trap of lessons 05 and 06; torch_border also converts key padding."""
    check_mask(mask, name="mask")
    return ~mask


def check_mask(mask, T_q: int | None = None, T_k: int | None = None, name: str = "mask", *,
               B: int | None = None, H: int | None = None) -> None:
    """Raise a clear TypeError/ValueError unless `mask` is a bool tensor that broadcasts
    to (B, H, T_q, T_k). Each size left as None is not checked.

    A 3-D mask (X, T_q, T_k) broadcasts its first axis against the heads, not the batch;
    when `H` is given, such a mask must have X = 1 (add a head axis: `mask[:, None]`).
    """
    for size_name, size in (("T_q", T_q), ("T_k", T_k), ("B", B), ("H", H)):
        if size is not None:
            integer(f"check_mask: {size_name}", size, min=0)
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a bool torch.Tensor (True = may attend), got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(
            f"{name} must have dtype torch.bool (True = may attend), got {mask.dtype}. "
            "A float mask (0/-inf) is torch.nn's convention; build masks with "
            "course_utils.transformer.masks or compare with `!= 0`."
        )
    if mask.dim() < 2:
        raise ValueError(f"{name} must have at least 2 dims (..., T_q, T_k), got shape {tuple(mask.shape)}")
    if T_q is not None and mask.shape[-2] not in (1, T_q):
        raise ValueError(f"{name} has {mask.shape[-2]} query rows but there are T_q={T_q} queries "
                         f"(mask shape {tuple(mask.shape)})")
    if T_k is not None and mask.shape[-1] not in (1, T_k):
        raise ValueError(f"{name} has {mask.shape[-1]} key columns but there are T_k={T_k} keys "
                         f"(mask shape {tuple(mask.shape)})")
    if B is None and H is None:
        return
    if mask.dim() > 4:
        raise ValueError(f"{name} must have at most 4 dims (B, H, T_q, T_k), got shape {tuple(mask.shape)}")
    if mask.dim() == 3 and H is not None and mask.shape[0] != 1:
        raise ValueError(f"{name} has shape {tuple(mask.shape)}: a 3-D mask's first axis lines up with the "
                         f"H={H} heads, not the batch. Give it a head axis, (B, 1, T_q, T_k): mask[:, None]")
    if mask.dim() == 4:
        if B is not None and mask.shape[0] not in (1, B):
            raise ValueError(f"{name} is for a batch of {mask.shape[0]} but the batch size is B={B} "
                             f"(mask shape {tuple(mask.shape)})")
        if H is not None and mask.shape[1] not in (1, H):
            raise ValueError(f"{name} has {mask.shape[1]} heads but there are H={H} "
                             f"(mask shape {tuple(mask.shape)})")

