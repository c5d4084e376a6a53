"""Checkers for the exercises of lessons 06-10 (masks, cross-attention, the Transformer's
layers, training, inference).

Shapes: B batch · H heads · T_q/T_k query/key positions · S/T source/target length ·
d_model model width · d_k head width · V vocabulary size · K beams.

Every exercise has a reference (a torch built-in where one exists, otherwise
course_utils code), probe inputs from a private `torch.Generator` (the global RNG is never
touched), and a list of known-wrong variants, each with the hint shown when a learner's
answer reproduces it. A checker raises `Fail(reason)` to fail and returns to pass.
"""

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.transformer.attention import attention
from course_utils.transformer.layers import DecoderLayer, EncoderLayer

from course_utils.course.checks import (Fail, call, compare, compare_value, exercise, expect_callable,
                                 expect_tuple, probe_generator)

ATOL, RTOL = 1e-5, 1e-4


# ---------------------------------------------------------------- helpers on top of D1's API
def _gen(seed=0):
    return probe_generator(seed)


def _clone(x):
    if isinstance(x, torch.Tensor):
        return x.clone()
    if isinstance(x, (list, tuple)):
        return type(x)(_clone(v) for v in x)
    return x


def _close(a, b, atol=ATOL, rtol=RTOL) -> bool:
    """Does `a` equal `b`? Tensors must agree in shape and kind (bool / integer / float);
    floats within tolerance, NaN where NaN. Works through tuples and lists."""
    if isinstance(b, torch.Tensor):
        if not isinstance(a, torch.Tensor) or a.shape != b.shape:
            return False
        if not b.dtype.is_floating_point:
            return a.dtype == b.dtype and bool(torch.equal(a, b))
        if not a.dtype.is_floating_point:
            return False
        return bool(torch.allclose(a.detach().double(), b.detach().double(), atol=atol, rtol=rtol, equal_nan=True))
    if isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and len(a) == len(b) and all(_close(x, y, atol, rtol) for x, y in zip(a, b))
    if isinstance(b, float):
        if isinstance(a, torch.Tensor) and a.numel() == 1:
            a = a.item()
        if isinstance(a, bool) or not isinstance(a, (int, float)):
            return False
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol) or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def _grade(fn, name, probes, reference, mutants=(), names=("output",), axes=(None,)):
    """Grade the function `fn` on every probe (label, args) against `reference`.

    A known-wrong variant (a function of the same arguments, with its hint) is matched
    first, even where its output has another shape or dtype than the reference's (e.g. a
    float mask for a bool one); then D1's `compare` names type, shape, dtype, NaN and
    value differences for each output.
    """
    expect_callable(fn, name)
    runs = []
    for label, args in probes:
        try:
            got = call(fn, *args, what=f"`{name}` (on {label})")
        except Fail as fail:  # a known mistake may explain the probes that did run
            _match_mutants(name, runs, mutants, f" on the first probes; then {fail.message.rstrip('.')}")
            raise
        runs.append((label, args, got, reference(*_clone(args))))
    _match_mutants(name, runs, mutants)
    for label, _, got, want in runs:
        if isinstance(want, tuple):
            got = expect_tuple(got, len(want), names)
            for n, a, g, w in zip(names, axes, got, want):
                _compare_labelled(n, g, w, a, label)
        else:
            _compare_labelled(names[0], got, want, axes[0], label)


def _match_mutants(name, runs, mutants, suffix=""):
    """Fail with a known mistake's hint if that wrong variant reproduces every run so far
    (and the runs are not all right)."""
    if not runs or all(_close(got, want) for _, _, got, want in runs):
        return
    for wrong, hint in mutants:  # a known mistake must explain the answer on every probe
        try:
            with warnings.catch_warnings():  # torch's deprecation notes about the wrong variants
                warnings.simplefilter("ignore")
                wrong_outs = [wrong(*_clone(args)) for _, args, _, _ in runs]
        except Exception:  # noqa: BLE001 - a variant that cannot run here cannot match
            continue
        if all(_close(got, w) for (_, _, got, _), w in zip(runs, wrong_outs)):
            raise Fail(f"`{name}` reproduces a known mistake{suffix}.", hint=hint)


def _compare_labelled(name, got, want, axes, label):
    if isinstance(want, tuple):  # e.g. a (k, v) cache inside the output
        parts = tuple(f"{name}[{i}]" for i in range(len(want)))
        for n, g, w in zip(parts, expect_tuple(got, len(want), parts), want):
            _compare_labelled(n, g, w, axes, label)
        return
    try:
        if isinstance(want, float):
            compare_value(name, got, want, rel=1e-6, abs_tol=1e-12)
        else:
            compare(name, got, want, axes=axes)
    except Fail as f:
        raise Fail(f"{f.message} (on {label})", hint=f.hint) from None


# ======================================================================== lesson 06
def _tril(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


@exercise("06.causal_mask", "Build a causal mask")
def check_causal_mask(causal_mask):
    probes = [(f"T={T}", (T,)) for T in (1, 4, 7)]
    mutants = [
        (lambda T: torch.ones(T, T, dtype=torch.bool).triu(1),
         "Polarity inverted: this is torch.nn's convention (True = blocked). In this course "
         "True means 'may attend': position i may see every j <= i."),
        (lambda T: torch.ones(T, T, dtype=torch.bool).triu(),
         "Your True values sit on and above the diagonal, which lets position i see the future "
         "(j > i). Use the lower triangle: torch.tril."),
        (lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1),
         "The diagonal is False, so no position may attend to itself and row 0 has no key at all "
         "(its softmax would be NaN). Keep the diagonal: tril() with no offset."),
        (lambda T: torch.zeros(T, T).masked_fill(~_tril(T), float("-inf")),
         "You returned a float mask (0 / -inf), torch.nn's additive convention. Return a bool "
         "tensor, True = may attend."),
        (lambda T: _tril(T).long(),
         "Right pattern, wrong dtype: return a bool tensor (e.g. .bool()), not integers."),
    ]
    _grade(causal_mask, "causal_mask", probes, _tril, mutants, names=("mask",), axes=[("T_q", "T_k")])


def _pad_probes():
    g = _gen(6)
    a = torch.randint(3, 20, (3, 6), generator=g)
    a[0, 4:] = 0
    a[2, 2:] = 0
    b = torch.randint(0, 9, (2, 5), generator=g)
    b[1, 3:] = 9  # pad id 9: a mask built with `!= 0` is wrong here
    b[b == 0] = 4
    return [("tokens (3, 6) with pad_id=0", (a, 0)), ("tokens (2, 5) with pad_id=9", (b, 9))]


def _ref_padding_mask(tokens, pad_id):
    return (tokens != pad_id)[:, None, None, :]


