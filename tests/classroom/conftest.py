"""Fixtures of the classroom tests (see helpers.py for why they may be skipped)."""

import shutil
import sys
from pathlib import Path

import pytest
from helpers import missing_tool, need


@pytest.fixture(scope="session")
def nbgrader_bin():
    need("nbgrader", "nbgrader is not installed here: run `bash scripts/test_classroom.sh` "
                     "(it installs the classroom tools into .venv-classroom)")
    exe = Path(sys.executable).parent / "nbgrader"
    if not exe.exists():
        found = shutil.which("nbgrader")
        if not found:
            missing_tool("the nbgrader command is not on PATH")
        exe = Path(found)
    return exe
