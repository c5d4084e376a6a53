"""course layer · the learner's progress: every check records its result in a small local JSON file.

Where: `$COURSE_PROGRESS_FILE` if set; otherwise `.course/progress.json` in the course
checkout of the exercise notebook (or of the current folder: the nearest folder holding
`course_utils/` and `notebooks/`; it is git-ignored); otherwise `~/.attention-course/progress.json`.
`COURSE_NO_PROGRESS=1` (set by the test runner) turns recording off in `checks`.

What records: only the course's own exercise notebook, opened by a learner
(`notebook.is_course_exercise_notebook`: `exercises/NN_name.ipynb` in its checkout, or an
edition's `zh/exercises/NN_name.ipynb`, which share one progress file). A check in a kernel
learns its notebook from the editor: JupyterLab and Jupyter Notebook set `$JPY_SESSION_NAME`,
VS Code sets `__vsc_ipynb_file__`. A kernel that does not say which notebook it runs
(`jupyter nbconvert --execute`, papermill, a script) records nothing and says so once; a scratch
copy (`…-Copy1.ipynb`), a copy elsewhere, a solution or a lesson records nothing either.
`course check` grades a copy and records for the exercise notebook itself (see `file_for`).

What is kept per exercise: the latest status, the number of attempts, when it first and last
passed: a pass followed by a failure shows both ("passed on 2026-01-02, failing now").
Older files (without `last_passed`) load as they are.

Nothing is lost:
- every update runs under an exclusive lock (`fcntl.flock` on `progress.json.lock`; when that
  file cannot be opened, on a lock file in the temporary folder named after the progress
  file), so checks recording at the same time all keep their results. A write that cannot
  get a lock within LOCK_TIMEOUT seconds is not made and says so; writes are atomic (a
  temporary file, then `os.replace`), so reading takes no lock and never waits;
- an entry of the wrong shape is repaired or dropped with a message, and the file as it was is
  kept beside it first (`progress.json.repaired-<time>-<random>`);
- a file that cannot be read at all (not JSON, nested too deeply, not UTF-8) is moved aside to
  `progress.json.unreadable-<time>-<random>` and the learner is told where it went;
- a file or folder that cannot be written gives a message saying the result was not saved.
Messages go to standard error, prefixed `course progress:`.

The list of graded exercises comes from `course_utils.course.exercise_list` (written by
`course build` from the graders), so this module does not import the graders.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from course_utils.base.i18n import display_width, msg, translate
from course_utils.course import notebook as nbformat_course

try:  # POSIX (Linux, macOS, Colab)
    import fcntl
except ImportError:  # pragma: no cover  (Windows)
    fcntl = None
    import msvcrt

LESSONS = {
    "01": msg("Attention intuition"),
    "02": msg("From RNNs to attention"),
    "03": msg("Tokens, embeddings, positions"),
    "04": msg("Self-attention: Q, K, V"),
    "05": msg("Multi-head attention"),
    "06": msg("Masks"),
    "07": msg("Cross-attention"),
    "08": msg("Building the Transformer"),
    "09": msg("Training"),
    "10": msg("Inference"),
    "11": msg("Capstone"),
}
STATUSES = ("passed", "failed", "pending")
LOCK_TIMEOUT = 30.0  # seconds a write waits for another process's lock before giving up (with a message)
_VERSION = 1
_DATES = ("first_passed", "last_passed", "last_checked", "reset")


# ----------------------------------------------------------------------------- where

def progress_path(notebook: Path | None = None) -> Path:
    """The progress file: $COURSE_PROGRESS_FILE, else `.course/progress.json` in the checkout
    holding `notebook` (default: the current folder), else one in the home folder."""
    env = os.environ.get("COURSE_PROGRESS_FILE")
    if env:
        try:
            return Path(env).expanduser()
        except RuntimeError:  # `~nobody/...`: no such home folder; used as written
            return Path(env)
    root = nbformat_course.course_folder_of(Path(notebook).parent if notebook is not None else None)
    if root is not None:
        return root / ".course" / "progress.json"
    return Path.home() / ".attention-course" / "progress.json"


def file_for(notebook: Path, nb=None) -> Path | None:
    """The progress file that results checked in `notebook` go to; None when that notebook is
    not the course's own exercise notebook (a copy, a solution: nothing is recorded)."""
    if not nbformat_course.is_course_exercise_notebook(notebook, nb):
        return None
    return progress_path(Path(notebook).resolve())


