"""course layer · the learner's progress: every check records its result in a small local JSON file.

Where: `$COURSE_PROGRESS_FILE` if set; otherwise `.course/progress.json` in the course
folder (found by walking up from the current folder to the one holding `course_utils/`
and `notebooks/`; it is git-ignored); otherwise `~/.attention-course/progress.json`.
`COURSE_NO_PROGRESS=1` (set by the test runner) turns recording off in `checks`.

Nothing is lost:
- every update runs under an exclusive lock (`fcntl.flock` on `progress.json.lock`), so
  checks recording at the same time (two notebooks, `course check` beside a kernel) all
  keep their results; writes are atomic (a temporary file, then `os.replace`);
- an entry of the wrong shape is dropped with a message, and the file as it was is kept
  beside it first (`progress.json.repaired-<time>-<random>`);
- a file that cannot be read at all is moved aside to `progress.json.unreadable-<time>-<random>`
  (a unique name) and the learner is told where it went;
- a file or folder that cannot be written gives a message saying the result was not saved.
Messages go to standard error, prefixed `course progress:`.

Only the course's own exercise notebooks record: a check run in a kernel that Jupyter started
for another notebook (`$JPY_SESSION_NAME`: a scratch copy such as `…-Copy1.ipynb`, a solution)
is shown but not recorded, so it cannot overwrite the exercise's result (`course check` follows
the same rule).

The list of graded exercises comes from `course_utils.course.exercise_list` (written by
`course build` from the graders), so this module does not import the graders.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

try:  # POSIX (Linux, macOS, Colab); elsewhere updates are not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

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
    "11": "Capstone",
}
STATUSES = ("passed", "failed", "pending")
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
        try:
            return Path(env).expanduser()
        except RuntimeError:  # `~nobody/...`: no such home folder; used as written
            return Path(env)
    root = course_root()
    if root is not None:
        return root / ".course" / "progress.json"
    return Path.home() / ".attention-course" / "progress.json"


def _warn(message: str) -> None:
    print(f"course progress: {message}", file=sys.stderr, flush=True)


def _empty() -> dict:
    return {"version": _VERSION, "exercises": {}}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _aside_name(path: Path, why: str) -> Path:
    """A name beside `path` that no other process picks: time plus random letters."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return path.with_name(f"{path.name}.{why}-{stamp}-{secrets.token_hex(3)}")


def _special(path: Path) -> bool:
    """True for something that exists but is neither a regular file nor a folder (a device
    such as /dev/null, a pipe, a socket): it is never read as progress, moved or replaced."""
    try:
        return path.exists() and not path.is_file() and not path.is_dir()
    except OSError:
        return False


@contextlib.contextmanager
def _locked(path: Path, create: bool = True):
    """Hold an exclusive lock on `path`'s lock file. Yields False when no lock could be
    taken (a folder that cannot be written): reading still works, writing will fail.
    With create=False (reading only) no folder is made: a missing folder means no progress."""
    lock_path = path.with_name(path.name + ".lock")
    if _special(path) or (not create and not path.parent.is_dir()):
        yield False
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield False
        return
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def _repair_entry(entry):
    """A hand-edited or damaged entry made valid, keeping what can be kept: a bare status
    ("passed"), a status in capitals, an attempt count written as text; fields of the wrong
    type are dropped. None when nothing usable is left."""
    if isinstance(entry, str):
        entry = {"status": entry}
    if not isinstance(entry, dict):
        return None
    status = entry.get("status")
    status = status.strip().lower() if isinstance(status, str) else status
    if status not in STATUSES:
        return None
    fixed = {"status": status}
    attempts = entry.get("attempts")
    if isinstance(attempts, str) and attempts.strip().isdigit():
        attempts = int(attempts.strip())
    elif isinstance(attempts, float) and attempts.is_integer() and 0 <= attempts < 2**53:
        attempts = int(attempts)
    fixed["attempts"] = attempts if isinstance(attempts, int) and not isinstance(attempts, bool) and attempts >= 0 \
        else int(status != "pending")
    for key in ("first_passed", "last_checked", "reset"):
        if isinstance(entry.get(key), str):
            fixed[key] = entry[key]
    return fixed


