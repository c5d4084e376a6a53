"""course layer · graders of lesson 08 (building the Transformer): predict_layernorm, layer_norm, feed_forward,
decoder_layer, fix_encoder_layer.

Shapes: B batch · T target / S source positions · d_model · d_ff.
References: torch (F.layer_norm, F.linear) and the layers of course_utils.transformer, also those of
the shipped reference model on a padded batch of real sentences.
"""

import copy
import itertools
import math

import torch
import torch.nn.functional as F

from course_utils.base.i18n import msg
from course_utils.course.checks import (
    Fail,
    call,
    compare,
    compare_prediction,
    exercise,
    expect_callable,
    probe_generator,
)
from course_utils.course.checks.reference_probes import real_batch, reference_model
from course_utils.transformer.layers import DecoderLayer, EncoderLayer

HINT_LAYER_NORM = msg("(x - mean) / sqrt(var + eps) * gamma + beta, with the mean and the population variance of "
                      "each position over its last axis (keepdim=True).")
HINT_FFN = msg("FFN(x) = relu(x @ w_1 + b_1) @ w_2 + b_2.")
HINT_DECODER_LAYER = msg("Three post-LN sublayers in order: x = norm1(x + self_attn(x, x, tgt_mask)); x = "
                         "norm2(x + cross_attn(x, memory, memory_mask)); norm3(x + ffn(x)).")
HINT_ENCODER_LAYER = msg("h = norm1(x + self_attn(x, x, mask)); out = norm2(h + ffn(h)).")


def _prediction_mistakes(x):
    centred = x - x.mean()
    return [
        ((centred / x.std()).tolist(), msg("That divides by the *unbiased* standard deviation (n - 1 = 3). LayerNorm "
                                           "uses the population variance: the mean of the squared deviations (n = "
                                           "4).")),
        (centred.tolist(), msg("You subtracted the mean but did not divide by the standard deviation: divide by "
                               "sqrt(variance + eps); here the variance is 1.25.")),
        ((centred / 1.25).tolist(), msg("You divided by the variance, not by its square root: sqrt(1.25) ≈ 1.118.")),
        (((x - x.min()) / (x.max() - x.min())).tolist(), msg("That is min-max scaling to [0, 1]. LayerNorm subtracts "
                                                             "the mean and divides by the standard deviation.")),
        (x.tolist(), msg("LayerNorm changes the values: subtract the mean (2.5), then divide by the standard "
                         "deviation.")),
        ([0.0] * 4, msg("Zero is the *mean* of LayerNorm's output, not every value: each entry keeps its distance from "
                        "the mean (2.5), measured in standard deviations, sqrt(1.25) ≈ 1.118.")),
        ((centred / centred.pow(2).sum().sqrt()).tolist(), msg("You divided by the square root of the *sum* of "
                                                               "squared deviations (5); the variance is their *mean*: "
                                                               "5 / 4 = 1.25.")),
    ]


HINT_HOW_LAYERNORM = msg("Subtract the mean (2.5), then divide by sqrt(variance + eps), where the variance is the mean "
                         "of the squared deviations (1.25). gamma = 1 and beta = 0.")
HINT_ROUND = msg("Round each value to two decimals, don't truncate: -0.4472 -> -0.45.")


@exercise("08.predict_layernorm", "Predict what LayerNorm does to [1, 2, 3, 4]")
def _check_predict_layernorm(prediction):
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    try:  # two decimals asked: -1.34 and -1.3416 pass, -1.35 does not
        compare_prediction("prediction", prediction, F.layer_norm(x, (4,)).tolist(), rel=0, abs_tol=0.006, near=0.15,
                           mistakes=_prediction_mistakes(x))
    except Fail as fail:  # a near miss or an unknown answer: say how to compute it
        close = "close" in fail.message
        raise Fail(fail.message, fail.hint if fail.hint and not close else
                   msg("{round} {how}", round=HINT_ROUND, how=HINT_HOW_LAYERNORM) if close else
                   HINT_HOW_LAYERNORM) from None


