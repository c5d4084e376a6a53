"""course layer · graders of lesson 10 (inference): greedy_decode, beam_step, length_penalty, kv_cache_step.

Shapes: B batch · S source length · T generated length · K beams · V vocabulary · H heads · d_k, d_v.
References: course_utils.run.decoding (greedy_decode, gnmt_length_penalty), course_utils.transformer
(attention, causal_mask, split_heads) and torch; model-level exercises also run on the shipped reference
model with a padded batch of real sentences.
"""

import math

import torch
from torch import nn

from course_utils.course.checks import Fail, call, compare, exercise, expect_callable, expect_tuple, probe_generator
from course_utils.course.checks.reference_probes import real_batch, reference_model
from course_utils.run.decoding import gnmt_length_penalty, greedy_decode
from course_utils.transformer import attention, causal_mask, padding_mask, split_heads

HINT_GREEDY = ("Each step: logits = model.decode(ys, memory, src_mask); append logits[:, -1].argmax(-1) (pad_id in "
               "finished rows); stop when every row has produced <eos>; return ys[:, 1:].")
HINT_BEAM = ("scores, flat = (beam_scores[:, None] + log_probs).flatten().topk(beam_size); beam_idx = flat // V, "
             "token_idx = flat % V.")
HINT_LENGTH = "log_prob / ((5 + length) / 6) ** alpha."
HINT_KV = ("Append k_new, v_new at the end of the cache (dim=-2), then softmax(q @ k.T / sqrt(d_k)) @ v over all "
           "positions.")


def constant_factor(want: torch.Tensor) -> tuple:
    """The signature of values all off by one factor (a scale, a sign, an extra division), as a mistake."""
    def holds(got):
        ratio = got.double() / want.double()
        return bool(((ratio - ratio.flatten()[0]).abs() < 1e-4).all()) and abs(float(ratio.flatten()[0]) - 1) > 1e-3
    return (holds, "All your values are off by the same factor: look for a constant that should not be there (a sign, "
                   "a scale, an extra division) or one that is missing.")


class ScriptedTranslator(nn.Module):
    """A stand-in for a trained model: after <bos> it "translates" a source sentence by writing its
    real tokens in reverse order, then <eos>. It has the course Transformer's interface:
    `encode(src, src_mask=None)`, `decode(tgt, memory, src_mask=None, tgt_mask=None, ...)` -> logits
    (B, T, V), and `forward(src, tgt)`. Like a decoder that reads padded memory, it treats <pad> as a
    word when `decode` gets no `src_mask`. A prefix that does not start with <bos>, or a row that goes on
    after its <eos>, gets nonsense. With `cache=model.new_cache()` it remembers the tokens fed so far, so
    decoding one new token per step (the key/value-cache way) works too."""

    def __init__(self, vocab_size=10, bos_id=1, eos_id=2, pad_id=0):
        super().__init__()
        self.vocab_size, self.bos_id, self.eos_id, self.pad_id = vocab_size, bos_id, eos_id, pad_id
        self.config = type("Config", (), {"pad_id": pad_id, "max_len": 64, "tgt_vocab_size": vocab_size})()

    def encode(self, src, src_mask=None):
        return src.float()[..., None]  # (B, S, 1)

    def _next(self, words, prefix):
        content = words[::-1]
        if not prefix or prefix[0] != self.bos_id:
            return content[-1] if content else self.eos_id
        n = len(prefix) - 1
        return content[n] if n < len(content) else self.eos_id if n == len(content) else content[0]

    def new_cache(self):
        return []

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None, offset=0, cache=None):
        B, T = tgt.shape
        if cache is not None:  # the tokens fed earlier, then these
            full = tgt if not cache else torch.cat([cache.pop(), tgt], dim=1)
            cache.append(full)
            return self.decode(full, memory, src_mask)[:, -T:]
        src = memory[..., 0].round().long()  # (B, S)
        keep = torch.ones_like(src, dtype=torch.bool) if src_mask is None else src_mask.reshape(B, -1).expand_as(src)
        logits = torch.full((B, T, self.vocab_size), -4.0)
        for b, row in enumerate(tgt.tolist()):
            words = src[b][keep[b]].tolist()
            for i in range(T):
                logits[b, i, self._next(words, row[: i + 1])] = 4.0
        return logits

    def forward(self, src, tgt, src_mask=None, tgt_mask=None):
        src_mask = padding_mask(src, self.pad_id) if src_mask is None else src_mask
        return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)


