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
from torch import nn

from course_utils.course.checks import Fail, call, compare, compare_prediction, exercise, expect_callable, probe_generator
from course_utils.course.checks.reference_probes import real_batch, reference_model
from course_utils.transformer.layers import DecoderLayer, EncoderLayer

HINT_LAYER_NORM = ("(x - mean) / sqrt(var + eps) * gamma + beta, with the mean and the population variance of each "
                   "position over its last axis (keepdim=True).")
HINT_FFN = "FFN(x) = relu(x @ w_1 + b_1) @ w_2 + b_2."
HINT_DECODER_LAYER = ("Three post-LN sublayers in order: x = norm1(x + self_attn(x, x, tgt_mask)); x = norm2(x + "
                      "cross_attn(x, memory, memory_mask)); norm3(x + ffn(x)).")
HINT_ENCODER_LAYER = "h = norm1(x + self_attn(x, x, mask)); out = norm2(h + ffn(h))."


@exercise("08.predict_layernorm", "Predict what LayerNorm does to [1, 2, 3, 4]")
def _check_predict_layernorm(prediction):
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    centred = x - x.mean()
    # two decimals asked: -1.34 and -1.3416 pass, -1.35 does not
    try:
        compare_prediction("prediction", prediction, F.layer_norm(x, (4,)).tolist(), rel=0, abs_tol=0.006, near=0.15,
                           mistakes=[
            ((centred / x.std()).tolist(), "That divides by the *unbiased* standard deviation (n - 1 = 3). LayerNorm "
                                           "uses the population variance: the mean of the squared deviations (n = 4)."),
            (centred.tolist(), "You subtracted the mean but did not divide by the standard deviation: divide by "
                               "sqrt(variance + eps); here the variance is 1.25."),
            ((centred / 1.25).tolist(), "You divided by the variance, not by its square root: sqrt(1.25) ≈ 1.118."),
            (((x - x.min()) / (x.max() - x.min())).tolist(), "That is min-max scaling to [0, 1]. LayerNorm subtracts the "
                                                             "mean and divides by the standard deviation."),
            (x.tolist(), "LayerNorm changes the values: subtract the mean (2.5), then divide by the standard deviation."),
            ((centred / centred.pow(2).sum().sqrt()).tolist(), "You divided by the square root of the *sum* of squared "
             "deviations (5); the variance is their *mean*: 5 / 4 = 1.25."),
        ])
    except Fail as fail:  # a near miss or an unknown answer: say how to compute it
        close = "close" in fail.message
        raise Fail(fail.message, fail.hint if fail.hint and not close else
                   ("Round each value to two decimals, don't truncate: -0.4472 -> -0.45. " if close else "") +
                   "Subtract the mean (2.5), then divide by sqrt(variance + eps), where the variance is the mean of the "
                   "squared deviations (1.25). gamma = 1 and beta = 0.") from None


