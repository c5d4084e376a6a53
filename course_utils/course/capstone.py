"""course layer · the capstone (lesson 11): the learner's parts gathered from their exercise notebooks and from
the capstone notebook, each graded by its own lesson's check, and the measure of the assembled model.

    parts = gather_parts(globals())        # each part: yours if it passes its check, else the course's
    print(parts.table())                   # whose each part is, and why
    exact_match(model, pairs, src_vocab, tgt_vocab)    # greedy exact match, through run.decoding.evaluate

Where a part comes from:
1. *Defined in the capstone* (in `namespace`, the notebook's globals()): it wins. If it fails its check it is
   reported as failing and the course's version stands in; the exercise notebook's version is not used.
2. Else *the learner's saved exercise notebook* (exercises/NN_name.ipynb, read through course.notebook).
   Each notebook runs in a namespace of its own: its own imports, then its answer cells; nothing in it is
   changed. A stub in one notebook therefore never reaches another.
3. Else, or if that fails its check, the course's version.
Parts are decided in lesson order, and each winner is bound, under its name, into every exercise notebook's
namespace (and into the capstone's, where the learner defined nothing under that name), so a part that uses
another one (`MultiHeadAttention` calls `attention`) calls the winner, whichever notebook it came from. A part
that passes its check but returns float64 from float32 inputs (03 accepts that on purpose) would break the
float32 model: it is reported and the course's version stands in.

Shapes: B batch · S source / T target positions · V vocabulary · d_model.
"""

from __future__ import annotations

import ast
import contextlib
import io
import linecache
import os
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.base.i18n import columns, msg, translate
from course_utils.corpus.data import pad_sequences
from course_utils.course import notebook
from course_utils.course.checks import Fail, Pending, call, check
from course_utils.run.decoding import evaluate, greedy_decode
from course_utils.run.train import label_smoothed_loss, warmup_lr
from course_utils.transformer.attention import attention
from course_utils.transformer.layers import DecoderLayer, EncoderLayer, merge_heads, split_heads
from course_utils.transformer.masks import causal_mask, padding_mask
from course_utils.transformer.positional import sinusoidal_encoding

__all__ = ["PARTS", "TIME_LIMIT_S", "TARGET_EXACT_MATCH", "Parts", "gather_parts", "exercise_folder", "exact_match"]

# The capstone's time limit for training (seconds of training, evaluations excluded; measured figures in
# notebooks/11_capstone.ipynb) and the exact match it must reach on the test split.
TIME_LIMIT_S = 240
TARGET_EXACT_MATCH = 0.95

# name in the notebooks -> the exercise whose check it must pass (lesson order: a part only uses earlier ones)
PARTS = {
    "sinusoidal_encoding": "03.sinusoidal_encoding", "attention": "04.attention", "split_heads": "05.split_heads",
    "merge_heads": "05.merge_heads", "MultiHeadAttention": "05.multi_head_attention",
    "causal_mask": "06.causal_mask", "padding_mask": "06.padding_mask", "layer_norm": "08.layer_norm",
    "feed_forward": "08.feed_forward", "encoder_layer": "08.fix_encoder_layer", "decoder_layer": "08.decoder_layer",
    "teacher_forcing": "09.teacher_forcing", "label_smoothed_loss": "09.label_smoothed_loss",
    "warmup_lr": "09.warmup_lr", "greedy_decode": "10.greedy_decode",
}


# ----------------------------------------------------------------------------- the course's parts
class _Interface:
    """A capstone model (`encode(src, src_mask)`, `decode(tgt, memory, src_mask)`, which builds its own target
    mask) seen through run.decoding's model interface; `config.max_len` is the model's positional table."""

    def __init__(self, model):
        self.model = model
        pe = getattr(model, "pe", None)
        self.config = types.SimpleNamespace(max_len=pe.size(0)) if isinstance(pe, torch.Tensor) and pe.dim() == 2 \
            else None

    training = property(lambda self: self.model.training)

    def eval(self):
        self.model.eval()
        return self

    def train(self, mode: bool = True):
        self.model.train(mode)
        return self

    def parameters(self):
        return self.model.parameters()

    def encode(self, src, src_mask=None):
        return self.model.encode(src, src_mask)

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None, offset=0, cache=None):
        return self.model.decode(tgt, memory, src_mask)


