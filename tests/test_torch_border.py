"""transformer/torch_border: our modules and masks against torch.nn, through the one border."""

import pytest
import torch
from torch import nn

from course_utils.transformer import (
    DecoderLayer,
    EncoderLayer,
    MultiHeadAttention,
    causal_mask,
    copy_layer_weights,
    copy_mha_weights,
    padding_mask,
    to_torch_key_padding_mask,
    to_torch_masks,
    to_torch_mha,
)

D_MODEL, N_HEADS = 16, 4


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(5)


def rand(gen, *shape):
    return torch.randn(*shape, generator=gen)


def randomise(module, gen):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(rand(gen, *p.shape) * 0.3 + (1.0 if p.dim() == 1 and p.numel() == D_MODEL else 0.0))


TOKENS = torch.tensor([[4, 5, 6, 7, 8, 9], [4, 5, 6, 0, 0, 0], [4, 5, 6, 7, 0, 0]])


def test_to_torch_mha_copies_weights_mode_and_dropout(gen):
    ours = MultiHeadAttention(D_MODEL, N_HEADS, dropout=0.25)
    randomise(ours, gen)
    theirs = to_torch_mha(ours)
    assert isinstance(theirs, nn.MultiheadAttention) and theirs.batch_first
    assert theirs.training and theirs.dropout == 0.25
    assert not to_torch_mha(ours.eval()).training
    x = rand(gen, 3, 6, D_MODEL)
    with torch.no_grad():
        ref, _ = to_torch_mha(ours)(x, x, x)
        torch.testing.assert_close(ours(x, x), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("fast", [False, True])
def test_every_mask_kind_matches_torch(gen, fast):
    ours = MultiHeadAttention(D_MODEL, N_HEADS, fast=fast).eval()
    randomise(ours, gen)
    theirs = to_torch_mha(ours)
    x = rand(gen, 3, 6, D_MODEL)
    pad, causal = padding_mask(TOKENS, 0), causal_mask(6)
    for mask in (None, pad, causal, causal[None, None], pad & causal):
        attn_mask, kpm = to_torch_masks(mask, n_heads=N_HEADS)
        with torch.no_grad():
            ref, _ = theirs(x, x, x, attn_mask=attn_mask, key_padding_mask=kpm)
            torch.testing.assert_close(ours(x, x, mask), ref, atol=1e-5, rtol=1e-5)


def test_cross_attention_with_key_padding(gen):
    ours = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    randomise(ours, gen)
    y, memory = rand(gen, 3, 4, D_MODEL), rand(gen, 3, 6, D_MODEL)
    mask = padding_mask(TOKENS, 0)
    with torch.no_grad():
        ref, _ = to_torch_mha(ours)(y, memory, memory, key_padding_mask=to_torch_key_padding_mask(mask))
        torch.testing.assert_close(ours(y, memory, mask), ref, atol=1e-5, rtol=1e-5)


def test_mask_conversion_values():
    pad = padding_mask(TOKENS, 0)
    assert torch.equal(to_torch_key_padding_mask(pad), TOKENS == 0)
    assert torch.equal(to_torch_key_padding_mask(TOKENS != 0), TOKENS == 0)
    attn, kpm = to_torch_masks(causal_mask(3))
    assert kpm is None and torch.equal(attn, torch.ones(3, 3, dtype=torch.bool).triu(1))
    attn, kpm = to_torch_masks(pad & causal_mask(6), n_heads=2)
    assert kpm is None and attn.shape == (6, 6, 6)
    assert torch.equal(attn[0], attn[1]) and torch.equal(attn[2], ~(pad & causal_mask(6))[1, 0])
    assert to_torch_masks(None) == (None, None)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="torch.bool"):
        to_torch_masks(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="n_heads"):
        to_torch_masks(padding_mask(TOKENS, 0) & causal_mask(6))
    with pytest.raises(ValueError, match=r"\(B, 1, 1, T_k\)"):
        to_torch_key_padding_mask(causal_mask(4)[None, None].expand(2, 1, 4, 4))
    with pytest.raises(TypeError, match="MultiHeadAttention"):
        to_torch_mha(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="n_heads=4"):
        copy_mha_weights(MultiHeadAttention(D_MODEL, N_HEADS), nn.MultiheadAttention(D_MODEL, 2))
    with pytest.raises(ValueError, match="norm_first"):
        copy_layer_weights(EncoderLayer(8, 2, 16), nn.TransformerEncoderLayer(8, 2, 16, norm_first=True))
    with pytest.raises(TypeError, match="DecoderLayer"):
        copy_layer_weights(EncoderLayer(8, 2, 16), nn.TransformerDecoderLayer(8, 2, 16))


@pytest.mark.parametrize("norm_first", [False, True])
def test_layers_match_torch_after_copy(gen, norm_first):
    kw = dict(dropout=0.0, batch_first=True, norm_first=norm_first)
    enc, dec = EncoderLayer(D_MODEL, N_HEADS, 32, norm_first=norm_first).eval(), \
        DecoderLayer(D_MODEL, N_HEADS, 32, norm_first=norm_first).eval()
    randomise(enc, gen)
    randomise(dec, gen)
    ref_enc = nn.TransformerEncoderLayer(D_MODEL, N_HEADS, 32, **kw).eval()
    ref_dec = nn.TransformerDecoderLayer(D_MODEL, N_HEADS, 32, **kw).eval()
    copy_layer_weights(enc, ref_enc)
    copy_layer_weights(dec, ref_dec)
    x, y = rand(gen, 3, 6, D_MODEL), rand(gen, 3, 4, D_MODEL)
    src = padding_mask(TOKENS, 0)
    with torch.no_grad():
        memory = enc(x, src)
        torch.testing.assert_close(
            memory, ref_enc(x, src_key_padding_mask=to_torch_key_padding_mask(src)), atol=1e-5, rtol=1e-5)
        tgt_attn, _ = to_torch_masks(causal_mask(4))
        torch.testing.assert_close(
            dec(y, memory, causal_mask(4), src),
            ref_dec(y, memory, tgt_mask=tgt_attn, memory_key_padding_mask=to_torch_key_padding_mask(src)),
            atol=1e-5, rtol=1e-5)
