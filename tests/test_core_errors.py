"""Bad input gets a clear error that names the problem."""

import dataclasses

import pytest
import torch

from course_utils.base.seed import set_seed
from course_utils.transformer.attention import attention
from course_utils.transformer.layers import EncoderLayer, MultiHeadAttention
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.model import Transformer, TransformerConfig
from course_utils.transformer.positional import PositionalEncoding, sinusoidal_encoding


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
    with pytest.raises(dataclasses.FrozenInstanceError):
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


# --- issue 13: the public API names every bad argument -------------------------------------
from course_utils.base import validate  # noqa: E402
from course_utils.corpus.data import UnknownWordError, Vocab  # noqa: E402
from course_utils.run.decoding import greedy_decode  # noqa: E402
from course_utils.run.reference import translate  # noqa: E402
from course_utils.transformer.attention import sdpa_attention  # noqa: E402
from course_utils.transformer.layers import merge_heads, split_heads  # noqa: E402
from course_utils.transformer.model import count_parameters  # noqa: E402
from course_utils.transformer.positional import LearnedPositionalEncoding  # noqa: E402


@pytest.mark.parametrize("field,value", [("tie_output", "false"), ("norm_first", "no"), ("share_embeddings", 1),
                                         ("tie_output", None)])
def test_config_bool_fields_must_be_bools(field, value):
    """A truthy string must not switch a feature on ('false' is truthy)."""
    with pytest.raises(TypeError, match=f"TransformerConfig.{field} must be True or False"):
        TransformerConfig(10, 10, **{field: value})


@pytest.mark.parametrize("pad_id,error", [(0.5, TypeError), (True, TypeError), (-1, ValueError), (10, ValueError)])
def test_config_pad_id_is_an_int_inside_both_vocabularies(pad_id, error):
    with pytest.raises(error, match="TransformerConfig.pad_id"):
        TransformerConfig(10, 12, pad_id=pad_id)


def test_config_sizes_are_bounded_with_the_reason():
    with pytest.raises(ValueError, match=r"TransformerConfig.max_len must be <= 65536, got 10+: .*position table"):
        TransformerConfig(10, 10, max_len=10**12)
    with pytest.raises(ValueError, match="parameters.*GiB"):
        TransformerConfig(10**6, 10**6, d_model=4096, n_heads=8)


@pytest.mark.parametrize("kw", [dict(), dict(share_embeddings=True, tie_output=True), dict(norm_first=True),
                                dict(positional="learned", tie_output=True)])
def test_approx_parameters_is_exact(kw):
    """The bound above uses approx_parameters; it must count what the model holds."""
    cfg = TransformerConfig(13, 13, d_model=16, n_heads=2, n_layers=2, d_ff=24, max_len=9, **kw)
    assert cfg.approx_parameters == count_parameters(Transformer(cfg))


