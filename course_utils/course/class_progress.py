"""course layer · the instructor's view of a class: every learner's progress (learners x lessons:
passed, failing, pending; each learner's last activity; who is stuck on what), read from the
learners' own progress files, which it never changes.

    course classroom progress --homes /home --learners learners.txt     # one machine (run as root)
    course classroom progress --collected /srv/course-progress          # Kubernetes: a shared volume
    ... --csv                                                           # one row per learner and lesson

Where a learner's progress is (`course_utils.course.progress` writes it when they check):
- one machine (`--homes DIR`): `DIR/<learner>/<course folder>/.course/progress.json`, in the copy
  of the course the nbgitpuller link made (`--course-dir`, default `attention-course`). Learners'
  home folders are closed to each other, so the instructor runs this as root;
- Kubernetes (`--collected DIR`): `DIR/<learner>/progress.json`. Each learner's server mounts
  its own folder of one shared volume and points `COURSE_PROGRESS_FILE` at it
  (classroom/z2jh-config.yaml); the instructor mounts the whole volume. The same layout serves
  any collection step that copies each learner's file into `DIR/<learner>/progress.json`.

Learners: those named in `--learners FILE` (one per line: the hub's list of who may log in), in
that order, including learners who have not started; without it, every folder in DIR that holds
a copy of the course (or a progress file). A learner's file is read as that file only: a
symbolic link, a file outside the learner's folder, something not a regular file or a file
larger than MAX_BYTES is reported, not read, so a learner cannot make an instructor running as
root read anything else. Nothing is written anywhere.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

from course_utils.base.i18n import display_width, msg, translate
from course_utils.course import progress

COURSE_DIR = "attention-course"  # the folder the nbgitpuller link clones into (classroom.nbgitpuller_link)
MAX_BYTES = 1 << 20  # a progress file of the whole course is a few KiB
CSV_COLUMNS = ("learner", "lesson", "passed", "failing", "pending", "total", "failing_now", "last_activity",
               "problem")


class ClassProgressError(ValueError):
    """The class cannot be read as asked (no such folder, a bad learners file)."""


@dataclass
class Learner:
    """One learner's progress: per lesson {"passed", "failing", "pending", "total", "failing_now":
    [ids]}, the failing exercises with their attempts, the last check, and what went wrong reading."""

    name: str
    path: Path
    lessons: dict[str, dict] = field(default_factory=dict)
    failing: list[tuple[str, int, str | None]] = field(default_factory=list)  # (id, attempts, last checked)
    last_activity: _dt.datetime | None = None
    problem: str | None = None
    found: bool = False

    @property
    def passed(self) -> int:
        return sum(lesson["passed"] for lesson in self.lessons.values())

    @property
    def total(self) -> int:
        return sum(lesson["total"] for lesson in self.lessons.values())


# ----------------------------------------------------------------------------- reading

def _when(text) -> _dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)


def read_file(path: Path, within: Path) -> tuple[dict | None, str | None]:
    """(the progress data, None) or (None, why it was not read); (None, None) when there is no
    file yet. Never follows a symbolic link, never leaves `within`, never reads a device or a
    file larger than MAX_BYTES, never writes."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, None
    except OSError as err:
        return None, msg("{path} cannot be read ({error})", path=str(path), error=err.strerror or str(err))
    if stat.S_ISLNK(info.st_mode):
        return None, msg("{path} is a symbolic link: not followed", path=str(path))
    try:
        inside = path.parent.resolve().is_relative_to(within.resolve())
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        return None, msg("{path} leads outside the learner's folder: not read", path=str(path))
    if not stat.S_ISREG(info.st_mode):
        return None, msg("{path} is not a regular file: not read", path=str(path))
    if info.st_size > MAX_BYTES:
        return None, msg("{path} is larger than {size} bytes: not read", path=str(path), size=MAX_BYTES)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None, msg("{path} is not a regular file: not read", path=str(path))
            raw = f.read(MAX_BYTES + 1)
    except PermissionError:
        return None, msg("{path} cannot be read (permission denied): run this as an account that can read the "
                         "learners' folders (root on one machine)", path=str(path))
    except OSError as err:
        return None, msg("{path} cannot be read ({error})", path=str(path), error=err.strerror or str(err))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, msg("{path} is not UTF-8 text: not a progress file", path=str(path))
    data, unreadable, wrong = progress.parse(text)
    if unreadable:
        return None, msg("{path}: {why}", path=str(path), why=unreadable)
    return (progress.repaired(data, wrong) if wrong else data), None


