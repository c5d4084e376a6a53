"""Checks of lesson 07 (cross-attention): right answers in several styles pass; the mistakes
learners make fail with a hint naming them."""

import collections
import math

import torch
import torch.nn.functional as F
from checks_answers import answer_set_tests, fails_with

from course_utils.transformer.attention import attention


# ------------------------------------------------------------------ 07.cross_attention
def cross_matmul(x, memory, w_q, w_k, w_v, src_mask=None):
    q, k, v = x @ w_q, memory @ w_k, memory @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if src_mask is not None:
        scores = scores.masked_fill(~src_mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


def cross_einsum_big_negative(x, memory, w_q, w_k, w_v, src_mask=None):
    q = torch.einsum("btd,dk->btk", x, w_q)
    k = torch.einsum("bsd,dk->bsk", memory, w_k)
    v = torch.einsum("bsd,dv->bsv", memory, w_v)
    scores = torch.einsum("btk,bsk->bts", q, k) / q.shape[-1] ** 0.5
    if src_mask is not None:
        scores = scores.masked_fill(src_mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    return torch.einsum("bts,bsv->btv", weights, v), weights


def cross_package(x, memory, w_q, w_k, w_v, src_mask=None):
    return attention(x @ w_q, memory @ w_k, memory @ w_v, src_mask)


def cross_float64_where(x, memory, w_q, w_k, w_v, src_mask=None):
    q, k, v = (x @ w_q).double(), (memory @ w_k).double(), (memory @ w_v).double()
    scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(q.size(-1))
    if src_mask is not None:
        scores = torch.where(src_mask, scores, torch.tensor(float("-inf"), dtype=scores.dtype))
    weights = torch.exp(scores - scores.amax(-1, keepdim=True))
    weights = weights / weights.sum(-1, keepdim=True)
    return (weights @ v).float(), weights.float()


def cross_sdpa_plus_weights(x, memory, w_q, w_k, w_v, src_mask=None):
    q, k, v = x @ w_q, memory @ w_k, memory @ w_v
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=src_mask)
    scores = q @ k.mT / math.sqrt(q.size(-1))
    if src_mask is not None:
        scores = scores.masked_fill(~src_mask, -math.inf)
    return out, scores.softmax(-1)


def _variant(q_of="x", kv_of="memory", scale="sqrt_dk", dim=-1, mask="right", swap=False, project_v=True):
    def cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):
        src = {"x": x, "memory": memory}
        q, k = src[q_of] @ w_q, src[kv_of] @ w_k
        v = src[kv_of] @ w_v if project_v else src[kv_of]
        d = {"sqrt_dk": math.sqrt(q.size(-1)), "none": 1.0, "dk": q.size(-1),
             "sqrt_dmodel": math.sqrt(x.size(-1))}[scale]
        scores = q @ k.transpose(-2, -1) / d
        if src_mask is not None and mask == "right":
            scores = scores.masked_fill(~src_mask, float("-inf"))
        elif src_mask is not None and mask == "inverted":
            scores = scores.masked_fill(src_mask, float("-inf"))
        elif src_mask is not None and mask == "zero":
            scores = scores.masked_fill(~src_mask, 0.0)
        weights = scores.softmax(dim)
        out = weights @ v
        return (weights, out) if swap else (out, weights)
    return cross_attention


def cross_k_from_x_v_from_memory(x, memory, w_q, w_k, w_v, src_mask=None):
    q, k, v = x @ w_q, x @ w_k, memory @ w_v
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)
    return weights @ v, weights


CROSS_RIGHT = [cross_matmul, cross_einsum_big_negative, cross_package, cross_float64_where, cross_sdpa_plus_weights]
CROSS_WRONG = [(_variant(kv_of="x"), "keys and values come from the decoder"),
               (cross_k_from_x_v_from_memory, "only runs when the target and source lengths are equal"),
               (_variant(q_of="memory", kv_of="x"), "Roles swapped"),
               (_variant(scale="none"), "not scaled"), (_variant(scale="dk"), "divided by d_k"),
               (_variant(scale="sqrt_dmodel"), "sqrt(d_model)"), (_variant(dim=-2), "wrong axis"),
               (_variant(mask="ignored"), "Blocked keys still get weight"),
               (_variant(mask="zero"), "a fill of 0 does not block"),
               (_variant(mask="inverted"), "polarity is inverted"),
               (_variant(swap=True), "in the other order"), (_variant(project_v=False), "Project the values")]


