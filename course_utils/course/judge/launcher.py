"""course layer · `python -I .../judge/launcher.py COMMAND...`: start COMMAND (the learner's kernel)
as a child and wait for it, exiting with its status. Run as a script, it imports nothing of
the package (no torch): a few milliseconds.

The judge starts kernels through this small process, so the kernel's parent is not the judge:
a notebook that stops or kills its parent (`os.kill(os.getppid(), signal.SIGSTOP)`) stops this
launcher, and the judge, whose every wait has a deadline, goes on and ends the kernel's whole
process group when it is done.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent ends (prctl PR_SET_PDEATHSIG); elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -I launcher.py COMMAND...", file=sys.stderr)
        return 2
    # The judge interrupts the kernel by signalling the process group: the launcher ignores it
    # (a Python handler, not SIG_IGN, so that the child starts with the default disposition).
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    # Should the judge die (killed by an outer time limit), this launcher and the kernel die with it (Linux):
    # a kernel left behind could go on running the notebook, and a notebook that runs `course check` on
    # itself would grow a chain of kernels.
    _die_with_parent()
    # The kernel watches the process named here and ends when it goes; name this launcher, not the judge.
    child = subprocess.Popen(argv, env=dict(os.environ, JPY_PARENT_PID=str(os.getpid())),
                             preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    status = child.wait()
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
