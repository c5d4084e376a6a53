"""course layer · generate the exercise notebooks from the solution notebooks (the one source).

    python -m course_utils.course.build            # write exercises/NN_name.ipynb from solutions/
    python -m course_utils.course.build --check    # regenerate in memory; exit 1 if anything differs
    course build [--check] [--force]        # the same, through the `course` command

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
An edition's `<edition>/solutions/` (see course_utils.course.notebook) is generated into its
`<edition>/exercises/` the same way.

`--check` also fails on unpaired or nested markers, exercise ids without a registered
checker (or registered exercises with no check cell), and solution lines that leak into
an exercise notebook.

A learner's work is never replaced: an exercise notebook that differs both from what the
build writes now and from what it wrote before (recorded in `.course/build.json`, or the
file as the last git commit holds it) holds someone's edits. Then nothing is written unless
`--force` is given, which first copies each such notebook to `.course/backups/`.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import nbformat

from course_utils.base.i18n import msg, translate
from course_utils.course import edition
from course_utils.course import notebook as nbformat_course
from course_utils.course.notebook import EDITIONS, EXERCISES, SOLUTIONS, TAG_PREFIX, exercise_tag, render

__all__ = ["BEGIN", "END", "STUB", "BuildError", "strip_solution", "build_notebook", "fresh_exercise", "render",
           "validate", "render_exercise_list", "generate", "add_arguments", "run", "main"]

BEGIN, END, STUB = "### BEGIN SOLUTION", "### END SOLUTION", "### STUB:"
EXERCISE_LIST = Path(__file__).resolve().parent / "exercise_list.py"
MANIFEST = Path(".course") / "build.json"  # in the checkout: a digest of each exercise notebook last written


class BuildError(ValueError):
    """A solution notebook breaks an authoring rule."""


def _say(text: str, error: bool = False) -> None:
    print(translate(text), file=sys.stderr if error else sys.stdout, flush=True)


# ----------------------------------------------------------------------------- one notebook

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


def _edition_folder(lang: str) -> str:
    """'' for the English edition, 'zh/' for the Chinese one: where its three folders live."""
    return "" if lang == "en" else f"{lang}/"


def build_notebook(solution: nbformat.NotebookNode, name: str, lang: str = "en") -> nbformat.NotebookNode:
    """The exercise notebook for one solution notebook (`name` like '04_self_attention.ipynb')
    of edition `lang` ("en", or one of notebook.EDITIONS for `<lang>/solutions/name`)."""
    nb = nbformat.v4.new_notebook()
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = {k: copy.deepcopy(v) for k, v in solution.metadata.items() if k in ("kernelspec", "language_info")}
    exercise_ids = list(dict.fromkeys(i for i in map(exercise_tag, solution.cells) if i))
    source = f"{_edition_folder(lang)}{SOLUTIONS}/{name}"
    nb.metadata["course"] = {"lesson": name[:2], "exercises": exercise_ids, "generated_from": source,
                             "note": translate(msg("Generated by `course build` from the solution notebook; "
                                                   "write your answers here."), lang)}
    if lang != "en":
        nb.metadata["course"]["edition"] = lang
    answers = set()  # indices (in the exercise) of the answer cells
    for index, cell in enumerate(solution.cells):
        tags = list(cell.get("metadata", {}).get("tags", []))
        if "solution-only" in tags:
            continue
        ex_id = exercise_tag(cell)
        if cell.cell_type == "code" and BEGIN in cell.source:
            answers.add(len(nb.cells))
        where = f"{source} cell {index}"
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
    mark_for_nbgrader(nb, answers)
    return nb


def nbgrader_grade_id(exercise_id: str) -> str:
    """nbgrader's id of an exercise's graded (check) cell: '04.attention' -> '04-attention'
    (nbgrader allows letters, digits, '_' and '-')."""
    return exercise_id.replace(".", "-")


def nbgrader_meta(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {"schema_version": 3, "grade_id": grade_id, "solution": solution, "grade": grade,
            "locked": locked, "task": False}
    if grade:
        meta["points"] = points
    return meta


def mark_for_nbgrader(nb: nbformat.NotebookNode, answers: set[int], points: int = 1) -> None:
    """Give every cell of an exercise notebook nbgrader's cell metadata (metadata.nbgrader): an
    answer cell (index in `answers`) is a solution cell, an exercise's check cell a graded cell
    worth `points` (grade id `nbgrader_grade_id(exercise)`), every other cell a locked cell. The
    course copy of an exercise and the assignment nbgrader releases (course classroom nbgrader)
    then carry the same cells with the same ids, so a learner's work in either is graded, and
    `nbgrader validate` runs the checks in both."""
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        ex_id = nbformat_course.exercise_id(cell)
        base = nbgrader_grade_id(ex_id) if ex_id else "cell"
        seen[base] = seen.get(base, 0) + 1
        if index in answers:
            meta = nbgrader_meta(f"{base}-answer{seen[base]}", solution=True)
        elif ex_id and nbformat_course.check_call_for(cell, ex_id):
            meta = nbgrader_meta(nbgrader_grade_id(ex_id), grade=True, locked=True, points=points)
        else:
            meta = nbgrader_meta(f"{base}-locked{index}", locked=True)
        cell.metadata["nbgrader"] = meta


def _edition_of_solution(sol_path: Path) -> str:
    """The edition whose solutions/ folder holds `sol_path`."""
    folder = sol_path.parent.parent
    root = nbformat_course.course_folder_of(folder)
    return folder.name if folder.name in EDITIONS and root is not None and folder.parent == root else "en"


def fresh_exercise(path: Path, nb) -> tuple[nbformat.NotebookNode | None, Path | None]:
    """The exercise notebook freshly generated from the solution that the exercise notebook `nb`
    (read from `path`) was generated from, and that solution's path; (None, None) if unknown.
    Raises NotebookError when that solution breaks an authoring rule."""
    sol_path = nbformat_course.solution_of(path, nb)
    if sol_path is None:
        return None, None
    try:
        return build_notebook(nbformat_course.read(sol_path), sol_path.name, _edition_of_solution(sol_path)), sol_path
    except BuildError as err:
        raise nbformat_course.NotebookError(msg("{path} breaks an authoring rule: {error}", path=str(sol_path),
                                                error=str(err))) from None


def validate(solution: nbformat.NotebookNode, exercise: nbformat.NotebookNode, name: str,
             lang: str = "en") -> list[str]:
    """Problems with one solution / generated exercise pair (empty list when all is well)."""
    from course_utils.course.checks import registry

    problems, lesson = [], name[:2]
    sol_name, ex_name = (f"{_edition_folder(lang)}{folder}/{name}" for folder in (SOLUTIONS, EXERCISES))
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
            _, removed = strip_solution(cell.source, ex_id, f"{sol_name} cell {index}")
        except BuildError as err:
            problems.append(str(err))
            continue
        region_lines |= {line.strip() for line in removed}
        in_region = False
        for line in cell.source.split("\n"):
            s = line.strip()
            if s == BEGIN:
                in_region = True
            elif s == END:
                in_region = False
            elif not in_region:
                outside_lines.add(s)
        checked_ids |= {call.exercise_id for call in nbformat_course.check_calls(cell.source)}
    for ex_id in sorted(seen_ids | checked_ids):
        if ex_id not in known:
            problems.append(f"{sol_name}: exercise id {ex_id!r} has no registered check")
        elif not ex_id.startswith(lesson + "."):
            problems.append(f"{sol_name}: exercise id {ex_id!r} belongs to another lesson")
    for ex_id in sorted(seen_ids - checked_ids):
        problems.append(f"{sol_name}: exercise {ex_id!r} has no check cell `check({ex_id!r}, ...)`")
    for ex_id in sorted(i for i in known if i.startswith(lesson + ".") and i not in checked_ids):
        problems.append(f"{sol_name}: registered exercise {ex_id!r} has no check cell in this notebook")
    secret = {line for line in region_lines - outside_lines if line and not line.startswith("#")}
    for cell in exercise.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.split("\n"):
            if line.strip() in secret:
                problems.append(f"{ex_name}: solution line leaks into the exercise: {line.strip()!r}")
    return problems


def render_exercise_list() -> str:
    """The text of course_utils/course/exercise_list.py: every registered exercise and its title."""
    from course_utils.course import checks

    lines = ['"""course layer · every graded exercise and its title. Generated by `course build` from the graders',
             '(course_utils.course.checks); do not edit. `course progress` counts from this list."""',
             "", "EXERCISES = {"]
    lines += [f"    {ex_id!r}: {ex.title!r}," for ex_id, ex in checks.registry().items()]
    return "\n".join(lines + ["}", ""])


