"""Smoke tests of benchmarks/: every script runs end to end at tiny sizes (`--tiny`), and the
torch.nn baseline's mask border (our masks -> torch.nn's) hides exactly the padding."""

import contextlib
import importlib
import io
import sys
from pathlib import Path

import pytest
import torch

from course_utils.transformer.masks import causal_mask, padding_mask

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.stem for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))
EXTRA_ARGS = {"length_positions": ["--positional", "learned"]}  # a required choice


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))
    yield lambda name: importlib.import_module(name)
    sys.path.remove(str(BENCHMARKS))


def test_every_script_is_listed():
    assert SCRIPTS == ["beam_vs_greedy", "kv_cache", "length_positions", "time_to_target"], (
        f"benchmarks/ has scripts {SCRIPTS}: give a new one a --tiny flag and a line in this file")


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_runs_tiny(bench, name):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = bench(name).main(["--tiny", "--threads", "1", *EXTRA_ARGS.get(name, [])])
    text = out.getvalue()
    assert code == 0, text
    expected = {"kv_cache": "all decoded tokens identical: True",
                "beam_vs_greedy": "compositional",
                "length_positions": '"relative_tense":',
                "time_to_target": "ratio ours / baseline"}[name]
    assert expected in text, text


@pytest.fixture(scope="module")
def baseline(bench):
    torch.manual_seed(0)
    return bench("_common").TorchTransformerBaseline(20, 22, d_model=16, n_heads=2, n_layers=1, d_ff=32,
                                                     max_len=16, pad_id=0).eval()


def test_baseline_padding_is_invisible(baseline):
    """A sentence decodes to the same scores alone and padded in a batch: only a correct
    border (True = pad for torch.nn) hides the pads."""
    src_alone = torch.tensor([[5, 6, 7]])
    src_padded = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    tgt = torch.tensor([[1, 4, 9]])
    with torch.no_grad():
        alone = baseline.decode(tgt, baseline.encode(src_alone), padding_mask(src_alone, 0))
        memory = baseline.encode(src_padded, padding_mask(src_padded, 0))
        padded = baseline.decode(tgt.expand(2, 3), memory, padding_mask(src_padded, 0))
    torch.testing.assert_close(padded[0], alone[0], atol=1e-5, rtol=1e-5)


def test_baseline_decode_is_causal_and_matches_forward(baseline):
    src, tgt = torch.tensor([[5, 6, 7, 0]]), torch.tensor([[1, 4, 9, 3]])
    with torch.no_grad():
        full = baseline(src, tgt)
        memory = baseline.encode(src, padding_mask(src, 0))
        stepwise = baseline.decode(tgt, memory, padding_mask(src, 0), tgt_mask=causal_mask(4))
        prefix = baseline.decode(tgt[:, :2], memory, padding_mask(src, 0))
    torch.testing.assert_close(stepwise, full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(prefix, full[:, :2], atol=1e-5, rtol=1e-5)  # later tokens change nothing
