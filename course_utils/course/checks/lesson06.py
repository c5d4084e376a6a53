"""course layer · graders of lesson 06 (masks): causal_mask, padding_mask, decoder_mask, masked_softmax, nn_border.

Shapes: B batch · H heads · T_q/T_k query/key positions · T sequence length.
References: course_utils.transformer.masks and torch. A mask is a bool tensor, True = may attend.
"""

import warnings

import numpy as np
import torch
from torch import nn

from course_utils.course.checks import Fail, call, compare, exercise, expect_callable, probe_generator
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.torch_border import to_torch_key_padding_mask, to_torch_masks

MASK_AXES = ("B", "H", "T_q", "T_k")
HINT_BOOL = "Return a bool mask, True = may attend: build it with a comparison (`!=`, `<=`) or `torch.tril` on a bool tensor."
HINT_CAUSAL = "Entry [i, j] is True exactly when j <= i: `torch.ones(T, T, dtype=torch.bool).tril()`."
HINT_PADDING = "True where `tokens != pad_id`, with two singleton axes: `(tokens != pad_id)[:, None, None, :]`."
HINT_DECODER = "A key is visible when it is a real token *and* not in the future: `padding_mask & causal_mask`."
HINT_MASKED_SOFTMAX = ("Fill the blocked scores with -inf, softmax over the last axis, then zero the rows with no "
                       "allowed key: `scores.masked_fill(~mask, float('-inf')).softmax(-1).nan_to_num(0.0)`.")
HINT_BORDER = "torch.nn reads True as *blocked*: `attn_mask=~attn_mask, key_padding_mask=~key_padding_mask`."
HINT_POLARITY = ("Polarity inverted: True must mean *may attend* (torch.nn's attn_mask uses the opposite, "
                 "True = blocked). Flip it with `~`.")


def expect_bool_mask(name: str, got, want: torch.Tensor, axes=None) -> None:
    """Name what a learner returned instead of a bool mask: torch.nn's float mask, 0/1 numbers,
    an extra leading axis. (Values are compared afterwards by `compare`.)"""
    if isinstance(got, (list, tuple)):
        raise Fail(f"`{name}` is a Python {type(got).__name__}; expected a bool tensor.",
                   hint="Build it with torch (e.g. `torch.ones(T, T, dtype=torch.bool).tril()`), or wrap your rows "
                        "in `torch.tensor(rows, dtype=torch.bool)`.")
    if isinstance(got, np.ndarray):
        raise Fail(f"`{name}` is a NumPy array; expected a bool torch tensor.",
                   hint="Build it in torch (e.g. `torch.ones(T, T, dtype=torch.bool).tril()`), or convert with "
                        "`torch.from_numpy(array)`.")
    if not isinstance(got, torch.Tensor):
        return
    if got.dim() > want.dim() and got.shape[got.dim() - want.dim():] == want.shape and got.numel() == want.numel():
        raise Fail(f"`{name}` has shape {tuple(got.shape)}: extra leading axes of size 1.",
                   hint=f"Return shape {tuple(want.shape)}: drop the extra axes (e.g. `[0]` or `.reshape(...)`).")
    if got.dtype == torch.bool or got.shape != want.shape:
        return
    if got.is_floating_point() and torch.equal(torch.isneginf(got), ~want) and (got[want] == 0).all():
        raise Fail(f"`{name}` is a float mask (0 = attend, -inf = blocked), torch.nn's additive dialect.",
                   hint=HINT_BOOL)
    if torch.equal(got != 0, want):
        raise Fail(f"`{name}` has the right pattern but dtype {got.dtype}.",
                   hint=HINT_BOOL + " A 0/1 number mask breaks `~mask` (for integers `~1` is -2, still non-zero).")
    if torch.equal(got == 0, want):
        raise Fail(f"`{name}` is a {got.dtype} mask with the opposite polarity.", hint=HINT_BOOL + " " + HINT_POLARITY)
    raise Fail(f"`{name}` has dtype {got.dtype}, expected torch.bool.", hint=HINT_BOOL)


def reshaped(want: torch.Tensor, axes: str) -> tuple:
    """The signature of right values laid out in the wrong shape, as a `compare` mistake."""
    return (lambda got: got.shape != want.shape and got.numel() == want.numel() and
            torch.equal(got.reshape(want.shape), want),
            f"Right values, but the axes are not where they belong: return shape {axes}.")


