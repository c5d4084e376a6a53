"""Checks of lesson 10 (inference): right answers in several styles pass; the mistakes learners
make fail with a hint naming them, also those that only show on the trained model."""

import math

import pytest
import torch
import torch.nn.functional as F
from checks_answers import answer_set_tests, passes

from course_utils.course.checks import check
from course_utils.run.decoding import gnmt_length_penalty
from course_utils.transformer import attention, padding_mask


# ------------------------------------------------------------------ 10.greedy_decode
def greedy_masked(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    src_mask = (src != pad_id)[:, None, None, :]
    memory = model.encode(src, src_mask)
    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    finished = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_new_tokens):
        next_token = model.decode(ys, memory, src_mask)[:, -1].argmax(-1).masked_fill(finished, pad_id)
        ys = torch.cat([ys, next_token[:, None]], dim=1)
        finished |= next_token == eos_id
        if finished.all():
            break
    return ys[:, 1:]


def greedy_forward(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    done = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_new_tokens):
        logits = model(src, ys)  # the full forward pass builds the masks itself
        nxt = torch.where(done, torch.full_like(done, pad_id, dtype=torch.long), logits[:, -1].argmax(-1))
        ys = torch.cat([ys, nxt.unsqueeze(1)], 1)
        done = done | (nxt == eos_id)
        if bool(done.all()):
            break
    return ys[:, 1:]


