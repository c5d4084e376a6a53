"""course layer · the `course` command line: argument types, the parser, and dispatch to the
engines (`grading` for check, `reset`, `build`, `progress`, `run.reference` for train and
evaluate), printing what they return.

    course [--lang {en,zh}] COMMAND ...
    course progress [--json]                       passed / total per lesson, with a bar
    course check exercises/NN_name.ipynb           grade a notebook: run a *copy*, print a table
    course reset exercises/NN_name.ipynb --id ID   restore one exercise (backup first)
    course build [--check] [--force] [--root DIR]  generate exercises/ from solutions/
    course train ... / course evaluate ...         train / evaluate the reference model
    course --version

Every option is checked before any work starts or any file is touched: a bad value is an
argparse error (exit status 2) that names the option.

Language: `--lang` (default: $COURSE_LANG, else the locale: $LC_ALL, $LC_MESSAGES or $LANG
starting with `zh`, else English) is put in $COURSE_LANG before anything runs, so the lines
printed here and the kernels a command starts speak it.

Progress: `course check` and `course reset` record results only for the course's own
exercise notebook (`exercises/NN_name.ipynb` in the course folder). A copy (a scratch
notebook, `04_self_attention-Copy1.ipynb`) is graded and reset the same way, but never
changes the recorded progress of the original exercise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path

from course_utils.base.i18n import LANGUAGES, command_language, edition_of, join_list, msg, translate
from course_utils.course import build, grading, progress, reset
from course_utils.course import notebook as nbformat_course
from course_utils.course.grading import CELL_TIMEOUT
from course_utils.course.notebook import NotebookError

MAX_TIMEOUT = 24 * 3600
MAX_THREADS = 256
MAX_SEED = 2**32 - 1  # set_seed also seeds NumPy, whose seeds are 32-bit
MAX_STEPS = 1_000_000  # ~140x the recipe's 7,000 steps: a number that is not a typo


def _say(text: str, error: bool = False) -> None:
    """Print a learner-facing line in the learner's language."""
    print(translate(text), file=sys.stderr if error else sys.stdout, flush=True)


# ----------------------------------------------------------------------------- language

