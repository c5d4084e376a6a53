"""Checks of lesson 08 (building the Transformer): right answers in several styles pass; the
mistakes learners make fail with a hint naming them."""

import numpy as np
import torch
import torch.nn.functional as F
from checks_answers import answer_set_tests, fails_with

# ------------------------------------------------------------------ 08.predict_layernorm
LN_PREDICT_RIGHT = [[-1.34, -0.45, 0.45, 1.34], np.array([-1.34, -0.45, 0.45, 1.34]),
                    torch.tensor([[-1.3416, -0.4472, 0.4472, 1.3416]]), (-1.342, -0.447, 0.447, 1.342)]
LN_PREDICT_WRONG = [([-1.16, -0.39, 0.39, 1.16], "*unbiased* standard deviation"),
                    ([-1.5, -0.5, 0.5, 1.5], "did not divide by the standard deviation"),
                    ([-1.2, -0.4, 0.4, 1.2], "not by its square root"),
                    ([-1.34, -0.44, 0.44, 1.34], "close: compute it exactly"),
                    ([0.0, 0.33, 0.67, 1.0], "min-max"), ("-1.34 -0.45 0.45 1.34", "should be a number"),
                    ([-1.34, 0.0, 1.34], "should hold 4 numbers")]


# ------------------------------------------------------------------ 08.layer_norm
def ln_mean_of_squares(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def ln_rsqrt(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, unbiased=False, keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps) * gamma + beta


def ln_builtin(x, gamma, beta, eps=1e-5):
    return F.layer_norm(x, gamma.shape, gamma, beta, eps)


def ln_float64_rows(x, gamma, beta, eps=1e-5):
    rows = x.double().reshape(-1, x.size(-1))
    out = torch.empty_like(rows)
    for i, row in enumerate(rows):
        mu = row.sum() / row.numel()
        sigma2 = ((row - mu) ** 2).sum() / row.numel()
        out[i] = (row - mu) / (sigma2 + eps) ** 0.5
    return (out.reshape(x.shape) * gamma.double() + beta.double()).float()


def _ln(unbiased=False, eps_inside=True, dim=-1, affine="right", power=0.5):
    def layer_norm(x, gamma, beta, eps=1e-5):
        mean = x.mean(dim, keepdim=True)
        var = x.var(dim, unbiased=unbiased, keepdim=True)
        y = (x - mean) / ((var + eps) ** power if eps_inside else var.sqrt() + eps)
        return {"right": y * gamma + beta, "none": y, "swapped": y * beta + gamma}[affine]
    return layer_norm


LN_RIGHT = [ln_mean_of_squares, ln_rsqrt, ln_float64_rows]
LN_WRONG = [(_ln(unbiased=True), "unbiased variance"), (_ln(eps_inside=False), "outside the square root"),
            (_ln(unbiased=True, eps_inside=False), "Two slips"), (_ln(affine="none"), "not applied"),
            (_ln(affine="swapped"), "swapped"), (_ln(dim=0), "wrong axis"), (_ln(power=1.0), "divided by the variance")]


# ------------------------------------------------------------------ 08.feed_forward
def ffn_matmul(x, w_1, b_1, w_2, b_2):
    return torch.relu(x @ w_1 + b_1) @ w_2 + b_2


def ffn_linear(x, w_1, b_1, w_2, b_2):
    return F.linear(F.relu(F.linear(x, w_1.T, b_1)), w_2.T, b_2)


def ffn_einsum_clamp(x, w_1, b_1, w_2, b_2):
    h = (torch.einsum("btd,df->btf", x, w_1) + b_1).clamp(min=0)
    return torch.einsum("btf,fd->btd", h, w_2) + b_2


def ffn_float64_maximum(x, w_1, b_1, w_2, b_2):
    h = torch.maximum(x.double() @ w_1.double() + b_1.double(), torch.tensor(0.0, dtype=torch.float64))
    return h @ w_2.double() + b_2.double()


def ffn_relu_after(x, w_1, b_1, w_2, b_2):
    return torch.relu(torch.relu(x @ w_1 + b_1) @ w_2 + b_2)


def ffn_relu_only_after(x, w_1, b_1, w_2, b_2):
    return torch.relu((x @ w_1 + b_1) @ w_2 + b_2)


def ffn_linear_only(x, w_1, b_1, w_2, b_2):
    return (x @ w_1 + b_1) @ w_2 + b_2


def ffn_no_bias(x, w_1, b_1, w_2, b_2):
    return torch.relu(x @ w_1) @ w_2


def ffn_no_b1(x, w_1, b_1, w_2, b_2):
    return torch.relu(x @ w_1) @ w_2 + b_2


def ffn_no_b2(x, w_1, b_1, w_2, b_2):
    return torch.relu(x @ w_1 + b_1) @ w_2


def ffn_sigmoid(x, w_1, b_1, w_2, b_2):
    return torch.sigmoid(x @ w_1 + b_1) @ w_2 + b_2


def ffn_gelu(x, w_1, b_1, w_2, b_2):
    return F.gelu(x @ w_1 + b_1) @ w_2 + b_2


FFN_RIGHT = [ffn_matmul, ffn_linear, ffn_einsum_clamp, ffn_float64_maximum]
FFN_WRONG = [(ffn_relu_after, "ReLU belongs between the two linear maps only"),
             (ffn_relu_only_after, "ReLU belongs between the two linear maps only"),
             (ffn_linear_only, "No non-linearity"), (ffn_no_bias, "biases b_1 and b_2 are missing"),
             (ffn_no_b1, "b_1 is missing"), (ffn_no_b2, "b_2 is missing"), (ffn_sigmoid, "not a sigmoid"),
             (ffn_gelu, "not GELU")]


# ------------------------------------------------------------------ 08.decoder_layer
def dec_post_ln(layer, x, memory, tgt_mask, memory_mask):
    x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))
    x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))
    return layer.norm3(x + layer.ffn(x))