@pytest.mark.parametrize("Pos", [PositionalEncoding, LearnedPositionalEncoding])
def test_positional_offsets_and_input_dtypes(Pos):
    pe = Pos(8, max_len=10)
    with pytest.raises(ValueError, match="offset must be >= 0, got -2"):
        pe(torch.zeros(1, 3, 8), offset=-2)
    with pytest.raises(TypeError, match="floating-point.*int64"):
        pe(torch.zeros(1, 3, 8, dtype=torch.long))
    with pytest.raises(ValueError, match=r"positions up to 11 \(offset 8 \+ length 3\) exceed max_len=10"):
        pe(torch.zeros(1, 3, 8), offset=8)
    assert pe(torch.zeros(1, 3, 8, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(ValueError, match="max_len must be <= 65536"):
        Pos(8, max_len=10**12)


def test_attention_names_dtype_batch_and_mask_mismatches():
    q32, k64 = torch.randn(2, 3, 4), torch.randn(2, 3, 4, dtype=torch.float64)
    for fn in (attention, sdpa_attention):
        with pytest.raises(TypeError, match=r"q, k and v must share one dtype.*q torch.float32, k torch.float64"):
            fn(q32, k64, k64)
        with pytest.raises(ValueError, match=r"leading \(batch, head\) dims.*q \(2, 3, 4\), k \(3, 3, 4\)"):
            fn(q32, torch.randn(3, 3, 4), torch.randn(3, 3, 4))
        with pytest.raises(ValueError, match=r"mask of shape \(3, 3, 3\) does not broadcast"):
            fn(q32, q32, q32, torch.ones(3, 3, 3, dtype=torch.bool))


def test_mha_names_wrong_mask_batch_heads_and_input_dtype():
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(2, 4, 8)
    with pytest.raises(ValueError, match="batch of 3 but the batch size is B=2"):
        mha(x, x, torch.ones(3, 1, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="has 3 heads but there are H=2"):
        mha(x, x, torch.ones(2, 3, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"3-D mask's first axis lines up with the H=2 heads.*mask\[:, None\]"):
        mha(x, x, torch.ones(2, 4, 4, dtype=torch.bool))  # B == H: would silently mask the wrong rows
    with pytest.raises(TypeError, match="x_q has dtype torch.float64 but the module's weights are torch.float32"):
        mha(x.double(), x.double())


def test_split_and_merge_heads_name_bad_arguments():
    x = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match="n_heads=3"):
        split_heads(x, 3)
    with pytest.raises(ValueError, match="split_heads: n_heads must be >= 1"):
        split_heads(x, 0)
    with pytest.raises(TypeError, match="split_heads: n_heads must be an int"):
        split_heads(x, 2.0)
    with pytest.raises(ValueError, match=r"split_heads: x must have 3 dims \(B, T, d_model\)"):
        split_heads(x[0], 2)
    with pytest.raises(TypeError, match="split_heads: x must be a torch.Tensor"):
        split_heads([[1.0]], 1)
    with pytest.raises(ValueError, match=r"merge_heads: x must have 4 dims"):
        merge_heads(x)


def test_all_padding_source_is_a_clear_error_not_nan_logits():
    m = model()
    src = torch.tensor([[4, 5, 6], [0, 0, 0]])
    tgt = torch.tensor([[1, 4], [1, 4]])
    for call in (lambda: m(src, tgt), lambda: m.encode(src), lambda: greedy_decode(m, src, max_new_tokens=3)):
        with pytest.raises(ValueError, match=r"(src row\(s\)|sequence\(s\)) \[1\].*(only padding|all-padding)"):
            call()
    memory = m.encode(src[:1])
    with pytest.raises(ValueError, match="src_mask blocks every source position"):
        m.decode(tgt[:1], memory, torch.zeros(1, 1, 1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="src_mask blocks every source position for sequence"):
        m(src[:1].expand(2, 3), tgt, torch.tensor([True, False])[:, None, None, None].expand(2, 1, 1, 3))


def test_decode_names_memory_offset_and_mask_problems():
    m = model()
    tgt = torch.tensor([[1, 4]])
    with pytest.raises(TypeError, match="memory must be a floating-point tensor"):
        m.decode(tgt, torch.zeros(1, 3, 16, dtype=torch.long), None)
    with pytest.raises(ValueError, match="offset must be >= 0"):
        m.decode(tgt, torch.zeros(1, 3, 16), None, offset=-1)
    with pytest.raises(ValueError, match="src_mask is for a batch of 2 but the batch size is B=1"):
        m.decode(tgt, torch.zeros(1, 3, 16), torch.ones(2, 1, 1, 3, dtype=torch.bool))


def test_vocab_id_to_token_refuses_negative_and_non_int_ids():
    v = Vocab(["dog", "cat"])
    assert v.id_to_token(5) == "cat"
    with pytest.raises(ValueError, match=r"Vocab.id_to_token: idx must be in \[0, 6\), got -1"):
        v.id_to_token(-1)
    with pytest.raises(ValueError, match="got 6"):
        v.id_to_token(6)
    with pytest.raises(TypeError, match="must be an int, got float"):
        v.id_to_token(1.0)
    with pytest.raises(TypeError, match="token must be a str"):
        v.token_to_id(4)
    with pytest.raises(TypeError, match="ids must be ints"):
        v.decode([4.0])


def test_translate_checks_token_lists_like_sentences():
    src_vocab, tgt_vocab = Vocab(["dog", "cat", "chases", "the"]), Vocab(["狗", "猫", "追"])
    m = Transformer(TransformerConfig(len(src_vocab), len(tgt_vocab), d_model=16, n_heads=2, n_layers=1, d_ff=32,
                                      max_len=16)).eval()
    with pytest.raises(UnknownWordError, match="unknown word 'dgo'"):
        translate(m, src_vocab, tgt_vocab, ["the", "dgo", "chases", "the", "cat"])
    with pytest.raises(UnknownWordError, match="unknown word 'dgo'"):
        translate(m, src_vocab, tgt_vocab, "the dgo chases the cat")
    with pytest.raises(TypeError, match="a str or a list of str tokens"):
        translate(m, src_vocab, tgt_vocab, [1, 2])
    assert isinstance(translate(m, src_vocab, tgt_vocab, ["the", "dog", "chases", "the", "cat"]), str)


def test_validate_helpers_name_the_argument_and_refuse_lookalikes():
    with pytest.raises(TypeError, match="flag must be True or False, got str"):
        validate.boolean("flag", "false")
    with pytest.raises(TypeError, match="n must be an int, got bool"):
        validate.positive_int("n", True)
    with pytest.raises(ValueError, match="n must be <= 5, got 6: why"):
        validate.positive_int("n", 6, max=5, hint="why")
    for bad in (float("nan"), float("inf"), 10**400):
        with pytest.raises(ValueError, match="lr must be a finite number"):
            validate.finite_float("lr", bad)
    with pytest.raises(ValueError, match="p must be >= 0.0 and < 1.0, got 1.0"):
        validate.probability("p", 1)
    with pytest.raises(ValueError, match="mode must be one of 'a', 'b'"):
        validate.one_of("mode", "c", ("a", "b"))
    with pytest.raises(ValueError, match=r"q and k must have the same batch size \(dim 0\)"):
        validate.same_batch(q=torch.zeros(2, 1), k=torch.zeros(3, 1))
    with pytest.raises(ValueError, match="w holds 1 non-finite"):
        validate.finite_tensor("w", torch.tensor([1.0, float("nan")]))
    assert validate.finite_float("x", 1) == 1.0 and validate.int_in_range("i", 2, 0, 3) == 2


def test_decode_has_no_silent_default_for_src_mask():
    """Forgetting the source mask on a padded batch used to let cross-attention read <pad>."""
    m = model()
    src, tgt = torch.tensor([[4, 5, 0]]), torch.tensor([[1]])
    memory = m.encode(src)
    with pytest.raises(TypeError, match=r"Transformer.decode: pass src_mask.*padding_mask\(src, pad_id\)"):
        m.decode(tgt, memory)
    with pytest.raises(TypeError, match="pass src_mask"):
        m.decode(tgt, memory, tgt_mask=causal_mask(1))
    masked = m.decode(tgt, memory, padding_mask(src, 0))
    assert masked.shape == (1, 1, 12) and torch.isfinite(masked).all()
    assert not torch.allclose(masked, m.decode(tgt, memory, None))  # None really means "attend to all"


def test_tgt_mask_dropout_and_cache_arguments_are_named():
    m = model()
    src, tgt = torch.tensor([[4, 5, 6]]), torch.tensor([[1, 4, 5]])
    with pytest.raises(ValueError, match="tgt_mask has 2 query rows but there are T_q=3"):
        m(src, tgt, tgt_mask=causal_mask(2))
    with pytest.raises(TypeError, match="tgt_mask must have dtype torch.bool"):
        m(src, tgt, tgt_mask=torch.zeros(3, 3))
    q = torch.randn(1, 2, 4)
    with pytest.raises(TypeError, match="attention: dropout must be None or a module"):
        attention(q, q, q, dropout=0.1)
    from course_utils.transformer.layers import KVCache

    cache = KVCache()
    cache.append(torch.zeros(2, 2, 1, 4), torch.zeros(2, 2, 1, 4))
    with pytest.raises(ValueError, match="KVCache.append: the cache holds k"):
        cache.append(torch.zeros(3, 2, 1, 4), torch.zeros(3, 2, 1, 4))
    with pytest.raises(ValueError, match=r"KVCache.append: k must have 4 dims"):
        cache.append(torch.zeros(2, 1, 4), torch.zeros(2, 1, 4))


def test_vocab_refuses_lookalike_arguments():
    v = Vocab(["dog", "cat"])
    with pytest.raises(TypeError, match="Vocab.encode: tokens must be strings, got int"):
        v.encode([4, 5])  # ids are not tokens: they must not turn into <unk> without a word
    with pytest.raises(TypeError, match="Vocab.encode: tokens must be a list of str tokens, got NoneType"):
        v.encode(None)
    with pytest.raises(TypeError, match="Vocab.encode: add_bos must be True or False"):
        v.encode(["dog"], add_bos="yes")
    with pytest.raises(TypeError, match="Vocab.decode: strip_special must be True or False"):
        v.decode([4], strip_special="no")
    with pytest.raises(TypeError, match="Vocab.decode: ids must be a list of ints or a 1-D tensor"):
        v.decode(None)
    with pytest.raises(TypeError, match="Vocab: tokens must be a list of strings, got str"):
        Vocab("dog cat")
    with pytest.raises(TypeError, match="each sentence must be a list of tokens"):
        Vocab.from_sentences(["the dog"])
    with pytest.raises(ValueError, match="min_freq must be >= 1"):
        Vocab.from_sentences([["dog"]], min_freq=0)
    assert v.encode(("dog", "cat"), add_bos=True) == [1, 4, 5] and v.decode(torch.tensor([4, 2, 5])) == ["dog"]


def test_count_parameters_causal_mask_device_and_fast_flag_are_checked():
    with pytest.raises(TypeError, match="count_parameters: model must be a torch.nn.Module"):
        count_parameters(None)
    with pytest.raises(TypeError, match="count_parameters: trainable_only must be True or False"):
        count_parameters(model(), trainable_only="no")
    with pytest.raises(ValueError, match="causal_mask: device 'gpu'"):
        causal_mask(3, device="gpu")
    mha = MultiHeadAttention(8, 2)
    mha.fast = "no"  # a truthy string must not switch the fused path on
    x = torch.randn(1, 2, 8)
    with pytest.raises(TypeError, match="MultiHeadAttention.fast must be True or False"):
        mha(x, x)


def test_more_bad_arguments_found_by_fuzzing_are_named():
    """Each of these ended in a torch error, an AttributeError or an endless build."""
    from course_utils.run.train import save_checkpoint
    from course_utils.transformer.layers import Encoder, FeedForward, new_decoder_cache

    with pytest.raises(TypeError, match="FeedForward: x has dtype torch.float64"):
        FeedForward(8, 16)(torch.zeros(2, 3, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="Encoder: n_layers must be <= 1024"):
        Encoder(10**12, 8, 2, 16)
    with pytest.raises(ValueError, match="new_decoder_cache: n_layers must be <= 1024"):
        new_decoder_cache(10**12)
    with pytest.raises(ValueError, match="MultiHeadAttention: these sizes make about"):
        MultiHeadAttention(2**20, 2)
    with pytest.raises(ValueError, match="sinusoidal_encoding: a table of max_len x d_model"):
        sinusoidal_encoding(10, 10**12)
    with pytest.raises(ValueError, match="TransformerConfig.src_vocab_size must be <= 16777216"):
        TransformerConfig(10**12, 10)
    from course_utils.transformer.layers import DecoderLayer

    layer = DecoderLayer(8, 2, 16)
    x = torch.zeros(1, 2, 8)
    with pytest.raises(TypeError, match="DecoderLayer: cache must be None or"):
        layer(x, x, cache=[1])
    with pytest.raises(TypeError, match="DecoderLayer: memory must be a torch.Tensor"):
        layer(x, None)
    m = model()
    with pytest.raises(TypeError, match="save_checkpoint: path must be a str or a Path"):
        save_checkpoint(None, m, Vocab(list("abcdef")), Vocab(list("abcdefgh")))
    with pytest.raises(ValueError, match=r"offset 1000 \+ length 2"):
        PositionalEncoding(8, max_len=10)(torch.zeros(1, 2, 8), offset=1000)
    src_vocab, tgt_vocab = Vocab(["dog", "the"]), Vocab(["狗"])
    with pytest.raises(TypeError, match="translate: model must be a course Transformer"):
        translate(None, src_vocab, tgt_vocab, "the dog")
    with pytest.raises(TypeError, match="translate: tgt_vocab must be a Vocab"):
        translate(m, src_vocab, None, "the dog")
    with pytest.raises(ValueError, match="translate: beam_size must be <= 64"):
        translate(m, src_vocab, tgt_vocab, "the dog", beam_size=10**12)


def test_mask_larger_than_the_scores_is_named_even_when_v_broadcasts():
    """Found by the property suite: q, k of batch 1 with v and the mask of batch 2 used to end
    in a torch broadcasting error inside masked_fill."""
    q, v = torch.randn(1, 1, 1, 1), torch.randn(2, 1, 1, 1)
    mask = torch.zeros(2, 1, 1, 1, dtype=torch.bool)
    for fn in (attention, sdpa_attention):
        with pytest.raises(ValueError, match=r"mask of shape \(2, 1, 1, 1\) does not broadcast to the scores' shape"):
            fn(q, q, v, mask)
        assert fn(q, q, v)[0].shape == (2, 1, 1, 1)  # without a mask, v's batch broadcasts as in torch


def test_no_keys_and_negative_pad_id_are_named():
    import pytest
    import torch

    from course_utils.transformer.attention import attention, sdpa_attention
    from course_utils.transformer.masks import padding_mask

    q, k = torch.randn(1, 3, 4), torch.randn(1, 0, 4)
    for fn in (attention, sdpa_attention):
        with pytest.raises(ValueError, match="T_k = 0"):
            fn(q, k, k)
    with pytest.raises(ValueError, match="pad_id"):
        padding_mask(torch.tensor([[1, 2, 0]]), -1)


def test_non_finite_inputs_are_named_not_passed_on():
    import pytest
    import torch

    from course_utils.transformer.attention import attention, sdpa_attention
    from course_utils.transformer.positional import LearnedPositionalEncoding, PositionalEncoding

    q = torch.randn(2, 4, 8)
    for bad in (float("nan"), float("inf")):
        for fn in (attention, sdpa_attention):
            with pytest.raises(ValueError, match="non-finite"):
                fn(torch.full_like(q, bad), q, q)
            with pytest.raises(ValueError, match="k holds"):
                fn(q, torch.full_like(q, bad), q)
        for pe in (PositionalEncoding(8, max_len=16), LearnedPositionalEncoding(8, max_len=16)):
            with pytest.raises(ValueError, match="non-finite"):
                pe(torch.full((1, 4, 8), bad))