@exercise("06.padding_mask", "Build a padding mask")
def check_padding_mask(padding_mask):
    mutants = [
        (lambda t, p: (t == p)[:, None, None, :],
         "Polarity inverted: True must mark the real tokens (which may be attended), False the padding."),
        (lambda t, p: t != p,
         "Right values, but shape (B, T): add a head axis and a query axis, (B, 1, 1, T), so the "
         "mask broadcasts over heads and queries: tokens[:, None, None, :]."),
        (lambda t, p: (t != p)[:, None, :, None],
         "Your mask has shape (B, 1, T, 1): it blocks padded *queries* (rows), not padded keys "
         "(columns). Padding must be hidden as a key: (B, 1, 1, T)."),
        (lambda t, p: (t != 0)[:, None, None, :],
         "You compared with 0 instead of pad_id: use the pad_id argument (here it is not 0)."),
        (lambda t, p: (t != p)[:, None, None, :].long(),
         "Right pattern, wrong dtype: masks are bool tensors."),
    ]
    _grade(padding_mask, "padding_mask", _pad_probes(), _ref_padding_mask, mutants, names=("mask",),
           axes=[("B", "H", "T_q", "T_k")])


def _ref_decoder_mask(tgt, pad_id):
    return (tgt != pad_id)[:, None, None, :] & _tril(tgt.size(1))


@exercise("06.decoder_mask", "Combine padding and causal masks")
def check_decoder_mask(decoder_mask):
    probes = _pad_probes()
    mutants = [
        (lambda t, p: (t != p)[:, None, None, :] | _tril(t.size(1)),
         "`|` lets a key through when *either* mask allows it. A key must be allowed by both "
         "masks: combine with `&`."),
        (lambda t, p: _tril(t.size(1)).expand(t.size(0), 1, t.size(1), t.size(1)),
         "Only the causal part: padded keys are still visible. AND it with the padding mask."),
        (lambda t, p: (t != p)[:, None, None, :].expand(t.size(0), 1, t.size(1), t.size(1)),
         "Only the padding part: every position still sees the future. AND it with the causal mask."),
        (lambda t, p: (t != p)[:, None, :, None] & _tril(t.size(1)),
         "You blocked the padded *queries* (rows) instead of the padded keys (columns): their rows are "
         "now fully masked, and a fully masked row gives NaN after the softmax. Block padded keys: "
         "(tgt != pad_id)[:, None, None, :]; the loss ignores the outputs at padded positions anyway."),
        (lambda t, p: (t != p)[:, None, None, :] & _tril(t.size(1)).T,
         "The causal part is transposed (upper triangle): positions see the future instead of the past."),
    ]
    _grade(decoder_mask, "decoder_mask", probes, _ref_decoder_mask, mutants, names=("mask",),
           axes=[("B", "H", "T_q", "T_k")])


def _ref_masked_softmax(scores, mask):
    weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    return weights.nan_to_num(0.0)


def _masked_softmax_probes():
    g = _gen(60)
    scores = torch.randn(2, 2, 4, 5, generator=g) * 2
    pad = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, None, :]
    rows = torch.ones(2, 1, 4, 5, dtype=torch.bool)
    rows[1, 0, 2] = False  # one row with no allowed key at all
    causal = _tril(5)[:3]
    return [("scores (2, 2, 4, 5), padding mask (2, 1, 1, 5)", (scores, pad)),
            ("scores (2, 2, 4, 5), mask with a fully masked row", (scores, pad & rows)),
            ("scores (3, 5), causal mask (3, 5)", (scores[0, 0, :3], causal))]


@exercise("06.masked_softmax", "A masked softmax without the NaN trap")
def check_masked_softmax(masked_softmax):
    def fill(value):
        return lambda s, m: s.masked_fill(~m, value).softmax(-1)

    mutants = [
        (fill(float("-inf")),
         "Right for ordinary rows, but a row with no allowed key gives NaN: softmax of all -inf "
         "is 0/0. Give such rows all-zero weights, e.g. weights.nan_to_num(0.0) or "
         "torch.where(mask.any(-1, keepdim=True), weights, 0)."),
        (fill(-1e9),
         "Right for ordinary rows, but in a row with no allowed key every score is -1e9, so the "
         "softmax spreads the weight evenly over the *blocked* keys. Set such rows to zero."),
        (fill(0.0),
         "Filling blocked scores with 0 does not block them: exp(0) = 1, so they still get weight. "
         "Fill with -inf (or a large negative number like -1e9)."),
        (lambda s, m: s.softmax(-1) * m,
         "You masked *after* the softmax: the remaining weights no longer sum to 1. Mask the "
         "scores (-inf), then take the softmax."),
        (lambda s, m: s.masked_fill(m, float("-inf")).softmax(-1).nan_to_num(0.0),
         "Polarity inverted: you blocked the keys where the mask is True. True = may attend, so "
         "fill where the mask is False (~mask)."),
        (lambda s, m: s.masked_fill(~m, float("-inf")).softmax(-2).nan_to_num(0.0),
         "Softmax over the wrong axis: normalise over the keys (the last axis, dim=-1), so each "
         "query's weights sum to 1."),
    ]

    _grade(masked_softmax, "masked_softmax", _masked_softmax_probes(), _ref_masked_softmax, mutants,
           names=("weights",), axes=[None])


def _ref_nn_causal_self_attention(mha, x, tgt, pad_id):
    T = x.size(1)
    out, _ = mha(x, x, x, attn_mask=~_tril(T), key_padding_mask=(tgt == pad_id), need_weights=False)
    return out


def _mha_probe():
    torch_state = _gen(61)
    with torch.random.fork_rng(devices=[]):  # construction draws from the global RNG
        mha = nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(torch.randn(p.shape, generator=torch_state) * 0.3)
    mha.eval()
    x = torch.randn(2, 5, 8, generator=torch_state)
    tgt = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0]])
    return mha, x, tgt


@exercise("06.nn_border", "Find the bug: masks at the torch.nn border")
def check_nn_border(causal_self_attention):
    mha, x, tgt = _mha_probe()
    probes = [("nn.MultiheadAttention(8, 2, batch_first=True), x (2, 5, 8), tgt with padding", (mha, x, tgt, 0))]
    T = x.size(1)

    def run(attn_mask, kpm):
        return lambda m, x, t, p: m(x, x, x, attn_mask=attn_mask(T), key_padding_mask=kpm(t, p))[0]

    ours_causal, nn_causal = (lambda T: _tril(T)), (lambda T: ~_tril(T))
    ours_pad, nn_pad = (lambda t, p: t != p), (lambda t, p: t == p)
    mutants = [
        (run(ours_causal, ours_pad),
         "Both masks still speak the course's dialect (True = may attend); nn.MultiheadAttention reads "
         "True as *blocked*. Invert both at the border with ~."),
        (run(ours_causal, nn_pad),
         "The padding mask is right now, but attn_mask is still True = may attend: invert it with ~ "
         "for nn.MultiheadAttention (True = blocked)."),
        (run(nn_causal, ours_pad),
         "attn_mask is right now, but key_padding_mask still marks the *real* tokens: for torch.nn "
         "it must be True at the padding (tgt == pad_id)."),
        (lambda m, x, t, p: m(x, x, x, attn_mask=_tril(T).float(), key_padding_mask=(t == p))[0],
         "A float attn_mask is *added* to the scores, it does not block anything: 1.0 vs 0.0 barely "
         "changes the weights. Pass a bool mask with True = blocked (~causal_mask(T))."),
        (run(nn_causal, lambda t, p: None),
         "The causal mask is right, but the padded keys are not hidden: pass key_padding_mask=(tgt == pad_id)."),
    ]
    with torch.no_grad():
        _grade(causal_self_attention, "causal_self_attention", probes, _ref_nn_causal_self_attention, mutants,
               names=("out",), axes=[("B", "T", "d_model")])