def dec_keywords(layer, x, memory, tgt_mask, memory_mask):
    h = layer.norm1(x + layer.self_attn(x_q=x, x_kv=x, mask=tgt_mask))
    h = layer.norm2(h + layer.cross_attn(x_q=h, x_kv=memory, mask=memory_mask))
    return layer.norm3(h + layer.ffn.w_2(torch.relu(layer.ffn.w_1(h))))


def dec_loop(layer, x, memory, tgt_mask, memory_mask):
    sublayers = [lambda h: layer.self_attn(h, h, tgt_mask), lambda h: layer.cross_attn(h, memory, memory_mask),
                 layer.ffn]
    for sublayer, norm in zip(sublayers, [layer.norm1, layer.norm2, layer.norm3]):
        x = norm(x + sublayer(x))
    return x


def dec_functional_norm(layer, x, memory, tgt_mask, memory_mask):
    def norm(n, h):
        return F.layer_norm(h, n.normalized_shape, n.weight, n.bias, n.eps)
    x = norm(layer.norm1, x + layer.self_attn(x, x, tgt_mask))
    x = norm(layer.norm2, x + layer.cross_attn(x, memory, memory_mask))
    return norm(layer.norm3, x + layer.ffn(x))


def dec_call_layer(layer, x, memory, tgt_mask, memory_mask):
    return layer(x, memory, tgt_mask, memory_mask)


def dec_call_forward(layer, x, memory, tgt_mask, memory_mask):
    return layer.forward(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask)


def _dec(order="post", self_mask=True, cross="memory", cross_mask=True, res=(1, 1, 1)):
    def decoder_layer(layer, x, memory, tgt_mask, memory_mask):
        subs = [lambda h: layer.self_attn(h, h, tgt_mask if self_mask else None),
                lambda h: layer.cross_attn(h, memory if cross == "memory" else h, memory_mask if cross_mask else None),
                layer.ffn]
        for sub, norm, r in zip(subs, [layer.norm1, layer.norm2, layer.norm3], res):
            if order == "post":
                x = norm(x + sub(x)) if r else norm(sub(x))
            elif order == "pre":
                x = x + sub(norm(x))
            else:
                x = x + norm(sub(x))
        return x
    return decoder_layer


DEC_RIGHT = [dec_post_ln, dec_keywords, dec_loop, dec_functional_norm]
DEC_WRONG = [(dec_call_layer, "calls the finished layer"), (dec_call_forward, "calls the finished layer"),
             (_dec(order="pre"), "pre-LN"), (_dec(order="inside"), "before adding the residual"),
             (_dec(self_mask=False), "got no mask"), (_dec(cross_mask=False), "ignores memory_mask"),
             (_dec(cross="self", cross_mask=False), "decoder's own states"),
             (_dec(res=(0, 1, 1)), "around the self-attention is missing"),
             (_dec(res=(1, 0, 1)), "around the cross-attention is missing"),
             (_dec(res=(1, 1, 0)), "around the feed-forward network is missing")]


# ------------------------------------------------------------------ 08.fix_encoder_layer
def enc_fixed(layer, x, mask):
    h = layer.norm1(x + layer.self_attn(x, x, mask))
    return layer.norm2(h + layer.ffn(h))


