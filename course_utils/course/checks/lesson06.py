"""course layer · graders of lesson 06 (masks): causal_mask, padding_mask, decoder_mask, masked_softmax, nn_border.

Shapes: B batch · H heads · T_q/T_k query/key positions · T sequence length.
References: course_utils.transformer.masks and torch. A mask is a bool tensor, True = may attend.
"""

import inspect
import warnings

import numpy as np
import torch
from torch import nn

from course_utils.base.i18n import msg
from course_utils.course.checks import Fail, Recorder, call, compare, exercise, expect_callable, probe_generator
from course_utils.course.checks.signatures import mask_mistakes
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.torch_border import to_torch_key_padding_mask, to_torch_masks

MASK_AXES = ("B", "H", "T_q", "T_k")
HINT_BOOL = msg("Return a bool mask, True = may attend: build it with a comparison (`!=`, `<=`) or `torch.tril` "
                "on a bool tensor.")
HINT_INT_MASK = msg("Return a bool mask, True = may attend: build it with a comparison (`!=`, `<=`) or "
                    "`torch.tril` on a bool tensor. A 0/1 number mask breaks `~mask` (for integers `~1` is -2, "
                    "still non-zero).")
HINT_NUMBER_INVERTED = msg("Return a bool mask with True = *may attend* (torch.nn's attn_mask uses the opposite, "
                           "True = blocked): build it with a comparison (`!=`, `<=`) or `torch.tril` on a bool "
                           "tensor.")
HINT_LIST = msg("Build it with torch (e.g. `torch.ones(T, T, dtype=torch.bool).tril()`), or wrap your rows in "
                "`torch.tensor(rows, dtype=torch.bool)`.")
HINT_NUMPY = msg("Build it in torch (e.g. `torch.ones(T, T, dtype=torch.bool).tril()`), or convert with "
                 "`torch.from_numpy(array)`.")
HINT_CAUSAL = msg("Entry [i, j] is True exactly when j <= i: `torch.ones(T, T, dtype=torch.bool).tril()`.")
HINT_PADDING = msg("True where `tokens != pad_id`, with two singleton axes: `(tokens != pad_id)[:, None, None, :]`.")
HINT_DECODER = msg("A key is visible when it is a real token *and* not in the future: `padding_mask & causal_mask`.")
HINT_MASKED_SOFTMAX = msg("Fill the blocked scores with -inf, softmax over the last axis, then zero the rows with no "
                          "allowed key: `scores.masked_fill(~mask, float('-inf')).softmax(-1).nan_to_num(0.0)`.")
HINT_BORDER = msg("torch.nn reads True as *blocked*: `attn_mask=~attn_mask, key_padding_mask=~key_padding_mask`.")
HINT_POLARITY = msg("Polarity inverted: True must mean *may attend* (torch.nn's attn_mask uses the opposite, "
                    "True = blocked). Flip it with `~`.")
HINT_PAD_POLARITY = msg("Polarity inverted: True must mean *may attend*, here True at the real tokens and False at "
                        "the padding. Flip it with `~`.")


# ----------------------------------------------------------------------------- building masks

def expect_bool_mask(name: str, got, want: torch.Tensor) -> None:
    """Name what a learner returned instead of a bool mask: torch.nn's float mask, 0/1 numbers,
    an extra leading axis. (Values are compared afterwards by `compare`.)"""
    if isinstance(got, (list, tuple)):
        raise Fail(msg("`{name}` is a Python {kind}; expected a bool tensor.", name=name, kind=type(got).__name__),
                   hint=HINT_LIST)
    if isinstance(got, np.ndarray):
        raise Fail(msg("`{name}` is a NumPy array; expected a bool torch tensor.", name=name), hint=HINT_NUMPY)
    if not isinstance(got, torch.Tensor):
        return
    if got.dim() > want.dim() and got.shape[got.dim() - want.dim():] == want.shape and got.numel() == want.numel():
        raise Fail(msg("`{name}` has shape {shape}: extra leading axes of size 1.", name=name, shape=tuple(got.shape)),
                   hint=msg("Return shape {shape}: drop the extra axes (e.g. `[0]` or `.reshape(...)`).",
                            shape=tuple(want.shape)))
    if got.dtype == torch.bool or got.shape != want.shape:
        return
    if got.is_floating_point() and torch.equal(torch.isneginf(got), ~want) and (got[want] == 0).all():
        raise Fail(msg("`{name}` is a float mask (0 = attend, -inf = blocked), torch.nn's additive dialect.",
                       name=name), hint=HINT_BOOL)
    if torch.equal(got != 0, want):
        raise Fail(msg("`{name}` has the right pattern but dtype {dtype}.", name=name, dtype=got.dtype),
                   hint=HINT_INT_MASK)
    if torch.equal(got == 0, want):
        raise Fail(msg("`{name}` is a {dtype} mask with the opposite polarity.", name=name, dtype=got.dtype),
                   hint=HINT_NUMBER_INVERTED)
    raise Fail(msg("`{name}` has dtype {dtype}, expected torch.bool.", name=name, dtype=got.dtype), hint=HINT_BOOL)


