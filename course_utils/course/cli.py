"""course layer · the `course` command line.

    course progress [--json]                       passed / total per lesson, with a bar
    course check exercises/NN_name.ipynb           grade a notebook: run a *copy*, print a table
    course reset exercises/NN_name.ipynb --id ID   restore one exercise (backup first)
    course build [--check] [--root DIR]            generate exercises/ from solutions/
    course train ... / course evaluate ...         train / evaluate the reference model
    course --version

Every option is checked before any work starts or any file is touched: a bad value is an
argparse error (exit status 2) that names the option.

Grading (`course check`) runs a copy of the notebook in a fresh kernel of this Python
(`sys.executable`). The learner's cells run as they are; each check cell is restored from
the generated exercise (a learner's edited check cell runs as ordinary code first) and
graded by a grading cell written here, which grades the learner's object with freshly
imported graders and writes the result to a private file. Whatever a notebook prints, or a `check` it defines, is never read as a
result. Each grading cell writes under its own random token, and only its first row for each
of its exercises counts (rows a notebook forges later are ignored); a setup cell run before the
notebook notes the functions grading relies on (open, eval, import_module, json.dumps, torch's
and NumPy's comparisons), and if the notebook replaced any, its exercises fail as "not graded". A cell that runs past `--timeout`, or a kernel that dies, ends the run with a row
saying so; the results before it stay.

Progress: `course check` and `course reset` record results only for the course's own
exercise notebook (`exercises/NN_name.ipynb` in the course folder). A copy (a scratch
notebook, `04_self_attention-Copy1.ipynb`) is graded and reset the same way, but never
changes the recorded progress of the original exercise.
"""

from __future__ import annotations

import argparse
import ast
import copy
import datetime as _dt
import difflib
import json
import math
import os
import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_utils.course import progress

CELL_TIMEOUT = 300  # seconds per cell for `course check`
MAX_TIMEOUT = 24 * 3600
MAX_THREADS = 256
MAX_BEAM = 64  # beam search keeps MAX_BEAM hypotheses per sentence in memory
MAX_SEED = 2**32 - 1  # set_seed also seeds NumPy, whose seeds are 32-bit
MAX_TRAIN_PAIRS = 1_000_000  # 25x the recipe's 40,000: a bound on memory and generation time
MAX_STEPS = 1_000_000  # ~140x the recipe's 7,000 steps: a number that is not a typo
MAX_LENGTH_PENALTY = 10.0  # beam search divides by ((5 + length) / 6) ** alpha: larger overflows to inf


# ----------------------------------------------------------------------------- argument types

def _int_at_least(low: int, high: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high}, got {value}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


_threads = _int_at_least(1, MAX_THREADS)


def _finite_float(low: float | None = None, strict: bool = False, high: float | None = None):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if low is not None and (value <= low if strict else value < low):
            raise argparse.ArgumentTypeError(f"must be {'greater than' if strict else 'at least'} {low:g}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}, got {text}")
        return value
    parse.__name__ = "number"
    return parse


def _path_type(parse):
    """An argparse path type whose OS errors (a name too long, a link that loops, `~nobody`)
    become one-line argument errors instead of tracebacks."""
    def wrapped(text: str) -> Path:
        try:
            return parse(text)
        except argparse.ArgumentTypeError:
            raise
        except (OSError, RuntimeError) as err:  # RuntimeError: pathlib's symlink loop / unknown home folder
            reason = getattr(err, "strerror", None) or str(err)
            raise argparse.ArgumentTypeError(f"{text[:80]}{'...' if len(text) > 80 else ''}: not a usable path "
                                             f"({reason})") from None
    wrapped.__name__ = parse.__name__
    return wrapped


def _no_broken_link(text: str, path: Path) -> None:
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise argparse.ArgumentTypeError(f"{text}: a symbolic link that loops or points nowhere") from None


def _exercise_id(text: str) -> str:
    """--id: an exercise id such as 04.attention (an empty one would silently mean "all")."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected an exercise id such as 04.attention, got an empty string")
    return text.strip()


@_path_type
def _existing_file(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file path, got an empty string")
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder, not a file")
    if not path.is_file():  # /dev/zero, a pipe: reading would never end
        raise argparse.ArgumentTypeError(f"{text}: not a regular file (a device, pipe or socket)")
    return path


def _looks_like_checkpoint(path: Path) -> bool:
    """A file torch.save wrote (a zip archive) or an older pickle: the only files --out replaces."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head == b"PK\x03\x04" or head[:1] == b"\x80" or head == b""


