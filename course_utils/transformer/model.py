"""transformer layer · the encoder-decoder Transformer, configured by one frozen, validated dataclass.

Shapes: B batch · S source length · T target length · d_model model width · V vocab size.

The forward pass follows the course's eight-step macro flow:
(1) source embedding + position, (2)-(3) encoder self-attention and feed-forward -> memory,
(4) target embedding + position, (5) masked self-attention, (6) cross-attention over the
memory, (7) linear (+ softmax outside) -> next-token scores; (8) the autoregressive loop
lives in course_utils.run.decoding.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.base.i18n import msg
from course_utils.base.validate import (
    boolean,
    int_in_range,
    non_negative_int,
    one_of,
    positive_int,
    probability,
    tensor,
    token_ids,
)
from course_utils.transformer.layers import MAX_LAYERS, MAX_PARAMETERS, Decoder, Encoder, KVCache, new_decoder_cache
from course_utils.transformer.masks import causal_mask, check_mask, padding_mask
from course_utils.transformer.positional import LearnedPositionalEncoding, PositionalEncoding, check_max_len

MAX_VOCAB = 2**24  # 16.7 million tokens; the paper's shared vocabulary has 37 000


class _Required:
    """The default of an argument that must be given (shown in help() as below)."""

    def __repr__(self) -> str:
        return "<required>"


_REQUIRED = _Required()


@dataclass(frozen=True)
class TransformerConfig:
    """Everything that fixes the model's shape. Checked on creation.
    Introduced in lesson 08.

    `share_embeddings` uses one embedding table for source and target (needs one shared
    vocabulary); `tie_output` reuses the target embedding as the output projection, as
    in the paper (sec. 3.4).
    """

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 512
    n_heads: int = 8
    n_layers: int = 6
    d_ff: int = 2048
    dropout: float = 0.1
    max_len: int = 512
    norm_first: bool = False
    positional: str = "sinusoidal"
    share_embeddings: bool = False
    tie_output: bool = False
    pad_id: int = 0

    def __post_init__(self):
        for name in ("src_vocab_size", "tgt_vocab_size"):
            positive_int(f"TransformerConfig.{name}", getattr(self, name), max=MAX_VOCAB,
                         hint="larger than any vocabulary a translation model uses")
        for name in ("d_model", "n_heads", "n_layers", "d_ff"):
            positive_int(f"TransformerConfig.{name}", getattr(self, name))
        positive_int("TransformerConfig.n_layers", self.n_layers, max=MAX_LAYERS)
        check_max_len("TransformerConfig.max_len", self.max_len)
        if self.d_model % self.n_heads:
            raise ValueError(f"TransformerConfig: d_model={self.d_model} is not divisible by "
                             f"n_heads={self.n_heads}; each head needs d_model / n_heads dimensions")
        probability("TransformerConfig.dropout", self.dropout)
        for name in ("norm_first", "share_embeddings", "tie_output"):
            boolean(f"TransformerConfig.{name}", getattr(self, name))
        one_of("TransformerConfig.positional", self.positional, ("sinusoidal", "learned"))
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError("TransformerConfig.share_embeddings needs one vocabulary, but "
                             f"src_vocab_size={self.src_vocab_size} != tgt_vocab_size={self.tgt_vocab_size}")
        int_in_range("TransformerConfig.pad_id", self.pad_id, 0, min(self.src_vocab_size, self.tgt_vocab_size),
                     hint="the padding id must be a token of both vocabularies")
        if self.approx_parameters > MAX_PARAMETERS:
            raise ValueError(f"TransformerConfig describes a model of about {self.approx_parameters:.2e} "
                             f"parameters ({4 * self.approx_parameters / 2**30:.0f} GiB of float32 weights), more "
                             f"than the {MAX_PARAMETERS:.2e} this course allows; make d_model, d_ff, n_layers "
                             "or the vocabularies smaller")

    @property
    def approx_parameters(self) -> int:
        """The model's parameter count from the config alone (biases included, the output
        bias and any learned positions too), without building it."""
        d, f = self.d_model, self.d_ff
        attn, ffn, norm = 4 * (d * d + d), 2 * d * f + d + f, 2 * d
        enc, dec = attn + ffn + 2 * norm, 2 * attn + ffn + 3 * norm
        embed = self.src_vocab_size * d + (0 if self.share_embeddings else self.tgt_vocab_size * d)
        out = (0 if self.tie_output else self.tgt_vocab_size * d) + self.tgt_vocab_size
        pos = 2 * self.max_len * d if self.positional == "learned" else 0
        final = 2 * norm if self.norm_first else 0
        return self.n_layers * (enc + dec) + embed + out + pos + final

    @property
    def d_k(self) -> int:
        """Width of one head."""
        return self.d_model // self.n_heads

    @classmethod
    def paper_base(cls, vocab_size: int = 37000, **overrides) -> "TransformerConfig":
        """The paper's base model: 6+6 layers, d_model 512, 8 heads, d_ff 2048, one shared
        ~37k BPE vocabulary, embeddings shared and tied (Vaswani et al. 2017, table 3)."""
        kw = dict(src_vocab_size=vocab_size, tgt_vocab_size=vocab_size, share_embeddings=True, tie_output=True)
        kw.update(overrides)
        return cls(**kw)


class Transformer(nn.Module):
    """Encoder-decoder Transformer (Vaswani et al. 2017).
    Assembled in lesson 08, step by step along the eight-step map.

    Shapes:
        src (B, S) and tgt (B, T) integer ids -> logits (B, T, V_tgt).
        Masks default to padding masks from `config.pad_id` (and causal for the target).
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise TypeError(f"Transformer expects a TransformerConfig, got {type(config).__name__}")
        c = self.config = config
        self.src_embed = nn.Embedding(c.src_vocab_size, c.d_model)
        self.tgt_embed = self.src_embed if c.share_embeddings else nn.Embedding(c.tgt_vocab_size, c.d_model)
        Pos = PositionalEncoding if c.positional == "sinusoidal" else LearnedPositionalEncoding
        self.src_pos = Pos(c.d_model, c.max_len, c.dropout)
        self.tgt_pos = Pos(c.d_model, c.max_len, c.dropout)
        stack = dict(n_layers=c.n_layers, d_model=c.d_model, n_heads=c.n_heads, d_ff=c.d_ff,
                     dropout=c.dropout, norm_first=c.norm_first, final_norm=c.norm_first)
        self.encoder = Encoder(**stack)
        self.decoder = Decoder(**stack)
        self.out_proj = nn.Linear(c.d_model, c.tgt_vocab_size)
        self._reset_parameters()
        if c.tie_output:
            self.out_proj.weight = self.tgt_embed.weight

    def _reset_parameters(self) -> None:
        for name, p in self.named_parameters():
            if p.dim() > 1 and "pos" not in name:
                nn.init.xavier_uniform_(p)

    # -- the pieces -------------------------------------------------------------------
    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Steps 1-3. src (B, S) -> memory (B, S, d_model).

        `src_mask` defaults to the padding mask of `src`. A source sequence made only of
        padding has nothing to encode: it is refused with a ValueError naming its row.
        """
        self._check_tokens(src, "src", self.config.src_vocab_size)
        return self._encode(src, self._source_mask(src, src_mask))

    def decode(self, tgt, memory, src_mask=_REQUIRED, tgt_mask=None, offset: int = 0, cache=None) -> torch.Tensor:
        """Steps 4-7. tgt (B, T), memory (B, S, d_model) -> logits (B, T, V_tgt).

        `src_mask` must always be given: the source's padding mask (B, 1, 1, S), the one
        `encode` used (`padding_mask(src, pad_id)`), or None when no source sentence is
        padded. Forgetting it on a padded batch would let the cross-attention read the
        <pad> positions of `memory` without a word, so it has no default.
        `tgt_mask` defaults to padding & causal, (B, 1, T, T).

        Incremental decoding: pass `cache=self.new_cache()` and feed the target one token
        at a time with `offset` = the number of tokens already fed. The cache then holds
        every earlier position's keys and values, so without a `tgt_mask` the new token
        sees all of them (nothing later exists yet, so nothing needs masking).
        """
        if src_mask is _REQUIRED:
            raise TypeError("Transformer.decode: pass src_mask, the source's padding mask that encode used "
                            "(padding_mask(src, pad_id), shape (B, 1, 1, S)), or src_mask=None when no source "
                            "sentence is padded; without it the cross-attention reads the <pad> positions of memory")
        self._check_tokens(tgt, "tgt", self.config.tgt_vocab_size)
        d_model = self.config.d_model
        tensor("memory", memory, kind="float")
        if memory.dim() != 3 or memory.size(-1) != d_model:
            raise ValueError(f"memory must have shape (B, S, d_model={d_model}), got {tuple(memory.shape)}")
        if memory.size(0) != tgt.size(0):
            raise ValueError(f"batch sizes differ: tgt has {tgt.size(0)} sequences, memory has {memory.size(0)}")
        if memory.device != tgt.device or (src_mask is not None and src_mask.device != tgt.device):
            raise ValueError(msg("memory ({memory}) and src_mask ({mask}) must be on the device of tgt and the model "
                                 "({device})", memory=memory.device, device=tgt.device,
                                 mask=None if src_mask is None else src_mask.device))
        if src_mask is not None:
            _check_source_mask(src_mask, memory.size(0), self.config.n_heads, memory.size(1), "src_mask")
        non_negative_int("offset", offset)
        self._check_target_mask(tgt_mask, tgt, cache)
        x = self.tgt_pos(self.tgt_embed(tgt) * math.sqrt(self.config.d_model), offset=offset)  # checks the positions
        if tgt_mask is None and cache is None:
            tgt_mask = self._target_mask(tgt)
        x = self.decoder(x, memory, tgt_mask, src_mask, cache=cache)  # (B, T, d_model)
        return _finite_logits(self.out_proj(x), "Transformer.decode")

    def decode_unchecked(self, tgt, memory, src_mask, tgt_mask=None, offset: int = 0, cache=None) -> torch.Tensor:
        """`decode` on arguments its caller has checked: the same logits, no argument
        checks. The decoding loops of course_utils.run.decoding check their arguments once
        (the first step goes through `decode`) and run every later step through this."""
        if tgt_mask is None and cache is None:
            tgt_mask = self._target_mask(tgt)
        x = self.tgt_pos.forward_unchecked(self.tgt_embed(tgt) * math.sqrt(self.config.d_model), offset)
        x = self.decoder.forward_unchecked(x, memory, tgt_mask, src_mask, cache)  # (B, T, d_model)
        return self.out_proj(x)  # (B, T, V_tgt)

    def one_token_step(self, cache, src_mask):
        """For the decoding loops of course_utils.run.decoding, once the first step has
        filled `cache` through `decode`: a function step(tokens, offset) -> logits (B, V_tgt)
        for the newest tokens (B,) at position `offset`, the same numbers as
        `decode_unchecked(tokens[:, None], memory, src_mask, offset=offset, cache=cache)[:, -1]`
        in eval mode without autograd, with every weight bound once (build it anew for
        every decoding). None where a part of the decoder is not the course's own (a
        subclass or a replaced module): then the loops call `decode_unchecked`."""
        pos, embed, out_proj, decoder = self.tgt_pos, self.tgt_embed, self.out_proj, self.decoder
        if (type(pos) not in (PositionalEncoding, LearnedPositionalEncoding)
                or type(embed) is not nn.Embedding or embed.max_norm is not None
                or type(out_proj) is not nn.Linear or type(decoder) is not Decoder
                or type(decoder.norm) not in (nn.LayerNorm, nn.Identity)):
            return None
        if (not isinstance(cache, list) or len(cache) != len(decoder.layers)
                or not all(isinstance(c, dict) and isinstance(c.get("cross"), KVCache) and c["cross"].filled
                           and isinstance(c.get("self"), KVCache) for c in cache)):
            raise ValueError(msg("Transformer.one_token_step: cache must be this model's new_cache() after the "
                                 "first step went through decode (one filled entry per decoder layer, {n})",
                                 n=len(decoder.layers)))
        layers = [layer.one_token_step(c, src_mask) for layer, c in zip(decoder.layers, cache)]
        if any(layer is None for layer in layers):
            return None
        table = pos.pe if type(pos) is PositionalEncoding else pos.embedding.weight  # (max_len, d_model)
        emb, scale, w_out, b_out = embed.weight, math.sqrt(self.config.d_model), out_proj.weight, out_proj.bias
        table = table if table.dtype == emb.dtype else table.to(emb.dtype)
        norm = decoder.norm
        final = (lambda x: x) if type(norm) is nn.Identity else (
            lambda x: F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps))

        def step(tokens, offset):
            x = F.embedding(tokens, emb) * scale + table[offset]  # (B, d_model)
            for layer in layers:
                x = layer(x)
            return F.linear(final(x), w_out, b_out)  # (B, V_tgt)
        return step

    def new_cache(self) -> list:
        """An empty key/value cache for incremental decoding: one
        {"self": KVCache, "cross": KVCache} per decoder layer."""
        return new_decoder_cache(self.config.n_layers)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None) -> torch.Tensor:
        """Teacher-forced pass: src (B, S), tgt (B, T) -> logits (B, T, V_tgt).
        Each argument is checked once, here; the layers inside run on checked inputs."""
        self._check_tokens(src, "src", self.config.src_vocab_size)
        self._check_tokens(tgt, "tgt", self.config.tgt_vocab_size)
        if src.size(0) != tgt.size(0):
            raise ValueError(f"batch sizes differ: src has {src.size(0)} sequences, tgt has {tgt.size(0)}")
        src_mask = self._source_mask(src, src_mask)
        self._check_target_mask(tgt_mask, tgt, None)
        memory = self._encode(src, src_mask)
        if tgt_mask is None:
            tgt_mask = self._target_mask(tgt)
        x = self.tgt_pos.forward_unchecked(self.tgt_embed(tgt) * math.sqrt(self.config.d_model))  # (B, T, d_model)
        return _finite_logits(self.out_proj(self.decoder(x, memory, tgt_mask, src_mask)), "Transformer")

    # -- the steps after the token checks ----------------------------------------------
    def _encode(self, src, src_mask):
        """src checked; the encoder stack checks the mask against its shapes once."""
        x = self.src_pos.forward_unchecked(self.src_embed(src) * math.sqrt(self.config.d_model))  # (B, S, d_model)
        return self.encoder(x, src_mask)

    def _target_mask(self, tgt):
        return padding_mask(tgt, self.config.pad_id) & causal_mask(tgt.size(1), tgt.device)  # (B, 1, T, T)

    def _source_mask(self, src, src_mask):
        """The source's padding mask (or the given one, checked); refuses all-padding rows."""
        if src_mask is None:
            src_mask = padding_mask(src, self.config.pad_id)  # (B, 1, 1, S)
            empty = ~src_mask.any(dim=-1).flatten(1).all(dim=1)  # (B,)
            if empty.any():
                rows = empty.nonzero().flatten().tolist()
                raise ValueError(f"src row(s) {rows[:10]} hold only padding (pad_id={self.config.pad_id}): there is "
                                 "no token to attend to, so the translation would be noise. Remove empty sentences "
                                 "or give each at least one token (e.g. <eos>)")
            return src_mask
        _check_source_mask(src_mask, src.size(0), self.config.n_heads, src.size(1), "src_mask")
        if src_mask.device != src.device:
            raise ValueError(msg("src_mask is on {mask} but src is on {device}: build the mask on the device of src",
                                 mask=src_mask.device, device=src.device))
        return src_mask

    def _check_target_mask(self, tgt_mask, tgt, cache) -> None:
        """tgt_mask: None or a bool mask broadcastable to (B, H, T, T) (keys: the cached
        positions too, when decoding with a cache)."""
        if tgt_mask is not None:
            check_mask(tgt_mask, tgt.size(1), tgt.size(1) if cache is None else None, "tgt_mask",
                       B=tgt.size(0), H=self.config.n_heads)

    def _check_tokens(self, ids, name: str, vocab_size: int) -> None:
        token_ids(name, ids, vocab_size)
        if ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(msg("{name} holds token ids as {dtype}; the embedding looks up int64 (torch.long) or "
                                "int32 ids: convert them with .long()", name=name, dtype=ids.dtype))
        weights = self.out_proj.weight
        if ids.device != weights.device:
            raise ValueError(msg("{name} is on {device} but the model is on {model}: move the ids "
                                 "({name}.to({model!r})) or the model", name=name, device=ids.device,
                                 model=weights.device))
        if ids.size(1) > self.config.max_len:
            raise ValueError(f"{name} has length {ids.size(1)}, longer than max_len={self.config.max_len}")
        if ids.size(0) == 0 or ids.size(1) == 0:
            raise ValueError(f"{name} must hold at least one sequence of at least one token, got shape "
                             f"{tuple(ids.shape)}")


