"""Drive a real JupyterLab in Debian's Chromium, as a learner would (helpers for tests/browser).

JupyterLab is served from a throw-away copy of the course folders (never the repository itself),
on a free localhost port, with a random token, its own config/settings/runtime dirs, and
`expose_app_in_browser` so the page's `window.jupyterapp` can run commands (run all, save).
`LabServer.stop()` shuts the kernels and the server down, and kills what is left by process id.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
COURSE_FOLDERS = ("notebooks", "exercises", "solutions")  # copied with their relative layout
# Playwright already starts Chromium headless without extensions, background timer throttling
# or renderer backgrounding (two lessons run in two tabs at once); on top of that: no GPU and no
# software stand-in for it, no background services.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-software-rasterizer",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-dev-shm-usage", "--disable-backgrounding-occluded-windows"]
VIEWPORT = {"width": 1280, "height": 900}
# The lessons with the longest run-alls (10 decodes and times, 09 trains a model): each starts in
# a tab of its own as the session begins and runs while the entry points and the other lessons
# are tested in the session's tab; each is checked in its turn, last. No lesson uses a file
# another writes (09 writes its checkpoint to artifacts/, 10 loads the reference model that ships
# with the package), and each has its own kernel.
AHEAD_LESSONS = ("10_inference", "09_training")

# JupyterLab user settings for the test server: render every cell (no virtual scrolling, so all
# prompts and outputs are in the page and a screenshot shows the whole notebook), and no
# news/update pop-ups over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("Chromium not found on PATH; scripts/test_browser.sh installs Debian's "
                       "`chromium` package (apt-get install -y chromium)")


def chromium_env(state_dir: Path) -> dict:
    """Chromium's environment: the system fonts plus the CJK fonts that ship with mplfonts (a
    course dependency), so Chinese text in notebooks renders in screenshots on a bare machine."""
    env = dict(os.environ)
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        return env
    fonts = Path(list(spec.submodule_search_locations)[0]) / "fonts"
    conf = state_dir / "fonts.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>{fonts}</dir>
  <cachedir>{state_dir / "fontcache"}</cachedir>
</fontconfig>
""")
    env["FONTCONFIG_FILE"] = str(conf)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_course(dest: Path, root: Path = ROOT) -> Path:
    """Copy notebooks/, exercises/, solutions/ (only .ipynb files) to dest; return dest."""
    for folder in COURSE_FOLDERS:
        src = root / folder
        if src.is_dir():
            (dest / folder).mkdir(parents=True, exist_ok=True)
            for nb in src.glob("*.ipynb"):
                shutil.copy2(nb, dest / folder / nb.name)
    return dest


