"""base layer · translatable messages: English is the source, other editions translate at display time.

Every text the package shows a learner (a grader's message or hint, a `course` command's
line, a plot's title) is written in English and marked with `msg`:

    HINT_SCALE = msg("Divide the scores by √d_k, the width of q and k.")
    raise Fail(msg("`{name}` has shape {got}, expected {want}.", name=name, got=got, want=want))

A `Msg` *is* the English string (a `str` subclass: compare, join, print it as usual) and
also remembers its template and fields, so `translate(text, "zh")` can show it from the
Chinese catalogue's template with the same fields (numbers, shapes and quoted code stay as
they are). Fields may themselves be `Msg`s; `+` of two messages keeps both translatable.
Plain strings are looked up as a whole; anything without a translation stays English.

Fields are formatted with the template's own format spec (`{x:.3g}`), so a translated
template must use the same field names; `tests/test_i18n.py` checks the catalogue for it.

The Chinese catalogue is `course_utils/locale/zh/course.po` (gettext, read with `polib` on the
first Chinese lookup); `python -m course_utils.course.catalogue update` brings it in step with
the package's `msg("...")` templates.

Which language a kernel shows (`language()`): the COURSE_LANG environment variable if set;
else the edition of the notebook being run, from its path: `<checkout>/zh/notebooks/...`,
`zh/exercises/...`, `zh/solutions/...` is Chinese. The path is the notebook's own
(JPY_SESSION_NAME, which Jupyter Server gives each kernel), else the kernel's working folder
(Jupyter, nbclient and nbval start a kernel in the notebook's folder). A command line picks
its language with `command_language(option, path)`, which also follows the locale (LANG).
"""

from __future__ import annotations

import os
import string
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polib

__all__ = ["Msg", "msg", "translate", "language", "LANGUAGES", "register_catalogue", "edition_of",
           "command_language", "catalogue_path", "EDITION_FOLDERS", "display_width", "columns", "join_list", "colon"]

LANGUAGES = ("en", "zh")  # English (the source) and Simplified Chinese
EDITION_FOLDERS = ("notebooks", "exercises", "solutions")  # an edition `zh/` holds these, like the checkout
_FORMATTER = string.Formatter()


class Msg(str):
    """An English message made from `template` and `fields`; see the module docstring."""

    __slots__ = ("template", "fields", "parts")

    def __new__(cls, template: str, /, **fields: Any) -> Msg:
        text = _FORMATTER.vformat(template, (), fields) if fields else template
        self = super().__new__(cls, text)
        self.template, self.fields, self.parts = template, fields, None
        return self

    @classmethod
    def join(cls, parts) -> Msg:
        """The concatenation of `parts` (strings or messages), each translated on its own."""
        parts = [p for p in parts if p != ""]
        self = super().__new__(cls, "".join(parts))
        self.template, self.fields, self.parts = None, {}, tuple(parts)
        return self

    def __add__(self, other):
        return Msg.join([self, other]) if isinstance(other, str) else NotImplemented

    def __radd__(self, other):
        return Msg.join([other, self]) if isinstance(other, str) else NotImplemented

    def __reduce__(self):  # pickling keeps the template (messages cross process borders)
        if self.parts is not None:
            return (Msg.join, (list(self.parts),))
        return (_remake, (self.template, self.fields))

    def translate(self, lang: str) -> str:
        if self.parts is not None:
            return "".join(translate(p, lang) for p in self.parts)
        template = _lookup(self.template, lang)
        fields = {k: translate(v, lang) if isinstance(v, str) else v for k, v in self.fields.items()}
        if template is None:
            template = self.template
        try:
            return _FORMATTER.vformat(template, (), fields) if self.fields else template
        except (KeyError, IndexError, ValueError):  # a broken translation must never hide the message
            return _FORMATTER.vformat(self.template, (), fields) if self.fields else self.template


def _remake(template, fields):
    return Msg(template, **fields)


def msg(template: str, /, **fields: Any) -> Msg:
    """Mark `template` as a translatable message and fill in `fields` (str.format syntax)."""
    return Msg(template, **fields)


# Catalogues: lang -> a function from an English template to its translation (or None).
_CATALOGUES: dict[str, Callable[[str], str | None]] = {}


def register_catalogue(lang: str, lookup: Callable[[str], str | None]) -> None:
    """Install the translation lookup of `lang` (called by the module that loads the catalogue)."""
    if lang not in LANGUAGES:
        raise ValueError(f"register_catalogue: unknown language {lang!r}; expected one of {LANGUAGES}")
    _CATALOGUES[lang] = lookup


def _lookup(text: str, lang: str) -> str | None:
    if lang == "en" or not text:
        return None
    lookup = _CATALOGUES.get(lang)
    return lookup(text) if lookup is not None else None


def translate(text: Any, lang: str | None = None) -> Any:
    """`text` in language `lang` (default: `language()`); English when there is no translation.
    Non-strings are returned unchanged."""
    lang = language() if lang is None else lang
    if not isinstance(text, str) or lang == "en":
        return text
    if isinstance(text, Msg):
        return text.translate(lang)
    found = _lookup(text, lang)
    return text if found is None else found


