"""course layer · graders of lesson 05 (multi-head attention): split and merge the heads, the module
itself (equal to torch.nn.MultiheadAttention), and its parameter count.
Shapes: B batch · H heads · T/T_q/T_k positions · d_model width · d_k = d_model / H."""

import inspect
import math

import torch
from torch import nn

from course_utils.course.checks import (
    Fail, call, compare, compare_prediction, exercise, expect_callable, expect_class, probe_generator, randn,
)
from course_utils.course.checks.signatures import HINT_POLARITY
from course_utils.transformer import merge_heads, split_heads
from course_utils.transformer.torch_border import to_torch_key_padding_mask

HINT_NO_TRANSPOSE_SPLIT = ("Reshape to (B, T, H, d_k) first, then swap the T and H axes with .transpose(1, 2); "
                           "a direct view to (B, H, T, d_k) mixes positions across heads.")
HINT_SPLIT_NO_SWAP = "Then bring the head axis before the positions: `.transpose(1, 2)` gives (B, H, T, d_k)."
HINT_SPLIT_ORDER = "Heads take contiguous slices of the width: view as (B, T, H, d_k), with H before d_k."
HINT_NO_TRANSPOSE_MERGE = ("Move the head axis back next to d_k with .transpose(1, 2) before reshaping to "
                           "(B, T, H * d_k); reshaping (B, H, T, d_k) directly mixes positions.")
HINT_MERGE_ORDER = "Concatenate the heads, head 0 first: (B, T, H, d_k) reshaped, not (B, T, d_k, H)."
HINT_MERGE_NO_RESHAPE = "After the transpose, reshape to (B, T, H * d_k): the heads side by side."
HINT_FOLDED = "Keep the batch and the heads as two axes: (B, H, T, d_k), not (B * H, T, d_k)."
HINT_PIECES = "Stack the pieces into one tensor along a new head axis: `torch.stack(pieces, dim=1)`."
HINT_CAT_AXIS = "Concatenate the heads along the last axis (dim=-1): each position gets H * d_k numbers."
HINT_FORWARD_ARGS = ("`forward(x_q, x_kv, mask=None)` takes two inputs: queries from `x_q`, keys *and* values from "
                     "`x_kv` (not three separate query, key, value arguments).")
HINT_MASK_SHAPE = ("Your module works without a mask and fails with one. The mask comes as (B, 1, 1, T_k) and "
                   "already broadcasts over the heads and queries: pass it to the attention as it is.")
HINT_SUPER = "Call `super().__init__()` first in `__init__`, before creating the layers."
HINT_VIEW = ("After a transpose the memory is no longer contiguous, so `.view` fails: use `.reshape` "
             "(or `.contiguous().view`).")