def enc_named(layer, x, mask):
    attended = layer.self_attn(x, x, mask=mask)
    h = layer.norm1(attended + x)
    return layer.norm2(layer.ffn(h) + h)


def enc_functional(layer, x, mask):
    n1, n2 = layer.norm1, layer.norm2
    h = F.layer_norm(x + layer.self_attn(x, x, mask), n1.normalized_shape, n1.weight, n1.bias, n1.eps)
    return F.layer_norm(h + layer.ffn(h), n2.normalized_shape, n2.weight, n2.bias, n2.eps)


def enc_stub(layer, x, mask):
    h = layer.norm1(x + layer.self_attn(x, x, mask))
    return layer.norm2(x + layer.ffn(h))


def enc_call(layer, x, mask):
    return layer(x, mask)


def enc_no_residual(layer, x, mask):
    h = layer.norm1(x + layer.self_attn(x, x, mask))
    return layer.norm2(layer.ffn(h))


def enc_ffn_of_x(layer, x, mask):
    h = layer.norm1(x + layer.self_attn(x, x, mask))
    return layer.norm2(h + layer.ffn(x))


def enc_pre_ln(layer, x, mask):
    n = layer.norm1(x)
    h = x + layer.self_attn(n, n, mask)
    return h + layer.ffn(layer.norm2(h))


def enc_no_norm2(layer, x, mask):
    h = layer.norm1(x + layer.self_attn(x, x, mask))
    return h + layer.ffn(h)


ENC_RIGHT = [enc_fixed, enc_named, enc_functional]
ENC_WRONG = [(enc_stub, "Still the original bug"), (enc_call, "calls the finished layer"),
             (enc_no_residual, "residual around the feed-forward network is gone"),
             (enc_ffn_of_x, "not the layer's input x"), (enc_pre_ln, "pre-LN"), (enc_no_norm2, "norm2 is missing")]



def dec_cross_first(layer, x, memory, tgt_mask, memory_mask):
    x = layer.norm1(x + layer.cross_attn(x, memory, memory_mask))
    x = layer.norm2(x + layer.self_attn(x, x, tgt_mask))
    return layer.norm3(x + layer.ffn(x))


def dec_norms_swapped(layer, x, memory, tgt_mask, memory_mask):
    x = layer.norm2(x + layer.self_attn(x, x, tgt_mask))
    x = layer.norm1(x + layer.cross_attn(x, memory, memory_mask))
    return layer.norm3(x + layer.ffn(x))


def dec_cross_reads_input(layer, x, memory, tgt_mask, memory_mask):
    h = layer.norm1(x + layer.self_attn(x, x, tgt_mask))
    h = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))
    return layer.norm3(h + layer.ffn(h))


def dec_one_norm(layer, x, memory, tgt_mask, memory_mask):
    x = x + layer.self_attn(x, x, tgt_mask)
    x = x + layer.cross_attn(x, memory, memory_mask)
    return layer.norm3(x + layer.ffn(x))


def enc_unnormalised_residual(layer, x, mask):
    a = x + layer.self_attn(x, x, mask)
    return layer.norm2(a + layer.ffn(layer.norm1(a)))


def enc_norms_swapped(layer, x, mask):
    h = layer.norm2(x + layer.self_attn(x, x, mask))
    return layer.norm1(h + layer.ffn(h))


def ln_eps_fixed(x, gamma, beta, eps=1e-5):
    return ln_rsqrt(x, gamma, beta, 1e-5)


def ln_std(x, gamma, beta, eps=1e-5):
    return (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True) * gamma + beta


def ln_global(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean()) / (x.var(unbiased=False) + eps).sqrt() + beta


def ffn_tanh(x, w_1, b_1, w_2, b_2):
    return torch.tanh(x @ w_1 + b_1) @ w_2 + b_2


def ffn_b1_after_relu(x, w_1, b_1, w_2, b_2):
    return (torch.relu(x @ w_1) + b_1) @ w_2 + b_2


def _sub(x, f, norm):
    return norm(x + f(x))

RIGHT = {"08.predict_layernorm": LN_PREDICT_RIGHT, "08.layer_norm": LN_RIGHT, "08.feed_forward": FFN_RIGHT,
         "08.decoder_layer": DEC_RIGHT, "08.fix_encoder_layer": ENC_RIGHT}
WRONG = {"08.predict_layernorm": LN_PREDICT_WRONG, "08.layer_norm": LN_WRONG, "08.feed_forward": FFN_WRONG,
         "08.decoder_layer": DEC_WRONG, "08.fix_encoder_layer": ENC_WRONG}

