"""A red-team answer set for the graders of lessons 01-10 (issue 19), written from the exercise statements
(solutions/NN_*.ipynb) as a learner would: 130 wrong answers (off-by-one, wrong axis, wrong broadcast, in-place
edits, dtype slips, numpy instead of torch, partial implementations, arguments mixed up, inverted masks) and 40
right answers in unusual styles (einsum, loops, float64 inside, -1e9 fills, torch.where, algebraic rewrites).

Entries have the shape of tests/test_checks_answer_bank.py's ANSWERS, which runs them: (exercise id, label,
"right" or "wrong", keywords one of which the feedback must name, source, object). The sources are built by the
small helpers below from one right answer with one line changed, so each wrong answer shows its one mistake.
"""

def fn(body_lines, name, args):
    head = "from course_utils.transformer import masks\n" if args == NB else ""
    return head + f"def {name}({args}):\n" + "".join(f"    {l}\n" for l in body_lines)


WS = "weights, values"
SM = "scores, temperature=1.0"
SL = "query, keys, values"
RS = "x_t, h_prev, w_xh, w_hh, b"
RF = "x, h0, w_xh, w_hh, b"
EP = "ids, table, pe"
AT = "q, k, v, mask=None"
FX = "q, k, v"
SA = "x, w_q, w_k, w_v"
CA = "x, memory, w_q, w_k, w_v, src_mask=None"
LN = "x, gamma, beta, eps=1e-5"
FF = "x, w_1, b_1, w_2, b_2"
DL = "layer, x, memory, tgt_mask, memory_mask"
EL = "layer, x, mask"
TF = "seqs, bos_id, eos_id, pad_id"
LS = "logits, target, smoothing, pad_id"
WL = "step, d_model, warmup"
GD = "model, src, max_new_tokens, bos_id, eos_id, pad_id"
BS = "log_probs, beam_scores, beam_size"
LP = "log_prob, length, alpha"
KV = "q, k_new, v_new, cache"
NB = "mha, x, tgt, pad_id"

MHA_HEAD = (
    "class MultiHeadAttention(nn.Module):\n"
    "    def __init__(self, d_model, n_heads):\n"
    "        super().__init__()\n"
    "        self.n_heads = n_heads\n"
    "        self.w_q = nn.Linear(d_model, d_model)\n"
    "        self.w_k = nn.Linear(d_model, d_model)\n"
    "        self.w_v = nn.Linear(d_model, d_model)\n"
    "        self.w_o = nn.Linear(d_model, d_model)\n"
    "    def forward(self, x_q, x_kv, mask=None):\n"
    "        B, Tq, D = x_q.shape\n"
    "        H = self.n_heads\n"
)


def mha(body):
    return MHA_HEAD + "".join(f"        {l}\n" for l in body)


MHA_SPLIT = ["q = self.w_q(x_q).view(B, Tq, H, D // H).transpose(1, 2)",
             "k = self.w_k(x_kv).view(B, -1, H, D // H).transpose(1, 2)",
             "v = self.w_v(x_kv).view(B, -1, H, D // H).transpose(1, 2)"]
MHA_ATT = ["s = q @ k.transpose(-2, -1) / math.sqrt(D // H)",
           "if mask is not None:",
           "    s = s.masked_fill(~mask, float('-inf'))",
           "o = s.softmax(-1) @ v"]
MHA_OUT = ["return self.w_o(o.transpose(1, 2).reshape(B, Tq, D))"]


def mha_with(replace=None, body=None):
    lines = body if body is not None else MHA_SPLIT + MHA_ATT + MHA_OUT
    if replace:
        old, new = replace
        text = "\n".join(lines)
        assert old in text, old
        lines = text.replace(old, new).split("\n")
    return mha(lines)


ATT_OK = ["s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))",
          "if mask is not None:",
          "    s = s.masked_fill(~mask, float('-inf'))",
          "w = s.softmax(-1)",
          "return w @ v, w"]


def att(old=None, new=None, args=AT, name="attention"):
    lines = ATT_OK
    if old is not None:
        text = "\n".join(lines)
        assert old in text, old
        lines = text.replace(old, new).split("\n")
    return fn(lines, name, args)


LOSS_OK = ["logp = logits.log_softmax(-1)",
           "nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)",
           "loss = (1 - smoothing) * nll - smoothing * logp.mean(-1)",
           "return loss[target != pad_id].mean()"]


def loss(old, new):
    text = "\n".join(LOSS_OK)
    assert old in text, old
    return fn(text.replace(old, new).split("\n"), "label_smoothed_loss", LS)


GREEDY_OK = ["src_mask = (src != pad_id)[:, None, None, :]",
             "memory = model.encode(src, src_mask)",
             "ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)",
             "done = torch.zeros(src.size(0), dtype=torch.bool)",
             "for _ in range(max_new_tokens):",
             "    nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)",
             "    nxt = nxt.masked_fill(done, pad_id)",
             "    ys = torch.cat([ys, nxt[:, None]], 1)",
             "    done = done | (nxt == eos_id)",
             "    if done.all():",
             "        break",
             "return ys[:, 1:]"]


def greedy(old, new):
    text = "\n".join(GREEDY_OK)
    assert old in text, old
    return fn(text.replace(old, new).split("\n"), "greedy_decode", GD)


KV_OK = ["if cache is None:",
         "    k, v = k_new, v_new",
         "else:",
         "    k = torch.cat([cache[0], k_new], dim=-2)",
         "    v = torch.cat([cache[1], v_new], dim=-2)",
         "w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)",
         "return w @ v, (k, v)"]


def kv(old, new):
    text = "\n".join(KV_OK)
    assert old in text, old
    return fn(text.replace(old, new).split("\n"), "kv_cache_step", KV)