def reshaped(want: torch.Tensor, axes: str) -> tuple:
    """The signature of right values laid out in the wrong shape, as a `compare` mistake."""
    return (lambda got: got.shape != want.shape and got.numel() == want.numel() and
            torch.equal(got.reshape(want.shape), want),
            msg("Right values, but the axes are not where they belong: return shape {axes}.", axes=axes))


@exercise("06.causal_mask", "Build a causal mask")
def _check_causal_mask(fn):
    expect_callable(fn, "causal_mask")
    for T in (4, 7, 1):  # T = 1 last: there several mistakes give the same [[False]]
        got, want = call(fn, T), causal_mask(T)
        expect_bool_mask("mask", got, want)
        if isinstance(got, torch.Tensor) and got.shape == want.shape and T > 1 and got.all():
            raise Fail(msg("`mask` is True everywhere: nothing is blocked."),
                       hint=msg("Keep only the lower triangle, diagonal included: position i may see j <= i."))
        compare("mask", got, want, axes=("T_q", "T_k"), mistakes=[
            (~want, HINT_POLARITY),
            (want.T, msg("True on and above the diagonal lets position i see the future (j > i): keep the *lower* "
                         "triangle (`torch.tril`).")),
            (want.tril(-1), msg("The diagonal is False, so no position may attend to itself and row 0 has no key at "
                                "all (its softmax is NaN). Keep the diagonal: `tril()` with no offset.")),
            (lambda got: (got.bool() & ~want).any(), msg("True above the diagonal: position i may see a *later* "
                                                         "position j > i. Only j <= i is allowed (`torch.tril`).")),
            (lambda got: (~got.bool() & want).any(), msg("False on or below the diagonal: position i cannot see some "
                                                         "earlier position j <= i, which it may (`torch.tril`, "
                                                         "diagonal included).")),
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


def _padding_shapes(B, T):
    """Hints for the shapes a padding mask is often given, by shape."""
    return {(B, T): msg("Add a head axis and a query axis: `(tokens != pad_id)[:, None, None, :]`, so the mask "
                        "broadcasts over heads and queries."),
            (B, 1, T): msg("(B, 1, T) lines B up with the *heads* axis of (B, H, T_q, T_k); add one more axis: "
                           "(B, 1, 1, T)."),
            (B, 1, T, 1): msg("(B, 1, T, 1) blocks padded *queries* (rows), not padded keys (columns): use "
                              "(B, 1, 1, T).")}


@exercise("06.padding_mask", "Build a padding mask")
def _check_padding_mask(fn):
    expect_callable(fn, "padding_mask")
    for tokens, pad_id in _token_probes():
        got, want = call(fn, tokens, pad_id), padding_mask(tokens, pad_id)
        expect_bool_mask("mask", got, want)
        shape, named = tuple(got.shape) if isinstance(got, torch.Tensor) else None, _padding_shapes(*tokens.shape)
        if shape in named and shape != want.shape:
            raise Fail(msg("`mask` has shape {shape}, expected {want}.", shape=shape, want=tuple(want.shape)),
                       hint=named[shape])
        compare("mask", got, want, axes=MASK_AXES, mistakes=[
            (~want, HINT_PAD_POLARITY),
            ((tokens != 0)[:, None, None, :], msg("You compared with 0 instead of `pad_id`: use the argument (the "
                                                  "check also uses pad_id = 9).")),
            reshaped(want, msg("(B, 1, 1, T) = `(tokens != pad_id)[:, None, None, :]`")),
            (lambda got: got.shape == want.shape and (got & ~want).any(),
             msg("Some padding positions are True (visible): True only where `tokens != pad_id`.")),
            (lambda got: got.shape == want.shape and (~got & want).any(),
             msg("Some real tokens are False (hidden): compare with the pad id exactly, `tokens != pad_id` (a real "
                 "token may have any id, 0 included).")),
        ], hint=HINT_PADDING)


def _only_one_part(got, want, pad, causal):
    """Name a decoder mask of another shape that holds only one of the two masks."""
    if not isinstance(got, torch.Tensor) or got.dtype != torch.bool or got.shape == want.shape:
        return
    try:
        only_causal = torch.equal(got.expand(want.shape), causal.expand(want.shape))
    except RuntimeError:
        only_causal = False
    if only_causal:
        raise Fail(msg("`mask` is only the causal part {shape}: padded keys are still visible.",
                       shape=tuple(got.shape)),
                   hint=msg("AND it with the padding mask: `padding_mask(tgt, pad_id) & causal_mask(T)`."))
    if got.shape == pad.shape and torch.equal(got, pad):
        raise Fail(msg("`mask` is only the padding part (B, 1, 1, T): every position still sees the future."),
                   hint=msg("AND it with the causal mask; broadcasting gives (B, 1, T, T)."))


def _decoder_mistakes(tgt, pad, causal, want):
    B, T = tgt.shape
    return [
        (~want, HINT_POLARITY),
        (pad | causal, msg("`|` lets a key through when *either* mask allows it; a key must pass both: use `&`.")),
        (causal.expand(B, 1, T, T), msg("Only the causal part: padded keys are still visible. AND it with the "
                                        "padding mask.")),
        (pad.expand(B, 1, T, T), msg("Only the padding part: every position still sees the future. AND it with the "
                                     "causal mask.")),
        (pad.transpose(-1, -2) & causal, msg("You blocked padded *queries* (rows) instead of padded keys (columns): "
                                             "use `(tgt != pad_id)[:, None, None, :]`.")),
        (pad & causal.T, msg("The causal part is transposed (upper triangle): positions see the future, not the "
                             "past.")),
        ((tgt != 0)[:, None, None, :] & causal, msg("You compared with 0 instead of `pad_id`: use the argument.")),
        reshaped(want, msg("(B, 1, T, T): batch, a head axis of size 1, queries, keys")),
        (lambda got: got.shape == want.shape and (got & ~causal).any() and not (got & ~pad).any(),
         msg("Some positions see the future (True above the diagonal): AND the padding mask with the causal mask.")),
        (lambda got: got.shape == want.shape and (got & ~pad).any() and not (got & ~causal).any(),
         msg("Padded keys are visible: AND the causal mask with the padding mask "
             "`(tgt != pad_id)[:, None, None, :]`.")),
        (lambda got: got.shape == want.shape and (got & ~want).any(),
         msg("Padded keys and future positions are visible: a key is allowed only if it is a real token *and* not in "
             "the future (`padding & causal`).")),
        (lambda got: got.shape == want.shape and (~got & want).any(),
         msg("Some keys that are real and not in the future are blocked: the mask is `padding & causal`, True = may "
             "attend.")),
    ]


@exercise("06.decoder_mask", "Combine padding and causal masks", uses=("causal_mask", "padding_mask"))
def _check_decoder_mask(fn):
    expect_callable(fn, "decoder_mask")
    for tgt, pad_id in _token_probes():
        pad, causal = padding_mask(tgt, pad_id), causal_mask(tgt.size(1))
        want = pad & causal
        got = call(fn, tgt, pad_id, errors=[
            (r"must match the size of tensor", msg("The causal part must be (T, T) with T = tgt.size(1), the number "
                                                   "of positions (tgt is (B, T); tgt.size(0) is the batch size).")),
        ])
        expect_bool_mask("mask", got, want)
        _only_one_part(got, want, pad, causal)
        compare("mask", got, want, axes=MASK_AXES, mistakes=_decoder_mistakes(tgt, pad, causal, want),
                hint=HINT_DECODER)


# ----------------------------------------------------------------------------- the masked softmax

def _softmax_probes():
    g = probe_generator(60)
    scores = torch.randn(2, 2, 4, 5, generator=g) * 2
    pad = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, None, :]
    rows = torch.ones(2, 1, 4, 5, dtype=torch.bool)
    rows[1, 0, 2] = False  # one row with no allowed key at all
    return [(scores, pad), (scores, pad & rows), (scores[0, 0, :3], causal_mask(5)[:3])]


def _empty_rows_wrong(mask, want):
    """Signature: right wherever a row has an allowed key, not all zeros in the rows that have none.
    The hint says what those rows hold."""
    empty = ~mask.expand(want.shape).any(-1)  # (..., T_q)

    def test(got):
        if got.shape != want.shape or not empty.any():
            return False
        rest_ok = torch.allclose(got[~empty].double(), want[~empty].double(), atol=1e-5, rtol=1e-4)
        rows = got[empty]
        return rest_ok and not torch.isnan(rows).any() and not torch.equal(rows, torch.zeros_like(rows))

    def hint(got):
        rows = got[empty].double()
        if torch.isfinite(rows).all() and torch.allclose(rows, torch.full_like(rows, 1 / rows.size(-1)), atol=1e-5):
            return msg("Right for ordinary rows, but in a row with no allowed key your weights spread evenly "
                       "(1/T_k each) over the *blocked* keys, which is what a -1e9 fill gives, or uniform weights "
                       "in place of the NaN row. Such a row must be all zeros (e.g. `nan_to_num(0.0)` after the "
                       "-inf fill, or multiply by the mask afterwards).")
        return msg("Right for ordinary rows, but a row with no allowed key must be all zeros: every key of it is "
                   "blocked (`weights.nan_to_num(0.0)` after the -inf fill, or `torch.where(mask.any(-1, "
                   "keepdim=True), weights, 0.0)`).")
    return test, hint


@exercise("06.masked_softmax", "A masked softmax without the NaN trap")
def _check_masked_softmax(fn):
    expect_callable(fn, "masked_softmax")
    for scores, mask in _softmax_probes():
        got = call(fn, scores, mask)
        want = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1).nan_to_num(0.0)
        compare("weights", got, want, mistakes=[
            (scores.softmax(-1) * mask, msg("You masked *after* the softmax: the remaining weights no longer sum to "
                                            "1. Fill the blocked scores with -inf, then take the softmax.")),
            (scores.masked_fill(~mask, float("-inf")).softmax(-2).nan_to_num(0.0),
             msg("Softmax over the wrong axis: normalise over the keys (the last axis, dim=-1).")),
            _empty_rows_wrong(mask, want),
        ] + mask_mistakes(mask), hint=HINT_MASKED_SOFTMAX)


