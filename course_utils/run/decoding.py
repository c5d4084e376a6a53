"""From a trained model to translations: greedy decoding, beam search, and the
key/value cache that makes decoding one token at a time fast (step 8 of the macro flow).

Shapes: B batch · K beams · S source length · T generated length · V target vocab.

Both decoders start every sequence from <bos>, feed the model its own previous output,
and stop a sequence once it has produced <eos> (later positions hold `pad_id`). With
`use_cache=True` the decoder keeps every earlier position's keys and values
(course_utils.transformer.layers.KVCache) and feeds only the newest token at each step; without it,
it re-runs the whole prefix at every step. The tokens are the same; only the work differs.
"""

import torch

from course_utils.transformer.masks import causal_mask, padding_mask


def greedy_decode(model, src, max_new_tokens: int | None = None, bos_id: int = 1, eos_id: int = 2,
                  pad_id: int | None = None, src_mask=None, use_cache: bool = True) -> torch.Tensor:
    """Batched greedy decoding: at each step take the single most likely next token.

    Shapes:
        src (B, S) ids -> (B, T) ids with T <= max_new_tokens, <bos> not included,
        each row ending with <eos> (then `pad_id`) unless it ran out of steps.
    """
    src, src_mask, pad_id, max_new_tokens = _prepare(model, src, src_mask, pad_id, max_new_tokens)
    with _inference(model):
        memory = model.encode(src, src_mask)  # (B, S, d_model)
        ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long, device=src.device)  # (B, 1)
        finished = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
        cache = model.new_cache() if use_cache else None
        for t in range(max_new_tokens):
            logits = _next_token_logits(model, ys, memory, src_mask, cache, t)  # (B, V)
            next_token = logits.argmax(dim=-1).masked_fill(finished, pad_id)
            ys = torch.cat([ys, next_token[:, None]], dim=1)  # (B, t + 2)
            finished |= next_token == eos_id
            if finished.all():
                break
    return ys[:, 1:]  # (B, T)


def gnmt_length_penalty(length: torch.Tensor, alpha: float) -> torch.Tensor:
    """((5 + length) / 6) ** alpha (Wu et al. 2016), the length penalty the Transformer
    paper used with alpha = 0.6. A hypothesis is ranked by log P / penalty, so alpha > 0
    stops beam search from preferring short outputs just because they multiply fewer
    probabilities; alpha = 0 ranks by log P alone."""
    return ((5.0 + length) / 6.0) ** alpha


def beam_search(model, src, beam_size: int = 4, length_penalty: float = 0.6, max_new_tokens: int | None = None,
                bos_id: int = 1, eos_id: int = 2, pad_id: int | None = None, src_mask=None,
                use_cache: bool = True, return_scores: bool = False):
    """Batched beam search: keep the `beam_size` best partial translations of every
    sentence, extend each by every token, keep the best `beam_size` again.

    Hypotheses are ranked by log P(y | x) / gnmt_length_penalty(len(y), length_penalty).
    A hypothesis that has produced <eos> is finished: it keeps its score and competes
    with the unfinished ones until every beam of every sentence is finished.

    Shapes:
        src (B, S) ids -> the best hypothesis per sentence (B, T), T <= max_new_tokens,
        laid out as greedy_decode's output. With `return_scores`, also (B,) normalised
        log-probabilities of those hypotheses.
    """
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_search: beam_size must be an int >= 1, got {beam_size!r}")
    if isinstance(length_penalty, bool) or not isinstance(length_penalty, (int, float)) or length_penalty < 0:
        raise ValueError(f"beam_search: length_penalty must be a number >= 0, got {length_penalty!r}")
    src, src_mask, pad_id, max_new_tokens = _prepare(model, src, src_mask, pad_id, max_new_tokens)
    B, K, device = src.size(0), beam_size, src.device
    with _inference(model):
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
        for t in range(max_new_tokens):
            logits = _next_token_logits(model, ys, memory, src_mask, cache, t)  # (B * K, V)
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
    return (out, best_score) if return_scores else out


