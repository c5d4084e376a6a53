"""course layer · graders of lesson 10 (inference): greedy_decode, beam_step, length_penalty, kv_cache_step.

Shapes: B batch · S source length · T generated length · K beams · V vocabulary · H heads · d_k, d_v.
References: course_utils.run.decoding (greedy_decode, gnmt_length_penalty), course_utils.transformer
(attention, causal_mask, split_heads) and torch; model-level exercises also run on the shipped reference
model with a padded batch of real sentences, and on course_utils.run.scripted.ScriptedTranslator.
"""

import math

import torch

from course_utils.base.i18n import msg
from course_utils.course.checks import (
    Fail,
    Recorder,
    call,
    compare,
    exercise,
    expect_callable,
    expect_tuple,
    probe_generator,
)
from course_utils.course.checks.reference_probes import real_batch, reference_model
from course_utils.run.decoding import gnmt_length_penalty, greedy_decode
from course_utils.run.scripted import ScriptedTranslator
from course_utils.transformer import attention, causal_mask, padding_mask, split_heads

HINT_GREEDY = msg("Each step: logits = model.decode(ys, memory, src_mask); append logits[:, -1].argmax(-1) (pad_id "
                  "in finished rows); stop when every row has produced <eos>; return ys[:, 1:].")
HINT_BEAM = msg("scores, flat = (beam_scores[:, None] + log_probs).flatten().topk(beam_size); beam_idx = flat // V, "
                "token_idx = flat % V.")
HINT_LENGTH = msg("log_prob / ((5 + length) / 6) ** alpha.")
HINT_KV = msg("Append k_new, v_new at the end of the cache (dim=-2), then softmax(q @ k.T / sqrt(d_k)) @ v over all "
              "positions.")
HINT_CONSTANT_FACTOR = msg("All your values are off by the same factor: look for a constant that should not be there "
                           "(a sign, a scale, an extra division) or one that is missing.")


def constant_factor(want: torch.Tensor) -> tuple:
    """The signature of values all off by one factor (a scale, a sign, an extra division), as a mistake."""
    def holds(got):
        ratio = got.double() / want.double()
        return bool(((ratio - ratio.flatten()[0]).abs() < 1e-4).all()) and abs(float(ratio.flatten()[0]) - 1) > 1e-3
    return holds, HINT_CONSTANT_FACTOR


# ----------------------------------------------------------------------------- greedy decoding

class WatchedModel(Recorder):
    """Forwards to `model` and notes, for each call, the first column fed and the source mask given
    (`decodes`), the tokens fed and the logits returned (`steps`), and whether a source with padding was
    encoded (`padded_encode`), and whether it was encoded without a source mask (`unmasked_encode`)."""

    RECORDED = ("decodes", "steps", "padded_encode", "unmasked_encode")

    def __init__(self, model, pad_id):
        self.model, self.pad_id = model, pad_id
        self.decodes, self.steps, self.padded_encode, self.unmasked_encode = [], [], False, False

    def __getattr__(self, name):  # model.config, model.parameters(), ...: the model's own
        model = self.__dict__.get("model")
        if model is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(model, name)

    def _note(self, tgt, src_mask):
        first = tgt[:, 0].clone() if isinstance(tgt, torch.Tensor) and tgt.dim() == 2 else None
        self.decodes.append((first, src_mask.clone() if isinstance(src_mask, torch.Tensor) else src_mask))

    def encode(self, src, *args, **kwargs):
        padded = isinstance(src, torch.Tensor) and bool((src == self.pad_id).any())
        self.padded_encode |= padded
        self.unmasked_encode |= padded and (args[0] if args else kwargs.get("src_mask")) is None
        return self.model.encode(src, *args, **kwargs)

    def decode(self, tgt, memory, src_mask=None, *args, **kwargs):
        self._note(tgt, src_mask)
        logits = self.model.decode(tgt, memory, src_mask, *args, **kwargs)
        self.steps.append((tgt.clone() if isinstance(tgt, torch.Tensor) else tgt, logits))
        return logits

    def __call__(self, src, tgt, *args, **kwargs):
        self._note(tgt, "forward")
        logits = self.model(src, tgt, *args, **kwargs)
        self.steps.append((tgt.clone() if isinstance(tgt, torch.Tensor) else tgt, logits))
        return logits

    forward = __call__

    def choices(self, pad_id):
        """A hint if a token fed back is not the argmax of the last position's logits one call before."""
        for (tgt, logits), (nxt, _) in zip(self.steps, self.steps[1:]):
            if not all(isinstance(t, torch.Tensor) for t in (tgt, logits, nxt)) or nxt.dim() != 2 or \
                    logits.dim() != 3 or nxt.size(0) != logits.size(0):
                continue
            chosen, live = nxt[:, -1], nxt[:, -1] != pad_id
            if (chosen[live] != logits[:, -1].argmax(-1)[live]).any():
                if torch.equal(chosen[live], logits[:, 0].argmax(-1)[live]):
                    return msg("The next token comes from the *last* position's logits, `logits[:, -1]`, not the "
                               "first.")
                return msg("A token you fed back is not the most likely one: greedy decoding appends "
                           "`logits[:, -1].argmax(-1)` (no sampling, no other position).")
        return None


