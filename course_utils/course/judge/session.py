"""course layer · a notebook's kernel, as the judge drives it: started (through the launcher) with
the judge's helper installed by a silent execute before the first cell, the notebook's cells
run one by one with a deadline each, the comm channel to the helper, and an end that leaves
no process behind (the kernel's whole process group is killed).
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from course_utils.base.i18n import msg
from course_utils.course.judge.remote import Channel
from course_utils.course.judge.transports import CommTransport

__all__ = ["KernelSession", "CellRun", "kernel_manager", "STARTUP_TIMEOUT"]

STARTUP_TIMEOUT = 300  # seconds to start the kernel and install the helper (imports torch)
# run as a script (isolated: -I), so that it does not import the package (and torch) itself
LAUNCHER = str(Path(__file__).resolve().with_name("launcher.py"))


def kernel_manager(folder: Path):
    """A kernel manager that starts this Python (sys.executable), through the judge's launcher,
    over IPC sockets (no TCP port, so no 'TCP without encryption' warning)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = folder / "kernels" / "course-python"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-I", LAUNCHER, sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (course check)", "language": "python"}), encoding="utf-8")
    ksm = KernelSpecManager(kernel_dirs=[str(folder / "kernels")], ensure_native_kernel=False)
    if os.name == "nt":  # no IPC sockets on Windows: local TCP (the kernel then warns about it)
        return KernelManager(kernel_name="course-python", kernel_spec_manager=ksm)
    return KernelManager(kernel_name="course-python", kernel_spec_manager=ksm, transport="ipc",
                         ip=str(folder / "k"))


@dataclass
class CellRun:
    status: str  # "ok" | "timeout" | "died"
    error: tuple[str, str] | None = None  # (ename, evalue) of an error the cell raised


class KernelSession:
    """with KernelSession(folder, cwd, env, log) as kernel: kernel.run_cell(source, timeout); kernel.channel"""

    def __init__(self, folder: Path, cwd: Path, env: dict, log, while_starting=None):
        self.folder, self.cwd, self.env, self.log = folder, cwd, env, log
        self.while_starting = while_starting  # work for this process while the kernel starts
        self.km = self.client = self.channel = None
        self.group = None
        self.kernel_pids: list[int] = []  # the launcher's children, should one leave the process group

    def __enter__(self) -> KernelSession:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        self.km = kernel_manager(self.folder)
        self.km.start_kernel(env=self.env, cwd=str(self.cwd), stdout=self.log, stderr=self.log)
        process = getattr(self.km.provisioner, "process", None)
        self.group = getattr(process, "pid", None)  # the launcher leads the kernel's process group
        self.client = self.km.blocking_client()
        self.client.start_channels()
        if self.while_starting is not None:
            self.while_starting()
        self.client.wait_for_ready(timeout=STARTUP_TIMEOUT)
        target = f"course-judge-{secrets.token_hex(8)}"
        code = (f"import course_utils.course.judge.kernel as _course_judge\n"
                f"_course_judge.install({target!r})\ndel _course_judge\n")
        request = self.client.execute(code, silent=True, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            reply = self.client.get_shell_msg(timeout=max(deadline - time.monotonic(), 0.1))
            if reply.get("parent_header", {}).get("msg_id") == request:
                break
        self.kernel_pids = _children(self.group)
        if reply["content"].get("status") != "ok":
            raise RuntimeError(f"the judge's helper could not be installed in the kernel: "
                               f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")
        self.channel = Channel(CommTransport(self.client, target, alive=self.alive, on_timeout=self.kill))

    def alive(self) -> bool:
        return self.km is not None and self.km.is_alive()

    def run_cell(self, source: str, timeout: float, outputs: list | None = None) -> CellRun:
        """Run one cell of the notebook; its first error, or "timeout" (the kernel is then
        stopped) or "died". With `outputs`, the cell's outputs (nbformat output nodes: what it
        printed, displayed or raised, at most MAX_OUTPUTS) are appended to that list."""
        if not self.alive():
            return CellRun("died")
        sent = self.client.execute(source, silent=False, store_history=True, allow_stdin=False, stop_on_error=False)
        deadline, error = time.monotonic() + timeout, None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                return CellRun("timeout", error)
            try:
                message = self.client.get_iopub_msg(timeout=min(remaining, 1.0))
            except queue.Empty:
                if not self.alive():
                    return CellRun("died", error)
                continue
            except Exception:  # an unreadable message: the deadline still holds
                continue
            parent = message.get("parent_header") or {}
            if not isinstance(parent, dict) or parent.get("msg_id") != sent:
                continue
            content = message.get("content") or {}
            if outputs is not None:
                _keep_output(outputs, message)
            if message.get("msg_type") == "error" and error is None:
                error = (str(content.get("ename")), str(content.get("evalue")))
            if message.get("msg_type") == "status" and content.get("execution_state") == "idle":
                return CellRun("ok", error)

    def kill(self) -> None:
        """Stop the kernel now: its whole process group, the launcher (even a stopped one) included."""
        if self.group and hasattr(os, "killpg"):  # POSIX: the kernel's whole process group
            try:
                os.killpg(self.group, signal.SIGKILL)
            except OSError:
                pass
        for pid in self.kernel_pids:  # a kernel that left the group (os.setsid) still ends here
            try:
                if b"ipykernel_launcher" in Path(f"/proc/{pid}/cmdline").read_bytes():  # not a reused pid
                    os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            except OSError:
                pass
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:
                pass

    def close(self) -> None:
        """Stop the kernel: its whole process group is killed at once. Nothing of a graded kernel is
        kept (its folder is temporary), and asking it to shut down would only wait: a kernel that has
        imported torch needs seconds to exit (about 4 s), longer than any wait worth spending per
        notebook, so the polite request used to end in a signal after 1.5 s all the same."""
        if self.channel is not None and self.channel.broken is None:
            self.channel.broken = msg("the kernel was shut down")
        if self.client is not None:
            try:
                self.client.stop_channels()
            except Exception:
                pass
        self.kill()
        if self.km is not None:
            try:
                self.km.cleanup_resources()
            except Exception:
                pass


MAX_OUTPUTS = 500  # outputs kept per cell (nbgrader's LimitOutput trims long ones further)


def _keep_output(outputs: list, message: dict) -> None:
    """Append a kernel message that is a cell output to `outputs` (clear_output empties it)."""
    kind = message.get("msg_type")
    if kind == "clear_output":
        outputs.clear()
    elif kind in ("stream", "display_data", "execute_result", "error") and len(outputs) < MAX_OUTPUTS:
        try:
            import nbformat

            outputs.append(nbformat.v4.output_from_msg(message))
        except Exception:  # a malformed message is not an output
            pass


def _children(pid: int | None) -> list[int]:
    """The child processes of `pid` (Linux; elsewhere none are known)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except (OSError, ValueError):
        return []
    return [int(p) for p in text.split()]
