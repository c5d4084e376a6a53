"""course layer · graders of lesson 05 (multi-head attention): split and merge the heads, the module
itself (equal to torch.nn.MultiheadAttention), and its parameter count.
Shapes: B batch · H heads · T/T_q/T_k positions · d_model width · d_k = d_model / H."""

import math

import torch
from torch import nn

from course_utils.base.i18n import msg
from course_utils.course.checks import (
    Fail,
    call,
    compare,
    exercise,
    expect_callable,
    expect_class,
    is_instance,
    load_weights,
    probe_generator,
    randn,
    signature_of,
)
from course_utils.course.checks.signatures import HINT_POLARITY, compare_close
from course_utils.transformer import merge_heads, split_heads
from course_utils.transformer.torch_border import to_torch_key_padding_mask

HINT_NO_TRANSPOSE_SPLIT = msg("Reshape to (B, T, H, d_k) first, then swap the T and H axes with "
                              "`.transpose(1, 2)`; a direct view to (B, H, T, d_k) mixes positions across heads.")
HINT_SPLIT_NO_SWAP = msg("Then bring the head axis before the positions: `.transpose(1, 2)` gives (B, H, T, d_k).")
HINT_SPLIT_ORDER = msg("Heads take contiguous slices of the width: view as (B, T, H, d_k), with H before d_k.")
HINT_SPLIT_TIME = msg("You cut the time axis (dim=1) into H pieces; the heads cut the *width*, the last axis: view "
                      "as (B, T, H, d_k), then `.transpose(1, 2)`.")
HINT_SPLIT_TIME_SHAPE = msg("Your heads hold T / H positions of full width: you cut the time axis. The heads cut "
                            "the *width*: each keeps all T positions and d_k = d_model / H numbers.")
HINT_UNEQUAL = msg("The pieces come out of unequal size: you cut an axis that n_heads does not divide, probably "
                   "the time axis (dim=1). The heads cut the *width*, the last axis: view as (B, T, H, d_k), then "
                   "`.transpose(1, 2)`.")
HINT_FLOAT_WIDTH = msg("`d_model / n_heads` is a float (12 / 3 = 4.0) and a shape needs ints: use integer "
                       "division, `d_model // n_heads`.")
HINT_MERGE_LAST_TWO = msg("`transpose(2, 3)` swaps T and d_k; bring the head axis back next to d_k instead, "
                          "`x.transpose(1, 2)`, then reshape to (B, T, H * d_k).")
HINT_NO_TRANSPOSE_MERGE = msg("Move the head axis back next to d_k with `.transpose(1, 2)` before reshaping to "
                              "(B, T, H * d_k); reshaping (B, H, T, d_k) directly mixes positions.")
HINT_MERGE_ORDER = msg("Concatenate the heads, head 0 first: (B, T, H, d_k) reshaped, not (B, T, d_k, H).")
HINT_MERGE_NO_RESHAPE = msg("After the transpose, reshape to (B, T, H * d_k): the heads side by side.")
HINT_HEADS_PERMUTED = msg("The heads are side by side in another order (e.g. reversed): head 0 must come first, "
                          "then head 1, ...: `x.transpose(1, 2).reshape(B, T, H * d_k)`.")
HINT_FOLDED = msg("Keep the batch and the heads as two axes: (B, H, T, d_k), not (B * H, T, d_k).")
HINT_PIECES = msg("Stack the pieces into one tensor along a new head axis: `torch.stack(pieces, dim=1)`.")
HINT_CAT_AXIS = msg("Concatenate the heads along the last axis (dim=-1): each position gets H * d_k numbers.")
HINT_HEADS_REDUCED = msg("Concatenate the heads' outputs side by side (H * d_k numbers per position); don't add or "
                         "average them.")
HINT_VIEW = msg("After a transpose the memory is no longer contiguous, so `.view` fails: use `.reshape` (or "
                "`.contiguous().view`).")

HINT_FORWARD_ARGS = msg("`forward(x_q, x_kv, mask=None)` takes two inputs: queries from `x_q`, keys *and* values "
                        "from `x_kv` (not three separate query, key, value arguments).")
HINT_MASK_SHAPE = msg("Your module works without a mask and fails with one. The mask comes as (B, 1, 1, T_k) and "
                      "already broadcasts over the heads and queries: pass it to the attention as it is.")
HINT_MASK_NONE = msg("The mask is None when there is no padding, and `~None` fails. Pass the mask on as it is, "
                     "`attention(q, k, v, mask)`: True already means *may attend*, so it needs no `~` either.")
