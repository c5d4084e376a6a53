"""Checks of lesson 06 (masks): right answers in several styles pass; the mistakes learners
make fail with a hint naming them."""

import numpy as np
import torch
from checks_answers import answer_set_tests, fails_with

from course_utils.transformer import masks


# ------------------------------------------------------------------ 06.causal_mask
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


def causal_subsequent_style(T):  # the "upper triangle == 0" idiom, batch axis dropped
    return (torch.triu(torch.ones(1, T, T, dtype=torch.uint8), diagonal=1) == 0)[0]


def causal_numpy(T):
    return torch.from_numpy(np.tril(np.ones((T, T)))).bool()


def causal_where(T):
    i = torch.arange(T)
    return torch.where(i[None, :] > i[:, None], False, True)


def subsequent_mask_with_batch(T):  # pasted as is: (1, T, T)
    return torch.triu(torch.ones(1, T, T, dtype=torch.uint8), diagonal=1) == 0


def causal_triu_polarity(T):
    return torch.ones(T, T, dtype=torch.bool).triu(1)


def causal_upper(T):
    return torch.ones(T, T, dtype=torch.bool).triu()


def causal_no_diagonal(T):
    return torch.ones(T, T, dtype=torch.bool).tril(-1)


def causal_float_nn(T):
    return torch.nn.Transformer.generate_square_subsequent_mask(T)


def causal_long(T):
    return torch.ones(T, T, dtype=torch.long).tril()


def causal_float01(T):
    return torch.tril(torch.ones(T, T))


def causal_all_true(T):
    return torch.ones(T, T, dtype=torch.bool)


def causal_uint8_inverted(T):
    return torch.triu(torch.ones(T, T, dtype=torch.uint8), diagonal=1)


CAUSAL_RIGHT = [causal_tril, causal_compare, causal_loops, causal_subsequent_style, causal_numpy, causal_where]
CAUSAL_WRONG = [(causal_triu_polarity, "Polarity inverted"), (causal_upper, "see the future"),
                (causal_no_diagonal, "attend to itself"), (causal_float_nn, "float mask (0 = attend, -inf = blocked)"),
                (causal_long, "right pattern but dtype torch.int64"),
                (causal_float01, "Return a bool mask, True = may attend"),
                (subsequent_mask_with_batch, "extra leading axes"), (causal_all_true, "nothing is blocked"),
                (causal_uint8_inverted, "opposite polarity")]


# ------------------------------------------------------------------ 06.padding_mask
def pad_index(tokens, pad_id):
    return (tokens != pad_id)[:, None, None, :]


def pad_unsqueeze(tokens, pad_id):
    return tokens.ne(pad_id).unsqueeze(1).unsqueeze(2)


def pad_view(tokens, pad_id):
    B, T = tokens.shape
    return (tokens != pad_id).view(B, 1, 1, T)


def pad_loops(tokens, pad_id):
    B, T = tokens.shape
    m = torch.zeros(B, 1, 1, T, dtype=torch.bool)
    for b in range(B):
        for t in range(T):
            m[b, 0, 0, t] = bool(tokens[b, t] != pad_id)
    return m


def pad_logical_not(tokens, pad_id):
    return torch.logical_not(tokens == pad_id).reshape(tokens.size(0), 1, 1, -1)


def pad_polarity(tokens, pad_id):
    return (tokens == pad_id)[:, None, None, :]


def pad_flat(tokens, pad_id):
    return tokens != pad_id


def pad_src_style(tokens, pad_id):  # (src != pad).unsqueeze(-2): (B, 1, T)
    return (tokens != pad_id).unsqueeze(-2)


def pad_queries(tokens, pad_id):
    return (tokens != pad_id)[:, None, :, None]


def pad_zero(tokens, pad_id):
    return (tokens != 0)[:, None, None, :]


def pad_long(tokens, pad_id):
    return (tokens != pad_id)[:, None, None, :].long()


def pad_float_additive(tokens, pad_id):
    return torch.zeros(tokens.shape).masked_fill(tokens == pad_id, float("-inf"))[:, None, None, :]


PAD_RIGHT = [pad_index, pad_unsqueeze, pad_view, pad_loops, pad_logical_not]
PAD_WRONG = [(pad_polarity, "Polarity inverted"), (pad_flat, "Add a head axis and a query axis"),
             (pad_src_style, "lines B up with the *heads* axis"), (pad_queries, "padded *queries*"),
             (pad_zero, "instead of `pad_id`"), (pad_long, "right pattern but dtype"),
             (pad_float_additive, "float mask")]