@exercise("08.layer_norm", "LayerNorm by hand")
def _check_layer_norm(fn):
    expect_callable(fn, "layer_norm")
    g = probe_generator(80)
    x = torch.randn(2, 3, 8, generator=g) * 3 + 1.5
    x[1, 2] = torch.randn(8, generator=g) * 1e-4  # tiny variance: the place of eps matters here
    gamma, beta = torch.rand(8, generator=g) + 0.5, torch.randn(8, generator=g)
    for x, gamma, beta, eps in ((x, gamma, beta, 1e-5), (x[0, :, :6].repeat(2, 1) * 0.3, gamma[:6], beta[:6], 0.1)):
        got = call(fn, x, gamma, beta, eps, forbid=("layer_norm",), errors=[("size of tensor", "The mean and variance lost their axis: use "
                                                             "`keepdim=True` so that `x - mean` broadcasts over the features.")])
        want = F.layer_norm(x, (x.size(-1),), gamma, beta, eps)
        centred = x - x.mean(-1, keepdim=True)
        var, var_n1 = x.var(-1, unbiased=False, keepdim=True), x.var(-1, unbiased=True, keepdim=True)
        plain = centred / (var + eps).sqrt()
        compare("out", got, want, mistakes=[
            (centred / (var_n1 + eps).sqrt() * gamma + beta,
             "You used the unbiased variance (dividing by n - 1). LayerNorm uses the population variance: "
             "`x.var(-1, unbiased=False)` or `((x - mean) ** 2).mean(-1)`."),
            (centred / (var.sqrt() + eps) * gamma + beta,
             "eps is outside the square root: use sqrt(var + eps), not sqrt(var) + eps (it shows on near-constant rows)."),
            (centred / (var_n1.sqrt() + eps) * gamma + beta,
             "Two slips: use the population variance (unbiased=False), and put eps inside the square root."),
            (plain, "gamma and beta are not applied: multiply by gamma, then add beta."),
            (plain * gamma, "beta is not added: `y * gamma + beta`."),
            (plain + beta, "gamma is not applied: `y * gamma + beta`."),
            (plain * beta + gamma, "gamma and beta are swapped: `y * gamma + beta`."),
            ((x - x.mean(0)) / (x.var(0, unbiased=False) + eps).sqrt() * gamma + beta,
             "You normalised over the wrong axis: LayerNorm normalises each position over its features (dim=-1)."),
            (centred / (var + eps) * gamma + beta,
             "You divided by the variance; divide by its square root, sqrt(var + eps)."),
            (F.layer_norm(x, (x.size(-1),), gamma, beta, 1e-5), "The `eps` argument is ignored: use the eps passed in "
                                                                 "(the check also uses eps = 0.1)."),
            (centred / x.std(-1, keepdim=True) * gamma + beta,
             "You divided by the unbiased standard deviation, `x.std(-1)` (n - 1, no eps). LayerNorm uses "
             "sqrt(var + eps) with the population variance (unbiased=False)."),
            (centred / var.sqrt() * gamma + beta, "eps is missing: divide by sqrt(var + eps), not sqrt(var) "
                                                  "(it shows on near-constant rows)."),
            ((x - x.mean()) / (x.var(unbiased=False) + eps).sqrt() * gamma + beta,
             "You normalised with the mean and variance of the *whole* tensor; LayerNorm uses each position's own, "
             "over its features: `x.mean(-1, keepdim=True)`."),
            (lambda got: not torch.allclose(((got - beta) / gamma).mean(-1), ((want - beta) / gamma).mean(-1), atol=1e-3),
             "After removing gamma and beta, your rows are not centred: subtract each position's mean over the last "
             "axis, `x.mean(dim=-1, keepdim=True)`."),
            (lambda got: not torch.allclose(((got - beta) / gamma).var(-1), ((want - beta) / gamma).var(-1), rtol=1e-3, atol=1e-4),
             "Centred right, but divided by the wrong amount: divide by sqrt(var + eps), with the population variance "
             "of each position (`unbiased=False`) and eps inside the root."),
        ], hint=HINT_LAYER_NORM)


@exercise("08.feed_forward", "The position-wise feed-forward network")
def _check_feed_forward(fn):
    expect_callable(fn, "feed_forward")
    g = probe_generator(81)
    x = torch.randn(2, 3, 4, generator=g)
    w_1, b_1 = torch.randn(4, 16, generator=g), torch.randn(16, generator=g)
    w_2, b_2 = torch.randn(16, 4, generator=g), torch.randn(4, generator=g)
    got = call(fn, x, w_1, b_1, w_2, b_2, errors=[("cannot be multiplied|size of tensor", "Mind the shapes: w_1 is "
                                                   "(d_model, d_ff) and w_2 (d_ff, d_model), so `x @ w_1` and `h @ w_2`, no transposes.")])
    hidden = F.linear(x, w_1.T, b_1)  # (B, T, d_ff)
    want = F.linear(torch.relu(hidden), w_2.T, b_2)  # (B, T, d_model)
    if isinstance(got, torch.Tensor) and got.shape == want.shape and got.is_floating_point() and \
            (got >= 0).all() and (want < 0).any() and not torch.allclose(got, want):
        raise Fail("`out` has no negative value at all, the reference has many.",
                   hint="The ReLU belongs between the two linear maps only; the second one has no activation.")
    compare("out", got, want, axes=("B", "T", "d_model"), mistakes=[
        (torch.relu(hidden), "The second linear map is missing: `@ w_2 + b_2` brings the d_ff features back to "
                             "d_model: relu(x @ w_1 + b_1) @ w_2 + b_2."),
        (hidden @ w_2 + b_2, "No non-linearity: without the ReLU the two linear maps collapse into one linear map."),
        (torch.relu(x @ w_1) @ w_2, "The biases b_1 and b_2 are missing."),
        (torch.relu(x @ w_1) @ w_2 + b_2, "b_1 is missing: add it before the ReLU."),
        (torch.relu(hidden) @ w_2, "b_2 is missing: add it after the second matrix product."),
        (torch.sigmoid(hidden) @ w_2 + b_2, "The paper's FFN uses ReLU, max(0, ·), not a sigmoid."),
        (F.gelu(hidden) @ w_2 + b_2, "The paper's FFN uses ReLU, max(0, ·), not GELU."),
        (torch.tanh(hidden) @ w_2 + b_2, "The paper's FFN uses ReLU, max(0, ·), not tanh."),
        (hidden.clamp(max=0) @ w_2 + b_2, "ReLU keeps the positive part: `clamp(min=0)` (or `torch.relu`), not max=0."),
        (F.leaky_relu(hidden) @ w_2 + b_2, "The paper's FFN uses ReLU, max(0, ·), not a leaky ReLU."),
        (x + want, "The FFN itself has no residual: the layer adds `x + FFN(x)` around it; return only FFN(x)."),
        ((torch.relu(x @ w_1) + b_1) @ w_2 + b_2, "b_1 goes *inside* the ReLU: relu(x @ w_1 + b_1)."),
        (torch.relu(hidden) @ w_2 + b_1[:b_2.numel()], "The second layer's bias is b_2, not b_1."),
        (torch.relu(x @ w_2.T + b_1) @ w_1.T + b_2, "w_1 and w_2 are swapped (and transposed, as in nn.Linear's "
         "x @ W.T): w_1 is (d_model, d_ff) and comes first: relu(x @ w_1 + b_1) @ w_2 + b_2, no transposes."),
    ], hint=HINT_FFN)


