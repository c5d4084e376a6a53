"""Bad input gets a clear error that names the problem."""

import pytest
import torch

from course_utils.transformer.attention import attention
from course_utils.transformer.layers import EncoderLayer, MultiHeadAttention
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.model import Transformer, TransformerConfig
from course_utils.transformer.positional import PositionalEncoding, sinusoidal_encoding
from course_utils.base.seed import set_seed


def model():
    return Transformer(TransformerConfig(10, 12, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=8)).eval()


def test_float_mask_is_rejected_with_dtype_named():
    q = torch.randn(1, 3, 4)
    with pytest.raises(TypeError, match="torch.bool"):
        attention(q, q, q, torch.zeros(3, 3))


def test_mask_with_wrong_key_length():
    q, k = torch.randn(1, 3, 4), torch.randn(1, 5, 4)
    with pytest.raises(ValueError, match="T_k=5"):
        attention(q, k, k, torch.ones(3, 4, dtype=torch.bool))


def test_mask_with_wrong_query_length():
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(2, 4, 8)
    with pytest.raises(ValueError, match="T_q=4"):
        mha(x, x, causal_mask(3))


def test_q_k_width_mismatch():
    with pytest.raises(ValueError, match="d_k"):
        attention(torch.randn(2, 3, 4), torch.randn(2, 3, 5), torch.randn(2, 3, 5))


def test_integer_qkv_rejected():
    x = torch.ones(2, 3, 4, dtype=torch.long)
    with pytest.raises(TypeError, match="floating-point"):
        attention(x, x, x)


def test_d_model_not_divisible_names_both_numbers():
    with pytest.raises(ValueError, match=r"d_model=10.*n_heads=3"):
        TransformerConfig(5, 5, d_model=10, n_heads=3)
    with pytest.raises(ValueError, match=r"d_model=10.*n_heads=3"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match=r"d_model=10.*n_heads=4"):
        EncoderLayer(10, 4, 20)


def test_config_is_frozen_and_validated():
    cfg = TransformerConfig(5, 5, d_model=8, n_heads=2)
    with pytest.raises(Exception):
        cfg.d_model = 16
    with pytest.raises(ValueError, match="dropout"):
        TransformerConfig(5, 5, dropout=1.5)
    with pytest.raises(ValueError, match="share_embeddings"):
        TransformerConfig(5, 6, share_embeddings=True)
    with pytest.raises(TypeError, match="n_layers"):
        TransformerConfig(5, 5, n_layers=2.0)
    with pytest.raises(ValueError, match="positional"):
        TransformerConfig(5, 5, positional="rope")
    assert cfg.d_k == 4


def test_token_ids_outside_vocabulary():
    m = model()
    with pytest.raises(ValueError, match=r"src holds token id 10, outside the vocabulary \[0, 10\)"):
        m(torch.tensor([[1, 10]]), torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="tgt holds token id -1"):
        m(torch.tensor([[1, 2]]), torch.tensor([[1, -1]]))


def test_float_token_ids():
    with pytest.raises(TypeError, match="integer token ids"):
        model()(torch.tensor([[1.0, 2.0]]), torch.tensor([[1, 2]]))


def test_sequence_longer_than_max_len():
    with pytest.raises(ValueError, match="max_len=8"):
        model()(torch.ones(1, 9, dtype=torch.long), torch.ones(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="max_len=4"):
        PositionalEncoding(6, max_len=4)(torch.zeros(1, 5, 6))


def test_batch_size_mismatch():
    with pytest.raises(ValueError, match="batch sizes differ"):
        model()(torch.ones(2, 3, dtype=torch.long), torch.ones(3, 3, dtype=torch.long))
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="batch size"):
        mha(torch.randn(2, 3, 8), torch.randn(3, 3, 8))


def test_wrong_width_input_to_mha():
    with pytest.raises(ValueError, match=r"d_model=8"):
        MultiHeadAttention(8, 2)(torch.randn(2, 3, 6), torch.randn(2, 3, 6))


def test_mask_helpers_validate():
    with pytest.raises(ValueError, match=">= 1"):
        causal_mask(0)
    with pytest.raises(TypeError, match="integer token ids"):
        padding_mask(torch.randn(2, 3), 0)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        padding_mask(torch.ones(3, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="max_len"):
        sinusoidal_encoding(0, 4)


def test_wrong_config_type_and_bad_seed():
    with pytest.raises(TypeError, match="TransformerConfig"):
        Transformer({"d_model": 8})
    with pytest.raises(TypeError, match="seed"):
        set_seed("1")


def test_set_seed_repeats():
    set_seed(3)
    a = torch.randn(3)
    set_seed(3)
    assert torch.equal(a, torch.randn(3))