def _course_sinusoidal_encoding(max_len, d_model):
    return sinusoidal_encoding(max_len, d_model)


def _course_attention(q, k, v, mask=None):
    return attention(q, k, v, mask)


def _course_causal_mask(T):
    return causal_mask(T)


def _course_layer_norm(x, gamma, beta, eps=1e-5):
    return F.layer_norm(x, x.shape[-1:], gamma, beta, eps)


def _course_feed_forward(x, w_1, b_1, w_2, b_2):
    return torch.relu(x @ w_1 + b_1) @ w_2 + b_2


def _course_encoder_layer(layer, x, mask):
    h = layer.norm1(x + layer.self_attn(x, x, mask))
    return layer.norm2(h + layer.ffn(h))


def _course_decoder_layer(layer, x, memory, tgt_mask, memory_mask):
    x = layer.norm1(x + layer.self_attn(x, x, tgt_mask))
    x = layer.norm2(x + layer.cross_attn(x, memory, memory_mask))
    return layer.norm3(x + layer.ffn(x))


def _course_teacher_forcing(seqs, bos_id, eos_id, pad_id):
    return (pad_sequences([[bos_id] + list(s) for s in seqs], pad_id),
            pad_sequences([list(s) + [eos_id] for s in seqs], pad_id))


def _course_label_smoothed_loss(logits, target, smoothing, pad_id):
    return label_smoothed_loss(logits, target, smoothing, pad_id)


def _course_greedy_decode(model, src, max_new_tokens, bos_id, eos_id, pad_id):
    return greedy_decode(_Interface(model), src, max_new_tokens, bos_id, eos_id, pad_id, use_cache=False)


def _course_multi_head_attention(winners: dict) -> type:
    """The course's multi-head attention, made of the capstone's own `split_heads`, `attention` and
    `merge_heads` (the winners, looked up when it runs)."""

    class MultiHeadAttention(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.n_heads = n_heads
            self.w_q, self.w_k = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
            self.w_v, self.w_o = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)

        def forward(self, x_q, x_kv, mask=None):
            split, merge = winners["split_heads"], winners["merge_heads"]
            q, k, v = (split(w(x), self.n_heads) for w, x in ((self.w_q, x_q), (self.w_k, x_kv), (self.w_v, x_kv)))
            return self.w_o(merge(winners["attention"](q, k, v, mask)[0]))

    return MultiHeadAttention


def _course_part(name: str, winners: dict):
    if name == "MultiHeadAttention":
        return _course_multi_head_attention(winners)
    return {"sinusoidal_encoding": _course_sinusoidal_encoding, "attention": _course_attention,
            "split_heads": split_heads, "merge_heads": merge_heads, "causal_mask": _course_causal_mask,
            "padding_mask": padding_mask, "layer_norm": _course_layer_norm, "feed_forward": _course_feed_forward,
            "encoder_layer": _course_encoder_layer, "decoder_layer": _course_decoder_layer,
            "teacher_forcing": _course_teacher_forcing, "label_smoothed_loss": _course_label_smoothed_loss,
            "warmup_lr": warmup_lr, "greedy_decode": _course_greedy_decode}[name]


# ----------------------------------------------------------------------------- the exercise notebooks
_SOURCE_PREFIX = "exercises/"  # the __name__ of an exercise notebook's namespace: "exercises/04_self_attention.ipynb"


def exercise_folder() -> Path | None:
    """The learner's exercise notebooks: the current folder if it is an exercises/ folder (the capstone runs
    beside them), else exercises/ of the edition and course checkout holding the current folder, else of the
    checkout this package runs from (`course check` grades a copy in a temporary folder), else ../exercises."""
    here = Path.cwd()
    candidates = [here] if here.name == notebook.EXERCISES else []
    root = notebook.course_folder_of(here)
    if root is not None:
        lang = here.resolve().relative_to(root).parts[:1]
        if lang and lang[0] in notebook.EDITIONS:
            candidates.append(root / lang[0] / notebook.EXERCISES)
        candidates.append(root / notebook.EXERCISES)
    checkout = notebook.package_checkout()
    candidates += ([checkout / notebook.EXERCISES] if checkout is not None else []) + [here.parent / notebook.EXERCISES]
    return next((folder for folder in candidates if folder.is_dir()), None)


