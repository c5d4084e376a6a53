"""Checks of lesson 11 (capstone): right assemblies in several styles pass; an assembled Transformer with a known
assembly mistake is named by that mistake, not by "differs" (answers from the independent answer set, issue 11,
and the capstone points of issue 19: softmax on the logits, encode(src, None), a float64 positional table, a
causal-only target mask, which changes only the logits at the padded target positions)."""

import math

import torch
from checks_answers import answer_set_tests, fails_with
from torch import nn

from course_utils.transformer import Transformer as CourseTransformer
from course_utils.transformer import TransformerConfig
from course_utils.transformer.layers import DecoderLayer, EncoderLayer
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.positional import sinusoidal_encoding

PAD = 0


def assembled(src_table="src_embed", tgt_table="tgt_embed", src_pe=True, enc_layers=None, enc_mask=True,
              pe_len_axis=1, dec_masks="right", project=True, factor="sqrt", repeat_first=False, cross_self=False,
              out="logits", encode_none="build", pe_dtype=torch.float32, tgt_padding=True):
    """A learner's Transformer written from the course's layers, with one assembly choice changed."""
    class Transformer(CourseTransformer):
        def __init__(self, src_vocab_size, tgt_vocab_size, d_model=128, n_heads=4, n_layers=2, d_ff=256, max_len=64):
            super().__init__(TransformerConfig(src_vocab_size, tgt_vocab_size, d_model=d_model, n_heads=n_heads,
                                               n_layers=n_layers, d_ff=d_ff, max_len=max_len, dropout=0.0))
            self.d = d_model
            self.register_buffer("pe", sinusoidal_encoding(max_len, d_model).to(pe_dtype), persistent=False)

        def encode(self, src, src_mask=None):
            if src_mask is None and encode_none == "build":
                src_mask = padding_mask(src, PAD)
            scale = math.sqrt(self.d) if factor == "sqrt" else self.d
            x = getattr(self, src_table)(src) * scale
            if src_pe:
                x = x + self.pe[:src.size(pe_len_axis)]
            layers = self.encoder.layers if enc_layers is None else self.encoder.layers[:enc_layers]
            if repeat_first:
                layers = [self.encoder.layers[0]] * len(self.encoder.layers)
            for layer in layers:
                x = layer(x, src_mask if enc_mask else None)
            return x

        def forward(self, src, tgt):
            src_mask = padding_mask(src, PAD)
            x = self.encode(src, src_mask)
            scale = math.sqrt(self.d) if factor == "sqrt" else self.d
            T = tgt.size(1)
            tgt_mask = padding_mask(tgt, PAD) & causal_mask(T) if tgt_padding else causal_mask(T)
            y = getattr(self, tgt_table)(tgt) * scale + self.pe[:T]
            for layer in self.decoder.layers:
                if cross_self:
                    y = layer(y, y, tgt_mask, None)
                else:
                    y = layer(y, x, tgt_mask, src_mask) if dec_masks == "right" else layer(y, x, src_mask, tgt_mask)
            if not project:
                return y
            logits = self.out_proj(y)
            return {"logits": logits, "softmax": logits.softmax(-1), "log_softmax": logits.log_softmax(-1)}[out]
    return Transformer


class Stack(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class FromLayers(nn.Module):
    """A second style: the course's layers in the capstone's skeleton, masks built inline, sqrt as a tensor."""

    def __init__(self, src_vocab_size, tgt_vocab_size, d_model=64, n_heads=4, n_layers=2, d_ff=256, max_len=64,
                 pad_id=0):
        super().__init__()
        self.d_model, self.pad_id = d_model, pad_id
        self.src_embed = nn.Embedding(src_vocab_size, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, d_model)
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)
        self.encoder = Stack([EncoderLayer(d_model, n_heads, d_ff) for _ in range(n_layers)])
        self.decoder = Stack([DecoderLayer(d_model, n_heads, d_ff) for _ in range(n_layers)])
        self.out_proj = nn.Linear(d_model, tgt_vocab_size)

    def encode(self, src, src_mask=None):
        src_mask = src_mask if src_mask is not None else (src != self.pad_id).unsqueeze(1).unsqueeze(2)
        x = self.src_embed(src) * torch.tensor(float(self.d_model)).sqrt() + self.pe[: src.shape[1]]
        for layer in self.encoder.layers:
            x = layer(x, src_mask)
        return x

    def decode(self, tgt, memory, src_mask=None):
        T = tgt.shape[1]
        keep = (tgt != self.pad_id)[:, None, None, :] & torch.tril(torch.ones(T, T, dtype=torch.bool))
        x = self.tgt_embed(tgt) * self.d_model ** 0.5 + self.pe[:T]
        for layer in self.decoder.layers:
            x = layer(x, memory, keep, src_mask)
        return self.out_proj(x)

    def forward(self, src, tgt):
        src_mask = (src != self.pad_id)[:, None, None, :]
        return self.decode(tgt, self.encode(src, src_mask), src_mask)


class Unbatched(FromLayers):
    """A third style: decode loops over the layers with enumerate and builds the target mask with masked_fill."""

    def decode(self, tgt, memory, src_mask=None):
        T = tgt.size(-1)
        causal = ~torch.ones(T, T).triu(1).bool()
        x = self.tgt_embed(tgt).mul(math.sqrt(self.d_model)).add(self.pe[:T])
        for _, layer in enumerate(self.decoder.layers):
            x = layer(x, memory, padding_mask(tgt, self.pad_id) & causal, src_mask)
        return self.out_proj(x)


RIGHT = {"11.transformer": [assembled(), FromLayers, Unbatched]}
WRONG = {"11.transformer": [
    (assembled(tgt_table="src_embed"), "`self.tgt_embed(tgt)`"),
    (assembled(src_pe=False), "encode adds no positions"),
    (assembled(enc_layers=1), "Only the first encoder layer runs"),
    (assembled(enc_mask=False), "encoder layers get no mask"),
    (assembled(pe_len_axis=0), "`pe[:S]` with S = src.size(1)"),
    (assembled(dec_masks="swapped"), "A mask does not fit its attention"),
    (assembled(project=False), "self.out_proj(x)"),
    (assembled(factor="d"), "not by d_model"), (assembled(repeat_first=True), "again and again"),
    (assembled(cross_self=True), "decoder's own states"),
    (assembled(out="softmax"), "applies softmax to the logits"),
    (assembled(out="log_softmax"), "log-probabilities"),
    (assembled(encode_none="ignore"), "`encode(src, None)` must build the padding mask"),
    (assembled(pe_dtype=torch.float64), "`sinusoidal_encoding` it was built with returns float64"),
    (assembled(tgt_padding=False), "only the causal mask"),
]}

(test_right_answers_pass, test_wrong_answers_name_the_mistake,
 test_every_exercise_has_three_right_and_three_wrong_answers) = answer_set_tests(RIGHT, WRONG)


def test_too_small_vocabularies_are_named_before_training_is_judged():
    model = assembled()(40, 40, d_model=32, n_heads=4, n_layers=1, d_ff=64)
    fails_with("11.train", {"model": model, "train_seconds": 10.0}, "corpus vocabulary has")