# ----------------------------------------------------------------------------- masks at the torch.nn border

_MHA_FORWARD = inspect.signature(nn.MultiheadAttention.forward)


class WatchedMultiheadAttention(Recorder, nn.MultiheadAttention):
    """nn.MultiheadAttention that notes the two masks of each call, as they were passed (`seen`)."""

    RECORDED = ("seen",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def forward(self, *args, **kwargs):
        try:
            given = _MHA_FORWARD.bind(self, *args, **kwargs).arguments
        except TypeError:
            given = {}
        self.seen.append((given.get("attn_mask"), given.get("key_padding_mask")))
        return super().forward(*args, **kwargs)


BORDER_ERRORS = [
    ("only bool and floating types of", msg("Pass the masks as bool tensors, True = *blocked* (`~causal_mask(T)`, "
                                            "`tgt == pad_id`): torch.nn takes no integer masks, and a float mask is "
                                            "*added* to the scores.")),
    ("attn_mask|key_padding_mask|3D|2D", msg("nn.MultiheadAttention takes the two masks apart: the causal part as "
                                             "`attn_mask` (T, T) and the padding as `key_padding_mask` (B, T), both "
                                             "True = *blocked*.")),
]


def _border_probe():
    g = probe_generator(61)
    with torch.random.fork_rng(devices=[]):  # construction draws from the global RNG
        mha = WatchedMultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    x = torch.randn(2, 5, 8, generator=g)
    tgt = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0]])
    return mha.eval(), x, tgt, 0


