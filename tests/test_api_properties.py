"""Property-based tests of the public API (Hypothesis): for any shapes, dtypes, masks and
arguments, a call gives either a clear error (a ValueError or TypeError whose message names
the argument) or a finite, documented result. Never a traceback from deep inside torch,
never a silent NaN.

The sizes are tiny and the example counts small, so the suite runs in seconds.
"""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course_utils.corpus.data import Vocab
from course_utils.transformer.attention import attention, sdpa_attention
from course_utils.transformer.layers import MultiHeadAttention, merge_heads, split_heads
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.model import MAX_PARAMETERS, Transformer, TransformerConfig
from course_utils.transformer.positional import LearnedPositionalEncoding, PositionalEncoding

# no example database: every run draws fresh examples, none replayed from an earlier run
SETTINGS = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
CHEAP = settings(SETTINGS, max_examples=300)  # for calls that build no model

# values of the wrong kind that learners and scripts really pass
LOOKALIKES = [None, True, False, "1", "false", 1.5, float("nan"), float("inf"), -1, 0, 10**12, [1], (2,)]


def clear_error(err: Exception, *names: str) -> None:
    """The error is a ValueError/TypeError whose message names one of `names`."""
    assert isinstance(err, (ValueError, TypeError)), f"{type(err).__name__}: {err}"
    assert any(n in str(err) for n in names), f"message names none of {names}: {err}"


def call(fn, *names):
    """fn() -> its result, or None after checking the error is clear."""
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - the property is about which exceptions
        clear_error(err, *names)
        return None


# --- the primitive: attention and sdpa_attention -------------------------------------
dims = st.integers(1, 4)
float_dtypes = st.sampled_from([torch.float32, torch.float64])


@st.composite
def attention_inputs(draw):
    B, H, T_q, T_k, d_k, d_v = (draw(dims) for _ in range(6))
    shapes = {"q": (B, H, T_q, d_k), "k": (B, H, T_k, d_k), "v": (B, H, T_k, d_v)}
    if draw(st.booleans()):  # now and then one wrong size, dim count or batch
        name = draw(st.sampled_from(sorted(shapes)))
        shape = list(shapes[name])
        shape[draw(st.integers(0, 3))] += draw(st.integers(1, 2))
        shapes[name] = tuple(shape[draw(st.integers(0, 2)):]) if draw(st.booleans()) else tuple(shape)
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    tensors = {n: torch.randn(s, generator=g).to(draw(float_dtypes) if draw(st.integers(0, 5)) == 0
                                                     else torch.float32) for n, s in shapes.items()}
    mask_kind = draw(st.sampled_from(["none", "full", "row", "wrong", "float"]))
    if mask_kind == "none":
        mask = None
    else:
        mshape = {"full": (B, H, T_q, T_k), "row": (B, 1, 1, T_k), "wrong": (B + 1, 1, T_q, T_k),
                  "float": (T_q, T_k)}[mask_kind]
        mask = torch.rand(mshape, generator=g) < draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
        if mask_kind == "float":
            mask = mask.float()
    return tensors["q"], tensors["k"], tensors["v"], mask


@SETTINGS
@given(attention_inputs())
def test_attention_is_a_clear_error_or_finite_and_equal_in_both_paths(inputs):
    q, k, v, mask = inputs
    names = ("q", "k", "v", "mask")
    slow = call(lambda: attention(q, k, v, mask), *names)
    fast = call(lambda: sdpa_attention(q, k, v, mask), *names)
    assert (slow is None) == (fast is None), "the two paths must accept the same inputs"
    if slow is None:
        return
    (out, weights), (out_fast, _) = slow, fast
    assert out.shape == (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]), q.size(-2), v.size(-1))
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    torch.testing.assert_close(out, out_fast, atol=1e-5, rtol=1e-4)
    sums = weights.sum(-1)
    if mask is None:
        torch.testing.assert_close(sums, torch.ones_like(sums))
    else:
        allowed = mask.expand_as(weights)
        assert (weights[~allowed] == 0).all()  # blocked keys: exactly zero
        empty = ~allowed.any(-1)  # a fully masked row: zero weights and zero output (documented)
        assert (sums[empty] == 0).all() and (out[empty.expand(out.shape[:-1])] == 0).all()
        torch.testing.assert_close(sums[~empty], torch.ones_like(sums[~empty]))


# --- multi-head attention: masks of every shape, both paths ---------------------------
MHA = MultiHeadAttention(8, 2).eval()


