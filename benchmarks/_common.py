"""Shared bits of the benchmark scripts: the machine description and a same-size
`torch.nn.Transformer` baseline with the interface course_utils.run.decoding expects.
Its masks cross into torch.nn through course_utils.transformer.torch_border."""

import datetime as _dt
import math
import os
import platform

import torch
from torch import nn

from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.positional import PositionalEncoding
from course_utils.transformer.torch_border import to_torch_key_padding_mask, to_torch_masks


def machine_line() -> str:
    """One line: date, CPU model and count, torch threads, load average."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = "n/a"
    if hasattr(os, "getloadavg"):
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    gpu = ""
    if torch.cuda.is_available():
        gpu = f", GPU {torch.cuda.get_device_name(0)}"
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{date}; {cpu} ({os.cpu_count()} logical CPUs){gpu}; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads; load average {load}")


class TorchTransformerBaseline(nn.Module):
    """The same model built from `torch.nn.Transformer`: same sizes, embeddings scaled by
    sqrt(d_model), the same sinusoidal positions, post-LN, an output projection.

    torch.nn speaks the opposite mask dialect (True = blocked), so our masks (True = may
    attend) are converted at this border by torch_border. Has `encode`/`decode` so
    course_utils.run.decoding can drive it (no cache).
    """

    def __init__(self, src_vocab_size, tgt_vocab_size, d_model=64, n_heads=4, n_layers=2, d_ff=256,
                 max_len=64, pad_id=0):
        super().__init__()
        self.d_model, self.pad_id = d_model, pad_id
        self.src_embed = nn.Embedding(src_vocab_size, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, d_model)
        self.src_pos = PositionalEncoding(d_model, max_len)
        self.tgt_pos = PositionalEncoding(d_model, max_len)
        self.transformer = nn.Transformer(d_model, n_heads, n_layers, n_layers, d_ff, dropout=0.0,
                                          batch_first=True, norm_first=False)
        self.out_proj = nn.Linear(d_model, tgt_vocab_size)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def encode(self, src, src_mask=None):
        if src_mask is None:
            src_mask = padding_mask(src, self.pad_id)  # (B, 1, 1, S)
        x = self.src_pos(self.src_embed(src) * math.sqrt(self.d_model))
        return self.transformer.encoder(x, src_key_padding_mask=to_torch_key_padding_mask(src_mask))

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None, offset=0, cache=None):
        if cache is not None:
            raise ValueError("the torch.nn baseline has no key/value cache; decode with use_cache=False")
        T = tgt.size(1)
        if tgt_mask is None:
            tgt_mask = causal_mask(T, tgt.device)
        memory_pad = None if src_mask is None else to_torch_key_padding_mask(src_mask)  # (B, S) True = pad
        attn_mask, _ = to_torch_masks(tgt_mask)  # (T, T) True = blocked
        x = self.tgt_pos(self.tgt_embed(tgt) * math.sqrt(self.d_model), offset=offset)
        x = self.transformer.decoder(x, memory, tgt_mask=attn_mask, memory_key_padding_mask=memory_pad)
        return self.out_proj(x)

    def forward(self, src, tgt):
        memory_pad = to_torch_key_padding_mask(padding_mask(src, self.pad_id))  # (B, S) True = pad
        x = self.src_pos(self.src_embed(src) * math.sqrt(self.d_model))
        y = self.tgt_pos(self.tgt_embed(tgt) * math.sqrt(self.d_model))
        attn_mask, _ = to_torch_masks(causal_mask(tgt.size(1), tgt.device))  # (T, T) True = blocked
        out = self.transformer(x, y, tgt_mask=attn_mask, src_key_padding_mask=memory_pad,
                               tgt_key_padding_mask=to_torch_key_padding_mask(padding_mask(tgt, self.pad_id)),
                               memory_key_padding_mask=memory_pad)
        return self.out_proj(out)

    def new_cache(self):
        raise ValueError("the torch.nn baseline has no key/value cache; decode with use_cache=False")