# ======================================================================== lesson 07
def _ref_cross_attention(x, memory, w_q, w_k, w_v, src_mask=None):
    return attention(x @ w_q, memory @ w_k, memory @ w_v, src_mask)


def _cross_probes():
    g = _gen(70)
    B, T, S, d_model, d_k, d_v = 2, 3, 5, 8, 4, 6
    x = torch.randn(B, T, d_model, generator=g)
    memory = torch.randn(B, S, d_model, generator=g)
    w_q, w_k = torch.randn(d_model, d_k, generator=g), torch.randn(d_model, d_k, generator=g)
    w_v = torch.randn(d_model, d_v, generator=g)
    src_mask = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, :]  # (B, 1, S)
    label = "x (B=2, T=3, d_model=8), memory (B=2, S=5, d_model=8), d_k=4, d_v=6"
    return [(label + ", no mask", (x, memory, w_q, w_k, w_v, None)),
            (label + ", src_mask (2, 1, 5) with padding", (x, memory, w_q, w_k, w_v, src_mask))]


@exercise("07.cross_attention", "Cross-attention: decoder queries, encoder keys and values")
def check_cross_attention(cross_attention):
    def variant(q_of, scale, dim=-1, use_mask=True, kv_of=lambda x, m: m):
        def fn(x, memory, w_q, w_k, w_v, src_mask=None):
            q, k, v = q_of(x, memory) @ w_q, kv_of(x, memory) @ w_k, kv_of(x, memory) @ w_v
            scores = q @ k.transpose(-2, -1) / scale(q)
            if use_mask and src_mask is not None:
                scores = scores.masked_fill(~src_mask, float("-inf"))
            weights = scores.softmax(dim)
            return weights @ v, weights
        return fn

    dec = lambda x, m: x  # noqa: E731
    sqrt_dk = lambda q: math.sqrt(q.size(-1))  # noqa: E731
    mutants = [
        (variant(lambda x, m: m, sqrt_dk, kv_of=dec),
         "Roles swapped: your output has one row per *source* position. The queries come from the "
         "decoder (x); the keys and values from the encoder's memory."),
        (variant(dec, lambda q: 1.0),
         "The scores are not scaled: divide q·k by sqrt(d_k) (d_k = the width of q and k)."),
        (variant(dec, lambda q: q.size(-1)),
         "You divided by d_k; the paper divides by its square root, sqrt(d_k)."),
        (variant(dec, lambda q: math.sqrt(8)),
         "You scaled by sqrt(d_model); use sqrt(d_k), the width of the queries and keys."),
        (variant(dec, sqrt_dk, dim=-2),
         "Softmax over the wrong axis: each target position (query) distributes its attention over "
         "the source positions, so normalise over the last axis (the keys, S)."),
        (variant(dec, sqrt_dk, use_mask=False),
         "src_mask is ignored: padded source positions still get weight. Fill their scores with -inf "
         "before the softmax."),
    ]
    _grade(cross_attention, "cross_attention", _cross_probes(), _ref_cross_attention, mutants,
           names=("out", "weights"), axes=[("B", "T", "d_v"), ("B", "T", "S")])


def _ref_alignment(weights):
    return weights.mean(dim=1).argmax(dim=-1)


@exercise("07.alignment", "Read an alignment off the attention weights")
def check_alignment(alignment):
    g = _gen(71)
    B, H, T, S = 2, 3, 4, 6
    scores = torch.randn(B, H, T, S, generator=g) * 3
    scores[:, 0] = scores[:, 0].flip(-1) * 2  # head 0 disagrees with the others
    weights = scores.softmax(-1)
    probes = [("weights (B=2, H=3, T=4, S=6)", (weights,))]
    mutants = [
        (lambda w: w[:, 0].argmax(-1),
         "You used head 0 only: average the weights over all heads (dim=1) first."),
        (lambda w: w.amax(dim=1).argmax(-1),
         "You took the maximum over heads; the exercise asks for the *average* over heads (mean over dim=1)."),
        (lambda w: w.sum(dim=1).argmax(-1).float(),
         "Right positions, but return integer indices (torch.long), as argmax gives them."),
        (lambda w: w.mean(dim=1).argmax(dim=-2),
         "argmax over the wrong axis: for every target position (query), pick the source position (key, "
         "the last axis) with the most weight."),
        (lambda w: w.mean(dim=1).argmin(dim=-1),
         "argmin instead of argmax: pick the source position with the *most* weight."),
    ]
    _grade(alignment, "alignment", probes, _ref_alignment, mutants, names=("alignment",), axes=[("B", "T")])


PREDICT_SRC = ["I", "love", "cats", "<pad>"]


def predict_alignment_truth():
    """The truth for 07.predict_alignment (the notebook shows how it is computed)."""
    keys = torch.tensor([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0], [0, 0, 6.0]])
    queries = torch.tensor([[1.0, 0.2, 0.1], [0.1, 1.0, 0.4], [0.3, 0.2, 1.0]])  # 我, 爱, 猫
    mask = torch.tensor([[True, True, True, False]])
    _, weights = attention(queries, keys, keys, mask)
    return [PREDICT_SRC[i] for i in weights.argmax(-1).tolist()]


@exercise("07.predict_alignment", "Predict which source word each query attends to")
def check_predict_alignment(prediction):
    truth = predict_alignment_truth()
    if not isinstance(prediction, (list, tuple)) or not all(isinstance(p, str) for p in prediction):
        raise Fail(f"Write your prediction as a list of {len(truth)} source words, e.g. "
                    f"{['I'] * len(truth)}; got {type(prediction).__name__}.")
    if len(prediction) != len(truth):
        raise Fail(f"One source word per target position: expected {len(truth)} words, got {len(prediction)}.")
    unknown = [p for p in prediction if p not in PREDICT_SRC]
    if unknown:
        raise Fail(f"{unknown[0]!r} is not a source token; choose from {PREDICT_SRC}.")
    if "<pad>" in prediction:
        raise Fail("The <pad> key has the largest dot product, but the source mask blocks it: its "
                    "score becomes -inf before the softmax, so it gets exactly zero weight.")
    wrong = [i for i, (p, t) in enumerate(zip(prediction, truth)) if p != t]
    if wrong:
        raise Fail(f"{len(wrong)} of {len(truth)} predictions are off (target position "
                    f"{wrong[0]} first). For each query, compare its dot product with every allowed key; "
                    "the largest one wins the most weight.")


# ======================================================================== lesson 08
def predict_layernorm_truth():
    """The truth for 08.predict_layernorm: a fresh nn.LayerNorm(4) (gamma = 1, beta = 0)."""
    with torch.no_grad():
        out = nn.LayerNorm(4)(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))[0]
    return [round(v, 2) for v in out.tolist()]