WRONG["08.decoder_layer"] += [(dec_cross_first, "wrong order"), (dec_norms_swapped, "norm1 and norm2 are swapped"),
                              (dec_cross_reads_input, "reads the layer's input x"),
                              (dec_one_norm, "Only one LayerNorm")]
WRONG["08.fix_encoder_layer"] += [(enc_unnormalised_residual, "it must add h"),
                                  (enc_norms_swapped, "norm1 and norm2 are swapped")]
WRONG["08.layer_norm"] += [(ln_eps_fixed, "`eps` argument is ignored"), (ln_std, "`x.std(-1)`"),
                           (ln_global, "*whole* tensor")]
WRONG["08.feed_forward"] += [(ffn_tanh, "not tanh"), (ffn_b1_after_relu, "*inside* the ReLU")]
WRONG["08.predict_layernorm"] += [([1, 2, 3, 4], "changes the values"),
                                  ([-0.67, -0.22, 0.22, 0.67], "*sum* of squared"),
                                  ([-1.3, -0.4, 0.4, 1.3], "close")]

RIGHT["08.decoder_layer"] += [lambda L, x, m, tm, mm: _sub(_sub(_sub(x, lambda h: L.self_attn(h, h, tm), L.norm1),
                                                             lambda h: L.cross_attn(h, m, mm), L.norm2), L.ffn,
                                                             L.norm3)]
WRONG["08.decoder_layer"] += [
    (lambda L, x, m, tm, mm: _sub(_sub(_sub(x, lambda h: L.self_attn(h, h, mm), L.norm1),
                                       lambda h: L.cross_attn(h, m, tm), L.norm2),
                                  L.ffn, L.norm3), "A mask does not fit its attention"),
    (lambda L, x, m, tm, mm: _sub(_sub(x, lambda h: L.self_attn(h, h, tm), L.norm1), L.ffn, L.norm3),
     "cross-attention sublayer is missing"),
    (lambda L, x, m, tm, mm: _sub(_sub(_sub(x, lambda h: L.self_attn(h, h, tm), L.norm1),
                                       lambda h: L.cross_attn(h, m, mm), L.norm2),
                                  L.ffn, L.norm2), "norm3 follows the feed-forward network")]
WRONG["08.fix_encoder_layer"] += [(lambda L, x, mask: (lambda h: L.norm2(h + L.ffn(h)))(L.norm1(x + L.self_attn(x, x))),
                                   "mask is not passed"),
                                  (lambda L, x, mask: (lambda h: L.norm2(h + L.ffn(h)))(x + L.self_attn(x, x, mask)),
                                   "norm1 is not applied")]
RIGHT["08.layer_norm"] += [lambda x, g, b, eps=1e-5:
                           (x - x.mean(-1, keepdim=True)) * (x.var(-1, keepdim=True, correction=0) + eps).rsqrt()
                           * g + b]
WRONG["08.layer_norm"] += [(lambda x, g, b, eps=1e-5:
                                g * (x - x.mean(-1, True)) / torch.sqrt(x.var(-1, False, True) + eps),
                            "beta is not added"),
                           (lambda x, g, b, eps=1e-5:
                                (x - x.mean(-1, True)) / (x.std(-1, unbiased=False, keepdim=True) + eps) * g + b,
                            "eps is outside the square root")]
RIGHT["08.feed_forward"] += [lambda x, w1, b1, w2, b2: F.relu(torch.matmul(x, w1) + b1).matmul(w2).add(b2)]
WRONG["08.feed_forward"] += [(lambda x, w1, b1, w2, b2: F.leaky_relu(x @ w1 + b1) @ w2 + b2, "leaky ReLU"),
                             (lambda x, w1, b1, w2, b2: x + torch.relu(x @ w1 + b1) @ w2 + b2, "has no residual")]
RIGHT["08.predict_layernorm"] += [torch.tensor([-1.34, -0.45, 0.45, 1.34]).round(decimals=2)]

WRONG["08.layer_norm"] += [(lambda x, g, b, eps=1e-5:
                                (x - x.mean(-1)) / torch.sqrt(x.var(-1, unbiased=False) + eps) * g + b, "keepdim=True")]
WRONG["08.feed_forward"] += [(lambda x, w1, b1, w2, b2: torch.relu(x @ w1.T + b1) @ w2.T + b2, "no transposes")]
WRONG["08.decoder_layer"] += [(_dec(self_mask=False, cross_mask=False), "No masks at all"),
                              (_dec(res=(0, 0, 0)), "No residual connections")]
