"""Our hand-written pieces give the same numbers as PyTorch's own (float32, atol 1e-5).

torch.nn speaks the opposite mask dialect (True = blocked); every test here inverts our
masks with `~` at that border, as the lessons teach. Weights cross the border through
course_utils.transformer.torch_border (tested on its own in tests/test_torch_border.py).
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.transformer.attention import attention, sdpa_attention
from course_utils.transformer.layers import (
    Decoder,
    DecoderLayer,
    Encoder,
    EncoderLayer,
    MultiHeadAttention,
    merge_heads,
    split_heads,
)
from course_utils.transformer.masks import causal_mask, padding_mask, to_torch_nn_mask
from course_utils.transformer.torch_border import copy_layer_weights, to_torch_mha

ATOL = 1e-5
D_MODEL, N_HEADS, D_FF = 32, 4, 64


def close(a, b):
    torch.testing.assert_close(a, b, atol=ATOL, rtol=1e-5)


def rand(gen, *shape):
    return torch.randn(*shape, generator=gen)


# --- the primitive ----------------------------------------------------------------------
@pytest.mark.parametrize("which", ["none", "causal", "padding", "both"])
def test_attention_matches_sdpa(gen, which):
    B, H, T, d_k, d_v = 3, 2, 6, 8, 5
    q, k, v = rand(gen, B, H, T, d_k), rand(gen, B, H, T, d_k), rand(gen, B, H, T, d_v)
    tokens = torch.tensor([[5, 6, 7, 8, 9, 4], [5, 6, 7, 0, 0, 0], [5, 6, 7, 8, 0, 0]])
    masks = {"none": None, "causal": causal_mask(T), "padding": padding_mask(tokens, 0),
             "both": padding_mask(tokens, 0) & causal_mask(T)}
    mask = masks[which]
    out, weights = attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    close(out, ref)
    close(weights.sum(-1), torch.ones(B, H, T))
    fast, none = sdpa_attention(q, k, v, mask)
    close(fast, out)
    assert none is None
    if mask is not None:  # blocked keys get exactly zero weight
        assert (weights.masked_select(~mask.expand_as(weights)) == 0).all()


def test_attention_cross_lengths_and_dv(gen):
    q, k, v = rand(gen, 2, 3, 4), rand(gen, 2, 7, 4), rand(gen, 2, 7, 9)
    out, weights = attention(q, k, v)
    assert out.shape == (2, 3, 9) and weights.shape == (2, 3, 7)
    close(out, F.scaled_dot_product_attention(q, k, v))


def test_split_merge_heads_round_trip(gen):
    x = rand(gen, 2, 5, D_MODEL)
    h = split_heads(x, N_HEADS)
    assert h.shape == (2, N_HEADS, 5, D_MODEL // N_HEADS)
    # head i holds columns [i*d_k, (i+1)*d_k) of every position
    close(h[:, 1], x[:, :, 8:16])
    close(merge_heads(h), x)


# --- multi-head attention vs nn.MultiheadAttention ----------------------------------------
def copy_mha(ours: MultiHeadAttention) -> nn.MultiheadAttention:
    return to_torch_mha(ours).eval()


@pytest.mark.parametrize("fast", [False, True])
def test_mha_self_attention_causal_and_padding(gen, fast):
    ours = MultiHeadAttention(D_MODEL, N_HEADS, fast=fast).eval()
    ref = copy_mha(ours)
    x = rand(gen, 3, 6, D_MODEL)
    tokens = torch.tensor([[4, 5, 6, 7, 8, 9], [4, 5, 6, 0, 0, 0], [4, 5, 0, 0, 0, 0]])
    mask = padding_mask(tokens, 0) & causal_mask(6)
    out = ours(x, x, mask)
    ref_out, ref_w = ref(x, x, x, attn_mask=~causal_mask(6), key_padding_mask=(tokens == 0),
                         average_attn_weights=False)
    close(out, ref_out)
    if not fast:
        close(ours.last_weights, ref_w)
        assert not ours.last_weights.requires_grad


def test_mha_cross_attention_different_lengths(gen):
    ours = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    ref = copy_mha(ours)
    x_q, memory = rand(gen, 2, 4, D_MODEL), rand(gen, 2, 9, D_MODEL)
    src = torch.tensor([[3] * 9, [3] * 5 + [0] * 4])
    out = ours(x_q, memory, padding_mask(src, 0))
    ref_out, _ = ref(x_q, memory, memory, key_padding_mask=(src == 0))
    close(out, ref_out)
    assert ours.last_weights.shape == (2, N_HEADS, 4, 9)


def test_mask_polarity_trap_is_real(gen):
    """Handing our mask to torch.nn without inverting it gives different numbers."""
    ours = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    ref = copy_mha(ours)
    x = rand(gen, 2, 5, D_MODEL)
    mask = causal_mask(5)
    right, _ = ref(x, x, x, attn_mask=to_torch_nn_mask(mask))
    close(ours(x, x, mask), right)
    wrong, _ = ref(x, x, x, attn_mask=mask)  # forgot the ~: now blocks the past, sees the future
    # the last query may see every key in our mask, so torch blocks all of them: NaN
    assert torch.isnan(wrong[:, -1]).all()
    assert (wrong[:, :-1] - right[:, :-1]).abs().max() > 1e-3


# --- layers and stacks vs nn.Transformer* ------------------------------------------------
def _perturb_norms(module, gen):
    """LayerNorm starts at weight 1, bias 0; randomise so a swapped norm would show."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=gen))