def default_language(environ=None) -> str:
    """--lang's default: $COURSE_LANG if set, else the locale (the first of $LC_ALL,
    $LC_MESSAGES, $LANG that is set; one starting with `zh` means Chinese), else English."""
    environ = os.environ if environ is None else environ
    for name in ("COURSE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "").strip().lower()
        if value:
            return "zh" if value.startswith("zh") else "en"
    return "en"


def _global_options(argv: list[str]) -> tuple[str | None, int]:
    """(the value of a --lang given before the command, the index of the command in argv)."""
    lang, i = None, 0
    while i < len(argv) and argv[i].startswith("-"):
        if argv[i] == "--lang" and i + 1 < len(argv):
            lang, i = argv[i + 1], i + 2
        elif argv[i].startswith("--lang="):
            lang, i = argv[i].split("=", 1)[1], i + 1
        else:
            i += 1
    return lang, i


# ----------------------------------------------------------------------------- argument types

def _bad(template: str, **fields) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(translate(msg(template, **fields)))


def _int_at_least(low: int, high: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise _bad("expected a whole number, got {text}", text=repr(text)) from None
        if value < low:
            raise _bad("must be at least {low}, got {value}", low=low, value=value)
        if high is not None and value > high:
            raise _bad("must be at most {high}, got {value}", high=high, value=value)
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


_threads = _int_at_least(1, MAX_THREADS)


def _finite_float(low: float | None = None, strict: bool = False, high: float | None = None):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise _bad("expected a number, got {text}", text=repr(text)) from None
        if not math.isfinite(value):
            raise _bad("must be a finite number, got {text}", text=repr(text))
        if low is not None and strict and value <= low:
            raise _bad("must be greater than {low:g}, got {text}", low=low, text=text)
        if low is not None and not strict and value < low:
            raise _bad("must be at least {low:g}, got {text}", low=low, text=text)
        if high is not None and value > high:
            raise _bad("must be at most {high:g}, got {text}", high=high, text=text)
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
            raise _bad("{path}: not a usable path ({reason})", path=text[:80] + ("..." if len(text) > 80 else ""),
                       reason=getattr(err, "strerror", None) or str(err)) from None
    wrapped.__name__ = parse.__name__
    return wrapped


def _no_broken_link(text: str, path: Path) -> None:
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise _bad("{path}: a symbolic link that loops or points nowhere", path=text) from None


def _exercise_id(text: str) -> str:
    """--id: an exercise id such as 04.attention (an empty one would silently mean "all")."""
    if not text.strip():
        raise _bad("expected an exercise id such as 04.attention, got an empty string")
    return text.strip()


@_path_type
def _existing_file(text: str) -> Path:
    if not text.strip():
        raise _bad("expected a file path, got an empty string")
    path = Path(text).expanduser()
    if not path.exists():
        raise _bad("{path}: no such file", path=text)
    if path.is_dir():
        raise _bad("{path}: is a folder, not a file", path=text)
    if not path.is_file():  # /dev/zero, a pipe: reading would never end
        raise _bad("{path}: not a regular file (a device, pipe or socket)", path=text)
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
        raise _bad("{path}: expected a file path, not a folder", path=repr(text))
    path = Path(text).expanduser()
    _no_broken_link(text, path)
    if path.is_dir():
        raise _bad("{path}: is a folder; give a file path such as {example}", path=text,
                   example=str(Path(text) / "model.pt"))
    if path.exists() and not path.is_file():
        raise _bad("{path}: not a regular file (a device, pipe or socket)", path=text)
    if path.exists() and not os.access(path, os.W_OK):
        raise _bad("{path}: the file cannot be written", path=text)
    if path.is_file() and not _looks_like_checkpoint(path):
        raise _bad("{path}: exists and is not a checkpoint (not written by torch.save); it is never replaced. "
                   "Choose another --out path", path=text)
    folder = path.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise _bad("{path}: {folder} is a file, so no folder can be made there", path=text, folder=str(folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _bad("{path}: the folder {folder} cannot be written", path=text, folder=str(folder))
    try:  # os.access says yes for root even on read-only file systems (/proc, a read-only mount)
        fd, probe = tempfile.mkstemp(prefix=".course-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise _bad("{path}: the folder {folder} cannot be written ({reason})", path=text, folder=str(folder),
                   reason=err.strerror or str(err)) from None
    return path


def _help(text: str) -> str:
    """Help text that argparse will %-format: keep literal percent signs."""
    return text.replace("%", "%%")


def _split_names() -> tuple[str, ...]:
    """`course evaluate --split` choices: the corpus's splits plus the reference's 'val'."""
    from course_utils.corpus.data import SPLIT_NAMES

    return tuple(dict.fromkeys([*SPLIT_NAMES, "val"]))


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
        raise _bad("invalid choice: {text} (choose from cpu, cuda, mps)", text=repr(text))
    if not _device_available(text):
        raise _bad("{device} is not available here (this torch build or machine has no {device} device); use cpu, "
                   "or leave --device out to pick the fastest present", device=text)
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
    _say(msg("Progress ({path}):", path=str(progress.progress_path())))
    print(progress.format_summary({nn: lesson for nn, lesson in s.items() if lesson["total"]}))
    return 0


# ----------------------------------------------------------------------------- check

def _error_text(err: Exception):
    """The message of an error raised with one `msg(...)` (kept translatable), else its text."""
    return err.args[0] if len(err.args) == 1 and isinstance(err.args[0], str) else str(err)


def cmd_check(args) -> int:
    path = args.notebook
    if os.environ.get(grading.JUDGED) == "1":
        _say(msg("course check: this notebook is being graded by course check; it cannot grade a notebook "
                 "itself."), error=True)
        return 2
    try:
        nb = nbformat_course.read(path)
        expected, _, _ = grading.expected_exercises(path, nb)  # NotebookError: its solution is broken
    except NotebookError as err:
        _say(msg("course check: {error}", error=_error_text(err)), error=True)
        return 2
    if not expected:
        _say(msg("course check: {path} has no graded exercises (no check cells and no exercise list in its "
                 "metadata): nothing to grade.", path=str(path)), error=True)
        return 1
    if args.id and args.id not in expected:
        _say(msg("course check: exercise {id} is not in {path}; its exercises are: {ids}", id=repr(args.id),
                 path=str(path), ids=join_list(expected)), error=True)
        return 2
    _say(msg("Running a copy of {path} (your file is not changed) ...", path=str(path)))
    report = grading.grade(path, timeout=args.timeout, nb=nb)
    for note in report.notes:
        _say(msg("note: {note}", note=note))
    graded = [r for r in report.rows if r[1] not in ("timeout", "died")]
    rows = report.rows
    if args.id:
        rows = [r for r in rows if r[0] == args.id or r[1] in ("timeout", "died")]
    print(grading.format_table(rows))
    shown = [r for r in rows if r[1] not in ("timeout", "died")]
    n_pass = sum(r[1] == "passed" for r in shown)
    _say(msg("\n{passed} of {total} passed.", passed=n_pass, total=len(shown)))
    for e in report.errors:
        _say(msg("error in {where}", where=e))
    if not args.no_record:
        _record(path, nb, [r for r in graded if r[1] in progress.STATUSES])
    bad = bool(report.errors or report.stopped) or any(r[1] not in ("passed", "pending") for r in rows)
    if args.strict:
        bad = bad or any(r[1] != "passed" for r in rows)
    return 1 if bad else 0


def _record(path: Path, nb, rows) -> None:
    target = progress.file_for(path, nb)
    if target is None:
        name = Path(str(nbformat_course.generated_from(nb) or "exercises/NN_name.ipynb")).name
        _say(msg("\nNot recorded in your progress: {path} is not the course's exercises/{name} (a copy is graded, "
                 "but only the exercise notebook itself updates your progress).", path=str(path), name=name))
        return
    try:  # a link the graded notebook may have made: its results never overwrite a notebook
        real = Path(target).resolve()
    except (OSError, RuntimeError):
        real = Path(target)
    if real.suffix == ".ipynb":
        _say(msg("\nNot recorded in your progress: {path} leads to the notebook {target}, which a progress file "
                 "must never replace. Delete {path} (your next check makes a new one).", path=str(target),
                 target=str(real)))
        return
    for ex_id, status, _ in rows:
        progress.save_result(ex_id, status, path=target)
    _say(msg("\nRecorded in {path}.", path=str(target)))


# ----------------------------------------------------------------------------- reset

def cmd_reset(args) -> int:
    path = args.notebook
    try:
        result = reset.reset_notebook(path, args.id, dry_run=args.dry_run)
    except reset.ResetError as err:
        _say(msg("course reset: {error}", error=err.args[0]), error=True)
        return 2
    where = str(result.target)
    if result.target != path:
        _say(msg("{path} is a link to {target}: resetting {target}.", path=str(path), target=where))
    if args.dry_run:
        print(result.diff or translate(msg("(no change)")))
        _say(msg("\nDry run: {path} was not changed.", path=where))
        return 0
    if result.backup is None:
        _say(msg("Exercise {id} in {path} is already in its starting state: nothing changed.", id=args.id, path=where))
        return 0
    _say(msg("Backup of your notebook: {path}", path=str(result.backup)))
    _say(msg("Exercise {id} in {path} is back to its starting state.", id=args.id, path=where))
    if result.kept:
        _say(msg("{n} other cells of exercise {id} (copies you made) were kept as they are.", n=result.kept,
                 id=args.id) if result.kept > 1 else
             msg("1 other cell of exercise {id} (a copy you made) was kept as it is.", id=args.id))
    if result.progress_file is not None:
        _say(msg("Your progress now shows {id} as pending ({path}).", id=args.id, path=str(result.progress_file)))
    else:
        _say(msg("This notebook is a copy, so your recorded progress is unchanged."))
    _say(msg("If the notebook is open in JupyterLab, close it without saving and reopen it."))
    return 0


# ----------------------------------------------------------------------------- build, train, evaluate

def cmd_build(args) -> int:
    return build.run(root=args.root, check=args.check, force=args.force)


def cmd_train(args) -> int:
    from course_utils.run import reference

    return int(reference.train_command(
        out=args.out, steps=args.steps, n_train=args.n_train, seed=args.seed, eval_every=args.eval_every,
        stop_at_target=args.stop_at_target, threads=args.threads, device=args.device, eval_limit=args.eval_limit,
        progress=not args.no_progress, command="course train " + " ".join(args.argv)) or 0)


def cmd_evaluate(args) -> int:
    from course_utils.run import reference

    return int(reference.evaluate_command(
        checkpoint=args.checkpoint, split=args.split, limit=args.limit, beam_size=args.beam_size,
        length_penalty=args.length_penalty, threads=args.threads) or 0)


def _text(template: str, **fields) -> str:
    """A message (help text, description) in the language the command speaks."""
    return translate(msg(template, **fields))


class _Parser(argparse.ArgumentParser):
    """argparse's parser whose help ends its section titles the way the language does
    ("选项：" in Chinese; argparse itself always writes "options:")."""

    def format_help(self) -> str:
        text = super().format_help()
        if command_language() == "en":
            return text
        return re.sub(r"(?m)^(\S.*[^\x00-\x7f].*):$", r"\1：", text)  # a translated title: a full-width colon


def build_parser() -> argparse.ArgumentParser:
    """The `course` parser, its help texts in the command's language (call it inside
    `argparse_in(lang)` for argparse's own words: usage, options, errors)."""
    from course_utils.run import reference
    from course_utils.run.decoding import MAX_BEAM_SIZE as MAX_BEAM
    from course_utils.run.decoding import MAX_LENGTH_PENALTY
    from course_utils.run.reference import MAX_TRAIN_PAIRS

    parser = _Parser(prog="course", description=_text("Attention, step by step: exercises and progress."))
    parser.add_argument("--version", action="version", version=f"course {_version()}",
                        help=_text("show program's version number and exit"))
    parser.add_argument("--lang", choices=LANGUAGES, default=None,
                        help=_text("language of the messages (default: $COURSE_LANG, else the edition of the "
                                   "notebook given, else the locale, else en)"))
    sub = parser.add_subparsers(dest="command", metavar=_text("COMMAND"))

    p = sub.add_parser("progress", help=_text("show passed / total exercises per lesson"))
    p.add_argument("--json", action="store_true", help=_text("machine-readable output"))

    p = sub.add_parser("check", help=_text("grade a notebook by running a copy of it"))
    p.add_argument("notebook", type=_existing_file, help=_text("the notebook to grade (it is only read)"))
    p.add_argument("--id", type=_exercise_id, help=_text("show only this exercise"))
    p.add_argument("--timeout", type=_int_at_least(1, MAX_TIMEOUT), default=CELL_TIMEOUT,
                   help=_text("whole seconds each cell may run (at least 1; default %(default)s)"))
    p.add_argument("--strict", action="store_true", help=_text("exit 1 unless every exercise passed"))
    p.add_argument("--no-record", action="store_true", help=_text("don't record the results in the progress file"))

    p = sub.add_parser("reset", help=_text("restore one exercise of an exercise notebook (after a backup)"))
    p.add_argument("notebook", type=_existing_file,
                   help=_text("an exercises/NN_name.ipynb notebook, or a copy of one"))
    p.add_argument("--id", type=_exercise_id, required=True, help=_text("exercise id, e.g. 04.attention"))
    p.add_argument("--dry-run", action="store_true", help=_text("show what would change; write nothing"))

    p = sub.add_parser("build", help=_text("generate exercises/ from solutions/ (--check: verify only)"),
                       description=translate(build.DESCRIPTION))
    build.add_arguments(p)

    # parsed by course_utils.course.classroom itself (see main); listed here for `course --help`
    sub.add_parser("classroom", help=_text("teach a class: an nbgrader course from solutions/, an nbgitpuller "
                                           "link, the class's progress (classroom progress)"),
                   add_help=False)

    config, shipped, default_out = reference.REFERENCE_CONFIG, reference.REFERENCE_CHECKPOINT, \
        reference.DEFAULT_TRAIN_OUT
    p = sub.add_parser("train", help=_text("train the reference model"), description=_text(
        "Train the course's reference English->Chinese Transformer and write its checkpoint "
        "(weights, config, vocabularies, and the scores on the test and compositional splits)."))
    p.add_argument("--out", type=_output_file, default=str(default_out), help=_help(_text(
        "checkpoint file to write (default: {default}; an existing file is backed up first. "
        "Maintainers replace the shipped model with --out {shipped})", default=str(default_out), shipped=str(shipped))))
    p.add_argument("--steps", type=_int_at_least(1, MAX_STEPS), default=config.steps,
                   help=_text("training steps (default: {steps}; at most {most:,})", steps=config.steps,
                              most=MAX_STEPS))
    p.add_argument("--n-train", type=_int_at_least(1, MAX_TRAIN_PAIRS), default=config.n_train,
                   help=_text("training pairs (default: {n})", n=config.n_train))
    p.add_argument("--seed", type=_int_at_least(0, MAX_SEED), default=config.seed,
                   help=_text("seed for weights and batch order"))
    p.add_argument("--eval-every", type=_int_at_least(1), default=config.eval_every,
                   help=_text("evaluate on the validation sentences every N steps (default: {n})", n=config.eval_every))
    p.add_argument("--stop-at-target", action="store_true",
                   help=_help(_text("stop once validation exact match reaches {target:.0%}", target=config.target)))
    p.add_argument("--threads", type=_threads, default=2, help=_text("CPU threads for torch (default: 2)"))
    p.add_argument("--device", type=_device, default=None, metavar="{cpu,cuda,mps}",
                   help=_text("default: the fastest present"))
    p.add_argument("--eval-limit", type=_int_at_least(1), default=None,
                   help=_text("score only the first N test/compositional pairs at the end (default: all)"))
    p.add_argument("--no-progress", action="store_true", help=_text("no progress bar"))

    p = sub.add_parser("evaluate", help=_text("evaluate a trained model"), description=_text(
        "Evaluate a checkpoint on a split of the course corpus: sentence exact match and corpus BLEU."))
    p.add_argument("--checkpoint", type=_existing_file, default=str(shipped),
                   help=_text("checkpoint file (default: the shipped reference model)"))
    p.add_argument("--split", choices=_split_names(), default="test", help=_text("default: test"))
    p.add_argument("--limit", type=_int_at_least(1), default=None, help=_text("only the first N pairs of the split"))
    p.add_argument("--beam-size", type=_int_at_least(1, MAX_BEAM), default=1,
                   help=_text("1 = greedy decoding (default); at most {most}", most=MAX_BEAM))
    p.add_argument("--length-penalty", type=_finite_float(0, high=MAX_LENGTH_PENALTY), default=0.6,
                   help=_text("beam search's alpha, from 0 to {most:g} (default: 0.6)", most=MAX_LENGTH_PENALTY))
    p.add_argument("--threads", type=_threads, default=2, help=_text("CPU threads for torch (default: 2)"))
    return parser


# argparse's own words (usage line, section titles, its errors), as Python 3.11's argparse
# writes them, shown through the catalogue in the command's language.
_ARGPARSE_TEXTS = {str(m): m for m in (
    msg("usage: "), msg("positional arguments"), msg("options"), msg("show this help message and exit"),
    msg("show program's version number and exit"), msg("%(prog)s: error: %(message)s\n"),
    msg("the following arguments are required: %s"), msg("unrecognized arguments: %s"),
    msg("argument %(argument_name)s: %(message)s"), msg("invalid choice: %(value)r (choose from %(choices)s)"),
    msg("invalid %(type)s value: %(value)r"), msg("expected one argument"), msg("expected at most one argument"),
    msg("expected at least one argument"), msg("expected %s argument"), msg("expected %s arguments"),
    msg("not allowed with argument %s"), msg("ignored explicit argument %r"),
    msg("ambiguous option: %(option)s could match %(matches)s"),
    msg("unknown parser %(parser_name)r (choices: %(choices)s)"), msg("one of the arguments %s is required"))}


@contextlib.contextmanager
def argparse_in(lang: str):
    """argparse speaks `lang` inside the block: its module-level gettext functions (`_`,
    `ngettext`, looked up when a parser is made, prints help or fails) read the catalogue."""
    if lang == "en":
        yield
        return
    saved = argparse._, argparse.ngettext

    def gettext(text):
        return translate(_ARGPARSE_TEXTS[text], lang) if text in _ARGPARSE_TEXTS else text

    argparse._ = gettext
    argparse.ngettext = lambda singular, plural, n: gettext(singular if n == 1 else plural)
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved


def _notebook_argument(argv: list[str], at: int) -> str | None:
    """The notebook path of `course check` / `course reset` when it lies in an edition (zh/...)."""
    if argv[at:at + 1] not in (["check"], ["reset"]):
        return None
    return next((a for a in argv[at + 1:] if not a.startswith("-") and edition_of(Path(a).absolute())), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    option, at = _global_options(argv)
    # --lang, else $COURSE_LANG, else the edition of the notebook (zh/exercises/...), else the locale;
    # a --lang that is not a language is the parser's error below, in the language found without it
    lang = command_language(option if option in LANGUAGES else None, _notebook_argument(argv, at))
    os.environ["COURSE_LANG"] = lang  # kernels and other processes a command starts inherit it
    if argv[at:at + 2] == ["classroom", "progress"] and (option is None or option in LANGUAGES):
        from course_utils.course import class_progress

        return class_progress.main(argv[at + 2:])
    if argv[at:at + 1] == ["classroom"] and (option is None or option in LANGUAGES):
        from course_utils.course import classroom

        return classroom.main(argv[at + 1:])
    with argparse_in(lang):
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
    if args.command == "train":
        args.argv = argv[at + 1:]
    command = {"progress": cmd_progress, "check": cmd_check, "reset": cmd_reset, "build": cmd_build,
               "train": cmd_train, "evaluate": cmd_evaluate}[args.command]
    try:
        return command(args)
    except KeyboardInterrupt:
        _say(msg("\ncourse {command}: interrupted", command=args.command), error=True)
        return 130
    except BrokenPipeError:  # e.g. `course progress | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
