"""course layer · graders of lesson 09 (training): teacher_forcing, label_smoothed_loss, warmup_lr, predict_peak_lr.

Shapes: B sentences · T = 1 + longest sentence · V target vocabulary.
References: course_utils.corpus.data (pad_sequences, collate), course_utils.run.train
(label_smoothed_loss, warmup_lr), and the shipped reference model on a padded batch of real sentences.
"""

import copy
import math

import torch

from course_utils.base.i18n import msg
from course_utils.corpus.data import pad_sequences
from course_utils.course.checks import (
    Fail,
    call,
    compare,
    compare_prediction,
    exercise,
    expect_callable,
    expect_tuple,
    probe_generator,
)
from course_utils.course.checks.reference_probes import real_batch, real_pairs, reference_model, vocabularies
from course_utils.run.train import label_smoothed_loss, warmup_lr

HINT_TEACHER_FORCING = msg("tgt_in rows are [bos_id] + seq, tgt_out rows seq + [eos_id], both padded at the end with "
                           "pad_id to T = 1 + the longest sentence.")
HINT_LOSS = msg("Per position: -(1 - smoothing) * logp[target] - smoothing * logp.mean(-1) with logp = "
                "log_softmax(logits, -1); then the mean over the positions where target != pad_id.")
HINT_WARMUP = msg("d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5).")
HINT_STEP_ZERO = msg("At step 0 the rate must be 0.0: the warm-up line step * warmup^-1.5 is 0 there. Clamping the "
                     "step (e.g. `max(step, 1)`) returns the rate of step 1 instead; return 0.0 when step == 0.")


# ----------------------------------------------------------------------------- teacher forcing

def _teacher_probes():
    batch, pairs = real_batch(), real_pairs()
    _, tgt_vocab = vocabularies()
    real = [tgt_vocab.encode(p.tgt) for p in pairs]
    return [([[5, 6, 7, 8], [9, 10], [11, 12, 13]], 1, 2, 0, None),
            ([[3], [4, 5, 6]], 7, 8, 9, None),
            (real, tgt_vocab.bos_id, tgt_vocab.eos_id, tgt_vocab.pad_id, (batch.tgt_in, batch.tgt_out))]


def _shifted_wrong(got_in, got_out, want_in, want_out, bos, eos, pad):
    """Two tensors of the right shape: name a wrong shift, a swap, misplaced padding or <eos>."""
    if (got_in[:, 0] == pad).any() and (got_in == bos).any(1).all():
        raise Fail(msg("Some rows of `tgt_in` start with padding."),
                   hint=msg("Pad at the end (right): `[bos_id] + seq + [pad_id] * (T - 1 - len(seq))`; every row "
                            "starts with <bos>."))
    if torch.equal(got_in, want_out) and torch.equal(got_out, want_in):
        raise Fail(msg("`tgt_in` and `tgt_out` are swapped."),
                   hint=msg("The decoder *reads* <bos> + sentence (tgt_in) and must *predict* sentence + <eos> "
                            "(tgt_out)."))
    if (got_in[:, 0] == eos).all() and bos != eos:
        raise Fail(msg("`tgt_in` starts with <eos>."),
                   hint=msg("bos_id and eos_id are swapped: tgt_in starts with <bos> (bos_id), tgt_out ends each "
                            "sentence with <eos> (eos_id)."))
    if torch.equal(got_in, got_out):
        raise Fail(msg("`tgt_in` equals `tgt_out`: no shift."),
                   hint=msg("Shift by one: tgt_in = <bos> + sentence, tgt_out = sentence + <eos>; otherwise the model "
                            "learns to copy its input."))
    if (got_out[:, 0] == bos).all():
        raise Fail(msg("`tgt_out` starts with <bos>."),
                   hint=msg("Position t predicts the token *after* tgt_in[t]: tgt_out = sentence + <eos>, without "
                            "<bos>."))
    if any((((g == eos) & (w == pad)).sum(1) > 1).any() for g, w in ((got_in, want_in), (got_out, want_out))):
        raise Fail(msg("Your rows repeat <eos> where the padding belongs."),
                   hint=msg("One <eos> per sentence; fill the rest of the row with `pad_id`, which the loss ignores."))
    if (got_in == eos).any():
        raise Fail(msg("`tgt_in` contains <eos> (in the shorter rows)."),
                   hint=msg("The decoder never reads <eos>, it only predicts it. Slicing `[bos] + seq + [eos]` padded "
                            "to a common length with `[:, :-1]` removes the last column, which is <eos> only in the "
                            "longest row. Pad `[bos_id] + seq` and `seq + [eos_id]` separately."))
    if pad != 0 and ((got_in == 0) & (want_in == pad)).any():
        raise Fail(msg("The rows are padded with 0 instead of `pad_id`."),
                   hint=msg("Use the pad_id argument (the check also uses pad_id = 9)."))
    if not (got_out == eos).any(1).all():
        raise Fail(msg("Some rows of `tgt_out` have no <eos>."),
                   hint=msg("tgt_out = sentence + <eos>: the model must learn to end the sentence."))


