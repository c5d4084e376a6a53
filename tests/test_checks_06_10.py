"""Checkers of exercises 06-10: every correct variant passes, every known mistake fails
with its own hint, garbage fails with a clear reason and never raises."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_utils.course.checks import check
from course_utils.course.checks import lessons_06_10 as L


@pytest.fixture(autouse=True)
def _not_strict(monkeypatch):
    monkeypatch.delenv("COURSE_STRICT", raising=False)
    monkeypatch.setenv("COURSE_NO_PROGRESS", "1")


def passes(ex_id, obj):
    r = check(ex_id, obj)
    assert r.status == "passed", repr(r)


def fails_with(ex_id, obj, *fragments):
    r = check(ex_id, obj)
    assert r.status == "failed", repr(r)
    text = f"{r.message} {r.hint or ''}"
    for frag in fragments:
        assert frag in text, f"{frag!r} not in:\n{r!r}"
    return r


# ------------------------------------------------------------------ 06
def causal_tril(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


def causal_compare(T):
    i = torch.arange(T)
    return i[:, None] >= i[None, :]


def causal_loops(T):
    m = torch.zeros(T, T, dtype=torch.bool)
    for i in range(T):
        for j in range(i + 1):
            m[i, j] = True
    return m


@pytest.mark.parametrize("fn", [causal_tril, causal_compare, causal_loops])
def test_causal_mask_correct(fn):
    passes("06.causal_mask", fn)


@pytest.mark.parametrize("fn,hint", [
    (lambda T: torch.ones(T, T, dtype=torch.bool).triu(1), "torch.nn's convention"),
    (lambda T: torch.ones(T, T, dtype=torch.bool).triu(), "see the future"),
    (lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1), "attend to itself"),
    (lambda T: torch.nn.Transformer.generate_square_subsequent_mask(T), "float mask"),
    (lambda T: torch.ones(T, T, dtype=torch.long).tril(), "wrong dtype"),
])
def test_causal_mask_mistakes(fn, hint):
    fails_with("06.causal_mask", fn, hint)


def pad_mask(tokens, pad_id):
    return (tokens != pad_id)[:, None, None, :]


def pad_mask_unsqueeze(tokens, pad_id):
    return tokens.ne(pad_id).unsqueeze(1).unsqueeze(2)


@pytest.mark.parametrize("fn", [pad_mask, pad_mask_unsqueeze])
def test_padding_mask_correct(fn):
    passes("06.padding_mask", fn)


@pytest.mark.parametrize("fn,hint", [
    (lambda t, p: (t == p)[:, None, None, :], "Polarity inverted"),
    (lambda t, p: t != p, "shape (B, T)"),
    (lambda t, p: (t != p)[:, None, :, None], "*queries*"),
    (lambda t, p: (t != 0)[:, None, None, :], "pad_id argument"),
])
def test_padding_mask_mistakes(fn, hint):
    fails_with("06.padding_mask", fn, hint)


def dec_mask(tgt, pad_id):
    T = tgt.size(1)
    return (tgt != pad_id)[:, None, None, :] & torch.ones(T, T, dtype=torch.bool).tril()


def dec_mask_logical(tgt, pad_id):
    T = tgt.size(1)
    pad = (tgt != pad_id).unsqueeze(1).unsqueeze(1).expand(-1, 1, T, T)
    return torch.logical_and(pad, torch.ones(T, T).tril().bool())


@pytest.mark.parametrize("fn", [dec_mask, dec_mask_logical])
def test_decoder_mask_correct(fn):
    passes("06.decoder_mask", fn)


@pytest.mark.parametrize("fn,hint", [
    (lambda t, p: (t != p)[:, None, None, :] | causal_tril(t.size(1)), "combine with `&`"),
    (lambda t, p: causal_tril(t.size(1)).expand(t.size(0), 1, t.size(1), t.size(1)), "Only the causal part"),
    (lambda t, p: (t != p)[:, None, None, :].expand(t.size(0), 1, t.size(1), t.size(1)), "Only the padding part"),
    (lambda t, p: (t != p)[:, None, :, None] & causal_tril(t.size(1)), "instead of the padded keys"),
    (lambda t, p: (t != p)[:, None, :, None] & (t != p)[:, None, None, :] & causal_tril(t.size(1)),
     "fully masked"),
])
def test_decoder_mask_mistakes(fn, hint):
    fails_with("06.decoder_mask", fn, hint)


def ms_nan_to_num(scores, mask):
    return scores.masked_fill(~mask, float("-inf")).softmax(-1).nan_to_num(0.0)


def ms_where(scores, mask):
    w = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    return torch.where(mask.any(-1, keepdim=True), w, torch.zeros_like(w))


def ms_big_negative(scores, mask):
    return scores.masked_fill(~mask, -1e9).softmax(-1) * mask


def ms_by_hand(scores, mask):
    e = (scores - scores.amax(-1, keepdim=True)).exp() * mask
    total = e.sum(-1, keepdim=True)
    return torch.where(total > 0, e / total.clamp_min(1e-30), torch.zeros_like(e))


@pytest.mark.parametrize("fn", [ms_nan_to_num, ms_where, ms_big_negative, ms_by_hand])
def test_masked_softmax_correct(fn):
    passes("06.masked_softmax", fn)


@pytest.mark.parametrize("fn,hint", [
    (lambda s, m: s.masked_fill(~m, float("-inf")).softmax(-1), "gives NaN"),
    (lambda s, m: s.masked_fill(~m, -1e9).softmax(-1), "evenly over the *blocked* keys"),
    (lambda s, m: s.masked_fill(~m, 0.0).softmax(-1), "exp(0) = 1"),
    (lambda s, m: s.softmax(-1) * m, "*after* the softmax"),
    (lambda s, m: s.masked_fill(m, float("-inf")).softmax(-1).nan_to_num(0.0), "Polarity inverted"),
    (lambda s, m: s.masked_fill(~m, float("-inf")).softmax(-2).nan_to_num(0.0), "wrong axis"),
])
def test_masked_softmax_mistakes(fn, hint):
    fails_with("06.masked_softmax", fn, hint)


def border_fixed(mha, x, tgt, pad_id):
    T = x.size(1)
    attn_mask = ~torch.ones(T, T, dtype=torch.bool).tril()
    out, _ = mha(x, x, x, attn_mask=attn_mask, key_padding_mask=(tgt == pad_id))
    return out


def border_float_mask(mha, x, tgt, pad_id):
    T = x.size(1)
    out, _ = mha(x, x, x, attn_mask=torch.nn.Transformer.generate_square_subsequent_mask(T),
                 key_padding_mask=(tgt == pad_id).float().masked_fill(tgt == pad_id, float("-inf")))
    return out


def border_buggy(mha, x, tgt, pad_id):
    T = x.size(1)
    attn_mask = torch.ones(T, T, dtype=torch.bool).tril()
    out, _ = mha(x, x, x, attn_mask=attn_mask, key_padding_mask=(tgt != pad_id))
    return out


@pytest.mark.parametrize("fn", [border_fixed, border_float_mask])
def test_nn_border_correct(fn):
    passes("06.nn_border", fn)


def test_nn_border_mistakes():
    fails_with("06.nn_border", border_buggy, "Invert both")

    def half(mha, x, tgt, pad_id):
        T = x.size(1)
        return mha(x, x, x, attn_mask=torch.ones(T, T, dtype=torch.bool).tril(), key_padding_mask=(tgt == pad_id))[0]
    fails_with("06.nn_border", half, "attn_mask is still True = may attend")

    def no_pad(mha, x, tgt, pad_id):
        T = x.size(1)
        return mha(x, x, x, attn_mask=~torch.ones(T, T, dtype=torch.bool).tril())[0]
    fails_with("06.nn_border", no_pad, "key_padding_mask=(tgt == pad_id)")


# ------------------------------------------------------------------ 07
def cross_matmul(x, memory, w_q, w_k, w_v, src_mask=None):
    q, k, v = x @ w_q, memory @ w_k, memory @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if src_mask is not None:
        scores = scores.masked_fill(~src_mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def cross_einsum(x, memory, w_q, w_k, w_v, src_mask=None):
    q = torch.einsum("btd,dk->btk", x, w_q)
    k = torch.einsum("bsd,dk->bsk", memory, w_k)
    v = torch.einsum("bsd,dk->bsk", memory, w_v)
    scores = torch.einsum("btk,bsk->bts", q, k) / q.shape[-1] ** 0.5
    if src_mask is not None:
        scores = scores.masked_fill(src_mask.logical_not(), -1e9)
    weights = scores.softmax(-1)
    return torch.einsum("bts,bsv->btv", weights, v), weights


@pytest.mark.parametrize("fn", [cross_matmul, cross_einsum])
def test_cross_attention_correct(fn):
    passes("07.cross_attention", fn)


def _cross(q_from="x", scale=None, dim=-1, mask=True):
    def fn(x, memory, w_q, w_k, w_v, src_mask=None):
        qs, kvs = (x, memory) if q_from == "x" else (memory, x)
        q, k, v = qs @ w_q, kvs @ w_k, kvs @ w_v
        scores = q @ k.transpose(-2, -1) / (math.sqrt(q.size(-1)) if scale is None else scale)
        if mask and src_mask is not None:
            scores = scores.masked_fill(~src_mask, float("-inf"))
        w = scores.softmax(dim)
        return w @ v, w
    return fn


@pytest.mark.parametrize("fn,hint", [
    (_cross(q_from="memory"), "Roles swapped"),
    (_cross(scale=1.0), "not scaled"),
    (_cross(scale=4.0), "square root"),
    (_cross(scale=math.sqrt(8)), "sqrt(d_model)"),
    (_cross(dim=-2), "wrong axis"),
    (_cross(mask=False), "src_mask is ignored"),
])
def test_cross_attention_mistakes(fn, hint):
    fails_with("07.cross_attention", fn, hint)


def test_cross_attention_one_output():
    fails_with("07.cross_attention", lambda *a: cross_matmul(*a)[0], "Expected a tuple of 2 values")


@pytest.mark.parametrize("fn", [
    lambda w: w.mean(dim=1).argmax(dim=-1),
    lambda w: w.sum(1).argmax(-1),
    lambda w: torch.stack([w[b].mean(0).argmax(-1) for b in range(w.size(0))]),
])
def test_alignment_correct(fn):
    passes("07.alignment", fn)


@pytest.mark.parametrize("fn,hint", [
    (lambda w: w[:, 0].argmax(-1), "head 0 only"),
    (lambda w: w.amax(1).argmax(-1), "maximum over heads"),
    (lambda w: w.mean(1).argmax(-1).float(), "integer indices"),
    (lambda w: w.mean(1).argmax(-2), "wrong axis"),
])
def test_alignment_mistakes(fn, hint):
    fails_with("07.alignment", fn, hint)


def test_predict_alignment():
    assert L.predict_alignment_truth() == ["I", "love", "cats"]
    passes("07.predict_alignment", ["I", "love", "cats"])
    fails_with("07.predict_alignment", ["I", "love", "<pad>"], "source mask blocks it")
    fails_with("07.predict_alignment", ["I", "cats", "love"], "2 of 3 predictions are off")
    fails_with("07.predict_alignment", ["I", "love"], "expected 3 words")
    fails_with("07.predict_alignment", ["I", "love", "dog"], "not a source token")
    fails_with("07.predict_alignment", "cats", "list of 3 source words")
    assert check("07.predict_alignment", ...).status == "pending"


# ------------------------------------------------------------------ 08
def test_predict_layernorm():
    assert L.predict_layernorm_truth() == [-1.34, -0.45, 0.45, 1.34]
    passes("08.predict_layernorm", [-1.34, -0.45, 0.45, 1.34])
    passes("08.predict_layernorm", torch.tensor([-1.3416, -0.4472, 0.4472, 1.3416]))
    fails_with("08.predict_layernorm", [-1.16, -0.39, 0.39, 1.16], "unbiased")
    fails_with("08.predict_layernorm", [-1.5, -0.5, 0.5, 1.5], "did not divide")
    fails_with("08.predict_layernorm", [0, 0, 0, 0], "Subtract the mean")
    fails_with("08.predict_layernorm", "0.45", "list of 4 numbers")
    assert check("08.predict_layernorm", ...).status == "pending"


def ln_var(x, gamma, beta, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def ln_rsqrt(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, unbiased=False, keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps) * gamma + beta


@pytest.mark.parametrize("fn", [ln_var, ln_rsqrt])
def test_layer_norm_correct(fn):
    passes("08.layer_norm", fn)


def _ln(unbiased=False, eps_inside=True, dim=-1, affine=True):
    def fn(x, gamma, beta, eps=1e-5):
        mean = x.mean(dim, keepdim=True)
        std = x.std(dim, unbiased=unbiased, keepdim=True) if not eps_inside else None
        y = (x - mean) / (std + eps if std is not None else (x.var(dim, unbiased=unbiased, keepdim=True) + eps).sqrt())
        return y * gamma + beta if affine else y
    return fn


@pytest.mark.parametrize("fn,hint", [
    (_ln(unbiased=True), "unbiased variance"),
    (_ln(eps_inside=False), "eps is outside the square root"),
    (_ln(affine=False), "gamma and beta are not applied"),
    (_ln(dim=0), "wrong axis"),
])
def test_layer_norm_mistakes(fn, hint):
    fails_with("08.layer_norm", fn, hint)


@pytest.mark.parametrize("fn", [
    lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1 + b_1) @ w_2 + b_2,
    lambda x, w_1, b_1, w_2, b_2: F.linear(F.relu(F.linear(x, w_1.T, b_1)), w_2.T, b_2),
    lambda x, w_1, b_1, w_2, b_2: torch.clamp(x @ w_1 + b_1, min=0) @ w_2 + b_2,
])
def test_feed_forward_correct(fn):
    passes("08.feed_forward", fn)


@pytest.mark.parametrize("fn,hint", [
    (lambda x, w_1, b_1, w_2, b_2: (x @ w_1 + b_1) @ w_2 + b_2, "No non-linearity"),
    (lambda x, w_1, b_1, w_2, b_2: torch.relu(torch.relu(x @ w_1 + b_1) @ w_2 + b_2), "second one has no activation"),
    (lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1) @ w_2 + b_2, "b_1 is missing"),
])
def test_feed_forward_mistakes(fn, hint):
    fails_with("08.feed_forward", fn, hint)


def decoder_layer_post_ln(layer, x, memory, tgt_mask, memory_mask):
    x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))
    x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))
    return layer.norm3(x + layer.ffn(x))


def decoder_layer_module(layer, x, memory, tgt_mask, memory_mask):
    return layer(x, memory, tgt_mask, memory_mask)


@pytest.mark.parametrize("fn", [decoder_layer_post_ln, decoder_layer_module])
def test_decoder_layer_correct(fn):
    passes("08.decoder_layer", fn)


def test_decoder_layer_mistakes():
    def pre_ln(layer, x, memory, tgt_mask, memory_mask):
        h = layer.norm1(x)
        x = x + layer.self_attn(h, h, tgt_mask)
        x = x + layer.cross_attn(layer.norm2(x), memory, memory_mask)
        return x + layer.ffn(layer.norm3(x))
    fails_with("08.decoder_layer", pre_ln, "pre-LN")

    def no_causal(layer, x, memory, tgt_mask, memory_mask):
        return decoder_layer_post_ln(layer, x, memory, None, memory_mask)
    fails_with("08.decoder_layer", no_causal, "got no mask")

    def self_twice(layer, x, memory, tgt_mask, memory_mask):
        x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))
        x = layer.norm2(x + layer.cross_attn(x, x, None))
        return layer.norm3(x + layer.ffn(x))
    fails_with("08.decoder_layer", self_twice, "encoder's memory")

    def no_res_ffn(layer, x, memory, tgt_mask, memory_mask):
        x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))
        x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))
        return layer.norm3(layer.ffn(x))
    fails_with("08.decoder_layer", no_res_ffn, "around the feed-forward")


def encoder_fixed(layer, x, mask):
    h = layer.norm1(x + layer.self_attn(x, x, mask))
    return layer.norm2(h + layer.ffn(h))


def test_fix_encoder_layer():
    passes("08.fix_encoder_layer", encoder_fixed)
    passes("08.fix_encoder_layer", lambda layer, x, mask: layer(x, mask))

    def buggy(layer, x, mask):
        h = layer.norm1(x + layer.self_attn(x, x, mask))
        return layer.norm2(x + layer.ffn(h))
    fails_with("08.fix_encoder_layer", buggy, "Still the original bug")

    def no_res(layer, x, mask):
        return layer.norm2(layer.ffn(layer.norm1(x + layer.self_attn(x, x, mask))))
    fails_with("08.fix_encoder_layer", no_res, "residual around the feed-forward")


# ------------------------------------------------------------------ 09
def lr_min(step, d_model, warmup):
    if step == 0:
        return 0.0
    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


def lr_branch(step, d_model, warmup):
    if step < 1:
        return 0.0
    if step < warmup:
        return step * warmup ** -1.5 / math.sqrt(d_model)
    return 1 / math.sqrt(d_model * step)


@pytest.mark.parametrize("fn", [lr_min, lr_branch])
def test_warmup_lr_correct(fn):
    passes("09.warmup_lr", fn)


@pytest.mark.parametrize("fn,hint", [
    (lambda s, d, w: 0.0 if s == 0 else d ** -0.5 * max(s ** -0.5, s * w ** -1.5), "max instead of min"),
    (lambda s, d, w: 0.0 if s == 0 else min(s ** -0.5, s * w ** -1.5), "d_model^-0.5 is missing"),
    (lambda s, d, w: 0.0 if s == 0 else d ** -0.5 * min(s ** -0.5, s * w ** -0.5), "exponent is -1.5"),
    (lambda s, d, w: d ** -0.5 * min(s ** -0.5, s * w ** -1.5), "divides by zero"),
])
def test_warmup_lr_mistakes(fn, hint):
    fails_with("09.warmup_lr", fn, hint)


def ls_torch(logits, target, smoothing, pad_id):
    V = logits.size(-1)
    return F.cross_entropy(logits.view(-1, V), target.view(-1), ignore_index=pad_id, label_smoothing=smoothing)


def ls_by_hand(logits, target, smoothing, pad_id):
    logp = logits.log_softmax(-1)
    V = logits.size(-1)
    nll = -logp.gather(-1, target[..., None])[..., 0]
    smooth = -logp.mean(-1)
    loss = (1 - smoothing) * nll + smoothing * smooth
    keep = target != pad_id
    return (loss * keep).sum() / keep.sum()


@pytest.mark.parametrize("fn", [ls_torch, ls_by_hand])
def test_label_smoothed_loss_correct(fn):
    passes("09.label_smoothed_loss", fn)


def test_label_smoothed_loss_mistakes():
    def no_pad(logits, target, smoothing, pad_id):
        V = logits.size(-1)
        return F.cross_entropy(logits.view(-1, V), target.view(-1), label_smoothing=smoothing)
    fails_with("09.label_smoothed_loss", no_pad, "Padding is counted")

    def no_smooth(logits, target, smoothing, pad_id):
        return ls_torch(logits, target, 0.0, pad_id)
    fails_with("09.label_smoothed_loss", no_smooth, "No smoothing")

    def others(logits, target, smoothing, pad_id):
        logp = logits.log_softmax(-1)
        V = logits.size(-1)
        q = torch.full_like(logp, smoothing / (V - 1)).scatter(-1, target[..., None], 1 - smoothing)
        loss = -(q * logp).sum(-1)
        return loss[target != pad_id].mean()
    fails_with("09.label_smoothed_loss", others, "V - 1 *other* tokens")

    fails_with("09.label_smoothed_loss", lambda *a: ls_torch(*a).item(), "don't call .item()")
    fails_with("09.label_smoothed_loss", lambda *a: ls_torch(*a).detach(), "cut off from the graph")


def tf_solution(seqs, bos_id, eos_id, pad_id):
    T = max(len(s) for s in seqs) + 1
    tgt_in = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    tgt_out = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        tgt_in[i, : len(s) + 1] = torch.tensor([bos_id, *s])
        tgt_out[i, : len(s) + 1] = torch.tensor([*s, eos_id])
    return tgt_in, tgt_out


def tf_pad_sequence(seqs, bos_id, eos_id, pad_id):
    full = torch.nn.utils.rnn.pad_sequence([torch.tensor([bos_id, *s, eos_id]) for s in seqs],
                                           batch_first=True, padding_value=pad_id)
    lengths = torch.tensor([len(s) + 1 for s in seqs])
    tgt_in = full[:, :-1].masked_fill(torch.arange(full.size(1) - 1) >= lengths[:, None], pad_id)
    return tgt_in, full[:, 1:]


@pytest.mark.parametrize("fn", [tf_solution, tf_pad_sequence])
def test_teacher_forcing_correct(fn):
    passes("09.teacher_forcing", fn)


def test_teacher_forcing_mistakes():
    fails_with("09.teacher_forcing", lambda *a: tf_solution(*a)[::-1], "swapped")

    def no_shift(seqs, b, e, p):
        t = torch.nn.utils.rnn.pad_sequence([torch.tensor([b, *s, e]) for s in seqs], batch_first=True,
                                            padding_value=p)
        return t, t.clone()
    fails_with("09.teacher_forcing", no_shift, "No shift")
    fails_with("09.teacher_forcing", lambda s, b, e, p: tf_solution(s, b, e, 0), "Padding with 0")
    fails_with("09.teacher_forcing", lambda *a: tuple(t.float() for t in tf_solution(*a)), "dtype")


# ------------------------------------------------------------------ 10
def greedy_solution(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    memory = model.encode(src)
    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    done = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_new_tokens):
        nxt = model.decode(ys, memory)[:, -1].argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
        ys = torch.cat([ys, nxt[:, None]], dim=1)
        done = done | (nxt == eos_id)
        if done.all():
            break
    return ys[:, 1:]


def greedy_forward_lists(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    rows = [[bos_id] for _ in range(src.size(0))]
    finished = [False] * src.size(0)
    for _ in range(max_new_tokens):
        tgt = torch.tensor(rows)
        logits = model(src, tgt)
        for b in range(len(rows)):
            tok = pad_id if finished[b] else int(logits[b, -1].argmax())
            rows[b].append(tok)
            finished[b] = finished[b] or tok == eos_id
        if all(finished):
            break
    return torch.tensor(rows)[:, 1:]


@pytest.mark.parametrize("fn", [greedy_solution, greedy_forward_lists])
def test_greedy_decode_correct(fn):
    passes("10.greedy_decode", fn)


def test_greedy_decode_mistakes():
    def never_stop(model, src, n, bos, eos, pad):
        return L._greedy(model, src, n, bos, eos, pad, stop="never")
    fails_with("10.greedy_decode", never_stop, "always runs max_new_tokens")

    def no_pad(model, src, n, bos, eos, pad):
        return L._greedy(model, src, n, bos, eos, pad, pad_after=False)
    fails_with("10.greedy_decode", no_pad, "keep generating")

    def with_bos(model, src, n, bos, eos, pad):
        return L._greedy(model, src, n, bos, eos, pad, keep_bos=True)
    fails_with("10.greedy_decode", with_bos, "starts with <bos>")

    def hard_coded_ids(model, src, n, bos, eos, pad):
        return greedy_solution(model, src, n, 1, 2, pad)
    fails_with("10.greedy_decode", hard_coded_ids, "bos_id argument")


def beam_flat(log_probs, beam_scores, beam_size):
    V = log_probs.size(-1)
    s, idx = (beam_scores[:, None] + log_probs).view(-1).topk(beam_size)
    return s, idx // V, idx % V


def beam_sort(log_probs, beam_scores, beam_size):
    total = beam_scores.unsqueeze(1) + log_probs
    order = total.flatten().argsort(descending=True)[:beam_size]
    b, t = torch.unravel_index(order, total.shape)
    return total[b, t], b, t


@pytest.mark.parametrize("fn", [beam_flat, beam_sort])
def test_beam_step_correct(fn):
    passes("10.beam_step", fn)


def test_beam_step_mistakes():
    def per_beam(lp, sc, k):
        total = sc[:, None] + lp
        s, tok = total.max(-1)
        order = s.argsort(descending=True)[:k]
        return s[order], order, tok[order]
    fails_with("10.beam_step", per_beam, "best token of *each* beam")
    fails_with("10.beam_step", lambda lp, sc, k: beam_flat(lp, sc * 0, k), "running scores are ignored")

    def flat_tok(lp, sc, k):
        s, idx = (sc[:, None] + lp).view(-1).topk(k)
        return s, idx // lp.size(-1), idx
    fails_with("10.beam_step", flat_tok, "flat index")


def cache_step(q, k_new, v_new, cache):
    if cache is not None:
        k_new = torch.cat([cache[0], k_new], dim=2)
        v_new = torch.cat([cache[1], v_new], dim=2)
    w = (q @ k_new.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)
    return w @ v_new, (k_new, v_new)


def cache_step_sdpa(q, k_new, v_new, cache):
    k = k_new if cache is None else torch.cat((cache[0], k_new), -2)
    v = v_new if cache is None else torch.cat((cache[1], v_new), -2)
    return F.scaled_dot_product_attention(q, k, v), [k, v]


@pytest.mark.parametrize("fn", [cache_step, cache_step_sdpa])
def test_kv_cache_step_correct(fn):
    passes("10.kv_cache_step", fn)


def test_kv_cache_step_mistakes():
    def no_cache(q, k_new, v_new, cache):
        out, kv = cache_step(q, k_new, v_new, cache)
        return cache_step(q, k_new, v_new, None)[0], kv
    fails_with("10.kv_cache_step", no_cache, "attends only to the new key")

    def prepend(q, k_new, v_new, cache):
        if cache is not None:
            cache = (k_new, v_new)
            k_new, v_new = cache_step(q, k_new, v_new, None)[1]
        return cache_step(q, k_new, v_new, cache)
    r = check("10.kv_cache_step", prepend)
    assert r.status == "failed"

    def wrong_axis(q, k_new, v_new, cache):
        if cache is None:
            return cache_step(q, k_new, v_new, None)
        return cache_step(q, k_new, v_new, None)[0], (torch.cat([cache[0], k_new], -1), cache[1])
    fails_with("10.kv_cache_step", wrong_axis, "RuntimeError", "Sizes of tensors must match")

    def not_stored(q, k_new, v_new, cache):
        return cache_step(q, k_new, v_new, cache)[0], (k_new, v_new)
    fails_with("10.kv_cache_step", not_stored, "returned cache holds only the new position")


# ------------------------------------------------------------------ garbage, for every exercise
FUNCTION_IDS = ["10.length_penalty", "06.causal_mask", "06.padding_mask", "06.decoder_mask", "06.masked_softmax", "06.nn_border",
                "07.cross_attention", "07.alignment", "08.layer_norm", "08.feed_forward", "08.decoder_layer",
                "08.fix_encoder_layer", "09.warmup_lr", "09.label_smoothed_loss", "09.teacher_forcing",
                "10.greedy_decode", "10.beam_step", "10.kv_cache_step"]


def _raise_not_implemented(*args):
    raise NotImplementedError("Exercise: your code here")


def _raise_value_error(*args):
    raise ValueError("boom")


@pytest.mark.parametrize("ex_id", FUNCTION_IDS)
def test_garbage_never_raises(ex_id):
    assert check(ex_id, _raise_not_implemented).status == "pending"
    r = check(ex_id, _raise_value_error)
    assert r.status == "failed" and "ValueError" in r.message and "boom" in r.message
    assert check(ex_id, lambda *a: None).status == "failed"
    assert check(ex_id, lambda *a: "nonsense").status == "failed"
    assert check(ex_id, lambda *a: torch.full((2, 3), float("nan"))).status == "failed"
    r = check(ex_id, 42)
    assert r.status == "failed" and "Expected the function" in r.message


def test_nan_output_named():
    def nan_softmax(scores, mask):
        return ms_nan_to_num(scores, mask) * float("nan")
    fails_with("06.masked_softmax", nan_softmax, "NaN")


def test_in_place_mutation_named():
    def mutating(scores, mask):
        scores.masked_fill_(~mask, float("-inf"))
        return scores.softmax(-1).nan_to_num(0.0)
    fails_with("06.masked_softmax", mutating, "in place")


def test_every_exercise_registered():
    from course_utils.course.checks import registry
    ours = {k for k in registry() if k[:2] in ("06", "07", "08", "09", "10")}
    assert ours == set(FUNCTION_IDS) | {"07.predict_alignment", "08.predict_layernorm", "09.predict_peak_lr"}
    assert all(sum(k.startswith(f"{n:02d}.") for k in ours) >= 3 for n in range(6, 11))


def test_probes_leave_global_rng_alone():
    torch.manual_seed(0)
    a = torch.rand(3)
    torch.manual_seed(0)
    for ex_id in FUNCTION_IDS:
        check(ex_id, _raise_not_implemented)
    check("08.decoder_layer", decoder_layer_post_ln)
    check("08.fix_encoder_layer", encoder_fixed)
    assert torch.equal(torch.rand(3), a)


# ------------------------------------------------------------------ the remaining known mistakes, one by one
def _post_ln_decoder(layer, x, memory, tgt_mask, memory_mask, cross=None, cross_mask="memory", res=(1, 1, 1),
                     inside=False):
    masks = {"memory": memory_mask, "none": None, "tgt": tgt_mask}
    subs = [lambda h: layer.self_attn(h, h, tgt_mask),
            lambda h: layer.cross_attn(h, memory if cross is None else h, masks[cross_mask]),
            layer.ffn]
    for sub, norm, r in zip(subs, (layer.norm1, layer.norm2, layer.norm3), res):
        x = x + norm(sub(x)) if inside else norm(x + sub(x) if r else sub(x))
    return x


@pytest.mark.parametrize("kw,hint", [
    (dict(inside=True), "before adding the residual"),
    (dict(cross_mask="none"), "ignores memory_mask"),
    (dict(cross="self", cross_mask="tgt"), "decoder's own states"),
    (dict(res=(0, 1, 1)), "around the self-attention"),
    (dict(res=(1, 0, 1)), "around the cross-attention"),
])
def test_decoder_layer_more_mistakes(kw, hint):
    fails_with("08.decoder_layer", lambda *a: _post_ln_decoder(*a, **kw), hint)


@pytest.mark.parametrize("fn,hint", [
    (lambda layer, x, mask: layer.norm2(layer.norm1(x + layer.self_attn(x, x, mask)) + layer.ffn(x)),
     "not the layer's input x"),
    (lambda layer, x, mask: layer.norm2(x + layer.ffn(x + layer.self_attn(x, x, mask))), "norm1 is no longer"),
    (lambda layer, x, mask: (lambda h: h + layer.ffn(layer.norm2(h)))(
        x + layer.self_attn(layer.norm1(x), layer.norm1(x), mask)), "pre-LN"),
])
def test_fix_encoder_layer_more_mistakes(fn, hint):
    fails_with("08.fix_encoder_layer", fn, hint)


def test_decoder_mask_transposed():
    fails_with("06.decoder_mask", lambda t, p: (t != p)[:, None, None, :] & causal_tril(t.size(1)).T, "transposed")


def test_alignment_argmin():
    fails_with("07.alignment", lambda w: w.mean(1).argmin(-1), "argmin")


@pytest.mark.parametrize("fn,hint", [
    (_ln(unbiased=True, eps_inside=False), "Two slips"),
    (lambda x, g, b, eps=1e-5: _ln(affine=False)(x, g, b, eps) * b + g, "swapped"),
])
def test_layer_norm_more_mistakes(fn, hint):
    fails_with("08.layer_norm", fn, hint)


@pytest.mark.parametrize("fn,hint", [
    (lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1) @ w_2, "biases b_1 and b_2 are missing"),
    (lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1 + b_1) @ w_2, "b_2 is missing"),
    (lambda x, w_1, b_1, w_2, b_2: torch.sigmoid(x @ w_1 + b_1) @ w_2 + b_2, "not a sigmoid"),
])
def test_feed_forward_more_mistakes(fn, hint):
    fails_with("08.feed_forward", fn, hint)


@pytest.mark.parametrize("fn,hint", [
    (lambda s, d, w: 0.0 if s == 0 else d ** -0.5 * min(s ** -0.5, s * w ** 1.5), "exponent is negative"),
    (lambda s, d, w: 0.0 if s == 0 else d ** 0.5 * min(s ** -0.5, s * w ** -1.5), "not +0.5"),
    (lambda s, d, w: 0.0 if s == 0 else d ** -0.5 * min((s + 1) ** -0.5, (s + 1) * w ** -1.5), "Off by one"),
])
def test_warmup_lr_more_mistakes(fn, hint):
    fails_with("09.warmup_lr", fn, hint)


def _ls_hand(reduce="tokens", log=True):
    def fn(logits, target, smoothing, pad_id):
        logp = logits.log_softmax(-1) if log else logits
        loss = (1 - smoothing) * -logp.gather(-1, target[..., None])[..., 0] + smoothing * -logp.mean(-1)
        keep = (target != pad_id).float()
        if reduce == "sum":
            return (loss * keep).sum()
        if reduce == "sentences":
            return ((loss * keep).sum(-1) / keep.sum(-1)).mean()
        return (loss * keep).sum() / keep.sum()
    return fn


@pytest.mark.parametrize("fn,hint", [
    (_ls_hand(reduce="sum"), "summed the token losses"),
    (_ls_hand(reduce="sentences"), "averaged per sentence"),
    (_ls_hand(log=False), "log_softmax(logits) first"),
])
def test_label_smoothed_loss_more_mistakes(fn, hint):
    passes("09.label_smoothed_loss", _ls_hand())
    fails_with("09.label_smoothed_loss", fn, hint)


def test_teacher_forcing_more_mistakes():
    def eos_in_input(seqs, b, e, p):
        t_in = torch.nn.utils.rnn.pad_sequence([torch.tensor([b, *s, e]) for s in seqs], batch_first=True,
                                               padding_value=p)
        t_out = torch.nn.utils.rnn.pad_sequence([torch.tensor([*s, e]) for s in seqs], batch_first=True,
                                                padding_value=p)
        return t_in, torch.cat([t_out, torch.full((len(seqs), 1), p)], 1)
    fails_with("09.teacher_forcing", eos_in_input, "must not contain <eos>")

    def bos_in_output(seqs, b, e, p):
        t_in, _ = tf_solution(seqs, b, e, p)
        t_out = torch.nn.utils.rnn.pad_sequence([torch.tensor([b, *s, e]) for s in seqs], batch_first=True,
                                                padding_value=p)
        return torch.cat([t_in, torch.full((len(seqs), 1), p)], 1), t_out
    fails_with("09.teacher_forcing", bos_in_output, "must not start with <bos>")


@pytest.mark.parametrize("kw,hint", [
    (dict(stop="any"), "*first* row finishes"),
    (dict(stop="never", pad_after=False), "Two things"),
    (dict(position=0), "*first* position"),
])
def test_greedy_decode_more_mistakes(kw, hint):
    def fn(model, src, n, bos, eos, pad):
        return L._greedy(model, src, n, bos, eos, pad, **kw)
    fails_with("10.greedy_decode", fn, hint)


@pytest.mark.parametrize("start,hint", [("pad", "do not start from <bos>"), ("eos", "do not start from <bos>"),
                                        ("one", "bos_id argument")])
def test_greedy_decode_without_bos(start, hint):
    def fn(model, src, n, bos, eos, pad):
        first = {"pad": pad, "eos": eos, "one": 1}[start]
        return greedy_solution(model, src, n, first, eos, pad)
    fails_with("10.greedy_decode", fn, hint)


def test_beam_step_more_mistakes():
    fails_with("10.beam_step", lambda lp, sc, k: beam_flat(lp, sc, k)[::2] + (beam_flat(lp, sc, k)[1],),
               "swapped")

    def lowest(lp, sc, k):
        V = lp.size(-1)
        s, idx = (sc[:, None] + lp).view(-1).topk(k, largest=False)
        return s, idx // V, idx % V
    fails_with("10.beam_step", lowest, "*lowest* scores")


def test_kv_cache_step_more_mistakes():
    def prepend(q, k_new, v_new, cache):
        if cache is not None:
            k_new, v_new = torch.cat([k_new, cache[0]], -2), torch.cat([v_new, cache[1]], -2)
        w = (q @ k_new.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)
        return w @ v_new, (k_new, v_new)
    fails_with("10.kv_cache_step", prepend, "at the *end* of the cache")

    def unscaled(q, k_new, v_new, cache):
        out, (k, v) = cache_step(q, k_new, v_new, cache)
        return (q @ k.transpose(-2, -1)).softmax(-1) @ v, (k, v)
    fails_with("10.kv_cache_step", unscaled, "not scaled")


# ------------------------------------------------------------------ time limit and strict mode
def test_runaway_learner_code_is_stopped(monkeypatch):
    import dataclasses

    from course_utils.course.checks import _REGISTRY
    monkeypatch.setitem(_REGISTRY, "06.causal_mask",
                        dataclasses.replace(_REGISTRY["06.causal_mask"], time_limit=0.3))

    def forever(T):
        while True:
            pass
    fails_with("06.causal_mask", forever, "time limit")


def test_strict_mode_raises_on_failure(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT", "1")
    with pytest.raises(AssertionError):
        check("06.causal_mask", lambda T: torch.ones(T, T, dtype=torch.bool))
    check("06.causal_mask", causal_tril)


def test_wrong_shape_names_the_axes():
    def transposed(x, memory, w_q, w_k, w_v, src_mask=None):
        out, weights = cross_matmul(x, memory, w_q, w_k, w_v, src_mask)
        return out, weights.transpose(-2, -1)
    fails_with("07.cross_attention", transposed, "`weights` has shape (2, 5, 3), expected (2, 3, 5)", "Axis T is 5",
               "swapped")


def test_numpy_output_is_named():
    fails_with("08.feed_forward", lambda x, w_1, b_1, w_2, b_2: (torch.relu(x @ w_1 + b_1) @ w_2 + b_2).numpy(),
               "NumPy array")


def test_wrong_values_report_difference():
    r = fails_with("08.layer_norm", lambda x, g, b, eps=1e-5: ln_var(x, g, b, eps) + 0.5, "max difference")
    assert "match" in r.message


def test_references_agree_with_course_utils():
    """The exercises teach what the package does: the package's own functions pass the checks."""
    from course_utils.run import decoding, train
    from course_utils.transformer import masks
    passes("06.causal_mask", masks.causal_mask)
    passes("06.padding_mask", masks.padding_mask)
    passes("09.warmup_lr", train.warmup_lr)
    passes("09.label_smoothed_loss", train.label_smoothed_loss)

    def package_greedy(model, src, max_new_tokens, bos_id, eos_id, pad_id):
        return decoding.greedy_decode(model, src, max_new_tokens=max_new_tokens, bos_id=bos_id, eos_id=eos_id,
                                      pad_id=pad_id, use_cache=False)
    passes("10.greedy_decode", package_greedy)


