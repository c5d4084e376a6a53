"""Decoding: greedy, beam search, and the key/value cache (same tokens, less work)."""

import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from course_utils.corpus.data import Vocab, build_vocabs, make_splits
from course_utils.corpus.metrics import exact_match
from course_utils.run.decoding import (
    beam_search,
    cut_at_eos,
    evaluate,
    gnmt_length_penalty,
    greedy_decode,
    inference,
    special_ids,
    translate_batch,
)
from course_utils.transformer.layers import KVCache, MultiHeadAttention, new_decoder_cache
from course_utils.transformer.masks import causal_mask
from course_utils.transformer.model import Transformer, TransformerConfig

PAD, BOS, EOS, A, B = 0, 1, 2, 3, 4


def tiny_model(norm_first=False, seed=0):
    torch.manual_seed(seed)
    config = TransformerConfig(src_vocab_size=17, tgt_vocab_size=13, d_model=32, n_heads=4, n_layers=2,
                               d_ff=64, dropout=0.1, max_len=64, norm_first=norm_first)
    return Transformer(config).eval()


def random_src(gen, B=5, S=7):
    src = torch.randint(3, 17, (B, S), generator=gen)
    src[1, 4:] = PAD  # padded sentences must decode the same way too
    src[3, 2:] = PAD
    return src


@pytest.mark.parametrize("norm_first", [False, True])
def test_cached_greedy_gives_the_same_tokens(gen, norm_first):
    model = tiny_model(norm_first)
    src = random_src(gen)
    cached = greedy_decode(model, src, max_new_tokens=24, use_cache=True)
    uncached = greedy_decode(model, src, max_new_tokens=24, use_cache=False)
    assert cached.shape[0] == 5 and cached.shape[1] <= 24
    assert torch.equal(cached, uncached)