def _layer_norm_mistakes(x, gamma, beta, eps, want):
    centred = x - x.mean(-1, keepdim=True)
    var, var_n1 = x.var(-1, unbiased=False, keepdim=True), x.var(-1, unbiased=True, keepdim=True)
    plain = centred / (var + eps).sqrt()
    return [
        (centred / (var_n1 + eps).sqrt() * gamma + beta,
         msg("You used the unbiased variance (dividing by n - 1). LayerNorm uses the population variance: "
             "`x.var(-1, unbiased=False)` or `((x - mean) ** 2).mean(-1)`.")),
        (centred / (var.sqrt() + eps) * gamma + beta,
         msg("eps is outside the square root: use sqrt(var + eps), not sqrt(var) + eps (it shows on "
             "near-constant rows).")),
        (centred / (var_n1.sqrt() + eps) * gamma + beta,
         msg("Two slips: use the population variance (unbiased=False), and put eps inside the square root.")),
        (plain, msg("gamma and beta are not applied: multiply by gamma, then add beta.")),
        (plain * gamma, msg("beta is not added: `y * gamma + beta`.")),
        (plain + beta, msg("gamma is not applied: `y * gamma + beta`.")),
        (plain * beta + gamma, msg("gamma and beta are swapped: `y * gamma + beta`.")),
        ((x - x.mean(0)) / (x.var(0, unbiased=False) + eps).sqrt() * gamma + beta,
         msg("You normalised over the wrong axis: LayerNorm normalises each position over its features "
             "(dim=-1).")),
        (centred / (var + eps) * gamma + beta,
         msg("You divided by the variance; divide by its square root, sqrt(var + eps).")),
        (F.layer_norm(x, (x.size(-1),), gamma, beta, 1e-5), msg("The `eps` argument is ignored: use the eps "
                                                                "passed in (the check also uses eps = 0.1).")),
        (centred / x.std(-1, keepdim=True) * gamma + beta,
         msg("You divided by the unbiased standard deviation, `x.std(-1)` (n - 1, no eps). LayerNorm uses "
             "sqrt(var + eps) with the population variance (unbiased=False).")),
        (centred / var.sqrt() * gamma + beta, msg("eps is missing: divide by sqrt(var + eps), not sqrt(var) "
                                                  "(it shows on near-constant rows).")),
        ((x - x.mean()) / (x.var(unbiased=False) + eps).sqrt() * gamma + beta,
         msg("You normalised with the mean and variance of the *whole* tensor; LayerNorm uses each "
             "position's own, over its features: `x.mean(-1, keepdim=True)`.")),
        (lambda got: not torch.allclose(((got - beta) / gamma).mean(-1), ((want - beta) / gamma).mean(-1),
                                        atol=1e-3),
         msg("After removing gamma and beta, your rows are not centred: subtract each position's mean over "
             "the last axis, `x.mean(dim=-1, keepdim=True)`.")),
        (lambda got: not torch.allclose(((got - beta) / gamma).var(-1), ((want - beta) / gamma).var(-1),
                                        rtol=1e-3, atol=1e-4),
         msg("Centred right, but divided by the wrong amount: divide by sqrt(var + eps), with the population "
             "variance of each position (`unbiased=False`) and eps inside the root.")),
    ]


