"""Bad input to the model side reaches a clear error naming the problem, never a raw torch
error, a hang or a silent wrong result; and the checks run once per call, not per layer or step."""

import sys

import pytest
import torch

from course_utils.corpus.data import Vocab
from course_utils.run.decoding import beam_search, greedy_decode, translate_batch
from course_utils.transformer.layers import KVCache
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.model import Transformer, TransformerConfig

IDS = torch.tensor([[4, 5, 6, 2]])


def model(**kw):
    torch.manual_seed(0)
    config = dict(src_vocab_size=20, tgt_vocab_size=20, d_model=16, n_heads=2, n_layers=2, d_ff=32, dropout=0.0,
                  max_len=32)
    return Transformer(TransformerConfig(**{**config, **kw})).eval()


def test_pad_id_beyond_the_dtype_of_the_ids():
    with pytest.raises(ValueError, match="pad_id must be <= 9223372036854775807.*no token id of dtype torch.int64"):
        padding_mask(IDS, 10**20)
    with pytest.raises(ValueError, match="no token id of dtype torch.int16"):
        padding_mask(IDS.short(), 40_000)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without a usable CUDA device")
def test_causal_mask_on_a_device_torch_lacks():
    with pytest.raises(ValueError, match="device 'cuda' is not available here"):
        causal_mask(3, device="cuda")


def test_meta_tensors_are_named():
    m, meta = model(), IDS.to("meta")
    with pytest.raises(ValueError, match="src is a meta tensor"):
        m(meta, meta)
    with pytest.raises(ValueError, match="src is a meta tensor"):
        greedy_decode(m, meta)
    with pytest.raises(ValueError, match="padding_mask: tokens is a meta tensor"):
        padding_mask(meta, 0)
    with pytest.raises(ValueError, match="memory is a meta tensor"):
        m.decode(IDS, torch.zeros(1, 4, 16, device="meta"), None)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16])
def test_token_ids_of_a_dtype_the_embedding_cannot_read(dtype):
    m = model()
    with pytest.raises(TypeError, match=f"src holds token ids as {dtype}.*convert them with .long()"):
        m(IDS.to(dtype), IDS)
    with pytest.raises(TypeError, match=f"tgt holds token ids as {dtype}"):
        m(IDS, IDS.to(dtype))
    with pytest.raises(TypeError, match=f"src holds token ids as {dtype}"):
        greedy_decode(m, IDS.to(dtype), max_new_tokens=3)
    assert greedy_decode(m, IDS.int(), max_new_tokens=3).shape[0] == 1  # int32 is read as it is


def test_beam_size_and_length_penalty_are_bounded():
    m = model()
    with pytest.raises(ValueError, match="beam_size must be <= 64, got 1000000"):
        beam_search(m, IDS, beam_size=10**6, max_new_tokens=3)
    with pytest.raises(ValueError, match=r"beam_size=25 exceeds the target vocabulary \(20 tokens\)"):
        beam_search(m, IDS, beam_size=25, max_new_tokens=3)
    for alpha in (1e6, 400.0):
        with pytest.raises(ValueError, match="length_penalty must be >= 0.0 and <= 10.0"):
            beam_search(m, IDS, beam_size=2, length_penalty=alpha, max_new_tokens=8)
    out, score = beam_search(m, IDS, beam_size=2, length_penalty=10.0, max_new_tokens=30, return_scores=True)
    assert torch.isfinite(score).all()


