"""Answers written from the exercise statements alone (exercises/NN_*.ipynb, lessons 01-10),
without looking at the graders or the other answer banks: for each exercise, right answers in
different styles and wrong answers of the kinds learners write.

Each entry is `A(exercise_id, label, right, name, source)`: `source` is the code of one answer
cell, run in a namespace holding that exercise notebook's imports; `name` is the object the check
cell passes to `check(exercise_id, name)`. tests/test_blind_answers.py grades them all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class A:
    exercise: str
    label: str
    right: bool
    name: str
    source: str


R, W = True, False
ANSWERS: list[A] = []


def add(exercise, name, *entries):
    for label, right, source in entries:
        ANSWERS.append(A(exercise, label, right, name, source))


# ---------------------------------------------------------------- lesson 01
add("01.weighted_sum", "weighted_sum",
    ("matmul", R, "def weighted_sum(weights, values):\n    return weights @ values\n"),
    ("loop", R, "def weighted_sum(weights, values):\n    out = torch.zeros(values.shape[1], dtype=values.dtype)\n"
                "    for i in range(len(weights)):\n        out = out + weights[i] * values[i]\n    return out\n"),
    ("einsum", R, "def weighted_sum(weights, values):\n    return torch.einsum('n,nd->d', weights, values)\n"),
    ("sum over the wrong axis", W,
     "def weighted_sum(weights, values):\n    return (weights[:, None] * values).sum(dim=1)\n"),
    ("values @ weights", W, "def weighted_sum(weights, values):\n    return values @ weights\n"),
    ("mean instead of sum", W,
     "def weighted_sum(weights, values):\n    return (weights[:, None] * values).mean(dim=0)\n"),
    ("no sum", W, "def weighted_sum(weights, values):\n    return weights[:, None] * values\n"),
    ("weights softmaxed again", W,
     "def weighted_sum(weights, values):\n    return torch.softmax(weights, -1) @ values\n"),
)

add("01.softmax_temperature", "softmax",
    ("hint style", R, "def softmax(scores, temperature=1.0):\n    z = scores / temperature\n"
                      "    z = z - z.max(dim=-1, keepdim=True).values\n    e = z.exp()\n"
                      "    return e / e.sum(dim=-1, keepdim=True)\n"),
    ("amax and torch.exp", R, "def softmax(scores, temperature=1.0):\n    m = scores.amax(-1, keepdim=True)\n"
                              "    e = torch.exp((scores - m) / temperature)\n"
                              "    return e / torch.sum(e, -1, keepdim=True)\n"),
    ("no max subtraction", W, "def softmax(scores, temperature=1.0):\n    e = torch.exp(scores / temperature)\n"
                              "    return e / e.sum(-1, keepdim=True)\n"),
    ("times temperature", W, "def softmax(scores, temperature=1.0):\n    z = scores * temperature\n"
                             "    z = z - z.max(-1, keepdim=True).values\n    e = z.exp()\n"
                             "    return e / e.sum(-1, keepdim=True)\n"),
    ("sum without keepdim", W, "def softmax(scores, temperature=1.0):\n    z = scores / temperature\n"
                               "    z = z - z.max(-1, keepdim=True).values\n    e = z.exp()\n"
                               "    return e / e.sum(-1)\n"),
    ("first axis", W, "def softmax(scores, temperature=1.0):\n    z = scores / temperature\n"
                      "    z = z - z.max(0, keepdim=True).values\n    e = z.exp()\n"
                      "    return e / e.sum(0, keepdim=True)\n"),
    ("max without keepdim", W, "def softmax(scores, temperature=1.0):\n    z = scores / temperature\n"
                               "    z = z - z.max(-1).values\n    e = z.exp()\n"
                               "    return e / e.sum(-1, keepdim=True)\n"),
    ("temperature ignored", W,
     "def softmax(scores, temperature=1.0):\n    z = scores - scores.max(-1, keepdim=True).values\n"
                               "    e = z.exp()\n    return e / e.sum(-1, keepdim=True)\n"),
)

add("01.soft_lookup", "soft_lookup",
    ("hint style", R, "def soft_lookup(query, keys, values):\n    weights = torch.softmax(keys @ query, dim=-1)\n"
                      "    return weights @ values, weights\n"),
    ("einsum and exp", R, "def soft_lookup(query, keys, values):\n    s = torch.einsum('nd,d->n', keys, query)\n"
                          "    e = torch.exp(s - s.max())\n    w = e / e.sum()\n"
                          "    return torch.einsum('n,nv->v', w, values), w\n"),
    ("query @ keys.T", R,
     "def soft_lookup(query, keys, values):\n    w = (query @ keys.T).softmax(0)\n    return values.T @ w, w\n"),
    ("scaled", W,
     "import math\ndef soft_lookup(query, keys, values):\n"
     "    w = torch.softmax(keys @ query / math.sqrt(query.shape[0]), -1)\n"
                  "    return w @ values, w\n"),
    ("pair swapped", W,
     "def soft_lookup(query, keys, values):\n    w = torch.softmax(keys @ query, -1)\n    return w, w @ values\n"),
    ("out only", W,
     "def soft_lookup(query, keys, values):\n    w = torch.softmax(keys @ query, -1)\n    return w @ values\n"),
    ("no softmax", W, "def soft_lookup(query, keys, values):\n    w = keys @ query\n    return w @ values, w\n"),
    ("mixes the keys", W,
     "def soft_lookup(query, keys, values):\n    w = torch.softmax(keys @ query, -1)\n    return w @ keys, w\n"),
)

# ---------------------------------------------------------------- lesson 02
add("02.rnn_step", "rnn_step",
    ("plain", R, "def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_xh + h_prev @ w_hh + b)\n"),
    ("einsum", R,
     "def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n"
     "    a = torch.einsum('bi,ih->bh', x_t, w_xh) + torch.einsum('bj,jh->bh', h_prev, w_hh)\n"
                  "    return (a + b[None, :]).tanh()\n"),
    ("no tanh", W, "def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return x_t @ w_xh + h_prev @ w_hh + b\n"),
    ("w_hh transposed", W,
     "def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_xh + h_prev @ w_hh.T + b)\n"),
    ("sigmoid", W,
     "def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.sigmoid(x_t @ w_xh + h_prev @ w_hh + b)\n"),
    ("no bias", W, "def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_xh + h_prev @ w_hh)\n"),
    ("relu", W, "def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.relu(x_t @ w_xh + h_prev @ w_hh + b)\n"),
)

_RNN_STEP = "def _step(x_t, h, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_xh + h @ w_hh + b)\n"
add("02.rnn_forward", "rnn_forward",
    ("list and stack", R, _RNN_STEP + "def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n"
                          "    for t in range(x.shape[1]):\n        h = _step(x[:, t], h, w_xh, w_hh, b)\n"
                          "        states.append(h)\n"
                          "    return torch.stack(states, dim=1), h\n"),
    ("preallocated", R, "def rnn_forward(x, h0, w_xh, w_hh, b):\n    B, T, _ = x.shape\n"
                        "    states = torch.empty(B, T, h0.shape[1], dtype=x.dtype)\n    h = h0\n"
                        "    for t in range(T):\n        h = torch.tanh(x[:, t, :] @ w_xh + h @ w_hh + b)\n"
                        "        states[:, t] = h\n"
                        "    return states, states[:, -1]\n"),
    ("stacked on axis 0", W, _RNN_STEP + "def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n"
                             "    for t in range(x.shape[1]):\n        h = _step(x[:, t], h, w_xh, w_hh, b)\n"
                             "        states.append(h)\n"
                             "    return torch.stack(states), h\n"),
    ("h0 kept in the states", W, _RNN_STEP + "def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, [h0]\n"
                                 "    for t in range(x.shape[1]):\n        h = _step(x[:, t], h, w_xh, w_hh, b)\n"
                                 "        states.append(h)\n"
                                 "    return torch.stack(states, 1), h\n"),
    ("state stored before the step", W, _RNN_STEP + "def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n"
                                        "    for t in range(x.shape[1]):\n        states.append(h)\n"
                                        "        h = _step(x[:, t], h, w_xh, w_hh, b)\n"
                                        "    return torch.stack(states, 1), h\n"),
    ("h not carried", W, _RNN_STEP + "def rnn_forward(x, h0, w_xh, w_hh, b):\n    states = []\n"
                         "    for t in range(x.shape[1]):\n        h = _step(x[:, t], h0, w_xh, w_hh, b)\n"
                         "        states.append(h)\n"
                         "    return torch.stack(states, 1), h\n"),
    ("pair swapped", W, _RNN_STEP + "def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n"
                        "    for t in range(x.shape[1]):\n        h = _step(x[:, t], h, w_xh, w_hh, b)\n"
                        "        states.append(h)\n"
                        "    return h, torch.stack(states, dim=1)\n"),
    ("reads x along the batch", W, _RNN_STEP + "def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n"
                                   "    for t in range(x.shape[1]):\n"
                                   "        h = _step(x[:, t].flip(0), h, w_xh, w_hh, b)\n        states.append(h)\n"
                                   "    return torch.stack(states, dim=1), h\n"),
)

add("02.predict_gradient", "prediction",
    ("power", R, "prediction = 0.5 ** 10\n"),
    ("decimal literal", R, "prediction = 0.000977\n"),
    ("fraction", R, "from fractions import Fraction\nprediction = Fraction(1, 1024)\n"),
    ("nine steps", W, "prediction = 0.5 ** 9\n"),
    ("eleven steps", W, "prediction = 0.5 ** 11\n"),
    ("added not multiplied", W, "prediction = 5.0\n"),
    ("inverse", W, "prediction = 1024\n"),
    ("zero", W, "prediction = 0\n"),
)

# ---------------------------------------------------------------- lesson 03
add("03.word2idx", "build_word2idx",
    ("loop", R, "def build_word2idx(sentences):\n    word2idx = {}\n    for s in sentences:\n        for w in s:\n"
                "            if w not in word2idx:\n                word2idx[w] = len(word2idx) + 1\n"
                "    return word2idx\n"),
    ("fromkeys", R, "def build_word2idx(sentences):\n    order = dict.fromkeys(w for s in sentences for w in s)\n"
                    "    return {w: i for i, w in enumerate(order, start=1)}\n"),
    ("ids from 0", W, "def build_word2idx(sentences):\n    d = {}\n    for s in sentences:\n        for w in s:\n"
                      "            if w not in d:\n                d[w] = len(d)\n    return d\n"),
    ("sorted vocabulary", W, "def build_word2idx(sentences):\n    words = sorted({w for s in sentences for w in s})\n"
                             "    return {w: i + 1 for i, w in enumerate(words)}\n"),
    ("reassigns seen words", W,
     "def build_word2idx(sentences):\n    d = {}\n    for s in sentences:\n        for w in s:\n"
                                "            d[w] = len(d) + 1\n    return d\n"),
    ("running counter", W,
     "def build_word2idx(sentences):\n    d, i = {}, 1\n    for s in sentences:\n        for w in s:\n"
                           "            d.setdefault(w, i)\n            i += 1\n    return d\n"),
    ("list of words", W, "def build_word2idx(sentences):\n    out = []\n    for s in sentences:\n        for w in s:\n"
                         "            if w not in out:\n                out.append(w)\n    return out\n"),
    ("pops the tokens", W, "def build_word2idx(sentences):\n    d = {}\n    for s in sentences:\n        while s:\n"
                           "            w = s.pop(0)\n            if w not in d:\n                d[w] = len(d) + 1\n"
                           "    return d\n"),
)

add("03.predict_permutation", "prediction",
    ("row 2", R, "prediction = 2\n"),
    ("row 2 as a tensor", R, "prediction = torch.tensor(2)\n"),
    ("row 0", W, "prediction = 0\n"),
    ("none", W, "prediction = None\n"),
    ("row 1", W, "prediction = 1\n"),
)

add("03.sinusoidal_encoding", "sinusoidal_encoding",
    ("hint style", R, "def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n"
                      "    two_i = torch.arange(0, d_model, 2).float()\n    ang = pos / 10000 ** (two_i / d_model)\n"
                      "    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = torch.sin(ang)\n"
                      "    pe[:, 1::2] = torch.cos(ang)\n    return pe\n"),
    ("loops with math", R, "def sinusoidal_encoding(max_len, d_model):\n    pe = torch.zeros(max_len, d_model)\n"
                           "    for pos in range(max_len):\n        for i in range(0, d_model, 2):\n"
                           "            a = pos / 10000 ** (i / d_model)\n            pe[pos, i] = math.sin(a)\n"
                           "            pe[pos, i + 1] = math.cos(a)\n    return pe\n"),
    ("exp-log frequencies, stack", R,
     "def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)\n"
                                      "    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, "
                                      "dtype=torch.float32) / d_model)\n"
                                      "    a = pos * freq\n"
                                      "    return torch.stack([a.sin(), a.cos()], dim=-1).reshape(max_len, d_model)\n"),
    ("sin half then cos half", W,
     "def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n"
                                  "    two_i = torch.arange(0, d_model, 2).float()\n"
                                  "    a = pos / 10000 ** (two_i / d_model)\n"
                                  "    return torch.cat([a.sin(), a.cos()], dim=1)\n"),
    ("i instead of 2i", W,
     "def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n"
                           "    i = torch.arange(d_model // 2).float()\n    a = pos / 10000 ** (i / d_model)\n"
                           "    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = a.sin()\n"
                           "    pe[:, 1::2] = a.cos()\n    return pe\n"),
    ("sin and cos swapped", W,
     "def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n"
                               "    two_i = torch.arange(0, d_model, 2).float()\n"
                               "    a = pos / 10000 ** (two_i / d_model)\n"
                               "    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = a.cos()\n"
                               "    pe[:, 1::2] = a.sin()\n    return pe\n"),
    ("own frequency per column", W,
     "def sinusoidal_encoding(max_len, d_model):\n    pe = torch.zeros(max_len, d_model)\n"
                                    "    for pos in range(max_len):\n        for j in range(d_model):\n"
                                    "            a = pos / 10000 ** (j / d_model)\n"
                                    "            pe[pos, j] = math.sin(a) if j % 2 == 0 else math.cos(a)\n"
                                    "    return pe\n"),
    ("transposed", W, "def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n"
                      "    two_i = torch.arange(0, d_model, 2).float()\n    a = pos / 10000 ** (two_i / d_model)\n"
                      "    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = a.sin()\n    pe[:, 1::2] = a.cos()\n"
                      "    return pe.T\n"),
    ("positions from 1", W,
     "def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(1, max_len + 1).float()[:, None]\n"
                            "    two_i = torch.arange(0, d_model, 2).float()\n"
                            "    a = pos / 10000 ** (two_i / d_model)\n"
                            "    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = a.sin()\n"
                            "    pe[:, 1::2] = a.cos()\n    return pe\n"),
    ("multiplied by the frequency base", W,
     "def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n"
                                            "    two_i = torch.arange(0, d_model, 2).float()\n"
                                            "    a = pos * 10000 ** (two_i / d_model)\n"
                                            "    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = a.sin()\n"
                                            "    pe[:, 1::2] = a.cos()\n    return pe\n"),
)

add("03.embed_with_positions", "embed_with_positions",
    ("hint style", R, "def embed_with_positions(ids, table, pe):\n    return table[ids] + pe[:ids.shape[1]]\n"),
    ("F.embedding", R, "import torch.nn.functional as F\ndef embed_with_positions(ids, table, pe):\n"
                       "    T = ids.size(1)\n    return F.embedding(ids, table) + pe[:T].unsqueeze(0)\n"),
    ("whole pe", W, "def embed_with_positions(ids, table, pe):\n    return table[ids] + pe\n"),
    ("scaled by sqrt(d_model)", W, "def embed_with_positions(ids, table, pe):\n"
                                   "    return table[ids] * math.sqrt(table.shape[1]) + pe[:ids.shape[1]]\n"),
    ("pe indexed by ids", W, "def embed_with_positions(ids, table, pe):\n    return table[ids] + pe[ids]\n"),
    ("multiplied", W, "def embed_with_positions(ids, table, pe):\n    return table[ids] * pe[:ids.shape[1]]\n"),
    ("no positions", W, "def embed_with_positions(ids, table, pe):\n    return table[ids]\n"),
    ("positions off by one", W,
     "def embed_with_positions(ids, table, pe):\n    T = ids.shape[1]\n    return table[ids] + pe[1:T + 1]\n"),
    ("pe cut by the batch size", W,
     "def embed_with_positions(ids, table, pe):\n    B = ids.shape[0]\n    return table[ids] + pe[:B][:, None]\n"),
)

# ---------------------------------------------------------------- lesson 04
_ATT = ("def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
        "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1)\n"
        "    return w @ v, w\n")


def _att(scores_line="s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))",
         mask_line="s = s.masked_fill(~mask, float('-inf'))",
         soft="w = s.softmax(dim=-1)", ret="return w @ v, w"):
    return (f"def attention(q, k, v, mask=None):\n    {scores_line}\n    if mask is not None:\n        {mask_line}\n"
            f"    {soft}\n    {ret}\n")


add("04.attention", "attention",
    ("hint style", R, _ATT),
    ("einsum and where", R, "def attention(q, k, v, mask=None):\n    d_k = q.shape[-1]\n"
                            "    s = torch.einsum('...qd,...kd->...qk', q, k) * d_k ** -0.5\n"
                            "    if mask is not None:\n"
                            "        s = torch.where(mask, s, torch.tensor(float('-inf'), dtype=s.dtype))\n"
                            "    w = torch.softmax(s, dim=-1)\n"
                            "    return torch.einsum('...qk,...kv->...qv', w, v), w\n"),
    ("matmul and exp", R, "def attention(q, k, v, mask=None):\n    s = torch.matmul(q, k.mT) / q.shape[-1] ** 0.5\n"
                          "    if mask is not None:\n        s = s.masked_fill(mask == False, -math.inf)\n"
                          "    s = s - s.amax(-1, keepdim=True)\n    e = s.exp()\n"
                          "    w = e / e.sum(-1, keepdim=True)\n    return torch.matmul(w, v), w\n"),
    ("mask inverted", W, _att(mask_line="s = s.masked_fill(mask, float('-inf'))")),
    ("no scaling", W, _att(scores_line="s = q @ k.transpose(-2, -1)")),
    ("divided by d_k", W, _att(scores_line="s = q @ k.transpose(-2, -1) / q.size(-1)")),
    ("softmax over queries", W, _att(soft="w = s.softmax(dim=-2)")),
    ("k.T", W, _att(scores_line="s = q @ k.T / math.sqrt(q.size(-1))")),
    ("scaled by T_q", W, _att(scores_line="s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-2))")),
    ("mask after softmax", W,
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
                              "    w = s.softmax(-1)\n    if mask is not None:\n        w = w * mask\n"
                              "    return w @ v, w\n"),
    ("mask transposed", W, _att(mask_line="s = s.masked_fill(~mask.transpose(-2, -1), float('-inf'))")),
    ("returns the scores", W,
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
                              "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n"
                              "    return s.softmax(-1) @ v, s\n"),
    ("scaled by d_v", W, _att(scores_line="s = q @ k.transpose(-2, -1) / math.sqrt(v.size(-1))")),
    ("mask ignored", W, _att(mask_line="pass")),
)

_FIX = ("def attention_fixed(q, k, v):\n    d_k = q.size(-1)\n    scores = q @ k.transpose(-2, -1){scale}\n"
        "    weights = {soft}\n    return weights @ v, weights\n")
add("04.fix_attention", "attention_fixed",
    ("both fixed", R, _FIX.format(scale=" / math.sqrt(d_k)", soft="scores.softmax(dim=-1)")),
    ("power form", R, _FIX.format(scale=" * d_k ** -0.5", soft="torch.softmax(scores, -1)")),
    ("axis only", W, _FIX.format(scale="", soft="scores.softmax(dim=-1)")),
    ("scale only", W, _FIX.format(scale=" / math.sqrt(d_k)", soft="scores.softmax(dim=-2)")),
    ("divided by d_k", W, _FIX.format(scale=" / d_k", soft="scores.softmax(dim=-1)")),
    ("scale after softmax", W,
     "def attention_fixed(q, k, v):\n    d_k = q.size(-1)\n    scores = q @ k.transpose(-2, -1)\n"
                               "    weights = scores.softmax(dim=-1) / math.sqrt(d_k)\n"
                               "    return weights @ v, weights\n"),
    ("axis 0", W, _FIX.format(scale=" / math.sqrt(d_k)", soft="scores.softmax(dim=0)")),
)

add("04.predict_score_std", "prediction",
    ("eight", R, "prediction = 8\n"),
    ("sqrt", R, "prediction = math.sqrt(64)\n"),
    ("the variance", W, "prediction = 64\n"),
    ("one", W, "prediction = 1\n"),
    ("one eighth", W, "prediction = 0.125\n"),
    ("four", W, "prediction = 4\n"),
)

add("04.self_attention", "self_attention",
    ("own attention", R,
     _ATT + "def self_attention(x, w_q, w_k, w_v):\n    return attention(x @ w_q, x @ w_k, x @ w_v)\n"),
    ("einsum inline", R, "def self_attention(x, w_q, w_k, w_v):\n    q = torch.einsum('btm,mk->btk', x, w_q)\n"
                         "    k = torch.einsum('btm,mk->btk', x, w_k)\n    v = torch.einsum('btm,mv->btv', x, w_v)\n"
                         "    w = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(w_q.shape[1]), dim=-1)\n"
                         "    return w @ v, w\n"),
    ("weights transposed", W,
     _ATT + "def self_attention(x, w_q, w_k, w_v):\n    return attention(x @ w_q.T, x @ w_k.T, x @ w_v.T)\n"),
    ("V with w_k", W,
     _ATT + "def self_attention(x, w_q, w_k, w_v):\n    return attention(x @ w_q, x @ w_k, x @ w_k)\n"),
    ("no scaling", W, "def self_attention(x, w_q, w_k, w_v):\n    q, k, v = x @ w_q, x @ w_k, x @ w_v\n"
                      "    w = (q @ k.transpose(-2, -1)).softmax(-1)\n    return w @ v, w\n"),
    ("no projections", W, _ATT + "def self_attention(x, w_q, w_k, w_v):\n    return attention(x, x, x)\n"),
    ("scaled by d_model", W, "def self_attention(x, w_q, w_k, w_v):\n    q, k, v = x @ w_q, x @ w_k, x @ w_v\n"
                             "    w = (q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1])).softmax(-1)\n"
                             "    return w @ v, w\n"),
    ("q and k swapped", W,
     _ATT + "def self_attention(x, w_q, w_k, w_v):\n    return attention(x @ w_k, x @ w_q, x @ w_v)\n"),
    ("out only", W,
     _ATT + "def self_attention(x, w_q, w_k, w_v):\n    out, _ = attention(x @ w_q, x @ w_k, x @ w_v)\n"
            "    return out\n"),
)

# ---------------------------------------------------------------- lesson 05
add("05.split_heads", "split_heads",
    ("view and transpose", R,
     "def split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\n"),
    ("reshape and permute", R, "def split_heads(x, n_heads):\n    B, T, D = x.shape\n"
                               "    return x.reshape(B, T, n_heads, -1).permute(0, 2, 1, 3)\n"),
    ("stacked slices", R, "def split_heads(x, n_heads):\n    d_k = x.shape[-1] // n_heads\n"
                          "    return torch.stack([x[..., h * d_k:(h + 1) * d_k] for h in range(n_heads)], dim=1)\n"),
    ("straight view", W,
     "def split_heads(x, n_heads):\n    B, T, D = x.shape\n    return x.view(B, n_heads, T, D // n_heads)\n"),
    ("no transpose", W,
     "def split_heads(x, n_heads):\n    B, T, D = x.shape\n    return x.view(B, T, n_heads, D // n_heads)\n"),
    ("strided columns", W, "def split_heads(x, n_heads):\n    B, T, D = x.shape\n"
                           "    return x.view(B, T, D // n_heads, n_heads).permute(0, 3, 1, 2)\n"),
    ("transpose(1, 3)", W,
     "def split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 3)\n"),
    ("n_heads read as d_k", W,
     "def split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, D // n_heads, n_heads).transpose(1, 2)\n"),
)

add("05.merge_heads", "merge_heads",
    ("transpose and reshape", R,
     "def merge_heads(x):\n    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\n"),
    ("cat heads", R, "def merge_heads(x):\n    return torch.cat([x[:, h] for h in range(x.shape[1])], dim=-1)\n"),
    ("contiguous view", R,
     "def merge_heads(x):\n    B, H, T, d_k = x.shape\n    return x.permute(0, 2, 1, 3).contiguous().view(B, T, -1)\n"),
    ("reshape without transpose", W,
     "def merge_heads(x):\n    B, H, T, d_k = x.shape\n    return x.reshape(B, T, H * d_k)\n"),
    ("view after transpose", W,
     "def merge_heads(x):\n    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).view(B, T, H * d_k)\n"),
    ("interleaved", W,
     "def merge_heads(x):\n    B, H, T, d_k = x.shape\n    return x.permute(0, 2, 3, 1).reshape(B, T, H * d_k)\n"),
    ("heads averaged", W, "def merge_heads(x):\n    return x.mean(dim=1)\n"),
    ("heads reversed", W,
     "def merge_heads(x):\n    return torch.cat([x[:, h] for h in reversed(range(x.shape[1]))], dim=-1)\n"),
)

_MHA_HEAD = ("class MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
             "        super().__init__()\n"
             "        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
             "        self.w_k = nn.Linear(d_model, d_model)\n"
             "        self.w_v = nn.Linear(d_model, d_model)\n        self.w_o = nn.Linear(d_model, d_model)\n"
             "    def _split(self, x):\n        B, T, D = x.shape\n"
             "        return x.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2)\n"
             "    def _merge(self, x):\n        B, H, T, d = x.shape\n"
             "        return x.transpose(1, 2).reshape(B, T, H * d)\n")


def _mha(body):
    lines = "".join("        " + line + "\n" for line in body.split("\n"))
    return _MHA_HEAD + "    def forward(self, x_q, x_kv, mask=None):\n" + lines


_MHA_OK = ("q = self._split(self.w_q(x_q))\nk = self._split(self.w_k(x_kv))\nv = self._split(self.w_v(x_kv))\n"
           "out, _ = attention(q, k, v, mask)\nreturn self.w_o(self._merge(out))")
add("05.multi_head_attention", "MultiHeadAttention",
    ("course attention", R, _mha(_MHA_OK)),
    ("einsum by hand", R,
     _mha("H = self.n_heads\n"
          "q, k, v = self._split(self.w_q(x_q)), self._split(self.w_k(x_kv)), self._split(self.w_v(x_kv))\n"
                               "s = torch.einsum('bhqd,bhkd->bhqk', q, k) / math.sqrt(q.shape[-1])\n"
                               "if mask is not None:\n    s = s.masked_fill(~mask, float('-inf'))\n"
                               "w = s.softmax(-1)\n"
                               "return self.w_o(self._merge(torch.einsum('bhqk,bhkd->bhqd', w, v)))")),
    ("mask inverted", W,
     _mha(_MHA_OK.replace("attention(q, k, v, mask)", "attention(q, k, v, None if mask is None else ~mask)"))),
    ("heads averaged", W, _mha(_MHA_OK.replace("self._merge(out)", "out.mean(1).repeat(1, 1, self.n_heads)"))),
    ("V with w_k", W, _mha(_MHA_OK.replace("self.w_v(x_kv)", "self.w_k(x_kv)"))),
    ("q and k not projected", W, _mha(_MHA_OK.replace("self.w_q(x_q)", "x_q").replace("self.w_k(x_kv)", "x_kv"))),
    ("no output projection", W, _mha(_MHA_OK.replace("return self.w_o(self._merge(out))", "return self._merge(out)"))),
    ("scaled by d_model", W,
     _mha("q, k, v = self._split(self.w_q(x_q)), self._split(self.w_k(x_kv)), self._split(self.w_v(x_kv))\n"
                                  "s = q @ k.transpose(-2, -1) / math.sqrt(x_q.shape[-1])\n"
                                  "if mask is not None:\n    s = s.masked_fill(~mask, float('-inf'))\n"
                                  "return self.w_o(self._merge(s.softmax(-1) @ v))")),
    ("straight view split", W, _mha(_MHA_OK.replace("self._split(", "self._bad(")).replace(
        "    def forward",
        "    def _bad(self, x):\n        B, T, D = x.shape\n"
        "        return x.view(B, self.n_heads, T, D // self.n_heads)\n    def forward")),
    ("keys from x_q", W,
     _mha(_MHA_OK.replace("self.w_k(x_kv)", "self.w_k(x_q)").replace("self.w_v(x_kv)", "self.w_v(x_q)"))),
)

add("05.predict_param_count", "prediction",
    ("exact", R, "prediction = 4 * (512 * 512 + 512)\n"),
    ("literal", R, "prediction = 1050624\n"),
    ("no biases", W, "prediction = 4 * 512 * 512\n"),
    ("one layer", W, "prediction = 512 * 512 + 512\n"),
    ("per head", W, "prediction = 8 * 4 * (512 * 512 + 512)\n"),
    ("three projections", W, "prediction = 3 * (512 * 512 + 512)\n"),
)

# ---------------------------------------------------------------- lesson 06
add("06.causal_mask", "causal_mask",
    ("tril", R, "def causal_mask(T):\n    return torch.tril(torch.ones(T, T, dtype=torch.bool))\n"),
    ("arange", R, "def causal_mask(T):\n    i = torch.arange(T)\n    return i[:, None] >= i[None, :]\n"),
    ("triu not", R, "def causal_mask(T):\n    return ~torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)\n"),
    ("upper triangle", W, "def causal_mask(T):\n    return torch.triu(torch.ones(T, T, dtype=torch.bool))\n"),
    ("True = blocked", W,
     "def causal_mask(T):\n    return torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)\n"),
    ("float", W, "def causal_mask(T):\n    return torch.tril(torch.ones(T, T))\n"),
    ("diagonal excluded", W,
     "def causal_mask(T):\n    return torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-1)\n"),
    ("int", W, "def causal_mask(T):\n    return torch.tril(torch.ones(T, T, dtype=torch.int64))\n"),
    ("additive -inf mask", W,
     "def causal_mask(T):\n    return torch.triu(torch.full((T, T), float('-inf')), diagonal=1)\n"),
)

add("06.padding_mask", "padding_mask",
    ("indexing", R, "def padding_mask(tokens, pad_id):\n    return (tokens != pad_id)[:, None, None, :]\n"),
    ("unsqueeze", R, "def padding_mask(tokens, pad_id):\n    return tokens.ne(pad_id).unsqueeze(1).unsqueeze(2)\n"),
    ("inverted", W, "def padding_mask(tokens, pad_id):\n    return (tokens == pad_id)[:, None, None, :]\n"),
    ("pad id 0 hard-coded", W, "def padding_mask(tokens, pad_id):\n    return (tokens != 0)[:, None, None, :]\n"),
    ("no singleton axes", W, "def padding_mask(tokens, pad_id):\n    return tokens != pad_id\n"),
    ("axes in the wrong places", W,
     "def padding_mask(tokens, pad_id):\n    return (tokens != pad_id)[:, None, :, None]\n"),
    ("float", W, "def padding_mask(tokens, pad_id):\n    return (tokens != pad_id).float()[:, None, None, :]\n"),
    ("one singleton axis", W, "def padding_mask(tokens, pad_id):\n    return (tokens != pad_id)[:, None, :]\n"),
)

_PAD = "def _pad(t, p):\n    return (t != p)[:, None, None, :]\n"
add("06.decoder_mask", "decoder_mask",
    ("pad & causal", R, _PAD + "def decoder_mask(tgt, pad_id):\n    T = tgt.shape[1]\n"
                        "    return _pad(tgt, pad_id) & torch.tril(torch.ones(T, T, dtype=torch.bool))\n"),
    ("logical_and expand", R, "def decoder_mask(tgt, pad_id):\n    B, T = tgt.shape\n    i = torch.arange(T)\n"
                              "    causal = (i[None, :] <= i[:, None]).expand(B, 1, T, T)\n"
                              "    return torch.logical_and(causal, (tgt != pad_id).view(B, 1, 1, T))\n"),
    ("or", W, _PAD + "def decoder_mask(tgt, pad_id):\n    T = tgt.shape[1]\n"
              "    return _pad(tgt, pad_id) | torch.tril(torch.ones(T, T, dtype=torch.bool))\n"),
    ("padding on the query axis", W, "def decoder_mask(tgt, pad_id):\n    T = tgt.shape[1]\n"
                                     "    return (tgt != pad_id)[:, None, :, None] & torch.tril(torch.ones(T, T, "
                                     "dtype=torch.bool))\n"),
    ("causal only", W, "def decoder_mask(tgt, pad_id):\n    B, T = tgt.shape\n"
                       "    return torch.tril(torch.ones(T, T, dtype=torch.bool)).expand(B, 1, T, T)\n"),
    ("upper triangle", W, _PAD + "def decoder_mask(tgt, pad_id):\n    T = tgt.shape[1]\n"
                          "    return _pad(tgt, pad_id) & torch.triu(torch.ones(T, T, dtype=torch.bool))\n"),
    ("no head axis", W, "def decoder_mask(tgt, pad_id):\n    T = tgt.shape[1]\n"
                        "    return (tgt != pad_id)[:, None, :] & torch.tril(torch.ones(T, T, dtype=torch.bool))\n"),
    ("padding only", W,
     _PAD + "def decoder_mask(tgt, pad_id):\n    T = tgt.shape[1]\n    return _pad(tgt, pad_id).expand(-1, 1, T, T)\n"),
)

add("06.masked_softmax", "masked_softmax",
    ("nan_to_num", R, "def masked_softmax(scores, mask):\n"
                      "    return scores.masked_fill(~mask, float('-inf')).softmax(dim=-1).nan_to_num(0.0)\n"),
    ("where any", R,
     "def masked_softmax(scores, mask):\n    w = torch.softmax(scores.masked_fill(~mask, float('-inf')), -1)\n"
                     "    return torch.where(mask.any(dim=-1, keepdim=True), w, torch.zeros_like(w))\n"),
    ("exp by hand", R, "def masked_softmax(scores, mask):\n    m = mask.expand_as(scores)\n"
                       "    s = scores.masked_fill(~m, float('-inf'))\n"
                       "    mx = s.amax(-1, keepdim=True).clamp(min=-1e30)\n"
                       "    e = (s - mx).exp() * m\n    z = e.sum(-1, keepdim=True)\n"
                       "    return e / torch.where(z == 0, torch.ones_like(z), z)\n"),
    ("-1e9 fill", W, "def masked_softmax(scores, mask):\n    return scores.masked_fill(~mask, -1e9).softmax(-1)\n"),
    ("in place", W, "def masked_softmax(scores, mask):\n    scores.masked_fill_(~mask, float('-inf'))\n"
                    "    return scores.softmax(-1).nan_to_num(0.0)\n"),
    ("mask inverted", W, "def masked_softmax(scores, mask):\n"
                         "    return scores.masked_fill(mask, float('-inf')).softmax(-1).nan_to_num(0.0)\n"),
    ("NaN left", W,
     "def masked_softmax(scores, mask):\n    return scores.masked_fill(~mask, float('-inf')).softmax(-1)\n"),
    ("multiplied after softmax", W, "def masked_softmax(scores, mask):\n    return scores.softmax(-1) * mask\n"),
    ("softmax over queries", W, "def masked_softmax(scores, mask):\n"
                                "    return scores.masked_fill(~mask, float('-inf')).softmax(-2).nan_to_num(0.0)\n"),
)

_NNB = ("def causal_self_attention(mha, x, tgt, pad_id):\n    T = x.size(1)\n    attn_mask = {am}\n"
        "    key_padding_mask = {kpm}\n"
        "    out, _ = mha(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask)\n    return out\n")
add("06.nn_border", "causal_self_attention",
    ("both inverted", R, _NNB.format(am="~masks.causal_mask(T)", kpm="~masks.padding_mask(tgt, pad_id)[:, 0, 0, :]")),
    ("written directly", R,
     _NNB.format(am="torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)", kpm="tgt == pad_id")),
    ("additive float mask", R,
     _NNB.format(am="torch.triu(torch.full((T, T), float('-inf')), diagonal=1)", kpm="tgt.eq(pad_id)")),
    ("causal only inverted", W,
     _NNB.format(am="~masks.causal_mask(T)", kpm="masks.padding_mask(tgt, pad_id)[:, 0, 0, :]")),
    ("padding only inverted", W,
     _NNB.format(am="masks.causal_mask(T)", kpm="~masks.padding_mask(tgt, pad_id)[:, 0, 0, :]")),
    ("padding mask (B,1,1,T)", W, _NNB.format(am="~masks.causal_mask(T)", kpm="~masks.padding_mask(tgt, pad_id)")),
    ("float 0/1 mask", W, _NNB.format(am="(~masks.causal_mask(T)).float()", kpm="tgt == pad_id")),
    ("no causal mask", W, _NNB.format(am="None", kpm="tgt == pad_id")),
    ("no padding mask", W, _NNB.format(am="~masks.causal_mask(T)", kpm="None")),
)

# ---------------------------------------------------------------- lesson 07
_CA = ("def cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n    q, k, v = {proj}\n"
       "    s = {scores}\n    if src_mask is not None:\n        {mask}\n    w = {soft}\n    return w @ v, w\n")


def _ca(proj="x @ w_q, memory @ w_k, memory @ w_v", scores="q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])",
        mask="s = s.masked_fill(~src_mask, float('-inf'))", soft="s.softmax(dim=-1)"):
    return _CA.format(proj=proj, scores=scores, mask=mask, soft=soft)


add("07.cross_attention", "cross_attention",
    ("hint style", R, _ca()),
    ("course attention", R, "def cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n"
                            "    return attention(x @ w_q, memory @ w_k, memory @ w_v, src_mask)\n"),
    ("einsum and where", R, "def cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n"
                            "    q = torch.einsum('btm,mk->btk', x, w_q)\n"
                            "    k = torch.einsum('bsm,mk->bsk', memory, w_k)\n"
                            "    v = torch.einsum('bsm,mv->bsv', memory, w_v)\n"
                            "    s = torch.einsum('btk,bsk->bts', q, k) / w_q.shape[1] ** 0.5\n"
                            "    if src_mask is not None:\n        s = torch.where(src_mask, s, float('-inf'))\n"
                            "    w = torch.softmax(s, dim=2)\n    return torch.einsum('bts,bsv->btv', w, v), w\n"),
    ("queries from memory", W, _ca(proj="memory @ w_q, x @ w_k, x @ w_v")),
    ("mask inverted", W, _ca(mask="s = s.masked_fill(src_mask, float('-inf'))")),
    ("no scaling", W, _ca(scores="q @ k.transpose(-2, -1)")),
    ("softmax over targets", W, _ca(soft="s.softmax(dim=-2)")),
    ("mask ignored", W, _ca(mask="pass")),
    ("values from x", W, _ca(proj="x @ w_q, memory @ w_k, x @ w_v")),
    ("scaled by d_model", W, _ca(scores="q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1])")),
)

add("07.alignment", "alignment",
    ("mean argmax", R, "def alignment(weights):\n    return weights.mean(dim=1).argmax(dim=-1)\n"),
    ("sum argmax", R, "def alignment(weights):\n    return torch.argmax(weights.sum(1), dim=2)\n"),
    ("argmax over targets", W, "def alignment(weights):\n    return weights.mean(dim=1).argmax(dim=-2)\n"),
    ("averaged over targets", W, "def alignment(weights):\n    return weights.mean(dim=2).argmax(dim=-1)\n"),
    ("max over heads", W, "def alignment(weights):\n    return weights.amax(dim=1).argmax(dim=-1)\n"),
    ("first head only", W, "def alignment(weights):\n    return weights[:, 0].argmax(dim=-1)\n"),
    ("float indices", W, "def alignment(weights):\n    return weights.mean(dim=1).argmax(dim=-1).float()\n"),
    ("max values", W, "def alignment(weights):\n    return weights.mean(dim=1).max(dim=-1).values\n"),
    ("argmax per head", W, "def alignment(weights):\n    return weights.argmax(dim=-1)\n"),
)

add("07.predict_alignment", "prediction",
    ("tokens", R, "prediction = ['I', 'cats', 'cats']\n"),
    ("tuple", R, "prediction = ('I', 'cats', 'cats')\n"),
    ("by meaning", W, "prediction = ['I', 'love', 'cats']\n"),
    ("pad not masked", W, "prediction = ['I', '<pad>', '<pad>']\n"),
    ("cats everywhere", W, "prediction = ['cats', 'cats', 'cats']\n"),
    ("indices", W, "prediction = [0, 2, 2]\n"),
)

# ---------------------------------------------------------------- lesson 08
add("08.predict_layernorm", "prediction",
    ("two decimals", R, "prediction = [-1.34, -0.45, 0.45, 1.34]\n"),
    ("computed", R, "prediction = [(v - 2.5) / 1.25 ** 0.5 for v in (1, 2, 3, 4)]\n"),
    ("unbiased variance", W, "prediction = [-1.16, -0.39, 0.39, 1.16]\n"),
    ("centred only", W, "prediction = [-1.5, -0.5, 0.5, 1.5]\n"),
    ("zeros", W, "prediction = [0, 0, 0, 0]\n"),
    ("divided by the variance", W, "prediction = [-1.2, -0.4, 0.4, 1.2]\n"),
    ("sign flipped", W, "prediction = [1.34, 0.45, -0.45, -1.34]\n"),
)

_LN = "def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = {mean}\n    var = {var}\n    return {ret}\n"


def _ln(mean="x.mean(-1, keepdim=True)", var="x.var(-1, unbiased=False, keepdim=True)",
        ret="gamma * (x - mean) / torch.sqrt(var + eps) + beta"):
    return _LN.format(mean=mean, var=var, ret=ret)


add("08.layer_norm", "layer_norm",
    ("hint style", R, _ln()),
    ("sums", R, "def layer_norm(x, gamma, beta, eps=1e-5):\n    n = x.shape[-1]\n    mu = x.sum(-1, keepdim=True) / n\n"
                "    d = x - mu\n    var = (d * d).sum(-1, keepdim=True) / n\n"
                "    return d * (var + eps).rsqrt() * gamma + beta\n"),
    ("correction=0", R,
     _ln(var="((x - mean) ** 2).mean(dim=-1, keepdim=True)", ret="(x - mean) / (var + eps) ** 0.5 * gamma + beta")),
    ("unbiased variance", W, _ln(var="x.var(-1, keepdim=True)")),
    ("eps outside the root", W, _ln(ret="gamma * (x - mean) / (torch.sqrt(var) + eps) + beta")),
    ("no keepdim", W,
     _ln(mean="x.mean(-1)", var="x.var(-1, unbiased=False)",
         ret="gamma * (x - mean[..., None]) / torch.sqrt(var + eps) + beta")),
    ("first axis", W, _ln(mean="x.mean(0, keepdim=True)", var="x.var(0, unbiased=False, keepdim=True)")),
    ("gamma and beta swapped", W, _ln(ret="beta * (x - mean) / torch.sqrt(var + eps) + gamma")),
    ("no beta", W, _ln(ret="gamma * (x - mean) / torch.sqrt(var + eps)")),
    ("std not var", W, _ln(var="x.std(-1, unbiased=False, keepdim=True)")),
)

add("08.feed_forward", "feed_forward",
    ("plain", R, "def feed_forward(x, w_1, b_1, w_2, b_2):\n    return torch.relu(x @ w_1 + b_1) @ w_2 + b_2\n"),
    ("clamp and einsum", R,
     "def feed_forward(x, w_1, b_1, w_2, b_2):\n    h = (torch.einsum('btd,df->btf', x, w_1) + b_1).clamp(min=0)\n"
                            "    return torch.einsum('btf,fd->btd', h, w_2) + b_2\n"),
    ("relu at the end too", W,
     "def feed_forward(x, w_1, b_1, w_2, b_2):\n    return torch.relu(torch.relu(x @ w_1 + b_1) @ w_2 + b_2)\n"),
    ("no relu", W, "def feed_forward(x, w_1, b_1, w_2, b_2):\n    return (x @ w_1 + b_1) @ w_2 + b_2\n"),
    ("relu after the second only", W,
     "def feed_forward(x, w_1, b_1, w_2, b_2):\n    return torch.relu((x @ w_1 + b_1) @ w_2 + b_2)\n"),
    ("no b_1", W, "def feed_forward(x, w_1, b_1, w_2, b_2):\n    return torch.relu(x @ w_1) @ w_2 + b_2\n"),
    ("gelu", W,
     "def feed_forward(x, w_1, b_1, w_2, b_2):\n    return torch.nn.functional.gelu(x @ w_1 + b_1) @ w_2 + b_2\n"),
    ("relu before the bias", W,
     "def feed_forward(x, w_1, b_1, w_2, b_2):\n    return (torch.relu(x @ w_1) + b_1) @ w_2 + b_2\n"),
)

_DL = "def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n" + "{body}"
add("08.decoder_layer", "decoder_layer",
    ("hint style", R, _DL.format(body="    x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))\n"
                                      "    x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))\n"
                                      "    return layer.norm3(x + layer.ffn(x))\n")),
    ("named steps", R, _DL.format(body="    a = layer.self_attn(x, x, tgt_mask)\n    h1 = layer.norm1(a + x)\n"
                                       "    c = layer.cross_attn(h1, memory, memory_mask)\n"
                                       "    h2 = layer.norm2(c + h1)\n"
                                       "    f = layer.ffn(h2)\n    return layer.norm3(f + h2)\n")),
    ("pre-LN", W, _DL.format(body="    h = layer.norm1(x)\n    x = x + layer.self_attn(h, h, tgt_mask)\n"
                                  "    x = x + layer.cross_attn(layer.norm2(x), memory, memory_mask)\n"
                                  "    return x + layer.ffn(layer.norm3(x))\n")),
    ("masks swapped", W, _DL.format(body="    x = layer.norm1(x + layer.self_attn(x, x, memory_mask))\n"
                                         "    x = layer.norm2(x + layer.cross_attn(x, memory, tgt_mask))\n"
                                         "    return layer.norm3(x + layer.ffn(x))\n")),
    ("cross queries from memory", W, _DL.format(body="    x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))\n"
                                                     "    x = layer.norm2(x + layer.cross_attn(memory, x, "
                                                     "memory_mask))\n"
                                                     "    return layer.norm3(x + layer.ffn(x))\n")),
    ("residual from the input", W, _DL.format(body="    h1 = layer.norm1(x + layer.self_attn(x, x, tgt_mask))\n"
                                                   "    h2 = layer.norm2(x + layer.cross_attn(h1, memory, "
                                                   "memory_mask))\n"
                                                   "    return layer.norm3(x + layer.ffn(h2))\n")),
    ("norms out of order", W, _DL.format(body="    x = layer.norm3(x + layer.self_attn(x, x, tgt_mask))\n"
                                              "    x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))\n"
                                              "    return layer.norm1(x + layer.ffn(x))\n")),
    ("no cross-attention", W,
     _DL.format(body="    x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))\n"
                     "    return layer.norm3(x + layer.ffn(x))\n")),
    ("no causal mask", W, _DL.format(body="    x = layer.norm1(x + layer.self_attn(x, x, None))\n"
                                          "    x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))\n"
                                          "    return layer.norm3(x + layer.ffn(x))\n")),
)

_EL = "def encoder_layer(layer, x, mask):\n{body}"
add("08.fix_encoder_layer", "encoder_layer",
    ("fixed", R,
     _EL.format(body="    h = layer.norm1(x + layer.self_attn(x, x, mask))\n"
                     "    return layer.norm2(h + layer.ffn(h))\n")),
    ("renamed", R,
     _EL.format(body="    a = layer.self_attn(x, x, mask)\n    x = layer.norm1(x + a)\n"
                     "    return layer.norm2(x + layer.ffn(x))\n")),
    ("ffn of x", W,
     _EL.format(body="    h = layer.norm1(x + layer.self_attn(x, x, mask))\n"
                     "    return layer.norm2(h + layer.ffn(x))\n")),
    ("no residual", W,
     _EL.format(body="    h = layer.norm1(x + layer.self_attn(x, x, mask))\n    return layer.norm2(layer.ffn(h))\n")),
    ("no last norm", W,
     _EL.format(body="    h = layer.norm1(x + layer.self_attn(x, x, mask))\n    return h + layer.ffn(h)\n")),
    ("pre-LN", W,
     _EL.format(body="    n = layer.norm1(x)\n    h = x + layer.self_attn(n, n, mask)\n"
                     "    return h + layer.ffn(layer.norm2(h))\n")),
    ("mask dropped", W,
     _EL.format(body="    h = layer.norm1(x + layer.self_attn(x, x, None))\n"
                     "    return layer.norm2(h + layer.ffn(h))\n")),
)

# ---------------------------------------------------------------- lesson 09
add("09.teacher_forcing", "teacher_forcing",
    ("hint style", R,
     "def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    B, T = len(seqs), 1 + max(len(s) for s in seqs)\n"
                      "    tgt_in = torch.full((B, T), pad_id, dtype=torch.long)\n"
                      "    tgt_out = torch.full((B, T), pad_id, dtype=torch.long)\n"
                      "    for i, s in enumerate(seqs):\n        tgt_in[i, :len(s) + 1] = torch.tensor([bos_id] + s)\n"
                      "        tgt_out[i, :len(s) + 1] = torch.tensor(s + [eos_id])\n    return tgt_in, tgt_out\n"),
    ("padded lists", R, "def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = max(map(len, seqs)) + 1\n"
                        "    ins = [[bos_id] + list(s) + [pad_id] * (T - 1 - len(s)) for s in seqs]\n"
                        "    outs = [list(s) + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n"
                        "    return torch.tensor(ins, dtype=torch.long), torch.tensor(outs, dtype=torch.long)\n"),
    ("T = longest", W,
     "def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    B, T = len(seqs), max(len(s) for s in seqs)\n"
                       "    tgt_in = torch.full((B, T), pad_id, dtype=torch.long)\n"
                       "    tgt_out = torch.full((B, T), pad_id, dtype=torch.long)\n"
                       "    for i, s in enumerate(seqs):\n"
                       "        tgt_in[i, :len(s)] = torch.tensor(([bos_id] + s)[:len(s)])\n"
                       "        tgt_out[i, :len(s)] = torch.tensor(s)\n    return tgt_in, tgt_out\n"),
    ("swapped", W, "def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = max(map(len, seqs)) + 1\n"
                   "    ins = [[bos_id] + s + [pad_id] * (T - 1 - len(s)) for s in seqs]\n"
                   "    outs = [s + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n"
                   "    return torch.tensor(outs), torch.tensor(ins)\n"),
    ("padded with 0", W, "def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = max(map(len, seqs)) + 1\n"
                         "    ins = [[bos_id] + s + [0] * (T - 1 - len(s)) for s in seqs]\n"
                         "    outs = [s + [eos_id] + [0] * (T - 1 - len(s)) for s in seqs]\n"
                         "    return torch.tensor(ins), torch.tensor(outs)\n"),
    ("both ends in both", W, "def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = max(map(len, seqs)) + 2\n"
                             "    full = [[bos_id] + s + [eos_id] + [pad_id] * (T - 2 - len(s)) for s in seqs]\n"
                             "    t = torch.tensor(full)\n    return t, t.clone()\n"),
    ("float tensors", W, "def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = max(map(len, seqs)) + 1\n"
                         "    ins = [[bos_id] + s + [pad_id] * (T - 1 - len(s)) for s in seqs]\n"
                         "    outs = [s + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n"
                         "    return torch.tensor(ins, dtype=torch.float), torch.tensor(outs, dtype=torch.float)\n"),
    ("padding at the front", W, "def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = max(map(len, seqs)) + 1\n"
                                "    ins = [[pad_id] * (T - 1 - len(s)) + [bos_id] + s for s in seqs]\n"
                                "    outs = [[pad_id] * (T - 1 - len(s)) + s + [eos_id] for s in seqs]\n"
                                "    return torch.tensor(ins), torch.tensor(outs)\n"),
    ("eos read as input", W, "def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = max(map(len, seqs)) + 1\n"
                             "    ins = [s + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n"
                             "    outs = [s + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n"
                             "    return torch.tensor(ins), torch.tensor(outs)\n"),
)

_LS = ("def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n"
       "    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n    uni = {uni}\n"
       "    loss = (1 - smoothing) * nll + smoothing * uni\n"
       "    keep = target != pad_id\n    return {ret}\n")


def _ls(uni="-logp.mean(-1)", ret="loss[keep].mean()"):
    return _LS.format(uni=uni, ret=ret)


add("09.label_smoothed_loss", "label_smoothed_loss",
    ("hint style", R, _ls()),
    ("full target distribution", R,
     "def label_smoothed_loss(logits, target, smoothing, pad_id):\n    V = logits.shape[-1]\n"
                                    "    q = torch.full_like(logits, smoothing / V)\n"
                                    "    q = q + (1 - smoothing) * torch.nn.functional.one_hot(target, V).to("
                                    "logits.dtype)\n"
                                    "    per = -(q * torch.log_softmax(logits, dim=-1)).sum(-1)\n"
                                    "    m = (target != pad_id).to(logits.dtype)\n"
                                    "    return (per * m).sum() / m.sum()\n"),
    ("masked sum / count", R, _ls(ret="(loss * keep).sum() / keep.sum()")),
    ("eps over V-1", W, "def label_smoothed_loss(logits, target, smoothing, pad_id):\n    V = logits.shape[-1]\n"
                        "    q = torch.full_like(logits, smoothing / (V - 1))\n"
                        "    q.scatter_(-1, target[..., None], 1 - smoothing)\n"
                        "    per = -(q * logits.log_softmax(-1)).sum(-1)\n    keep = target != pad_id\n"
                        "    return per[keep].mean()\n"),
    ("pads counted", W, _ls(ret="loss.mean()")),
    ("sum not mean", W, _ls(ret="loss[keep].sum()")),
    ("sign", W, _ls(ret="-loss[keep].mean()")),
    ("uniform part summed", W, _ls(uni="-logp.sum(-1)")),
    ("a Python float", W, _ls(ret="loss[keep].mean().item()")),
    ("smoothing ignored", W, _ls(ret="nll[keep].mean()")),
    ("divided by all positions", W, _ls(ret="(loss * keep).sum() / keep.numel()")),
)

add("09.warmup_lr", "warmup_lr",
    ("hint style", R, "def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n"
                      "    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)\n"),
    ("math.sqrt", R, "import math\ndef warmup_lr(step, d_model, warmup):\n    if step < 1:\n        return 0.0\n"
                     "    return min(1 / math.sqrt(step), step / warmup ** 1.5) / math.sqrt(d_model)\n"),
    ("no d_model factor", W, "def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n"
                             "    return min(step ** -0.5, step * warmup ** -1.5)\n"),
    ("step 0 unguarded", W,
     "def warmup_lr(step, d_model, warmup):\n    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)\n"),
    ("warmup ** 1.5", W, "def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n"
                         "    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** 1.5)\n"),
    ("max", W, "def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n"
               "    return d_model ** -0.5 * max(step ** -0.5, step * warmup ** -1.5)\n"),
    ("d_model ** 0.5", W, "def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n"
                          "    return d_model ** 0.5 * min(step ** -0.5, step * warmup ** -1.5)\n"),
    ("warmup ** -0.5 in the ramp", W, "def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n"
                                      "    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -0.5)\n"),
)

add("09.predict_peak_lr", "prediction",
    ("formula", R, "prediction = 512 ** -0.5 * 4000 ** -0.5\n"),
    ("two digits", R, "prediction = 7.0e-4\n"),
    ("no d_model factor", W, "prediction = 4000 ** -0.5\n"),
    ("d_model factor only", W, "prediction = 512 ** -0.5\n"),
    ("a round guess", W, "prediction = 0.001\n"),
    ("power of ten off", W, "prediction = 7.0e-3\n"),
)

# ---------------------------------------------------------------- lesson 10
_GD_OK = ("def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n"
          "    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n"
          "    B = src.shape[0]\n"
          "    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n    finished = torch.zeros(B, dtype=torch.bool)\n"
          "    for _ in range(max_new_tokens):\n        logits = model.decode(ys, {mask_arg})\n"
          "        nxt = logits[:, {pos}].argmax(-1)\n"
          "        nxt = {fill}\n        ys = torch.cat([ys, nxt[:, None]], dim=1)\n        finished |= nxt == eos_id\n"
          "        if {stop}:\n            break\n    return {ret}\n")


def _gd(mask_arg="memory, src_mask", pos="-1", fill="nxt.masked_fill(finished, pad_id)", stop="finished.all()",
        ret="ys[:, 1:]"):
    return _GD_OK.format(mask_arg=mask_arg, pos=pos, fill=fill, stop=stop, ret=ret)


add("10.greedy_decode", "greedy_decode",
    ("hint style", R, _gd()),
    ("python lists", R, "def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n"
                        "    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n"
                        "    B = src.size(0)\n    out = [[] for _ in range(B)]\n    done = [False] * B\n"
                        "    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n"
                        "    for step in range(max_new_tokens):\n"
                        "        tok = model.decode(ys, memory, src_mask)[:, -1, :].argmax(dim=-1).tolist()\n"
                        "        for b in range(B):\n            out[b].append(pad_id if done[b] else tok[b])\n"
                        "            done[b] = done[b] or tok[b] == eos_id\n"
                        "        ys = torch.cat([ys, torch.tensor([row[-1] for row in out])[:, None]], 1)\n"
                        "        if all(done):\n            break\n    return torch.tensor(out, dtype=torch.long)\n"),
    ("no src_mask in decode", W, _gd(mask_arg="memory, None")),
    ("bos kept", W, _gd(ret="ys")),
    ("first position", W, _gd(pos="0")),
    ("no padding after eos", W, _gd(fill="nxt")),
    ("stops at the first eos", W, _gd(stop="finished.any()")),
    ("never stops early", W, _gd(stop="False")),
    ("eos not written", W, "def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n"
                           "    src_mask = (src != pad_id)[:, None, None, :]\n"
                           "    memory = model.encode(src, src_mask)\n    B = src.shape[0]\n"
                           "    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n"
                           "    finished = torch.zeros(B, dtype=torch.bool)\n"
                           "    for _ in range(max_new_tokens):\n"
                           "        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n"
                           "        finished |= nxt == eos_id\n        nxt = nxt.masked_fill(finished, pad_id)\n"
                           "        ys = torch.cat([ys, nxt[:, None]], dim=1)\n        if finished.all():\n"
                           "            break\n    return ys[:, 1:]\n"),
)

_BS = ("def beam_step(log_probs, beam_scores, beam_size):\n    K, V = log_probs.shape\n    total = {total}\n"
       "    scores, idx = total.flatten().topk(beam_size{largest})\n    return scores, {bi}, {ti}\n")


def _bs(total="beam_scores[:, None] + log_probs", largest="", bi="idx // V", ti="idx % V"):
    return _BS.format(total=total, largest=largest, bi=bi, ti=ti)


add("10.beam_step", "beam_step",
    ("hint style", R, _bs()),
    ("sort and divmod", R, "def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.size(1)\n"
                           "    flat = (log_probs + beam_scores.unsqueeze(1)).reshape(-1)\n"
                           "    order = torch.argsort(flat, descending=True)[:beam_size]\n"
                           "    return flat[order], torch.div(order, V, rounding_mode='floor'), torch.remainder("
                           "order, V)\n"),
    ("scores added after topk", W, "def beam_step(log_probs, beam_scores, beam_size):\n    K, V = log_probs.shape\n"
                                   "    s, idx = log_probs.flatten().topk(beam_size)\n    b = idx // V\n"
                                   "    return s + beam_scores[b], b, idx % V\n"),
    ("beam and token swapped", W, _bs(bi="idx % V", ti="idx // V")),
    ("best token per beam", W,
     "def beam_step(log_probs, beam_scores, beam_size):\n    total = beam_scores[:, None] + log_probs\n"
                               "    s, tok = total.max(dim=-1)\n    s, b = s.topk(beam_size)\n"
                               "    return s, b, tok[b]\n"),
    ("float division", W, _bs(bi="idx / V", ti="idx % V")),
    ("scores not added", W, _bs(total="log_probs")),
    ("worst first", W, _bs(largest=", largest=False")),
    ("divided by K", W, _bs(bi="idx // K", ti="idx % K")),
    ("scores multiplied", W, _bs(total="beam_scores[:, None] * log_probs")),
)

add("10.length_penalty", "length_normalised_score",
    ("hint style", R,
     "def length_normalised_score(log_prob, length, alpha):\n    return log_prob / ((5 + length) / 6) ** alpha\n"),
    ("torch.pow", R,
     "def length_normalised_score(log_prob, length, alpha):\n    lp = torch.pow((length + 5.0) / 6.0, alpha)\n"
     "    return log_prob / lp\n"),
    ("bracket misplaced", W,
     "def length_normalised_score(log_prob, length, alpha):\n    return log_prob / (5 + length) / 6 ** alpha\n"),
    ("multiplied", W,
     "def length_normalised_score(log_prob, length, alpha):\n    return log_prob * ((5 + length) / 6) ** alpha\n"),
    ("5 + length / 6", W,
     "def length_normalised_score(log_prob, length, alpha):\n    return log_prob / (5 + length / 6) ** alpha\n"),
    ("length ** alpha", W,
     "def length_normalised_score(log_prob, length, alpha):\n    return log_prob / length ** alpha\n"),
    ("alpha outside", W,
     "def length_normalised_score(log_prob, length, alpha):\n    return log_prob / (((5 + length) / 6) * alpha)\n"),
    ("penalty only", W,
     "def length_normalised_score(log_prob, length, alpha):\n    return ((5 + length) / 6) ** alpha\n"),
)

_KV = ("def kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n    else:\n"
       "        k_past, v_past = cache\n        k = {catk}\n        v = {catv}\n"
       "    w = {soft}\n    return w @ v, {ret}\n")


def _kv(catk="torch.cat([k_past, k_new], dim=-2)", catv="torch.cat([v_past, v_new], dim=-2)",
        soft="torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)", ret="(k, v)"):
    return _KV.format(catk=catk, catv=catv, soft=soft, ret=ret)


add("10.kv_cache_step", "kv_cache_step",
    ("hint style", R, _kv()),
    ("sdpa", R, "import torch.nn.functional as F\ndef kv_cache_step(q, k_new, v_new, cache):\n"
                "    k, v = (k_new, v_new) if cache is None else (torch.cat((cache[0], k_new), 2), torch.cat(("
                "cache[1], v_new), 2))\n"
                "    return F.scaled_dot_product_attention(q, k, v), (k, v)\n"),
    ("cat on the last axis", W,
     _kv(catk="torch.cat([k_past, k_new], dim=-1)", catv="torch.cat([v_past, v_new], dim=-1)")),
    ("new first", W, _kv(catk="torch.cat([k_new, k_past], dim=-2)", catv="torch.cat([v_new, v_past], dim=-2)")),
    ("no scaling", W, _kv(soft="torch.softmax(q @ k.transpose(-2, -1), dim=-1)")),
    ("old cache returned", W, _kv(ret="(cache if cache is not None else (k, v))")),
    ("cat on the batch axis", W,
     _kv(catk="torch.cat([k_past, k_new], dim=0)", catv="torch.cat([v_past, v_new], dim=0)")),
    ("softmax over the query axis", W,
     _kv(soft="torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-2)")),
    ("only the new position", W,
     _kv(soft="torch.softmax(q @ k_new.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)")
     .replace("return w @ v", "return w @ v_new")),
)

# ---------------------------------------------------------------- second round: other styles, other slips
add("01.weighted_sum", "weighted_sum",
    ("unsqueeze and sum", R, "def weighted_sum(weights, values):\n    return (weights.unsqueeze(1) * values).sum(0)\n"))
add("01.softmax_temperature", "softmax",
    ("global maximum", W, "def softmax(scores, temperature=1.0):\n    z = (scores - scores.max()) / temperature\n"
                          "    e = z.exp()\n    return e / e.sum(-1, keepdim=True)\n"),
    ("torch.softmax", W,
     "def softmax(scores, temperature=1.0):\n    return torch.softmax(scores / temperature, dim=-1)\n"))
add("02.rnn_step", "rnn_step",
    ("bias outside tanh", W,
     "def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_xh + h_prev @ w_hh) + b\n"))
add("02.predict_gradient", "prediction",
    ("decimal", R, "from decimal import Decimal\nprediction = Decimal('0.0009765625')\n"))
add("03.sinusoidal_encoding", "sinusoidal_encoding",
    ("float64", R,
     "def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len, dtype=torch.float64)[:, None]\n"
                   "    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)\n"
                   "    a = pos / 10000 ** (two_i / d_model)\n"
                   "    pe = torch.zeros(max_len, d_model, dtype=torch.float64)\n    pe[:, 0::2] = a.sin()\n"
                   "    pe[:, 1::2] = a.cos()\n    return pe\n"))
add("03.embed_with_positions", "embed_with_positions",
    ("+= on the looked-up copy", R,
     "def embed_with_positions(ids, table, pe):\n    x = table[ids]\n    x += pe[:ids.shape[1]]\n    return x\n"))
add("04.attention", "attention",
    ("-1e9 fill", R, _att(mask_line="s = s.masked_fill(mask == 0, -1e9)")),
    ("mask filled with 0", W, _att(mask_line="s = s.masked_fill(~mask, 0.0)")))
add("05.split_heads", "split_heads",
    ("unflatten", R, "def split_heads(x, n_heads):\n    return x.unflatten(-1, (n_heads, -1)).transpose(1, 2)\n"))
add("06.causal_mask", "causal_mask",
    ("numpy", W, "import numpy as np\ndef causal_mask(T):\n    return np.tril(np.ones((T, T), dtype=bool))\n"))
add("06.padding_mask", "padding_mask",
    ("view", R,
     "def padding_mask(tokens, pad_id):\n    B, T = tokens.shape\n    return (tokens != pad_id).view(B, 1, 1, T)\n"))
add("06.masked_softmax", "masked_softmax",
    ("-1e9 then times the mask", R,
     "def masked_softmax(scores, mask):\n    return scores.masked_fill(~mask, -1e9).softmax(-1) * mask\n"))
add("07.cross_attention", "cross_attention",
    ("mask filled with 0", W, _ca(mask="s = s.masked_fill(~src_mask, 0.0)")))
add("07.alignment", "alignment",
    ("topk indices", R, "def alignment(weights):\n    return weights.mean(1).topk(1, dim=-1).indices.squeeze(-1)\n"))
add("08.layer_norm", "layer_norm",
    ("F.layer_norm", W, "import torch.nn.functional as F\ndef layer_norm(x, gamma, beta, eps=1e-5):\n"
                        "    return F.layer_norm(x, x.shape[-1:], gamma, beta, eps)\n"))
add("08.feed_forward", "feed_forward",
    ("F.linear", R, "import torch.nn.functional as F\ndef feed_forward(x, w_1, b_1, w_2, b_2):\n"
                    "    return F.linear(F.relu(F.linear(x, w_1.T, b_1)), w_2.T, b_2)\n"))
add("09.teacher_forcing", "teacher_forcing",
    ("inserts bos into the input lists", W,
     "def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = max(map(len, seqs)) + 1\n"
                                           "    outs = [s + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n"
                                           "    for s in seqs:\n        s.insert(0, bos_id)\n"
                                           "    ins = [s + [pad_id] * (T - len(s)) for s in seqs]\n"
                                           "    return torch.tensor(ins), torch.tensor(outs)\n"))
add("09.label_smoothed_loss", "label_smoothed_loss",
    ("F.cross_entropy", W, "def label_smoothed_loss(logits, target, smoothing, pad_id):\n"
                           "    return F.cross_entropy(logits.transpose(1, 2), target, ignore_index=pad_id, "
                           "label_smoothing=smoothing)\n"),
    ("log of softmax", R, _ls().replace("logits.log_softmax(-1)", "torch.log(torch.softmax(logits, dim=-1))")))
add("10.greedy_decode", "greedy_decode",
    ("encoded without the mask", W, _gd().replace("model.encode(src, src_mask)", "model.encode(src, None)")))

# ---------------------------------------------------------------- third round
add("01.softmax_temperature", "softmax",
    ("temperature after the shift", R,
     "def softmax(scores, temperature=1.0):\n    z = (scores - scores.max(-1, keepdim=True).values) / temperature\n"
                                       "    e = torch.exp(z)\n    return e / e.sum(-1, keepdim=True)\n"))
add("02.rnn_forward", "rnn_forward",
    ("states left as a list", W, _RNN_STEP + "def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n"
                                 "    for t in range(x.shape[1]):\n        h = _step(x[:, t], h, w_xh, w_hh, b)\n"
                                 "        states.append(h)\n"
                                 "    return states, h\n"),
    ("h0 updated in place", W, "def rnn_forward(x, h0, w_xh, w_hh, b):\n    states = []\n"
                               "    for t in range(x.shape[1]):\n"
                               "        h0[:] = torch.tanh(x[:, t] @ w_xh + h0 @ w_hh + b)\n"
                               "        states.append(h0.clone())\n"
                               "    return torch.stack(states, 1), h0.clone()\n"))
add("03.word2idx", "build_word2idx",
    ("defaultdict", R,
     "from collections import defaultdict\ndef build_word2idx(sentences):\n    d = defaultdict(lambda: len(d) + 1)\n"
                       "    for s in sentences:\n        for w in s:\n            d[w]\n    return dict(d)\n"))
add("04.attention", "attention",
    ("if mask:", W, _att().replace("if mask is not None:", "if mask:")),
    ("bmm", W, "def attention(q, k, v, mask=None):\n    s = torch.bmm(q, k.transpose(-2, -1)) / math.sqrt(q.size(-1))\n"
               "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1)\n"
               "    return torch.bmm(w, v), w\n"),
    ("sqrt of k's width", R, _att(scores_line="s = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])")))
add("05.multi_head_attention", "MultiHeadAttention",
    ("mask given an extra axis", W,
     _mha(_MHA_OK.replace("attention(q, k, v, mask)",
                          "attention(q, k, v, None if mask is None else mask.unsqueeze(1))"))))
add("06.causal_mask", "causal_mask",
    ("float tril then bool", R, "def causal_mask(T):\n    return torch.ones(T, T).tril().bool()\n"))
add("07.alignment", "alignment",
    ("int32 indices", R, "def alignment(weights):\n    return weights.mean(1).argmax(-1).to(torch.int32)\n"))
add("08.decoder_layer", "decoder_layer",
    ("calls the layer", W, _DL.format(body="    return layer(x, memory, tgt_mask, memory_mask)\n")))
add("08.layer_norm", "layer_norm",
    ("E[x^2] - E[x]^2", R, "def layer_norm(x, gamma, beta, eps=1e-5):\n    m = x.mean(-1, keepdim=True)\n"
                           "    var = (x * x).mean(-1, keepdim=True) - m * m\n"
                           "    return (x - m) / torch.sqrt(var + eps) * gamma + beta\n"))
add("09.teacher_forcing", "teacher_forcing",
    ("pad_sequence", R,
     "from torch.nn.utils.rnn import pad_sequence\ndef teacher_forcing(seqs, bos_id, eos_id, pad_id):\n"
                        "    ins = [torch.tensor([bos_id] + list(s)) for s in seqs]\n"
                        "    outs = [torch.tensor(list(s) + [eos_id]) for s in seqs]\n"
                        "    return (pad_sequence(ins, batch_first=True, padding_value=pad_id).long(),\n"
                        "            pad_sequence(outs, batch_first=True, padding_value=pad_id).long())\n"),
    ("int32", W, "def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = max(map(len, seqs)) + 1\n"
                 "    ins = [[bos_id] + s + [pad_id] * (T - 1 - len(s)) for s in seqs]\n"
                 "    outs = [s + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n"
                 "    return torch.tensor(ins, dtype=torch.int32), torch.tensor(outs, dtype=torch.int32)\n"))
add("09.label_smoothed_loss", "label_smoothed_loss",
    ("detached", W, _ls(ret="loss[keep].mean().detach()")))
add("10.beam_step", "beam_step",
    ("unsorted", W, _bs().replace("topk(beam_size)", "topk(beam_size, sorted=False)").replace(
        "    return scores", "    order = torch.randperm(beam_size, generator=torch.Generator().manual_seed(1))\n"
                             "    scores, idx = scores[order], idx[order]\n    return scores")))
add("10.kv_cache_step", "kv_cache_step",
    ("cache of lists", W,
     "def kv_cache_step(q, k_new, v_new, cache):\n    ks, vs = ([], []) if cache is None else cache\n"
                          "    ks = list(ks) + [k_new]\n    vs = list(vs) + [v_new]\n"
                          "    k, v = torch.cat(ks, -2), torch.cat(vs, -2)\n"
                          "    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n"
                          "    return w @ v, (ks, vs)\n"))

# ---------------------------------------------------------------- fourth round
add("04.predict_score_std", "prediction",
    ("numpy", R, "import numpy as np\nprediction = np.sqrt(64.0)\n"))
add("08.predict_layernorm", "prediction",
    ("tensor", R, "prediction = torch.tensor([-1.3416, -0.4472, 0.4472, 1.3416])\n"))
add("06.padding_mask", "padding_mask",
    ("tokens.bool()", W, "def padding_mask(tokens, pad_id):\n    return tokens.bool()[:, None, None, :]\n"))
add("07.cross_attention", "cross_attention",
    ("mask given an extra axis", W, _ca(mask="s = s.masked_fill(~src_mask.unsqueeze(1), float('-inf'))")))
add("10.kv_cache_step", "kv_cache_step",
    ("query axis squeezed", W, _kv().replace("return w @ v, (k, v)", "return (w @ v).squeeze(-2), (k, v)")))
add("09.warmup_lr", "warmup_lr",
    ("peak at step 1", W, "def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n"
                          "    return d_model ** -0.5 * min(step ** -0.5, warmup ** -0.5)\n"))
add("02.rnn_step", "rnn_step",
    ("addmm", R,
     "def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.addmm(b, x_t, w_xh).addmm(h_prev, w_hh).tanh()\n"))
add("05.merge_heads", "merge_heads",
    ("flatten", R, "def merge_heads(x):\n    return x.transpose(1, 2).flatten(2)\n"),
    ("flatten of the wrong axes", W, "def merge_heads(x):\n    return x.flatten(1, 2)\n"))
