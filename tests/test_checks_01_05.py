"""Graders of lessons 01-05 against answer sets: for every exercise, right answers in
several styles (matmul / einsum / loops / allowed built-ins / float64 inside / -1e9 or
-inf / torch.where, and peer-style code a learner might paste) must pass, and wrong
answers learners write must fail with a hint naming the mistake (asserted by key phrase).

Answers that call an earlier learner function are written as notebook cells (`notebook`),
so that the check finds that function where a learner's notebook has it.
"""

import linecache
import math
import random
from collections import OrderedDict, defaultdict
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from checks_answers import answer_set_tests
from torch import nn

from course_utils.course.checks import check


@pytest.fixture(autouse=True)
def _not_strict(monkeypatch):
    monkeypatch.delenv("COURSE_STRICT", raising=False)
    monkeypatch.setenv("COURSE_NO_PROGRESS", "1")


def notebook(source: str) -> dict:
    """Run `source` as notebook cells would (one shared global namespace, the source kept
    for tracebacks as Jupyter keeps it) and return the namespace."""
    name = f"<cell-{len(linecache.cache)}-{hash(source)}>"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    space = {"torch": torch, "math": math, "np": np, "nn": nn, "F": F, "check": check}
    exec(compile(source, name, "exec"), space)
    return space


def stable_softmax(z, dim=-1):
    e = (z - z.max(dim=dim, keepdim=True).values).exp()
    return e / e.sum(dim=dim, keepdim=True)


# ============================================================================ answer sets
RIGHT: dict[str, list] = {}
WRONG: dict[str, list] = {}  # (answer, key phrase of the hint)

# ---------------------------------------------------------------------------- 01.weighted_sum
RIGHT["01.weighted_sum"] = [
    lambda w, v: w @ v,
    lambda w, v: (w[:, None] * v).sum(0),
    lambda w, v: torch.einsum("n,nd->d", w, v),
    lambda w, v: sum(w[i] * v[i] for i in range(len(w))),
    lambda w, v: v.T @ w,
    lambda w, v: (w.double() @ v.double()),  # float64 result
    lambda w, v: torch.tensordot(w, v, dims=1),
]
WRONG["01.weighted_sum"] = [
    (lambda w, v: v.sum(0), "plain sum"),
    (lambda w, v: v.mean(0), "plain average"),
    (lambda w, v: w[:, None] * v, "sum over the rows"),
    (lambda w, v: (w[:, None] * v).sum(1), "not over the width"),
    (lambda w, v: v @ w, "weights @ values"),
    (lambda w, v: torch.softmax(w, 0) @ v, "no softmax"),
    (lambda w, v: torch.dot(w, v), "takes two vectors"),
    (lambda w, v: w * v, "sum over the rows"),
    (lambda w, v: (w @ v).sum(), "not over everything"),
    (lambda w, v: v[w.argmax()], "instead of picking the best one"),
    (lambda w, v: w.unsqueeze(0) @ v, "without an extra axis"),
    (lambda w, v: w @ v / len(w), "Don't divide by n"),
]

# ---------------------------------------------------------------------------- 01.softmax_temperature


def sm_loop(scores, temperature=1.0):
    flat = (scores / temperature).reshape(-1, scores.shape[-1])
    rows = []
    for row in flat:
        e = torch.exp(row - torch.max(row))
        rows.append(e / torch.sum(e))
    return torch.stack(rows).reshape(scores.shape)


def sm_numpy_port(scores, temperature=1.0):  # the lesson's 1-D NumPy softmax, pasted
    z = np.asarray(scores, dtype=float) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


def sm_torch_port(scores, temperature=1.0):  # the same, translated to torch line by line
    z = scores / temperature
    e = torch.exp(z - z.max())
    return e / e.sum()


RIGHT["01.softmax_temperature"] = [
    lambda s, t=1.0: stable_softmax(s / t),
    lambda s, t=1.0: (s / t - torch.logsumexp(s / t, -1, keepdim=True)).exp(),
    lambda s, t=1.0: stable_softmax((s / t).double()),  # float64 inside and out
    lambda s, t=1.0: stable_softmax((s / t).double()).float(),
    sm_loop,
    lambda s, t=1.0: torch.exp(s / t - (s / t).amax(-1, keepdim=True)) / torch.exp(
        s / t - (s / t).amax(-1, keepdim=True)).sum(-1, keepdim=True),
]
WRONG["01.softmax_temperature"] = [
    (lambda s, t=1.0: torch.softmax(s / t, dim=-1), "write it yourself"),
    (lambda s, t=1.0: F.softmax(s / t, dim=-1), "write it yourself"),
    (lambda s, t=1.0: (s / t).softmax(-1), "write it yourself"),
    (lambda s, t=1.0: stable_softmax(s * t), "Divide the scores by the temperature"),
    (lambda s, t=1.0: stable_softmax(s / t, dim=0), "wrong axis"),
    (lambda s, t=1.0: (s / t).exp(), "divide by the sum"),
    (lambda s, t=1.0: (s / t).exp() / (s / t).exp().sum(-1, keepdim=True), "overflows"),
    (sm_numpy_port, "whole tensor"),
    (sm_torch_port, "whole tensor"),
    (lambda s, t=1.0: (s / t - (s / t).max()).exp() / (s / t - (s / t).max()).exp().sum(-1, keepdim=True),
     "own maximum"),
    (lambda s, t=1.0: (s / t - (s / t).max(-1).values).exp() / (s / t).exp().sum(-1), "keepdim"),
    (lambda s, t=1.0: (s / t - (s / t).max(dim=-1, keepdim=True)).exp(), "`.values`"),
    (lambda s, t=1.0: torch.exp(s / t) / torch.sum(torch.exp(s / t)), "whole tensor"),
    (lambda s, t=1.0: (lambda e: e / e.sum(0, keepdim=True))((s / t - (s / t).amax(-1, keepdim=True)).exp()), "axis"),
    (lambda s, t=1.0: stable_softmax(s) / t, "*last*"),
]

# ---------------------------------------------------------------------------- 01.soft_lookup


def lookup_manual(q, k, v):
    s = k @ q
    e = (s - s.max()).exp()
    w = e / e.sum()
    return w @ v, w


RIGHT["01.soft_lookup"] = [
    lambda q, k, v: (torch.softmax(k @ q, -1) @ v, torch.softmax(k @ q, -1)),
    lambda q, k, v: (torch.einsum("n,nv->v", torch.einsum("nd,d->n", k, q).softmax(0), v),
                     torch.einsum("nd,d->n", k, q).softmax(0)),
    lookup_manual,
    lambda q, k, v: (F.softmax(q @ k.T, dim=0) @ v, F.softmax(q @ k.T, dim=0)),
    lambda q, k, v: tuple(x.double() for x in lookup_manual(q.double(), k.double(), v.double())),
    lambda q, k, v: [(torch.softmax(k @ q, 0)[:, None] * v).sum(0), torch.softmax(k @ q, 0)],
]
WRONG["01.soft_lookup"] = [
    (lambda q, k, v: (F.one_hot((k @ q).argmax(), k.size(0)).float() @ v,
                      F.one_hot((k @ q).argmax(), k.size(0)).float()), "hard"),
    (lambda q, k, v: ((k @ q) @ v, k @ q), "Turn the scores into weights"),
    (lambda q, k, v: (torch.softmax(k @ q / math.sqrt(q.numel()), -1) @ v,
                      torch.softmax(k @ q / math.sqrt(q.numel()), -1)), "No scaling"),
    (lambda q, k, v: (torch.softmax(k @ q, -1), torch.softmax(k @ q, -1) @ v), "other order"),
    (lambda q, k, v: torch.softmax(k @ q, -1) @ v, "Return all 2 values"),
    (lambda q, k, v: (torch.softmax(q @ k, -1) @ v, torch.softmax(q @ k, -1)), "keys @ query"),
    (lambda q, k, v: (torch.softmax(k @ q, -1) @ v.T, torch.softmax(k @ q, -1)), "order of the matrix products"),
]

