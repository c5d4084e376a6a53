"""Tests of the capstone (course_utils.course.capstone and the graders of lesson 11): the learner's parts gathered
from the capstone notebook and from saved exercise notebooks, each notebook in its own namespace, the winners
bound where other parts call them, failing and float64 parts reported; the assembled model of
solutions/11_capstone.ipynb graded by 11.transformer, and 11.train telling a model trained in this run from an
untrained one and from the shipped checkpoint."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from course_utils.corpus.data import build_vocabs, make_splits
from course_utils.course import capstone as C
from course_utils.course import notebook
from course_utils.course.checks import check
from course_utils.course.checks.reference_probes import reference_model

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "11_capstone.ipynb"
IMPORTS = "import math\nimport torch\nfrom torch import nn\n"


def _cell(marker: str) -> str:
    return next(s for s in map(notebook.cell_source, notebook.read(SOLUTION).cells) if marker in s)


def _solution_parts_namespace() -> dict:
    """The solution notebook's cell of pasted parts, run in a namespace of its own (the capstone's globals)."""
    ns: dict = {"__name__": "__main__"}
    exec(IMPORTS, ns)  # noqa: S102
    exec(_cell("### BEGIN SOLUTION\n### STUB: # (empty"), ns)  # noqa: S102
    return ns


def _model_namespace(parts, transformer_source=None) -> dict:
    ns: dict = {"__name__": "__main__"}
    exec(IMPORTS, ns)  # noqa: S102
    ns["parts"] = parts
    exec(_cell("class LayerNorm(nn.Module)"), ns)  # noqa: S102
    exec(transformer_source or _cell("class Transformer(nn.Module)"), ns)  # noqa: S102
    return ns


def _write_notebook(folder: Path, name: str, *cells, generated_from: str | None = None) -> Path:
    """An exercise notebook: `cells` are (exercise id or None, source) code cells."""
    nb = nbformat.v4.new_notebook()
    for ex_id, source in cells:
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": [f"exercise:{ex_id}"]} if ex_id else {}))
    if generated_from:
        nb.metadata["course"] = {"generated_from": generated_from}
    folder.mkdir(parents=True, exist_ok=True)
    notebook.write(nb, folder / name)
    return folder / name


ATTENTION = '''\
def attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights
'''
ATTENTION_STUB = "def attention(q, k, v, mask=None):\n    raise NotImplementedError('Exercise 04.attention')\n"
SPLIT = ("def split_heads(x, n_heads):\n    B, T, d = x.shape\n"
         "    return x.view(B, T, n_heads, d // n_heads).transpose(1, 2)\n")
MERGE = "def merge_heads(x):\n    B, H, T, d_k = x.shape\n    return x.transpose(1, 2).reshape(B, T, H * d_k)\n"
MHA = '''\
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.w_q, self.w_k = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.w_v, self.w_o = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)

    def forward(self, x_q, x_kv, mask=None):
        q = split_heads(self.w_q(x_q), self.n_heads)
        k = split_heads(self.w_k(x_kv), self.n_heads)
        v = split_heads(self.w_v(x_kv), self.n_heads)
        out, _ = attention(q, k, v, mask)
        return self.w_o(merge_heads(out))
'''


def _lessons_04_05(folder: Path, attention_source: str = ATTENTION_STUB) -> Path:
    """Lesson 04 with `attention_source` as its answer; lesson 05 importing the course's attention, as the
    exercise notebook does, with correct split_heads, merge_heads and MultiHeadAttention."""
    _write_notebook(folder, "04_self_attention.ipynb", (None, "import math\nimport torch"),
                    ("04.attention", attention_source), ("04.attention", 'check("04.attention", attention)'))
    _write_notebook(folder, "05_multi_head_attention.ipynb",
                    (None, "import math\nimport torch\nfrom torch import nn\n"
                           "from course_utils.transformer.attention import attention\n"),
                    ("05.split_heads", SPLIT), ("05.merge_heads", MERGE), ("05.multi_head_attention", MHA))
    return folder


def _rows(parts) -> dict:
    return {r["part"]: r for r in parts.rows}


@pytest.fixture(scope="module")
def course_parts():
    return C.gather_parts({}, exercises=None)


# ----------------------------------------------------------------------------- gathering
def test_without_learner_parts_every_part_is_the_courses(course_parts):
    assert course_parts.course() == list(C.PARTS) and course_parts.yours() == []
    assert all(r["status"] == "missing" and "not written" in r["why"] for r in course_parts.rows)
    assert "greedy_decode" in course_parts.table() and course_parts.attention is not None
    assert check("11.parts", course_parts).status == "pending"


def test_a_stub_in_04_does_not_leak_into_05(tmp_path):
    parts = C.gather_parts({}, exercises=_lessons_04_05(tmp_path))
    rows = _rows(parts)
    assert rows["attention"]["used"] == "course" and rows["attention"]["status"] == "pending"
    for name in ("split_heads", "merge_heads", "MultiHeadAttention"):
        assert rows[name]["used"] == "yours" and rows[name]["where"] == "05_multi_head_attention.ipynb", rows[name]
    mha = parts.MultiHeadAttention(8, 2)
    assert mha.forward.__globals__["attention"] is parts.attention  # the winner, not 04's stub
    assert mha(torch.randn(2, 3, 8), torch.randn(2, 3, 8)).shape == (2, 3, 8)


def test_a_part_pasted_into_the_capstone_wins_and_is_the_one_called(tmp_path):
    calls = []
    ns = {"__name__": "__main__"}
    exec(IMPORTS + ATTENTION.replace("    scores =", "    calls.append(q.shape)\n    scores =", 1), ns)  # noqa: S102
    ns["calls"] = calls
    parts = C.gather_parts(ns, exercises=_lessons_04_05(tmp_path, ATTENTION))
    rows = _rows(parts)
    assert rows["attention"]["used"] == "yours" and rows["attention"]["where"] == "here"
    assert parts.attention is ns["attention"] and rows["MultiHeadAttention"]["used"] == "yours"
    calls.clear()
    parts.MultiHeadAttention(8, 2)(torch.randn(2, 3, 8), torch.randn(2, 3, 8))
    assert calls == [torch.Size([2, 2, 3, 4])]  # the gathered MultiHeadAttention called the pasted attention
    assert ns["split_heads"] is parts.split_heads  # parts not defined here are added, under their names


def test_a_failing_pasted_part_is_reported_not_swapped_for_the_exercise_version(tmp_path):
    ns = {"__name__": "__main__"}
    exec(IMPORTS + ATTENTION.replace(" / math.sqrt(q.size(-1))", ""), ns)  # noqa: S102  (no 1/sqrt(d_k))
    pasted = ns["attention"]
    parts = C.gather_parts(ns, exercises=_lessons_04_05(tmp_path, ATTENTION))  # 04's own version is right
    row = _rows(parts)["attention"]
    assert row["used"] == "course" and row["status"] == "failed" and row["where"] == "here"
    assert "fails 04.attention" in row["why"] and "04_self_attention.ipynb is not used" in row["why"]
    assert ns["attention"] is pasted  # what the learner wrote stays
    result = check("11.parts", parts)
    assert result.status == "failed" and "attention" in result.message
    assert "1 of your parts fails, so the course's version stands in for it" in result.message  # singular


def test_a_float64_part_is_named_at_11_parts_and_the_model_still_runs(course_parts):
    ns = _solution_parts_namespace()
    exec("def sinusoidal_encoding(max_len, d_model):\n"  # noqa: S102
         "    pe = torch.zeros(max_len, d_model, dtype=torch.float64)\n"
         "    pos = torch.arange(max_len, dtype=torch.float64)[:, None]\n"
         "    angles = pos / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)\n"
         "    pe[:, 0::2], pe[:, 1::2] = torch.sin(angles), torch.cos(angles)\n"
         "    return pe\n", ns)
    assert check("03.sinusoidal_encoding", ns["sinusoidal_encoding"]).passed  # 03 accepts float64 on purpose
    parts = C.gather_parts(ns, exercises=None)
    row = _rows(parts)["sinusoidal_encoding"]
    assert row["status"] == "failed" and "float64" in row["why"]
    result = check("11.parts", parts)
    assert result.status == "failed" and "sinusoidal_encoding" in result.message and "float64" in result.message
    assert check("11.transformer", _model_namespace(parts)["Transformer"]).passed  # the course's stands in


def test_answers_read_from_exercise_notebooks_each_cell_reported(tmp_path):
    _write_notebook(tmp_path, "06_masks.ipynb", (None, "import torch"),
                    ("06.causal_mask", "def causal_mask(T):\n    return torch.ones(T, T, dtype=torch.bool).tril()\n"),
                    ("06.padding_mask", "def padding_mask(tokens, pad_id):\n    return 1 +\n"))
    _write_notebook(tmp_path, "06_masks-Copy1.ipynb", generated_from="solutions/06_masks.ipynb")
    _write_notebook(tmp_path, "06_masks_old.ipynb", ("06.causal_mask", "def causal_mask(T):\n    return None\n"),
                    generated_from="solutions/06_masks.ipynb")  # a renamed copy: not read
    (tmp_path / "07_broken.ipynb").write_text("{not json", encoding="utf-8")
    parts = C.gather_parts({}, exercises=tmp_path)
    rows = _rows(parts)
    assert rows["causal_mask"]["used"] == "yours" and rows["causal_mask"]["where"] == "06_masks.ipynb"
    assert rows["padding_mask"]["status"] == "failed" and "SyntaxError" in rows["padding_mask"]["why"]
    assert any("07_broken.ipynb" in note for note in parts.notes) and "07_broken" in parts.table()
    assert "06_masks_old" not in parts.table()


def test_the_exercise_folder_is_the_learners(tmp_path, monkeypatch):
    for folder in ("course_utils", "notebooks", "solutions", "exercises", "zh/solutions", "zh/exercises"):
        (tmp_path / folder).mkdir(parents=True)
    for here, want in (("exercises", "exercises"), ("solutions", "exercises"), ("zh/exercises", "zh/exercises"),
                       ("zh/solutions", "zh/exercises"), (".", "exercises")):
        monkeypatch.chdir(tmp_path / here)
        assert C.exercise_folder() == tmp_path / want, here
    monkeypatch.chdir(tmp_path.parent)  # outside any checkout: the package's own checkout
    assert C.exercise_folder() == ROOT / "exercises"


def test_an_untouched_find_the_bug_cell_reads_not_fixed_yet_not_failed(tmp_path):
    starting = ("def encoder_layer(layer, x, mask):\n    h = layer.norm1(x + layer.self_attn(x, x, mask))\n"
                "    return layer.norm2(x + layer.ffn(h))\n")
    other_mistake = starting.replace("x + layer.ffn(h)", "layer.ffn(h)")
    for source, want, unwanted in ((starting, "not fixed yet", "fails"), (other_mistake, "fails", "not fixed yet")):
        _write_notebook(tmp_path, "08_building.ipynb", ("08.fix_encoder_layer", source))
        row = _rows(C.gather_parts({}, exercises=tmp_path))["encoder_layer"]
        assert row["used"] == "course" and want in row["why"] and unwanted not in row["why"], row


def test_the_parts_check_counts_whose_parts_are_used():
    ns = _solution_parts_namespace()
    assert check("11.parts", C.gather_parts(ns, exercises=None)).passed
    ns["layer_norm"] = None  # a stub: the course's stands in
    partly = check("11.parts", C.gather_parts(ns, exercises=None))
    assert partly.status == "failed" and "14 of 15" in partly.message and "layer_norm" in partly.message
    assert check("11.parts", {"attention": None}).status == "failed"


def test_11_parts_passes_after_the_checks_are_imported_afresh(tmp_path):
    """`course check` grades with freshly imported checks modules: a Parts from before still counts."""
    script = ("import sys\nfrom course_utils.course.capstone import gather_parts\n"
              f"exec(open({str(tmp_path / 'parts.py')!r}).read(), ns := {{'__name__': '__main__'}})\n"
              "parts = gather_parts(ns, exercises=None)\n"
              "for m in [m for m in sys.modules if m.startswith('course_utils.course.checks')]:\n"
              "    del sys.modules[m]\n"
              "from course_utils.course.checks import check\n"
              "print(check('11.parts', parts).status)\n")
    (tmp_path / "parts.py").write_text(IMPORTS + _cell("### BEGIN SOLUTION\n### STUB: # (empty"), encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env=dict(os.environ, COURSE_NO_PROGRESS="1"))
    assert out.stdout.strip().splitlines()[-1:] == ["passed"], out.stdout + out.stderr


# ----------------------------------------------------------------------------- the assembled model
def test_the_solution_transformer_passes(course_parts):
    assert check("11.transformer", _model_namespace(course_parts)["Transformer"]).passed


@pytest.mark.parametrize("old, new, hint", [
    ("x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]",
     "x = self.src_embed(src) + self.pe[: src.size(1)]", "source embeddings by sqrt(d_model)"),
    ("x = layer(x, memory, tgt_mask, src_mask)", "x = layer(x, memory, tgt_mask, None)", "memory_mask"),
    ("tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)",
     "tgt_mask = P.padding_mask(tgt, self.pad_id)", "causal mask"),
    ("return self.out_proj(x)", "return self.out_proj(x).softmax(dim=-1)", "applies softmax to the logits"),
    ("        if src_mask is None:\n            src_mask = P.padding_mask(src, self.pad_id)\n", "",
     "`encode(src, None)` must build the padding mask"),
])
def test_assembly_mistakes_fail_with_their_hint(course_parts, old, new, hint):
    source = _cell("class Transformer(nn.Module)")
    assert old in source
    result = check("11.transformer", _model_namespace(course_parts, source.replace(old, new))["Transformer"])
    assert result.status == "failed" and hint in (result.hint or ""), result


def test_renamed_modules_and_stubs_are_reported(course_parts):
    source = _cell("class Transformer(nn.Module)")
    result = check("11.transformer", _model_namespace(course_parts, source.replace("self.out_proj", "self.generator"))
                   ["Transformer"])
    assert result.status == "failed" and "out_proj.weight" in result.message
    stub = source.split("### BEGIN SOLUTION")[0].rstrip(" ") + "        raise NotImplementedError\n\n" + \
        "    def decode(self, tgt, memory, src_mask=None):\n        raise NotImplementedError\n\n" + \
        "    def forward(self, src, tgt):\n        return self.decode(tgt, self.encode(src))\n"
    assert check("11.transformer", _model_namespace(course_parts, stub)["Transformer"]).status == "pending"


# ----------------------------------------------------------------------------- the training run
def _shipped_function_other_weights() -> dict:
    """The shipped model's weights with each feed-forward layer's hidden units permuted: the same function
    (same logits, same accuracy) from weights far from the checkpoint's, standing in for a model trained here."""
    state = {k: v.clone() for k, v in reference_model()[0].state_dict().items()}
    g = torch.Generator().manual_seed(0)
    for prefix in sorted({k.rsplit(".ffn.", 1)[0] for k in state if ".ffn.w_1.weight" in k}):
        order = torch.randperm(state[f"{prefix}.ffn.w_1.weight"].size(0), generator=g)
        for key in ("w_1.weight", "w_1.bias"):
            state[f"{prefix}.ffn.{key}"] = state[f"{prefix}.ffn.{key}"][order]
        state[f"{prefix}.ffn.w_2.weight"] = state[f"{prefix}.ffn.w_2.weight"][:, order]
    return state