@dataclass
class LabServer:
    """A JupyterLab server serving `root_dir`; start() with retries, stop() always cleans up."""

    root_dir: Path
    state_dir: Path
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    port: int = 0
    proc: subprocess.Popen | None = None
    # Start the server with this command instead of `python -m jupyterlab ...` (e.g. `make lab`
    # exactly as the README says); "{port}" in it becomes the free port; it runs in `cwd`.
    command: list[str] | None = None
    cwd: Path | None = None
    # Folders put first on JUPYTER_PATH (e.g. one whose kernels/python3 forks its kernels).
    jupyter_path: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "jupyterlab.log"

    def _env(self) -> dict:
        env = dict(os.environ)
        env.pop("MPLBACKEND", None)  # test.sh sets Agg; in the browser figures must use inline
        env.update(
            JUPYTER_TOKEN=self.token,
            JUPYTER_CONFIG_DIR=str(self.state_dir / "config"),
            JUPYTER_RUNTIME_DIR=str(self.state_dir / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(self.state_dir / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.state_dir / "workspaces"),
            OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"),
            COURSE_NO_PROGRESS=env.get("COURSE_NO_PROGRESS", "1"),
        )
        if self.jupyter_path:
            env["JUPYTER_PATH"] = os.pathsep.join([*map(str, self.jupyter_path),
                                                   *filter(None, [env.get("JUPYTER_PATH")])])
        return env

    def _write_settings(self) -> None:
        for rel, value in LAB_SETTINGS.items():
            path = self.state_dir / "settings" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        # What the tests need from the server, as configuration, so that a server started with
        # a learner's own command line (`make lab LAB_ARGS=...`) gets it too.
        config = self.state_dir / "config" / "jupyter_lab_config.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(json.dumps({"LabApp": {"expose_app_in_browser": True, "news_url": None}}))

    def start(self, attempts: int = 3, timeout: float = 90) -> LabServer:
        self._write_settings()
        errors = []
        for _ in range(attempts):
            self.port = free_port()
            cmd = [sys.executable, "-m", "jupyterlab", "--no-browser",
                   "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                   "--ServerApp.port_retries=0", f"--ServerApp.root_dir={self.root_dir}",
                   "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None"]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                cmd.append("--allow-root")
            if self.command is not None:
                cmd = [part.replace("{port}", str(self.port)) for part in self.command]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(cmd, cwd=self.cwd or self.root_dir, env=self._env(), stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            if self._wait_ready(timeout):
                stamp(f"JupyterLab server ready on port {self.port}")
                return self
            errors.append(f"port {self.port}: not ready after {timeout:.0f} s "
                          f"(exit code {self.proc.poll()})")
            self.stop()
        raise RuntimeError(f"JupyterLab did not start ({'; '.join(errors)}); log tail:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.api("GET", "/api/status")
                return True
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        return False

    def api(self, method: str, path: str, timeout: float = 10):
        req = urllib.request.Request(self.url + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self, path: str | None = None) -> None:
        """Shut down every running kernel (between notebooks, so kernels do not pile up), or
        only the kernel of the notebook `path` (relative to the server's root)."""
        try:
            for session in self.api("GET", "/api/sessions"):
                if path is None or session.get("path") == path:
                    self.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)
            for kernel in self.api("GET", "/api/kernels") if path is None else ():
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=30)
        except (urllib.error.URLError, OSError):
            pass
        stamp("kernels shut down")

    def _kernel_pids(self) -> list[int]:
        """Kernels run in their own sessions; find ours by the runtime dir in their command line."""
        marker = str(self.state_dir / "runtime").encode()
        pids = []
        for proc_dir in Path("/proc").glob("[0-9]*"):
            try:
                if marker in (proc_dir / "cmdline").read_bytes():
                    pids.append(int(proc_dir.name))
            except OSError:
                continue
        return pids

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.shutdown_kernels()
            try:
                self.api("POST", "/api/shutdown")
                self.proc.wait(timeout=15)
            except (urllib.error.URLError, OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        for pid in self._kernel_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


# ---------------------------------------------------------------- where the seconds go

_clock = [time.monotonic()]


def restart_clock() -> None:
    """Start counting a test's seconds (conftest calls it as each test's setup begins)."""
    _clock[0] = time.monotonic()


def stamp(what: str) -> None:
    """Print the seconds since the test's setup began, and what was just reached (shown with
    pytest -rA under the test's captured output, so a slow test shows where its time went)."""
    print(f"[{time.monotonic() - _clock[0]:6.1f} s] {what}")


# ---------------------------------------------------------------- the page side

JS_STATE = """(path) => {
  const app = window.jupyterapp;
  if (!app) return {stage: 'no app'};
  const w = app.shell.currentWidget;
  if (!w || !w.context || w.context.path !== path) return {stage: 'no notebook'};
  if (!w.context.isReady || !w.sessionContext || !w.sessionContext.session) return {stage: 'loading'};
  const kernel = w.sessionContext.session.kernel;
  const cells = w.content ? w.content.widgets : [];
  const running = cells.filter(c => c.model.type === 'code' && c.promptNode
                               && c.promptNode.textContent.includes('*')).length;
  return {stage: 'ready', kernel: kernel ? kernel.status : 'none', running: running,
          cells: cells.length};
}"""


# Predicates on JS_STATE, in JavaScript: the page checks them itself (every POLL_MS), so waiting
# costs no round trips and ends within a tenth of a second of the event.
KERNEL_IDLE = "(s) => s.stage === 'ready' && s.kernel === 'idle'"
RUN_DONE = "(s) => s.stage === 'ready' && s.running === 0 && s.kernel === 'idle'"
POLL_MS = 100


def wait_for(page, path: str, predicate: str, what: str, timeout: float) -> dict:
    """Wait until the JavaScript `predicate(JS_STATE(path))` holds; return that state; raise
    TimeoutError naming the notebook and its last state if it does not within `timeout`."""
    from playwright.sync_api import TimeoutError as PageTimeout

    try:
        handle = page.wait_for_function(
            f"(path) => {{ const s = ({JS_STATE})(path); return ({predicate})(s) ? s : null; }}",
            arg=path, polling=POLL_MS, timeout=timeout * 1000)
        return handle.json_value()
    except PageTimeout:
        state = page.evaluate(JS_STATE, path)
        raise TimeoutError(f"{path}: {what} not reached within {timeout:.0f} s (last state: {state})") from None


def open_notebook(page, server: LabServer, path: str, timeout: float = 120, workspace: str | None = None) -> None:
    """Open `path` (relative to the server root) and wait for an idle kernel.

    The first call loads JupyterLab with a fresh workspace (`?reset`; a named `workspace` for a
    second tab on the same server, so the two do not share one layout); later calls on the same
    page close the open notebooks (their kernels are shut down by the caller) and open the next
    one through the UI's document manager, which saves reloading JupyterLab each time.
    """
    if close_notebooks(page):
        page.evaluate("async (path) => { await window.jupyterapp.commands.execute('docmanager:open', {path}); }",
                      path)
    else:
        where = f"lab/workspaces/{workspace}/tree" if workspace else "lab/tree"
        page.goto(f"{server.url}/{where}/{path}?token={server.token}&reset", wait_until="domcontentloaded")
        stamp("JupyterLab page loaded")
    wait_for(page, path, KERNEL_IDLE, "an idle kernel", timeout)
    stamp(f"{path} open, kernel idle")


def close_notebooks(page) -> bool:
    """Close every open document without a save prompt; False if JupyterLab is not loaded."""
    try:
        return page.evaluate("""() => {
            const app = window.jupyterapp;
            if (!app) return false;
            for (const w of Array.from(app.shell.widgets('main'))) {
                if (w.context && w.context.model) { w.context.model.dirty = false; }
                w.dispose();
            }
            return true; }""")
    except Exception:  # page closed or crashed: the caller reloads
        return False


def start_run_all(page) -> None:
    """Start Run All through the UI command and return at once; `window.courseRunAll` is the
    command's promise, which settles once every queued cell has been executed (finish_run_all)."""
    page.evaluate("""() => { window.courseRunAll = window.jupyterapp.commands.execute('notebook:run-all-cells')
        .then(() => 'done', (e) => 'failed: ' + e); }""")


def finish_run_all(page, path: str, timeout: float) -> None:
    """Wait for a run started by start_run_all: its promise (no polling while cells run); then
    no [*] prompt may be left and the kernel must be idle."""
    outcome = page.evaluate("""([ms]) => Promise.race([window.courseRunAll,
        new Promise(late => setTimeout(() => late('timeout'), ms))])""", [timeout * 1000])
    if outcome == "timeout":
        state = page.evaluate(JS_STATE, path)
        raise TimeoutError(f"{path}: the end of run-all not reached within {timeout:.0f} s (last state: {state})")
    if outcome != "done":
        raise RuntimeError(f"{path}: Run All {outcome}")
    wait_for(page, path, RUN_DONE, "the end of run-all", timeout)
    stamp(f"{path}: run-all done")


def run_all(page, path: str, timeout: float) -> float:
    """Run all cells through the UI command and wait for the end (finish_run_all); seconds."""
    t0 = time.monotonic()
    start_run_all(page)
    finish_run_all(page, path, timeout)
    return time.monotonic() - t0


def save(page, server: LabServer, path: str) -> nbformat.NotebookNode:
    """Save through the UI (docmanager:save) and read back the file JupyterLab wrote."""
    page.evaluate("async () => { await window.jupyterapp.commands.execute('docmanager:save'); }")
    stamp(f"{path} saved")
    return nbformat.read(server.root_dir / path, as_version=4)


def run_problems(nb: nbformat.NotebookNode, path: str) -> list[str]:
    """Error outputs and unexecuted code cells in a saved notebook, one message each.

    Code cells are numbered from 1 in notebook order; cells tagged `raises-exception` may
    show an error (run-all continues past them, as nbval does).
    """
    problems = []
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        n += 1
        first_line = (cell.source.strip().splitlines() or [""])[0][:80]
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("execution_count") is None and cell.source.strip():
            problems.append(f"{path}: code cell {n} left unexecuted ({first_line!r})")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and "raises-exception" not in tags:
                problems.append(f"{path}: code cell {n} ({first_line!r}) raised "
                                f"{out.get('ename')}: {out.get('evalue')}")
    return problems


def widget_render_errors(page) -> list[str]:
    """Texts of widget views that failed to render in the page ("Error displaying widget")."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('.jp-OutputArea-output'))
        .map(e => e.innerText).filter(t => t.includes('Error displaying widget'))
        .map(t => t.slice(0, 200))""")


JS_NEXT_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done())))"