@exercise("08.predict_layernorm", "Predict what LayerNorm does to [1, 2, 3, 4]")
def check_predict_layernorm(prediction):
    truth = predict_layernorm_truth()
    if isinstance(prediction, torch.Tensor):
        prediction = prediction.flatten().tolist()
    if not isinstance(prediction, (list, tuple)) or len(prediction) != 4 or not all(
            isinstance(p, (int, float)) and not isinstance(p, bool) for p in prediction):
        raise Fail(f"Write your prediction as a list of 4 numbers (2 decimals are enough), got {prediction!r}.")
    if all(abs(p - t) <= 0.011 for p, t in zip(prediction, truth)):
        return None
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    unbiased = ((x - x.mean()) / x.std()).tolist()
    centred = (x - x.mean()).tolist()
    if all(abs(p - t) <= 0.011 for p, t in zip(prediction, unbiased)):
        raise Fail("Close, but that divides by the unbiased standard deviation (n - 1).",
                   hint="LayerNorm divides by the *population* standard deviation: sqrt(mean((x - mean)^2) + eps), "
                        "with n = 4 in the mean, not n - 1.")
    if all(abs(p - t) <= 0.011 for p, t in zip(prediction, centred)):
        raise Fail("You subtracted the mean but did not divide by the standard deviation.",
                   hint="After centring, divide by sqrt(variance + eps); here the variance is 1.25.")
    raise Fail("Not yet.", hint="Subtract the mean (2.5), then divide by sqrt(variance + eps), where the "
                                "variance is the mean of the squared deviations. gamma = 1 and beta = 0.")


def _ref_layer_norm(x, gamma, beta, eps=1e-5):
    return F.layer_norm(x, (x.size(-1),), gamma, beta, eps)


def _ln_probes():
    g = _gen(80)
    x = torch.randn(2, 3, 8, generator=g) * 3 + 1.5
    x[1, 2] = torch.randn(8, generator=g) * 1e-4  # tiny variance: eps placement matters here
    gamma = torch.rand(8, generator=g) + 0.5
    beta = torch.randn(8, generator=g)
    return [("x (2, 3, 8) with one near-constant row, eps=1e-5", (x, gamma, beta, 1e-5)),
            ("x (4, 6), eps=0.1", (x[0, :, :6].repeat(2, 1) * 0.3, gamma[:6], beta[:6], 0.1))]


@exercise("08.layer_norm", "LayerNorm by hand")
def check_layer_norm(layer_norm):
    def variant(var, eps_inside=True, dim=-1, affine=True):
        def fn(x, gamma, beta, eps=1e-5):
            mean = x.mean(dim, keepdim=True)
            v = var(x, dim)
            denom = (v + eps).sqrt() if eps_inside else v.sqrt() + eps
            y = (x - mean) / denom
            return y * gamma + beta if affine else y
        return fn

    biased = lambda x, d: x.var(d, unbiased=False, keepdim=True)  # noqa: E731
    unbiased = lambda x, d: x.var(d, unbiased=True, keepdim=True)  # noqa: E731
    mutants = [
        (variant(unbiased),
         "You used the unbiased variance (dividing by n - 1). LayerNorm uses the population "
         "variance: x.var(-1, unbiased=False) or ((x - mean)**2).mean(-1)."),
        (variant(biased, eps_inside=False),
         "eps is outside the square root: use sqrt(var + eps), not sqrt(var) + eps. The "
         "difference shows on near-constant rows."),
        (variant(unbiased, eps_inside=False),
         "Two slips: the variance should be the population one (unbiased=False), and eps belongs "
         "inside the square root."),
        (variant(biased, affine=False),
         "gamma and beta are not applied: multiply by gamma, then add beta."),
        (lambda x, gamma, beta, eps=1e-5: variant(biased, affine=False)(x, gamma, beta, eps) * beta + gamma,
         "gamma and beta are swapped: y * gamma + beta."),
        (variant(biased, dim=0),
         "You normalised over the wrong axis: LayerNorm normalises each position over its features "
         "(the last axis, dim=-1)."),
    ]
    _grade(layer_norm, "layer_norm", _ln_probes(), _ref_layer_norm, mutants, names=("out",),
           axes=[None])


def _ref_feed_forward(x, w_1, b_1, w_2, b_2):
    return torch.relu(x @ w_1 + b_1) @ w_2 + b_2


@exercise("08.feed_forward", "The position-wise feed-forward network")
def check_feed_forward(feed_forward):
    g = _gen(81)
    B, T, d_model, d_ff = 2, 3, 4, 16
    x = torch.randn(B, T, d_model, generator=g)
    w_1, b_1 = torch.randn(d_model, d_ff, generator=g), torch.randn(d_ff, generator=g)
    w_2, b_2 = torch.randn(d_ff, d_model, generator=g), torch.randn(d_model, generator=g)
    probes = [("x (2, 3, d_model=4), d_ff=16", (x, w_1, b_1, w_2, b_2))]
    mutants = [
        (lambda x, w_1, b_1, w_2, b_2: (x @ w_1 + b_1) @ w_2 + b_2,
         "No non-linearity: without the ReLU the two linear maps collapse into one linear map."),
        (lambda x, w_1, b_1, w_2, b_2: torch.relu(torch.relu(x @ w_1 + b_1) @ w_2 + b_2),
         "The ReLU belongs between the two linear maps only; the second one has no activation."),
        (lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1) @ w_2,
         "The biases b_1 and b_2 are missing."),
        (lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1) @ w_2 + b_2,
         "b_1 is missing: add it before the ReLU."),
        (lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1 + b_1) @ w_2,
         "b_2 is missing: add it after the second matrix product."),
        (lambda x, w_1, b_1, w_2, b_2: torch.sigmoid(x @ w_1 + b_1) @ w_2 + b_2,
         "The paper's FFN uses ReLU, max(0, .), not a sigmoid."),
    ]
    _grade(feed_forward, "feed_forward", probes, _ref_feed_forward, mutants, names=("out",),
           axes=[("B", "T", "d_model")])


def _copy_mha(ours, theirs):
    theirs.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
    theirs.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
    theirs.out_proj.weight.copy_(ours.w_o.weight)
    theirs.out_proj.bias.copy_(ours.w_o.bias)


def _copy_layer(ours, theirs):
    """course_utils EncoderLayer/DecoderLayer -> nn.TransformerEncoderLayer/DecoderLayer."""
    with torch.no_grad():
        _copy_mha(ours.self_attn, theirs.self_attn)
        if hasattr(ours, "cross_attn"):
            _copy_mha(ours.cross_attn, theirs.multihead_attn)
            theirs.norm3.load_state_dict(ours.norm3.state_dict())
        theirs.linear1.load_state_dict(ours.ffn.w_1.state_dict())
        theirs.linear2.load_state_dict(ours.ffn.w_2.state_dict())
        theirs.norm1.load_state_dict(ours.norm1.state_dict())
        theirs.norm2.load_state_dict(ours.norm2.state_dict())


def _randomise(module, g):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def _layer_probe(kind):
    g = _gen(82 if kind == "decoder" else 83)
    d_model, H, d_ff = 8, 2, 16
    with torch.random.fork_rng(devices=[]):  # construction draws from the global RNG
        layer = (DecoderLayer if kind == "decoder" else EncoderLayer)(d_model, H, d_ff).eval()
    _randomise(layer, g)
    x = torch.randn(2, 4, d_model, generator=g)
    memory = torch.randn(2, 5, d_model, generator=g)
    tgt = torch.tensor([[5, 6, 7, 8], [5, 6, 0, 0]])
    src = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0]])
    return layer, x, memory, tgt, src