def learner_progress(name: str, path: Path, within: Path, exercises: dict[str, str] | None = None) -> Learner:
    """One learner's row from their progress file (`path`, which must lie in `within`)."""
    learner = Learner(name, path)
    data, learner.problem = read_file(path, within)
    learner.found = data is not None
    data = data if data is not None else {"version": 1, "exercises": {}}
    entries = data["exercises"]
    for nn, lesson in progress.summary(exercises=exercises, data=data).items():
        if not lesson["total"]:
            continue
        statuses = lesson["exercises"]
        learner.lessons[nn] = {
            "passed": lesson["passed"], "total": lesson["total"],
            "failing": sum(s == "failed" for s in statuses.values()),
            "pending": sum(s == "pending" for s in statuses.values()),
            "failing_now": [ex_id for ex_id, s in statuses.items() if s == "failed"]}
        for ex_id in learner.lessons[nn]["failing_now"]:
            entry = entries.get(ex_id, {})
            learner.failing.append((ex_id, entry.get("attempts", 0), entry.get("last_checked")))
    times = [_when(entry.get(key)) for entry in entries.values() for key in ("last_checked", "reset")]
    times = [t for t in times if t is not None]
    learner.last_activity = max(times) if times else None
    return learner


def read_learners_file(path: Path) -> list[str]:
    """The learners named in `path`, one per line (blank lines and `#` comments skipped)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ClassProgressError(msg("the learners file {path} cannot be read ({error})", path=str(path),
                                     error=getattr(err, "strerror", None) or str(err))) from None
    names = []
    for number, line in enumerate(lines, 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        if name in (".", "..") or "/" in name or "\\" in name:
            raise ClassProgressError(msg("{path}, line {line}: '{name}' is not a user name", path=str(path),
                                         line=number, name=name))
        if name not in names:
            names.append(name)
    return names


def read_class(folder: Path, *, collected: bool = False, course_dir: str = COURSE_DIR,
               learners: list[str] | None = None, exercises: dict[str, str] | None = None) -> list[Learner]:
    """Every learner's progress under `folder`: a folder of home folders (the progress file in
    each one's copy of the course, `course_dir`), or with `collected`, a folder holding
    `<learner>/progress.json`. `learners`: who to show (default: every folder that holds the
    course's copy or a progress file, sorted)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ClassProgressError(msg("{path} is not a folder", path=str(folder)))
    if not collected and (not course_dir or "/" in course_dir or course_dir in (".", "..")):
        raise ClassProgressError(msg("--course-dir must be a folder name such as {name}, not '{got}'",
                                     name=COURSE_DIR, got=course_dir))

    def file_of(name: str) -> Path:
        return folder / name / "progress.json" if collected else folder / name / course_dir / ".course/progress.json"

    if learners is None:
        try:
            names = sorted(entry.name for entry in folder.iterdir() if not entry.name.startswith("."))
        except OSError as err:
            raise ClassProgressError(msg("{path} cannot be listed ({error})", path=str(folder),
                                         error=err.strerror or str(err))) from None
        mark = (lambda n: file_of(n)) if collected else (lambda n: folder / n / course_dir)
        learners = [n for n in names if os.path.lexists(mark(n))]
    return [learner_progress(name, file_of(name), folder / name, exercises) for name in learners]


# ----------------------------------------------------------------------------- showing

def _date(when: _dt.datetime | None) -> str:
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M") if when else translate(msg("never"))


def _cell(lesson: dict) -> str:
    if not lesson["passed"] and not lesson["failing"]:
        return "-"
    return f"{lesson['passed']}/{lesson['total']}" + ("!" if lesson["failing"] else "")


def format_table(learners: list[Learner]) -> str:
    """The class as a table (learners x lessons), then who fails what now, then files that could
    not be read, in the instructor's language."""
    if not learners:
        return translate(msg("No learners found."))
    lessons = sorted({nn for learner in learners for nn in learner.lessons})
    name_w = max(display_width(translate(msg("learner"))), *(display_width(x.name) for x in learners))
    header = [progress.pad(translate(msg("learner")), name_w)] + [f"{nn:>5}" for nn in lessons] + \
        [progress.pad(translate(msg("total")), 7, right=True), translate(msg("last check (UTC)"))]
    lines = ["  ".join(header)]
    for x in learners:
        row = [progress.pad(x.name, name_w)] + [f"{_cell(x.lessons[nn]):>5}" for nn in lessons] + \
            [f"{x.passed:>3}/{x.total:<3}", _date(x.last_activity) if x.found else translate(msg("no progress file"))]
        lines.append("  ".join(row))
    lines.append("")
    lines.append(translate(msg("n/m: n of the lesson's m exercises passed; !: an exercise fails now; "
                               "-: nothing checked yet.")))
    stuck = [(x.name, f) for x in learners for f in x.failing]
    if stuck:
        lines.append("")
        lines.append(translate(msg("Failing now (the learner's latest check of the exercise failed):")))
        for name, (ex_id, attempts, last) in stuck:
            lines.append(translate(msg("  {learner}: {id} ({attempts} attempts, last {when})", learner=name,
                                       id=ex_id, attempts=attempts, when=_date(_when(last)))))
    problems = [x for x in learners if x.problem]
    if problems:
        lines.append("")
        lines.append(translate(msg("Not read (shown as nothing checked):")))
        lines += [f"  {x.name}: {translate(x.problem)}" for x in problems]
    return "\n".join(lines)


def write_csv(learners: list[Learner], out) -> None:
    """One row per learner and lesson (CSV_COLUMNS); `failing_now` lists the failing exercise ids."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for x in learners:
        last = x.last_activity.astimezone(_dt.timezone.utc).isoformat(timespec="seconds") if x.last_activity else ""
        for nn, lesson in x.lessons.items():
            writer.writerow([x.name, nn, lesson["passed"], lesson["failing"], lesson["pending"], lesson["total"],
                             " ".join(lesson["failing_now"]), last, x.problem or ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="course classroom progress",
        description="Every learner's progress on a hub: learners x lessons (passed, failing, pending), last "
                    "check, who fails what. Reads the learners' progress files; changes nothing.")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--homes", type=Path, metavar="DIR",
                       help="the folder of the learners' home folders (one machine: /home; run as root)")
    where.add_argument("--collected", type=Path, metavar="DIR",
                       help="a folder of DIR/<learner>/progress.json (Kubernetes: the shared progress volume)")
    parser.add_argument("--learners", type=Path, metavar="FILE",
                        help="one learner's user name per line (the hub's COURSE_LEARNERS file); default: every "
                             "folder in DIR holding the course")
    parser.add_argument("--course-dir", default=COURSE_DIR,
                        help="the folder the course is cloned into in each home (default: %(default)s)")
    parser.add_argument("--csv", action="store_true", help="one CSV row per learner and lesson")
    args = parser.parse_args(argv)
    try:
        names = read_learners_file(args.learners) if args.learners else None
        learners = read_class(args.collected or args.homes, collected=args.collected is not None,
                              course_dir=args.course_dir, learners=names)
    except ClassProgressError as err:
        print(translate(msg("course classroom progress: {error}", error=err.args[0])), file=sys.stderr)
        return 2
    try:
        if args.csv:
            write_csv(learners, sys.stdout)
        else:
            print(format_table(learners))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `... --csv | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    return 0


if __name__ == "__main__":
    sys.exit(main())
