"""course layer · grading a notebook for `course check`: run a *copy* of it in a fresh kernel of
this Python and grade each exercise (the engine behind `course check`; the command line only
prints what it returns).

The learner's cells run as they are; each check cell is restored from the generated exercise
(a learner's edited check cell runs as ordinary code first) and graded by a grading cell
written here, which grades the learner's object with freshly imported graders and writes the
result to a private file. Whatever a notebook prints, or a `check` it defines, is never read
as a result. Each grading cell writes under its own random token, and only its first row for
each of its exercises counts (rows a notebook forges later are ignored); a setup cell run before
the notebook notes the functions grading relies on (open, eval, import_module, json.dumps,
torch's and NumPy's comparisons), and if the notebook replaced any, its exercises fail as "not
graded". A cell that runs past the timeout, or a kernel that dies, ends the run with a row
saying so; the results before it stay.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_utils.course import notebook as nbformat_course
from course_utils.course.build import fresh_exercise
from course_utils.course.notebook import NotebookError  # noqa: F401  (raised by read_notebook)

CELL_TIMEOUT = 300  # seconds per cell for `course check`


def read_notebook(path: Path) -> nbformat.NotebookNode:
    return nbformat_course.read(path)


def _ex_id(cell) -> str | None:
    return nbformat_course.exercise_id(cell)


def _check_calls(source: str) -> list[tuple[str, str]]:
    """[(exercise id, expression)] of every `check("NN.name", expression)` in `source`."""
    return [(c.exercise_id, c.expression) for c in nbformat_course.check_calls(source)]


def _course_meta(nb) -> dict:
    return nbformat_course.course_meta(nb)


def canonical_progress_file(path: Path, nb) -> Path | None:
    """The progress file to record in, if `path` is the course's own exercise notebook."""
    if not nbformat_course.is_course_exercise_notebook(path, nb):
        return None
    if os.environ.get("COURSE_PROGRESS_FILE"):
        return Path(os.environ["COURSE_PROGRESS_FILE"]).expanduser()
    return nbformat_course.course_folder_of(Path(path).resolve().parent) / ".course" / "progress.json"


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
    fresh, _ = fresh_exercise(path, nb)
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