@_path_type
def _output_file(text: str) -> Path:
    """A path a file can be written to: not a folder, in a folder that exists (or can be
    made) and can be written."""
    if not text or text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a file path, not a folder")
    path = Path(text).expanduser()
    _no_broken_link(text, path)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder; give a file path such as {Path(text) / 'model.pt'}")
    if path.exists() and not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: not a regular file (a device, pipe or socket)")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text}: the file cannot be written")
    if path.is_file() and not _looks_like_checkpoint(path):
        raise argparse.ArgumentTypeError(f"{text}: exists and is not a checkpoint (not written by torch.save); "
                                         f"it is never replaced. Choose another --out path")
    folder = path.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {folder} is a file, so no folder can be made there")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: the folder {folder} cannot be written")
    try:  # os.access says yes for root even on read-only file systems (/proc, a read-only mount)
        fd, probe = tempfile.mkstemp(prefix=".course-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise argparse.ArgumentTypeError(f"{text}: the folder {folder} cannot be written "
                                         f"({err.strerror or err})") from None
    return path


def _help(text: str) -> str:
    """Help text that argparse will %-format: keep literal percent signs."""
    return text.replace("%", "%%")


def _split_names() -> tuple[str, ...]:
    """`course evaluate --split` choices: the corpus's splits plus the reference's 'val'."""
    import dataclasses

    from course_utils.corpus import data

    names = getattr(data, "SPLIT_NAMES", None)
    if names is None:  # older corpus module: the list fields of Splits
        names = tuple(f.name for f in dataclasses.fields(data.Splits) if f.name != "seed")
    return tuple(dict.fromkeys([*names, "val"]))


def _device_available(name: str) -> bool:
    import torch

    if name == "cpu":
        return True
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return False


def _device(text: str) -> str:
    """--device: cpu, cuda or mps, and present in this torch build."""
    if text not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from cpu, cuda, mps)")
    if not _device_available(text):
        raise argparse.ArgumentTypeError(f"{text} is not available here (this torch build or machine has no {text} "
                                         f"device); use cpu, or leave --device out to pick the fastest present")
    return text


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("course-utils")
    except metadata.PackageNotFoundError:
        return "unknown (course_utils is not installed; run `pip install -e .`)"


# ----------------------------------------------------------------------------- progress

def cmd_progress(args) -> int:
    s = progress.summary()
    if args.json:
        print(json.dumps({"file": str(progress.progress_path()), "lessons": s}, indent=1, ensure_ascii=False))
        return 0
    print(f"Progress ({progress.progress_path()}):")
    print(progress.format_summary({nn: l for nn, l in s.items() if l["total"]}))
    return 0


# ----------------------------------------------------------------------------- notebooks

