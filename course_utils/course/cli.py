"""course layer · the `course` command line.

    course progress [--json]                       passed / total per lesson, with a bar
    course check exercises/NN_name.ipynb           grade a notebook: run a *copy*, print a table
    course reset exercises/NN_name.ipynb --id ID   restore one exercise (backup first)
    course build [--check] [--root DIR]            generate exercises/ from solutions/
    course train ... / course evaluate ...         train / evaluate the reference model
    course --version

Every option is checked before any work starts or any file is touched: a bad value is an
argparse error (exit status 2) that names the option.

Grading is `course_utils.course.grading`, resetting `course_utils.course.reset`; this module
parses the command line and prints what they return.

Progress: `course check` and `course reset` record results only for the course's own
exercise notebook (`exercises/NN_name.ipynb` in the course folder). A copy (a scratch
notebook, `04_self_attention-Copy1.ipynb`) is graded and reset the same way, but never
changes the recorded progress of the original exercise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path


from course_utils.course import grading, progress, reset
from course_utils.course.grading import CELL_TIMEOUT
from course_utils.course.notebook import NotebookError

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


# ----------------------------------------------------------------------------- check

def cmd_check(args) -> int:
    path = args.notebook
    try:
        nb = grading.read_notebook(path)
    except NotebookError as err:
        print(f"course check: {err}", file=sys.stderr)
        return 2
    try:
        expected, _, _ = grading.expected_exercises(path, nb)
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
    report = grading.grade(path, timeout=args.timeout, nb=nb)
    for note in report.notes:
        print(f"note: {note}")
    graded = [r for r in report.rows if r[1] not in ("timeout", "died")]
    rows = report.rows
    if args.id:
        rows = [r for r in rows if r[0] == args.id or r[1] in ("timeout", "died")]
    print(grading.format_table(rows))
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
    target = grading.canonical_progress_file(path, nb)
    if target is None:
        name = Path(str(grading.nbformat_course.generated_from(nb) or "exercises/NN_name.ipynb")).name
        print(f"\nNot recorded in your progress: {path} is not the course's exercises/{name} "
              f"(a copy is graded, but only the exercise notebook itself updates your progress).")
        return
    for ex_id, status, _ in rows:  # `notebook`: not the notebook a `!course check` may run from
        progress.record(ex_id, status, path=target, notebook=path.resolve())
    print(f"\nRecorded in {target}.")


# ----------------------------------------------------------------------------- reset

def cmd_reset(args) -> int:
    path = args.notebook
    try:
        result = reset.reset_notebook(path, args.id, dry_run=args.dry_run)
    except reset.ResetError as err:
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