def _one_tensor_wrong(name, g, w):
    """Name a transposed tensor, a column too few or too many, a dtype other than long."""
    if not isinstance(g, torch.Tensor):
        return
    if g.shape == w.T.shape and g.shape != w.shape:
        raise Fail(msg("`{name}` has shape {shape}, expected {want} (B, T).", name=name, shape=tuple(g.shape),
                       want=tuple(w.shape)),
                   hint=msg("One row per sentence: (B, T). You built it as (T, B); drop the transpose, or build "
                            "rows."))
    if g.dim() == 2 and g.size(1) == w.size(1) - 1:
        raise Fail(msg("`{name}` has {cols} columns, one fewer than 1 + the longest sentence ({want}).", name=name,
                       cols=g.size(1), want=w.size(1)),
                   hint=msg("Both tensors have T = 1 + the longest sentence: slicing `[:, 1:]` or `[:, :-1]` of a "
                            "tensor without an extra column drops one. Build `[bos_id] + seq` and `seq + [eos_id]`."))
    if g.dim() == 2 and g.size(1) == w.size(1) + 1:
        raise Fail(msg("`{name}` has {cols} columns, one more than 1 + the longest sentence ({want}).", name=name,
                       cols=g.size(1), want=w.size(1)),
                   hint=msg("tgt_in = <bos> + sentence and tgt_out = sentence + <eos>: neither holds both."))
    if g.dtype != torch.long and g.shape == w.shape:
        raise Fail(msg("`{name}` has dtype {dtype}; token ids are torch.long.", name=name, dtype=g.dtype),
                   hint=msg("`torch.tensor(rows, dtype=torch.long)` or `torch.full(..., dtype=torch.long)`."))


@exercise("09.teacher_forcing", "Shift the target for teacher forcing")
def _check_teacher_forcing(fn):
    expect_callable(fn, "teacher_forcing")
    for seqs, bos, eos, pad, real in _teacher_probes():
        untouched = copy.deepcopy(seqs)  # the reference never sees what the answer may do to `seqs`
        want_in = pad_sequences([[bos] + s for s in untouched], pad)  # (B, T)
        want_out = pad_sequences([s + [eos] for s in untouched], pad)  # (B, T)
        if real is not None:  # the course's own batching (collate) agrees
            want_in, want_out = real
        got_in, got_out = expect_tuple(call(fn, seqs, bos, eos, pad), 2, ("tgt_in", "tgt_out"))
        if all(isinstance(t, (list, tuple)) for t in (got_in, got_out)):
            raise Fail(msg("`tgt_in` and `tgt_out` are lists; expected torch.long tensors."),
                       hint=msg("Turn the padded rows into a tensor: `torch.tensor(rows, dtype=torch.long)`."))
        if all(isinstance(t, torch.Tensor) and t.shape == want_in.shape for t in (got_in, got_out)):
            _shifted_wrong(got_in, got_out, want_in, want_out, bos, eos, pad)
        pairs = (("tgt_in", got_in, want_in), ("tgt_out", got_out, want_out))
        for name, g, w in pairs:
            _one_tensor_wrong(name, g, w)
        for name, g, w in pairs:
            compare(name, g, w, axes=("B", "T"), hint=HINT_TEACHER_FORCING)


# ----------------------------------------------------------------------------- the label-smoothed loss