class NotebookError(ValueError):
    """A file that is not a readable Jupyter notebook (one line, for the learner)."""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook, or raise NotebookError with a one-line reason."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NotebookError(f"{path} is not a notebook (not UTF-8 text)") from None
    except OSError as err:
        raise NotebookError(f"{path} cannot be read ({err.strerror or err})") from None
    try:
        raw = json.loads(text)
    except ValueError as err:
        raise NotebookError(f"{path} is not a notebook (not valid JSON: {err})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list) or "nbformat" not in raw:
        raise NotebookError(f"{path} is not a Jupyter notebook (no 'cells' list and 'nbformat' version)")
    if raw.get("nbformat") != 4:
        raise NotebookError(f"{path}: notebook format {raw.get('nbformat')!r} is not supported (only version 4)")
    try:
        nb = nbformat.reads(text, as_version=4, capture_validation_error={})
        nbformat.validate(nb)
    except Exception as err:  # ValidationError and friends: one line, no traceback
        message = getattr(err, "message", None) or str(err)
        raise NotebookError(f"{path} is not a valid notebook: {message.splitlines()[0][:200]}") from None
    return nb


def _course_meta(nb) -> dict:
    meta = nb.metadata.get("course")
    return meta if isinstance(meta, dict) else {}


def _ex_id(cell) -> str | None:
    from course_utils.course.build import exercise_tag

    course_meta = cell.get("metadata", {}).get("course", {})
    ex_id = course_meta.get("exercise") if isinstance(course_meta, dict) else None
    return ex_id if isinstance(ex_id, str) else exercise_tag(cell)


def _course_root_of(path: Path) -> Path | None:
    return progress.course_root(path.resolve().parent)


def _fresh_exercise(path: Path, nb) -> tuple[nbformat.NotebookNode | None, Path | None]:
    """The exercise notebook freshly generated from the solution `nb` was generated from
    (metadata course.generated_from), and that solution's path; (None, None) if unknown."""
    from course_utils.course.build import BuildError, build_notebook, course_root

    source = _course_meta(nb).get("generated_from")
    if not isinstance(source, str) or not source.startswith("solutions/") or "/" in source[len("solutions/"):]:
        return None, None
    roots = [r for r in (_course_root_of(path), course_root()) if r is not None]
    for root in dict.fromkeys(roots):
        sol_path = root / source
        if sol_path.is_file():
            try:
                return build_notebook(read_notebook(sol_path), sol_path.name), sol_path
            except BuildError as err:
                raise NotebookError(f"{sol_path} breaks an authoring rule: {err}") from None
    return None, None


def _check_calls(source: str) -> list[tuple[str, str]]:
    """[(exercise id, expression)] of every `check("NN.name", expression)` in `source`."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):  # a learner's broken cell, null bytes
        return []
    calls = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and len(node.args) == 2 and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            calls.append((node.args[0].value, ast.unparse(node.args[1])))
    return calls


def _canonical(path: Path, nb) -> Path | None:
    """The progress file to record in, if `path` is the course's own exercise notebook."""
    source = _course_meta(nb).get("generated_from")
    root = _course_root_of(path)
    if root is None or not isinstance(source, str):
        return None
    if path.resolve() != (root / "exercises" / Path(source).name).resolve():
        return None
    if os.environ.get("COURSE_PROGRESS_FILE"):
        return Path(os.environ["COURSE_PROGRESS_FILE"]).expanduser()
    return root / ".course" / "progress.json"


# ----------------------------------------------------------------------------- check

@dataclass
class GradeReport:
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (exercise or "cell N", status, details)
    errors: list[str] = field(default_factory=list)  # errors in the learner's cells
    notes: list[str] = field(default_factory=list)
    stopped: str | None = None  # why grading stopped early


_GUARD_CELL = '''\
# course check: setup cell (written by the grader, runs before the notebook's first cell)
def _course_make_guard():
    import builtins, importlib, json, sys
    watched = [(builtins, "open"), (builtins, "eval"), (builtins, "__import__"), (builtins, "isinstance"),
               (importlib, "import_module"), (json, "dumps"), (sys, "modules")]
    try:
        import numpy, torch
        watched += [(torch, n) for n in ("allclose", "equal", "isclose", "isfinite", "tensor", "as_tensor")]
        watched += [(torch.testing, "assert_close"), (torch.Tensor, "allclose"), (torch.Tensor, "equal"),
                    (torch.Tensor, "__eq__"), (numpy, "allclose"), (numpy, "isclose")]
    except Exception:
        pass
    first = [(owner, name, owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None))
             for owner, name in watched]

    def changed():
        now = [(o, n, o.__dict__.get(n) if isinstance(o, type) else getattr(o, n, None)) for o, n, _ in first]
        return [getattr(o, "__name__", "?") + "." + n for (o, n, was), (_, _, is_) in zip(first, now) if was is not is_]
    return changed
{guard} = _course_make_guard()
del _course_make_guard
'''

_GRADER_CELL = '''\
# course check: grading cell (written by the grader, not part of the notebook)
import builtins as _course_b, importlib as _course_importlib, json as _course_json, sys as _course_sys
try:
    _course_replaced = {guard}()
except _course_b.Exception:  # the setup cell's guard is gone or was replaced
    _course_replaced = ["the grader's setup"]
for _course_name in [m for m in list(_course_sys.modules)
                     if m == "course_utils.course.checks" or m.startswith("course_utils.course.checks.")]:
    del _course_sys.modules[_course_name]
_course_checks = _course_importlib.import_module("course_utils.course.checks")
if not _course_replaced and _course_b.str(_course_b.getattr(_course_checks, "__file__", "")) != {checks_file!r}:
    _course_replaced = ["course_utils (the graders were imported from "
                        + _course_b.str(_course_b.getattr(_course_checks, "__file__", "?")) + ")"]
_course_found = []
for _course_id, _course_expr in {todo!r}:
    if _course_replaced:
        _course_found.append({{"id": _course_id, "status": "failed", "message":
            "not graded: the notebook replaced " + ", ".join(_course_replaced) + ", which grading relies on; "
            "remove that code, restart the kernel and check again"}})
        continue
    try:
        _course_obj = _course_b.eval(_course_expr)
    except _course_b.Exception as _course_err:
        _course_found.append({{"id": _course_id, "status": "missing", "message":
            f"not attempted: `{{_course_expr}}` is not defined here ({{_course_b.type(_course_err).__name__}}); "
            f"run the cells that define it"}})
        continue
    try:
        _course_r = _course_checks.check(_course_id, _course_obj)
        _course_found.append({{"id": _course_id, "status": _course_b.str(_course_r.status),
                              "message": _course_b.str(_course_r.message), "hint": _course_r.hint}})
    except _course_b.Exception as _course_err:
        _course_found.append({{"id": _course_id, "status": "failed", "message":
            f"the grader could not run ({{_course_b.type(_course_err).__name__}}: {{_course_err}})"}})
with _course_b.open({results!r}, "a", encoding="utf-8") as _course_f:
    for _course_row in _course_found:
        _course_f.write(_course_json.dumps({{"token": {token!r}, **_course_row}}) + "\\n")
'''


def _kernel_manager(folder: Path):
    """A kernel manager that starts this Python (sys.executable) over IPC sockets (no TCP
    port, so no 'TCP without encryption' warning)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    spec_dir = folder / "kernels" / "course-python"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (course check)", "language": "python"}), encoding="utf-8")
    ksm = KernelSpecManager(kernel_dirs=[str(folder / "kernels")], ensure_native_kernel=False)
    if os.name == "nt":  # no IPC sockets on Windows: local TCP (the kernel then warns about it)
        return AsyncKernelManager(kernel_name="course-python", kernel_spec_manager=ksm)
    return AsyncKernelManager(kernel_name="course-python", kernel_spec_manager=ksm, transport="ipc",
                              ip=str(folder / "k"))


def _first_line(source: str) -> str:
    line = next((l.strip() for l in source.splitlines() if l.strip() and not l.lstrip().startswith("#")), "")
    return line if len(line) <= 50 else line[:47] + "..."


def expected_exercises(path: Path, nb) -> tuple[list[str], dict[str, tuple], list[str]]:
    """(exercise ids to grade, {id: (check cell id, source, expression)}, notes). The ids come
    from the notebook's metadata (written by `course build`), the check cells from the
    exercise regenerated from its solution; without those, from the notebook itself."""
    fresh, _ = _fresh_exercise(path, nb)
    notes = []
    checks = {}
    for cell in (fresh.cells if fresh is not None else nb.cells):
        if cell.cell_type == "code":
            for ex_id, expr in _check_calls(cell.source):
                checks.setdefault(ex_id, (cell.get("id"), cell.source, expr))
    source = _course_meta(nb).get("generated_from")
    if fresh is None and isinstance(source, str):
        notes.append(f"{source}, which this notebook was generated from, was not found: "
                     "the check cells are taken from the notebook itself")
    elif fresh is None:
        notes.append("not a generated exercise notebook (no course metadata): "
                     "the check cells are taken from the notebook itself")
    # the generated exercise's list when there is one: a learner's edit of the metadata cannot drop exercises
    expected = _course_meta(fresh if fresh is not None else nb).get("exercises")
    if not (isinstance(expected, list) and all(isinstance(i, str) for i in expected)):
        expected = list(checks)  # no metadata: the exercises the check cells name
    return list(dict.fromkeys(expected)), checks, notes


def grade(path: Path, timeout: int = CELL_TIMEOUT, nb=None) -> GradeReport:
    """Grade a copy of the notebook at `path` (see the module docstring). Never changes `path`."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = read_notebook(path) if nb is None else nb
    report = GradeReport()
    expected, fresh_checks, report.notes = expected_exercises(path, nb)
    if not expected:
        return report

    run_nb = copy.deepcopy(nb)
    guard = f"_course_guard_{secrets.token_hex(8)}"
    from course_utils.course import checks as _checks

    checks_file = str(_checks.__file__)  # the graders the kernel must import: this package's
    tokens: dict[str, list[str]] = {}  # a token per grading cell -> the exercises it grades

    def grader_cell(todo):
        token = secrets.token_hex(16)  # unknown to the notebook until that cell runs
        tokens[token] = [ex_id for ex_id, _ in todo]
        return nbformat.v4.new_code_cell(_GRADER_CELL.format(todo=todo, results=str(results), token=token,
                                                             guard=guard, checks_file=checks_file))
    private = Path(tempfile.mkdtemp(prefix="course-grade-"))
    results = private / "results.jsonl"
    fresh_by_cell_id = {cid: ex_id for ex_id, (cid, _, _) in fresh_checks.items() if cid}
    graded_in_place = set()
    grader_errors: dict[str, str] = {}
    run_cells, origin, grader_at = [nbformat.v4.new_code_cell(_GUARD_CELL.format(guard=guard))], [None], {0: []}
    for index, cell in enumerate(run_nb.cells):
        ex_id = fresh_by_cell_id.get(cell.get("id")) if cell.cell_type == "code" else None
        if ex_id is None and cell.cell_type == "code" and _ex_id(cell) in fresh_checks \
                and _check_calls(cell.source):
            ex_id = _ex_id(cell)  # a check cell with another id (an old notebook)
        if ex_id in expected and ex_id not in graded_in_place:
            graded_in_place.add(ex_id)
            if cell.source.strip() != fresh_checks[ex_id][1].strip():
                # the learner changed the check cell: it runs as their code (whatever it
                # prints is ignored), then the restored check is graded
                run_cells.append(cell)
                origin.append(index)
            grader_at[len(run_cells)] = [ex_id]
            run_cells.append(grader_cell([(ex_id, fresh_checks[ex_id][2])]))  # the restored check, graded here
            origin.append(index)
            continue
        run_cells.append(cell)
        origin.append(index)
    rest = [(i, fresh_checks[i][2]) for i in expected if i not in graded_in_place and i in fresh_checks]
    if rest:
        grader_at[len(run_cells)] = [i for i, _ in rest]
        run_cells.append(grader_cell(rest))
        origin.append(None)
    run_nb.cells = run_cells

    env = dict(os.environ, COURSE_STRICT="0", COURSE_NO_PROGRESS="1")
    env.pop("COURSE_PROGRESS_FILE", None)
    env.pop("JPY_SESSION_NAME", None)  # set when `!course check` runs from a notebook
    try:
        with tempfile.TemporaryDirectory(prefix="course-check-") as tmp:
            work = Path(tmp) / "work"
            work.mkdir()
            shutil.copy(path, work / path.name)
            km = _kernel_manager(Path(tmp))
            client = NotebookClient(run_nb, km=km, timeout=timeout, allow_errors=True, record_timing=False,
                                    resources={"metadata": {"path": str(work)}})
            with open(Path(tmp) / "kernel.log", "wb") as log:
                try:
                    with client.setup_kernel(env=env, cwd=str(work), stdout=log, stderr=log):
                        for run_index, cell in enumerate(run_nb.cells):
                            if cell.cell_type != "code":
                                continue
                            where = "the grading cell" if origin[run_index] is None else f"cell {origin[run_index] + 1}"
                            try:
                                # the setup cell imports torch: a short --timeout is for the notebook's cells
                                client.timeout = max(timeout, CELL_TIMEOUT) if run_index == 0 else timeout
                                client.execute_cell(cell, run_index)
                            except CellTimeoutError:
                                report.stopped = f"{where} timed out after {timeout:g} s"
                                report.rows.append((where, "timeout", f"{where} timed out after {timeout:g} s "
                                                    "(a loop that never ends?); the kernel was stopped"))
                                break
                            except DeadKernelError:
                                report.stopped = f"the kernel died in {where}"
                                report.rows.append((where, "died", f"kernel died while running {where} "
                                                    "(os._exit, out of memory, or a crash)"))
                                break
                            for out in cell.get("outputs", []) if run_index in grader_at else ():
                                if out.get("output_type") == "error":  # the grading cell itself failed
                                    for ex_id in grader_at[run_index]:
                                        grader_errors[ex_id] = f"{out.get('ename')}: {out.get('evalue')}"
                            if run_index not in grader_at:
                                for out in cell.get("outputs", []):
                                    if out.get("output_type") == "error" and \
                                            "raises-exception" not in cell.metadata.get("tags", []):
                                        report.errors.append(f"{where} ({_first_line(cell.source)}): "
                                                             f"{out.get('ename')}: {out.get('evalue')}")
                except (CellTimeoutError, DeadKernelError) as err:  # e.g. while shutting down
                    report.stopped = report.stopped or f"the kernel stopped ({type(err).__name__})"
                except RuntimeError as err:  # a kernel that could not start
                    report.stopped = f"the kernel could not start or stopped answering ({err})"
                    report.rows.append(("kernel", "died", report.stopped))
        found = {}
        if results.exists():
            for line in results.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict) and row.get("id") in tokens.get(row.get("token"), ()) \
                        and row["id"] in expected:
                    found.setdefault(row["id"], row)  # the grading cell's own row: rows added later do not count
    finally:
        shutil.rmtree(private, ignore_errors=True)

    for ex_id in expected:
        row = found.get(ex_id)
        if row is not None:
            detail = str(row.get("message", "")) + (f"  Hint: {row['hint']}" if row.get("hint") else "")
            report.rows.append((ex_id, str(row.get("status")), detail))
        elif ex_id not in fresh_checks:
            report.rows.append((ex_id, "missing", "not attempted: no check cell for it was found"))
        elif report.stopped:
            report.rows.append((ex_id, "not run", f"not graded: {report.stopped}"))
        else:
            why = f"its grading cell failed ({grader_errors[ex_id]})" if ex_id in grader_errors else \
                "its grading cell wrote no result (did the notebook delete the grader's files?)"
            report.rows.append((ex_id, "failed", f"not graded: {why}"))
    return report