class _Watched:
    """Forwards to `model` and notes each `decode` call's first column and source mask, and
    whether a source with padding was encoded."""

    def __init__(self, model, pad_id):
        self._model, self._pad_id, self.decodes, self.padded_encode = model, pad_id, [], False
        self.steps = []  # (tokens fed, logits returned) of each call

    def __getattr__(self, name):
        return getattr(self._model, name)

    def encode(self, src, *args, **kwargs):
        self.padded_encode |= isinstance(src, torch.Tensor) and bool((src == self._pad_id).any())
        return self._model.encode(src, *args, **kwargs)

    def decode(self, tgt, memory, src_mask=None, *args, **kwargs):
        self.decodes.append((tgt[:, 0].clone() if isinstance(tgt, torch.Tensor) and tgt.dim() == 2 else None, src_mask))
        logits = self._model.decode(tgt, memory, src_mask, *args, **kwargs)
        self.steps.append((tgt, logits))
        return logits

    def __call__(self, src, tgt, *args, **kwargs):
        self.decodes.append((tgt[:, 0].clone() if isinstance(tgt, torch.Tensor) and tgt.dim() == 2 else None, "forward"))
        logits = self._model(src, tgt, *args, **kwargs)
        self.steps.append((tgt, logits))
        return logits

    def choices(self, pad_id):
        """A hint if a token fed back is not the argmax of the last position's logits one call before."""
        for (tgt, logits), (nxt, _) in zip(self.steps, self.steps[1:]):
            if not all(isinstance(t, torch.Tensor) for t in (tgt, logits, nxt)) or nxt.dim() != 2 or \
                    logits.dim() != 3 or nxt.size(0) != logits.size(0):
                continue
            chosen, live = nxt[:, -1], nxt[:, -1] != pad_id
            if (chosen[live] != logits[:, -1].argmax(-1)[live]).any():
                if torch.equal(chosen[live], logits[:, 0].argmax(-1)[live]):
                    return "The next token comes from the *last* position's logits, `logits[:, -1]`, not the first."
                return ("A token you fed back is not the most likely one: greedy decoding appends "
                        "`logits[:, -1].argmax(-1)` (no sampling, no other position).")
        return None

    forward = __call__


def _greedy_probes():
    model, _, tgt_vocab = reference_model()
    real = real_batch().src
    return [(ScriptedTranslator(10, 1, 2, 0), torch.tensor([[3, 4, 5, 6, 7], [8, 9, 0, 0, 0], [4, 4, 6, 3, 0]]), 10, 1, 2, 0),
            (ScriptedTranslator(12, 10, 11, 0), torch.tensor([[3, 4, 5, 6, 7], [6, 5, 0, 0, 0]]), 4, 10, 11, 0),
            (model, real, 30, tgt_vocab.bos_id, tgt_vocab.eos_id, tgt_vocab.pad_id)]


