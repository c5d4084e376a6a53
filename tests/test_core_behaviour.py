"""Behavioural tests: the claims the lessons make about masks and positions hold."""

import math

import pytest
import torch

from course_utils.transformer.layers import MultiHeadAttention
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.model import Transformer, TransformerConfig, count_parameters
from course_utils.transformer.positional import LearnedPositionalEncoding, PositionalEncoding, sinusoidal_encoding


def tiny_model(**kw):
    cfg = dict(src_vocab_size=20, tgt_vocab_size=30, d_model=32, n_heads=4, n_layers=2, d_ff=64,
               dropout=0.0, max_len=32)
    cfg.update(kw)
    torch.manual_seed(0)
    return Transformer(TransformerConfig(**cfg)).eval()


@pytest.mark.parametrize("norm_first", [False, True])
def test_future_target_tokens_do_not_change_earlier_outputs(norm_first):
    model = tiny_model(norm_first=norm_first)
    src = torch.tensor([[5, 6, 7, 8, 2]])
    tgt = torch.tensor([[1, 9, 10, 11, 12, 13]])
    changed = tgt.clone()
    changed[0, 3:] = torch.tensor([20, 21, 22])  # rewrite positions 3, 4, 5
    a, b = model(src, tgt), model(src, changed)
    assert (a[0, :3] - b[0, :3]).abs().max() == 0  # positions 0..2 cannot see 3..5
    assert (a[0, 3:] - b[0, 3:]).abs().max() > 1e-3  # the later ones do change


def test_without_causal_mask_the_future_leaks():
    """The test above can fail: drop the causal mask and earlier outputs move."""
    model = tiny_model()
    src = torch.tensor([[5, 6, 7, 8, 2]])
    tgt = torch.tensor([[1, 9, 10, 11, 12, 13]])
    changed = tgt.clone()
    changed[0, 3:] = torch.tensor([20, 21, 22])
    no_causal = padding_mask(tgt, 0)  # padding only
    a = model(src, tgt, tgt_mask=no_causal)
    b = model(src, changed, tgt_mask=padding_mask(changed, 0))
    assert (a[0, :3] - b[0, :3]).abs().max() > 1e-3


def test_padding_content_changes_nothing_for_real_tokens():
    model = tiny_model()
    src = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    tgt = torch.tensor([[1, 9, 10, 0], [1, 9, 10, 11]])
    src_mask = padding_mask(src, 0)
    tgt_mask = padding_mask(tgt, 0) & causal_mask(4)
    base = model(src, tgt, src_mask, tgt_mask)
    # put other (real) token ids under the padded positions but keep the masks
    src2, tgt2 = src.clone(), tgt.clone()
    src2[0, 3:] = torch.tensor([13, 17])
    tgt2[0, 3] = 25
    other = model(src2, tgt2, src_mask, tgt_mask)
    assert (base[0, :3] - other[0, :3]).abs().max() == 0
    assert (base[1] - other[1]).abs().max() == 0
    # and without the source padding mask, the garbage does leak in
    leaky = model(src2, tgt2, torch.ones(2, 1, 1, 5, dtype=torch.bool), tgt_mask)
    assert (base[0, :3] - leaky[0, :3]).abs().max() > 1e-3


def test_self_attention_is_permutation_equivariant_without_positions():
    """狗追猫 vs 猫追狗: same words, same vectors, rows merely permuted."""
    torch.manual_seed(0)
    embed = torch.nn.Embedding(3, 16)
    mha = MultiHeadAttention(16, 2).eval()
    dog_chases_cat = torch.tensor([[0, 1, 2]])  # 狗 追 猫
    cat_chases_dog = torch.tensor([[2, 1, 0]])  # 猫 追 狗
    x1, x2 = embed(dog_chases_cat), embed(cat_chases_dog)
    y1, y2 = mha(x1, x1), mha(x2, x2)
    perm = torch.tensor([2, 1, 0])
    torch.testing.assert_close(y2[0], y1[0, perm], atol=1e-6, rtol=0)
    # with positions added, the rows are no longer a permutation of each other
    pe = PositionalEncoding(16, max_len=8)
    p1, p2 = pe(x1), pe(x2)
    z1, z2 = mha(p1, p1), mha(p2, p2)
    assert (z2[0] - z1[0, perm]).abs().max() > 1e-2


def test_sinusoidal_formula_interleaved():
    pe = sinusoidal_encoding(50, 8)
    pos, i = 7, 2  # dims 4 and 5 share frequency 1 / 10000^(4/8)
    freq = 1 / 10000 ** (2 * i / 8)
    assert math.isclose(pe[pos, 2 * i].item(), math.sin(pos * freq), abs_tol=1e-6)
    assert math.isclose(pe[pos, 2 * i + 1].item(), math.cos(pos * freq), abs_tol=1e-6)
    assert pe.shape == (50, 8) and pe.abs().max() <= 1
    assert sinusoidal_encoding(4, 5).shape == (4, 5)  # odd widths work too