# ------------------------------------------------------------------ 06.decoder_mask
def dec_and(tgt, pad_id):
    T = tgt.size(1)
    return (tgt != pad_id)[:, None, None, :] & torch.ones(T, T, dtype=torch.bool).tril()


def dec_package(tgt, pad_id):
    return masks.padding_mask(tgt, pad_id) & masks.causal_mask(tgt.size(1))


def dec_logical_and(tgt, pad_id):
    T = tgt.size(1)
    return torch.logical_and(causal_compare(T)[None, None], pad_unsqueeze(tgt, pad_id))


def dec_expand_loops(tgt, pad_id):
    B, T = tgt.shape
    m = torch.zeros(B, 1, T, T, dtype=torch.bool)
    for b in range(B):
        for i in range(T):
            for j in range(i + 1):
                m[b, 0, i, j] = bool(tgt[b, j] != pad_id)
    return m


def dec_or(tgt, pad_id):
    return pad_index(tgt, pad_id) | causal_tril(tgt.size(1))


def dec_only_causal(tgt, pad_id):
    return causal_tril(tgt.size(1))


def dec_only_padding(tgt, pad_id):
    return pad_index(tgt, pad_id)


def dec_pad_queries(tgt, pad_id):
    return pad_queries(tgt, pad_id) & causal_tril(tgt.size(1))


def dec_transposed(tgt, pad_id):
    return pad_index(tgt, pad_id) & causal_tril(tgt.size(1)).T


def dec_zero(tgt, pad_id):
    return pad_zero(tgt, pad_id) & causal_tril(tgt.size(1))


def dec_multiply_float(tgt, pad_id):
    return pad_index(tgt, pad_id).float() * causal_tril(tgt.size(1)).float()


DEC_RIGHT = [dec_and, dec_package, dec_logical_and, dec_expand_loops]
DEC_WRONG = [(dec_or, "`|` lets a key through"), (dec_only_causal, "only the causal part"),
             (dec_only_padding, "only the padding part"), (dec_pad_queries, "padded *queries*"),
             (dec_transposed, "transposed"), (dec_zero, "instead of `pad_id`"),
             (dec_multiply_float, "right pattern but dtype torch.float32")]


# ------------------------------------------------------------------ 06.masked_softmax
def ms_nan_to_num(scores, mask):
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1).nan_to_num(0.0)


def ms_where(scores, mask):
    w = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    return torch.where(mask.any(dim=-1, keepdim=True), w, torch.zeros_like(w))


def ms_big_negative_times_mask(scores, mask):
    return scores.masked_fill(~mask, -1e9).softmax(-1) * mask


def ms_by_hand_float64(scores, mask):
    s = scores.double().masked_fill(~mask, float("-inf"))
    top = s.amax(-1, keepdim=True).nan_to_num(0.0, neginf=0.0)
    e = (s - top).exp()
    total = e.sum(-1, keepdim=True)
    return torch.where(total > 0, e / total.clamp_min(1e-300), 0.0).to(scores.dtype)


def ms_rows_loop(scores, mask):
    m = mask.expand(scores.shape)
    out = torch.zeros_like(scores)
    n = scores.size(-1)
    flat_s, flat_m, flat_o = scores.reshape(-1, n), m.reshape(-1, n), out.view(-1, n)
    for r in range(flat_s.size(0)):
        if flat_m[r].any():
            flat_o[r, flat_m[r]] = flat_s[r, flat_m[r]].softmax(0)
    return out


def ms_valid_lens_style(scores, mask):  # fill -1e6 where the key is invalid, then softmax
    return torch.softmax(torch.where(mask, scores, torch.tensor(-1e6)), dim=-1)


def ms_plain_inf(scores, mask):
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)


def ms_fill_zero(scores, mask):
    return scores.masked_fill(~mask, 0.0).softmax(-1)


def ms_after(scores, mask):
    return scores.softmax(-1) * mask


def ms_polarity(scores, mask):
    return scores.masked_fill(mask, float("-inf")).softmax(-1)


def ms_polarity_fixed(scores, mask):
    return scores.masked_fill(mask, float("-inf")).softmax(-1).nan_to_num(0.0)


def ms_wrong_axis(scores, mask):
    return scores.masked_fill(~mask, float("-inf")).softmax(-2).nan_to_num(0.0)


def ms_in_place(scores, mask):
    scores.masked_fill_(~mask, float("-inf"))
    return scores.softmax(-1).nan_to_num(0.0)