def _greedy_probes():
    model, _, tgt_vocab = reference_model()
    real = real_batch().src
    return [(ScriptedTranslator(10, 1, 2, 0), torch.tensor([[3, 4, 5, 6, 7], [8, 9, 0, 0, 0], [4, 4, 6, 3, 0]]),
             10, 1, 2, 0),
            (ScriptedTranslator(12, 10, 11, 0), torch.tensor([[3, 4, 5, 6, 7], [6, 5, 0, 0, 0]]), 4, 10, 11, 0),
            (model, real, 30, tgt_vocab.bos_id, tgt_vocab.eos_id, tgt_vocab.pad_id)]


HINT_SRC_MASK = msg("Without the source mask the cross-attention reads the <pad> positions of `memory`, and short "
                    "sentences come out wrong. Build `src_mask = (src != pad_id)[:, None, None, :]` and pass it to "
                    "both: `model.encode(src, src_mask)`, `model.decode(ys, memory, src_mask)`.")


def _greedy_calls(watched, src, bos, pad):
    """Fail with a named hint if the decode calls show a mistake (the first column, the source mask)."""
    firsts = [f for f, _ in watched.decodes if f is not None]
    if firsts and not (firsts[0] == bos).all():
        start = int(firsts[0][0])
        hint = msg("Put bos_id in the first column (`torch.full((B, 1), bos_id)`); the model learned to begin a "
                   "translation after <bos>.")
        raise Fail(msg("Your rows start with token {start}, not with <bos> ({bos}).", start=start, bos=bos),
                   hint=hint + msg(" Use the bos_id argument, not 1.") if start == 1 else hint)
    truth = padding_mask(src, pad)
    masks = [m for _, m in watched.decodes]
    if watched.padded_encode and any(m is None for m in masks):
        raise Fail(msg("`model.decode` was called without `src_mask` on a batch with padded sources."),
                   hint=HINT_SRC_MASK)
    if watched.unmasked_encode:
        raise Fail(msg("`model.encode` was called without `src_mask` on a batch with padded sources."),
                   hint=msg("Without the source mask the encoder's self-attention mixes the <pad> positions into "
                            "every source word's vector. Build `src_mask = (src != pad_id)[:, None, None, :]` and "
                            "pass it to both: `model.encode(src, src_mask)`, `model.decode(ys, memory, src_mask)`."))
    if any(isinstance(m, torch.Tensor) and m.shape == truth.shape and torch.equal(m, ~truth) for m in masks):
        raise Fail(msg("The `src_mask` you pass is inverted."),
                   hint=msg("True = may attend: True at the real source tokens, `src != pad_id`."))


def _decode(fn, watched, src, n, bos, eos, pad):
    try:
        return call(fn, watched, src, n, bos, eos, pad, errors=[
            (r"query rows|key columns|src_mask", msg("`src_mask` must be (B, 1, 1, S): `(src != pad_id)[:, None, None, "
                                                     ":]` (one singleton axis for the heads, one for the queries).")),
            ("converted to Scalar|ambiguous", msg("A batch has several rows: keep a bool tensor `finished` (one entry "
                                                  "per row) and stop when `finished.all()`, instead of `.item()` or "
                                                  "`if tensor:`.")),
        ])
    except Fail:
        _greedy_calls(watched, src, bos, pad)
        raise


def _fed_one_token(watched, got, want):
    fed = [t for t, _ in watched.steps if isinstance(t, torch.Tensor) and t.dim() == 2]
    right = isinstance(got, torch.Tensor) and got.shape == want.shape and not got.is_floating_point() and \
        torch.equal(got.long(), want.long())
    if not right and len(fed) > 1 and all(t.size(1) == 1 for t in fed):  # (a KV cache feeds one token too)
        raise Fail(msg("Every decoder call reads one token only: the decoder never sees the tokens before the last."),
                   hint=msg("Run the decoder on all the tokens so far, `model.decode(ys, memory, src_mask)`, and take "
                            "the last position's logits, `[:, -1]`."))


