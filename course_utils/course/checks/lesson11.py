"""course layer · graders of lesson 11 (the capstone): the parts brought in, the assembled Transformer, and its
training run. Gathering the parts and measuring a capstone model live in course_utils.course.capstone.

    check("11.parts", parts)               # every part is yours and passes its own check
    check("11.transformer", Transformer)   # same logits as course_utils' Transformer with the same weights
    check("11.train", run)                 # trained in this run, >= 95 % exact match on the test split, in time

Learner objects are touched only through `call`, attribute reads and the helpers of the checks package.
11.train measures the learner's trained model without running it over the test split: its weights go into
course_utils' own Transformer (after one probe showing that both compute the same logits), which is decoded
with run.decoding.

Shapes: B batch · S source / T target positions · V vocabulary · d_model.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from course_utils.base.i18n import Msg, msg
from course_utils.corpus.data import PAD_ID, build_vocabs, make_splits
from course_utils.course.capstone import PARTS, TARGET_EXACT_MATCH, TIME_LIMIT_S, Parts, regrade_part
from course_utils.course.checks import (
    Fail,
    Pending,
    call,
    compare,
    exercise,
    expect_class,
    is_instance,
    load_weights,
    read_weights,
)
from course_utils.course.checks.framework import RemoteObject
from course_utils.course.checks.reference_probes import real_batch, reference_model
from course_utils.run.decoding import evaluate
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.model import Transformer as CourseTransformer
from course_utils.transformer.model import TransformerConfig
from course_utils.transformer.positional import sinusoidal_encoding

HINT_FIX_PARTS = msg("Fix each of them in its exercise notebook (and save it) or in the parts cell, then run the "
                     "gathering cell again. The capstone still runs meanwhile, on the course's versions.")
HINT_MORE_PARTS = msg("Make each of them pass its own check in its exercise notebook (and save it), or paste a "
                      "working version into the parts cell, then run the gathering cell again. The capstone still "
                      "runs meanwhile.")
HINT_REGATHER = msg("Run the gathering cell as given: `parts = gather_parts(globals())`, then its check cell.")
HINT_NAMES = msg("Keep the module names of the given __init__ (src_embed, encoder.layers, ...).")
HINT_MASK_ORDER = msg("A mask does not fit its attention: a decoder layer is called as "
                      "`layer(x, memory, tgt_mask, src_mask)` (the target's mask first, then the source's).")
HINT_PE_AXIS = msg("Take the positions of the sequence axis: `pe[:S]` with S = src.size(1) and `pe[:T]` with "
                   "T = tgt.size(1) (size(0) is the batch).")
HINT_FLOAT64 = msg("A float64 tensor met the model's float32 weights: one of the parts returns float64 (the "
                   "table of 11.parts names it). Create tensors in float32, or end that part with `.float()`.")
HINT_WIDTH = msg("End decode with the output projection: `return self.out_proj(x)` (B, T, tgt_vocab_size).")
HINT_SOFTMAX = msg("decode returns probabilities: it applies softmax to the logits. Return the logits themselves, "
                   "`self.out_proj(x)`: the loss applies log_softmax itself, and greedy decoding takes the argmax.")
HINT_LOG_SOFTMAX = msg("decode returns log-probabilities (log_softmax of the logits). Return the logits "
                       "themselves, `self.out_proj(x)`: the loss applies log_softmax itself.")
HINT_TGT_PADDING = msg("The decoder's self-attention gets only the causal mask, so the target's <pad> keys are not "
                       "hidden: the padded positions read them (the real positions come before the padding, so their "
                       "logits do not change). Combine both masks, as the statement asks: "
                       "`tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)`.")
HINT_ENCODE_NONE = msg("`encode(src, None)` must build the padding mask itself: `if src_mask is None: src_mask = "
                       "P.padding_mask(src, self.pad_id)`, then pass it to every encoder layer.")
HINT_ASSEMBLY = {
    "scale": msg("Multiply the embeddings by sqrt(d_model) before adding the positions (step 1)."),
    "scale_src": msg("Multiply the source embeddings by sqrt(d_model) too, before adding the positions."),
    "scale_tgt": msg("Multiply the target embeddings by sqrt(d_model) too, before adding the positions."),
    "memory_mask": msg("Cross-attention must not read the source's padding: pass src_mask to every decoder layer "
                       "as memory_mask."),
    "causal": msg("The decoder's self-attention needs the causal mask as well as the padding mask "
                  "(padding_mask(tgt) & causal_mask(T))."),
    "positions": msg("Add the sinusoidal positional encoding to both embeddings."),
    "positions_src": msg("encode adds no positions: add `pe[:S]` to the source embeddings too."),
    "positions_tgt": msg("decode adds no positions: add `pe[:T]` to the target embeddings too."),
    "src_embed": msg("decode embeds the target with src_embed; the target has its own table: `self.tgt_embed(tgt)`."),
    "first_layer": msg("Only the first encoder layer runs: loop over every layer, "
                       "`for layer in self.encoder.layers:`."),
    "times_d": msg("Multiply the embeddings by sqrt(d_model), not by d_model."),
    "first_layer_n": msg("You run encoder.layers[0] again and again: run each layer of `self.encoder.layers` once, "
                         "in order (`for layer in self.encoder.layers: x = layer(x, src_mask)`)."),
    "cross_self": msg("The decoder layers' cross-attention reads the decoder's own states: pass the encoder's "
                      "`memory` (and src_mask): `layer(x, memory, tgt_mask, src_mask)`."),
    "enc_mask": msg("The encoder layers get no mask: pass src_mask to every encoder layer, so the source's padding "
                    "stays hidden."),
    "softmax": HINT_SOFTMAX,
    "log_softmax": HINT_LOG_SOFTMAX,
}
HINT_RETRAIN = msg("Run the training cell of this notebook (it starts from your Transformer's own random weights "
                   "and records them as run['initial_weights']), then this check again.")
HINT_LONGER = msg("Train longer (more steps), or look at the table of parts: one of yours may pass its check and "
                  "still be slow.")
HINT_TIME = msg("Close other programs (the timing assumes 2 free CPU cores) or stop at the target.")

# Weights closer than this to others (relative L2 distance of the weight matrices) count as the same weights.
# Measured: one Adam step from the shipped checkpoint moves them 0.02 away; the capstone's initial weights are
# 0.36 from the checkpoint (the reference model started from the same seed), and the solution's trained model
# ends 0.13 from it and 0.37 from its initial weights.
_SAME_WEIGHTS = 0.01


# ----------------------------------------------------------------------------- 11.parts
def _listed(rows) -> Msg:
    shown = [msg("{part} ({why})", part=r["part"], why=r["why"]) for r in rows[:4]]
    return Msg.join([p for item in shown for p in ("; ", item)][1:] + ([" ..."] if len(rows) > 4 else []))


def _table_rows(parts) -> list[dict]:
    """The table of `parts`, one row per part of PARTS, else Fail: a table with parts missing,
    doubled or unknown was not made by gather_parts."""
    try:
        rows = [dict(r) for r in parts.rows]
    except (TypeError, ValueError, AttributeError):
        rows = None
    keys = ("part", "exercise", "used", "where", "status", "why")
    if rows is None or not all(all(isinstance(r.get(k), str) for k in keys) for r in rows) or \
            sorted(r["part"] for r in rows) != sorted(PARTS) or any(r["exercise"] != PARTS[r["part"]] for r in rows):
        raise Fail(msg("This table of parts was not made by gather_parts(...): it must list each of the {n} parts "
                       "once, with its exercise.", n=len(PARTS)), hint=HINT_REGATHER)
    return rows


def _regraded(parts, rows: list[dict]) -> list[dict]:
    """The rows, with each part the table calls yours graded again here, on the part itself: in the
    judge (`course check`) the table was made in the learner's kernel, where a notebook can write
    any table, so only what the judge's own graders accept counts."""
    again = []
    for row in rows:
        if row["used"] == "yours":
            status, why = regrade_part(row["part"], getattr(parts, row["part"], None))
            if status == "course":
                row = dict(row, used="course", status="passed", why=why)
            elif status != "passed":
                row = dict(row, status="failed" if status != "pending" else "pending", why=why)
        again.append(row)
    return again


