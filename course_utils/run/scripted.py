"""run layer · a scripted stand-in for a trained translation model (lesson 10 and its checks).

`ScriptedTranslator` needs no training and no weights: after <bos> it "translates" a source
sentence by writing its real tokens in reverse order, then <eos>. Lesson 10 decodes with it
before the trained model, and the grader of `10.greedy_decode` probes answers with it (the
special-token ids change between probes). It pickles, like every model the course hands
to learner code.

Shapes: B batch · S source length · T target length · V vocabulary.
"""

from types import SimpleNamespace

import torch
from torch import nn

from course_utils.transformer import padding_mask

__all__ = ["ScriptedTranslator"]


class ScriptedTranslator(nn.Module):
    """A stand-in for a trained model with the course Transformer's interface:
    `encode(src, src_mask=None)`, `decode(tgt, memory, src_mask=None, tgt_mask=None, ...)` -> logits
    (B, T, V), and `forward(src, tgt)`. Like a decoder that reads padded memory, it treats <pad> as a
    word when `decode` gets no `src_mask`. A prefix that does not start with <bos>, or a row that goes on
    after its <eos>, gets nonsense. With `cache=model.new_cache()` it remembers the tokens fed so far, so
    decoding one new token per step (the key/value-cache way) works too."""

    def __init__(self, vocab_size=10, bos_id=1, eos_id=2, pad_id=0):
        super().__init__()
        self.vocab_size, self.bos_id, self.eos_id, self.pad_id = vocab_size, bos_id, eos_id, pad_id
        self.config = SimpleNamespace(pad_id=pad_id, max_len=64, tgt_vocab_size=vocab_size)

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