# ----------------------------------------------------------------------------- the whole course

def generate(root: Path) -> tuple[dict[Path, nbformat.NotebookNode], list[str]]:
    """{exercise path: notebook} for every solution notebook of every edition present under
    `root`, plus the problems found."""
    from course_utils.course import checks

    checks.registry()
    notebooks, problems = {}, [f"cannot import {m}: {e}" for m, e in checks.load_errors().items()]
    editions = ["en"] + [lang for lang in EDITIONS if (root / lang / SOLUTIONS).is_dir()]
    for lang in editions:
        folder = root / _edition_folder(lang)
        for sol_path in sorted((folder / SOLUTIONS).glob("[0-9][0-9]_*.ipynb")):
            try:
                solution = nbformat_course.read(sol_path)
                if edition.is_placeholder(solution):  # an edition's page for a solution not translated yet
                    notebooks[folder / EXERCISES / sol_path.name] = edition.placeholder_exercise(solution)
                    continue
                nb = build_notebook(solution, sol_path.name, lang)
            except (nbformat_course.NotebookError, BuildError) as err:  # not a notebook; an authoring rule
                problems.append(err.args[0])
                continue
            problems += validate(solution, nb, sol_path.name, lang)
            notebooks[folder / EXERCISES / sol_path.name] = nb
    return notebooks, problems