# ---------------------------------------------------------------------------- 02.rnn_step
RIGHT["02.rnn_step"] = [
    lambda x, h, wx, wh, b: torch.tanh(x @ wx + h @ wh + b),
    lambda x, h, wx, wh, b: torch.tanh(torch.addmm(b, x, wx) + torch.mm(h, wh)),
    lambda x, h, wx, wh, b: torch.einsum("bi,ih->bh", x, wx).add(torch.einsum("bj,jh->bh", h, wh)).add(b).tanh(),
    lambda x, h, wx, wh, b: torch.tanh(F.linear(x, wx.T) + F.linear(h, wh.T, b)),
    lambda x, h, wx, wh, b: torch.tanh(torch.cat([x, h], 1) @ torch.cat([wx, wh], 0) + b),
    lambda x, h, wx, wh, b: torch.tanh(x.double() @ wx.double() + h.double() @ wh.double() + b.double()),
]
WRONG["02.rnn_step"] = [
    (lambda x, h, wx, wh, b: x @ wx + h @ wh + b, "Apply the non-linearity"),
    (lambda x, h, wx, wh, b: torch.tanh(x @ wx + b), "h_{t-1} must enter"),
    (lambda x, h, wx, wh, b: torch.tanh(x @ wx + h @ wh), "Add the bias"),
    (lambda x, h, wx, wh, b: torch.relu(x @ wx + h @ wh + b), "not ReLU or sigmoid"),
    (lambda x, h, wx, wh, b: torch.tanh(x @ wx) + h @ wh + b, "whole sum inside tanh"),
    (lambda x, h, wx, wh, b: torch.tanh(x @ wx + h @ wh.T + b), "transposed matrix"),
    (lambda x, h, wx, wh, b: torch.tanh(wx @ x + wh @ h + b), "batch rows first"),
    (lambda x, h, wx, wh, b: torch.tanh(x @ wx + h @ wh) + b, "bias b inside"),
    (lambda x, h, wx, wh, b: torch.sigmoid(x @ wx + h @ wh + b), "not ReLU or sigmoid"),
]

# ---------------------------------------------------------------------------- 02.rnn_forward


def rnn_loop(x, h0, wx, wh, b):
    h, states = h0, []
    for t in range(x.size(1)):
        h = torch.tanh(x[:, t] @ wx + h @ wh + b)
        states.append(h)
    return torch.stack(states, 1), h


def rnn_prealloc(x, h0, wx, wh, b):
    B, T, _ = x.shape
    states = torch.zeros(B, T, h0.size(1), dtype=x.dtype)
    h = h0
    for t in range(T):
        h = torch.tanh(x[:, t, :] @ wx + h @ wh + b)
        states[:, t] = h
    return states, states[:, -1]


def rnn_torch(x, h0, wx, wh, b):
    rnn = nn.RNN(wx.size(0), wx.size(1), batch_first=True)  # uses the global RNG: the check restores it
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(wx.T)
        rnn.weight_hh_l0.copy_(wh.T)
        rnn.bias_ih_l0.copy_(b)
        rnn.bias_hh_l0.zero_()
        states, h_n = rnn(x, h0.unsqueeze(0))
    return states, h_n.squeeze(0)


def rnn_cat(x, h0, wx, wh, b):
    h, states = h0, None
    for x_t in x.unbind(1):
        h = torch.tanh(x_t @ wx + h @ wh + b)
        states = h[:, None] if states is None else torch.cat([states, h[:, None]], 1)
    return states, h


def rnn_stale(x, h0, wx, wh, b):
    return torch.stack([torch.tanh(x[:, t] @ wx + h0 @ wh + b) for t in range(x.size(1))], 1), \
        torch.tanh(x[:, -1] @ wx + h0 @ wh + b)


def rnn_store_before(x, h0, wx, wh, b):
    h, states = h0, []
    for t in range(x.size(1)):
        states.append(h)
        h = torch.tanh(x[:, t] @ wx + h @ wh + b)
    return torch.stack(states, 1), h


def rnn_with_h0(x, h0, wx, wh, b):
    h, states = h0, [h0]
    for t in range(x.size(1)):
        h = torch.tanh(x[:, t] @ wx + h @ wh + b)
        states.append(h)
    return torch.stack(states, 1), h


RIGHT["02.rnn_forward"] = [rnn_loop, rnn_prealloc, rnn_torch, rnn_cat,
                           lambda *a: tuple(y.double() for y in rnn_loop(*(z.double() for z in a)))]
WRONG["02.rnn_forward"] = [
    (rnn_stale, "not h0 every time"),
    (lambda *a: (rnn_loop(*a)[0].flip(1), rnn_loop(*a)[1]), "reverse order"),
    (rnn_store_before, "*after* step t"),
    (rnn_with_h0, "h0 is the input"),
    (lambda *a: (rnn_loop(*a)[0].transpose(0, 1), rnn_loop(*a)[1]), "dim=1"),
    (lambda *a: (rnn_loop(*a)[0], a[1]), "not the initial state"),
    (lambda *a: (rnn_loop(*a)[0], rnn_loop(*a)[0][:, 0]), "states[:, -1]"),
    (lambda *a: rnn_loop(*a)[::-1], "other order"),
    (lambda *a: (rnn_loop(*a)[0], rnn_loop(*a)[0][-1]), "states[-1] is the last sequence"),
    (lambda x, h0, wx, wh, b: rnn_loop(x[:, :-1], h0, wx, wh, b) if x.size(1) > 1 else rnn_loop(x, h0, wx, wh, b),
     "all T steps"),
    (lambda x, h0, wx, wh, b: (lambda s, h: (list(s.unbind(1)), h))(*rnn_loop(x, h0, wx, wh, b)), "torch.stack"),
    (lambda x, h0, wx, wh, b: (lambda s, h: (torch.cat(list(s.unbind(1)), dim=1), h))(*rnn_loop(x, h0, wx, wh, b)),
     "new time axis"),
    (notebook("""
def rnn_forward(x, h0, w_xh, w_hh, b):
    h, states = h0, []
    for t in range(x.size(1)):
        h = torch.tanh(x[t] @ w_xh + h @ w_hh + b)
        states.append(h)
    return torch.stack(states, dim=1), h
""")["rnn_forward"], "x[:, t] is step t"),
    (notebook("""
def rnn_step(x_t, h_prev, w_xh, w_hh, b):
    return torch.tanh(x_t @ w_xh + h_prev @ w_hh)

def rnn_forward(x, h0, w_xh, w_hh, b):
    h, states = h0, []
    for t in range(x.size(1)):
        h = rnn_step(x[:, t], h, w_xh, w_hh, b)
        states.append(h)
    return torch.stack(states, dim=1), h
""")["rnn_forward"], "Your `rnn_step` above is the cause"),
]

# ---------------------------------------------------------------------------- 02.predict_gradient
RIGHT["02.predict_gradient"] = [0.5 ** 10, 0.001, np.float64(0.0009765625), torch.tensor(0.5) ** 10, 1 / 1024,
                                np.array([0.000977])]
WRONG["02.predict_gradient"] = [(5.0, "multiply"), (0.5 ** 9, "Count the steps"), (1.0, "halves"),
                                (0, "not zero"), (0.0009, "close"), (1024, "0.5^10, not 2^10"), (0.5, "one step"),
                                ("0.5**10", "without quotes")]

# ---------------------------------------------------------------------------- 03.word2idx


def w2i_loop(sentences):
    word2idx = {}
    for sentence in sentences:
        for token in sentence:
            if token not in word2idx:
                word2idx[token] = len(word2idx) + 1
    return word2idx


def w2i_counter(sentences):  # the frequency-ordered vocabulary of many tutorials
    from collections import Counter
    counts = Counter(t for s in sentences for t in s)
    return {w: i + 1 for i, (w, _) in enumerate(counts.most_common())}


def w2i_running_counter(sentences):
    word2idx, i = {}, 0
    for s in sentences:
        for t in s:
            i += 1
            word2idx[t] = i
    return word2idx


def w2i_mutating(sentences):
    for s in sentences:
        s.sort()
    return w2i_loop(sentences)


RIGHT["03.word2idx"] = [
    w2i_loop,
    lambda ss: {w: i for i, w in enumerate(["<pad>", *dict.fromkeys(t for s in ss for t in s)])},  # pad kept at 0
    lambda ss: {w: i for i, w in enumerate(dict.fromkeys(t for s in ss for t in s), start=1)},
    lambda ss: (lambda d: [d.setdefault(t, len(d) + 1) for s in ss for t in s] and d)({}),
    lambda ss: {w: i + 1 for i, w in enumerate(sorted(set(t for s in ss for t in s),
                                                      key=[t for s in ss for t in s].index))},
]
WRONG["03.word2idx"] = [
    (lambda ss: {w: i for i, w in enumerate(dict.fromkeys(t for s in ss for t in s))}, "Start at 1"),
    (lambda ss: {w: i + 1 for i, w in enumerate(sorted({t for s in ss for t in s}))}, "alphabetically"),
    (w2i_counter, "not by how often"),
    (w2i_running_counter, "keeps the id"),
    (lambda ss: {i: w for w, i in w2i_loop(ss).items()}, "not each id to its word"),
    (lambda ss: [w for w in dict.fromkeys(t for s in ss for t in s)], "Build a dict"),
    (w2i_mutating, "work on a copy"),
    (lambda ss: {w: i + 1 for s in ss for i, w in enumerate(dict.fromkeys(s))}, "one dict for all"),
    (lambda ss: {w: i for i, w in enumerate(["<pad>", "<unk>", *dict.fromkeys(t for s in ss for t in s)])},
     "leave special tokens"),
    (lambda ss: {w: i + 1 for i, w in enumerate(dict.fromkeys(t for s in ss for t in s.split()))}, "no `.split()`"),
    (lambda ss: {w: i + 1 for i, w in enumerate(t for s in ss for t in s)}, "keeps the id"),
]