@exercise("11.parts", "Bring your parts to the capstone", time_limit=30, name="parts")
def _check_parts(parts):
    if not is_instance(parts, Parts):
        raise Fail(msg("Pass the result of gather_parts(...), got {kind}.", kind=type(parts).__name__))
    rows = _table_rows(parts)
    if isinstance(parts, RemoteObject):
        rows = _regraded(parts, rows)
    failing = [r for r in rows if r["status"] in ("failed", "pending") and r["used"] == "yours"] + \
        [r for r in rows if r["status"] == "failed" and r["used"] != "yours"]
    yours = [r for r in rows if r["used"] == "yours" and r["status"] == "passed"]
    if failing:
        said = msg("{n} of your parts fail, so the course's version stands in for them: {listed}.",
                   n=len(failing), listed=_listed(failing)) if len(failing) > 1 else \
            msg("1 of your parts fails, so the course's version stands in for it: {listed}.", listed=_listed(failing))
        raise Fail(said, hint=HINT_FIX_PARTS)
    if not yours:
        raise Pending(msg("No part of yours yet: save your exercise notebooks or paste parts into the cell above."))
    course = [r for r in rows if r["used"] != "yours"]
    if course:
        said = msg("{mine} of {n} parts are yours; the course's version stands in for {k}: {listed}.",
                   mine=len(yours), n=len(rows), k=len(course), listed=_listed(course)) if len(yours) > 1 else \
            msg("1 of {n} parts is yours; the course's version stands in for {k}: {listed}.",
                n=len(rows), k=len(course), listed=_listed(course))
        raise Fail(said, hint=HINT_MORE_PARTS)
    return msg("All {n} parts are yours, and each passes its own check.", n=len(rows))


