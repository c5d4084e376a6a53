"""run layer · the inference module: from a trained model to translations, scores and
attention maps (step 8 of the macro flow; lesson 10).

Greedy decoding, beam search and the key/value cache that makes decoding one token at a
time fast; `evaluate`, the one evaluation of the course (used by `course evaluate`,
training's eval hook, the benchmarks and lessons 09-10); `inference`, the one context for
running a model (eval mode, no autograd); and lesson 10's look inside a translation
(`attention_maps`, `translate_with_attention`).

Shapes: B batch · K beams · S source length · T generated length · V target vocab.

Both decoders start every sequence from <bos>, feed the model its own previous output,
and stop a sequence once it has produced <eos> (later positions hold `pad_id`). With
`use_cache=True` the decoder keeps every earlier position's keys and values
(course_utils.transformer.layers.KVCache) and feeds only the newest token at each step; without it,
it re-runs the whole prefix at every step. The tokens are the same; only the work differs.
The special ids come from the caller, else the model's config, else the course vocabulary
(`special_ids`).
"""

import contextlib

import torch

from course_utils.base import validate
from course_utils.base.i18n import msg
from course_utils.corpus.data import Vocab, pad_sequences
from course_utils.corpus.metrics import corpus_bleu, exact_match
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.model import Transformer


