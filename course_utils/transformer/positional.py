"""Positional encodings: how the model learns *where* a token is.

Shapes: B batch · T sequence length · d_model model width.

Self-attention alone is permutation-equivariant: shuffle the tokens and the outputs
shuffle the same way, so "狗追猫" and "猫追狗" look alike. Adding a position vector to
each token breaks that symmetry.
"""

import math

import torch
from torch import nn


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """The paper's fixed encoding (Vaswani et al. 2017, sec. 3.5), interleaved:

        PE[pos, 2i]   = sin(pos / 10000^(2i / d_model))
        PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model))

    Shapes:
        returns (max_len, d_model), float32.
    """
    for name, val in (("max_len", max_len), ("d_model", d_model)):
        if isinstance(val, bool) or not isinstance(val, int):
            raise TypeError(f"sinusoidal_encoding: {name} must be an int, got {type(val).__name__}")
        if val < 1:
            raise ValueError(f"sinusoidal_encoding: {name} must be >= 1, got {val}")
    position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    angles = position * div  # (max_len, ceil(d_model / 2))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe


class _PositionBase(nn.Module):
    def _check(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__}: expected x of shape (B, T, d_model), got {shape}")
        if x.size(-1) != self.d_model:
            raise ValueError(f"{type(self).__name__}: x has width {x.size(-1)}, expected d_model={self.d_model}")
        if x.size(1) > self.max_len:
            raise ValueError(f"{type(self).__name__}: sequence length {x.size(1)} exceeds max_len={self.max_len}")


class PositionalEncoding(_PositionBase):
    """Adds the fixed sinusoidal encoding to token embeddings, then dropout.

    Shapes:
        x (B, T, d_model) -> (B, T, d_model), T <= max_len.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """`offset` shifts the positions, for decoding one token at a time."""
        self._check(x)
        if offset + x.size(1) > self.max_len:
            raise ValueError(f"PositionalEncoding: positions up to {offset + x.size(1)} exceed max_len={self.max_len}")
        return self.dropout(x + self.pe[offset : offset + x.size(1)].to(x.dtype))


class LearnedPositionalEncoding(_PositionBase):
    """The alternative: one trainable vector per position (as in BERT and GPT).

    Shapes:
        x (B, T, d_model) -> (B, T, d_model), T <= max_len.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        self._check(x)
        if offset + x.size(1) > self.max_len:
            raise ValueError(f"LearnedPositionalEncoding: positions up to {offset + x.size(1)} exceed max_len={self.max_len}")
        positions = torch.arange(offset, offset + x.size(1), device=x.device)
        return self.dropout(x + self.embedding(positions))
