"""course layer · lesson 11 (the capstone): the learner's parts, gathered and checked; the graders of the
assembled model and of its training run.

    parts = gather_parts(globals(), exercises="../exercises")   # yours, else the course's
    parts.table()                                               # which part came from where
    check("11.transformer", Transformer)   # forward == course_utils' Transformer, same weights
    check("11.train", run)                 # >= 95 % exact match on the test split, in time

Where a part comes from, in order: the learner's definition in the capstone notebook
(`namespace`); the answer cell of the learner's saved exercise notebook (`exercises`); the
course's own version. A learner's part is used only if its lesson's check passes; otherwise
the course's version stands in and the table says why.

Shapes: B batch · S source / T target positions · V vocabulary · d_model.
"""

from __future__ import annotations

import json
import math
import os
import time
import types
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.course.checks import Fail, Pending, call, check, compare, exercise, expect_class
from course_utils.corpus.data import BOS_ID, EOS_ID, PAD_ID, build_vocabs, make_splits, pad_sequences
from course_utils.run.train import label_smoothed_loss as _course_loss
from course_utils.run.train import warmup_lr as _course_warmup_lr
from course_utils.transformer.attention import attention as _course_attention
from course_utils.transformer.layers import MultiHeadAttention as _CourseMHA
from course_utils.transformer.layers import merge_heads as _course_merge_heads
from course_utils.transformer.layers import split_heads as _course_split_heads
from course_utils.transformer.masks import causal_mask as _course_causal_mask
from course_utils.transformer.masks import padding_mask as _course_padding_mask
from course_utils.transformer.positional import sinusoidal_encoding as _course_sinusoidal
from course_utils.transformer.model import Transformer as CourseTransformer
from course_utils.transformer.model import TransformerConfig

# The capstone's time limit for training on 2 CPU cores (seconds of training, evaluations
# excluded) and the exact match it must reach on the test split.
TIME_LIMIT_S = 240
TARGET_EXACT_MATCH = 0.95


# ----------------------------------------------------------------------------- the course's parts
def _course_encoder_layer(layer, x, mask):
    h = layer.norm1(x + layer.self_attn(x, x, mask))
    return layer.norm2(h + layer.ffn(h))


def _course_decoder_layer(layer, x, memory, tgt_mask, memory_mask):
    x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))
    x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))
    return layer.norm3(x + layer.ffn(x))


def _course_teacher_forcing(seqs, bos_id, eos_id, pad_id):
    tgt_in = pad_sequences([[bos_id] + list(s) for s in seqs], pad_id)
    tgt_out = pad_sequences([list(s) + [eos_id] for s in seqs], pad_id)
    return tgt_in, tgt_out


@torch.no_grad()
def _course_greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    """src (B, S) -> (B, T) ids without <bos>, pad_id after each row's <eos>; calls only
    `model.encode(src, src_mask)` and `model.decode(ys, memory, src_mask)`."""
    src_mask = _course_padding_mask(src, pad_id)
    memory = model.encode(src, src_mask)
    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    finished = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_new_tokens):
        next_token = model.decode(ys, memory, src_mask)[:, -1].argmax(-1).masked_fill(finished, pad_id)
        ys = torch.cat([ys, next_token[:, None]], dim=1)
        finished |= next_token == eos_id
        if finished.all():
            break
    return ys[:, 1:]


# name in the notebook -> (exercise whose check it must pass, the course's version)
PARTS = {
    "sinusoidal_encoding": ("03.sinusoidal_encoding", _course_sinusoidal),
    "attention": ("04.attention", lambda q, k, v, mask=None: _course_attention(q, k, v, mask)),
    "split_heads": ("05.split_heads", _course_split_heads),
    "merge_heads": ("05.merge_heads", _course_merge_heads),
    "MultiHeadAttention": ("05.multi_head_attention",
                           lambda d_model, n_heads: _CourseMHA(d_model, n_heads)),
    "causal_mask": ("06.causal_mask", lambda T: _course_causal_mask(T)),
    "padding_mask": ("06.padding_mask", _course_padding_mask),
    "layer_norm": ("08.layer_norm", lambda x, gamma, beta, eps=1e-5: F.layer_norm(x, x.shape[-1:], gamma, beta, eps)),
    "feed_forward": ("08.feed_forward", lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1 + b_1) @ w_2 + b_2),
    "encoder_layer": ("08.fix_encoder_layer", _course_encoder_layer),
    "decoder_layer": ("08.decoder_layer", _course_decoder_layer),
    "teacher_forcing": ("09.teacher_forcing", _course_teacher_forcing),
    "label_smoothed_loss": ("09.label_smoothed_loss",
                            lambda logits, target, smoothing, pad_id: _course_loss(
                                logits, target, smoothing, pad_id)),
    "warmup_lr": ("09.warmup_lr", _course_warmup_lr),
    "greedy_decode": ("10.greedy_decode", _course_greedy_decode),
}


