"""course layer · generate the exercise notebooks from the solution notebooks (the one source).

    python -m course_utils.course.build            # write exercises/NN_name.ipynb from solutions/
    python -m course_utils.course.build --check    # regenerate in memory; exit 1 if anything differs
    course build [--check]                  # the same, through the `course` command

Authoring rules for `solutions/NN_name.ipynb`:
- Tag every cell of an exercise (statement, hint, answer, check) `exercise:NN.name`; the
  exercise notebook carries the id in `metadata.course.exercise` as well (for `course reset`).
- In a code cell, the answer sits between lines `### BEGIN SOLUTION` and `### END SOLUTION`.
  The exercise gets, at the indentation of `### BEGIN SOLUTION`,
  `raise NotImplementedError("Exercise NN.name: your code here")` -- or, if the region
  holds lines `### STUB: <code>`, those lines instead (`<code>` keeps the indentation of
  the `###`). Use STUB lines for "find the bug" (the buggy line) and for answers at the
  top level of a cell, which must not raise (`### STUB: prediction = ...`).
  A top-level region without STUB lines is an error: it would break "Run all".
- Tag `solution-only`: the cell is left out of the exercise notebook.
  Tag `needs-solution`: becomes `raises-exception` in the exercise notebook (prefer cells
  that don't need the learner's answer).
- Outputs and execution counts are cleared; cell ids and the kernelspec are kept, so the
  output is byte-identical for the same input.

`--check` also fails on unpaired or nested markers, exercise ids without a registered
checker (or registered exercises with no check cell), and solution lines that leak into
an exercise notebook.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import json
import re
import sys
from pathlib import Path

import nbformat

from course_utils.base.i18n import msg, translate
from course_utils.course import edition

BEGIN, END, STUB = "### BEGIN SOLUTION", "### END SOLUTION", "### STUB:"
TAG_PREFIX = "exercise:"
CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([^"']+)["']""")


class BuildError(ValueError):
    """A solution notebook breaks an authoring rule."""


def course_root() -> Path:
    return Path(__file__).resolve().parents[2]


def exercise_tag(cell) -> str | None:
    for tag in cell.get("metadata", {}).get("tags", []):
        if tag.startswith(TAG_PREFIX):
            return tag[len(TAG_PREFIX):]
    return None


def strip_solution(source: str, exercise_id: str | None, where: str, lang: str = "en") -> tuple[str, list[str]]:
    """Replace every solution region of `source` by its stub (its text in language `lang`).

    Returns (new source, the region's code lines) and raises BuildError on bad markers.
    """
    out, region, stubs, removed = [], None, [], []
    begin_indent = ""
    for n, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if stripped == BEGIN:
            if region is not None:
                raise BuildError(f"{where}: line {n}: nested {BEGIN} (the previous one is not closed)")
            if exercise_id is None:
                raise BuildError(f"{where}: line {n}: a solution region in a cell without an "
                                 f"'{TAG_PREFIX}NN.name' tag")
            region, stubs, begin_indent = n, [], indent
        elif stripped == END:
            if region is None:
                raise BuildError(f"{where}: line {n}: {END} without {BEGIN}")
            if stubs:
                out += stubs
            elif begin_indent == "":
                raise BuildError(f"{where}: line {region}: a solution region at the top level of a cell "
                                 f"needs '{STUB} ...' lines (a raise there would stop 'Run all')")
            else:
                stub = translate(msg("Exercise {exercise_id}: your code here", exercise_id=exercise_id), lang)
                out.append(f"{begin_indent}raise NotImplementedError({json.dumps(stub, ensure_ascii=False)})")
            region = None
        elif region is not None:
            if stripped.startswith(STUB):
                code = stripped[len(STUB):]
                stubs.append((indent + code[1:] if code.startswith(" ") else indent + code).rstrip())
            else:
                removed.append(line)
        else:
            if stripped.startswith(STUB):
                raise BuildError(f"{where}: line {n}: {STUB} outside a solution region")
            out.append(line)
    if region is not None:
        raise BuildError(f"{where}: line {region}: {BEGIN} without {END}")
    return "\n".join(out), removed


def _cell_id(name: str, index: int) -> str:
    return hashlib.sha1(f"{name}:{index}".encode()).hexdigest()[:8]