def _call_loss(fn, *args, what=None):
    """Run the answer with torch's cross-entropy forbidden (the statement asks for it by hand)."""
    try:
        return call(fn, *args, what=what, forbid=("cross_entropy",))
    except Fail as fail:
        if "write it yourself" not in fail.message:
            raise
        raise Fail(fail.message, hint=msg("Build the loss from `log_softmax` as the statement's formula says: "
                                          "-sum_v q_v log p_v per position, averaged over the non-pad "
                                          "positions.")) from None


def _per_token(logp, target, smoothing):
    """-sum_v q_v logp_v per position, for log-probabilities `logp` (B, T, V) (maybe normalised wrongly)."""
    return -(1 - smoothing) * logp.gather(-1, target[..., None])[..., 0] - smoothing * logp.mean(-1)


def _loss_probes():
    g = probe_generator(90)
    logits = torch.randn(3, 5, 7, generator=g) * 2
    target = torch.randint(3, 7, (3, 5), generator=g)
    target[1, 3:], target[2, 1:] = 0, 0
    target2 = target.clone()
    target2[target2 == 0] = 2  # pad id 2
    target2[0, 0] = 0  # and a real token with id 0
    model, _, _ = reference_model()
    b = real_batch()
    with torch.no_grad():
        real_logits = model(b.src, b.tgt_in, b.src_mask, b.tgt_mask)  # (B, T, V) of the shipped model
    return [(logits, target, 0.1, 0), (logits, target2, 0.3, 2), (real_logits, b.tgt_out, 0.1, 0)]


def _annotated_kl(logp, target, smoothing, pad_id):
    """KL(q || p) summed over the tokens / their number, with smoothing / (V - 2) off the right token and
    the pad column and the pad rows zeroed (a peer-style implementation learners paste)."""
    V = logp.size(-1)
    q = torch.full_like(logp, smoothing / (V - 2))
    q.scatter_(-1, target[..., None], 1 - smoothing)
    q[..., pad_id] = 0
    q[target == pad_id] = 0
    kl = torch.where(q > 0, q * (q.clamp_min(1e-30).log() - logp), torch.zeros_like(q)).sum()
    return kl / (target != pad_id).sum()


