"""course layer · how the judge's requests reach the kernel's helper (judge/kernel.py). Only the
transport differs; the requests, the replies and their checks are the same (judge/remote.py).

- `CommTransport`: a Jupyter comm on a running kernel. Comm messages travel on the kernel's
  shell and iopub channels, never through the notebook's cells: no input transformer, cell
  hook or `In` history sees them.
- `PipeTransport`: the helper in a plain subprocess, over its stdin/stdout (the tests' light
  transport: no Jupyter kernel to start).

Every wait has a deadline: a kernel that does not answer in time is stopped (`on_timeout`)
and the request raises NotGraded.
"""

from __future__ import annotations

import os
import queue
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

from course_utils.base.i18n import msg
from course_utils.course.checks.framework import NotGraded
from course_utils.course.judge import wire

__all__ = ["CommTransport", "PipeTransport", "start_pipe_helper"]


class CommTransport:
    """Requests as comm messages to the kernel of `client` (a jupyter_client BlockingKernelClient)."""

    def __init__(self, client, target: str, alive: Callable[[], bool], on_timeout: Callable[[], None]):
        self.client, self.alive, self.on_timeout = client, alive, on_timeout
        self.comm_id = uuid.uuid4().hex
        make = client.session.msg  # a Jupyter message (not a translatable text)
        client.shell_channel.send(make("comm_open", {"comm_id": self.comm_id, "target_name": target, "data": {}}))

    def exchange(self, header: dict, buffers: list, timeout: float):
        session = self.client.session
        make = session.msg  # a Jupyter message (not a translatable text)
        request = make("comm_msg", {"comm_id": self.comm_id, "data": header})
        session.send(self.client.shell_channel.socket, request, buffers=buffers)
        sent = request["header"]["msg_id"]
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.on_timeout()
                raise NotGraded(msg("the kernel did not answer within {seconds:g} s and was stopped", seconds=timeout))
            try:
                reply = self.client.get_iopub_msg(timeout=min(remaining, 1.0))
            except queue.Empty:
                if not self.alive():
                    raise NotGraded(msg("the kernel died")) from None
                continue
            except Exception as err:  # a message that does not even parse
                raise NotGraded(msg("the kernel sent an unreadable message ({error})",
                                    error=type(err).__name__)) from None
            parent = reply.get("parent_header") or {}
            if not isinstance(parent, dict) or parent.get("msg_id") != sent:
                continue  # output of the notebook's own code, or of an earlier request
            content = reply.get("content") if isinstance(reply.get("content"), dict) else {}
            if reply.get("msg_type") == "comm_msg" and content.get("comm_id") == self.comm_id:
                return content.get("data"), list(reply.get("buffers") or [])
            if reply.get("msg_type") == "status" and content.get("execution_state") == "idle":
                raise NotGraded(msg("the kernel's grading helper did not answer (did the notebook replace it?)"))


class PipeTransport:
    """Requests as frames (wire.pack_frame) to a helper process's stdin; replies on its stdout."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.buffer = b""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def exchange(self, header: dict, buffers: list, timeout: float):
        deadline = time.monotonic() + timeout

        def wait(fd, for_write: bool) -> None:
            remaining = deadline - time.monotonic()
            ready = select.select([], [fd], [], max(remaining, 0))[1] if for_write else \
                select.select([fd], [], [], max(remaining, 0))[0]
            if not ready:
                self.stop()
                raise NotGraded(msg("the kernel did not answer within {seconds:g} s and was stopped", seconds=timeout))

        data = memoryview(wire.pack_frame(header, buffers))
        out = self.process.stdin.fileno()
        try:
            while data:
                wait(out, True)
                data = data[os.write(out, data[:1 << 16]):]
        except OSError:
            raise NotGraded(msg("the kernel died")) from None

        source = self.process.stdout.fileno()

        def read(n: int) -> bytes:
            while len(self.buffer) < n:
                wait(source, False)
                chunk = os.read(source, max(n - len(self.buffer), 1 << 16))
                if not chunk:
                    raise NotGraded(msg("the kernel died"))
                self.buffer += chunk
            taken, self.buffer = self.buffer[:n], self.buffer[n:]
            return taken

        try:
            return wire.read_frame(read)
        except wire.WireError as err:
            self.stop()
            raise NotGraded(msg("the kernel sent a malformed message ({error})", error=str(err))) from None


def start_pipe_helper(cwd: str | None = None, env: dict | None = None, stderr=subprocess.DEVNULL) -> PipeTransport:
    """The kernel's helper in a plain Python subprocess, and the transport to it."""
    process = subprocess.Popen([sys.executable, "-m", "course_utils.course.judge.kernel"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=stderr, cwd=cwd, env=env)
    return PipeTransport(process)