HINT_SUPER = msg("Call `super().__init__()` first in `__init__`, before creating the layers.")
HINT_NOT_MERGED = msg("w_o gets the heads one by one (width d_k): merge the heads back to (B, T, d_model) with "
                      "`merge_heads(out)` before `self.w_o`.")
HINT_AVERAGED = msg("You averaged (or summed) the heads into one; multi-head attention concatenates them: "
                    "`merge_heads(out)` gives (B, T_q, H * d_k), the input of `self.w_o`.")
HINT_MHA = msg("Project (w_q on x_q, w_k and w_v on x_kv), split the heads, attention with the mask, merge the "
               "heads, then w_o.")
HINT_SCALE = msg("Divide the scores by √d_k, the width of one head.")
HINT_SCALE_MODEL = msg("Each head scales by √d_k with d_k = d_model / n_heads, the width of one head, not "
                       "√d_model.")
HINT_AXIS = msg("Take the softmax over the keys (dim=-1).")
HINT_V_PROJ = msg("Each projection has its own layer: the values use w_v, `self.w_v(x_kv)`.")
HINT_K_PROJ = msg("Each projection has its own layer: the keys use w_k, `self.w_k(x_kv)`.")
HINT_NO_QK_PROJ = msg("The queries and keys are not projected: `q = self.w_q(x_q)` and `k = self.w_k(x_kv)` come "
                      "before `split_heads`.")
HINT_NO_Q_PROJ = msg("The queries are not projected: `q = split_heads(self.w_q(x_q), n_heads)`.")
HINT_NO_K_PROJ = msg("The keys are not projected: `k = split_heads(self.w_k(x_kv), n_heads)`.")
HINT_NO_V_PROJ = msg("The values are not projected: `v = split_heads(self.w_v(x_kv), n_heads)`.")
HINT_NO_PROJ = msg("Nothing is projected: q, k and v are `self.w_q(x_q)`, `self.w_k(x_kv)` and `self.w_v(x_kv)` "
                   "before the heads are split.")
HINT_RESIDUAL = msg("No residual connection inside the attention module (it comes with the layers in lesson 08): "
                    "return w_o(...) alone.")
HINT_ROWS = msg("The output has one row per *query*: queries come from `x_q`, keys and values from `x_kv`.")
HINT_NO_W_O = msg("After merging the heads, mix them with the output projection w_o.")
HINT_W_O_WEIGHT = msg("nn.Linear stores its weight as (out, in) and computes x @ weight.T + bias: call the layer, "
                      "`self.w_o(merged)`, rather than `merged @ self.w_o.weight`.")
HINT_KV_FROM_Q = msg("Keys and values come from `x_kv` (the second argument), queries from `x_q`.")
HINT_NO_MASK = msg("Pass the mask on to the attention: padded keys must get no weight.")


# ----------------------------------------------------------------------------- split and merge