class _Notebook:
    """One exercise notebook, run in its own namespace: `found` {part: object}, `notes` {part: why not}."""

    def __init__(self, path: Path, cells: list):
        self.path, self.label = path, path.name
        self.namespace: dict = {"__name__": _SOURCE_PREFIX + path.name}
        self.found: dict = {}
        self.notes: dict = {}
        for cell in cells:  # the notebook's own imports first, from every code cell
            for statement in _imports(notebook.cell_source(cell)):
                with contextlib.suppress(Exception):
                    exec(compile(ast.Module([statement], []), str(path), "exec"), self.namespace)  # noqa: S102
        for cell in cells:
            ex_id = notebook.exercise_id(cell)
            name = next((n for n, e in PARTS.items() if e == ex_id), None)
            source = notebook.cell_source(cell)
            if name is None or notebook.check_calls(source):
                continue
            self._run(name, ex_id, source, cell.get("id") or "")

    def _run(self, name, ex_id, source, cell_id):
        filename = f"<{self.label} {ex_id} {cell_id}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks quote it
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(source, filename, "exec"), self.namespace)  # noqa: S102
        except KeyboardInterrupt:  # the learner stopped the gathering
            raise
        except BaseException as err:  # a half-written answer (even one calling exit()): noted, the course's stands in
            self.notes[name] = msg("the answer cell in {where} raised {error}: {detail}", where=self.label,
                                   error=type(err).__name__, detail=_short(str(err)))
            self.found.pop(name, None)
            return
        if name in self.namespace and _from_here(self.namespace[name], self.namespace):
            self.found[name] = self.namespace[name]
            self.notes.pop(name, None)