# ------------------------------------------------------------------ 07.alignment
def align_mean(weights):
    return weights.mean(dim=1).argmax(dim=-1)


def align_sum(weights):
    return weights.sum(1).argmax(-1)


def align_einsum_max(weights):
    return torch.max(torch.einsum("bhts->bts", weights) / weights.size(1), dim=-1).indices


def align_loops(weights):
    B, H, T, S = weights.shape
    out = torch.zeros(B, T, dtype=torch.long)
    for b in range(B):
        for t in range(T):
            out[b, t] = int(weights[b, :, t].mean(0).argmax())
    return out


def align_head0(weights):
    return weights[:, 0].argmax(-1)


def align_amax(weights):
    return weights.amax(1).argmax(-1)


def align_argmin(weights):
    return weights.mean(1).argmin(-1)


def align_wrong_axis(weights):
    return weights.mean(1).argmax(-2)


def align_float(weights):
    return weights.mean(1).argmax(-1).float()


ALIGN_RIGHT = [align_mean, align_sum, align_einsum_max, align_loops]
ALIGN_WRONG = [(align_head0, "head 0"), (align_amax, "maximum over heads"), (align_argmin, "argmin"),
               (align_wrong_axis, "argmax over the wrong axis"), (align_float, "integer indices")]


# ------------------------------------------------------------------ 07.predict_alignment
PREDICT_RIGHT = [["I", "cats", "cats"], ("I", "cats", "cats"), "I cats cats", [" I", "cats ", "cats"]]
PREDICT_WRONG = [(["I", "<pad>", "<pad>"], "<pad> key has the largest dot product"),
                 (["I", "I", "I"], "2 of 3 predictions are off"), ([0, 2, 2], "strings"),
                 (["I", "love"], "expected 3 words"), (["I", "like", "cats"], "not a source token")]


def cross_renormalised(x, memory, w_q, w_k, w_v, src_mask=None):
    out, weights = cross_matmul(x, memory, w_q, w_k, w_v, src_mask)
    weights = weights / weights.sum(-2, keepdim=True)
    return weights @ (memory @ w_v), weights


def cross_out_only(x, memory, w_q, w_k, w_v, src_mask=None):
    return cross_matmul(x, memory, w_q, w_k, w_v, src_mask)[0]


def align_list(weights):
    return weights.mean(1).argmax(-1).tolist()


def align_batch_mean(weights):
    return weights.mean(0).argmax(-1)


def cross_finfo_min(x, memory, w_q, w_k, w_v, src_mask=None):
    q, k, v = torch.matmul(x, w_q), torch.matmul(memory, w_k), torch.matmul(memory, w_v)
    scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(k.size(-1))
    if src_mask is not None:
        scores = scores.masked_fill(src_mask == False, torch.finfo(scores.dtype).min)  # noqa: E712
    weights = F.softmax(scores, dim=-1)
    return torch.matmul(weights, v), weights


def cross_q_with_w_k(x, memory, w_q, w_k, w_v, src_mask=None):
    return attention(x @ w_k, memory @ w_k, memory @ w_v, src_mask)


def cross_v_with_w_k(x, memory, w_q, w_k, w_v, src_mask=None):
    return attention(x @ w_q, memory @ w_k, memory @ w_k, src_mask)

RIGHT = {"07.cross_attention": CROSS_RIGHT, "07.alignment": ALIGN_RIGHT, "07.predict_alignment": PREDICT_RIGHT}
WRONG = {"07.cross_attention": CROSS_WRONG, "07.alignment": ALIGN_WRONG, "07.predict_alignment": PREDICT_WRONG}

WRONG["07.cross_attention"] += [(cross_renormalised, "do not sum to 1"), (cross_out_only, "Return all 2 values")]
WRONG["07.alignment"] += [(align_list, "no `.tolist()`"), (align_batch_mean, "averaged over the batch axis")]
RIGHT["07.predict_alignment"] += ["I, cats, cats"]