MS_RIGHT = [ms_nan_to_num, ms_where, ms_big_negative_times_mask, ms_by_hand_float64, ms_rows_loop]
MS_WRONG = [(ms_valid_lens_style, "over the *blocked* keys"), (ms_plain_inf, "every key is blocked"),
            (ms_fill_zero, "does not block"), (ms_after, "*after* the softmax"), (ms_polarity, "polarity is inverted"),
            (ms_polarity_fixed, "polarity is inverted"), (ms_wrong_axis, "wrong axis"), (ms_in_place, "in place")]


# ------------------------------------------------------------------ 06.nn_border
def border_invert(mha, x, tgt, pad_id):
    T = x.size(1)
    out, _ = mha(x, x, x, attn_mask=~masks.causal_mask(T),
                 key_padding_mask=~masks.padding_mask(tgt, pad_id)[:, 0, 0, :])
    return out


def border_logical_not(mha, x, tgt, pad_id):
    T = x.size(1)
    attn = torch.logical_not(masks.causal_mask(T))
    return mha(x, x, x, attn_mask=attn, key_padding_mask=tgt == pad_id)[0]


def border_float_mask(mha, x, tgt, pad_id):
    T = x.size(1)
    attn = torch.nn.Transformer.generate_square_subsequent_mask(T)
    kpm = torch.zeros(tgt.shape).masked_fill(tgt == pad_id, float("-inf"))
    return mha(x, x, x, attn_mask=attn, key_padding_mask=kpm)[0]


def border_triu(mha, x, tgt, pad_id):
    T = x.size(1)
    return mha(x, x, x, attn_mask=torch.ones(T, T, dtype=torch.bool).triu(1), key_padding_mask=tgt.eq(pad_id))[0]


def border_stub(mha, x, tgt, pad_id):
    T = x.size(1)
    return mha(x, x, x, attn_mask=masks.causal_mask(T), key_padding_mask=masks.padding_mask(tgt, pad_id)[:, 0, 0, :])[0]


def border_only_padding_fixed(mha, x, tgt, pad_id):
    return mha(x, x, x, attn_mask=masks.causal_mask(x.size(1)), key_padding_mask=tgt == pad_id)[0]


def border_only_causal_fixed(mha, x, tgt, pad_id):
    return mha(x, x, x, attn_mask=~masks.causal_mask(x.size(1)), key_padding_mask=tgt != pad_id)[0]


def border_float_ours(mha, x, tgt, pad_id):
    return mha(x, x, x, attn_mask=masks.causal_mask(x.size(1)).float(), key_padding_mask=tgt == pad_id)[0]


def border_no_padding(mha, x, tgt, pad_id):
    return mha(x, x, x, attn_mask=~masks.causal_mask(x.size(1)))[0]


BORDER_RIGHT = [border_invert, border_logical_not, border_float_mask, border_triu]
BORDER_WRONG = [(border_stub, "Invert both"), (border_only_padding_fixed, "attn_mask is still"),
                (border_only_causal_fixed, "key_padding_mask still marks the *real* tokens"),
                (border_float_ours, "blocks nothing"), (border_no_padding, "padded keys are not hidden")]



# ------------------------------------------------------------------ more mistakes, by property
def causal_band(T):
    return torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=-1)


def causal_two_axes(T):
    return torch.tril(torch.ones(T, T, dtype=torch.bool))[None, None]


def pad_batch_last(tokens, pad_id):
    return (tokens != pad_id)[None, None]


def dec_squeezed(tgt, pad_id):
    return dec_and(tgt, pad_id).squeeze(1)


def ms_exp_times_mask(scores, mask):
    e = scores.exp() * mask
    return e / e.sum(-1, keepdim=True)


def ms_multiply_scores(scores, mask):
    return (scores * mask).softmax(-1)


def border_transposed_not_inverted(mha, x, tgt, pad_id):
    return mha(x, x, x, attn_mask=masks.causal_mask(x.size(1)).T, key_padding_mask=tgt == pad_id)[0]


def border_tuple(mha, x, tgt, pad_id):
    return mha(x, x, x, attn_mask=~masks.causal_mask(x.size(1)), key_padding_mask=tgt == pad_id)


# ------------------------------------------------------------------ a second answer set
def _border(attn, kpm):
    def causal_self_attention(mha, x, tgt, pad_id):
        T = x.size(1)
        return mha(x, x, x, attn_mask=attn(T), key_padding_mask=kpm(tgt, pad_id), need_weights=False)[0]
    return causal_self_attention


def ms_shifted_exp(scores, mask):
    e = torch.exp(scores - scores.amax(-1, keepdim=True)) * mask
    return e / e.sum(-1, keepdim=True).clamp(min=1e-12)

