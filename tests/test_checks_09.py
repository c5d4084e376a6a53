"""Checks of lesson 09 (training): right answers in several styles pass; the mistakes learners
make fail with a hint naming them."""

import math

import numpy as np
import torch
import torch.nn.functional as F
from checks_answers import answer_set_tests, fails_with
from torch.nn.utils.rnn import pad_sequence


# ------------------------------------------------------------------ 09.teacher_forcing
def tf_full(seqs, bos_id, eos_id, pad_id):
    T = 1 + max(len(seq) for seq in seqs)
    tgt_in = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    tgt_out = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    for i, seq in enumerate(seqs):
        tgt_in[i, : len(seq) + 1] = torch.tensor([bos_id] + list(seq))
        tgt_out[i, : len(seq) + 1] = torch.tensor(list(seq) + [eos_id])
    return tgt_in, tgt_out


def tf_pad_sequence(seqs, bos_id, eos_id, pad_id):
    tgt_in = pad_sequence([torch.tensor([bos_id] + s) for s in seqs], batch_first=True, padding_value=pad_id)
    tgt_out = pad_sequence([torch.tensor(s + [eos_id]) for s in seqs], batch_first=True, padding_value=pad_id)
    return tgt_in, tgt_out


def tf_lists(seqs, bos_id, eos_id, pad_id):
    T = max(map(len, seqs)) + 1
    rows_in = [[bos_id, *s] + [pad_id] * (T - 1 - len(s)) for s in seqs]
    rows_out = [[*s, eos_id] + [pad_id] * (T - 1 - len(s)) for s in seqs]
    return torch.tensor(rows_in, dtype=torch.long), torch.tensor(rows_out, dtype=torch.long)


def tf_numpy(seqs, bos_id, eos_id, pad_id):
    T = max(len(s) for s in seqs) + 1
    a = np.full((len(seqs), T), pad_id, dtype=np.int64)
    b = a.copy()
    for i, s in enumerate(seqs):
        a[i, 0], a[i, 1:len(s) + 1] = bos_id, s
        b[i, :len(s)], b[i, len(s)] = s, eos_id
    return torch.from_numpy(a), torch.from_numpy(b)


def tf_swapped(seqs, bos_id, eos_id, pad_id):
    a, b = tf_full(seqs, bos_id, eos_id, pad_id)
    return b, a


def tf_no_shift(seqs, bos_id, eos_id, pad_id):
    a, _ = tf_full(seqs, bos_id, eos_id, pad_id)
    return a, a.clone()


def tf_slice_full(seqs, bos_id, eos_id, pad_id):  # [bos] + s + [eos], padded, then [:, :-1] / [:, 1:]
    full = pad_sequence([torch.tensor([bos_id] + s + [eos_id]) for s in seqs], batch_first=True, padding_value=pad_id)
    return full[:, :-1], full[:, 1:]


def tf_eos_padding(seqs, bos_id, eos_id, pad_id):
    T = max(map(len, seqs)) + 1
    return (torch.tensor([[bos_id, *s] + [pad_id] * (T - 1 - len(s)) for s in seqs]),
            torch.tensor([[*s] + [eos_id] * (T - len(s)) for s in seqs]))


def tf_pad_zero(seqs, bos_id, eos_id, pad_id):
    return tf_lists(seqs, bos_id, eos_id, 0)


def tf_both_special(seqs, bos_id, eos_id, pad_id):
    full = [[bos_id] + s + [eos_id] for s in seqs]
    T = max(map(len, full))
    rows = torch.tensor([r + [pad_id] * (T - len(r)) for r in full])
    return rows[:, :-1], rows


def tf_mutates(seqs, bos_id, eos_id, pad_id):
    for s in seqs:
        s.insert(0, bos_id)
    return tf_lists([s[1:] for s in seqs], bos_id, eos_id, pad_id)


def tf_float(seqs, bos_id, eos_id, pad_id):
    a, b = tf_full(seqs, bos_id, eos_id, pad_id)
    return a.float(), b.float()


def tf_bos_in_out(seqs, bos_id, eos_id, pad_id):
    a, _ = tf_full(seqs, bos_id, eos_id, pad_id)
    b = tf_full([[bos_id] + s[:-1] for s in seqs], bos_id, eos_id, pad_id)[1]
    return a, b