def language() -> str:
    """The language to show messages in (see the module docstring): COURSE_LANG ("en" or "zh"),
    else the edition of the running notebook (JPY_SESSION_NAME, then the working folder), else
    English."""
    explicit = _normal(os.environ.get("COURSE_LANG", ""))
    if explicit is not None:
        return explicit
    session = os.environ.get("JPY_SESSION_NAME", "")
    if session:
        return edition_of(session) or "en"
    try:
        here = os.getcwd()
    except OSError:  # the working folder was removed
        return "en"
    return edition_of(here) or "en"


def _normal(value: str) -> str | None:
    """"zh", "zh_CN.UTF-8", "zh-Hans" -> "zh"; "en", "C", "en_US" -> "en"; "" -> None."""
    value = value.strip().lower()
    if not value:
        return None
    return "zh" if value.startswith("zh") else "en"


def edition_of(path) -> str | None:
    """The edition a notebook path (or folder) belongs to: "zh" for a path inside
    `<checkout>/zh/` (beside the checkout's own `notebooks/`), or for a relative path through
    `zh/notebooks`, `zh/exercises` or `zh/solutions`; else None (the English checkout)."""
    try:
        p = Path(path)
    except TypeError:
        return None
    parts = p.parts
    for lang in LANGUAGES[1:]:
        if not p.is_absolute():
            if any(a == lang and b in EDITION_FOLDERS for a, b in zip(parts, parts[1:])):
                return lang
            continue
        for i, part in enumerate(parts):
            if part != lang:
                continue
            checkout = Path(*parts[:i])
            try:
                if (checkout / "notebooks").is_dir() and (checkout / lang).is_dir():
                    return lang
            except OSError:
                continue
    return None


def command_language(option: str | None = None, path=None) -> str:
    """The language of a `course` command: its `--lang` option, else COURSE_LANG, else the
    edition of the notebook it works on (`path`), else the locale (LC_ALL, LC_MESSAGES, LANG)."""
    for value in (option or "", os.environ.get("COURSE_LANG", "")):
        found = _normal(value)
        if found is not None:
            return found
    if path is not None and edition_of(Path(path).absolute()):
        return edition_of(Path(path).absolute())
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        found = _normal(os.environ.get(var, ""))
        if found is not None:
            return found
    return "en"


# ----------------------------------------------------------------------------- laying out translated text

def display_width(text: str) -> int:
    """The columns `text` takes in a terminal or a notebook's monospaced output: an East Asian
    wide or full-width character (every Chinese character, "：", "，") takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


_LIST_SEPARATORS = {"en": ", ", "zh": "，"}


_COLONS = {"en": ": ", "zh": "："}


def colon(lang: str | None = None) -> str:
    """What joins a label to its text in language `lang` (default `language()`): ": " in
    English, the full-width "：" (no space) in Chinese."""
    return _COLONS.get(language() if lang is None else lang, ": ")


def join_list(parts, lang: str | None = None) -> str:
    """`parts` (each already in language `lang`, default `language()`) joined as that language
    lists things: "a, b" in English, "a，b" in Chinese."""
    lang = language() if lang is None else lang
    return _LIST_SEPARATORS.get(lang, ", ").join(str(p) for p in parts)


def columns(rows, rule: bool = False, gap: str = "  ") -> str:
    """`rows` (sequences of strings, the first one the header) as aligned text columns: every
    column but the last padded to its widest cell by `display_width`, so Chinese lines up;
    `rule` puts a line of dashes under the header."""
    rows = [[str(cell) for cell in row] for row in rows]
    n = max((len(row) for row in rows), default=0)
    widths = [max((display_width(row[i]) for row in rows if i < len(row)), default=0) for i in range(n - 1)]
    if rule and rows:
        rows.insert(1, ["-" * max(w, 1) for w in widths] + ["-" * max(display_width(rows[0][-1]), 1)])

    def line(row):
        padded = [cell + " " * (widths[i] - display_width(cell)) if i < n - 1 else cell for i, cell in enumerate(row)]
        return gap.join(padded)
    return "\n".join(line(row) for row in rows)


# ----------------------------------------------------------------------------- the PO catalogues

def catalogue_path(lang: str) -> Path:
    """The gettext catalogue of `lang`: course_utils/locale/<lang>/course.po (package data)."""
    return Path(__file__).resolve().parents[1] / "locale" / lang / "course.po"


class _PoCatalogue:
    """Looks a template up in a PO file, read once on first use. Untranslated and fuzzy
    entries are not translations; a missing or unreadable file means "no translations"."""

    def __init__(self, path: Path):
        self.path, self.table = path, None

    def __call__(self, text: str) -> str | None:
        if self.table is None:
            self.table = self._read()
        return self.table.get(text)

    def _read(self) -> dict[str, str]:
        try:
            po = polib.pofile(str(self.path))
        except (OSError, ValueError):  # no file, a broken file: English
            return {}
        return {e.msgid: e.msgstr for e in po if e.msgstr and not e.obsolete and "fuzzy" not in e.flags}


for _lang in LANGUAGES[1:]:
    register_catalogue(_lang, _PoCatalogue(catalogue_path(_lang)))