# ----------------------------------------------------------------------------- 11.transformer
_PROBE = dict(src_vocab_size=13, tgt_vocab_size=11, d_model=32, n_heads=4, n_layers=2, d_ff=48, max_len=24)


def _probe_batch():
    g = torch.Generator().manual_seed(11)
    src = torch.randint(4, 13, (3, 7), generator=g)
    tgt = torch.randint(4, 11, (3, 6), generator=g)
    src[1, 4:] = PAD_ID
    src[2, 6:] = PAD_ID
    tgt[:, 0] = 1  # <bos>
    tgt[1, 3:] = PAD_ID
    tgt[2, 5:] = PAD_ID
    return src, tgt


def _reference_variants(ref: CourseTransformer, src, tgt) -> dict:
    """The reference logits, and those of known assembly mistakes, on the same weights."""
    d = ref.config.d_model
    pe = sinusoidal_encoding(ref.config.max_len, d)
    src_mask = padding_mask(src, PAD_ID)
    tgt_mask = padding_mask(tgt, PAD_ID) & causal_mask(tgt.size(1))

    def run(scale=(True, True), memory_mask=True, causal=True, positions=(True, True), tgt_table=None,
            enc_layers=None, enc_mask=True, factor=None, cross_self=False, tgt_padding=True):
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
        mask = tgt_mask if causal else padding_mask(tgt, PAD_ID)
        if not tgt_padding:
            mask = causal_mask(tgt.size(1))
        y = embed(tgt_table or ref.tgt_embed, tgt, scale[1], positions[1])
        if cross_self:  # the decoder layers read their own states as memory
            for layer in ref.decoder.layers:
                y = layer(y, y, mask, None)
            return ref.out_proj(ref.decoder.norm(y))
        return ref.out_proj(ref.decoder(y, memory, mask, src_mask if memory_mask else None))

    with torch.no_grad():
        variants = {"right": run(), "scale": run(scale=(False, False)), "scale_src": run(scale=(False, True)),
                    "scale_tgt": run(scale=(True, False)), "memory_mask": run(memory_mask=False),
                    "causal": run(causal=False), "positions": run(positions=(False, False)),
                    "positions_src": run(positions=(False, True)), "positions_tgt": run(positions=(True, False)),
                    "src_embed": run(tgt_table=ref.src_embed), "first_layer": run(enc_layers=ref.encoder.layers[:1]),
                    "enc_mask": run(enc_mask=False), "times_d": run(factor=float(d)),
                    "first_layer_n": run(enc_layers=[ref.encoder.layers[0]] * len(ref.encoder.layers)),
                    "cross_self": run(cross_self=True), "tgt_padding": run(tgt_padding=False)}
    variants["softmax"] = variants["right"].softmax(-1)
    variants["log_softmax"] = variants["right"].log_softmax(-1)
    return variants