RIGHT = {"06.causal_mask": CAUSAL_RIGHT, "06.padding_mask": PAD_RIGHT, "06.decoder_mask": DEC_RIGHT,
         "06.masked_softmax": MS_RIGHT, "06.nn_border": BORDER_RIGHT}
WRONG = {"06.causal_mask": CAUSAL_WRONG, "06.padding_mask": PAD_WRONG, "06.decoder_mask": DEC_WRONG,
         "06.masked_softmax": MS_WRONG, "06.nn_border": BORDER_WRONG}

WRONG["06.causal_mask"] += [(causal_band, "True above the diagonal"), (causal_two_axes, "extra leading axes")]
WRONG["06.padding_mask"] += [(pad_batch_last, "axes are not where they belong")]
WRONG["06.decoder_mask"] += [(dec_squeezed, "axes are not where they belong")]
WRONG["06.masked_softmax"] += [(ms_exp_times_mask, "NaN in the rows where every key is blocked"),
                               (ms_multiply_scores, "Blocked keys still get weight")]
WRONG["06.nn_border"] += [(border_transposed_not_inverted, "also blocks the diagonal"),
                          (border_tuple, "returns (output, weights)")]

RIGHT["06.causal_mask"] += [lambda T: ~torch.ones(T, T, dtype=torch.bool).triu(1),
                            lambda T: torch.ones(T, T).tril() == 1]
WRONG["06.causal_mask"] += [(lambda T: torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=1),
                             "True above the diagonal"),
                            (lambda T: torch.eye(T).bool(), "False on or below the diagonal")]
RIGHT["06.padding_mask"] += [lambda t, p: t.ne(p)[:, None, None], lambda t, p: (t != p).unsqueeze(-2).unsqueeze(-2)]
WRONG["06.padding_mask"] += [(lambda t, p: (t != p)[:, None, None, :].int(), "right pattern but dtype")]
RIGHT["06.decoder_mask"] += [lambda t, p:
                                 torch.tril(masks.padding_mask(t, p).expand(t.size(0), 1, t.size(1), t.size(1))),
                             lambda t, p: (t != p)[:, None, None, :].repeat(1, 1, t.size(1), 1).tril()]
WRONG["06.decoder_mask"] += [(lambda t, p: masks.padding_mask(t, p) & ~masks.causal_mask(t.size(1)), "see the future"),
                             (lambda t, p:
                                  torch.triu(masks.padding_mask(t, p).expand(t.size(0), 1, t.size(1), t.size(1))),
                              "see the future")]
RIGHT["06.masked_softmax"] += [ms_shifted_exp, lambda s, m: torch.where(m, s, float("-inf")).softmax(-1).nan_to_num()]
WRONG["06.masked_softmax"] += [(lambda s, m: s.softmax(-1).masked_fill(~m, 0), "*after* the softmax")]
RIGHT["06.nn_border"] += [_border(lambda T: torch.zeros(T, T).masked_fill(~masks.causal_mask(T), float("-inf")),
                                  lambda t, p: t == p)]
WRONG["06.nn_border"] += [(_border(lambda T: ~masks.causal_mask(T), lambda t, p: (t == p).float()),
                           "float key_padding_mask"),
                          (_border(lambda T: (~masks.causal_mask(T)).float(), lambda t, p: t == p), "float attn_mask")]

WRONG["06.causal_mask"] += [(lambda T: [[j <= i for j in range(T)] for i in range(T)], "Python list")]
WRONG["06.decoder_mask"] += [(lambda t, p: causal_tril(t.size(1))[None, None], "only the causal part")]
WRONG["06.nn_border"] += [(lambda mha, x, tgt, p:
                           mha(x, x, x, attn_mask=~masks.causal_mask(x.size(1)) & ~masks.padding_mask(tgt, p)[:, 0])[0],
                           "takes the two masks apart")]
RIGHT["06.masked_softmax"] += [lambda s, m: s.masked_fill(~m, float("-inf")).softmax(-1).masked_fill(~m, 0.0)]
WRONG["06.padding_mask"] += [(lambda t, p: (t > p)[:, None, None, :], "Some real tokens are False")]
RIGHT["06.causal_mask"] += [lambda T: torch.triu(torch.ones(T, T, dtype=torch.bool)).T]
WRONG["06.causal_mask"] += [(lambda T: np.tril(np.ones((T, T), dtype=bool)), "NumPy array")]
WRONG["06.nn_border"] += [(lambda mha, x, tgt, p: mha(x, x, x, attn_mask=~masks.causal_mask(x.size(1)),
                                                      key_padding_mask=tgt == p)[1],
                           "these are the attention weights")]