def build_notebook(solution: nbformat.NotebookNode, name: str, lang: str = "en") -> nbformat.NotebookNode:
    """The exercise notebook for one solution notebook (`name` like '04_self_attention.ipynb'); `lang`
    "zh" for the Chinese edition (from a Chinese solution: the stubs' and the note's text in Chinese)."""
    nb = nbformat.v4.new_notebook()
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = {k: copy.deepcopy(v) for k, v in solution.metadata.items() if k in ("kernelspec", "language_info")}
    exercise_ids = list(dict.fromkeys(i for i in map(exercise_tag, solution.cells) if i))
    nb.metadata["course"] = {"lesson": name[:2], "exercises": exercise_ids, "generated_from": f"solutions/{name}",
                             "note": translate(msg("Generated by `course build` from the solution notebook; "
                                                   "write your answers here."), lang)}
    if lang != "en":
        nb.metadata["course"]["edition"] = lang
    for index, cell in enumerate(solution.cells):
        tags = list(cell.get("metadata", {}).get("tags", []))
        if "solution-only" in tags:
            continue
        ex_id = exercise_tag(cell)
        where = f"solutions/{name} cell {index}"
        new = copy.deepcopy(cell)
        new["id"] = cell.get("id") or _cell_id(name, index)
        meta = {k: v for k, v in new.get("metadata", {}).items() if k not in ("execution", "collapsed", "scrolled")}
        if "needs-solution" in tags:
            tags = [t if t != "needs-solution" else "raises-exception" for t in tags]
        if tags:
            meta["tags"] = tags
        if ex_id:
            meta["course"] = {"exercise": ex_id}
        new["metadata"] = meta
        if cell.cell_type == "code":
            new["source"], _ = strip_solution(cell.source, ex_id, where, lang)
            new["outputs"], new["execution_count"] = [], None
        nb.cells.append(new)
    return nb


def fresh_exercise(path: Path, nb) -> tuple[nbformat.NotebookNode | None, Path | None]:
    """The exercise notebook freshly generated from the solution that the exercise notebook `nb`
    (read from `path`) was generated from, and that solution's path; (None, None) if unknown.
    Raises NotebookError when that solution breaks an authoring rule."""
    from course_utils.course import notebook as nbformat_course

    sol_path = nbformat_course.solution_of(path, nb)
    if sol_path is None:
        return None, None
    try:
        return build_notebook(nbformat_course.read(sol_path), sol_path.name), sol_path
    except BuildError as err:
        raise nbformat_course.NotebookError(f"{sol_path} breaks an authoring rule: {err}") from None


def render(nb: nbformat.NotebookNode) -> str:
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def validate(solution: nbformat.NotebookNode, exercise: nbformat.NotebookNode, name: str) -> list[str]:
    """Problems with one solution / generated exercise pair (empty list when all is well)."""
    from course_utils.course.checks import registry

    problems, lesson = [], name[:2]
    known = registry()
    region_lines, outside_lines = set(), set()
    seen_ids, checked_ids = set(), set()
    for index, cell in enumerate(solution.cells):
        ex_id = exercise_tag(cell)
        if ex_id:
            seen_ids.add(ex_id)
        if cell.cell_type != "code":
            continue
        try:
            _, removed = strip_solution(cell.source, ex_id, f"solutions/{name} cell {index}")
        except BuildError as err:
            problems.append(str(err))
            continue
        region_lines |= {l.strip() for l in removed}
        in_region = False
        for line in cell.source.split("\n"):
            s = line.strip()
            if s == BEGIN:
                in_region = True
            elif s == END:
                in_region = False
            elif not in_region:
                outside_lines.add(s)
        checked_ids |= set(CHECK_CALL.findall(cell.source))
    for ex_id in sorted(seen_ids | checked_ids):
        if ex_id not in known:
            problems.append(f"solutions/{name}: exercise id {ex_id!r} has no registered check")
        elif not ex_id.startswith(lesson + "."):
            problems.append(f"solutions/{name}: exercise id {ex_id!r} belongs to another lesson")
    for ex_id in sorted(seen_ids - checked_ids):
        problems.append(f"solutions/{name}: exercise {ex_id!r} has no check cell `check({ex_id!r}, ...)`")
    for ex_id in sorted(i for i in known if i.startswith(lesson + ".") and i not in checked_ids):
        problems.append(f"solutions/{name}: registered exercise {ex_id!r} has no check cell in this notebook")
    secret = {l for l in region_lines - outside_lines if l and not l.startswith("#")}
    for cell in exercise.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.split("\n"):
            if line.strip() in secret:
                problems.append(f"exercises/{name}: solution line leaks into the exercise: {line.strip()!r}")
    return problems