def mask_mistakes(mask: torch.Tensor) -> list:
    """Signatures of the mistakes attention weights show under a bool `mask` (True = may attend),
    as `compare` mistakes: inverted polarity, NaN rows, blocked keys that still get weight."""
    def allowed(got):
        return mask.expand(got.shape)

    def nan_rows(got):
        return torch.isnan(got).any(-1)

    def on(got, where):
        return got[torch.isfinite(got) & where].abs()

    return [
        (lambda got: nan_rows(got).any() and torch.equal(nan_rows(got), allowed(got).all(-1)),
         "NaN rows exactly where every key is allowed: the mask's polarity is inverted (True = may attend, "
         "so fill where the mask is False: `masked_fill(~mask, ...)`)."),
        (lambda got: (on(got, ~allowed(got)) > 1e-6).any() and (on(got, allowed(got)) < 1e-6).all(), HINT_POLARITY),
        (lambda got: (on(got, ~allowed(got)) > 1e-6).any(),
         "Blocked keys still get weight: the mask is ignored or does not block. Fill the blocked scores with -inf "
         "(`scores.masked_fill(~mask, float('-inf'))`) *before* the softmax; a fill of 0 does not block (exp(0) = 1)."),
        (lambda got: nan_rows(got).any() and torch.equal(nan_rows(got), ~allowed(got).any(-1)),
         "NaN in the rows where every key is blocked: softmax of a row of -inf is 0/0. Give such rows all-zero "
         "weights (e.g. `weights.nan_to_num(0.0)`)."),
        (lambda got: abs(float(got.sum()) - 1) < 1e-4 and allowed(got).any(-1).sum() > 1,
         "All the weights together sum to 1: one softmax over every allowed entry at once (`scores[mask]` flattens "
         "them). Each row (query) needs its own softmax over its keys: fill the blocked scores with -inf, then "
         "`softmax(dim=-1)`."),
        (lambda got: ((got.sum(-1) - allowed(got).any(-1).to(got.dtype)).abs() > 1e-3).any(),
         "The rows of the weights do not sum to 1: take the softmax over the keys (the last axis), after masking."),
    ]


@exercise("06.causal_mask", "Build a causal mask")
def _check_causal_mask(fn):
    expect_callable(fn, "causal_mask")
    for T in (4, 7, 1):  # T = 1 last: there several mistakes give the same [[False]]
        got, want = call(fn, T), causal_mask(T)
        expect_bool_mask("mask", got, want)
        if isinstance(got, torch.Tensor) and got.shape == want.shape and T > 1 and got.all():
            raise Fail("`mask` is True everywhere: nothing is blocked.",
                       hint="Keep only the lower triangle, diagonal included: position i may see j <= i.")
        compare("mask", got, want, axes=("T_q", "T_k"), mistakes=[
            (~want, HINT_POLARITY),
            (want.T, "True on and above the diagonal lets position i see the future (j > i): keep the *lower* "
                     "triangle (`torch.tril`)."),
            (want.tril(-1), "The diagonal is False, so no position may attend to itself and row 0 has no key at "
                            "all (its softmax is NaN). Keep the diagonal: `tril()` with no offset."),
            (lambda got: (got.bool() & ~want).any(), "True above the diagonal: position i may see a *later* position "
                                                     "j > i. Only j <= i is allowed (`torch.tril`)."),
            (lambda got: (~got.bool() & want).any(), "False on or below the diagonal: position i cannot see some "
                                                     "earlier position j <= i, which it may (`torch.tril`, diagonal included)."),
        ], hint=HINT_CAUSAL)


def _token_probes():
    g = probe_generator(6)
    a = torch.randint(3, 20, (3, 6), generator=g)
    a[0, 4:] = 0
    a[2, 2:] = 0
    b = torch.randint(1, 9, (2, 5), generator=g)
    b[1, 3:] = 9
    b[0, 1] = 0  # pad id 9 and a real token with id 0: a mask built with `!= 0` is wrong here
    return [(a, 0), (b, 9)]