# ----------------------------------------------------------------------------- reading the exercise notebooks
_PREAMBLE = ("import math\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
             "from course_utils.transformer import masks\n")


def answers_from_exercises(folder) -> tuple[dict, dict]:
    """The learner's parts from their saved exercise notebooks in `folder`
    (exercises/NN_name.ipynb): every code cell of an exercise (tagged `exercise:NN.name`)
    that defines one of the PARTS is run, notebook by notebook in lesson order, in one
    namespace that starts with the course's parts. Returns ({name: object}, {name: note});
    a cell that fails to run is skipped and noted (nothing in the notebooks is changed)."""
    folder = Path(folder)
    found, notes = {}, {}
    if not folder.is_dir():
        return found, {"*": f"no folder {folder}"}
    namespace: dict = {"__name__": "capstone_parts"}
    exec(_PREAMBLE, namespace)  # noqa: S102  (the course's imports that the answer cells use)
    namespace.update({name: fallback for name, (_, fallback) in PARTS.items()})
    wanted = {ex_id: name for name, (ex_id, _) in PARTS.items()}
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError) as err:
            notes[path.name] = f"could not read {path.name}: {err}"
            continue
        for cell in cells:
            tags = cell.get("metadata", {}).get("tags", [])
            ex_id = next((t.split(":", 1)[1] for t in tags if t.startswith("exercise:")), None)
            name = wanted.get(ex_id)
            source = "".join(cell.get("source", [])) if isinstance(cell.get("source"), list) else cell.get("source", "")
            if cell.get("cell_type") != "code" or name is None or \
                    not (f"def {name}(" in source or f"class {name}(" in source):
                continue
            try:
                exec(compile(source, f"{path.name} ({ex_id})", "exec"), namespace)  # noqa: S102
            except Exception as err:  # a half-written answer: leave it, use the course's part
                notes[name] = f"{path.name}: the answer cell raised {type(err).__name__}: {err}"
                continue
            found[name] = namespace[name]
    return found, notes


# ----------------------------------------------------------------------------- gathering
@dataclass
class PartRow:
    name: str
    exercise: str
    source: str      # "yours (capstone)", "yours (exercises/NN_...)", "course"
    note: str


class Parts(types.SimpleNamespace):
    """The parts the capstone model is built from, as attributes (`parts.attention`), and
    `rows`: where each came from and why."""

    def table(self) -> str:
        width = max(len(r.name) for r in self.rows)
        lines = [f"{'part':{width}s}  {'exercise':24s}  {'used':24s}  note"]
        lines += [f"{r.name:{width}s}  {r.exercise:24s}  {r.source:24s}  {r.note}" for r in self.rows]
        return "\n".join(lines)

    def yours(self) -> list[str]:
        return [r.name for r in self.rows if r.source.startswith("yours")]

    def course(self) -> list[str]:
        return [r.name for r in self.rows if r.source == "course"]


def _is_stub(obj) -> bool:
    return obj is None or obj is Ellipsis