TF_RIGHT = [tf_full, tf_pad_sequence, tf_lists, tf_numpy]
TF_WRONG = [(tf_swapped, "swapped"), (tf_no_shift, "no shift"), (tf_slice_full, "contains <eos> (in the shorter rows)"),
            (tf_eos_padding, "repeat <eos> where the padding belongs"),
            (tf_pad_zero, "padded with 0 instead of `pad_id`"),
            (tf_both_special, "one more than 1 + the longest"), (tf_mutates, "changed its input `seqs` in place"),
            (tf_float, "token ids are torch.long"), (tf_bos_in_out, "starts with <bos>")]


# ------------------------------------------------------------------ 09.label_smoothed_loss
def ls_gather(logits, target, smoothing, pad_id):
    logp = logits.log_softmax(dim=-1)
    nll = -logp.gather(-1, target[..., None]).squeeze(-1)
    loss = (1 - smoothing) * nll + smoothing * -logp.mean(dim=-1)
    return loss[target != pad_id].mean()


def ls_one_hot(logits, target, smoothing, pad_id):
    V = logits.size(-1)
    q = (1 - smoothing) * F.one_hot(target, V).float() + smoothing / V
    per_position = -(q * torch.log_softmax(logits, -1)).sum(-1)
    keep = (target != pad_id).float()
    return (per_position * keep).sum() / keep.sum()


def ls_nll_loss(logits, target, smoothing, pad_id):
    logp = F.log_softmax(logits, dim=-1).reshape(-1, logits.size(-1))
    t = target.reshape(-1)
    keep = t != pad_id
    return (1 - smoothing) * F.nll_loss(logp, t, ignore_index=pad_id) + smoothing * -logp.mean(-1)[keep].mean()


def ls_float64_logsumexp(logits, target, smoothing, pad_id):
    x = logits.double()
    logp = x - torch.logsumexp(x, dim=-1, keepdim=True)
    mask = target != pad_id
    picked = torch.where(mask, logp.gather(-1, target.unsqueeze(-1))[..., 0], torch.zeros((), dtype=x.dtype))
    uniform = torch.where(mask, logp.mean(-1), torch.zeros((), dtype=x.dtype))
    return (-((1 - smoothing) * picked + smoothing * uniform).sum() / mask.sum()).float()


def ls_builtin(logits, target, smoothing, pad_id):
    return F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=pad_id, label_smoothing=smoothing)


def ls_module(logits, target, smoothing, pad_id):
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=pad_id, label_smoothing=smoothing)
    return loss_fn(logits.reshape(-1, logits.size(-1)), target.reshape(-1))


def _ls(smooth="all", reduce="tokens", log=True, uniform="mean"):
    def label_smoothed_loss(logits, target, smoothing, pad_id):
        V = logits.size(-1)
        logp = logits.log_softmax(-1) if log else logits
        hot = F.one_hot(target, V).to(logits.dtype)
        q = {"all": (1 - smoothing) * hot + smoothing / V, "none": hot,
             "others": (1 - smoothing) * hot + smoothing / (V - 1) * (1 - hot),
             "others_vs_all": (1 - smoothing) * hot + smoothing / V * (1 - hot)}[smooth]
        nll = -(q * logp).sum(-1)
        if uniform == "sum":
            nll = -(1 - smoothing) * (hot * logp).sum(-1) - smoothing * logp.sum(-1)
        keep = target != pad_id
        if reduce == "all":
            return nll.mean()
        if reduce == "sum":
            return nll[keep].sum()
        if reduce == "sentence_sums":
            return (nll * keep).sum(-1).mean()
        if reduce == "sentences":
            return ((nll * keep).sum(-1) / keep.sum(-1)).mean()
        return nll[keep].mean()
    return label_smoothed_loss


def ls_item(logits, target, smoothing, pad_id):
    return ls_gather(logits, target, smoothing, pad_id).item()


def ls_detached(logits, target, smoothing, pad_id):
    return ls_gather(logits.detach(), target, smoothing, pad_id)


