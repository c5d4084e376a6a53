"""transformer layer · positional encodings: how the model learns *where* a token is.

Shapes: B batch · T sequence length · d_model model width.

Self-attention alone is permutation-equivariant: shuffle the tokens and the outputs
shuffle the same way, so "狗追猫" and "猫追狗" look alike. Adding a position vector to
each token breaks that symmetry.
"""

import math

import torch
from torch import nn

from course_utils.base.validate import finite_tensor, non_negative_int, positive_int, probability, tensor
from course_utils.transformer.masks import MAX_LEN_LIMIT, MAX_LEN_WHY


def check_table_size(owner: str, max_len: int, d_model: int) -> None:
    """A position table of max_len x d_model numbers must fit in memory (2**31 numbers, 8 GiB)."""
    if max_len * d_model > 2**31:
        raise ValueError(f"{owner}: a table of max_len x d_model = {max_len} x {d_model} numbers is too large "
                         f"(more than 2**31, 8 GiB of float32); make d_model or max_len smaller")


def check_max_len(name: str, max_len) -> int:
    """An int in [1, MAX_LEN_LIMIT], with the reason for the cap in the error."""
    return positive_int(name, max_len, max=MAX_LEN_LIMIT, hint=MAX_LEN_WHY)


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """The paper's fixed encoding (Vaswani et al. 2017, sec. 3.5), interleaved:

        PE[pos, 2i]   = sin(pos / 10000^(2i / d_model))
        PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model))

    Shapes:
        returns (max_len, d_model), float32.

    Built by hand in lesson 03 (section 3, the exercise `sinusoidal_encoding`).
    """
    check_max_len("sinusoidal_encoding: max_len", max_len)
    positive_int("sinusoidal_encoding: d_model", d_model)
    check_table_size("sinusoidal_encoding", max_len, d_model)
    position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    angles = position * div  # (max_len, ceil(d_model / 2))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe


class _PositionBase(nn.Module):
    """What both encodings share: argument checks and the positions they add."""

    def __init__(self, d_model: int, max_len: int, dropout: float):
        super().__init__()
        name = type(self).__name__
        self.d_model = positive_int(f"{name}: d_model", d_model)
        self.max_len = check_max_len(f"{name}: max_len", max_len)
        check_table_size(name, max_len, d_model)
        self.dropout = nn.Dropout(probability(f"{name}: dropout", dropout))

    def _check(self, x, offset) -> None:
        name = type(self).__name__
        if isinstance(x, torch.Tensor) and not x.dtype.is_floating_point:
            raise TypeError(f"{name}: x must be a floating-point tensor of token vectors (B, T, d_model), "
                            f"got dtype {x.dtype}; embed token ids first (nn.Embedding), or convert "
                            "vectors with x.float()")
        tensor(f"{name}: x", x, ndim=3, shape="(B, T, d_model)")
        finite_tensor(f"{name}: x", x)
        if x.size(-1) != self.d_model:
            raise ValueError(f"{name}: x has width {x.size(-1)}, expected d_model={self.d_model}")
        non_negative_int(f"{name}: offset", offset)
        if offset + x.size(1) > self.max_len:
            where = (f"positions up to {offset + x.size(1)} (offset {offset} + length {x.size(1)}) exceed" if offset
                     else f"sequence length {x.size(1)} exceeds")
            raise ValueError(f"{name}: {where} max_len={self.max_len}")


class PositionalEncoding(_PositionBase):
    """Adds the fixed sinusoidal encoding to token embeddings, then dropout.
    Built by hand in lesson 03 (the exercise `embed_with_positions`).

    Shapes:
        x (B, T, d_model), floating point -> (B, T, d_model), same dtype; offset + T <= max_len.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__(d_model, max_len, dropout)
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """`offset` (>= 0) shifts the positions, for decoding one token at a time."""
        self._check(x, offset)
        return self.forward_unchecked(x, offset)

    def forward_unchecked(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """`forward` on a checked x and offset (the model's decoding step calls this)."""
        pe = self.pe.narrow(0, offset, x.size(1))
        out = x + (pe if pe.dtype == x.dtype else pe.to(x.dtype))
        return self.dropout(out) if self.training and self.dropout.p else out


class LearnedPositionalEncoding(_PositionBase):
    """The alternative: one trainable vector per position (as in BERT and GPT).
    Shown in lesson 03 (section 5).

    Shapes:
        x (B, T, d_model), floating point -> (B, T, d_model); offset + T <= max_len.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__(d_model, max_len, dropout)
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """`offset` (>= 0) shifts the positions, for decoding one token at a time."""
        self._check(x, offset)
        return self.forward_unchecked(x, offset)

    def forward_unchecked(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """`forward` on a checked x and offset (the model's decoding step calls this)."""
        out = x + self.embedding.weight[offset : offset + x.size(1)].to(x.dtype)
        return self.dropout(out) if self.training and self.dropout.p else out