def kernel_notebook() -> Path | None:
    """The notebook this kernel runs, as the editor told it: $JPY_SESSION_NAME (JupyterLab,
    Jupyter Notebook) or `__vsc_ipynb_file__` (VS Code); None when nothing says."""
    name = os.environ.get("JPY_SESSION_NAME", "")
    if not name and "IPython" in sys.modules:
        shell = sys.modules["IPython"].get_ipython()
        name = str(getattr(shell, "user_ns", {}).get("__vsc_ipynb_file__", "") or "")
    if not name.endswith(".ipynb"):
        return None
    path = Path(name)
    return path if path.is_absolute() else Path.cwd() / path.name  # the kernel starts in the notebook's folder


def _warn(message: str) -> None:
    print(translate(msg("course progress: {message}", message=message)), file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- reading

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
    fixed.update({key: entry[key] for key in _DATES if isinstance(entry.get(key), str)})
    return fixed


def _valid_entry(entry) -> bool:
    if not isinstance(entry, dict) or entry.get("status") not in STATUSES:
        return False
    attempts = entry.get("attempts", 0)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        return False
    return all(isinstance(entry[k], str) for k in _DATES if k in entry)


def _inspect(path: Path) -> tuple[dict, str | None, list[str]]:
    """(the data as far as it can be read, why the file must be moved aside or None, the ids of
    entries that need repair). Reads without a lock: writers replace the file in one rename."""
    if _special(path):  # /dev/null, a pipe: never read, moved or replaced
        _warn(msg("{path} is not a regular file (a device, pipe or socket): progress is shown as empty and "
                  "results cannot be saved there. Set COURSE_PROGRESS_FILE to a file path.", path=str(path)))
        return _empty(), None, []
    if path.is_dir():  # never moved aside: a folder is not a damaged progress file
        _warn(msg("{path} is a folder, not a progress file: progress is shown as empty and results cannot be "
                  "saved there. Set COURSE_PROGRESS_FILE to a file path.", path=str(path)))
        return _empty(), None, []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _empty(), None, []
    except (OSError, UnicodeDecodeError) as err:
        return _empty(), msg("it cannot be read ({error})", error=f"{type(err).__name__}: {err}"), []
    return parse(text)


def parse(text: str) -> tuple[dict, str | None, list[str]]:
    """A progress file's text read without touching any file: (the data as far as it can be
    read, why it is unreadable or None, the ids of entries of the wrong shape). The instructor's
    view of a class (`class_progress`) reads learners' files with it and never changes them."""
    try:
        data = json.loads(text)
    except RecursionError:
        return _empty(), msg("it is not a progress file (its JSON is nested too deeply)"), []
    except ValueError as err:
        return _empty(), msg("it is not valid JSON ({error})", error=str(err)), []
    if not isinstance(data, dict) or not isinstance(data.get("exercises"), dict):
        return _empty(), msg('it is not a progress file (no "exercises" object)'), []
    data["version"] = _VERSION
    return data, None, sorted(k for k, v in data["exercises"].items() if not _valid_entry(v))


def repaired(data: dict, wrong: list[str]) -> dict:
    """`data` with the entries of the wrong shape repaired or dropped, in memory only."""
    return _repaired(data, wrong)[0]


def _repaired(data: dict, wrong: list[str]) -> tuple[dict, list[str], list[str]]:
    """(data with the wrong entries repaired or dropped, ids repaired, ids dropped)."""
    repaired = {k: _repair_entry(data["exercises"][k]) for k in wrong}
    fixed = [k for k in wrong if repaired[k] is not None]
    bad = [k for k in wrong if repaired[k] is None]
    exercises = {k: (repaired[k] if k in repaired else v) for k, v in data["exercises"].items() if k not in bad}
    return {"version": _VERSION, "exercises": exercises}, fixed, bad


def _read(path: Path) -> dict:
    """Read the file, moving an unreadable one aside and repairing wrong entries (with messages);
    call with the lock held. Never raises for a bad file."""
    data, unreadable, wrong = _inspect(path)
    if unreadable:
        return _move_aside(path, unreadable)
    if not wrong:
        return data
    keep = _aside_name(path, "repaired")
    try:
        shutil.copy2(path, keep)
        where = msg("the file as it was is kept as {path}", path=str(keep))
    except OSError as err:
        where = msg("the file as it was could not be kept ({error})", error=str(err))
    data, fixed, bad = _repaired(data, wrong)

    def names(keys):
        return f"{', '.join(map(str, keys[:5]))}{', ...' if len(keys) > 5 else ''}"
    said = []
    if fixed:
        said.append(msg("repaired {n} entries of the wrong shape ({ids}; status kept)", n=len(fixed), ids=names(fixed))
                    if len(fixed) > 1 else msg("repaired 1 entry of the wrong shape ({ids}; status kept)",
                                               ids=names(fixed)))
    if bad:
        said.append(msg("dropped {n} entries with no readable status ({ids})", n=len(bad), ids=names(bad))
                    if len(bad) > 1 else msg("dropped 1 entry with no readable status ({ids})", ids=names(bad)))
    what = said[0] if len(said) == 1 else said[0] + msg(" and ") + said[1]
    _warn(msg("{path}: {what}; {where}.", path=str(path), what=what, where=where))
    try:
        save(data, path)
    except OSError:
        pass  # reported when a result cannot be saved
    return data


def _move_aside(path: Path, why: str) -> dict:
    aside = _aside_name(path, "unreadable")
    try:
        os.replace(path, aside)
        _warn(msg("{path}: {why}. It was moved to {aside}; progress starts again from an empty file.",
                  path=str(path), why=why, aside=str(aside)))
    except OSError as err:
        _warn(msg("{path}: {why}, and it could not be moved aside ({error}); it is left as it is and progress is "
                  "shown as empty.", path=str(path), why=why, error=str(err)))
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
    empty progress; an unreadable one is moved aside and wrong entries repaired (with messages).
    Takes a lock only to repair, and never waits for it long."""
    path = _target(path)
    try:
        data, unreadable, wrong = _inspect(path)
        if not unreadable and not wrong:
            return data
        try:
            with _locked(path, timeout=min(LOCK_TIMEOUT, 5.0)):
                return _read(path)
        except ProgressLocked:  # another process holds the lock: show, repair later
            return _empty() if unreadable else _repaired(data, wrong)[0]
    except (OSError, RuntimeError) as err:  # a name too long, a link that loops
        _warn(msg("{path} cannot be used as the progress file ({reason}): progress is shown as empty. Set "
                  "COURSE_PROGRESS_FILE to a file path.", path=str(path),
                  reason=getattr(err, "strerror", None) or str(err)))
        return _empty()


# ----------------------------------------------------------------------------- writing

class ProgressLocked(OSError):
    """No lock on the progress file could be had (held too long by another process, or no
    lock file could be opened anywhere)."""


def _lock_files(path: Path) -> list[Path]:
    """Where the lock may live: beside the progress file, else in the temporary folder (named
    after the progress file, so every process that falls back uses the same one)."""
    try:
        key = str(path.resolve())
    except (OSError, RuntimeError):
        key = str(path.absolute())
    spare = Path(tempfile.gettempdir()) / "attention-course-locks"
    return [path.with_name(path.name + ".lock"), spare / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock")]


def _open_lock(path: Path) -> int:
    errors = []
    for lock in _lock_files(path):
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            return os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            errors.append(f"{lock}: {err.strerror or err}")
    raise ProgressLocked(msg("no lock file could be opened ({errors})", errors="; ".join(errors)))


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError as err:
        if err.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES, errno.EDEADLK):  # held by another process
            return False
        raise


@contextlib.contextmanager
def _locked(path: Path, timeout: float | None = None):
    """Hold an exclusive lock for updating `path`; raises ProgressLocked after `timeout` seconds
    (default LOCK_TIMEOUT) or when no lock file can be opened."""
    timeout = LOCK_TIMEOUT if timeout is None else timeout
    fd = _open_lock(path)
    try:
        deadline = time.monotonic() + timeout
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise ProgressLocked(msg("another process has held the progress file's lock for {seconds:g} s",
                                         seconds=timeout))
            time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def save(data: dict, path: Path | None = None) -> None:
    """Write atomically: a temporary file in the same folder, then os.replace. Raises OSError."""
    path = Path(path) if path else progress_path()
    if _special(path):
        raise OSError(msg("{path} is not a regular file (a device, pipe or socket); it is never replaced",
                          path=str(path)))
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
    """Read, change and write the file under the lock. Returns change(data)'s value; when the
    change cannot be saved, says so and why (no exception)."""
    path = _target(path)
    try:
        if _special(path):  # never locked, read, moved or replaced
            raise OSError(msg("{path} is not a regular file (a device, pipe or socket)", path=str(path)))
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            data = _read(path)
            value = change(data)
            save(data, path)
        return value
    except ProgressLocked as err:
        _warn(msg("{what} was NOT saved: {reason}. Check again in a moment.", what=what, reason=err.args[0]))
    except (OSError, RuntimeError) as err:  # RuntimeError: pathlib's symlink loop
        _warn(msg("{what} was NOT saved: {path} cannot be written ({error}). Make its folder writable, or set "
                  "COURSE_PROGRESS_FILE to a file you can write.", what=what, path=str(path),
                  error=f"{type(err).__name__}: {err}"))
    return None


_told: set[str] = set()


def _tell_once(key: str, text: str) -> None:
    if key not in _told:
        _told.add(key)
        _warn(text)


def record(exercise_id: str, status: str, path: Path | None = None, notebook: Path | None = None) -> dict | None:
    """Record one check result, if it was checked in the course's own exercise notebook.

    `notebook`: the notebook the check ran in (default: this kernel's, see `kernel_notebook`).
    From any other notebook, or a kernel that does not say which notebook it runs, nothing is
    recorded (said once) and None is returned. `path`: the progress file (default: the one of
    the notebook's checkout). A *pending* result never overwrites an earlier attempt."""
    _check_arguments(exercise_id, status)
    notebook = Path(notebook) if notebook is not None else kernel_notebook()
    if notebook is None:
        _tell_once("", msg("results are not recorded in your progress: this kernel does not say which notebook it "
                           "runs (nbconvert, papermill or a script). Open exercises/NN_name.ipynb in JupyterLab or "
                           "VS Code, or run `course check exercises/NN_name.ipynb`, to record them."))
        return None
    target = file_for(notebook)
    if target is None:
        _tell_once(str(notebook), msg("results checked in {name} are not recorded: only the course's exercise "
                                      "notebooks (exercises/NN_name.ipynb) record progress, so a copy cannot "
                                      "overwrite them.", name=notebook.name))
        return None
    return save_result(exercise_id, status, path if path is not None else target)


def save_result(exercise_id: str, status: str, path: Path | None = None) -> dict | None:
    """Store one result in the progress file (no question asked about where it was checked:
    `record` decides that). Returns the exercise's entry, or None when it could not be saved."""
    _check_arguments(exercise_id, status)

    def change(data):
        now = _now()
        entry = data["exercises"].setdefault(exercise_id, {"status": "pending", "attempts": 0})
        if status != "pending":
            entry["attempts"] = entry.get("attempts", 0) + 1
            entry["status"] = status
            if status == "passed":
                entry.setdefault("first_passed", now)
                entry["last_passed"] = now
        entry["last_checked"] = now
        return dict(entry)

    return _update(path, msg("the result of {id} ({status})", id=exercise_id, status=status), change)


def _check_arguments(exercise_id, status) -> None:
    if status not in STATUSES:
        raise ValueError(f"record: status must be 'passed', 'failed' or 'pending', got {status!r}")
    if not isinstance(exercise_id, str) or not exercise_id:
        raise ValueError(f"record: exercise_id must be a non-empty string, got {exercise_id!r}")


def reset(exercise_id: str, path: Path | None = None) -> dict | None:
    """Mark an exercise pending again (after `course reset`); its attempt count is kept."""
    def change(data):
        entry = data["exercises"].get(exercise_id)
        if entry is None:
            return None
        entry["status"] = "pending"
        entry.pop("first_passed", None)
        entry.pop("last_passed", None)
        entry["reset"] = _now()
        return dict(entry)

    return _update(path, msg("the reset of {id}", id=exercise_id), change)


# ----------------------------------------------------------------------------- showing

def known_exercises() -> dict[str, str]:
    """{exercise id: title} of every graded exercise (the list `course build` writes)."""
    from course_utils.course.exercise_list import EXERCISES

    return dict(EXERCISES)


def passed_before(entry: dict) -> str | None:
    """The date (YYYY-MM-DD) an exercise that fails now last passed; None if it never did or passes."""
    if not isinstance(entry, dict) or entry.get("status") != "failed":
        return None
    when = entry.get("last_passed") or entry.get("first_passed")  # files written before last_passed: first_passed
    return when[:10] if isinstance(when, str) and when else None


def summary(path: Path | None = None, exercises: dict[str, str] | None = None,
            data: dict | None = None) -> dict[str, dict]:
    """Per lesson: {"title", "passed", "total", "exercises": {id: status}, "failing_now": {id: the
    date it last passed}} over all graded exercises (default: `known_exercises()`; an exercise
    never checked counts as pending). `data`: progress data already read (then `path` is not read)."""
    data = (load(path) if data is None else data)["exercises"]
    exercises = known_exercises() if exercises is None else exercises

    def lesson(title):
        return {"title": title, "passed": 0, "total": 0, "exercises": {}, "failing_now": {}}
    out = {nn: lesson(title) for nn, title in LESSONS.items()}
    for ex_id in sorted(exercises):
        nn = ex_id.split(".", 1)[0]
        row = out.setdefault(nn, lesson(msg("Lesson {nn}", nn=nn)))
        entry = data.get(ex_id, {})
        status = entry.get("status", "pending")
        row["exercises"][ex_id] = status
        row["total"] += 1
        row["passed"] += status == "passed"
        if passed_before(entry):
            row["failing_now"][ex_id] = passed_before(entry)
    return out


def bar(passed: int, total: int, width: int = 20) -> str:
    """A text bar such as `[#####---------------]`."""
    filled = round(width * passed / total) if total else 0
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def pad(text: str, width: int, right: bool = False) -> str:
    """`text` padded to `width` columns on a terminal (a Chinese character takes two; `right`:
    aligned to the right)."""
    space = " " * max(width - display_width(text), 0)
    return space + text if right else text + space


def format_summary(s: dict[str, dict]) -> str:
    """The table `course progress` prints, in the learner's language, then the exercises that
    passed before and fail now."""
    lines = []
    all_p = all_t = 0
    for nn, lesson in s.items():
        all_p, all_t = all_p + lesson["passed"], all_t + lesson["total"]
        lines.append(f"{nn} {pad(translate(lesson['title']), 32)} {bar(lesson['passed'], lesson['total'])} "
                     f"{lesson['passed']:>2}/{lesson['total']:<2}")
    lines.append(f"{'':3}{pad(translate(msg('Total')), 32)} {bar(all_p, all_t)} {all_p:>2}/{all_t:<2}")
    failing = {ex_id: when for lesson in s.values() for ex_id, when in lesson.get("failing_now", {}).items()}
    if failing:
        lines.append("")
        lines.append(translate(msg("Passed before, failing now (your latest check failed):")))
        lines += [translate(msg("  {id}: passed on {date}, failing now", id=ex_id, date=when))
                  for ex_id, when in failing.items()]
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
            rows.append(w.HBox([w.Label(f"{nn} {translate(title)}", layout=w.Layout(width="260px")),
                                self.bars[nn], self.labels[nn]]))
        self.button = w.Button(description=translate(msg("Refresh")), icon="refresh")
        self.button.on_click(lambda _: self.refresh())
        self.widget = w.VBox([*rows, self.button])
        self.refresh()

    def refresh(self) -> None:
        s = summary(self.path)
        for nn in LESSONS:
            lesson = s.get(nn, {"passed": 0, "total": 0, "failing_now": {}})
            self.bars[nn].max = max(lesson["total"], 1)
            self.bars[nn].value = lesson["passed"]
            self.bars[nn].bar_style = "success" if lesson["total"] and lesson["passed"] == lesson["total"] else ""
            label = msg("{passed} / {total} passed", passed=lesson["passed"], total=lesson["total"])
            if lesson["failing_now"]:
                label += msg(" ({n} passed before, failing now)", n=len(lesson["failing_now"]))
            self.labels[nn].value = translate(label)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def progress_widget(path: Path | None = None) -> ProgressWidget:
    """The progress panel for lesson 00: `progress_widget()` as the last line of a cell."""
    return ProgressWidget(path)