@exercise("05.split_heads", "Split the model width into heads")
def _check_split_heads(fn):
    expect_callable(fn, "split_heads")
    g = probe_generator(10)
    for B, T, d_model, H in ((2, 5, 12, 3), (1, 4, 8, 4), (3, 2, 6, 1)):
        x = randn(g, B, T, d_model)
        got = call(fn, x, H, errors=[(r"stack expects each tensor to be equal size|split_size|chunk",
                                      "The pieces come out of unequal size: you cut an axis that n_heads does not "
                                      "divide, probably the time axis (dim=1). The heads cut the *width*, the last "
                                      "axis: view as (B, T, H, d_k), then `.transpose(1, 2)`.")])
        if isinstance(got, (list, tuple)):
            raise Fail(f"`heads` should be one tensor (B, H, T, d_k), got a {type(got).__name__}.", hint=HINT_PIECES)
        d_k = d_model // H
        compare("heads", got, split_heads(x, H), axes=("B", "H", "T", "d_k"), mistakes=[
            (x.reshape(B, H, T, d_k), HINT_NO_TRANSPOSE_SPLIT), (x.view(B, T, H, d_k), HINT_SPLIT_NO_SWAP),
            (x.view(B, T, d_k, H).permute(0, 3, 1, 2), HINT_SPLIT_ORDER),
            (lambda y: y.dim() == 3 and y.shape[0] == B * H and H > 1, HINT_FOLDED),
            (torch.stack(x.chunk(H, dim=1), dim=1) if T % H == 0 and H > 1 else None,
             "You cut the time axis (dim=1) into H pieces; the heads cut the *width*, the last axis: "
             "view as (B, T, H, d_k), then `.transpose(1, 2)`."),
            (lambda y: tuple(y.shape) == (B, H, T // H, d_model) and H > 1,
             "Your heads hold T / H positions of full width: you cut the time axis. The heads cut the *width*: "
             "each keeps all T positions and d_k = d_model / H numbers.")])


@exercise("05.merge_heads", "Merge the heads back")
def _check_merge_heads(fn):
    expect_callable(fn, "merge_heads")
    g = probe_generator(11)
    for B, H, T, d_k in ((2, 3, 5, 4), (1, 4, 2, 2), (2, 1, 3, 5)):
        x = randn(g, B, H, T, d_k)
        got = call(fn, x, errors=[(r"view size is not compatible", HINT_VIEW)])
        compare("merged", got, merge_heads(x), axes=("B", "T", "d_model"), mistakes=[
            (x.reshape(B, T, H * d_k), HINT_NO_TRANSPOSE_MERGE),
            (x.permute(0, 2, 3, 1).reshape(B, T, H * d_k) if H > 1 else None, HINT_MERGE_ORDER),
            (x.transpose(1, 2), HINT_MERGE_NO_RESHAPE),
            (_heads_permuted(x), "The heads are side by side in another order (e.g. reversed): head 0 must come "
                                 "first, then head 1, ...: `x.transpose(1, 2).reshape(B, T, H * d_k)`."),
            (lambda y: tuple(y.shape) == (B, H * T, d_k) and H > 1, HINT_CAT_AXIS),
            (lambda y: tuple(y.shape) == (B, T, d_k) and H > 1,
             "Concatenate the heads' outputs side by side (H * d_k numbers per position); don't add or average them.")])


def _heads_permuted(x):
    """Signature: the merged output holds every head's block, but not in the order 0, 1, ..., H-1."""
    B, H, T, d_k = x.shape

    def test(y):
        if tuple(y.shape) != (B, T, H * d_k) or H < 2:
            return False
        order = []
        for j in range(H):
            block = y[..., j * d_k:(j + 1) * d_k]
            found = [i for i in range(H) if torch.allclose(block, x[:, i], atol=1e-5, rtol=1e-4)]
            if not found:
                return False
            order.append(found[0])
        return order != list(range(H))
    return test


def _mha_variant(x_q, x_kv, mask, w, n_heads, split="right", merge="right", scale=None, use_w_o=True,
                 kv_from_q=False, mask_mode="fill", axis=-1, value_proj="w_v", w_o_untransposed=False):
    """Multi-head attention from the weights `w` = {name: (weight, bias)}, with a known mistake."""
    B, T_q, d_model = x_q.shape
    x_kv = x_q if kv_from_q else x_kv
    d_k = d_model // n_heads
    lin = {n: (lambda x, n=n: x @ w[n][0].T + w[n][1]) for n in w}
    if value_proj != "w_v":
        lin["w_v"] = lin[value_proj]
    cut = split_heads if split == "right" else lambda x, H: x.reshape(x.size(0), H, x.size(1), d_k)
    q, k, v = cut(lin["w_q"](x_q), n_heads), cut(lin["w_k"](x_kv), n_heads), cut(lin["w_v"](x_kv), n_heads)
    scores = q @ k.transpose(-2, -1) / math.sqrt(scale or d_k)
    if mask is not None and mask_mode != "none":
        fill = -1e9 if mask_mode == "inverted_big" else float("-inf")
        scores = scores.masked_fill(mask if mask_mode.startswith("inverted") else ~mask, fill)
    out = scores.softmax(axis) @ v
    out = merge_heads(out) if merge == "right" else out.reshape(B, T_q, d_model)
    if w_o_untransposed:
        return out @ w["w_o"][0] + w["w_o"][1]
    return lin["w_o"](out) if use_w_o else out


@exercise("05.multi_head_attention", "MultiHeadAttention, equal to nn.MultiheadAttention", time_limit=20,
          name="MultiHeadAttention", uses=("split_heads", "merge_heads", "attention"))
def _check_mha(cls):
    expect_class(cls, "MultiHeadAttention")
    try:
        params = list(inspect.signature(cls.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        params = []
    if any(p.name in ("value", "values", "v", "x_v") for p in params[:3]):
        raise Fail(f"`forward` takes the arguments ({', '.join(p.name for p in params)}).", hint=HINT_FORWARD_ARGS)
    g = probe_generator(12)
    d_model, n_heads = 12, 3
    module = call(cls, d_model, n_heads, what="`MultiHeadAttention(d_model=12, n_heads=3)`",
                  errors=[(r"before Module.__init__\(\) call", HINT_SUPER)])
    if not isinstance(module, nn.Module):
        raise Fail("`MultiHeadAttention` should subclass nn.Module (call super().__init__() first).")
    for name in ("w_q", "w_k", "w_v", "w_o"):
        layer = getattr(module, name, None)
        if not isinstance(layer, nn.Linear) or layer.weight.shape != (d_model, d_model) or layer.bias is None:
            raise Fail(f"`module.{name}` should be nn.Linear(d_model, d_model) with a bias, "
                       f"got {type(layer).__name__ if layer is not None else 'nothing'}.")
    w = {n: (torch.randn(d_model, d_model, generator=g) / math.sqrt(d_model), torch.randn(d_model, generator=g) * 0.1)
         for n in ("w_q", "w_k", "w_v", "w_o")}
    torch_mha = nn.MultiheadAttention(d_model, n_heads, batch_first=True)  # built inside the check's forked RNG
    with torch.no_grad():
        for n, (weight, bias) in w.items():
            getattr(module, n).weight.copy_(weight)
            getattr(module, n).bias.copy_(bias)
        torch_mha.in_proj_weight.copy_(torch.cat([w[n][0] for n in ("w_q", "w_k", "w_v")]))
        torch_mha.in_proj_bias.copy_(torch.cat([w[n][1] for n in ("w_q", "w_k", "w_v")]))
        torch_mha.out_proj.weight.copy_(w["w_o"][0])
        torch_mha.out_proj.bias.copy_(w["w_o"][1])
    module.eval()
    B, T_q, T_k = 2, 4, 6
    x_q, x_kv = randn(g, B, T_q, d_model), randn(g, B, T_k, d_model)
    pad = torch.arange(T_k)[None, :] < torch.tensor([6, 4])[:, None]  # (B, T_k), True = a real token
    mask = pad[:, None, None, :]  # (B, 1, 1, T_k)
    for x_kv_probe, m in ((x_q, None), (x_kv, None), (x_kv, mask)):
        with torch.no_grad():
            try:
                got = call(module, x_q, x_kv_probe, m, what="`MultiHeadAttention.forward`", errors=[
                    (r"cannot be multiplied \(\d+x%d and" % (d_model // n_heads), "w_o gets the heads one by one "
                     "(width d_k): merge the heads back to (B, T, d_model) with `merge_heads(out)` before `self.w_o`."),
                ])
            except Fail as fail:  # the probes without a mask passed: the mask is what breaks it
                raise Fail(fail.message, fail.hint or (HINT_MASK_SHAPE if m is not None else None)) from None
            want, _ = torch_mha(x_q, x_kv_probe, x_kv_probe, need_weights=False,
                                key_padding_mask=None if m is None else to_torch_key_padding_mask(pad))
        args = (x_q, x_kv_probe, m, w, n_heads)
        mistakes = [(_mha_variant(*args, split="wrong", merge="wrong"), HINT_NO_TRANSPOSE_SPLIT),
                    (_mha_variant(*args, split="wrong"), HINT_NO_TRANSPOSE_SPLIT),
                    (_mha_variant(*args, merge="wrong"), HINT_NO_TRANSPOSE_MERGE),
                    (_mha_variant(*args, scale=1), "Divide the scores by √d_k, the width of one head."),
                    (_mha_variant(*args, axis=-2), "Take the softmax over the keys (dim=-1)."),
                    (_mha_variant(*args, value_proj="w_k"), "Each projection has its own layer: the values use w_v."),
                    (_mha_variant(*args, value_proj="w_q"), "Each projection has its own layer: the values use w_v."),
                    (want + x_q, "No residual connection inside the attention module (it comes with the layers in "
                                 "lesson 08): return w_o(...) alone."),
                    (lambda y: y.shape[1] == x_kv_probe.shape[1] != x_q.shape[1],
                     "The output has one row per *query*: queries come from `x_q`, keys and values from `x_kv`."),
                    (_mha_variant(*args, scale=d_model),
                     "Each head scales by √d_k with d_k = d_model / n_heads, the width of one head, not √d_model."),
                    (_mha_variant(*args, use_w_o=False), "After merging the heads, mix them with the output projection w_o."),
                    (_mha_variant(*args, w_o_untransposed=True), "nn.Linear stores its weight as (out, in) and computes "
                     "x @ weight.T + bias: call the layer, `self.w_o(merged)`, rather than `merged @ self.w_o.weight`."),
                    (_mha_variant(*args, kv_from_q=True) if m is None and x_kv_probe is x_kv else None,
                     "Keys and values come from `x_kv` (the second argument), queries from `x_q`.")]
        if m is not None:
            mistakes += [(_mha_variant(*args, mask_mode="none"), "Pass the mask on to the attention: padded keys must get no weight."),
                         (_mha_variant(*args, mask_mode="inverted"), HINT_POLARITY),
                         (_mha_variant(*args, mask_mode="inverted_big"), HINT_POLARITY),
                         (lambda y: bool(torch.isnan(y[0]).all()) and not torch.isnan(y[1]).all(), HINT_POLARITY)]
        compare("output", got, want, axes=("B", "T_q", "d_model"), mistakes=mistakes,
                hint="Project (w_q on x_q, w_k and w_v on x_kv), split the heads, attention with the mask, merge "
                     "the heads, then w_o.")
    return "All probes match nn.MultiheadAttention with the same weights."


@exercise("05.predict_param_count", "Predict the output: how many parameters has multi-head attention?")
def _check_predict_param_count(prediction):
    d_model, n_heads = 512, 8
    truth = sum(p.numel() for p in nn.MultiheadAttention(d_model, n_heads).parameters())
    compare_prediction("prediction", prediction, truth, rel=0, abs_tol=0.5, near=0.05, mistakes=[
        (4 * d_model * d_model, "Each of the four nn.Linear layers also has a bias of d_model numbers."),
        (3 * (d_model * d_model + d_model), "Don't forget the output projection w_o: four linear layers in all."),
        (truth * n_heads, "The heads share the d_model x d_model matrices (each uses a slice): the count "
                          "doesn't grow with n_heads."),
        (truth / n_heads, "Each head uses a d_k = d_model / n_heads slice, but together the slices cover the "
                          "full d_model x d_model matrices."),
        (3 * d_model * d_model, "Count the biases and the output projection w_o as well."),
        *[(4 * d_model * d_model + k * d_model, f"You counted {k} bias{'es' if k > 1 else ''} of {d_model}; each of "
           "the four nn.Linear layers (w_q, w_k, w_v, w_o) has its own bias: 4 · 512.") for k in (1, 2, 3)],
        (4 * d_model * d_model + 4 * (d_model // n_heads), "Each bias has d_model = 512 numbers, not d_k = 64: "
                                                           "4 · (512² + 512)."),
        (2 * (d_model * d_model + d_model), "You counted two linear layers; multi-head attention has four: "
                                            "w_q, w_k, w_v and the output projection w_o."),
        (4 * (d_model * d_model + d_model) * 2, "Don't count anything twice: four layers, each a 512 x 512 weight "
                                                "plus a bias of 512."),
    ], hint="Four nn.Linear(512, 512) layers (w_q, w_k, w_v, w_o), each with a 512 x 512 weight and a bias of 512.")
    return "Right: 4 · (512² + 512) = 1,050,624, whatever the number of heads."
