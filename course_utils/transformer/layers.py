"""transformer layer · the Transformer's building blocks: multi-head attention, feed-forward, the two layers,
and the encoder and decoder stacks.

Shapes: B batch · H heads · T_q/T_k query/key positions · S/T source/target length ·
d_model model width · d_k = d_model / H head width · d_ff feed-forward width.

Every layer has a `norm_first` switch: False (the default) is post-LN as in the paper,
x = LayerNorm(x + Sublayer(x)); True is pre-LN, x = x + Sublayer(LayerNorm(x)), which
most modern models use because it trains more stably when stacked deep.
"""

import torch
from torch import nn

from course_utils.base.validate import boolean, positive_int, probability, tensor
from course_utils.transformer.attention import attention, sdpa_attention
from course_utils.transformer.masks import check_mask

# The largest model (or block) the course builds: 2**31 parameters, 8 GiB of float32
# weights, a thousand times the paper's base model. Larger sizes are refused at once with
# this reason instead of exhausting the machine's memory (or its patience) while building.
MAX_PARAMETERS = 2**31
MAX_LAYERS = 1024  # the paper stacks 6, the course 2


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(B, T, d_model) -> (B, H, T, d_k): give every head its own slice of the width.
    Built by hand in lesson 05 (the exercise `split_heads`)."""
    tensor("split_heads: x", x, ndim=3, shape="(B, T, d_model)")
    positive_int("split_heads: n_heads", n_heads)
    B, T, d_model = x.shape
    if d_model % n_heads:
        raise ValueError(f"split_heads: the width d_model={d_model} of x {tuple(x.shape)} is not divisible by "
                         f"n_heads={n_heads}; each head gets d_model / n_heads dimensions")
    return x.view(B, T, n_heads, d_model // n_heads).transpose(1, 2)  # (B, H, T, d_k)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, T, d_k) -> (B, T, H * d_k): concatenate the heads again.
    Built by hand in lesson 05 (the exercise `merge_heads`)."""
    tensor("merge_heads: x", x, ndim=4, shape="(B, H, T, d_k)")
    B, H, T, d_k = x.shape
    return x.transpose(1, 2).reshape(B, T, H * d_k)  # (B, T, d_model)


class KVCache:
    """The keys and values one attention module has already computed while decoding.
    Built by hand in lesson 10 (section 4, the exercise `kv_cache_step`).

    Decoding one token at a time, the decoder would recompute the keys and values of
    every earlier position at every step. A cache keeps them instead:
    - self-attention (`static=False`): each step's new k, v are appended along the
      position axis, so step t projects one token, not t;
    - cross-attention (`static=True`): the k, v of the encoder's memory never change,
      so they are computed at the first step and reused.

    Shapes:
        k, v (B, H, T_cached, d_k).
    """

    def __init__(self, static: bool = False):
        self.static = boolean("KVCache: static", static)
        self.k = None
        self.v = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.size(2)

    @property
    def filled(self) -> bool:
        return self.k is not None

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store this step's k, v (after the cached ones) and return all of them."""
        tensor("KVCache.append: k", k, kind="float", ndim=4, shape="(B, H, T_new, d_k)")
        tensor("KVCache.append: v", v, kind="float", ndim=4, shape="(B, H, T_new, d_k)")
        if self.k is not None and not self.static and (
                self.k.shape[:2] != k.shape[:2] or self.k.size(3) != k.size(3) or self.v.size(3) != v.size(3)):
            raise ValueError(f"KVCache.append: the cache holds k {tuple(self.k.shape)}, the new k is "
                             f"{tuple(k.shape)}: batch, heads and width must match (a new batch needs a new cache)")
        if self.k is not None and not self.static:
            k = torch.cat([self.k, k], dim=2)  # (B, H, T_cached + T_new, d_k)
            v = torch.cat([self.v, v], dim=2)  # (B, H, T_cached + T_new, d_k)
        self.k, self.v = k, v
        return k, v

    def reorder(self, index: torch.Tensor) -> None:
        """Keep the rows `index` of the batch (beam search reshuffles its beams)."""
        if self.k is not None:
            self.k, self.v = self.k.index_select(0, index), self.v.index_select(0, index)