@SETTINGS
@given(B=dims, T_q=dims, T_k=dims,
       mshape=st.sampled_from(["B1QK", "11QK", "BHQK", "B11K", "QK", "K", "wrongB", "wrongH", "3d", "wrongQ"]),
       p=st.sampled_from([0.0, 0.5, 1.0]), dtype=st.sampled_from([torch.float32, torch.float32, torch.float64]),
       seed=st.integers(0, 2**16))
def test_multi_head_attention_with_any_mask(B, T_q, T_k, mshape, p, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x_q, x_kv = torch.randn(B, T_q, 8, generator=g, dtype=dtype), torch.randn(B, T_k, 8, generator=g)
    shape = {"B1QK": (B, 1, T_q, T_k), "11QK": (1, 1, T_q, T_k), "BHQK": (B, 2, T_q, T_k), "B11K": (B, 1, 1, T_k),
             "QK": (T_q, T_k), "K": (T_k,), "wrongB": (B + 1, 1, T_q, T_k), "wrongH": (B, 3, T_q, T_k),
             "3d": (B + 1, T_q, T_k), "wrongQ": (B, 1, T_q + 1, T_k)}[mshape]
    mask = torch.rand(shape, generator=g) < p
    results = []
    for fast in (False, True):
        MHA.fast = fast
        results.append(call(lambda: MHA(x_q, x_kv, mask), "mask", "x_q", "x_kv"))
    MHA.fast = False
    assert (results[0] is None) == (results[1] is None)
    if results[0] is not None:
        assert results[0].shape == (B, T_q, 8) and torch.isfinite(results[0]).all()
        torch.testing.assert_close(results[0], results[1], atol=1e-5, rtol=1e-4)


@SETTINGS
@given(x_dims=st.lists(st.integers(1, 4), min_size=1, max_size=5),
       n_heads=st.sampled_from([1, 2, 3, 0, -1, 2.0, True, "2"]))
def test_split_and_merge_heads_error_or_round_trip(x_dims, n_heads):
    x = torch.randn(*x_dims)
    h = call(lambda: split_heads(x, n_heads), "split_heads")
    if h is not None:
        assert h.shape == (x_dims[0], n_heads, x_dims[1], x_dims[2] // n_heads)
        assert torch.equal(merge_heads(h), x)
    if x.dim() != 4:
        call(lambda: merge_heads(x), "merge_heads") and pytest.fail("merge_heads accepted a non-4-D tensor")


# --- masks -----------------------------------------------------------------------------
@CHEAP
@given(T=st.one_of(st.integers(-3, 40), st.sampled_from(LOOKALIKES)))
def test_causal_mask_error_or_lower_triangle(T):
    m = call(lambda: causal_mask(T), "causal_mask: T")
    if m is not None:
        assert m.dtype == torch.bool and m.shape == (T, T) and torch.equal(m, torch.ones(T, T).tril().bool())


@SETTINGS
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=3), dtype=st.sampled_from(
    [torch.long, torch.int32, torch.uint8, torch.float32, torch.bool]), pad_id=st.sampled_from([0, 1, 0.5, None, "0"]))
def test_padding_mask_error_or_true_at_real_tokens(shape, dtype, pad_id):
    tokens = torch.randint(0, 3, shape).to(dtype)
    m = call(lambda: padding_mask(tokens, pad_id), "padding_mask: tokens", "padding_mask: pad_id")
    if m is not None:
        assert m.shape == (shape[0], 1, 1, shape[1]) and torch.equal(m[:, 0, 0], tokens != pad_id)


# --- positional encodings --------------------------------------------------------------
@SETTINGS
@given(Pos=st.sampled_from([PositionalEncoding, LearnedPositionalEncoding]), T=st.integers(1, 12),
       offset=st.one_of(st.integers(-3, 12), st.sampled_from([1.0, True, None])),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.float16, torch.long, torch.int32]),
       width=st.sampled_from([6, 5]))
def test_positional_encoding_error_or_same_dtype_and_finite(Pos, T, offset, dtype, width):
    pe = Pos(6, max_len=10)
    x = torch.zeros(2, T, width).to(dtype)
    out = call(lambda: pe(x, offset=offset), Pos.__name__)
    if out is not None:
        assert out.dtype == dtype and out.shape == x.shape and torch.isfinite(out).all()
        assert 0 <= offset and offset + T <= 10  # accepted only inside the table