def format_table(rows: list[tuple[str, str, str]]) -> str:
    w_id = max([len("exercise")] + [len(r[0]) for r in rows])
    w_st = max([len("status")] + [len(r[1]) for r in rows])
    lines = [f"{'exercise':<{w_id}}  {'status':<{w_st}}  details", f"{'-' * w_id}  {'-' * w_st}  {'-' * 7}"]
    lines += [f"{i:<{w_id}}  {s:<{w_st}}  {d}" for i, s, d in rows]
    return "\n".join(lines)


def cmd_check(args) -> int:
    path = args.notebook
    try:
        nb = read_notebook(path)
    except NotebookError as err:
        print(f"course check: {err}", file=sys.stderr)
        return 2
    try:
        expected, _, _ = expected_exercises(path, nb)
    except NotebookError as err:  # the solution it was generated from is broken
        print(f"course check: {err}", file=sys.stderr)
        return 2
    if not expected:
        print(f"course check: {path} has no graded exercises (no check cells and no exercise list in its "
              f"metadata): nothing to grade.", file=sys.stderr)
        return 1
    if args.id and args.id not in expected:
        print(f"course check: exercise {args.id!r} is not in {path}; its exercises are: {', '.join(expected)}",
              file=sys.stderr)
        return 2
    print(f"Running a copy of {path} (your file is not changed) ...", flush=True)
    report = grade(path, timeout=args.timeout, nb=nb)
    for note in report.notes:
        print(f"note: {note}")
    graded = [r for r in report.rows if r[1] not in ("timeout", "died")]
    rows = report.rows
    if args.id:
        rows = [r for r in rows if r[0] == args.id or r[1] in ("timeout", "died")]
    print(format_table(rows))
    shown = [r for r in rows if r[1] not in ("timeout", "died")]
    n_pass = sum(r[1] == "passed" for r in shown)
    print(f"\n{n_pass} of {len(shown)} passed.")
    for e in report.errors:
        print(f"error in {e}")
    if not args.no_record:
        _record(path, nb, [r for r in graded if r[1] in progress.STATUSES])
    bad = bool(report.errors or report.stopped) or any(r[1] not in ("passed", "pending") for r in rows)
    if args.strict:
        bad = bad or any(r[1] != "passed" for r in rows)
    return 1 if bad else 0