@exercise("08.layer_norm", "LayerNorm by hand")
def _check_layer_norm(fn):
    expect_callable(fn, "layer_norm")
    g = probe_generator(80)
    x0 = torch.randn(2, 3, 8, generator=g) * 3 + 1.5
    x0[1, 2] = torch.randn(8, generator=g) * 1e-4  # tiny variance: the place of eps matters here
    gamma0, beta0 = torch.rand(8, generator=g) + 0.5, torch.randn(8, generator=g)
    probes = ((x0, gamma0, beta0, 1e-5), (x0[0, :, :6].repeat(2, 1) * 0.3, gamma0[:6], beta0[:6], 0.1))
    for x, gamma, beta, eps in probes:
        got = call(fn, x, gamma, beta, eps, forbid=("layer_norm",), errors=[
            ("size of tensor", msg("The mean and variance lost their axis: use `keepdim=True` so that `x - mean` "
                                   "broadcasts over the features."))])
        want = F.layer_norm(x, (x.size(-1),), gamma, beta, eps)
        compare("out", got, want, mistakes=_layer_norm_mistakes(x, gamma, beta, eps, want), hint=HINT_LAYER_NORM)


def _ffn_mistakes(x, w_1, b_1, w_2, b_2, hidden, want):
    return [
        (torch.relu(hidden), msg("The second linear map is missing: `@ w_2 + b_2` brings the d_ff features back "
                                 "to d_model: relu(x @ w_1 + b_1) @ w_2 + b_2.")),
        (hidden @ w_2 + b_2, msg("No non-linearity: without the ReLU the two linear maps collapse into one "
                                 "linear map.")),
        (torch.relu(x @ w_1) @ w_2, msg("The biases b_1 and b_2 are missing.")),
        (torch.relu(x @ w_1) @ w_2 + b_2, msg("b_1 is missing: add it before the ReLU.")),
        (torch.relu(hidden) @ w_2, msg("b_2 is missing: add it after the second matrix product.")),
        (torch.sigmoid(hidden) @ w_2 + b_2, msg("The paper's FFN uses ReLU, max(0, ·), not a sigmoid.")),
        (F.gelu(hidden) @ w_2 + b_2, msg("The paper's FFN uses ReLU, max(0, ·), not GELU.")),
        (torch.tanh(hidden) @ w_2 + b_2, msg("The paper's FFN uses ReLU, max(0, ·), not tanh.")),
        (hidden.clamp(max=0) @ w_2 + b_2, msg("ReLU keeps the positive part: `clamp(min=0)` (or `torch.relu`), "
                                              "not max=0.")),
        (F.leaky_relu(hidden) @ w_2 + b_2, msg("The paper's FFN uses ReLU, max(0, ·), not a leaky ReLU.")),
        (x + want, msg("The FFN itself has no residual: the layer adds `x + FFN(x)` around it; return only "
                       "FFN(x).")),
        ((torch.relu(x @ w_1) + b_1) @ w_2 + b_2, msg("b_1 goes *inside* the ReLU: relu(x @ w_1 + b_1).")),
        (torch.relu(hidden) @ w_2 + b_1[:b_2.numel()], msg("The second layer's bias is b_2, not b_1.")),
        (torch.relu(x @ w_2.T + b_1) @ w_1.T + b_2, msg("w_1 and w_2 are swapped (and transposed, as in "
                                                        "nn.Linear's x @ W.T): w_1 is (d_model, d_ff) and comes "
                                                        "first: relu(x @ w_1 + b_1) @ w_2 + b_2, no transposes.")),
    ]


@exercise("08.feed_forward", "The position-wise feed-forward network")
def _check_feed_forward(fn):
    expect_callable(fn, "feed_forward")
    g = probe_generator(81)
    x = torch.randn(2, 3, 4, generator=g)
    w_1, b_1 = torch.randn(4, 16, generator=g), torch.randn(16, generator=g)
    w_2, b_2 = torch.randn(16, 4, generator=g), torch.randn(4, generator=g)
    got = call(fn, x, w_1, b_1, w_2, b_2, errors=[
        ("cannot be multiplied|size of tensor", msg("Mind the shapes: w_1 is (d_model, d_ff) and w_2 (d_ff, d_model), "
                                                    "so `x @ w_1` and `h @ w_2`, no transposes."))])
    hidden = F.linear(x, w_1.T, b_1)  # (B, T, d_ff)
    want = F.linear(torch.relu(hidden), w_2.T, b_2)  # (B, T, d_model)
    if isinstance(got, torch.Tensor) and got.shape == want.shape and got.is_floating_point() and \
            (got >= 0).all() and (want < 0).any() and not torch.allclose(got, want):
        raise Fail(msg("`out` has no negative value at all, the reference has many."),
                   hint=msg("The ReLU belongs between the two linear maps only; the second one has no activation."))
    compare("out", got, want, axes=("B", "T", "d_model"), mistakes=_ffn_mistakes(x, w_1, b_1, w_2, b_2, hidden, want),
            hint=HINT_FFN)


