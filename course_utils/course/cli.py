"""The `course` command line.

    course progress [--json]                       passed / total per lesson, with a bar
    course check exercises/NN_name.ipynb           grade a notebook: run a *copy*, print a table
    course reset exercises/NN_name.ipynb --id ID   restore one exercise (backup first)
    course build [--check]                         generate exercises/ from solutions/
    course train ... / course evaluate ...         train / evaluate the reference model
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import difflib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from course_utils.course import progress

CELL_TIMEOUT = 300  # seconds per cell for `course check`


# ----------------------------------------------------------------------------- progress

def cmd_progress(args) -> int:
    s = progress.summary()
    if args.json:
        print(json.dumps({"file": str(progress.progress_path()), "lessons": s}, indent=1, ensure_ascii=False))
        return 0
    print(f"Progress ({progress.progress_path()}):")
    print(progress.format_summary({nn: l for nn, l in s.items() if l["total"]}))
    return 0


# ----------------------------------------------------------------------------- check

def collect_results(nb) -> tuple[list[dict], list[str]]:
    """Check results (from their JSON output) and errors of an executed notebook."""
    from course_utils.course.checks import MIME_TYPE

    results, errors = [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if MIME_TYPE in data:
                value = data[MIME_TYPE]
                results.append(json.loads(value) if isinstance(value, str) else dict(value))
            if out.get("output_type") == "error" and "raises-exception" not in cell.metadata.get("tags", []):
                errors.append(f"cell {index} ({_first_line(cell.source)}): {out.get('ename')}: {out.get('evalue')}")
    return results, errors


def _first_line(source: str) -> str:
    line = next((l for l in source.splitlines() if l.strip() and not l.startswith("#")), "")
    return line if len(line) <= 50 else line[:47] + "..."


def execute_copy(path: Path, timeout: int = CELL_TIMEOUT, record: bool = True):
    """Execute a copy of the notebook in a temporary folder; the learner's file is only read."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_backup = dict(os.environ)
    os.environ["COURSE_STRICT"] = "0"  # grading must see failures, not stop at them
    if record:
        os.environ.setdefault("COURSE_PROGRESS_FILE", str(_progress_for(path)))
    else:
        os.environ["COURSE_NO_PROGRESS"] = "1"
    try:
        with tempfile.TemporaryDirectory(prefix="course-check-") as tmp:
            shutil.copy(path, Path(tmp) / path.name)
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                    record_timing=False, resources={"metadata": {"path": tmp}})
            client.execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    return nb


def _progress_for(path: Path) -> Path:
    if os.environ.get("COURSE_PROGRESS_FILE"):
        return Path(os.environ["COURSE_PROGRESS_FILE"])
    root = progress.course_root(path.resolve().parent)
    if root is not None:
        return root / ".course" / "progress.json"
    return progress.progress_path()


def expected_ids(path: Path) -> list[str]:
    from course_utils.course.checks import registry

    lesson = path.name[:2]
    return [i for i in registry() if i.startswith(lesson + ".")] if lesson.isdigit() else []


def format_table(rows: list[tuple[str, str, str]]) -> str:
    w_id = max([len("exercise")] + [len(r[0]) for r in rows])
    lines = [f"{'exercise':<{w_id}}  {'status':<8}  details", f"{'-' * w_id}  {'-' * 8}  {'-' * 7}"]
    lines += [f"{i:<{w_id}}  {s:<8}  {d}" for i, s, d in rows]
    return "\n".join(lines)


def cmd_check(args) -> int:
    path = Path(args.notebook)
    if not path.is_file():
        print(f"course check: no such notebook: {path}", file=sys.stderr)
        return 2
    print(f"Running a copy of {path} (your file is not changed) ...", flush=True)
    nb = execute_copy(path, timeout=args.timeout, record=not args.no_record)
    results, errors = collect_results(nb)
    latest = {r["id"]: r for r in results}  # a check run twice: the last one counts
    rows = []
    for ex_id in dict.fromkeys([*latest, *expected_ids(path)]):  # notebook order
        if args.id and ex_id != args.id:
            continue
        r = latest.get(ex_id)
        if r is None:
            rows.append((ex_id, "missing", "no check cell ran (deleted, or an earlier error stopped it)"))
        else:
            detail = r.get("message", "") + (f"  Hint: {r['hint']}" if r.get("hint") else "")
            rows.append((ex_id, r["status"], detail))
    print(format_table(rows))
    n_pass = sum(r[1] == "passed" for r in rows)
    print(f"\n{n_pass} of {len(rows)} passed.")
    for e in errors:
        print(f"error in {e}")
    bad = errors or any(r[1] in ("failed", "missing") for r in rows)
    if args.strict:
        bad = bad or any(r[1] != "passed" for r in rows)
    return 1 if bad else 0


# ----------------------------------------------------------------------------- reset

def _ex_id(cell) -> str | None:
    from course_utils.course.build import exercise_tag

    course_meta = cell.get("metadata", {}).get("course", {})
    return course_meta.get("exercise") or exercise_tag(cell)


