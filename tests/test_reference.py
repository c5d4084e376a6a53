"""The shipped reference checkpoint and the `course train` / `course evaluate` commands."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_utils.course.cli import main as course
from course_utils.run.reference import (
    REFERENCE_CHECKPOINT,
    REFERENCE_CONFIG,
    load_data,
    load_reference,
    score,
    torch_threads,
    translate,
)
from course_utils.run.train import load_checkpoint


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.fixture(scope="module")
def splits():
    (train, val, test, compositional), _ = load_data()
    return {"val": val, "test": test, "compositional": compositional}


def test_shipped_checkpoint_is_small_plain_and_matches_the_recipe(reference):
    model, src_vocab, tgt_vocab, meta = reference
    assert REFERENCE_CHECKPOINT.stat().st_size < 3_000_000
    raw = torch.load(REFERENCE_CHECKPOINT, weights_only=True)  # loads without unpickling code
    assert raw["format_version"] == 1
    assert model.config == REFERENCE_CONFIG.model_config(len(src_vocab), len(tgt_vocab))
    assert not model.training
    for key in ("steps", "train_seconds", "test", "compositional", "torch", "date", "recipe", "command"):
        assert key in meta, key
    assert meta["test"]["n"] == 2000 and meta["compositional"]["n"] == 1000


@pytest.mark.slow
def test_shipped_checkpoint_reaches_99_percent_on_the_test_split(reference, splits):
    model, src_vocab, tgt_vocab, meta = reference
    result = score(model, src_vocab, tgt_vocab, splits["test"])
    assert result["exact_match"] >= 0.99
    # `course evaluate` reproduces the figures stored when `course train` wrote the file
    assert result["exact_match"] == pytest.approx(meta["test"]["exact_match"], abs=0.002)
    assert result["bleu"] == pytest.approx(meta["test"]["bleu"], abs=0.2)


def test_translate_one_sentence(reference, splits):
    model, src_vocab, tgt_vocab, _ = reference
    pair = splits["test"][0]
    assert translate(model, src_vocab, tgt_vocab, pair.src) == "".join(pair.tgt)
    assert translate(model, src_vocab, tgt_vocab, " ".join(pair.src)) == "".join(pair.tgt)


def test_evaluate_command_prints_exact_match_and_bleu(capsys):
    assert course(["evaluate", "--split", "compositional", "--limit", "40", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "compositional: exact match" in out and "BLEU" in out and "(40 sentences)" in out


def test_the_commands_give_the_caller_its_thread_count_back(tmp_path, capsys):
    """`course evaluate` called from Python (a notebook, a test) runs on its own thread count and
    leaves the caller's as it was, also when it stops on an error."""
    seen = []
    with torch_threads(1):
        assert course(["evaluate", "--split", "compositional", "--limit", "2", "--threads", "2"]) == 0
        seen.append(torch.get_num_threads())
        bad = tmp_path / "bad.pt"
        bad.write_bytes(b"not a checkpoint")
        assert course(["evaluate", "--checkpoint", str(bad), "--limit", "2", "--threads", "2"]) == 1
        seen.append(torch.get_num_threads())
        with pytest.raises(KeyError), torch_threads(2):
            seen.append(torch.get_num_threads())
            raise KeyError("a command that fails")
        seen.append(torch.get_num_threads())
    assert seen == [1, 1, 2, 1]


def test_evaluate_command_reports_a_bad_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert course(["evaluate", "--checkpoint", str(bad), "--limit", "5", "--threads", "1"]) == 1
    assert "bad.pt is not a readable checkpoint" in capsys.readouterr().err


@pytest.mark.slow
def test_train_command_writes_a_loadable_checkpoint(tmp_path, capsys):
    out = tmp_path / "tiny.pt"
    code = course(["train", "--out", str(out), "--steps", "4", "--eval-every", "2", "--n-train", "128",
                       "--eval-limit", "8", "--threads", "1", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "trained 4 steps" in printed and f"wrote {out}" in printed
    model, src_vocab, tgt_vocab, meta = load_checkpoint(out)
    assert meta["steps"] == 4 and meta["recipe"]["n_train"] == 128
    assert meta["history"]["eval_step"] == [2, 4]
    assert meta["test"]["n"] == 8 and 0.0 <= meta["test"]["exact_match"] <= 1.0
    # a second run keeps the first checkpoint as a backup instead of overwriting it
    first = out.read_bytes()
    assert course(["train", "--out", str(out), "--steps", "2", "--eval-every", "2", "--n-train", "64",
                       "--eval-limit", "4", "--threads", "1", "--no-progress"]) == 0
    backups = list(tmp_path.glob("tiny.pt.bak-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == first
    assert "backed it up" in capsys.readouterr().out


def test_train_never_overwrites_the_shipped_checkpoint_by_default():
    from course_utils.run.reference import DEFAULT_TRAIN_OUT

    default_out = Path(DEFAULT_TRAIN_OUT).resolve()
    assert default_out != REFERENCE_CHECKPOINT.resolve()
    assert default_out.name == "reference.pt" and default_out.parent.name == "artifacts"


@pytest.mark.slow
def test_module_entry_point():
    usage = subprocess.run([sys.executable, "-m", "course_utils.course.cli", "nonsense"], capture_output=True,
                           text=True)
    assert usage.returncode == 2 and "train" in usage.stderr and "evaluate" in usage.stderr
    run = subprocess.run([sys.executable, "-m", "course_utils.course.cli", "evaluate", "--limit", "10",
                          "--threads", "1"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "test: exact match" in run.stdout


def test_reference_config_is_built_on_transformer_config():
    """ReferenceConfig holds a TransformerConfig (every model option once, norm_first included)."""
    import dataclasses

    from course_utils.run.reference import ReferenceConfig
    from course_utils.transformer.model import TransformerConfig

    assert isinstance(REFERENCE_CONFIG.model, TransformerConfig)
    repeated = ({f.name for f in dataclasses.fields(ReferenceConfig)}
                & {f.name for f in dataclasses.fields(TransformerConfig)})
    assert not repeated, f"ReferenceConfig repeats TransformerConfig's fields {repeated}"
    pre_ln = dataclasses.replace(REFERENCE_CONFIG, model=dataclasses.replace(REFERENCE_CONFIG.model, norm_first=True))
    model = pre_ln.model_config(10, 12)
    assert model.norm_first and (model.src_vocab_size, model.tgt_vocab_size) == (10, 12)
    assert dataclasses.replace(model, norm_first=False, src_vocab_size=REFERENCE_CONFIG.model.src_vocab_size,
                               tgt_vocab_size=REFERENCE_CONFIG.model.tgt_vocab_size) == REFERENCE_CONFIG.model
    with pytest.raises(TypeError, match="TransformerConfig"):
        ReferenceConfig(model={"d_model": 64})
