"""Measure what a class needs, lesson by lesson, for docs/TEACHING.md and the limits in
jupyterhub_config.py / z2jh-config.yaml:

- an idle learner's server: the memory of a Jupyter server with JupyterLab loaded in a browser
  (what `jupyterhub-singleuser` runs), before any kernel;
- each lesson's kernel: peak memory (the kernel and anything it starts) and wall time while the
  lesson notebook `notebooks/NN_*.ipynb` runs top to bottom;
- each lesson's autograding: `nbgrader autograde` of one correct submission (the solution)
  with the configuration `course classroom nbgrader` writes: wall time, and the peak memory of
  the kernel that grades it (the exercise notebook's kernel, worked to the end).

One thread per kernel (OMP_NUM_THREADS=1), as the hub sets. Run it on the machine the class will
use, with the load it will have; it prints a Markdown table and the machine's load average.

    python classroom/measure_learner.py                       # every lesson (about 10 minutes)
    python classroom/measure_learner.py --lessons 09 11       # some lessons
    python classroom/measure_learner.py --no-autograde        # without nbgrader (learner's env)
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("COURSE_NO_PROGRESS", "1")

import nbformat  # noqa: E402
import psutil  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MIB = 2 ** 20


def _rss(procs) -> int:
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


class PeakSampler:
    """Samples, every 0.1 s, the summed resident memory of `which()` (a list of processes)."""

    def __init__(self, which):
        self.which, self.peak, self._stop = which, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss(self.which()))
            time.sleep(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _tree(proc: psutil.Process) -> list:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def _children(proc: psutil.Process) -> list:
    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def lesson_kernel(notebook: Path) -> tuple[float, float]:
    """(peak MiB of the kernel's process tree, wall seconds) running `notebook` top to bottom."""
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})
    with client.setup_kernel():
        kernel = psutil.Process(client.km.provisioner.process.pid)
        t0 = time.perf_counter()
        with PeakSampler(lambda: _tree(kernel)) as sampler:
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
        wall = time.perf_counter() - t0
    return sampler.peak / MIB, wall


def idle_server() -> float:
    """MiB of a Jupyter server (and its children) with JupyterLab's page loaded, no kernel."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.token=x",
            "--ServerApp.ip=127.0.0.1"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    with tempfile.TemporaryDirectory() as home:
        proc = subprocess.Popen(args, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "JUPYTER_RUNTIME_DIR": home})
        try:
            deadline = time.time() + 120
            while True:
                try:
                    for page in ("api/status", "lab", "lab/api/settings", "api/kernelspecs"):
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/{page}?token=x", timeout=10).read()
                    break
                except OSError:
                    if time.time() > deadline or proc.poll() is not None:
                        raise RuntimeError("the Jupyter server did not start") from None
                    time.sleep(0.5)
            time.sleep(5)
            return _rss(_tree(psutil.Process(proc.pid))) / MIB
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def autograde(lesson: str, work: Path) -> tuple[float, float, str]:
    """(wall seconds, peak MiB of the grading kernel, score) of `nbgrader autograde` of the
    lesson's solution as one learner's submission, with the configuration the course writes."""
    from course_utils.course import classroom

    nbgrader = shutil.which("nbgrader", path=str(Path(sys.executable).parent)) or shutil.which("nbgrader")
    if not nbgrader:
        raise RuntimeError("nbgrader is not installed here (requirements-classroom.txt)")
    env = {**os.environ, "PATH": f"{Path(nbgrader).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # alembic
    # The only submission graded here is the course's own solution, so autograding it as root (which
    # the written nbgrader_config.py refuses for learners' work) is allowed for this measurement.
    env["COURSE_AUTOGRADE_AS_ROOT"] = "1"
    course = work / f"lesson{lesson}"
    (source,) = classroom.write_nbgrader_course(course, lessons=[lesson])
    made = subprocess.run([nbgrader, "generate_assignment", f"lesson{lesson}"], cwd=course, env=env,
                          capture_output=True, text=True)
    if made.returncode:
        raise RuntimeError(f"nbgrader generate_assignment lesson{lesson} failed:\n{made.stderr[-3000:]}")
    target = course / "submitted" / "measure" / f"lesson{lesson}" / source.name
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)  # the source notebook: every answer written, nbgrader's ids kept
    t0 = time.perf_counter()
    proc = psutil.Popen([nbgrader, "autograde", f"lesson{lesson}", "--create"], cwd=course, env=env,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    with PeakSampler(lambda: _children(proc)) as sampler:
        out = proc.communicate()[0].decode(errors="replace")
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"nbgrader autograde lesson{lesson} exited {proc.returncode}:\n{out[-3000:]}")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", classroom.COURSE_ID) as gb:
        sub = gb.find_submission(f"lesson{lesson}", "measure")
        score = f"{sub.score:g} of {sub.max_score:g}"
    return wall, sampler.peak / MIB, score


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lessons", nargs="+", metavar="NN", help="default: every lesson with exercises")
    parser.add_argument("--no-autograde", action="store_true", help="skip nbgrader autograding")
    parser.add_argument("--no-server", action="store_true", help="skip the idle server")
    args = parser.parse_args(argv)
    lessons = args.lessons or sorted(p.name[:2] for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}; python {sys.version.split()[0]}", flush=True)
    server = None
    if not args.no_server:
        server = idle_server()
        print(f"idle server (JupyterLab loaded, no kernel): {server:.0f} MiB", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for nn in lessons:
            (notebook,) = sorted((ROOT / "notebooks").glob(f"{nn}_*.ipynb"))
            peak, wall = lesson_kernel(notebook)
            row = {"lesson": nn, "kernel": peak, "wall": wall}
            if not args.no_autograde:
                row["grade_wall"], row["grade_kernel"], row["score"] = autograde(nn, Path(work))
            rows.append(row)
            print(f"{nn}: lesson kernel peak {peak:.0f} MiB, {wall:.0f} s" + (
                f"; autograde {row['grade_wall']:.0f} s, grading kernel peak {row['grade_kernel']:.0f} MiB, "
                f"{row['score']}" if "score" in row else "") +
                f"  (load {os.getloadavg()[0]:.2f})", flush=True)
    print()
    head = "| lesson | lesson kernel peak | lesson run |"
    line = "|---|---|---|"
    if not args.no_autograde:
        head += " exercise kernel peak (grading) | autograde time | score |"
        line += "---|---|---|"
    if server is not None:
        head += " a learner with both open |"
        line += "---|"
    print(head + "\n" + line)
    for r in rows:
        cells = [r["lesson"], f"{r['kernel']:.0f} MiB", f"{r['wall']:.0f} s"]
        if "score" in r:
            cells += [f"{r['grade_kernel']:.0f} MiB", f"{r['grade_wall']:.0f} s", r["score"]]
        if server is not None:
            cells.append(f"{server + r['kernel'] + r.get('grade_kernel', 0):.0f} MiB")
        print("| " + " | ".join(cells) + " |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