def _same_layout(mine: dict, theirs: dict, what) -> None:
    """Fail unless two state dicts have the same names and shapes."""
    missing, extra = sorted(set(theirs) - set(mine))[:4], sorted(set(mine) - set(theirs))[:4]
    if missing or extra:
        raise Fail(msg("The parameter names of {what} differ from course_utils' Transformer, so the weights cannot "
                       "be copied across. Missing: {missing}; unexpected: {extra}.", what=what,
                       missing=str(missing or "none"), extra=str(extra or "none")), hint=HINT_NAMES)
    for name, value in theirs.items():
        if tuple(mine[name].shape) != tuple(value.shape):
            raise Fail(msg("`{name}` of {what} has shape {got}; course_utils' Transformer has {want}.", name=name,
                           what=what, got=tuple(mine[name].shape), want=tuple(value.shape)), hint=HINT_NAMES)


def _expect_float32_positions(model) -> None:
    pe = getattr(model, "pe", None)
    if is_instance(pe, torch.Tensor) and pe.is_floating_point() and pe.dtype != torch.float32:
        raise Fail(msg("Your model's positional table `self.pe` has dtype {dtype}: the `sinusoidal_encoding` it was "
                       "built with returns {dtype}, while the model computes in float32.",
                       dtype=str(pe.dtype).replace("torch.", "")), hint=HINT_FLOAT64)


@exercise("11.transformer", "Assemble the Transformer from your parts", time_limit=30, name="Transformer")
def _check_transformer(cls):
    expect_class(cls, "Transformer")
    torch.manual_seed(0)
    ref = CourseTransformer(TransformerConfig(**_PROBE, dropout=0.0)).eval()
    model = call(cls, _PROBE["src_vocab_size"], _PROBE["tgt_vocab_size"], d_model=_PROBE["d_model"],
                 n_heads=_PROBE["n_heads"], n_layers=_PROBE["n_layers"], d_ff=_PROBE["d_ff"],
                 max_len=_PROBE["max_len"], what="Transformer(...)")
    if not is_instance(model, nn.Module):
        raise Fail(msg("Transformer(...) should build an nn.Module, got {kind}.", kind=type(model).__name__))
    _same_layout(read_weights(model), ref.state_dict(), msg("your Transformer"))
    _expect_float32_positions(model)
    load_weights(model, ref.state_dict())
    call(model.eval, what="model.eval()")
    src, tgt = _probe_batch()
    variants = _reference_variants(ref, src, tgt)
    errors = [(r"key columns|query rows", HINT_MASK_ORDER), (r"must match the size of tensor", HINT_PE_AXIS),
              (r"same dtype|Double", HINT_FLOAT64)]
    with torch.no_grad():
        got = call(model, src, tgt, what="model(src, tgt)", errors=errors)
    keep = tgt != PAD_ID  # pad positions of the target are never used
    if is_instance(got, torch.Tensor) and got.shape == variants["right"].shape[:-1] + (_PROBE["d_model"],):
        raise Fail(msg("`logits` has shape {shape}: width d_model, not the target vocabulary.",
                       shape=tuple(got.shape)), hint=HINT_WIDTH)
    if not is_instance(got, torch.Tensor) or got.shape != variants["right"].shape:
        compare("logits", got, variants["right"], axes=("B", "T", "V"))
    compare("logits at the real target positions", got[keep], variants["right"][keep], axes=("N", "V"),
            mistakes=[(variants[k][keep], h) for k, h in HINT_ASSEMBLY.items()])
    pad = ~keep  # there the target's padding mask shows: a causal-only mask lets <pad> queries read <pad> keys
    if torch.allclose(got[pad], variants["tgt_padding"][pad], atol=1e-4, rtol=1e-4) and \
            not torch.allclose(got[pad], variants["right"][pad], atol=1e-4, rtol=1e-4):
        raise Fail(msg("The logits at the real target positions are right, but at the padded ones they are what a "
                       "causal-only target mask gives."), hint=HINT_TGT_PADDING)
    compare("logits at the padded target positions", got[pad], variants["right"][pad], axes=("N", "V"),
            hint=HINT_TGT_PADDING)
    with torch.no_grad():  # statement: encode(src, None) builds the padding mask itself
        memory = call(model.encode, src, None, what="model.encode(src, None)", errors=errors)
        want = ref.encode(src, padding_mask(src, PAD_ID))
        unmasked = ref.encoder(ref.src_pos(ref.src_embed(src) * math.sqrt(ref.config.d_model)), None)
    compare("model.encode(src, None)", memory, want, axes=("B", "S", "d_model"),
            mistakes=[(unmasked, HINT_ENCODE_NONE)], hint=HINT_ENCODE_NONE)
    return msg("Same logits as course_utils' Transformer with the same weights, on a padded batch; "
               "encode(src, None) builds the padding mask.")