def _call_parts(fn, layer, *args):
    """Run the answer with the layer's own forward patched to fail: the exercise builds the layer
    from its parts."""
    try:
        return call(fn, layer, *args, forbid=((type(layer), "forward"),), errors=[
            (r"cross_attn\(\s*memory", msg("The cross-attention takes its queries from x and its keys and values from "
                                           "memory: `layer.cross_attn(x, memory, memory_mask)` (queries first).")),
            ("must match the size of tensor", msg("A residual sum mixes target and source positions: cross-attention "
                                                  "takes its queries from x and its keys and values from memory, "
                                                  "`layer.cross_attn(x, memory, memory_mask)`, and its output (one "
                                                  "row per target position) is added to x.")),
            ("key columns|query rows", msg("A mask does not fit its attention: `self_attn(x, x, tgt_mask)` attends "
                                           "over the target positions, `cross_attn(x, memory, memory_mask)` over the "
                                           "source positions (queries from x, keys and values from memory).")),
        ])
    except Fail as fail:
        if "write it yourself" not in fail.message:
            raise
        raise Fail(msg("Your code calls the finished layer, `layer(...)`: this exercise asks you to write it "
                       "yourself."),
                   hint=msg("Build the {layer} from its parts: `layer.self_attn`, `layer.ffn`, `layer.norm1`, ... each "
                            "sublayer wrapped as `norm(x + sublayer(x))`.", layer=type(layer).__name__)) from None


def _same_twice(fn, got, want, layer, *args):
    """A wrong answer that gives another output on the same input again has randomness in it (dropout)."""
    if not isinstance(got, torch.Tensor) or got.shape != want.shape or torch.allclose(got, want, atol=1e-5, rtol=1e-4):
        return
    again = _call_parts(fn, layer, *args)
    if isinstance(again, torch.Tensor) and again.shape == got.shape and not torch.equal(again, got):
        raise Fail(msg("Your layer gives a different output each time on the same input: something random is on."),
                   hint=msg("No dropout in this exercise: leave out `F.dropout(..., training=True)` / `nn.Dropout` "
                            "(the layer is in eval mode, so its own dropout is off); the output must be "
                            "deterministic."))


def _real_layers():
    """The reference model's first encoder and decoder layers with their real inputs: embedded
    target, encoded memory, causal & padding target mask, source padding mask."""
    model, _, _ = reference_model()
    b = real_batch()
    with torch.no_grad():
        src = model.src_pos(model.src_embed(b.src) * math.sqrt(model.config.d_model))  # (B, S, d_model)
        memory = model.encode(b.src, b.src_mask)
        x = model.tgt_pos(model.tgt_embed(b.tgt_in) * math.sqrt(model.config.d_model))  # (B, T, d_model)
    return model.encoder.layers[0], src, b.src_mask, model.decoder.layers[0], x, memory, b.tgt_mask


def _random_layer(cls, seed):
    """A small layer of the check's own, with random weights (eval mode)."""
    g = probe_generator(seed)
    with torch.random.fork_rng(devices=[]):  # construction draws from the global RNG
        layer = cls(8, 2, 16).eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return layer, g


def _pre_ln(layer, *args):
    """The same layer run pre-LN, on a copy of the check's own (the layer handed to the answer stays as it is)."""
    twin = copy.deepcopy(layer)
    twin.norm_first = True
    return twin(*args)