def _greedy_calls(watched, src, bos, pad):
    """Fail with a named hint if the decode calls show a mistake (the first column, the source mask)."""
    firsts = [f for f, _ in watched.decodes if f is not None]
    if firsts and not (firsts[0] == bos).all():
        start = int(firsts[0][0])
        raise Fail(f"Your rows start with token {start}, not with <bos> ({bos}).",
                   hint="Put bos_id in the first column (`torch.full((B, 1), bos_id)`); the model learned to begin "
                        "a translation after <bos>." + (" Use the bos_id argument, not 1." if start == 1 else ""))
    truth = padding_mask(src, pad)
    masks = [m for _, m in watched.decodes]
    if watched.padded_encode and any(m is None for m in masks):
        raise Fail("`model.decode` was called without `src_mask` on a batch with padded sources.",
                   hint="Without the source mask the cross-attention reads the <pad> positions of `memory`, and "
                        "short sentences come out wrong. Build `src_mask = (src != pad_id)[:, None, None, :]` and "
                        "pass it to both: `model.encode(src, src_mask)`, `model.decode(ys, memory, src_mask)`.")
    if any(isinstance(m, torch.Tensor) and m.shape == truth.shape and torch.equal(m, ~truth) for m in masks):
        raise Fail("The `src_mask` you pass is inverted.", hint="True = may attend: True at the real source tokens, "
                   "`src != pad_id`.")


