"""Kernels for the notebook phases of scripts/test.sh (and the browser phase's lesson runs),
started by fork from a warm process.

Most of a notebook kernel's start-up is `import torch` (about 2 of its 3 CPU seconds), and the
notebook phases start some seventy kernels on two cores (the browser phase a dozen more). This
file is both ends of a fork server that pays for that import once:

    python tests/kernel_forkserver.py serve SOCKET          # imports torch, numpy and sympy, then waits
    python -I tests/kernel_forkserver.py client SOCKET -f CONNECTION_FILE   # a kernelspec's argv

Each client (started by nbval's kernel manager as the kernel) sends the server its working
folder, its environment, its standard streams and the kernel's arguments; the server forks a
child that becomes a plain ipykernel with them (a fresh interpreter state apart from the modules
already imported: nothing of one notebook is seen by the next, each has its own process). The
client stands in for the kernel towards the manager: it passes on interrupts and termination
signals and exits with the kernel's status; if the client is killed, the server kills the kernel.
(In `ps`, a forked kernel shows the server's command line.)

What is imported ahead reads nothing at import that differs between kernels (the threads settings
are the same for all), with one exception that the child puts right: matplotlib takes its backend
from MPLBACKEND when it is imported, and a kernel sets that variable as it starts (to the inline
backend, unless it is set already). So the server imports matplotlib with no backend chosen, and
each kernel sets the one its own environment names, as its own import would have. ipykernel (the
kernel manager's process id) and the course's package (its language and strictness) are not
imported ahead.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time

# sympy: torch imports it on the first call of some functions (torch.nn.MultiheadAttention checks its
# masks through it), 1.5 CPU seconds that several notebooks would each pay again; torch._dynamo:
# imported by the first optimizer a notebook makes (0.8 s); matplotlib.pyplot (0.4 s, nearly every
# notebook) and mplfonts (a Chinese font for the figures where the system has none)
PRELOAD = ("torch", "numpy", "sympy", "torch._dynamo", "matplotlib.pyplot", "mplfonts")
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"  # what ipykernel sets when MPLBACKEND is unset


def serve(path: str) -> None:
    os.environ.pop("MPLBACKEND", None)
    for name in PRELOAD:
        __import__(name)
    import matplotlib
    import matplotlib.rcsetup

    if dict.__getitem__(matplotlib.rcParams, "backend") is not matplotlib.rcsetup._auto_backend_sentinel:
        sys.exit("kernel_forkserver: a module imported ahead chose matplotlib's backend; the kernels "
                 "could not choose their own")

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    server.bind(path)
    server.listen(16)
    kernels: dict[int, socket.socket] = {}  # kernel pid -> its client's connection
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            _reap(kernels)
            ready, _, _ = select.select([server, *kernels.values()], [], [], 0.2)
            for sock in ready:
                if sock is server:
                    conn, _ = server.accept()
                    pid = _start(conn, server, kernels)
                    if pid:
                        kernels[pid] = conn
                else:  # a client's end closed (it was killed): its kernel goes too
                    pid = next(p for p, c in kernels.items() if c is sock)
                    if not sock.recv(1):
                        _kill(pid)
    finally:
        for pid in kernels:
            _kill(pid)
        server.close()
        if os.path.exists(path):
            os.unlink(path)


def _start(conn: socket.socket, server: socket.socket, kernels: dict) -> int | None:
    try:
        data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        request = json.loads(data.decode())
    except (OSError, ValueError):
        conn.close()
        return None
    pid = os.fork()
    if pid == 0:  # the kernel
        try:
            server.close()
            for other in kernels.values():
                other.close()
            conn.close()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
                os.close(fd)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            os.setsid()
            os.chdir(request["cwd"])
            env = dict(request["env"])
            env["JPY_PARENT_PID"] = str(os.getppid())  # the kernel ends if this server does
            os.environ.clear()
            os.environ.update(env)
            _choose_backend()
            sys.argv = ["ipykernel_launcher", *request["args"]]
            from ipykernel.kernelapp import launch_new_instance

            launch_new_instance()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001  (the child must never return to the server loop)
            import traceback

            traceback.print_exc()
            code = 1
        os._exit(code)
    for fd in fds:
        os.close(fd)
    conn.sendall(f"{pid}\n".encode())
    return pid


def _choose_backend() -> None:
    """In a forked kernel: matplotlib's backend from this kernel's environment, as importing
    matplotlib here would have set it (the kernel itself would set MPLBACKEND to the inline
    backend first, where it is unset)."""
    import matplotlib

    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    matplotlib.rcParams["backend"] = os.environ["MPLBACKEND"]


def _reap(kernels: dict) -> None:
    while kernels:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = kernels.pop(pid, None)
        if conn is not None:
            try:
                conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
            except OSError:
                pass
            conn.close()


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def client(path: str, args: list[str]) -> int:
    deadline = time.monotonic() + 60  # the server may still be importing torch
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            conn.close()
            if time.monotonic() > deadline:
                print(f"kernel_forkserver: no server at {path}", file=sys.stderr)
                return 1
            time.sleep(0.2)
    request = {"cwd": os.getcwd(), "env": dict(os.environ), "args": args}
    socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
    replies = conn.makefile("r")
    pid = int(replies.readline())

    def forward(signum, frame):
        try:
            os.kill(pid, signum)
        except OSError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, forward)
    while True:
        try:
            line = replies.readline()
            break
        except InterruptedError:
            continue
    code = int(line) if line.strip() else 1
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "client":
        sys.exit(client(sys.argv[2], sys.argv[3:]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