def greedy_rows(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    rows = []
    for row in src:
        real = row[row != pad_id][None]  # (1, S_i): no padding, so no mask is needed
        memory = model.encode(real)
        ys = [bos_id]
        for _ in range(max_new_tokens):
            nxt = int(model.decode(torch.tensor([ys]), memory)[0, -1].argmax())
            ys.append(nxt)
            if nxt == eos_id:
                break
        rows.append(ys[1:])
    T = max(map(len, rows))
    return torch.tensor([r + [pad_id] * (T - len(r)) for r in rows])


def greedy_package_mask(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    mask = padding_mask(src, pad_id)
    memory = model.encode(src, src_mask=mask)
    out = torch.full((src.size(0), 1), bos_id)
    alive = torch.ones(src.size(0), dtype=torch.bool)
    for _ in range(max_new_tokens):
        token = model.decode(out, memory, src_mask=mask).argmax(-1)[:, -1]
        token[~alive] = pad_id
        out = torch.cat((out, token[:, None]), -1)
        alive &= token != eos_id
        if not alive.any():
            break
    return out[:, 1:]


def _greedy(mask="right", start="bos", stop="all", pad_after=True, keep_bos=False, position=-1):
    def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):
        src_mask = {"right": (src != pad_id)[:, None, None, :], "inverted": (src == pad_id)[:, None, None, :],
                    "none": None}[mask]
        memory = model.encode(src) if src_mask is None else model.encode(src, src_mask)
        first = {"bos": bos_id, "one": 1, "pad": pad_id}[start]
        ys = torch.full((src.size(0), 1), first, dtype=torch.long)
        finished = torch.zeros(src.size(0), dtype=torch.bool)
        for _ in range(max_new_tokens):
            logits = model.decode(ys, memory) if src_mask is None else model.decode(ys, memory, src_mask)
            nxt = logits[:, position].argmax(-1)
            if pad_after:
                nxt = nxt.masked_fill(finished, pad_id)
            ys = torch.cat([ys, nxt[:, None]], dim=1)
            finished |= nxt == eos_id
            if (stop == "all" and finished.all()) or (stop == "any" and finished.any()):
                break
        return ys if keep_bos else ys[:, 1:]
    return greedy_decode


GREEDY_RIGHT = [greedy_masked, greedy_forward, greedy_rows, greedy_package_mask]
GREEDY_WRONG = [(_greedy(mask="none"), "without `src_mask`"), (_greedy(mask="inverted"), "inverted"),
                (_greedy(start="pad"), "not with <bos>"), (_greedy(start="one"), "Use the bos_id argument"),
                (_greedy(keep_bos=True), "starts with <bos>"), (_greedy(stop="never"), "Stop as soon as every row"),
                (_greedy(stop="any"), "*first* row"), (_greedy(pad_after=False), "write pad_id in a row"),
                (_greedy(pad_after=False, stop="never"), "Rows that finished keep generating"),
                (_greedy(position=0), "*last* position")]


# ------------------------------------------------------------------ 10.beam_step
def beam_flat(log_probs, beam_scores, beam_size):
    V = log_probs.size(-1)
    scores, flat = (beam_scores[:, None] + log_probs).flatten().topk(beam_size)
    return scores, flat // V, flat % V


def beam_sort_div(log_probs, beam_scores, beam_size):
    V = log_probs.shape[1]
    total = (log_probs + beam_scores.unsqueeze(1)).reshape(-1)
    order = torch.argsort(total, descending=True)[:beam_size]
    return total[order], torch.div(order, V, rounding_mode="floor"), torch.remainder(order, V)


def beam_python(log_probs, beam_scores, beam_size):
    cands = sorted(((float(beam_scores[k] + log_probs[k, t]), k, t) for k in range(log_probs.size(0))
                    for t in range(log_probs.size(1))), reverse=True)[:beam_size]
    return (torch.tensor([c[0] for c in cands]), torch.tensor([c[1] for c in cands]),
            torch.tensor([c[2] for c in cands]))


def beam_float64_unravel(log_probs, beam_scores, beam_size):
    total = beam_scores.double()[:, None] + log_probs.double()
    values, flat = total.view(-1).topk(beam_size)
    beam, token = torch.unravel_index(flat, total.shape)
    return values, beam, token


def beam_per_beam(log_probs, beam_scores, beam_size):
    s, tok = (beam_scores[:, None] + log_probs).max(-1)
    order = s.argsort(descending=True)[:beam_size]
    return s[order], order, tok[order]


def beam_no_scores(log_probs, beam_scores, beam_size):
    return beam_flat(log_probs, torch.zeros_like(beam_scores), beam_size)


def beam_swapped(log_probs, beam_scores, beam_size):
    s, b, t = beam_flat(log_probs, beam_scores, beam_size)
    return s, t, b


def beam_flat_token(log_probs, beam_scores, beam_size):
    s, b, t = beam_flat(log_probs, beam_scores, beam_size)
    return s, b, b * log_probs.size(-1) + t


def beam_lowest(log_probs, beam_scores, beam_size):
    V = log_probs.size(-1)
    s, flat = (beam_scores[:, None] + log_probs).flatten().topk(beam_size, largest=False)
    return s, flat // V, flat % V


def beam_true_division(log_probs, beam_scores, beam_size):
    V = log_probs.size(-1)
    s, flat = (beam_scores[:, None] + log_probs).flatten().topk(beam_size)
    return s, (flat / V).floor(), flat % V


BEAM_RIGHT = [beam_flat, beam_sort_div, beam_python, beam_float64_unravel]
BEAM_WRONG = [(beam_per_beam, "best token of *each* beam"), (beam_no_scores, "running scores are ignored"),
              (beam_swapped, "swapped"), (beam_flat_token, "split it"), (beam_lowest, "*lowest*"),
              (beam_true_division, "indices are torch.long")]


# ------------------------------------------------------------------ 10.length_penalty
def lp_formula(log_prob, length, alpha):
    return log_prob / ((5.0 + length) / 6.0) ** alpha


def lp_pow(log_prob, length, alpha):
    return log_prob * torch.pow((length + 5) / 6, -alpha)


def lp_package(log_prob, length, alpha):
    return log_prob / gnmt_length_penalty(length, alpha)


def lp_loop_float64(log_prob, length, alpha):
    return torch.tensor([lp / ((5 + n) / 6) ** alpha for lp, n in zip(log_prob.double().tolist(), length.tolist())],
                        dtype=torch.float64)


LP_RIGHT = [lp_formula, lp_pow, lp_package, lp_loop_float64]
LP_WRONG = [(lambda lp, n, a: lp / n ** a, "length^alpha"), (lambda lp, n, a: lp * ((5 + n) / 6) ** a, "Multiplied"),
            (lambda lp, n, a: lp / ((5 + n) / 6), "alpha is ignored"),
            (lambda lp, n, a: lp / ((5 + n) / 6) ** (1 - a), "not 1 - alpha"),
            (lambda lp, n, a: lp / (5 + n / 6) ** a, "only hits length"),
            (lambda lp, n, a: lp / (5 + n) ** a / 6, "*before* raising")]


# ------------------------------------------------------------------ 10.kv_cache_step
def kv_cat(q, k_new, v_new, cache):
    if cache is None:
        k, v = k_new, v_new
    else:
        k, v = torch.cat([cache[0], k_new], dim=-2), torch.cat([cache[1], v_new], dim=-2)
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(dim=-1)
    return weights @ v, (k, v)


def kv_package(q, k_new, v_new, cache):
    k = k_new if cache is None else torch.cat((cache[0], k_new), 2)
    v = v_new if cache is None else torch.cat((cache[1], v_new), 2)
    return attention(q, k, v)[0], (k, v)


def kv_sdpa(q, k_new, v_new, cache):
    k_past, v_past = cache if cache is not None else (k_new[:, :, :0], v_new[:, :, :0])
    k, v = torch.cat([k_past, k_new], -2), torch.cat([v_past, v_new], -2)
    return F.scaled_dot_product_attention(q, k, v), (k, v)


def kv_einsum_float64(q, k_new, v_new, cache):
    k = k_new if cache is None else torch.cat([cache[0], k_new], dim=2)
    v = v_new if cache is None else torch.cat([cache[1], v_new], dim=2)
    w = torch.einsum("bhqd,bhkd->bhqk", q.double(), k.double()) / q.size(-1) ** 0.5
    return torch.einsum("bhqk,bhkd->bhqd", w.softmax(-1), v.double()), (k, v)


def kv_no_cache(q, k_new, v_new, cache):
    _, kv = kv_cat(q, k_new, v_new, cache)
    return attention(q, k_new, v_new)[0], kv


def kv_prepend(q, k_new, v_new, cache):
    if cache is None:
        return kv_cat(q, k_new, v_new, None)
    k, v = torch.cat([k_new, cache[0]], -2), torch.cat([v_new, cache[1]], -2)
    return attention(q, k, v)[0], (k, v)


def kv_unscaled(q, k_new, v_new, cache):
    _, (k, v) = kv_cat(q, k_new, v_new, cache)
    return (q @ k.transpose(-2, -1)).softmax(-1) @ v, (k, v)


def kv_not_stored(q, k_new, v_new, cache):
    out, _ = kv_cat(q, k_new, v_new, cache)
    return out, (k_new, v_new)


def kv_swapped(q, k_new, v_new, cache):
    out, kv = kv_cat(q, k_new, v_new, cache)
    return kv, out


KV_RIGHT = [kv_cat, kv_package, kv_sdpa, kv_einsum_float64]
KV_WRONG = [(kv_no_cache, "only to the new key"), (kv_prepend, "at the *start* of the cache"),
            (kv_unscaled, "not scaled"), (kv_not_stored, "holds only the new position"), (kv_swapped, "swapped")]



def greedy_float_ys(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    return greedy_masked(model, src, max_new_tokens, bos_id, eos_id, pad_id).float()


def greedy_eos_replaced(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    mask = (src != pad_id)[:, None, None, :]
    memory = model.encode(src, mask)
    ys = torch.full((src.size(0), 1), bos_id)
    finished = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_new_tokens):
        nxt = model.decode(ys, memory, mask)[:, -1].argmax(-1)
        finished |= nxt == eos_id
        ys = torch.cat([ys, nxt.masked_fill(finished, pad_id)[:, None]], 1)
        if finished.all():
            break
    return ys[:, 1:]


def beam_by_k(log_probs, beam_scores, beam_size):
    K = log_probs.size(0)
    s, flat = (beam_scores[:, None] + log_probs).flatten().topk(beam_size)
    return s, flat % K, flat // K


def beam_product(log_probs, beam_scores, beam_size):
    return beam_flat(log_probs * beam_scores[:, None], torch.zeros_like(beam_scores), beam_size)


def beam_two_values(log_probs, beam_scores, beam_size):
    return beam_flat(log_probs, beam_scores, beam_size)[1:]


def kv_softmax_queries(q, k_new, v_new, cache):
    _, (k, v) = kv_cat(q, k_new, v_new, cache)
    return (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-2) @ v, (k, v)


def kv_masked(q, k_new, v_new, cache):
    _, (k, v) = kv_cat(q, k_new, v_new, cache)
    return attention(q, k, v, torch.ones(1, k.size(-2), dtype=torch.bool).tril())[0], (k, v)


def kv_keys_as_values(q, k_new, v_new, cache):
    _, (k, v) = kv_cat(q, k_new, v_new, cache)
    return attention(q, k, k)[0], (k, v)


def kv_cat_heads(q, k_new, v_new, cache):
    k = k_new if cache is None else torch.cat([cache[0], k_new], dim=1)
    v = v_new if cache is None else torch.cat([cache[1], v_new], dim=1)
    return attention(q, k, v)[0], (k, v)


def greedy_cached(model, src, max_new_tokens, bos_id, eos_id, pad_id):  # one new token per step, with the cache
    mask = padding_mask(src, pad_id)
    memory, cache = model.encode(src, mask), model.new_cache()
    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    done = torch.zeros(src.size(0), dtype=torch.bool)
    for t in range(max_new_tokens):
        nxt = model.decode(ys[:, -1:], memory, mask, offset=t, cache=cache)[:, -1].argmax(-1)
        nxt = torch.where(done, torch.tensor(pad_id), nxt)
        ys, done = torch.cat([ys, nxt[:, None]], 1), done | (nxt == eos_id)
        if done.all():
            break
    return ys[:, 1:]


def greedy_sampling(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    g = torch.Generator().manual_seed(0)
    mask = padding_mask(src, pad_id)
    memory = model.encode(src, mask)
    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    done = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_new_tokens):
        probs = model.decode(ys, memory, mask)[:, -1].softmax(-1)
        nxt = torch.where(done, torch.tensor(pad_id), torch.multinomial(probs, 1, generator=g)[:, 0])
        ys, done = torch.cat([ys, nxt[:, None]], 1), done | (nxt == eos_id)
        if done.all():
            break
    return ys[:, 1:]


def beam_each_then_all(log_probs, beam_scores, beam_size):
    total = beam_scores[:, None] + log_probs
    v, t = total.topk(min(beam_size, log_probs.size(1)), dim=-1)
    beams = torch.arange(log_probs.size(0))[:, None].expand_as(t)
    best, order = v.flatten().topk(beam_size)
    return best, beams.flatten()[order], t.flatten()[order]

RIGHT = {"10.greedy_decode": GREEDY_RIGHT, "10.beam_step": BEAM_RIGHT, "10.length_penalty": LP_RIGHT,
         "10.kv_cache_step": KV_RIGHT}
WRONG = {"10.greedy_decode": GREEDY_WRONG, "10.beam_step": BEAM_WRONG, "10.length_penalty": LP_WRONG,
         "10.kv_cache_step": KV_WRONG}

WRONG["10.greedy_decode"] += [(greedy_float_ys, "token ids are integers"),
                              (greedy_eos_replaced, "<eos> of each finished row")]
WRONG["10.beam_step"] += [(beam_by_k, "not by K"), (beam_product, "*add* up"), (beam_two_values, "got 2")]
WRONG["10.length_penalty"] += [(lambda lp, n, a: -(lp / ((5 + n) / 6) ** a), "sign flipped"),
                               (lambda lp, n, a: lp - ((5 + n) / 6) ** a, "you subtracted"),
                               (lambda lp, n, a: lp / ((6 + n) / 5) ** a, "5 and 6 swapped"),
                               (lambda lp, n, a: lp / n, "divided by the length")]
WRONG["10.kv_cache_step"] += [(kv_softmax_queries, "query axis"), (kv_masked, "no mask is needed"),
                              (kv_keys_as_values, "*values*"), (kv_cat_heads, "wrong axis")]

RIGHT["10.greedy_decode"] += [greedy_cached]
WRONG["10.greedy_decode"] += [(greedy_sampling, "not the most likely one")]
RIGHT["10.beam_step"] += [beam_each_then_all]
WRONG["10.beam_step"] += [(lambda lp, bs, k: ((bs[:, None] + lp).topk(k, -1).values,
                                              (bs[:, None] + lp).topk(k, -1).indices,
                                              (bs[:, None] + lp).topk(k, -1).indices), "*each* beam"),
                          (lambda lp, bs, k: beam_flat(lp.exp(), bs.exp(), k), "no exp"),
                          (lambda lp, bs, k: beam_flat(lp, bs, k)[::-1], "wrong order")]
WRONG["10.length_penalty"] += [(lambda lp, n, a: lp / ((5 + n) / 6) * a, "not times alpha"),
                               (lambda lp, n, a: lp / ((5 + n) / 6) ** 0.6, "fixed at 0.6")]
WRONG["10.kv_cache_step"] += [(lambda q, kn, vn, c: (kv_cat(q, kn, vn, c)[0], (kv_cat(q, kn, vn, c)[1][0], vn)),
                               "only the new position")]

WRONG["10.beam_step"] += [(lambda lp, bs, k: (lambda s, i: (s, i // lp.size(0),
                                                            i % lp.size(0)))(*(lp + bs[:, None]).flatten().topk(k)),
                                                            "not by K")]


def greedy_item(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    mask = padding_mask(src, pad_id)
    memory, ys = model.encode(src, mask), torch.full((src.size(0), 1), bos_id)
    for _ in range(max_new_tokens):
        nxt = model.decode(ys, memory, mask)[:, -1].argmax(-1)
        ys = torch.cat([ys, nxt[:, None]], 1)
        if nxt.item() == eos_id:
            break
    return ys[:, 1:]


def greedy_until_max_len(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    return greedy_masked(model, src, 64, bos_id, eos_id, pad_id)


WRONG["10.greedy_decode"] += [(greedy_item, "`finished.all()`"), (greedy_until_max_len, "more than max_new_tokens")]
WRONG["10.greedy_decode"] += [(lambda *a: greedy_masked(*a)[:, 1:], "misses the first generated token")]
WRONG["10.kv_cache_step"] += [(lambda q, kn, vn, c:
                               (lambda o, kv: (o, (kv[0][:, :, -3:], kv[1][:, :, -3:])))(*kv_cat(q, kn, vn, c)),
                               "don't cut it"),
                              (lambda q, kn, vn, c: (lambda o, kv: (o.squeeze(2), kv))(*kv_cat(q, kn, vn, c)),
                               "query axis")]
WRONG["10.beam_step"] += [(lambda lp, bs, k: (lambda v, i: (v[1:], i[1:] // lp.size(1), i[1:] % lp.size(1)))(
                               *(bs[:, None] + lp).flatten().topk(k + 1)), "not the best"),
                           (lambda lp, bs, k: (lambda v, i: (v, i // lp.size(1),
                                                             i % lp.size(1)))(*(bs[:, None] + lp).flatten().sort()),
                                                             "best first")]
WRONG["10.length_penalty"] += [(lambda lp, n, a: -2 * lp / ((5 + n) / 6) ** a, "off by the same factor")]


# From the independent answer set (issue 11): each mistake named by what it does.
def greedy_steps(n_steps, stop_at="all"):
    def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):
        src_mask = (src != pad_id)[:, None, None, :]
        memory = model.encode(src, src_mask)
        ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
        finished = torch.zeros(src.size(0), dtype=torch.bool)
        for _ in range(n_steps(max_new_tokens)):
            nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1).masked_fill(finished, pad_id)
            ys = torch.cat([ys, nxt[:, None]], 1)
            finished |= nxt == eos_id
            if (finished.all() if stop_at == "all" else finished.any()):
                break
        return ys[:, 1:]
    return greedy_decode


def kv_returns_v_k(q, k_new, v_new, cache):
    out, (k, v) = kv_cat(q, k_new, v_new, cache if cache is None else (cache[1], cache[0]))
    return out, (v, k)


def kv_unpacks_v_k(q, k_new, v_new, cache):
    if cache is None:
        k, v = k_new, v_new
    else:
        v_past, k_past = cache
        k, v = torch.cat([k_past, k_new], dim=-2), torch.cat([v_past, v_new], dim=-2)
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(dim=-1)
    return weights @ v, (k, v)


def kv_scaled_by(size):
    def kv_cache_step(q, k_new, v_new, cache):
        k = k_new if cache is None else torch.cat([cache[0], k_new], dim=-2)
        v = v_new if cache is None else torch.cat([cache[1], v_new], dim=-2)
        return (q @ k.transpose(-2, -1) / math.sqrt(size(q, k, v))).softmax(-1) @ v, (k, v)
    return kv_cache_step


def beam_token_scores(log_probs, beam_scores, beam_size):
    _, i = (beam_scores[:, None] + log_probs).reshape(-1).topk(beam_size)
    return log_probs.reshape(-1)[i], i // log_probs.size(1), i % log_probs.size(1)


def beam_probabilities(log_probs, beam_scores, beam_size):
    s, i = (beam_scores[:, None] + log_probs).flatten().topk(beam_size)
    return s.exp(), i // log_probs.size(1), i % log_probs.size(1)


WRONG["10.greedy_decode"] += [(greedy_steps(lambda n: n - 1), "one step short"),
                              (greedy_steps(lambda n: n, stop_at="any"), "*first* row"),
                              (greedy_steps(lambda n: max(n - 2, 1)), "before every row has produced <eos>")]
def greedy_variant(mask_shape="right", last_only=False):
    def greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):
        src_mask = (src != pad_id) if mask_shape == "flat" else (src != pad_id)[:, None, None, :]
        memory = model.encode(src, src_mask)
        ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
        finished = torch.zeros(src.size(0), dtype=torch.bool)
        for _ in range(max_new_tokens):
            nxt = model.decode(ys[:, -1:] if last_only else ys, memory,
                               src_mask)[:, -1].argmax(-1).masked_fill(finished, pad_id)
            ys = torch.cat([ys, nxt[:, None]], 1)
            finished |= nxt == eos_id
            if finished.all():
                break
        return ys[:, 1:]
    return greedy_decode


def kv_attend_then_grow(q, k_new, v_new, cache):
    k_att, v_att = (k_new, v_new) if cache is None else cache
    out = (q @ k_att.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1) @ v_att
    grown = (k_new, v_new) if cache is None else (torch.cat([cache[0], k_new], -2), torch.cat([cache[1], v_new], -2))
    return out, grown


WRONG["10.greedy_decode"] += [(greedy_variant(mask_shape="flat"), "(B, 1, 1, S)"),
                              (greedy_variant(last_only=True), "one token only")]
WRONG["10.kv_cache_step"] += [(kv_attend_then_grow, "*first*")]
WRONG["10.length_penalty"] += [(lambda lp, n, a: lp / ((1 + n) / 6) ** a, "constant is 5, not 1")]
WRONG["10.kv_cache_step"] += [(kv_returns_v_k, "(k, v), in that order"), (kv_unpacks_v_k, "(k, v), in that order"),
                              (kv_scaled_by(lambda q, k, v: k.size(-2)), "number of cached positions"),
                              (kv_scaled_by(lambda q, k, v: v.size(-1)), "sqrt(d_v)")]
WRONG["10.beam_step"] += [(beam_token_scores, "tokens' own log-probs"), (beam_probabilities, "probabilities (exp)")]
WRONG["10.beam_step"] += [(lambda lp, bs, k: (lambda s, i: (s, i // lp.size(1),
                                                            i % lp.size(1)))(*(bs + lp).reshape(-1).topk(k)),
                           "beam_scores[:, None]")]
WRONG["10.length_penalty"] += [(lambda lp, n, a: lp / (((5 + n) / 6) * a), "not times alpha"),
                               (lambda lp, n, a: lp / ((5 + n) / 6 ** a), "raises only 6"),
                               (lambda lp, n, a: lp / (5 + n / 6 ** a), "Brackets")]
# Named in the second round (issue 19): the cache grown on the wrong axis (a raw RuntimeError before),
# misplaced brackets in the length penalty, beam scores added after topk.
def kv_cat_on(k_dim, v_dim):
    def kv_cache_step(q, k_new, v_new, cache):
        k, v = (k_new, v_new) if cache is None else (torch.cat([cache[0], k_new], dim=k_dim),
                                                     torch.cat([cache[1], v_new], dim=v_dim))
        w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)
        return w @ v, (k, v)
    return kv_cache_step


def kv_list_cache(q, k_new, v_new, cache):
    ks, vs = ([], []) if cache is None else (list(cache[0]), list(cache[1]))
    ks.append(k_new)
    vs.append(v_new)
    k, v = torch.cat(ks, -2), torch.cat(vs, -2)
    return F.scaled_dot_product_attention(q, k, v), (ks, vs)


def beam_scores_after_topk(log_probs, beam_scores, beam_size):
    V = log_probs.size(-1)
    s, flat = log_probs.flatten().topk(beam_size)
    return s + beam_scores[flat // V], flat // V, flat % V


def beam_row_topk_first(log_probs, beam_scores, beam_size):  # each beam's best beam_size, then the best of those
    top, tok = log_probs.topk(beam_size, dim=-1)
    s, i = (beam_scores[:, None] + top).flatten().topk(beam_size)
    return s, i // beam_size, tok.flatten()[i]


RIGHT["10.beam_step"] += [beam_row_topk_first]
RIGHT["10.length_penalty"] += [lambda lp, n, a: lp * 6 ** a / (5 + n) ** a, lambda lp, n, a: lp * ((5 + n) / 6) ** -a]
WRONG["10.kv_cache_step"] += [(kv_cat_on(-1, -1), "wrong axis"), (kv_cat_on(0, 0), "wrong axis"),
                              (kv_cat_on(1, 1), "wrong axis"), (kv_cat_on(-2, -1), "wrong axis"),
                              (kv_list_cache, "Python lists")]
WRONG["10.length_penalty"] += [(lambda lp, n, a: (lp / ((5 + n) / 6)) ** a, "log_prob included"),
                               (lambda lp, n, a: lp / 5 + n / 6 ** a, "Brackets"),
                               (lambda lp, n, a: lp / ((5 + n ** a) / 6), "Brackets"),
                               (lambda lp, n, a: lp / (5 + n) / 6 ** a, "Brackets"),
                               (lambda lp, n, a: lp / ((5 + n) ** a / 6), "raises only 5 + length")]
WRONG["10.beam_step"] += [(beam_scores_after_topk, "after `topk`")]

(test_right_answers_pass, test_wrong_answers_name_the_mistake,
 test_every_exercise_has_three_right_and_three_wrong_answers) = answer_set_tests(RIGHT, WRONG)


def test_the_trained_model_alone_catches_a_missing_src_mask(monkeypatch):
    """Without watching the calls, the values on the real padded batch already differ."""
    from course_utils.course.checks import lesson10
    real_only = lesson10._greedy_probes()[2:]
    monkeypatch.setattr(lesson10, "_greedy_probes", lambda: real_only)
    monkeypatch.setattr(lesson10, "_greedy_calls", lambda *args: None)
    r = check("10.greedy_decode", _greedy(mask="none"))
    assert r.status == "failed" and "`tokens`" in r.message, repr(r)  # other tokens, or rows that never end
    passes("10.greedy_decode", greedy_masked)


LESSON_IDS = [f"{n}.{name}" for n, names in {
    "06": ("causal_mask", "padding_mask", "decoder_mask", "masked_softmax", "nn_border"),
    "07": ("cross_attention", "alignment", "predict_alignment"),
    "08": ("predict_layernorm", "layer_norm", "feed_forward", "decoder_layer", "fix_encoder_layer"),
    "09": ("teacher_forcing", "label_smoothed_loss", "warmup_lr", "predict_peak_lr"),
    "10": ("greedy_decode", "beam_step", "length_penalty", "kv_cache_step")}.items() for name in names]


def _returns_none(*args):
    return None


def _returns_text(*args):
    return "not a tensor"


def _raises(*args):
    raise ValueError("learner bug")


@pytest.mark.parametrize("ex_id", LESSON_IDS)
@pytest.mark.parametrize("garbage", [None, "text", 3.5, _returns_none, _returns_text, _raises])
def test_garbage_fails_cleanly(ex_id, garbage):
    """Garbage fails with a reason; the checker itself never breaks on it."""
    r = check(ex_id, garbage)
    assert r.status == "failed", repr(r)
    assert "could not handle" not in r.message, repr(r)


def test_an_answer_that_damages_the_model_does_not_change_the_next_check():
    def greedy_zeroing_weights(model, src, max_new_tokens, bos_id, eos_id, pad_id):
        for p in model.parameters():
            p.data.zero_()
        return greedy_masked(model, src, max_new_tokens, bos_id, eos_id, pad_id)

    assert check("10.greedy_decode", greedy_zeroing_weights).status == "failed"
    passes("10.greedy_decode", greedy_masked)