@exercise("08.decoder_layer", "A post-LN decoder layer from its parts")
def check_decoder_layer(decoder_layer):
    layer, x, memory, _, src = _layer_probe("decoder")
    T = x.size(1)
    # the probe's masks: causal over the target, padding over the source
    tgt_mask = torch.ones(T, T, dtype=torch.bool).tril()
    memory_mask = (src != 0)[:, None, None, :]

    def reference(layer, x, memory, tgt_mask, memory_mask):
        with torch.random.fork_rng(devices=[]):
            ref = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=False).eval()
        _copy_layer(layer, ref)
        return ref(x, memory, tgt_mask=~tgt_mask, memory_key_padding_mask=~memory_mask[:, 0, 0, :])

    L = layer

    def v(order="post", self_mask=True, cross_kv="memory", cross_mask=True, res=(True, True, True)):
        def fn(layer, x, memory, tgt_mask, memory_mask):
            tm = tgt_mask if self_mask else None
            mm = memory_mask if cross_mask else None
            if cross_kv != "memory":
                mm = tgt_mask if cross_kv == "self_masked" else None
            subs = [lambda h: L.self_attn(h, h, tm),
                    lambda h: L.cross_attn(h, memory if cross_kv == "memory" else h, mm),
                    lambda h: L.ffn(h)]
            norms = [L.norm1, L.norm2, L.norm3]
            for sub, norm, r in zip(subs, norms, res):
                if order == "post":
                    x = norm(x + sub(x)) if r else norm(sub(x))
                elif order == "pre":
                    x = x + sub(norm(x))
                else:  # norm inside the residual, after the sublayer
                    x = x + norm(sub(x))
            return x
        return fn

    mutants = [
        (v(order="pre"),
         "That is pre-LN, x + Sublayer(LayerNorm(x)). The paper's layer (and this exercise) is "
         "post-LN: x = LayerNorm(x + Sublayer(x)) for each of the three sublayers."),
        (v(order="inside"),
         "You normalised the sublayer's output before adding the residual, x + LayerNorm(Sublayer(x)). "
         "Post-LN adds first, then normalises: LayerNorm(x + Sublayer(x))."),
        (v(self_mask=False),
         "The masked self-attention got no mask: pass tgt_mask so position i cannot see later positions."),
        (v(cross_mask=False),
         "The cross-attention ignores memory_mask: padded source positions still get weight."),
        (v(cross_kv="self"),
         "The second sublayer attends over the decoder's own states. Cross-attention takes its keys "
         "and values from the encoder's memory: layer.cross_attn(x, memory, memory_mask)."),
        (v(cross_kv="self_masked"),
         "The second sublayer attends over the decoder's own states. Cross-attention takes its keys "
         "and values from the encoder's memory: layer.cross_attn(x, memory, memory_mask)."),
        (v(res=(False, True, True)),
         "The residual connection around the self-attention is missing: LayerNorm(x + SelfAttn(x))."),
        (v(res=(True, False, True)),
         "The residual connection around the cross-attention is missing: LayerNorm(x + CrossAttn(x, memory))."),
        (v(res=(True, True, False)),
         "The residual connection around the feed-forward network is missing: LayerNorm(x + FFN(x))."),
    ]
    probes = [("DecoderLayer(d_model=8, n_heads=2, d_ff=16), x (2, 4, 8), memory (2, 5, 8), "
               "causal tgt_mask, padded memory_mask", (layer, x, memory, tgt_mask, memory_mask))]
    with torch.no_grad():
        _grade(decoder_layer, "decoder_layer", probes, reference, mutants, names=("out",),
               axes=[("B", "T", "d_model")])


@exercise("08.fix_encoder_layer", "Find the bug: a post-LN encoder layer")
def check_fix_encoder_layer(encoder_layer):
    layer, x, _, _, src = _layer_probe("encoder")
    x = torch.randn(2, 5, 8, generator=_gen(84))
    mask = (src != 0)[:, None, None, :]

    def reference(layer, x, mask):
        with torch.random.fork_rng(devices=[]):
            ref = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=False).eval()
        _copy_layer(layer, ref)
        return ref(x, src_key_padding_mask=~mask[:, 0, 0, :])

    L = layer
    mutants = [
        (lambda layer, x, mask: L.norm2(x + L.ffn(L.norm1(x + L.self_attn(x, x, mask)))),
         "Still the original bug: the second residual adds the layer's *input* x. Each residual "
         "adds the input of its own sublayer: h = norm1(x + attn(x)); out = norm2(h + ffn(h))."),
        (lambda layer, x, mask: L.norm2(L.ffn(L.norm1(x + L.self_attn(x, x, mask)))),
         "The residual around the feed-forward network is gone: out = norm2(h + ffn(h))."),
        (lambda layer, x, mask: L.norm2(L.norm1(x + L.self_attn(x, x, mask)) + L.ffn(x)),
         "The FFN must read the output of the attention sublayer (h), not the layer's input x."),
        (lambda layer, x, mask: L.norm2(x + L.ffn(x + L.self_attn(x, x, mask))),
         "norm1 is no longer applied: h = norm1(x + attn(x)), then out = norm2(h + ffn(h))."),
        (lambda layer, x, mask: (lambda h: h + L.ffn(L.norm2(h)))(x + L.self_attn(L.norm1(x), L.norm1(x), mask)),
         "That is a pre-LN layer; keep it post-LN (the paper's order): norm(x + sublayer(x))."),
    ]
    probes = [("EncoderLayer(d_model=8, n_heads=2, d_ff=16), x (2, 5, 8), padding mask (2, 1, 1, 5)",
               (layer, x, mask))]
    with torch.no_grad():
        _grade(encoder_layer, "encoder_layer", probes, reference, mutants, names=("out",),
               axes=[("B", "S", "d_model")])


# ======================================================================== lesson 09
def _ref_warmup_lr(step, d_model, warmup):
    if step == 0:
        return 0.0
    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


@exercise("09.warmup_lr", "The paper's warm-up learning-rate schedule")
def check_warmup_lr(warmup_lr):
    settings = [(512, 4000, (1, 10, 1000, 3999, 4000, 4001, 20000, 100000)), (64, 300, (1, 150, 300, 5000))]
    probes = [(f"step={s}, d_model={d}, warmup={w}", (s, d, w)) for d, w, steps in settings for s in steps]

    def safe(f):
        return lambda s, d, w: 0.0 if s == 0 else f(s, d, w)

    mutants = [
        (safe(lambda s, d, w: d ** -0.5 * max(s ** -0.5, s * w ** -1.5)),
         "max instead of min: the schedule is the *smaller* of the rising line (step * warmup^-1.5) and "
         "the decaying curve (step^-0.5)."),
        (safe(lambda s, d, w: min(s ** -0.5, s * w ** -1.5)),
         "The factor d_model^-0.5 is missing: multiply the whole min(...) by d_model ** -0.5."),
        (safe(lambda s, d, w: d ** -0.5 * min(s ** -0.5, s * w ** -0.5)),
         "The warm-up exponent is -1.5, not -0.5: step * warmup ** -1.5, so that both parts meet at "
         "step = warmup."),
        (safe(lambda s, d, w: d ** -0.5 * min(s ** -0.5, s * w ** 1.5)),
         "The warm-up exponent is negative: step * warmup ** -1.5."),
        (safe(lambda s, d, w: d ** 0.5 * min(s ** -0.5, s * w ** -1.5)),
         "d_model's exponent is -0.5 (divide by sqrt(d_model)), not +0.5."),
        (safe(lambda s, d, w: d ** -0.5 * min((s + 1) ** -0.5, (s + 1) * w ** -1.5)),
         "Off by one: use step itself (the first update is step 1), not step + 1."),
    ]
    _grade(warmup_lr, "warmup_lr", probes, _ref_warmup_lr, mutants, names=("lr",), axes=[None])
    try:
        lr0 = call(warmup_lr, 0, 512, 4000, what="`warmup_lr` (on step=0)")
    except Fail as f:
        raise Fail(f.message, hint="At step 0 (before the first update) step ** -0.5 divides by zero; "
                                   "return 0.0 for step 0.") from None
    compare_value("warmup_lr(0, 512, 4000)", lr0, 0.0, abs_tol=1e-12)