def _mask_shapes(seen, B, T, n_heads) -> None:
    """Fail naming a mask whose shape nn.MultiheadAttention does not take (its fast path, in eval mode
    without gradients, does not check the key_padding_mask)."""
    if not seen:
        return
    attn, kpm = seen[-1]
    if isinstance(kpm, torch.Tensor) and tuple(kpm.shape) != (B, T):
        hint = msg("key_padding_mask is (B, T): one entry per key of each sentence, True at the padding, "
                   "`tgt == pad_id`; the course's (B, 1, 1, T) mask needs `[:, 0, 0, :]`.")
        if tuple(kpm.shape) == (T, B):
            hint = msg("key_padding_mask is (B, T), batch first: `tgt == pad_id`, without a transpose.")
        raise Fail(msg("`key_padding_mask` has shape {shape}; nn.MultiheadAttention takes (B, T) = {want}.",
                       shape=tuple(kpm.shape), want=(B, T)), hint=hint)
    if isinstance(attn, torch.Tensor) and tuple(attn.shape) not in ((T, T), (B * n_heads, T, T)):
        raise Fail(msg("`attn_mask` has shape {shape}; nn.MultiheadAttention takes (T, T) = {want} (or one per batch "
                       "row and head, (B * H, T, T)).", shape=tuple(attn.shape), want=(T, T)),
                   hint=msg("nn.MultiheadAttention takes the two masks apart: the causal part alone as `attn_mask`, "
                            "`~causal_mask(T)` (T, T), and the padding as `key_padding_mask` (B, T), both True = "
                            "*blocked*."))


