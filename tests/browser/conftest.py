"""Fixtures for the browser suite: one JupyterLab server and one Chromium for the whole session.

The server serves a temporary copy of notebooks/, exercises/ and solutions/, so run-all and
saves never touch the repository. It is stopped (kernels included) even when tests fail.
Run with `bash scripts/test_browser.sh` (installs Chromium when missing).
"""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402  (tests/browser/lab.py, not a package)

SCREENSHOTS = lab.ROOT / "artifacts" / "screenshots"  # git-ignored


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    lab.restart_clock()  # lab.stamp() prints the seconds since this test's setup began


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def forked_kernels(tmp_path_factory):
    """A JUPYTER_PATH folder whose kernel spec `python3` forks each kernel from one process that
    has imported torch (tests/kernel_forkserver.py, as scripts/test.sh does for nbval): a lesson's
    kernel starts without paying that import again. Each notebook still gets a kernel process of
    its own. Used by the session's server (lessons, exercise loop), never by the entry-point
    tests, which start kernels as a learner's JupyterLab does. COURSE_TEST_FORK_KERNELS=0: none.
    COURSE_TEST_KERNEL_SOCKET names a fork server that is already running (scripts/test.sh
    passes the notebook phases' own), so torch is not imported once more for this one."""
    if os.environ.get("COURSE_TEST_FORK_KERNELS", "1") == "0":
        yield []
        return
    base = tmp_path_factory.mktemp("kernels")
    forkserver = lab.ROOT / "tests" / "kernel_forkserver.py"
    shared = os.environ.get("COURSE_TEST_KERNEL_SOCKET")
    socket_path = Path(shared) if shared else base / "kernels.sock"
    spec = base / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-I", str(forkserver), "client", str(socket_path), "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python", "metadata": {"debugger": True}}))
    if shared:
        if not socket_path.is_socket():
            raise RuntimeError(f"COURSE_TEST_KERNEL_SOCKET={shared}: no kernel fork server listens there")
        yield [base / "jupyter"]
        return
    with open(base / "forkserver.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, str(forkserver), "serve", str(socket_path)],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        yield [base / "jupyter"]
    finally:
        proc.terminate()  # its kernels go with it
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory, forked_kernels):
    base = tmp_path_factory.mktemp("browser")
    course = lab.copy_course(base / "course")
    state = base / "state"
    state.mkdir()
    server = lab.LabServer(course, state, jupyter_path=forked_kernels)

    def interrupt(signum, frame):  # a SIGTERM (e.g. from `timeout`) still tears the server down
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    env = lab.chromium_env(tmp_path_factory.mktemp("chromium"))
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=lab.chromium_path(), args=lab.CHROMIUM_ARGS, env=env)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def lab_page(browser):
    """One JupyterLab tab for the session: notebooks are opened in it one after another."""
    page = browser.new_page(viewport=dict(lab.VIEWPORT))
    try:
        yield page
    finally:
        page.close()


@dataclass
class StartedAhead:
    page: object
    started: float = 0.0
    error: Exception | None = None


@pytest.fixture(scope="session", autouse=True)
def started_ahead(request):
    """The lab.AHEAD_LESSONS this run selects, each opened in a tab (and a workspace) of its own
    with Run All started as the session begins, so they run while the entry points and the other
    lessons are tested; test_lessons' fixture waits for the end of each run in its turn.
    Each such tab costs Chromium a JupyterLab of its own (some CPU seconds): where the cores are
    busy anyway, COURSE_TEST_BROWSER_AHEAD=0 runs these lessons in turn in the session's tab."""
    if os.environ.get("COURSE_TEST_BROWSER_AHEAD", "1") == "0":
        yield {}
        return
    selected = {item.callspec.params.get("lesson") for item in request.session.items
                if hasattr(item, "callspec")}
    names = [name for name in lab.AHEAD_LESSONS if name in selected]
    if not names:
        yield {}
        return
    server, browser = request.getfixturevalue("lab_server"), request.getfixturevalue("browser")
    runs = {}
    try:
        for name in names:
            run = runs[name] = StartedAhead(browser.new_page(viewport=dict(lab.VIEWPORT)))
            try:
                lab.open_notebook(run.page, server, f"notebooks/{name}.ipynb", workspace=name)
                run.started = time.monotonic()
                lab.start_run_all(run.page)
            except Exception as exc:  # reported by that lesson's tests
                run.error = exc
        yield runs
    finally:
        for run in runs.values():
            run.page.close()


@pytest.fixture(scope="session")
def screenshots_dir():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