@pytest.mark.parametrize("norm_first", [False, True])
def test_cached_decoder_logits_match_the_full_pass(gen, norm_first):
    """Feeding one token at a time through the cache gives the logits of the teacher-forced pass."""
    model = tiny_model(norm_first)
    src = random_src(gen)
    tgt = torch.randint(3, 13, (5, 9), generator=gen)
    with torch.no_grad():
        memory = model.encode(src)
        full = model.decode(tgt, memory, model_src_mask(src), tgt_mask=causal_mask(9))
        cache = model.new_cache()
        steps = [model.decode(tgt[:, t:t + 1], memory, model_src_mask(src), offset=t, cache=cache)
                 for t in range(9)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    assert len(cache[0]["self"]) == 9 and len(cache[0]["cross"]) == src.size(1)


def model_src_mask(src):
    return (src != PAD)[:, None, None, :]


@pytest.mark.parametrize("fast", [False, True])
def test_mha_cache_appends_self_and_keeps_cross(gen, fast):
    mha = MultiHeadAttention(16, 4, fast=fast).eval()
    x = torch.randn(2, 6, 16, generator=gen)
    memory = torch.randn(2, 3, 16, generator=gen)
    full = mha(x, x, causal_mask(6))
    self_cache = KVCache()
    steps = [mha(x[:, t:t + 1], x[:, t:t + 1], cache=self_cache) for t in range(6)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-6, rtol=1e-6)
    cross_cache = KVCache(static=True)
    first = mha(x[:, :1], memory, cache=cross_cache)
    k_before = cross_cache.k
    again = mha(x[:, :1], memory, cache=cross_cache)
    assert cross_cache.k is k_before  # computed once, reused
    torch.testing.assert_close(again, first)
    with pytest.raises(TypeError, match="cache must be a KVCache"):
        mha(x, x, cache={"k": None})


def test_kv_cache_reorder_and_decoder_cache_length_check():
    cache = KVCache()
    cache.append(torch.arange(3.0).view(3, 1, 1, 1), torch.arange(3.0).view(3, 1, 1, 1))
    cache.reorder(torch.tensor([2, 2, 0]))
    assert cache.k.flatten().tolist() == [2.0, 2.0, 0.0]
    model = tiny_model()
    memory = torch.randn(1, 3, 32)
    with pytest.raises(ValueError, match="one per layer"):
        model.decode(torch.tensor([[BOS]]), memory, None, cache=new_decoder_cache(3))


@pytest.mark.parametrize("norm_first", [False, True])
def test_beam_size_one_is_greedy(gen, norm_first):
    model = tiny_model(norm_first, seed=3)
    src = random_src(gen)
    greedy = greedy_decode(model, src, max_new_tokens=20)
    beam = beam_search(model, src, beam_size=1, max_new_tokens=20)
    assert torch.equal(beam, greedy[:, :beam.size(1)])
    assert (greedy[:, beam.size(1):] == PAD).all()


def test_cached_beam_search_gives_the_same_tokens(gen):
    model = tiny_model(seed=1)
    src = random_src(gen)
    a, score_a = beam_search(model, src, beam_size=4, max_new_tokens=20, return_scores=True)
    b, score_b = beam_search(model, src, beam_size=4, max_new_tokens=20, use_cache=False, return_scores=True)
    assert torch.equal(a, b)
    torch.testing.assert_close(score_a, score_b)


def decode_steps(model, src, tgt, fast):
    """The logits (B, T, V) of feeding tgt one token at a time through the cache: the first
    step through `decode`, the later ones through `one_token_step` (fast) or `decode_unchecked`."""
    src_mask = model_src_mask(src)
    with inference(model), torch.inference_mode():
        memory = model.encode(src, src_mask)
        cache = model.new_cache()
        steps = [model.decode(tgt[:, :1], memory, src_mask, offset=0, cache=cache)[:, -1]]
        one_token = model.one_token_step(cache, src_mask) if fast else None
        for t in range(1, tgt.size(1)):
            if fast:
                steps.append(one_token(tgt[:, t], t))
            else:
                steps.append(model.decode_unchecked(tgt[:, t:t + 1], memory, src_mask, offset=t, cache=cache)[:, -1])
        weights = [(layer.self_attn.last_weights, layer.cross_attn.last_weights) for layer in model.decoder.layers]
    return torch.stack(steps, dim=1), weights


@pytest.mark.parametrize("options", [dict(), dict(norm_first=True), dict(positional="learned"),
                                     dict(tie_output=True, share_embeddings=True, src_vocab_size=13)])
def test_one_token_step_gives_the_logits_and_weights_of_the_layers(gen, options):
    torch.manual_seed(0)
    config = dict(src_vocab_size=17, tgt_vocab_size=13, d_model=32, n_heads=4, n_layers=2, d_ff=64, max_len=64)
    model = Transformer(TransformerConfig(**{**config, **options})).eval()
    src, tgt = random_src(gen).clamp(max=12), torch.randint(3, 13, (5, 9), generator=gen)
    fast, fast_weights = decode_steps(model, src, tgt, fast=True)
    slow, slow_weights = decode_steps(model, src, tgt, fast=False)
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=1e-6)
    for (self_got, cross_got), (self_want, cross_want) in zip(fast_weights, slow_weights):
        assert self_got.shape == (5, 4, 1, 9) and cross_got.shape == (5, 4, 1, src.size(1))  # the last step's
        torch.testing.assert_close(self_got, self_want, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(cross_got, cross_want, atol=1e-6, rtol=1e-6)


def test_one_token_step_with_fast_attention_and_with_a_part_of_its_own(gen):
    model = tiny_model()
    src, tgt = random_src(gen), torch.randint(3, 13, (5, 6), generator=gen)
    for layer in model.decoder.layers:
        layer.self_attn.fast = layer.cross_attn.fast = True
    fast, weights = decode_steps(model, src, tgt, fast=True)
    torch.testing.assert_close(fast, decode_steps(model, src, tgt, fast=False)[0], atol=1e-6, rtol=1e-6)
    assert all(w is None for pair in weights for w in pair)  # the fused kernel keeps no weights

    class Norm(nn.LayerNorm):  # a replaced module: the loops must call the layers themselves
        pass
    model = tiny_model()
    reference = greedy_decode(model, src, max_new_tokens=12)
    model.decoder.layers[1].norm2 = Norm(32)
    model.decoder.layers[1].norm2.load_state_dict(tiny_model().decoder.layers[1].norm2.state_dict())
    with torch.inference_mode():
        cache = model.new_cache()
        model.decode(tgt[:, :1], model.encode(src), model_src_mask(src), cache=cache)
        assert model.one_token_step(cache, model_src_mask(src)) is None
    assert torch.equal(greedy_decode(model, src, max_new_tokens=12), reference)
    assert torch.equal(greedy_decode(model, src, max_new_tokens=12, use_cache=False), reference)


def test_one_token_step_refuses_a_cache_the_first_step_did_not_fill():
    model = tiny_model()
    with pytest.raises(ValueError, match="one filled entry per decoder layer"):
        model.one_token_step(model.new_cache(), None)  # no first step yet: no keys and values of the memory
    with torch.inference_mode():
        cache = model.new_cache()
        model.decode(torch.tensor([[BOS]]), model.encode(torch.tensor([[5, 6]])), None, cache=cache)
        assert model.one_token_step(cache, None) is not None
        with pytest.raises(ValueError, match=r"one filled entry per decoder layer, 2\)"):
            model.one_token_step(cache[:1], None)  # one layer would be skipped


@pytest.mark.parametrize("change", ["in place", "through .data", "load_state_dict"])
def test_a_changed_weight_is_used_by_the_next_cached_decoding(gen, change):
    """The stacked q/k/v weights of the cached step are built for each decoding: a weight
    changed between two decodings (in any way) is the one the next decoding uses."""
    model, other = tiny_model(seed=0), tiny_model(seed=5)
    src = random_src(gen)
    before = greedy_decode(model, src, max_new_tokens=16, eos_id=-1)
    for i, layer in enumerate(model.decoder.layers):
        for name in ("w_q", "w_k", "w_v"):
            mine, theirs = getattr(layer.self_attn, name), getattr(other.decoder.layers[i].self_attn, name)
            with torch.no_grad():
                if change == "in place":
                    mine.weight.copy_(theirs.weight)
                elif change == "through .data":  # changes the values without a new version of the tensor
                    mine.weight.data.copy_(theirs.weight)
                else:
                    mine.load_state_dict(theirs.state_dict())
    after = greedy_decode(model, src, max_new_tokens=16, eos_id=-1)
    assert not torch.equal(after, before)
    assert torch.equal(after, greedy_decode(model, src, max_new_tokens=16, eos_id=-1, use_cache=False))


def test_scores_too_large_to_sum_are_not_mistaken_for_nan(gen):
    """The stopping test reads the scores' sum: a sum that overflows float32 (every score
    finite) must be looked at score by score, not refused as NaN or inf."""
    model = tiny_model()
    with torch.no_grad():
        model.out_proj.bias.fill_(3e38)  # 13 scores of about 3e38 each: their sum is inf
    src = random_src(gen)
    cached = greedy_decode(model, src, max_new_tokens=6)
    assert torch.equal(cached, greedy_decode(model, src, max_new_tokens=6, use_cache=False))
    assert cached.shape == (5, 6)


class ScriptedModel(nn.Module):
    """A stand-in whose next-token probabilities are a fixed table keyed by the prefix
    (<bos> excluded); unknown prefixes end with <eos>. Decoding must not care that no
    attention happens inside."""

    def __init__(self, table, vocab_size=5):
        super().__init__()
        self.table, self.V = table, vocab_size
        self.calls, self.first_inputs = 0, []
        self.dummy = nn.Parameter(torch.zeros(1))

    def encode(self, src, src_mask=None):
        return torch.zeros(src.size(0), src.size(1), 1)

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None, offset=0, cache=None):
        self.calls += 1
        self.first_inputs.append(tgt[:, 0].tolist())
        logits = torch.empty(tgt.size(0), tgt.size(1), self.V)
        for b, row in enumerate(tgt.tolist()):
            for t in range(len(row)):
                probs = torch.full((self.V,), 1e-6)
                for token, p in self.table.get((b,) + tuple(row[1:t + 1]),
                                               self.table.get(tuple(row[1:t + 1]), {EOS: 1.0})).items():
                    probs[token] = p
                logits[b, t] = probs.log()
        return logits


