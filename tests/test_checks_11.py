"""Checks of lesson 11 (capstone): an assembled Transformer with a known assembly mistake is named by
that mistake, not by "differs" (answers from the independent answer set, issue 11)."""

import math

import pytest
import torch

from checks_answers import fails_with, passes
from course_utils.transformer import Transformer as CourseTransformer
from course_utils.transformer import TransformerConfig
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.positional import sinusoidal_encoding

PAD = 0


def assembled(src_table="src_embed", tgt_table="tgt_embed", src_pe=True, enc_layers=None, enc_mask=True,
              pe_len_axis=1, dec_masks="right", project=True, factor="sqrt", repeat_first=False, cross_self=False):
    """A learner's Transformer written from the course's layers, with one assembly choice changed."""
    class Transformer(CourseTransformer):
        def __init__(self, src_vocab_size, tgt_vocab_size, d_model=128, n_heads=4, n_layers=2, d_ff=256, max_len=64):
            super().__init__(TransformerConfig(src_vocab_size, tgt_vocab_size, d_model=d_model, n_heads=n_heads,
                                               n_layers=n_layers, d_ff=d_ff, max_len=max_len, dropout=0.0))
            self.d = d_model
            self.register_buffer("table", sinusoidal_encoding(max_len, d_model), persistent=False)

        def forward(self, src, tgt):
            src_mask = padding_mask(src, PAD)
            scale = math.sqrt(self.d) if factor == "sqrt" else self.d
            x = getattr(self, src_table)(src) * scale
            if src_pe:
                x = x + self.table[:src.size(pe_len_axis)]
            layers = self.encoder.layers if enc_layers is None else self.encoder.layers[:enc_layers]
            if repeat_first:
                layers = [self.encoder.layers[0]] * len(self.encoder.layers)
            for layer in layers:
                x = layer(x, src_mask if enc_mask else None)
            T = tgt.size(1)
            tgt_mask = padding_mask(tgt, PAD) & causal_mask(T)
            y = getattr(self, tgt_table)(tgt) * scale + self.table[:T]
            for layer in self.decoder.layers:
                if cross_self:
                    y = layer(y, y, tgt_mask, None)
                else:
                    y = layer(y, x, tgt_mask, src_mask) if dec_masks == "right" else layer(y, x, src_mask, tgt_mask)
            return self.out_proj(y) if project else y
    return Transformer


def test_the_assembled_transformer_passes():
    passes("11.transformer", assembled())


@pytest.mark.parametrize("answer,phrase", [
    (assembled(tgt_table="src_embed"), "`self.tgt_embed(tgt)`"),
    (assembled(src_pe=False), "encode adds no positions"),
    (assembled(enc_layers=1), "Only the first encoder layer runs"),
    (assembled(enc_mask=False), "encoder layers get no mask"),
    (assembled(pe_len_axis=0), "`pe[:S]` with S = src.size(1)"),
    (assembled(dec_masks="swapped"), "A mask does not fit its attention"),
    (assembled(project=False), "self.out_proj(x)"),
    (assembled(factor="d"), "not by d_model"), (assembled(repeat_first=True), "again and again"),
    (assembled(cross_self=True), "decoder's own states"),
])
def test_assembly_mistakes_are_named(answer, phrase):
    fails_with("11.transformer", answer, phrase)


def test_too_small_vocabularies_are_named_before_training_is_judged():
    model = assembled()(40, 40, d_model=32, n_heads=4, n_layers=1, d_ff=64)
    fails_with("11.train", {"model": model, "train_seconds": 10.0}, "corpus vocabulary has")
