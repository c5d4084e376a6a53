"""The encoder-decoder Transformer, configured by one frozen, validated dataclass.

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
from torch import nn

from course_utils.transformer.layers import Decoder, Encoder, new_decoder_cache
from course_utils.transformer.masks import causal_mask, check_mask, padding_mask
from course_utils.transformer.positional import LearnedPositionalEncoding, PositionalEncoding


@dataclass(frozen=True)
class TransformerConfig:
    """Everything that fixes the model's shape. Checked on creation.

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
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "n_heads", "n_layers", "d_ff", "max_len"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int):
                raise TypeError(f"TransformerConfig.{name} must be an int, got {type(val).__name__} ({val!r})")
            if val < 1:
                raise ValueError(f"TransformerConfig.{name} must be >= 1, got {val}")
        if self.d_model % self.n_heads:
            raise ValueError(f"TransformerConfig: d_model={self.d_model} is not divisible by "
                             f"n_heads={self.n_heads}; each head needs d_model / n_heads dimensions")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"TransformerConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if self.positional not in ("sinusoidal", "learned"):
            raise ValueError(f"TransformerConfig.positional must be 'sinusoidal' or 'learned', got {self.positional!r}")
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError("TransformerConfig.share_embeddings needs one vocabulary, but "
                             f"src_vocab_size={self.src_vocab_size} != tgt_vocab_size={self.tgt_vocab_size}")
        if not 0 <= self.pad_id < min(self.src_vocab_size, self.tgt_vocab_size):
            raise ValueError(f"TransformerConfig.pad_id={self.pad_id} is outside the vocabularies")

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
        """Steps 1-3. src (B, S) -> memory (B, S, d_model)."""
        self._check_tokens(src, "src", self.config.src_vocab_size)
        if src_mask is None:
            src_mask = padding_mask(src, self.config.pad_id)
        x = self.src_pos(self.src_embed(src) * math.sqrt(self.config.d_model))  # (B, S, d_model)
        return self.encoder(x, src_mask)

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None, offset: int = 0, cache=None) -> torch.Tensor:
        """Steps 4-7. tgt (B, T), memory (B, S, d_model) -> logits (B, T, V_tgt).

        `src_mask` is the encoder's padding mask (B, 1, 1, S); `tgt_mask` defaults to
        padding & causal, (B, 1, T, T).

        Incremental decoding: pass `cache=self.new_cache()` and feed the target one token
        at a time with `offset` = the number of tokens already fed. The cache then holds
        every earlier position's keys and values, so without a `tgt_mask` the new token
        sees all of them (nothing later exists yet, so nothing needs masking).
        """
        self._check_tokens(tgt, "tgt", self.config.tgt_vocab_size)
        if not isinstance(memory, torch.Tensor) or memory.dim() != 3 or memory.size(-1) != self.config.d_model:
            shape = tuple(memory.shape) if isinstance(memory, torch.Tensor) else type(memory).__name__
            raise ValueError(f"memory must have shape (B, S, d_model={self.config.d_model}), got {shape}")
        if memory.size(0) != tgt.size(0):
            raise ValueError(f"batch sizes differ: tgt has {tgt.size(0)} sequences, memory has {memory.size(0)}")
        if tgt_mask is None and cache is None:
            tgt_mask = padding_mask(tgt, self.config.pad_id) & causal_mask(tgt.size(1), tgt.device)
        x = self.tgt_pos(self.tgt_embed(tgt) * math.sqrt(self.config.d_model), offset=offset)  # (B, T, d_model)
        x = self.decoder(x, memory, tgt_mask, src_mask, cache=cache)
        return self.out_proj(x)  # (B, T, V_tgt)

    def new_cache(self) -> list:
        """An empty key/value cache for incremental decoding: one
        {"self": KVCache, "cross": KVCache} per decoder layer."""
        return new_decoder_cache(self.config.n_layers)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None) -> torch.Tensor:
        """Teacher-forced pass: src (B, S), tgt (B, T) -> logits (B, T, V_tgt)."""
        self._check_tokens(src, "src", self.config.src_vocab_size)
        self._check_tokens(tgt, "tgt", self.config.tgt_vocab_size)
        if src.size(0) != tgt.size(0):
            raise ValueError(f"batch sizes differ: src has {src.size(0)} sequences, tgt has {tgt.size(0)}")
        if src_mask is None:
            src_mask = padding_mask(src, self.config.pad_id)
        else:
            check_mask(src_mask, T_k=src.size(1), name="src_mask")
        memory = self.encode(src, src_mask)
        return self.decode(tgt, memory, src_mask, tgt_mask)

    def _check_tokens(self, ids, name: str, vocab_size: int) -> None:
        if not isinstance(ids, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
        if ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            raise TypeError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
        if ids.dim() != 2:
            raise ValueError(f"{name} must have shape (B, length), got {tuple(ids.shape)}")
        if ids.size(1) > self.config.max_len:
            raise ValueError(f"{name} has length {ids.size(1)}, longer than max_len={self.config.max_len}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
            bad = int(ids.max()) if int(ids.max()) >= vocab_size else int(ids.min())
            raise ValueError(f"{name} holds token id {bad}, outside the vocabulary [0, {vocab_size})")


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters; tied/shared weights are counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
