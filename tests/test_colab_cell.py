"""The setup cell that opens every notebook: it seeds the random number generators, and on
Google Colab only it first installs the course package.

Every notebook in notebooks/, solutions/ and exercises/ must start (first code cell) with exactly
SETUP_CELL below. Executing it must start no subprocess anywhere but on Colab (recognised by
`google.colab` among the loaded modules): not in the course environment, and not on another
kernel that lacks the package (there the import fails and says so; `course check` grades in this
Python, so grading never installs anything). On Colab without the package it calls pip with the
course repository once, then imports the package.
"""

import importlib.util
import random
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
COURSE_REPO = "git+https://github.com/attention-course/attention-course.git"
SETUP_CELL = '''\
# Setup: seeds the random number generators. On Google Colab only, it first installs
# the course package from its repository (elsewhere, run `make setup` once instead).
import sys
if "google.colab" in sys.modules:
    import importlib, importlib.util, subprocess
    COURSE_REPO = "git+https://github.com/attention-course/attention-course.git"
    if importlib.util.find_spec("course_utils") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", COURSE_REPO], check=True)
        importlib.invalidate_caches()
from course_utils import set_seed
set_seed(0)'''

NOTEBOOKS = sorted(p for folder in ("notebooks", "solutions", "exercises")
                   for p in (ROOT / folder).glob("*.ipynb"))


def first_code_cell(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            return cell.source
    raise AssertionError(f"{path.relative_to(ROOT)} has no code cell")


@pytest.fixture
def restore_global_state(monkeypatch):
    """The cell calls set_seed(0), which reseeds every RNG and sets PYTHONHASHSEED: undo that."""
    monkeypatch.setenv("PYTHONHASHSEED", "0")  # monkeypatch restores the old value (or absence)
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    yield
    random.setstate(states[0])
    np.random.set_state(states[1])
    torch.set_rng_state(states[2])


def run_cell(source: str, monkeypatch, *, package_missing: bool, colab: bool = False) -> list:
    """Execute `source` as a notebook cell would; return the subprocess.run calls it made.

    subprocess.run is replaced by a recorder, so nothing is installed. With package_missing,
    find_spec("course_utils") answers None, as on a kernel without the course package; with
    colab, a `google.colab` module is loaded, as on Google Colab.
    """
    calls = []

    def fake_run(*args, **kwargs):
        calls.append((args, kwargs))
        if not (package_missing and colab):
            raise AssertionError(f"setup cell started a subprocess (package_missing={package_missing}, "
                                 f"colab={colab}): {args}")
        return subprocess.CompletedProcess(args[0], 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    if package_missing:
        real_find_spec = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a, **k: None if name == "course_utils" else real_find_spec(name, *a, **k))
    namespace = {"__name__": "__main__"}
    exec(compile(source, "<setup cell>", "exec"), namespace)
    assert callable(namespace["set_seed"]), "the setup cell must leave set_seed importable"
    return calls


def test_notebooks_exist():
    assert NOTEBOOKS, "no notebooks found in notebooks/, solutions/ or exercises/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_first_code_cell_is_the_setup_cell(path):
    source = first_code_cell(path)
    assert source.strip() == SETUP_CELL, (
        f"{path.relative_to(ROOT)}: the first code cell must be exactly the standard setup cell "
        f"(see tests/test_colab_cell.py SETUP_CELL); found:\n{source}")


@pytest.mark.parametrize("colab", [False, True], ids=["local", "colab"])
@pytest.mark.parametrize("path", [None] + NOTEBOOKS,
                         ids=lambda p: "standard-cell" if p is None else str(p.relative_to(ROOT)))
def test_setup_cell_is_a_no_op_when_installed(path, colab, monkeypatch, restore_global_state):
    source = SETUP_CELL if path is None else first_code_cell(path)
    assert run_cell(source, monkeypatch, package_missing=False, colab=colab) == []
    # and it seeded: the next draw is the one set_seed(0) gives
    first = torch.rand(1)
    torch.manual_seed(0)
    assert torch.equal(first, torch.rand(1)), "the setup cell did not call set_seed(0)"


@pytest.mark.parametrize("path", [None] + NOTEBOOKS,
                         ids=lambda p: "standard-cell" if p is None else str(p.relative_to(ROOT)))
def test_setup_cell_installs_from_the_repo_when_missing(path, monkeypatch, restore_global_state):
    source = SETUP_CELL if path is None else first_code_cell(path)
    calls = run_cell(source, monkeypatch, package_missing=True, colab=True)
    assert len(calls) == 1, f"expected exactly one pip call, got {calls}"
    args, kwargs = calls[0]
    assert args[0] == [sys.executable, "-m", "pip", "install", "-q", COURSE_REPO]
    assert kwargs.get("check") is True, "a failed pip install must stop the notebook (check=True)"


@pytest.mark.parametrize("path", [None] + NOTEBOOKS,
                         ids=lambda p: "standard-cell" if p is None else str(p.relative_to(ROOT)))
def test_setup_cell_never_installs_outside_colab(path, monkeypatch, restore_global_state):
    """Another Python without the package (a wrong kernel): no network install, whatever happens."""
    source = SETUP_CELL if path is None else first_code_cell(path)
    assert run_cell(source, monkeypatch, package_missing=True, colab=False) == []
