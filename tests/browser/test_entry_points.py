"""The ways a learner enters the course, each driven in JupyterLab as the learner would:

- `make lab` exactly as the README says (in a throw-away copy of the repository): lesson 00
  opens, its link to an exercise notebook opens that notebook, and a check cell there says
  *pending* after Run All; the README and a solution notebook open from the file browser;
- Binder: the `urlpath` of the Binder link in docs/RUNNING_ELSEWHERE.md, on a server whose root
  is the repository (as repo2docker serves it): lesson 00 opens and its exercise link works;
- a JupyterHub with nbgitpuller: the `urlpath` of the link `course classroom link` writes, on a
  server whose root is the learner's home holding the course clone: the same.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import lab
import pytest

LESSON_00 = "notebooks/00_welcome.ipynb"
EXERCISE = "exercises/04_self_attention.ipynb"
CHECK = 'check("04.attention", attention)'
HUB_FOLDER = "attention-course"  # where the nbgitpuller link clones the course (its default)


def readme_lab_args() -> list[str]:
    """The LAB_ARGS of the README's `make lab LAB_ARGS="..."` example, with a free port."""
    text = (lab.ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r'make lab LAB_ARGS="([^"]+)"', text)
    assert found, "README.md no longer shows `make lab LAB_ARGS=\"...\"`"
    args = shlex.split(found.group(1))
    assert "--port" in args, f"the README's LAB_ARGS have no --port: {args}"
    args[args.index("--port") + 1] = "{port}"
    return args


def copy_checkout(dest: Path) -> Path:
    """The repository's tracked files copied to `dest`, with `.venv` linked to the course
    environment (so `make lab` finds it set up and starts at once).

    The environment is brought up to date here first: were it out of date, the copy's `make lab`
    would install course_utils from the copy, which is deleted after the test, and leave the
    course environment unable to import it."""
    subprocess.run(["bash", str(lab.ROOT / "scripts" / "setup.sh")], check=True, capture_output=True)
    listed = subprocess.run(["git", "-C", str(lab.ROOT), "ls-files", "-z"], capture_output=True, check=True)
    for name in listed.stdout.decode().split("\0"):
        if name and (lab.ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(lab.ROOT / name, dest / name)
    (dest / ".venv").symlink_to(lab.ROOT / ".venv")
    return dest


def wait_for_notebook(page, path: str, timeout: float = 120) -> dict:
    return lab.wait_for(page, path, lab.KERNEL_IDLE, f"{path} open with an idle kernel", timeout)


def click_link(page, from_path: str, target: str) -> None:
    """Click the first link to `target` in the rendered markdown of the notebook `from_path`
    open in the page. `target` is the path from the server's root: JupyterLab renders a
    relative link such as `../exercises/x.ipynb` as `/files/exercises/x.ipynb` and opens it in
    a tab when clicked."""
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    link = panel.locator(f'.jp-RenderedMarkdown a[href*="/files/{target}"]').first
    if not link.count():
        hrefs = panel.locator(".jp-RenderedMarkdown a").evaluate_all("(links) => links.map(a => a.href)")
        raise AssertionError(f"{from_path}: no rendered link to {target}; its links: "
                             f"{[h for h in hrefs if 'ipynb' in h][:8]}")
    link.scroll_into_view_if_needed()
    link.click()


def open_from_file_browser(page, *names: str) -> None:
    """Double-click each name in turn in JupyterLab's file browser, starting at its root."""
    page.evaluate("async () => { const app = window.jupyterapp; app.shell.expandLeft();"
                  " await app.commands.execute('filebrowser:go-to-path', {path: '/'}); }")
    for name in names:
        item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText",
                                                                      has_text=re.compile(rf"^{re.escape(name)}$")))
        item.first.wait_for(timeout=30_000)
        item.first.dblclick()


def current_path(page) -> str:
    return page.evaluate("() => { const w = window.jupyterapp.shell.currentWidget;"
                         " return w && w.context ? w.context.path : ''; }")