def _call_parts(fn, layer, *args):
    """Run the answer with the layer's own forward patched to fail: the exercise builds the layer
    from its parts."""
    try:
        return call(fn, layer, *args, forbid=((type(layer), "forward"),), errors=[
            (r"cross_attn\(\s*memory", "The cross-attention takes its queries from x and its keys and values from memory: "
             "`layer.cross_attn(x, memory, memory_mask)` (queries first)."),
            ("must match the size of tensor", "A residual sum mixes target and source positions: cross-attention "
             "takes its queries from x and its keys and values from memory, `layer.cross_attn(x, memory, memory_mask)`, "
             "and its output (one row per target position) is added to x."),
            ("key columns|query rows", "A mask does not fit its attention: `self_attn(x, x, tgt_mask)` attends over the "
             "target positions, `cross_attn(x, memory, memory_mask)` over the source positions (queries from x, keys "
             "and values from memory)."),
        ])
    except Fail as fail:
        if "write it yourself" not in fail.message:
            raise
        raise Fail("Your code calls the finished layer, `layer(...)`: this exercise asks you to write it yourself.",
                   hint=f"Build the {type(layer).__name__} from its parts: `layer.self_attn`, `layer.ffn`, "
                        "`layer.norm1`, ... each sublayer wrapped as `norm(x + sublayer(x))`.") from None


def _same_twice(fn, got, want, layer, *args):
    """A wrong answer that gives another output on the same input again has randomness in it (dropout)."""
    if not isinstance(got, torch.Tensor) or got.shape != want.shape or torch.allclose(got, want, atol=1e-5, rtol=1e-4):
        return
    again = _call_parts(fn, layer, *args)
    if isinstance(again, torch.Tensor) and again.shape == got.shape and not torch.equal(again, got):
        raise Fail("Your layer gives a different output each time on the same input: something random is on.",
                   hint="No dropout in this exercise: leave out `F.dropout(..., training=True)` / `nn.Dropout` "
                        "(the layer is in eval mode, so its own dropout is off); the output must be deterministic.")


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
    g = probe_generator(seed)
    with torch.random.fork_rng(devices=[]):  # construction draws from the global RNG
        layer = cls(8, 2, 16).eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return layer, g


def _decoder_probes():
    layer, g = _random_layer(DecoderLayer, 82)
    x, memory = torch.randn(2, 4, 8, generator=g), torch.randn(2, 5, 8, generator=g)
    memory_mask = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, None, :]
    _, _, _, real, x_real, mem_real, tgt_mask_real = _real_layers()
    src_mask_real = real_batch().src_mask
    return [(layer, x, memory, torch.ones(4, 4, dtype=torch.bool).tril(), memory_mask),
            (real, x_real, mem_real, tgt_mask_real, src_mask_real)]