@exercise("05.split_heads", "Split the model width into heads")
def _check_split_heads(fn):
    expect_callable(fn, "split_heads")
    g = probe_generator(10)
    for B, T, d_model, H in ((2, 5, 12, 3), (1, 4, 8, 4), (3, 2, 6, 1)):
        x, d_k = randn(g, B, T, d_model), d_model // H
        got = call(fn, x, H, errors=[(r"stack expects each tensor to be equal size|split_size|chunk", HINT_UNEQUAL),
                                     (r"tuple of ints,? ?but got float|must be int", HINT_FLOAT_WIDTH)])
        if isinstance(got, (list, tuple)):
            raise Fail(msg("`heads` should be one tensor (B, H, T, d_k), got a {kind}.", kind=type(got).__name__),
                       hint=HINT_PIECES)
        compare("heads", got, split_heads(x, H), axes=("B", "H", "T", "d_k"), mistakes=[
            (x.reshape(B, H, T, d_k), HINT_NO_TRANSPOSE_SPLIT), (x.view(B, T, H, d_k), HINT_SPLIT_NO_SWAP),
            (x.view(B, T, d_k, H).permute(0, 3, 1, 2), HINT_SPLIT_ORDER),
            (lambda y: y.dim() == 3 and y.shape[0] == B * H and H > 1, HINT_FOLDED),
            (torch.stack(x.chunk(H, dim=1), dim=1) if T % H == 0 and H > 1 else None, HINT_SPLIT_TIME),
            (lambda y: tuple(y.shape) == (B, H, T // H, d_model) and H > 1, HINT_SPLIT_TIME_SHAPE)])


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
            (x.transpose(1, 2), HINT_MERGE_NO_RESHAPE), (_heads_permuted(x), HINT_HEADS_PERMUTED),
            (x.transpose(2, 3).reshape(B, T, H * d_k) if T != d_k or H > 1 else None, HINT_MERGE_LAST_TWO),
            (lambda y: tuple(y.shape) == (B, H * T, d_k) and H > 1, HINT_CAT_AXIS),
            (lambda y: tuple(y.shape) == (B, T, d_k) and H > 1, HINT_HEADS_REDUCED)])


# ----------------------------------------------------------------------------- the module

NAMES = ("w_q", "w_k", "w_v", "w_o")
D_MODEL, N_HEADS = 12, 3


def _weights(g):
    """{layer name: (weight (out, in), bias)} for the four projections."""
    return {n: (randn(g, D_MODEL, D_MODEL) / math.sqrt(D_MODEL), randn(g, D_MODEL) * 0.1) for n in NAMES}


def _reference(w):
    """torch.nn.MultiheadAttention holding the weights `w` (the check's own module)."""
    torch_mha = nn.MultiheadAttention(D_MODEL, N_HEADS, batch_first=True)  # inside the check's forked RNG
    with torch.no_grad():
        torch_mha.in_proj_weight.copy_(torch.cat([w[n][0] for n in NAMES[:3]]))
        torch_mha.in_proj_bias.copy_(torch.cat([w[n][1] for n in NAMES[:3]]))
        torch_mha.out_proj.weight.copy_(w["w_o"][0])
        torch_mha.out_proj.bias.copy_(w["w_o"][1])
    return torch_mha.eval()


def _expect_two_inputs(cls):
    params = signature_of(cls, "forward")[1:]
    if any(p in ("value", "values", "v", "x_v") for p in params[:3]):
        raise Fail(msg("`forward` takes the arguments ({params}).", params=", ".join(params)), hint=HINT_FORWARD_ARGS)


def _build(cls, w):
    """The learner's module with the weights `w`, in eval mode, through its own interface."""
    module = call(cls, D_MODEL, N_HEADS, what=msg("`MultiHeadAttention(d_model=12, n_heads=3)`"),
                  errors=[(r"before Module.__init__\(\) call", HINT_SUPER)])
    if not is_instance(module, nn.Module):
        raise Fail(msg("`MultiHeadAttention` should subclass nn.Module (call super().__init__() first)."))
    for name in NAMES:
        layer = getattr(module, name, None)
        weight, bias = getattr(layer, "weight", None), getattr(layer, "bias", None)
        if not is_instance(layer, nn.Linear) or tuple(weight.shape) != (D_MODEL, D_MODEL) or bias is None:
            raise Fail(msg("`module.{name}` should be nn.Linear(d_model, d_model) with a bias, got {kind}.",
                           name=name, kind=type(layer).__name__ if layer is not None else msg("nothing")))
    load_weights(module, {f"{n}.{part}": t for n in NAMES for part, t in zip(("weight", "bias"), w[n])})
    call(module.eval, what=msg("`module.eval()`"))
    return module


def _probes(g):
    """(x_q, x_kv, mask, pad): self-attention, then cross-attention without and with a padding mask."""
    B, T_q, T_k = 2, 4, 6
    x_q, x_kv = randn(g, B, T_q, D_MODEL), randn(g, B, T_k, D_MODEL)
    pad = torch.arange(T_k)[None, :] < torch.tensor([6, 4])[:, None]  # (B, T_k), True = a real token
    return [(x_q, x_q, None, None), (x_q, x_kv, None, None), (x_q, x_kv, pad[:, None, None, :], pad)]


def _variant(x_q, x_kv, mask, w, split="right", merge="right", scale=None, roles=None, w_o="layer",
             kv_from_q=False, mask_mode="fill", axis=-1):
    """Multi-head attention from the weights `w` with a known mistake. `roles`: which layer projects q, k, v
    (None: not projected); mask_mode "inverted" (-inf, NaN rows), "inverted_zero" (fully blocked rows give 0,
    as the course's attention does), "inverted_big" (-1e9) or "none"."""
    B, T_q, _ = x_q.shape
    x_kv = x_q if kv_from_q else x_kv
    d_k = D_MODEL // N_HEADS
    roles = {"q": "w_q", "k": "w_k", "v": "w_v", **(roles or {})}

    def project(role, x):
        return x if roles[role] is None else x @ w[roles[role]][0].T + w[roles[role]][1]

    cut = split_heads if split == "right" else lambda x, H: x.reshape(x.size(0), H, x.size(1), d_k)
    q, k, v = cut(project("q", x_q), N_HEADS), cut(project("k", x_kv), N_HEADS), cut(project("v", x_kv), N_HEADS)
    scores = q @ k.transpose(-2, -1) / math.sqrt(scale or d_k)
    blocked = None if mask is None or mask_mode == "none" else mask if mask_mode.startswith("inverted") else ~mask
    if blocked is not None:
        scores = scores.masked_fill(blocked, -1e9 if mask_mode == "inverted_big" else float("-inf"))
    weights = scores.softmax(axis)
    if mask_mode == "inverted_zero":
        weights = weights.nan_to_num(0.0)
    out = weights @ v
    if merge == "mean":  # the heads averaged, then repeated to fill d_model
        out = out.mean(1).repeat(1, 1, N_HEADS)
    out = merge_heads(out) if merge == "right" else out if merge == "mean" else out.reshape(B, T_q, D_MODEL)
    if w_o == "none":
        return out
    return out @ (w["w_o"][0] if w_o == "untransposed" else w["w_o"][0].T) + w["w_o"][1]


def _mha_mistakes(x_q, x_kv, mask, w, want):
    """(wrong output, hint) for the mistakes learners make, most specific first."""
    def v(**kw):
        return _variant(x_q, x_kv, mask, w, **kw)

    found = [(v(split="wrong", merge="wrong"), HINT_NO_TRANSPOSE_SPLIT), (v(split="wrong"), HINT_NO_TRANSPOSE_SPLIT),
             (v(merge="wrong"), HINT_NO_TRANSPOSE_MERGE), (v(merge="mean"), HINT_AVERAGED), (v(scale=1), HINT_SCALE),
             (v(axis=-2), HINT_AXIS),
             (v(roles={"v": "w_k"}), HINT_V_PROJ), (v(roles={"v": "w_q"}), HINT_V_PROJ),
             (v(roles={"k": "w_q"}), HINT_K_PROJ), (v(roles={"q": None, "k": None}), HINT_NO_QK_PROJ),
             (v(roles={"q": None}), HINT_NO_Q_PROJ), (v(roles={"k": None}), HINT_NO_K_PROJ),
             (v(roles={"v": None}), HINT_NO_V_PROJ), (v(roles={"q": None, "k": None, "v": None}), HINT_NO_PROJ),
             (want + x_q, HINT_RESIDUAL), (lambda y: y.shape[1] == x_kv.shape[1] != x_q.shape[1], HINT_ROWS),
             (v(scale=D_MODEL), HINT_SCALE_MODEL), (v(w_o="none"), HINT_NO_W_O),
             (v(w_o="untransposed"), HINT_W_O_WEIGHT),
             (v(kv_from_q=True) if x_kv is not x_q and mask is None else None, HINT_KV_FROM_Q)]
    if mask is not None:
        found += [(v(mask_mode="none"), HINT_NO_MASK)] + [(v(mask_mode=m), HINT_POLARITY) for m in (
            "inverted", "inverted_zero", "inverted_big")] + [
            (lambda y: bool(torch.isnan(y[0]).all()) and not torch.isnan(y[1]).all(), HINT_POLARITY)]
    return found


def _errors(x_q):
    """Exceptions whose shapes tell the mistake: w_o fed one head's width, per head or heads reduced."""
    B, T_q, d_k = x_q.size(0), x_q.size(1), D_MODEL // N_HEADS
    return [(rf"cannot be multiplied \({B * N_HEADS * T_q}x{d_k} and", HINT_NOT_MERGED),
            (rf"cannot be multiplied \({B * T_q}x{d_k} and", HINT_AVERAGED),
            (r"unary ~: 'NoneType'", HINT_MASK_NONE)]


def _run(module, x_q, x_kv, mask):
    with torch.no_grad():
        return call(module, x_q, x_kv, mask, what=msg("`MultiHeadAttention.forward`"), errors=_errors(x_q))


def _diagnose(module, fail, probes, w, references):
    """The answer raised on a probe without a mask: if another probe runs and shows a known mistake
    there, name it (e.g. `attention(q, k, v, ~mask)`, which fails on mask=None)."""
    for (x_q, x_kv, mask, _), want in zip(probes, references):
        try:
            got = _run(module, x_q, x_kv, mask)
        except Fail:
            continue
        for wrong, hint in _mha_mistakes(x_q, x_kv, mask, w, want):
            if isinstance(wrong, torch.Tensor) and isinstance(got, torch.Tensor) and got.shape == wrong.shape and \
                    torch.allclose(got, wrong, atol=1e-5, rtol=1e-4, equal_nan=True):
                raise Fail(msg("{message} (on another probe it runs, and shows a known mistake)",
                               message=fail.message), hint=hint) from None
    raise fail


@exercise("05.multi_head_attention", "MultiHeadAttention, equal to nn.MultiheadAttention", time_limit=20,
          name="MultiHeadAttention", uses=("split_heads", "merge_heads", "attention"))
def _check_mha(cls):
    expect_class(cls, "MultiHeadAttention")
    _expect_two_inputs(cls)
    g = probe_generator(12)
    w = _weights(g)
    torch_mha, module = _reference(w), _build(cls, w)
    probes = _probes(g)
    with torch.no_grad():
        references = [torch_mha(x_q, x_kv, x_kv, need_weights=False, key_padding_mask=None if pad is None else
                                to_torch_key_padding_mask(pad))[0] for x_q, x_kv, _, pad in probes]
    for (x_q, x_kv, mask, _), want in zip(probes, references):
        try:
            got = _run(module, x_q, x_kv, mask)
        except Fail as fail:
            if fail.hint:
                raise
            if mask is not None:  # the probes without a mask passed: the mask is what breaks it
                raise Fail(fail.message, HINT_MASK_SHAPE) from None
            _diagnose(module, fail, probes[-1:], w, references[-1:])
        compare("output", got, want, axes=("B", "T_q", "d_model"), mistakes=_mha_mistakes(x_q, x_kv, mask, w, want),
                hint=HINT_MHA)
    return msg("All probes match nn.MultiheadAttention with the same weights.")


# ----------------------------------------------------------------------------- the parameter count

def _count_mistakes(d_model, n_heads, truth):
    def biases(k):
        if k == 1:
            return msg("You counted one bias of {d_model}; each of the four nn.Linear layers (w_q, w_k, w_v, w_o) has "
                       "its own bias: 4 · 512.", d_model=d_model)
        return msg("You counted {k} biases of {d_model}; each of the four nn.Linear layers (w_q, w_k, w_v, w_o) has "
                   "its own bias: 4 · 512.", k=k, d_model=d_model)

    return [
        (4 * d_model * d_model, msg("Each of the four nn.Linear layers also has a bias of d_model numbers.")),
        (3 * (d_model * d_model + d_model), msg("Don't forget the output projection w_o: four linear layers in all.")),
        (truth * n_heads, msg("The heads share the d_model x d_model matrices (each uses a slice): the count doesn't "
                              "grow with n_heads.")),
        (truth / n_heads, msg("Each head uses a d_k = d_model / n_heads slice, but together the slices cover the "
                              "full d_model x d_model matrices.")),
        (3 * d_model * d_model, msg("Count the biases and the output projection w_o as well.")),
        *[(4 * d_model * d_model + k * d_model, biases(k)) for k in (1, 2, 3)],
        (4 * d_model * d_model + 4 * (d_model // n_heads), msg("Each bias has d_model = 512 numbers, not d_k = "
                                                               "64: 4 · (512² + 512).")),
        (2 * (d_model * d_model + d_model), msg("You counted two linear layers; multi-head attention has four: w_q, "
                                                "w_k, w_v and the output projection w_o.")),
        (4 * (d_model * d_model + d_model) * 2, msg("Don't count anything twice: four layers, each a 512 x 512 "
                                                    "weight plus a bias of 512.")),
    ]


@exercise("05.predict_param_count", "Predict the output: how many parameters has multi-head attention?")
def _check_predict_param_count(prediction):
    d_model, n_heads = 512, 8
    truth = sum(p.numel() for p in nn.MultiheadAttention(d_model, n_heads).parameters())
    compare_close("prediction", prediction, truth, msg("Close, but the count must be exact: add up each layer's "
                                                       "weight (512 x 512 numbers) and bias (512), for all four "
                                                       "layers."), rel=0, abs_tol=0.5, near=0.05,
                       mistakes=_count_mistakes(d_model, n_heads, truth),
                       hint=msg("Four nn.Linear(512, 512) layers (w_q, w_k, w_v, w_o), each with a 512 x 512 weight "
                                "and a bias of 512."))
    return msg("Right: 4 · (512² + 512) = 1,050,624, whatever the number of heads.")