def settle_layout(page) -> None:
    """Wait until the page has laid out and painted what just changed (two animation frames:
    JupyterLab's layout runs in the first after a change)."""
    page.evaluate(JS_NEXT_FRAMES)


def screenshot(page, dest: Path, max_height: int = 30000) -> Path:
    """Full-notebook PNG: collapse the side panels, grow the viewport to the notebook's height."""
    page.evaluate("() => { const s = window.jupyterapp.shell; s.collapseLeft(); s.collapseRight(); }")
    settle_layout(page)
    size = page.viewport_size
    extra = page.evaluate("""() => {
        const n = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')
               || document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
        return n ? n.scrollHeight - n.clientHeight : 0; }""")
    page.set_viewport_size({"width": size["width"], "height": min(size["height"] + extra, max_height)})
    settle_layout(page)
    page.evaluate("""() => document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')
        .forEach(e => { e.scrollTop = 0; })""")
    settle_layout(page)
    dest.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(dest))
    page.set_viewport_size(size)
    stamp(f"screenshot {dest.name}")
    return dest


# ---------------------------------------------------------------- widgets, as a person uses them

# What a widget drives: the text and images of a cell's output area without the controls
# themselves (a slider's own read-out changes when it moves; that proves nothing).
JS_OUTPUT_SIGNATURE = """(cell) => {
  const area = cell.querySelector('.jp-Cell-outputArea');
  if (!area) return '';
  const copy = area.cloneNode(true);
  copy.querySelectorAll('.widget-slider, .widget-dropdown, .widget-text, .widget-textarea, '
      + '.widget-toggle-buttons, .widget-radio, .widget-checkbox, .widget-play, .widget-button, '
      + '.widget-inline-hbox > .widget-label, .widget-readout, input, select, button, textarea')
      .forEach(e => e.remove());
  const hash = (text) => { let h = 2166136261;
    for (let i = 0; i < text.length; i++) { h = Math.imul(h ^ text.charCodeAt(i), 16777619); }
    return text.length + ':' + (h >>> 0).toString(16); };
  const images = Array.from(area.querySelectorAll('img')).map(i => hash(i.src));
  const svgs = Array.from(area.querySelectorAll('.jp-RenderedSVG svg')).map(s => hash(s.innerHTML));
  return copy.innerText + '\\n@@images@@\\n' + images.join('\\n') + '\\n' + svgs.join('\\n');
}"""