@pytest.mark.parametrize("decode", [greedy_decode, beam_search])
@pytest.mark.parametrize("use_cache", [True, False])
def test_one_nan_in_the_output_layer_is_an_error_not_a_repeated_token(decode, use_cache):
    m = model()
    with torch.no_grad():
        m.out_proj.weight[3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        decode(m, IDS, max_new_tokens=5, use_cache=use_cache)


def test_nan_appearing_after_the_first_step_is_caught_too():
    """The first step is checked by decode; a later step runs unchecked but its scores are checked."""
    m = model()
    calls = []
    original = m.decode_unchecked

    def poisoned(*args, **kw):
        calls.append(1)
        logits = original(*args, **kw)
        return logits if len(calls) < 3 else logits.index_fill(-1, torch.tensor([7]), float("nan"))
    m.decode_unchecked = poisoned
    with pytest.raises(ValueError, match="decoding step 3: the model's scores hold NaN or inf"):
        greedy_decode(m, IDS, max_new_tokens=8, eos_id=-1)


def test_nan_appearing_in_a_cached_step_is_caught():
    """The cached steps after the first run through one_token_step; their scores are checked too."""
    m = model()
    original = m.one_token_step

    def poisoned_builder(*args):
        step, calls = original(*args), []

        def poisoned(tokens, offset):
            calls.append(1)
            logits = step(tokens, offset)
            return logits if len(calls) < 3 else logits.index_fill(-1, torch.tensor([7]), float("inf"))
        return poisoned
    m.one_token_step = poisoned_builder
    with pytest.raises(ValueError, match="decoding step 3: the model's scores hold NaN or inf"):
        greedy_decode(m, IDS, max_new_tokens=8, eos_id=-1)
    with pytest.raises(ValueError, match="decoding step 3: the model's scores hold NaN or inf"):
        beam_search(m, IDS, max_new_tokens=8, eos_id=-1)


def test_translate_batch_refuses_unknown_tokens_as_translate_does():
    src_vocab, tgt_vocab = Vocab(["dog", "cat", "chases", "the", "."]), Vocab(["狗", "猫", "追", "。"])
    m = Transformer(TransformerConfig(len(src_vocab), len(tgt_vocab), d_model=16, n_heads=2, n_layers=1, d_ff=32,
                                      max_len=16)).eval()
    with pytest.raises(ValueError, match=r"tokens \['dgo', 'pizza'\] \(first in sentence 1\) are not in the source"):
        translate_batch(m, src_vocab, tgt_vocab, [["the", "dog", "."], ["the", "dgo", "."], ["pizza"]])
    assert len(translate_batch(m, src_vocab, tgt_vocab, [["the", "dog", "chases", "the", "cat", "."]])) == 1


def _checks_while(fn) -> int:
    """How many times the package's argument checks run while `fn()` runs."""
    count = 0
    names = {"tensor", "token_ids", "check_mask", "_check_qkv", "_check", "_check_input", "_check_tokens",
             "_check_source_mask", "_check_target_mask", "integer"}

    def profiler(frame, event, arg):
        nonlocal count
        if event == "call" and frame.f_code.co_name in names and "course_utils" in frame.f_code.co_filename:
            count += 1
    sys.setprofile(profiler)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("use_cache", [True, False])
def test_decoding_checks_its_arguments_once_not_at_every_step(use_cache):
    """Before, each cached step returned to the checks 13 times per layer path; now the
    number of checks does not grow with the number of generated tokens."""
    m = model()
    few = _checks_while(lambda: greedy_decode(m, IDS, max_new_tokens=4, eos_id=-1, use_cache=use_cache))
    many = _checks_while(lambda: greedy_decode(m, IDS, max_new_tokens=24, eos_id=-1, use_cache=use_cache))
    assert few == many, (few, many)
    beams_few = _checks_while(lambda: beam_search(m, IDS, max_new_tokens=4, use_cache=use_cache, length_penalty=0.0))
    beams_many = _checks_while(lambda: beam_search(m, IDS, max_new_tokens=24, use_cache=use_cache,
                                                   length_penalty=0.0))
    assert beams_few == beams_many, (beams_few, beams_many)


def test_a_model_call_checks_its_layers_inputs_once():
    """The encoder and decoder stacks check the first layer's inputs; the other layers run unchecked."""
    two, eight = model(n_layers=2), model(n_layers=8)
    assert _checks_while(lambda: two(IDS, IDS)) == _checks_while(lambda: eight(IDS, IDS))


def test_the_cache_is_written_in_place_and_grows_by_doubling():
    cache = KVCache()
    k = torch.randn(2, 4, 1, 8)
    cache.append(k, k)
    store = cache.k.untyped_storage().data_ptr()
    for t in range(2, 17):
        out_k, out_v = cache.append(k * t, k * t)
        assert out_k.shape == (2, 4, t, 8) and torch.equal(out_k[:, :, -1], (k * t)[:, :, 0])
    assert cache.k.untyped_storage().data_ptr() == store  # 16 positions fit the first store: no copy
    cache.append(k, k)  # the 17th outgrows it: one larger store
    assert len(cache) == 17 and torch.equal(cache.k[:, :, 0], k[:, :, 0])
    with pytest.raises(TypeError, match="the cache holds torch.float32 on cpu, the new k, v are torch.float64"):
        cache.append(k.double(), k.double())
    with pytest.raises(ValueError, match="k .* and v .* must have the same batch, heads and positions"):
        cache.append(k, torch.randn(2, 4, 2, 8))
