"""An answer bank for the graders: answers written from the exercise statements alone.

For every graded exercise, right answers in several styles (einsum, loops, built-ins the
statement allows, float64 inside, -1e9 or -inf fills, torch.where, peer-style code adapted
only in calling convention) must pass, and wrong answers of the kinds learners write (wrong
axis, missing or wrong scale, mask polarity, mask after softmax, off-by-one shift, swapped
outputs, wrong dtype, mutated inputs, forbidden built-ins, ...) must fail with a message or
hint that names the mistake: one of the listed keywords must appear in it.

Each answer runs as a notebook cell would: its source is executed in a fresh namespace and
`check` is called from there, so hints that look at the learner's other functions (such as
"your split_heads above is the cause") see them. Answers whose grading is still being
improved (a generic or misdirected hint) are left out until it is.
"""
import json
from pathlib import Path

import pytest
import torch
from checks_red_team import RED_TEAM

ROOT = Path(__file__).resolve().parents[1]

PRELUDE = (
    "import math\n"
    "import torch\n"
    "from torch import nn\n"
    "import torch.nn.functional as F\n"
    "from course_utils.course.checks import check\n"
)


def _capstone_cells():
    """The learner-visible cells of exercise 11 that the capstone answers build on."""
    nb = json.loads((ROOT / "exercises" / "11_capstone.ipynb").read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    parts_cell = next(c for c in cells if "class LayerNorm(nn.Module)" in c)
    model_cell = next(c for c in cells if "class Transformer(nn.Module)" in c)
    return parts_cell, model_cell.split("    def encode")[0]


def _source(src):
    if "<<SETUP>>" in src:
        parts_cell, init = _capstone_cells()
        setup = (
            "from course_utils.course.capstone import gather_parts\n"
            "from course_utils.transformer import masks\n"
            "parts = gather_parts(globals(), exercises=None)\n" + parts_cell + "\n"
        )
        src = src.replace("<<SETUP>>", setup).replace("<<TRANSFORMER_INIT>>", init)
    return src


def grade(exercise_id, src, obj):
    namespace = {"__name__": "__main__"}
    exec(PRELUDE, namespace)
    exec(_source(src), namespace)
    namespace["_exercise_id"] = exercise_id
    exec(f"_result = check(_exercise_id, {obj})", namespace)
    return namespace["_result"]


# (exercise id, label, "right" or "wrong", keywords one of which the failure must name, source, object)
ANSWERS = [
    ('01.weighted_sum', 'matmul', 'right', (),
     'def f(weights, values):\n    return weights @ values', 'f'),
    ('01.weighted_sum', 'broadcast_sum', 'right', (),
     'def f(weights, values):\n    return (weights[:, None] * values).sum(dim=0)', 'f'),
    ('01.weighted_sum', 'einsum', 'right', (),
     "def f(weights, values):\n    return torch.einsum('n,nd->d', weights, values)", 'f'),
    ('01.weighted_sum', 'loop', 'right', (),
     'def f(weights, values):\n    out = torch.zeros(values.shape[1], dtype=values.dtype)\n'
     '    for i in range(len(weights)):\n        out = out + weights[i] * values[i]\n    return out', 'f'),
    ('01.weighted_sum', 'float64_inside', 'right', (),
     'def f(weights, values):\n    return (weights.double() @ values.double()).to(values.dtype)', 'f'),
    ('01.weighted_sum', 'sum_wrong_axis', 'wrong', ('dim=0', 'rows'),
     'def f(weights, values):\n    return (weights[:, None] * values).sum(dim=1)', 'f'),
    ('01.weighted_sum', 'mean_not_sum', 'wrong', ('average', 'sum'),
     'def f(weights, values):\n    return (weights[:, None] * values).mean(dim=0)', 'f'),
    ('01.weighted_sum', 'no_sum', 'wrong', ('sum',),
     'def f(weights, values):\n    return weights[:, None] * values', 'f'),
    ('01.weighted_sum', 'softmax_again', 'wrong', ('softmax', 'already'),
     'def f(weights, values):\n    return torch.softmax(weights, -1) @ values', 'f'),
    ('01.weighted_sum', 'unweighted', 'wrong', ('weight',),
     'def f(weights, values):\n    return values.sum(0)', 'f'),
    ('01.softmax_temperature', 'hint', 'right', (),
     'def softmax(scores, temperature=1.0):\n    z = scores / temperature\n'
     '    z = z - z.max(dim=-1, keepdim=True).values\n    e = z.exp()\n'
     '    return e / e.sum(dim=-1, keepdim=True)', 'softmax'),
    ('01.softmax_temperature', 'amax', 'right', (),
     'def softmax(scores, temperature=1.0):\n    z = (scores - scores.amax(-1, keepdim=True)) / temperature\n'
     '    e = torch.exp(z)\n    return e / torch.sum(e, -1, keepdim=True)', 'softmax'),
    ('01.softmax_temperature', 'float64_inside', 'right', (),
     'def softmax(scores, temperature=1.0):\n    z = scores.double() / temperature\n'
     '    z = z - torch.max(z, dim=-1, keepdim=True)[0]\n    e = z.exp()\n'
     '    return (e / e.sum(-1, keepdim=True)).to(scores.dtype)', 'softmax'),
    ('01.softmax_temperature', 'tuple_max', 'right', (),
     'def softmax(scores, temperature=1.0):\n    m, _ = scores.max(-1, keepdim=True)\n'
     '    e = ((scores - m) / temperature).exp()\n    s = e.sum(-1).unsqueeze(-1)\n    return e / s', 'softmax'),
    ('01.softmax_temperature', 'no_max_shift', 'wrong', ('overflow', 'max', 'nan', 'inf'),
     'def softmax(scores, temperature=1.0):\n    e = (scores / temperature).exp()\n'
     '    return e / e.sum(-1, keepdim=True)', 'softmax'),
    ('01.softmax_temperature', 'times_temperature', 'wrong', ('temperature', 'divide'),
     'def softmax(scores, temperature=1.0):\n    z = scores * temperature\n'
     '    z = z - z.max(-1, keepdim=True).values\n    e = z.exp()\n    return e / e.sum(-1, keepdim=True)', 'softmax'),
    ('01.softmax_temperature', 'ignores_temperature', 'wrong', ('temperature',),
     'def softmax(scores, temperature=1.0):\n    z = scores - scores.max(-1, keepdim=True).values\n    e = z.exp()\n'
     '    return e / e.sum(-1, keepdim=True)', 'softmax'),
    ('01.softmax_temperature', 'dim0', 'wrong', ('last axis', 'axis', 'dim=-1'),
     'def softmax(scores, temperature=1.0):\n    z = scores / temperature\n'
     '    z = z - z.max(dim=0, keepdim=True).values\n    e = z.exp()\n'
     '    return e / e.sum(dim=0, keepdim=True)', 'softmax'),
    ('01.softmax_temperature', 'torch_softmax', 'wrong', ('yourself', 'built-in', 'torch.softmax'),
     'def softmax(scores, temperature=1.0):\n    return torch.softmax(scores / temperature, dim=-1)', 'softmax'),
    ('01.softmax_temperature', 'F_softmax', 'wrong', ('yourself', 'built-in'),
     'import torch.nn.functional as F\ndef softmax(scores, temperature=1.0):\n'
     '    return F.softmax(scores / temperature, dim=-1)', 'softmax'),
    ('01.softmax_temperature', 'lesson_1d_port', 'wrong', ('last axis', 'whole', '1-d', 'axis'),
     'def softmax(scores, temperature=1.0):\n    z = scores / temperature\n    e = torch.exp(z - z.max())\n'
     '    return e / e.sum()', 'softmax'),
    ('01.softmax_temperature', 'no_keepdim', 'wrong', ('keepdim',),
     'def softmax(scores, temperature=1.0):\n    z = scores / temperature\n'
     '    z = z - z.max(-1, keepdim=True).values\n    e = z.exp()\n    return e / e.sum(-1)', 'softmax'),
    ('01.soft_lookup', 'hint', 'right', (),
     'def soft_lookup(query, keys, values):\n    w = torch.softmax(keys @ query, dim=-1)\n'
     '    return w @ values, w', 'soft_lookup'),
    ('01.soft_lookup', 'einsum', 'right', (),
     "def soft_lookup(query, keys, values):\n    s = torch.einsum('d,nd->n', query, keys)\n    w = s.softmax(0)\n"
     "    return torch.einsum('n,nv->v', w, values), w", 'soft_lookup'),
    ('01.soft_lookup', 'loop_manual', 'right', (),
     'import math\ndef soft_lookup(query, keys, values):\n    s = torch.stack([torch.dot(query, k) for k in keys])\n'
     '    e = (s - s.max()).exp()\n    w = e / e.sum()\n    out = sum(w[i] * values[i] for i in range(len(w)))\n'
     '    return out, w', 'soft_lookup'),
    ('01.soft_lookup', 'query_keysT_list', 'right', (),
     'def soft_lookup(query, keys, values):\n    w = (query @ keys.T).softmax(-1)\n'
     '    return (w[:, None] * values).sum(0), w', 'soft_lookup'),
    ('01.soft_lookup', 'scaled', 'wrong', ('scal',),
     'import math\ndef soft_lookup(query, keys, values):\n'
     '    w = torch.softmax(keys @ query / math.sqrt(query.shape[0]), -1)\n    return w @ values, w', 'soft_lookup'),
    ('01.soft_lookup', 'swapped_return', 'wrong', ('order', '(out, weights)'),
     'def soft_lookup(query, keys, values):\n    w = torch.softmax(keys @ query, -1)\n'
     '    return w, w @ values', 'soft_lookup'),
    ('01.soft_lookup', 'no_softmax', 'wrong', ('softmax',),
     'def soft_lookup(query, keys, values):\n    w = keys @ query\n    return w @ values, w', 'soft_lookup'),
    ('01.soft_lookup', 'mix_keys', 'wrong', ('values', 'keys'),
     'def soft_lookup(query, keys, values):\n    w = torch.softmax(keys @ query, -1)\n'
     '    return w @ keys, w', 'soft_lookup'),
    ('01.soft_lookup', 'only_out', 'wrong', ('tuple', '(out, weights)', 'weights'),
     'def soft_lookup(query, keys, values):\n    w = torch.softmax(keys @ query, -1)\n'
     '    return w @ values', 'soft_lookup'),
    ('01.soft_lookup', 'hard_lookup', 'wrong', ('hard', 'soft'),
     'def soft_lookup(query, keys, values):\n    s = keys @ query\n    w = torch.zeros_like(s)\n'
     '    w[s.argmax()] = 1.0\n    return w @ values, w', 'soft_lookup'),
    ('02.rnn_step', 'plain', 'right', (),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_xh + h_prev @ w_hh + b)', 'rnn_step'),
    ('02.rnn_step', 'addmm', 'right', (),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n'
     '    return torch.addmm(b, x_t, w_xh).addmm(h_prev, w_hh).tanh()', 'rnn_step'),
    ('02.rnn_step', 'einsum', 'right', (),
     "def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n"
     "    return torch.tanh(torch.einsum('bi,ih->bh', x_t, w_xh) + torch.einsum('bj,jh->bh', h_prev, w_hh) + b)",
     'rnn_step'),
    ('02.rnn_step', 'concat_weights', 'right', (),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n'
     '    return torch.tanh(torch.cat([x_t, h_prev], -1) @ torch.cat([w_xh, w_hh], 0) + b)', 'rnn_step'),
    ('02.rnn_step', 'float64', 'right', (),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    d = torch.float64\n'
     '    return torch.tanh(x_t.to(d) @ w_xh.to(d) + h_prev.to(d) @ w_hh.to(d) + b.to(d)).to(x_t.dtype)', 'rnn_step'),
    ('02.rnn_step', 'no_tanh', 'wrong', ('tanh',),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return x_t @ w_xh + h_prev @ w_hh + b', 'rnn_step'),
    ('02.rnn_step', 'relu', 'wrong', ('tanh',),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.relu(x_t @ w_xh + h_prev @ w_hh + b)', 'rnn_step'),
    ('02.rnn_step', 'sigmoid', 'wrong', ('tanh',),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.sigmoid(x_t @ w_xh + h_prev @ w_hh + b)', 'rnn_step'),
    ('02.rnn_step', 'no_bias', 'wrong', ('bias',),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_xh + h_prev @ w_hh)', 'rnn_step'),
    ('02.rnn_step', 'w_hh_T', 'wrong', ('transpose', 'w_hh'),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_xh + h_prev @ w_hh.T + b)', 'rnn_step'),
    ('02.rnn_step', 'tanh_inside', 'wrong', ('tanh', 'whole', 'sum'),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_xh) + h_prev @ w_hh + b', 'rnn_step'),
    ('02.rnn_forward', 'hint', 'right', (),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_xh + h_prev @ w_hh + b)\n'
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n    for t in range(x.shape[1]):\n'
     '        h = rnn_step(x[:, t], h, w_xh, w_hh, b)\n        states.append(h)\n'
     '    return torch.stack(states, dim=1), h', 'rnn_forward'),
    ('02.rnn_forward', 'prealloc', 'right', (),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    B, T, _ = x.shape\n    out = x.new_zeros(B, T, h0.shape[-1])\n'
     '    h = h0\n    for t in range(T):\n        h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)\n'
     '        out[:, t] = h\n    return out, out[:, -1]', 'rnn_forward'),
    ('02.rnn_forward', 'unbind_precompute', 'right', (),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    xw = x @ w_xh + b\n    hs = []\n    h = h0\n'
     '    for xt in xw.unbind(1):\n        h = (xt + h @ w_hh).tanh()\n        hs.append(h.unsqueeze(1))\n'
     '    return torch.cat(hs, 1), hs[-1].squeeze(1)', 'rnn_forward'),
    ('02.rnn_forward', 'nn_rnn', 'right', (),
     'from torch import nn\ndef rnn_forward(x, h0, w_xh, w_hh, b):\n'
     '    rnn = nn.RNN(x.shape[-1], h0.shape[-1], batch_first=True)\n    with torch.no_grad():\n'
     '        rnn.weight_ih_l0.copy_(w_xh.T); rnn.weight_hh_l0.copy_(w_hh.T)\n'
     '        rnn.bias_ih_l0.copy_(b); rnn.bias_hh_l0.zero_()\n    states, h = rnn(x, h0[None])\n'
     '    return states, h[0]', 'rnn_forward'),
    ('02.rnn_forward', 'states_shifted', 'wrong', ('*after* step',),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n    for t in range(x.shape[1]):\n'
     '        states.append(h)\n        h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)\n'
     '    return torch.stack(states, 1), h', 'rnn_forward'),
    ('02.rnn_forward', 'h_last_first', 'wrong', ('last', 'h_last'),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n    for t in range(x.shape[1]):\n'
     '        h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)\n        states.append(h)\n'
     '    s = torch.stack(states, 1)\n    return s, s[:, 0]', 'rnn_forward'),
    ('02.rnn_forward', 'swapped', 'wrong', ('order', '(states, h_last)'),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n    for t in range(x.shape[1]):\n'
     '        h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)\n        states.append(h)\n'
     '    return h, torch.stack(states, 1)', 'rnn_forward'),
    ('02.rnn_forward', 'stack_dim0', 'wrong', ('dim=1', 'axis', 'time', '(b, t', 'shape'),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n    for t in range(x.shape[1]):\n'
     '        h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)\n        states.append(h)\n'
     '    return torch.stack(states, 0), h', 'rnn_forward'),
    ('02.rnn_forward', 'h0_every_step', 'wrong', ('previous', 'update'),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    states = []\n    for t in range(x.shape[1]):\n'
     '        states.append(torch.tanh(x[:, t] @ w_xh + h0 @ w_hh + b))\n'
     '    return torch.stack(states, 1), states[-1]', 'rnn_forward'),
    ('02.rnn_forward', 'reversed_time', 'wrong', ('time',),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n    for t in reversed(range(x.shape[1])):\n'
     '        h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)\n        states.append(h)\n'
     '    return torch.stack(states[::-1], 1), h', 'rnn_forward'),
    ('02.predict_gradient', 'exact', 'right', (),
     'prediction = 0.5 ** 10', 'prediction'),
    ('02.predict_gradient', 'rounded', 'right', (),
     'prediction = 0.001', 'prediction'),
    ('02.predict_gradient', 'np_scalar', 'right', (),
     'import numpy as np\nprediction = np.float64(0.5) ** 10', 'prediction'),
    ('02.predict_gradient', 'tensor', 'right', (),
     'prediction = torch.tensor(0.5) ** 10', 'prediction'),
    ('02.predict_gradient', 'fraction', 'right', (),
     'prediction = 1 / 1024', 'prediction'),
    ('02.predict_gradient', 'one_step', 'wrong', ('multipl', 'step', 'ten'),
     'prediction = 0.5', 'prediction'),
    ('02.predict_gradient', 'eleven', 'wrong', ('step', 'ten', 'ten times'),
     'prediction = 0.5 ** 11', 'prediction'),
    ('02.predict_gradient', 'times_not_power', 'wrong', ('multipl', 'factor'),
     'prediction = 0.5 * 10', 'prediction'),
    ('02.predict_gradient', 'one', 'wrong', ('halves',),
     'prediction = 1.0', 'prediction'),
    ('02.predict_gradient', 'zero', 'wrong', ('small', 'not zero', 'zero'),
     'prediction = 0', 'prediction'),
    ('02.predict_gradient', 'nine', 'wrong', ('step', 'ten', 'ten times'),
     'prediction = 0.5 ** 9', 'prediction'),
    ('03.word2idx', 'hint', 'right', (),
     'def build_word2idx(sentences):\n    w2i = {}\n    for s in sentences:\n        for t in s:\n'
     '            if t not in w2i:\n                w2i[t] = len(w2i) + 1\n    return w2i', 'build_word2idx'),
    ('03.word2idx', 'setdefault', 'right', (),
     'def build_word2idx(sentences):\n    w2i = {}\n    for s in sentences:\n        for t in s:\n'
     '            w2i.setdefault(t, len(w2i) + 1)\n    return w2i', 'build_word2idx'),
    ('03.word2idx', 'fromkeys_enumerate', 'right', (),
     'def build_word2idx(sentences):\n    words = dict.fromkeys(t for s in sentences for t in s)\n'
     '    return {w: i for i, w in enumerate(words, start=1)}', 'build_word2idx'),
    ('03.word2idx', 'chain_list', 'right', (),
     'import itertools\ndef build_word2idx(sentences):\n    seen = []\n'
     '    for t in itertools.chain.from_iterable(sentences):\n        if t not in seen:\n            seen.append(t)\n'
     '    return {t: seen.index(t) + 1 for t in seen}', 'build_word2idx'),
    ('03.word2idx', 'start_zero', 'wrong', ('start at 1', '0 is reserved', 'padding', 'start'),
     'def build_word2idx(sentences):\n    w2i = {}\n    for s in sentences:\n        for t in s:\n'
     '            if t not in w2i:\n                w2i[t] = len(w2i)\n    return w2i', 'build_word2idx'),
    ('03.word2idx', 'most_common', 'wrong', ('first appear',),
     'from collections import Counter\ndef build_word2idx(sentences):\n'
     '    c = Counter(t for s in sentences for t in s)\n'
     '    return {w: i + 1 for i, (w, _) in enumerate(c.most_common())}', 'build_word2idx'),
    ('03.word2idx', 'sorted', 'wrong', ('alphabet', 'first appear'),
     'def build_word2idx(sentences):\n'
     '    return {w: i + 1 for i, w in enumerate(sorted({t for s in sentences for t in s}))}', 'build_word2idx'),
    ('03.word2idx', 'reassign', 'wrong', ('again', 'seen again', 'keep'),
     'def build_word2idx(sentences):\n    w2i = {}\n    n = 0\n    for s in sentences:\n        for t in s:\n'
     '            n += 1\n            w2i[t] = n\n    return w2i', 'build_word2idx'),
    ('03.word2idx', 'mutates', 'wrong', ('modif', 'chang', 'in place'),
     'def build_word2idx(sentences):\n    w2i = {}\n    for s in sentences:\n        while s:\n'
     '            t = s.pop(0)\n            if t not in w2i:\n                w2i[t] = len(w2i) + 1\n'
     '    return w2i', 'build_word2idx'),
    ('03.word2idx', 'list_not_dict', 'wrong', ('dict',),
     'def build_word2idx(sentences):\n    out = []\n    for s in sentences:\n        for t in s:\n'
     '            if t not in out:\n                out.append(t)\n    return out', 'build_word2idx'),
    ('03.word2idx', 'per_sentence_ids', 'wrong', ('sentence',),
     'def build_word2idx(sentences):\n    w2i = {}\n    for s in sentences:\n        for i, t in enumerate(s):\n'
     '            w2i.setdefault(t, i + 1)\n    return w2i', 'build_word2idx'),
    ('03.predict_permutation', 'int', 'right', (),
     'prediction = 2', 'prediction'),
    ('03.predict_permutation', 'np_int', 'right', (),
     'import numpy as np\nprediction = np.int64(2)', 'prediction'),
    ('03.predict_permutation', 'tensor', 'right', (),
     'prediction = torch.tensor(2)', 'prediction'),
    ('03.predict_permutation', 'float', 'right', (),
     'prediction = 2.0', 'prediction'),
    ('03.predict_permutation', 'zero', 'wrong', ('position', 'where'),
     'prediction = 0', 'prediction'),
    ('03.predict_permutation', 'none', 'wrong', ('equal',),
     'prediction = None', 'prediction'),
    ('03.predict_permutation', 'one', 'wrong', ('follow 狗',),
     'prediction = 1', 'prediction'),
    ('03.predict_permutation', 'three', 'wrong', ('three rows',),
     'prediction = 3', 'prediction'),
    ('03.sinusoidal_encoding', 'hint', 'right', (),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n'
     '    two_i = torch.arange(0, d_model, 2).float()\n    ang = pos / 10000 ** (two_i / d_model)\n'
     '    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = ang.sin(); pe[:, 1::2] = ang.cos()\n'
     '    return pe', 'sinusoidal_encoding'),
    ('03.sinusoidal_encoding', 'exp_log_AT_style', 'right', (),
     'import math\ndef sinusoidal_encoding(max_len, d_model):\n    pe = torch.zeros(max_len, d_model)\n'
     '    position = torch.arange(0, max_len).unsqueeze(1)\n'
     '    div = torch.exp(torch.arange(0, d_model, 2) * -(math.log(10000.0) / d_model))\n'
     '    pe[:, 0::2] = torch.sin(position * div)\n    pe[:, 1::2] = torch.cos(position * div)\n'
     '    return pe', 'sinusoidal_encoding'),
    ('03.sinusoidal_encoding', 'loops', 'right', (),
     'import math\ndef sinusoidal_encoding(max_len, d_model):\n    pe = torch.empty(max_len, d_model)\n'
     '    for pos in range(max_len):\n        for i in range(d_model // 2):\n'
     '            a = pos / 10000 ** (2 * i / d_model)\n            pe[pos, 2 * i] = math.sin(a)\n'
     '            pe[pos, 2 * i + 1] = math.cos(a)\n    return pe', 'sinusoidal_encoding'),
    ('03.sinusoidal_encoding', 'stack_interleave_f64', 'right', (),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len, dtype=torch.float64)[:, None]\n'
     '    freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)\n    a = pos * freq\n'
     '    return torch.stack([a.sin(), a.cos()], dim=-1).reshape(max_len, d_model).float()', 'sinusoidal_encoding'),
    ('03.sinusoidal_encoding', 'numpy', 'right', (),
     'import numpy as np\ndef sinusoidal_encoding(max_len, d_model):\n    pos = np.arange(max_len)[:, None]\n'
     '    j = np.arange(d_model)[None, :]\n    ang = pos / np.power(10000, (2 * (j // 2)) / d_model)\n'
     '    pe = np.where(j % 2 == 0, np.sin(ang), np.cos(ang))\n'
     '    return torch.from_numpy(pe).float()', 'sinusoidal_encoding'),
    ('03.sinusoidal_encoding', 'i_over_d', 'wrong', ('2i', 'exponent'),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n'
     '    i = torch.arange(d_model // 2).float()\n    ang = pos / 10000 ** (i / d_model)\n'
     '    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = ang.sin(); pe[:, 1::2] = ang.cos()\n'
     '    return pe', 'sinusoidal_encoding'),
    ('03.sinusoidal_encoding', 'sin_cos_swapped', 'wrong', ('cos',),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n'
     '    ang = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)\n'
     '    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = ang.cos(); pe[:, 1::2] = ang.sin()\n'
     '    return pe', 'sinusoidal_encoding'),
    ('03.sinusoidal_encoding', 'concat_halves', 'wrong', ('interleav',),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n'
     '    ang = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)\n'
     '    return torch.cat([ang.sin(), ang.cos()], dim=-1)', 'sinusoidal_encoding'),
    ('03.sinusoidal_encoding', 'pos_from_1', 'wrong', ('pos', 'start'),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(1, max_len + 1).float()[:, None]\n'
     '    ang = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)\n'
     '    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = ang.sin(); pe[:, 1::2] = ang.cos()\n'
     '    return pe', 'sinusoidal_encoding'),
    ('03.sinusoidal_encoding', 'base_1000', 'wrong', ('10000',),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n'
     '    ang = pos / 1000 ** (torch.arange(0, d_model, 2).float() / d_model)\n'
     '    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = ang.sin(); pe[:, 1::2] = ang.cos()\n'
     '    return pe', 'sinusoidal_encoding'),
    ('03.sinusoidal_encoding', 'transposed', 'wrong', ('shape', 'transpos'),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n'
     '    ang = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)\n'
     '    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = ang.sin(); pe[:, 1::2] = ang.cos()\n'
     '    return pe.T', 'sinusoidal_encoding'),
    ('03.sinusoidal_encoding', 'times_not_divide', 'wrong', ('divide', 'multipl'),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n'
     '    ang = pos * 10000 ** (torch.arange(0, d_model, 2).float() / d_model)\n'
     '    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = ang.sin(); pe[:, 1::2] = ang.cos()\n'
     '    return pe', 'sinusoidal_encoding'),
    ('03.embed_with_positions', 'hint', 'right', (),
     'def embed_with_positions(ids, table, pe):\n    return table[ids] + pe[:ids.shape[1]]', 'embed_with_positions'),
    ('03.embed_with_positions', 'F_embedding', 'right', (),
     'import torch.nn.functional as F\ndef embed_with_positions(ids, table, pe):\n'
     '    return F.embedding(ids, table) + pe[: ids.size(1)].unsqueeze(0)', 'embed_with_positions'),
    ('03.embed_with_positions', 'loops', 'right', (),
     'def embed_with_positions(ids, table, pe):\n    B, T = ids.shape\n'
     '    x = torch.empty(B, T, table.shape[1], dtype=table.dtype)\n    for b in range(B):\n'
     '        for t in range(T):\n            x[b, t] = table[ids[b, t]] + pe[t]\n'
     '    return x', 'embed_with_positions'),
    ('03.embed_with_positions', 'one_hot', 'right', (),
     'import torch.nn.functional as F\ndef embed_with_positions(ids, table, pe):\n'
     '    oh = F.one_hot(ids, table.shape[0]).to(table.dtype)\n'
     '    return oh @ table + pe[:ids.shape[-1]]', 'embed_with_positions'),
    ('03.embed_with_positions', 'index_select', 'right', (),
     'def embed_with_positions(ids, table, pe):\n    B, T = ids.shape\n'
     '    return table.index_select(0, ids.reshape(-1)).view(B, T, -1) + pe.narrow(0, 0, T)', 'embed_with_positions'),
    ('03.embed_with_positions', 'full_pe', 'wrong', ('pe[:t]', 'first t', 'rows'),
     'def embed_with_positions(ids, table, pe):\n    return table[ids] + pe', 'embed_with_positions'),
    ('03.embed_with_positions', 'sqrt_scale', 'wrong', ('√d_model', 'no scaling'),
     'import math\ndef embed_with_positions(ids, table, pe):\n'
     '    return table[ids] * math.sqrt(table.shape[1]) + pe[:ids.shape[1]]', 'embed_with_positions'),
    ('03.embed_with_positions', 'pe_by_batch', 'wrong', ('position', 'batch', 'pe[:t]'),
     'def embed_with_positions(ids, table, pe):\n'
     '    return table[ids] + pe[:ids.shape[0], None, :]', 'embed_with_positions'),
    ('03.embed_with_positions', 'forgot_pe', 'wrong', ('position',),
     'def embed_with_positions(ids, table, pe):\n    return table[ids]', 'embed_with_positions'),
    ('03.embed_with_positions', 'pe_by_id', 'wrong', ('position', 'pe[:t]', 'not by the token id'),
     'def embed_with_positions(ids, table, pe):\n    return table[ids] + pe[ids]', 'embed_with_positions'),
    ('03.embed_with_positions', 'pe_off_by_one', 'wrong', ('pe[:t]', 'start'),
     'def embed_with_positions(ids, table, pe):\n    T = ids.shape[1]\n'
     '    return table[ids] + pe[1:T + 1]', 'embed_with_positions'),
    ('04.attention', 'hint', 'right', (),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w", 'attention'),
    ('04.attention', 'AT_style_1e9', 'right', (),
     'import math\nimport torch.nn.functional as F\ndef attention(query, key, value, mask=None):\n'
     '    d_k = query.size(-1)\n    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)\n'
     '    if mask is not None:\n        scores = scores.masked_fill(mask == 0, -1e9)\n'
     '    p_attn = F.softmax(scores, dim=-1)\n    return torch.matmul(p_attn, value), p_attn', 'attention'),
    ('04.attention', 'einsum_where', 'right', (),
     "def attention(q, k, v, mask=None):\n    s = torch.einsum('...qd,...kd->...qk', q, k) * q.shape[-1] ** -0.5\n"
     "    if mask is not None:\n        s = torch.where(mask, s, torch.tensor(float('-inf')))\n"
     "    w = torch.softmax(s, -1)\n    return torch.einsum('...qk,...kv->...qv', w, v), w", 'attention'),
    ('04.attention', 'float64_manual', 'right', (),
     'def attention(q, k, v, mask=None):\n    s = (q.double() @ k.double().transpose(-1, -2)) / q.shape[-1] ** 0.5\n'
     '    if mask is not None:\n        s = s.masked_fill(mask.logical_not(), -1e9)\n'
     '    e = (s - s.amax(-1, keepdim=True)).exp()\n    w = e / e.sum(-1, keepdim=True)\n'
     '    return (w @ v.double()).to(q.dtype), w.to(q.dtype)', 'attention'),
    ('04.attention', 'additive_float_mask', 'right', (),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.mT / math.sqrt(k.shape[-1])\n"
     "    if mask is not None:\n        s = s + torch.zeros(mask.shape).masked_fill(~mask, float('-inf'))\n"
     "    w = s.softmax(-1)\n    return w @ v, w", 'attention'),
    ('04.attention', 'no_scale', 'wrong', ('√d_k',),
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1)\n    if mask is not None:\n"
     "        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1)\n    return w @ v, w", 'attention'),
    ('04.attention', 'scale_dk', 'wrong', ('square root',),
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / q.size(-1)\n    if mask is not None:\n"
     "        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1)\n    return w @ v, w", 'attention'),
    ('04.attention', 'scale_dv', 'wrong', ('d_k', 'width'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(v.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ v, w", 'attention'),
    ('04.attention', 'mask_polarity', 'wrong', ('polarity', 'true means', 'invert', '~mask'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ v, w", 'attention'),
    ('04.attention', 'mask_after_softmax', 'wrong', ('after', 'sum to 1'),
     'import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n'
     '    w = s.softmax(-1)\n    if mask is not None:\n        w = w * mask\n    return w @ v, w', 'attention'),
    ('04.attention', 'softmax_dim_m2', 'wrong', ('keys', 'over the keys'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-2)\n"
     "    return w @ v, w", 'attention'),
    ('04.attention', 'swapped_return', 'wrong', ('order', '(out, weights)'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w, w @ v", 'attention'),
    ('04.attention', 'ignores_mask', 'wrong', ('mask',),
     'import math\ndef attention(q, k, v, mask=None):\n'
     '    w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)\n    return w @ v, w', 'attention'),
    ('04.attention', 'fill_zero', 'wrong', ('-inf', 'blocked'),
     'import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n'
     '    if mask is not None:\n        s = s.masked_fill(~mask, 0.0)\n    w = s.softmax(-1)\n'
     '    return w @ v, w', 'attention'),
    ('04.attention', 'k_dot_T', 'wrong', ('transpose', 'axes', 'last two', '-2, -1'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.T / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ v, w", 'attention'),
    ('04.fix_attention', 'fixed', 'right', (),
     'import math\ndef attention_fixed(q, k, v):\n    d_k = q.size(-1)\n'
     '    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)\n    weights = scores.softmax(dim=-1)\n'
     '    return weights @ v, weights', 'attention_fixed'),
    ('04.fix_attention', 'fixed_pow', 'right', (),
     'def attention_fixed(q, k, v):\n    d_k = q.size(-1)\n    scores = q @ k.transpose(-2, -1) * d_k ** -0.5\n'
     '    weights = torch.softmax(scores, dim=-1)\n    return weights @ v, weights', 'attention_fixed'),
    ('04.fix_attention', 'fixed_sqrt_tensor', 'right', (),
     'def attention_fixed(q, k, v):\n    d_k = q.size(-1)\n'
     '    scores = (q @ k.transpose(-2, -1)) / torch.sqrt(torch.tensor(float(d_k)))\n'
     '    weights = scores.softmax(dim=scores.dim() - 1)\n    return weights @ v, weights', 'attention_fixed'),
    ('04.fix_attention', 'untouched', 'wrong', ('√d_k',),
     'def attention_fixed(q, k, v):\n    d_k = q.size(-1)\n    scores = q @ k.transpose(-2, -1)\n'
     '    weights = scores.softmax(dim=-2)\n    return weights @ v, weights', 'attention_fixed'),
    ('04.fix_attention', 'only_axis', 'wrong', ('√d_k',),
     'def attention_fixed(q, k, v):\n    d_k = q.size(-1)\n    scores = q @ k.transpose(-2, -1)\n'
     '    weights = scores.softmax(dim=-1)\n    return weights @ v, weights', 'attention_fixed'),
    ('04.fix_attention', 'only_scale', 'wrong', ('keys', 'over the keys'),
     'import math\ndef attention_fixed(q, k, v):\n    d_k = q.size(-1)\n'
     '    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)\n    weights = scores.softmax(dim=-2)\n'
     '    return weights @ v, weights', 'attention_fixed'),
    ('04.fix_attention', 'scale_by_dk', 'wrong', ('square root',),
     'def attention_fixed(q, k, v):\n    d_k = q.size(-1)\n    scores = q @ k.transpose(-2, -1) / d_k\n'
     '    weights = scores.softmax(dim=-1)\n    return weights @ v, weights', 'attention_fixed'),
    ('04.fix_attention', 'scale_after_softmax', 'wrong', ('before', 'scores', 'scal', 'after'),
     'import math\ndef attention_fixed(q, k, v):\n    d_k = q.size(-1)\n    scores = q @ k.transpose(-2, -1)\n'
     '    weights = scores.softmax(dim=-1) / math.sqrt(d_k)\n    return weights @ v, weights', 'attention_fixed'),
    ('04.predict_score_std', 'int', 'right', (),
     'prediction = 8', 'prediction'),
    ('04.predict_score_std', 'float', 'right', (),
     'prediction = 8.0', 'prediction'),
    ('04.predict_score_std', 'sqrt_expr', 'right', (),
     'import math\nprediction = math.sqrt(64)', 'prediction'),
    ('04.predict_score_std', 'tensor', 'right', (),
     'prediction = torch.tensor(8.0)', 'prediction'),
    ('04.predict_score_std', 'approx', 'right', (),
     'prediction = 7.9', 'prediction'),
    ('04.predict_score_std', 'variance', 'wrong', ('variance', 'square root', 'standard deviation'),
     'prediction = 64', 'prediction'),
    ('04.predict_score_std', 'one', 'wrong', ('after',),
     'prediction = 1', 'prediction'),
    ('04.predict_score_std', 'inverse', 'wrong', ('add up',),
     'prediction = 0.125', 'prediction'),
    ('04.predict_score_std', 'sqrt8', 'wrong', ('square root',),
     'prediction = 8 ** 0.5', 'prediction'),
    ('04.self_attention', 'uses_attention', 'right', (),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\ndef self_attention(x, w_q, w_k, w_v):\n"
     "    return attention(x @ w_q, x @ w_k, x @ w_v)", 'self_attention'),
    ('04.self_attention', 'inline_einsum', 'right', (),
     "def self_attention(x, w_q, w_k, w_v):\n"
     "    q, k, v = (torch.einsum('btd,de->bte', x, w) for w in (w_q, w_k, w_v))\n"
     "    w = torch.softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, dim=-1)\n"
     "    return w @ v, w", 'self_attention'),
    ('04.self_attention', 'F_linear_bmm', 'right', (),
     'import math\nimport torch.nn.functional as F\ndef self_attention(x, w_q, w_k, w_v):\n'
     '    q, k, v = F.linear(x, w_q.T), F.linear(x, w_k.T), F.linear(x, w_v.T)\n'
     '    w = F.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(k.size(-1)), -1)\n'
     '    return torch.bmm(w, v), w', 'self_attention'),
    ('04.self_attention', 'k_from_wq', 'wrong', ('w_k', 'key', 'projection'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\ndef self_attention(x, w_q, w_k, w_v):\n"
     "    return attention(x @ w_q, x @ w_q, x @ w_v)", 'self_attention'),
    ('04.self_attention', 'no_value_proj', 'wrong', ('w_v', 'value', 'projection'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\ndef self_attention(x, w_q, w_k, w_v):\n    q, k = x @ w_q, x @ w_k\n"
     "    return attention(q, k, x)", 'self_attention'),
    ('04.self_attention', 'swapped_return', 'wrong', ('order', '(out, weights)'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\ndef self_attention(x, w_q, w_k, w_v):\n    out, w = attention(x @ w_q, x @ w_k, x @ w_v)\n"
     "    return w, out", 'self_attention'),
    ('04.self_attention', 'no_scale_inline', 'wrong', ('√d_k',),
     'def self_attention(x, w_q, w_k, w_v):\n    q, k, v = x @ w_q, x @ w_k, x @ w_v\n'
     '    w = (q @ k.transpose(-2, -1)).softmax(-1)\n    return w @ v, w', 'self_attention'),
    ('04.self_attention', 'bad_attention_dependency', 'wrong', ('attention', 'above'),
     'def attention(q, k, v, mask=None):\n    w = (q @ k.transpose(-2, -1)).softmax(-1)\n    return w @ v, w\n'
     'def self_attention(x, w_q, w_k, w_v):\n    return attention(x @ w_q, x @ w_k, x @ w_v)', 'self_attention'),
    ('04.self_attention', 'qk_swapped_roles', 'wrong', ('w_q', 'w_k', 'key', 'swap', 'transpos'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\ndef self_attention(x, w_q, w_k, w_v):\n"
     "    return attention(x @ w_k, x @ w_q, x @ w_v)", 'self_attention'),
    ('05.split_heads', 'view_transpose', 'right', (),
     'def split_heads(x, n_heads):\n    B, T, D = x.shape\n'
     '    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)', 'split_heads'),
    ('05.split_heads', 'reshape_permute', 'right', (),
     'def split_heads(x, n_heads):\n    B, T, D = x.shape\n'
     '    return x.reshape(B, T, n_heads, -1).permute(0, 2, 1, 3)', 'split_heads'),
    ('05.split_heads', 'stack_split', 'right', (),
     'def split_heads(x, n_heads):\n    d_k = x.shape[-1] // n_heads\n'
     '    return torch.stack(x.split(d_k, dim=-1), dim=1)', 'split_heads'),
    ('05.split_heads', 'unflatten_contig', 'right', (),
     'def split_heads(x, n_heads):\n'
     '    return x.unflatten(-1, (n_heads, -1)).transpose(1, 2).contiguous()', 'split_heads'),
    ('05.split_heads', 'd2l_transpose_qkv', 'right', (),
     'def split_heads(X, num_heads):\n    X = X.reshape(X.shape[0], X.shape[1], num_heads, -1)\n'
     '    X = X.permute(0, 2, 1, 3)\n    return X', 'split_heads'),
    ('05.split_heads', 'view_direct', 'wrong', ('view', 'transpose'),
     'def split_heads(x, n_heads):\n    B, T, D = x.shape\n'
     '    return x.view(B, n_heads, T, D // n_heads)', 'split_heads'),
    ('05.split_heads', 'dk_H_order', 'wrong', ('slice', 'contiguous'),
     'def split_heads(x, n_heads):\n    B, T, D = x.shape\n'
     '    return x.view(B, T, D // n_heads, n_heads).permute(0, 3, 1, 2)', 'split_heads'),
    ('05.split_heads', 'no_transpose', 'wrong', ('transpose', '(b, h, t, d_k)'),
     'def split_heads(x, n_heads):\n    B, T, D = x.shape\n'
     '    return x.view(B, T, n_heads, D // n_heads)', 'split_heads'),
    ('05.split_heads', 'chunk_time', 'wrong', ('width', 'time'),
     'def split_heads(x, n_heads):\n    return torch.stack(x.chunk(n_heads, dim=1), dim=1)', 'split_heads'),
    ('05.split_heads', 'transpose_23', 'wrong', ('transpose', 'axes', 'shape'),
     'def split_heads(x, n_heads):\n    B, T, D = x.shape\n'
     '    return x.view(B, T, n_heads, D // n_heads).transpose(2, 3)', 'split_heads'),
    ('05.merge_heads', 'transpose_reshape', 'right', (),
     'def merge_heads(x):\n    B, H, T, d_k = x.shape\n'
     '    return x.transpose(1, 2).reshape(B, T, H * d_k)', 'merge_heads'),
    ('05.merge_heads', 'permute_contig_view', 'right', (),
     'def merge_heads(x):\n    B, H, T, d_k = x.shape\n'
     '    return x.permute(0, 2, 1, 3).contiguous().view(B, T, -1)', 'merge_heads'),
    ('05.merge_heads', 'cat_unbind', 'right', (),
     'def merge_heads(x):\n    return torch.cat(x.unbind(1), dim=-1)', 'merge_heads'),
    ('05.merge_heads', 'flatten', 'right', (),
     'def merge_heads(x):\n    return x.transpose(1, 2).flatten(2)', 'merge_heads'),
    ('05.merge_heads', 'no_transpose', 'wrong', ('transpose', 'head', 'position'),
     'def merge_heads(x):\n    B, H, T, d_k = x.shape\n    return x.reshape(B, T, H * d_k)', 'merge_heads'),
    ('05.merge_heads', 'view_noncontig', 'wrong', ('contiguous', 'reshape', 'view'),
     'def merge_heads(x):\n    B, H, T, d_k = x.shape\n'
     '    return x.transpose(1, 2).view(B, T, H * d_k)', 'merge_heads'),
    ('05.merge_heads', 'heads_reversed', 'wrong', ('head 0', 'order', 'revers'),
     'def merge_heads(x):\n    return torch.cat(x.flip(1).unbind(1), dim=-1)', 'merge_heads'),
    ('05.merge_heads', 'sum_heads', 'wrong', ('concat',),
     'def merge_heads(x):\n    return x.sum(1)', 'merge_heads'),
    ('05.merge_heads', 'dk_major', 'wrong', ('head 0',),
     'def merge_heads(x):\n    B, H, T, d_k = x.shape\n'
     '    return x.permute(0, 2, 3, 1).reshape(B, T, H * d_k)', 'merge_heads'),
    ('05.multi_head_attention', 'hint', 'right', (),
     "import math\nfrom torch import nn\ndef split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\ndef merge_heads(x):\n"
     "    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\nimport math\n"
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
     "        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
     "        v = split_heads(self.w_v(x_kv), self.n_heads)\n        out, _ = attention(q, k, v, mask)\n"
     "        return self.w_o(merge_heads(out))\n", 'MultiHeadAttention'),
    ('05.multi_head_attention', 'AT_style_inline', 'right', (),
     'import math\nfrom torch import nn\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, '
     'n_heads):\n        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, '
     'd_model)\n        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n'
     '        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n        B = '
     'x_q.size(0)\n        d_k = self.w_q.out_features // self.n_heads\n        q, k, v = [l(x).view(B, -1, '
     'self.n_heads, d_k).transpose(1, 2) for l, x in zip((self.w_q, self.w_k, self.w_v), (x_q, x_kv, x_kv))]\n'
     '        s = q @ k.transpose(-2, -1) / math.sqrt(d_k)\n        if mask is not None:\n            s = '
     's.masked_fill(mask == 0, -1e9)\n        p = s.softmax(-1)\n        x = (p @ v).transpose(1, 2).contiguous('
     ').view(B, -1, self.n_heads * d_k)\n        return self.w_o(x)\n', 'MultiHeadAttention'),
    ('05.multi_head_attention', 'd2l_transpose_qkv', 'right', (),
     'import math\nfrom torch import nn\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, '
     'n_heads):\n        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, '
     'd_model)\n        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n'
     '        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n        def '
     'transpose_qkv(X, num_heads):\n            X = X.reshape(X.shape[0], X.shape[1], num_heads, -1).permute(0, 2, '
     '1, 3)\n            return X.reshape(-1, X.shape[2], X.shape[3])\n        def transpose_output(X, num_heads):\n'
     '            X = X.reshape(-1, num_heads, X.shape[1], X.shape[2]).permute(0, 2, 1, 3)\n            return '
     'X.reshape(X.shape[0], X.shape[1], -1)\n        H = self.n_heads\n        q, k, v = transpose_qkv(self.w_q('
     'x_q), H), transpose_qkv(self.w_k(x_kv), H), transpose_qkv(self.w_v(x_kv), H)\n        s = torch.bmm(q, '
     'k.transpose(1, 2)) / math.sqrt(q.shape[-1])\n        if mask is not None:\n            m = mask.expand('
     'x_q.shape[0], H, x_q.shape[1], x_kv.shape[1]).reshape(-1, x_q.shape[1], x_kv.shape[1])\n            s = '
     's.masked_fill(~m, -1e6)\n        out = torch.bmm(torch.softmax(s, dim=-1), v)\n        return self.w_o('
     'transpose_output(out, H))\n', 'MultiHeadAttention'),
    ('05.multi_head_attention', 'einsum_where', 'right', (),
     "import math\nfrom torch import nn\nclass MultiHeadAttention(nn.Module):\n"
     "    def __init__(self, d_model, n_heads):\n        super().__init__()\n        self.n_heads = n_heads\n"
     "        self.w_q = nn.Linear(d_model, d_model)\n        self.w_k = nn.Linear(d_model, d_model)\n"
     "        self.w_v = nn.Linear(d_model, d_model)\n        self.w_o = nn.Linear(d_model, d_model)\n"
     "    def forward(self, x_q, x_kv, mask=None):\n        B, Tq, D = x_q.shape\n        H = self.n_heads\n"
     "        q = self.w_q(x_q).unflatten(-1, (H, -1))\n        k = self.w_k(x_kv).unflatten(-1, (H, -1))\n"
     "        v = self.w_v(x_kv).unflatten(-1, (H, -1))\n"
     "        s = torch.einsum('bqhd,bkhd->bhqk', q, k) / math.sqrt(q.shape[-1])\n        if mask is not None:\n"
     "            s = torch.where(mask, s, float('-inf'))\n        w = s.softmax(-1)\n"
     "        return self.w_o(torch.einsum('bhqk,bkhd->bqhd', w, v).flatten(2))\n", 'MultiHeadAttention'),
    ('05.multi_head_attention', 'no_w_o', 'wrong', ('w_o', 'output projection'),
     "import math\nfrom torch import nn\ndef split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\ndef merge_heads(x):\n"
     "    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\nimport math\n"
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
     "        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
     "        v = split_heads(self.w_v(x_kv), self.n_heads)\n        out, _ = attention(q, k, v, mask)\n"
     "        return merge_heads(out)\n", 'MultiHeadAttention'),
    ('05.multi_head_attention', 'scale_dmodel', 'wrong', ('d_k', 'one head', 'scal'),
     "import math\nfrom torch import nn\ndef split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\ndef merge_heads(x):\n"
     "    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\nimport math\n"
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
     "        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
     "        v = split_heads(self.w_v(x_kv), self.n_heads)\n"
     "        s = q @ k.transpose(-2, -1) / math.sqrt(x_q.shape[-1])\n        if mask is not None:\n"
     "            s = s.masked_fill(~mask, float('-inf'))\n"
     "        return self.w_o(merge_heads(s.softmax(-1) @ v))\n", 'MultiHeadAttention'),
    ('05.multi_head_attention', 'bad_split_heads', 'wrong', ('split_heads',),
     "import math\nfrom torch import nn\ndef split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, n_heads, T, D // n_heads)\ndef merge_heads(x):\n    B, H, T, d_k = x.shape\n"
     "    return x.transpose(1, 2).reshape(B, T, H * d_k)\nimport math\ndef attention(q, k, v, mask=None):\n"
     "    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n    if mask is not None:\n"
     "        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n    return w @ v, w\n"
     "class MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n        super().__init__()\n"
     "        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
     "        v = split_heads(self.w_v(x_kv), self.n_heads)\n        out, _ = attention(q, k, v, mask)\n"
     "        return self.w_o(merge_heads(out))\n", 'MultiHeadAttention'),
    ('05.multi_head_attention', 'bad_merge_heads', 'wrong', ('merge_heads',),
     "import math\nfrom torch import nn\ndef split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\ndef merge_heads(x):\n"
     "    B, H, T, d_k = x.shape\n    return x.reshape(B, T, H * d_k)\nimport math\n"
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
     "        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
     "        v = split_heads(self.w_v(x_kv), self.n_heads)\n        out, _ = attention(q, k, v, mask)\n"
     "        return self.w_o(merge_heads(out))\n", 'MultiHeadAttention'),
    ('05.multi_head_attention', 'mask_polarity', 'wrong', ('polarity', 'true', 'invert', 'mask'),
     "import math\nfrom torch import nn\ndef split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\ndef merge_heads(x):\n"
     "    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\nimport math\n"
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
     "        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
     "        v = split_heads(self.w_v(x_kv), self.n_heads)\n"
     "        s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])\n        if mask is not None:\n"
     "            s = s.masked_fill(mask, float('-inf'))\n"
     "        return self.w_o(merge_heads(s.softmax(-1) @ v))\n", 'MultiHeadAttention'),
    ('05.multi_head_attention', 'kv_from_xq', 'wrong', ('x_kv', 'keys and values'),
     "import math\nfrom torch import nn\ndef split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\ndef merge_heads(x):\n"
     "    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\nimport math\n"
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
     "        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_q), self.n_heads)\n"
     "        v = split_heads(self.w_v(x_q), self.n_heads)\n        out, _ = attention(q, k, v, mask)\n"
     "        return self.w_o(merge_heads(out))\n", 'MultiHeadAttention'),
    ('05.multi_head_attention', 'ignores_mask', 'wrong', ('mask',),
     "import math\nfrom torch import nn\ndef split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\ndef merge_heads(x):\n"
     "    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\nimport math\n"
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
     "        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
     "        v = split_heads(self.w_v(x_kv), self.n_heads)\n        out, _ = attention(q, k, v)\n"
     "        return self.w_o(merge_heads(out))\n", 'MultiHeadAttention'),
    ('05.predict_param_count', 'int', 'right', (),
     'prediction = 4 * (512 * 512 + 512)', 'prediction'),
    ('05.predict_param_count', 'literal', 'right', (),
     'prediction = 1050624', 'prediction'),
    ('05.predict_param_count', 'np_int', 'right', (),
     'import numpy as np\nprediction = np.int64(1050624)', 'prediction'),
    ('05.predict_param_count', 'tensor', 'right', (),
     'prediction = torch.tensor(1050624)', 'prediction'),
    ('05.predict_param_count', 'no_bias', 'wrong', ('bias',),
     'prediction = 4 * 512 * 512', 'prediction'),
    ('05.predict_param_count', 'three_linears', 'wrong', ('w_o', 'four', 'output'),
     'prediction = 3 * (512 * 512 + 512)', 'prediction'),
    ('05.predict_param_count', 'per_head', 'wrong', ('head', 'n_heads'),
     'prediction = 8 * 4 * (512 * 512 + 512)', 'prediction'),
    ('05.predict_param_count', 'head_width', 'wrong', ('head', 'slices', 'd_k'),
     'prediction = 4 * (512 * 64 + 64)', 'prediction'),
    ('05.predict_param_count', 'close', 'wrong', ('close', 'exact'),
     'prediction = 1050000', 'prediction'),
    ('06.causal_mask', 'tril', 'right', (),
     'def causal_mask(T):\n    return torch.tril(torch.ones(T, T, dtype=torch.bool))', 'causal_mask'),
    ('06.causal_mask', 'arange_cmp', 'right', (),
     'def causal_mask(T):\n    return torch.arange(T)[:, None] >= torch.arange(T)[None, :]', 'causal_mask'),
    ('06.causal_mask', 'AT_subsequent_mask', 'right', (),
     'def subsequent_mask(size):\n    attn_shape = (1, size, size)\n'
     '    sm = torch.triu(torch.ones(attn_shape), diagonal=1).type(torch.uint8)\n    return sm == 0\n'
     'def causal_mask(T):\n    return subsequent_mask(T)[0]', 'causal_mask'),
    ('06.causal_mask', 'loops', 'right', (),
     'def causal_mask(T):\n    m = torch.zeros(T, T, dtype=torch.bool)\n    for i in range(T):\n'
     '        for j in range(i + 1):\n            m[i, j] = True\n    return m', 'causal_mask'),
    ('06.causal_mask', 'not_triu', 'right', (),
     'def causal_mask(T):\n    return ~torch.ones(T, T).triu(1).bool()', 'causal_mask'),
    ('06.causal_mask', 'triu_polarity', 'wrong', ('polarity', 'invert', 'opposite'),
     'def causal_mask(T):\n    return torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)', 'causal_mask'),
    ('06.causal_mask', 'no_diagonal', 'wrong', ('diagonal', 'itself'),
     'def causal_mask(T):\n    return torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-1)', 'causal_mask'),
    ('06.causal_mask', 'float_mask', 'wrong', ('bool', 'dtype'),
     'def causal_mask(T):\n    return torch.tril(torch.ones(T, T))', 'causal_mask'),
    ('06.causal_mask', 'additive_inf', 'wrong', ('bool', 'additive'),
     "def causal_mask(T):\n    return torch.triu(torch.full((T, T), float('-inf')), diagonal=1)", 'causal_mask'),
    ('06.causal_mask', 'batched_shape', 'wrong', ('shape',),
     'def causal_mask(T):\n    return torch.tril(torch.ones(1, T, T, dtype=torch.bool))', 'causal_mask'),
    ('06.causal_mask', 'triu_incl_diag', 'wrong', ('future',),
     'def causal_mask(T):\n    return torch.triu(torch.ones(T, T, dtype=torch.bool))', 'causal_mask'),
    ('06.padding_mask', 'hint', 'right', (),
     'def padding_mask(tokens, pad_id):\n    return (tokens != pad_id)[:, None, None, :]', 'padding_mask'),
    ('06.padding_mask', 'unsqueeze', 'right', (),
     'def padding_mask(tokens, pad_id):\n    return tokens.ne(pad_id).unsqueeze(1).unsqueeze(2)', 'padding_mask'),
    ('06.padding_mask', 'not_eq_view', 'right', (),
     'def padding_mask(tokens, pad_id):\n    B, T = tokens.shape\n'
     '    return (~(tokens == pad_id)).view(B, 1, 1, T)', 'padding_mask'),
    ('06.padding_mask', 'AT_style', 'right', (),
     'def padding_mask(tokens, pad_id):\n    return (tokens != pad_id).unsqueeze(-2).unsqueeze(1)', 'padding_mask'),
    ('06.padding_mask', 'polarity', 'wrong', ('polarity', 'true at the real', 'invert', 'pad', 'opposite'),
     'def padding_mask(tokens, pad_id):\n    return (tokens == pad_id)[:, None, None, :]', 'padding_mask'),
    ('06.padding_mask', 'pad_zero_hardcoded', 'wrong', ('pad_id',),
     'def padding_mask(tokens, pad_id):\n    return (tokens != 0)[:, None, None, :]', 'padding_mask'),
    ('06.padding_mask', 'query_axis', 'wrong', ('key', '(b, 1, 1, t)', 'shape'),
     'def padding_mask(tokens, pad_id):\n    return (tokens != pad_id)[:, None, :, None]', 'padding_mask'),
    ('06.padding_mask', 'shape_BT', 'wrong', ('shape',),
     'def padding_mask(tokens, pad_id):\n    return tokens != pad_id', 'padding_mask'),
    ('06.padding_mask', 'float_mask', 'wrong', ('bool', 'dtype'),
     'def padding_mask(tokens, pad_id):\n    return (tokens != pad_id)[:, None, None, :].float()', 'padding_mask'),
    ('06.padding_mask', 'shape_B1T', 'wrong', ('shape', '(b, 1, 1, t)', 'head'),
     'def padding_mask(tokens, pad_id):\n    return (tokens != pad_id).unsqueeze(1)', 'padding_mask'),
    ('06.decoder_mask', 'hint', 'right', (),
     'def decoder_mask(tgt, pad_id):\n    T = tgt.shape[1]\n'
     '    return (tgt != pad_id)[:, None, None, :] & torch.tril(torch.ones(T, T, dtype=torch.bool))', 'decoder_mask'),
    ('06.decoder_mask', 'uses_own', 'right', (),
     'def causal_mask(T):\n    return torch.tril(torch.ones(T, T, dtype=torch.bool))\n'
     'def padding_mask(tokens, pad_id):\n    return (tokens != pad_id)[:, None, None, :]\n'
     'def decoder_mask(tgt, pad_id):\n    return padding_mask(tgt, pad_id) & causal_mask(tgt.size(1))', 'decoder_mask'),
    ('06.decoder_mask', 'AT_make_std_mask', 'right', (),
     'def subsequent_mask(size):\n'
     '    return torch.triu(torch.ones(1, size, size), diagonal=1).type(torch.uint8) == 0\n'
     'def decoder_mask(tgt, pad_id):\n    m = (tgt != pad_id).unsqueeze(-2)\n'
     '    m = m & subsequent_mask(tgt.size(-1)).type_as(m.data)\n    return m.unsqueeze(1)', 'decoder_mask'),
    ('06.decoder_mask', 'logical_and_expand', 'right', (),
     'def decoder_mask(tgt, pad_id):\n    B, T = tgt.shape\n'
     '    keys = (tgt != pad_id).view(B, 1, 1, T).expand(B, 1, T, T)\n'
     '    fut = torch.arange(T)[None, :] <= torch.arange(T)[:, None]\n'
     '    return torch.logical_and(keys, fut)', 'decoder_mask'),
    ('06.decoder_mask', 'or_not_and', 'wrong', ('&', 'both'),
     'def decoder_mask(tgt, pad_id):\n    T = tgt.shape[1]\n'
     '    return (tgt != pad_id)[:, None, None, :] | torch.tril(torch.ones(T, T, dtype=torch.bool))', 'decoder_mask'),
    ('06.decoder_mask', 'pad_on_queries', 'wrong', ('key', 'padded *queries*'),
     'def decoder_mask(tgt, pad_id):\n    T = tgt.shape[1]\n'
     '    return (tgt != pad_id)[:, None, :, None] & torch.tril(torch.ones(T, T, dtype=torch.bool))', 'decoder_mask'),
    ('06.decoder_mask', 'only_causal', 'wrong', ('pad',),
     'def decoder_mask(tgt, pad_id):\n    B, T = tgt.shape\n'
     '    return torch.tril(torch.ones(T, T, dtype=torch.bool)).expand(B, 1, T, T)', 'decoder_mask'),
    ('06.decoder_mask', 'only_padding', 'wrong', ('causal', 'future'),
     'def decoder_mask(tgt, pad_id):\n    B, T = tgt.shape\n'
     '    return (tgt != pad_id)[:, None, None, :].expand(B, 1, T, T)', 'decoder_mask'),
    ('06.decoder_mask', 'upper_triangle', 'wrong', ('future', 'causal'),
     'def decoder_mask(tgt, pad_id):\n    T = tgt.shape[1]\n'
     '    return (tgt != pad_id)[:, None, None, :] & torch.triu(torch.ones(T, T, dtype=torch.bool), 1)',
     'decoder_mask'),
    ('06.decoder_mask', 'shape_BTT', 'wrong', ('shape', '(b, 1, t, t)', 'head'),
     'def decoder_mask(tgt, pad_id):\n    T = tgt.shape[1]\n'
     '    return (tgt != pad_id)[:, None, :] & torch.tril(torch.ones(T, T, dtype=torch.bool))', 'decoder_mask'),
    ('06.masked_softmax', 'nan_to_num', 'right', (),
     "def masked_softmax(scores, mask):\n"
     "    return scores.masked_fill(~mask, float('-inf')).softmax(dim=-1).nan_to_num(0.0)", 'masked_softmax'),
    ('06.masked_softmax', 'where_any', 'right', (),
     "def masked_softmax(scores, mask):\n    w = scores.masked_fill(~mask, float('-inf')).softmax(-1)\n"
     "    return torch.where(mask.any(dim=-1, keepdim=True), w, 0.0)", 'masked_softmax'),
    ('06.masked_softmax', 'fill_1e9_then_mul', 'right', (),
     'def masked_softmax(scores, mask):\n    w = torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1)\n'
     '    return w * mask', 'masked_softmax'),
    ('06.masked_softmax', 'manual_exp_f64', 'right', (),
     "def masked_softmax(scores, mask):\n    s = scores.double().masked_fill(~mask, float('-inf'))\n"
     "    m = s.amax(-1, keepdim=True).clamp(min=-1e30)\n    e = (s - m).exp() * mask\n"
     "    d = e.sum(-1, keepdim=True)\n    return (e / d.clamp(min=1e-300)).to(scores.dtype)", 'masked_softmax'),
    ('06.masked_softmax', 'd2l_1e6_valid_lens_style', 'wrong', ('no allowed', 'zero'),
     'def masked_softmax(scores, mask):\n    X = scores.masked_fill(~mask, -1e6)\n'
     '    return torch.softmax(X, dim=-1)', 'masked_softmax'),
    ('06.masked_softmax', 'in_place', 'wrong', ('in place', 'modif', 'chang', 'scores'),
     "def masked_softmax(scores, mask):\n    scores.masked_fill_(~mask, float('-inf'))\n"
     "    return scores.softmax(-1).nan_to_num(0.0)", 'masked_softmax'),
    ('06.masked_softmax', 'no_nan_fix', 'wrong', ('nan',),
     "def masked_softmax(scores, mask):\n"
     "    return scores.masked_fill(~mask, float('-inf')).softmax(-1)", 'masked_softmax'),
    ('06.masked_softmax', 'polarity', 'wrong', ('polarity', 'true', 'invert', 'opposite'),
     "def masked_softmax(scores, mask):\n"
     "    return scores.masked_fill(mask, float('-inf')).softmax(-1).nan_to_num(0.0)", 'masked_softmax'),
    ('06.masked_softmax', 'fill_zero', 'wrong', ('-inf', 'blocked'),
     'def masked_softmax(scores, mask):\n    w = scores.masked_fill(~mask, 0.0).softmax(-1)\n'
     '    return torch.where(mask.any(-1, keepdim=True), w, 0.0)', 'masked_softmax'),
    ('06.masked_softmax', 'mask_after_softmax', 'wrong', ('after', 'sum to 1'),
     'def masked_softmax(scores, mask):\n    return scores.softmax(-1) * mask', 'masked_softmax'),
    ('06.masked_softmax', 'dim_m2', 'wrong', ('axis', 'keys', 'last'),
     "def masked_softmax(scores, mask):\n"
     "    return scores.masked_fill(~mask, float('-inf')).softmax(dim=-2).nan_to_num(0.0)", 'masked_softmax'),
    ('06.nn_border', 'invert_both', 'right', (),
     'from course_utils.transformer import masks\ndef causal_self_attention(mha, x, tgt, pad_id):\n'
     '    T = x.size(1)\n    attn_mask = ~masks.causal_mask(T)\n'
     '    key_padding_mask = ~masks.padding_mask(tgt, pad_id)[:, 0, 0, :]\n'
     '    out, _ = mha(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask)\n'
     '    return out', 'causal_self_attention'),
    ('06.nn_border', 'triu_eq_pad', 'right', (),
     'def causal_self_attention(mha, x, tgt, pad_id):\n    T = x.size(1)\n'
     '    am = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)\n'
     '    out, _ = mha(x, x, x, attn_mask=am, key_padding_mask=tgt == pad_id)\n'
     '    return out', 'causal_self_attention'),
    ('06.nn_border', 'float_masks', 'right', (),
     "def causal_self_attention(mha, x, tgt, pad_id):\n    T = x.size(1)\n"
     "    am = torch.full((T, T), float('-inf')).triu(1)\n"
     "    kpm = torch.zeros(tgt.shape).masked_fill(tgt == pad_id, float('-inf'))\n"
     "    out, _ = mha(x, x, x, attn_mask=am, key_padding_mask=kpm)\n    return out", 'causal_self_attention'),
    ('06.nn_border', 'logical_not', 'right', (),
     'from course_utils.transformer import masks\ndef causal_self_attention(mha, x, tgt, pad_id):\n'
     '    am = masks.causal_mask(x.size(1)).logical_not()\n    kpm = tgt.eq(pad_id)\n'
     '    return mha(x, x, x, attn_mask=am, key_padding_mask=kpm, need_weights=False)[0]', 'causal_self_attention'),
    ('06.nn_border', 'untouched', 'wrong', ('invert', '~', 'both'),
     'from course_utils.transformer import masks\ndef causal_self_attention(mha, x, tgt, pad_id):\n'
     '    T = x.size(1)\n    attn_mask = masks.causal_mask(T)\n'
     '    key_padding_mask = masks.padding_mask(tgt, pad_id)[:, 0, 0, :]\n'
     '    out, _ = mha(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask)\n'
     '    return out', 'causal_self_attention'),
    ('06.nn_border', 'only_attn_inverted', 'wrong', ('key_padding_mask', 'padding'),
     'from course_utils.transformer import masks\ndef causal_self_attention(mha, x, tgt, pad_id):\n    T = x.size('
     '1)\n    out, _ = mha(x, x, x, attn_mask=~masks.causal_mask(T), key_padding_mask=masks.padding_mask(tgt, '
     'pad_id)[:, 0, 0, :])\n    return out', 'causal_self_attention'),
    ('06.nn_border', 'only_kpm_inverted', 'wrong', ('attn_mask',),
     'from course_utils.transformer import masks\ndef causal_self_attention(mha, x, tgt, pad_id):\n    T = x.size('
     '1)\n    out, _ = mha(x, x, x, attn_mask=masks.causal_mask(T), key_padding_mask=~masks.padding_mask(tgt, '
     'pad_id)[:, 0, 0, :])\n    return out', 'causal_self_attention'),
    ('06.nn_border', 'no_kpm', 'wrong', ('key_padding_mask', 'padding', 'pad'),
     'from course_utils.transformer import masks\ndef causal_self_attention(mha, x, tgt, pad_id):\n'
     '    T = x.size(1)\n    out, _ = mha(x, x, x, attn_mask=~masks.causal_mask(T))\n'
     '    return out', 'causal_self_attention'),
    ('06.nn_border', 'blocks_diagonal', 'wrong', ('diagonal', 'itself'),
     'def causal_self_attention(mha, x, tgt, pad_id):\n    T = x.size(1)\n'
     '    am = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=0)\n    am[0, 0] = False\n'
     '    out, _ = mha(x, x, x, attn_mask=am, key_padding_mask=tgt == pad_id)\n'
     '    return out', 'causal_self_attention'),
    ('06.nn_border', 'no_causal', 'wrong', ('attn_mask', 'causal', 'future'),
     'def causal_self_attention(mha, x, tgt, pad_id):\n    out, _ = mha(x, x, x, key_padding_mask=tgt == pad_id)\n'
     '    return out', 'causal_self_attention'),
    ('07.cross_attention', 'hint', 'right', (),
     "import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n"
     "    q, k, v = x @ w_q, memory @ w_k, memory @ w_v\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if src_mask is not None:\n        s = s.masked_fill(~src_mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ v, w", 'cross_attention'),
    ('07.cross_attention', 'uses_lesson_attention', 'right', (),
     'from course_utils.transformer.attention import attention\n'
     'def cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n'
     '    return attention(x @ w_q, memory @ w_k, memory @ w_v, src_mask)', 'cross_attention'),
    ('07.cross_attention', 'einsum_1e9', 'right', (),
     "def cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n    q = torch.einsum('btd,dk->btk', x, w_q)\n"
     "    k = torch.einsum('bsd,dk->bsk', memory, w_k)\n    v = torch.einsum('bsd,dv->bsv', memory, w_v)\n"
     "    s = torch.einsum('btk,bsk->bts', q, k) / q.shape[-1] ** 0.5\n    if src_mask is not None:\n"
     "        s = s.masked_fill(src_mask == 0, -1e9)\n    w = torch.softmax(s, dim=-1)\n"
     "    return torch.einsum('bts,bsv->btv', w, v), w", 'cross_attention'),
    ('07.cross_attention', 'where_f64', 'right', (),
     "import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n"
     "    q, k, v = (x @ w_q).double(), (memory @ w_k).double(), (memory @ w_v).double()\n"
     "    s = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(w_k.shape[1])\n    if src_mask is not None:\n"
     "        s = torch.where(src_mask, s, torch.full_like(s, float('-inf')))\n    w = s.softmax(-1)\n"
     "    return torch.bmm(w, v).float(), w.float()", 'cross_attention'),
    ('07.cross_attention', 'kv_from_decoder', 'wrong', ('memory', 'decoder', 'keys and values'),
     'import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n'
     '    q, k, v = x @ w_q, x @ w_k, x @ w_v\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n'
     '    w = s.softmax(-1)\n    return w @ v, w', 'cross_attention'),
    ('07.cross_attention', 'q_from_memory', 'wrong', ('quer', 'decoder', 'memory', 'swap'),
     'import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n'
     '    q, k, v = memory @ w_q, x @ w_k, x @ w_v\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n'
     '    w = s.softmax(-1)\n    return w @ v, w', 'cross_attention'),
    ('07.cross_attention', 'no_scale', 'wrong', ('scal', 'sqrt'),
     "def cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n"
     "    q, k, v = x @ w_q, memory @ w_k, memory @ w_v\n    s = q @ k.transpose(-2, -1)\n"
     "    if src_mask is not None:\n        s = s.masked_fill(~src_mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ v, w", 'cross_attention'),
    ('07.cross_attention', 'scale_dv', 'wrong', ('d_k', 'd_v', 'width'),
     "import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n"
     "    q, k, v = x @ w_q, memory @ w_k, memory @ w_v\n    s = q @ k.transpose(-2, -1) / math.sqrt(v.size(-1))\n"
     "    if src_mask is not None:\n        s = s.masked_fill(~src_mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ v, w", 'cross_attention'),
    ('07.cross_attention', 'mask_polarity', 'wrong', ('polarity', 'true', 'invert'),
     "import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n"
     "    q, k, v = x @ w_q, memory @ w_k, memory @ w_v\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if src_mask is not None:\n        s = s.masked_fill(src_mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ v, w", 'cross_attention'),
    ('07.cross_attention', 'softmax_dim1', 'wrong', ('axis', 'source', 'last'),
     "import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n"
     "    q, k, v = x @ w_q, memory @ w_k, memory @ w_v\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if src_mask is not None:\n        s = s.masked_fill(~src_mask, float('-inf'))\n    w = s.softmax(1)\n"
     "    return w @ v, w", 'cross_attention'),
    ('07.cross_attention', 'swapped_return', 'wrong', ('order', '(out, weights)'),
     "import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n"
     "    q, k, v = x @ w_q, memory @ w_k, memory @ w_v\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if src_mask is not None:\n        s = s.masked_fill(~src_mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w, w @ v", 'cross_attention'),
    ('07.cross_attention', 'ignores_mask', 'wrong', ('mask',),
     'import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n'
     '    q, k, v = x @ w_q, memory @ w_k, memory @ w_v\n'
     '    w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)\n    return w @ v, w', 'cross_attention'),
    ('07.cross_attention', 'v_from_x', 'wrong', ('value', 'memory'),
     "import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n"
     "    q, k, v = x @ w_q, memory @ w_k, x @ w_v\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if src_mask is not None:\n        s = s.masked_fill(~src_mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ v, w", 'cross_attention'),
    ('07.alignment', 'hint', 'right', (),
     'def alignment(weights):\n    return weights.mean(dim=1).argmax(dim=-1)', 'alignment'),
    ('07.alignment', 'sum_heads', 'right', (),
     'def alignment(weights):\n    return weights.sum(1).argmax(-1)', 'alignment'),
    ('07.alignment', 'max_indices', 'right', (),
     'def alignment(weights):\n    return torch.max(weights.mean(1), dim=2).indices', 'alignment'),
    ('07.alignment', 'loops', 'right', (),
     'def alignment(weights):\n    B, H, T, S = weights.shape\n    out = torch.zeros(B, T, dtype=torch.long)\n'
     '    avg = weights.mean(1)\n    for b in range(B):\n        for t in range(T):\n'
     '            out[b, t] = int(torch.argmax(avg[b, t]))\n    return out', 'alignment'),
    ('07.alignment', 'argmax_target_axis', 'wrong', ('source', 'axis', 'last'),
     'def alignment(weights):\n    return weights.mean(dim=1).argmax(dim=1)', 'alignment'),
    ('07.alignment', 'max_over_heads', 'wrong', ('mean', 'average'),
     'def alignment(weights):\n    return weights.max(dim=1).values.argmax(-1)', 'alignment'),
    ('07.alignment', 'first_head', 'wrong', ('head', 'average'),
     'def alignment(weights):\n    return weights[:, 0].argmax(-1)', 'alignment'),
    ('07.alignment', 'float_out', 'wrong', ('long', 'integer', 'dtype'),
     'def alignment(weights):\n    return weights.mean(1).argmax(-1).float()', 'alignment'),
    ('07.alignment', 'mean_batch_axis', 'wrong', ('head', 'axis', 'dim=1', 'batch'),
     'def alignment(weights):\n    return weights.mean(0).argmax(-1)', 'alignment'),
    ('07.alignment', 'argmin', 'wrong', ('most', 'argmin', 'max', 'argmin'),
     'def alignment(weights):\n    return weights.mean(1).argmin(-1)', 'alignment'),
    ('07.alignment', 'vote_heads', 'wrong', ('mean', 'average', 'vote', 'head'),
     'def alignment(weights):\n    return weights.argmax(-1).mode(dim=1).values', 'alignment'),
    ('07.predict_alignment', 'list', 'right', (),
     "prediction = ['I', 'cats', 'cats']", 'prediction'),
    ('07.predict_alignment', 'tuple', 'right', (),
     "prediction = ('I', 'cats', 'cats')", 'prediction'),
    ('07.predict_alignment', 'split', 'right', (),
     "prediction = 'I cats cats'.split()", 'prediction'),
    ('07.predict_alignment', 'pad_wins', 'wrong', ('pad', 'mask'),
     "prediction = ['I', 'cats', '<pad>']", 'prediction'),
    ('07.predict_alignment', 'all_pad', 'wrong', ('pad', 'mask'),
     "prediction = ['<pad>', '<pad>', '<pad>']", 'prediction'),
    ('07.predict_alignment', 'reversed', 'wrong', ('dot product', 'largest'),
     "prediction = ['cats', 'love', 'I']", 'prediction'),
    ('07.predict_alignment', 'all_I', 'wrong', ('dot product', 'largest'),
     "prediction = ['I', 'I', 'I']", 'prediction'),
    ('07.predict_alignment', 'chinese', 'wrong', ('source', 'token'),
     "prediction = ['我', '爱', '猫']", 'prediction'),
    ('08.predict_layernorm', 'two_decimals', 'right', (),
     'prediction = [-1.34, -0.45, 0.45, 1.34]', 'prediction'),
    ('08.predict_layernorm', 'exact_f', 'right', (),
     'prediction = [-1.3416, -0.4472, 0.4472, 1.3416]', 'prediction'),
    ('08.predict_layernorm', 'numpy', 'right', (),
     'import numpy as np\nprediction = np.array([-1.34, -0.45, 0.45, 1.34])', 'prediction'),
    ('08.predict_layernorm', 'tensor', 'right', (),
     'prediction = torch.tensor([-1.34, -0.45, 0.45, 1.34])', 'prediction'),
    ('08.predict_layernorm', 'computed_formula', 'right', (),
     'prediction = [(v - 2.5) / (1.25 + 1e-5) ** 0.5 for v in (1, 2, 3, 4)]', 'prediction'),
    ('08.predict_layernorm', 'unbiased', 'wrong', ('unbiased', 'n - 1', 'mean of the squared'),
     'prediction = [-1.16, -0.39, 0.39, 1.16]', 'prediction'),
    ('08.predict_layernorm', 'no_division', 'wrong', ('divide', 'standard deviation', 'variance', 'sqrt'),
     'prediction = [-1.5, -0.5, 0.5, 1.5]', 'prediction'),
    ('08.predict_layernorm', 'divide_by_var', 'wrong', ('square root', 'sqrt', 'variance'),
     'prediction = [-1.2, -0.4, 0.4, 1.2]', 'prediction'),
    ('08.predict_layernorm', 'zeros', 'wrong', ('mean', 'subtract'),
     'prediction = [0, 0, 0, 0]', 'prediction'),
    ('08.predict_layernorm', 'three_values', 'wrong', ('4 numbers',),
     'prediction = [-1.34, 0.0, 1.34]', 'prediction'),
    ('08.layer_norm', 'hint', 'right', (),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = x.mean(-1, keepdim=True)\n'
     '    var = x.var(-1, unbiased=False, keepdim=True)\n'
     '    return gamma * (x - mean) / torch.sqrt(var + eps) + beta', 'layer_norm'),
    ('08.layer_norm', 'manual_sq', 'right', (),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    mu = x.mean(dim=-1, keepdim=True)\n    d = x - mu\n'
     '    var = (d * d).mean(dim=-1, keepdim=True)\n'
     '    return d * torch.rsqrt(var + eps) * gamma + beta', 'layer_norm'),
    ('08.layer_norm', 'var_mean_f64', 'right', (),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n'
     '    var, mean = torch.var_mean(x.double(), dim=-1, keepdim=True, correction=0)\n'
     '    y = (x.double() - mean) / (var + eps).sqrt()\n'
     '    return (y * gamma.double() + beta.double()).to(x.dtype)', 'layer_norm'),
    ('08.layer_norm', 'std_unbiased_false', 'right', (),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    m = x.mean(-1, keepdim=True)\n'
     '    v = x.std(-1, unbiased=False, keepdim=True) ** 2\n'
     '    return (x - m) / (v + eps) ** 0.5 * gamma + beta', 'layer_norm'),
    ('08.layer_norm', 'unbiased_var', 'wrong', ('unbiased', 'n - 1'),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = x.mean(-1, keepdim=True)\n'
     '    var = x.var(-1, keepdim=True)\n    return gamma * (x - mean) / torch.sqrt(var + eps) + beta', 'layer_norm'),
    ('08.layer_norm', 'eps_outside_sqrt', 'wrong', ('eps',),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = x.mean(-1, keepdim=True)\n'
     '    std = x.std(-1, unbiased=False, keepdim=True)\n'
     '    return gamma * (x - mean) / (std + eps) + beta', 'layer_norm'),
    ('08.layer_norm', 'no_gamma_beta', 'wrong', ('gamma', 'beta'),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = x.mean(-1, keepdim=True)\n'
     '    var = x.var(-1, unbiased=False, keepdim=True)\n    return (x - mean) / torch.sqrt(var + eps)', 'layer_norm'),
    ('08.layer_norm', 'wrong_axis', 'wrong', ('axis', 'features'),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = x.mean(0, keepdim=True)\n'
     '    var = x.var(0, unbiased=False, keepdim=True)\n'
     '    return gamma * (x - mean) / torch.sqrt(var + eps) + beta', 'layer_norm'),
    ('08.layer_norm', 'gamma_beta_swapped', 'wrong', ('gamma', 'beta', 'swap'),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = x.mean(-1, keepdim=True)\n'
     '    var = x.var(-1, unbiased=False, keepdim=True)\n'
     '    return beta * (x - mean) / torch.sqrt(var + eps) + gamma', 'layer_norm'),
    ('08.layer_norm', 'no_eps', 'wrong', ('eps',),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = x.mean(-1, keepdim=True)\n'
     '    var = x.var(-1, unbiased=False, keepdim=True)\n'
     '    return gamma * (x - mean) / torch.sqrt(var) + beta', 'layer_norm'),
    ('08.feed_forward', 'relu', 'right', (),
     'def feed_forward(x, w_1, b_1, w_2, b_2):\n    return torch.relu(x @ w_1 + b_1) @ w_2 + b_2', 'feed_forward'),
    ('08.feed_forward', 'clamp', 'right', (),
     'def feed_forward(x, w_1, b_1, w_2, b_2):\n    return (x @ w_1 + b_1).clamp(min=0) @ w_2 + b_2', 'feed_forward'),
    ('08.feed_forward', 'F_linear', 'right', (),
     'import torch.nn.functional as F\ndef feed_forward(x, w_1, b_1, w_2, b_2):\n'
     '    return F.linear(F.relu(F.linear(x, w_1.T, b_1)), w_2.T, b_2)', 'feed_forward'),
    ('08.feed_forward', 'einsum_maximum', 'right', (),
     "def feed_forward(x, w_1, b_1, w_2, b_2):\n"
     "    h = torch.maximum(torch.einsum('btd,df->btf', x, w_1) + b_1, torch.tensor(0.0))\n"
     "    return torch.einsum('btf,fd->btd', h, w_2) + b_2", 'feed_forward'),
    ('08.feed_forward', 'relu_after_second', 'wrong', ('relu', 'between'),
     'def feed_forward(x, w_1, b_1, w_2, b_2):\n    return torch.relu((x @ w_1 + b_1) @ w_2 + b_2)', 'feed_forward'),
    ('08.feed_forward', 'no_relu', 'wrong', ('relu',),
     'def feed_forward(x, w_1, b_1, w_2, b_2):\n    return (x @ w_1 + b_1) @ w_2 + b_2', 'feed_forward'),
    ('08.feed_forward', 'gelu', 'wrong', ('relu', 'gelu'),
     'import torch.nn.functional as F\ndef feed_forward(x, w_1, b_1, w_2, b_2):\n'
     '    return F.gelu(x @ w_1 + b_1) @ w_2 + b_2', 'feed_forward'),
    ('08.feed_forward', 'no_b2', 'wrong', ('b_2',),
     'def feed_forward(x, w_1, b_1, w_2, b_2):\n    return torch.relu(x @ w_1 + b_1) @ w_2', 'feed_forward'),
    ('08.feed_forward', 'relu_both', 'wrong', ('relu', 'between'),
     'def feed_forward(x, w_1, b_1, w_2, b_2):\n'
     '    return torch.relu(torch.relu(x @ w_1 + b_1) @ w_2 + b_2)', 'feed_forward'),
    ('08.feed_forward', 'b1_after_relu', 'wrong', ('b_1',),
     'def feed_forward(x, w_1, b_1, w_2, b_2):\n    return (torch.relu(x @ w_1) + b_1) @ w_2 + b_2', 'feed_forward'),
    ('08.feed_forward', 'residual_added', 'wrong', ('residual',),
     'def feed_forward(x, w_1, b_1, w_2, b_2):\n    return x + torch.relu(x @ w_1 + b_1) @ w_2 + b_2', 'feed_forward'),
    ('08.decoder_layer', 'hint', 'right', (),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n'
     '    x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))\n'
     '    x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))\n'
     '    return layer.norm3(x + layer.ffn(x))', 'decoder_layer'),
    ('08.decoder_layer', 'named_steps', 'right', (),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n    a = layer.self_attn(x, x, tgt_mask)\n'
     '    h1 = layer.norm1(x + a)\n    c = layer.cross_attn(h1, memory, memory_mask)\n    h2 = layer.norm2(h1 + c)\n'
     '    f = layer.ffn(h2)\n    return layer.norm3(h2 + f)', 'decoder_layer'),
    ('08.decoder_layer', 'loop_sublayers', 'right', (),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n    subs = [(lambda h: layer.self_attn(h, h, '
     'tgt_mask), layer.norm1), (lambda h: layer.cross_attn(h, memory, memory_mask), layer.norm2), (layer.ffn, '
     'layer.norm3)]\n    for f, n in subs:\n        x = n(x + f(x))\n    return x', 'decoder_layer'),
    ('08.decoder_layer', 'pre_ln', 'wrong', ('pre-ln', 'post-ln', 'norm'),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n    h = layer.norm1(x)\n'
     '    x = x + layer.self_attn(h, h, tgt_mask)\n'
     '    x = x + layer.cross_attn(layer.norm2(x), memory, memory_mask)\n'
     '    return x + layer.ffn(layer.norm3(x))', 'decoder_layer'),
    ('08.decoder_layer', 'calls_layer', 'wrong', ('layer(', 'parts'),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n'
     '    return layer(x, memory, tgt_mask, memory_mask)', 'decoder_layer'),
    ('08.decoder_layer', 'cross_q_memory', 'wrong', ('memory', 'quer', 'cross'),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n'
     '    x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))\n'
     '    x = layer.norm2(x + layer.cross_attn(memory, x, None))\n'
     '    return layer.norm3(x + layer.ffn(x))', 'decoder_layer'),
    ('08.decoder_layer', 'ffn_no_residual', 'wrong', ('residual', 'ffn', 'feed-forward'),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n'
     '    x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))\n'
     '    x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))\n'
     '    return layer.norm3(layer.ffn(x))', 'decoder_layer'),
    ('08.decoder_layer', 'masks_swapped', 'wrong', ('mask', 'tgt_mask', 'memory_mask'),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n'
     '    x = layer.norm1(x + layer.self_attn(x, x, memory_mask))\n'
     '    x = layer.norm2(x + layer.cross_attn(x, memory, tgt_mask))\n'
     '    return layer.norm3(x + layer.ffn(x))', 'decoder_layer'),
    ('08.decoder_layer', 'norms_order', 'wrong', ('norm1', 'norm2', 'norm3', 'norm'),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n'
     '    x = layer.norm3(x + layer.self_attn(x, x, tgt_mask))\n'
     '    x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))\n'
     '    return layer.norm1(x + layer.ffn(x))', 'decoder_layer'),
    ('08.decoder_layer', 'residual_skips_far', 'wrong', ('residual', 'input'),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n'
     '    h = layer.norm1(x + layer.self_attn(x, x, tgt_mask))\n'
     '    h2 = layer.norm2(x + layer.cross_attn(h, memory, memory_mask))\n'
     '    return layer.norm3(h2 + layer.ffn(h2))', 'decoder_layer'),
    ('08.decoder_layer', 'no_causal_mask', 'wrong', ('tgt_mask', 'mask'),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n'
     '    x = layer.norm1(x + layer.self_attn(x, x, None))\n'
     '    x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))\n'
     '    return layer.norm3(x + layer.ffn(x))', 'decoder_layer'),
    ('08.fix_encoder_layer', 'fixed', 'right', (),
     'def encoder_layer(layer, x, mask):\n    h = layer.norm1(x + layer.self_attn(x, x, mask))\n'
     '    return layer.norm2(h + layer.ffn(h))', 'encoder_layer'),
    ('08.fix_encoder_layer', 'reassign', 'right', (),
     'def encoder_layer(layer, x, mask):\n    x = layer.norm1(x + layer.self_attn(x, x, mask))\n'
     '    x = layer.norm2(x + layer.ffn(x))\n    return x', 'encoder_layer'),
    ('08.fix_encoder_layer', 'named', 'right', (),
     'def encoder_layer(layer, x, mask):\n    attn = layer.self_attn(x, x, mask)\n    h = layer.norm1(attn + x)\n'
     '    return layer.norm2(layer.ffn(h) + h)', 'encoder_layer'),
    ('08.fix_encoder_layer', 'untouched', 'wrong', ('residual',),
     'def encoder_layer(layer, x, mask):\n    h = layer.norm1(x + layer.self_attn(x, x, mask))\n'
     '    return layer.norm2(x + layer.ffn(h))', 'encoder_layer'),
    ('08.fix_encoder_layer', 'calls_layer', 'wrong', ('layer(', 'parts'),
     'def encoder_layer(layer, x, mask):\n    return layer(x, mask)', 'encoder_layer'),
    ('08.fix_encoder_layer', 'pre_ln', 'wrong', ('pre-ln', 'post-ln', 'norm'),
     'def encoder_layer(layer, x, mask):\n    h = x + layer.self_attn(layer.norm1(x), layer.norm1(x), mask)\n'
     '    return h + layer.ffn(layer.norm2(h))', 'encoder_layer'),
    ('08.fix_encoder_layer', 'no_second_residual', 'wrong', ('residual',),
     'def encoder_layer(layer, x, mask):\n    h = layer.norm1(x + layer.self_attn(x, x, mask))\n'
     '    return layer.norm2(layer.ffn(h))', 'encoder_layer'),
    ('08.fix_encoder_layer', 'norm1_twice', 'wrong', ('norm2', 'norm'),
     'def encoder_layer(layer, x, mask):\n    h = layer.norm1(x + layer.self_attn(x, x, mask))\n'
     '    return layer.norm1(h + layer.ffn(h))', 'encoder_layer'),
    ('08.fix_encoder_layer', 'no_mask', 'wrong', ('mask', 'pad'),
     'def encoder_layer(layer, x, mask):\n    h = layer.norm1(x + layer.self_attn(x, x, None))\n'
     '    return layer.norm2(h + layer.ffn(h))', 'encoder_layer'),
    ('09.teacher_forcing', 'hint', 'right', (),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    B, T = len(seqs), 1 + max(len(s) for s in seqs)\n'
     '    tin = torch.full((B, T), pad_id, dtype=torch.long)\n'
     '    tout = torch.full((B, T), pad_id, dtype=torch.long)\n    for i, s in enumerate(seqs):\n'
     '        tin[i, :len(s) + 1] = torch.tensor([bos_id] + s)\n'
     '        tout[i, :len(s) + 1] = torch.tensor(s + [eos_id])\n    return tin, tout', 'teacher_forcing'),
    ('09.teacher_forcing', 'lists', 'right', (),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(map(len, seqs))\n'
     '    tin = [[bos_id] + list(s) + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    tout = [list(s) + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    return torch.tensor(tin, dtype=torch.long), torch.tensor(tout, dtype=torch.long)', 'teacher_forcing'),
    ('09.teacher_forcing', 'pad_sequence', 'right', (),
     'from torch.nn.utils.rnn import pad_sequence\ndef teacher_forcing(seqs, bos_id, eos_id, pad_id):\n'
     '    tin = pad_sequence([torch.tensor([bos_id] + s) for s in seqs], batch_first=True, padding_value=pad_id)\n'
     '    tout = pad_sequence([torch.tensor(s + [eos_id]) for s in seqs], batch_first=True, padding_value=pad_id)\n'
     '    return tin.long(), tout.long()', 'teacher_forcing'),
    ('09.teacher_forcing', 'full_then_slice_correct', 'right', (),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(len(s) for s in seqs)\n'
     '    full = torch.full((len(seqs), T + 1), pad_id, dtype=torch.long)\n    for i, s in enumerate(seqs):\n'
     '        full[i, :len(s) + 2] = torch.tensor([bos_id, *s, eos_id])\n    tin = full[:, :-1].clone()\n'
     '    tin[tin == eos_id] = pad_id\n    return tin, full[:, 1:]', 'teacher_forcing'),
    ('09.teacher_forcing', 'no_shift', 'wrong', ('shift',),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(map(len, seqs))\n'
     '    tin = [[bos_id] + s + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    return torch.tensor(tin), torch.tensor(tin)', 'teacher_forcing'),
    ('09.teacher_forcing', 'AT_slicing_eos_left', 'wrong', ('eos', '<eos>', 'tgt_in', 'short'),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 2 + max(map(len, seqs))\n'
     '    full = torch.tensor([[bos_id] + s + [eos_id] + [pad_id] * (T - 2 - len(s)) for s in seqs])\n'
     '    return full[:, :-1], full[:, 1:]', 'teacher_forcing'),
    ('09.teacher_forcing', 'eos_repeated', 'wrong', ('pad', 'pad_id', 'eos'),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(map(len, seqs))\n'
     '    tin = [[bos_id] + s + [eos_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    tout = [s + [eos_id] * (T - len(s)) for s in seqs]\n'
     '    return torch.tensor(tin), torch.tensor(tout)', 'teacher_forcing'),
    ('09.teacher_forcing', 'mutates', 'wrong', ('modif', 'chang', 'seqs', 'in place'),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(map(len, seqs))\n    tin, tout = [], []\n'
     '    for s in seqs:\n        s.insert(0, bos_id)\n        tin.append(s + [pad_id] * (T - len(s)))\n'
     '        tout.append(s[1:] + [eos_id] + [pad_id] * (T - len(s)))\n'
     '    return torch.tensor(tin), torch.tensor(tout)', 'teacher_forcing'),
    ('09.teacher_forcing', 'int32', 'wrong', ('long', 'dtype'),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(map(len, seqs))\n'
     '    tin = [[bos_id] + s + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    tout = [s + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    return torch.tensor(tin, dtype=torch.int32), torch.tensor(tout, dtype=torch.int32)', 'teacher_forcing'),
    ('09.teacher_forcing', 'left_pad', 'wrong', ('right', 'pad'),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(map(len, seqs))\n'
     '    tin = [[pad_id] * (T - 1 - len(s)) + [bos_id] + s for s in seqs]\n'
     '    tout = [[pad_id] * (T - 1 - len(s)) + s + [eos_id] for s in seqs]\n'
     '    return torch.tensor(tin), torch.tensor(tout)', 'teacher_forcing'),
    ('09.teacher_forcing', 'swapped', 'wrong', ('swap',),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(map(len, seqs))\n'
     '    tin = [[bos_id] + s + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    tout = [s + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    return torch.tensor(tout), torch.tensor(tin)', 'teacher_forcing'),
    ('09.teacher_forcing', 'too_long_T', 'wrong', ('longest', 'column'),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 2 + max(map(len, seqs))\n'
     '    tin = [[bos_id] + s + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    tout = [s + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    return torch.tensor(tin), torch.tensor(tout)', 'teacher_forcing'),
    ('09.teacher_forcing', 'no_eos', 'wrong', ('eos', '<eos>'),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(map(len, seqs))\n'
     '    tin = [[bos_id] + s + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    tout = [s + [pad_id] * (T - len(s)) for s in seqs]\n'
     '    return torch.tensor(tin), torch.tensor(tout)', 'teacher_forcing'),
    ('09.label_smoothed_loss', 'hint', 'right', (),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n'
     '    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n    uni = -logp.mean(-1)\n'
     '    loss = (1 - smoothing) * nll + smoothing * uni\n    keep = target != pad_id\n'
     '    return loss[keep].mean()', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'full_q', 'right', (),
     'import torch.nn.functional as F\ndef label_smoothed_loss(logits, target, smoothing, pad_id):\n'
     '    V = logits.size(-1)\n    q = F.one_hot(target, V).to(logits.dtype) * (1 - smoothing) + smoothing / V\n'
     '    per = -(q * F.log_softmax(logits, dim=-1)).sum(-1)\n    m = (target != pad_id).to(per.dtype)\n'
     '    return (per * m).sum() / m.sum()', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'scatter_f64', 'right', (),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    lp = torch.log_softmax(logits.double(), '
     'dim=-1)\n    V = lp.shape[-1]\n    q = torch.full_like(lp, smoothing / V).scatter_add(-1, target.unsqueeze('
     '-1), torch.full_like(lp[..., :1], 1 - smoothing))\n    per = -(q * lp).sum(-1)\n    keep = target.ne(pad_id)\n'
     '    return torch.where(keep, per, 0.0).sum().div(keep.sum()).to(logits.dtype)', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'flatten_nll_loss', 'right', (),
     'import torch.nn.functional as F\ndef label_smoothed_loss(logits, target, smoothing, pad_id):\n'
     '    V = logits.size(-1)\n    lp = logits.reshape(-1, V).log_softmax(-1)\n    t = target.reshape(-1)\n'
     '    keep = t != pad_id\n    nll = F.nll_loss(lp[keep], t[keep])\n    smooth = -lp[keep].mean(-1).mean()\n'
     '    return (1 - smoothing) * nll + smoothing * smooth', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'F_cross_entropy', 'wrong', ('cross_entropy', 'yourself', 'log_softmax'),
     'import torch.nn.functional as F\ndef label_smoothed_loss(logits, target, smoothing, pad_id):\n    return '
     'F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=pad_id, '
     'label_smoothing=smoothing)', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'eps_over_V_minus_1', 'wrong', ('v - 1', 'all v'),
     'import torch.nn.functional as F\ndef label_smoothed_loss(logits, target, smoothing, pad_id):\n'
     '    V = logits.size(-1)\n    q = torch.full_like(logits, smoothing / (V - 1))\n'
     '    q.scatter_(-1, target[..., None], 1 - smoothing)\n    per = -(q * logits.log_softmax(-1)).sum(-1)\n'
     '    keep = target != pad_id\n    return per[keep].mean()', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'pads_counted', 'wrong', ('pad',),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n'
     '    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n'
     '    return ((1 - smoothing) * nll + smoothing * -logp.mean(-1)).mean()', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'sum_not_mean', 'wrong', ('mean', 'sum'),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n'
     '    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n'
     '    loss = (1 - smoothing) * nll + smoothing * -logp.mean(-1)\n'
     '    return loss[target != pad_id].sum()', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'no_smoothing', 'wrong', ('smoothing',),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n'
     '    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n'
     '    return nll[target != pad_id].mean()', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'item_float', 'wrong', ('tensor', '0-dim', 'float'),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n'
     '    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n'
     '    loss = (1 - smoothing) * nll + smoothing * -logp.mean(-1)\n'
     '    return loss[target != pad_id].mean().item()', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'sign_error', 'wrong', ('sign', 'negative', 'minus'),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n'
     '    nll = logp.gather(-1, target[..., None]).squeeze(-1)\n'
     '    loss = (1 - smoothing) * nll + smoothing * logp.mean(-1)\n'
     '    return loss[target != pad_id].mean()', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'softmax_not_log', 'wrong', ('log_softmax',),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    p = logits.softmax(-1)\n'
     '    nll = -p.gather(-1, target[..., None]).squeeze(-1)\n'
     '    loss = (1 - smoothing) * nll + smoothing * -p.mean(-1)\n'
     '    return loss[target != pad_id].mean()', 'label_smoothed_loss'),
    ('09.warmup_lr', 'formula', 'right', (),
     'def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n'
     '    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)', 'warmup_lr'),
    ('09.warmup_lr', 'math_piecewise', 'right', (),
     'import math\ndef warmup_lr(step, d_model, warmup):\n    if step <= 0:\n        return 0.0\n'
     '    if step < warmup:\n        return step / (warmup * math.sqrt(warmup) * math.sqrt(d_model))\n'
     '    return 1 / math.sqrt(d_model * step)', 'warmup_lr'),
    ('09.warmup_lr', 'AT_rate_style', 'right', (),
     'def warmup_lr(step, d_model, warmup):\n    factor = 1.0\n    if step == 0:\n        step = 1\n'
     '        factor = 0.0\n'
     '    return factor * (d_model ** (-0.5) * min(step ** (-0.5), step * warmup ** (-1.5)))', 'warmup_lr'),
    ('09.warmup_lr', 'numpy', 'right', (),
     'import numpy as np\ndef warmup_lr(step, d_model, warmup):\n    s = max(step, 1)\n'
     '    return float(np.where(step == 0, 0.0, np.minimum(s ** -0.5, s * warmup ** -1.5) / np.sqrt(d_model)))',
     'warmup_lr'),
    ('09.warmup_lr', 'step0_crash', 'wrong', ('step 0', 'zero', '0.0'),
     'def warmup_lr(step, d_model, warmup):\n'
     '    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)', 'warmup_lr'),
    ('09.warmup_lr', 'max_not_min', 'wrong', ('min', 'max'),
     'def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n'
     '    return d_model ** -0.5 * max(step ** -0.5, step * warmup ** -1.5)', 'warmup_lr'),
    ('09.warmup_lr', 'warmup_pow_half', 'wrong', ('1.5', 'warmup', 'exponent'),
     'def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n'
     '    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -0.5)', 'warmup_lr'),
    ('09.warmup_lr', 'no_dmodel', 'wrong', ('d_model',),
     'def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n'
     '    return min(step ** -0.5, step * warmup ** -1.5)', 'warmup_lr'),
    ('09.warmup_lr', 'dmodel_pos_pow', 'wrong', ('d_model', '-0.5', 'exponent'),
     'def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n'
     '    return d_model ** 0.5 * min(step ** -0.5, step * warmup ** -1.5)', 'warmup_lr'),
    ('09.warmup_lr', 'step0_nonzero', 'wrong', ('step 0', '0.0'),
     'def warmup_lr(step, d_model, warmup):\n    step = max(step, 1)\n'
     '    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)', 'warmup_lr'),
    ('09.predict_peak_lr', 'expr', 'right', (),
     'prediction = 512 ** -0.5 * 4000 ** -0.5', 'prediction'),
    ('09.predict_peak_lr', 'rounded', 'right', (),
     'prediction = 7.0e-4', 'prediction'),
    ('09.predict_peak_lr', 'more_digits', 'right', (),
     'prediction = 0.000699', 'prediction'),
    ('09.predict_peak_lr', 'np', 'right', (),
     'import numpy as np\nprediction = np.float32(6.99e-4)', 'prediction'),
    ('09.predict_peak_lr', 'dmodel_only', 'wrong', ('warmup',),
     'prediction = 512 ** -0.5', 'prediction'),
    ('09.predict_peak_lr', 'warmup_only', 'wrong', ('d_model',),
     'prediction = 4000 ** -0.5', 'prediction'),
    ('09.predict_peak_lr', 'inverse_warmup', 'wrong', ('warmup',),
     'prediction = 1 / 4000', 'prediction'),
    ('09.predict_peak_lr', 'times10', 'wrong', ('digit',),
     'prediction = 0.007', 'prediction'),
    ('10.greedy_decode', 'hint', 'right', (),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    B = src.size(0)\n    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(B, dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(finished, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        finished |= nxt == eos_id\n        if finished.all():\n            break\n'
     '    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'lists_done', 'right', (),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id).unsqueeze(1).unsqueeze(2)\n    memory = model.encode(src, src_mask)\n'
     '    B = src.shape[0]\n    out = [[bos_id] for _ in range(B)]\n    done = [False] * B\n'
     '    for _ in range(max_new_tokens):\n        ys = torch.tensor(out, dtype=torch.long)\n'
     '        logits = model.decode(ys, memory, src_mask)\n        best = logits[:, -1, :].argmax(dim=-1).tolist()\n'
     '        for i in range(B):\n            out[i].append(pad_id if done[i] else best[i])\n'
     '            if best[i] == eos_id:\n                done[i] = True\n        if all(done):\n            break\n'
     '    return torch.tensor(out, dtype=torch.long)[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'where_prealloc', 'right', (),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    m = (src != pad_id)[:, None, None, :]\n    mem = model.encode(src, m)\n    B = len(src)\n'
     '    ys = torch.full((B, max_new_tokens + 1), pad_id, dtype=torch.long)\n    ys[:, 0] = bos_id\n'
     '    alive = torch.ones(B, dtype=torch.bool)\n    t = 0\n    while t < max_new_tokens and alive.any():\n'
     '        tok = model.decode(ys[:, :t + 1], mem, m)[:, -1].argmax(-1)\n'
     '        ys[:, t + 1] = torch.where(alive, tok, torch.full_like(tok, pad_id))\n'
     '        alive = alive & (tok != eos_id)\n        t += 1\n    return ys[:, 1:t + 1]', 'greedy_decode'),
    ('10.greedy_decode', 'no_src_mask', 'wrong', ('src_mask', 'mask', 'pad'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    B = src.size(0)\n    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(B, dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory)[:, -1].argmax(-1)\n        nxt = nxt.masked_fill(finished, pad_id)\n'
     '        ys = torch.cat([ys, nxt[:, None]], 1)\n        finished |= nxt == eos_id\n        if finished.all():\n'
     '            break\n    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'keeps_bos', 'wrong', ('bos', '<bos>'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    B = src.size(0)\n    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(B, dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(finished, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        finished |= nxt == eos_id\n        if finished.all():\n            break\n'
     '    return ys', 'greedy_decode'),
    ('10.greedy_decode', 'no_pad_after_eos', 'wrong', ('pad', 'after', 'eos'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    B = src.size(0)\n    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(B, dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        ys = torch.cat([ys, nxt[:, None]], 1)\n        finished |= nxt == eos_id\n        if finished.all():\n'
     '            break\n    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'first_position', 'wrong', ('last', 'position', '*last* position'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    B = src.size(0)\n    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(B, dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, 0].argmax(-1)\n'
     '        nxt = nxt.masked_fill(finished, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        finished |= nxt == eos_id\n        if finished.all():\n            break\n'
     '    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'never_stops', 'wrong', ('stop', 'eos'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    B = src.size(0)\n    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(B, dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(finished, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        finished |= nxt == eos_id\n    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'eos_repeated', 'wrong', ('pad', 'eos'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    B = src.size(0)\n    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(B, dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(finished, eos_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        finished |= nxt == eos_id\n        if finished.all():\n            break\n'
     '    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'stops_on_first_eos', 'wrong', ('stop', 'first', 'eos'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    B = src.size(0)\n    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(B, dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(finished, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        finished |= nxt == eos_id\n        if finished.any():\n            break\n'
     '    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'hardcoded_ids', 'wrong', ('bos_id', 'bos_id argument'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != 0)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n    B = src.size(0)\n'
     '    ys = torch.full((B, 1), 1, dtype=torch.long)\n    finished = torch.zeros(B, dtype=torch.bool)\n'
     '    for _ in range(max_new_tokens):\n        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(finished, 0)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        finished |= nxt == 2\n        if finished.all():\n            break\n'
     '    return ys[:, 1:]', 'greedy_decode'),
    ('10.beam_step', 'hint', 'right', (),
     'def beam_step(log_probs, beam_scores, beam_size):\n    K, V = log_probs.shape\n'
     '    total = (beam_scores[:, None] + log_probs).reshape(-1)\n    s, i = total.topk(beam_size)\n'
     '    return s, i // V, i % V', 'beam_step'),
    ('10.beam_step', 'divmod_sort', 'right', (),
     "def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.size(1)\n"
     "    total = (log_probs + beam_scores.unsqueeze(1)).flatten()\n    s, i = torch.sort(total, descending=True)\n"
     "    s, i = s[:beam_size], i[:beam_size]\n"
     "    return s, torch.div(i, V, rounding_mode='floor').long(), torch.remainder(i, V).long()", 'beam_step'),
    ('10.beam_step', 'loops', 'right', (),
     'def beam_step(log_probs, beam_scores, beam_size):\n    K, V = log_probs.shape\n    cands = [(float('
     'beam_scores[k] + log_probs[k, v]), k, v) for k in range(K) for v in range(V)]\n    cands.sort(key=lambda c: '
     '-c[0])\n    top = cands[:beam_size]\n    return (torch.tensor([c[0] for c in top], dtype=log_probs.dtype), '
     'torch.tensor([c[1] for c in top], dtype=torch.long), torch.tensor([c[2] for c in top], dtype=torch.long))',
     'beam_step'),
    ('10.beam_step', 'unravel', 'right', (),
     'def beam_step(log_probs, beam_scores, beam_size):\n    total = beam_scores[:, None] + log_probs\n'
     '    s, flat = total.view(-1).topk(beam_size, sorted=True)\n    b, t = torch.unravel_index(flat, total.shape)\n'
     '    return s, b.long(), t.long()', 'beam_step'),
    ('10.beam_step', 'per_beam_best', 'wrong', ('all k', 'candidates'),
     'def beam_step(log_probs, beam_scores, beam_size):\n    total = beam_scores[:, None] + log_probs\n'
     '    best, tok = total.max(-1)\n    s, b = best.topk(min(beam_size, best.numel()))\n'
     '    return s, b, tok[b]', 'beam_step'),
    ('10.beam_step', 'no_beam_scores', 'wrong', ('running', 'beam_scores', 'score'),
     'def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.size(1)\n'
     '    s, i = log_probs.reshape(-1).topk(beam_size)\n    return s, i // V, i % V', 'beam_step'),
    ('10.beam_step', 'idx_swapped', 'wrong', ('swap', '// v', '% v', 'beam_idx', 'token_idx'),
     'def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.size(1)\n'
     '    s, i = (beam_scores[:, None] + log_probs).reshape(-1).topk(beam_size)\n'
     '    return s, i % V, i // V', 'beam_step'),
    ('10.beam_step', 'divide_by_K', 'wrong', ('// v', 'vocab', 'not by k'),
     'def beam_step(log_probs, beam_scores, beam_size):\n    K, V = log_probs.shape\n'
     '    s, i = (beam_scores[:, None] + log_probs).reshape(-1).topk(beam_size)\n'
     '    return s, i // K, i % K', 'beam_step'),
    ('10.beam_step', 'smallest', 'wrong', ('lowest',),
     'def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.size(1)\n'
     '    s, i = (beam_scores[:, None] + log_probs).reshape(-1).topk(beam_size, largest=False)\n'
     '    return s, i // V, i % V', 'beam_step'),
    ('10.beam_step', 'scores_not_running', 'wrong', ('running', 'score', 'log_probs', 'beam_scores'),
     'def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.size(1)\n'
     '    total = (beam_scores[:, None] + log_probs).reshape(-1)\n    _, i = total.topk(beam_size)\n'
     '    return log_probs.reshape(-1)[i], i // V, i % V', 'beam_step'),
    ('10.beam_step', 'multiply_probs', 'wrong', ('*add*',),
     'def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.size(1)\n'
     '    s, i = (beam_scores[:, None] * log_probs).reshape(-1).topk(beam_size)\n'
     '    return s, i // V, i % V', 'beam_step'),
    ('10.length_penalty', 'formula', 'right', (),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    return log_prob / ((5 + length) / 6) ** alpha', 'length_normalised_score'),
    ('10.length_penalty', 'pow', 'right', (),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    return torch.div(log_prob, torch.pow((length + 5.0) / 6.0, alpha))', 'length_normalised_score'),
    ('10.length_penalty', 'exp_log', 'right', (),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    return log_prob * torch.exp(-alpha * torch.log((5 + length) / 6))', 'length_normalised_score'),
    ('10.length_penalty', 'f64', 'right', (),
     'def length_normalised_score(log_prob, length, alpha):\n    lp = ((5 + length.double()) / 6) ** alpha\n'
     '    return (log_prob.double() / lp).to(log_prob.dtype)', 'length_normalised_score'),
    ('10.length_penalty', 'brackets', 'wrong', ('bracket', '(5 +'),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    return log_prob / (5 + length / 6) ** alpha', 'length_normalised_score'),
    ('10.length_penalty', 'multiply', 'wrong', ('divide', 'multipl'),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    return log_prob * ((5 + length) / 6) ** alpha', 'length_normalised_score'),
    ('10.length_penalty', 'alpha_times', 'wrong', ('alpha', 'exponent'),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    return log_prob / (((5 + length) / 6) * alpha)', 'length_normalised_score'),
    ('10.length_penalty', 'no_alpha', 'wrong', ('alpha', 'power'),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    return log_prob / ((5 + length) / 6)', 'length_normalised_score'),
    ('10.length_penalty', 'divide_by_length', 'wrong', ('penalty', '(5 +', 'length'),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    return log_prob / length ** alpha', 'length_normalised_score'),
    ('10.length_penalty', 'power_precedence', 'wrong', ('bracket', '6 **'),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    return log_prob / ((5 + length) / 6 ** alpha)', 'length_normalised_score'),
    ('10.kv_cache_step', 'hint', 'right', (),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n'
     '    else:\n        k = torch.cat([cache[0], k_new], dim=-2)\n        v = torch.cat([cache[1], v_new], dim=-2)\n'
     '    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n'
     '    return w @ v, (k, v)', 'kv_cache_step'),
    ('10.kv_cache_step', 'sdpa', 'right', (),
     'import torch.nn.functional as F\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is not None:\n'
     '        k_new = torch.cat((cache[0], k_new), 2)\n        v_new = torch.cat((cache[1], v_new), 2)\n'
     '    return F.scaled_dot_product_attention(q, k_new, v_new), (k_new, v_new)', 'kv_cache_step'),
    ('10.kv_cache_step', 'einsum_f64', 'right', (),
     "def kv_cache_step(q, k_new, v_new, cache):\n"
     "    k_past, v_past = cache if cache is not None else (k_new[..., :0, :], v_new[..., :0, :])\n"
     "    k = torch.cat([k_past, k_new], -2)\n    v = torch.cat([v_past, v_new], -2)\n"
     "    s = torch.einsum('bhqd,bhkd->bhqk', q.double(), k.double()) / q.shape[-1] ** 0.5\n"
     "    w = (s - s.amax(-1, keepdim=True)).exp()\n    w = w / w.sum(-1, keepdim=True)\n"
     "    return torch.einsum('bhqk,bhkv->bhqv', w, v.double()).to(q.dtype), (k, v)", 'kv_cache_step'),
    ('10.kv_cache_step', 'prepend', 'wrong', ('order', 'time order', 'append'),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n'
     '    else:\n        k = torch.cat([k_new, cache[0]], dim=-2)\n        v = torch.cat([v_new, cache[1]], dim=-2)\n'
     '    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n'
     '    return w @ v, (k, v)', 'kv_cache_step'),
    ('10.kv_cache_step', 'no_scale', 'wrong', ('scal', 'sqrt'),
     'def kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n    else:\n'
     '        k = torch.cat([cache[0], k_new], dim=-2)\n        v = torch.cat([cache[1], v_new], dim=-2)\n'
     '    w = torch.softmax(q @ k.transpose(-2, -1), -1)\n    return w @ v, (k, v)', 'kv_cache_step'),
    ('10.kv_cache_step', 'cat_wrong_dim', 'wrong', ('time', 'axis'),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n'
     '    else:\n        k = torch.cat([cache[0], k_new], dim=1)\n        v = torch.cat([cache[1], v_new], dim=1)\n'
     '    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n'
     '    return w @ v, (k, v)', 'kv_cache_step'),
    ('10.kv_cache_step', 'cache_not_grown', 'wrong', ('cache', 'return'),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n'
     '    else:\n        k = torch.cat([cache[0], k_new], dim=-2)\n        v = torch.cat([cache[1], v_new], dim=-2)\n'
     '    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n'
     '    return w @ v, (k_new, v_new)', 'kv_cache_step'),
    ('10.kv_cache_step', 'ignores_cache', 'wrong', ('cache',),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n'
     '    w = torch.softmax(q @ k_new.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n    if cache is None:\n'
     '        return w @ v_new, (k_new, v_new)\n'
     '    return w @ v_new, (torch.cat([cache[0], k_new], -2), torch.cat([cache[1], v_new], -2))', 'kv_cache_step'),
    ('10.kv_cache_step', 'softmax_dim_m2', 'wrong', ('axis', 'keys', 'last'),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n'
     '    else:\n        k = torch.cat([cache[0], k_new], dim=-2)\n        v = torch.cat([cache[1], v_new], dim=-2)\n'
     '    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -2)\n'
     '    return w @ v, (k, v)', 'kv_cache_step'),
    ('10.kv_cache_step', 'kv_swapped_cache', 'wrong', ('order', '(k, v)'),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n'
     '    else:\n        v = torch.cat([cache[1], v_new], dim=-2)\n        k = torch.cat([cache[0], k_new], dim=-2)\n'
     '    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n'
     '    return w @ v, (v, k)', 'kv_cache_step'),
    ('01.weighted_sum', 'mv_values_T', 'right', (),
     'def f(weights, values):\n    return torch.mv(values.T, weights)', 'f'),
    ('01.softmax_temperature', 'f64_out_cast_back_via_type_as', 'right', (),
     'def softmax(scores, temperature=1.0):\n    z = scores.to(torch.float64) / temperature\n'
     '    z -= z.max(-1, keepdim=True).values\n    e = z.exp()\n'
     '    return (e / e.sum(-1, keepdim=True)).type_as(scores)', 'softmax'),
    ('01.softmax_temperature', 'log_softmax_exp', 'wrong', ('yourself', 'exp', 'log_softmax'),
     'def softmax(scores, temperature=1.0):\n    return torch.log_softmax(scores / temperature, -1).exp()', 'softmax'),
    ('01.softmax_temperature', 'nn_Softmax_module', 'wrong', ('yourself', 'softmax'),
     'from torch import nn\ndef softmax(scores, temperature=1.0):\n'
     '    return nn.Softmax(dim=-1)(scores / temperature)', 'softmax'),
    ('01.softmax_temperature', 'mutates_scores', 'wrong', ('in place', 'modif', 'chang'),
     'def softmax(scores, temperature=1.0):\n    scores /= temperature\n'
     '    scores -= scores.max(-1, keepdim=True).values\n    e = scores.exp()\n'
     '    return e / e.sum(-1, keepdim=True)', 'softmax'),
    ('02.predict_gradient', 'rounded_more', 'right', (),
     'prediction = 0.00098', 'prediction'),
    ('02.predict_gradient', 'np_array_0d', 'right', (),
     'import numpy as np\nprediction = np.array(0.5 ** 10)', 'prediction'),
    ('02.rnn_forward', 'mutates_h0', 'wrong', ('in place', 'modif', 'chang'),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    h = h0\n    states = []\n    for t in range(x.shape[1]):\n'
     '        h.copy_(torch.tanh(x[:, t] @ w_xh + h @ w_hh + b))\n        states.append(h.clone())\n'
     '    return torch.stack(states, 1), h.clone()', 'rnn_forward'),
    ('03.word2idx', 'ordered_dict', 'right', (),
     'from collections import OrderedDict\ndef build_word2idx(sentences):\n    d = OrderedDict()\n'
     '    for s in sentences:\n        for t in s:\n            if t not in d:\n                d[t] = len(d) + 1\n'
     '    return d', 'build_word2idx'),
    ('03.predict_permutation', 'tensor_1elem', 'right', (),
     'prediction = torch.tensor([2])', 'prediction'),
    ('03.embed_with_positions', 'ids_transposed', 'wrong', ('transpos', '(b, t'),
     'def embed_with_positions(ids, table, pe):\n'
     '    return table[ids.T] + pe[:ids.shape[0], None]', 'embed_with_positions'),
    ('04.attention', 'finfo_min_fill', 'right', (),
     'import math\ndef attention(q, k, v, mask=None):\n'
     '    s = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])\n    if mask is not None:\n'
     '        s = s.masked_fill(~mask, torch.finfo(s.dtype).min)\n    w = torch.softmax(s, dim=-1)\n'
     '    return torch.matmul(w, v), w', 'attention'),
    ('04.attention', 'sdpa_plus_weights', 'right', (),
     "import math\nimport torch.nn.functional as F\ndef attention(q, k, v, mask=None):\n"
     "    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)\n"
     "    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n    if mask is not None:\n"
     "        s = s.masked_fill(~mask, float('-inf'))\n    return out, s.softmax(-1)", 'attention'),
    ('04.attention', 'if_mask_truthiness', 'wrong', ('is not none', 'ambiguous', 'if mask'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ v, w", 'attention'),
    ('04.attention', 'mask_mult_scores', 'wrong', ('-inf', 'block'),
     'import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n'
     '    if mask is not None:\n        s = s * mask\n    w = s.softmax(-1)\n    return w @ v, w', 'attention'),
    ('04.attention', 'scale_after_softmax', 'wrong', ('before', 'scores', 'after'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1)\n    if mask is not None:\n"
     "        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1) / math.sqrt(q.size(-1))\n"
     "    return w @ v, w", 'attention'),
    ('04.attention', 'weights_times_q', 'wrong', ('value', '*values*'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ k, w", 'attention'),
    ('04.predict_score_std', 'np_float', 'right', (),
     'import numpy as np\nprediction = np.float32(8)', 'prediction'),
    ('05.predict_param_count', 'float_val', 'right', (),
     'prediction = 1050624.0', 'prediction'),
    ('05.predict_param_count', 'bias_once', 'wrong', ('bias', 'four'),
     'prediction = 4 * 512 * 512 + 512', 'prediction'),
    ('06.causal_mask', 'numpy_tril', 'right', (),
     'import numpy as np\ndef causal_mask(T):\n'
     '    return torch.from_numpy(np.tril(np.ones((T, T), dtype=bool)))', 'causal_mask'),
    ('06.causal_mask', 'eq_one', 'right', (),
     'def causal_mask(T):\n    return torch.tril(torch.ones(T, T)) == 1', 'causal_mask'),
    ('06.causal_mask', 'eq_zero_polarity', 'wrong', ('polarity', 'invert', 'opposite'),
     'def causal_mask(T):\n    return torch.tril(torch.ones(T, T)) == 0', 'causal_mask'),
    ('06.causal_mask', 'uint8', 'wrong', ('bool', 'dtype'),
     'def causal_mask(T):\n    return torch.tril(torch.ones(T, T, dtype=torch.uint8))', 'causal_mask'),
    ('06.padding_mask', 'mutates_tokens', 'wrong', ('in place', 'modif', 'chang'),
     'def padding_mask(tokens, pad_id):\n    m = tokens != pad_id\n    tokens.masked_fill_(~m, 0)\n'
     '    return m[:, None, None, :]', 'padding_mask'),
    ('06.nn_border', 'triu_diag0_realistic', 'wrong', ('diagonal', 'itself', 'triu'),
     'def causal_self_attention(mha, x, tgt, pad_id):\n    T = x.size(1)\n'
     '    am = torch.triu(torch.ones(T, T, dtype=torch.bool))\n'
     '    out, _ = mha(x, x, x, attn_mask=am, key_padding_mask=tgt == pad_id)\n'
     '    return out', 'causal_self_attention'),
    ('06.masked_softmax', 'nan_to_num_before', 'wrong', ('after',),
     "def masked_softmax(scores, mask):\n"
     "    return scores.masked_fill(~mask, float('-inf')).nan_to_num(0.0).softmax(-1)", 'masked_softmax'),
    ('07.alignment', 'keepdim_shape', 'wrong', ('shape', '(b, t)', 'keepdim'),
     'def alignment(weights):\n    return weights.mean(1).argmax(-1, keepdim=True)', 'alignment'),
    ('07.cross_attention', 'mask_unsqueezed', 'right', (),
     'import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n'
     '    q, k, v = x @ w_q, memory @ w_k, memory @ w_v\n    s = q @ k.transpose(1, 2) / math.sqrt(w_q.shape[1])\n'
     '    if src_mask is not None:\n        s = s.masked_fill(src_mask.logical_not(), -1e9)\n'
     '    w = torch.softmax(s, 2)\n    return torch.bmm(w, v), w', 'cross_attention'),
    ('08.layer_norm', 'F_layer_norm', 'wrong', ('yourself', 'layer_norm'),
     'import torch.nn.functional as F\ndef layer_norm(x, gamma, beta, eps=1e-5):\n'
     '    return F.layer_norm(x, x.shape[-1:], gamma, beta, eps)', 'layer_norm'),
    ('08.layer_norm', 'std_unbiased_eps_out', 'wrong', ('unbiased', 'eps'),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n'
     '    return gamma * (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + eps) + beta', 'layer_norm'),
    ('08.layer_norm', 'no_keepdim', 'wrong', ('keepdim', 'broadcast'),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = x.mean(-1)\n    var = x.var(-1, unbiased=False)\n'
     '    return gamma * (x - mean) / torch.sqrt(var + eps) + beta', 'layer_norm'),
    ('08.feed_forward', 'weights_transposed', 'wrong', ('transpos', 'w_1'),
     'def feed_forward(x, w_1, b_1, w_2, b_2):\n    return torch.relu(x @ w_2.T + b_1) @ w_1.T + b_2', 'feed_forward'),
    ('09.label_smoothed_loss', 'detached', 'wrong', ('grad', 'detach'),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.detach().log_softmax(-1)\n'
     '    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n'
     '    loss = (1 - smoothing) * nll + smoothing * -logp.mean(-1)\n'
     '    return loss[target != pad_id].mean()', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'smoothing_swapped', 'wrong', ('smoothing', '1 - smoothing', 'swap'),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n'
     '    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n'
     '    loss = smoothing * nll + (1 - smoothing) * -logp.mean(-1)\n'
     '    return loss[target != pad_id].mean()', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'uniform_sum_not_mean', 'wrong', ('mean', 'uniform', 'sum'),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n'
     '    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n'
     '    loss = (1 - smoothing) * nll + smoothing * -logp.sum(-1)\n'
     '    return loss[target != pad_id].mean()', 'label_smoothed_loss'),
    ('09.warmup_lr', 'int_zero', 'right', (),
     'def warmup_lr(step, d_model, warmup):\n    if not step:\n        return 0\n'
     '    return (d_model ** -0.5) * min(step ** -0.5, step * warmup ** -1.5)', 'warmup_lr'),
    ('09.warmup_lr', 'torch_scalar', 'right', (),
     'def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n'
     '    s = torch.tensor(float(step), dtype=torch.float64)\n'
     '    return float(d_model ** -0.5 * torch.minimum(s ** -0.5, s * warmup ** -1.5))', 'warmup_lr'),
    ('09.warmup_lr', 'one_based_shift', 'wrong', ('step', 'off by one'),
     'def warmup_lr(step, d_model, warmup):\n    step = step + 1\n'
     '    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)', 'warmup_lr'),
    ('09.teacher_forcing', 'T_equals_longest', 'wrong', ('column', 'longest', 'eos'),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = max(map(len, seqs))\n'
     '    tin = [([bos_id] + s)[:T] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    tout = [(s + [eos_id])[:T] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    return torch.tensor(tin), torch.tensor(tout)', 'teacher_forcing'),
    ('10.greedy_decode', 'row_by_row_AT_style', 'right', (),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n    rows = []\n'
     '    for i in range(src.size(0)):\n        s = src[i:i + 1]\n        m = (s != pad_id)[:, None, None, :]\n'
     '        memory = model.encode(s, m)\n        ys = torch.full((1, 1), bos_id, dtype=torch.long)\n'
     '        for _ in range(max_new_tokens):\n'
     '            nxt = model.decode(ys, memory, m)[:, -1].argmax(-1, keepdim=True)\n'
     '            ys = torch.cat([ys, nxt], 1)\n            if nxt.item() == eos_id:\n                break\n'
     '        rows.append(ys[0, 1:].tolist())\n    T = max(len(r) for r in rows)\n'
     '    return torch.tensor([r + [pad_id] * (T - len(r)) for r in rows], dtype=torch.long)', 'greedy_decode'),
    ('10.greedy_decode', 'one_step_short', 'wrong', ('max_new_tokens', 'step', 'column', 'short'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    B = src.size(0)\n    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(B, dtype=torch.bool)\n    for _ in range(max_new_tokens - 1):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(finished, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        finished |= nxt == eos_id\n        if finished.all():\n            break\n'
     '    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'argmax_wrong_axis', 'wrong', ('last',),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    B = src.size(0)\n    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(B, dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask).argmax(-1)[:, 0]\n'
     '        nxt = nxt.masked_fill(finished, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        finished |= nxt == eos_id\n        if finished.all():\n            break\n'
     '    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'float_tokens', 'wrong', ('long', 'dtype'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    B = src.size(0)\n    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(B, dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(finished, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        finished |= nxt == eos_id\n        if finished.all():\n            break\n'
     '    return ys[:, 1:].float()', 'greedy_decode'),
    ('10.greedy_decode', 'mask_polarity', 'wrong', ('true at the real', 'src_mask', 'invert', 'pad'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src == pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    B = src.size(0)\n    ys = torch.full((B, 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(B, dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(finished, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        finished |= nxt == eos_id\n        if finished.all():\n            break\n'
     '    return ys[:, 1:]', 'greedy_decode'),
    ('10.beam_step', 'float64_scores', 'right', (),
     'def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.shape[-1]\n'
     '    total = beam_scores.double()[:, None] + log_probs.double()\n    s, i = total.flatten().topk(beam_size)\n'
     '    return s.to(log_probs.dtype), i // V, i % V', 'beam_step'),
    ('10.beam_step', 'unsorted', 'wrong', ('sort', 'best first'),
     'def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.size(1)\n'
     '    s, i = (beam_scores[:, None] + log_probs).reshape(-1).topk(beam_size)\n    order = i.argsort()\n'
     '    s, i = s[order], i[order]\n    return s, i // V, i % V', 'beam_step'),
    ('10.kv_cache_step', 'scale_by_T', 'wrong', ('sqrt(d_k)', 'd_k'),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n'
     '    else:\n        k = torch.cat([cache[0], k_new], dim=-2)\n        v = torch.cat([cache[1], v_new], dim=-2)\n'
     '    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.size(-2)), -1)\n'
     '    return w @ v, (k, v)', 'kv_cache_step'),
    ('10.kv_cache_step', 'list_cache', 'right', (),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    k, v = (k_new, v_new) if cache is None else ('
     'torch.cat([cache[0], k_new], 2), torch.cat([cache[1], v_new], 2))\n    w = (q @ k.transpose(2, 3) / math.sqrt('
     'q.shape[-1])).softmax(-1)\n    return w @ v, (k, v)', 'kv_cache_step'),
    ('10.length_penalty', 'abs_logprob', 'wrong', ('sign', 'negative'),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    return log_prob.abs() / ((5 + length) / 6) ** alpha', 'length_normalised_score'),
    ('01.weighted_sum', 'system_exit', 'wrong', ('systemexit', 'exit', 'raised'),
     'import sys\ndef f(weights, values):\n    sys.exit(1)', 'f'),
    ('01.weighted_sum', 'keyboard_interrupt', 'wrong', ('keyboardinterrupt', 'interrupt', 'raised'),
     'def f(weights, values):\n    raise KeyboardInterrupt', 'f'),
    ('01.weighted_sum', 'returns_numpy', 'wrong', ('tensor', 'numpy'),
     'def f(weights, values):\n    return (weights @ values).numpy()', 'f'),
    ('01.weighted_sum', 'returns_list', 'wrong', ('tensor', 'list'),
     'def f(weights, values):\n    return (weights @ values).tolist()', 'f'),
    ('01.weighted_sum', 'returns_none', 'wrong', ('none', 'return'),
     'def f(weights, values):\n    out = weights @ values', 'f'),
    ('02.predict_gradient', 'list', 'right', (),
     'prediction = [0.0009765625]', 'prediction'),
    ('02.predict_gradient', 'string', 'wrong', ('number',),
     "prediction = '0.001'", 'prediction'),
    ('04.attention', 'AT_with_dropout_arg', 'right', (),
     'import math\nimport torch.nn.functional as F\ndef attention(query, key, value, mask=None, dropout=None):\n'
     '    d_k = query.size(-1)\n    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)\n'
     '    if mask is not None:\n        scores = scores.masked_fill(mask == 0, -1e9)\n'
     '    p_attn = scores.softmax(dim=-1)\n    if dropout is not None:\n        p_attn = dropout(p_attn)\n'
     '    return torch.matmul(p_attn, value), p_attn', 'attention'),
    ('04.attention', 'dropout_in_attention', 'wrong', ('dropout', 'determin'),
     "import math\nimport torch.nn.functional as F\ndef attention(q, k, v, mask=None):\n"
     "    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n    if mask is not None:\n"
     "        s = s.masked_fill(~mask, float('-inf'))\n    w = F.dropout(s.softmax(-1), p=0.1, training=True)\n"
     "    return w @ v, w", 'attention'),
    ('04.attention', 'mask_fill_minus_one', 'wrong', ('blocked', 'no effect'),
     'import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n'
     '    if mask is not None:\n        s = s.masked_fill(~mask, -1.0)\n    w = s.softmax(-1)\n'
     '    return w @ v, w', 'attention'),
    ('05.multi_head_attention', 'AT_mask_unsqueeze', 'wrong', ('mask',),
     "import math\nfrom torch import nn\ndef split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\ndef merge_heads(x):\n"
     "    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\n"
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
     "        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        if mask is not None:\n            mask = mask.unsqueeze(1)\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
     "        v = split_heads(self.w_v(x_kv), self.n_heads)\n        out, _ = attention(q, k, v, mask)\n"
     "        return self.w_o(merge_heads(out))\n", 'MultiHeadAttention'),
    ('05.multi_head_attention', 'w_o_before_merge', 'wrong', ('w_o', 'merge'),
     "import math\nfrom torch import nn\ndef split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\ndef merge_heads(x):\n"
     "    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\n"
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
     "        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
     "        v = split_heads(self.w_v(x_kv), self.n_heads)\n        out, _ = attention(q, k, v, mask)\n"
     "        return merge_heads(out) @ self.w_o.weight + self.w_o.bias\n", 'MultiHeadAttention'),
    ('05.multi_head_attention', 'v_from_w_k', 'wrong', ('w_v', 'value'),
     "import math\nfrom torch import nn\ndef split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\ndef merge_heads(x):\n"
     "    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\n"
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
     "        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
     "        v = split_heads(self.w_k(x_kv), self.n_heads)\n        out, _ = attention(q, k, v, mask)\n"
     "        return self.w_o(merge_heads(out))\n", 'MultiHeadAttention'),
    ('05.multi_head_attention', 'sdpa_inside', 'right', (),
     "import torch.nn.functional as F\nimport math\nfrom torch import nn\ndef split_heads(x, n_heads):\n"
     "    B, T, D = x.shape\n    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\ndef merge_heads(x):\n"
     "    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\n"
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
     "        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
     "        v = split_heads(self.w_v(x_kv), self.n_heads)\n"
     "        return self.w_o(merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask)))\n",
     'MultiHeadAttention'),
    ('07.predict_alignment', 'indices', 'wrong', ('source',),
     'prediction = [0, 1, 2]', 'prediction'),
    ('07.predict_alignment', 'lowercase_i', 'right', (),
     "prediction = ['I', 'cats', 'cats']", 'prediction'),
    ('07.predict_alignment', 'two_items', 'wrong', ('expected 3 words',),
     "prediction = ['I', 'cats']", 'prediction'),
    ('08.predict_layernorm', 'float64_tensor', 'right', (),
     'prediction = torch.tensor([-1.3416, -0.4472, 0.4472, 1.3416], dtype=torch.float64)', 'prediction'),
    ('08.predict_layernorm', 'tuple', 'right', (),
     'prediction = (-1.34, -0.45, 0.45, 1.34)', 'prediction'),
    ('08.predict_layernorm', 'one_decimal', 'wrong', ('two decimals', 'close', 'decimal'),
     'prediction = [-1.3, -0.4, 0.4, 1.3]', 'prediction'),
    ('08.predict_layernorm', 'sign_flipped', 'wrong', ('sign',),
     'prediction = [1.34, 0.45, -0.45, -1.34]', 'prediction'),
    ('09.label_smoothed_loss', 'AT_kl_div_sum', 'wrong', ('entropy', 'cross-entropy'),
     "import torch.nn.functional as F\ndef label_smoothed_loss(logits, target, smoothing, pad_id):\n"
     "    V = logits.size(-1)\n    lp = logits.log_softmax(-1).reshape(-1, V)\n    t = target.reshape(-1)\n"
     "    true_dist = torch.full_like(lp, smoothing / (V - 2))\n"
     "    true_dist.scatter_(1, t[:, None], 1.0 - smoothing)\n    true_dist[:, pad_id] = 0\n"
     "    true_dist[t == pad_id] = 0\n"
     "    return F.kl_div(lp, true_dist, reduction='sum') / (t != pad_id).sum()", 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'kl_div_right_q', 'wrong', ('entropy', 'cross-entropy'),
     "import torch.nn.functional as F\ndef label_smoothed_loss(logits, target, smoothing, pad_id):\n"
     "    V = logits.size(-1)\n    lp = logits.log_softmax(-1)\n"
     "    q = F.one_hot(target, V).float() * (1 - smoothing) + smoothing / V\n"
     "    per = F.kl_div(lp, q, reduction='none').sum(-1)\n    keep = target != pad_id\n"
     "    return per[keep].mean()", 'label_smoothed_loss'),
    ('09.teacher_forcing', 'numpy_inside', 'right', (),
     'import numpy as np\ndef teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(len(s) for s in seqs)\n'
     '    a = np.full((len(seqs), T), pad_id, dtype=np.int64)\n    b = a.copy()\n    for i, s in enumerate(seqs):\n'
     '        a[i, :len(s) + 1] = [bos_id] + s\n        b[i, :len(s) + 1] = s + [eos_id]\n'
     '    return torch.from_numpy(a), torch.from_numpy(b)', 'teacher_forcing'),
    ('10.greedy_decode', 'no_grad_decorated', 'right', (),
     '@torch.no_grad()\ndef greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)\n'
     '    done = torch.zeros(src.size(0), dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1, :].argmax(dim=-1)\n'
     '        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)\n'
     '        ys = torch.cat((ys, nxt.unsqueeze(1)), dim=1)\n        done = done | (nxt == eos_id)\n'
     '        if bool(done.all()):\n            break\n    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'sampling', 'wrong', ('argmax', 'greedy', 'most likely'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)\n'
     '    done = torch.zeros(src.size(0), dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        p = model.decode(ys, memory, src_mask)[:, -1].softmax(-1)\n'
     '        nxt = torch.multinomial(p, 1)[:, 0]\n        nxt = nxt.masked_fill(done, pad_id)\n'
     '        ys = torch.cat([ys, nxt[:, None]], 1)\n        done |= nxt == eos_id\n        if done.all():\n'
     '            break\n    return ys[:, 1:]', 'greedy_decode'),
    ('10.beam_step', 'returns_probs_exp', 'wrong', ('running',),
     'def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.size(1)\n'
     '    total = (beam_scores[:, None] + log_probs).reshape(-1)\n    s, i = total.topk(beam_size)\n'
     '    return s.exp(), i // V, i % V', 'beam_step'),
    ('10.beam_step', 'float_indices', 'wrong', ('long', 'dtype', 'integer'),
     'def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.size(1)\n'
     '    s, i = (beam_scores[:, None] + log_probs).reshape(-1).topk(beam_size)\n'
     '    return s, (i // V).float(), (i % V).float()', 'beam_step'),
    ('10.kv_cache_step', 'mutates_cache', 'wrong', ('in place', 'modif', 'chang'),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n'
     '    else:\n        k = torch.cat([cache[0], k_new], dim=-2)\n        v = torch.cat([cache[1], v_new], dim=-2)\n'
     '        cache[0].zero_()\n    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n'
     '    return w @ v, (k, v)', 'kv_cache_step'),
    ('03.sinusoidal_encoding', 'odd_cols_use_own_index', 'wrong', ('2i', 'frequen', 'share'),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n'
     '    j = torch.arange(d_model).float()\n    ang = pos / 10000 ** (j / d_model)\n'
     '    pe = torch.empty(max_len, d_model)\n'
     '    pe[:, 0::2] = ang[:, 0::2].sin(); pe[:, 1::2] = ang[:, 1::2].cos()\n    return pe', 'sinusoidal_encoding'),
    ('06.causal_mask', 'numpy_out', 'wrong', ('tensor', 'numpy', 'bool'),
     'import numpy as np\ndef causal_mask(T):\n    return np.tril(np.ones((T, T), dtype=bool))', 'causal_mask'),
    ('08.fix_encoder_layer', 'dropout_added', 'wrong', ('dropout', 'random', 'determin'),
     'import torch.nn.functional as F\ndef encoder_layer(layer, x, mask):\n'
     '    h = layer.norm1(x + F.dropout(layer.self_attn(x, x, mask), 0.1, training=True))\n'
     '    return layer.norm2(h + F.dropout(layer.ffn(h), 0.1, training=True))', 'encoder_layer'),
    ('03.word2idx', 'ids_as_str', 'wrong', ('wrong id',),
     'def build_word2idx(sentences):\n    w2i = {}\n    for s in sentences:\n        for t in s:\n'
     '            if t not in w2i:\n                w2i[t] = str(len(w2i) + 1)\n    return w2i', 'build_word2idx'),
    ('04.fix_attention', 'transpose_trick', 'right', (),
     'import math\ndef attention_fixed(q, k, v):\n    d_k = q.size(-1)\n'
     '    scores = (k @ q.transpose(-2, -1)).transpose(-2, -1) / math.sqrt(d_k)\n'
     '    weights = scores.softmax(dim=-1)\n    return weights @ v, weights', 'attention_fixed'),
    ('04.fix_attention', 'transposed_weights', 'wrong', ('axis', 'keys', 'transpos'),
     'import math\ndef attention_fixed(q, k, v):\n    d_k = q.size(-1)\n'
     '    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)\n    weights = scores.softmax(dim=-2).transpose(-2, -1)\n'
     '    return weights @ v, weights', 'attention_fixed'),
    ('04.fix_attention', 'scale_dk_squared', 'wrong', ('sqrt',),
     'def attention_fixed(q, k, v):\n    d_k = q.size(-1)\n    scores = q @ k.transpose(-2, -1) / d_k ** 2\n'
     '    weights = scores.softmax(dim=-1)\n    return weights @ v, weights', 'attention_fixed'),
    ('04.fix_attention', 'multiply_sqrt', 'wrong', ('divide', 'sqrt'),
     'import math\ndef attention_fixed(q, k, v):\n    d_k = q.size(-1)\n'
     '    scores = q @ k.transpose(-2, -1) * math.sqrt(d_k)\n    weights = scores.softmax(dim=-1)\n'
     '    return weights @ v, weights', 'attention_fixed'),
    ('04.predict_score_std', 'zero_mean', 'wrong', ('mean',),
     'prediction = 0', 'prediction'),
    ('04.predict_score_std', 'var_squared', 'wrong', ('variance', 'square root'),
     'prediction = 4096', 'prediction'),
    ('03.predict_permutation', 'minus_one', 'wrong', ('none',),
     'prediction = -1', 'prediction'),
    ('03.predict_permutation', 'string', 'wrong', ('number', 'text'),
     "prediction = '2'", 'prediction'),
    ('07.cross_attention', 'mask_after_softmax', 'wrong', ('after', 'sum to 1'),
     'import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n'
     '    q, k, v = x @ w_q, memory @ w_k, memory @ w_v\n'
     '    w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)\n    if src_mask is not None:\n'
     '        w = w * src_mask\n    return w @ v, w', 'cross_attention'),
    ('07.cross_attention', 'no_value_proj', 'wrong', ('w_v', 'value', 'project'),
     "import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n    q, k = x @ w_q, memory @ w_k\n"
     "    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n    if src_mask is not None:\n"
     "        s = s.masked_fill(~src_mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ memory, w", 'cross_attention'),
    ('10.kv_cache_step', 'cat_batch_dim', 'wrong', ('time', 'axis'),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n'
     '    else:\n        k = torch.cat([cache[0], k_new], dim=0)\n        v = torch.cat([cache[1], v_new], dim=0)\n'
     '    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n'
     '    return w @ v, (k, v)', 'kv_cache_step'),
    ('10.kv_cache_step', 'cache_order_vk', 'wrong', ('order', '(k, v)'),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n'
     '    else:\n        v_past, k_past = cache\n        k = torch.cat([k_past, k_new], dim=-2)\n'
     '        v = torch.cat([v_past, v_new], dim=-2)\n'
     '    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n'
     '    return w @ v, (k, v)', 'kv_cache_step'),
    ('11.transformer', 'tgt_mask_causal_only', 'wrong', ('causal mask', 'padding_mask(tgt'),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.causal_mask(T)\n        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'encode_always_builds_mask', 'right', (),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'decoder_masks_swapped', 'wrong', ('mask', 'src_mask', 'tgt_mask'),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, src_mask, tgt_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'decode_no_sqrt', 'wrong', ('sqrt',),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) + self.pe[:T]\n        for layer in self.decoder.layers:\n'
     '            x = layer(x, memory, tgt_mask, src_mask)\n        return self.out_proj(x)\n\n'
     '    def forward(self, src, tgt):\n        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'encoder_without_mask', 'wrong', ('mask', 'pad'),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, None)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'pe_of_wrong_length', 'wrong', ('position',),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(0)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('10.length_penalty', 'in_place', 'wrong', ('in place', 'modif', 'chang'),
     'def length_normalised_score(log_prob, length, alpha):\n    log_prob /= ((5 + length) / 6) ** alpha\n'
     '    return log_prob', 'length_normalised_score'),
    ('08.layer_norm', 'rsqrt_plus_eps', 'wrong', ('eps', 'inside'),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    m = x.mean(-1, keepdim=True)\n'
     '    var = ((x - m) ** 2).mean(-1, keepdim=True)\n'
     '    return gamma * (x - m) * (torch.rsqrt(var) + eps) + beta', 'layer_norm'),
    ('06.nn_border', 'float01_attn_mask', 'wrong', ('float', 'bool'),
     'from course_utils.transformer import masks\ndef causal_self_attention(mha, x, tgt, pad_id):\n'
     '    T = x.size(1)\n    am = torch.triu(torch.ones(T, T), diagonal=1)\n'
     '    out, _ = mha(x, x, x, attn_mask=am, key_padding_mask=tgt == pad_id)\n'
     '    return out', 'causal_self_attention'),
    ('01.soft_lookup', 'weights_column', 'wrong', ('shape',),
     'def soft_lookup(query, keys, values):\n    w = torch.softmax(keys @ query[:, None], dim=0)\n'
     '    return (w * values).sum(0), w', 'soft_lookup'),
    ('02.rnn_step', 'F_linear_convention', 'wrong', ('shape', 'w_xh'),
     'import torch.nn.functional as F\ndef rnn_step(x_t, h_prev, w_xh, w_hh, b):\n'
     '    return torch.tanh(F.linear(x_t, w_xh, b) + F.linear(h_prev, w_hh))', 'rnn_step'),
    ('09.teacher_forcing', 'tuple_of_lists', 'wrong', ('tensor', 'list'),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(map(len, seqs))\n'
     '    tin = [[bos_id] + s + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    tout = [s + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n    return tin, tout', 'teacher_forcing'),
    ('09.predict_peak_lr', 'at_step_1', 'wrong', ('step = warmup', 'warmup'),
     'prediction = 512 ** -0.5 * 4000 ** -1.5', 'prediction'),
    ('07.alignment', 'softmax_first', 'wrong', ('mean', 'average'),
     'def alignment(weights):\n    return weights.log().mean(1).argmax(-1)', 'alignment'),
    ('06.padding_mask', 'int_mask', 'wrong', ('bool', 'dtype'),
     'def padding_mask(tokens, pad_id):\n    return (tokens != pad_id).long()[:, None, None, :]', 'padding_mask'),
    ('05.split_heads', 'reshape_no_permute_B_H', 'wrong', ('transpose', 'view', 'mix'),
     'def split_heads(x, n_heads):\n    B, T, D = x.shape\n'
     '    return x.reshape(B, n_heads, T, D // n_heads)', 'split_heads'),
    ('04.attention', 'd2l_style_minus_1e6', 'right', (),
     'import math\ndef attention(queries, keys, values, mask=None):\n    d = queries.shape[-1]\n'
     '    scores = torch.matmul(queries, keys.transpose(-2, -1)) / math.sqrt(d)\n    if mask is not None:\n'
     '        scores = torch.where(mask, scores, torch.tensor(-1e6, dtype=scores.dtype))\n'
     '    attention_weights = torch.nn.functional.softmax(scores, dim=-1)\n'
     '    return torch.matmul(attention_weights, values), attention_weights', 'attention'),
    ('10.beam_step', 'no_broadcast_axis', 'wrong', ('beam_scores[:, none]',),
     'def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.size(1)\n'
     '    s, i = (beam_scores + log_probs).reshape(-1).topk(beam_size)\n    return s, i // V, i % V', 'beam_step'),
    ('10.greedy_decode', 'eos_replaced_by_pad', 'wrong', ('eos', '<eos>', 'pad'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)\n'
     '    finished = torch.zeros(src.size(0), dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n        finished |= nxt == eos_id\n'
     '        nxt = nxt.masked_fill(finished, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        if finished.all():\n            break\n    return ys[:, 1:]', 'greedy_decode'),
    ('06.decoder_mask', 'T_from_batch', 'wrong', ('causal',),
     'def decoder_mask(tgt, pad_id):\n    T = tgt.size(0)\n'
     '    return (tgt != pad_id)[:, None, None, :] & torch.tril(torch.ones(T, T, dtype=torch.bool))', 'decoder_mask'),
    ('07.predict_alignment', 'one_off', 'wrong', ('1 of 3', 'target position 2', 'dot product', '1 of 3'),
     "prediction = ['I', 'cats', 'love']", 'prediction'),
    ('09.warmup_lr', 'step_pos_half', 'wrong', ('-0.5', 'exponent', 'step'),
     'def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n'
     '    return d_model ** -0.5 * min(step ** 0.5, step * warmup ** -1.5)', 'warmup_lr'),
    ('03.sinusoidal_encoding', 'int_division', 'wrong', ('2i', 'exponent', 'exponent'),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n'
     '    two_i = torch.arange(0, d_model, 2)\n    ang = pos / 10000 ** (two_i // d_model)\n'
     '    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = ang.sin(); pe[:, 1::2] = ang.cos()\n'
     '    return pe', 'sinusoidal_encoding'),
    ('01.softmax_temperature', 'divide_after_exp', 'wrong', ('temperature', 'before'),
     'def softmax(scores, temperature=1.0):\n    z = scores - scores.max(-1, keepdim=True).values\n'
     '    e = z.exp() / temperature\n    return e / e.sum(-1, keepdim=True)', 'softmax'),
    ('06.masked_softmax', 'returns_nan_fixed_wrong_value', 'wrong', ('zero', 'no allowed key'),
     "def masked_softmax(scores, mask):\n"
     "    return scores.masked_fill(~mask, float('-inf')).softmax(-1).nan_to_num(1.0 / scores.size(-1))",
     'masked_softmax'),
    ('02.rnn_forward', 'returns_list', 'wrong', ('tensor', 'list', 'stack'),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n    for t in range(x.shape[1]):\n'
     '        h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)\n        states.append(h)\n'
     '    return states, h', 'rnn_forward'),
    ('05.merge_heads', 'mean_heads', 'wrong', ('concat', 'average'),
     'def merge_heads(x):\n    return x.mean(1)', 'merge_heads'),
    ('08.decoder_layer', 'cross_attn_kv_x', 'wrong', ('memory', 'cross'),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n'
     '    x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))\n'
     '    x = layer.norm2(x + layer.cross_attn(x, x, tgt_mask))\n'
     '    return layer.norm3(x + layer.ffn(x))', 'decoder_layer'),
    ('09.label_smoothed_loss', 'mean_over_batch_then_time', 'wrong', ('pad', 'non-pad'),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n'
     '    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n'
     '    loss = (1 - smoothing) * nll + smoothing * -logp.mean(-1)\n    keep = (target != pad_id).float()\n'
     '    return ((loss * keep).sum(1) / keep.sum(1)).mean()', 'label_smoothed_loss'),
    ('04.attention', 'default_all_true_mask', 'right', (),
     "import math\ndef attention(q, k, v, mask=None):\n    if mask is None:\n"
     "        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool)\n"
     "    s = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])\n"
     "    w = s.masked_fill(~mask, float('-inf')).softmax(-1)\n    return w @ v, w", 'attention'),
    ('04.attention', 'noncontiguous_weights', 'right', (),
     "import math\ndef attention(q, k, v, mask=None):\n"
     "    s = (k @ q.transpose(-2, -1)).transpose(-2, -1) / math.sqrt(q.shape[-1])\n    if mask is not None:\n"
     "        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1)\n    return w @ v, w", 'attention'),
    ('08.layer_norm', 'eps_hardcoded_1e-6', 'wrong', ('eps',),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    m = x.mean(-1, keepdim=True)\n'
     '    v = x.var(-1, unbiased=False, keepdim=True)\n'
     '    return gamma * (x - m) / torch.sqrt(v + 1e-6) + beta', 'layer_norm'),
    ('09.label_smoothed_loss', 'shape_1_not_0d', 'wrong', ('0-dim',),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n'
     '    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n'
     '    loss = (1 - smoothing) * nll + smoothing * -logp.mean(-1)\n    keep = target != pad_id\n'
     '    return loss[keep].mean().reshape(1)', 'label_smoothed_loss'),
    ('08.feed_forward', 'relu_inplace', 'right', (),
     'import torch.nn.functional as F\ndef feed_forward(x, w_1, b_1, w_2, b_2):\n    h = x @ w_1 + b_1\n'
     '    F.relu(h, inplace=True)\n    return h @ w_2 + b_2', 'feed_forward'),
    ('02.rnn_step', 'F_linear_T', 'right', (),
     'import torch.nn.functional as F\ndef rnn_step(x_t, h_prev, w_xh, w_hh, b):\n'
     '    return torch.tanh(F.linear(x_t, w_xh.T, b) + F.linear(h_prev, w_hh.T))', 'rnn_step'),
    ('06.padding_mask', 'logical_not_eq', 'right', (),
     'def padding_mask(tokens, pad_id):\n'
     '    return torch.logical_not(tokens.eq(pad_id)).reshape(tokens.shape[0], 1, 1, tokens.shape[1])', 'padding_mask'),
    ('07.alignment', 'einsum_mean', 'right', (),
     "def alignment(weights):\n    avg = torch.einsum('bhts->bts', weights) / weights.shape[1]\n"
     "    return avg.argmax(dim=2)", 'alignment'),
    ('09.label_smoothed_loss', 'loop_positions', 'right', (),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    B, T, V = logits.shape\n'
     '    logp = logits.log_softmax(-1)\n    total, n = 0.0, 0\n    for b in range(B):\n        for t in range(T):\n'
     '            y = int(target[b, t])\n            if y == pad_id:\n                continue\n'
     '            total = total - (1 - smoothing) * logp[b, t, y] - smoothing * logp[b, t].mean()\n'
     '            n += 1\n    return total / n', 'label_smoothed_loss'),
    ('10.length_penalty', 'math_pow_scalar_alpha', 'right', (),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    lp = torch.pow(torch.true_divide(length + 5, 6), alpha)\n'
     '    return log_prob.div(lp)', 'length_normalised_score'),
    ('03.embed_with_positions', 'nn_embedding_from_pretrained', 'right', (),
     'from torch import nn\ndef embed_with_positions(ids, table, pe):\n'
     '    emb = nn.Embedding.from_pretrained(table, freeze=True)\n'
     '    return emb(ids) + pe[: ids.size(1)]', 'embed_with_positions'),
    ('06.masked_softmax', 'masked_exp_max_safe', 'right', (),
     "def masked_softmax(scores, mask):\n"
     "    m = torch.where(mask, scores, torch.full_like(scores, float('-inf'))).amax(-1, keepdim=True)\n"
     "    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)\n"
     "    e = torch.where(mask, (scores - m).exp(), torch.zeros_like(scores))\n    s = e.sum(-1, keepdim=True)\n"
     "    return torch.where(s > 0, e / s.clamp_min(1e-30), torch.zeros_like(e))", 'masked_softmax'),
    ('01.weighted_sum', 'renormalised', 'wrong', ('sum to 1', 'divide', 'already'),
     'def f(weights, values):\n    return (weights @ values) / weights.sum()', 'f'),
    ('01.soft_lookup', 'values_at_weights', 'wrong', ('weights @ values', 'shape', 'order'),
     'def soft_lookup(query, keys, values):\n    w = torch.softmax(keys @ query, -1)\n'
     '    return values @ w, w', 'soft_lookup'),
    ('02.rnn_step', 'weights_swapped', 'wrong', ('w_xh', 'w_hh'),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_hh + h_prev @ w_xh + b)', 'rnn_step'),
    ('02.rnn_forward', 'h_last_is_h0', 'wrong', ('h_last', 'last'),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n    for t in range(x.shape[1]):\n'
     '        h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)\n        states.append(h)\n'
     '    return torch.stack(states, 1), h0', 'rnn_forward'),
    ('03.word2idx', 'first_sentence_only', 'wrong', ('missing',),
     'def build_word2idx(sentences):\n    w2i = {}\n    for t in sentences[0]:\n        if t not in w2i:\n'
     '            w2i[t] = len(w2i) + 1\n    return w2i', 'build_word2idx'),
    ('03.sinusoidal_encoding', 'sin_everywhere', 'wrong', ('cos', 'odd'),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n'
     '    ang = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)\n'
     '    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = ang.sin(); pe[:, 1::2] = ang.sin()\n'
     '    return pe', 'sinusoidal_encoding'),
    ('04.attention', 'scale_sqrt_Tk', 'wrong', ('d_k', 'width'),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(k.size(-2))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ v, w", 'attention'),
    ('04.self_attention', 'scale_sqrt_dmodel', 'wrong', ('d_k', 'd_model'),
     'import math\ndef self_attention(x, w_q, w_k, w_v):\n    q, k, v = x @ w_q, x @ w_k, x @ w_v\n'
     '    w = (q @ k.transpose(-2, -1) / math.sqrt(x.size(-1))).softmax(-1)\n    return w @ v, w', 'self_attention'),
    ('05.split_heads', 'transpose_first', 'right', (),
     'def split_heads(x, n_heads):\n    B, T, D = x.shape\n'
     '    return x.transpose(1, 2).reshape(B, n_heads, D // n_heads, T).transpose(2, 3)', 'split_heads'),
    ('05.multi_head_attention', 'no_merge', 'wrong', ('merge', 'merge_heads'),
     "import math\nfrom torch import nn\ndef split_heads(x, n_heads):\n    B, T, D = x.shape\n"
     "    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)\ndef merge_heads(x):\n"
     "    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\n"
     "def attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n        s = s.masked_fill(~mask, float('-inf'))\n    w = s.softmax(dim=-1)\n"
     "    return w @ v, w\nclass MultiHeadAttention(nn.Module):\n    def __init__(self, d_model, n_heads):\n"
     "        super().__init__()\n        self.n_heads = n_heads\n        self.w_q = nn.Linear(d_model, d_model)\n"
     "        self.w_k = nn.Linear(d_model, d_model)\n        self.w_v = nn.Linear(d_model, d_model)\n"
     "        self.w_o = nn.Linear(d_model, d_model)\n    def forward(self, x_q, x_kv, mask=None):\n"
     "        q = split_heads(self.w_q(x_q), self.n_heads)\n        k = split_heads(self.w_k(x_kv), self.n_heads)\n"
     "        v = split_heads(self.w_v(x_kv), self.n_heads)\n        out, _ = attention(q, k, v, mask)\n"
     "        return self.w_o(out)\n", 'MultiHeadAttention'),
    ('06.padding_mask', 'greater_than_zero', 'wrong', ('pad_id',),
     'def padding_mask(tokens, pad_id):\n    return (tokens > 0)[:, None, None, :]', 'padding_mask'),
    ('06.masked_softmax', 'multiplicative_mask', 'wrong', ('-inf', 'block'),
     'def masked_softmax(scores, mask):\n    return torch.softmax(scores * mask, -1)', 'masked_softmax'),
    ('07.cross_attention', 'additive_bool_mask', 'wrong', ('-inf', 'block', 'mask'),
     'import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n'
     '    q, k, v = x @ w_q, memory @ w_k, memory @ w_v\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n'
     '    if src_mask is not None:\n        s = s + src_mask\n    w = s.softmax(-1)\n'
     '    return w @ v, w', 'cross_attention'),
    ('07.alignment', 'max_values', 'wrong', ('indices', 'argmax', 'long', 'dtype'),
     'def alignment(weights):\n    return weights.mean(1).max(-1).values', 'alignment'),
    ('08.layer_norm', 'divide_by_var', 'wrong', ('sqrt', 'square root', 'variance'),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    m = x.mean(-1, keepdim=True)\n'
     '    v = x.var(-1, unbiased=False, keepdim=True)\n    return gamma * (x - m) / (v + eps) + beta', 'layer_norm'),
    ('08.feed_forward', 'sigmoid', 'wrong', ('relu', 'sigmoid'),
     'def feed_forward(x, w_1, b_1, w_2, b_2):\n    return torch.sigmoid(x @ w_1 + b_1) @ w_2 + b_2', 'feed_forward'),
    ('08.decoder_layer', 'ffn_before_cross', 'wrong', ('order', 'cross', 'feed-forward'),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n'
     '    x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))\n    x = layer.norm3(x + layer.ffn(x))\n'
     '    return layer.norm2(x + layer.cross_attn(x, memory, memory_mask))', 'decoder_layer'),
    ('09.teacher_forcing', 'hardcoded_ids', 'wrong', ('pad_id', 'argument'),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(map(len, seqs))\n'
     '    tin = [[1] + s + [0] * (T - 1 - len(s)) for s in seqs]\n'
     '    tout = [s + [2] + [0] * (T - 1 - len(s)) for s in seqs]\n'
     '    return torch.tensor(tin), torch.tensor(tout)', 'teacher_forcing'),
    ('09.label_smoothed_loss', 'softmax_log', 'right', (),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.softmax(-1).log()\n'
     '    nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)\n'
     '    loss = (1 - smoothing) * nll - smoothing * logp.mean(-1)\n    keep = target != pad_id\n'
     '    return (loss * keep).sum() / keep.sum()', 'label_smoothed_loss'),
    ('09.warmup_lr', 'divide_sqrt', 'right', (),
     'import math\ndef warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n'
     '    return min(1 / math.sqrt(step), step / warmup ** 1.5) / math.sqrt(d_model)', 'warmup_lr'),
    ('09.warmup_lr', 'warmup_in_first_term', 'wrong', ('step', '-0.5', 'decay'),
     'def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n'
     '    return d_model ** -0.5 * min(warmup ** -0.5, step * warmup ** -1.5)', 'warmup_lr'),
    ('10.greedy_decode', 'full_without_dtype', 'right', (),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    ys = torch.full((src.shape[0], 1), bos_id)\n    finished = torch.zeros(src.shape[0], dtype=torch.bool)\n'
     '    for _ in range(max_new_tokens):\n        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt[finished] = pad_id\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        finished = finished | (nxt == eos_id)\n        if finished.all():\n            break\n'
     '    return ys[:, 1:]', 'greedy_decode'),
    ('10.beam_step', 'topk_per_row', 'wrong', ('all k', 'candidates'),
     'def beam_step(log_probs, beam_scores, beam_size):\n    total = beam_scores[:, None] + log_probs\n'
     '    s, t = total.topk(beam_size, dim=-1)\n'
     '    return s[0], torch.zeros(beam_size, dtype=torch.long), t[0]', 'beam_step'),
    ('10.length_penalty', 'precedence_times_alpha', 'wrong', ('alpha',),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    return log_prob / ((5 + length) / 6) * alpha', 'length_normalised_score'),
    ('10.kv_cache_step', 'squeezed_out', 'wrong', ('shape', '(b, h, 1, d_v)', 'query axis', 'squeez'),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n'
     '    else:\n        k = torch.cat([cache[0], k_new], dim=-2)\n        v = torch.cat([cache[1], v_new], dim=-2)\n'
     '    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n'
     '    return (w @ v).squeeze(-2), (k, v)', 'kv_cache_step'),
    ('11.transformer', 'pe_unsliced_decode', 'wrong', ('position',),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'times_d_model', 'wrong', ('sqrt',),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * self.d_model + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * self.d_model + self.pe[:T]\n        for layer in self.decoder.layers:\n'
     '            x = layer(x, memory, tgt_mask, src_mask)\n        return self.out_proj(x)\n\n'
     '    def forward(self, src, tgt):\n        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('10.greedy_decode', 'any_eos_so_far', 'right', (),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)\n    for _ in range(max_new_tokens):\n'
     '        done = (ys[:, 1:] == eos_id).any(dim=1)\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = torch.where(done, pad_id, nxt)\n        ys = torch.cat([ys, nxt[:, None]], dim=1)\n'
     '        if (ys[:, 1:] == eos_id).any(dim=1).all():\n            break\n    return ys[:, 1:]', 'greedy_decode'),
    ('08.decoder_layer', 'keyword_args', 'right', (),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n'
     '    x = layer.norm1(x + layer.self_attn(x, x, mask=tgt_mask))\n'
     '    x = layer.norm2(x + layer.cross_attn(x, memory, mask=memory_mask))\n'
     '    return layer.norm3(x + layer.ffn(x))', 'decoder_layer'),
    ('08.fix_encoder_layer', 'keyword_args', 'right', (),
     'def encoder_layer(layer, x, mask):\n    h = layer.norm1(x + layer.self_attn(x, x, mask=mask))\n'
     '    return layer.norm2(h + layer.ffn(h))', 'encoder_layer'),
    ('02.rnn_forward', 'recursive', 'right', (),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    if x.shape[1] == 0:\n'
     '        return x.new_zeros(x.shape[0], 0, h0.shape[-1]), h0\n'
     '    h1 = torch.tanh(x[:, 0] @ w_xh + h0 @ w_hh + b)\n'
     '    rest, h_last = rnn_forward(x[:, 1:], h1, w_xh, w_hh, b)\n'
     '    return torch.cat([h1[:, None], rest], 1), h_last', 'rnn_forward'),
    ('05.merge_heads', 'einsum_eye', 'right', (),
     "def merge_heads(x):\n    B, H, T, d_k = x.shape\n"
     "    return torch.einsum('bhtd->bthd', x).reshape(B, T, H * d_k)", 'merge_heads'),
    ('06.decoder_mask', 'loops', 'right', (),
     'def decoder_mask(tgt, pad_id):\n    B, T = tgt.shape\n    m = torch.zeros(B, 1, T, T, dtype=torch.bool)\n'
     '    for b in range(B):\n        for i in range(T):\n            for j in range(i + 1):\n'
     '                m[b, 0, i, j] = bool(tgt[b, j] != pad_id)\n    return m', 'decoder_mask'),
    ('10.beam_step', 'sort_stable', 'right', (),
     'def beam_step(log_probs, beam_scores, beam_size):\n    K, V = log_probs.shape\n'
     '    total = (beam_scores.unsqueeze(-1) + log_probs).view(K * V)\n'
     '    order = torch.argsort(total, descending=True, stable=True)[:beam_size]\n'
     '    return total[order], order // V, order % V', 'beam_step'),
    ('10.beam_step', 'mutates_beam_scores', 'wrong', ('in place', 'modif', 'chang'),
     'def beam_step(log_probs, beam_scores, beam_size):\n    V = log_probs.size(1)\n'
     '    log_probs += beam_scores[:, None]\n    s, i = log_probs.reshape(-1).topk(beam_size)\n'
     '    return s, i // V, i % V', 'beam_step'),
    ('07.alignment', 'mutates_weights', 'wrong', ('in place', 'modif', 'chang'),
     'def alignment(weights):\n    weights /= weights.shape[1]\n    return weights.sum(1).argmax(-1)', 'alignment'),
    ('08.feed_forward', 'mutates_x', 'wrong', ('in place', 'modif', 'chang'),
     'def feed_forward(x, w_1, b_1, w_2, b_2):\n    h = torch.relu(x @ w_1 + b_1) @ w_2 + b_2\n    x.copy_(h)\n'
     '    return x', 'feed_forward'),
    ('10.greedy_decode', 'decode_full_forward_each_step_no_mask', 'wrong', ('src_mask', 'mask', 'pad'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n    memory = model.encode(src)\n'
     '    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)\n'
     '    done = torch.zeros(src.size(0), dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory)[:, -1].argmax(-1)\n        nxt = nxt.masked_fill(done, pad_id)\n'
     '        ys = torch.cat([ys, nxt[:, None]], 1)\n        done |= nxt == eos_id\n        if done.all():\n'
     '            break\n    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'src_mask_wrong_shape', 'wrong', ('shape', 'src_mask', '(b, 1, 1, s)', 'mask'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n    src_mask = (src != pad_id)\n'
     '    memory = model.encode(src, src_mask)\n    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)\n'
     '    done = torch.zeros(src.size(0), dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(done, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        done |= nxt == eos_id\n        if done.all():\n            break\n    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'feeds_only_last_token', 'wrong', ('tokens so far', 'all the tokens'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)\n'
     '    done = torch.zeros(src.size(0), dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys[:, -1:], memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(done, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        done |= nxt == eos_id\n        if done.all():\n            break\n    return ys[:, 1:]', 'greedy_decode'),
    ('10.greedy_decode', 'drops_eos_column', 'wrong', ('eos', '<eos>'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)\n'
     '    done = torch.zeros(src.size(0), dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(done, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        done |= nxt == eos_id\n        if done.all():\n            break\n    out = ys[:, 1:]\n'
     '    return out.masked_fill(out == eos_id, pad_id)', 'greedy_decode'),
    ('09.teacher_forcing', 'bos_in_tgt_out', 'wrong', ('bos', '<bos>', 'shift'),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(map(len, seqs))\n'
     '    tin = [[bos_id] + s + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    tout = [[bos_id] + s + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    return torch.tensor(tin), torch.tensor(tout)', 'teacher_forcing'),
    ('09.teacher_forcing', 'eos_in_tgt_in_too', 'wrong', ('eos', '<eos>', 'tgt_in'),
     'def teacher_forcing(seqs, bos_id, eos_id, pad_id):\n    T = 1 + max(map(len, seqs))\n'
     '    tin = [([bos_id] + s + [eos_id])[:T] + [pad_id] * (T - 2 - len(s)) for s in seqs]\n'
     '    tout = [s + [eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]\n'
     '    return torch.tensor(tin), torch.tensor(tout)', 'teacher_forcing'),
    ('09.label_smoothed_loss', 'mean_over_V_of_q_wrong_weight', 'wrong', ('smoothing',),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n'
     '    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n    loss = nll + smoothing * -logp.mean(-1)\n'
     '    return loss[target != pad_id].mean()', 'label_smoothed_loss'),
    ('09.label_smoothed_loss', 'pad_by_logits_not_target', 'wrong', ('pad', 'target'),
     'def label_smoothed_loss(logits, target, smoothing, pad_id):\n    logp = logits.log_softmax(-1)\n'
     '    nll = -logp.gather(-1, target[..., None]).squeeze(-1)\n'
     '    loss = (1 - smoothing) * nll + smoothing * -logp.mean(-1)\n    keep = logits.argmax(-1) != pad_id\n'
     '    return loss[keep].mean()', 'label_smoothed_loss'),
    ('06.masked_softmax', 'where_any_keys_then_nan_to_num', 'right', (),
     "def masked_softmax(scores, mask):\n    w = scores.masked_fill(~mask, float('-inf')).softmax(-1)\n"
     "    return torch.where(mask.any(dim=-2, keepdim=True), w, 0.0).nan_to_num(0.0)", 'masked_softmax'),
    ('06.decoder_mask', 'float_and', 'wrong', ('bool', 'dtype'),
     'def decoder_mask(tgt, pad_id):\n    T = tgt.shape[1]\n'
     '    return (tgt != pad_id)[:, None, None, :].float() * torch.tril(torch.ones(T, T))', 'decoder_mask'),
    ('07.cross_attention', 'scale_sqrt_S', 'wrong', ('sqrt(d_k)', 'd_k', 'width'),
     "import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n"
     "    q, k, v = x @ w_q, memory @ w_k, memory @ w_v\n"
     "    s = q @ k.transpose(-2, -1) / math.sqrt(memory.size(1))\n    if src_mask is not None:\n"
     "        s = s.masked_fill(~src_mask, float('-inf'))\n    w = s.softmax(-1)\n"
     "    return w @ v, w", 'cross_attention'),
    ('11.transformer', 'encoder_reuses_first_layer', 'wrong', ('layer',),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for _ in self.encoder.layers:\n            x = self.encoder.layers[0](x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'decoder_memory_from_embedding', 'wrong', ('memory', 'encoder'),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, x, tgt_mask, None)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('10.kv_cache_step', 'attends_past_only', 'wrong', ('new', 'itself', 'k_new', 'append'),
     'import math\ndef kv_cache_step(q, k_new, v_new, cache):\n    if cache is None:\n        k, v = k_new, v_new\n'
     '        w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n        return w @ v, (k, v)\n'
     '    kp, vp = cache\n    w = torch.softmax(q @ kp.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)\n'
     '    return w @ vp, (torch.cat([kp, k_new], -2), torch.cat([vp, v_new], -2))', 'kv_cache_step'),
    ('02.rnn_step', 'bias_outside_tanh', 'wrong', ('inside', 'bias', 'tanh'),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_xh + h_prev @ w_hh) + b', 'rnn_step'),
    ('02.rnn_forward', 'h_last_second_to_last', 'wrong', ('last',),
     'def rnn_forward(x, h0, w_xh, w_hh, b):\n    h, states = h0, []\n    for t in range(x.shape[1]):\n'
     '        h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)\n        states.append(h)\n'
     '    s = torch.stack(states, 1)\n    return s, s[:, -2]', 'rnn_forward'),
    ('03.word2idx', 'start_at_two', 'wrong', ('wrong id',),
     'def build_word2idx(sentences):\n    w2i = {}\n    for s in sentences:\n        for t in s:\n'
     '            if t not in w2i:\n                w2i[t] = len(w2i) + 2\n    return w2i', 'build_word2idx'),
    ('03.embed_with_positions', 'multiply_pe', 'wrong', ("don't multiply",),
     'def embed_with_positions(ids, table, pe):\n    return table[ids] * pe[:ids.shape[1]]', 'embed_with_positions'),
    ('03.sinusoidal_encoding', 'two_j_over_d', 'wrong', ('2i', 'exponent', 'pair'),
     'def sinusoidal_encoding(max_len, d_model):\n    pos = torch.arange(max_len).float()[:, None]\n'
     '    j = torch.arange(d_model).float()\n    ang = pos / 10000 ** (2 * j / d_model)\n'
     '    pe = torch.empty(max_len, d_model)\n'
     '    pe[:, 0::2] = ang[:, 0::2].sin(); pe[:, 1::2] = ang[:, 1::2].cos()\n    return pe', 'sinusoidal_encoding'),
    ('06.causal_mask', 'one_future_step', 'wrong', ('diagonal', 'j <= i', 'above'),
     'def causal_mask(T):\n    return torch.ones(T, T).tril(diagonal=1).bool()', 'causal_mask'),
    ('09.warmup_lr', 'decay_only', 'wrong', ('warm', 'rise', 'min', 'linear'),
     'def warmup_lr(step, d_model, warmup):\n    if step == 0:\n        return 0.0\n'
     '    return (d_model * step) ** -0.5', 'warmup_lr'),
    ('09.predict_peak_lr', 'half', 'wrong', ('half', 'factor'),
     'prediction = 0.00035', 'prediction'),
    ('07.predict_alignment', 'four_items', 'wrong', ('one source word per target',),
     "prediction = ['I', 'cats', 'cats', '<pad>']", 'prediction'),
    ('05.predict_param_count', 'two_linears', 'wrong', ('four', 'w_k', 'w_v'),
     'prediction = 2 * (512 * 512 + 512)', 'prediction'),
    ('10.length_penalty', 'plus_one_not_five', 'wrong', ('(5 +',),
     'def length_normalised_score(log_prob, length, alpha):\n'
     '    return log_prob / ((1 + length) / 6) ** alpha', 'length_normalised_score'),
    ('06.masked_softmax', 'softmax_over_masked_only_gather', 'wrong', ('blocked', 'sum to 1'),
     'def masked_softmax(scores, mask):\n    m = mask.expand_as(scores)\n    out = torch.zeros_like(scores)\n'
     '    out[m] = scores[m].softmax(0)\n    return out', 'masked_softmax'),
    ('08.feed_forward', 'd_ff_output', 'wrong', ('w_2', 'd_model'),
     'def feed_forward(x, w_1, b_1, w_2, b_2):\n    return torch.relu(x @ w_1 + b_1)', 'feed_forward'),
    ('01.soft_lookup', 'softmax_over_values', 'wrong', ('softmax', 'scores', 'keys @ query'),
     'def soft_lookup(query, keys, values):\n    w = torch.softmax(values.sum(-1) * (keys @ query), -1)\n'
     '    return w @ values, w', 'soft_lookup'),
    ('02.rnn_step', 'h_prev_not_used', 'wrong', ('w_hh', 'previous'),
     'def rnn_step(x_t, h_prev, w_xh, w_hh, b):\n    return torch.tanh(x_t @ w_xh + b)', 'rnn_step'),
    ('04.attention', 'mask_via_transposes', 'right', (),
     "import math\ndef attention(q, k, v, mask=None):\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n"
     "    if mask is not None:\n"
     "        s = s.transpose(-2, -1).masked_fill(~mask.transpose(-2, -1), float('-inf')).transpose(-2, -1)\n"
     "    w = s.softmax(-1)\n    return w @ v, w", 'attention'),
    ('05.split_heads', 'heads_from_d_model_over_H_wrong', 'wrong', ('slice', 'head'),
     'def split_heads(x, n_heads):\n    B, T, D = x.shape\n'
     '    return torch.stack([x[..., h::n_heads] for h in range(n_heads)], dim=1)', 'split_heads'),
    ('06.padding_mask', 'pad_first_token_only', 'wrong', ('pad',),
     'def padding_mask(tokens, pad_id):\n    m = torch.ones_like(tokens, dtype=torch.bool)\n'
     '    m[:, -1] = tokens[:, -1] != pad_id\n    return m[:, None, None, :]', 'padding_mask'),
    ('07.cross_attention', 'memory_mask_on_queries', 'wrong', ('key', 'mask'),
     "import math\ndef cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):\n    q, k, v = x @ w_q, memory @ "
     "w_k, memory @ w_v\n    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n    if src_mask is not None:\n"
     "        s = s.masked_fill(~src_mask[..., :1].expand_as(s) if src_mask.shape[-1] > 1 else ~src_mask, float("
     "'-inf'))\n    w = s.softmax(-1).nan_to_num(0)\n    return w @ v, w", 'cross_attention'),
    ('08.layer_norm', 'normalise_whole_tensor', 'wrong', ('position', 'features'),
     'def layer_norm(x, gamma, beta, eps=1e-5):\n    m = x.mean()\n    v = x.var(unbiased=False)\n'
     '    return gamma * (x - m) / torch.sqrt(v + eps) + beta', 'layer_norm'),
    ('10.beam_step', 'beam_idx_from_mod_K', 'wrong', ('// v', 'beam'),
     'def beam_step(log_probs, beam_scores, beam_size):\n    K, V = log_probs.shape\n'
     '    s, i = (beam_scores[:, None] + log_probs).reshape(-1).topk(beam_size)\n'
     '    return s, i % K, i % V', 'beam_step'),
    ('10.greedy_decode', 'bos_never_fed', 'wrong', ('bos', '<bos>'),
     'def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):\n'
     '    src_mask = (src != pad_id)[:, None, None, :]\n    memory = model.encode(src, src_mask)\n'
     '    ys = torch.full((src.size(0), 1), pad_id, dtype=torch.long)\n'
     '    done = torch.zeros(src.size(0), dtype=torch.bool)\n    for _ in range(max_new_tokens):\n'
     '        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)\n'
     '        nxt = nxt.masked_fill(done, pad_id)\n        ys = torch.cat([ys, nxt[:, None]], 1)\n'
     '        done |= nxt == eos_id\n        if done.all():\n            break\n    return ys[:, 1:]', 'greedy_decode'),
    ('11.transformer', 'decode_uses_src_pe_length', 'wrong', ('position',),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[: memory.size(1)]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('08.decoder_layer', 'cross_attn_before_self', 'wrong', ('order', 'self-attention first', 'sublayer'),
     'def decoder_layer(layer, x, memory, tgt_mask, memory_mask):\n'
     '    x = layer.norm1(x + layer.cross_attn(x, memory, memory_mask))\n'
     '    x = layer.norm2(x + layer.self_attn(x, x, tgt_mask))\n'
     '    return layer.norm3(x + layer.ffn(x))', 'decoder_layer'),
    ('11.transformer', 'hint', 'right', (),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'sqrt_tensor_style', 'right', (),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * self.d_model ** 0.5 + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = (tgt != self.pad_id)[:, None, None, :] & torch.tril(torch.ones(T, T, dtype=torch.bool))\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'functools_reduce', 'right', (),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for i in range(len(self.encoder.layers)):\n            x = self.encoder.layers[i](x, src_mask)\n'
     '        return x\n    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'no_sqrt_scale', 'wrong', ('sqrt', 'd_model'),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) + self.pe[: src.size(1)]\n        for layer in self.encoder.layers:\n'
     '            x = layer(x, src_mask)\n        return x\n    def decode(self, tgt, memory, src_mask=None):\n'
     '        T = tgt.size(1)\n        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) + self.pe[:T]\n        for layer in self.decoder.layers:\n'
     '            x = layer(x, memory, tgt_mask, src_mask)\n        return self.out_proj(x)\n\n'
     '    def forward(self, src, tgt):\n        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'no_causal', 'wrong', ('causal',),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'src_mask_ignored_in_decode', 'wrong', ('src_mask', 'pad'),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, None)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'src_embed_in_decode', 'wrong', ('tgt_embed', 'embed'),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.src_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'no_pe', 'wrong', ('position',),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model)\n        for layer in self.encoder.layers:\n'
     '            x = layer(x, src_mask)\n        return x\n    def decode(self, tgt, memory, src_mask=None):\n'
     '        T = tgt.size(1)\n        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'only_first_layer', 'wrong', ('layer', 'every'),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        x = self.encoder.layers[0](x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.transformer', 'no_out_proj', 'wrong', ('out_proj', 'vocab', 'logits', 'shape'),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return x\n\n    def forward(self, src, tgt):\n        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n', 'Transformer'),
    ('11.parts', 'dict_not_parts', 'wrong', ('gather_parts', 'parts'),
     "parts = {'attention': None}", 'parts'),
    ('11.parts', 'none', 'wrong', ('gather_parts', 'parts'),
     'parts = None', 'parts'),
    ('11.train', 'untrained', 'wrong', ('vocabulary',),
     "<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n"
     "            src_mask = P.padding_mask(src, self.pad_id)\n"
     "        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n"
     "        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n"
     "    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n"
     "        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n"
     "        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n"
     "        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n"
     "        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n"
     "        src_mask = P.padding_mask(src, self.pad_id)\n"
     "        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n"
     "run = {'model': Transformer(40, 40), 'train_seconds': 10.0}\n", 'run'),
    ('11.train', 'not_a_dict', 'wrong', ('dict', 'training cell'),
     '<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n'
     '            src_mask = P.padding_mask(src, self.pad_id)\n'
     '        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n'
     '        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n'
     '    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n'
     '        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n'
     '        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n'
     '        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n'
     '        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n'
     '        src_mask = P.padding_mask(src, self.pad_id)\n'
     '        return self.decode(tgt, self.encode(src, src_mask), src_mask)\nrun = Transformer(40, 40)\n', 'run'),
    ('11.train', 'missing_seconds', 'wrong', ('train_seconds', 'dict'),
     "<<SETUP>><<TRANSFORMER_INIT>>    def encode(self, src, src_mask=None):\n        if src_mask is None:\n"
     "            src_mask = P.padding_mask(src, self.pad_id)\n"
     "        x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]\n"
     "        for layer in self.encoder.layers:\n            x = layer(x, src_mask)\n        return x\n"
     "    def decode(self, tgt, memory, src_mask=None):\n        T = tgt.size(1)\n"
     "        tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)\n"
     "        x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]\n"
     "        for layer in self.decoder.layers:\n            x = layer(x, memory, tgt_mask, src_mask)\n"
     "        return self.out_proj(x)\n\n    def forward(self, src, tgt):\n"
     "        src_mask = P.padding_mask(src, self.pad_id)\n"
     "        return self.decode(tgt, self.encode(src, src_mask), src_mask)\n"
     "run = {'model': Transformer(40, 40)}\n", 'run'),
]

ANSWERS += RED_TEAM  # the red-team set of the second round (tests/checks_red_team.py)

RIGHT = [a for a in ANSWERS if a[2] == "right"]
WRONG = [a for a in ANSWERS if a[2] == "wrong"]


@pytest.fixture(autouse=True)
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("exercise_id,label,kind,keywords,src,obj", RIGHT, ids=[f"{a[0]}-{a[1]}" for a in RIGHT])
def test_right_answer_passes(exercise_id, label, kind, keywords, src, obj):
    result = grade(exercise_id, src, obj)
    assert result.status == "passed", f"{exercise_id} {label}: {result.status}: {result.message} / {result.hint}"


@pytest.mark.parametrize("exercise_id,label,kind,keywords,src,obj", WRONG, ids=[f"{a[0]}-{a[1]}" for a in WRONG])
def test_wrong_answer_fails_with_a_named_hint(exercise_id, label, kind, keywords, src, obj):
    result = grade(exercise_id, src, obj)
    assert result.status == "failed", f"{exercise_id} {label} should fail, got {result.status}: {result.message}"
    text = f"{result.message} {result.hint or ''}".lower()
    assert any(k.lower() in text for k in keywords), (
        f"{exercise_id} {label}: the feedback does not name the mistake (expected one of {keywords}): "
        f"{result.message} / {result.hint}")


FIRST_RIGHT = list({a[0]: a for a in reversed(RIGHT)}.values())


def _global_state():
    return (torch.get_rng_state().clone(), torch.get_default_dtype(), torch.is_grad_enabled())


@pytest.mark.parametrize("grad_enabled", [True, False])
@pytest.mark.parametrize("exercise_id,label,kind,keywords,src,obj", FIRST_RIGHT, ids=[a[0] for a in FIRST_RIGHT])
def test_grading_leaves_global_state_alone(exercise_id, label, kind, keywords, src, obj, grad_enabled):
    with torch.set_grad_enabled(grad_enabled):
        rng, dtype, grad = _global_state()
        grade(exercise_id, src, obj)
        assert torch.equal(rng, torch.get_rng_state()), f"{exercise_id}: checking it advanced torch's global RNG"
        assert torch.get_default_dtype() == dtype, f"{exercise_id}: checking it changed the default dtype"
        assert torch.is_grad_enabled() == grad, f"{exercise_id}: checking it changed the grad mode"


def test_grading_undoes_what_learner_code_does_to_global_state():
    src = ("def f(weights, values):\n"
           "    torch.rand(3)\n"
           "    torch.set_default_dtype(torch.float64)\n"
           "    torch.set_grad_enabled(False)\n"
           "    return (weights @ values).float()")
    rng, dtype, grad = _global_state()
    try:
        result = grade("01.weighted_sum", src, "f")
        assert result.status == "passed", result.message
        assert torch.equal(rng, torch.get_rng_state())
        assert (torch.get_default_dtype(), torch.is_grad_enabled()) == (dtype, grad)
    finally:
        torch.set_default_dtype(dtype)
        torch.set_grad_enabled(grad)


# 11.parts needs all fifteen parts of the learner and 11.train a trained model: no right answer here.
NO_RIGHT_ANSWER_HERE = {"11.parts", "11.train"}


def test_every_exercise_has_right_and_wrong_answers():
    from course_utils.course.exercise_list import EXERCISES

    for exercise_id in EXERCISES:
        n_right = sum(a[0] == exercise_id for a in RIGHT)
        n_wrong = sum(a[0] == exercise_id for a in WRONG)
        assert n_wrong >= 2, f"{exercise_id}: {n_wrong} wrong answers in the bank"
        if exercise_id not in NO_RIGHT_ANSWER_HERE:
            assert n_right >= 3, f"{exercise_id}: {n_right} right answers in the bank"
    assert {a[0] for a in ANSWERS} <= set(EXERCISES), "the bank names an exercise the course does not have"
