"""Helpers of the classroom tests. They need nbgrader / JupyterHub, which the course environment does not
install: `scripts/test_classroom.sh` (a phase of `make test`) makes `.venv-classroom` with the
`classroom` extra and runs them there. Anywhere else they are skipped with a message."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(cmd, cwd, timeout=600, check=True, env=None):
    """Run a command; on failure show its output (pytest prints it)."""
    full_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "OMP_NUM_THREADS": "1", "COURSE_NO_PROGRESS": "1", **(env or {})}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
                             f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc




def need(module: str, why: str):
    """Import `module`, or skip with `why` - but fail where the classroom tools must be there:
    scripts/test_classroom.sh installs them and sets COURSE_CLASSROOM_REQUIRED=1, so a missing
    tool there is an error, not a silent skip."""
    import importlib

    import pytest

    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("COURSE_CLASSROOM_REQUIRED") == "1":
            pytest.fail(f"{module} is missing although scripts/test_classroom.sh installed the classroom tools: {why}")
        pytest.skip(why)


def missing_tool(why: str):
    import pytest

    if os.environ.get("COURSE_CLASSROOM_REQUIRED") == "1":
        pytest.fail(why)
    pytest.skip(why)