# ----------------------------------------------------------------------------- the decoder layer

def _decoder_probes():
    layer, g = _random_layer(DecoderLayer, 82)
    x, memory = torch.randn(2, 4, 8, generator=g), torch.randn(2, 5, 8, generator=g)
    memory_mask = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, None, :]
    _, _, _, real, x_real, mem_real, tgt_mask_real = _real_layers()
    return [(layer, x, memory, torch.ones(4, 4, dtype=torch.bool).tril(), memory_mask),
            (real, x_real, mem_real, tgt_mask_real, real_batch().src_mask)]


def _post(L, x, memory, tgt_mask, memory_mask, sa_mask="tgt", kv="memory", ca_mask="memory", res=(1, 1, 1),
          inside=False, order=(0, 1, 2), norms=(1, 2, 3), skip=(0, 0, 0)):
    """A post-LN decoder layer built from L's parts with a known mistake. skip[i]: the residual of
    sublayer i adds the layer's input x, not the sublayer's own input."""
    sa_mask = tgt_mask if sa_mask == "tgt" else sa_mask
    ca_mask = memory_mask if ca_mask == "memory" else ca_mask
    subs = (lambda h: L.self_attn(h, h, sa_mask),
            lambda h: L.cross_attn(h, h if kv is None else memory, ca_mask), L.ffn)
    h = x
    for i, n, r, far in zip(order, norms, res, skip):
        norm = getattr(L, f"norm{n}")
        h = h + norm(subs[i](h)) if inside else norm((x if far else h) * r + subs[i](h))
    return h


HINT_ORDER = msg("The sublayers are in the wrong order: masked self-attention first, then cross-attention over "
                 "`memory`, then the feed-forward network last.")
HINT_KV_FROM_X = msg("The second sublayer attends over the decoder's own states; its keys and values come from "
                     "`memory`: `layer.cross_attn(x, memory, memory_mask)`.")
NAMES = (msg("self-attention"), msg("cross-attention"), msg("feed-forward network"))


def _norm_mistakes(post):
    return [(post(norms=n), msg("The LayerNorms are not in their places (you used norm{a}, norm{b}, norm{c}): norm1 "
                                "follows the self-attention, norm2 the cross-attention, norm3 the feed-forward "
                                "network.", a=n[0], b=n[1], c=n[2]))
            for n in itertools.product((1, 2, 3), repeat=3) if n != (1, 2, 3)]


def _far_residual_mistakes(post):
    found = []
    for sk in itertools.product((0, 1), repeat=3):
        if sk[1:] != (0, 0):
            which = [name for name, k in zip(NAMES, sk) if k]
            where = which[0] if len(which) == 1 else msg("{a} and the {b}", a=which[0], b=which[1]) \
                if len(which) == 2 else msg("{a}, the {b} and the {c}", a=which[0], b=which[1], c=which[2])
            found.append((post(skip=sk), msg("The residual around the {where} adds the layer's input x. Each residual "
                                             "adds its own sublayer's input, the previous sublayer's output: reassign "
                                             "`x = layer.normN(x + sublayer(x))` after each step.", where=where)))
    return found


def _inverted(name):
    return msg("The mask is inverted: pass {mask} as it is (True = may attend), not `~{mask}`.", mask=name)