def _loss_mistakes(logits, target, smoothing, pad_id, want):
    """(wrong loss, hint) for the mistakes learners make, most specific first."""
    logp, keep, V = logits.log_softmax(-1), target != pad_id, logits.size(-1)
    nll = -logp.gather(-1, target[..., None])[..., 0]  # (B, T)
    per_token = (1 - smoothing) * nll - smoothing * logp.mean(-1)  # (B, T)
    others = (1 - smoothing) * nll + smoothing / (V - 1) * (-logp.sum(-1) - nll)  # smoothing over V - 1 tokens
    q_right = 1 - smoothing + smoothing / V  # the smoothed target's weight on the right token
    entropy = q_right * math.log(q_right) + (V - 1) * smoothing / V * math.log(smoothing / V)
    raw = (1 - smoothing) * -logits.gather(-1, target[..., None])[..., 0] - smoothing * logits.mean(-1)
    p = logp.exp()
    probs = -(1 - smoothing) * p.gather(-1, target[..., None])[..., 0] - smoothing * p.mean(-1)
    return [
        (per_token.mean(), msg("Padding is counted: average only over the positions where target != pad_id.")),
        (label_smoothed_loss(logits, target, 0.0, pad_id), msg("No smoothing: the target distribution is (1 - "
                                                               "smoothing) on the right token plus smoothing / V on "
                                                               "every token.")),
        (others[keep].mean(), msg("You spread the smoothing over the V - 1 *other* tokens; here (as in torch's "
                                  "label_smoothing) it goes over all V tokens: q = (1 - smoothing) * one_hot + "
                                  "smoothing / V.")),
        (per_token[keep].sum(), msg("You summed the token losses; take their mean over the non-pad tokens.")),
        (((per_token * keep).sum(-1) / keep.sum(-1)).mean(), msg("You averaged per sentence, then over sentences. "
                                                                 "Average over all non-pad *tokens*, so long "
                                                                 "sentences weigh by their length.")),
        (raw[keep].mean(), msg("The logits are used as log-probabilities: take `log_softmax(logits)` first.")),
        (_per_token(logits - logits.mean(-1, keepdim=True), target, smoothing)[keep].mean(),
         msg("Centred logits are not log-probabilities: take `log_softmax(logits)`, which subtracts the log of the "
             "sum of exponentials, not the mean.")),
        (_per_token(logits.log_softmax(1), target, smoothing)[keep].mean(),
         msg("log_softmax over the wrong axis: normalise over the vocabulary, the last axis (`dim=-1`).")),
        ((per_token * keep).sum(-1).mean(), msg("You summed the losses of each sentence, then averaged over "
                                                "sentences; average over all non-pad *tokens* instead.")),
        (probs[keep].mean(), msg("You used the probabilities (softmax); the loss uses their logarithm: "
                                 "`log_softmax(logits)`.")),
        (((1 - smoothing) * nll + smoothing * -logp.sum(-1))[keep].mean(),
         msg("The uniform part sums log p over the V tokens; it is their *mean* (smoothing / V each).")),
        (((1 - smoothing) * nll + smoothing / V * (-logp.sum(-1) - nll))[keep].mean(),
         msg("The right token also gets its share of the smoothing: q = (1 - smoothing) on it *plus* smoothing / V "
             "on every token, itself included.")),
        ((nll - smoothing * logp.mean(-1))[keep].mean(), msg("The right token's part is weighted 1 - smoothing: q = "
                                                             "(1 - smoothing) * one_hot + smoothing / V.")),
        (per_token[target != 0].mean() if pad_id != 0 else want,
         msg("You skipped the positions where target == 0; skip those where target == pad_id (the check also uses "
             "pad_id = 2).")),
        (per_token[keep].sum() / target.numel(), msg("You divided by every position, padding included; divide by the "
                                                     "number of non-pad positions.")),
        (per_token.sum() / keep.sum(), msg("The pad positions' losses are summed in: mask them out (`loss[target != "
                                           "pad_id]`) before summing.")),
        (per_token[keep].mean() + entropy, msg("That is the KL divergence KL(q || p); it differs from the "
                                               "cross-entropy -sum q log p by q's entropy. Use the cross-entropy.")),
        (label_smoothed_loss(logits, target, 1 - smoothing, pad_id),
         msg("smoothing and 1 - smoothing are swapped: the right token gets 1 - smoothing, and smoothing is spread "
             "over all V tokens.")),
        (want / target.size(0), msg("You divided once more by the batch size: the mean over the non-pad tokens is "
                                    "already per token.")),
        (lambda got: got.dim() > 0, msg("Return one number, the mean over the non-pad positions (a 0-dim tensor), "
                                        "not a loss per position.")),
        (_annotated_kl(logp, target, smoothing, pad_id),
         msg("That is a KL-divergence label smoothing that spreads smoothing over V - 2 tokens and zeroes the pad "
             "column. This exercise asks for the cross-entropy -sum_v q_v log p_v with q = (1 - smoothing) * one_hot "
             "+ smoothing / V over *all* V tokens.")),
        (lambda got: float(got) < 0, msg("Your loss is negative: a minus sign is missing. log p <= 0, so the "
                                         "cross-entropy -sum_v q_v log p_v is >= 0.")),
    ]


def _expect_gradient(fn, logits, target, smoothing, pad_id):
    """The loss must stay in the graph: its gradient with respect to the logits is the reference's."""
    logits = logits.clone().requires_grad_(True)
    got = _call_loss(fn, logits, target, smoothing, pad_id, what=msg("`label_smoothed_loss` (with gradients)"))
    grad = None
    if isinstance(got, torch.Tensor) and got.requires_grad and got.numel() == 1:
        grad = torch.autograd.grad(got.sum(), logits, allow_unused=True)[0]
    if grad is None:
        raise Fail(msg("The loss is cut off from the graph: no gradient reaches the logits."),
                   hint=msg("Compute the loss with torch operations on `logits` (no .detach(), .item(), numpy)."))
    want_grad = torch.autograd.grad(label_smoothed_loss(logits, target, smoothing, pad_id), logits)[0]
    compare(msg("the gradient of the loss with respect to the logits"), grad, want_grad)