@contextlib.contextmanager
def inference(model):
    """Run `model`, not train it: eval mode (no dropout) and no autograd inside the block;
    the model's own mode (train or eval) comes back afterwards, also after an error.

        with inference(model):
            logits = model(src, tgt_in)
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def special_ids(model=None, bos_id: int | None = None, eos_id: int | None = None,
                pad_id: int | None = None) -> tuple[int, int, int]:
    """(bos_id, eos_id, pad_id) for decoding: an id given here wins; otherwise the model's
    config (`pad_id`, and `bos_id`/`eos_id` where the config has them); otherwise the ids
    fixed by the course vocabulary (course_utils.corpus.data.Vocab)."""
    config = getattr(model, "config", None)
    given = {"bos_id": bos_id, "eos_id": eos_id, "pad_id": pad_id}
    return tuple(validate.integer(name, value if value is not None else getattr(config, name, getattr(Vocab, name)))
                 for name, value in given.items())


def cut_at_eos(rows, eos_id: int) -> list[list[int]]:
    """Each row of ids up to and including its first <eos>; a row without one stays whole.

    Shapes:
        rows (B, T) tensor or B id lists -> B lists of lengths <= T.
    """
    if isinstance(rows, torch.Tensor):
        rows = rows.tolist()
    return [row[: row.index(eos_id) + 1] if eos_id in row else list(row) for row in rows]


def greedy_decode(model, src, max_new_tokens: int | None = None, bos_id: int | None = None,
                  eos_id: int | None = None, pad_id: int | None = None, src_mask=None,
                  use_cache: bool = True) -> torch.Tensor:
    """Batched greedy decoding: at each step take the single most likely next token.
    Built by hand in lesson 10 (section 2, and the exercise `greedy_decode`).

    Shapes:
        src (B, S) ids -> (B, T) ids with T <= max_new_tokens, <bos> not included,
        each row ending with <eos> (then `pad_id`) unless it ran out of steps.
    """
    bos_id, eos_id, pad_id = special_ids(model, bos_id, eos_id, pad_id)
    src, src_mask, max_new_tokens = _prepare(model, src, src_mask, pad_id, max_new_tokens)
    B = src.size(0)
    with inference(model), torch.inference_mode():
        memory = model.encode(src, src_mask)  # (B, S, d_model)
        ys = torch.full((B, max_new_tokens + 1), pad_id, dtype=torch.long, device=src.device)  # written in place
        ys[:, 0] = bos_id
        finished = torch.zeros(B, dtype=torch.bool, device=src.device)
        cache = model.new_cache() if use_cache else None
        step = _decoder_step(model, check_finite=False)  # checked below, with the stopping test
        for t in range(max_new_tokens):
            logits = step(ys.narrow(1, 0, t + 1), memory, src_mask, cache, t)  # (B, V)
            next_token = logits.argmax(dim=-1)
            if B > 1:  # a single row stops at its own <eos>: it is never finished here
                next_token.masked_fill_(finished, pad_id)
            ys.select(1, t + 1).copy_(next_token)
            finished |= next_token == eos_id
            if _all_finished(logits, finished, t):
                break
    return ys[:, 1 : t + 2].clone()  # (B, T); made outside inference mode, so an ordinary tensor


MAX_BEAM_SIZE = 64
# The paper used alpha = 0.6. With alpha <= 10, ((5 + T) / 6) ** alpha stays a finite float32
# for every output of up to 40,000 tokens; a huge alpha overflows it to inf, every score
# becomes -0 or NaN and finished hypotheses get extended past <eos>.
MAX_LENGTH_PENALTY = 10.0


def gnmt_length_penalty(length: torch.Tensor, alpha: float) -> torch.Tensor:
    """((5 + length) / 6) ** alpha (Wu et al. 2016), the length penalty the Transformer
    paper used with alpha = 0.6. A hypothesis is ranked by log P / penalty, so alpha > 0
    stops beam search from preferring short outputs just because they multiply fewer
    probabilities; alpha = 0 ranks by log P alone. Used in lesson 10 (beam search)."""
    return ((5.0 + length) / 6.0) ** alpha


def beam_search(model, src, beam_size: int = 4, length_penalty: float = 0.6, max_new_tokens: int | None = None,
                bos_id: int | None = None, eos_id: int | None = None, pad_id: int | None = None,
                src_mask=None, use_cache: bool = True, return_scores: bool = False):
    """Batched beam search: keep the `beam_size` best partial translations of every
    sentence, extend each by every token, keep the best `beam_size` again.

    Hypotheses are ranked by log P(y | x) / gnmt_length_penalty(len(y), length_penalty).
    A hypothesis that has produced <eos> is finished: it keeps its score and competes
    with the unfinished ones until every beam of every sentence is finished.
    Explained and compared with greedy decoding in lesson 10 (beam search).

    Shapes:
        src (B, S) ids -> the best hypothesis per sentence (B, T), T <= max_new_tokens,
        laid out as greedy_decode's output. With `return_scores`, also (B,) normalised
        log-probabilities of those hypotheses.
    """
    validate.positive_int("beam_search: beam_size", beam_size, max=MAX_BEAM_SIZE,
                          hint="each sentence keeps beam_size hypotheses and scores beam_size x vocabulary "
                               "candidates at every step; a few beams (4 in the paper) are enough")
    vocab = getattr(getattr(model, "config", None), "tgt_vocab_size", None)
    if isinstance(vocab, int) and beam_size > vocab:
        raise ValueError(msg("beam_search: beam_size={k} exceeds the target vocabulary ({v} tokens): the first "
                             "step has only {v} different hypotheses to keep", k=beam_size, v=vocab))
    validate.finite_float("beam_search: length_penalty", length_penalty, min=0.0, max=MAX_LENGTH_PENALTY)
    bos_id, eos_id, pad_id = special_ids(model, bos_id, eos_id, pad_id)
    src, src_mask, max_new_tokens = _prepare(model, src, src_mask, pad_id, max_new_tokens)
    B, K, device = src.size(0), beam_size, src.device
    with inference(model), torch.inference_mode():
        memory = model.encode(src, src_mask).repeat_interleave(K, dim=0)  # (B * K, S, d_model)
        src_mask = src_mask.repeat_interleave(K, dim=0)  # (B * K, 1, 1, S)
        ys = torch.full((B * K, 1), bos_id, dtype=torch.long, device=device)  # (B * K, 1)
        # log P of each hypothesis; only the first beam is alive at the start, so the
        # first step does not pick the same token K times from K identical beams.
        scores = torch.zeros(B, K, device=device)
        scores[:, 1:] = float("-inf")
        scores = scores.view(-1)  # (B * K,)
        lengths = torch.zeros(B * K, device=device)
        finished = torch.zeros(B * K, dtype=torch.bool, device=device)
        cache = model.new_cache() if use_cache else None
        step = _decoder_step(model)
        for t in range(max_new_tokens):
            logits = step(ys, memory, src_mask, cache, t)  # (B * K, V)
            log_probs = logits.float().log_softmax(dim=-1)
            V = log_probs.size(-1)
            # a finished hypothesis can only be extended by <pad>, at no cost
            log_probs[finished] = float("-inf")
            log_probs[finished, pad_id] = 0.0
            candidates = scores[:, None] + log_probs  # (B * K, V)
            cand_lengths = lengths + (~finished).float()  # (B * K,)
            ranked = candidates / gnmt_length_penalty(cand_lengths, length_penalty)[:, None]
            _, best = ranked.view(B, K * V).topk(K, dim=-1)  # (B, K) indices into K * V
            rows = (torch.arange(B, device=device)[:, None] * K + best // V).view(-1)  # (B * K,)
            next_token = (best % V).view(-1)  # (B * K,)
            scores = candidates.view(B, K * V).gather(1, best).view(-1)
            lengths = cand_lengths[rows]
            finished = finished[rows] | (next_token == eos_id)
            ys = torch.cat([ys[rows], next_token[:, None]], dim=1)  # (B * K, t + 2)
            if cache is not None:
                for layer_cache in cache:
                    layer_cache["self"].reorder(rows)
            if finished.all():
                break
        final = (scores / gnmt_length_penalty(lengths, length_penalty)).view(B, K)
        best_score, best_beam = final.max(dim=-1)  # (B,), (B,)
        out = ys.view(B, K, -1)[torch.arange(B, device=device), best_beam, 1:]  # (B, T)
        out = _trim_padding(out, pad_id)
    out, best_score = out.clone(), best_score.clone()  # ordinary tensors, made outside inference mode
    return (out, best_score) if return_scores else out


def translate_batch(model, src_vocab, tgt_vocab, sentences, beam_size: int = 1, batch_size: int = 256,
                    max_new_tokens: int | None = None, length_penalty: float = 0.6,
                    use_cache: bool = True) -> list[list[str]]:
    """Translate token lists (e.g. `pair.src`) into target token lists, `batch_size` at a
    time, with greedy decoding (beam_size=1) or beam search. `use_cache=False` re-runs the
    prefix at every step (for a model without a key/value cache). What `evaluate` (lessons
    09-10) translates with."""
    if isinstance(sentences, (str, bytes)) or not all(isinstance(s, (list, tuple)) for s in sentences):
        raise TypeError("translate_batch: sentences must be a list of token lists, e.g. [['i', 'see', 'a', 'cat']]")
    empty = next((i for i, s in enumerate(sentences) if len(s) == 0), None)
    if empty is not None:
        raise ValueError(f"translate_batch: sentence {empty} is empty; give at least one token")
    validate.positive_int("translate_batch: batch_size", batch_size)
    unknown = sorted({t for s in sentences for t in s if t not in src_vocab}, key=str)
    if unknown:
        first = next(i for i, s in enumerate(sentences) if any(t not in src_vocab for t in s))
        raise ValueError(msg("translate_batch: tokens {tokens} (first in sentence {i}) are not in the source "
                             "vocabulary, so they would be translated as <unk>; check typed text with "
                             "course_utils.corpus.data.english_tokens first", tokens=unknown[:10], i=first))
    device = next(model.parameters()).device
    results = []
    for start in range(0, len(sentences), batch_size):
        chunk = [src_vocab.encode(list(s)) for s in sentences[start:start + batch_size]]
        src = pad_sequences(chunk, src_vocab.pad_id).to(device)  # (B, S)
        kw = dict(max_new_tokens=max_new_tokens, bos_id=tgt_vocab.bos_id, eos_id=tgt_vocab.eos_id,
                  pad_id=tgt_vocab.pad_id, use_cache=use_cache)
        if beam_size == 1:
            out = greedy_decode(model, src, **kw)
        else:
            out = beam_search(model, src, beam_size=beam_size, length_penalty=length_penalty, **kw)
        results += [tgt_vocab.decode(row, strip_special=True) for row in cut_at_eos(out, tgt_vocab.eos_id)]
    return results


def evaluate(model, pairs, src_vocab, tgt_vocab, beam_size: int = 1, batch_size: int = 256,
             length_penalty: float = 0.6, bleu: bool = True, use_cache: bool = True) -> dict:
    """The course's one evaluation: translate `pairs` (course_utils.corpus.data.Pair) and
    score them against their references with course_utils.corpus.metrics.

    Training's eval hook is `lambda m: evaluate(m, val, src_vocab, tgt_vocab, bleu=False)["exact_match"]`;
    `use_cache=False` decodes without a key/value cache (torch.nn's Transformer has none).
    Used in lessons 09 and 10.

    Returns {"exact_match": float in [0, 1], "bleu": float in [0, 100] (if `bleu`),
    "hypotheses": list of token lists, "n": number of pairs}.
    """
    pairs = list(pairs)
    if not pairs:
        raise ValueError("evaluate: pairs is empty; need at least one sentence pair")
    hyps = translate_batch(model, src_vocab, tgt_vocab, [p.src for p in pairs], beam_size=beam_size,
                           batch_size=batch_size, length_penalty=length_penalty, use_cache=use_cache)
    refs = [list(p.tgt) for p in pairs]
    result = {"exact_match": exact_match(hyps, refs)}
    if bleu:
        result["bleu"] = corpus_bleu(hyps, refs)
    result["hypotheses"] = hyps
    result["n"] = len(pairs)
    return result


# -- looking inside (lesson 10) -----------------------------------------------------------
def attention_maps(model, src: torch.Tensor, tgt_in: torch.Tensor) -> dict:
    """Run one teacher-forced pass and collect every attention weight the model computes.
    Used in lesson 10 (what the heads look at).

    Returns {"encoder": [...], "decoder_self": [...], "cross": [...]}, one tensor per
    layer. For a batch of one sentence the batch axis is dropped.

    Shapes:
        src (B, S), tgt_in (B, T) (starting with <bos>) ->
        encoder (B, H, S, S), decoder_self (B, H, T, T), cross (B, H, T, S) per layer.
    """
    validate.tensor("attention_maps: src", src, kind="int", ndim=2, shape="(B, S)")
    validate.tensor("attention_maps: tgt_in", tgt_in, kind="int", ndim=2, shape="(B, T)")
    with inference(model):
        model(src, tgt_in)
    maps = {
        "encoder": [layer.self_attn.last_weights for layer in model.encoder.layers],
        "decoder_self": [layer.self_attn.last_weights for layer in model.decoder.layers],
        "cross": [layer.cross_attn.last_weights for layer in model.decoder.layers],
    }
    if any(w is None for ws in maps.values() for w in ws):
        raise ValueError("attention_maps: the model's attention kept no weights (fast=True attention "
                         "does not return them); build the model with the default attention")
    if src.size(0) == 1:
        maps = {kind: [w[0] for w in ws] for kind, ws in maps.items()}
    return maps


def translate_with_attention(model, src_vocab, tgt_vocab, tokens, max_new_tokens: int = 40) -> dict:
    """Greedy-translate one tokenised English sentence and collect its attention maps.
    Used in lesson 10 (what the heads look at, error analysis, the translate widget).

    Returns {"translation": list of Chinese tokens (no specials), "text": the tokens
    joined, "src_labels": source tokens, "tgt_labels": the tokens the decoder produced
    (each row of a cross-attention map is the step that produced that token, ending in
    <eos>), "maps": attention_maps(...) for the batch of one}.

    Shapes:
        maps["cross"][layer] (H, T, S) with T = len(tgt_labels), S = len(src_labels).
    """
    tokens = list(tokens)
    if not tokens:
        raise ValueError("translate_with_attention: tokens is empty; give at least one word")
    missing = [t for t in tokens if t not in src_vocab]
    if missing:
        raise ValueError(f"translate_with_attention: tokens {missing} are not in the source vocabulary "
                         "(check typed text with course_utils.corpus.data.english_tokens first)")
    device = next(model.parameters()).device
    src = torch.tensor([src_vocab.encode(tokens)], dtype=torch.long, device=device)  # (1, S)
    out = greedy_decode(model, src, max_new_tokens=max_new_tokens, bos_id=tgt_vocab.bos_id,
                        eos_id=tgt_vocab.eos_id, pad_id=tgt_vocab.pad_id)
    out = cut_at_eos(out, tgt_vocab.eos_id)[0]
    tgt_in = torch.tensor([[tgt_vocab.bos_id] + out[:-1]], dtype=torch.long, device=device)  # (1, T)
    translation = tgt_vocab.decode(out, strip_special=True)
    return {
        "translation": translation,
        "text": "".join(translation),
        "src_labels": src_vocab.decode(src[0].tolist(), strip_special=False),
        "tgt_labels": tgt_vocab.decode(out, strip_special=False),
        "maps": attention_maps(model, src, tgt_in),
    }


# -- helpers ----------------------------------------------------------------------------
def _prepare(model, src, src_mask, pad_id, max_new_tokens):
    if not isinstance(src, torch.Tensor) or src.dim() != 2 or src.dtype.is_floating_point:
        shape = tuple(src.shape) if isinstance(src, torch.Tensor) else type(src).__name__
        raise ValueError(f"src must be a (B, S) tensor of token ids, got {shape}")
    validate.token_ids("src", src)  # an integer tensor with values (not a meta tensor)
    config = getattr(model, "config", None)
    if src_mask is None:
        src_mask = padding_mask(src, pad_id)  # (B, 1, 1, S)
    max_len = getattr(config, "max_len", None)
    if max_new_tokens is None:
        max_new_tokens = 2 * src.size(1) + 10
        if max_len is not None:
            max_new_tokens = min(max_new_tokens, max_len)
    validate.positive_int("max_new_tokens", max_new_tokens)
    if max_len is not None and max_new_tokens > max_len:
        raise ValueError(f"max_new_tokens={max_new_tokens} exceeds the model's max_len={max_len} "
                         "(<bos> plus the generated tokens need positions)")
    return src, src_mask, max_new_tokens


def _decoder_step(model, check_finite: bool = True):
    """The function `step(ys, memory, src_mask, cache, t)` -> the scores (B, V) for the
    token after `ys` (B, t + 1). With a cache it feeds only the newest token, at position
    t; without, it re-runs the whole prefix under a causal mask.

    The first step goes through `model.decode`, which checks every argument; for the
    course's Transformer the later steps then run on the same, already checked memory,
    mask and cache (a step adds one token the loop chose itself): with a cache through
    `one_token_step` (every weight bound once per decoding), without one (or where
    `one_token_step` gives None, or `decode_unchecked` is replaced) through
    `decode_unchecked`. Any other model is called through its `decode` at every step.
    With `check_finite` the scores are checked for NaN and inf at every step (a token
    picked from them would be noise); greedy decoding checks them itself, together with
    its stopping test (`_all_finished`)."""
    unchecked = getattr(model, "decode_unchecked", None)
    if not isinstance(model, Transformer) or type(model).decode is not Transformer.decode:
        unchecked = None  # a model of its own, or one that changes decode: every step goes through it
    own_unchecked = (unchecked is not None and "decode_unchecked" not in vars(model)
                     and type(model).decode_unchecked is Transformer.decode_unchecked)

    full_mask = {}  # id of a source mask -> None if it blocks nothing (then every step can skip it)
    causal = [None]
    fast = [None, None, None]  # the cache and source mask one_token_step was built for, and its function

    def step(ys, memory, src_mask, cache, t):
        decode = model.decode if t == 0 or unchecked is None else unchecked
        if decode is unchecked and src_mask is not None:
            if id(src_mask) not in full_mask:
                full_mask[id(src_mask)] = None if bool(src_mask.all()) else src_mask
            src_mask = full_mask[id(src_mask)]  # an all-True mask changes no score
        one_token = None
        if cache is not None and decode is unchecked and own_unchecked:
            if fast[0] is not cache or fast[1] is not src_mask:
                fast[:] = cache, src_mask, model.one_token_step(cache, src_mask)  # built once per decoding
            one_token = fast[2]  # None where the model holds a part of its own
        if one_token is not None:
            logits = one_token(ys.select(1, t), t)  # (B, V)
        elif cache is not None:
            logits = decode(ys.narrow(1, t, 1), memory, src_mask, offset=t, cache=cache).select(1, -1)  # (B, V)
        else:
            T = ys.size(1)
            if causal[0] is None or causal[0].size(0) < T:
                causal[0] = causal_mask(max(T, 64), ys.device)  # built once, sliced at every step
            logits = decode(ys, memory, src_mask, tgt_mask=causal[0][:T, :T]).select(1, -1)  # (B, V)
        if check_finite and not bool(torch.isfinite(logits).all()):
            raise ValueError(_non_finite(t))
        return logits

    return step


def _non_finite(t: int) -> str:
    return msg("decoding step {t}: the model's scores hold NaN or inf, so the next token would be noise; its "
               "weights hold NaN or inf (did training diverge?)", t=t)


def _all_finished(logits, finished, t: int) -> bool:
    """`finished.all()`, after checking the step's scores (B, V) for NaN and inf (a
    ValueError naming step t), with one host sync for both: the scores' sum times 0 is 0
    when the sum is finite (then so is every score) and NaN otherwise, so the number read
    back is 1.0 when every row has finished, 0.0 when not, NaN when a score may not be
    finite (then they are looked at one by one: a sum of large finite scores can overflow)."""
    state = float(logits.sum().mul_(0).add_(finished.all()))
    if state == state:
        return state == 1.0
    if not bool(torch.isfinite(logits).all()):
        raise ValueError(_non_finite(t))
    return bool(finished.all())


def _trim_padding(out, pad_id):
    keep = (out != pad_id).any(dim=0).nonzero()
    return out[:, : int(keep.max()) + 1] if keep.numel() else out[:, :1]