def _decoder_mistakes(L, x, memory, tgt_mask, memory_mask):
    def post(**kw):
        return _post(L, x, memory, tgt_mask, memory_mask, **kw)

    a = x + L.self_attn(x, x, tgt_mask)
    self_only = L.norm1(x + L.self_attn(x, x, tgt_mask))
    cross_on_x = L.norm2(x + L.cross_attn(x, memory, memory_mask))
    return [
        (_pre_ln(L, x, memory, tgt_mask, memory_mask),
         msg("That is pre-LN, x + Sublayer(LayerNorm(x)). The paper's layer (and this exercise) is post-LN: x = "
             "LayerNorm(x + Sublayer(x)) for each of the three sublayers.")),
        (post(inside=True), msg("You normalised the sublayer's output before adding the residual. Post-LN adds "
                                "first, then normalises: LayerNorm(x + Sublayer(x)).")),
        (post(sa_mask=None), msg("The masked self-attention got no mask: pass tgt_mask so position i cannot see "
                                 "later positions.")),
        (post(ca_mask=None), msg("The cross-attention ignores memory_mask: padded source positions still get "
                                 "weight.")),
        (post(sa_mask=~tgt_mask), _inverted("tgt_mask")), (post(ca_mask=~memory_mask), _inverted("memory_mask")),
        (post(sa_mask=~tgt_mask, ca_mask=~memory_mask), msg("Both masks are inverted: pass tgt_mask and memory_mask "
                                                            "as they are (True = may attend).")),
        (post(kv=None, ca_mask=None), HINT_KV_FROM_X), (post(kv=None, ca_mask=tgt_mask), HINT_KV_FROM_X),
        (post(res=(0, 1, 1)), msg("The residual around the self-attention is missing: LayerNorm(x + SelfAttn(x)).")),
        (post(res=(1, 0, 1)), msg("The residual around the cross-attention is missing: LayerNorm(x + CrossAttn(x, "
                                  "memory)).")),
        (post(res=(1, 1, 0)), msg("The residual around the feed-forward network is missing: LayerNorm(x + FFN(x)).")),
        (post(order=(1, 0, 2)), msg("The sublayers are in the wrong order: masked self-attention first, then "
                                    "cross-attention over `memory`, then the feed-forward network.")),
        (post(norms=(2, 1, 3)), msg("norm1 and norm2 are swapped: norm1 follows the self-attention, norm2 the "
                                    "cross-attention, norm3 the feed-forward network.")),
        (post(norms=(1, 2, 2)), msg("norm3 follows the feed-forward network (you used norm2 twice).")),
        (post(sa_mask=None, ca_mask=None), msg("No masks at all: pass tgt_mask to the self-attention (no looking "
                                               "ahead) and memory_mask to the cross-attention (no padded source).")),
        (post(res=(0, 0, 0)), msg("No residual connections: each sublayer is wrapped as LayerNorm(x + Sublayer(x)).")),
        (L.norm3(self_only + L.ffn(self_only)), msg("The cross-attention sublayer is missing: after the "
                                                    "self-attention, `x = layer.norm2(x + layer.cross_attn(x, memory, "
                                                    "memory_mask))`.")),
        (L.norm3(cross_on_x + L.ffn(cross_on_x)), msg("The cross-attention reads the layer's input x, so the "
                                                      "self-attention's result is lost: each sublayer reads the "
                                                      "previous sublayer's output (reassign `x` after each step).")),
        (L.norm3((a + L.cross_attn(a, memory, memory_mask)) + L.ffn(a + L.cross_attn(a, memory, memory_mask))),
         msg("Only one LayerNorm at the end: post-LN normalises after *every* residual sum: norm1, norm2, norm3.")),
    ] + _norm_mistakes(post) + _far_residual_mistakes(post) + [
        (post(order=o, norms=n), HINT_ORDER) for o in itertools.permutations((0, 1, 2))
        if o not in ((0, 1, 2), (1, 0, 2)) for n in ((1, 2, 3), tuple(i + 1 for i in o))]


@exercise("08.decoder_layer", "A post-LN decoder layer from its parts")
def _check_decoder_layer(fn):
    expect_callable(fn, "decoder_layer")
    for layer, x, memory, tgt_mask, memory_mask in _decoder_probes():
        layer = copy.deepcopy(layer)
        with torch.no_grad():
            want = layer(x, memory, tgt_mask, memory_mask)
            mistakes = _decoder_mistakes(layer, x, memory, tgt_mask, memory_mask)
            got = _call_parts(fn, layer, x, memory, tgt_mask, memory_mask)
            _same_twice(fn, got, want, layer, x, memory, tgt_mask, memory_mask)
        compare("out", got, want, axes=("B", "T", "d_model"), mistakes=mistakes, hint=HINT_DECODER_LAYER)