@exercise("09.predict_peak_lr", "Predict the peak of the warm-up schedule")
def check_predict_peak_lr(prediction):
    truth = (512 * 4000) ** -0.5
    compare_value("prediction", prediction, truth, rel=0.02, mutants=[
        (4000 ** -0.5, "That is step^-0.5 at the peak, without the factor d_model^-0.5 in front."),
        (512 ** -0.5, "That is d_model^-0.5 alone; multiply by the schedule's value at step = warmup, "
                      "warmup^-0.5."),
        (512 ** -0.5 * 4000 ** -1.5, "warmup^-1.5 is the slope of the warm-up line; at step = warmup the "
                                     "line's value is warmup * warmup^-1.5 = warmup^-0.5."),
    ])


def _ref_ls_loss(logits, target, smoothing, pad_id):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1),
                           ignore_index=pad_id, label_smoothing=smoothing)


def _ls_probes():
    g = _gen(90)
    B, T, V = 3, 5, 7
    logits = torch.randn(B, T, V, generator=g) * 2
    target = torch.randint(3, V, (B, T), generator=g)
    target[1, 3:] = 0
    target[2, 1:] = 0
    target2 = target.clone()
    target2[target2 == 0] = 2  # pad id 2
    target2[0, 0] = 0  # and a real token with id 0
    return [("logits (3, 5, V=7), padded target, smoothing=0.1, pad_id=0", (logits, target, 0.1, 0)),
            ("logits (3, 5, V=7), padded target, smoothing=0.3, pad_id=2", (logits, target2, 0.3, 2))]


@exercise("09.label_smoothed_loss", "Label-smoothed cross-entropy by hand")
def check_label_smoothed_loss(label_smoothed_loss):
    expect_callable(label_smoothed_loss, "label_smoothed_loss")
    def flat(logits, target):
        return logits.reshape(-1, logits.size(-1)), target.reshape(-1)

    def by_hand(smooth_over, reduce="tokens", log=True, ignore_pad=True):
        def fn(logits, target, smoothing, pad_id):
            lg, tg = flat(logits, target)
            V = lg.size(-1)
            logp = lg.log_softmax(-1) if log else lg
            onehot = F.one_hot(tg, V).to(lg.dtype)
            if smooth_over == "all":
                q = (1 - smoothing) * onehot + smoothing / V
            elif smooth_over == "others":
                q = (1 - smoothing) * onehot + smoothing / (V - 1) * (1 - onehot)
            else:
                q = onehot
            nll = -(q * logp).sum(-1)
            keep = (tg != pad_id) if ignore_pad else torch.ones_like(tg, dtype=torch.bool)
            if reduce == "sum":
                return nll[keep].sum()
            if reduce == "sentences":
                per = (nll * keep).view(target.shape).sum(-1) / keep.view(target.shape).sum(-1)
                return per.mean()
            return nll[keep].mean()
        return fn

    mutants = [
        (by_hand("all", ignore_pad=False),
         "Padding is counted: average only over positions where target != pad_id."),
        (by_hand("none"),
         "No smoothing: the target distribution should be (1 - smoothing) on the right token plus "
         "smoothing / V on every token."),
        (by_hand("others"),
         "You spread the smoothing over the V - 1 *other* tokens. Here (as in torch's "
         "label_smoothing) it is spread over all V tokens: q = (1 - smoothing) * one_hot + smoothing / V."),
        (by_hand("all", reduce="sum"),
         "You summed the token losses; take their mean over the non-pad tokens."),
        (by_hand("all", reduce="sentences"),
         "You averaged per sentence, then over sentences. Average over all non-pad *tokens* instead, "
         "so long and short sentences weigh by their length."),
        (by_hand("all", log=False),
         "The logits are used as log-probabilities: take log_softmax(logits) first."),
    ]
    probes = _ls_probes()
    for label, args in probes:
        got = call(label_smoothed_loss, *args, what=f"`label_smoothed_loss` (on {label})")
        if isinstance(got, (float, int)) and not isinstance(got, bool):
            raise Fail(f"`loss` is a Python number ({got:.4g}); return the 0-dim tensor (on {label}).",
                       hint="A training loop needs loss.backward(): don't call .item() or float() on the loss.")
    _grade(label_smoothed_loss, "label_smoothed_loss", probes, _ref_ls_loss, mutants, names=("loss",),
           axes=[()])
    logits = probes[0][1][0].clone().requires_grad_(True)
    got = call(label_smoothed_loss, logits, *probes[0][1][1:], what="`label_smoothed_loss` (with gradients)")
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        raise Fail("The loss is cut off from the graph: loss.requires_grad is False when the logits require grad.",
                   hint="Compute the loss with torch operations on `logits` (no .detach(), .item(), numpy).")


def _ref_teacher_forcing(seqs, bos_id, eos_id, pad_id):
    T = max(len(s) for s in seqs) + 1
    tgt_in = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    tgt_out = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        tgt_in[i, : len(s) + 1] = torch.tensor([bos_id] + list(s))
        tgt_out[i, : len(s) + 1] = torch.tensor(list(s) + [eos_id])
    return tgt_in, tgt_out