def _record(path: Path, nb, rows) -> None:
    target = _canonical(path, nb)
    if target is None:
        name = Path(str(_course_meta(nb).get("generated_from", "exercises/NN_name.ipynb"))).name
        print(f"\nNot recorded in your progress: {path} is not the course's exercises/{name} "
              f"(a copy is graded, but only the exercise notebook itself updates your progress).")
        return
    for ex_id, status, _ in rows:  # `notebook`: not the notebook a `!course check` may run from
        progress.record(ex_id, status, path=target, notebook=path.resolve())
    print(f"\nRecorded in {target}.")


# ----------------------------------------------------------------------------- reset

class ResetError(ValueError):
    """`course reset` refuses (a one-line reason)."""


@dataclass
class ResetResult:
    target: Path  # the file changed (a symbolic link's target)
    backup: Path | None
    diff: str
    kept: int = 0  # other cells of the exercise (copies the learner made), left as they are
    progress_file: Path | None = None


def _backup_folder(target: Path) -> Path:
    root = _course_root_of(target)
    return (root if root is not None else target.parent) / ".course" / "backups"


def reset_notebook(path: Path, ex_id: str, dry_run: bool = False, now: _dt.datetime | None = None) -> ResetResult:
    """Put the cells of exercise `ex_id` of a generated exercise notebook back to their
    generated state. Cells the generator wrote are matched by cell id; other cells
    (including copies of exercise cells) are kept. A backup goes to .course/backups/ first."""
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    if not target.is_file():
        raise ResetError(f"no such notebook: {path}" + (f" (a link to {target}, which is missing)" if target != path else ""))
    try:
        nb = read_notebook(target)
    except NotebookError as err:
        raise ResetError(str(err)) from None
    meta = _course_meta(nb)
    if not isinstance(meta.get("generated_from"), str):
        raise ResetError(f"{path} is not an exercise notebook generated by `course build` (its metadata has no "
                         f"course.generated_from). Reset works on exercises/NN_name.ipynb and copies of them; "
                         f"solutions and lesson notebooks are never reset.")
    root = _course_root_of(target)
    if root is not None and target.resolve().parent in ((root / "solutions").resolve(), (root / "notebooks").resolve()):
        raise ResetError(f"{path} is in {target.resolve().parent.name}/: solutions and lessons are never reset.")
    try:
        fresh, sol_path = _fresh_exercise(target, nb)
    except NotebookError as err:
        raise ResetError(str(err)) from None
    if fresh is None:
        raise ResetError(f"the solution notebook {meta['generated_from']} that {path.name} was generated from "
                         f"was not found: nothing to restore from")
    if sol_path.resolve() == target.resolve():
        raise ResetError(f"{path} is the solution notebook itself: never reset")
    listed = list(dict.fromkeys(i for i in map(_ex_id, fresh.cells) if i))  # from the solution, not the copy
    new_ids = [c.get("id") for c in fresh.cells if _ex_id(c) == ex_id]
    if ex_id not in listed or not new_ids:
        raise ResetError(f"exercise {ex_id!r} is not in {path.name}; its exercises are: {', '.join(listed)}")

    cells = list(nb.cells)
    old_text, new_text, inserted = [], [], 0
    anchor = -1
    for fresh_cell in fresh.cells:
        cid = fresh_cell.get("id")
        pos = next((i for i, c in enumerate(cells) if c.get("id") == cid), None)
        if _ex_id(fresh_cell) != ex_id:
            if pos is not None:
                anchor = pos
            continue
        new_text.append(_cell_text(fresh_cell))
        if pos is not None:
            old_text.append(_cell_text(cells[pos]))
            cells[pos] = copy.deepcopy(fresh_cell)
            anchor = pos
        else:  # the learner deleted it: put it back after the cell that precedes it
            anchor += 1
            cells.insert(anchor, copy.deepcopy(fresh_cell))
            inserted += 1
    kept = sum(_ex_id(c) == ex_id for c in cells) - len(new_ids)
    diff = "\n".join(difflib.unified_diff("\n".join(old_text).splitlines(), "\n".join(new_text).splitlines(),
                                          f"{path.name} (yours)", f"{path.name} (fresh)", lineterm=""))
    result = ResetResult(target=target, backup=None, diff=diff, kept=kept)
    nb.cells = cells
    if dry_run or (old_text == new_text and not inserted):
        return result
    folder = _backup_folder(target)
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        n = 0
        while True:  # created exclusively: two resets in the same second never share a backup
            backup = folder / (f"{target.stem}-{stamp}.ipynb" if n == 0 else f"{target.stem}-{stamp}-{n}.ipynb")
            try:
                with open(backup, "xb") as out, open(target, "rb") as src:
                    shutil.copyfileobj(src, out)
                break
            except FileExistsError:
                n += 1
        shutil.copystat(target, backup)
    except OSError as err:
        raise ResetError(f"cannot make a backup in {folder} ({err.strerror or err}); {path} was not changed") from None
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(3)}.tmp")
    try:
        nbformat.write(nb, tmp)
        shutil.copymode(target, tmp)
        os.replace(tmp, target)
    except OSError as err:
        raise ResetError(f"cannot write {target} ({err.strerror or err}); it was not changed "
                         f"(a backup is in {backup})") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    result.backup = backup
    result.progress_file = _canonical(target, nb)
    if result.progress_file is not None:
        progress.reset(ex_id, path=result.progress_file)
    return result