def _valid_entry(entry) -> bool:
    if not isinstance(entry, dict) or entry.get("status") not in STATUSES:
        return False
    attempts = entry.get("attempts", 0)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        return False
    return all(isinstance(entry[k], str) for k in ("first_passed", "last_checked", "reset") if k in entry)


def _read(path: Path) -> dict:
    """Read and repair the file; call with the lock held. Never raises for a bad file."""
    if _special(path):  # /dev/null, a pipe: never read, moved or replaced
        _warn(f"{path} is not a regular file (a device, pipe or socket): progress is shown as empty and "
              f"results cannot be saved there. Set COURSE_PROGRESS_FILE to a file path.")
        return _empty()
    if path.is_dir():  # never moved aside: a folder is not a damaged progress file
        _warn(f"{path} is a folder, not a progress file: progress is shown as empty and results cannot be "
              f"saved there. Set COURSE_PROGRESS_FILE to a file path.")
        return _empty()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _empty()
    except (OSError, UnicodeDecodeError) as err:
        return _move_aside(path, f"it cannot be read ({type(err).__name__}: {err})")
    try:
        data = json.loads(text)
    except ValueError as err:
        return _move_aside(path, f"it is not valid JSON ({err})")
    if not isinstance(data, dict) or not isinstance(data.get("exercises"), dict):
        return _move_aside(path, 'it is not a progress file (no "exercises" object)')
    wrong = sorted(k for k, v in data["exercises"].items() if not _valid_entry(v))
    if wrong:
        keep = _aside_name(path, "repaired")
        try:
            shutil.copy2(path, keep)
            where = f"the file as it was is kept as {keep}"
        except OSError as err:
            where = f"the file as it was could not be kept ({err})"
        repaired = {k: _repair_entry(data["exercises"][k]) for k in wrong}
        fixed = [k for k in wrong if repaired[k] is not None]
        bad = [k for k in wrong if repaired[k] is None]
        data = {"version": _VERSION, "exercises": {k: (repaired[k] if k in repaired else v)
                                                   for k, v in data["exercises"].items() if k not in bad}}

        def names(keys):
            return f"{', '.join(map(str, keys[:5]))}{', ...' if len(keys) > 5 else ''}"
        said = []
        if fixed:
            said.append(f"repaired {len(fixed)} entr{'y' if len(fixed) == 1 else 'ies'} of the wrong shape "
                        f"({names(fixed)}; status kept)")
        if bad:
            said.append(f"dropped {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} with no readable status "
                        f"({names(bad)})")
        _warn(f"{path}: {' and '.join(said)}; {where}.")
        try:
            save(data, path)
        except OSError:
            pass  # reported when a result cannot be saved
    data["version"] = _VERSION
    return data


def _move_aside(path: Path, why: str) -> dict:
    aside = _aside_name(path, "unreadable")
    try:
        os.replace(path, aside)
        _warn(f"{path}: {why}. It was moved to {aside}; progress starts again from an empty file.")
    except OSError as err:
        _warn(f"{path}: {why}, and it could not be moved aside ({err}); it is left as it is "
              f"and progress is shown as empty.")
    return _empty()


def _target(path: Path | None) -> Path:
    """The progress file; a symbolic link is followed, so writing keeps the link."""
    path = Path(path) if path else progress_path()
    try:
        return path.resolve() if path.is_symlink() else path
    except (OSError, RuntimeError):  # a link that loops or points nowhere: reported when used
        return path


def load(path: Path | None = None) -> dict:
    """The progress data: {"version": 1, "exercises": {id: {...}}}. A missing file gives
    empty progress; an unreadable one is moved aside (with a message), wrong entries dropped."""
    path = _target(path)
    try:
        with _locked(path, create=False):
            return _read(path)
    except (OSError, RuntimeError) as err:  # a name too long, a link that loops
        _warn(f"{path} cannot be used as the progress file ({getattr(err, 'strerror', None) or err}): progress "
              f"is shown as empty. Set COURSE_PROGRESS_FILE to a file path.")
        return _empty()


def save(data: dict, path: Path | None = None) -> None:
    """Write atomically: a temporary file in the same folder, then os.replace. Raises OSError."""
    path = Path(path) if path else progress_path()
    if _special(path):
        raise OSError(f"{path} is not a regular file (a device, pipe or socket); it is never replaced")
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


