"""course layer · the notebook format, in one place: reading and writing notebooks, cell
sources and ids, exercise tags, `check("NN.name", obj)` calls, the course metadata that
`course build` writes, which file is the course's own exercise notebook, the solution <->
exercise pairing, and the backups made before a learner's notebook is replaced.

Every other module (build, the `course` command, grading, reset, progress, the classroom,
the capstone, the Chinese edition) uses these functions and parses no notebook itself.

The course's notebooks, in a checkout (`course_folder_of`):
    solutions/NN_name.ipynb      written by hand; answers between ### BEGIN/END SOLUTION
    exercises/NN_name.ipynb      generated from the solution (metadata course.generated_from)
    notebooks/NN_name.ipynb      the lessons
An exercise's cells are tagged `exercise:NN.name` in the solution; the generated exercise
also carries the id in the cell's metadata (`course.exercise`). A check cell calls
`check("NN.name", expression)`.

Editions. A translated edition lives in a folder named for its language (`EDITIONS`, e.g.
`zh/`) with the same three folders: `zh/solutions/`, `zh/exercises/`, `zh/notebooks/`. Its
exercise notebook `zh/exercises/NN_name.ipynb` keeps the English exercise ids (both editions
share one progress file) and says which edition it belongs to in its metadata, either way:
    course.generated_from = "zh/solutions/NN_name.ipynb"   (generated from the edition's solution)
    course.edition = "zh"                                    (with generated_from = "solutions/NN_name.ipynb"
                                                             when generated from the English solution)
`edition(nb)` reads it ("en" when neither says otherwise). Such a notebook is the course's own
exercise notebook only in its edition's folder (`is_course_exercise_notebook`), and its solution
is the edition's own when there is one (`solution_of`).
"""

from __future__ import annotations

import ast
import datetime as _dt
import json
import os
import secrets
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils.base.i18n import LANGUAGES, msg

if TYPE_CHECKING:
    import nbformat
# nbformat itself is imported where a notebook is read or written, not here: it takes about two CPU seconds
# to import (its JSON-schema validator builds grammars), and every kernel whose first `check(...)` loads the
# checkers (lesson 11's imports this module) would pay them without reading a notebook.

__all__ = [
    "NotebookError", "read", "reads", "write", "render", "backup", "cell_source", "TAG_PREFIX", "exercise_tag",
    "exercise_id", "cell_role", "CheckCall", "check_calls", "check_call_for", "course_meta", "generated_from",
    "edition", "exercise_ids", "course_folder_of", "package_checkout", "solution_of", "is_course_exercise_notebook",
    "SOLUTIONS", "EXERCISES", "LESSONS", "EDITIONS", "BACKUPS",
]

TAG_PREFIX = "exercise:"
SOLUTIONS, EXERCISES, LESSONS = "solutions", "exercises", "notebooks"
EDITIONS = tuple(lang for lang in LANGUAGES if lang != "en")  # translated editions: <checkout>/<lang>/...
BACKUPS = Path(".course") / "backups"  # in the checkout: copies of learners' notebooks made before replacing them


class NotebookError(ValueError):
    """A file that is not a readable Jupyter notebook (one line for the learner: a `msg`, so
    `translate(err.args[0])` shows it in the learner's language)."""


# ----------------------------------------------------------------------------- reading and writing