# From the independent answer set (issue 11): the mask handed to torch.nn is named by what it blocks.
def border_blocks_diagonal(mha, x, tgt, pad_id):
    am = torch.triu(torch.ones(x.size(1), x.size(1), dtype=torch.bool), diagonal=0)
    am[0, 0] = False  # keeps the first row from turning into NaN
    return mha(x, x, x, attn_mask=am, key_padding_mask=tgt == pad_id)[0]


def border_blocks_past(mha, x, tgt, pad_id):
    return mha(x, x, x, attn_mask=torch.tril(torch.ones(x.size(1), x.size(1), dtype=torch.bool), diagonal=-1),
               key_padding_mask=tgt == pad_id)[0]


def border_kpm_shifted(mha, x, tgt, pad_id):
    return mha(x, x, x, attn_mask=~masks.causal_mask(x.size(1)), key_padding_mask=(tgt == pad_id).roll(1, -1))[0]


def decoder_mask_batch_as_T(tgt, pad_id):
    T = tgt.size(0)
    return (tgt != pad_id)[:, None, None, :] & torch.tril(torch.ones(T, T, dtype=torch.bool))


WRONG["06.decoder_mask"] += [(decoder_mask_batch_as_T, "T = tgt.size(1)")]


def ms_one_softmax_for_all(scores, mask):
    m = mask.expand_as(scores)
    out = torch.zeros_like(scores)
    out[m] = scores[m].softmax(0)
    return out


WRONG["06.masked_softmax"] += [(ms_one_softmax_for_all, "one softmax over every allowed entry")]
WRONG["06.nn_border"] += [(border_blocks_diagonal, "also blocks the diagonal"),
                          (border_blocks_past, "blocks the *past*"),
                          (border_kpm_shifted, "not True exactly at the padding")]
# Named in the second round (issue 19): masks of the wrong shape that torch's fast path lets through,
# and rows with no allowed key that hold something other than NaN or zeros.
def border_course_shaped_padding(mha, x, tgt, pad_id):  # (B, 1, 1, T): eval-mode torch does not check it
    T = x.size(1)
    out, _ = mha(x, x, x, attn_mask=~masks.causal_mask(T), key_padding_mask=~masks.padding_mask(tgt, pad_id))
    return out


def border_padding_transposed(mha, x, tgt, pad_id):
    T = x.size(1)
    out, _ = mha(x, x, x, attn_mask=~masks.causal_mask(T), key_padding_mask=(tgt == pad_id).T)
    return out


def border_int_padding(mha, x, tgt, pad_id):
    T = x.size(1)
    out, _ = mha(x, x, x, attn_mask=~masks.causal_mask(T), key_padding_mask=(tgt == pad_id).int())
    return out


def border_per_head_mask(mha, x, tgt, pad_id):  # one (T, T) mask per batch row and head: torch takes it
    B, T = tgt.shape
    blocked = (~masks.causal_mask(T)) | (tgt == pad_id)[:, None, :]
    out, _ = mha(x, x, x, attn_mask=blocked.repeat_interleave(mha.num_heads, dim=0))
    return out


def border_positional(mha, x, tgt, pad_id):  # the masks passed by position
    T = x.size(1)
    return mha(x, x, x, tgt == pad_id, False, ~masks.causal_mask(T))[0]


def ms_uniform_rows(scores, mask):
    w = scores.masked_fill(~mask, float("-inf")).softmax(-1)
    return torch.where(torch.isnan(w), torch.full_like(w, 1.0 / w.size(-1)), w)


def ms_nan_to_one(scores, mask):
    return scores.masked_fill(~mask, float("-inf")).softmax(-1).nan_to_num(1.0)


RIGHT["06.nn_border"] += [border_per_head_mask, border_positional]
WRONG["06.nn_border"] += [(border_course_shaped_padding, "takes (B, T)"),
                          (border_padding_transposed, "without a transpose"),
                          (border_int_padding, "as bool tensors")]
WRONG["06.masked_softmax"] += [(ms_uniform_rows, "spread evenly (1/T_k each)"), (ms_nan_to_one, "must be all zeros")]

(test_right_answers_pass, test_wrong_answers_name_the_mistake,
 test_every_exercise_has_three_right_and_three_wrong_answers) = answer_set_tests(RIGHT, WRONG)


def test_float_mask_hint_speaks_of_bool_masks():
    r = fails_with("06.causal_mask", causal_float_nn, "bool")
    assert "dtype of the inputs" not in f"{r.message} {r.hint}"