@exercise("08.decoder_layer", "A post-LN decoder layer from its parts")
def _check_decoder_layer(fn):
    expect_callable(fn, "decoder_layer")
    for layer, x, memory, tgt_mask, memory_mask in _decoder_probes():
        layer = copy.deepcopy(layer)
        L = layer
        with torch.no_grad():
            want = L(x, memory, tgt_mask, memory_mask)
            L.norm_first = True
            pre_ln = L(x, memory, tgt_mask, memory_mask)
            L.norm_first = False

            def post(sa_mask=tgt_mask, kv=memory, ca_mask=memory_mask, res=(1, 1, 1), inside=False, order=(0, 1, 2),
                     norms=(1, 2, 3), skip=(0, 0, 0)):
                """skip[i]: the residual of sublayer i adds the layer's input x, not the sublayer's own input."""
                subs = (lambda h: L.self_attn(h, h, sa_mask), lambda h: L.cross_attn(h, h if kv is None else kv, ca_mask), L.ffn)
                h = x
                for i, n, r, far in zip(order, norms, res, skip):
                    norm = getattr(L, f"norm{n}")
                    h = h + norm(subs[i](h)) if inside else norm((x if far else h) * r + subs[i](h))
                return h

            names = ("self-attention", "cross-attention", "feed-forward network")
            other_norms = [(post(norms=n), "The LayerNorms are not in their places (you used "
                            f"norm{n[0]}, norm{n[1]}, norm{n[2]}): norm1 follows the self-attention, norm2 the "
                            "cross-attention, norm3 the feed-forward network.")
                           for n in itertools.product((1, 2, 3), repeat=3) if n != (1, 2, 3)]
            far = [(post(skip=sk), "The residual around the " + " and the ".join(nm for nm, k in zip(names, sk) if k) +
                    " adds the layer's input x. Each residual adds its own sublayer's input, the previous sublayer's "
                    "output: reassign `x = layer.normN(x + sublayer(x))` after each step.")
                   for sk in itertools.product((0, 1), repeat=3) if sk[1:] != (0, 0)]

            a = x + L.self_attn(x, x, tgt_mask)
            b = L.norm1(a) + L.cross_attn(L.norm1(a), memory, memory_mask)

            mistakes = [
                (pre_ln, "That is pre-LN, x + Sublayer(LayerNorm(x)). The paper's layer (and this exercise) is "
                         "post-LN: x = LayerNorm(x + Sublayer(x)) for each of the three sublayers."),
                (post(inside=True), "You normalised the sublayer's output before adding the residual. Post-LN adds "
                                    "first, then normalises: LayerNorm(x + Sublayer(x))."),
                (post(sa_mask=None), "The masked self-attention got no mask: pass tgt_mask so position i cannot "
                                     "see later positions."),
                (post(ca_mask=None), "The cross-attention ignores memory_mask: padded source positions still get weight."),
                (post(kv=None, ca_mask=None), "The second sublayer attends over the decoder's own states; its keys "
                                              "and values come from `memory`: `layer.cross_attn(x, memory, memory_mask)`."),
                (post(kv=None, ca_mask=tgt_mask), "The second sublayer attends over the decoder's own states; its keys "
                                                  "and values come from `memory`: `layer.cross_attn(x, memory, memory_mask)`."),
                (post(res=(0, 1, 1)), "The residual around the self-attention is missing: LayerNorm(x + SelfAttn(x))."),
                (post(res=(1, 0, 1)), "The residual around the cross-attention is missing: LayerNorm(x + CrossAttn(x, memory))."),
                (post(res=(1, 1, 0)), "The residual around the feed-forward network is missing: LayerNorm(x + FFN(x))."),
                (post(order=(1, 0, 2)), "The sublayers are in the wrong order: masked self-attention first, then "
                                        "cross-attention over `memory`, then the feed-forward network."),
                (post(norms=(2, 1, 3)), "norm1 and norm2 are swapped: norm1 follows the self-attention, norm2 the "
                                        "cross-attention, norm3 the feed-forward network."),
                (post(norms=(1, 2, 2)), "norm3 follows the feed-forward network (you used norm2 twice)."),
                (post(sa_mask=None, ca_mask=None), "No masks at all: pass tgt_mask to the self-attention (no looking "
                                                   "ahead) and memory_mask to the cross-attention (no padded source)."),
                (post(res=(0, 0, 0)), "No residual connections: each sublayer is wrapped as LayerNorm(x + Sublayer(x))."),
                (L.norm3(L.norm1(x + L.self_attn(x, x, tgt_mask)) + L.ffn(L.norm1(x + L.self_attn(x, x, tgt_mask)))),
                 "The cross-attention sublayer is missing: after the self-attention, "
                 "`x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))`."),
                (L.norm3(L.norm2(x + L.cross_attn(x, memory, memory_mask)) + L.ffn(L.norm2(x + L.cross_attn(x, memory, memory_mask)))),
                 "The cross-attention reads the layer's input x, so the self-attention's result is lost: each sublayer "
                 "reads the previous sublayer's output (reassign `x` after each step)."),
                (L.norm3((a + L.cross_attn(a, memory, memory_mask)) + L.ffn(a + L.cross_attn(a, memory, memory_mask))),
                 "Only one LayerNorm at the end: post-LN normalises after *every* residual sum: norm1, norm2, norm3."),
            ] + other_norms + far + [
                (post(order=o, norms=n), "The sublayers are in the wrong order: masked self-attention first, then "
                                         "cross-attention over `memory`, then the feed-forward network last.")
                for o in itertools.permutations((0, 1, 2)) if o not in ((0, 1, 2), (1, 0, 2))
                for n in ((1, 2, 3), tuple(i + 1 for i in o))]
            got = _call_parts(fn, L, x, memory, tgt_mask, memory_mask)
            _same_twice(fn, got, want, L, x, memory, tgt_mask, memory_mask)
        compare("out", got, want, axes=("B", "T", "d_model"), mistakes=mistakes, hint=HINT_DECODER_LAYER)