def reset_notebook(path: Path, ex_id: str, solutions_dir: Path | None = None, dry_run: bool = False,
                   now: _dt.datetime | None = None) -> tuple[Path | None, str]:
    """Replace the cells of exercise `ex_id` in `path` with freshly generated ones.

    Writes `NAME.bak-YYYYmmdd-HHMMSS.ipynb` next to `path` first. Returns (backup path or
    None for a dry run, unified diff of the change).
    """
    from course_utils.course.build import build_notebook

    path = Path(path)
    solutions_dir = Path(solutions_dir) if solutions_dir else _solutions_dir(path)
    sol_path = solutions_dir / path.name
    if not sol_path.is_file():
        raise FileNotFoundError(f"no solution notebook {sol_path} to regenerate {path.name} from")
    fresh = build_notebook(nbformat.read(sol_path, as_version=4), path.name)
    new_cells = [c for c in fresh.cells if _ex_id(c) == ex_id]
    if not new_cells:
        raise KeyError(f"exercise {ex_id!r} is not in {sol_path.name}")
    nb = nbformat.read(path, as_version=4)
    positions = [i for i, c in enumerate(nb.cells) if _ex_id(c) == ex_id]
    if positions:
        at = positions[0]
    else:  # the learner deleted the cells: put them back after the cell that precedes them in the source
        before = fresh.cells[fresh.cells.index(new_cells[0]) - 1].get("id") if fresh.cells.index(new_cells[0]) else None
        ids = [c.get("id") for c in nb.cells]
        at = ids.index(before) + 1 if before in ids else len(nb.cells)
    old_text = _cells_text([nb.cells[i] for i in positions])
    kept = [c for i, c in enumerate(nb.cells) if i not in set(positions)]
    at -= sum(1 for i in positions if i < at)
    nb.cells = kept[:at] + [copy.deepcopy(c) for c in new_cells] + kept[at:]
    diff = "\n".join(difflib.unified_diff(old_text.splitlines(), _cells_text(new_cells).splitlines(),
                                          f"{path.name} (yours)", f"{path.name} (fresh)", lineterm=""))
    if dry_run:
        return None, diff
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.stem}.bak-{stamp}.ipynb")
    n = 1
    while backup.exists():
        backup = path.with_name(f"{path.stem}.bak-{stamp}-{n}.ipynb")
        n += 1
    shutil.copy2(path, backup)
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return backup, diff


def _cells_text(cells) -> str:
    return "\n".join(f"--- {c.cell_type} cell\n{c.source}" for c in cells)


def _solutions_dir(path: Path) -> Path:
    root = progress.course_root(path.resolve().parent)
    if root is not None:
        return root / "solutions"
    return Path(__file__).resolve().parents[2] / "solutions"


def cmd_reset(args) -> int:
    path = Path(args.notebook)
    if not path.is_file():
        print(f"course reset: no such notebook: {path}", file=sys.stderr)
        return 2
    try:
        backup, diff = reset_notebook(path, args.id, dry_run=args.dry_run)
    except (FileNotFoundError, KeyError) as err:
        print(f"course reset: {err.args[0]}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(diff or "(no change)")
        print(f"\nDry run: {path} was not changed.")
        return 0
    print(f"Backup of your notebook: {backup}")
    print(f"Exercise {args.id} in {path} is back to its starting state.")
    print("If the notebook is open in JupyterLab, close it without saving and reopen it.")
    return 0


# ----------------------------------------------------------------------------- build, train, evaluate

def cmd_build(args, rest) -> int:
    from course_utils.course import build

    return build.main(rest)


def _reference_command(name: str, rest: list[str]) -> int:
    try:
        from course_utils.run import reference
    except ImportError as err:
        print(f"course {name}: the training code (course_utils.run.reference) is not available: {err}", file=sys.stderr)
        return 2
    fn = getattr(reference, f"{name}_main", None)
    if fn is None:
        print(f"course {name}: course_utils.run.reference has no {name}_main()", file=sys.stderr)
        return 2
    return int(fn(rest) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="course", description="Attention, step by step: exercises and progress.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("progress", help="show passed / total exercises per lesson")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("check", help="grade a notebook by running a copy of it")
    p.add_argument("notebook")
    p.add_argument("--id", help="show only this exercise")
    p.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell (default %(default)s)")
    p.add_argument("--strict", action="store_true", help="exit 1 unless every exercise passed")
    p.add_argument("--no-record", action="store_true", help="don't record the results in the progress file")
    p = sub.add_parser("reset", help="restore one exercise of a notebook (after a backup)")
    p.add_argument("notebook")
    p.add_argument("--id", required=True, help="exercise id, e.g. 04.attention")
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    for name, text in (("build", "generate exercises/ from solutions/ (--check: verify only)"),
                       ("train", "train the reference model"), ("evaluate", "evaluate a trained model")):
        sub.add_parser(name, help=text, add_help=False)
    if argv and argv[0] in ("build", "train", "evaluate"):
        if argv[0] == "build":
            return cmd_build(None, argv[1:])
        return _reference_command(argv[0], argv[1:])
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return {"progress": cmd_progress, "check": cmd_check, "reset": cmd_reset}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