def _greedy_length(got, want, n, bos, eos, pad):
    """Name an output with the right tokens but the wrong columns: <bos> kept, <eos> dropped, too many
    or too few steps, rows going on after their <eos>."""
    T = want.size(1)
    if got.size(1) > n + int((got[:, 0] == bos).all()):
        raise Fail(msg("Your output has {cols} columns, more than max_new_tokens = {n}.", cols=got.size(1), n=n),
                   hint=msg("Generate at most max_new_tokens tokens: `for _ in range(max_new_tokens):`."))
    if got.shape == want.shape and not (got == eos).any(1)[(want == eos).any(1)].all() and \
            ((got != want) <= ((want == eos) & (got == pad))).all():
        raise Fail(msg("The <eos> of each finished row was replaced by pad_id."),
                   hint=msg("Write the token first, then mark the row finished: `next_token.masked_fill(finished, "
                            "pad_id)` with the `finished` of the *previous* step, then `finished |= next_token == "
                            "eos_id`."))
    if got.size(1) == T - 1 and torch.equal(got, want[:, 1:]):
        raise Fail(msg("Your output misses the first generated token."), hint=msg("Drop only the <bos> column: "
                                                                                  "`ys[:, 1:]`."))
    if got.size(1) == T + 1 and (got[:, 0] == bos).all() and torch.equal(got[:, 1:], want):
        raise Fail(msg("Your output starts with <bos>."),
                   hint=msg("Return only the generated tokens: drop the first column (`ys[:, 1:]`)."))
    _after_eos(got, want, eos, pad)
    _stops_early(got, want, n, eos)


def _after_eos(got, want, eos, pad):
    T = want.size(1)
    after = torch.cumsum((want == eos).long(), 1) - (want == eos).long() > 0  # (B, T) after a row's <eos>
    head = got[:, :T]
    if got.size(1) >= T and torch.equal(head[~after], want[~after]):  # every row right up to its <eos>
        if (head[after] != pad).any() or (got[:, T:] != pad).any():
            hint = msg("Rows that finished keep generating: write pad_id in a row once it has produced <eos> "
                       "(`next_token.masked_fill(finished, pad_id)`).")
            if got.size(1) > T:
                hint = msg("Rows that finished keep generating: write pad_id in a row once it has produced <eos> "
                           "(`next_token.masked_fill(finished, pad_id)`), and stop when every row has finished.")
            raise Fail(msg("After a row's <eos> your output goes on with other tokens."), hint=hint)
        if got.size(1) > T:
            raise Fail(msg("Your output has {cols} columns: it goes on after every row has produced <eos>.",
                           cols=got.size(1)),
                       hint=msg("Stop as soon as every row has produced <eos>: keep a bool `finished` per row and "
                                "`break` when `finished.all()`."))


def _stops_early(got, want, n, eos):
    T = want.size(1)
    if got.size(1) == n - 1 == T - 1 and torch.equal(got, want[:, :n - 1]):
        raise Fail(msg("Your output has {cols} columns: one step short of max_new_tokens = {n}.", cols=n - 1, n=n),
                   hint=msg("Make max_new_tokens steps: `for _ in range(max_new_tokens):` (the <bos> column you drop "
                            "at the end is not one of them)."))
    first_eos = (got == eos).any(0).nonzero()  # columns where some row has <eos>
    if got.size(1) < T and torch.equal(got, want[:, :got.size(1)]) and len(first_eos) and \
            int(first_eos[0]) == got.size(1) - 1:
        raise Fail(msg("Your output stops when the *first* row has produced <eos>; the others are cut short."),
                   hint=msg("Stop when *all* rows have produced <eos> (`finished.all()`)."))
    if got.size(1) < T and torch.equal(got, want[:, :got.size(1)]):
        raise Fail(msg("Your output stops after {cols} steps, before every row has produced <eos> (the reference "
                       "makes {T}).", cols=got.size(1), T=T) if got.size(1) != 1 else
                   msg("Your output stops after 1 step, before every row has produced <eos> (the reference makes {T}).",
                       T=T),
                   hint=msg("Keep going until *all* rows have produced <eos> (`finished.all()`) or max_new_tokens "
                            "steps are done: `for _ in range(max_new_tokens):`."))
    if got.size(1) > 2 and (got == got[:, :1]).all() and not (want == want[:, :1]).all():
        raise Fail(msg("Every step appends the same token."),
                   hint=msg("The next token comes from the *last* position's logits, `logits[:, -1]`, not the "
                            "first."))