def sequence_log_prob(model, tokens):
    """log P of one generated row under the scripted model (up to and including <eos>)."""
    prefix, total = [], 0.0
    for tok in tokens:
        probs = model.table.get(tuple(prefix), {EOS: 1.0})
        total += math.log(probs.get(tok, 1e-6) / (sum(probs.values()) + 1e-6 * (model.V - len(probs))))
        prefix.append(tok)
        if tok == EOS:
            break
    return total


def test_beam_search_beats_greedy_on_a_garden_path():
    # Greedy grabs A (0.6) and then faces a flat distribution; B (0.4) leads to a sure <eos>.
    table = {(): {A: 0.6, B: 0.4},
             (A,): {A: 0.34, B: 0.33, EOS: 0.33},
             (A, A): {EOS: 1.0},
             (B,): {EOS: 0.99, A: 0.01}}
    model = ScriptedModel(table)
    src = torch.tensor([[3, 4]])
    greedy = greedy_decode(model, src, max_new_tokens=6, use_cache=False)[0].tolist()
    beam = beam_search(model, src, beam_size=2, length_penalty=0.0, max_new_tokens=6, use_cache=False)[0].tolist()
    assert greedy == [A, A, EOS]
    assert beam == [B, EOS]
    assert sequence_log_prob(model, beam) > sequence_log_prob(model, greedy) + 0.5


def test_length_penalty_prefers_longer_hypotheses():
    # Short: A <eos> (log P = log 0.5); long: B B B <eos> (log P = log 0.45 + 3 log 0.97).
    table = {(): {A: 0.5, B: 0.45}, (A,): {EOS: 1.0}, (B,): {B: 0.97}, (B, B): {B: 0.97},
             (B, B, B): {EOS: 0.97}}
    model = ScriptedModel(table)
    src = torch.tensor([[3]])
    kw = dict(beam_size=2, max_new_tokens=8, use_cache=False)
    assert beam_search(ScriptedModel(table), src, length_penalty=0.0, **kw)[0].tolist() == [A, EOS]
    assert beam_search(model, src, length_penalty=1.0, **kw)[0].tolist() == [B, B, B, EOS]
    assert gnmt_length_penalty(torch.tensor(1.0), 0.6) == pytest.approx(1.0)