WRONG["08.feed_forward"] += [(lambda x, w1, b1, w2, b2: (x @ w1 + b1).clamp(max=0) @ w2 + b2, "not max=0")]
WRONG["08.fix_encoder_layer"] += [(lambda L, x, mask:
                                   (lambda h: L.norm1(h + L.ffn(h)))(L.norm1(x + L.self_attn(x, x, mask))),
                                   "norm1 twice"),
                                  (lambda L, x, mask:
                                   (lambda h: L.norm2(h + L.ffn(h)))(L.norm1(x + L.self_attn(x, x, ~mask))),
                                   "mask is inverted")]

# From the independent answer set (issue 11): the built-in is switched off; mistakes named by their kind.
WRONG["08.layer_norm"] += [(ln_builtin, "write it yourself"),
                           (lambda x, g, b, eps=1e-5: torch.nn.LayerNorm(x.size(-1), eps=eps)(x) * g + b,
                            "write it yourself")]
WRONG["08.feed_forward"] += [(lambda x, w1, b1, w2, b2: torch.relu(x @ w2.T + b1) @ w1.T + b2,
                              "w_1 and w_2 are swapped")]
WRONG["08.predict_layernorm"] += [([1.34, 0.45, -0.45, -1.34], "wrong sign")]
WRONG["08.feed_forward"] += [(lambda x, w1, b1, w2, b2: torch.relu(x @ w1 + b1), "second linear map is missing")]
WRONG["08.decoder_layer"] += [(lambda L, x, m, tm, mm:
                                   _sub(_sub(_sub(x, lambda h: L.self_attn(h, h, tm), L.norm1), L.ffn, L.norm3),
                                                            lambda h: L.cross_attn(h, m, mm), L.norm2),
                                                            "feed-forward network last")]
WRONG["08.fix_encoder_layer"] += [(lambda L, x, mask: (lambda h: L.norm2(h + F.dropout(L.ffn(h), 0.1, training=True)))(
    L.norm1(x + F.dropout(L.self_attn(x, x, mask), 0.1, training=True))), "No dropout")]
WRONG["08.decoder_layer"] += [(lambda L, x, m, tm, mm:
                                   _sub(_sub(_sub(x, lambda h: F.dropout(L.self_attn(h, h, tm), 0.2), L.norm1),
                                                                lambda h: L.cross_attn(h, m, mm), L.norm2), L.ffn,
                                                                L.norm3),
                               "No dropout")]
WRONG["08.decoder_layer"] += [
    (lambda L, x, m, tm, mm: _sub(_sub(_sub(x, lambda h: L.self_attn(h, h, tm), L.norm3),
                                       lambda h: L.cross_attn(h, m, mm), L.norm2),
                                  L.ffn, L.norm1), "norm3, norm2, norm1"),
    (lambda L, x, m, tm, mm: _sub(_sub(_sub(x, lambda h: L.self_attn(h, h, tm), L.norm1),
                                       lambda h: L.cross_attn(h, m, mm), L.norm1),
                                  L.ffn, L.norm1), "norm1, norm1, norm1"),
    (lambda L, x, m, tm, mm: (lambda h: (lambda h2: L.norm3(h2 + L.ffn(h2)))(L.norm2(x + L.cross_attn(h, m, mm))))(
        L.norm1(x + L.self_attn(x, x, tm))), "residual around the cross-attention adds the layer's input x"),
    (lambda L, x, m, tm, mm: (lambda h: (lambda h2: L.norm3(x + L.ffn(h2)))(L.norm2(h + L.cross_attn(h, m, mm))))(
        L.norm1(x + L.self_attn(x, x, tm))), "residual around the feed-forward network adds the layer's input x"),
    (lambda L, x, m, tm, mm: (lambda h: (lambda h2: L.norm3(h2 + L.ffn(h2)))(L.norm2(h + L.cross_attn(m, h, None))))(
        L.norm1(x + L.self_attn(x, x, tm))), "queries from x")]

(test_right_answers_pass, test_wrong_answers_name_the_mistake,
 test_every_exercise_has_three_right_and_three_wrong_answers) = answer_set_tests(RIGHT, WRONG)


def test_forbidden_forward_is_restored():
    from course_utils.transformer.layers import DecoderLayer, EncoderLayer
    before = DecoderLayer.forward, EncoderLayer.forward
    fails_with("08.decoder_layer", dec_call_layer, "write it yourself")
    fails_with("08.fix_encoder_layer", enc_call, "write it yourself")
    assert (DecoderLayer.forward, EncoderLayer.forward) == before