@pytest.fixture(scope="module")
def learner_run(course_parts):
    """The solution's Transformer (from the course's parts) holding `_shipped_function_other_weights`, and the
    run dict the training cell returns."""
    src_vocab, tgt_vocab = build_vocabs()
    torch.manual_seed(0)
    model = _model_namespace(course_parts)["Transformer"](len(src_vocab), len(tgt_vocab))
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(_shipped_function_other_weights())
    return {"model": model.eval(), "train_seconds": 60.0, "initial_weights": initial, "steps": 500}


def test_a_trained_model_passes_and_the_measured_accuracy_is_shown(learner_run):
    result = check("11.train", learner_run)
    assert result.passed, result
    assert "Exact match on the 2000 test sentences: 99." in result.message and "60 s of training" in result.message


def test_untrained_and_shipped_weights_are_rejected(learner_run, course_parts):
    model = learner_run["model"]
    untrained = dict(learner_run, initial_weights=read(model))
    assert "was not trained" in check("11.train", untrained).message
    shipped = _model_namespace(course_parts)["Transformer"](*[t.num_embeddings for t in (model.src_embed,
                                                                                           model.tgt_embed)])
    shipped.load_state_dict(reference_model()[0].state_dict())
    for run in ({"model": shipped, "train_seconds": 60.0, "initial_weights": learner_run["initial_weights"]},
                dict(learner_run, initial_weights=read(shipped))):
        result = check("11.train", run)
        assert result.status == "failed" and "shipped reference model" in result.message, result
    missing = {k: v for k, v in learner_run.items() if k != "initial_weights"}
    assert "initial_weights" in check("11.train", missing).message