@exercise("10.greedy_decode", "Batched greedy decoding", time_limit=20.0)
def _check_greedy_decode(fn):
    expect_callable(fn, "greedy_decode")
    for model, src, n, bos, eos, pad in _greedy_probes():
        watched = _Watched(model, pad)
        with torch.no_grad():
            want = greedy_decode(model, src, max_new_tokens=n, bos_id=bos, eos_id=eos, pad_id=pad, use_cache=False)
            try:
                got = call(fn, watched, src, n, bos, eos, pad, errors=[
                    (r"query rows|key columns|src_mask", "`src_mask` must be (B, 1, 1, S): "
                     "`(src != pad_id)[:, None, None, :]` (one singleton axis for the heads, one for the queries)."),
                    ("converted to Scalar|ambiguous", "A batch has several rows: keep a bool tensor `finished` (one "
                     "entry per row) and stop when `finished.all()`, instead of `.item()` or `if tensor:`."),
                ])
            except Fail:
                _greedy_calls(watched, src, bos, pad)
                raise
        _greedy_calls(watched, src, bos, pad)
        fed = [t for t, _ in watched.steps if isinstance(t, torch.Tensor) and t.dim() == 2]
        right = isinstance(got, torch.Tensor) and got.shape == want.shape and not got.is_floating_point() and torch.equal(got.long(), want.long())
        if not right and len(fed) > 1 and all(t.size(1) == 1 for t in fed):  # (a KV cache feeds one token too)
            raise Fail("Every decoder call reads one token only: the decoder never sees the tokens before the last.",
                       hint="Run the decoder on all the tokens so far, `model.decode(ys, memory, src_mask)`, and take "
                            "the last position's logits, `[:, -1]`.")
        if isinstance(got, torch.Tensor) and got.is_floating_point():
            raise Fail(f"`tokens` has dtype {got.dtype}: token ids are integers.",
                       hint="Keep `ys` a torch.long tensor: `torch.full((B, 1), bos_id, dtype=torch.long)`, and append "
                            "the argmax (already long) without converting it.")
        if isinstance(got, torch.Tensor) and got.dim() == 2 and got.size(0) == want.size(0):
            T = want.size(1)
            if got.size(1) > n + int((got[:, 0] == bos).all()):
                raise Fail(f"Your output has {got.size(1)} columns, more than max_new_tokens = {n}.",
                           hint="Generate at most max_new_tokens tokens: `for _ in range(max_new_tokens):`.")
            if got.shape == want.shape and not (got == eos).any(1)[(want == eos).any(1)].all() and \
                    ((got != want) <= ((want == eos) & (got == pad))).all():
                raise Fail("The <eos> of each finished row was replaced by pad_id.",
                           hint="Write the token first, then mark the row finished: `next_token.masked_fill(finished, "
                                "pad_id)` with the `finished` of the *previous* step, then `finished |= next_token == eos_id`.")
            if got.size(1) == T - 1 and torch.equal(got, want[:, 1:]):
                raise Fail("Your output misses the first generated token.",
                           hint="Drop only the <bos> column: `ys[:, 1:]`.")
            if got.size(1) == T + 1 and (got[:, 0] == bos).all() and torch.equal(got[:, 1:], want):
                raise Fail("Your output starts with <bos>.", hint="Return only the generated tokens: drop the first column (`ys[:, 1:]`).")
            after = torch.cumsum((want == eos).long(), 1) - (want == eos).long() > 0  # (B, T) after a row's <eos>
            head = got[:, :T]
            if got.size(1) >= T and torch.equal(head[~after], want[~after]):  # every row right up to its <eos>
                if (head[after] != pad).any() or (got[:, T:] != pad).any():
                    raise Fail("After a row's <eos> your output goes on with other tokens.",
                               hint="Rows that finished keep generating: write pad_id in a row once it has produced "
                                    "<eos> (`next_token.masked_fill(finished, pad_id)`)" +
                                    (", and stop when every row has finished." if got.size(1) > T else "."))
                if got.size(1) > T:
                    raise Fail(f"Your output has {got.size(1)} columns: it goes on after every row has produced <eos>.",
                               hint="Stop as soon as every row has produced <eos>: keep a bool `finished` per row and "
                                    "`break` when `finished.all()`.")
            if got.size(1) == n - 1 == T - 1 and torch.equal(got, want[:, :n - 1]):
                raise Fail(f"Your output has {n - 1} columns: one step short of max_new_tokens = {n}.",
                           hint="Make max_new_tokens steps: `for _ in range(max_new_tokens):` (the <bos> column you "
                                "drop at the end is not one of them).")
            first_eos = (got == eos).any(0).nonzero()  # columns where some row has <eos>
            if got.size(1) < T and torch.equal(got, want[:, :got.size(1)]) and len(first_eos) and \
                    int(first_eos[0]) == got.size(1) - 1:
                raise Fail("Your output stops when the *first* row has produced <eos>; the others are cut short.",
                           hint="Stop when *all* rows have produced <eos> (`finished.all()`).")
            if got.size(1) < T and torch.equal(got, want[:, :got.size(1)]):
                raise Fail(f"Your output stops after {got.size(1)} steps, before every row has produced <eos> "
                           f"(the reference makes {T}).",
                           hint="Keep going until *all* rows have produced <eos> (`finished.all()`) or max_new_tokens "
                                "steps are done: `for _ in range(max_new_tokens):`.")
            if got.size(1) > 2 and (got == got[:, :1]).all() and not (want == want[:, :1]).all():
                raise Fail("Every step appends the same token.", hint="The next token comes from the *last* position's "
                           "logits, `logits[:, -1]`, not the first.")
        choice = watched.choices(pad)
        compare("tokens", got, want, axes=("B", "T"), mistakes=[(lambda got: True, choice)] if choice else [], hint=HINT_GREEDY)