def test_greedy_starts_at_bos_and_stops_each_row_at_eos():
    # Row 0 ends after one token, row 1 after three; decoding stops when both have ended.
    table = {(0,): {A: 1.0}, (0, A): {EOS: 1.0},
             (1,): {B: 1.0}, (1, B): {B: 1.0}, (1, B, B): {A: 1.0}, (1, B, B, A): {EOS: 1.0}}
    model = ScriptedModel(table)
    out = greedy_decode(model, torch.tensor([[3, 3], [4, 4]]), max_new_tokens=10, bos_id=BOS, eos_id=EOS,
                        use_cache=False)
    assert out.tolist() == [[A, EOS, PAD, PAD], [B, B, A, EOS]]
    assert model.calls == 4  # stopped as soon as every row had its <eos>
    assert all(first == [BOS, BOS] for first in model.first_inputs)


def test_greedy_respects_max_new_tokens(gen):
    model = tiny_model()
    out = greedy_decode(model, random_src(gen), max_new_tokens=3)
    assert out.shape == (5, 3)


def test_decoding_rejects_bad_arguments(gen):
    model = tiny_model()
    src = random_src(gen)
    with pytest.raises(ValueError, match="src must be a \\(B, S\\) tensor"):
        greedy_decode(model, src[0])
    with pytest.raises(ValueError, match="max_new_tokens"):
        greedy_decode(model, src, max_new_tokens=0)
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(model, src, max_new_tokens=65)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, src, beam_size=0)
    with pytest.raises(ValueError, match="length_penalty"):
        beam_search(model, src, length_penalty=-1)


def test_decoding_restores_training_mode(gen):
    model = tiny_model().train()
    greedy_decode(model, random_src(gen), max_new_tokens=3)
    assert model.training


# ----------------------------------------------------------------------------- one path for each job
def test_inference_context_restores_the_mode_also_after_an_error():
    model = tiny_model().train()
    with inference(model):
        assert not model.training and not torch.is_grad_enabled()
    assert model.training and torch.is_grad_enabled()
    with pytest.raises(RuntimeError, match="boom"):
        with inference(model):
            raise RuntimeError("boom")
    assert model.training
    model.eval()
    with inference(model):
        pass
    assert not model.training


def test_special_ids_come_from_the_caller_then_the_config_then_the_vocabulary():
    model = tiny_model()
    assert special_ids(model) == (Vocab.bos_id, Vocab.eos_id, model.config.pad_id)
    assert special_ids(model, bos_id=5, eos_id=6, pad_id=7) == (5, 6, 7)
    config_ids = SimpleNamespace(config=SimpleNamespace(bos_id=8, eos_id=9, pad_id=10))
    assert special_ids(config_ids) == (8, 9, 10)
    with pytest.raises(TypeError, match="eos_id must be an int"):
        special_ids(model, eos_id="2")


def test_cut_at_eos_keeps_the_eos_and_rows_without_one():
    rows = torch.tensor([[5, 2, 0, 0], [5, 6, 7, 8], [2, 0, 0, 0]])
    assert cut_at_eos(rows, 2) == [[5, 2], [5, 6, 7, 8], [2]]
    assert cut_at_eos([[1, 2, 3]], 3) == [[1, 2, 3]]


def test_evaluate_is_the_same_with_and_without_the_cache_and_counts_pairs():
    src_vocab, tgt_vocab = build_vocabs()
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab), d_model=16,
                                          n_heads=2, n_layers=1, d_ff=32, dropout=0.0, max_len=32)).eval()
    pairs = make_splits(seed=0, n_train=0, n_test=6, n_compositional=0).test
    cached = evaluate(model, pairs, src_vocab, tgt_vocab, batch_size=4)
    plain = evaluate(model, pairs, src_vocab, tgt_vocab, batch_size=4, use_cache=False, bleu=False)
    assert cached["hypotheses"] == plain["hypotheses"] and cached["n"] == plain["n"] == 6
    assert cached["exact_match"] == exact_match(cached["hypotheses"], [p.tgt for p in pairs])
    assert "bleu" in cached and "bleu" not in plain
    with pytest.raises(ValueError, match="pairs is empty"):
        evaluate(model, [], src_vocab, tgt_vocab)
    with pytest.raises(ValueError, match="sentence 1 is empty"):
        translate_batch(model, src_vocab, tgt_vocab, [["the", "dog", "."], []])