def _imports(source: str) -> list:
    try:
        return [n for n in ast.parse(source).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # magics, a broken cell: no imports from it
        return []


def _exercise_notebooks(folder) -> tuple[list[_Notebook], list[str]]:
    """The exercise notebooks in `folder` that hold an answer cell of a part, each run (see _Notebook), and
    notes on the files that could not be read. A copy (metadata naming another file) is left alone."""
    wanted, found, notes = set(PARTS.values()), [], []
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        try:
            nb = notebook.read(path)
        except notebook.NotebookError as err:
            notes.append(msg("{file} was not read: {error}", file=path.name, error=str(err)))
            continue
        source = notebook.generated_from(nb)
        if source is not None and Path(source).name != path.name:
            continue
        cells = [c for c in nb.cells if c.get("cell_type") == "code"]
        if any(notebook.exercise_id(c) in wanted for c in cells):
            found.append(_Notebook(path, cells))
    return found, notes


# ----------------------------------------------------------------------------- deciding, part by part
def _is_stub(obj) -> bool:
    return obj is None or obj is Ellipsis


def _functions(obj) -> list:
    if isinstance(obj, types.FunctionType):
        return [obj]
    if isinstance(obj, type):
        return [f for f in vars(obj).values() if isinstance(f, types.FunctionType)]
    return []


def _from_here(obj, namespace: dict) -> bool:
    """Was `obj` written in `namespace` (its functions look their globals up there)?"""
    functions = _functions(obj)
    return bool(functions) and all(f.__globals__ is namespace for f in functions)


def _ours(obj) -> bool:
    """A course object or a part gathered from an exercise notebook (what an earlier gathering bound)."""
    module = getattr(obj, "__module__", None) or ""
    return module.startswith(("course_utils.", _SOURCE_PREFIX))


def _short(text: str, width: int = 120) -> str:
    """`text` on one line, cut at `width` characters (a short one-line message stays as it is)."""
    if len(text) <= width and "\n" not in text:
        return text
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _grade(ex_id: str, obj) -> tuple[str, str]:
    """(status, why) of `obj` under its lesson's check: passed / failed / pending / not fixed."""
    result = check(ex_id, obj)
    if result.passed:
        return "passed", ""
    if result.title.startswith("Find the bug") and str(result.hint or "").startswith("Still the original bug"):
        return "not fixed", msg("not fixed yet (the starting code of {ex_id} still has its bug)", ex_id=ex_id)
    if result.status == "pending":
        return "pending", msg("not written yet (still the stub)")
    if result.hint:
        return "failed", msg("fails {ex_id}: {message} Hint: {hint}", ex_id=ex_id,
                             message=_short(translate(result.message)), hint=_short(translate(result.hint)))
    return "failed", msg("fails {ex_id}: {message}", ex_id=ex_id, message=_short(translate(result.message)))


def regrade_part(name: str, obj) -> tuple[str, str]:
    """(status, why) of the part `name` graded again on `obj` (the judge's check of a table made in the
    learner's kernel, see checks/lesson11.py): "passed", "failed", "pending", or "course" for the
    course's own version (what gather_parts puts in when a part of the learner's fails)."""
    from course_utils.course.checks.framework import get_exercise, grade_answer, module_name

    ex_id = PARTS[name]
    if module_name(obj).startswith("course_utils."):  # a part from an exercise notebook is yours
        return "course", msg("the course's version (its module is course_utils)")
    result = grade_answer(get_exercise(ex_id), obj)
    if result.status == "pending":
        return "pending", msg("not written yet (still the stub)")
    if not result.passed:
        return "failed", msg("fails {ex_id}: {message}", ex_id=ex_id, message=_short(translate(result.message)))
    drift = _dtype_drift(name, obj)
    return ("failed", drift) if drift else ("passed", msg("passes {ex_id}", ex_id=ex_id))


def _float32_probe(name: str, obj):
    """The tensors `obj` returns on small float32 inputs (None for a part without float outputs)."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 8, generator=g)
    if name == "sinusoidal_encoding":
        return call(obj, 6, 8)
    if name == "attention":
        return call(obj, *(torch.randn(2, 2, 3, 4, generator=g) for _ in range(3)))
    if name == "split_heads":
        return call(obj, x, 2)
    if name == "merge_heads":
        return call(obj, torch.randn(2, 2, 3, 4, generator=g))
    if name == "MultiHeadAttention":
        return call(call(obj, 8, 2), x, x)
    if name == "layer_norm":
        return call(obj, x, torch.ones(8), torch.zeros(8))
    if name == "feed_forward":
        return call(obj, x, torch.randn(8, 16, generator=g), torch.zeros(16), torch.randn(16, 8, generator=g),
                    torch.zeros(8))
    if name == "encoder_layer":
        return call(obj, EncoderLayer(8, 2, 16), x, None)
    if name == "decoder_layer":
        return call(obj, DecoderLayer(8, 2, 16), x, torch.randn(2, 4, 8, generator=g), None, None)
    if name == "label_smoothed_loss":
        return call(obj, torch.randn(2, 3, 5, generator=g), torch.randint(1, 5, (2, 3), generator=g), 0.1, 0)
    return None


def _dtype_drift(name: str, obj) -> str | None:
    """Why `obj` would break the float32 model although it passes its check (a float64 result), or None."""
    try:
        with torch.random.fork_rng(devices=[]):
            out = _float32_probe(name, obj)
    except (Fail, Pending):  # the probe did not fit this answer: its own check has spoken
        return None
    outs = out if isinstance(out, (tuple, list)) else [out]
    wide = sorted({str(t.dtype).replace("torch.", "") for t in outs if isinstance(t, torch.Tensor)
                   and t.is_floating_point() and t.dtype != torch.float32})
    if not wide:
        return None
    return msg("passes {ex_id}, but returns {dtypes} from float32 inputs, and the model computes in float32 (create "
               "its tensors with `dtype=torch.float32`, or end it with `.float()`)",
               ex_id=PARTS[name], dtypes="/".join(wide))


@contextlib.contextmanager
def _quiet_checks():
    """Checks run while gathering record no progress and never raise (even under COURSE_STRICT)."""
    old = {key: os.environ.get(key) for key in ("COURSE_NO_PROGRESS", "COURSE_STRICT")}
    os.environ.update(COURSE_NO_PROGRESS="1", COURSE_STRICT="0")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _row(name, used, where, status, why) -> dict:
    return {"part": name, "exercise": PARTS[name], "used": used, "where": where, "status": status, "why": why}


def _decide(name: str, here, sources: list[_Notebook], folder_note: str):
    """(row, the learner's object or None) for one part; `here` is the capstone's definition or None."""
    ex_id = PARTS[name]
    holder = next((s for s in sources if name in s.found or name in s.notes), None)
    if here is not None:
        candidate, where, label = here, "here", msg("yours (defined here)")
    elif holder is not None and name in holder.found:
        candidate, where, label = holder.found[name], holder.label, msg("yours in {file}", file=holder.label)
    elif holder is not None:
        return _row(name, "course", holder.label, "failed", holder.notes[name]), None
    else:
        return _row(name, "course", "", "missing", folder_note), None
    status, why = _grade(ex_id, candidate)
    if status == "passed":
        drift = _dtype_drift(name, candidate)
        status, why = ("failed", drift) if drift else ("passed", msg("passes {ex_id}", ex_id=ex_id))
    if status == "passed":
        return _row(name, "yours", where, status, why), candidate
    if where == "here" and holder is not None and name in holder.found:
        why = why + msg("; the version in {file} is not used: the one defined here wins", file=holder.label)
    return _row(name, "course", where, status, msg("{label}: {why}", label=label, why=why)), None


def gather_parts(namespace: dict, exercises="auto") -> Parts:
    """For each of PARTS, the learner's version if it passes its check, else the course's (see the module
    docstring). `namespace`: the capstone notebook's globals(). `exercises`: the folder of the learner's saved
    exercise notebooks; "auto" finds it (`exercise_folder()`), None reads none. Checks run here record no
    progress. Returns a Parts."""
    folder = exercise_folder() if exercises == "auto" else (None if exercises is None else Path(exercises))
    if folder is None:
        sources, notes, folder_note = [], [], msg("not written (no exercise notebooks read)")
    elif not folder.is_dir():
        sources, notes, folder_note = [], [], msg("not written (no folder {folder})", folder=str(folder))
    else:
        sources, notes = _exercise_notebooks(folder)
        folder_note = msg("not written (none defined here or in {folder})", folder=str(folder))
    winners, rows = {}, []
    with _quiet_checks():
        for name in PARTS:
            value = namespace.get(name)
            here = None if _is_stub(value) or _ours(value) else value
            row, winner = _decide(name, here, sources, folder_note)
            winners[name] = winner if winner is not None else _course_part(name, winners)
            rows.append(row)
            for source in sources:  # later parts of every notebook call this winner
                source.namespace[name] = winners[name]
            if name not in namespace or _ours(namespace[name]):  # never replaces what the learner wrote
                namespace[name] = winners[name]
    return Parts(winners, rows, notes)


class Parts:
    """The parts the capstone model is built from, as attributes (`parts.attention`); `rows`: for each part a
    dict (plain data) of part, exercise, used ("yours" / "course"), where ("here", the exercise notebook, or
    ""), status ("passed", "failed", "pending", "not fixed", "missing") and why; `notes`: files not read."""

    def __init__(self, winners: dict, rows: list, notes: list = ()):
        self.__dict__.update(winners)
        self.rows = [dict(r) for r in rows]
        self.notes = list(notes)

    def yours(self) -> list[str]:
        return [r["part"] for r in self.rows if r["used"] == "yours"]

    def course(self) -> list[str]:
        return [r["part"] for r in self.rows if r["used"] == "course"]

    def table(self) -> str:
        """One line per part: whose it is and why."""
        def whose(r):
            if r["used"] == "course":
                return msg("course")
            return msg("yours (here)") if r["where"] == "here" else msg("yours ({file})", file=r["where"])
        lines = [[translate(cell) for cell in line] for line in  # in the learner's language, then laid out
                 [(msg("part"), msg("exercise"), msg("used"), msg("why"))]
                 + [(r["part"], r["exercise"], whose(r), r["why"]) for r in self.rows]]
        return "\n".join([columns(lines)] + [translate(n) for n in self.notes])

    def __repr__(self) -> str:
        return self.table()


# ----------------------------------------------------------------------------- measuring the model
def exact_match(model, pairs, src_vocab, tgt_vocab, batch_size: int = 500) -> float:
    """Greedy exact match of a capstone model on `pairs` (run.decoding.evaluate, which decodes with the
    course's greedy decoder through `model.encode(src, src_mask)` and `model.decode(ys, memory, src_mask)`).
    The model's mode (train or eval) is left as it was."""
    return evaluate(_Interface(model), pairs, src_vocab, tgt_vocab, batch_size=batch_size, bleu=False,
                    use_cache=False)["exact_match"]