SIGNATURE_SEPARATOR = "\n@@images@@\n"
CONTROL_SELECTOR = (".widget-slider, .widget-dropdown, .widget-text, .widget-textarea, .widget-toggle-buttons, "
                    ".widget-checkbox")


def code_cells(page):
    """Locator over the page's code cells, in notebook order (cell 1 = first code cell)."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell")


def cells_with_controls(page) -> list[int]:
    """0-based indices (among code cells) of cells whose output shows at least one control."""
    cells = code_cells(page)
    return [i for i in range(cells.count()) if cells.nth(i).locator(CONTROL_SELECTOR).count()]


def output_signature(cell) -> str:
    return cell.evaluate(JS_OUTPUT_SIGNATURE)


def operate(page, control, text_value: str | None = None) -> str:
    """Change one control with the keyboard or mouse, as a learner would; return what was done."""
    classes = control.get_attribute("class") or ""
    if "widget-slider" in classes:
        # Drag the handle with the mouse to a clearly different place on the track (a small
        # keyboard step can vanish in a rounded read-out or an unchanged figure).
        handle = control.locator(".noUi-handle").first
        track = control.locator(".noUi-target").first
        handle.scroll_into_view_if_needed()
        before = handle.get_attribute("aria-valuenow")
        h, t = handle.bounding_box(), track.bounding_box()
        x0, y = h["x"] + h["width"] / 2, h["y"] + h["height"] / 2
        fraction = (x0 - t["x"]) / max(t["width"], 1)
        x1 = t["x"] + t["width"] * (0.25 if fraction > 0.5 else 0.75)
        page.mouse.move(x0, y)
        page.mouse.down()
        page.mouse.move(x1, y, steps=8)
        page.mouse.up()
        return f"slider: dragged from {before} to {handle.get_attribute('aria-valuenow')}"
    if "widget-dropdown" in classes:
        select = control.locator("select")
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.selectedIndex")  # -1: nothing shown as selected
        target = (max(current, 0) + 1) % len(options)
        select.select_option(index=target)
        was = repr(options[current]) if current >= 0 else "nothing selected"
        return f"dropdown: chose {options[target]!r} (was {was})"
    if "widget-toggle-buttons" in classes:
        buttons = control.locator("button")
        pressed = [i for i in range(buttons.count()) if "mod-active" in (buttons.nth(i).get_attribute("class") or "")]
        target = 1 if pressed[:1] == [0] else 0
        buttons.nth(target).click()
        return f"toggle buttons: clicked {buttons.nth(target).inner_text()!r}"
    if "widget-checkbox" in classes:
        control.locator("input").click()
        return "checkbox: clicked"
    box = control.locator("input, textarea").first
    old = box.input_value()
    new = text_value if text_value is not None else old[::-1] or "attention"
    box.click()
    box.press("ControlOrMeta+a")
    box.press_sequentially(new, delay=20)
    box.press("Enter")
    return f"text box: typed {new!r} (was {old!r})"


JS_KERNEL_STATUS = """() => { const w = window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return k ? k.status : 'none'; }"""


def wait_for_change(page, cell, before: str, timeout: float = 60, settle: float = 0.6) -> str | None:
    """The cell's output signature once it differs from `before` and has settled (unchanged for
    `settle` seconds with the kernel idle: a label can update before its figure, but the kernel
    turns idle only after it has sent every output of the change); None if the output never
    changed."""
    deadline = time.monotonic() + timeout
    last, since = before, time.monotonic()
    while time.monotonic() < deadline:
        now = output_signature(cell)
        if now != last:
            last, since = now, time.monotonic()
        elif (last != before and time.monotonic() - since >= settle
              and page.evaluate(JS_KERNEL_STATUS) == "idle"):
            return last
        time.sleep(0.15)
    return last if last != before else None


def images_of(signature: str) -> str:
    """The figure part of an output signature (see JS_OUTPUT_SIGNATURE)."""
    return signature.split(SIGNATURE_SEPARATOR, 1)[1] if SIGNATURE_SEPARATOR in signature else ""


# ---------------------------------------------------------------- editing and running one cell

def cell_with_source(page, needle: str):
    """The page's code cell whose editor text contains `needle`; fails if not exactly one."""
    cells = code_cells(page)
    matches = [i for i in range(cells.count())
               if needle in cells.nth(i).locator(".jp-InputArea-editor").inner_text()]
    if len(matches) != 1:
        raise AssertionError(f"expected one cell containing {needle!r}, found {len(matches)}")
    return cells.nth(matches[0])


