"""Fixtures of the classroom tests (see helpers.py for why they may be skipped)."""

import shutil
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def nbgrader_bin():
    pytest.importorskip("nbgrader", reason="nbgrader is not installed: run `bash scripts/test_classroom.sh` "
                                           "(it installs the classroom extra into .venv-classroom)")
    exe = Path(sys.executable).parent / "nbgrader"
    if not exe.exists():
        found = shutil.which("nbgrader")
        if not found:
            pytest.skip("the nbgrader command is not on PATH")
        exe = Path(found)
    return exe