LS_RIGHT = [ls_gather, ls_one_hot, ls_nll_loss, ls_float64_logsumexp]
LS_WRONG = [(ls_builtin, "write it yourself"), (ls_module, "write it yourself"),
            (_ls(reduce="all"), "Padding is counted"), (_ls(smooth="none"), "No smoothing"),
            (_ls(smooth="others"), "V - 1 *other* tokens"), (_ls(reduce="sum"), "summed the token losses"),
            (_ls(reduce="sentences"), "per sentence"), (_ls(log=False), "take `log_softmax(logits)` first"),
            (_ls(uniform="sum"), "their *mean*"), (ls_item, "Python number"), (ls_detached, "cut off from the graph")]


# ------------------------------------------------------------------ 09.warmup_lr
def lr_min(step, d_model, warmup):
    if step == 0:
        return 0.0
    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


def lr_branch(step, d_model, warmup):
    if step == 0:
        return 0.0
    if step < warmup:
        return step * warmup ** -1.5 / math.sqrt(d_model)
    return 1 / math.sqrt(d_model * step)


def lr_numpy(step, d_model, warmup):
    s = np.float64(max(step, 1e-12))
    return float(0.0 if step == 0 else d_model ** -0.5 * np.minimum(s ** -0.5, s * warmup ** -1.5))


def lr_tensor(step, d_model, warmup):
    if step == 0:
        return torch.tensor(0.0)
    s = torch.tensor(float(step), dtype=torch.float64)
    return torch.minimum(s.rsqrt(), s * warmup ** -1.5) / math.sqrt(d_model)


def _lr(f):
    def warmup_lr(step, d_model, warmup):
        return 0.0 if step == 0 else f(step, d_model, warmup)
    return warmup_lr


def lr_no_zero(step, d_model, warmup):
    return d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


LR_RIGHT = [lr_min, lr_branch, lr_numpy, lr_tensor]
LR_WRONG = [(_lr(lambda s, d, w: d ** -0.5 * max(s ** -0.5, s * w ** -1.5)), "max instead of min"),
            (_lr(lambda s, d, w: min(s ** -0.5, s * w ** -1.5)), "d_model^-0.5 is missing"),
            (_lr(lambda s, d, w: d ** -0.5 * min(s ** -0.5, s * w ** -0.5)), "-1.5, not -0.5"),
            (_lr(lambda s, d, w: d ** 0.5 * min(s ** -0.5, s * w ** -1.5)), "d_model's exponent is -0.5"),
            (_lr(lambda s, d, w: d ** -0.5 * min((s + 1) ** -0.5, (s + 1) * w ** -1.5)), "Off by one"),
            (lr_no_zero, "return 0.0 for step 0")]


# ------------------------------------------------------------------ 09.predict_peak_lr
PEAK_RIGHT = [7.0e-4, 0.000699, np.float64(6.99e-4), torch.tensor(7e-4), (512 * 4000) ** -0.5]
PEAK_WRONG = [(4000 ** -0.5, "without the factor d_model^-0.5"), (512 ** -0.5, "d_model^-0.5 alone"),
              (512 ** -0.5 * 4000 ** -1.5, "slope of the warm-up line"), (6.9e-4, "close: compute it exactly"),
              (1 / (512 * 4000), "take the square root"), ("7e-4", "should be a number")]



def tf_left_padded(seqs, bos_id, eos_id, pad_id):
    T = max(map(len, seqs)) + 1
    return (torch.tensor([[pad_id] * (T - 1 - len(s)) + [bos_id] + s for s in seqs]),
            torch.tensor([[pad_id] * (T - 1 - len(s)) + s + [eos_id] for s in seqs]))


def tf_no_eos(seqs, bos_id, eos_id, pad_id):
    T = max(map(len, seqs)) + 1
    return (torch.tensor([[bos_id] + s + [pad_id] * (T - 1 - len(s)) for s in seqs]),
            torch.tensor([s + [pad_id] * (T - len(s)) for s in seqs]))


def tf_python_lists(seqs, bos_id, eos_id, pad_id):
    return tuple(t.tolist() for t in tf_full(seqs, bos_id, eos_id, pad_id))


def tf_time_major(seqs, bos_id, eos_id, pad_id):
    return tuple(t.T for t in tf_full(seqs, bos_id, eos_id, pad_id))