@exercise("06.padding_mask", "Build a padding mask")
def _check_padding_mask(fn):
    expect_callable(fn, "padding_mask")
    for tokens, pad_id in _token_probes():
        got, want = call(fn, tokens, pad_id), padding_mask(tokens, pad_id)
        B, T = tokens.shape
        expect_bool_mask("mask", got, want)
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else None
        named = {(B, T): "add a head axis and a query axis: `(tokens != pad_id)[:, None, None, :]`, so the mask "
                         "broadcasts over heads and queries",
                 (B, 1, T): "(B, 1, T) lines B up with the *heads* axis of (B, H, T_q, T_k); add one more axis: (B, 1, 1, T)",
                 (B, 1, T, 1): "(B, 1, T, 1) blocks padded *queries* (rows), not padded keys (columns): use (B, 1, 1, T)"}
        if shape in named and shape != want.shape:
            raise Fail(f"`mask` has shape {shape}, expected {tuple(want.shape)}.", hint=named[shape][0].upper() + named[shape][1:] + ".")
        compare("mask", got, want, axes=MASK_AXES, mistakes=[
            (~want, HINT_POLARITY + " Here: True at the real tokens, False at the padding."),
            ((tokens != 0)[:, None, None, :], "You compared with 0 instead of `pad_id`: use the argument (the "
                                              "check also uses pad_id = 9)."),
            reshaped(want, "(B, 1, 1, T) = `(tokens != pad_id)[:, None, None, :]`"),
            (lambda got: got.shape == want.shape and (got & ~want).any(), "Some padding positions are True (visible): "
             "True only where `tokens != pad_id`."),
            (lambda got: got.shape == want.shape and (~got & want).any(), "Some real tokens are False (hidden): "
             "compare with the pad id exactly, `tokens != pad_id` (a real token may have any id, 0 included)."),
        ], hint=HINT_PADDING)


@exercise("06.decoder_mask", "Combine padding and causal masks", uses=("causal_mask", "padding_mask"))
def _check_decoder_mask(fn):
    expect_callable(fn, "decoder_mask")
    for tgt, pad_id in _token_probes():
        B, T = tgt.shape
        pad, causal = padding_mask(tgt, pad_id), causal_mask(T)
        got, want = call(fn, tgt, pad_id, errors=[
            (r"must match the size of tensor", "The causal part must be (T, T) with T = tgt.size(1), the number of "
             "positions (tgt is (B, T); tgt.size(0) is the batch size)."),
        ]), pad & causal
        expect_bool_mask("mask", got, want)
        if isinstance(got, torch.Tensor) and got.dtype == torch.bool and got.shape != want.shape:
            try:
                only_causal = torch.equal(got.expand(want.shape), causal.expand(want.shape))
            except RuntimeError:
                only_causal = False
            if only_causal:
                raise Fail(f"`mask` is only the causal part {tuple(got.shape)}: padded keys are still visible.",
                           hint="AND it with the padding mask: `padding_mask(tgt, pad_id) & causal_mask(T)`.")
            if got.shape == pad.shape and torch.equal(got, pad):
                raise Fail("`mask` is only the padding part (B, 1, 1, T): every position still sees the future.",
                           hint="AND it with the causal mask; broadcasting gives (B, 1, T, T).")
        compare("mask", got, want, axes=MASK_AXES, mistakes=[
            (~want, HINT_POLARITY),
            (pad | causal, "`|` lets a key through when *either* mask allows it; a key must pass both: use `&`."),
            (causal.expand(B, 1, T, T), "Only the causal part: padded keys are still visible. AND it with the padding mask."),
            (pad.expand(B, 1, T, T), "Only the padding part: every position still sees the future. AND it with the causal mask."),
            (pad.transpose(-1, -2) & causal, "You blocked padded *queries* (rows) instead of padded keys (columns): "
                                             "use `(tgt != pad_id)[:, None, None, :]`."),
            (pad & causal.T, "The causal part is transposed (upper triangle): positions see the future, not the past."),
            ((tgt != 0)[:, None, None, :] & causal, "You compared with 0 instead of `pad_id`: use the argument."),
            reshaped(want, "(B, 1, T, T): batch, a head axis of size 1, queries, keys"),
            (lambda got: got.shape == want.shape and (got & ~causal).any() and not (got & ~pad).any(),
             "Some positions see the future (True above the diagonal): AND the padding mask with the causal mask."),
            (lambda got: got.shape == want.shape and (got & ~pad).any() and not (got & ~causal).any(),
             "Padded keys are visible: AND the causal mask with the padding mask `(tgt != pad_id)[:, None, None, :]`."),
            (lambda got: got.shape == want.shape and (got & ~want).any(),
             "Padded keys and future positions are visible: a key is allowed only if it is a real token *and* not "
             "in the future (`padding & causal`)."),
            (lambda got: got.shape == want.shape and (~got & want).any(),
             "Some keys that are real and not in the future are blocked: the mask is `padding & causal`, True = may attend."),
        ], hint=HINT_DECODER)