def _cell_text(cell) -> str:
    return f"--- {cell.cell_type} cell\n{cell.source}"


def cmd_reset(args) -> int:
    path = args.notebook
    try:
        result = reset_notebook(path, args.id, dry_run=args.dry_run)
    except ResetError as err:
        print(f"course reset: {err}", file=sys.stderr)
        return 2
    if result.target != path:
        print(f"{path} is a link to {result.target}: resetting {result.target}.")
    if args.dry_run:
        print(result.diff or "(no change)")
        print(f"\nDry run: {result.target} was not changed.")
        return 0
    if result.backup is None:
        print(f"Exercise {args.id} in {result.target} is already in its starting state: nothing changed.")
        return 0
    print(f"Backup of your notebook: {result.backup}")
    print(f"Exercise {args.id} in {result.target} is back to its starting state.")
    if result.kept:
        print(f"{result.kept} other cell(s) of exercise {args.id} (copies you made) were kept as they are.")
    if result.progress_file is not None:
        print(f"Your progress now shows {args.id} as pending ({result.progress_file}).")
    else:
        print("This notebook is a copy, so your recorded progress is unchanged.")
    print("If the notebook is open in JupyterLab, close it without saving and reopen it.")
    return 0


# ----------------------------------------------------------------------------- build, train, evaluate