# ----------------------------------------------------------------------------- the encoder layer's bug

def _encoder_mistakes(L, x, mask):
    h = L.norm1(x + L.self_attn(x, x, mask))
    h_nomask = L.norm1(x + L.self_attn(x, x))
    h_inv = L.norm1(x + L.self_attn(x, x, ~mask))
    attn = L.self_attn(x, x, mask)
    no_res = L.norm1(attn)
    return [
        (L.norm2(x + L.ffn(h)), msg("Still the original bug: the second residual adds the layer's *input* x. Each "
                                    "residual adds the input of its own sublayer: out = norm2(h + ffn(h)).")),
        (L.norm2(L.ffn(h)), msg("The residual around the feed-forward network is gone: out = norm2(h + ffn(h)).")),
        (L.norm2(h + L.ffn(x)), msg("The FFN must read the output of the attention sublayer (h), not the layer's "
                                    "input x.")),
        (L.norm2(x + L.ffn(x + attn)), msg("norm1 is no longer applied: h = norm1(x + attn(x)), then out = norm2(h + "
                                           "ffn(h)).")),
        (_pre_ln(L, x, mask), msg("That is a pre-LN layer; keep it post-LN (the paper's order): norm(x + "
                                  "sublayer(x)).")),
        (h + L.ffn(h), msg("norm2 is missing after the second residual: out = norm2(h + ffn(h)).")),
        (L.norm1(h + L.ffn(h)), msg("The second LayerNorm is norm2 (you used norm1 twice): out = norm2(h + ffn(h)).")),
        (L.norm2(h_inv + L.ffn(h_inv)), msg("The mask is inverted: pass it as given (True = may attend), not "
                                            "`~mask`.")),
        (L.norm1(L.norm2(x + attn) + L.ffn(L.norm2(x + attn))),
         msg("norm1 and norm2 are swapped: norm1 follows the attention, norm2 the feed-forward network.")),
        (L.norm2(x + attn + L.ffn(h)), msg("The second residual adds x + attn(x) before norm1; it must add h = "
                                           "norm1(x + attn(x)), the FFN's own input: out = norm2(h + ffn(h)).")),
        (L.norm2(h_nomask + L.ffn(h_nomask)), msg("The mask is not passed to the self-attention: "
                                                  "`layer.self_attn(x, x, mask)`, so padded keys stay hidden.")),
        (L.norm2(no_res + L.ffn(no_res)), msg("The residual around the attention is missing: h = norm1(x + "
                                              "attn(x)).")),
        (L.norm2(x + attn + L.ffn(x + attn)), msg("norm1 is not applied: h = norm1(x + attn(x)), then out = norm2(h "
                                                  "+ ffn(h)).")),
    ]


@exercise("08.fix_encoder_layer", "Find the bug: a post-LN encoder layer")
def _check_fix_encoder_layer(fn):
    expect_callable(fn, "encoder_layer")
    layer, g = _random_layer(EncoderLayer, 83)
    real, src, src_mask, *_ = _real_layers()
    pad_mask = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, None, :]
    for original, x, mask in ((layer, torch.randn(2, 5, 8, generator=g), pad_mask), (real, src, src_mask)):
        layer = copy.deepcopy(original)
        with torch.no_grad():
            want = layer(x, mask)
            mistakes = _encoder_mistakes(layer, x, mask)
            got = _call_parts(fn, layer, x, mask)
            _same_twice(fn, got, want, layer, x, mask)
        compare("out", got, want, axes=("B", "S", "d_model"), mistakes=mistakes, hint=HINT_ENCODER_LAYER)