R, W = "right", "wrong"
RED_TEAM = [
    # ------------------------------------------------------------------ 01.weighted_sum
    ("01.weighted_sum", "rt_transposed_sum", W, ("rows", "dim=0", "axis", "width"),
     fn(["return (weights * values.T).sum(0)"], "f", WS), "f"),
    ("01.weighted_sum", "rt_first_row_only", W, ("all", "weight", "each"),
     fn(["return weights[0] * values[0]"], "f", WS), "f"),
    ("01.weighted_sum", "rt_numpy_dot", W, ("numpy", "torch"),
     "import numpy as np\n" + fn(["return np.dot(weights.numpy(), values.numpy())"], "f", WS), "f"),
    ("01.weighted_sum", "rt_in_place_scale", W, ("in place",),
     fn(["values *= weights[:, None]", "return values.sum(0)"], "f", WS), "f"),
    ("01.weighted_sum", "rt_dot_row_sums", W, ("vector", "width", "shape", "one vector", "matrix"),
     fn(["return torch.dot(weights, values.sum(1))"], "f", WS), "f"),
    ("01.weighted_sum", "rt_right_mv", R, (), fn(["return torch.mv(values.t(), weights)"], "f", WS), "f"),
    # ------------------------------------------------------------------ 01.softmax_temperature
    ("01.softmax_temperature", "rt_temperature_after_exp", W, ("temperature",),
     fn(["z = scores - scores.max(-1, keepdim=True).values", "e = z.exp() / temperature",
         "return e / e.sum(-1, keepdim=True)"], "softmax", SM), "softmax"),
    ("01.softmax_temperature", "rt_subtract_min", W, ("max", "overflow", "nan", "inf"),
     fn(["z = scores / temperature", "e = (z - z.min(-1, keepdim=True).values).exp()",
         "return e / e.sum(-1, keepdim=True)"], "softmax", SM), "softmax"),
    ("01.softmax_temperature", "rt_log_probs", W, ("negative", "probabilit"),
     fn(["z = scores / temperature", "return z - z.logsumexp(-1, keepdim=True)"], "softmax", SM), "softmax"),
    ("01.softmax_temperature", "rt_clamp_not_shift", W, ("max", "subtract", "overflow"),
     fn(["e = (scores / temperature).clamp(max=60).exp()", "return e / e.sum(-1, keepdim=True)"], "softmax", SM),
     "softmax"),
    ("01.softmax_temperature", "rt_scores_power", W, ("temperature", "divide"),
     fn(["z = scores.sign() * scores.abs() ** (1 / temperature)", "z = z - z.max(-1, keepdim=True).values",
         "e = z.exp()", "return e / e.sum(-1, keepdim=True)"], "softmax", SM), "softmax"),
    ("01.softmax_temperature", "rt_right_power_of_exp", R, (),
     fn(["e = (scores - scores.max(-1, keepdim=True).values).exp() ** (1 / temperature)",
         "return e / e.sum(-1, keepdim=True)"], "softmax", SM), "softmax"),
    # ------------------------------------------------------------------ 01.soft_lookup
    ("01.soft_lookup", "rt_cosine_scores", W, ("dot product", "keys @ query", "scores"),
     "import torch.nn.functional as F\n" + fn(["s = F.cosine_similarity(keys, query[None, :], dim=-1)",
                                               "w = s.softmax(-1)", "return w @ values, w"], "soft_lookup", SL),
     "soft_lookup"),
    ("01.soft_lookup", "rt_distance_scores", W, ("dot product", "keys @ query", "scores"),
     fn(["s = -((keys - query) ** 2).sum(-1)", "w = s.softmax(-1)", "return w @ values, w"], "soft_lookup", SL),
     "soft_lookup"),
    ("01.soft_lookup", "rt_out_summed", W, ("d_v", "width", "shape", "weights @ values"),
     fn(["w = (keys @ query).softmax(-1)", "return (w @ values).sum(), w"], "soft_lookup", SL), "soft_lookup"),
    ("01.soft_lookup", "rt_keys_axis", W, ("one score per key", "keys @ query", "shape", "extra axis"),
     fn(["s = (keys * query).sum(0)", "w = s.softmax(-1)", "return w @ values[: w.size(0)], w"], "soft_lookup", SL),
     "soft_lookup"),
    ("01.soft_lookup", "rt_right_values_t", R, (),
     fn(["w = torch.exp(keys @ query - (keys @ query).max())", "w = w / w.sum()", "return values.T @ w, w"],
        "soft_lookup", SL), "soft_lookup"),
    # ------------------------------------------------------------------ 02.rnn_step
    ("02.rnn_step", "rt_w_xh_twice", W, ("w_hh", "h_prev @ w_hh", "previous"),
     fn(["return torch.tanh(x_t @ w_xh + h_prev @ w_xh + b)"], "rnn_step", RS), "rnn_step"),
    ("02.rnn_step", "rt_two_tanhs", W, ("inside tanh", "whole sum", "one tanh"),
     fn(["return torch.tanh(x_t @ w_xh) + torch.tanh(h_prev @ w_hh) + b"], "rnn_step", RS), "rnn_step"),
    ("02.rnn_step", "rt_bias_twice", W, ("bias",),
     fn(["return torch.tanh(x_t @ w_xh + h_prev @ w_hh + 2 * b)"], "rnn_step", RS), "rnn_step"),
    ("02.rnn_step", "rt_in_place_h", W, ("in place",),
     fn(["h_prev += x_t @ w_xh if x_t.size(1) == h_prev.size(1) else 0", "h_prev.mul_(1.0)",
         "return torch.tanh(x_t @ w_xh + h_prev @ w_hh + b)"], "rnn_step", RS), "rnn_step"),
    ("02.rnn_step", "rt_right_concat", R, (),
     fn(["return torch.tanh(torch.cat([x_t, h_prev], 1) @ torch.cat([w_xh, w_hh], 0) + b)"], "rnn_step", RS),
     "rnn_step"),
    # ------------------------------------------------------------------ 02.rnn_forward
    ("02.rnn_forward", "rt_loop_over_batch", W, ("t in range", "all t steps", "steps", "x.size(1)"),
     fn(["h, out = h0, []", "for t in range(x.size(0)):",
         "    h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)", "    out.append(h)",
         "return torch.stack(out, 1), h"], "rnn_forward", RF), "rnn_forward"),
    ("02.rnn_forward", "rt_skip_first_step", W, ("all t steps", "steps", "range"),
     fn(["h, out = h0, []", "for t in range(1, x.size(1)):",
         "    h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)", "    out.append(h)",
         "return torch.stack(out, 1), h"], "rnn_forward", RF), "rnn_forward"),
    ("02.rnn_forward", "rt_h_last_first", W, ("last",),
     fn(["h, out = h0, []", "for t in range(x.size(1)):",
         "    h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)", "    out.append(h)",
         "s = torch.stack(out, 1)", "return s, s[:, 0]"], "rnn_forward", RF), "rnn_forward"),
    ("02.rnn_forward", "rt_swapped_return", W, ("order",),
     fn(["h, out = h0, []", "for t in range(x.size(1)):",
         "    h = torch.tanh(x[:, t] @ w_xh + h @ w_hh + b)", "    out.append(h)",
         "return h, torch.stack(out, 1)"], "rnn_forward", RF), "rnn_forward"),
    ("02.rnn_forward", "rt_right_prealloc64", R, (),
     fn(["B, T, _ = x.shape", "out = x.new_empty(B, T, h0.size(1), dtype=torch.float64)", "h = h0.double()",
         "for t in range(T):", "    h = torch.tanh(x[:, t].double() @ w_xh.double() + h @ w_hh.double() + b.double())",
         "    out[:, t] = h", "return out.float(), h.float()"], "rnn_forward", RF), "rnn_forward"),
    # ------------------------------------------------------------------ 02.predict_gradient
    ("02.predict_gradient", "rt_power_rule", W, ("multipl", "factor", "power", "step"),
     "prediction = 10 * 0.5 ** 9", "prediction"),
    ("02.predict_gradient", "rt_negative", W, ("sign",), "prediction = -0.5 ** 10", "prediction"),
    ("02.predict_gradient", "rt_text", W, ("number", "quotes"), "prediction = '0.001'", "prediction"),
    ("02.predict_gradient", "rt_right_pow2", R, (), "prediction = 2 ** -10", "prediction"),
    # ------------------------------------------------------------------ 03.word2idx
    ("03.word2idx", "rt_set_order", W, ("order", "first appear", "1..n", "from 1", "start at 1", "wrong id"),
     fn(["words = sorted(set(t for s in sentences for t in s), key=len)",
         "return {w: i + 1 for i, w in enumerate(words)}"], "build_word2idx", "sentences"), "build_word2idx"),
    ("03.word2idx", "rt_last_position", W, ("keeps", "first", "again", "new words"),
     fn(["d = {}", "for i, t in enumerate(t for s in sentences for t in s):", "    d[t] = i + 1", "return d"],
        "build_word2idx", "sentences"), "build_word2idx"),
    ("03.word2idx", "rt_index_positions", W, ("wrong id", "order", "first appear", "new words", "1..n"),
     fn(["flat = [t for s in sentences for t in s]", "return {w: flat.index(w) + 1 for w in flat}"],
        "build_word2idx", "sentences"), "build_word2idx"),
    ("03.word2idx", "rt_mutates", W, ("in place", "modif", "chang"),
     fn(["d = {}", "for s in sentences:", "    while s:", "        t = s.pop(0)",
         "        d.setdefault(t, len(d) + 1)", "return d"], "build_word2idx", "sentences"), "build_word2idx"),
    ("03.word2idx", "rt_right_count", R, (),
     "import itertools\n" + fn(["flat = (t for s in sentences for t in s)",
                                "return dict(zip(dict.fromkeys(flat), itertools.count(1)))"],
                               "build_word2idx", "sentences"), "build_word2idx"),
    # ------------------------------------------------------------------ 03.predict_permutation
    ("03.predict_permutation", "rt_text_two", W, ("number", "quotes", "text"), "prediction = '2'", "prediction"),
    ("03.predict_permutation", "rt_three", W, ("rows", "0, 1", "row"), "prediction = 3", "prediction"),
    ("03.predict_permutation", "rt_right_float", R, (), "prediction = 2.0", "prediction"),
    # ------------------------------------------------------------------ 03.sinusoidal_encoding
    ("03.sinusoidal_encoding", "rt_integer_exponent", W, ("exponent", "2i/d_model", "frequency", "divide"),
     fn(["pos = torch.arange(max_len)[:, None]", "i2 = torch.arange(0, d_model, 2)",
         "ang = pos / 10000 ** (i2 // d_model)", "pe = torch.zeros(max_len, d_model)",
         "pe[:, 0::2] = torch.sin(ang)", "pe[:, 1::2] = torch.cos(ang)", "return pe"], "sinusoidal_encoding",
        "max_len, d_model"), "sinusoidal_encoding"),
    ("03.sinusoidal_encoding", "rt_transposed_table", W, ("axes", "shape", "max_len", "transpose"),
     fn(["pos = torch.arange(max_len).float()[:, None]", "i2 = torch.arange(0, d_model, 2).float()",
         "ang = pos / 10000 ** (i2 / d_model)", "pe = torch.zeros(max_len, d_model)",
         "pe[:, 0::2] = ang.sin()", "pe[:, 1::2] = ang.cos()", "return pe.T"], "sinusoidal_encoding",
        "max_len, d_model"), "sinusoidal_encoding"),
    ("03.sinusoidal_encoding", "rt_degrees", W, ("exponent", "sin", "angle", "column 2i"),
     "import math\n" + fn(["pos = torch.arange(max_len).float()[:, None]", "i2 = torch.arange(0, d_model, 2).float()",
                           "ang = torch.rad2deg(pos / 10000 ** (i2 / d_model))", "pe = torch.zeros(max_len, d_model)",
                           "pe[:, 0::2] = ang.sin()", "pe[:, 1::2] = ang.cos()", "return pe"],
                          "sinusoidal_encoding", "max_len, d_model"), "sinusoidal_encoding"),
    ("03.sinusoidal_encoding", "rt_right_phase_shift", R, (),
     "import math\n" + fn(["pos = torch.arange(max_len, dtype=torch.float64)[:, None]",
                           "j = torch.arange(d_model)", "freq = 10000 ** (-(j - j % 2) / d_model)",
                           "return torch.sin(pos * freq + (j % 2) * math.pi / 2).float()"],
                          "sinusoidal_encoding", "max_len, d_model"), "sinusoidal_encoding"),
    # ------------------------------------------------------------------ 03.embed_with_positions
    ("03.embed_with_positions", "rt_pe_batch_rows", W, ("pe[:t]", "sequence axis", "positions", "first t rows"),
     fn(["return table[ids] + pe[:ids.size(0)][:, None, :]"], "embed_with_positions", EP), "embed_with_positions"),
    ("03.embed_with_positions", "rt_new_embedding", W, ("table",),
     "from torch import nn\n" + fn(["emb = nn.Embedding(table.size(0), table.size(1))",
                                    "return emb(ids) + pe[:ids.size(1)]"], "embed_with_positions", EP),
     "embed_with_positions"),
    ("03.embed_with_positions", "rt_whole_pe", W, ("pe[:t]", "first t rows"),
     fn(["return table[ids] + pe"], "embed_with_positions", EP), "embed_with_positions"),
    ("03.embed_with_positions", "rt_right_one_hot", R, (),
     "import torch.nn.functional as F\n" + fn(
         ["oh = F.one_hot(ids, table.size(0)).to(table.dtype)", "return oh @ table + pe[: ids.shape[-1]]"],
         "embed_with_positions", EP), "embed_with_positions"),
    # ------------------------------------------------------------------ 04.attention
    ("04.attention", "rt_out_from_keys", W, ("values", "weights @ v"),
     att("return w @ v, w", "return w @ k, w"), "attention"),
    ("04.attention", "rt_scale_by_T_k", W, ("sqrt(d_k)", "√d_k", "width", "t_k"),
     att("math.sqrt(q.size(-1))", "math.sqrt(k.size(-2))"), "attention"),
    ("04.attention", "rt_mask_multiplied", W, ("-inf", "block", "mask", "selects"),
     att("    s = s.masked_fill(~mask, float('-inf'))", "    s = s * mask"), "attention"),
    ("04.attention", "rt_weights_only", W, ("tuple", "out", "2 values"),
     att("return w @ v, w", "return w"), "attention"),
    ("04.attention", "rt_inverted_eq", W, ("polarity", "invert"),
     att("s.masked_fill(~mask, float('-inf'))", "s.masked_fill(mask == 1, float('-inf'))"), "attention"),
    ("04.attention", "rt_right_renormalised", R, (),
     att("    s = s.masked_fill(~mask, float('-inf'))\nw = s.softmax(-1)",
         "    s = s\nw = s.softmax(-1)\nif mask is not None:\n    w = w * mask\n    w = w / w.sum(-1, keepdim=True)"),
     "attention"),
    ("04.attention", "rt_right_additive", R, (),
     att("    s = s.masked_fill(~mask, float('-inf'))", "    s = s + (~mask).float() * -1e9"), "attention"),
    # ------------------------------------------------------------------ 04.fix_attention
    ("04.fix_attention", "rt_softmax_dim0", W, ("keys", "dim=-1", "axis"),
     fn(["s = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5", "w = s.softmax(dim=0)", "return w @ v, w"],
        "attention_fixed", FX), "attention_fixed"),
    ("04.fix_attention", "rt_sqrt_T", W, ("√d_k", "sqrt(d_k)", "width"),
     fn(["s = q @ k.transpose(-2, -1) / q.size(-2) ** 0.5", "w = s.softmax(dim=-1)", "return w @ v, w"],
        "attention_fixed", FX), "attention_fixed"),
    ("04.fix_attention", "rt_scale_twice", W, ("√d_k", "sqrt(d_k)", "square root", "d_k itself"),
     fn(["s = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5 / q.size(-1) ** 0.5", "w = s.softmax(dim=-1)",
         "return w @ v, w"], "attention_fixed", FX), "attention_fixed"),
    ("04.fix_attention", "rt_right_baddbmm_free", R, (),
     fn(["s = torch.matmul(q, k.mT) * q.size(-1) ** -0.5", "w = torch.exp(s - s.amax(-1, keepdim=True))",
         "w = w / w.sum(-1, keepdim=True)", "return torch.matmul(w, v), w"], "attention_fixed", FX),
     "attention_fixed"),
    # ------------------------------------------------------------------ 04.predict_score_std
    ("04.predict_score_std", "rt_half_variance", W, ("variance", "square root", "add up"),
     "prediction = 32", "prediction"),
    ("04.predict_score_std", "rt_sqrt_8", W, ("square root", "variance", "add up", "8"),
     "prediction = 8 ** 0.5", "prediction"),
    ("04.predict_score_std", "rt_right_numpy", R, (), "import numpy as np\nprediction = np.sqrt(np.float64(64))",
     "prediction"),
    # ------------------------------------------------------------------ 04.self_attention
    ("04.self_attention", "rt_q_from_w_k", W, ("w_q", "queries", "roles", "own matrix"),
     fn(["q, k, v = x @ w_k, x @ w_k, x @ w_v", "w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)",
         "return w @ v, w"], "self_attention", SA), "self_attention"),
    ("04.self_attention", "rt_left_multiply", W, ("x @ w_q", "project"),
     fn(["q, k, v = w_q @ x, w_k @ x, w_v @ x", "w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)",
         "return w @ v, w"], "self_attention", SA), "self_attention"),
    ("04.self_attention", "rt_out_only", W, ("tuple", "weights", "2 values"),
     fn(["q, k, v = x @ w_q, x @ w_k, x @ w_v", "w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)",
         "return w @ v"], "self_attention", SA), "self_attention"),
    ("04.self_attention", "rt_right_einsum64", R, (),
     fn(["x64 = x.double()", "q = torch.einsum('btd,dk->btk', x64, w_q.double())",
         "k = torch.einsum('btd,dk->btk', x64, w_k.double())", "v = torch.einsum('btd,dk->btk', x64, w_v.double())",
         "w = torch.einsum('bqk,bsk->bqs', q, k).div(q.size(-1) ** 0.5).softmax(-1)",
         "return (w @ v).float(), w.float()"], "self_attention", SA), "self_attention"),
    # ------------------------------------------------------------------ 05.split_heads
    ("05.split_heads", "rt_float_head_width", W, ("integer", "//", "int", "d_model // n_heads"),
     fn(["B, T, D = x.shape", "return x.view(B, T, n_heads, D / n_heads).transpose(1, 2)"], "split_heads",
        "x, n_heads"), "split_heads"),
    ("05.split_heads", "rt_time_last", W, ("axes", "another order", "transpose", "(b, h, t, d_k)"),
     fn(["B, T, D = x.shape", "return x.view(B, T, n_heads, D // n_heads).permute(0, 2, 3, 1)"], "split_heads",
        "x, n_heads"), "split_heads"),
    ("05.split_heads", "rt_heads_first", W, ("axes", "another order", "batch", "(b, h, t, d_k)"),
     fn(["B, T, D = x.shape", "return x.view(B, T, n_heads, D // n_heads).permute(2, 0, 1, 3)"], "split_heads",
        "x, n_heads"), "split_heads"),
    ("05.split_heads", "rt_right_unflatten", R, (),
     fn(["return x.unflatten(-1, (n_heads, -1)).transpose(1, 2)"], "split_heads", "x, n_heads"), "split_heads"),
    # ------------------------------------------------------------------ 05.merge_heads
    ("05.merge_heads", "rt_swap_last_two", W, ("transpose(1, 2)", "order", "head axis", "positions"),
     fn(["B, H, T, d = x.shape", "return x.transpose(2, 3).reshape(B, T, H * d)"], "merge_heads", "x"),
     "merge_heads"),
    ("05.merge_heads", "rt_sum_heads", W, ("concatenate", "side by side", "average", "add"),
     fn(["return x.sum(dim=1)"], "merge_heads", "x"), "merge_heads"),
    ("05.merge_heads", "rt_cat_time", W, ("last axis", "dim=-1", "concatenate"),
     fn(["return torch.cat(list(x.unbind(1)), dim=1)"], "merge_heads", "x"), "merge_heads"),
    ("05.merge_heads", "rt_right_flatten", R, (), fn(["return x.permute(0, 2, 1, 3).flatten(-2)"], "merge_heads", "x"),
     "merge_heads"),
    # ------------------------------------------------------------------ 05.multi_head_attention
    ("05.multi_head_attention", "rt_no_output_bias", W, ("w_o", "layer", "bias", "self.w_o(merged)"),
     "import torch.nn.functional as F\n" + mha_with(("return self.w_o(o.transpose(1, 2).reshape(B, Tq, D))",
                                                     "return F.linear(o.transpose(1, 2).reshape(B, Tq, D), "
                                                     "self.w_o.weight)")), "MultiHeadAttention"),
    ("05.multi_head_attention", "rt_layers_in_forward", W, ("weights", "__init__", "layer", "w_q"),
     mha_with(("q = self.w_q(x_q)", "q = nn.Linear(D, D)(x_q)")), "MultiHeadAttention"),
    ("05.multi_head_attention", "rt_mask_ignored", W, ("mask",),
     mha_with(("    s = s.masked_fill(~mask, float('-inf'))", "    s = s")), "MultiHeadAttention"),
    ("05.multi_head_attention", "rt_mask_inverted_neg", W, ("polarity", "invert"),
     mha_with(("s.masked_fill(~mask, float('-inf'))", "s.masked_fill(mask, -1e9)")), "MultiHeadAttention"),
    ("05.multi_head_attention", "rt_scale_by_model", W, ("√d_k", "width of one head", "d_model"),
     mha_with(("math.sqrt(D // H)", "math.sqrt(D)")), "MultiHeadAttention"),
    ("05.multi_head_attention", "rt_right_sdpa_mask", R, (),
     "import torch.nn.functional as F\n" + mha(
         MHA_SPLIT + ["o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)"] + MHA_OUT), "MultiHeadAttention"),
    # ------------------------------------------------------------------ 05.predict_param_count
    ("05.predict_param_count", "rt_one_matrix", W, ("four", "bias", "w_o", "layers"),
     "prediction = 512 * 512 + 512", "prediction"),
    ("05.predict_param_count", "rt_per_head_matrices", W, ("heads", "share", "n_heads"),
     "prediction = 4 * (512 * 512 + 512) * 8", "prediction"),
    ("05.predict_param_count", "rt_right_per_head_sum", R, (), "prediction = 4 * 8 * (512 * 64 + 64)",
     "prediction"),
    # ------------------------------------------------------------------ 06.causal_mask
    ("06.causal_mask", "rt_strict_lower", W, ("diagonal", "itself"),
     fn(["i = torch.arange(T)", "return i[:, None] > i[None, :]"], "causal_mask", "T"), "causal_mask"),
    ("06.causal_mask", "rt_python_lists", W, ("list", "tensor"),
     fn(["return [[j <= i for j in range(T)] for i in range(T)]"], "causal_mask", "T"), "causal_mask"),
    ("06.causal_mask", "rt_upper_ge", W, ("future", "lower", "above"),
     fn(["i = torch.arange(T)", "return i[:, None] <= i[None, :]"], "causal_mask", "T"), "causal_mask"),
    ("06.causal_mask", "rt_right_cumsum", R, (),
     fn(["return torch.ones(T, T).cumsum(1) <= torch.arange(1, T + 1)[:, None]"], "causal_mask", "T"),
     "causal_mask"),
    # ------------------------------------------------------------------ 06.padding_mask
    ("06.padding_mask", "rt_batch_axes_first", W, ("shape", "axes", "(b, 1, 1, t)"),
     fn(["return (tokens != pad_id)[None, None]"], "padding_mask", "tokens, pad_id"), "padding_mask"),
    ("06.padding_mask", "rt_not_zero_gt", W, ("pad_id",),
     fn(["return (tokens > 0)[:, None, None, :]"], "padding_mask", "tokens, pad_id"), "padding_mask"),
    ("06.padding_mask", "rt_float_mask", W, ("bool", "dtype"),
     fn(["return (tokens != pad_id).float()[:, None, None, :]"], "padding_mask", "tokens, pad_id"), "padding_mask"),
    ("06.padding_mask", "rt_right_reshape", R, (),
     fn(["B, T = tokens.shape", "return tokens.ne(pad_id).reshape(B, 1, 1, T)"], "padding_mask", "tokens, pad_id"),
     "padding_mask"),
    # ------------------------------------------------------------------ 06.decoder_mask
    ("06.decoder_mask", "rt_no_head_axis", W, ("axes", "shape", "head axis", "(b, 1, t, t)"),
     fn(["T = tgt.size(1)", "return (tgt != pad_id)[:, None, :] & torch.ones(T, T, dtype=torch.bool).tril()"],
        "decoder_mask", "tgt, pad_id"), "decoder_mask"),
    ("06.decoder_mask", "rt_multiply_ints", W, ("bool", "dtype"),
     fn(["T = tgt.size(1)", "return (tgt != pad_id).long()[:, None, None, :] * torch.ones(T, T).long().tril()"],
        "decoder_mask", "tgt, pad_id"), "decoder_mask"),
    ("06.decoder_mask", "rt_batch_size_T", W, ("tgt.size(1)", "(t, t)", "positions", "batch size"),
     fn(["T = tgt.size(0)", "return (tgt != pad_id)[:, None, None, :] & torch.ones(T, T, dtype=torch.bool).tril()"],
        "decoder_mask", "tgt, pad_id"), "decoder_mask"),
    ("06.decoder_mask", "rt_right_logical_and", R, (),
     fn(["B, T = tgt.shape", "i = torch.arange(T)",
         "return torch.logical_and((tgt != pad_id).view(B, 1, 1, T), i.view(T, 1) >= i.view(1, T))"],
        "decoder_mask", "tgt, pad_id"), "decoder_mask"),
    # ------------------------------------------------------------------ 06.masked_softmax
    ("06.masked_softmax", "rt_multiply_scores", W, ("-inf", "block", "blocked", "mask"),
     fn(["return torch.softmax(scores * mask, dim=-1)"], "masked_softmax", "scores, mask"), "masked_softmax"),
    ("06.masked_softmax", "rt_exp_where_nan", W, ("nan", "zero", "blocked"),
     fn(["e = torch.where(mask, scores.exp(), torch.zeros(()))", "return e / e.sum(-1, keepdim=True)"],
        "masked_softmax", "scores, mask"), "masked_softmax"),
    ("06.masked_softmax", "rt_ones_on_empty", W, ("zero", "no allowed key"),
     fn(["w = scores.masked_fill(~mask, float('-inf')).softmax(-1)", "return torch.nan_to_num(w, nan=1.0)"],
        "masked_softmax", "scores, mask"), "masked_softmax"),
    ("06.masked_softmax", "rt_right_where_any", R, (),
     fn(["w = torch.where(mask, scores, float('-inf')).softmax(-1)",
         "return torch.where(mask.any(-1, keepdim=True), w, torch.zeros_like(w))"], "masked_softmax", "scores, mask"),
     "masked_softmax"),
    # ------------------------------------------------------------------ 06.nn_border
    ("06.nn_border", "rt_padding_eq_zero", W, ("pad_id", "padding", "key_padding_mask"),
     fn(["T = x.size(1)", "kpm = torch.zeros_like(tgt, dtype=torch.bool)",
         "out, _ = mha(x, x, x, attn_mask=~masks.causal_mask(T), key_padding_mask=kpm)", "return out"],
        "causal_self_attention", NB),
     "causal_self_attention"),
    ("06.nn_border", "rt_course_4d_mask", W, ("(b, t)", "key_padding_mask", "shape"),
     fn(["T = x.size(1)", "kpm = ~masks.padding_mask(tgt, pad_id)",
         "out, _ = mha(x, x, x, attn_mask=~masks.causal_mask(T), key_padding_mask=kpm)", "return out"],
        "causal_self_attention", NB), "causal_self_attention"),
    ("06.nn_border", "rt_only_causal_inverted", W, ("key_padding_mask", "padding", "padded"),
     fn(["T = x.size(1)", "out, _ = mha(x, x, x, attn_mask=~masks.causal_mask(T), key_padding_mask=masks.padding_mask("
         "tgt, pad_id)[:, 0, 0, :])", "return out"], "causal_self_attention", NB), "causal_self_attention"),
    ("06.nn_border", "rt_right_triu", R, (),
     fn(["T = x.size(1)", "blocked = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)",
         "return mha(x, x, x, attn_mask=blocked, key_padding_mask=tgt.eq(pad_id), need_weights=False)[0]"],
        "causal_self_attention", NB), "causal_self_attention"),
    # ------------------------------------------------------------------ 07.cross_attention
    ("07.cross_attention", "rt_values_unprojected", W, ("w_v", "project", "d_v", "values"),
     fn(["q, k = x @ w_q, memory @ w_k", "s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))",
         "if src_mask is not None:", "    s = s.masked_fill(~src_mask, float('-inf'))", "w = s.softmax(-1)",
         "return w @ memory, w"], "cross_attention", CA), "cross_attention"),
    ("07.cross_attention", "rt_inverted_src_mask", W, ("polarity", "invert"),
     fn(["q, k, v = x @ w_q, memory @ w_k, memory @ w_v", "s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))",
         "if src_mask is not None:", "    s = s.masked_fill(src_mask, -1e9)", "w = s.softmax(-1)", "return w @ v, w"],
        "cross_attention", CA), "cross_attention"),
    ("07.cross_attention", "rt_mask_zero_fill", W, ("-inf", "block", "blocked", "fill"),
     fn(["q, k, v = x @ w_q, memory @ w_k, memory @ w_v", "s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))",
         "if src_mask is not None:", "    s = s.masked_fill(~src_mask, 0.0)", "w = s.softmax(-1)", "return w @ v, w"],
        "cross_attention", CA), "cross_attention"),
    ("07.cross_attention", "rt_queries_from_memory", W, ("queries", "x", "roles", "row per"),
     fn(["q, k, v = memory @ w_q, memory @ w_k, memory @ w_v",
         "s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))", "w = s.softmax(-1)", "return w @ v, w"],
        "cross_attention", CA), "cross_attention"),
    ("07.cross_attention", "rt_right_sdpa_weights", R, (),
     "import torch.nn.functional as F\n" + fn(
         ["q, k, v = x @ w_q, memory @ w_k, memory @ w_v", "s = torch.einsum('btd,bsd->bts', q, k) / q.size(-1) ** 0.5",
          "if src_mask is not None:", "    s = torch.where(src_mask, s, torch.finfo(s.dtype).min)",
          "w = F.softmax(s, dim=-1)", "return torch.einsum('bts,bsd->btd', w, v), w"], "cross_attention", CA),
     "cross_attention"),
    # ------------------------------------------------------------------ 07.alignment
    ("07.alignment", "rt_argmax_targets", W, ("source", "last", "axis", "target"),
     fn(["return weights.mean(1).argmax(dim=1)"], "alignment", "weights"), "alignment"),
    ("07.alignment", "rt_median_heads", W, ("average", "mean", "heads"),
     fn(["return weights.median(dim=1).values.argmax(-1)"], "alignment", "weights"), "alignment"),
    ("07.alignment", "rt_last_head", W, ("average", "all heads", "head"),
     fn(["return weights[:, -1].argmax(-1)"], "alignment", "weights"), "alignment"),
    ("07.alignment", "rt_right_sum_heads", R, (), fn(["return weights.sum(dim=1).argmax(dim=-1)"], "alignment",
                                                      "weights"), "alignment"),
    # ------------------------------------------------------------------ 07.predict_alignment
    ("07.predict_alignment", "rt_lowercase", W, ("source token", "spell", "table"),
     "prediction = ['i', 'cats', 'cats']", "prediction"),
    ("07.predict_alignment", "rt_pad_last", W, ("pad", "mask", "blocks"),
     "prediction = ['I', 'cats', '<pad>']", "prediction"),
    ("07.predict_alignment", "rt_right_tuple_spaces", R, (), "prediction = ('I', ' cats', 'cats ')", "prediction"),
    # ------------------------------------------------------------------ 08.predict_layernorm
    ("08.predict_layernorm", "rt_reversed", W, ("sign", "minus", "order", "subtract"),
     "prediction = [1.34, 0.45, -0.45, -1.34]", "prediction"),
    ("08.predict_layernorm", "rt_three_numbers", W, ("4 numbers", "four", "hold 4"),
     "prediction = [-1.34, 0, 1.34]", "prediction"),
    ("08.predict_layernorm", "rt_one_decimal", W, ("round", "two decimals", "close"),
     "prediction = [-1.3, -0.4, 0.4, 1.3]", "prediction"),
    ("08.predict_layernorm", "rt_right_numpy", R, (), "import numpy as np\nprediction = np.array([-1.342, -0.447, "
                                                      "0.447, 1.342])", "prediction"),
    # ------------------------------------------------------------------ 08.layer_norm
    ("08.layer_norm", "rt_std_plus_eps", W, ("eps", "inside", "square root", "unbiased"),
     fn(["m = x.mean(-1, keepdim=True)", "return gamma * (x - m) / (x.std(-1, keepdim=True, unbiased=False) + eps) "
         "+ beta"], "layer_norm", LN), "layer_norm"),
    ("08.layer_norm", "rt_sum_not_mean", W, ("mean", "variance", "n - 1", "unbiased", "wrong amount"),
     fn(["m = x.mean(-1, keepdim=True)", "var = ((x - m) ** 2).sum(-1, keepdim=True) / (x.size(-1) - 1)",
         "return gamma * (x - m) / torch.sqrt(var + eps) + beta"], "layer_norm", LN), "layer_norm"),
    ("08.layer_norm", "rt_no_centering", W, ("centred", "mean", "subtract"),
     fn(["var = x.var(-1, unbiased=False, keepdim=True)", "return gamma * x / torch.sqrt(var + eps) + beta"],
        "layer_norm", LN), "layer_norm"),
    ("08.layer_norm", "rt_nn_layernorm", W, ("yourself", "built-in"),
     "from torch import nn\n" + fn(["ln = nn.LayerNorm(x.size(-1), eps=eps)", "return ln(x) * gamma + beta"],
                                   "layer_norm", LN), "layer_norm"),
    ("08.layer_norm", "rt_right_rsqrt", R, (),
     fn(["m = x.mean(-1, keepdim=True)", "c = x - m", "return c * torch.rsqrt(c.pow(2).mean(-1, keepdim=True) + eps) "
         "* gamma + beta"], "layer_norm", LN), "layer_norm"),
    # ------------------------------------------------------------------ 08.feed_forward
    ("08.feed_forward", "rt_relu_on_input", W, ("relu", "between", "second"),
     fn(["return torch.relu(x) @ w_1 @ w_2 + b_1 @ w_2 + b_2"], "feed_forward", FF), "feed_forward"),
    ("08.feed_forward", "rt_softplus", W, ("relu", "max(0"),
     "import torch.nn.functional as F\n" + fn(["return F.softplus(x @ w_1 + b_1) @ w_2 + b_2"], "feed_forward", FF),
     "feed_forward"),
    ("08.feed_forward", "rt_abs_activation", W, ("relu", "max(0", "positive part"),
     fn(["return (x @ w_1 + b_1).abs() @ w_2 + b_2"], "feed_forward", FF), "feed_forward"),
    ("08.feed_forward", "rt_right_maximum", R, (),
     fn(["h = torch.maximum(torch.addmm(b_1, x.reshape(-1, x.size(-1)), w_1), torch.zeros(()))",
         "return torch.addmm(b_2, h, w_2).reshape(*x.shape[:-1], -1)"], "feed_forward", FF), "feed_forward"),
    # ------------------------------------------------------------------ 08.decoder_layer
    ("08.decoder_layer", "rt_ffn_skipped", W, ("feed-forward", "ffn", "missing", "residual"),
     fn(["x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))",
         "x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))", "return layer.norm3(x)"],
        "decoder_layer", DL), "decoder_layer"),
    ("08.decoder_layer", "rt_masks_swapped", W, ("mask", "memory_mask", "tgt_mask", "fit"),
     fn(["x = layer.norm1(x + layer.self_attn(x, x, memory_mask))",
         "x = layer.norm2(x + layer.cross_attn(x, memory, tgt_mask))", "return layer.norm3(x + layer.ffn(x))"],
        "decoder_layer", DL), "decoder_layer"),
    ("08.decoder_layer", "rt_inverted_tgt_mask", W, ("invert", "polarity", "mask"),
     fn(["x = layer.norm1(x + layer.self_attn(x, x, ~tgt_mask))",
         "x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))", "return layer.norm3(x + layer.ffn(x))"],
        "decoder_layer", DL), "decoder_layer"),
    ("08.decoder_layer", "rt_right_loop", R, (),
     fn(["steps = [(layer.norm1, lambda h: layer.self_attn(h, h, tgt_mask)),",
         "         (layer.norm2, lambda h: layer.cross_attn(h, memory, memory_mask)),",
         "         (layer.norm3, layer.ffn)]", "for norm, sub in steps:", "    x = norm(x + sub(x))", "return x"],
        "decoder_layer", DL), "decoder_layer"),
    # ------------------------------------------------------------------ 08.fix_encoder_layer
    ("08.fix_encoder_layer", "rt_ffn_before_attention", W, ("order", "attention", "ffn", "h"),
     fn(["h = layer.norm1(x + layer.ffn(x))", "return layer.norm2(h + layer.self_attn(h, h, mask))"],
        "encoder_layer", EL), "encoder_layer"),
    ("08.fix_encoder_layer", "rt_double_residual", W, ("residual", "h + ffn(h)", "input", "x"),
     fn(["h = layer.norm1(x + layer.self_attn(x, x, mask))", "return layer.norm2(x + h + layer.ffn(h))"],
        "encoder_layer", EL), "encoder_layer"),
    ("08.fix_encoder_layer", "rt_inverted_mask", W, ("invert", "mask", "polarity"),
     fn(["h = layer.norm1(x + layer.self_attn(x, x, mask == 0))", "return layer.norm2(h + layer.ffn(h))"],
        "encoder_layer", EL), "encoder_layer"),
    ("08.fix_encoder_layer", "rt_right_named", R, (),
     fn(["attended = layer.self_attn(x, x, mask=mask)", "h = layer.norm1(torch.add(x, attended))",
         "return layer.norm2(torch.add(h, layer.ffn(h)))"], "encoder_layer", EL), "encoder_layer"),
    # ------------------------------------------------------------------ 09.teacher_forcing
    ("09.teacher_forcing", "rt_T_longest", W, ("columns", "1 + the longest", "one fewer", "T = 1"),
     fn(["T = max(len(s) for s in seqs)", "tin = [([bos_id] + s)[:T] + [pad_id] * (T - len(s) - 1) for s in seqs]",
         "tout = [(s + [eos_id])[:T] + [pad_id] * (T - len(s) - 1) for s in seqs]",
         "return torch.tensor(tin), torch.tensor(tout)"], "teacher_forcing", TF), "teacher_forcing"),
    ("09.teacher_forcing", "rt_float_tensors", W, ("dtype", "long"),
     fn(["T = 1 + max(len(s) for s in seqs)", "a = torch.full((len(seqs), T), float(pad_id))", "b = a.clone()",
         "for i, s in enumerate(seqs):", "    a[i, :len(s) + 1] = torch.tensor([bos_id] + s, dtype=torch.float)",
         "    b[i, :len(s) + 1] = torch.tensor(s + [eos_id], dtype=torch.float)", "return a, b"],
        "teacher_forcing", TF), "teacher_forcing"),
    ("09.teacher_forcing", "rt_eos_both", W, ("eos", "<eos>", "tgt_in", "never reads"),
     fn(["T = 1 + max(len(s) for s in seqs)", "pad = lambda r: r + [pad_id] * (T - len(r))",
         "tin = [pad(([bos_id] + s + [eos_id])[:-1] if len(s) + 1 == T else [bos_id] + s + [eos_id]) for s in seqs]",
         "tin = [r[:T] for r in tin]", "tout = [pad(s + [eos_id]) for s in seqs]",
         "return torch.tensor(tin), torch.tensor(tout)"], "teacher_forcing", TF), "teacher_forcing"),
    ("09.teacher_forcing", "rt_right_nested_tensor", R, (),
     "from torch.nn.utils.rnn import pad_sequence\n" + fn(
         ["tin = pad_sequence([torch.tensor([bos_id] + s) for s in seqs], batch_first=True, padding_value=pad_id)",
          "tout = pad_sequence([torch.tensor(s + [eos_id]) for s in seqs], batch_first=True, padding_value=pad_id)",
          "return tin.long(), tout.long()"], "teacher_forcing", TF), "teacher_forcing"),
    # ------------------------------------------------------------------ 09.label_smoothed_loss
    ("09.label_smoothed_loss", "rt_smooth_logits", W, ("log_softmax", "logits", "log-probabilities"),
     loss("logp = logits.log_softmax(-1)", "logp = logits - logits.mean(-1, keepdim=True)"), "label_smoothed_loss"),
    ("09.label_smoothed_loss", "rt_pad_weight_zero_mean", W, ("pad", "padding", "non-pad"),
     loss("return loss[target != pad_id].mean()", "return (loss * (target != pad_id)).mean()"), "label_smoothed_loss"),
    ("09.label_smoothed_loss", "rt_item", W, ("python number", ".item()", "tensor"),
     loss("return loss[target != pad_id].mean()", "return loss[target != pad_id].mean().item()"),
     "label_smoothed_loss"),
    ("09.label_smoothed_loss", "rt_detached", W, ("graph", "gradient", "detach"),
     loss("logp = logits.log_softmax(-1)", "logp = logits.detach().log_softmax(-1)"), "label_smoothed_loss"),
    ("09.label_smoothed_loss", "rt_smoothing_unweighted", W, ("1 - smoothing", "weighted", "smoothing"),
     loss("loss = (1 - smoothing) * nll - smoothing * logp.mean(-1)", "loss = nll - smoothing * logp.sum(-1) / "
          "logp.size(-1)"), "label_smoothed_loss"),
    ("09.label_smoothed_loss", "rt_right_one_hot", R, (),
     "import torch.nn.functional as F\n" + fn(
         ["V = logits.size(-1)", "q = F.one_hot(target, V).to(logits.dtype) * (1 - smoothing) + smoothing / V",
          "per = -(q * logits.log_softmax(-1)).sum(-1)", "keep = (target != pad_id).to(per.dtype)",
          "return (per * keep).sum() / keep.sum()"], "label_smoothed_loss", LS), "label_smoothed_loss"),
    # ------------------------------------------------------------------ 09.warmup_lr
    ("09.warmup_lr", "rt_warmup_squared", W, ("warm-up", "exponent", "-1.5", "warmup"),
     fn(["if step == 0:", "    return 0.0", "return d_model ** -0.5 * min(step ** -0.5, step / warmup ** 2)"],
        "warmup_lr", WL), "warmup_lr"),
    ("09.warmup_lr", "rt_no_d_model", W, ("d_model",),
     fn(["if step == 0:", "    return 0.0", "return min(step ** -0.5, step * warmup ** -1.5)"], "warmup_lr", WL),
     "warmup_lr"),
    ("09.warmup_lr", "rt_step_zero_one", W, ("step 0", "0.0"),
     fn(["step = max(step, 1)", "return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)"],
        "warmup_lr", WL), "warmup_lr"),
    ("09.warmup_lr", "rt_right_numpy", R, (),
     "import numpy as np\n" + fn(["if step == 0:", "    return 0.0",
                                  "return float(np.minimum(step ** -0.5, step * warmup ** -1.5) / np.sqrt(d_model))"],
                                 "warmup_lr", WL), "warmup_lr"),
    # ------------------------------------------------------------------ 09.predict_peak_lr
    ("09.predict_peak_lr", "rt_double", W, ("factor", "twice", "square root", "2"),
     "prediction = 2 * (512 * 4000) ** -0.5", "prediction"),
    ("09.predict_peak_lr", "rt_tenth", W, ("power", "decimal", "digits"), "prediction = 7e-5", "prediction"),
    ("09.predict_peak_lr", "rt_right_fraction_of_sqrt", R, (), "import math\nprediction = 1 / math.sqrt(512 * 4000)",
     "prediction"),
    # ------------------------------------------------------------------ 10.greedy_decode
    ("10.greedy_decode", "rt_no_break", W, ("stop", "finished", "all rows", "columns"),
     greedy("    if done.all():\n        break", "    pass"), "greedy_decode"),
    ("10.greedy_decode", "rt_mask_2d", W, ("src_mask", "(b, 1, 1, s)", "mask"),
     greedy("src_mask = (src != pad_id)[:, None, None, :]", "src_mask = (src != pad_id)"), "greedy_decode"),
    ("10.greedy_decode", "rt_softmax_sample", W, ("most likely", "argmax", "sampling"),
     greedy("nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)",
            "nxt = torch.multinomial(model.decode(ys, memory, src_mask)[:, -1].softmax(-1), 1)[:, 0]"),
     "greedy_decode"),
    ("10.greedy_decode", "rt_eos_id_as_start", W, ("bos", "<bos>", "start"),
     greedy("ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)",
            "ys = torch.full((src.size(0), 1), eos_id, dtype=torch.long)"), "greedy_decode"),
    ("10.greedy_decode", "rt_right_while", R, (),
     fn(["src_mask = (src != pad_id).unsqueeze(1).unsqueeze(1)", "memory = model.encode(src, src_mask)",
         "ys = src.new_full((src.size(0), 1), bos_id)", "alive = torch.ones(src.size(0), dtype=torch.bool)",
         "while ys.size(1) <= max_new_tokens and alive.any():",
         "    nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)",
         "    nxt = torch.where(alive, nxt, torch.full_like(nxt, pad_id))",
         "    ys = torch.cat([ys, nxt.unsqueeze(1)], dim=1)", "    alive = alive & (nxt != eos_id)",
         "return ys[:, 1:]"],
        "greedy_decode", GD), "greedy_decode"),
    # ------------------------------------------------------------------ 10.beam_step
    ("10.beam_step", "rt_argsort_ascending", W, ("best first", "sort", "highest", "lowest"),
     fn(["V = log_probs.size(-1)", "tot = (beam_scores[:, None] + log_probs).flatten()",
         "idx = tot.argsort()[-beam_size:]", "return tot[idx], idx // V, idx % V"], "beam_step", BS), "beam_step"),
    ("10.beam_step", "rt_mean_not_sum", W, ("add", "sum", "beam_scores[k] + log_probs"),
     fn(["V = log_probs.size(-1)", "tot = ((beam_scores[:, None] + log_probs) / 2).flatten()",
         "s, i = tot.topk(beam_size)", "return s, i // V, i % V"], "beam_step", BS), "beam_step"),
    ("10.beam_step", "rt_token_from_modulo_K", W, ("split", "flat % v", "by k", "token"),
     fn(["K, V = log_probs.shape", "s, i = (beam_scores[:, None] + log_probs).flatten().topk(beam_size)",
         "return s, i // V, i % K"], "beam_step", BS), "beam_step"),
    ("10.beam_step", "rt_right_unravel", R, (),
     fn(["K, V = log_probs.shape", "tot = beam_scores.view(K, 1) + log_probs",
         "s, i = torch.topk(tot.reshape(-1), k=beam_size, largest=True, sorted=True)",
         "return s, torch.div(i, V, rounding_mode='floor'), torch.remainder(i, V)"], "beam_step", BS), "beam_step"),
    # ------------------------------------------------------------------ 10.length_penalty
    ("10.length_penalty", "rt_plus_length_over_6", W, ("brackets", "(5 + length)", "((5 + length) / 6)"),
     fn(["return log_prob / (5 + length) / 6 ** alpha"], "length_normalised_score", LP), "length_normalised_score"),
    ("10.length_penalty", "rt_exp_alpha", W, ("alpha", "exponent", "power"),
     "import math\n" + fn(["return log_prob / ((5 + length) / 6) * math.exp(-alpha)"], "length_normalised_score", LP),
     "length_normalised_score"),
    ("10.length_penalty", "rt_length_minus_one", W, ("5", "(5 + length)", "constant", "penalty"),
     fn(["return log_prob / ((4 + length) / 6) ** alpha"], "length_normalised_score", LP), "length_normalised_score"),
    ("10.length_penalty", "rt_right_log_exp", R, (),
     fn(["return log_prob * torch.exp(-alpha * torch.log((5 + length) / 6))"], "length_normalised_score", LP),
     "length_normalised_score"),
    # ------------------------------------------------------------------ 10.kv_cache_step
    ("10.kv_cache_step", "rt_cat_batch", W, ("wrong axis", "dim=-2", "time"),
     kv("    k = torch.cat([cache[0], k_new], dim=-2)", "    k = torch.cat([cache[0], k_new], dim=0)"),
     "kv_cache_step"),
    ("10.kv_cache_step", "rt_stack_new_axis", W, ("wrong axis", "dim=-2", "time", "cat"),
     kv("    k = torch.cat([cache[0], k_new], dim=-2)\n    v = torch.cat([cache[1], v_new], dim=-2)",
        "    k = torch.stack([cache[0], k_new], dim=2).flatten(2, 3)\n    v = torch.stack([cache[1], v_new], dim=2)"),
     "kv_cache_step"),
    ("10.kv_cache_step", "rt_cache_only_past", W, ("new", "itself", "append", "first"),
     kv("return w @ v, (k, v)", "return w @ v, (cache if cache is not None else (k, v))"), "kv_cache_step"),
    ("10.kv_cache_step", "rt_scale_by_T", W, ("sqrt(d_k)", "scaled", "divide"),
     kv("math.sqrt(q.size(-1))", "math.sqrt(k.size(-2))"), "kv_cache_step"),
    ("10.kv_cache_step", "rt_right_cat_float64", R, (),
     fn(["k = k_new if cache is None else torch.cat((cache[0], k_new), -2)",
         "v = v_new if cache is None else torch.cat((cache[1], v_new), -2)",
         "s = torch.einsum('bhqd,bhkd->bhqk', q.double(), k.double()) / q.size(-1) ** 0.5",
         "return (s.softmax(-1) @ v.double()).to(q.dtype), (k, v)"], "kv_cache_step", KV), "kv_cache_step"),
]