def _softmax_probes():
    g = probe_generator(60)
    scores = torch.randn(2, 2, 4, 5, generator=g) * 2
    pad = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, None, :]
    rows = torch.ones(2, 1, 4, 5, dtype=torch.bool)
    rows[1, 0, 2] = False  # one row with no allowed key at all
    return [(scores, pad), (scores, pad & rows), (scores[0, 0, :3], causal_mask(5)[:3])]


@exercise("06.masked_softmax", "A masked softmax without the NaN trap")
def _check_masked_softmax(fn):
    expect_callable(fn, "masked_softmax")
    for scores, mask in _softmax_probes():
        got = call(fn, scores, mask)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        want = weights.nan_to_num(0.0)
        compare("weights", got, want, mistakes=[
            (scores.masked_fill(~mask, -1e9).softmax(-1),
             "Right for ordinary rows, but in a row with no allowed key every score is -1e9, so the weight spreads "
             "evenly over the *blocked* keys. Set such rows to zero (e.g. multiply by the mask afterwards)."),
            (scores.softmax(-1) * mask, "You masked *after* the softmax: the remaining weights no longer sum to 1. "
                                        "Fill the blocked scores with -inf, then take the softmax."),
            (scores.masked_fill(~mask, float("-inf")).softmax(-2).nan_to_num(0.0),
             "Softmax over the wrong axis: normalise over the keys (the last axis, dim=-1)."),
        ] + mask_mistakes(mask), hint=HINT_MASKED_SOFTMAX)


def _border_probe():
    g = probe_generator(61)
    with torch.random.fork_rng(devices=[]):  # construction draws from the global RNG
        mha = nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    x = torch.randn(2, 5, 8, generator=g)
    tgt = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0]])
    return mha.eval(), x, tgt, 0


@exercise("06.nn_border", "Find the bug: masks at the torch.nn border")
def _check_nn_border(fn):
    expect_callable(fn, "causal_self_attention")
    mha, x, tgt, pad_id = _border_probe()
    causal, keep = causal_mask(x.size(1)), padding_mask(tgt, pad_id)[:, 0, 0, :]  # course dialect: True = may attend

    def run(attn_mask, key_padding_mask):
        with warnings.catch_warnings():  # torch warns about mixed mask kinds in the wrong variants
            warnings.simplefilter("ignore")
            return mha(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False)[0]

    with torch.no_grad():
        want = run(to_torch_masks(causal)[0], to_torch_key_padding_mask(keep))
        errors = [("attn_mask|key_padding_mask|3D|2D", "nn.MultiheadAttention takes the two masks apart: the causal part "
                   "as `attn_mask` (T, T) and the padding as `key_padding_mask` (B, T), both True = *blocked*.")]
        seen = []  # the masks each call of mha received

        def watched(*args, **kwargs):
            seen.append((kwargs.get("attn_mask"), kwargs.get("key_padding_mask")))
            return type(mha).forward(mha, *args, **kwargs)
        mha.forward = watched  # an instance attribute: nn.Module.__call__ finds it first
        try:
            got = call(fn, mha, x, tgt, pad_id, errors=errors)
        finally:
            del mha.forward
        if isinstance(got, torch.Tensor) and got.shape == (x.size(0), x.size(1), x.size(1)) != want.shape:
            raise Fail(f"`out` has shape {tuple(got.shape)}: these are the attention weights.",
                       hint="nn.MultiheadAttention returns (output, weights): the output is the first, `mha(...)[0]`.")
        if isinstance(got, tuple) and got and isinstance(got[0], torch.Tensor) and got[0].shape == want.shape:
            raise Fail("`out` is a tuple: nn.MultiheadAttention returns (output, weights).",
                       hint="Keep only the output: `out, _ = mha(...)` or `mha(...)[0]`.")
        compare("out", got, want, axes=("B", "T", "d_model"), mistakes=[
            (run(causal, keep), "Both masks still speak the course's dialect (True = may attend); nn.MultiheadAttention "
                                "reads True as *blocked*. Invert both at the border with `~`."),
            (run(causal, ~keep), "key_padding_mask is right now, but attn_mask is still True = may attend: invert it "
                                 "with `~` for nn.MultiheadAttention."),
            (run(~causal, keep), "attn_mask is right now, but key_padding_mask still marks the *real* tokens: for "
                                 "torch.nn it must be True at the padding."),
            (run(causal.float(), ~keep), "A float attn_mask is *added* to the scores, it blocks nothing: pass a bool "
                                         "mask with True = blocked (`~causal_mask(T)`)."),
            (run(~causal, None), "The causal mask is right, but the padded keys are not hidden: pass "
                                 "`key_padding_mask=~key_padding_mask` (True at the padding)."),
            (run(None, ~keep), "The padding is hidden, but every position sees the future: pass the inverted "
                               "causal mask as attn_mask."),
        ] + [(lambda got: True, hint) for hint in _border_masks(seen, causal, keep)[:1]] + [
            (lambda got: torch.isnan(got).any(), "NaN rows: some query has every key blocked. For torch.nn, True = "
             "*blocked*: attn_mask must be True only above the diagonal (`~causal_mask(T)`) and key_padding_mask True "
             "only at the padding."),
        ], hint=HINT_BORDER)


