"""course layer · the course for a whole class — an nbgrader course directory written from
the one source (`solutions/`), so an instructor can release, collect, autograde and keep a
gradebook with nbgrader as it is (docs/TEACHING.md walks through it).

    course classroom nbgrader DIR [--lessons 01 04]     # an nbgrader course folder
    course classroom link --hub URL --repo URL          # the nbgitpuller link for learners
    (or python -m course_utils.course.classroom ...)

What it writes, for each solution notebook `solutions/NN_name.ipynb`:

    DIR/nbgrader_config.py
    DIR/source/lessonNN/NN_name.ipynb

The source notebook is the exercise notebook, whose cells already carry nbgrader's metadata
(`course build` writes it, build.mark_for_nbgrader: the course copy in exercises/ and the
released assignment are the same notebook, cell ids included), with the answers put back:
- an answer cell (it holds `### BEGIN SOLUTION` ... `### END SOLUTION`) is an nbgrader
  *solution* cell; `nbgrader generate_assignment` replaces each region by the same stub
  `course build` writes (through `CourseClearSolutions`, which calls the generator's own
  `strip_solution`), so the student notebook equals `exercises/NN_name.ipynb` cell for cell;
- a check cell (`check("NN.name", ...)`) is an autograded *test* cell worth one point: the
  exercise's check cell followed by a line (`require_pass`) that fails the cell when the
  answer does not pass, for a learner who runs the notebook or `nbgrader validate`;
- every other cell (statements, hints, setup) is read-only (nbgrader *locked*).

Autograding (the generated nbgrader_config.py) does not trust the learner's kernel: nbgrader
restores the test cells from its database (`RestoreCourseCells` first gives a notebook that
lost nbgrader's metadata its cells back from the course's ids), then `JudgeCells`, in place of
nbgrader's Execute, grades the notebook with the course's judge (course.grading, the engine of
`course check --strict`, docs/JUDGE.md) in a temporary folder holding only the notebook, and
gives each test cell the judge's verdict as its only output. Nothing the notebook prints,
warns, redefines or patches, and no file submitted beside it, reaches a score. Autograding as
root is refused unless COURSE_AUTOGRADE_AS_ROOT=1; threads are pinned to one.

Optional: needs `pip install -e .[classroom]` (nbgrader). Imports nbgrader only where it
is used, so the rest of the course never needs it.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shlex
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import nbformat

from course_utils.course import build, notebook
from course_utils.course.checks import check

COURSE_ID = "attention-course"
GRADER_LINES = ("# Graded by the course's checker itself (nbgrader restores this cell before grading).\n"
                "from course_utils.course.classroom import require_pass\n"
                "require_pass({ex_id!r}, {obj})")
GRADER_SUFFIX = re.compile(r"\n# Graded by the course's checker itself.*\Z", re.S)

CELL_TIMEOUT = 600  # seconds per cell when autograding (lesson 11 trains for about 75 s on one thread)
AS_ROOT_VARIABLE = "COURSE_AUTOGRADE_AS_ROOT"  # =1: autograde as root all the same
GRADER_ACCOUNT = "grader"  # the account docs/TEACHING.md has the instructor create for autograding

NBGRADER_CONFIG = '''\
# nbgrader configuration for the course "Attention, step by step" (written by
# `course classroom nbgrader`; see docs/TEACHING.md). Run nbgrader from this folder, as the
# grader account, not as root.
import os
import sys

from course_utils.course.classroom import (autograde_preprocessors, generate_assignment_preprocessors,
                                           refuse_root, sanitize_preprocessors)

# Autograding runs every learner's code: not as root (unless {as_root}=1 is set).
refuse_root(sys.argv[1:])
# Grading must not write a progress file into the submissions.
os.environ.setdefault("COURSE_NO_PROGRESS", "1")
# One thread per process (the learner's kernel and the judge): on a small machine more threads
# make lesson 11's training several times slower, not faster.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

c = get_config()  # noqa: F821  (nbgrader provides it)
c.CourseDirectory.course_id = "{course_id}"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# Answers become the same stubs as in exercises/ (the course's generator, not nbgrader's stub).
c.GenerateAssignment.preprocessors = generate_assignment_preprocessors()
# Autograding runs each notebook through the course's judge (docs/JUDGE.md): the learner's
# cells run in a fresh kernel, in a folder that holds only the notebook (files submitted beside
# it are never imported), and each graded cell gets the judge's verdict, computed outside the
# learner's kernel. Graded cells deleted from a submission are put back (and graded).
c.Autograde.autograde_preprocessors = autograde_preprocessors()
# A course exercise notebook that lost nbgrader's cell metadata gets it back from the course's ids.
c.Autograde.sanitize_preprocessors = sanitize_preprocessors()
c.OverwriteCells.add_missing_cells = True
# A cell that runs longer than this (an endless loop in an answer) stops that notebook's run:
# the exercises after it score 0, and grading goes on with the next notebook.
c.Execute.timeout = {timeout}
'''


class ClassroomError(ValueError):
    """A solution notebook cannot be turned into an nbgrader assignment."""


def config_text() -> str:
    """The nbgrader_config.py that `course classroom nbgrader` writes."""
    return NBGRADER_CONFIG.format(course_id=COURSE_ID, as_root=AS_ROOT_VARIABLE, timeout=CELL_TIMEOUT)


def root_refusal(argv: list[str] | None = None) -> str | None:
    """The message that refuses autograding as root, or None where it may go on (not root, not
    autograding, or COURSE_AUTOGRADE_AS_ROOT=1)."""
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None or geteuid() != 0 or os.environ.get(AS_ROOT_VARIABLE) == "1":
        return None
    if argv is not None and (not argv or argv[0] != "autograde"):
        return None
    command = "nbgrader " + " ".join(shlex.quote(a) for a in (argv or ["autograde", "lessonNN"]))
    return (f"course classroom: refusing to autograde as root: autograding runs every learner's code, "
            f"and as root that code could do anything on this machine. Run it as the grader account, "
            f"from this folder (which that account must own): sudo -u {GRADER_ACCOUNT} {command}  "
            f"(see docs/TEACHING.md). To autograde as root all the same: {AS_ROOT_VARIABLE}=1 {command}")


def refuse_root(argv: list[str] | None = None) -> None:
    """Exit with `root_refusal`'s message when `nbgrader autograde` (argv: nbgrader's arguments)
    runs as root; called by the generated nbgrader_config.py."""
    message = root_refusal(argv)
    if message:
        raise SystemExit(message)


def require_pass(exercise_id: str, obj) -> None:
    """Grade `obj` with the course's checker and raise AssertionError unless it passes.

    Used in nbgrader's autograded test cells: the cell (and so the point) fails whenever the
    checker says *failed* or *pending*; the message carries the checker's hint, which is what
    the learner reads in nbgrader's feedback.
    """
    result = check(exercise_id, obj)
    status = getattr(result, "status", None)
    if status != "passed":
        message = getattr(result, "message", "") or ""
        hint = getattr(result, "hint", None)
        text = f"{exercise_id}: {status}. {message}"
        if hint:
            text += f"\nHint: {hint}"
        raise AssertionError(text)


grade_id = build.nbgrader_grade_id


def source_notebook(solution: nbformat.NotebookNode, name: str, points: int = 1) -> nbformat.NotebookNode:
    """The nbgrader *source* notebook for one solution notebook (`name` like '04_self_attention.ipynb'):
    the exercise notebook, whose cells already carry nbgrader's metadata (build.mark_for_nbgrader),
    with the answers put back between their markers and the grading line added to each check cell."""
    exercise = build.build_notebook(solution, name)
    kept = [c for c in solution.cells if "solution-only" not in c.get("metadata", {}).get("tags", [])]
    if len(kept) != len(exercise.cells):  # build_notebook keeps every other cell, in order
        raise ClassroomError(f"{name}: the exercise notebook does not match the solution cell for cell")
    nb = copy.deepcopy(exercise)
    nb.metadata.setdefault("course", {})["nbgrader"] = True
    for sol, cell in zip(kept, nb.cells):
        meta = cell.metadata["nbgrader"]
        meta["points"] = points if meta["grade"] else meta.get("points")
        if not meta["grade"]:
            meta.pop("points", None)
        ex_id = notebook.exercise_id(cell)
        if meta["solution"]:
            cell.source = sol.source  # the answer with its markers: nbgrader's solution cell
        elif meta["grade"]:
            call = notebook.check_call_for(cell, ex_id)
            cell.source = cell.source.rstrip("\n") + "\n" + GRADER_LINES.format(ex_id=ex_id, obj=call.expression)
    graded = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata["nbgrader"]["grade"]]
    ids = [notebook.exercise_id(c) for c in nb.cells]
    missing = sorted({i for i in ids if i and grade_id(i) not in graded})
    if missing:
        raise ClassroomError(f"{name}: exercises without a check cell: {', '.join(missing)}")
    return nb


def generate_assignment_preprocessors() -> list:
    """nbgrader's generate_assignment pipeline with the course's stub writer in place of
    nbgrader's ClearSolutions."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import ClearSolutions

    class CourseClearSolutions(ClearSolutions):
        """Replace each answer region by the stub `course build` writes (STUB lines or a
        `raise NotImplementedError`), so students get exactly the exercise notebook."""

        def _replace_solution_region(self, cell, language):
            if build.BEGIN not in cell.source:
                return False
            ex_id = cell.get("metadata", {}).get("course", {}).get("exercise")
            cell.source, _ = build.strip_solution(cell.source, ex_id, "nbgrader source cell")
            return True

    default = GenerateAssignment.class_traits()["preprocessors"].default()
    return [CourseClearSolutions if p is ClearSolutions else p for p in default]


