"""transformer layer · the border with torch.nn: copy our modules' weights into torch.nn's
modules and translate our masks into torch.nn's mask dialect.

Shapes: B batch · H heads · T_q/T_k query/key positions · d_model model width.

Lessons 05-08, the graders and the tests compare the modules a learner builds with
`nn.MultiheadAttention`, `nn.TransformerEncoderLayer` and `nn.TransformerDecoderLayer`.
Two things differ at that border, and this module is the one place that handles them:

- weights: torch.nn stacks W_Q, W_K, W_V into one `in_proj_weight` (3 d_model, d_model)
  and calls W_O `out_proj`;
- masks: ours are bool, True = "may attend" (see masks.py); torch.nn's bool masks are
  True = "blocked", and it splits them in two: `attn_mask` (T_q, T_k) or (B * H, T_q, T_k)
  and `key_padding_mask` (B, T_k), True at pads.

Imports only from this layer (masks, layers).
"""

import torch
from torch import nn

from course_utils.transformer.layers import DecoderLayer, EncoderLayer, MultiHeadAttention
from course_utils.transformer.masks import check_mask


def copy_mha_weights(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> nn.MultiheadAttention:
    """Copy `ours` (w_q, w_k, w_v, w_o) into an existing `nn.MultiheadAttention`; returns it.

    Use it for the attention inside torch.nn's layers (`layer.self_attn`,
    `layer.multihead_attn`). Built by hand in lesson 05 (section 6).
    """
    if not isinstance(ours, MultiHeadAttention):
        raise TypeError(f"copy_mha_weights: ours must be a MultiHeadAttention, got {type(ours).__name__}")
    if not isinstance(theirs, nn.MultiheadAttention):
        raise TypeError(f"copy_mha_weights: theirs must be an nn.MultiheadAttention, got {type(theirs).__name__}")
    if theirs.embed_dim != ours.d_model or theirs.num_heads != ours.n_heads:
        raise ValueError(f"copy_mha_weights: shapes differ: ours has d_model={ours.d_model}, "
                         f"n_heads={ours.n_heads}; theirs has embed_dim={theirs.embed_dim}, "
                         f"num_heads={theirs.num_heads}")
    if theirs.in_proj_weight is None:
        raise ValueError("copy_mha_weights: theirs has separate q/k/v projections (kdim or vdim != "
                         "embed_dim); our module uses one width for all three")
    ours_bias = ours.w_q.bias is not None
    if ours_bias != (theirs.in_proj_bias is not None):
        raise ValueError(f"copy_mha_weights: ours has bias={ours_bias} but theirs has "
                         f"bias={theirs.in_proj_bias is not None}")
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
        theirs.out_proj.weight.copy_(ours.w_o.weight)
        if ours_bias:
            theirs.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
            theirs.out_proj.bias.copy_(ours.w_o.bias)
    return theirs


def to_torch_mha(mha: MultiHeadAttention) -> nn.MultiheadAttention:
    """A new `nn.MultiheadAttention(batch_first=True)` with `mha`'s weights, dropout and mode.

    Call it as `theirs(x_q, x_kv, x_kv, attn_mask=..., key_padding_mask=...)` with masks
    from `to_torch_masks`. Built by hand in lesson 05 (section 6).
    """
    if not isinstance(mha, MultiHeadAttention):
        raise TypeError(f"to_torch_mha: mha must be a MultiHeadAttention, got {type(mha).__name__}")
    theirs = nn.MultiheadAttention(mha.d_model, mha.n_heads, dropout=mha.dropout.p,
                                   bias=mha.w_q.bias is not None, batch_first=True,
                                   device=mha.w_q.weight.device, dtype=mha.w_q.weight.dtype)
    copy_mha_weights(mha, theirs)
    return theirs.train(mha.training)


def copy_layer_weights(ours: EncoderLayer | DecoderLayer,
                       theirs: nn.TransformerEncoderLayer | nn.TransformerDecoderLayer) -> None:
    """Copy an EncoderLayer into an nn.TransformerEncoderLayer, or a DecoderLayer into an
    nn.TransformerDecoderLayer (attention, feed-forward and every LayerNorm).

    Built by hand in lesson 08 (the encoder layer against torch.nn).
    """
    pairs = ((EncoderLayer, nn.TransformerEncoderLayer), (DecoderLayer, nn.TransformerDecoderLayer))
    if not any(isinstance(ours, a) and isinstance(theirs, b) for a, b in pairs):
        raise TypeError("copy_layer_weights: pass (EncoderLayer, nn.TransformerEncoderLayer) or "
                        f"(DecoderLayer, nn.TransformerDecoderLayer), got ({type(ours).__name__}, "
                        f"{type(theirs).__name__})")
    if ours.norm_first != theirs.norm_first:
        raise ValueError(f"copy_layer_weights: ours has norm_first={ours.norm_first} but theirs has "
                         f"norm_first={theirs.norm_first}; the two would compute different things")
    copy_mha_weights(ours.self_attn, theirs.self_attn)
    norms = ("norm1", "norm2")
    if isinstance(ours, DecoderLayer):
        copy_mha_weights(ours.cross_attn, theirs.multihead_attn)
        norms += ("norm3",)
    theirs.linear1.load_state_dict(ours.ffn.w_1.state_dict())
    theirs.linear2.load_state_dict(ours.ffn.w_2.state_dict())
    for name in norms:
        getattr(theirs, name).load_state_dict(getattr(ours, name).state_dict())


def to_torch_key_padding_mask(mask: torch.Tensor) -> torch.Tensor:
    """Our padding mask (B, 1, 1, T_k) or (B, T_k), True = real token -> torch.nn's
    `key_padding_mask` (B, T_k), True = pad.

    Built by hand in lesson 06 (the border with torch.nn).
    """
    if isinstance(mask, torch.Tensor) and mask.dim() == 2 and mask.dtype == torch.bool:
        return ~mask
    check_mask(mask, name="mask")
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[2] != 1:
        raise ValueError("to_torch_key_padding_mask: a padding mask has shape (B, 1, 1, T_k) or (B, T_k), "
                         f"got {tuple(mask.shape)}; use to_torch_masks for a mask that varies per "
                         "query or head")
    return ~mask[:, 0, 0, :]


def to_torch_masks(mask: torch.Tensor | None, n_heads: int | None = None
                   ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Any of our masks -> `(attn_mask, key_padding_mask)` for `nn.MultiheadAttention`.

    - None -> (None, None);
    - a padding mask (B, 1, 1, T_k) -> (None, (B, T_k) True at pads);
    - a mask without a batch axis, (T_q, T_k) or (1, 1, T_q, T_k) with T_q > 1 -> ((T_q, T_k) True = blocked, None);
    - any other mask broadcastable to (B, H, T_q, T_k), e.g. padding & causal -> the
      (B * n_heads, T_q, T_k) attn_mask torch.nn accepts (pass n_heads), None.

    Built by hand in lessons 05 and 06 (the mask-polarity trap).
    """
    if mask is None:
        return None, None
    check_mask(mask, name="mask")
    if mask.dim() == 4 and mask.shape[1] == 1 and mask.shape[2] == 1:
        return None, to_torch_key_padding_mask(mask)
    if mask.dim() == 2 or (mask.dim() == 4 and mask.shape[0] == 1 and mask.shape[1] == 1):
        return ~mask.reshape(mask.shape[-2], mask.shape[-1]), None
    if mask.dim() != 4:
        raise ValueError(f"to_torch_masks: expected a mask of shape (T_q, T_k) or (B, H, T_q, T_k), "
                         f"got {tuple(mask.shape)}")
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1:
        raise ValueError("to_torch_masks: a mask that differs per batch row and query needs "
                         f"n_heads (a positive int) to build torch's (B * H, T_q, T_k) attn_mask, got {n_heads!r}")
    if mask.shape[1] not in (1, n_heads):
        raise ValueError(f"to_torch_masks: mask has {mask.shape[1]} heads but n_heads={n_heads}")
    B, _, T_q, T_k = mask.shape
    full = mask.expand(B, n_heads, T_q, T_k).reshape(B * n_heads, T_q, T_k)
    return ~full, None