@exercise("10.beam_step", "One step of beam search")
def _check_beam_step(fn):
    expect_callable(fn, "beam_step")
    g = probe_generator(100)
    lp = torch.randn(3, 7, generator=g).log_softmax(-1)
    lp[1, 4] = -0.01  # a strong continuation of the second beam: two winners come from one beam
    model, _, tgt_vocab = reference_model()
    src = real_batch().src[1:2].expand(3, -1)  # one real sentence, three beams
    with torch.no_grad():
        first = model.decode(torch.full((1, 1), tgt_vocab.bos_id), model.encode(src[:1]), padding_mask(src[:1], 0))[:, -1].log_softmax(-1)
        top, tokens = first[0].topk(3)
        ys = torch.stack([torch.full((3,), tgt_vocab.bos_id), tokens], 1)  # (K, 2)
        real = model.decode(ys, model.encode(src), padding_mask(src, 0))[:, -1].log_softmax(-1)  # (K, V)
    probes = [(lp, torch.tensor([-0.5, -1.0, -2.5]), 3), (first, torch.zeros(1), 4), (real, top, 3)]
    for log_probs, beam_scores, k in probes:
        V, total = log_probs.size(-1), beam_scores[:, None] + log_probs  # (K, V)
        scores, flat = total.flatten().topk(k)
        want = (scores, flat // V, flat % V)
        got = call(fn, log_probs, beam_scores, k, errors=[
            (r"must match the size of tensor", "Add each beam's score to its own row: `beam_scores[:, None] + "
             "log_probs` ((K, 1) + (K, V)); without `[:, None]` the K scores line up with the V tokens."),
        ])
        if isinstance(got, (tuple, list)) and len(got) == 2:
            raise Fail("Expected 3 values (scores, beam_idx, token_idx), got 2.",
                       hint="Return the new running scores too: `return scores, beam_idx, token_idx`.")
        got = expect_tuple(got, 3, ("scores", "beam_idx", "token_idx"), wants=want)
        if all(isinstance(t, torch.Tensor) for t in got) and got[0].dim() == 2:
            raise Fail(f"`scores` has shape {tuple(got[0].shape)}: the top candidates of *each* beam.",
                       hint="Compare all K x V candidates together: flatten `beam_scores[:, None] + log_probs` first, "
                            "then one `topk(beam_size)`.")
        if all(isinstance(t, torch.Tensor) for t in got) and not got[0].is_floating_point() and got[2].is_floating_point():
            raise Fail("The returned values are in the wrong order.",
                       hint="Return `(scores, beam_idx, token_idx)`: the float scores first.")
        for name, value in zip(("beam_idx", "token_idx"), got[1:]):
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                raise Fail(f"`{name}` has dtype {value.dtype}: indices are torch.long.",
                           hint="Use integer division `flat // V` and `flat % V` on topk's indices (not `/`).")
        best = total.max(-1)
        order = best.values.argsort(descending=True)[:k]
        mistakes = {
            "per beam": ((best.values[order], order, best.indices[order]),
                         "You kept the best token of *each* beam. Compare all K x V candidates together: two new beams "
                         "may extend the same old beam."),
            "no scores": (log_probs.flatten().topk(k), "The beams' running scores are ignored: a candidate's score is "
                                                       "beam_scores[k] + log_probs[k, token]."),
            "swapped": ((scores, flat % V, flat // V), "beam_idx and token_idx are swapped: flat // V is the beam, flat % V the token."),
            "flat": ((scores, flat // V, flat), "token_idx is the flat index into the K x V candidates; split it: token = flat % V."),
            "ascending": (total.flatten().topk(k, largest=False), "You took the *lowest* scores; keep the highest."),
            "token only": ((log_probs.flatten()[flat], flat // V, flat % V), "The right candidates, but the scores you "
                           "return are the tokens' own log-probs: return the running totals beam_scores[k] + "
                           "log_probs[k, token] (the values `topk` gave you)."),
            "exp": ((scores.exp(), flat // V, flat % V), "The right candidates, but you returned probabilities (exp): "
                    "return the running log-probability scores beam_scores[k] + log_probs[k, token]."),
            "by K, other order": ((scores, flat // log_probs.size(0), flat % log_probs.size(0)),
                                  "Split the flat index by the vocabulary size V (beam = flat // V, token = flat % V), not by K."),
            "by K": ((scores, flat % log_probs.size(0), flat // log_probs.size(0)),
                     "Split the flat index by the vocabulary size V (beam = flat // V, token = flat % V), not by K."),
            "product": ((beam_scores[:, None] * log_probs).flatten().topk(k), "Log-probabilities *add* up: a candidate's "
                                                                               "score is beam_scores[k] + log_probs[k, token]."),
            "probabilities": ((beam_scores.exp()[:, None] + log_probs.exp()).flatten().topk(k), "Stay with "
                              "log-probabilities (no exp): a candidate's score is beam_scores[k] + log_probs[k, token]."),
        }
        for (wrong, hint) in mistakes.values():
            wrong = wrong if len(wrong) == 3 else (wrong[0], wrong[1] // V, wrong[1] % V)
            if all(isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.double(), b.double())
                   for a, b in zip(got, wrong)) and not all(torch.equal(a.double(), b.double()) for a, b in zip(wrong, want)):
                raise Fail("Your beam step equals what a known mistake gives.", hint=hint)
        mistakes = [
            (lambda s: s.numel() > 1 and (s[1:] > s[:-1] + 1e-6).any(), "Sort the winners best first (topk does, with "
                                                                         "sorted=True; a plain sort ascends)."),
            (lambda s: s.numel() == k and all(bool(torch.isclose(total.flatten().double(), v, atol=1e-5).any()) for v in s.double()) and
             not torch.allclose(s.double(), scores.double(), atol=1e-5), "These are candidates' scores, but not the best "
             f"{k}: take `topk(beam_size)` over all K x V candidates."),
        ]
        for name, value, w in zip(("scores", "beam_idx", "token_idx"), got, want):
            compare(name, value, w, axes=("beam",), mistakes=mistakes if name == "scores" else [], hint=HINT_BEAM)


@exercise("10.length_penalty", "Rank finished hypotheses with a length penalty")
def _check_length_penalty(fn):
    expect_callable(fn, "length_normalised_score")
    log_prob = -torch.rand(6, generator=probe_generator(102)) * 12
    n = torch.tensor([1.0, 3.0, 5.0, 8.0, 12.0, 20.0])
    for a in (0.6, 1.0, 0.0):
        got, want = call(fn, log_prob, n, a), log_prob / gnmt_length_penalty(n, a)
        compare("scores", got, want, axes=("hypotheses",), mistakes=[
            (log_prob / n ** a, "You divided by length^alpha. The GNMT penalty is ((5 + length) / 6)^alpha."),
            (log_prob * gnmt_length_penalty(n, a), "Multiplied instead of divided: divide log P by the penalty."),
            (log_prob / gnmt_length_penalty(n, 1.0), "alpha is ignored: raise the penalty to the power alpha."),
            (log_prob / gnmt_length_penalty(n, 1 - a), "The exponent is alpha itself, not 1 - alpha."),
            (log_prob / (5.0 + n / 6.0) ** a, "Brackets: the penalty is ((5 + length) / 6) ** alpha; here the "
                                             "division by 6 only hits length."),
            (log_prob / (5.0 + n) ** a / 6.0, "Brackets: divide (5 + length) by 6 *before* raising to alpha."),
            (-want, "The sign flipped: divide the (negative) log-probability by the (positive) penalty, no minus."),
            (log_prob - gnmt_length_penalty(n, a), "Divide log P by the penalty; you subtracted it."),
            (log_prob / ((6.0 + n) / 5.0) ** a, "5 and 6 swapped: the penalty is ((5 + length) / 6) ** alpha."),
            (log_prob / n, "You divided by the length (a plain average per token); the GNMT penalty is "
                           "((5 + length) / 6) ** alpha."),
            (log_prob / ((5.0 + n) / 6.0) * a, "alpha is an exponent: ((5 + length) / 6) ** alpha, not times alpha."),
            (log_prob / (((5.0 + n) / 6.0) * a) if a else None, "alpha is an exponent: ((5 + length) / 6) ** alpha, "
                                                               "not times alpha."),
            (log_prob / ((5.0 + n) / 6.0 ** a), "Brackets: `(5 + length) / 6 ** alpha` raises only 6 to alpha; "
                                                "write `((5 + length) / 6) ** alpha`."),
            (log_prob / (5.0 + n / 6.0 ** a), "Brackets: the penalty is ((5 + length) / 6) ** alpha."),
            (log_prob / (1.0 + n) ** a, "The GNMT penalty is ((5 + length) / 6) ** alpha."),
            *[(log_prob / ((c + n) / 6.0) ** a, f"The constant is 5, not {c:g}: ((5 + length) / 6) ** alpha (a hypothesis "
               "of length 1 gets penalty 1).") for c in (0.0, 1.0, 6.0)],
            (log_prob / gnmt_length_penalty(n, 0.6), "alpha is fixed at 0.6 in your code: use the alpha argument "
                                                     "(the check also uses 1.0 and 0.0)."),
            constant_factor(want),
        ], hint=HINT_LENGTH)


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


@exercise("10.kv_cache_step", "One decoding step with a key/value cache")
def _check_kv_cache_step(fn):
    expect_callable(fn, "kv_cache_step")
    for q, k, v in _cache_probes():
        cache, outs = None, []
        for t in range(q.size(2)):
            step = (q[:, :, t:t + 1], k[:, :, t:t + 1], v[:, :, t:t + 1])
            got = expect_tuple(call(fn, *step, cache, what=f"`kv_cache_step` (at step {t})", errors=[
                (r"must match except in dimension (2|-2)", "The pieces you concatenate have different widths: keys "
                 "with values. The cache is (k, v), in that order: `k_past, v_past = cache`, then "
                 "`k = torch.cat([k_past, k_new], dim=-2)`, `v = torch.cat([v_past, v_new], dim=-2)`."),
                ("size of tensor|must match the size|shapes cannot be multiplied|same leading", "The cache grew along the wrong axis: "
                 "concatenate along time, `torch.cat([k_past, k_new], dim=-2)` (B, H, T, d_k)."),
            ]), 2, ("out", "cache"))
            out, new_cache = got
            k_all, v_all = k[:, :, :t + 1], v[:, :, :t + 1]
            want = attention(step[0], k_all, v_all)[0]  # (B, H, 1, d_v)
            if isinstance(new_cache, torch.Tensor) and isinstance(out, (tuple, list)):
                raise Fail("`out` and `cache` are swapped.", hint="Return `(out, (k, v))`: the output first.")
            if isinstance(out, torch.Tensor) and out.shape[:-1] == want.shape[:-1] and out.size(-1) == k.size(-1) != v.size(-1):
                raise Fail(f"`out` has width {out.size(-1)} = d_k; expected d_v = {v.size(-1)}.",
                           hint="The output is the weighted sum of the *values*: `weights @ v`, not of the keys.")
            mistakes = [(attention(*step)[0], "The new query attends only to the new key. Concatenate the cached keys "
                                             "and values with the new ones first, then attend over all of them.")]
            hint_first = ("You attended over the cache before adding the new position: append k_new and v_new *first*, "
                          "so the new position also attends to itself, then attend.")
            hint_only_first = ("Only the first position is attended: no mask is needed here, every cached position is "
                               "in the past.")
            if t == 1 and isinstance(out, torch.Tensor) and out.shape == want.shape and \
                    torch.allclose(out.double(), v_all[:, :, :1].double(), atol=1e-5, rtol=1e-4):  # both mistakes give this at step 1
                q2 = q[:, :, 2:3]
                again = call(fn, q2, k[:, :, 2:3], v[:, :, 2:3], (k[:, :, :2], v[:, :, :2]), what="`kv_cache_step`")
                again = again[0] if isinstance(again, (tuple, list)) and again else again
                if isinstance(again, torch.Tensor) and again.shape == want.shape:
                    again = again.double()
                    if torch.allclose(again, attention(q2, k[:, :, :2], v[:, :, :2])[0].double(), atol=1e-5, rtol=1e-4):
                        raise Fail(f"`out (step {t})` is not right: it equals what a known mistake gives.", hint_first)
                    if torch.allclose(again, v[:, :, :1].double(), atol=1e-5, rtol=1e-4):
                        raise Fail(f"`out (step {t})` is not right: it equals what a known mistake gives.", hint_only_first)
            if t > 1:
                mistakes.append((attention(step[0], k[:, :, :t], v[:, :, :t])[0], hint_first))
            mistakes += [
                       ((step[0] @ k_all.transpose(-2, -1)).softmax(-1) @ v_all, "The scores are not scaled: divide "
                                                                                 "q·k by sqrt(d_k)."),
                       (v_all.sum(-2, keepdim=True), "Every weight is 1: the softmax went over the query axis (of "
                                                     "size 1). Take it over the keys, the last axis."),
                       (v_all[:, :, :1], "Only the first position is attended: no mask is needed here, every "
                                         "cached position is in the past.")]
            scores_t = step[0] @ k_all.transpose(-2, -1)
            mistakes += [((scores_t / c).softmax(-1) @ v_all, f"The scores are divided by {what}; divide by sqrt(d_k) = "
                          f"{math.sqrt(q.size(-1)):.3g}, the width of q and k.")
                         for c, what in ((math.sqrt(t + 1), "sqrt(number of cached positions)"),
                                         (float(q.size(-1)), "d_k (not its square root)"),
                                         (math.sqrt(v.size(-1)), "sqrt(d_v)")) if abs(c - math.sqrt(q.size(-1))) > 1e-6]
            if isinstance(out, torch.Tensor) and out.shape == want.shape[:2] + want.shape[3:]:
                raise Fail(f"`out` has shape {tuple(out.shape)}: the query axis (of size 1) is gone.",
                           hint="Keep it: out is (B, H, 1, d_v), like q (no squeeze).")
            compare(f"out (step {t})", out, want, axes=("B", "H", "T_q", "d_v"), mistakes=mistakes, hint=HINT_KV)
            order = [t] + list(range(t))  # the new position first: the same output, the cache out of time order
            kk, vv = expect_tuple(new_cache, 2, ("k", "v"))
            if t > 0 and isinstance(kk, torch.Tensor) and kk.dim() == 4 and 1 < kk.size(-2) < t + 1:
                raise Fail(f"At step {t} the returned cache holds {kk.size(-2)} positions instead of {t + 1}.",
                           hint="Keep every past position in the cache; don't cut it to a window.")
            if t > 0 and any(isinstance(c, torch.Tensor) and c.shape == n.shape for c, n in ((kk, step[1]), (vv, step[2]))):
                raise Fail(f"The returned cache holds only the new position (step {t}).",
                           hint="Return the concatenated keys and values, so the next step can use them.")
            if t > 0 and isinstance(kk, torch.Tensor) and kk.shape == k_all.shape and torch.equal(kk, k[:, :, order]):
                raise Fail("The new key is at the *start* of the cache.",
                           hint="Append at the end: `torch.cat([k_past, k_new], dim=-2)`, so the cache stays in time order.")
            if isinstance(kk, torch.Tensor) and isinstance(vv, torch.Tensor) and kk.shape == v_all.shape and \
                    vv.shape == k_all.shape and torch.equal(kk, v_all) and torch.equal(vv, k_all):
                raise Fail("The cache is returned as (v, k).", hint="The cache is (k, v), in that order: "
                           "`return out, (k, v)` (and unpack it as `k_past, v_past = cache`).")
            compare(f"cache k (step {t})", kk, k_all, axes=("B", "H", "T", "d_k"))
            compare(f"cache v (step {t})", vv, v_all, axes=("B", "H", "T", "d_v"))
            cache, outs = new_cache, outs + [out]
        compare("the cached steps, stacked", torch.cat(outs, dim=-2), attention(q, k, v, causal_mask(q.size(2)))[0],
                axes=("B", "H", "T", "d_v"))
    return "Step by step with the cache equals causal attention over the whole sequence."