def _digest(text: str) -> str:
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def _manifest(root: Path) -> dict:
    try:
        data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_manifest(root: Path, written: dict[str, str]) -> None:
    """Remember what this build wrote (best effort: without it, a later build is more careful)."""
    data = {**_manifest(root), **written}
    try:
        (root / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
        (root / MANIFEST).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except OSError:
        pass


def _committed(root: Path, rel: Path) -> str | None:
    """The file as the last git commit of `root` holds it; None without git or a commit."""
    try:
        done = subprocess.run(["git", "-C", str(root), "show", f"HEAD:./{rel.as_posix()}"],
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None


def holds_edits(root: Path, path: Path, text: str, manifest: dict) -> bool:
    """True when the notebook at `path` differs from `text` (what the build writes now) and from
    everything the build wrote before: someone's edits, which writing `text` would lose."""
    try:
        if not path.is_file():  # nothing there (or no file that could hold a notebook: writing says why)
            return False
        current = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return True  # a notebook that cannot be read: treat it as someone's work
    if current.replace("\r\n", "\n") == text:
        return False
    rel = path.relative_to(root)
    if manifest.get(rel.as_posix()) == _digest(current):
        return False
    committed = _committed(root, rel)
    return committed is None or committed.replace("\r\n", "\n") != current.replace("\r\n", "\n")


def _check(root: Path, texts: dict[Path, str], problems: list[str]) -> None:
    for path, text in texts.items():
        rel = path.relative_to(root)
        if not path.exists():
            problems.append(msg("{path}: missing (run `course build`)", path=str(rel)))
            continue
        current = path.read_text(encoding="utf-8", errors="replace")
        if current != text:
            diff = list(difflib.unified_diff(current.splitlines(), text.splitlines(),
                                             f"{rel} (committed)", f"{rel} (generated)", lineterm="", n=1))
            problems.append(msg("{path}: differs from the generator's output (run `course build`):\n{diff}",
                                path=str(rel), diff="\n".join(diff[:20])))
    for folder in {path.parent for path in texts if path.suffix == ".ipynb"}:
        for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
            if path not in texts:
                problems.append(msg("{path}: no solution notebook generates it", path=str(path.relative_to(root))))


def _write(root: Path, notebooks: dict, texts: dict[Path, str], force: bool) -> int:
    """Write what changed, never losing someone's edits (see the module docstring); 0, 1 or 2."""
    manifest = _manifest(root)
    edited = [p for p in notebooks if holds_edits(root, p, texts[p], manifest)]
    if edited and not force:
        for path in edited:
            _say(msg("error: {path} has changes that `course build` did not write (someone's answers?); "
                     "building would replace them with the generated stubs.", path=str(path.relative_to(root))),
                 error=True)
        _say(msg("Nothing was written. To regenerate anyway, each such notebook first copied to .course/backups/: "
                 "course build --force"), error=True)
        return 1
    written = {}
    for path, text in texts.items():
        rel = path.relative_to(root)
        try:
            if path.exists() and path.read_bytes().decode("utf-8", "replace") == text:
                written[rel.as_posix()] = _digest(text)
                continue
            if path in edited:
                _say(msg("Your edited {path} was copied to {backup} first.", path=str(rel),
                         backup=str(nbformat_course.backup(path, root=root))))
            path.parent.mkdir(parents=True, exist_ok=True)
            if path in notebooks:
                nbformat_course.write(notebooks[path], path)
            else:
                path.write_text(text, encoding="utf-8")
        except OSError as err:
            _say(msg("error: cannot write {path} ({reason}); make {folder} a folder you can write, then run "
                     "`course build` again.", path=str(rel), reason=err.strerror or str(err),
                     folder=str(rel.parent)), error=True)
            _save_manifest(root, written)
            return 2
        written[rel.as_posix()] = _digest(text)
        _say(msg("wrote {path}", path=str(rel)))
    _save_manifest(root, {k: v for k, v in written.items() if k.endswith(".ipynb")})
    return 0


# ----------------------------------------------------------------------------- the command

def _course_folder(text: str) -> Path:
    """argparse type for --root: an existing folder with a solutions/ folder in it."""
    def bad(template, **fields):
        return argparse.ArgumentTypeError(translate(msg(template, **fields)))

    if not text.strip():
        raise bad("expected a folder path, got an empty string")
    try:
        path = Path(text).expanduser()
        if not path.exists():
            raise bad("{path}: no such folder", path=text)
        if not path.is_dir():
            raise bad("{path}: not a folder", path=text)
        if not (path / SOLUTIONS).is_dir():
            raise bad("{path}: not a course folder (it has no solutions/ folder)", path=text)
        return path.resolve()
    except (OSError, RuntimeError) as err:  # a name too long, a link that loops, `~nobody`
        raise bad("{path}: not a usable path ({reason})", path=text[:80],
                  reason=getattr(err, "strerror", None) or str(err)) from None


DESCRIPTION = msg("Generate the exercise notebooks from the solution notebooks (the one source), and the "
                  "Chinese edition zh/ from the English notebooks and the translations in translations/zh.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `course build` (shared by `python -m course_utils.course.build`), their
    help in the learner's language."""
    parser.add_argument("--check", action="store_true", help=translate(msg(
        "don't write; exit 1 if exercises/ or zh/ differs from what would be generated")))
    parser.add_argument("--root", type=_course_folder, default=None, help=translate(msg(
        "course folder holding solutions/ and exercises/ (default: this checkout)")))
    parser.add_argument("--force", action="store_true", help=translate(msg(
        "also replace exercise notebooks that hold someone's edits (each is copied to .course/backups/ first)")))


def run(root: Path | None = None, check: bool = False, force: bool = False) -> int:
    """Generate (or with check=True verify) exercises/ under `root`; print what happened.
    Returns 0 when all is well, 1 when there are problems, 2 when a file cannot be written."""
    root = root or nbformat_course.package_checkout()
    if root is None or not (Path(root) / SOLUTIONS).is_dir():
        _say(msg("error: {root} has no solutions/ folder: nothing to generate from; give --root",
                 root=str(root or "this package")), error=True)
        return 1
    root = Path(root).resolve()
    edition_problems = edition.run(root, check)  # zh/notebooks, zh/solutions from the English + translations/zh
    notebooks, problems = generate(root)
    problems += edition_problems
    if not notebooks and not problems:
        problems.append(msg("{folder} holds no NN_name.ipynb solution notebook", folder=str(root / SOLUTIONS)))
    texts = {path: render(nb) for path, nb in notebooks.items()}
    in_package = root == nbformat_course.package_checkout()  # the exercise list belongs to this package
    if in_package:
        texts[EXERCISE_LIST] = render_exercise_list()
    if check:
        _check(root, texts, problems)
    else:
        status = _write(root, notebooks, texts, force)
        if status:
            return status
    for problem in problems:
        _say(msg("error: {problem}", problem=problem), error=True)
    if not problems:
        n = len(notebooks)
        _say(msg("{n} exercise notebook(s) match their solutions.", n=n) if check else
             msg("{n} exercise notebook(s) up to date.", n=n))
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course build", description=translate(DESCRIPTION))
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args.root, args.check, args.force)


if __name__ == "__main__":
    sys.exit(main())