def new_decoder_cache(n_layers: int) -> list[dict[str, KVCache]]:
    """One {"self": KVCache, "cross": KVCache(static)} per decoder layer.
    Used in lesson 10 (section 4)."""
    positive_int("new_decoder_cache: n_layers", n_layers, max=MAX_LAYERS, hint="one cache per decoder layer")
    return [{"self": KVCache(), "cross": KVCache(static=True)} for _ in range(n_layers)]


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017, sec. 3.2.2).
    Built by hand in lesson 05 (the exercise `MultiHeadAttention`).

    Each head projects the inputs with its own slice of `w_q, w_k, w_v`, attends, and
    the heads' outputs are concatenated and mixed by `w_o`.

    Shapes:
        x_q (B, T_q, d_model) gives the queries; x_kv (B, T_k, d_model) the keys and
        values (x_kv is x_q for self-attention, the encoder's memory for cross-attention).
        mask: bool, broadcastable to (B, H, T_q, T_k); True = may attend.
        returns (B, T_q, d_model). `last_weights` keeps (B, H, T_q, T_k), detached.

    `fast=True` uses `F.scaled_dot_product_attention` (same numbers; `last_weights` is
    then None because the fused kernel does not return them).

    `cache` (a KVCache) is for decoding one token at a time: the keys and values of
    earlier positions come from the cache instead of being recomputed (see KVCache).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True, fast: bool = False):
        super().__init__()
        _check_dims("MultiHeadAttention", d_model=d_model, n_heads=n_heads)
        _check_size("MultiHeadAttention", 4 * (d_model * d_model + d_model))
        probability("MultiHeadAttention: dropout", dropout)
        boolean("MultiHeadAttention: bias", bias)
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.fast = boolean("MultiHeadAttention: fast", fast)
        self.last_weights = None

    def forward(self, x_q: torch.Tensor, x_kv: torch.Tensor, mask: torch.Tensor | None = None,
                cache: KVCache | None = None) -> torch.Tensor:
        _check_input(x_q, self.d_model, "MultiHeadAttention: x_q")
        _check_input(x_kv, self.d_model, "MultiHeadAttention: x_kv")
        if x_q.size(0) != x_kv.size(0):
            raise ValueError(f"MultiHeadAttention: x_q has batch size {x_q.size(0)} but x_kv has {x_kv.size(0)}")
        weight_dtype = self.w_q.weight.dtype
        for name, x in (("x_q", x_q), ("x_kv", x_kv)):
            if x.dtype != weight_dtype:
                raise TypeError(f"MultiHeadAttention: {name} has dtype {x.dtype} but the module's weights are "
                                f"{weight_dtype}; convert the input (x.to({weight_dtype})) or the module")
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"MultiHeadAttention: cache must be a KVCache or None, got {type(cache).__name__}")
        if cache is not None and cache.filled and cache.k.size(0) != x_q.size(0):
            raise ValueError(f"MultiHeadAttention: the cache holds a batch of {cache.k.size(0)} but x_q has "
                             f"{x_q.size(0)}; start a new cache for a new batch")
        q = split_heads(self.w_q(x_q), self.n_heads)  # (B, H, T_q, d_k)
        if cache is not None and cache.static and cache.filled:
            k, v = cache.k, cache.v  # the memory's keys and values, computed at the first step
        else:
            k = split_heads(self.w_k(x_kv), self.n_heads)  # (B, H, T_k, d_k)
            v = split_heads(self.w_v(x_kv), self.n_heads)  # (B, H, T_k, d_k)
            if cache is not None:
                k, v = cache.append(k, v)  # (B, H, T_cached + T_k, d_k)
        if mask is not None:
            check_mask(mask, q.size(2), k.size(2), "MultiHeadAttention: mask", B=q.size(0), H=self.n_heads)
        if not isinstance(self.fast, bool):  # the attribute can be set after construction
            raise TypeError(f"MultiHeadAttention.fast must be True or False, got {type(self.fast).__name__} "
                            f"({self.fast!r})")
        if self.fast:
            p = self.dropout.p if self.training else 0.0
            out, weights = sdpa_attention(q, k, v, mask, dropout_p=p)
        else:
            out, weights = attention(q, k, v, mask, dropout=self.dropout)
        self.last_weights = None if weights is None else weights.detach()
        return self.w_o(merge_heads(out))  # (B, T_q, d_model)