def autograde_preprocessors() -> list:
    """nbgrader's autograde pipeline with the course's judge (`JudgeCells`) in place of nbgrader's
    Execute: see `judge_notebook`."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    class JudgeCells(Execute):
        """Run the notebook through the course's judge (course_utils.course.grading) and give
        each graded cell the judge's verdict; its settings are Execute's (`c.Execute.timeout`)."""

        def preprocess(self, nb, resources):
            refusal = root_refusal()  # also when autograding from the formgrader (not a command line)
            if refusal:
                raise ClassroomError(refusal)
            name = f"{resources.get('unique_key') or 'notebook'}.ipynb"
            return judge_notebook(nb, name, timeout=self.timeout or CELL_TIMEOUT), resources

    default = Autograde.class_traits()["autograde_preprocessors"].default()
    return [JudgeCells if p is Execute else p for p in default]


def sanitize_preprocessors() -> list:
    """nbgrader's sanitize pipeline (run on a submission before autograding) with the course's
    `RestoreCourseCells` first: see `restore_nbgrader_cells`."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import NbGraderPreprocessor

    class RestoreCourseCells(NbGraderPreprocessor):
        """Give the cells of a course exercise notebook that have lost nbgrader's metadata (a copy
        saved by another tool, an old course copy) their metadata back, from the course's own ids."""

        def preprocess(self, nb, resources):
            restored = restore_nbgrader_cells(nb, f"{resources.get('unique_key') or 'notebook'}.ipynb")
            if restored:
                self.log.warning("%s: nbgrader's metadata restored on %d cell(s) from the course's exercise ids",
                                 resources.get("unique_key"), restored)
            return nb, resources

    default = Autograde.class_traits()["sanitize_preprocessors"].default()
    return [RestoreCourseCells, *default]