def test_sinusoidal_offset_is_a_rotation():
    """PE[pos + k] is a fixed linear map (a rotation per frequency pair) of PE[pos]."""
    pe = sinusoidal_encoding(64, 16)
    k = 5
    for i in range(8):
        w = 1 / 10000 ** (2 * i / 16)
        rot = torch.tensor([[math.cos(k * w), -math.sin(k * w)], [math.sin(k * w), math.cos(k * w)]])
        pairs = pe[:, 2 * i: 2 * i + 2]  # (64, 2): (sin, cos)
        torch.testing.assert_close(pairs[:-k] @ rot, pairs[k:], atol=1e-5, rtol=0)


def test_learned_positions_and_offsets():
    torch.manual_seed(0)
    lp = LearnedPositionalEncoding(8, max_len=10)
    x = torch.zeros(2, 4, 8)
    torch.testing.assert_close(lp(x)[0], lp.embedding.weight[:4])
    torch.testing.assert_close(lp(x[:, :1], offset=3)[0, 0], lp.embedding.weight[3])
    pe = PositionalEncoding(8, max_len=10)
    torch.testing.assert_close(pe(x[:, :1], offset=3)[0, 0], sinusoidal_encoding(10, 8)[3])


def test_paper_base_parameter_count_within_5_percent():
    model = Transformer(TransformerConfig.paper_base())
    n = count_parameters(model)
    assert abs(n - 65e6) / 65e6 < 0.05, n
    # without sharing and tying, the embeddings alone add ~38M: the paper must have tied them
    untied = Transformer(TransformerConfig(37000, 37000))
    assert count_parameters(untied) - n > 35e6


def test_tied_output_shares_storage():
    model = tiny_model(tgt_vocab_size=20, share_embeddings=True, tie_output=True)
    assert model.out_proj.weight.data_ptr() == model.tgt_embed.weight.data_ptr() == model.src_embed.weight.data_ptr()


def test_encode_decode_equals_forward_and_pre_ln_has_final_norm():
    for norm_first in (False, True):
        model = tiny_model(norm_first=norm_first)
        src, tgt = torch.tensor([[5, 6, 7, 0]]), torch.tensor([[1, 9, 10]])
        memory = model.encode(src)
        torch.testing.assert_close(model.decode(tgt, memory, padding_mask(src, 0)), model(src, tgt))
        assert isinstance(model.encoder.norm, torch.nn.LayerNorm) == norm_first


def test_model_trains_on_a_tiny_copy_task():
    """Sanity: gradients flow through every piece; loss falls on a copy task."""
    torch.manual_seed(0)
    model = tiny_model(src_vocab_size=12, tgt_vocab_size=12).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    data = torch.randint(3, 12, (64, 6))
    src, tgt_in = data, torch.cat([torch.ones(64, 1, dtype=torch.long), data], 1)
    tgt_out = torch.cat([data, torch.full((64, 1), 2)], 1)
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(src, tgt_in).transpose(1, 2), tgt_out)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --- one documented result for a fully masked row, in both attention paths ------------------
from course_utils.run.train import use_fast_attention  # noqa: E402
from course_utils.transformer.attention import attention, sdpa_attention  # noqa: E402


def left_padded_mask():
    """Left padding & causal: the first two queries of row 0 may attend to nothing."""
    tokens = torch.tensor([[0, 0, 5, 6, 7], [5, 6, 7, 8, 9]])
    return padding_mask(tokens, 0) & causal_mask(5)  # (2, 1, 5, 5)


def test_fully_masked_rows_are_zero_in_both_paths_and_their_gradients_finite(gen):
    mask = left_padded_mask()
    q, k, v = (torch.randn(2, 3, 5, 4, generator=gen, requires_grad=True) for _ in range(3))
    out, weights = attention(q, k, v, mask)
    fast, _ = sdpa_attention(q, k, v, mask)
    torch.testing.assert_close(out, fast, atol=1e-6, rtol=0)
    assert (out[0, :, :2] == 0).all() and (weights[0, :, :2] == 0).all()  # the documented result
    torch.testing.assert_close(weights[0, :, 2:].sum(-1), torch.ones(3, 3))  # other rows still sum to 1
    assert torch.isfinite(out).all()
    (out.sum() + fast.sum()).backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


def test_use_fast_attention_never_changes_the_numbers_even_with_empty_rows():
    model = tiny_model()
    src = torch.tensor([[5, 6, 7, 8], [5, 6, 0, 0]])
    tgt = torch.tensor([[0, 0, 9, 10, 11], [1, 9, 10, 11, 12]])  # left-padded target row 0
    tgt_mask = padding_mask(tgt, 0) & causal_mask(5)
    slow = model(src, tgt, tgt_mask=tgt_mask)
    fast = use_fast_attention(model, True)(src, tgt, tgt_mask=tgt_mask)
    use_fast_attention(model, False)
    assert torch.isfinite(slow).all()
    torch.testing.assert_close(slow, fast, atol=1e-5, rtol=1e-5)