def ls_no_one_minus(logits, target, smoothing, pad_id):
    logp = logits.log_softmax(-1)
    nll = -logp.gather(-1, target[..., None])[..., 0]
    return (nll - smoothing * logp.mean(-1))[target != pad_id].mean()


def ls_kl(logits, target, smoothing, pad_id):
    V = logits.size(-1)
    q = (1 - smoothing) * F.one_hot(target, V) + smoothing / V
    return (q * (q.log() - logits.log_softmax(-1))).sum(-1)[target != pad_id].mean()


def ls_probabilities(logits, target, smoothing, pad_id):
    p = logits.softmax(-1)
    loss = -(1 - smoothing) * p.gather(-1, target[..., None])[..., 0] - smoothing * p.mean(-1)
    return loss[target != pad_id].mean()


def ls_pad_zero(logits, target, smoothing, pad_id):
    return ls_gather(logits, target, smoothing, 0)


def ls_per_position(logits, target, smoothing, pad_id):
    logp = logits.log_softmax(-1)
    loss = (1 - smoothing) * -logp.gather(-1, target[..., None])[..., 0] - smoothing * logp.mean(-1)
    return loss * (target != pad_id)


def tf_drop_clean(seqs, bos_id, eos_id, pad_id):  # [bos] + s + [eos] sliced, the <eos> of tgt_in cleaned up
    full = pad_sequence([torch.tensor([bos_id] + s + [eos_id]) for s in seqs], batch_first=True, padding_value=pad_id)
    tgt_in = full[:, :-1].clone()
    tgt_in[tgt_in == eos_id] = pad_id
    return tgt_in, full[:, 1:]


def ls_scatter(logits, target, smoothing, pad_id):
    logp, V = logits.log_softmax(-1), logits.size(-1)
    q = torch.full_like(logp, smoothing / V).scatter_add(-1, target[..., None],
                                                         torch.full_like(logp[..., :1], 1 - smoothing))
    return -(q * logp).sum(-1).masked_select(target != pad_id).mean()

RIGHT = {"09.teacher_forcing": TF_RIGHT, "09.label_smoothed_loss": LS_RIGHT, "09.warmup_lr": LR_RIGHT,
         "09.predict_peak_lr": PEAK_RIGHT}
WRONG = {"09.teacher_forcing": TF_WRONG, "09.label_smoothed_loss": LS_WRONG, "09.warmup_lr": LR_WRONG,
         "09.predict_peak_lr": PEAK_WRONG}

WRONG["09.teacher_forcing"] += [(tf_left_padded, "start with padding"), (tf_no_eos, "have no <eos>"),
                                (tf_python_lists, "are lists"), (tf_time_major, "You built it as (T, B)")]
WRONG["09.label_smoothed_loss"] += [(ls_no_one_minus, "weighted 1 - smoothing"), (ls_kl, "KL divergence"),
                                    (ls_probabilities, "used the probabilities"), (ls_pad_zero, "target == 0"),
                                    (ls_per_position, "not a loss per position")]
WRONG["09.warmup_lr"] += [(_lr(lambda s, d, w: d ** -0.5 * min(s ** 0.5, s * w ** -1.5)), "not step^0.5"),
                          (_lr(lambda s, d, w: d ** -0.5 * min(1 / s, s * w ** -1.5)), "not 1 / step"),
                          (_lr(lambda s, d, w: d ** -0.5 * (s * w ** -1.5 if s <= w else w ** -0.5)),
                           "stays at the peak")]
WRONG["09.predict_peak_lr"] += [(512 ** -0.5 / 4000, "instead of its square root"), (1e-3, "(d_model * warmup)^-0.5")]

RIGHT["09.teacher_forcing"] += [tf_drop_clean]
WRONG["09.teacher_forcing"] += [(lambda s, b, e, p: (tf_full(s, b, e, p)[0], tf_full(s, b, e, p)[0][:, 1:]),
                                 "one fewer than 1 + the longest")]
RIGHT["09.label_smoothed_loss"] += [ls_scatter]
WRONG["09.label_smoothed_loss"] += [(lambda lg, t, s, p: ls_gather(lg, t, 1 - s, p), "swapped"),
                                    (lambda lg, t, s, p: ls_gather(lg, t, s, p) / lg.size(0),
                                     "once more by the batch size")]