def _finite_logits(logits: torch.Tensor, who: str) -> torch.Tensor:
    """The logits, unless they hold NaN or inf (then a ValueError: the model's weights or
    its inputs hold them, and every token picked from such scores would be noise)."""
    if not bool(torch.isfinite(logits).all()):
        bad = int((~torch.isfinite(logits)).sum())
        raise ValueError(msg("{who}: the output holds {bad} non-finite value(s) (NaN or inf) of {n}: the model's "
                             "weights or inputs hold NaN or inf (did training diverge?); a token chosen from such "
                             "scores would be noise", who=who, bad=bad, n=logits.numel()))
    return logits


def _check_source_mask(mask, B: int, H: int, S: int, name: str) -> None:
    """A mask over the source positions, (B, 1, 1, S) as from `padding_mask`, or anything
    broadcastable to (B, H, T_q, S), that leaves every row at least one position."""
    check_mask(mask, T_k=S, name=name, B=B, H=H)
    empty = ~mask.any(dim=-1)  # (..., T_q)
    if empty.any():
        rows = sorted({int(i) for i in empty.nonzero()[:, 0]}) if mask.dim() == 4 else []
        which = f" for sequence(s) {rows[:10]}" if rows and mask.shape[0] > 1 else ""
        raise ValueError(f"{name} blocks every source position{which}: there is nothing to attend to. An "
                         "all-padding source sentence has no translation; remove it or give it a token")


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters; tied/shared weights are counted once.
    Used in lessons 05 and 08."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_parameters: model must be a torch.nn.Module, got {type(model).__name__}")
    boolean("count_parameters: trainable_only", trainable_only)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