def read(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook (format 4), or raise NotebookError with a one-line reason."""
    path = Path(path)
    try:
        if path.exists() and not path.is_file():
            raise NotebookError(msg("{path} is not a regular file", path=str(path)))
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NotebookError(msg("{path} is not a notebook (not UTF-8 text)", path=str(path))) from None
    except OSError as err:
        raise NotebookError(msg("{path} cannot be read ({reason})", path=str(path),
                                reason=err.strerror or str(err))) from None
    return reads(text, str(path))


def reads(text: str, name: str = "notebook") -> nbformat.NotebookNode:
    """Parse and validate notebook text (see `read`)."""
    try:
        raw = json.loads(text)
    except RecursionError:
        raise NotebookError(msg("{name} is not a notebook (its JSON is nested too deeply)", name=name)) from None
    except ValueError as err:
        raise NotebookError(msg("{name} is not a notebook (not valid JSON: {error})", name=name,
                                error=str(err))) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list) or "nbformat" not in raw:
        raise NotebookError(msg("{name} is not a Jupyter notebook (no 'cells' list and 'nbformat' version)", name=name))
    if raw.get("nbformat") != 4:
        raise NotebookError(msg("{name}: notebook format {version} is not supported (only version 4)", name=name,
                                version=repr(raw.get("nbformat"))[:40]))
    import nbformat

    try:
        with warnings.catch_warnings():  # a 4.5 notebook saved without cell ids gets new ones: no warning
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4, capture_validation_error={})
            nbformat.validate(nb)
    except RecursionError:
        raise NotebookError(msg("{name} is not a valid notebook (nested too deeply)", name=name)) from None
    except Exception as err:  # ValidationError and friends: one line, no traceback
        message = getattr(err, "message", None) or str(err)
        raise NotebookError(msg("{name} is not a valid notebook: {reason}", name=name,
                                reason=(message.splitlines() or [""])[0][:200])) from None
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    """The canonical text of a notebook (what `write` writes; byte-identical for equal notebooks)."""
    import nbformat

    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write `nb` to `path` atomically (a temporary file beside it, then a rename), keeping the
    file's permissions; on failure `path` is unchanged. Raises OSError."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(3)}.tmp")
    try:
        tmp.write_text(render(nb), encoding="utf-8")
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def backup(path: Path, now: _dt.datetime | None = None, root: Path | None = None) -> Path:
    """Copy `path` to `<root>/.course/backups/<stem>-<time>.ipynb` before it is replaced (root:
    default the checkout holding `path`, else its folder), keeping its times; a name is never
    reused, even by two backups in the same second. Returns the copy. Raises OSError."""
    path = Path(path)
    root = root if root is not None else course_folder_of(path.parent) or path.parent
    folder = Path(root) / BACKUPS
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    n = 0
    while True:  # created exclusively: a second backup in the same second gets the next number
        copy = folder / (f"{path.stem}-{stamp}{path.suffix}" if n == 0 else f"{path.stem}-{stamp}-{n}{path.suffix}")
        try:
            with open(copy, "xb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out)
            break
        except FileExistsError:
            n += 1
    shutil.copystat(path, copy)
    return copy


# ----------------------------------------------------------------------------- cells

def cell_source(cell) -> str:
    """A cell's source as one string (raw JSON may hold a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def exercise_tag(cell) -> str | None:
    """The id of an `exercise:NN.name` tag on the cell (solution notebooks), or None."""
    tags = cell.get("metadata", {}).get("tags", [])
    for tag in tags if isinstance(tags, list) else ():
        if isinstance(tag, str) and tag.startswith(TAG_PREFIX):
            return tag[len(TAG_PREFIX):]
    return None


def exercise_id(cell) -> str | None:
    """The exercise a cell belongs to: metadata `course.exercise` (generated notebooks), else its tag."""
    meta = cell.get("metadata", {}).get("course", {})
    found = meta.get("exercise") if isinstance(meta, dict) else None
    return found if isinstance(found, str) and found else exercise_tag(cell)


def cell_role(cell) -> str:
    """What a cell is to its exercise: "check" (a code cell with a `check(...)` call for the
    exercise it belongs to, or for any exercise when it belongs to none), "code" (an answer or
    other code), "markdown" (a statement or hint) or "raw"."""
    kind = cell.get("cell_type")
    if kind != "code":
        return kind if kind in ("markdown", "raw") else "raw"
    ex_id = exercise_id(cell)
    calls = check_calls(cell_source(cell))
    return "check" if any(ex_id is None or c.exercise_id == ex_id for c in calls) else "code"


@dataclass(frozen=True)
class CheckCall:
    """One `check("NN.name", expression)` in a cell: the id and the expression's source."""

    exercise_id: str
    expression: str


def check_calls(source: str) -> list[CheckCall]:
    """Every `check("NN.name", expression)` call in `source`, in order (a cell that does not
    parse has none)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # a learner's broken cell, null bytes
        return []
    calls = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and len(node.args) == 2 and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            calls.append(((node.lineno, node.col_offset), CheckCall(node.args[0].value, ast.unparse(node.args[1]))))
    return [call for _, call in sorted(calls, key=lambda found: found[0])]


def check_call_for(cell, ex_id: str) -> CheckCall | None:
    """The cell's check call for exercise `ex_id`, if it is a code cell that has one."""
    if cell.get("cell_type") != "code":
        return None
    return next((c for c in check_calls(cell_source(cell)) if c.exercise_id == ex_id), None)


# ----------------------------------------------------------------------------- course metadata

def course_meta(nb) -> dict:
    """The notebook's `metadata.course` dict (written by `course build`), or {}."""
    meta = nb.get("metadata", {}).get("course") if isinstance(nb.get("metadata"), dict) else None
    return meta if isinstance(meta, dict) else {}


def generated_from(nb) -> str | None:
    """'solutions/NN_name.ipynb' (or '<edition>/solutions/NN_name.ipynb') for a notebook
    `course build` generated, else None (also for a value that is not a plain file name in
    one of those folders)."""
    source = course_meta(nb).get("generated_from")
    if not isinstance(source, str):
        return None
    prefixes = [SOLUTIONS + "/"] + [f"{lang}/{SOLUTIONS}/" for lang in EDITIONS]
    prefix = next((p for p in prefixes if source.startswith(p)), None)
    if prefix is None:
        return None
    name = source[len(prefix):]
    if not name or "/" in name or "\\" in name or name in (".", "..") or not name.endswith(".ipynb"):
        return None
    return source


def edition(nb) -> str | None:
    """The edition a generated notebook belongs to: metadata `course.edition`, else the edition
    folder its `generated_from` names, else "en". None when the two disagree or the edition is
    unknown."""
    meta, source = course_meta(nb), generated_from(nb)
    from_source = next((lang for lang in EDITIONS if source and source.startswith(lang + "/")), "en")
    said = meta.get("edition", from_source)
    if said not in LANGUAGES or (from_source != "en" and said != from_source):
        return None
    return said


def exercise_ids(nb) -> list[str]:
    """The exercises of a notebook, in order: its metadata's list (generated notebooks), else
    the ids its cells carry."""
    listed = course_meta(nb).get("exercises")
    if isinstance(listed, list) and listed and all(isinstance(i, str) for i in listed):
        return list(dict.fromkeys(listed))
    return list(dict.fromkeys(i for i in map(exercise_id, nb.get("cells", [])) if i))


# ----------------------------------------------------------------------------- where notebooks live

def course_folder_of(path: Path | None = None) -> Path | None:
    """The course checkout holding `path` (default: the current folder): the nearest folder at
    or above it with course_utils/ and notebooks/ in it; None outside a checkout."""
    try:
        here = Path(path if path is not None else Path.cwd()).resolve()
    except (OSError, RuntimeError):
        return None
    for folder in (here, *here.parents):
        try:
            if (folder / "course_utils").is_dir() and (folder / LESSONS).is_dir():
                return folder
        except OSError:  # a name too long, a folder that cannot be searched: not this one
            continue
    return None


def package_checkout() -> Path | None:
    """The course checkout this package was imported from (None for an installed package
    without solutions/)."""
    folder = Path(__file__).resolve().parents[2]
    return folder if (folder / SOLUTIONS).is_dir() else None


def solution_of(path: Path, nb) -> Path | None:
    """The solution notebook that the exercise notebook `nb` (read from `path`) was generated
    from: looked up in the checkout holding `path`, then in the package's own checkout. For an
    edition's notebook generated from the English solution, the edition's own solution of the
    same name comes first when there is one."""
    source, lang = generated_from(nb), edition(nb)
    if source is None or lang is None:
        return None
    sources = [source]
    if lang != "en" and not source.startswith(lang + "/"):
        sources.insert(0, f"{lang}/{source}")
    for root in dict.fromkeys(r for r in (course_folder_of(Path(path).parent), package_checkout()) if r):
        for candidate in (root / s for s in sources):
            if candidate.is_file():
                return candidate
    return None


def is_course_exercise_notebook(path: Path, nb=None) -> bool:
    """True only for the course's own exercise notebook in its place: `<checkout>/exercises/NN_name.ipynb`
    whose metadata says it was generated from `solutions/NN_name.ipynb` (the same name), or an
    edition's `<checkout>/<edition>/exercises/NN_name.ipynb` whose metadata names that edition
    (see the module docstring). A renamed copy, a copy elsewhere or in another edition's folder,
    a solution or a lesson is not. `nb`: the notebook's content, if already read."""
    try:
        real = Path(path).resolve()
        root = course_folder_of(real.parent)
        if root is None or real.parent.name != EXERCISES:
            return False
        folder = real.parent.parent
        lang = "en" if folder == root else folder.name if folder.parent == root and folder.name in EDITIONS else None
    except (OSError, RuntimeError, ValueError):
        return False
    if lang is None:
        return False
    if nb is None:
        try:
            nb = read(real)
        except NotebookError:
            return False
    source = generated_from(nb)
    return source is not None and Path(source).name == real.name and edition(nb) == lang