WRONG["09.warmup_lr"] += [(_lr(lambda s, d, w: d ** -0.5 * min(s ** -0.5, s / w)), "not step / warmup")]

WRONG["09.label_smoothed_loss"] += [(_ls(smooth="others_vs_all"), "its share of the smoothing")]
WRONG["09.label_smoothed_loss"] += [(lambda lg, t, s, p: (lambda l: l.sum() / (t != p).sum())(
    (1 - s) * -lg.log_softmax(-1).gather(-1, t[..., None])[..., 0] - s * lg.log_softmax(-1).mean(-1)), "summed in")]
WRONG["09.teacher_forcing"] += [(lambda s, b, e, p: tf_full(s, e, b, p), "bos_id and eos_id are swapped")]


def ls_wrong_axis(logits, target, smoothing, pad_id):  # log_softmax over the positions (dim=1), not the vocabulary
    logp = logits.log_softmax(1)
    loss = (1 - smoothing) * -logp.gather(-1, target[..., None])[..., 0] - smoothing * logp.mean(-1)
    return loss[target != pad_id].mean()


WRONG["09.label_smoothed_loss"] += [(ls_wrong_axis, "wrong axis"),
                                    (_ls(reduce="sentence_sums"), "summed the losses of each sentence")]


def ls_detached_then_reattached(logits, target, smoothing, pad_id):  # requires_grad, but no path to the logits
    return ls_gather(logits, target, smoothing, pad_id).detach().requires_grad_()


WRONG["09.label_smoothed_loss"] += [(ls_detached_then_reattached, "no gradient reaches the logits")]
WRONG["09.warmup_lr"] += [(_lr(lambda s, d, w: d ** -0.5 * min(s ** -0.5, s * w ** -1.5) / 2), "times the right value")]


# From the independent answer set (issue 11): a missing minus, the peer-style KL label smoothing, a clamped
# step 0, and predictions off by a power of ten are named by their property.
def ls_no_minus(logits, target, smoothing, pad_id):
    logp = logits.log_softmax(-1)
    nll = logp.gather(-1, target[..., None]).squeeze(-1)
    loss = (1 - smoothing) * nll + smoothing * logp.mean(-1)
    return loss[target != pad_id].mean()


def ls_kl_v_minus_2(logits, target, smoothing, pad_id):
    lp = logits.log_softmax(-1).reshape(-1, logits.size(-1))
    t = target.reshape(-1)
    true_dist = torch.full_like(lp, smoothing / (lp.size(-1) - 2))
    true_dist.scatter_(1, t[:, None], 1 - smoothing)
    true_dist[:, pad_id] = 0
    true_dist[t == pad_id] = 0
    return F.kl_div(lp, true_dist, reduction="sum") / (t != pad_id).sum()


WRONG["09.label_smoothed_loss"] += [(ls_no_minus, "minus sign is missing"),
                                    (lambda lg, t, s, p: -ls_gather(lg, t, s, p) * 0.5, "minus sign is missing"),
                                    (ls_kl_v_minus_2, "V - 2")]
WRONG["09.warmup_lr"] += [(lambda step, d, w: d ** -0.5 * min(max(step, 1) ** -0.5, max(step, 1) * w ** -1.5),
                           "`max(step, 1)`"),
                          (lambda step, d, w: d ** -0.5 * min((step or 1) ** -0.5, (step or 1) * w ** -1.5),
                           "must be 0.0")]
WRONG["09.warmup_lr"] += [(lambda step, d, w: (d * step) ** -0.5 if step else 0.0, "warm-up is missing")]
WRONG["09.predict_peak_lr"] += [(0.00035, "half the right value"), (0.0014, "twice the right value")]
WRONG["09.predict_peak_lr"] += [(0.007, "10 times"), (0.00007, "1/10 times"), (-0.0007, "wrong sign")]
(test_right_answers_pass, test_wrong_answers_name_the_mistake,
 test_every_exercise_has_three_right_and_three_wrong_answers) = answer_set_tests(RIGHT, WRONG)


def test_cross_entropy_is_usable_again_after_the_check():
    fails_with("09.label_smoothed_loss", ls_builtin, "write it yourself")
    logits, target = torch.randn(4, 5), torch.tensor([1, 2, 3, 0])
    assert torch.isfinite(F.cross_entropy(logits, target))
