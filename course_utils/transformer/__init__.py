"""transformer: the model a learner builds, lesson by lesson (03-08).

    masks -> attention -> positional -> layers -> model

Lessons import the finished pieces from here, e.g.
``from course_utils.transformer import causal_mask, MultiHeadAttention``.
Imports only from base.
"""

from course_utils.transformer.attention import attention, sdpa_attention  # noqa: F401
from course_utils.transformer.intuition import attention_weights, normalize_weights, softmax, weighted_sum  # noqa: F401
from course_utils.transformer.layers import (  # noqa: F401
    Decoder,
    DecoderLayer,
    Encoder,
    EncoderLayer,
    FeedForward,
    KVCache,
    MultiHeadAttention,
    merge_heads,
    new_decoder_cache,
    split_heads,
)
from course_utils.transformer.masks import causal_mask, check_mask, padding_mask, to_torch_nn_mask  # noqa: F401
from course_utils.transformer.model import Transformer, TransformerConfig, count_parameters  # noqa: F401
from course_utils.transformer.positional import LearnedPositionalEncoding, PositionalEncoding, sinusoidal_encoding  # noqa: F401
from course_utils.transformer.torch_border import (  # noqa: F401
    copy_layer_weights,
    copy_mha_weights,
    to_torch_key_padding_mask,
    to_torch_masks,
    to_torch_mha,
)