def _safe_folder() -> tempfile.TemporaryDirectory:
    """A temporary folder with no course checkout at or above it but the package's own: a
    learner who made /tmp/course_utils and /tmp/solutions/ must not choose what the judge grades."""
    own = notebook.package_checkout()
    candidates = [None, Path.home() / ".cache"]
    for base in candidates:
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
        folder = tempfile.TemporaryDirectory(prefix="course-autograde-", dir=base)
        found = notebook.course_folder_of(Path(folder.name))
        if found is None or found == own:
            return folder
        folder.cleanup()
    raise ClassroomError(f"cannot grade safely: every temporary folder lies under a course checkout "
                         f"({notebook.course_folder_of(Path(tempfile.gettempdir()))}); remove it or set TMPDIR")


def restore_nbgrader_cells(nb: nbformat.NotebookNode, name: str) -> int:
    """Put nbgrader's cell metadata back on the cells of a course exercise notebook that have
    none, taken from the exercise regenerated from its solution (build.mark_for_nbgrader): by
    cell id, else (a notebook saved without ids) the check cell of each exercise by its
    exercise id. Returns how many cells got it back; cells the learner added stay as they are."""
    have = {c.metadata["nbgrader"].get("grade_id") for c in nb.cells
            if isinstance(c.get("metadata", {}).get("nbgrader"), dict)}
    bare = [c for c in nb.cells if not isinstance(c.get("metadata", {}).get("nbgrader"), dict)]
    if not bare:
        return 0
    with _safe_folder() as tmp:
        path = Path(tmp) / Path(name).name
        try:
            fresh, _ = build.fresh_exercise(path, nb)
        except notebook.NotebookError:
            fresh = None
    if fresh is None:
        return 0
    by_id = {c.get("id"): c for c in fresh.cells if c.get("id")}
    checks = {notebook.exercise_id(c): c for c in fresh.cells if c.metadata["nbgrader"]["grade"]}
    restored = 0
    for cell in bare:
        twin = by_id.get(cell.get("id"))
        if twin is None or twin.cell_type != cell.cell_type:
            ex_id = notebook.exercise_id(cell)
            twin = checks.get(ex_id) if ex_id and notebook.check_call_for(cell, ex_id) else None
        if twin is None or twin.cell_type != cell.cell_type:
            continue
        meta = copy.deepcopy(twin.metadata["nbgrader"])
        if meta["grade_id"] in have:
            continue
        have.add(meta["grade_id"])
        cell.setdefault("metadata", {})["nbgrader"] = meta
        restored += 1
    return restored