def _border_masks(seen, causal, keep) -> list:
    """What is wrong with the masks the answer passed to nn.MultiheadAttention (torch.nn: True = blocked)."""
    if not seen:
        return []
    attn, kpm = seen[-1]
    wrong = []
    if attn is None:
        wrong.append(msg("No attn_mask: every position sees the future. Pass `attn_mask=~causal_mask(T)` "
                         "(True = blocked)."))
    elif attn.dtype == torch.bool and torch.equal(attn, causal):
        wrong.append(msg("attn_mask is still in the course's dialect (True = may attend); torch.nn reads True as "
                         "*blocked*: `~`."))
    elif attn.is_floating_point() and not torch.equal(torch.isneginf(attn), ~causal):
        wrong.append(msg("A float attn_mask is *added* to the scores: 0/1 values block nothing. Pass a bool mask, "
                         "True = blocked (`~causal_mask(T)`)."))
    elif attn.dtype == torch.bool and attn.shape == causal.shape and not torch.equal(attn, ~causal):
        diag = torch.eye(causal.size(0), dtype=torch.bool)
        if (attn & diag).any() and torch.equal(attn & ~diag, ~causal):
            wrong.append(msg("attn_mask also blocks the diagonal: each position must see itself. For torch.nn it is "
                             "True strictly above the diagonal: `torch.triu(torch.ones(T, T, dtype=torch.bool), "
                             "diagonal=1)`, i.e. `~causal_mask(T)`."))
        elif torch.equal(attn & ~diag, (~causal).T):
            wrong.append(msg("attn_mask blocks the *past* instead of the future: for torch.nn it is True above the "
                             "diagonal (key j > query i): `~causal_mask(T)`."))
        else:
            wrong.append(msg("attn_mask is not the causal pattern: for torch.nn it is True exactly above the diagonal "
                             "(the future): `~causal_mask(T)`."))
    if kpm is None:
        wrong.append(msg("No key_padding_mask: the padded keys are not hidden. Pass `key_padding_mask=(tgt == "
                         "pad_id)`."))
    elif kpm.dtype == torch.bool and torch.equal(kpm, keep):
        wrong.append(msg("key_padding_mask still marks the *real* tokens; for torch.nn it must be True at the "
                         "padding."))
    elif kpm.dtype == torch.bool and kpm.shape == keep.shape and not torch.equal(kpm, ~keep):
        wrong.append(msg("key_padding_mask is not True exactly at the padding: build it from the tokens, "
                         "`key_padding_mask=(tgt == pad_id)` (B, T)."))
    elif kpm.is_floating_point() and not torch.equal(torch.isneginf(kpm), ~keep):
        wrong.append(msg("A float key_padding_mask is *added* to the scores: 0/1 values hide nothing. Pass a bool "
                         "mask, True at the padding (`tgt == pad_id`)."))
    if len(wrong) == 2:
        return [msg("{first} {second}", first=wrong[0], second=wrong[1])]
    return wrong