def replace_cell_source(page, cell, text: str) -> None:
    """Click into the cell's editor, select everything, and type `text` in its place."""
    editor = cell.locator(".jp-InputArea-editor .cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)  # like pasting: no auto-indent or auto-closed brackets


def run_cell(page, cell, path: str, timeout: float = 120) -> str:
    """Run one cell with Shift+Enter from its editor; wait for its new output; return its text."""
    prompt = cell.locator(".jp-InputArea-prompt")
    before = prompt.inner_text()
    cell.locator(".jp-InputArea-editor .cm-content").click()
    page.keyboard.press("Shift+Enter")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = prompt.inner_text()
        if now != before and "*" not in now and page.evaluate(JS_STATE, path).get("kernel") == "idle":
            return cell.locator(".jp-Cell-outputArea").inner_text()
        time.sleep(0.1)
    raise TimeoutError(f"{path}: cell did not finish within {timeout:.0f} s (prompt {prompt.inner_text()!r})")


def cell_screenshot(page, cell, dest: Path) -> Path:
    """PNG of one cell (input and output), with the viewport grown so a tall cell fits."""
    size = page.viewport_size
    box = cell.bounding_box()
    if box and box["height"] + 200 > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": int(box["height"]) + 200})
        settle_layout(page)
    cell.scroll_into_view_if_needed()
    settle_layout(page)
    dest.parent.mkdir(parents=True, exist_ok=True)
    cell.screenshot(path=str(dest))
    page.set_viewport_size(size)
    return dest