RIGHT["07.cross_attention"] += [cross_finfo_min]
WRONG["07.cross_attention"] += [(cross_q_with_w_k, "projected with w_q"), (cross_v_with_w_k, "projected with w_v")]
RIGHT["07.alignment"] += [lambda w: w.mean(1).max(-1)[1], lambda w: w.permute(0, 2, 1, 3).mean(2).argmax(-1)]
WRONG["07.alignment"] += [(lambda w: w.mean(-1).argmax(-1), "reduced the target and source axes")]

WRONG["07.alignment"] += [(lambda w: w.argmax(-1), "one alignment per head"),
                          (lambda w: w.mean(1).topk(1, dim=-1).indices, "trailing axis of size 1")]
WRONG["07.predict_alignment"] += [(["我", "爱", "猫"], "is a target word")]
WRONG["07.cross_attention"] += [(lambda x, m, wq, wk, wv, sm=None:
                                     cross_matmul(x, m, wq, wk, wv, None if sm is None else sm.unsqueeze(1)),
                                 "an extra axis from the mask")]


def cross_keys_only(x, memory, w_q, w_k, w_v, src_mask=None):  # scores from the keys alone: no query in them
    k, v = memory @ w_k, memory @ w_v
    scores = (k.sum(-1) / math.sqrt(k.size(-1)))[:, None, :].expand(-1, x.size(1), -1)
    if src_mask is not None:
        scores = scores.masked_fill(~src_mask, float("-inf"))
    weights = scores.softmax(-1)
    return weights @ v, weights


WRONG["07.cross_attention"] += [(cross_keys_only, "the queries play no part")]
WRONG["07.alignment"] += [(lambda w: w.mean(dim=(0, 1)).argmax(-1), "the batch axis is gone")]


# From the independent answer set (issue 11): a wrong scale is named by the constant it divides by;
# a vote of the heads by its property (every position one of the most frequent per-head argmaxes).
def _cross_scaled(size):
    def cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):
        q, k, v = x @ w_q, memory @ w_k, memory @ w_v
        s = q @ k.transpose(-2, -1) / math.sqrt(size(q, k, v))
        if src_mask is not None:
            s = s.masked_fill(~src_mask, float("-inf"))
        w = s.softmax(-1)
        return w @ v, w
    return cross_attention


def _vote(w):
    per_head = w.argmax(-1)  # (B, H, T)
    return torch.tensor([[collections.Counter(per_head[b, :, t].tolist()).most_common(1)[0][0]
                          for t in range(per_head.size(2))] for b in range(per_head.size(0))])


WRONG["07.cross_attention"] += [(_cross_scaled(lambda q, k, v: v.size(-1)), "sqrt(d_v)"),
                                (_cross_scaled(lambda q, k, v: k.size(-2)), "sqrt(S)"),
                                (_cross_scaled(lambda q, k, v: 10.0), "divided by 3.16")]
WRONG["07.alignment"] += [(lambda w: w.argmax(-1).mode(dim=1).values, "vote of the heads"),
                          (_vote, "vote of the heads")]
WRONG["07.alignment"] += [(lambda w: w.log().mean(1).argmax(-1), "*log*-weights")]
# Named in the second round (issue 19): positions given instead of the source words.
WRONG["07.predict_alignment"] += [([0, 2, 2], "holds positions"), (torch.tensor([0, 2, 2]), "holds positions"),
                                  ("0 2 2", "holds positions"), ((0, 1, 3), "they point at"),
                                  ([1, 3, 3], "counted from 1")]
# The alignment the meanings suggest (each word to its translation) is not the one the numbers give: the guess
# is named, and one wrong position is said in the singular.
WRONG["07.predict_alignment"] += [(["I", "love", "cats"], "not the meanings"),
                                  (["I", "cats", "love"], "1 of 3 predictions is off (target position 2)")]

(test_right_answers_pass, test_wrong_answers_name_the_mistake,
 test_every_exercise_has_three_right_and_three_wrong_answers) = answer_set_tests(RIGHT, WRONG)


def test_kv_from_the_decoder_is_named_not_a_raw_error():
    r = fails_with("07.cross_attention", _variant(kv_of="x"), "(B, T, S)")
    assert "RuntimeError" not in r.message


def test_predict_alignment_names_the_longest_key_guess():
    fails_with("07.predict_alignment", ["cats", "cats", "cats"], "longest key")