def translate_batch(model, src_vocab, tgt_vocab, sentences, beam_size: int = 1, batch_size: int = 256,
                    max_new_tokens: int | None = None, length_penalty: float = 0.6,
                    use_cache: bool = True) -> list[list[str]]:
    """Translate token lists (e.g. `pair.src`) into target token lists, `batch_size` at a
    time, with greedy decoding (beam_size=1) or beam search."""
    if isinstance(sentences, (str, bytes)) or not all(isinstance(s, (list, tuple)) for s in sentences):
        raise TypeError("translate_batch: sentences must be a list of token lists, e.g. [['i', 'see', 'a', 'cat']]")
    device = next(model.parameters()).device
    results = []
    for start in range(0, len(sentences), batch_size):
        chunk = [src_vocab.encode(list(s)) for s in sentences[start:start + batch_size]]
        src = torch.full((len(chunk), max(1, max(map(len, chunk)))), src_vocab.pad_id, dtype=torch.long)
        for i, ids in enumerate(chunk):
            src[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        src = src.to(device)
        kw = dict(max_new_tokens=max_new_tokens, bos_id=tgt_vocab.bos_id, eos_id=tgt_vocab.eos_id,
                  pad_id=tgt_vocab.pad_id, use_cache=use_cache)
        if beam_size == 1:
            out = greedy_decode(model, src, **kw)
        else:
            out = beam_search(model, src, beam_size=beam_size, length_penalty=length_penalty, **kw)
        results += [tgt_vocab.decode(row, strip_special=True) for row in _rows_until_eos(out, tgt_vocab.eos_id)]
    return results


def evaluate(model, pairs, src_vocab, tgt_vocab, beam_size: int = 1, batch_size: int = 256,
             length_penalty: float = 0.6, bleu: bool = True) -> dict:
    """Translate `pairs` (course_utils.corpus.data.Pair) and score them against their references.

    Returns {"exact_match": float in [0, 1], "bleu": float in [0, 100] (if `bleu`),
    "hypotheses": list of token lists}.
    """
    from course_utils.corpus.metrics import corpus_bleu, exact_match

    hyps = translate_batch(model, src_vocab, tgt_vocab, [p.src for p in pairs], beam_size=beam_size,
                           batch_size=batch_size, length_penalty=length_penalty)
    refs = [list(p.tgt) for p in pairs]
    result = {"exact_match": exact_match(hyps, refs)}
    if bleu:
        result["bleu"] = corpus_bleu(hyps, refs)
    result["hypotheses"] = hyps
    return result


# -- helpers ----------------------------------------------------------------------------
def _prepare(model, src, src_mask, pad_id, max_new_tokens):
    if not isinstance(src, torch.Tensor) or src.dim() != 2 or src.dtype.is_floating_point:
        shape = tuple(src.shape) if isinstance(src, torch.Tensor) else type(src).__name__
        raise ValueError(f"src must be a (B, S) tensor of token ids, got {shape}")
    config = getattr(model, "config", None)
    if pad_id is None:
        pad_id = getattr(config, "pad_id", 0)
    if src_mask is None:
        src_mask = padding_mask(src, pad_id)  # (B, 1, 1, S)
    max_len = getattr(config, "max_len", None)
    if max_new_tokens is None:
        max_new_tokens = 2 * src.size(1) + 10
        if max_len is not None:
            max_new_tokens = min(max_new_tokens, max_len)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    if max_len is not None and max_new_tokens > max_len:
        raise ValueError(f"max_new_tokens={max_new_tokens} exceeds the model's max_len={max_len} "
                         "(<bos> plus the generated tokens need positions)")
    return src, src_mask, pad_id, max_new_tokens


def _next_token_logits(model, ys, memory, src_mask, cache, t):
    """Scores for the token after `ys` (B, t + 1). With a cache, feed only the newest
    token at position t; without, re-run the whole prefix under a causal mask."""
    if cache is not None:
        return model.decode(ys[:, -1:], memory, src_mask, offset=t, cache=cache)[:, -1]  # (B, V)
    tgt_mask = causal_mask(ys.size(1), ys.device)  # (t + 1, t + 1)
    return model.decode(ys, memory, src_mask, tgt_mask=tgt_mask)[:, -1]  # (B, V)


def _trim_padding(out, pad_id):
    keep = (out != pad_id).any(dim=0).nonzero()
    return out[:, : int(keep.max()) + 1] if keep.numel() else out[:, :1]


def _rows_until_eos(out, eos_id):
    rows = []
    for row in out.tolist():
        rows.append(row[: row.index(eos_id) + 1] if eos_id in row else row)
    return rows


class _inference:
    """Context: eval mode (no dropout) and no autograd, restoring the mode after."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.was_training = self.model.training
        self.model.eval()
        self.no_grad = torch.no_grad()
        self.no_grad.__enter__()

    def __exit__(self, *exc):
        self.no_grad.__exit__(*exc)
        self.model.train(self.was_training)
        return False
