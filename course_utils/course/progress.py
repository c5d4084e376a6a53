"""The learner's progress: every check records its result in a small local JSON file.

Where: `$COURSE_PROGRESS_FILE` if set; otherwise `.course/progress.json` in the course
folder (found by walking up from the current folder to the one holding `course_utils/`
and `notebooks/`; it is git-ignored); otherwise `~/.attention-course/progress.json`.
Writes are atomic (a temporary file, then `os.replace`), so a crash cannot leave half a
file. `COURSE_NO_PROGRESS=1` (set by the test runner) turns recording off in `checks`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from pathlib import Path

LESSONS = {
    "01": "Attention intuition",
    "02": "From RNNs to attention",
    "03": "Tokens, embeddings, positions",
    "04": "Self-attention: Q, K, V",
    "05": "Multi-head attention",
    "06": "Masks",
    "07": "Cross-attention",
    "08": "Building the Transformer",
    "09": "Training",
    "10": "Inference",
}
_VERSION = 1


def course_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above `start` (default: cwd) holding course_utils/ and notebooks/."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "course_utils").is_dir() and (folder / "notebooks").is_dir():
            return folder
    return None


def progress_path() -> Path:
    env = os.environ.get("COURSE_PROGRESS_FILE")
    if env:
        return Path(env).expanduser()
    root = course_root()
    if root is not None:
        return root / ".course" / "progress.json"
    return Path.home() / ".attention-course" / "progress.json"


def load(path: Path | None = None) -> dict:
    """The progress data: {"version": 1, "exercises": {id: {...}}}. A missing or
    unreadable file gives empty progress (an unreadable one is kept aside, not lost)."""
    path = Path(path) if path else progress_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("exercises"), dict):
            raise ValueError("not a progress file")
        return data
    except FileNotFoundError:
        return {"version": _VERSION, "exercises": {}}
    except (OSError, ValueError):
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        try:
            os.replace(path, path.with_name(f"{path.name}.unreadable-{stamp}"))
        except OSError:
            pass
        return {"version": _VERSION, "exercises": {}}


def save(data: dict, path: Path | None = None) -> None:
    """Write atomically: a temporary file in the same folder, then os.replace."""
    path = Path(path) if path else progress_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".progress-", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a progress file is an ordinary file
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def record(exercise_id: str, status: str, path: Path | None = None) -> dict:
    """Record one check result. A *pending* result never overwrites an earlier attempt."""
    if status not in ("passed", "failed", "pending"):
        raise ValueError(f"record: status must be 'passed', 'failed' or 'pending', got {status!r}")
    data = load(path)
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    entry = data["exercises"].setdefault(exercise_id, {"status": "pending", "attempts": 0})
    if status != "pending":
        entry["attempts"] = entry.get("attempts", 0) + 1
        entry["status"] = status
        if status == "passed":
            entry.setdefault("first_passed", now)
    entry["last_checked"] = now
    save(data, path)
    return entry


def summary(path: Path | None = None) -> dict[str, dict]:
    """Per lesson: {"title", "passed", "total", "exercises": {id: status}} over all
    registered exercises (an exercise never checked counts as pending)."""
    from course_utils.course.checks import registry

    data = load(path)["exercises"]
    out = {nn: {"title": title, "passed": 0, "total": 0, "exercises": {}} for nn, title in LESSONS.items()}
    for ex_id, ex in registry().items():
        lesson = out.setdefault(ex.lesson, {"title": f"Lesson {ex.lesson}", "passed": 0, "total": 0, "exercises": {}})
        status = data.get(ex_id, {}).get("status", "pending")
        lesson["exercises"][ex_id] = status
        lesson["total"] += 1
        lesson["passed"] += status == "passed"
    return out


def bar(passed: int, total: int, width: int = 20) -> str:
    """A text bar such as `[#####---------------]`."""
    filled = round(width * passed / total) if total else 0
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def format_summary(s: dict[str, dict]) -> str:
    lines = []
    all_p = all_t = 0
    for nn, lesson in s.items():
        all_p, all_t = all_p + lesson["passed"], all_t + lesson["total"]
        lines.append(f"{nn} {lesson['title']:<32} {bar(lesson['passed'], lesson['total'])} "
                     f"{lesson['passed']:>2}/{lesson['total']:<2}")
    lines.append(f"{'':3}{'Total':<32} {bar(all_p, all_t)} {all_p:>2}/{all_t:<2}")
    return "\n".join(lines)


class ProgressWidget:
    """A bar per lesson plus a Refresh button (ipywidgets). `.refresh()` re-reads the file;
    `.widget` is the VBox to display. Works headless: tests call refresh() and read the bars."""

    def __init__(self, path: Path | None = None):
        import ipywidgets as w

        self.path = path
        self.bars: dict[str, w.IntProgress] = {}
        self.labels: dict[str, w.Label] = {}
        rows = []
        for nn, title in LESSONS.items():
            self.bars[nn] = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="240px"))
            self.labels[nn] = w.Label("")
            rows.append(w.HBox([w.Label(f"{nn} {title}", layout=w.Layout(width="260px")),
                                self.bars[nn], self.labels[nn]]))
        self.button = w.Button(description="Refresh", icon="refresh")
        self.button.on_click(lambda _: self.refresh())
        self.widget = w.VBox([*rows, self.button])
        self.refresh()

    def refresh(self) -> None:
        s = summary(self.path)
        for nn in LESSONS:
            lesson = s.get(nn, {"passed": 0, "total": 0})
            self.bars[nn].max = max(lesson["total"], 1)
            self.bars[nn].value = lesson["passed"]
            self.bars[nn].bar_style = "success" if lesson["total"] and lesson["passed"] == lesson["total"] else ""
            self.labels[nn].value = f"{lesson['passed']} / {lesson['total']} passed"

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def progress_widget(path: Path | None = None) -> ProgressWidget:
    """The progress panel for lesson 00: `progress_widget()` as the last line of a cell."""
    return ProgressWidget(path)