def _border_masks(seen, causal, keep) -> list[str]:
    """What is wrong with the masks the answer passed to nn.MultiheadAttention (torch.nn: True = blocked)."""
    if not seen:
        return []
    attn, kpm = seen[-1]
    wrong = []
    if attn is None:
        wrong.append("No attn_mask: every position sees the future. Pass `attn_mask=~causal_mask(T)` (True = blocked).")
    elif attn.dtype == torch.bool and torch.equal(attn, causal):
        wrong.append("attn_mask is still in the course's dialect (True = may attend); torch.nn reads True as *blocked*: `~`.")
    elif attn.is_floating_point() and not torch.equal(torch.isneginf(attn), ~causal):
        wrong.append("A float attn_mask is *added* to the scores: 0/1 values block nothing. Pass a bool mask, True = "
                     "blocked (`~causal_mask(T)`).")
    elif attn.dtype == torch.bool and attn.shape == causal.shape and not torch.equal(attn, ~causal):
        diag = torch.eye(causal.size(0), dtype=torch.bool)
        if (attn & diag).any() and torch.equal(attn & ~diag, ~causal):
            wrong.append("attn_mask also blocks the diagonal: each position must see itself. For torch.nn it is True "
                         "strictly above the diagonal: `torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)`, "
                         "i.e. `~causal_mask(T)`.")
        elif torch.equal(attn & ~diag, (~causal).T):
            wrong.append("attn_mask blocks the *past* instead of the future: for torch.nn it is True above the "
                         "diagonal (key j > query i): `~causal_mask(T)`.")
        else:
            wrong.append("attn_mask is not the causal pattern: for torch.nn it is True exactly above the diagonal "
                         "(the future): `~causal_mask(T)`.")
    if kpm is None:
        wrong.append("No key_padding_mask: the padded keys are not hidden. Pass `key_padding_mask=(tgt == pad_id)`.")
    elif kpm.dtype == torch.bool and torch.equal(kpm, keep):
        wrong.append("key_padding_mask still marks the *real* tokens; for torch.nn it must be True at the padding.")
    elif kpm.dtype == torch.bool and kpm.shape == keep.shape and not torch.equal(kpm, ~keep):
        wrong.append("key_padding_mask is not True exactly at the padding: build it from the tokens, "
                     "`key_padding_mask=(tgt == pad_id)` (B, T).")
    elif kpm.is_floating_point() and not torch.equal(torch.isneginf(kpm), ~keep):
        wrong.append("A float key_padding_mask is *added* to the scores: 0/1 values hide nothing. Pass a bool mask, "
                     "True at the padding (`tgt == pad_id`).")
    return [" ".join(wrong)] if wrong else []
