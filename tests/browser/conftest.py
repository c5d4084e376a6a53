"""Fixtures for the browser suite: one JupyterLab server and one Chromium for the whole session.

The server serves a temporary copy of notebooks/, exercises/ and solutions/, so run-all and
saves never touch the repository. It is stopped (kernels included) even when tests fail.
Run with `bash scripts/test_browser.sh` (installs Chromium when missing).
"""

import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402  (tests/browser/lab.py, not a package)

SCREENSHOTS = lab.ROOT / "artifacts" / "screenshots"  # git-ignored


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    course = lab.copy_course(base / "course")
    state = base / "state"
    state.mkdir()
    server = lab.LabServer(course, state)

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


@pytest.fixture(scope="session")
def screenshots_dir():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
