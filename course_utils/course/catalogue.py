"""course layer · the message catalogue of the Chinese edition: every `msg("...")` template of
the package and every exercise title, with its Chinese form, in `course_utils/locale/zh/course.po`.

    python -m course_utils.course.catalogue update       # add new templates (empty), retire gone ones
    python -m course_utils.course.catalogue update --defer-new   # ... and list the new ones as deferred
    python -m course_utils.course.catalogue check        # exit 1 on any problem below
    python -m course_utils.course.catalogue stats        # how many templates, how many translated

The templates are found by reading the package's source (an AST scan, nothing is imported):
calls `msg("literal", ...)` / `Msg("literal", ...)` and the title of `@exercise("NN.name", "Title")`.
A template that changed becomes a fuzzy entry that keeps its old translation and the old
English (`#| msgid`), for the translator to revise; a fuzzy entry is not used.

`check` fails when a template has no Chinese form (unless it is listed in the deferred file
`translations/zh/catalogue-untranslated.txt`, which may only shrink: a listed template that is
translated or gone is an error too), when a translation's `{fields}` differ from its
template's, when an active catalogue entry is no longer in the package, and on `msg(...)`
calls whose template is not a literal (they cannot be translated). Strict mode, once every
template is translated: delete the deferred file.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path

import polib

from course_utils.base.i18n import catalogue_path

PACKAGE = Path(__file__).resolve().parents[1]
DEFERRED = "translations/{lang}/catalogue-untranslated.txt"
HEADER = {
    "Project-Id-Version": "attention-course",
    "Language": "zh_CN",
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
}


@dataclass
class Template:
    text: str
    kind: str  # "message" or "exercise title"
    where: list[tuple[str, int]] = field(default_factory=list)  # (file relative to the package, line)


def scan(package: Path = PACKAGE) -> tuple[dict[str, Template], list[str]]:
    """{template: Template} for every literal `msg`/`Msg` template and exercise title under
    `package`, and the places where `msg` is called with a template that is not a literal."""
    found: dict[str, Template] = {}
    not_literal: list[str] = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).as_posix()
        if rel == "course_utils/base/i18n.py":  # defines msg; its docstring's examples are not messages
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (SyntaxError, UnicodeDecodeError) as err:
            not_literal.append(f"{rel}: cannot be read for messages ({type(err).__name__}: {err})")
            continue
        forwarders = _forwarders(tree)  # helpers such as `def bad(template, **f): ... msg(template, **f)`
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else \
                node.func.attr if isinstance(node.func, ast.Attribute) else None
            if name in ("msg", "Msg") or name in forwarders:
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    _add(found, arg.value, "message", rel, node.lineno)
                elif name in ("msg", "Msg") and _forwarded(tree, node):
                    continue
                else:
                    not_literal.append(f"{rel}:{node.lineno}: `{name}(...)` needs a literal template "
                                       f"(put the changing parts in fields)")
            elif name == "exercise":
                title = node.args[1] if len(node.args) > 1 else \
                    next((k.value for k in node.keywords if k.arg == "title"), None)
                if isinstance(title, ast.Constant) and isinstance(title.value, str):
                    _add(found, title.value, "exercise title", rel, node.lineno)
    return found, not_literal


def _forwarders(tree) -> set[str]:
    """Functions whose first parameter is handed to `msg` as its template."""
    names = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.args.args:
            first = fn.args.args[0].arg
            if any(isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id in ("msg", "Msg")
                   and c.args and isinstance(c.args[0], ast.Name) and c.args[0].id == first for c in ast.walk(fn)):
                names.add(fn.name)
    return names


def _forwarded(tree, call) -> bool:
    """Whether `call` (a msg call) passes on the first parameter of the function around it."""
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.args.args and call in ast.walk(fn):
            arg = call.args[0] if call.args else None
            if isinstance(arg, ast.Name) and arg.id == fn.args.args[0].arg:
                return True
    return False


def _add(found, text, kind, rel, line):
    if not text:
        return
    entry = found.setdefault(text, Template(text, kind))
    entry.where.append((rel, line))


def fields_of(template: str) -> list[tuple[str, str, str]] | None:
    """The sorted (name, conversion, format spec) of every replacement field; None if the text
    is not a valid format string."""
    try:
        return sorted((name, conv or "", spec or "") for _, name, spec, conv in string.Formatter().parse(template)
                      if name is not None)
    except ValueError:
        return None


def load(lang: str = "zh") -> polib.POFile:
    path = catalogue_path(lang)
    if not path.exists():
        po = polib.POFile(wrapwidth=0)
        po.metadata = dict(HEADER)
        return po
    po = polib.pofile(str(path), wrapwidth=0)
    return po


def deferred_path(root: Path, lang: str = "zh") -> Path:
    return root / DEFERRED.format(lang=lang)


def read_deferred(root: Path, lang: str = "zh") -> list[str] | None:
    """The deferred templates (one per line, as Python string literals), or None without a file."""
    path = deferred_path(root, lang)
    if not path.exists():
        return None
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(ast.literal_eval(line.strip()))
    return out


def write_deferred(root: Path, items: list[str], lang: str = "zh") -> None:
    lines = ["# Templates of course_utils/locale/zh/course.po still without a Chinese form. This list may only",
             "# shrink: translate an entry, then delete its line (`catalogue check` says when). One Python",
             "# string literal per line. When it is empty, delete the file: the check is then strict."]
    deferred_path(root, lang).parent.mkdir(parents=True, exist_ok=True)
    deferred_path(root, lang).write_text("\n".join(lines + [repr(t) for t in sorted(items)]) + "\n", encoding="utf-8")


def update(lang: str = "zh", defer_new: bool = False, root: Path | None = None) -> list[str]:
    """Bring the catalogue in step with the package; returns what changed, one line each."""
    root = root or PACKAGE.parent
    templates, _ = scan()
    po = load(lang)
    changes = []
    live = {e.msgid: e for e in po if not e.obsolete}
    retired = [e for e in po if e.obsolete]
    gone = [e for t, e in live.items() if t not in templates]
    new_entries = []
    for text, tpl in templates.items():
        entry = live.get(text)
        if entry is None:
            entry = polib.POEntry(msgid=text, msgstr="")
            old = difflib.get_close_matches(text, [e.msgid for e in gone + retired if e.msgstr], n=1, cutoff=0.8)
            if old:
                prev = next(e for e in gone + retired if e.msgid == old[0])
                entry.msgstr, entry.previous_msgid = prev.msgstr, prev.msgid
                entry.flags.append("fuzzy")
                changes.append(f"fuzzy (changed template, old translation kept): {text[:70]!r}")
            else:
                changes.append(f"new: {text[:70]!r}")
            new_entries.append(text)
        entry.comment = tpl.kind
        entry.occurrences = [(f, str(n)) for f, n in tpl.where]
        live[text] = entry
    for e in gone:
        changes.append(f"retired (no longer in the package): {e.msgid[:70]!r}")
        e.obsolete = True
    out = polib.POFile(wrapwidth=0)
    out.metadata = dict(HEADER)
    out.header = "Chinese (Simplified) messages of course_utils: see course_utils/course/catalogue.py."
    for text in sorted(templates, key=lambda t: (templates[t].where[0], t)):
        out.append(live[text])
    kept_retired = {e.msgid: e for e in retired + gone if e.msgstr and e.msgid not in templates}
    for e in kept_retired.values():
        e.obsolete = True
        out.append(e)
    path = catalogue_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save(str(path))
    if defer_new:
        deferred = set(read_deferred(root, lang) or [])
        deferred |= {t for t in new_entries if not live[t].msgstr or "fuzzy" in live[t].flags}
        deferred &= set(templates)
        write_deferred(root, sorted(deferred), lang)
    return changes


def problems(lang: str = "zh", root: Path | None = None, templates: dict | None = None,
             po: polib.POFile | None = None, deferred: list[str] | None = None) -> list[str]:
    """Everything `check` reports (empty when the catalogue is complete and consistent).
    `templates`, `po` and `deferred` default to the package's, the catalogue and the deferred file."""
    root = root or PACKAGE.parent
    not_literal = []
    if templates is None:
        templates, not_literal = scan()
    po = load(lang) if po is None else po
    out = list(not_literal)
    live = {e.msgid: e for e in po if not e.obsolete}
    deferred_set = set(read_deferred(root, lang) or [] if deferred is None else deferred)
    for text, tpl in templates.items():
        entry = live.get(text)
        where = f"{tpl.where[0][0]}:{tpl.where[0][1]}"
        done = entry is not None and entry.msgstr and "fuzzy" not in entry.flags
        if not done and text not in deferred_set:
            why = "no entry (run `python -m course_utils.course.catalogue update`)" if entry is None else \
                "fuzzy: its template changed, revise the translation" if "fuzzy" in entry.flags else "untranslated"
            out.append(f"{where}: {tpl.kind} {text!r} has no Chinese form: {why}")
        if done:
            want, got = fields_of(text), fields_of(entry.msgstr)
            if got is None:
                out.append(f"{where}: the translation of {text!r} is not a valid template "
                           f"(a lone {{ or }}? write {{{{ and }}}}): {entry.msgstr!r}")
            elif want is not None and want != got:
                out.append(f"{where}: the translation of {text!r} has fields {_names(got)}, "
                           f"the template has {_names(want)}")
        if done and text in deferred_set:
            out.append(f"{DEFERRED.format(lang=lang)}: {text!r} is translated now: delete its line")
    for text in live:
        if text not in templates:
            path = catalogue_path(lang)
            shown = path.relative_to(root) if path.is_relative_to(root) else path
            out.append(f"{shown}: entry {text!r} is no longer in the package "
                       "(run `python -m course_utils.course.catalogue update`)")
    for text in deferred_set - set(templates):
        out.append(f"{DEFERRED.format(lang=lang)}: {text!r} is no longer in the package: delete its line")
    return out