def gather_parts(namespace: dict, exercises=None, record: bool = False) -> Parts:
    """For each of PARTS: the learner's version if its check passes, else the course's.

    Looks first in `namespace` (the capstone notebook's globals()), then, if `exercises`
    is a folder, in the learner's saved exercise notebooks there. Each candidate is graded
    by its lesson's check (without recording progress unless `record`); a pending or failing
    part is replaced by the course's version, and the row says so."""
    from_files, file_notes = answers_from_exercises(exercises) if exercises is not None else ({}, {})
    chosen, rows = {}, []
    old = os.environ.get("COURSE_NO_PROGRESS"), os.environ.get("COURSE_STRICT")
    if not record:
        os.environ["COURSE_NO_PROGRESS"] = "1"
    os.environ["COURSE_STRICT"] = "0"
    try:
        for name, (ex_id, fallback) in PARTS.items():
            candidates = [("yours (capstone)", namespace.get(name))]
            if name in from_files:
                candidates.append(("yours (exercise notebook)", from_files[name]))
            notes = []
            for label, obj in candidates:
                if _is_stub(obj):
                    continue
                result = check(ex_id, obj)
                if result.passed:
                    chosen[name] = obj
                    rows.append(PartRow(name, ex_id, label, "passes its check"))
                    break
                where = label.split(' ', 1)[1][1:-1]
                if result.title.startswith("Find the bug") and (result.hint or "").startswith("Still the original bug"):
                    # a find-the-bug exercise ships with its bug: untouched is "not fixed yet", not "failed"
                    notes.append(f"{where}: not fixed yet (the starting code of {ex_id} still has its bug)")
                else:
                    notes.append(f"{where}: {result.status}"
                                 + ("" if result.status == "pending" else f" ({result.message[:60]})"))
            else:
                chosen[name] = fallback
                note = "; ".join(notes) or file_notes.get(name) or "not written"
                rows.append(PartRow(name, ex_id, "course", note))
    finally:
        for key, value in zip(("COURSE_NO_PROGRESS", "COURSE_STRICT"), old):
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return Parts(rows=rows, **chosen)


# ----------------------------------------------------------------------------- evaluation
@torch.no_grad()
def exact_match(model, pairs, src_vocab, tgt_vocab, batch_size: int = 500, max_new_tokens: int = 40) -> float:
    """Greedy exact match of `model` on `pairs`, using only `model.encode(src, src_mask)`
    and `model.decode(ys, memory, src_mask)` (the capstone model's interface)."""
    was_training = model.training
    model.eval()
    hits = 0
    try:
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            src = pad_sequences([src_vocab.encode(p.src) for p in chunk], PAD_ID)
            out = _course_greedy_decode(model, src, max_new_tokens, BOS_ID, EOS_ID, PAD_ID)
            hits += sum(tgt_vocab.decode(row) == list(p.tgt) for row, p in zip(out.tolist(), chunk))
    finally:
        model.train(was_training)
    return hits / len(pairs)


# ----------------------------------------------------------------------------- graders
_PROBE = dict(src_vocab_size=13, tgt_vocab_size=11, d_model=32, n_heads=4, n_layers=2, d_ff=48, max_len=24)


def _probe_batch():
    g = torch.Generator().manual_seed(11)
    src = torch.randint(4, 13, (3, 7), generator=g)
    tgt = torch.randint(4, 11, (3, 6), generator=g)
    src[1, 4:] = PAD_ID
    src[2, 6:] = PAD_ID
    tgt[:, 0] = BOS_ID
    tgt[1, 3:] = PAD_ID
    tgt[2, 5:] = PAD_ID
    return src, tgt


def _reference_variants(ref: CourseTransformer, src, tgt) -> dict:
    """The reference logits, and those of known assembly mistakes, on the same weights."""
    d = ref.config.d_model
    pe = _course_sinusoidal(ref.config.max_len, d)
    src_mask = _course_padding_mask(src, PAD_ID)
    tgt_mask = _course_padding_mask(tgt, PAD_ID) & _course_causal_mask(tgt.size(1))

    def run(scale=(True, True), memory_mask=True, causal=True, positions=(True, True), tgt_table=None,
            enc_layers=None, enc_mask=True, factor=None, cross_self=False):
        def embed(table, ids, scaled, pos):
            x = table(ids) * ((factor or math.sqrt(d)) if scaled else 1.0)
            return x + pe[:ids.size(1)] if pos else x
        x = embed(ref.src_embed, src, scale[0], positions[0])
        if enc_layers is None:
            memory = ref.encoder(x, src_mask if enc_mask else None)
        else:
            for layer in enc_layers:
                x = layer(x, src_mask)
            memory = x
        mask = tgt_mask if causal else _course_padding_mask(tgt, PAD_ID)
        y = embed(tgt_table or ref.tgt_embed, tgt, scale[1], positions[1])
        if cross_self:  # the decoder layers read their own states as memory
            for layer in ref.decoder.layers:
                y = layer(y, y, mask, None)
            return ref.out_proj(ref.decoder.norm(y))
        return ref.out_proj(ref.decoder(y, memory, mask, src_mask if memory_mask else None))

    with torch.no_grad():
        return {"right": run(), "scale": run(scale=(False, False)), "scale_src": run(scale=(False, True)),
                "scale_tgt": run(scale=(True, False)), "memory_mask": run(memory_mask=False),
                "causal": run(causal=False), "positions": run(positions=(False, False)),
                "positions_src": run(positions=(False, True)), "positions_tgt": run(positions=(True, False)),
                "src_embed": run(tgt_table=ref.src_embed), "first_layer": run(enc_layers=ref.encoder.layers[:1]),
                "enc_mask": run(enc_mask=False), "times_d": run(factor=float(d)),
                "first_layer_n": run(enc_layers=[ref.encoder.layers[0]] * len(ref.encoder.layers)),
                "cross_self": run(cross_self=True)}