# --- the model and its config ----------------------------------------------------------
VALID_CONFIG = {
    "d_model": [8, 16, 32], "n_heads": [1, 2, 4, 8], "n_layers": [1, 2], "d_ff": [4, 32], "dropout": [0.0, 0.1, 0],
    "max_len": [8, 64, 65_536], "norm_first": [True, False], "tie_output": [True, False],
    "share_embeddings": [True, False], "positional": ["sinusoidal", "learned"], "pad_id": [0, 3],
}
BAD_CONFIG = {  # each is wrong whatever the other fields are
    "d_model": [0, 8.0, True, "8", 10**9], "n_heads": [0, 2.0, False, 5], "n_layers": [0, -1, 1.0, None],
    "d_ff": [0, 2.5], "dropout": [1.0, -0.1, float("nan"), "0.1", True], "max_len": [0, 10**12, 65_537, 8.0],
    "norm_first": ["no", "false", 0, 1, None], "tie_output": ["false", 1], "share_embeddings": ["yes", 0],
    "positional": ["rope", 1], "pad_id": [0.5, -1, 20, True, "0"],
}


@st.composite
def configs(draw):
    """Keyword arguments with at most one wrong field (named), the others valid or default."""
    kw = {name: draw(st.sampled_from(values)) for name, values in VALID_CONFIG.items() if draw(st.booleans())}
    bad = draw(st.one_of(st.none(), st.sampled_from(sorted(BAD_CONFIG))))
    if bad is not None:
        kw[bad] = draw(st.sampled_from(BAD_CONFIG[bad]))
    return kw, bad


@CHEAP
@given(configs(), st.sampled_from([20, 6]))
def test_config_error_names_the_wrong_field_or_every_field_has_its_type(kw_bad, vocab):
    kw, bad = kw_bad
    try:
        cfg = TransformerConfig(vocab, vocab, **kw)
    except (TypeError, ValueError) as err:
        assert bad is not None, f"a valid config was refused: {err}"
        assert f"TransformerConfig.{bad}" in str(err) or f"{bad}=" in str(err) or bad in str(err), str(err)
        return
    assert bad is None, f"{bad}={kw[bad]!r} was accepted"
    for name in ("norm_first", "tie_output", "share_embeddings"):
        assert type(getattr(cfg, name)) is bool
    for name in ("d_model", "n_heads", "n_layers", "d_ff", "max_len", "pad_id"):
        assert type(getattr(cfg, name)) is int
    assert 0 <= cfg.pad_id < vocab and cfg.d_model % cfg.n_heads == 0
    assert 0 <= cfg.dropout < 1 and cfg.approx_parameters <= MAX_PARAMETERS and cfg.max_len <= 65_536


torch.manual_seed(0)
MODEL = Transformer(TransformerConfig(12, 14, d_model=8, n_heads=2, n_layers=1, d_ff=16, max_len=10)).eval()


@st.composite
def token_batches(draw):
    B, S, T = draw(st.integers(0, 3)), draw(st.integers(0, 12)), draw(st.integers(0, 12))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    src = torch.randint(0, 13, (B, S), generator=g)  # 12 is outside the source vocabulary
    tgt = torch.randint(0, 15, (B, T), generator=g)
    if B and S and draw(st.booleans()):
        src[draw(st.integers(0, B - 1))] = 0  # an all-padding source row
    if draw(st.integers(0, 4)) == 0:
        src = src.to(draw(st.sampled_from([torch.float32, torch.bool, torch.int32])))
    if draw(st.integers(0, 5)) == 0:
        tgt = tgt[:, None]
    return src, tgt


@SETTINGS
@given(token_batches())
def test_transformer_forward_error_or_finite_logits(batch):
    src, tgt = batch
    with torch.no_grad():
        logits = call(lambda: MODEL(src, tgt), "src", "tgt")
    if logits is not None:
        assert logits.shape == (src.size(0), tgt.size(1), 14) and torch.isfinite(logits).all()
        assert (src != 0).any(-1).all()  # no all-padding source got through


@CHEAP
@given(idx=st.one_of(st.integers(-10, 15), st.sampled_from([1.0, True, None, "3"])))
def test_vocab_id_to_token_error_or_the_token(idx):
    v = Vocab(["dog", "cat", "chases"])
    tok = call(lambda: v.id_to_token(idx), "Vocab.id_to_token")
    if tok is not None:
        assert 0 <= idx < len(v) and tok == v.itos[idx]


def test_the_suite_catches_a_silent_nan():
    """The properties above can fail: a by-hand attention without the empty-row rule gives
    NaN for a fully masked row, which the attention property would reject."""
    q = torch.randn(1, 2, 3)
    mask = torch.tensor([[False, False], [True, False]])
    naive = (q @ q.transpose(-2, -1) / math.sqrt(3)).masked_fill(~mask, float("-inf")).softmax(-1)
    assert torch.isnan(naive).any()
    out, weights = attention(q, q, q, mask)
    assert torch.isfinite(out).all() and (weights[0, 0] == 0).all()