def cmd_build(args) -> int:
    from course_utils.course import build

    return build.run(root=args.root, check=args.check)


def _reference(name: str):
    try:
        from course_utils.run import reference
    except ImportError as err:
        print(f"course {name}: the training code (course_utils.run.reference) is not available: {err}", file=sys.stderr)
        return None
    return reference


def cmd_train(args) -> int:
    reference = _reference("train")
    if reference is None:
        return 2
    return int(reference.train_command(
        out=args.out, steps=args.steps, n_train=args.n_train, seed=args.seed, eval_every=args.eval_every,
        stop_at_target=args.stop_at_target, threads=args.threads, device=args.device, eval_limit=args.eval_limit,
        progress=not args.no_progress, command="course train " + " ".join(args.argv)) or 0)


def cmd_evaluate(args) -> int:
    reference = _reference("evaluate")
    if reference is None:
        return 2
    return int(reference.evaluate_command(
        checkpoint=args.checkpoint, split=args.split, limit=args.limit, beam_size=args.beam_size,
        length_penalty=args.length_penalty, threads=args.threads) or 0)


def _reference_defaults():
    """(config, shipped checkpoint path, default --out) or None when the training code is missing."""
    try:
        from course_utils.run import reference
    except ImportError:
        return None
    return (reference.REFERENCE_CONFIG, reference.REFERENCE_CHECKPOINT,
            getattr(reference, "DEFAULT_TRAIN_OUT", Path("artifacts") / "reference.pt"))