# ---------------------------------------------------------------------------- 03.predict_permutation
RIGHT["03.predict_permutation"] = [2, np.int64(2), torch.tensor(2), 2.0, np.array(2), torch.tensor([2])]
WRONG["03.predict_permutation"] = [(0, "cannot tell *where*"), (1, "follow 狗"), (None, "Follow the token 狗"),
                                   (np.int32(0), "cannot tell *where*")]

# ---------------------------------------------------------------------------- 03.sinusoidal_encoding


def pe_solution(max_len, d_model):
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(pos / 10000 ** (two_i / d_model))
    pe[:, 1::2] = torch.cos(pos / 10000 ** (two_i / d_model))
    return pe


def pe_exp_log(max_len, d_model):  # the exp(-log(10000) ...) form many implementations use
    position = torch.arange(max_len).unsqueeze(1).float()
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe


def pe_loops(max_len, d_model):
    pe = [[0.0] * d_model for _ in range(max_len)]
    for pos in range(max_len):
        for i in range(0, d_model, 2):
            pe[pos][i] = math.sin(pos / 10000 ** (i / d_model))
            pe[pos][i + 1] = math.cos(pos / 10000 ** (i / d_model))
    return torch.tensor(pe)


def pe_stack(max_len, d_model):
    angles = torch.arange(max_len, dtype=torch.float64)[:, None] / 10000 ** (
        torch.arange(d_model // 2, dtype=torch.float64) * 2 / d_model)
    return torch.stack([angles.sin(), angles.cos()], -1).reshape(max_len, d_model)  # float64


def pe_variant(exponent, swap=False, start=0, concat=False):
    def pe(max_len, d_model):
        pos = torch.arange(start, start + max_len, dtype=torch.float32)[:, None]
        i = torch.arange(d_model // 2, dtype=torch.float32)
        angles = pos / 10000 ** exponent(i, d_model)
        a, b = (angles.cos(), angles.sin()) if swap else (angles.sin(), angles.cos())
        if concat:
            return torch.cat([a, b], 1)
        return torch.stack([a, b], -1).reshape(max_len, d_model)
    return pe


def pe_per_column(max_len, d_model):
    pe = torch.zeros(max_len, d_model)
    for pos in range(max_len):
        for j in range(d_model):
            angle = pos / 10000 ** (j / d_model)
            pe[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return pe


RIGHT["03.sinusoidal_encoding"] = [pe_solution, pe_exp_log, pe_loops, pe_stack,
                                   pe_variant(lambda i, d: 2 * i / d)]
WRONG["03.sinusoidal_encoding"] = [
    (pe_variant(lambda i, d: 2 * i / d, swap=True), "sin goes in the even columns"),
    (pe_variant(lambda i, d: 2 * i / d, concat=True), "Interleave"),
    (pe_variant(lambda i, d: i / d), "you need 2*i"),
    (pe_variant(lambda i, d: 4 * i / d), "twice that"),
    (pe_variant(lambda i, d: 2 * i), "Divide the exponent by d_model"),
    (pe_variant(lambda i, d: 2 * i / d, start=1), "Positions start at 0"),
    (pe_per_column, "share one frequency"),
    (pe_variant(lambda i, d: 2 * i / d * 0.7), "exponent"),
    (lambda n, d: pe_solution(n, d)[None], "without a leading batch axis"),
    (lambda n, d: torch.sin(torch.arange(n)[:, None] / 10000 ** (torch.arange(d) // 2 * 2 / d)), "*cosine*"),
    (lambda n, d: pe_variant(lambda i, dd: 2 * i / dd)(n, d).numpy(), "NumPy"),
]

# ---------------------------------------------------------------------------- 03.embed_with_positions
RIGHT["03.embed_with_positions"] = [
    lambda ids, table, pe: table[ids] + pe[:ids.size(1)],
    lambda ids, table, pe: F.embedding(ids, table) + pe[: ids.shape[1]].unsqueeze(0),
    lambda ids, table, pe: F.one_hot(ids, table.size(0)).float() @ table + pe[:ids.size(1)],
    lambda ids, table, pe: nn.Embedding.from_pretrained(table)(ids) + pe[torch.arange(ids.size(1))],
    lambda ids, table, pe: torch.stack([torch.stack([table[ids[b, t]] + pe[t] for t in range(ids.size(1))])
                                        for b in range(ids.size(0))]),
]
WRONG["03.embed_with_positions"] = [
    (lambda ids, table, pe: table[ids], "Add the positional encoding"),
    (lambda ids, table, pe: table[ids] + pe[0], "pe[0] everywhere"),
    (lambda ids, table, pe: table[ids] * math.sqrt(table.size(1)) + pe[:ids.size(1)], "No scaling"),
    (lambda ids, table, pe: table[ids] + pe, "first T rows"),
    (lambda ids, table, pe: table[ids] + pe[ids], "not by the token id"),
    (lambda ids, table, pe: table[ids] + pe[:ids.size(0), None], "not along the batch"),
    (lambda ids, table, pe: table[ids] + pe[:ids.size(0)], "T = ids.size(1)"),
    (lambda ids, table, pe: nn.Embedding(*table.shape)(ids).detach() + pe[:ids.size(1)], "given `table`"),
    (lambda ids, table, pe: (table[ids] + pe[:ids.size(1)]) * math.sqrt(table.size(1)), "No scaling"),
]

# ---------------------------------------------------------------------------- 04.attention


def att_solution(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def att_annotated_style(query, key, value, mask=None, dropout=None):
    """In the style of the Annotated Transformer's `attention` (returns (out, p_attn))."""
    d_k = query.size(-1)
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    p_attn = scores.softmax(dim=-1)
    if dropout is not None:
        p_attn = dropout(p_attn)
    return torch.matmul(p_attn, value), p_attn


def d2l_style_masked_softmax(X, valid_lens):
    """In the style of d2l's masked_softmax: positions past each row's valid length get a
    very negative score before the softmax."""
    if valid_lens is None:
        return F.softmax(X, dim=-1)
    shape = X.shape
    keep = torch.arange(shape[-1])[None, :] < valid_lens.reshape(-1)[:, None]
    X = X.reshape(-1, shape[-1]).masked_fill(~keep, -1e6)
    return F.softmax(X.reshape(shape), dim=-1)


def att_d2l_style(q, k, v, mask=None):
    """d2l's DotProductAttention, adapted to take our bool mask (its valid lengths = the
    number of True keys per query row, which holds for a padding mask)."""
    scores = torch.bmm(q.reshape(-1, *q.shape[-2:]), k.reshape(-1, *k.shape[-2:]).transpose(1, 2))
    scores = scores.reshape(*q.shape[:-1], k.size(-2)) / math.sqrt(q.shape[-1])
    valid_lens = None if mask is None else mask.expand(scores.shape).sum(-1)
    weights = d2l_style_masked_softmax(scores, valid_lens)
    return weights @ v, weights


def att_einsum_where(q, k, v, mask=None):
    scores = torch.einsum("...qd,...kd->...qk", q, k) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(float("-inf")))
    weights = scores.softmax(-1)
    return torch.einsum("...qk,...kv->...qv", weights, v), weights


def att_float64(q, k, v, mask=None):
    out, w = att_solution(q.double(), k.double(), v.double(), mask)
    return out.float(), w.float()


def att_sdpa(q, k, v, mask=None):
    _, weights = att_einsum_where(q, k, v, mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), weights


def att_bool_index(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores[~mask] = float("-inf")
    weights = scores.softmax(-1)
    return weights @ v, weights


def att_wrong(scale=True, dim=-1, fill="~mask", value=float("-inf"), after=False, scale_after=False, dot_t=False):
    def attention_answer(q, k, v, mask=None):
        scores = q @ k.T if dot_t else q @ k.transpose(-2, -1)
        if scale == "d_k":
            scores = scores / q.size(-1)
        elif scale == "T_k":
            scores = scores / math.sqrt(k.size(-2))
        elif scale == "d_v":
            scores = scores / math.sqrt(v.size(-1))
        elif scale and not scale_after:
            scores = scores / math.sqrt(q.size(-1))
        if mask is not None and not after and fill:
            scores = scores.masked_fill(~mask if fill == "~mask" else mask == 1 if fill == "mask == 1" else mask, value)
        weights = scores.softmax(dim=dim)
        if mask is not None and after:
            weights = weights * mask
        if scale_after:
            weights = weights / math.sqrt(q.size(-1))
        return weights @ v, weights
    return attention_answer


RIGHT["04.attention"] = [att_solution, att_annotated_style, att_d2l_style, att_einsum_where, att_float64, att_sdpa,
                         att_wrong(value=-1e9)]
WRONG["04.attention"] = [
    (att_wrong(scale=False), "Divide the scores by √d_k"),
    (att_wrong(scale="d_k"), "*square root*"),
    (att_wrong(dim=-2), "over the keys"),
    (att_wrong(fill="mask"), "polarity"),
    (att_wrong(fill="mask", value=-1e9), "polarity"),
    (att_wrong(value=0.0), "not 0"),
    (att_wrong(after=True), "*before* the softmax"),
    (att_wrong(fill=None), "no effect"),
    (att_wrong(dot_t=True), "reverses *all* axes"),
    (lambda q, k, v, mask=None: att_solution(q, k, v, mask)[::-1], "other order"),
    (att_wrong(scale_after=True), "before the softmax"),
    (att_wrong(scale="d_v"), "not by the width of v"),
    (att_wrong(scale="T_k"), "not by the number of keys"),
    (att_bool_index, "masked_fill(~mask, float('-inf'))` broadcasts"),
    (lambda q, k, v, mask=None: att_solution(q, k, v, mask if mask else None), "is not None"),
    (lambda q, k, v, mask=None: att_solution(q, k.transpose(2, 3).transpose(-2, -1), v, mask), "assumes four axes"),
    (att_wrong(fill="mask == 1", value=-1e9), "polarity"),
    (lambda q, k, v, mask=None: att_solution(q, k, v, mask) if q.dim() == 3 else
     torch.bmm(q, k.transpose(-2, -1)), "`torch.bmm` takes exactly 3-D"),
]

# ---------------------------------------------------------------------------- 04.fix_attention


def fix_untouched(q, k, v):
    d_k = q.size(-1)  # noqa: F841 (the given code computes it and does not use it: one of the bugs)
    scores = q @ k.transpose(-2, -1)
    weights = scores.softmax(dim=-2)
    return weights @ v, weights


def fix_axis_only(q, k, v):
    scores = q @ k.transpose(-2, -1)
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


def fix_scale_only(q, k, v):
    scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5
    weights = scores.softmax(dim=-2)
    return weights @ v, weights


RIGHT["04.fix_attention"] = [
    lambda q, k, v: att_solution(q, k, v),
    att_wrong(),
    lambda q, k, v: (lambda w: (w @ v, w))((q @ k.transpose(-2, -1) * q.size(-1) ** -0.5).softmax(dim=-1)),
    lambda q, k, v: (lambda w: (w @ v.double(), w))(torch.softmax(q.double() @ k.double().transpose(-2, -1)
                                                                   / math.sqrt(q.size(-1)), -1)),
]
WRONG["04.fix_attention"] = [
    (fix_untouched, "Divide the scores by √d_k"),
    (fix_axis_only, "Divide the scores by √d_k"),
    (fix_scale_only, "over the keys"),
    (att_wrong(scale="d_k"), "*square root*"),
]

# ---------------------------------------------------------------------------- 04.predict_score_std
RIGHT["04.predict_score_std"] = [8, 8.0, np.float32(8), torch.tensor(8.0), math.sqrt(64), [8]]
WRONG["04.predict_score_std"] = [(64, "*variance*"), (1, "*after* dividing"), (0, "mean of q·k"),
                                 (7, "close"), (0.125, "add up")]

# ---------------------------------------------------------------------------- 04.self_attention
SELF_ATTENTION_CELLS = """
def attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights

def self_attention(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    return attention(q, k, v)
"""
SELF_ATTENTION_WRONG_ATTENTION = SELF_ATTENTION_CELLS.replace(" / math.sqrt(q.size(-1))", "")


def sa_einsum(x, w_q, w_k, w_v):
    q, k, v = (torch.einsum("btd,de->bte", x, w) for w in (w_q, w_k, w_v))
    w = torch.softmax(torch.einsum("bqe,bke->bqk", q, k) / math.sqrt(w_q.size(1)), -1)
    return torch.einsum("bqk,bkv->bqv", w, v), w


def sa_package(x, w_q, w_k, w_v):
    from course_utils.transformer import attention as package_attention
    return package_attention(x @ w_q, x @ w_k, x @ w_v)


def sa_wrong(scale=True, dim=-1, k_from_q=False, scale_by_model=False):
    def self_attention(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ (w_q if k_from_q else w_k), x @ w_v
        scores = q @ k.transpose(1, 2)
        if scale:
            scores = scores / math.sqrt(x.size(-1) if scale_by_model else q.size(-1))
        w = scores.softmax(dim)
        return w @ v, w
    return self_attention


def sa_k_t(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(q.size(-1)), dim=-1)
    return weights @ v, weights


RIGHT["04.self_attention"] = [notebook(SELF_ATTENTION_CELLS)["self_attention"], sa_einsum, sa_package,
                              lambda *a: tuple(y.double() for y in sa_einsum(*(z.double() for z in a))),
                              sa_wrong()]
WRONG["04.self_attention"] = [
    (sa_wrong(scale=False), "Divide the scores by √d_k"),
    (sa_wrong(dim=1), "over the keys"),
    (sa_wrong(k_from_q=True), "its own matrix"),
    (sa_wrong(scale_by_model=True), "not by √d_model"),
    (lambda *a: sa_einsum(*a)[::-1], "other order"),
    (notebook(SELF_ATTENTION_WRONG_ATTENTION)["self_attention"], "Your `attention` above is the cause"),
    (sa_k_t, "reverses *all* axes"),
    (lambda x, w_q, w_k, w_v: sa_package(x, w_q.T, w_k.T, w_v.T), "without transposing them"),
]

# ---------------------------------------------------------------------------- 05.split_heads / merge_heads


def split_loop(x, n_heads):
    d_k = x.size(-1) // n_heads
    return torch.stack([x[..., h * d_k:(h + 1) * d_k] for h in range(n_heads)], dim=1)


RIGHT["05.split_heads"] = [
    lambda x, H: x.view(x.size(0), x.size(1), H, -1).transpose(1, 2),
    lambda x, H: x.reshape(*x.shape[:2], H, x.size(-1) // H).permute(0, 2, 1, 3),
    lambda x, H: torch.stack(x.chunk(H, dim=-1), dim=1),
    lambda x, H: x.unflatten(-1, (H, -1)).transpose(1, 2).contiguous(),
    split_loop,
]
WRONG["05.split_heads"] = [
    (lambda x, H: x.reshape(x.size(0), H, x.size(1), -1), "a direct view"),
    (lambda x, H: x.view(x.size(0), x.size(1), H, -1), "bring the head axis before"),
    (lambda x, H: x.view(x.size(0), x.size(1), -1, H).permute(0, 3, 1, 2), "contiguous slices"),
    (lambda x, H: x.view(x.size(0), x.size(1), H, -1).transpose(1, 2).reshape(-1, x.size(1), x.size(2) // H),
     "two axes"),
    (lambda x, H: x.split(x.size(-1) // H, dim=-1), "torch.stack"),
]

RIGHT["05.merge_heads"] = [
    lambda x: x.transpose(1, 2).reshape(x.size(0), x.size(2), -1),
    lambda x: x.permute(0, 2, 1, 3).contiguous().view(x.size(0), x.size(2), -1),
    lambda x: torch.cat(x.unbind(1), dim=-1),
    lambda x: x.transpose(1, 2).flatten(2),
]
WRONG["05.merge_heads"] = [
    (lambda x: x.reshape(x.size(0), x.size(2), -1), "Move the head axis back"),
    (lambda x: x.transpose(1, 2).view(x.size(0), x.size(2), -1), "use `.reshape`"),
    (lambda x: x.permute(0, 2, 3, 1).reshape(x.size(0), x.size(2), -1), "head 0 first"),
    (lambda x: x.transpose(1, 2), "reshape to (B, T, H * d_k)"),
    (lambda x: torch.cat([x[:, h] for h in range(x.size(1))], dim=1), "along the last axis"),
]

# ---------------------------------------------------------------------------- 05.multi_head_attention
MHA_CELLS = """
def attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights

def split_heads(x, n_heads):
    B, T, d_model = x.shape
    return x.view(B, T, n_heads, d_model // n_heads).transpose(1, 2)

def merge_heads(x):
    B, H, T, d_k = x.shape
    return x.transpose(1, 2).reshape(B, T, H * d_k)

class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)

    def forward(self, x_q, x_kv, mask=None):
        q = split_heads(self.w_q(x_q), self.n_heads)
        k = split_heads(self.w_k(x_kv), self.n_heads)
        v = split_heads(self.w_v(x_kv), self.n_heads)
        out, _ = attention(q, k, v, mask)
        return self.w_o(merge_heads(out))
"""


def mha(source_change=None):
    """The lesson's MultiHeadAttention cells, with one line changed (old, new)."""
    text = MHA_CELLS if source_change is None else MHA_CELLS.replace(*source_change)
    assert text != MHA_CELLS or source_change is None
    return notebook(text)["MultiHeadAttention"]


class MHAEinsumSDPA(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.h = n_heads
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model) for _ in range(4))

    def forward(self, x_q, x_kv, mask=None):
        B, T_q, d = x_q.shape
        q = self.w_q(x_q).view(B, T_q, self.h, -1).transpose(1, 2)
        k = self.w_k(x_kv).view(B, x_kv.size(1), self.h, -1).transpose(1, 2)
        v = self.w_v(x_kv).view(B, x_kv.size(1), self.h, -1).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.w_o(out.transpose(1, 2).reshape(B, T_q, d))


class MHATransposeQKV(nn.Module):
    """In the style of d2l's transpose_qkv / transpose_output (heads folded into the batch)."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.num_heads = n_heads
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model) for _ in range(4))

    def transpose_qkv(self, X):
        X = X.reshape(X.shape[0], X.shape[1], self.num_heads, -1).permute(0, 2, 1, 3)
        return X.reshape(-1, X.shape[2], X.shape[3])

    def transpose_output(self, X):
        X = X.reshape(-1, self.num_heads, X.shape[1], X.shape[2]).permute(0, 2, 1, 3)
        return X.reshape(X.shape[0], X.shape[1], -1)

    def forward(self, x_q, x_kv, mask=None):
        q = self.transpose_qkv(self.w_q(x_q))
        k, v = self.transpose_qkv(self.w_k(x_kv)), self.transpose_qkv(self.w_v(x_kv))
        scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(q.shape[-1])
        if mask is not None:
            full = mask.expand(x_q.size(0), self.num_heads, x_q.size(1), x_kv.size(1))
            scores = scores.masked_fill(~full.reshape(-1, x_q.size(1), x_kv.size(1)), -1e9)
        return self.w_o(self.transpose_output(torch.bmm(scores.softmax(-1), v)))


class MHAPackage(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model) for _ in range(4))

    def forward(self, x_q, x_kv, mask=None):
        from course_utils.transformer import attention, merge_heads, split_heads
        q, k, v = (split_heads(w(x), self.n_heads) for w, x in ((self.w_q, x_q), (self.w_k, x_kv), (self.w_v, x_kv)))
        return self.w_o(merge_heads(attention(q, k, v, mask)[0]))


RIGHT["05.multi_head_attention"] = [
    mha(), MHAEinsumSDPA, MHATransposeQKV, MHAPackage,
    mha(("def forward(self, x_q, x_kv, mask=None):", "def forward(self, x_q, x_kv, mask):")),
    mha(('scores.masked_fill(~mask, float("-inf"))', "torch.where(mask, scores, -1e9)")),
    mha(("out, _ = attention(q, k, v, mask)", "out, _ = attention(q.double(), k.double(), v.double(), mask)\n"
                                              "        out = out.float()")),
]
WRONG["05.multi_head_attention"] = [
    (mha(("return x.view(B, T, n_heads, d_model // n_heads).transpose(1, 2)",
          "return x.view(B, n_heads, T, d_model // n_heads)")), "Your `split_heads` above is the cause"),
    (mha(("return x.transpose(1, 2).reshape(B, T, H * d_k)", "return x.reshape(B, T, H * d_k)")),
     "Your `merge_heads` above is the cause"),
    (mha(("return self.w_o(merge_heads(out))", "return merge_heads(out)")), "output projection w_o"),
    (mha(("out, _ = attention(q, k, v, mask)", "out, _ = attention(q, k, v)")), "Pass the mask on"),
    (mha(("scores.masked_fill(~mask,", "scores.masked_fill(mask,")), "Your `attention` above is the cause"),
    (mha(("out, _ = attention(q, k, v, mask)", "out, _ = attention(q, k, v, ~mask if mask is not None else None)")),
     "polarity"),
    (mha(("out, _ = attention(q, k, v, mask)",
          "scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
          "        if mask is not None:\n"
          "            scores = scores.masked_fill(mask, -1e9)\n"
          "        out = scores.softmax(-1) @ v")), "polarity"),
    (mha(("k = split_heads(self.w_k(x_kv), self.n_heads)\n        v = split_heads(self.w_v(x_kv), self.n_heads)",
          "k = split_heads(self.w_k(x_q), self.n_heads)\n        v = split_heads(self.w_v(x_q), self.n_heads)")),
     "come from `x_kv`"),
    (mha(("out, _ = attention(q, k, v, mask)",
          "out = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1) * self.n_heads)"
          " + (0 if mask is None else torch.zeros(1).masked_fill(~mask, float('-inf'))), -1) @ v")),
     "not √d_model"),
    (mha(("        super().__init__()\n", "")), "super().__init__()"),
    (mha(("def forward(self, x_q, x_kv, mask=None):", "def forward(self, query, key, value, mask=None):")),
     "takes two inputs"),
    (mha(("out, _ = attention(q, k, v, mask)",
          "out, _ = attention(q, k, v, None if mask is None else mask.unsqueeze(1))")),
     "pass it to the attention as it is"),
    (mha(("q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
          "        v = split_heads(self.w_v(x_kv), self.n_heads)\n        out, _ = attention(q, k, v, mask)\n"
          "        return self.w_o(merge_heads(out))",
          "B, T_q, d = x_q.shape\n"
          "        q = split_heads(self.w_q(x_q), self.n_heads)\n"
          "        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
          "        v = split_heads(self.w_v(x_kv), self.n_heads)\n        out, _ = attention(q, k, v, mask)\n"
          "        return self.w_o(out.reshape(B, T_q, d))")), "Move the head axis back"),
    (mha(("out, _ = attention(q, k, v, mask)", "out = torch.softmax(q @ k.transpose(-2, -1), -1) @ v")),
     "Divide the scores by √d_k"),
]

# ---------------------------------------------------------------------------- 05.predict_param_count
RIGHT["05.predict_param_count"] = [1_050_624, np.int64(1_050_624), torch.tensor(1_050_624), 1050624.0,
                                   4 * (512 * 512 + 512)]
WRONG["05.predict_param_count"] = [(4 * 512 * 512, "also has a bias"), (3 * (512 * 512 + 512), "output projection"),
                                   (8 * 1_050_624, "doesn't grow with n_heads"), (1_050_000, "close"),
                                   (3 * 512 * 512, "biases and the output projection")]


# ---------------------------------------------------------------------------- more wrong answers, of other kinds


def sm_no_exp(s, t=1.0):
    z = s / t - (s / t).max(-1, keepdim=True).values
    return z / z.sum(-1, keepdim=True)


def rnn_backwards(x, h0, wx, wh, b):
    h, states = h0, [None] * x.size(1)
    for t in reversed(range(x.size(1))):
        h = torch.tanh(x[:, t] @ wx + h @ wh + b)
        states[t] = h
    return torch.stack(states, 1), h


def w2i_reversed_sentences(ss):
    d = {}
    for s in ss:
        for t in reversed(s):
            d.setdefault(t, len(d) + 1)
    return d


def att_returns_scores(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1) @ v, scores


def att_log_weights(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    log_w = scores.log_softmax(-1)
    return log_w.exp() @ v, log_w


MORE_WRONG = {
    "01.weighted_sum": [(lambda w, v: (w[:, None] * v).mean(0), "Don't divide by n"),
                        (lambda w, v: (w[:, None] + v).sum(0), "multiply each value row by its weight")],
    "01.softmax_temperature": [(sm_no_exp, "largest score must get the largest probability"),
                               (lambda s, t=1.0: stable_softmax(s), "Use the temperature"),
                               (lambda s, t=1.0: torch.sigmoid(s / t), "must sum to 1"),
                               (lambda s, t=1.0: (lambda e: e / e.sum(-1, keepdim=True))(
                                   (s / t - (s / t).min(-1, keepdim=True).values).exp()), "Subtract the maximum")],
    "01.soft_lookup": [(lambda q, k, v: (v.mean(0), torch.full((k.size(0),), 1 / k.size(0))), "All weights are equal"),
                       (lambda q, k, v: (torch.softmax(-(k - q).norm(dim=1), 0) @ v,
                                         torch.softmax(-(k - q).norm(dim=1), 0)), "come from other scores"),
                       (lambda q, k, v: (torch.sigmoid(k @ q) @ v, torch.sigmoid(k @ q)), "must sum to 1")],
    "02.rnn_step": [(lambda x, h, wx, wh, b: torch.tanh(x @ wx + h @ wh + b) + h, "one tanh around the sum"),
                    (lambda x, h, wx, wh, b: torch.tanh(x @ wx + h @ wh + 2 * b), "added twice")],
    "02.rnn_forward": [(rnn_backwards, "forward in time")],
    "02.predict_gradient": [(0.01, "power of 0.5"), (10, "do not add up")],
    "03.word2idx": [(w2i_reversed_sentences, "another order"),
                    (lambda ss: list(w2i_loop(ss).items()), "Build a dict")],
    "03.sinusoidal_encoding": [(lambda n, d: pe_solution(n, d).T, "another order"),
                               (lambda n, d: pe_solution(n, d)[1:2].expand(n, d), "Every row is the same")],
    "03.embed_with_positions": [(lambda ids, table, pe: table[ids] * pe[:ids.size(1)], "don't multiply"),
                                (lambda ids, table, pe: table[ids] + pe[1:ids.size(1) + 1], "starting at pe[0]"),
                                (lambda ids, table, pe: torch.cat([table[ids], pe[:ids.size(1)].expand(
                                    ids.size(0), -1, -1)], -1), "don't concatenate")],
    "04.attention": [(att_returns_scores, "not the scores"), (att_log_weights, "log-probabilities"),
                     (lambda q, k, v, mask=None: (att_solution(q, k, v, mask)[1] @ k, att_solution(q, k, v, mask)[1]),
                      "mixes the *values*")],
    "04.self_attention": [(lambda x, w_q, w_k, w_v: (lambda o, w: (w @ x, w))(*sa_einsum(x, w_q, w_k, w_v)),
                           "not x itself")],
    "04.predict_score_std": [(32, "variances add up")],
    "05.split_heads": [(lambda x, H: x.view(x.size(0), x.size(1), H, -1).transpose(1, 3), "another order")],
    "05.merge_heads": [(lambda x: x.sum(1), "don't add or average"), (lambda x: x.mean(1), "don't add or average")],
    "05.multi_head_attention": [
        (mha(("return self.w_o(merge_heads(out))", "return self.w_o(merge_heads(out)) + x_q")), "No residual"),
        (mha(("v = split_heads(self.w_v(x_kv), self.n_heads)", "v = split_heads(self.w_k(x_kv), self.n_heads)")),
         "the values use w_v"),
        (mha(("q = split_heads(self.w_q(x_q), self.n_heads)", "q = split_heads(self.w_q(x_kv), self.n_heads)")),
         "one row per *query*")],
    "05.predict_param_count": [(262_144, "Four nn.Linear(512, 512) layers")],
    "03.predict_permutation": [(3, "three rows"), ([2, 1, 0], "Follow the token 狗")],
}
for _ex_id, _answers in MORE_WRONG.items():
    WRONG[_ex_id] += _answers


# ---------------------------------------------------------------------------- more right answers, other styles
MORE_RIGHT: list = []


MORE_RIGHT += [("01.weighted_sum", lambda w, v: (v * w.unsqueeze(-1)).sum(dim=0)),
               ("01.weighted_sum", lambda w, v: torch.einsum("i,ij", w, v)),
               ("01.weighted_sum", lambda w, v: torch.stack([w[i] * v[i] for i in range(w.shape[0])]).sum(0)),
               ("01.weighted_sum", lambda w, v: torch.from_numpy(np.dot(w.numpy(), v.numpy()))),
               ("01.weighted_sum", lambda w, v: w.matmul(v))]


def sm_np_style(scores, temperature=1.0):
    z = scores / temperature
    z = z - torch.amax(z, dim=-1, keepdim=True)
    return torch.exp(z) / torch.sum(torch.exp(z), dim=-1, keepdim=True)


def sm_where(scores, temperature=1.0):
    z = scores.double() / temperature
    m = z.max(dim=z.dim() - 1, keepdim=True)[0]
    e = (z - m).exp()
    return (e / e.sum(dim=z.dim() - 1, keepdim=True)).to(scores.dtype)


def sm_inplace_copy(scores, temperature=1.0):
    z = scores.clone()
    z /= temperature
    z -= z.max(-1, keepdim=True).values
    z.exp_()
    z /= z.sum(-1, keepdim=True)
    return z


def sm_numpy_roundtrip(scores, temperature=1.0):
    z = scores.numpy() / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return torch.from_numpy(e / e.sum(axis=-1, keepdims=True))


MORE_RIGHT += [("01.softmax_temperature", sm_np_style), ("01.softmax_temperature", sm_where),
               ("01.softmax_temperature", sm_inplace_copy),
               ("01.softmax_temperature", sm_numpy_roundtrip)]


MORE_RIGHT += [("01.soft_lookup",
                lambda q, k, v: (lambda w: (torch.einsum("n,nd->d", w, v), w))(sm_np_style(torch.mv(k, q)))),
               ("01.soft_lookup", lambda q, k, v: (lambda w: (w @ v, w))(torch.exp(k @ q) / torch.exp(k @ q).sum())),
               ("01.soft_lookup",
                lambda q, k, v: (lambda w: ((w[:, None] * v).sum(0), w))(F.softmax((q[None] * k).sum(1), 0)))]


MORE_RIGHT += [("02.rnn_step",
                lambda x, h, wx, wh, b: torch.tanh(torch.matmul(x, wx) + torch.matmul(h, wh) + b.unsqueeze(0))),
               ("02.rnn_step", lambda x, h, wx, wh, b: (x @ wx + h @ wh + b).tanh())]


def rf_list(x, h0, wx, wh, b):
    hs = []
    h = h0
    T = x.shape[1]
    for t in range(T):
        h = torch.tanh(x[:, t, :] @ wx + h @ wh + b)
        hs.append(h.unsqueeze(1))
    return torch.cat(hs, dim=1), h


def rf_perm(x, h0, wx, wh, b):
    h = h0; out = []
    for xt in x.permute(1, 0, 2):
        h = torch.tanh(xt @ wx + h @ wh + b); out.append(h)
    return torch.stack(out).permute(1, 0, 2), h


MORE_RIGHT += [("02.rnn_forward", rf_list), ("02.rnn_forward", rf_perm)]


MORE_RIGHT += [("02.predict_gradient", 0.0009765625), ("02.predict_gradient", np.float32(0.5) ** 10),
               ("02.predict_gradient", 9.8e-4),
               ("02.predict_gradient", torch.tensor([0.001]))]


def w_enum(ss):
    vocab = {}
    idx = 1
    for s in ss:
        for w in s:
            if w in vocab:
                continue
            vocab[w] = idx
            idx += 1
    return vocab


def w_od(ss):
    d = OrderedDict()
    for s in ss:
        for w in s:
            if w not in d: d[w] = len(d) + 1
    return d


def w_dd(ss):
    d = defaultdict(int)
    for s in ss:
        for w in s:
            if w not in d: d[w] = len(d) + 1
    return d


MORE_RIGHT += [("03.word2idx", w_enum), ("03.word2idx", w_od), ("03.word2idx", w_dd)]


MORE_RIGHT += [("03.predict_permutation", 2), ("03.predict_permutation", np.array([2])),
               ("03.predict_permutation", torch.tensor(2.0))]


def pe_div(n, d):
    pe = torch.zeros(n, d)
    position = torch.arange(0, n, dtype=torch.float).unsqueeze(1)
    div = torch.pow(10000.0, torch.arange(0, d, 2).float() / d)
    pe[:, 0::2] = torch.sin(position / div); pe[:, 1::2] = torch.cos(position / div)
    return pe


def pe_np(n, d):
    pe = np.zeros((n, d))
    for pos in range(n):
        for i in range(d // 2):
            pe[pos, 2 * i] = np.sin(pos / 10000 ** (2 * i / d)); pe[pos, 2 * i + 1] = np.cos(pos / 10000 ** (2 * i / d))
    return torch.tensor(pe, dtype=torch.float32)


def pe_np64(n, d):
    return torch.from_numpy(pe_np(n, d).double().numpy())


MORE_RIGHT += [("03.sinusoidal_encoding", pe_div), ("03.sinusoidal_encoding", pe_np),
               ("03.sinusoidal_encoding", pe_np64)]


MORE_RIGHT += [("03.embed_with_positions", lambda ids, table, pe: table[ids] + pe[:ids.shape[1]][None, :, :]),
               ("03.embed_with_positions",
                lambda ids, table, pe: torch.index_select(table, 0,
                                                          ids.reshape(-1)).reshape(*ids.shape, -1) + pe[:ids.size(1)]),
               ("03.embed_with_positions",
                lambda ids, table, pe: torch.stack([table[row] + pe[:len(row)] for row in ids]))]


def at1(q, k, v, mask=None):
    scores = torch.einsum("...id,...jd->...ij", q, k) / np.sqrt(k.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), -torch.inf)
    w = F.softmax(scores, dim=-1)
    return torch.einsum("...ij,...jd->...id", w, v), w


def at2(q, k, v, mask=None):
    scores = q @ k.mT / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores + torch.zeros_like(scores).masked_fill(~mask, float("-inf"))
    w = scores.softmax(-1); return w @ v, w


def at3(q, k, v, mask=None):
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == False, torch.finfo(scores.dtype).min)
    w = torch.softmax(scores, -1); return torch.matmul(w, v), w


def at4(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = torch.where(mask, scores, torch.full_like(scores, -1e9))
    w = torch.exp(scores - scores.amax(-1, keepdim=True)); w = w / w.sum(-1, keepdim=True)
    return w @ v, w


MORE_RIGHT += [("04.attention", at1), ("04.attention", at2), ("04.attention", at3), ("04.attention", at4)]


MORE_RIGHT += [("04.fix_attention", lambda q, k, v: at1(q, k, v)), ("04.fix_attention", lambda q, k, v: at3(q, k, v))]


MORE_RIGHT += [("04.predict_score_std", np.sqrt(64)), ("04.predict_score_std", 64 ** 0.5),
               ("04.predict_score_std", 8.1)]


MORE_RIGHT += [("04.self_attention", lambda x, a, b, c: at1(x @ a, x @ b, x @ c)),
               ("04.self_attention", lambda x, a, b, c: at4(x @ a, x @ b, x @ c))]


MORE_RIGHT += [("05.split_heads",
                lambda x, H: x.reshape(x.shape[0], x.shape[1], H, x.shape[2] // H).permute(0, 2, 1, 3)),
               ("05.split_heads", lambda x, H: torch.stack(torch.split(x, x.size(-1) // H, dim=-1), dim=1))]


MORE_RIGHT += [("05.merge_heads",
                lambda x: x.permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], x.shape[1] * x.shape[3]))]


MORE_RIGHT += [("05.multi_head_attention",
                mha(("self.n_heads = n_heads", "self.n_heads = n_heads\n        self.d_k = d_model // n_heads"))),
               ("05.multi_head_attention",
                mha(("def forward(self, x_q, x_kv, mask=None):", "def forward(self, x_q, x_kv=None, mask=None):"))),
               ("05.predict_param_count", 1050624), ("05.predict_param_count", np.float64(1050624.0))]

for _ex_id, _answer in MORE_RIGHT:
    RIGHT[_ex_id].append(_answer)


def no_source(source: str, name: str):
    """Run `source` with no source lines kept (as `exec` of a string does): hints cannot quote
    the learner's line and must come from what the code did."""
    space = {"torch": torch, "math": math, "np": np, "nn": nn, "F": F}
    exec(compile(source, "<no-source>", "exec"), space)
    return space[name]


# From the independent answer set (issue 11): each mistake named by its kind, not its exact code.
WRONG["01.soft_lookup"] += [
    (lambda q, k, v: ((w := torch.softmax(k @ q, -1)) @ k, w), "mixes the *keys*"),
    (lambda q, k, v: ((w := (k @ q).softmax(-1)) @ k * 1.0 + 0 * w.sum(), w), "mixes the *keys*")]
WRONG["03.embed_with_positions"] += [
    (no_source("def f(ids, table, pe):\n"
               "    return table[ids.T] + pe[:ids.shape[0], None]", "f"), "batch and time axes"),
    (no_source("def f(ids, table, pe):\n"
               "    return table[ids.t()] + pe[:ids.size(1), None]", "f"), "batch and time axes")]
WRONG["04.attention"] += [
    (no_source("def f(q, k, v, mask=None):\n    s = q @ k.T / math.sqrt(q.size(-1))\n"
               "    s = s if mask is None else s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1)\n"
               "    return w @ v, w", "f"), "reverses *all*")]
WRONG["04.self_attention"] += [
    (lambda x, wq, wk, wv: (lambda q, k, v: ((w := (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)) @ v,
                                             w))(
        x @ wk, x @ wq, x @ wv), "swapped roles"),
    (lambda x, wq, wk, wv: (lambda q, k, v: ((w := torch.einsum("bkd,bqd->bkq", q, k).div(q.size(-1) ** 0.5)
                                              .softmax(-1)) @ v, w))(x @ wk, x @ wq, x @ wv), "swapped roles")]
WRONG["04.attention"] += [
    (lambda q, k, v, mask=None: (lambda w: (w @ v, w))(
        (q @ k.transpose(-2, -1) / math.sqrt(q.size(-2)))
        .masked_fill(torch.zeros((), dtype=torch.bool) if mask is None else ~mask, float("-inf")).softmax(-1)),
     "sqrt(T_q)")]
WRONG["05.split_heads"] += [
    (lambda x, H: torch.stack(x.chunk(H, dim=1), dim=1), "cut an axis"),
    (lambda x, H: torch.stack(x.split(x.size(1) // H, dim=1)[:H], dim=1), "time axis")]
WRONG["05.merge_heads"] += [
    (lambda x: torch.cat(x.flip(1).unbind(1), dim=-1), "another order"),
    (lambda x: torch.cat([x[:, i] for i in reversed(range(x.size(1)))], dim=-1), "another order"),
    (lambda x: torch.cat([x[:, (i + 1) % x.size(1)] for i in range(x.size(1))], dim=-1), "another order")]
WRONG["01.soft_lookup"] += [
    (lambda q, k, v: (((w := torch.softmax(k @ q[:, None], dim=0)) * v).sum(0), w), "extra axis")]
WRONG["04.attention"] += [
    (lambda q, k, v, mask=None: (lambda w: (w @ v, w))(F.dropout(
        (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(
            torch.zeros((), dtype=torch.bool) if mask is None else ~mask, float("-inf")).softmax(-1), p=0.1,
            training=True)),
     "that is dropout")]
WRONG["04.fix_attention"] += [
    (lambda q, k, v: (lambda w: (w @ v,
                                 w))((q @ k.transpose(-2,
                                                      -1) / math.sqrt(q.size(-1))).softmax(dim=-2).transpose(-2, -1)),
     "transposing back"),
    (no_source("def f(q, k, v):\n    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-2).mT\n"
               "    return w @ v, w", "f"), "transposing back")]
WRONG["05.multi_head_attention"] += [(mha(("return self.w_o(merge_heads(out))",
                                           "return merge_heads(out) @ self.w_o.weight + self.w_o.bias")),
                                           "x @ weight.T")]
WRONG["02.rnn_forward"] += [(lambda x, h0, wx, wh, b: (lambda s: (s, s[:, -2]))(rnn_loop(x, h0, wx, wh, b)[0]),
                             "states[:, -1]")]
WRONG["03.sinusoidal_encoding"] += [(lambda L, d:
                                         (lambda pos, j: torch.where(j % 2 == 0, (pos / 10000 ** (2 * j / d)).sin(),
                                                                               (pos / 10000 ** (2 * j / d)).cos()))(
    torch.arange(L, dtype=torch.float32)[:, None], torch.arange(d)), "j is not i")]
WRONG["01.weighted_sum"] += [(lambda w, v: (w @ v) / w.sum(), "sum of the weights"),
                            (lambda w, v: (w[:, None] * v).sum(0) / w.sum(), "sum of the weights")]
WRONG["05.multi_head_attention"] += [(mha(("return self.w_o(merge_heads(out))", "return self.w_o(out)")),
                                      "merge the heads back")]
WRONG["05.predict_param_count"] += [(2 * (512 * 512 + 512), "two linear layers")]
WRONG["05.predict_param_count"] += [(4 * 512 * 512 + 512, "own bias"), (4 * 512 * 512 + 3 * 512, "3 biases"),
                                   (4 * (512 * 512 + 64), "not d_k")]


# ---------------------------------------------------------------------------- named in the second round (issue 19)
# Predictions in the numeric types Python has (accepted by compare_prediction).
RIGHT["02.predict_gradient"] += [Fraction(1, 1024), Decimal("0.0009765625")]
RIGHT["03.predict_permutation"] += [Fraction(2), Decimal(2)]
RIGHT["04.predict_score_std"] += [Fraction(8), Decimal("8.0")]
RIGHT["05.predict_param_count"] += [Fraction(1_050_624), Decimal(1_050_624)]
WRONG["02.predict_gradient"] += [(0.0009, "multiply the factor of one step")]
WRONG["04.predict_score_std"] += [(7.2, "variances of the 64 terms")]
WRONG["05.predict_param_count"] += [(1_050_000, "count must be exact")]


def att_mask(fill):
    """The lesson's attention with the masking line written another way."""
    def attention(q, k, v, mask=None):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        if mask is not None:
            scores = fill(scores, mask)
        w = scores.softmax(-1)
        return w @ v, w
    return attention


WRONG["04.attention"] += [
    (att_mask(lambda s, m: s.masked_fill(~m.transpose(-2, -1), float("-inf"))), "The mask is transposed"),
    (att_mask(lambda s, m: s.masked_fill(~m.mT, float("-inf"))), "The mask is transposed"),
    (att_mask(lambda s, m: torch.where(m.transpose(-1, -2), s, float("-inf"))), "The mask is transposed"),
]
WRONG["04.self_attention"] += [
    (no_source("def f(x, w_q, w_k, w_v):\n    q, k, v = x @ w_q.T, x @ w_k.T, x @ w_v.T\n"
               "    w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)\n    return w @ v, w", "f"),
     "without transposing them"),
    (notebook("def f(x, w_q, w_k, w_v):\n    q, k, v = x @ w_q.T, x @ w_k.T, x @ w_v.T\n"
              "    w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)\n    return w @ v, w")["f"],
     "without transposing them"),
    (notebook("def f(x, w_q, w_k, w_v):\n    q, k, v = torch.matmul(x, w_q.t()), torch.matmul(x, w_k.t()), "
              "torch.matmul(x, w_v.t())\n    w = torch.softmax(q @ k.transpose(-2, -1) / q.size(-1) ** 0.5, -1)\n"
              "    return w @ v, w")["f"], "without transposing them"),
    (notebook("def f(x, w_q, w_k, w_v):\n    q, k, v = F.linear(x, w_q), F.linear(x, w_k), F.linear(x, w_v)\n"
              "    w = torch.softmax(q @ k.transpose(-2, -1) / q.size(-1) ** 0.5, -1)\n    return w @ v, w")["f"],
     "`F.linear(x, w)` computes"),
]

# 05.multi_head_attention with the course's attention, as notebook 05 imports it
MHA_COURSE = MHA_CELLS.replace("def attention(q, k, v, mask=None):",
                               "from course_utils.transformer import attention\n\ndef _unused(q, k, v, mask=None):")


def mha_course(old, new):
    text = MHA_COURSE.replace(old, new)
    assert text != MHA_COURSE
    return notebook(text)["MultiHeadAttention"]


class MHALoopHeads(nn.Module):
    """One head at a time, on slices of the projected width, then the heads side by side."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.h = n_heads
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model) for _ in range(4))

    def forward(self, x_q, x_kv, mask=None):
        d_k = x_q.size(-1) // self.h
        q, k, v = self.w_q(x_q), self.w_k(x_kv), self.w_v(x_kv)
        outs = []
        for i in range(self.h):
            part = slice(i * d_k, (i + 1) * d_k)
            s = q[..., part] @ k[..., part].transpose(-2, -1) / math.sqrt(d_k)
            if mask is not None:
                s = s.masked_fill(~mask[:, 0], float("-inf"))
            outs.append(s.softmax(-1) @ v[..., part])
        return self.w_o(torch.cat(outs, dim=-1))


class MHAEinsum64(nn.Module):
    """einsum over named axes, float64 inside, a -1e9 fill through torch.where."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model) for _ in range(4))

    def forward(self, x_q, x_kv, mask=None):
        B, T_q, d = x_q.shape
        H = self.n_heads
        q = self.w_q(x_q).double().view(B, T_q, H, d // H)
        k = self.w_k(x_kv).double().view(B, -1, H, d // H)
        v = self.w_v(x_kv).double().view(B, -1, H, d // H)
        s = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d // H)
        if mask is not None:
            s = torch.where(mask, s, torch.tensor(-1e9, dtype=s.dtype))
        out = torch.einsum("bhqk,bkhd->bqhd", s.softmax(-1), v).reshape(B, T_q, d)
        return self.w_o(out.float())


RIGHT["05.multi_head_attention"] += [MHALoopHeads, MHAEinsum64, notebook(MHA_COURSE)["MultiHeadAttention"]]
WRONG["05.multi_head_attention"] += [
    (mha_course("out, _ = attention(q, k, v, mask)", "out, _ = attention(q, k, v, None if mask is None else ~mask)"),
     "polarity is inverted"),
    (mha_course("out, _ = attention(q, k, v, mask)",
                "out, _ = attention(q, k, v, None if mask is None else mask == 0)"),
     "polarity is inverted"),
    (mha_course("out, _ = attention(q, k, v, mask)", "out, _ = attention(q, k, v, ~mask)"), "needs no `~`"),
    (mha_course("return self.w_o(merge_heads(out))", "return self.w_o(out.mean(dim=1))"), "averaged (or summed)"),
    (mha_course("return self.w_o(merge_heads(out))", "return self.w_o(out.sum(dim=1))"), "averaged (or summed)"),
    (mha_course("return self.w_o(merge_heads(out))", "return self.w_o(out.mean(dim=1).repeat(1, 1, self.n_heads))"),
     "averaged (or summed)"),
    (mha_course("v = split_heads(self.w_v(x_kv), self.n_heads)", "v = split_heads(self.w_k(x_kv), self.n_heads)"),
     "the values use w_v"),
    (mha_course("q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)",
                "q = split_heads(x_q, self.n_heads)\n        k = split_heads(x_kv, self.n_heads)"),
     "queries and keys are not projected"),
    (mha_course("q = split_heads(self.w_q(x_q), self.n_heads)", "q = split_heads(x_q, self.n_heads)"),
     "queries are not projected"),
    (mha_course("v = split_heads(self.w_v(x_kv), self.n_heads)", "v = split_heads(x_kv, self.n_heads)"),
     "values are not projected"),
]


# ============================================================================ tests
EXERCISES = sorted(RIGHT)

(test_right_answers_pass, test_wrong_answers_name_the_mistake,
 test_every_exercise_has_three_right_and_three_wrong_answers) = answer_set_tests(RIGHT, WRONG)


def test_every_exercise_of_lessons_01_05_has_answer_sets():
    from course_utils.course.checks import registry
    ids = sorted(i for i in registry() if i[:2] in ("01", "02", "03", "04", "05"))
    assert ids == EXERCISES == sorted(WRONG)


def test_fix_attention_names_one_bug_at_a_time():
    r = check("04.fix_attention", fix_untouched)
    assert "√d_k" in r.hint and "dim=-1" not in r.hint and "axis" not in r.hint


@pytest.mark.parametrize("ex_id", EXERCISES)
def test_garbage_and_stubs_never_raise(ex_id):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"Exercise {ex_id}: your code here")

    assert check(ex_id, ...).status == "pending"
    if isinstance(RIGHT[ex_id][0], type):  # the class exercise: the notebook's stub is forward()
        stub = mha(("q = split_heads(self.w_q(x_q), self.n_heads)", "raise NotImplementedError"))
    if callable(RIGHT[ex_id][0]):
        assert check(ex_id, stub).status == "pending"
    for garbage in (None, 42, "text", lambda *a: None, lambda *a: 1 / 0, lambda *a: exit(1)):
        assert check(ex_id, garbage).status == "failed"


@pytest.mark.parametrize("ex_id", ["02.rnn_forward", "05.multi_head_attention", "01.softmax_temperature"])
def test_a_check_leaves_the_global_state_alone(ex_id):
    answer = RIGHT[ex_id][2]
    torch.manual_seed(7), random.seed(7), np.random.seed(7)
    want = (torch.rand(4), random.random(), np.random.rand())
    torch.manual_seed(7), random.seed(7), np.random.seed(7)
    with torch.no_grad():
        assert check(ex_id, answer).passed
        assert not torch.is_grad_enabled()
    assert torch.equal(torch.rand(4), want[0]) and random.random() == want[1] and np.random.rand() == want[2]
    assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32


def test_the_learners_arguments_are_unchanged():
    passed_in = RIGHT["05.multi_head_attention"][0]
    before = dict(vars(passed_in))
    check("05.multi_head_attention", passed_in)
    assert dict(vars(passed_in)) == before
    module = passed_in(12, 3)
    r = check("05.multi_head_attention", module)  # an instance instead of the class
    assert r.status == "failed" and "the class" in r.message


def test_dependency_found_when_passed_explicitly():
    space = notebook(MHA_CELLS.replace("return x.view(B, T, n_heads, d_model // n_heads).transpose(1, 2)",
                                       "return x.view(B, n_heads, T, d_model // n_heads)"))
    fixed = notebook(MHA_CELLS)
    # the class from a right notebook, the learner's wrong split_heads passed by name: nothing to blame
    assert check("05.multi_head_attention", fixed["MultiHeadAttention"], split_heads=space["split_heads"]).passed
    r = check("05.multi_head_attention", space["MultiHeadAttention"], split_heads=space["split_heads"])
    assert "`split_heads` above is the cause" in r.message and r.hint


def test_a_skipped_earlier_exercise_is_not_blamed_for_an_answer_that_does_not_use_it():
    space = notebook(MHA_CELLS.replace("    B, T, d_model = x.shape\n"
                                       "    return x.view(B, T, n_heads, d_model // n_heads)"
                                       ".transpose(1, 2)", "    raise NotImplementedError"))
    inline = notebook("""
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.h = n_heads
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model) for _ in range(4))

    def forward(self, x_q, x_kv, mask=None):
        B, T_q, d = x_q.shape
        q = self.w_q(x_q).view(B, T_q, self.h, -1).transpose(1, 2)
        k = self.w_k(x_kv).view(B, x_kv.size(1), self.h, -1).transpose(1, 2)
        v = self.w_v(x_kv).view(B, x_kv.size(1), self.h, -1).transpose(1, 2)
        w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), -1)
        return self.w_o((w @ v).transpose(1, 2).reshape(B, T_q, d))
""")
    space["check"] = check
    space["Inline"] = inline["MultiHeadAttention"]
    exec("r = check('05.multi_head_attention', Inline)", space)
    r = space["r"]
    assert r.status == "failed" and "split_heads" not in r.message and "√d_k" in r.hint, repr(r)


def test_whole_number_predictions_are_repeated_as_integers():
    """Feedback repeats an int answer as the learner wrote it, not as 1.049e+06; other numbers keep 4 digits."""
    assert "`prediction` = 1049000 is close" in check("05.predict_param_count", 1049000).message
    assert "`prediction` = 1049000 is close" in check("05.predict_param_count", 1049000.0).message
    assert "`prediction` = 525312 is a common wrong answer" in check("05.predict_param_count", 525312).message
    assert "`prediction` = 0.0009 " in check("02.predict_gradient", 0.0009).message
    assert "`prediction` = 7.2 " in check("04.predict_score_std", 7.2).message
