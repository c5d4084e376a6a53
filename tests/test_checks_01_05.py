"""Checkers of lessons 01-05: every correct variant passes, every known mistake fails with
its own hint, garbage fails without raising."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.course.checks import check
from course_utils.course.checks import lessons_01_05 as L


@pytest.fixture(autouse=True)
def _not_strict(monkeypatch):
    monkeypatch.delenv("COURSE_STRICT", raising=False)


def passes(ex_id, obj):
    r = check(ex_id, obj)
    assert r.status == "passed", repr(r)


def fails_with(ex_id, obj, hint):
    r = check(ex_id, obj)
    assert r.status == "failed", repr(r)
    assert r.hint == hint, repr(r)


def fails(ex_id, obj, text=""):
    r = check(ex_id, obj)
    assert r.status == "failed" and text in r.message, repr(r)


def pending(ex_id):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"Exercise {ex_id}: your code here")

    assert check(ex_id, stub).status == "pending"


# ============================================================================ 01

def test_weighted_sum():
    passes("01.weighted_sum", lambda w, v: w @ v)
    passes("01.weighted_sum", lambda w, v: (w[:, None] * v).sum(0))
    passes("01.weighted_sum", lambda w, v: torch.einsum("n,nd->d", w, v))
    passes("01.weighted_sum", lambda w, v: sum(w[i] * v[i] for i in range(len(w))))
    fails_with("01.weighted_sum", lambda w, v: v.sum(0), L.HINT_NO_WEIGHTS)
    fails_with("01.weighted_sum", lambda w, v: v.mean(0), L.HINT_MEAN)
    fails("01.weighted_sum", lambda w, v: w * v[:, 0], "shape")
    pending("01.weighted_sum")


def _softmax_stable(s, t=1.0):
    z = s / t
    z = z - z.max(dim=-1, keepdim=True).values
    return z.exp() / z.exp().sum(-1, keepdim=True)


def test_softmax_temperature():
    passes("01.softmax_temperature", _softmax_stable)
    passes("01.softmax_temperature", lambda s, t=1.0: torch.softmax(s / t, dim=-1))
    passes("01.softmax_temperature", lambda s, t=1.0: (s / t - torch.logsumexp(s / t, -1, keepdim=True)).exp())
    fails_with("01.softmax_temperature", lambda s, t=1.0: _softmax_stable(s * t), L.HINT_TEMP_MULT)
    fails_with("01.softmax_temperature", lambda s, t=1.0: torch.softmax(s / t, dim=0), L.HINT_AXIS)
    fails_with("01.softmax_temperature", lambda s, t=1.0: (s / t).exp(), L.HINT_NO_NORM)
    fails_with("01.softmax_temperature", lambda s, t=1.0: (s / t).exp() / (s / t).exp().sum(-1, keepdim=True),
               L.HINT_UNSTABLE)
    pending("01.softmax_temperature")


def test_soft_lookup():
    def ok(q, k, v):
        w = torch.softmax(k @ q, -1)
        return w @ v, w

    def einsum(q, k, v):
        w = torch.einsum("nd,d->n", k, q).softmax(0)
        return torch.einsum("n,nv->v", w, v), w

    passes("01.soft_lookup", ok)
    passes("01.soft_lookup", einsum)

    def hard(q, k, v):
        w = F.one_hot((k @ q).argmax(), k.size(0)).float()
        return w @ v, w

    def raw(q, k, v):
        s = k @ q
        return s @ v, s

    fails_with("01.soft_lookup", hard, L.HINT_HARD)
    fails_with("01.soft_lookup", raw, L.HINT_RAW_SCORES)
    fails("01.soft_lookup", lambda q, k, v: ok(q, k, v)[0], "tuple of 2")
    pending("01.soft_lookup")


# ============================================================================ 02

def test_rnn_step():
    passes("02.rnn_step", lambda x, h, wx, wh, b: torch.tanh(x @ wx + h @ wh + b))
    passes("02.rnn_step", lambda x, h, wx, wh, b: torch.tanh(torch.addmm(b, x, wx) + torch.mm(h, wh)))
    fails_with("02.rnn_step", lambda x, h, wx, wh, b: x @ wx + h @ wh + b, L.HINT_NO_TANH)
    fails_with("02.rnn_step", lambda x, h, wx, wh, b: torch.tanh(x @ wx + b), L.HINT_NO_HIDDEN)
    fails_with("02.rnn_step", lambda x, h, wx, wh, b: torch.tanh(x @ wx + h @ wh), L.HINT_NO_BIAS)
    pending("02.rnn_step")


def _rnn_loop(x, h0, wx, wh, b):
    h, states = h0, []
    for t in range(x.size(1)):
        h = torch.tanh(x[:, t] @ wx + h @ wh + b)
        states.append(h)
    return torch.stack(states, 1), h


def test_rnn_forward():
    passes("02.rnn_forward", _rnn_loop)

    def prealloc(x, h0, wx, wh, b):
        B, T, _ = x.shape
        states = torch.empty(B, T, h0.size(1))
        xw = x @ wx  # input projections of all steps at once
        h = h0
        for t in range(T):
            h = torch.tanh(xw[:, t] + h @ wh + b)
            states[:, t] = h
        return states, states[:, -1]

    passes("02.rnn_forward", prealloc)

    def stale(x, h0, wx, wh, b):
        states = torch.stack([torch.tanh(x[:, t] @ wx + h0 @ wh + b) for t in range(x.size(1))], 1)
        return states, states[:, -1]

    fails("02.rnn_forward", stale)
    assert "previous step" in check("02.rnn_forward", stale).hint
    r = check("02.rnn_forward", lambda *a: (_rnn_loop(*a)[0].flip(1), _rnn_loop(*a)[1]))
    assert "reverse order" in r.hint
    r = check("02.rnn_forward", lambda *a: (_rnn_loop(*a)[0], a[1]))
    assert "h_last" in r.message and "not the initial state" in r.hint
    pending("02.rnn_forward")


def test_predict_gradient():
    passes("02.predict_gradient", 0.5 ** 10)
    passes("02.predict_gradient", 0.000977)
    passes("02.predict_gradient", torch.tensor(0.5 ** 10))
    for wrong, word in ((5.0, "multiply"), (0.5 ** 9, "Count"), (0.5 ** 11, "Count"), (1.0, "halves")):
        assert word in check("02.predict_gradient", wrong).hint
    r = check("02.predict_gradient", 0.3)
    assert r.status == "failed" and r.hint is None and "0.3" in r.message
    fails("02.predict_gradient", "0.001", "number")
    assert check("02.predict_gradient", ...).status == "pending"


# ============================================================================ 03

def _word2idx(sentences):
    table = {}
    for s in sentences:
        for t in s:
            table.setdefault(t, len(table) + 1)
    return table


def test_word2idx():
    passes("03.word2idx", _word2idx)
    passes("03.word2idx", lambda ss: {w: i + 1 for i, w in enumerate(dict.fromkeys(t for s in ss for t in s))})
    assert "reserved for padding" in check("03.word2idx", lambda ss: {w: i - 1 for w, i in _word2idx(ss).items()}).hint
    assert "first appearance" in check(
        "03.word2idx", lambda ss: {w: i + 1 for i, w in enumerate(sorted({t for s in ss for t in s}))}).hint

    def renumbers(ss):
        table, n = {}, 0
        for s in ss:
            for t in s:
                n += 1
                table[t] = n
        return table

    assert "keeps the id" in check("03.word2idx", renumbers).hint
    fails("03.word2idx", lambda ss: list(_word2idx(ss)), "dict")
    fails("03.word2idx", lambda ss: {"狗": 1}, "Missing")

    def mutates(ss):
        ss.append(["x"])
        return _word2idx(ss)

    fails("03.word2idx", mutates, "changed its input")
    pending("03.word2idx")


def test_predict_permutation():
    passes("03.predict_permutation", 2)
    assert "position 2" in check("03.predict_permutation", 0).hint
    assert "追" in check("03.predict_permutation", 1).hint
    assert "unchanged" in check("03.predict_permutation", None).hint
    fails("03.predict_permutation", 2.0, "int")
    fails("03.predict_permutation", True, "int")
    assert check("03.predict_permutation", ...).status == "pending"


def _pe_loops(max_len, d_model):
    pe = torch.zeros(max_len, d_model)
    for pos in range(max_len):
        for i in range(0, d_model, 2):
            pe[pos, i] = math.sin(pos / 10000 ** (i / d_model))
            pe[pos, i + 1] = math.cos(pos / 10000 ** (i / d_model))
    return pe


def test_sinusoidal_encoding():
    from course_utils.transformer.positional import sinusoidal_encoding as ref

    passes("03.sinusoidal_encoding", ref)
    passes("03.sinusoidal_encoding", _pe_loops)
    passes("03.sinusoidal_encoding", lambda n, d: _pe_loops(n, d).double())  # float64 is accepted
    for wrong, word in ((L._pe_swapped, "even columns"), (L._pe_concat, "Interleave"),
                        (L._pe_per_column, "share one frequency"),
                        (lambda n, d: L._pe_variant(n, d, lambda i: i), "Divide the exponent"),
                        (lambda n, d: L._pe_variant(n, d, lambda i: -i / d), "multiplied"),
                        (lambda n, d: L._pe_variant(n, d, lambda i: 2 * i / d), "twice")):
        r = check("03.sinusoidal_encoding", wrong)
        assert r.status == "failed" and word in (r.hint or ""), repr(r)
    fails("03.sinusoidal_encoding", lambda n, d: ref(n, d).T, "swapped")
    pending("03.sinusoidal_encoding")


def test_embed_with_positions():
    passes("03.embed_with_positions", lambda ids, table, pe: table[ids] + pe[: ids.size(1)])
    passes("03.embed_with_positions", lambda ids, table, pe: F.embedding(ids, table) + pe[None, : ids.shape[1], :])
    passes("03.embed_with_positions",
           lambda ids, table, pe: F.one_hot(ids, table.size(0)).float() @ table + pe[: ids.size(1)])
    assert "Add the positional" in check("03.embed_with_positions", lambda ids, t, pe: t[ids]).hint
    assert "pe[0]" in check("03.embed_with_positions", lambda ids, t, pe: t[ids] + pe[0]).hint
    assert "√d_model" in check("03.embed_with_positions",
                                lambda ids, t, pe: t[ids] * math.sqrt(t.size(1)) + pe[: ids.size(1)]).hint
    assert "not along the batch" in check("03.embed_with_positions",
                                          lambda ids, t, pe: t[ids] + pe[: ids.size(0), None]).hint
    pending("03.embed_with_positions")


# ============================================================================ 04

def _attn_matmul(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    w = scores.softmax(-1)
    return w @ v, w


def _attn_einsum_1e9(q, k, v, mask=None):
    scores = torch.einsum("...qd,...kd->...qk", q, k) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(-1e9))
    w = torch.softmax(scores, dim=-1)
    return torch.einsum("...qk,...kv->...qv", w, v), w


def _attn_loops(q, k, v, mask=None):
    """Query by query, with a Python loop over the leading axes."""
    lead = q.shape[:-2]
    qf, kf, vf = q.reshape(-1, *q.shape[-2:]), k.reshape(-1, *k.shape[-2:]), v.reshape(-1, *v.shape[-2:])
    m = None if mask is None else mask.expand(*lead, q.size(-2), k.size(-2)).reshape(-1, q.size(-2), k.size(-2))
    outs, ws = [], []
    for n in range(qf.size(0)):
        rows_o, rows_w = [], []
        for i in range(qf.size(1)):
            s = kf[n] @ qf[n, i] / math.sqrt(q.size(-1))
            if m is not None:
                s = s.masked_fill(~m[n, i], float("-inf"))
            w = torch.exp(s - s.max()) / torch.exp(s - s.max()).sum()
            rows_w.append(w)
            rows_o.append(w @ vf[n])
        outs.append(torch.stack(rows_o))
        ws.append(torch.stack(rows_w))
    return torch.stack(outs).reshape(*lead, q.size(-2), v.size(-1)), torch.stack(ws).reshape(*lead, q.size(-2), k.size(-2))


def _variant(**kw):
    return lambda q, k, v, mask=None: L._attn_variant(q, k, v, mask, **kw)


def test_attention_correct_variants():
    for fn in (_attn_matmul, _attn_einsum_1e9, _attn_loops):
        passes("04.attention", fn)

    def with_sdpa_weights(q, k, v, mask=None):  # out from torch, weights by hand
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), _attn_matmul(q, k, v, mask)[1]

    passes("04.attention", with_sdpa_weights)


@pytest.mark.parametrize("kw, hint", [
    (dict(scale=1.0), L.HINT_NO_SCALE),
    (dict(axis=-2), L.HINT_SOFTMAX_AXIS),
    (dict(mask_mode="after"), L.HINT_MASK_AFTER),
    (dict(mask_mode="zero"), L.HINT_MASK_ZERO),
    (dict(mask_mode="inverted"), L.HINT_MASK_INVERTED),
])
def test_attention_known_mistakes(kw, hint):
    fails_with("04.attention", _variant(**kw), hint)


def test_attention_scaling_mistakes_need_their_own_probes():
    def by_dk(q, k, v, mask=None):
        return L._attn_variant(q, k, v, mask, scale=q.size(-1) ** 2)

    def by_dv(q, k, v, mask=None):
        return L._attn_variant(q, k, v, mask, scale=v.size(-1))

    fails_with("04.attention", by_dk, L.HINT_SCALE_DK)
    fails_with("04.attention", by_dv, L.HINT_SCALE_DV)


def test_attention_other_failures():
    fails("04.attention", lambda q, k, v, mask=None: _attn_matmul(q, k, v, mask)[0], "tuple of 2")
    fails("04.attention", lambda q, k, v, mask=None: _attn_matmul(q, k, v, mask)[::-1], "shape")

    def in_place(q, k, v, mask=None):
        q /= math.sqrt(q.size(-1))
        w = (q @ k.transpose(-2, -1)).masked_fill(~mask, float("-inf")).softmax(-1) if mask is not None \
            else (q @ k.transpose(-2, -1)).softmax(-1)
        return w @ v, w

    fails("04.attention", in_place, "in place")

    def nan_rows(q, k, v, mask=None):
        out, w = _attn_matmul(q, k, v, mask)
        return out, w * float("nan")

    fails("04.attention", nan_rows, "NaN")
    pending("04.attention")


def test_fix_attention():
    passes("04.fix_attention", lambda q, k, v: _attn_matmul(q, k, v))

    def buggy(q, k, v):  # the exercise's starting code
        scores = q @ k.transpose(-2, -1)
        weights = scores.softmax(dim=-2)
        return weights @ v, weights

    fails_with("04.fix_attention", buggy, L.HINT_BOTH)
    fails_with("04.fix_attention", lambda q, k, v: L._attn_variant(q, k, v, scale=1.0), L.HINT_NO_SCALE)
    fails_with("04.fix_attention", lambda q, k, v: L._attn_variant(q, k, v, axis=-2), L.HINT_SOFTMAX_AXIS)


def test_predict_score_std():
    passes("04.predict_score_std", 8)
    passes("04.predict_score_std", 7.9)
    assert "variance" in check("04.predict_score_std", 64).hint
    assert "after" in check("04.predict_score_std", 1).hint
    fails("04.predict_score_std", 20)


def test_self_attention():
    def ok(x, wq, wk, wv):
        return _attn_matmul(x @ wq, x @ wk, x @ wv)

    def einsum(x, wq, wk, wv):
        q, k, v = (torch.einsum("btd,de->bte", x, w) for w in (wq, wk, wv))
        return _attn_einsum_1e9(q, k, v)

    passes("04.self_attention", ok)
    passes("04.self_attention", einsum)
    fails_with("04.self_attention", lambda x, wq, wk, wv: _attn_matmul(x @ wq, x @ wq, x @ wv), L.HINT_SWAPPED_PROJ)
    fails_with("04.self_attention", lambda x, wq, wk, wv: L._attn_variant(x @ wq, x @ wk, x @ wv, scale=1.0),
               L.HINT_NO_SCALE)
    fails("04.self_attention", lambda x, wq, wk, wv: _attn_matmul(x, x, x @ wv))
    pending("04.self_attention")


# ============================================================================ 05

def test_split_and_merge_heads():
    passes("05.split_heads", lambda x, h: x.view(x.size(0), x.size(1), h, -1).transpose(1, 2))
    passes("05.split_heads", lambda x, h: x.reshape(*x.shape[:2], h, x.size(2) // h).permute(0, 2, 1, 3))
    passes("05.split_heads", lambda x, h: torch.stack(x.chunk(h, dim=-1), dim=1))
    fails_with("05.split_heads", lambda x, h: x.reshape(x.size(0), h, x.size(1), -1), L.HINT_NO_TRANSPOSE_SPLIT)
    assert "contiguous slices" in check(
        "05.split_heads", lambda x, h: x.view(x.size(0), x.size(1), -1, h).permute(0, 3, 1, 2)).hint
    fails("05.split_heads", lambda x, h: x.view(x.size(0), x.size(1), h, -1), "Axis H is 5, should be 3")
    pending("05.split_heads")

    passes("05.merge_heads", lambda x: x.transpose(1, 2).reshape(x.size(0), x.size(2), -1))
    passes("05.merge_heads", lambda x: torch.cat(x.unbind(1), dim=-1))
    fails_with("05.merge_heads", lambda x: x.reshape(x.size(0), x.size(2), -1), L.HINT_NO_TRANSPOSE_MERGE)
    pending("05.merge_heads")


class _MHA(nn.Module):
    """A correct module, with switches for the known mistakes."""

    def __init__(self, d_model, n_heads, transpose=True, scale_by_d_model=False, use_w_o=True, use_mask=True,
                 fast=False):
        super().__init__()
        self.h, self.d_model = n_heads, d_model
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model) for _ in range(4))
        self.transpose, self.scale_by_d_model, self.use_w_o, self.use_mask, self.fast = \
            transpose, scale_by_d_model, use_w_o, use_mask, fast

    def forward(self, x_q, x_kv, mask=None):
        B, T_q, _ = x_q.shape
        T_k = x_kv.size(1)

        def split(x, T):
            if self.transpose:
                return x.view(B, T, self.h, -1).transpose(1, 2)
            return x.reshape(B, self.h, T, -1)

        q, k, v = split(self.w_q(x_q), T_q), split(self.w_k(x_kv), T_k), split(self.w_v(x_kv), T_k)
        mask = mask if self.use_mask else None
        if self.fast:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            scale = self.d_model if self.scale_by_d_model else q.size(-1)
            s = q @ k.transpose(-2, -1) / math.sqrt(scale)
            if mask is not None:
                s = s.masked_fill(~mask, -1e9)
            out = s.softmax(-1) @ v
        out = out.transpose(1, 2).reshape(B, T_q, -1) if self.transpose else out.reshape(B, T_q, -1)
        return self.w_o(out) if self.use_w_o else out


def _mha_class(**kw):
    class Learner(_MHA):
        def __init__(self, d_model, n_heads):
            super().__init__(d_model, n_heads, **kw)

    return Learner


def test_multi_head_attention():
    from course_utils.transformer.layers import MultiHeadAttention as CourseMHA

    passes("05.multi_head_attention", _mha_class())
    passes("05.multi_head_attention", _mha_class(fast=True))
    passes("05.multi_head_attention", CourseMHA)
    assert "transpose" in check("05.multi_head_attention", _mha_class(transpose=False)).hint
    assert "√d_k" in check("05.multi_head_attention", _mha_class(scale_by_d_model=True)).hint
    assert "w_o" in check("05.multi_head_attention", _mha_class(use_w_o=False)).hint
    assert "mask" in check("05.multi_head_attention", _mha_class(use_mask=False)).hint
    fails("05.multi_head_attention", _mha_class()(12, 3), "class")

    class NoLinear(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()

    fails("05.multi_head_attention", NoLinear, "w_q")

    class NotModule:
        def __init__(self, d_model, n_heads):
            pass

    fails("05.multi_head_attention", NotModule, "nn.Module")

    class Stub(_MHA):
        def __init__(self, d_model, n_heads):
            super().__init__(d_model, n_heads)

        def forward(self, x_q, x_kv, mask=None):
            raise NotImplementedError("Exercise 05.multi_head_attention: your code here")

    assert check("05.multi_head_attention", Stub).status == "pending"


def test_predict_param_count():
    passes("05.predict_param_count", 1_050_624)
    for wrong, word in ((4 * 512 * 512, "bias"), (3 * (512 * 512 + 512), "w_o"), (8 * 1_050_624, "n_heads"),
                        (1_050_624 / 8, "slices"), (3 * 512 * 512, "biases")):
        assert word in check("05.predict_param_count", wrong).hint
    fails("05.predict_param_count", 1_050_625)
