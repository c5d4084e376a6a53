"""Tests of lesson 11's capstone support (course_utils.course.checks.lesson11): gathering the learner's parts
(from the notebook, from saved exercise notebooks, else the course's), and the graders 11.transformer and
11.train. The assembled model is the one of solutions/11_capstone.ipynb, run from its cells."""

import json
from pathlib import Path

import pytest
import torch

from course_utils.course.checks import check
from course_utils.course.checks import lesson11 as L

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "11_capstone.ipynb"


def _cells():
    return ["".join(c["source"]) for c in json.loads(SOLUTION.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"]


def _cell(marker: str) -> str:
    return next(s for s in _cells() if marker in s)


def _solution_parts_namespace() -> dict:
    """The solution notebook's imports and its cell of pasted parts, run."""
    ns: dict = {}
    exec(_cell("from course_utils.course.checks import check"), ns)  # noqa: S102
    exec(_cell("### BEGIN SOLUTION\n### STUB: # (empty"), ns)  # noqa: S102
    return ns


def _model_namespace(parts, transformer_source=None) -> dict:
    ns: dict = {}
    exec(_cell("from course_utils.course.checks import check"), ns)  # noqa: S102
    ns["parts"] = parts
    exec(_cell("class LayerNorm(nn.Module)"), ns)  # noqa: S102
    exec(transformer_source or _cell("class Transformer(nn.Module)"), ns)  # noqa: S102
    return ns


@pytest.fixture(scope="module")
def course_parts():
    return L.gather_parts({})


def test_without_learner_parts_every_part_is_the_courses(course_parts):
    assert course_parts.course() == list(L.PARTS) and course_parts.yours() == []
    assert all(r.note == "not written" for r in course_parts.rows)
    assert "greedy_decode" in course_parts.table() and course_parts.attention is not None


def test_learner_parts_that_pass_are_used_and_wrong_ones_replaced(tmp_path):
    ns = _solution_parts_namespace()
    ns["attention"] = lambda q, k, v, mask=None: ((q @ k.transpose(-2, -1)).softmax(-1) @ v, None)  # no 1/sqrt(d_k)
    ns["warmup_lr"] = None
    parts = L.gather_parts(ns, exercises=tmp_path)  # an empty exercises folder: nothing more to read
    used = {r.name: r for r in parts.rows}
    assert used["attention"].source == "course" and "failed" in used["attention"].note
    assert used["warmup_lr"].source == "course"
    assert used["split_heads"].source == "yours (capstone)" and parts.split_heads is ns["split_heads"]
    # the learner's MultiHeadAttention calls the learner's (wrong) attention, so it fails as well
    assert used["MultiHeadAttention"].source == "course"
    assert len(parts.yours()) == len(L.PARTS) - 3


def test_answers_are_read_from_saved_exercise_notebooks(tmp_path):
    def cell(tag, source):
        return {"cell_type": "code", "metadata": {"tags": [f"exercise:{tag}"]}, "source": source,
                "outputs": [], "execution_count": None}

    nb = {"cells": [cell("06.causal_mask", "def causal_mask(T):\n    return torch.ones(T, T, dtype=torch.bool).tril()\n"),
                    cell("06.padding_mask", "def padding_mask(tokens, pad_id):\n    raise ValueError('half written')\n"
                                            "    return 1 +\n"),
                    cell("04.attention", "def attention(q, k, v, mask=None):\n"
                                         "    raise NotImplementedError('Exercise 04.attention: your code here')\n")],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "06_masks.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    (tmp_path / "07_broken.ipynb").write_text("{not json", encoding="utf-8")
    found, notes = L.answers_from_exercises(tmp_path)
    assert set(found) == {"causal_mask", "attention"}
    assert "SyntaxError" in notes["padding_mask"] and "07_broken.ipynb" in notes
    parts = L.gather_parts({}, exercises=tmp_path)
    used = {r.name: r for r in parts.rows}
    assert used["causal_mask"].source == "yours (exercise notebook)"
    assert used["attention"].source == "course" and "pending" in used["attention"].note
    assert used["padding_mask"].source == "course" and "SyntaxError" in used["padding_mask"].note


def test_the_solution_transformer_passes_and_matches_the_course_model(course_parts):
    ns = _model_namespace(course_parts)
    result = check("11.transformer", ns["Transformer"])
    assert result.passed, result


@pytest.mark.parametrize("old, new, hint", [
    ("x = self.src_embed(src) * math.sqrt(self.d_model) + self.pe[: src.size(1)]",
     "x = self.src_embed(src) + self.pe[: src.size(1)]", "source embeddings by sqrt(d_model)"),
    ("x = self.tgt_embed(tgt) * math.sqrt(self.d_model) + self.pe[:T]",
     "x = self.tgt_embed(tgt) + self.pe[:T]", "target embeddings by sqrt(d_model)"),
    ("x = layer(x, memory, tgt_mask, src_mask)", "x = layer(x, memory, tgt_mask, None)", "memory_mask"),
    ("tgt_mask = P.padding_mask(tgt, self.pad_id) & P.causal_mask(T)",
     "tgt_mask = P.padding_mask(tgt, self.pad_id)", "causal mask"),
])
def test_assembly_mistakes_fail_with_their_hint(course_parts, old, new, hint):
    source = _cell("class Transformer(nn.Module)")
    assert old in source
    ns = _model_namespace(course_parts, source.replace(old, new))
    result = check("11.transformer", ns["Transformer"])
    assert result.status == "failed" and hint in (result.hint or ""), result


def test_renamed_modules_and_stubs_are_reported(course_parts):
    source = _cell("class Transformer(nn.Module)")
    ns = _model_namespace(course_parts, source.replace("self.out_proj", "self.generator"))
    result = check("11.transformer", ns["Transformer"])
    assert result.status == "failed" and "out_proj.weight" in result.message
    stub = source.split("### BEGIN SOLUTION")[0].rstrip(" ") + "        raise NotImplementedError\n\n" + \
        "    def decode(self, tgt, memory, src_mask=None):\n        raise NotImplementedError\n\n" + \
        "    def forward(self, src, tgt):\n        return self.decode(tgt, self.encode(src))\n"
    ns = _model_namespace(course_parts, stub)
    assert check("11.transformer", ns["Transformer"]).status == "pending"


def test_train_grader_scores_the_test_split_and_the_time():
    from course_utils.run.reference import load_reference

    model = load_reference()[0]  # the shipped model has the capstone's interface (encode, decode)
    assert check("11.train", {"model": model, "train_seconds": 60.0}).passed
    slow = check("11.train", {"model": model, "train_seconds": L.TIME_LIMIT_S + 1})
    assert slow.status == "failed" and "took" in slow.message
    torch.manual_seed(0)
    untrained = type(model)(model.config)
    weak = check("11.train", {"model": untrained, "train_seconds": 10.0})
    assert weak.status == "failed" and "below 95%" in weak.message
    assert check("11.train", model).status == "failed"
    assert "train_seconds" in check("11.train", {"model": model, "train_seconds": -1}).message


def test_exact_match_leaves_the_model_mode_alone():
    from course_utils.corpus.data import build_vocabs, make_splits
    from course_utils.run.reference import load_reference

    model = load_reference()[0].train()
    src_vocab, tgt_vocab = build_vocabs()
    assert L.exact_match(model, make_splits(0, n_train=0).test[:50], src_vocab, tgt_vocab) > 0.9
    assert model.training


def test_parts_check_reports_whose_parts_are_used(tmp_path, course_parts):
    assert check("11.parts", course_parts).status == "pending"  # nothing of the learner's yet
    ns = _solution_parts_namespace()
    assert check("11.parts", L.gather_parts(ns)).passed
    ns["layer_norm"] = lambda x, gamma, beta, eps=1e-5: x  # forgot to normalise
    partly = check("11.parts", L.gather_parts(ns))
    assert partly.status == "failed" and "14 of 15" in partly.message and "layer_norm" in partly.message
    assert check("11.parts", {"attention": None}).status == "failed"


def test_an_untouched_find_the_bug_cell_reads_not_fixed_yet_not_failed(tmp_path):
    starting = ("def encoder_layer(layer, x, mask):\n    h = layer.norm1(x + layer.self_attn(x, x, mask))\n"
                "    return layer.norm2(x + layer.ffn(h))\n")
    other_mistake = starting.replace("x + layer.ffn(h)", "layer.ffn(h)")
    for source, want, unwanted in ((starting, "not fixed yet", "failed"), (other_mistake, "failed", "not fixed yet")):
        nb = {"cells": [{"cell_type": "code", "source": source, "outputs": [], "execution_count": None,
                         "metadata": {"tags": ["exercise:08.fix_encoder_layer"]}}],
              "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        (tmp_path / "08_building.ipynb").write_text(json.dumps(nb), encoding="utf-8")
        row = next(r for r in L.gather_parts({}, exercises=tmp_path).rows if r.name == "encoder_layer")
        assert row.source == "course" and want in row.note and unwanted not in row.note, row