def test_predict_peak_lr():
    passes("09.predict_peak_lr", 7e-4)
    passes("09.predict_peak_lr", (512 * 4000) ** -0.5)
    fails_with("09.predict_peak_lr", 4000 ** -0.5, "without the factor d_model^-0.5")
    fails_with("09.predict_peak_lr", 512 ** -0.5, "d_model^-0.5 alone")
    fails_with("09.predict_peak_lr", 512 ** -0.5 * 4000 ** -1.5, "slope")
    fails_with("09.predict_peak_lr", 0.1, "not right yet")
    fails_with("09.predict_peak_lr", "7e-4", "should be a number")
    assert check("09.predict_peak_lr", ...).status == "pending"


@pytest.mark.parametrize("fn", [
    lambda lp, n, a: lp / ((5 + n) / 6) ** a,
    lambda lp, n, a: lp * torch.pow((5 + n) / 6, -a),
    lambda lp, n, a: torch.stack([lp[i] / ((5 + n[i]) / 6) ** a for i in range(len(lp))]),
])
def test_length_penalty_correct(fn):
    passes("10.length_penalty", fn)


def test_length_penalty_matches_course_utils():
    from course_utils.run.decoding import gnmt_length_penalty
    passes("10.length_penalty", lambda lp, n, a: lp / gnmt_length_penalty(n, a))


@pytest.mark.parametrize("fn,hint", [
    (lambda lp, n, a: lp / n ** a, "length^alpha"),
    (lambda lp, n, a: lp * ((5 + n) / 6) ** a, "Multiplied instead of divided"),
    (lambda lp, n, a: lp / ((5 + n) / 6), "alpha is ignored"),
    (lambda lp, n, a: lp / (5 + n / 6) ** a, "Brackets"),
])
def test_length_penalty_mistakes(fn, hint):
    fails_with("10.length_penalty", fn, hint)
