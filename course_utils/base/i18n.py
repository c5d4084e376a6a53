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
"""

from __future__ import annotations

import os
import string
from typing import Any, Callable

__all__ = ["Msg", "msg", "translate", "language", "LANGUAGES", "register_catalogue"]

LANGUAGES = ("en", "zh")  # English (the source) and Simplified Chinese
_FORMATTER = string.Formatter()


class Msg(str):
    """An English message made from `template` and `fields`; see the module docstring."""

    __slots__ = ("template", "fields", "parts")

    def __new__(cls, template: str, /, **fields: Any) -> "Msg":
        text = _FORMATTER.vformat(template, (), fields) if fields else template
        self = super().__new__(cls, text)
        self.template, self.fields, self.parts = template, fields, None
        return self

    @classmethod
    def join(cls, parts) -> "Msg":
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
    """The language to show messages in: the COURSE_LANG environment variable ("en" or "zh"),
    else English."""
    lang = os.environ.get("COURSE_LANG", "").strip().lower()
    if lang.startswith("zh"):
        return "zh"
    return "en"