@exercise("10.greedy_decode", "Batched greedy decoding", time_limit=20.0)
def _check_greedy_decode(fn):
    expect_callable(fn, "greedy_decode")
    for model, src, n, bos, eos, pad in _greedy_probes():
        watched = WatchedModel(model, pad)
        with torch.no_grad():
            want = greedy_decode(model, src, max_new_tokens=n, bos_id=bos, eos_id=eos, pad_id=pad, use_cache=False)
            got = _decode(fn, watched, src, n, bos, eos, pad)
        _greedy_calls(watched, src, bos, pad)
        _fed_one_token(watched, got, want)
        if isinstance(got, torch.Tensor) and got.is_floating_point():
            raise Fail(msg("`tokens` has dtype {dtype}: token ids are integers.", dtype=got.dtype),
                       hint=msg("Keep `ys` a torch.long tensor: `torch.full((B, 1), bos_id, dtype=torch.long)`, and "
                                "append the argmax (already long) without converting it."))
        if isinstance(got, torch.Tensor) and got.dim() == 2 and got.size(0) == want.size(0):
            _greedy_length(got, want, n, bos, eos, pad)
        choice = watched.choices(pad)
        compare("tokens", got, want, axes=("B", "T"), mistakes=[(lambda got: True, choice)] if choice else [],
                hint=HINT_GREEDY)


# ----------------------------------------------------------------------------- one beam-search step

def _beam_probes():
    g = probe_generator(100)
    lp = torch.randn(3, 7, generator=g).log_softmax(-1)
    lp[1, 4] = -0.01  # a strong continuation of the second beam: two winners come from one beam
    model, _, tgt_vocab = reference_model()
    src = real_batch().src[1:2].expand(3, -1)  # one real sentence, three beams
    with torch.no_grad():
        first = model.decode(torch.full((1, 1), tgt_vocab.bos_id), model.encode(src[:1]),
                             padding_mask(src[:1], 0))[:, -1].log_softmax(-1)
        top, tokens = first[0].topk(3)
        ys = torch.stack([torch.full((3,), tgt_vocab.bos_id), tokens], 1)  # (K, 2)
        real = model.decode(ys, model.encode(src), padding_mask(src, 0))[:, -1].log_softmax(-1)  # (K, V)
    return [(lp, torch.tensor([-0.5, -1.0, -2.5]), 3), (first, torch.zeros(1), 4), (real, top, 3)]


def _beam_form(got, want):
    """The returned values: a tuple of three, scores first, indices as integers."""
    if isinstance(got, (tuple, list)) and len(got) == 2:
        raise Fail(msg("Expected 3 values (scores, beam_idx, token_idx), got 2."),
                   hint=msg("Return the new running scores too: `return scores, beam_idx, token_idx`."))
    got = expect_tuple(got, 3, ("scores", "beam_idx", "token_idx"), wants=want)
    if all(isinstance(t, torch.Tensor) for t in got) and got[0].dim() == 2:
        raise Fail(msg("`scores` has shape {shape}: the top candidates of *each* beam.", shape=tuple(got[0].shape)),
                   hint=msg("Compare all K x V candidates together: flatten `beam_scores[:, None] + log_probs` "
                            "first, then one `topk(beam_size)`."))
    if all(isinstance(t, torch.Tensor) for t in got) and not got[0].is_floating_point() and got[2].is_floating_point():
        raise Fail(msg("The returned values are in the wrong order."),
                   hint=msg("Return `(scores, beam_idx, token_idx)`: the float scores first."))
    for name, value in zip(("beam_idx", "token_idx"), got[1:]):
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            raise Fail(msg("`{name}` has dtype {dtype}: indices are torch.long.", name=name, dtype=value.dtype),
                       hint=msg("Use integer division `flat // V` and `flat % V` on topk's indices (not `/`)."))
    return got