def _expect_output(got, want, x):
    if isinstance(got, torch.Tensor) and got.shape == (x.size(0), x.size(1), x.size(1)) != want.shape:
        raise Fail(msg("`out` has shape {shape}: these are the attention weights.", shape=tuple(got.shape)),
                   hint=msg("nn.MultiheadAttention returns (output, weights): the output is the first, `mha(...)[0]`."))
    if isinstance(got, tuple) and got and isinstance(got[0], torch.Tensor) and got[0].shape == want.shape:
        raise Fail(msg("`out` is a tuple: nn.MultiheadAttention returns (output, weights)."),
                   hint=msg("Keep only the output: `out, _ = mha(...)` or `mha(...)[0]`."))


def _border_mistakes(run, causal, keep, seen):
    """(wrong output, hint): the masks still in the course's dialect, half fixed, float, or missing; then what
    the masks actually passed show."""
    return [
        (run(causal, keep), msg("Both masks still speak the course's dialect (True = may attend); "
                                "nn.MultiheadAttention reads True as *blocked*. Invert both at the border with "
                                "`~`.")),
        (run(causal, ~keep), msg("key_padding_mask is right now, but attn_mask is still True = may attend: invert it "
                                 "with `~` for nn.MultiheadAttention.")),
        (run(~causal, keep), msg("attn_mask is right now, but key_padding_mask still marks the *real* tokens: for "
                                 "torch.nn it must be True at the padding.")),
        (run(causal.float(), ~keep), msg("A float attn_mask is *added* to the scores, it blocks nothing: pass a bool "
                                         "mask with True = blocked (`~causal_mask(T)`).")),
        (run(~causal, None), msg("The causal mask is right, but the padded keys are not hidden: pass "
                                 "`key_padding_mask=~key_padding_mask` (True at the padding).")),
        (run(None, ~keep), msg("The padding is hidden, but every position sees the future: pass the inverted causal "
                               "mask as attn_mask.")),
    ] + [(lambda got: True, hint) for hint in _border_masks(seen, causal, keep)] + [
        (lambda got: torch.isnan(got).any(), msg("NaN rows: some query has every key blocked. For torch.nn, True = "
                                                 "*blocked*: attn_mask must be True only above the diagonal "
                                                 "(`~causal_mask(T)`) and key_padding_mask True only at the "
                                                 "padding.")),
    ]


@exercise("06.nn_border", "Find the bug: masks at the torch.nn border")
def _check_nn_border(fn):
    expect_callable(fn, "causal_self_attention")
    mha, x, tgt, pad_id = _border_probe()
    B, T = tgt.shape
    causal, keep = causal_mask(T), padding_mask(tgt, pad_id)[:, 0, 0, :]  # course dialect: True = may attend

    def run(attn_mask, key_padding_mask):  # the probe's own forward: nothing is recorded
        with warnings.catch_warnings():  # torch warns about mixed mask kinds in the wrong variants
            warnings.simplefilter("ignore")
            return nn.MultiheadAttention.forward(mha, x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                                 need_weights=False)[0]

    with torch.no_grad():
        want = run(to_torch_masks(causal)[0], to_torch_key_padding_mask(keep))
        try:
            got = call(fn, mha, x, tgt, pad_id, errors=BORDER_ERRORS)
        finally:
            _mask_shapes(mha.seen, B, T, mha.num_heads)
        _expect_output(got, want, x)
        compare("out", got, want, axes=("B", "T", "d_model"), mistakes=_border_mistakes(run, causal, keep, mha.seen),
                hint=HINT_BORDER)
