"""transformer layer · the Transformer's building blocks: multi-head attention, feed-forward, the two layers,
and the encoder and decoder stacks.

Shapes: B batch · H heads · T_q/T_k query/key positions · S/T source/target length ·
d_model model width · d_k = d_model / H head width · d_ff feed-forward width.

Every layer has a `norm_first` switch: False (the default) is post-LN as in the paper,
x = LayerNorm(x + Sublayer(x)); True is pre-LN, x = x + Sublayer(LayerNorm(x)), which
most modern models use because it trains more stably when stacked deep.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.base.i18n import msg
from course_utils.base.validate import boolean, positive_int, probability, tensor
from course_utils.transformer.attention import one_query_attention, unchecked_attention, unchecked_sdpa_attention
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
    - self-attention (`static=False`): each step's new k, v are written after the cached
      ones, so step t projects one token, not t. They go into a preallocated store that
      doubles when full, written in place: a step copies its own new positions, not the
      whole cache (as `torch.cat` of the old and new would);
    - cross-attention (`static=True`): the k, v of the encoder's memory never change,
      so they are computed at the first step and reused.

    Shapes:
        k, v (B, H, T_cached, d_k): views of the filled part of the store.
    """

    def __init__(self, static: bool = False):
        self.static = boolean("KVCache: static", static)
        self._k = self._v = None  # the store, (B, H, capacity, d_k); a static cache holds k, v themselves
        self._len = 0

    def __len__(self) -> int:
        return self._len

    @property
    def filled(self) -> bool:
        return self._k is not None

    @property
    def k(self) -> torch.Tensor | None:
        return self._k if self._k is None or self.static else self._k.narrow(2, 0, self._len)

    @property
    def v(self) -> torch.Tensor | None:
        return self._v if self._v is None or self.static else self._v.narrow(2, 0, self._len)

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store this step's k, v (after the cached ones) and return all of them."""
        tensor("KVCache.append: k", k, kind="float", ndim=4, shape="(B, H, T_new, d_k)")
        tensor("KVCache.append: v", v, kind="float", ndim=4, shape="(B, H, T_new, d_k)")
        if k.shape[:3] != v.shape[:3]:
            raise ValueError(msg("KVCache.append: k {k} and v {v} must have the same batch, heads and positions",
                                 k=tuple(k.shape), v=tuple(v.shape)))
        if self._k is not None and not self.static:
            if self._k.shape[:2] != k.shape[:2] or self._k.size(3) != k.size(3) or self._v.size(3) != v.size(3):
                raise ValueError(f"KVCache.append: the cache holds k {tuple(self.k.shape)}, the new k is "
                                 f"{tuple(k.shape)}: batch, heads and width must match (a new batch needs a new cache)")
            if (k.dtype, k.device, v.dtype, v.device) != (self._k.dtype, self._k.device, self._v.dtype, self._v.device):
                raise TypeError(msg("KVCache.append: the cache holds {dtype} on {device}, the new k, v are {k_dtype} "
                                    "on {k_device} and {v_dtype} on {v_device}; one cache holds one dtype on one "
                                    "device", dtype=self._k.dtype, device=self._k.device, k_dtype=k.dtype,
                                    k_device=k.device, v_dtype=v.dtype, v_device=v.device))
        return self._append(k, v)

    def _append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`append` on checked k, v: the decoder's own step calls this."""
        if self.static:
            self._k, self._v, self._len = k, v, k.size(2)
            return k, v
        n, new = self._len, k.size(2)
        if self._k is None or n + new > self._k.size(2):
            self._grow(k, v, max(2 * (n + new), 16))
        self._k.narrow(2, n, new).copy_(k)  # written in place: only the new positions are copied
        self._v.narrow(2, n, new).copy_(v)
        self._len = n = n + new
        return self._k.narrow(2, 0, n), self._v.narrow(2, 0, n)  # (B, H, T_cached + T_new, d_k)

    def _grow(self, k, v, capacity: int) -> None:
        B, H, _, d_k = k.shape
        store_k = k.new_empty(B, H, capacity, d_k)
        store_v = v.new_empty(B, H, capacity, v.size(3))
        if self._k is not None:
            store_k.narrow(2, 0, self._len).copy_(self.k)
            store_v.narrow(2, 0, self._len).copy_(self.v)
        self._k, self._v = store_k, store_v

    def reorder(self, index: torch.Tensor) -> None:
        """Keep the rows `index` of the batch (beam search reshuffles its beams)."""
        if self._k is not None:
            self._k, self._v = self._k.index_select(0, index), self._v.index_select(0, index)


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
        self._check(x_q, x_kv, mask, cache)
        return self.forward_unchecked(x_q, x_kv, mask, cache)

    def _check(self, x_q, x_kv, mask, cache) -> None:
        """Every argument check of `forward`, once; `forward_unchecked` then runs on checked inputs."""
        _check_input(x_q, self.d_model, "MultiHeadAttention: x_q")
        _check_input(x_kv, self.d_model, "MultiHeadAttention: x_kv")
        if x_q.size(0) != x_kv.size(0):
            raise ValueError(f"MultiHeadAttention: x_q has batch size {x_q.size(0)} but x_kv has {x_kv.size(0)}")
        weight = self.w_q.weight
        for name, x in (("x_q", x_q), ("x_kv", x_kv)):
            if x.dtype != weight.dtype:
                raise TypeError(f"MultiHeadAttention: {name} has dtype {x.dtype} but the module's weights are "
                                f"{weight.dtype}; convert the input (x.to({weight.dtype})) or the module")
            if x.device != weight.device:
                raise ValueError(msg("MultiHeadAttention: {name} is on {device} but the module's weights are on "
                                     "{weights}; move the input (x.to({weights!r})) or the module", name=name,
                                     device=x.device, weights=weight.device))
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"MultiHeadAttention: cache must be a KVCache or None, got {type(cache).__name__}")
        if cache is not None and cache.filled and cache.k.size(0) != x_q.size(0):
            raise ValueError(f"MultiHeadAttention: the cache holds a batch of {cache.k.size(0)} but x_q has "
                             f"{x_q.size(0)}; start a new cache for a new batch")
        if cache is not None and cache.filled and (cache.k.dtype, cache.k.device) != (weight.dtype, weight.device):
            raise TypeError(msg("MultiHeadAttention: the cache holds {dtype} on {device} but the module's weights "
                                "are {w_dtype} on {w_device}; start a new cache", dtype=cache.k.dtype,
                                device=cache.k.device, w_dtype=weight.dtype, w_device=weight.device))
        if mask is not None:
            if cache is None:
                T_k = x_kv.size(1)
            else:
                T_k = len(cache) if cache.static and cache.filled else len(cache) * (not cache.static) + x_kv.size(1)
            check_mask(mask, x_q.size(1), T_k, "MultiHeadAttention: mask", B=x_q.size(0), H=self.n_heads)
            if mask.device != weight.device:
                raise ValueError(msg("MultiHeadAttention: the mask is on {device} but the inputs are on {weights}; "
                                     "build it on their device", device=mask.device, weights=weight.device))
        if not isinstance(self.fast, bool):  # the attribute can be set after construction
            raise TypeError(f"MultiHeadAttention.fast must be True or False, got {type(self.fast).__name__} "
                            f"({self.fast!r})")

    def forward_unchecked(self, x_q, x_kv, mask=None, cache=None) -> torch.Tensor:
        """`forward` on checked inputs (the model's own layers call this)."""
        B, T_q, H, d_k = x_q.size(0), x_q.size(1), self.n_heads, self.d_k
        q = _linear(self.w_q, x_q).view(B, T_q, H, d_k).transpose(1, 2)  # (B, H, T_q, d_k)
        if cache is not None and cache.static and cache.filled:
            k, v = cache.k, cache.v  # the memory's keys and values, computed at the first step
        else:
            T_k = x_kv.size(1)
            k = _linear(self.w_k, x_kv).view(B, T_k, H, d_k).transpose(1, 2)  # (B, H, T_k, d_k)
            v = _linear(self.w_v, x_kv).view(B, T_k, H, d_k).transpose(1, 2)  # (B, H, T_k, d_k)
            if cache is not None:
                k, v = cache._append(k, v)  # (B, H, T_cached + T_k, d_k)
        if self.fast:
            out, weights = unchecked_sdpa_attention(q, k, v, mask, self.dropout.p if self.training else 0.0), None
        else:
            dropout = self.dropout if self.training and self.dropout.p else None
            out, weights = unchecked_attention(q, k, v, mask, dropout)
            weights = weights.detach()
        object.__setattr__(self, "last_weights", weights)  # a plain attribute: skip nn.Module's bookkeeping
        return _linear(self.w_o, out.transpose(1, 2).reshape(B, T_q, self.d_model))  # (B, T_q, d_model)

    def one_token_step(self, cache: KVCache, mask=None):
        """For decoding one token at a time (eval mode, no autograd): a function
        x (B, d_model) -> (B, d_model), the attention output for the newest token, the
        same numbers as `forward_unchecked` on x[:, None] with this `cache` and `mask`.
        The weights are bound once, here, so build it anew for every decoding.

        Self-attention (`cache` not static) projects q, k and v in one product with the
        three weights stacked and writes k, v into the cache; cross-attention (a static
        cache, filled by the first step) reads the memory's k, v from the cache."""
        H, d_k, d_model, fast = self.n_heads, self.d_k, self.d_model, self.fast
        weight = self.w_q.weight
        divisor = math.sqrt(d_k)
        if weight.dtype in (torch.float32, torch.float64):  # the same quotients, without converting a number per call
            divisor = torch.tensor(divisor, dtype=weight.dtype, device=weight.device)

        def attend(q, k, v, mask):
            """q (B, H, 1, d_k), k, v (B * H, T_k, d_k) -> out (B, d_model), weights (B, H, 1, T_k) or None."""
            B, T_k = q.size(0), k.size(1)
            if fast or mask is not None:
                k, v = k.view(B, H, T_k, d_k), v.view(B, H, T_k, d_k)
                if fast:  # the fused kernel keeps no weights
                    return unchecked_sdpa_attention(q, k, v, mask).view(B, d_model), None
                out, weights = unchecked_attention(q, k, v, mask)
                return out.view(B, d_model), weights
            out, weights = one_query_attention(q.reshape(B * H, 1, d_k), k, v, divisor)
            return out.view(B, d_model), weights.view(B, H, 1, T_k)

        fields = self.__dict__  # last_weights is a plain attribute (see forward_unchecked)
        w_o, b_o = self.w_o.weight, self.w_o.bias
        if cache.static:
            w_q, b_q = self.w_q.weight, self.w_q.bias
            B, _, S, _ = cache.k.shape
            k, v = cache.k.reshape(B * H, S, d_k), cache.v.reshape(B * H, S, d_k)  # fixed since the first step

            def cross(x):
                q = F.linear(x, w_q, b_q).view(x.size(0), H, 1, d_k)  # (B, H, 1, d_k)
                out, fields["last_weights"] = attend(q, k, v, mask)
                return F.linear(out, w_o, b_o)
            return cross
        linears = (self.w_q, self.w_k, self.w_v)
        w_qkv = torch.cat([layer.weight for layer in linears])  # (3 d_model, d_model)
        b_qkv = None if self.w_q.bias is None else torch.cat([layer.bias for layer in linears])

        def self_attention(x):
            B = x.size(0)
            q, k, v = F.linear(x, w_qkv, b_qkv).view(B, 3, H, 1, d_k).unbind(1)  # each (B, H, 1, d_k)
            k, v = cache._append(k, v)  # (B, H, T_cached + 1, d_k): views of the cache's store
            T_k = k.size(2)
            out, fields["last_weights"] = attend(q, k.view(B * H, T_k, d_k), v.view(B * H, T_k, d_k), None)
            return F.linear(out, w_o, b_o)
        return self_attention


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
        return self.forward_unchecked(x)

    def forward_unchecked(self, x: torch.Tensor) -> torch.Tensor:
        """`forward` on a checked input."""
        return _linear(self.w_2, _drop(self.dropout, torch.relu(_linear(self.w_1, x))))

    def one_token_step(self):
        """`forward_unchecked` in eval mode with the weights bound once (decoding one token at a time)."""
        w_1, b_1, w_2, b_2 = self.w_1.weight, self.w_1.bias, self.w_2.weight, self.w_2.bias
        return lambda x: F.linear(torch.relu(F.linear(x, w_1, b_1)), w_2, b_2)


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
        self.self_attn._check(x, x, mask, None)
        return self.forward_unchecked(x, mask)

    def forward_unchecked(self, x, mask=None):
        """`forward` on checked inputs: the sub-layers' own unchecked steps."""
        attn, ffn = _inner(self.self_attn), _inner(self.ffn)
        if self.norm_first:
            h = _norm(self.norm1, x)
            x = x + _drop(self.dropout1, attn(h, h, mask))
            return x + _drop(self.dropout2, ffn(_norm(self.norm2, x)))
        x = _norm(self.norm1, x + _drop(self.dropout1, attn(x, x, mask)))
        return _norm(self.norm2, x + _drop(self.dropout2, ffn(x)))


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
        self._check(x, memory, tgt_mask, memory_mask, cache)
        return self.forward_unchecked(x, memory, tgt_mask, memory_mask, cache)

    def _check(self, x, memory, tgt_mask, memory_mask, cache) -> None:
        _check_input(memory, self.self_attn.d_model, "DecoderLayer: memory")
        if cache is not None and not (isinstance(cache, dict) and isinstance(cache.get("self"), KVCache)
                                      and isinstance(cache.get("cross"), KVCache)):
            raise TypeError('DecoderLayer: cache must be None or {"self": KVCache(), "cross": KVCache(static=True)} '
                            f"(one entry of new_decoder_cache), got {type(cache).__name__}")
        self_cache, cross_cache = (None, None) if cache is None else (cache["self"], cache["cross"])
        self.self_attn._check(x, x, tgt_mask, self_cache)
        self.cross_attn._check(x, memory, memory_mask, cross_cache)  # x keeps its shape through the self-attention

    def forward_unchecked(self, x, memory, tgt_mask=None, memory_mask=None, cache=None):
        """`forward` on checked inputs: the sub-layers' own unchecked steps."""
        self_cache, cross_cache = (None, None) if cache is None else (cache["self"], cache["cross"])
        self_attn, cross_attn, ffn = _inner(self.self_attn), _inner(self.cross_attn), _inner(self.ffn)
        if self.norm_first:
            h = _norm(self.norm1, x)
            x = x + _drop(self.dropout1, self_attn(h, h, tgt_mask, self_cache))
            x = x + _drop(self.dropout2, cross_attn(_norm(self.norm2, x), memory, memory_mask, cross_cache))
            return x + _drop(self.dropout3, ffn(_norm(self.norm3, x)))
        x = _norm(self.norm1, x + _drop(self.dropout1, self_attn(x, x, tgt_mask, self_cache)))
        x = _norm(self.norm2, x + _drop(self.dropout2, cross_attn(x, memory, memory_mask, cross_cache)))
        return _norm(self.norm3, x + _drop(self.dropout3, ffn(x)))

    def one_token_step(self, cache, memory_mask=None):
        """For decoding one token at a time (eval mode, no autograd), once the first step
        has filled `cache` (one entry of new_decoder_cache): a function x (B, d_model) ->
        (B, d_model) for the newest token, the same numbers as `forward_unchecked` on
        x[:, None], with every weight bound once. None where a sub-layer is not the
        course's own (a subclass or a replaced module): then call the layer itself."""
        parts = ((self.self_attn, MultiHeadAttention), (self.cross_attn, MultiHeadAttention),
                 (self.ffn, FeedForward), (self.norm1, nn.LayerNorm), (self.norm2, nn.LayerNorm),
                 (self.norm3, nn.LayerNorm))
        if type(self) is not DecoderLayer or any(type(m) is not kind for m, kind in parts):
            return None
        self_attn = self.self_attn.one_token_step(cache["self"])
        cross_attn = self.cross_attn.one_token_step(cache["cross"], memory_mask)
        ffn = self.ffn.one_token_step()
        (d,), (n1, n1_b), (n2, n2_b), (n3, n3_b) = self.norm1.normalized_shape, *(
            (n.weight, n.bias) for n in (self.norm1, self.norm2, self.norm3))
        eps1, eps2, eps3 = self.norm1.eps, self.norm2.eps, self.norm3.eps
        layer_norm = F.layer_norm
        if self.norm_first:
            def step(x):
                x = x + self_attn(layer_norm(x, (d,), n1, n1_b, eps1))
                x = x + cross_attn(layer_norm(x, (d,), n2, n2_b, eps2))
                return x + ffn(layer_norm(x, (d,), n3, n3_b, eps3))
            return step

        def step(x):
            x = layer_norm(x + self_attn(x), (d,), n1, n1_b, eps1)
            x = layer_norm(x + cross_attn(x), (d,), n2, n2_b, eps2)
            return layer_norm(x + ffn(x), (d,), n3, n3_b, eps3)
        return step


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
        """Checks x and mask once (every layer takes the same shapes), then runs the layers unchecked."""
        first = self.layers[0]
        if isinstance(first, EncoderLayer):
            first.self_attn._check(x, x, mask, None)
        return self.forward_unchecked(x, mask)

    def forward_unchecked(self, x, mask=None):
        for layer in self.layers:
            x = _inner(layer)(x, mask)
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
        """`cache`: None, or one dict per layer from `new_decoder_cache(n_layers)`.
        Checks the arguments once (every layer takes the same shapes), then runs the layers unchecked."""
        if cache is not None and (not isinstance(cache, list) or not all(
                isinstance(c, dict) and isinstance(c.get("self"), KVCache) and isinstance(c.get("cross"), KVCache)
                for c in cache)):
            raise TypeError("Decoder: cache must be None or the list from new_decoder_cache(n_layers): one "
                            '{"self": KVCache(), "cross": KVCache(static=True)} per layer')
        if cache is not None and len(cache) != len(self.layers):
            raise ValueError(f"Decoder: cache has {len(cache)} entries, expected one per layer ({len(self.layers)})")
        if cache is not None and len({(len(c["self"]), c["cross"].filled) for c in cache}) > 1:
            raise ValueError(msg("Decoder: the layers' caches hold different numbers of positions; use one "
                                 "new_decoder_cache(n_layers) per decoding, fed by this decoder alone"))
        first = self.layers[0]
        if isinstance(first, DecoderLayer):
            first._check(x, memory, tgt_mask, memory_mask, None if cache is None else cache[0])
        return self.forward_unchecked(x, memory, tgt_mask, memory_mask, cache)

    def forward_unchecked(self, x, memory, tgt_mask=None, memory_mask=None, cache=None):
        for i, layer in enumerate(self.layers):
            x = _inner(layer)(x, memory, tgt_mask, memory_mask, None if cache is None else cache[i])
        return self.norm(x)


def _inner(module):
    """The module's unchecked step (`forward_unchecked`, on the course's own layers), else the module
    itself: the stack calls it on inputs it has checked once."""
    return getattr(module, "forward_unchecked", module)


def _linear(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """layer(x) without the module call's bookkeeping (hooks are not run on this path)."""
    return F.linear(x, layer.weight, layer.bias)


def _norm(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """norm(x) for the course's own nn.LayerNorm without the module call; any other norm is called."""
    if type(norm) is nn.LayerNorm:
        return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
    return norm(x)


def _drop(dropout: nn.Dropout, x: torch.Tensor) -> torch.Tensor:
    """Dropout where it does anything (training, p > 0); else x itself, at no cost."""
    return dropout(x) if dropout.training and dropout.p else x


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