def _beam_mistakes(log_probs, beam_scores, k):
    """(wrong (scores, beam_idx, token_idx), hint) for the mistakes learners make."""
    K, V = log_probs.shape
    total = beam_scores[:, None] + log_probs
    scores, flat = total.flatten().topk(k)
    best = total.max(-1)
    order = best.values.argsort(descending=True)[:k]
    by_token, by_token_flat = log_probs.flatten().topk(k)
    split = (flat // V, flat % V)
    hint_by_k = msg("Split the flat index by the vocabulary size V (beam = flat // V, token = flat % V), not by K.")
    return [
        ((best.values[order], order, best.indices[order]),
         msg("You kept the best token of *each* beam. Compare all K x V candidates together: two new beams may extend "
             "the same old beam.")),
        ((by_token + beam_scores[by_token_flat // V], by_token_flat // V, by_token_flat % V),
         msg("You chose the candidates by their own log-probs and added the beams' scores after `topk`: add "
             "`beam_scores[:, None]` to `log_probs` *first*, then take `topk` of the totals.")),
        ((by_token, by_token_flat // V, by_token_flat % V),
         msg("The beams' running scores are ignored: a candidate's score is beam_scores[k] + log_probs[k, token].")),
        ((scores, *split[::-1]), msg("beam_idx and token_idx are swapped: flat // V is the beam, flat % V the "
                                     "token.")),
        ((scores, flat // V, flat), msg("token_idx is the flat index into the K x V candidates; split it: token = "
                                        "flat % V.")),
        ((*total.flatten().topk(k, largest=False)[:1], *_split(total.flatten().topk(k, largest=False)[1], V)),
         msg("You took the *lowest* scores; keep the highest.")),
        ((log_probs.flatten()[flat], *split),
         msg("The right candidates, but the scores you return are the tokens' own log-probs: return the running "
             "totals beam_scores[k] + log_probs[k, token] (the values `topk` gave you).")),
        ((scores / 2, *split), msg("The right candidates, but the scores are halved: the new score is the *sum* "
                                   "beam_scores[k] + log_probs[k, token], not the mean.")),
        ((scores.exp(), *split), msg("The right candidates, but you returned probabilities (exp): return the running "
                                     "log-probability scores beam_scores[k] + log_probs[k, token].")),
        ((scores, flat // K, flat % K), hint_by_k), ((scores, flat % K, flat // K), hint_by_k),
        ((lambda s, i: (s, *_split(i, V)))(*(beam_scores[:, None] * log_probs).flatten().topk(k)),
         msg("Log-probabilities *add* up: a candidate's score is beam_scores[k] + log_probs[k, token].")),
        ((lambda s, i: (s, *_split(i, V)))(*(beam_scores.exp()[:, None] + log_probs.exp()).flatten().topk(k)),
         msg("Stay with log-probabilities (no exp): a candidate's score is beam_scores[k] + log_probs[k, token].")),
    ]


def _split(flat, V):
    return flat // V, flat % V


def _same(got, wrong) -> bool:
    return all(isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.double(), b.double())
               for a, b in zip(got, wrong))


@exercise("10.beam_step", "One step of beam search")
def _check_beam_step(fn):
    expect_callable(fn, "beam_step")
    for log_probs, beam_scores, k in _beam_probes():
        V, total = log_probs.size(-1), beam_scores[:, None] + log_probs  # (K, V)
        scores, flat = total.flatten().topk(k)
        want = (scores, flat // V, flat % V)
        got = _beam_form(call(fn, log_probs, beam_scores, k, errors=[
            (r"must match the size of tensor", msg("Add each beam's score to its own row: `beam_scores[:, None] + "
                                                   "log_probs` ((K, 1) + (K, V)); without `[:, None]` the K scores "
                                                   "line up with the V tokens.")),
        ]), want)
        for wrong, hint in _beam_mistakes(log_probs, beam_scores, k):
            if _same(got, wrong) and not _same(want, wrong):
                raise Fail(msg("Your beam step equals what a known mistake gives."), hint=hint)
        candidates = total.flatten().double()
        mistakes = [
            (lambda s: s.numel() > 1 and (s[1:] > s[:-1] + 1e-6).any(),
             msg("Sort the winners best first (topk does, with sorted=True; a plain sort ascends).")),
            (lambda s: s.numel() == k and all(bool(torch.isclose(candidates, v, atol=1e-5).any()) for v in s.double())
             and not torch.allclose(s.double(), scores.double(), atol=1e-5),
             msg("These are candidates' scores, but not the best {k}: take `topk(beam_size)` over all K x V "
                 "candidates.", k=k)),
        ]
        for name, value, w in zip(("scores", "beam_idx", "token_idx"), got, want):
            compare(name, value, w, axes=("beam",), mistakes=mistakes if name == "scores" else [], hint=HINT_BEAM)


# ----------------------------------------------------------------------------- the length penalty

HINT_BRACKETS = msg("Brackets: the penalty is ((5 + length) / 6) ** alpha: first 5 + length, then divided by 6, "
                    "then raised to alpha; log_prob is divided by all of it.")


def _length_mistakes(lp, n, a, want):
    """(wrong scores, hint): the formula's pieces misplaced, most specific first."""
    times_alpha = msg("alpha is an exponent: ((5 + length) / 6) ** alpha, not times alpha.")
    return [
        (lp / n ** a, msg("You divided by length^alpha. The GNMT penalty is ((5 + length) / 6)^alpha.")),
        (lp * gnmt_length_penalty(n, a), msg("Multiplied instead of divided: divide log P by the penalty.")),
        (lp / gnmt_length_penalty(n, 1.0), msg("alpha is ignored: raise the penalty to the power alpha.")),
        (lp / gnmt_length_penalty(n, 1 - a), msg("The exponent is alpha itself, not 1 - alpha.")),
        (lp / (5.0 + n / 6.0) ** a, msg("Brackets: the penalty is ((5 + length) / 6) ** alpha; here the division by 6 "
                                        "only hits length.")),
        (lp / (5.0 + n) ** a / 6.0, msg("Brackets: divide (5 + length) by 6 *before* raising to alpha.")),
        (lp / ((5.0 + n) / 6.0 ** a), msg("Brackets: `(5 + length) / 6 ** alpha` raises only 6 to alpha; write "
                                          "`((5 + length) / 6) ** alpha`.")),
        ((lp / ((5.0 + n) / 6.0)) ** a, msg("Brackets: you raised log_prob / ((5 + length) / 6) to alpha, log_prob "
                                            "included (a negative number to a fractional power is NaN). Only the "
                                            "penalty is raised: log_prob / ((5 + length) / 6) ** alpha.")),
        (lp / ((5.0 + n) ** a / 6.0), msg("Brackets: `(5 + length) ** alpha / 6` raises only 5 + length to alpha; "
                                          "write `((5 + length) / 6) ** alpha`.")),
        (lp / (5.0 + n) / 6.0 ** a, HINT_BRACKETS), (lp / (5.0 + n) ** a * 6.0, HINT_BRACKETS),
        (lp / ((5.0 + n ** a) / 6.0), HINT_BRACKETS), (lp / (5.0 + n ** a / 6.0), HINT_BRACKETS),
        (lp / 5.0 + n / 6.0 ** a, HINT_BRACKETS), (lp / 5.0 + (n / 6.0) ** a, HINT_BRACKETS),
        (lp / (5.0 + n / 6.0 ** a), HINT_BRACKETS), ((lp / (5.0 + n) / 6.0) ** a, HINT_BRACKETS),
        (-want, msg("The sign flipped: divide the (negative) log-probability by the (positive) penalty, no minus.")),
        (lp - gnmt_length_penalty(n, a), msg("Divide log P by the penalty; you subtracted it.")),
        (gnmt_length_penalty(n, a), msg("You returned the penalty lp(y) itself: the score is log_prob divided by it.")),
        (lp / ((6.0 + n) / 5.0) ** a, msg("5 and 6 swapped: the penalty is ((5 + length) / 6) ** alpha.")),
        (lp / n, msg("You divided by the length (a plain average per token); the GNMT penalty is ((5 + length) / 6) "
                     "** alpha.")),
        (lp / ((5.0 + n) / 6.0) * a, times_alpha), (lp / (((5.0 + n) / 6.0) * a) if a else None, times_alpha),
        (lp / (1.0 + n) ** a, msg("The GNMT penalty is ((5 + length) / 6) ** alpha.")),
        *[(lp / ((c + n) / 6.0) ** a, msg("The constant is 5, not {c:g}: ((5 + length) / 6) ** alpha (a hypothesis "
                                          "of length 1 gets penalty 1).", c=c)) for c in (0.0, 1.0, 6.0)],
        (lp / gnmt_length_penalty(n, 0.6), msg("alpha is fixed at 0.6 in your code: use the alpha argument (the check "
                                               "also uses 1.0 and 0.0).")),
        constant_factor(want),
    ]


@exercise("10.length_penalty", "Rank finished hypotheses with a length penalty")
def _check_length_penalty(fn):
    expect_callable(fn, "length_normalised_score")
    log_prob = -torch.rand(6, generator=probe_generator(102)) * 12
    n = torch.tensor([1.0, 3.0, 5.0, 8.0, 12.0, 20.0])
    for a in (0.6, 1.0, 0.0):
        got, want = call(fn, log_prob, n, a), log_prob / gnmt_length_penalty(n, a)
        compare("scores", got, want, axes=("hypotheses",), mistakes=_length_mistakes(log_prob, n, a, want),
                hint=HINT_LENGTH)


# ----------------------------------------------------------------------------- one step with a key/value cache

HINT_CACHE_AXIS = msg("The cache grew along the wrong axis: concatenate along time, `torch.cat([k_past, k_new], "
                      "dim=-2)` (B, H, T, d_k), and the same for v; the other axes keep their sizes.")
HINT_ATTEND_FIRST = msg("You attended over the cache before adding the new position: append k_new and v_new *first*, "
                        "so the new position also attends to itself, then attend.")
HINT_ONLY_FIRST = msg("Only the first position is attended: no mask is needed here, every cached position is in the "
                      "past.")


def _cache_probes():
    g = probe_generator(101)
    q, k, v = (torch.randn(2, 2, 4, d, generator=g) for d in (4, 4, 3))  # (B, H, T, d)
    model, _, _ = reference_model()
    b = real_batch()
    with torch.no_grad():
        x = model.tgt_embed(b.tgt_in[:3, :6])  # (3, 6, d_model)
        attn = model.decoder.layers[0].self_attn
        real = [split_heads(w(x), attn.n_heads) for w in (attn.w_q, attn.w_k, attn.w_v)]  # (B, H, T, d_k)
    return [(q, k, v), tuple(real)]


def _kv_call(fn, step, cache, t):
    return expect_tuple(call(fn, *step, cache, what=msg("`kv_cache_step` (at step {t})", t=t), errors=[
        (r"must match except in dimension (2|-2)", msg("The pieces you concatenate have different widths: keys with "
                                                       "values. The cache is (k, v), in that order: `k_past, v_past = "
                                                       "cache`, then `k = torch.cat([k_past, k_new], dim=-2)`, `v = "
                                                       "torch.cat([v_past, v_new], dim=-2)`.")),
        ("size of tensor|must match the size|shapes cannot be multiplied|same leading|Expected size for first two "
         "dimensions", HINT_CACHE_AXIS),
    ]), 2, ("out", "cache"))


def _kv_mistakes(q, k, v, t):
    """(wrong out, hint) at step t for the mistakes learners make."""
    step_q, k_all, v_all = q[:, :, t:t + 1], k[:, :, :t + 1], v[:, :, :t + 1]
    scores = step_q @ k_all.transpose(-2, -1)
    found = [(attention(step_q, k[:, :, t:t + 1], v[:, :, t:t + 1])[0],
              msg("The new query attends only to the new key. Concatenate the cached keys and values with the new "
                  "ones first, then attend over all of them."))]
    if t > 1:
        found.append((attention(step_q, k[:, :, :t], v[:, :, :t])[0], HINT_ATTEND_FIRST))
    found += [(scores.softmax(-1) @ v_all, msg("The scores are not scaled: divide q·k by sqrt(d_k).")),
              (v_all.sum(-2, keepdim=True), msg("Every weight is 1: the softmax went over the query axis (of size 1). "
                                                "Take it over the keys, the last axis.")),
              (v_all[:, :, :1], HINT_ONLY_FIRST)]
    for c, what in ((math.sqrt(t + 1), msg("sqrt(number of cached positions)")),
                    (float(q.size(-1)), msg("d_k (not its square root)")), (math.sqrt(v.size(-1)), msg("sqrt(d_v)"))):
        if abs(c - math.sqrt(q.size(-1))) > 1e-6:
            found.append(((scores / c).softmax(-1) @ v_all, msg(
                "The scores are divided by {what}; divide by sqrt(d_k) = {right:.3g}, the width of q and k.",
                what=what, right=math.sqrt(q.size(-1)))))
    return found


def _step_one(fn, out, want, q, k, v):
    """At step 1, attending over the cache only and attending to the first position only give the same output:
    one more call with two cached positions tells them apart."""
    if not (isinstance(out, torch.Tensor) and out.shape == want.shape and
            torch.allclose(out.double(), v[:, :, :1].double(), atol=1e-5, rtol=1e-4)):
        return
    q2 = q[:, :, 2:3]
    again = call(fn, q2, k[:, :, 2:3], v[:, :, 2:3], (k[:, :, :2], v[:, :, :2]), what=msg("`kv_cache_step`"))
    again = again[0] if isinstance(again, (tuple, list)) and again else again
    if isinstance(again, torch.Tensor) and again.shape == want.shape:
        for wrong, hint in ((attention(q2, k[:, :, :2], v[:, :, :2])[0], HINT_ATTEND_FIRST),
                            (v[:, :, :1], HINT_ONLY_FIRST)):
            if torch.allclose(again.double(), wrong.double(), atol=1e-5, rtol=1e-4):
                raise Fail(msg("`out (step 1)` is not right: it equals what a known mistake gives."), hint)


def _kv_out(out, new_cache, want, k, v):
    if isinstance(new_cache, torch.Tensor) and isinstance(out, (tuple, list)):
        raise Fail(msg("`out` and `cache` are swapped."), hint=msg("Return `(out, (k, v))`: the output first."))
    if isinstance(out, torch.Tensor) and out.shape[:-1] == want.shape[:-1] and out.size(-1) == k.size(-1) != v.size(-1):
        raise Fail(msg("`out` has width {width} = d_k; expected d_v = {d_v}.", width=out.size(-1), d_v=v.size(-1)),
                   hint=msg("The output is the weighted sum of the *values*: `weights @ v`, not of the keys."))
    if isinstance(out, torch.Tensor) and out.shape == want.shape[:2] + want.shape[3:]:
        raise Fail(msg("`out` has shape {shape}: the query axis (of size 1) is gone.", shape=tuple(out.shape)),
                   hint=msg("Keep it: out is (B, H, 1, d_v), like q (no squeeze)."))


def _kv_cache(new_cache, k, v, t):
    """The returned cache: (k, v) tensors holding every position so far, in time order."""
    k_all, v_all = k[:, :, :t + 1], v[:, :, :t + 1]
    kk, vv = expect_tuple(new_cache, 2, ("k", "v"))
    if any(isinstance(c, (list, tuple)) for c in (kk, vv)):
        raise Fail(msg("The cache holds Python lists; expected the tensors k (B, H, T, d_k) and v (B, H, T, d_v)."),
                   hint=msg("Concatenate the new key and value onto the cached ones, `torch.cat([k_past, k_new], "
                            "dim=-2)`, and return those tensors: `return out, (k, v)`."))
    if t > 0 and isinstance(kk, torch.Tensor) and kk.dim() == 4 and 1 < kk.size(-2) < t + 1:
        raise Fail(msg("At step {t} the returned cache holds {n} positions instead of {want}.", t=t, n=kk.size(-2),
                       want=t + 1), hint=msg("Keep every past position in the cache; don't cut it to a window."))
    if t > 0 and any(isinstance(c, torch.Tensor) and c.shape == n.shape
                     for c, n in ((kk, k[:, :, t:t + 1]), (vv, v[:, :, t:t + 1]))):
        raise Fail(msg("The returned cache holds only the new position (step {t}).", t=t),
                   hint=msg("Return the concatenated keys and values, so the next step can use them."))
    new_first = k[:, :, [t] + list(range(t))]  # the same output, the cache out of time order
    if t > 0 and isinstance(kk, torch.Tensor) and kk.shape == k_all.shape and torch.equal(kk, new_first):
        raise Fail(msg("The new key is at the *start* of the cache."),
                   hint=msg("Append at the end: `torch.cat([k_past, k_new], dim=-2)`, so the cache stays in time "
                            "order."))
    if isinstance(kk, torch.Tensor) and isinstance(vv, torch.Tensor) and kk.shape == v_all.shape and \
            vv.shape == k_all.shape and torch.equal(kk, v_all) and torch.equal(vv, k_all):
        raise Fail(msg("The cache is returned as (v, k)."),
                   hint=msg("The cache is (k, v), in that order: `return out, (k, v)` (and unpack it as `k_past, "
                            "v_past = cache`)."))
    grown = [(lambda c, full=full: isinstance(c, torch.Tensor) and c.dim() == 4 and c.shape != full.shape and
              c.numel() == full.numel(), HINT_CACHE_AXIS) for full in (k_all, v_all)]
    compare(msg("cache k (step {t})", t=t), kk, k_all, axes=("B", "H", "T", "d_k"), mistakes=grown[:1])
    compare(msg("cache v (step {t})", t=t), vv, v_all, axes=("B", "H", "T", "d_v"), mistakes=grown[1:])


@exercise("10.kv_cache_step", "One decoding step with a key/value cache")
def _check_kv_cache_step(fn):
    expect_callable(fn, "kv_cache_step")
    for q, k, v in _cache_probes():
        cache, outs = None, []
        for t in range(q.size(2)):
            out, new_cache = _kv_call(fn, (q[:, :, t:t + 1], k[:, :, t:t + 1], v[:, :, t:t + 1]), cache, t)
            want = attention(q[:, :, t:t + 1], k[:, :, :t + 1], v[:, :, :t + 1])[0]  # (B, H, 1, d_v)
            _kv_out(out, new_cache, want, k, v)
            if t == 1:
                _step_one(fn, out, want, q, k, v)
            compare(msg("out (step {t})", t=t), out, want, axes=("B", "H", "T_q", "d_v"),
                    mistakes=_kv_mistakes(q, k, v, t), hint=HINT_KV)
            _kv_cache(new_cache, k, v, t)
            cache, outs = new_cache, outs + [out]
        whole = attention(q, k, v, causal_mask(q.size(2)))[0]
        compare(msg("the cached steps, stacked"), torch.cat(outs, dim=-2), whole, axes=("B", "H", "T", "d_v"))
    return msg("Step by step with the cache equals causal attention over the whole sequence.")
