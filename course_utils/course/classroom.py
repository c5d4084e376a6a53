"""course layer · the course for a whole class — an nbgrader course directory written from
the one source (`solutions/`), so an instructor can release, collect, autograde and keep a
gradebook with nbgrader as it is (docs/TEACHING.md walks through it).

    course classroom nbgrader DIR [--lessons 01 04]     # an nbgrader course folder
    course classroom link --hub URL --repo URL          # the nbgitpuller link for learners
    (or python -m course_utils.course.classroom ...)

What it writes, for each solution notebook `solutions/NN_name.ipynb`:

    DIR/nbgrader_config.py
    DIR/source/lessonNN/NN_name.ipynb

The source notebook is the solution notebook with nbgrader's cell metadata:
- an answer cell (it holds `### BEGIN SOLUTION` ... `### END SOLUTION`) is an nbgrader
  *solution* cell; `nbgrader generate_assignment` replaces each region by the same stub
  `course build` writes (through `CourseClearSolutions`, which calls the generator's own
  `strip_solution`), so the student notebook equals `exercises/NN_name.ipynb` cell for cell;
- a check cell (`check("NN.name", ...)`) is an autograded *test* cell worth one point: it is
  the exercise's check cell followed by a line that grades again with the real checker
  (`require_pass`), which raises unless the answer passes. nbgrader restores test cells from
  its database before autograding, so a learner cannot edit them, and the grade comes from
  this cell raising or not, never from text the notebook printed. Redefining `check` in the
  notebook changes nothing: `require_pass` imports the checker itself;
- every other cell (statements, hints, setup) is read-only (nbgrader *locked*).

Optional: needs `pip install -e .[classroom]` (nbgrader). Imports nbgrader only where it
is used, so the rest of the course never needs it.
"""

from __future__ import annotations

import argparse
import copy
import sys
import urllib.parse
from pathlib import Path

import nbformat

from course_utils.course import build, notebook
from course_utils.course.checks import check

COURSE_ID = "attention-course"
GRADER_LINES = ("# Graded by the course's checker itself (nbgrader restores this cell before grading).\n"
                "from course_utils.course.classroom import require_pass\n"
                "require_pass({ex_id!r}, {obj})")

NBGRADER_CONFIG = '''\
# nbgrader configuration for the course "Attention, step by step" (written by
# `course classroom nbgrader`; see docs/TEACHING.md). Run nbgrader from this folder.
import os

from course_utils.course.classroom import generate_assignment_preprocessors

# Grading must not write a progress file into the submissions.
os.environ.setdefault("COURSE_NO_PROGRESS", "1")

c = get_config()  # noqa: F821  (nbgrader provides it)
c.CourseDirectory.course_id = "{course_id}"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# Answers become the same stubs as in exercises/ (the course's generator, not nbgrader's stub).
c.GenerateAssignment.preprocessors = generate_assignment_preprocessors()
# A cell that runs longer than this (an endless loop in an answer) fails, and grading goes on.
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
'''


class ClassroomError(ValueError):
    """A solution notebook cannot be turned into an nbgrader assignment."""


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


def grade_id(exercise_id: str) -> str:
    """nbgrader's id of an exercise's test cell: '04.attention' -> '04-attention'
    (nbgrader allows letters, digits, '_' and '-')."""
    return exercise_id.replace(".", "-")


def _nbgrader_meta(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {"schema_version": 3, "grade_id": grade_id, "solution": solution, "grade": grade,
            "locked": locked, "task": False}
    if grade:
        meta["points"] = points
    return meta


def source_notebook(solution: nbformat.NotebookNode, name: str, points: int = 1) -> nbformat.NotebookNode:
    """The nbgrader *source* notebook for one solution notebook (`name` like '04_self_attention.ipynb')."""
    exercise = build.build_notebook(solution, name)
    kept = [c for c in solution.cells if "solution-only" not in c.get("metadata", {}).get("tags", [])]
    if len(kept) != len(exercise.cells):  # build_notebook keeps every other cell, in order
        raise ClassroomError(f"{name}: the exercise notebook does not match the solution cell for cell")
    nb = copy.deepcopy(exercise)
    nb.metadata.setdefault("course", {})["nbgrader"] = True
    seen: dict[str, int] = {}
    for index, (sol, cell) in enumerate(zip(kept, nb.cells)):
        ex_id = cell.get("metadata", {}).get("course", {}).get("exercise")
        base_id = grade_id(ex_id) if ex_id else "cell"
        seen[base_id] = seen.get(base_id, 0) + 1
        if cell.cell_type == "code" and build.BEGIN in sol.source:
            cell.source = sol.source  # the answer with its markers: nbgrader's solution cell
            cell.metadata["nbgrader"] = _nbgrader_meta(f"{base_id}-answer{seen[base_id]}", solution=True)
        elif ex_id and (call := notebook.check_call_for(cell, ex_id)):
            cell.source = cell.source.rstrip("\n") + "\n" + GRADER_LINES.format(ex_id=ex_id, obj=call.expression)
            cell.metadata["nbgrader"] = _nbgrader_meta(grade_id(ex_id), grade=True, locked=True, points=points)
        else:
            cell.metadata["nbgrader"] = _nbgrader_meta(f"{base_id}-locked{index}", locked=True)
    graded = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata["nbgrader"]["grade"]]
    ids = [c.metadata.get("course", {}).get("exercise") for c in nb.cells]
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


def write_nbgrader_course(out: Path, root: Path | None = None, lessons: list[str] | None = None) -> list[Path]:
    """Write DIR/nbgrader_config.py and DIR/source/lessonNN/NN_name.ipynb; return the notebooks."""
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
    if out.exists() and not out.is_dir():
        raise ClassroomError(f"{out} exists and is not a folder")
    written = []
    for path in solutions:
        nb = source_notebook(nbformat.read(path, as_version=4), path.name)
        target = out / "source" / f"lesson{path.name[:2]}" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(build.render(nb), encoding="utf-8")
        written.append(target)
    (out / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(course_id=COURSE_ID), encoding="utf-8")
    return written


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
    p.add_argument("dir", type=Path, help="the nbgrader course folder to write (created if needed)")
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
    try:
        written = write_nbgrader_course(args.dir, lessons=args.lessons)
    except (ClassroomError, build.BuildError) as err:
        print(f"course classroom: {err}", file=sys.stderr)
        return 2
    for p in written:
        print(f"wrote {p}")
    print(f"wrote {args.dir / 'nbgrader_config.py'}\n"
          f"next: cd {args.dir} && nbgrader generate_assignment lessonNN  (see docs/TEACHING.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