@exercise("09.teacher_forcing", "Shift the target for teacher forcing")
def check_teacher_forcing(teacher_forcing):
    probes = [("3 sentences of lengths 4, 2, 3; bos=1, eos=2, pad=0", ([[5, 6, 7, 8], [9, 10], [11, 12, 13]], 1, 2, 0)),
              ("2 sentences of lengths 1, 3; bos=7, eos=8, pad=9", ([[3], [4, 5, 6]], 7, 8, 9))]

    def tf(make_in, make_out, pad=None, extra=0):
        def fn(seqs, bos_id, eos_id, pad_id):
            p = pad_id if pad is None else pad
            rows_in = [make_in(list(s), bos_id, eos_id) for s in seqs]
            rows_out = [make_out(list(s), bos_id, eos_id) for s in seqs]
            T = max(len(r) for r in rows_in + rows_out)
            a = torch.tensor([r + [p] * (T - len(r)) for r in rows_in])
            b = torch.tensor([r + [p] * (T - len(r)) for r in rows_out])
            return a, b
        return fn

    bos_s = lambda s, b, e: [b] + s  # noqa: E731
    s_eos = lambda s, b, e: s + [e]  # noqa: E731
    mutants = [
        (tf(s_eos, bos_s),
         "tgt_in and tgt_out are swapped: the decoder *reads* <bos> + sentence and must *predict* "
         "sentence + <eos>."),
        (tf(lambda s, b, e: [b] + s + [e], lambda s, b, e: [b] + s + [e]),
         "No shift: both tensors hold the same sequence, so the model would learn to copy its input. "
         "tgt_in = <bos> + sentence, tgt_out = sentence + <eos>."),
        (tf(lambda s, b, e: [b] + s + [e], s_eos),
         "tgt_in must not contain <eos>: the decoder never reads <eos>, it only predicts it. "
         "tgt_in = <bos> + sentence (and both tensors have the same length)."),
        (tf(bos_s, lambda s, b, e: [b] + s + [e]),
         "tgt_out must not start with <bos>: position t predicts the token *after* tgt_in[t]. "
         "tgt_out = sentence + <eos>."),
        (tf(bos_s, s_eos, pad=0),
         "Padding with 0 instead of pad_id: use the pad_id argument (here it is not 0)."),
    ]
    _grade(teacher_forcing, "teacher_forcing", probes, _ref_teacher_forcing, mutants,
           names=("tgt_in", "tgt_out"), axes=[("B", "T"), ("B", "T")])


# ======================================================================== lesson 10
class ScriptedTranslator(nn.Module):
    """A stand-in for a trained model, for checking decoders: after <bos> it "translates"
    a source sentence by writing its real tokens in reverse order, then <eos>. It has the
    course Transformer's interface: `encode(src, src_mask=None)`, `decode(tgt, memory,
    src_mask=None, tgt_mask=None, ...)` -> logits (B, T, V), and `forward(src, tgt)`.

    Its prediction at position i depends only on tgt[:, :i + 1] (like a causal decoder).
    A prefix that does not start with <bos> gets nonsense, and so does a row that goes on
    after its <eos>, so decoders that skip <bos> or keep writing past <eos> show it.
    """

    def __init__(self, vocab_size=10, bos_id=1, eos_id=2, pad_id=0):
        super().__init__()
        self.vocab_size, self.bos_id, self.eos_id, self.pad_id = vocab_size, bos_id, eos_id, pad_id
        self.config = type("Config", (), {"pad_id": pad_id, "max_len": 64, "tgt_vocab_size": vocab_size})()

    def encode(self, src, src_mask=None):
        return src.float()[..., None]  # (B, S, 1)

    def _next(self, src_row, prefix):
        content = [t for t in src_row if t != self.pad_id][::-1]
        if not prefix or prefix[0] != self.bos_id:
            return content[-1] if content else self.eos_id
        n = len(prefix) - 1
        if n < len(content):
            return content[n]
        if n == len(content):
            return self.eos_id
        return content[0]

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None, offset=0, cache=None):
        B, T = tgt.shape
        src = memory[..., 0].round().long().tolist()
        rows = tgt.tolist()
        logits = torch.full((B, T, self.vocab_size), -4.0)
        for b in range(B):
            for i in range(T):
                logits[b, i, self._next(src[b], rows[b][: i + 1])] = 4.0
        return logits

    def forward(self, src, tgt, src_mask=None, tgt_mask=None):
        return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)


def _greedy(model, src, max_new_tokens, bos_id, eos_id, pad_id, stop="all", pad_after=True,
            keep_bos=False, position=-1, start=None):
    memory = model.encode(src)
    ys = torch.full((src.size(0), 1), bos_id if start is None else start, dtype=torch.long)
    finished = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_new_tokens):
        nxt = model.decode(ys, memory)[:, position].argmax(-1)
        if pad_after:
            nxt = nxt.masked_fill(finished, pad_id)
        ys = torch.cat([ys, nxt[:, None]], dim=1)
        finished |= nxt == eos_id
        if (stop == "all" and finished.all()) or (stop == "any" and finished.any()):
            break
    return ys if keep_bos else ys[:, 1:]


def _ref_greedy(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    return _greedy(model, src, max_new_tokens, bos_id, eos_id, pad_id)


@exercise("10.greedy_decode", "Batched greedy decoding", time_limit=20.0)
def check_greedy_decode(greedy_decode):
    src1 = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 0, 0, 0], [4, 4, 6, 3, 0]])
    src2 = torch.tensor([[3, 4, 5, 6, 7], [6, 5, 0, 0, 0]])
    m1, m2 = ScriptedTranslator(10, 1, 2, 0), ScriptedTranslator(12, 10, 11, 0)
    probes = [("3 sources of lengths 5, 2, 4; max_new_tokens=10; bos=1, eos=2, pad=0", (m1, src1, 10, 1, 2, 0)),
              ("2 sources of lengths 5, 2; max_new_tokens=4; bos=10, eos=11, pad=0", (m2, src2, 4, 10, 11, 0))]

    def mut(**kw):
        return lambda *a: _greedy(*a, **kw)

    mutants = [
        (mut(stop="never"),
         "Your loop always runs max_new_tokens steps. Stop as soon as every row has produced <eos> "
         "(keep a bool `finished` per row and break when finished.all())."),
        (mut(stop="any"),
         "You stop when the *first* row finishes; the other rows are cut short. Stop when *all* rows "
         "have produced <eos>."),
        (mut(pad_after=False),
         "Rows that have finished keep generating. After a row's <eos>, write pad_id in that row "
         "(e.g. next_token.masked_fill(finished, pad_id))."),
        (mut(pad_after=False, stop="never"),
         "Two things: stop when every row has produced <eos>, and write pad_id after a row's <eos>."),
        (lambda model, src, n, bos, eos, pad: _greedy(model, src, n, bos, eos, pad, start=pad),
         "Your rows do not start from <bos>: put bos_id in the first column; the model learned to "
         "begin a translation after <bos>."),
        (lambda model, src, n, bos, eos, pad: _greedy(model, src, n, bos, eos, pad, start=1),
         "You start from token 1: use the bos_id argument (it is not 1 in every probe)."),
        (mut(keep_bos=True),
         "Your output starts with <bos>. Return only the generated tokens: drop the first column."),
        (mut(position=0),
         "You read the logits of the *first* position. The next token comes from the last position: "
         "logits[:, -1]."),
    ]
    with torch.no_grad():
        _grade(greedy_decode, "greedy_decode", probes, _ref_greedy, mutants, names=("tokens",),
               axes=[("B", "T")])


def _ref_beam_step(log_probs, beam_scores, beam_size):
    V = log_probs.size(-1)
    total = beam_scores[:, None] + log_probs  # (K, V)
    scores, flat = total.flatten().topk(beam_size)
    return scores, flat // V, flat % V