@exercise("11.transformer", "Assemble the Transformer from your parts", time_limit=30, name="Transformer")
def _check_transformer(cls):
    expect_class(cls, "Transformer")
    torch.manual_seed(0)
    ref = CourseTransformer(TransformerConfig(**_PROBE, dropout=0.0)).eval()
    model = call(cls, _PROBE["src_vocab_size"], _PROBE["tgt_vocab_size"], d_model=_PROBE["d_model"],
                 n_heads=_PROBE["n_heads"], n_layers=_PROBE["n_layers"], d_ff=_PROBE["d_ff"],
                 max_len=_PROBE["max_len"], what="Transformer(...)")
    if not isinstance(model, nn.Module):
        raise Fail(f"Transformer(...) should build an nn.Module, got {type(model).__name__}.")
    mine, theirs = set(model.state_dict()), set(ref.state_dict())
    if mine != theirs:
        missing, extra = sorted(theirs - mine)[:4], sorted(mine - theirs)[:4]
        raise Fail(f"The parameter names differ from course_utils' Transformer, so its weights cannot be "
                   f"copied in. Missing: {missing or 'none'}; unexpected: {extra or 'none'}.",
                   hint="Keep the module names of the given __init__ (src_embed, encoder.layers, ...).")
    model.load_state_dict(ref.state_dict())
    model.eval()
    src, tgt = _probe_batch()
    variants = _reference_variants(ref, src, tgt)
    with torch.no_grad():
        got = call(model, src, tgt, what="model(src, tgt)", errors=[
            (r"key columns|query rows", "A mask does not fit its attention: a decoder layer is called as "
             "`layer(x, memory, tgt_mask, src_mask)` (the target's mask first, then the source's)."),
            (r"must match the size of tensor", "Take the positions of the sequence axis: `pe[:S]` with "
             "S = src.size(1) and `pe[:T]` with T = tgt.size(1) (size(0) is the batch)."),
        ])
    keep = tgt != PAD_ID  # pad positions of the target are never used
    if isinstance(got, torch.Tensor) and got.shape == variants["right"].shape[:-1] + (_PROBE["d_model"],):
        raise Fail(f"`logits` has shape {tuple(got.shape)}: width d_model, not the target vocabulary.",
                   hint="End decode with the output projection: `return self.out_proj(x)` (B, T, tgt_vocab_size).")
    if not isinstance(got, torch.Tensor) or got.shape != variants["right"].shape:
        compare("logits", got, variants["right"], axes=("B", "T", "V"))
    hints = {
        "scale": "Multiply the embeddings by sqrt(d_model) before adding the positions (step 1).",
        "scale_src": "Multiply the source embeddings by sqrt(d_model) too, before adding the positions.",
        "scale_tgt": "Multiply the target embeddings by sqrt(d_model) too, before adding the positions.",
        "memory_mask": "Cross-attention must not read the source's padding: pass src_mask to every "
                       "decoder layer as memory_mask.",
        "causal": "The decoder's self-attention needs the causal mask as well as the padding mask "
                  "(padding_mask(tgt) & causal_mask(T)).",
        "positions": "Add the sinusoidal positional encoding to both embeddings.",
        "positions_src": "encode adds no positions: add `pe[:S]` to the source embeddings too.",
        "positions_tgt": "decode adds no positions: add `pe[:T]` to the target embeddings too.",
        "src_embed": "decode embeds the target with src_embed; the target has its own table: `self.tgt_embed(tgt)`.",
        "first_layer": "Only the first encoder layer runs: loop over every layer, `for layer in self.encoder.layers:`.",
        "times_d": "Multiply the embeddings by sqrt(d_model), not by d_model.",
        "first_layer_n": "You run encoder.layers[0] again and again: run each layer of `self.encoder.layers` once, "
                         "in order (`for layer in self.encoder.layers: x = layer(x, src_mask)`).",
        "cross_self": "The decoder layers' cross-attention reads the decoder's own states: pass the encoder's "
                      "`memory` (and src_mask): `layer(x, memory, tgt_mask, src_mask)`.",
        "enc_mask": "The encoder layers get no mask: pass src_mask to every encoder layer, so the source's padding "
                    "stays hidden.",
    }
    compare("logits at the real target positions", got[keep], variants["right"][keep], axes=("N", "V"),
            mistakes=[(variants[k][keep], h) for k, h in hints.items()])
    return "Same logits as course_utils' Transformer with the same weights, on a padded batch."