def _verdict_output(ex_id: str | None, status: str, details: str) -> nbformat.NotebookNode:
    if status == "passed":
        return nbformat.v4.new_output("stream", name="stdout", text=f"{ex_id}: {status}. {details}\n")
    text = f"{ex_id or 'graded cell'}: {status}. {details}"
    return nbformat.v4.new_output("error", ename="AssertionError", evalue=text, traceback=[text])


def judge_notebook(nb: nbformat.NotebookNode, name: str, timeout: float = CELL_TIMEOUT) -> nbformat.NotebookNode:
    """Grade `nb` (a submission, its graded cells already restored by nbgrader) with the course's
    judge, as `course check --strict` does, and return it with outputs nbgrader can score:
    every cell that ran has its own outputs; each graded cell has only the judge's verdict
    (nothing when passed but a line saying so, an AssertionError with the message and hint
    otherwise), so what a learner's code prints, warns or displays never changes a score. The
    notebook runs in a fresh kernel in a temporary folder that holds nothing but the notebook:
    files submitted beside it (a `course_utils/` of one's own) are never imported."""
    from course_utils.course import grading

    pin_threads()
    work = copy.deepcopy(nb)
    graded = {}  # cell index -> nbgrader grade id
    for index, cell in enumerate(work.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and meta.get("grade") and cell.cell_type == "code":
            graded[index] = str(meta.get("grade_id"))
            # the check cell as the exercise has it: the judge grades it (the grading line is for
            # a notebook run by hand)
            cell.source = GRADER_SUFFIX.sub("", notebook.cell_source(cell))
    with _safe_folder() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_text(build.render(work), encoding="utf-8")
        report = grading.grade(path, timeout=timeout, nb=notebook.read(path), keep_outputs=True)
    rows = {grade_id(ex_id): (ex_id, status, details) for ex_id, status, details in report.rows}
    out = copy.deepcopy(nb)
    for index, cell in enumerate(out.cells):
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        if index in graded:
            ex_id, status, details = rows.get(graded[index], (None, "failed", report.stopped or "not graded"))
            cell.outputs = [_verdict_output(ex_id, status, details)]
        else:
            cell.outputs = list((report.outputs or {}).get(index, []))
        if index == report.stopped_cell and report.stopped:
            timed_out = any(status == "timeout" for _, status, _ in report.rows)
            cell.outputs.append(nbformat.v4.new_output("error", ename="CellTimeoutError" if timed_out else
                                                       "DeadKernelError", evalue=report.stopped,
                                                       traceback=[report.stopped]))
    return out


def pin_threads() -> None:
    """One thread for torch in this process and in the kernels it starts (OMP_NUM_THREADS=1)."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except Exception:  # torch missing or already in use: the kernels still get the variable
        pass


BACKUPS = ".backups"  # in the nbgrader course folder: files that a new run of the command replaced


def write_nbgrader_course(out: Path | str, root: Path | None = None, lessons: list[str] | None = None,
                          backups: list | None = None) -> list[Path]:
    """Write DIR/nbgrader_config.py and DIR/source/lessonNN/NN_name.ipynb; return the notebooks.
    A file already there with other content (an instructor's edit) is first copied to
    DIR/.backups/<date-time>/<same path>; each such (file, backup) pair is appended to `backups`.
    A folder that cannot be written is a ClassroomError naming it."""
    if not str(out).strip():
        raise ClassroomError("name the folder to write the nbgrader course into (an empty name was given)")
    root = Path(root) if root is not None else notebook.package_checkout() or Path.cwd()
    solutions = sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if not solutions:
        raise ClassroomError(f"no solution notebooks in {root / 'solutions'}")
    if lessons:
        wanted = {f"{int(x):02d}" if str(x).isdigit() else str(x) for x in lessons}
        unknown = wanted - {p.name[:2] for p in solutions}
        if unknown:
            raise ClassroomError(f"no solution notebook for lesson(s) {', '.join(sorted(unknown))}")
        solutions = [p for p in solutions if p.name[:2] in wanted]
    out = Path(out)
    files = {}  # relative path -> text
    for path in solutions:
        nb = source_notebook(nbformat.read(path, as_version=4), path.name)
        files[Path("source") / f"lesson{path.name[:2]}" / path.name] = build.render(nb)
    files[Path("nbgrader_config.py")] = config_text()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        if out.exists() and not out.is_dir():
            raise ClassroomError(f"{out} exists and is not a folder")
        for parent in out.parents:
            if parent.exists() and not parent.is_dir():
                raise ClassroomError(f"{out} cannot be made: {parent} is a file, not a folder")
        for rel, text in files.items():
            target = out / rel
            if target.is_file():
                old = target.read_bytes()
                if old == text.encode("utf-8"):
                    continue
                saved = out / BACKUPS / stamp / rel
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_bytes(old)
                if backups is not None:
                    backups.append((target, saved))
            elif target.exists():
                raise ClassroomError(f"{target} exists and is not a file")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    except OSError as err:
        where = err.filename or out
        raise ClassroomError(f"cannot write the nbgrader course into {out}: {err.strerror or err} ({where})") from None
    return [out / rel for rel in files if rel.suffix == ".ipynb"]


def nbgitpuller_link(hub_url: str, repo: str, branch: str = "main",
                     open_path: str = "notebooks/00_welcome.ipynb", targetpath: str = "attention-course") -> str:
    """The link an instructor hands out: it logs the learner in, clones (first click) or updates
    (later clicks, keeping the learner's changes) their own copy of the course in
    ~/`targetpath`, and opens `open_path` in JupyterLab. Needs nbgitpuller in the learners'
    environment (the classroom extra)."""
    hub = urllib.parse.urlsplit(hub_url.strip())
    if hub.scheme not in ("http", "https") or not hub.hostname:
        raise ClassroomError(f"the hub URL must be http:// or https:// and a host name, not {hub_url!r}")
    if not repo.strip():
        raise ClassroomError("--repo is empty: give the course repository's URL, e.g. https://github.com/you/attention-course")
    if not branch.strip():
        raise ClassroomError("--branch is empty: give the branch learners should get, e.g. main")
    parts = Path(open_path).parts
    if not open_path.strip() or Path(open_path).is_absolute() or ".." in parts:
        raise ClassroomError(f"--open must be a notebook path inside the course, e.g. notebooks/00_welcome.ipynb, "
                             f"not {open_path!r}")
    query = urllib.parse.urlencode({"repo": repo, "branch": branch, "targetpath": targetpath,
                                    "urlpath": f"lab/tree/{targetpath}/{open_path}"})
    return f"{hub_url.rstrip('/')}/hub/user-redirect/git-pull?{query}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course classroom", description=__doc__.split("\n\n")[0].split(" · ", 1)[-1])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("nbgrader", help="write an nbgrader course directory from solutions/")
    p.add_argument("dir", help="the nbgrader course folder to write (created if needed); files already there "
                               "that this replaces are first copied to DIR/.backups/")
    p.add_argument("--lessons", nargs="+", metavar="NN", help="only these lessons (default: all)")
    p = sub.add_parser("link", help="print the nbgitpuller link that hands the course out on a JupyterHub")
    p.add_argument("--hub", required=True, help="the hub's address, e.g. https://hub.example.edu")
    p.add_argument("--repo", required=True, help="the course's git repository URL")
    p.add_argument("--branch", default="main")
    p.add_argument("--open", default="notebooks/00_welcome.ipynb", help="the notebook to open")
    args = parser.parse_args(argv)
    if args.command == "link":
        try:
            print(nbgitpuller_link(args.hub, args.repo, branch=args.branch, open_path=args.open))
        except ClassroomError as err:
            parser.error(str(err))
        return 0
    backups: list = []
    try:
        written = write_nbgrader_course(args.dir, lessons=args.lessons, backups=backups)
    except (ClassroomError, build.BuildError) as err:
        print(f"course classroom: {err}", file=sys.stderr)
        return 2
    for p in written:
        print(f"wrote {p}")
    for target, saved in backups:
        print(f"replaced {target} (your version was copied to {saved})")
    print(f"wrote {Path(args.dir) / 'nbgrader_config.py'}\n"
          f"next: cd {args.dir} && nbgrader generate_assignment lessonNN  (see docs/TEACHING.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