@exercise("09.label_smoothed_loss", "Label-smoothed cross-entropy by hand")
def _check_label_smoothed_loss(fn):
    expect_callable(fn, "label_smoothed_loss")
    probes = _loss_probes()
    for logits, target, smoothing, pad_id in probes:
        got = _call_loss(fn, logits, target, smoothing, pad_id)
        if isinstance(got, (float, int)) and not isinstance(got, bool):
            raise Fail(msg("`loss` is a Python number ({got:.4g}); return the 0-dim tensor.", got=got),
                       hint=msg("A training loop needs loss.backward(): don't call .item() or float() on the loss."))
        want = label_smoothed_loss(logits, target, smoothing, pad_id)
        compare("loss", got, want, axes=(), mistakes=_loss_mistakes(logits, target, smoothing, pad_id, want),
                hint=HINT_LOSS)
    _expect_gradient(fn, *probes[0])


# ----------------------------------------------------------------------------- the warm-up schedule

def _warmup_shape(fn):
    """Name a schedule without warm-up, or one off by a constant factor, from a few steps."""
    try:  # learner / reference before and after the peak: one constant factor off?
        ratios = [float(call(fn, s, 512, 4000)) / warmup_lr(s, 512, 4000) for s in (10, 20000)]
    except (Fail, TypeError, ValueError):
        ratios = [1.0]
    try:  # no warm-up at all: right after the peak, (d_model * step)^-0.5 before it (there it equals "max")
        first, before, after = (float(call(fn, s, 512, 4000)) for s in (1, 1000, 20000))
    except (Fail, TypeError, ValueError):
        first = before = after = None
    if before is not None and math.isclose(after, warmup_lr(20000, 512, 4000), rel_tol=1e-6) and \
            math.isclose(before, (512 * 1000) ** -0.5, rel_tol=1e-6) and math.isclose(first, 512 ** -0.5, rel_tol=1e-6):
        raise Fail(msg("`warmup_lr(1000, 512, 4000)` = {before:.4g}: right after the peak, too high before it.",
                       before=before),
                   hint=msg("The warm-up is missing: for the first `warmup` steps the rate rises linearly, step * "
                            "warmup^-1.5; the schedule is d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)."))
    named_below = (512 ** 0.5, 512.0)  # no d_model factor, or d_model ** +0.5: the mistakes below name those
    if max(ratios) - min(ratios) < 1e-6 * abs(ratios[0]) and abs(ratios[0] - 1) > 1e-3 and \
            not any(math.isclose(ratios[0], r, rel_tol=1e-4) for r in named_below):
        raise Fail(msg("`warmup_lr` gives {ratio:.4g} times the right value, before and after the peak.",
                       ratio=ratios[0]),
                   hint=msg("A constant factor is off: d_model ** -0.5 in front, and nothing else multiplies the "
                            "min(...)."))


def _warmup_mistakes(s, d, w):
    """(wrong rate at step s, hint) for the mistakes learners make."""
    return [
        (d ** -0.5 * min(s ** 0.5, s * w ** -1.5), msg("The decaying part is step^-0.5 (negative exponent), not "
                                                       "step^0.5.")),
        (d ** -0.5 * max(s ** -0.5, s * w ** -1.5), msg("max instead of min: the schedule is the *smaller* of the "
                                                        "rising line (step * warmup^-1.5) and the decaying curve "
                                                        "(step^-0.5).")),
        (min(s ** -0.5, s * w ** -1.5), msg("The factor d_model^-0.5 is missing: multiply the min(...) by it.")),
        (d ** -0.5 * min(s ** -0.5, s * w ** -0.5), msg("The warm-up exponent is -1.5, not -0.5: step * warmup ** "
                                                        "-1.5, so that both parts meet at step = warmup.")),
        (d ** -0.5 * min(s ** -0.5, s * w ** 1.5), msg("The warm-up exponent is negative: step * warmup ** -1.5.")),
        (d ** 0.5 * min(s ** -0.5, s * w ** -1.5), msg("d_model's exponent is -0.5 (divide by sqrt(d_model)).")),
        (d ** -0.5 * min((s + 1) ** -0.5, (s + 1) * w ** -1.5), msg("Off by one: use step itself, not step + 1.")),
        (d ** -0.5 * min(1 / s, s * w ** -1.5), msg("The decaying part is step^-0.5 = 1 / sqrt(step), not 1 / "
                                                    "step.")),
        (d ** -0.5 * (s * w ** -1.5 if s <= w else w ** -0.5), msg("After the warm-up the rate must decay as "
                                                                   "step^-0.5; yours stays at the peak. Use "
                                                                   "min(step^-0.5, step * warmup^-1.5).")),
        (d ** -0.5 * min(s ** -0.5, s / w), msg("The warm-up part is step * warmup^-1.5, not step / warmup.")),
        ((d * min(s, w)) ** -0.5, msg("Before the peak the rate rises *linearly*, step * warmup^-1.5; use the "
                                      "paper's min(step^-0.5, step * warmup^-1.5).")),
    ]