def _update(path: Path | None, what: str, change) -> dict | None:
    """Read, change and write the file under the lock. Returns change(data)'s value; on a
    write failure says that `what` was not saved (no exception)."""
    path = _target(path)
    value = None
    try:
        with _locked(path):
            data = _read(path)
            value = change(data)
            save(data, path)
    except (OSError, RuntimeError) as err:  # RuntimeError: pathlib's symlink loop
        _warn(f"{what} was NOT saved: {path} cannot be written ({type(err).__name__}: {err}). "
              f"Make its folder writable, or set COURSE_PROGRESS_FILE to a file you can write.")
    return value


def is_exercise_notebook(notebook: Path) -> bool:
    """True for a generated exercise notebook in its own place: `exercises/NN_name.ipynb`
    whose metadata says it was generated from `solutions/NN_name.ipynb` (not a renamed copy,
    a solution or a lesson)."""
    notebook = Path(notebook)
    if notebook.parent.name != "exercises":
        return False
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {}).get("course", {})
    except (OSError, ValueError, AttributeError):
        return False
    source = meta.get("generated_from") if isinstance(meta, dict) else None
    return isinstance(source, str) and Path(source).name == notebook.name


_told: set[str] = set()


def _session_notebook() -> Path | None:
    """The notebook Jupyter started this kernel for, if any ($JPY_SESSION_NAME)."""
    name = os.environ.get("JPY_SESSION_NAME", "")
    return Path(name) if name.endswith(".ipynb") and Path(name).is_absolute() else None


def record(exercise_id: str, status: str, path: Path | None = None, notebook: Path | None = None) -> dict | None:
    """Record one check result. A *pending* result never overwrites an earlier attempt.

    `notebook` (default: the notebook of this Jupyter kernel, if known) must be a course
    exercise notebook (see `is_exercise_notebook`); from any other notebook nothing is
    recorded and None is returned."""
    if status not in STATUSES:
        raise ValueError(f"record: status must be 'passed', 'failed' or 'pending', got {status!r}")
    if not isinstance(exercise_id, str) or not exercise_id:
        raise ValueError(f"record: exercise_id must be a non-empty string, got {exercise_id!r}")
    notebook = Path(notebook) if notebook is not None else _session_notebook()
    if notebook is not None and not is_exercise_notebook(notebook):
        if str(notebook) not in _told:
            _told.add(str(notebook))
            _warn(f"results checked in {notebook.name} are not recorded: only the course's exercise "
                  f"notebooks (exercises/NN_name.ipynb) record progress, so a copy cannot overwrite them.")
        return None

    def change(data):
        now = _now()
        entry = data["exercises"].setdefault(exercise_id, {"status": "pending", "attempts": 0})
        if status != "pending":
            entry["attempts"] = entry.get("attempts", 0) + 1
            entry["status"] = status
            if status == "passed":
                entry.setdefault("first_passed", now)
        entry["last_checked"] = now
        return dict(entry)

    return _update(path, f"the result of {exercise_id} ({status})", change)


def reset(exercise_id: str, path: Path | None = None) -> dict | None:
    """Mark an exercise pending again (after `course reset`); its attempt count is kept."""
    def change(data):
        entry = data["exercises"].get(exercise_id)
        if entry is None:
            return None
        entry["status"] = "pending"
        entry.pop("first_passed", None)
        entry["reset"] = _now()
        return dict(entry)

    return _update(path, f"the reset of {exercise_id}", change)


def known_exercises() -> dict[str, str]:
    """{exercise id: title} of every graded exercise (the list `course build` writes)."""
    from course_utils.course.exercise_list import EXERCISES

    return dict(EXERCISES)


def summary(path: Path | None = None, exercises: dict[str, str] | None = None) -> dict[str, dict]:
    """Per lesson: {"title", "passed", "total", "exercises": {id: status}} over all graded
    exercises (default: `known_exercises()`; an exercise never checked counts as pending)."""
    data = load(path)["exercises"]
    exercises = known_exercises() if exercises is None else exercises
    out = {nn: {"title": title, "passed": 0, "total": 0, "exercises": {}} for nn, title in LESSONS.items()}
    for ex_id in sorted(exercises):
        nn = ex_id.split(".", 1)[0]
        lesson = out.setdefault(nn, {"title": f"Lesson {nn}", "passed": 0, "total": 0, "exercises": {}})
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