# ----------------------------------------------------------------------------- 11.train
def _item(run: dict, key: str):
    return call(run.get, key, what=f"run.get({key!r})")


def _config_of(weights: dict, max_len: int) -> dict:
    """The course Transformer's settings that give `weights`' names and shapes (all but n_heads)."""
    try:
        src_vocab, d_model = weights["src_embed.weight"].shape
        tgt_vocab = weights["tgt_embed.weight"].shape[0]
        d_ff = weights["encoder.layers.0.ffn.w_1.weight"].shape[0]
    except (KeyError, ValueError, AttributeError):
        raise Fail(msg("run['model'] is not a capstone Transformer: it has no src_embed, tgt_embed and "
                       "encoder.layers.0.ffn weights."), hint=HINT_NAMES) from None
    n_layers = len({name.split(".")[2] for name in weights if name.startswith("encoder.layers.")})
    return dict(src_vocab_size=int(src_vocab), tgt_vocab_size=int(tgt_vocab), d_model=int(d_model),
                n_layers=n_layers, d_ff=int(d_ff), max_len=max_len, dropout=0.0)


def _distance(a: dict, b: dict) -> float | None:
    """Relative L2 distance of the weight matrices of two state dicts of the same layout (None when the
    layouts differ)."""
    if set(a) != set(b) or any(tuple(a[n].shape) != tuple(b[n].shape) for n in b):
        return None
    names = [n for n in b if b[n].dim() > 1]
    diff = sum(float((a[n].double() - b[n].double()).pow(2).sum()) for n in names)
    size = sum(float(b[n].double().pow(2).sum()) for n in names)
    return math.sqrt(diff / size) if size else math.sqrt(diff)


def _course_copy(model, weights: dict, config: dict) -> CourseTransformer:
    """course_utils' Transformer holding `weights`, with the number of heads for which it computes the same
    logits as the learner's `model` on a padded batch of real sentences (Fail if none does)."""
    batch = real_batch()
    got = call(model, batch.src, batch.tgt_in, what="run['model'](src, tgt)")
    keep = batch.tgt_in != PAD_ID
    worst = None
    d_model = config["d_model"]
    for heads in sorted((h for h in range(1, d_model + 1) if d_model % h == 0), key=lambda h: (h != 4, h)):
        course = CourseTransformer(TransformerConfig(n_heads=heads, **config)).eval()
        course.load_state_dict(weights)
        with torch.no_grad():
            want = course(batch.src, batch.tgt_in)
        if not is_instance(got, torch.Tensor) or got.shape != want.shape:
            break
        gap = float((got.detach().double() - want.double())[keep].abs().max())
        if gap <= 1e-4 + 1e-4 * float(want[keep].abs().max()):
            return course
        worst = gap if worst is None else min(worst, gap)
    raise Fail(msg("With its weights copied into course_utils' Transformer, your trained model does not compute the "
                   "same logits (max difference {gap}), so its accuracy cannot be measured.",
                   gap="?" if worst is None else f"{worst:.3g}"),
               hint=msg("Make 11.transformer pass first, then train again."))