@exercise("08.fix_encoder_layer", "Find the bug: a post-LN encoder layer")
def _check_fix_encoder_layer(fn):
    expect_callable(fn, "encoder_layer")
    layer, g = _random_layer(EncoderLayer, 83)
    real, src, src_mask, *_ = _real_layers()
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, None, :]
    for layer, x, mask in ((layer, torch.randn(2, 5, 8, generator=g), mask), (real, src, src_mask)):
        L = copy.deepcopy(layer)
        with torch.no_grad():
            want = L(x, mask)
            h = L.norm1(x + L.self_attn(x, x, mask))
            h_nomask = L.norm1(x + L.self_attn(x, x))
            h_inv = L.norm1(x + L.self_attn(x, x, ~mask))
            L.norm_first = True
            pre_ln = L(x, mask)
            L.norm_first = False
            mistakes = [
                (L.norm2(x + L.ffn(h)), "Still the original bug: the second residual adds the layer's *input* x. Each "
                                        "residual adds the input of its own sublayer: out = norm2(h + ffn(h))."),
                (L.norm2(L.ffn(h)), "The residual around the feed-forward network is gone: out = norm2(h + ffn(h))."),
                (L.norm2(h + L.ffn(x)), "The FFN must read the output of the attention sublayer (h), not the layer's input x."),
                (L.norm2(x + L.ffn(x + L.self_attn(x, x, mask))), "norm1 is no longer applied: h = norm1(x + attn(x)), "
                                                                  "then out = norm2(h + ffn(h))."),
                (pre_ln, "That is a pre-LN layer; keep it post-LN (the paper's order): norm(x + sublayer(x))."),
                (h + L.ffn(h), "norm2 is missing after the second residual: out = norm2(h + ffn(h))."),
                (L.norm1(h + L.ffn(h)), "The second LayerNorm is norm2 (you used norm1 twice): out = norm2(h + ffn(h))."),
                (L.norm2(h_inv + L.ffn(h_inv)), "The mask is inverted: pass it as given (True = may attend), not `~mask`."),
                (L.norm1(L.norm2(x + L.self_attn(x, x, mask)) + L.ffn(L.norm2(x + L.self_attn(x, x, mask)))),
                 "norm1 and norm2 are swapped: norm1 follows the attention, norm2 the feed-forward network."),
                (L.norm2(x + L.self_attn(x, x, mask) + L.ffn(h)), "The second residual adds x + attn(x) before norm1; "
                 "it must add h = norm1(x + attn(x)), the FFN's own input: out = norm2(h + ffn(h))."),
                (L.norm2(h_nomask + L.ffn(h_nomask)), "The mask is not passed to the self-attention: "
                                                       "`layer.self_attn(x, x, mask)`, so padded keys stay hidden."),
                (L.norm2(L.norm1(L.self_attn(x, x, mask)) + L.ffn(L.norm1(L.self_attn(x, x, mask)))),
                 "The residual around the attention is missing: h = norm1(x + attn(x))."),
                (L.norm2(x + L.self_attn(x, x, mask) + L.ffn(x + L.self_attn(x, x, mask))),
                 "norm1 is not applied: h = norm1(x + attn(x)), then out = norm2(h + ffn(h))."),
            ]
            got = _call_parts(fn, L, x, mask)
            _same_twice(fn, got, want, L, x, mask)
        compare("out", got, want, axes=("B", "S", "d_model"), mistakes=mistakes, hint=HINT_ENCODER_LAYER)