def _names(fields) -> str:
    return ", ".join("{" + n + (f"!{c}" if c else "") + (f":{s}" if s else "") + "}" for n, c, s in fields) or "none"


def stats(lang: str = "zh") -> tuple[int, int]:
    """(templates in the package, templates with a Chinese form)."""
    templates, _ = scan()
    live = {e.msgid: e for e in load(lang) if not e.obsolete}
    done = sum(1 for t in templates if t in live and live[t].msgstr and "fuzzy" not in live[t].flags)
    return len(templates), done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.course.catalogue",
                                     description="The message catalogue of the Chinese edition.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("update", help="add new templates, mark changed ones fuzzy, retire gone ones")
    up.add_argument("--defer-new", action="store_true",
                    help="list the new untranslated templates in the deferred file (the check then allows them)")
    sub.add_parser("check", help="exit 1 on a missing translation, a field mismatch or an obsolete entry")
    sub.add_parser("stats", help="count templates and translations")
    args = parser.parse_args(argv)
    if args.command == "update":
        for line in update(defer_new=args.defer_new):
            print(line)
        total, done = stats()
        print(f"{catalogue_path('zh')}: {done} of {total} templates translated")
        return 0
    if args.command == "stats":
        total, done = stats()
        print(f"{done} of {total} templates translated")
        return 0
    found = problems()
    for p in found:
        print(f"error: {p}", file=sys.stderr)
    total, done = stats()
    print(f"catalogue: {done} of {total} templates translated; {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