def _expect_trained_here(weights: dict, initial) -> None:
    """Fail unless `weights` moved away from the run's initial weights, and neither is the shipped model's."""
    if not is_instance(initial, dict) or not all(is_instance(t, torch.Tensor) for t in initial.values()):
        raise Fail(msg("run['initial_weights'] is missing: it should hold your model's weights before the first "
                       "training step."), hint=HINT_RETRAIN)
    moved = _distance(weights, initial)
    if moved is None:
        raise Fail(msg("run['initial_weights'] do not have the names and shapes of run['model']'s weights."),
                   hint=HINT_RETRAIN)
    if moved < _SAME_WEIGHTS:
        raise Fail(msg("run['model'] was not trained: its weights are still run['initial_weights']."),
                   hint=HINT_RETRAIN)
    shipped = reference_model()[0].state_dict()
    for what, state in ((msg("Your trained model's weights"), weights), (msg("The weights training started from"),
                                                                           initial)):
        distance = _distance(state, shipped)
        if distance is not None and distance < _SAME_WEIGHTS:
            raise Fail(msg("{what} are the shipped reference model's, or close to them (relative distance "
                           "{distance:.3f}): 11.train grades a model trained from random weights in this notebook.",
                           what=what, distance=distance), hint=HINT_RETRAIN)


@exercise("11.train", "Train your Transformer to 95 % exact match", time_limit=120, name="run")
def _check_train(run):
    if not is_instance(run, dict):
        raise Fail(msg("Pass the dict the training cell returns: {example}.",  # a field: braces shown as they are
                       example="{'model': ..., 'train_seconds': ..., 'initial_weights': ..., ...}"))
    model, seconds = _item(run, "model"), _item(run, "train_seconds")
    if not is_instance(model, nn.Module):
        raise Fail(msg("run['model'] should be your trained Transformer, got {kind}.", kind=type(model).__name__))
    if is_instance(seconds, bool) or not is_instance(seconds, (int, float)) or not seconds > 0:
        raise Fail(msg("run['train_seconds'] should be the training time in seconds, got {value}.",
                       value=repr(seconds)))
    weights = read_weights(model)
    pe = getattr(model, "pe", None)
    config = _config_of(weights, pe.size(0) if is_instance(pe, torch.Tensor) and pe.dim() == 2 else 64)
    src_vocab, tgt_vocab = build_vocabs()
    for side, size, vocab in (("src_embed", config["src_vocab_size"], src_vocab),
                              ("tgt_embed", config["tgt_vocab_size"], tgt_vocab)):
        if size < len(vocab):
            raise Fail(msg("Your model's {side} has {rows} rows, but the corpus vocabulary has {n} tokens.",
                           side=side, rows=size, n=len(vocab)),
                       hint=msg("Build the model with the vocabularies' sizes: "
                                "`Transformer(len(src_vocab), len(tgt_vocab))`."))
    _same_layout(weights, CourseTransformer(TransformerConfig(n_heads=1, **config)).state_dict(),
                 msg("your trained model"))
    _expect_trained_here(weights, _item(run, "initial_weights"))
    course = _course_copy(model, weights, config)
    test = make_splits(0, n_train=0).test
    score = evaluate(course, test, src_vocab, tgt_vocab, bleu=False)["exact_match"]
    if score < TARGET_EXACT_MATCH:
        raise Fail(msg("Exact match on the {n} test sentences is {score:.1%}, below {target:.0%}.", n=len(test),
                       score=score, target=TARGET_EXACT_MATCH), hint=HINT_LONGER)
    if seconds > TIME_LIMIT_S:
        raise Fail(msg("Exact match {score:.1%} is fine, but training took {seconds:.0f} s, more than {limit} s.",
                       score=score, seconds=seconds, limit=TIME_LIMIT_S), hint=HINT_TIME)
    return msg("Exact match on the {n} test sentences: {score:.1%} (at least {target:.0%} needed), after "
               "{seconds:.0f} s of training (at most {limit} s), from your model's own initial weights.",
               n=len(test), score=score, target=TARGET_EXACT_MATCH, seconds=seconds, limit=TIME_LIMIT_S)