def build_parser() -> argparse.ArgumentParser:
    from course_utils.course import build

    parser = argparse.ArgumentParser(prog="course", description="Attention, step by step: exercises and progress.")
    parser.add_argument("--version", action="version", version=f"course {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("progress", help="show passed / total exercises per lesson")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("check", help="grade a notebook by running a copy of it")
    p.add_argument("notebook", type=_existing_file, help="the notebook to grade (it is only read)")
    p.add_argument("--id", type=_exercise_id, help="show only this exercise")
    p.add_argument("--timeout", type=_int_at_least(1, MAX_TIMEOUT), default=CELL_TIMEOUT,
                   help="whole seconds each cell may run (at least 1; default %(default)s)")
    p.add_argument("--strict", action="store_true", help="exit 1 unless every exercise passed")
    p.add_argument("--no-record", action="store_true", help="don't record the results in the progress file")

    p = sub.add_parser("reset", help="restore one exercise of an exercise notebook (after a backup)")
    p.add_argument("notebook", type=_existing_file, help="an exercises/NN_name.ipynb notebook, or a copy of one")
    p.add_argument("--id", type=_exercise_id, required=True, help="exercise id, e.g. 04.attention")
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")

    p = sub.add_parser("build", help="generate exercises/ from solutions/ (--check: verify only)",
                       description=build.__doc__.split("\n\n")[0].split(" · ", 1)[-1])
    build.add_arguments(p)

    # parsed by course_utils.course.classroom itself (see main); listed here for `course --help`
    sub.add_parser("classroom", help="teach a class: an nbgrader course from solutions/, an nbgitpuller link",
                   add_help=False)

    defaults = _reference_defaults()
    if defaults is not None:
        config, shipped, default_out = defaults
        p = sub.add_parser("train", help="train the reference model", description=(
            "Train the course's reference English->Chinese Transformer and write its checkpoint "
            "(weights, config, vocabularies, and the scores on the test and compositional splits)."))
        p.add_argument("--out", type=_output_file, default=str(default_out), help=_help(
            f"checkpoint file to write (default: {default_out}; an existing file is backed up first. "
            f"Maintainers replace the shipped model with --out {shipped})"))
        p.add_argument("--steps", type=_int_at_least(1, MAX_STEPS), default=config.steps,
                       help=f"training steps (default: {config.steps}; at most {MAX_STEPS:,})")
        p.add_argument("--n-train", type=_int_at_least(1, MAX_TRAIN_PAIRS), default=config.n_train,
                       help=f"training pairs (default: {config.n_train})")
        p.add_argument("--seed", type=_int_at_least(0, MAX_SEED), default=config.seed, help="seed for weights and batch order")
        p.add_argument("--eval-every", type=_int_at_least(1), default=config.eval_every,
                       help=f"evaluate on the validation sentences every N steps (default: {config.eval_every})")
        p.add_argument("--stop-at-target", action="store_true",
                       help=_help(f"stop once validation exact match reaches {config.target:.0%}"))
        p.add_argument("--threads", type=_threads, default=2, help="CPU threads for torch (default: 2)")
        p.add_argument("--device", type=_device, default=None, metavar="{cpu,cuda,mps}",
                       help="default: the fastest present")
        p.add_argument("--eval-limit", type=_int_at_least(1), default=None,
                       help="score only the first N test/compositional pairs at the end (default: all)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")

        p = sub.add_parser("evaluate", help="evaluate a trained model", description=(
            "Evaluate a checkpoint on a split of the course corpus: sentence exact match and corpus BLEU."))
        p.add_argument("--checkpoint", type=_existing_file, default=str(shipped),
                       help="checkpoint file (default: the shipped reference model)")
        p.add_argument("--split", choices=_split_names(), default="test", help="default: test")
        p.add_argument("--limit", type=_int_at_least(1), default=None, help="only the first N pairs of the split")
        p.add_argument("--beam-size", type=_int_at_least(1, MAX_BEAM), default=1,
                       help=f"1 = greedy decoding (default); at most {MAX_BEAM}")
        p.add_argument("--length-penalty", type=_finite_float(0, high=MAX_LENGTH_PENALTY), default=0.6,
                       help=f"beam search's alpha, from 0 to {MAX_LENGTH_PENALTY:g} (default: 0.6)")
        p.add_argument("--threads", type=_threads, default=2, help="CPU threads for torch (default: 2)")
    else:
        for name in ("train", "evaluate"):
            sub.add_parser(name, help=f"{name} the reference model (needs course_utils.run.reference)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["classroom"]:
        from course_utils.course import classroom

        return classroom.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command in ("train", "evaluate") and not hasattr(args, "threads"):
        _reference(args.command)  # prints why the training code is missing
        return 2
    if args.command == "train":
        args.argv = argv[1:]
    command = {"progress": cmd_progress, "check": cmd_check, "reset": cmd_reset, "build": cmd_build,
               "train": cmd_train, "evaluate": cmd_evaluate}[args.command]
    try:
        return command(args)
    except KeyboardInterrupt:
        print(f"\ncourse {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `course progress | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
