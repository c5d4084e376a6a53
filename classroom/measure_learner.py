"""Measure what one learner's session needs: peak memory and CPU time of the kernel while it
runs a lesson (lesson 09, training, is the heaviest), and the memory of an idle Jupyter
server. The figures size `mem_limit` / `cpu_limit` in jupyterhub_config.py and
z2jh-config.yaml (docs/TEACHING.md records them).

    .venv/bin/python classroom/measure_learner.py [notebooks/09_training.ipynb]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure_kernel(notebook: Path) -> dict:
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})
    peak, samples, stop = [0], [], threading.Event()
    with client.setup_kernel():
        kernel = psutil.Process(client.km.provisioner.process.pid)

        def sample():
            while not stop.is_set():
                rss = _tree_rss(kernel)
                peak[0] = max(peak[0], rss)
                samples.append(rss)
                time.sleep(0.2)

        t = threading.Thread(target=sample, daemon=True)
        start_cpu = kernel.cpu_times()
        t0 = time.perf_counter()
        t.start()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        wall = time.perf_counter() - t0
        end_cpu = kernel.cpu_times()
        stop.set()
        t.join()
    cpu = (end_cpu.user - start_cpu.user) + (end_cpu.system - start_cpu.system)
    return {"peak_rss_mb": peak[0] / 2**20, "cpu_s": cpu, "wall_s": wall, "threads": os.environ.get("OMP_NUM_THREADS")}


def measure_idle_server() -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.token=x"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(15)
        return _tree_rss(psutil.Process(proc.pid)) / 2**20
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    notebook = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "notebooks" / "09_training.ipynb"
    k = measure_kernel(notebook.resolve())
    print(f"{notebook.name}: kernel peak memory {k['peak_rss_mb']:.0f} MiB, CPU time {k['cpu_s']:.0f} s, "
          f"wall time {k['wall_s']:.0f} s (OMP_NUM_THREADS={k['threads']})")
    print(f"idle JupyterLab server: {measure_idle_server():.0f} MiB")


if __name__ == "__main__":
    main()