@exercise("09.warmup_lr", "The paper's warm-up learning-rate schedule")
def _check_warmup_lr(fn):
    expect_callable(fn, "warmup_lr")
    _warmup_shape(fn)
    for d, w, steps in ((512, 4000, (1, 10, 1000, 3999, 4000, 4001, 20000, 100000)), (64, 300, (1, 150, 300, 5000))):
        for s in steps:
            got = call(fn, s, d, w, what=msg("`warmup_lr` (step={s}, d_model={d}, warmup={w})", s=s, d=d, w=w))
            compare_prediction(msg("warmup_lr({s}, {d}, {w})", s=s, d=d, w=w), got, warmup_lr(s, d, w), rel=1e-6,
                               mistakes=_warmup_mistakes(s, d, w), hint=HINT_WARMUP)
    try:
        lr0 = call(fn, 0, 512, 4000, what=msg("`warmup_lr` (step=0)"))
    except Fail as f:
        raise Fail(f.message, hint=msg("At step 0, step ** -0.5 divides by zero: return 0.0 for step 0.")) from None
    compare_prediction(msg("warmup_lr(0, 512, 4000)"), lr0, 0.0, abs_tol=1e-12, hint=HINT_STEP_ZERO)


# ----------------------------------------------------------------------------- the peak, predicted

HINT_PEAK = msg("The peak is at step = warmup, where both parts of the min equal warmup^-0.5; times d_model^-0.5 that "
                "is (d_model * warmup)^-0.5.")
HINT_PEAK_CLOSE = msg("Two significant digits of the exact value: (512 * 4000) ** -0.5 = 0.000699..., so 7.0e-4.")


def _peak_mistakes():
    return [
        (4000 ** -0.5, msg("That is step^-0.5 at the peak, without the factor d_model^-0.5 in front.")),
        (512 ** -0.5, msg("That is d_model^-0.5 alone; multiply by the schedule's value at step = warmup, "
                          "warmup^-0.5.")),
        (512 ** -0.5 * 4000 ** -1.5, msg("warmup^-1.5 is the slope of the warm-up line; at step = warmup the line's "
                                         "value is warmup * warmup^-1.5 = warmup^-0.5.")),
        (1 / (512 * 4000), msg("The peak is (d_model * warmup)^-0.5: take the square root of the product.")),
        (1e-3, msg("0.001 is a usual learning rate for Adam, not what this schedule reaches: its peak is "
                   "d_model^-0.5 * warmup^-0.5 = (d_model * warmup)^-0.5.")),
        (512 ** -0.5 / 4000, msg("At the peak, step * warmup^-1.5 = warmup^-0.5: you divided by warmup instead of "
                                 "its square root.")),
    ]


@exercise("09.predict_peak_lr", "Predict the peak of the warm-up schedule")
def _check_predict_peak_lr(prediction):
    try:  # two significant digits asked: the peak is 6.99e-4, so 7.0e-4 and 0.000699 pass, 6.9e-4 does not
        compare_prediction("prediction", prediction, warmup_lr(4000, 512, 4000), rel=0.008, mistakes=_peak_mistakes())
    except Fail as fail:  # a near miss or an unknown answer: say how to compute it
        close = "close" in fail.message
        raise Fail(fail.message, fail.hint if fail.hint and not close else
                   msg("{close} {how}", close=HINT_PEAK_CLOSE, how=HINT_PEAK) if close else HINT_PEAK) from None