class FeedForward(nn.Module):
    """Position-wise feed-forward network: FFN(x) = max(0, x W_1 + b_1) W_2 + b_2.
    Built by hand in lesson 08 (section 1, the exercise `feed_forward`).

    The only non-linearity of a layer apart from the softmax; applied to every position
    on its own.

    Shapes:
        x (B, T, d_model) -> (B, T, d_model), via (B, T, d_ff).
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        _check_dims("FeedForward", d_model=d_model, d_ff=d_ff)
        _check_size("FeedForward", 2 * d_model * d_ff + d_model + d_ff)
        probability("FeedForward: dropout", dropout)
        self.d_model = d_model
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tensor("FeedForward: x", x, kind="float", min_ndim=1)
        if x.size(-1) != self.d_model:
            raise ValueError(f"FeedForward: x must have shape (..., d_model={self.d_model}), got {tuple(x.shape)}")
        if x.dtype != self.w_1.weight.dtype:
            raise TypeError(f"FeedForward: x has dtype {x.dtype} but the module's weights are {self.w_1.weight.dtype}; "
                            f"convert the input (x.to({self.w_1.weight.dtype})) or the module")
        return self.w_2(self.dropout(torch.relu(self.w_1(x))))


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each wrapped in residual + LayerNorm.
    Built by hand in lesson 08 (the exercise `encoder_layer`).

    Shapes:
        x (B, S, d_model), mask broadcastable to (B, H, S, S) -> (B, S, d_model).
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0, norm_first: bool = False):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ffn = FeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.norm_first = boolean("EncoderLayer: norm_first", norm_first)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_first:
            h = self.norm1(x)
            x = x + self.dropout1(self.self_attn(h, h, mask))
            return x + self.dropout2(self.ffn(self.norm2(x)))
        x = self.norm1(x + self.dropout1(self.self_attn(x, x, mask)))
        return self.norm2(x + self.dropout2(self.ffn(x)))


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention over the encoder's memory, feed-forward;
    each wrapped in residual + LayerNorm.

    Shapes:
        x (B, T, d_model), memory (B, S, d_model),
        tgt_mask broadcastable to (B, H, T, T), memory_mask to (B, H, T, S)
        -> (B, T, d_model).

    Built by hand in lesson 08 (the exercise `decoder_layer`).
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0, norm_first: bool = False):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ffn = FeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.norm_first = boolean("DecoderLayer: norm_first", norm_first)

    def forward(self, x, memory, tgt_mask=None, memory_mask=None, cache=None) -> torch.Tensor:
        """`cache`: None, or {"self": KVCache(), "cross": KVCache(static=True)} for
        decoding one token at a time (see `new_decoder_cache`)."""
        _check_input(memory, self.self_attn.d_model, "DecoderLayer: memory")
        if cache is not None and not (isinstance(cache, dict) and isinstance(cache.get("self"), KVCache)
                                      and isinstance(cache.get("cross"), KVCache)):
            raise TypeError('DecoderLayer: cache must be None or {"self": KVCache(), "cross": KVCache(static=True)} '
                            f"(one entry of new_decoder_cache), got {type(cache).__name__}")
        self_cache, cross_cache = (None, None) if cache is None else (cache["self"], cache["cross"])
        if self.norm_first:
            h = self.norm1(x)
            x = x + self.dropout1(self.self_attn(h, h, tgt_mask, cache=self_cache))
            x = x + self.dropout2(self.cross_attn(self.norm2(x), memory, memory_mask, cache=cross_cache))
            return x + self.dropout3(self.ffn(self.norm3(x)))
        x = self.norm1(x + self.dropout1(self.self_attn(x, x, tgt_mask, cache=self_cache)))
        x = self.norm2(x + self.dropout2(self.cross_attn(x, memory, memory_mask, cache=cross_cache)))
        return self.norm3(x + self.dropout3(self.ffn(x)))


class Encoder(nn.Module):
    """A stack of `n_layers` EncoderLayers. `final_norm` adds a LayerNorm at the top,
    which pre-LN stacks need (their last residual sum is never normalised).

    Shapes:
        x (B, S, d_model), mask broadcastable to (B, H, S, S) -> memory (B, S, d_model).

    Stacked in lesson 08.
    """

    def __init__(self, n_layers, d_model, n_heads, d_ff, dropout=0.0, norm_first=False, final_norm=False):
        super().__init__()
        _check_dims("Encoder", n_layers=n_layers, d_model=d_model, n_heads=n_heads, d_ff=d_ff)
        positive_int("Encoder: n_layers", n_layers, max=MAX_LAYERS)
        _check_size("Encoder", n_layers * (4 * d_model * d_model + 2 * d_model * d_ff))
        boolean("Encoder: final_norm", final_norm)
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model) if final_norm else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x)


class Decoder(nn.Module):
    """A stack of `n_layers` DecoderLayers, with an optional final LayerNorm.
    Stacked in lesson 08.

    Shapes:
        x (B, T, d_model), memory (B, S, d_model) -> (B, T, d_model).
    """

    def __init__(self, n_layers, d_model, n_heads, d_ff, dropout=0.0, norm_first=False, final_norm=False):
        super().__init__()
        _check_dims("Decoder", n_layers=n_layers, d_model=d_model, n_heads=n_heads, d_ff=d_ff)
        positive_int("Decoder: n_layers", n_layers, max=MAX_LAYERS)
        _check_size("Decoder", n_layers * (8 * d_model * d_model + 2 * d_model * d_ff))
        boolean("Decoder: final_norm", final_norm)
        self.layers = nn.ModuleList(
            DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model) if final_norm else nn.Identity()

    def forward(self, x, memory, tgt_mask=None, memory_mask=None, cache=None) -> torch.Tensor:
        """`cache`: None, or one dict per layer from `new_decoder_cache(n_layers)`."""
        if cache is not None and (not isinstance(cache, list) or not all(
                isinstance(c, dict) and isinstance(c.get("self"), KVCache) and isinstance(c.get("cross"), KVCache)
                for c in cache)):
            raise TypeError("Decoder: cache must be None or the list from new_decoder_cache(n_layers): one "
                            '{"self": KVCache(), "cross": KVCache(static=True)} per layer')
        if cache is not None and len(cache) != len(self.layers):
            raise ValueError(f"Decoder: cache has {len(cache)} entries, expected one per layer ({len(self.layers)})")
        for i, layer in enumerate(self.layers):
            x = layer(x, memory, tgt_mask, memory_mask, cache=None if cache is None else cache[i])
        return self.norm(x)


def _check_dims(owner: str, **dims) -> None:
    for name, val in dims.items():
        positive_int(f"{owner}: {name}", val)
    if "d_model" in dims and "n_heads" in dims and dims["d_model"] % dims["n_heads"]:
        raise ValueError(f"{owner}: d_model={dims['d_model']} is not divisible by n_heads={dims['n_heads']}: "
                         "each head gets d_model / n_heads dimensions")


def _check_size(owner: str, n_parameters: int) -> None:
    if n_parameters > MAX_PARAMETERS:
        raise ValueError(f"{owner}: these sizes make about {n_parameters:.2e} parameters "
                         f"({4 * n_parameters / 2**30:.0f} GiB of float32 weights), more than the "
                         f"{MAX_PARAMETERS:.2e} the course allows; make d_model, d_ff or n_layers smaller")


def _check_input(x, d_model: int, name: str) -> None:
    tensor(name, x, kind="float")
    if x.dim() != 3 or x.size(-1) != d_model:
        raise ValueError(f"{name} must have shape (B, T, d_model={d_model}), got {tuple(x.shape)}")