def wait_for_path(page, path: str, timeout: float = 60) -> None:
    """Wait until the document `path` (any kind: a text file, a notebook) is the current tab."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if current_path(page) == path:
            return
        time.sleep(0.1)
    raise TimeoutError(f"{path} did not open within {timeout:.0f} s (current tab: {current_path(page)!r})")


@pytest.fixture(scope="module")
def make_lab(tmp_path_factory):
    """JupyterLab started by `make lab LAB_ARGS="..."` in a copy of the repository."""
    base = tmp_path_factory.mktemp("make_lab")
    checkout = copy_checkout(base / "checkout")
    state = base / "state"
    state.mkdir()
    args = " ".join(readme_lab_args())
    server = lab.LabServer(checkout, state, command=["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"])
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def make_lab_page(make_lab, browser):
    """A tab on the `make lab` server (the test below opens it at the server's default page)."""
    page = browser.new_page(viewport=dict(lab.VIEWPORT))
    try:
        yield page
    finally:
        page.close()


def open_make_lab(page, make_lab) -> None:
    """Go to the `make lab` server's default page (what its printed link opens): lesson 00."""
    page.goto(f"{make_lab.url}/?token={make_lab.token}", wait_until="domcontentloaded")
    lab.stamp("JupyterLab page loaded")
    wait_for_notebook(page, LESSON_00)
    lab.stamp(f"{LESSON_00} open, kernel idle")


def test_make_lab_serves_the_whole_course(make_lab):
    names = {item["name"] for item in make_lab.api("GET", "/api/contents")["content"]}
    missing = {"notebooks", "exercises", "solutions", "README.md"} - names
    assert not missing, f"`make lab` serves {sorted(names)}: {sorted(missing)} cannot be opened from JupyterLab"


def test_make_lab_opens_lesson_00_and_its_exercise_link_works(make_lab, make_lab_page, screenshots_dir):
    page = make_lab_page
    try:
        open_make_lab(page, make_lab)
        click_link(page, LESSON_00, EXERCISE)
        wait_for_notebook(page, EXERCISE)
        lab.stamp(f"{EXERCISE} open from the link, kernel idle")
        lab.run_all(page, EXERCISE, 180)
        out = lab.cell_with_source(page, CHECK).locator(".jp-Cell-outputArea").inner_text()
        lab.cell_screenshot(page, lab.cell_with_source(page, CHECK), screenshots_dir / "make_lab_exercise_pending.png")
        assert re.search(r"pending", out, re.I), f"{EXERCISE} opened from lesson 00: its check cell says:\n{out}"
    finally:
        lab.close_notebooks(page)
        make_lab.shutdown_kernels()


def test_make_lab_file_browser_opens_the_readme_and_a_solution(make_lab, browser):
    # a tab of its own, loaded afresh: going on in the previous test's tab, the file browser
    # sometimes still listed notebooks/ after being sent to the root, and README.md was not found
    page = browser.new_page(viewport=dict(lab.VIEWPORT))
    try:
        open_make_lab(page, make_lab)
        open_from_file_browser(page, "README.md")
        wait_for_path(page, "README.md")
        open_from_file_browser(page, "solutions", "04_self_attention.ipynb")
        wait_for_notebook(page, "solutions/04_self_attention.ipynb")
    finally:
        lab.close_notebooks(page)
        make_lab.shutdown_kernels()
        page.close()


def binder_urlpath() -> str:
    text = (lab.ROOT / "docs" / "RUNNING_ELSEWHERE.md").read_text(encoding="utf-8")
    found = re.search(r"https://mybinder\.org/\S+", text)
    assert found, "docs/RUNNING_ELSEWHERE.md has no Binder link"
    urlpath = urllib.parse.parse_qs(urllib.parse.urlparse(found.group(0)).query).get("urlpath", [""])[0]
    assert urlpath, f"the Binder link {found.group(0)} has no urlpath"
    return urlpath


def hub_urlpath() -> str:
    from course_utils.course.classroom import nbgitpuller_link

    link = nbgitpuller_link("https://hub.example.org", "https://example.org/attention-course.git",
                            targetpath=HUB_FOLDER)
    return urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["urlpath"][0]


def _follow(server, browser, urlpath: str, prefix: str) -> None:
    """Open `urlpath` on `server` as a link would; lesson 00 must open and its exercise link too."""
    page = browser.new_page(viewport=dict(lab.VIEWPORT))
    try:
        page.goto(f"{server.url}/{urlpath}?token={server.token}", wait_until="domcontentloaded")
        lab.stamp("JupyterLab page loaded")
        wait_for_notebook(page, prefix + LESSON_00)
        lab.stamp(f"{prefix + LESSON_00} open, kernel idle")
        click_link(page, prefix + LESSON_00, prefix + EXERCISE)
        wait_for_notebook(page, prefix + EXERCISE)
        lab.stamp(f"{prefix + EXERCISE} open from the link, kernel idle")
    finally:
        lab.close_notebooks(page)
        server.shutdown_kernels()
        page.close()


def test_binder_link_opens_lesson_00_and_its_exercise_link_works(make_lab, browser):
    urlpath = binder_urlpath()
    assert urlpath == f"lab/tree/{LESSON_00}", f"the Binder link opens {urlpath!r}, not lesson 00"
    _follow(make_lab, browser, urlpath, "")  # repo2docker serves the repository as the root


def test_hub_link_opens_lesson_00_and_its_exercise_link_works(tmp_path_factory, browser):
    home = tmp_path_factory.mktemp("hub_home")
    lab.copy_course(home / HUB_FOLDER)
    state = home.parent / (home.name + "-state")
    state.mkdir()
    # The single-user server as classroom/jupyterhub_config.py starts it: root = the learner's home.
    server = lab.LabServer(home, state)
    try:
        server.start()
        urlpath = hub_urlpath()
        assert urlpath == f"lab/tree/{HUB_FOLDER}/{LESSON_00}", urlpath
        _follow(server, browser, urlpath, f"{HUB_FOLDER}/")
    finally:
        server.stop()


def test_the_hub_serves_the_learners_home():
    """The hub test above assumes the single-user server's root is the learner's home."""
    config = (lab.ROOT / "classroom" / "jupyterhub_config.py").read_text(encoding="utf-8")
    assert re.search(r'c\.Spawner\.notebook_dir\s*=\s*"~"', config), \
        "classroom/jupyterhub_config.py no longer serves the learner's home; update the hub link test"