@exercise("10.beam_step", "One step of beam search")
def check_beam_step(beam_step):
    g = _gen(100)
    K, V = 3, 7
    lp = torch.randn(K, V, generator=g).log_softmax(-1)
    scores = torch.tensor([-0.5, -1.0, -2.5])
    lp[1, 4] = -0.01  # a strong continuation of the second beam: two winners come from one beam
    first = torch.randn(1, V, generator=g).log_softmax(-1)
    probes = [("K=3 beams, V=7, beam_size=3", (lp, scores, 3)),
              ("the first step: K=1 beam (score 0), V=7, beam_size=4", (first, torch.zeros(1), 4))]

    def per_beam(log_probs, beam_scores, beam_size):
        total = beam_scores[:, None] + log_probs
        s, tok = total.max(-1)
        order = s.argsort(descending=True)[:beam_size]
        return s[order], order, tok[order]

    def no_scores(log_probs, beam_scores, beam_size):
        return _ref_beam_step(log_probs, torch.zeros_like(beam_scores), beam_size)

    def flat_token(log_probs, beam_scores, beam_size):
        s, b, t = _ref_beam_step(log_probs, beam_scores, beam_size)
        return s, b, b * log_probs.size(-1) + t

    def swapped(log_probs, beam_scores, beam_size):
        s, b, t = _ref_beam_step(log_probs, beam_scores, beam_size)
        return s, t, b

    def ascending(log_probs, beam_scores, beam_size):
        V = log_probs.size(-1)
        total = beam_scores[:, None] + log_probs
        s, flat = total.flatten().topk(beam_size, largest=False)
        return s, flat // V, flat % V

    mutants = [
        (per_beam,
         "You kept the best token of *each* beam. Beam search compares all K x V candidates together: "
         "two of the new beams may extend the same old beam."),
        (no_scores,
         "The beams' running scores are ignored: a candidate's score is beam_scores[k] + log_probs[k, token]."),
        (flat_token,
         "token_idx is the flat index into the K x V candidates. Split it: beam = flat // V, token = flat % V."),
        (swapped,
         "beam_idx and token_idx are swapped: flat // V is the beam, flat % V the token."),
        (ascending,
         "You took the *lowest* scores; keep the highest (topk with largest=True)."),
    ]
    _grade(beam_step, "beam_step", probes, _ref_beam_step, mutants,
           names=("scores", "beam_idx", "token_idx"), axes=[("beam",), ("beam",), ("beam",)])


def _ref_length_normalised(log_prob, length, alpha):
    return log_prob / ((5.0 + length) / 6.0) ** alpha


@exercise("10.length_penalty", "Rank finished hypotheses with a length penalty")
def check_length_penalty(length_normalised_score):
    g = _gen(102)
    log_prob = -torch.rand(6, generator=g) * 12
    length = torch.tensor([1.0, 3.0, 5.0, 8.0, 12.0, 20.0])
    probes = [(f"6 hypotheses of lengths 1..20, alpha={a}", (log_prob, length, a)) for a in (0.6, 1.0, 0.0)]
    mutants = [
        (lambda lp, n, a: lp / n ** a,
         "You divided by length^alpha. The GNMT penalty is ((5 + length) / 6)^alpha (Wu et al. 2016)."),
        (lambda lp, n, a: lp * ((5.0 + n) / 6.0) ** a,
         "Multiplied instead of divided: log P is negative, so multiplying by a penalty > 1 would favour "
         "*short* outputs even more. Divide by the penalty."),
        (lambda lp, n, a: lp / ((5.0 + n) / 6.0),
         "alpha is ignored: raise the penalty to the power alpha (alpha = 0 means no penalty at all)."),
        (lambda lp, n, a: lp / ((5.0 + n) / 6.0) ** (1 - a),
         "The exponent is alpha itself, not 1 - alpha."),
        (lambda lp, n, a: lp / (5.0 + n / 6.0) ** a,
         "Brackets: the penalty is ((5 + length) / 6) ** alpha; here the division by 6 only hits length."),
    ]
    _grade(length_normalised_score, "length_normalised_score", probes, _ref_length_normalised, mutants,
           names=("scores",), axes=[("hypotheses",)])


def _ref_cache_step(q, k_new, v_new, cache):
    k = k_new if cache is None else torch.cat([cache[0], k_new], dim=-2)  # (B, H, T_past + 1, d_k)
    v = v_new if cache is None else torch.cat([cache[1], v_new], dim=-2)
    out, _ = attention(q, k, v)
    return out, (k, v)


@exercise("10.kv_cache_step", "One decoding step with a key/value cache")
def check_kv_cache_step(kv_cache_step):
    g = _gen(101)
    B, H, T, d_k, d_v = 2, 2, 4, 4, 3
    q, k, v = (torch.randn(B, H, T, d, generator=g) for d in (d_k, d_k, d_v))
    step = lambda t: (q[:, :, t:t + 1], k[:, :, t:t + 1], v[:, :, t:t + 1])  # noqa: E731
    probes = [("the first step: q, k_new (2, 2, 1, 4), v_new (2, 2, 1, 3), cache=None", (*step(0), None)),
              ("q, k_new (2, 2, 1, 4), v_new (2, 2, 1, 3), a cache of 3 positions",
               (*step(3), (k[:, :, :3], v[:, :, :3])))]

    def no_cache(q, k_new, v_new, cache):
        _, kv = _ref_cache_step(q, k_new, v_new, cache)
        return attention(q, k_new, v_new)[0], kv

    def prepend(q, k_new, v_new, cache):
        if cache is None:
            return _ref_cache_step(q, k_new, v_new, cache)
        kk, vv = torch.cat([k_new, cache[0]], dim=-2), torch.cat([v_new, cache[1]], dim=-2)
        return attention(q, kk, vv)[0], (kk, vv)

    def unscaled(q, k_new, v_new, cache):
        out, kv = _ref_cache_step(q, k_new, v_new, cache)
        return (q @ kv[0].transpose(-2, -1)).softmax(-1) @ kv[1], kv

    def not_stored(q, k_new, v_new, cache):
        out, _ = _ref_cache_step(q, k_new, v_new, cache)
        return out, (k_new, v_new)

    mutants = [
        (no_cache,
         "The new query attends only to the new key. It must attend to every position so far: "
         "concatenate the cached keys/values with the new ones first, then attend."),
        (prepend,
         "The new key and value go at the *end* of the cache (torch.cat([cache_k, k_new], dim=-2)), "
         "so the cache stays in time order."),
        (unscaled,
         "The scores are not scaled: divide q·k by sqrt(d_k)."),
        (not_stored,
         "The output is right, but the returned cache holds only the new position: return the "
         "concatenated keys and values, so the next step can use them."),
    ]
    _grade(kv_cache_step, "kv_cache_step", probes, _ref_cache_step, mutants,
           names=("out", "cache"), axes=[("B", "H", "T_q", "d_v"), None])
    # The real test: step by step through a sequence equals causal attention over it all.
    cache, outs = None, []
    for t in range(T):
        out, cache = expect_tuple(call(kv_cache_step, *step(t), cache, what=f"`kv_cache_step` (at step {t})"),
                                  2, ("out", "cache"))
        outs.append(out)
    full, _ = attention(q, k, v, torch.ones(T, T, dtype=torch.bool).tril())
    compare("outputs of 4 cached steps, stacked", torch.cat(outs, dim=-2), full,
            axes=("B", "H", "T", "d_v"))
    return "Step by step with the cache equals causal attention over the whole sequence."