@exercise("11.train", "Train your Transformer to 95 % exact match", time_limit=120, name="run")
def _check_train(run):
    if not isinstance(run, dict) or not {"model", "train_seconds"} <= set(run):
        raise Fail("Pass the dict the training cell returns: {'model': ..., 'train_seconds': ..., ...}.")
    model, seconds = run["model"], run["train_seconds"]
    if not isinstance(model, nn.Module):
        raise Fail(f"run['model'] should be your trained Transformer, got {type(model).__name__}.")
    if not isinstance(seconds, (int, float)) or seconds <= 0:
        raise Fail(f"run['train_seconds'] should be the training time in seconds, got {seconds!r}.")
    src_vocab, tgt_vocab = build_vocabs()
    for attr, vocab in (("src_embed", src_vocab), ("tgt_embed", tgt_vocab)):
        table = getattr(model, attr, None)
        if isinstance(table, nn.Embedding) and table.num_embeddings < len(vocab):
            raise Fail(f"Your model's {attr} has {table.num_embeddings} rows, but the corpus vocabulary has "
                       f"{len(vocab)} tokens.",
                       hint="Build the model with the vocabularies' sizes: `Transformer(len(src_vocab), len(tgt_vocab))`.")
    test = make_splits(0, n_train=0).test
    t0 = time.perf_counter()
    score = exact_match(model, test, src_vocab, tgt_vocab)
    if score < TARGET_EXACT_MATCH:
        raise Fail(f"Exact match on the {len(test)} test sentences is {score:.1%}, below "
                   f"{TARGET_EXACT_MATCH:.0%}.",
                   hint="Train longer (more steps) or check the table of parts: a part that fell back to "
                        "the course's version is not the cause, one of yours that passes may still be slow.")
    if seconds > TIME_LIMIT_S:
        raise Fail(f"Exact match {score:.1%} is fine, but training took {seconds:.0f} s, more than "
                   f"{TIME_LIMIT_S} s.",
                   hint="Close other programs (the timing assumes 2 free CPU cores) or stop at the target.")
    del t0
    return f"Exact match on the test split: at least {TARGET_EXACT_MATCH:.0%}, within {TIME_LIMIT_S} s of training."


@exercise("11.parts", "Bring your parts to the capstone", time_limit=30, name="parts")
def _check_parts(parts):
    if not isinstance(parts, Parts):
        raise Fail(f"Pass the result of gather_parts(...), got {type(parts).__name__}.")
    failing = [r for r in parts.rows if r.source == "course" and "failed" in r.note]
    if not parts.yours() and failing:
        listed = "; ".join(f"{r.name} ({r.exercise}: {r.note})" for r in failing[:4])
        raise Fail(f"None of your parts is used yet: {len(failing)} of them fail their own check, so the course's "
                   f"version stands in: {listed}.",
                   hint="Make each of them pass its own check in its exercise notebook (or fix it in the parts cell), "
                        "then run the gathering cell again.")
    if not parts.yours():
        raise Pending("No part of yours yet: save your exercise notebooks or paste parts into the cell above.")
    course = [r for r in parts.rows if r.source == "course"]
    if course:
        listed = "; ".join(f"{r.name} ({r.exercise}: {r.note})" for r in course[:4])
        raise Fail(f"{len(parts.yours())} of {len(parts.rows)} parts are yours; the course's version stands in for "
                   f"{len(course)}: {listed}{' ...' if len(course) > 4 else ''}.",
                   hint="Make each of them pass its own check in its exercise notebook (and save it), or paste a "
                        "working version into the parts cell, then run the gathering cell again. The capstone "
                        "still runs meanwhile.")
    return f"All {len(parts.rows)} parts are yours, and each passes its own check."