def layer_pair(ours_cls, ref_cls, gen, norm_first):
    """Our layer (LayerNorms perturbed) and torch.nn's, with the same weights."""
    ours = ours_cls(D_MODEL, N_HEADS, D_FF, norm_first=norm_first).eval()
    _perturb_norms(ours, gen)
    ref = ref_cls(D_MODEL, N_HEADS, D_FF, dropout=0.0, batch_first=True, norm_first=norm_first).eval()
    copy_layer_weights(ours, ref)
    return ours, ref


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_matches_torch(gen, norm_first):
    ours, ref = layer_pair(EncoderLayer, nn.TransformerEncoderLayer, gen, norm_first)
    x = rand(gen, 2, 7, D_MODEL)
    src = torch.tensor([[3] * 7, [3] * 4 + [0] * 3])
    close(ours(x, padding_mask(src, 0)), ref(x, src_key_padding_mask=(src == 0)))


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(gen, norm_first):
    ours, ref = layer_pair(DecoderLayer, nn.TransformerDecoderLayer, gen, norm_first)
    x, memory = rand(gen, 2, 5, D_MODEL), rand(gen, 2, 8, D_MODEL)
    tgt = torch.tensor([[3] * 5, [3] * 3 + [0] * 2])
    src = torch.tensor([[3] * 8, [3] * 6 + [0] * 2])
    out = ours(x, memory, padding_mask(tgt, 0) & causal_mask(5), padding_mask(src, 0))
    ref_out = ref(x, memory, tgt_mask=~causal_mask(5), tgt_key_padding_mask=(tgt == 0),
                  memory_key_padding_mask=(src == 0))
    # rows of padded target positions differ in nothing that matters, but compare all anyway
    close(out, ref_out)


@pytest.mark.parametrize("norm_first", [False, True])
def test_stacks_match_torch(gen, norm_first):
    n_layers = 3
    enc = Encoder(n_layers, D_MODEL, N_HEADS, D_FF, norm_first=norm_first).eval()
    dec = Decoder(n_layers, D_MODEL, N_HEADS, D_FF, norm_first=norm_first).eval()
    _perturb_norms(enc, gen)
    _perturb_norms(dec, gen)
    kw = dict(dropout=0.0, batch_first=True, norm_first=norm_first)
    ref_enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D_MODEL, N_HEADS, D_FF, **kw), n_layers,
                                    enable_nested_tensor=False).eval()
    ref_dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(D_MODEL, N_HEADS, D_FF, **kw), n_layers).eval()
    for ours, ref in zip(enc.layers, ref_enc.layers):
        copy_layer_weights(ours, ref)
    for ours, ref in zip(dec.layers, ref_dec.layers):
        copy_layer_weights(ours, ref)
    src = torch.tensor([[3] * 6, [3] * 4 + [0] * 2])
    x, y = rand(gen, 2, 6, D_MODEL), rand(gen, 2, 4, D_MODEL)
    memory = enc(x, padding_mask(src, 0))
    ref_memory = ref_enc(x, src_key_padding_mask=(src == 0))
    close(memory, ref_memory)
    out = dec(y, memory, causal_mask(4), padding_mask(src, 0))
    ref_out = ref_dec(y, ref_memory, tgt_mask=~causal_mask(4), memory_key_padding_mask=(src == 0))
    close(out, ref_out)