def read(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_the_time_limit_and_the_run_dict_are_checked(learner_run):
    slow = check("11.train", dict(learner_run, train_seconds=C.TIME_LIMIT_S + 1))
    assert slow.status == "failed" and "took" in slow.message
    assert "train_seconds" in check("11.train", dict(learner_run, train_seconds=-1)).message
    assert check("11.train", learner_run["model"]).status == "failed"


def test_a_model_whose_logits_differ_from_the_course_copy_is_not_measured(learner_run, course_parts):
    source = _cell("class Transformer(nn.Module)").replace("* math.sqrt(self.d_model) + self.pe[:T]", "+ self.pe[:T]")
    model = _model_namespace(course_parts, source)["Transformer"](*[t.num_embeddings for t in (
        learner_run["model"].src_embed, learner_run["model"].tgt_embed)])
    model.load_state_dict(learner_run["model"].state_dict())
    result = check("11.train", dict(learner_run, model=model))
    assert result.status == "failed" and "does not compute the same logits" in result.message, result


def test_the_number_of_heads_is_found_from_the_logits(learner_run, course_parts):
    src_vocab, tgt_vocab = build_vocabs()
    model = _model_namespace(course_parts)["Transformer"](len(src_vocab), len(tgt_vocab), n_heads=8)
    model.load_state_dict(learner_run["model"].state_dict())  # 4-head weights read by 8 heads: poor, but measurable
    result = check("11.train", dict(learner_run, model=model))
    assert result.status == "failed" and "below 95%" in result.message, result


def test_exact_match_decodes_a_capstone_model_and_leaves_its_mode_alone(learner_run):
    src_vocab, tgt_vocab = build_vocabs()
    model = learner_run["model"].train()
    try:
        assert C.exact_match(model, make_splits(0, n_train=0).test[:50], src_vocab, tgt_vocab) > 0.9
        assert model.training
    finally:
        model.eval()