EXERCISE_LIST = Path(__file__).resolve().parent / "exercise_list.py"


def render_exercise_list() -> str:
    """The text of course_utils/course/exercise_list.py: every registered exercise and its title."""
    from course_utils.course import checks

    lines = ['"""course layer · every graded exercise and its title. Generated by `course build` from the graders',
             '(course_utils.course.checks); do not edit. `course progress` counts from this list."""',
             "", "EXERCISES = {"]
    lines += [f"    {ex_id!r}: {ex.title!r}," for ex_id, ex in checks.registry().items()]
    return "\n".join(lines + ["}", ""])


def generate(root: Path) -> tuple[dict[Path, str], list[str]]:
    """{exercise path: text} for every solution notebook, plus the problems found."""
    from course_utils.course import checks

    checks.registry()
    texts, problems = {}, [f"cannot import {m}: {e}" for m, e in checks.load_errors().items()]
    for sol_path in sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb")):
        try:
            solution = nbformat.read(sol_path, as_version=4)
        except Exception as err:  # not JSON, not a notebook
            problems.append(f"{sol_path.relative_to(root)}: not a readable notebook ({type(err).__name__}: "
                            f"{str(err).splitlines()[0] if str(err) else ''})")
            continue
        try:
            nb = build_notebook(solution, sol_path.name)
        except BuildError as err:
            problems.append(str(err))
            continue
        problems += validate(solution, nb, sol_path.name)
        texts[root / "exercises" / sol_path.name] = render(nb)
    return texts, problems


def _course_folder(text: str) -> Path:
    """argparse type for --root: an existing folder with a solutions/ folder in it."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder path, got an empty string")
    try:
        return _course_folder_checked(text)
    except (OSError, RuntimeError) as err:  # a name too long, a link that loops, `~nobody`
        raise argparse.ArgumentTypeError(f"{text[:80]}: not a usable path ({getattr(err, 'strerror', None) or err})") \
            from None


def _course_folder_checked(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such folder")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a folder")
    if not (path / "solutions").is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a course folder (it has no solutions/ folder)")
    return path.resolve()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `course build` (shared by `python -m course_utils.course.build`)."""
    parser.add_argument("--check", action="store_true",
                        help="don't write; exit 1 if exercises/ differs from what would be generated")
    parser.add_argument("--root", type=_course_folder, default=None,
                        help="course folder holding solutions/ and exercises/ (default: this checkout)")


def run(root: Path | None = None, check: bool = False) -> int:
    """Generate (or with check=True verify) exercises/ under `root`; print what happened.
    Returns 0 when all is well, 1 when there are problems."""
    root = Path(root or course_root()).resolve()
    if not (root / "solutions").is_dir():
        print(f"error: {root} has no solutions/ folder: nothing to generate from", file=sys.stderr)
        return 1
    texts, problems = generate(root)
    if not texts and not problems:
        problems.append(f"{root / 'solutions'} holds no NN_name.ipynb solution notebook")
    in_package = root == course_root()  # the exercise list belongs to this checkout's package
    if in_package:
        texts[EXERCISE_LIST] = render_exercise_list()
    if check:
        for path, text in texts.items():
            rel = path.relative_to(root)
            if not path.exists():
                problems.append(f"{rel}: missing (run `course build`)")
            elif path.read_text(encoding="utf-8") != text:
                diff = list(difflib.unified_diff(path.read_text(encoding="utf-8").splitlines(), text.splitlines(),
                                                 f"{rel} (committed)", f"{rel} (generated)", lineterm="", n=1))
                problems.append(f"{rel}: differs from the generator's output (run `course build`):\n"
                                + "\n".join(diff[:20]))
        for path in sorted((root / "exercises").glob("[0-9][0-9]_*.ipynb")):
            if path not in texts:
                problems.append(f"{path.relative_to(root)}: no solution notebook generates it")
    else:
        for path, text in texts.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(root)}")
    problems += edition.run(root, build_notebook, check)  # the Chinese edition zh/: these sources + translations/zh
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if not problems:
        n = len(texts) - in_package
        print(f"{n} exercise notebook(s) {'match their solutions' if check else 'up to date'}.")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course build", description=__doc__.split("\n\n")[0].split(" · ", 1)[-1])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args.root, args.check)


if __name__ == "__main__":
    sys.exit(main())
