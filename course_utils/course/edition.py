"""course layer · the Chinese edition (中文版): `zh/` written from the English notebooks plus
translation data, never edited by hand.

    course build [--check]                              # also writes (checks) zh/, see below
    python -m course_utils.course.edition update [NB…]  # bring the PO files in step with the English
    python -m course_utils.course.edition status        # per notebook: translated, stale, missing cells

One source: `notebooks/NN_name.ipynb` and `solutions/NN_name.ipynb` stay the only notebooks
written by hand. Their Chinese text is translation data, one gettext PO file per notebook,
`translations/zh/notebooks/NN_name.po` and `translations/zh/solutions/NN_name.po`, one entry per
cell that has text: msgctxt = the English cell's id, msgid = the English cell's source,
msgstr = its Chinese; an extracted comment `#. markdown · sha256:…` (the cell type and a hash
of the English source). `course build` writes
    zh/notebooks/NN_name.ipynb   from the English lesson + its PO file
    zh/solutions/NN_name.ipynb   from the English solution + its PO file
    zh/exercises/NN_name.ipynb   from zh/solutions by the exercise generator (stubs in Chinese)
Markdown cells must all be translated. A code cell keeps the English code: its translation may
change only comments and string literals (same token stream otherwise, the same `# NBVAL_…` and
`### BEGIN/END SOLUTION`/`### STUB:` lines, the same `check(...)` calls, the same f-string
fields). Relative links are rewritten so that they work from `zh/`: lesson, exercise and
solution links stay inside the edition, anything else (images, docs) points back to the
checkout (README.md to README.zh-CN.md).

Outputs: the build keeps the stored outputs of every cell whose source did not change and
leaves other cells without output; a Chinese lesson or solution is executed in place like an
English one (`python scripts/nb.py run zh/notebooks/NN_name.ipynb`: its kernel starts in
`zh/notebooks`, so `check(...)` answers in Chinese). `--check` then requires an output wherever
the English cell has one, and the same numbers as the English in `# NBVAL_CHECK_OUTPUT` cells.

Drift is an error: `course build --check` fails when an English cell changed after its
translation was written (its msgid differs from today's English, or the entry is fuzzy), when a
markdown cell has no translation, when a code translation breaks the rules above, or when a
file in zh/ differs from what the build writes. Each problem names the notebook, the cell
(number and id) and shows the old and the new English as a unified diff.

Notebooks not translated yet are listed in `translations/zh/untranslated.txt` (a list that may
only shrink): without a PO file the edition holds a short Chinese page that links to the
English notebook (so every link of the edition works); with one, missing cells fall back to
English and are reported as notes, not errors. A notebook that is neither translated nor
listed is an error, and so is a listed one that is complete.
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import hashlib
import io
import posixpath
import re
import sys
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import polib

from course_utils.base.i18n import msg, translate
from course_utils.course import notebook as nbf

LANG = "zh"
SOURCES = (nbf.LESSONS, nbf.SOLUTIONS)  # translated; exercises are generated from the Chinese solutions
UNTRANSLATED = "translations/{lang}/untranslated.txt"
DOC_EDITIONS = {"README.md": "README.zh-CN.md"}  # English document -> its Chinese counterpart, where one exists
MARKER = re.compile(r"^\s*(# NBVAL_\w+|### BEGIN SOLUTION|### END SOLUTION|### STUB:.*)$")
HASH = re.compile(r"sha256:([0-9a-f]{12})")
PO_HEADER = {
    "Project-Id-Version": "attention-course",
    "Language": "zh_CN",
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
}


# ----------------------------------------------------------------------------- paths

def po_path(root: Path, rel: str, lang: str = LANG) -> Path:
    """translations/zh/notebooks/NN_name.po for the English notebook `rel` ('notebooks/NN_name.ipynb')."""
    folder, name = rel.split("/")
    return root / "translations" / lang / folder / (name[: -len(".ipynb")] + ".po")


def english_notebooks(root: Path) -> list[str]:
    """'notebooks/NN_name.ipynb' and 'solutions/NN_name.ipynb' of the checkout, in course order."""
    return [f"{folder}/{p.name}" for folder in SOURCES for p in sorted((root / folder).glob("[0-9][0-9]_*.ipynb"))]


def read_untranslated(root: Path, lang: str = LANG) -> list[str]:
    path = root / UNTRANSLATED.format(lang=lang)
    if not path.exists():
        return []
    return [line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.split("#")[0].strip()]


def source_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# ----------------------------------------------------------------------------- what has text

def _tokens(source: str):
    """The token stream of `source` with comments and string contents blanked, or None when it
    does not tokenize (IPython syntax, a syntax error). f-strings keep their fields, sorted."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    lines = source.splitlines(keepends=True)
    out, i = [], 0
    fstart = getattr(tokenize, "FSTRING_START", None)
    while i < len(toks):
        tok = toks[i]
        if tok.type in (tokenize.COMMENT, tokenize.NL):
            pass
        elif tok.type == fstart:  # Python 3.12+: an f-string is many tokens; take its text whole
            depth, j = 1, i + 1
            while j < len(toks) and depth:
                depth += {fstart: 1, tokenize.FSTRING_END: -1}.get(toks[j].type, 0)
                j += 1
            text = _slice(lines, tok.start, toks[j - 1].end)
            out.append(("STRING", _fstring_fields(text)))
            i = j
            continue
        elif tok.type == tokenize.STRING:
            out.append(("STRING", _fstring_fields(tok.string)))
        else:
            name = tokenize.tok_name[tok.type]
            out.append((name, "" if name in ("NEWLINE", "DEDENT", "ENDMARKER") else tok.string))
        i += 1
    return out


def _slice(lines, start, end) -> str:
    (r0, c0), (r1, c1) = start, end
    if r0 == r1:
        return lines[r0 - 1][c0:c1]
    return lines[r0 - 1][c0:] + "".join(lines[r0:r1 - 1]) + lines[r1 - 1][:c1]


def _fstring_fields(text: str):
    """The replacement fields of an f-string (sorted: a translation may reorder them); () for a
    plain string."""
    prefix = re.match(r"[A-Za-z]*", text).group(0).lower()
    if "f" not in prefix:
        return ()
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return (text,)
    return tuple(sorted(f"{ast.unparse(_blank(v.value))}!{v.conversion}:"
                        f"{ast.unparse(v.format_spec) if v.format_spec else ''}"
                        for v in ast.walk(node) if isinstance(v, ast.FormattedValue)))


def _blank(node):
    """`node` with the text of its string constants removed (that text may be translated)."""
    node = copy.deepcopy(node)
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            sub.value = ""
    return node


def has_text(cell) -> bool:
    """Whether a cell has anything to translate: markdown (and raw) text, or a code cell's
    comments and string literals."""
    source = nbf.cell_source(cell)
    if not source.strip():
        return False
    if cell.get("cell_type") != "code":
        return True
    try:
        return any(t.type in (tokenize.COMMENT, tokenize.STRING)
                   or tokenize.tok_name[t.type].startswith("FSTRING")
                   for t in tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return False


def _marker_key(line: str) -> str:
    """What must stay as in the English of a marker line: the whole line, except that a
    `### STUB: <code>  # comment` line keeps only its code (the stub the exercise shows), so
    its comment, which the learner reads, may be translated."""
    line = line.strip()
    if not line.startswith("### STUB:"):
        return line
    code = line[len("### STUB:"):]
    tokens = _tokens(code.strip())
    if tokens is None:  # not plain Python: it stays as it is
        return line
    return "### STUB: " + " ".join(text for kind, text in tokens if kind not in ("NEWLINE", "ENDMARKER"))


def code_problem(english: str, chinese: str) -> str | None:
    """Why `chinese` is not an allowed translation of the code cell `english` (None if it is)."""
    en, zh = _tokens(english), _tokens(chinese)
    if en is None:
        return None if english == chinese else \
            "the English cell is not plain Python (IPython syntax?), so its translation must equal it"
    if zh is None:
        return "the translation is not valid Python (it does not tokenize)"
    if en != zh:
        n = next((k for k, (a, b) in enumerate(zip(en, zh)) if a != b), min(len(en), len(zh)))
        got = zh[n][1] if n < len(zh) else "the end"
        want = en[n][1] if n < len(en) else "the end"
        what = "an f-string's {fields}" if "STRING" in (en[n:n + 1] or [("",)])[0][0] else "the code"
        return (f"{what} differs from the English (token {n + 1}: {got!r} where the English has {want!r}); "
                "only comments and the text of string literals may be translated")
    en_marks = [_marker_key(s) for s in english.splitlines() if MARKER.match(s)]
    zh_marks = [_marker_key(s) for s in chinese.splitlines() if MARKER.match(s)]
    if en_marks != zh_marks:
        return (f"the lines {en_marks} must stay as in the English (found {zh_marks}; "
                "only the comment after the code of a `### STUB:` line may be translated)")
    if nbf.check_calls(english) != nbf.check_calls(chinese):
        return "the check(...) calls differ from the English"
    return None


# ----------------------------------------------------------------------------- links

LINK = re.compile(r"(\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))|((?:src|href)=\")([^\"]+)(\")")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def link_target(target: str, rel_dir: str, root: Path, lang: str = LANG) -> str:
    """The link `target` of a cell in the English folder `rel_dir` ('notebooks'), as seen from
    the same folder of the edition (zh/notebooks)."""
    if not target or SCHEME.match(target) or target.startswith(("#", "/")):
        return target
    path, hash_, frag = target.partition("#")
    if not path:
        return target
    norm = posixpath.normpath(posixpath.join(rel_dir, path))
    if norm.startswith("../"):
        return target  # outside the checkout
    if norm.split("/")[0] in (nbf.EXERCISES, *SOURCES) and norm.endswith(".ipynb"):
        return target  # the edition has the same notebooks in the same folders: the link stays inside it
    if norm in DOC_EDITIONS and (root / DOC_EDITIONS[norm]).exists():
        norm, hash_, frag = DOC_EDITIONS[norm], "", ""  # its headings (anchors) are Chinese
    return posixpath.relpath(norm, posixpath.join(lang, rel_dir)) + hash_ + frag


def rewrite_links(text: str, rel_dir: str, root: Path, lang: str = LANG) -> str:
    def fix(m):
        if m.group(1):
            return m.group(1) + link_target(m.group(2), rel_dir, root, lang) + m.group(3)
        return m.group(4) + link_target(m.group(5), rel_dir, root, lang) + m.group(6)
    return LINK.sub(fix, text)


def links_of(text: str) -> Counter:
    return Counter(m.group(2) or m.group(5) for m in LINK.finditer(text))


ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")


# ----------------------------------------------------------------------------- problems

@dataclass
class Problem:
    """One thing a translator must fix (or, with `note`, may fix later)."""

    notebook: str  # the English notebook, 'notebooks/01_attention_intuition.ipynb'
    text: str
    cell: int | None = None
    cell_id: str | None = None
    diff: list[str] = field(default_factory=list)
    note: bool = False  # allowed for now (the notebook is listed in untranslated.txt)

    def __str__(self) -> str:
        where = self.notebook
        if self.cell is not None:
            where += f" cell {self.cell} (id {self.cell_id})"
        return "\n".join([f"{where}: {self.text}"] + [f"    {line}" for line in self.diff])


def english_diff(old: str, new: str) -> list[str]:
    return list(difflib.unified_diff(old.splitlines(), new.splitlines(), "English when translated",
                                     "English now", lineterm="", n=1))


# ----------------------------------------------------------------------------- building

@dataclass
class Counts:
    cells: int = 0         # cells with text
    translated: int = 0    # of which translated and current
    markdown: int = 0      # markdown cells
    markdown_done: int = 0


def translate_notebook(en: nbformat.NotebookNode, po: polib.POFile | None, rel: str, root: Path,
                       lang: str = LANG, allow_incomplete: bool = False):
    """(the edition's notebook, problems, counts) for the English notebook `en` read from `rel`."""
    nb = copy.deepcopy(en)
    nb.metadata.pop("widgets", None)  # the English run's widget state: the edition's own run writes its own
    meta = dict(nb.metadata.get("course", {}) if isinstance(nb.metadata.get("course"), dict) else {})
    meta.update({"edition": lang, "translated_from": rel})
    nb.metadata["course"] = meta
    entries = {e.msgctxt: e for e in (po or []) if not e.obsolete}
    problems, counts = [], Counts()
    rel_dir = rel.split("/")[0]
    seen_ids = set()
    for index, cell in enumerate(nb.cells):
        source = nbf.cell_source(cell)
        cid = cell.get("id")
        if not cid or cid in seen_ids:
            problems.append(Problem(rel, f"the English cell has {'no' if not cid else 'a duplicate'} id; "
                                         "give every cell its own id (nbformat 4.5)", index, cid))
            continue
        seen_ids.add(cid)
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
        if not has_text(cell):
            continue
        counts.cells += 1
        is_md = cell.cell_type != "code"
        counts.markdown += is_md
        entry = entries.get(cid)

        def problem(text, diff=()):
            if is_md or (entry is not None and entry.msgstr):
                problems.append(Problem(rel, text, index, cid, list(diff), note=allow_incomplete))

        translation = None
        if entry is None:
            if is_md:
                problem("no translation (run `python -m course_utils.course.edition update` and translate it)")
        elif entry.msgid != source:
            problem("stale: the English changed after it was translated (run `python -m "
                    "course_utils.course.edition update`, then revise the fuzzy entry)",
                    english_diff(entry.msgid, source))
        elif "fuzzy" in entry.flags:
            problem("stale (fuzzy): revise the translation for the new English, then remove the fuzzy flag",
                    english_diff(entry.previous_msgid or "", source))
        elif HASH.search(entry.comment or "") and HASH.search(entry.comment).group(1) != source_hash(entry.msgid):
            problem("the entry's msgid was edited by hand (its hash does not match); msgids come from the "
                    "English notebook only: run `python -m course_utils.course.edition update`")
        elif not entry.msgstr:
            if is_md:
                problem("not translated yet (empty msgstr)")
        elif not is_md:
            why = code_problem(source, entry.msgstr)
            if why:
                problem(f"code translation refused: {why}")
            else:
                translation = entry.msgstr
        else:
            translation = entry.msgstr
            en_links, zh_links = links_of(source), links_of(translation)
            lost = sorted((en_links - zh_links).elements())
            if lost:
                problem(f"the translation drops the English's link(s) {lost}: keep every link target")
                translation = None
            elif sorted(ANCHOR.findall(source)) != sorted(ANCHOR.findall(translation)):
                problem(f"the translation must keep the anchors {sorted(ANCHOR.findall(source))} "
                        "(other cells link to them)")
                translation = None
        if translation is not None:
            counts.translated += 1
            counts.markdown_done += is_md
            cell["source"] = translation
        if is_md:
            cell["source"] = rewrite_links(nbf.cell_source(cell), rel_dir, root, lang)
    return nb, problems, counts


def placeholder(en: nbformat.NotebookNode, rel: str, lang: str = LANG) -> nbformat.NotebookNode:
    """A one-cell Chinese page for a notebook not translated yet, linking to the English one."""
    folder, name = rel.split("/")
    first = next((nbf.cell_source(c) for c in en.cells if c.cell_type == "markdown"), "")
    title = next((line for line in first.splitlines() if line.startswith("# ")), f"# {name}")
    what = {"notebooks": "本课", "solutions": "这份参考答案", "exercises": "这份练习"}[folder]
    lines = [title, "",
             f"> 🚧 **{what}的中文版还在翻译中。** 请先使用英文原版："
             f"[{folder}/{name}](../../{folder}/{name})。"]
    if folder == nbf.EXERCISES:
        lines.append("> 两个版本的练习编号相同，在英文版里通过的练习，在中文版里也算通过（进度是共享的）。")
    nb = nbformat.v4.new_notebook()
    nb.metadata = {k: copy.deepcopy(v) for k, v in en.metadata.items() if k == "kernelspec"}
    nb.metadata["course"] = {"edition": lang, "placeholder_for": rel}
    cell = nbformat.v4.new_markdown_cell("\n".join(lines))
    cell["id"] = "untranslated"
    nb.cells.append(cell)
    return nb


def keep_outputs(new: nbformat.NotebookNode, old_path: Path) -> None:
    """Copy stored outputs from the committed edition notebook to cells of `new` with the same id
    and source (so that building again does not throw away what a run produced)."""
    if not old_path.exists():
        return
    try:
        old = nbf.read(old_path)
    except nbf.NotebookError:
        return
    by_id = {c.get("id"): c for c in old.cells if c.cell_type == "code"}
    for cell in new.cells:
        prev = by_id.get(cell.get("id"))
        if cell.cell_type == "code" and prev is not None and nbf.cell_source(prev) == nbf.cell_source(cell):
            cell["outputs"] = copy.deepcopy(prev.get("outputs", []))
            cell["execution_count"] = prev.get("execution_count")
    for key in RUN_METADATA:  # written by running the notebook, like outputs
        if key in old.metadata:
            new.metadata[key] = copy.deepcopy(old.metadata[key])


NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
RUN_METADATA = ("language_info", "widgets")


def printed_numbers(cell) -> Counter:
    """The numbers in a cell's output, less those written in its string literals' text (a label
    such as "1-D recipe" is text, and its translation may spell it differently)."""
    found = Counter(NUMBER.findall(output_text(cell)))
    try:
        toks = tokenize.generate_tokens(io.StringIO(nbf.cell_source(cell)).readline)
        labels = [t.string for t in toks if t.type == tokenize.STRING
                  or tokenize.tok_name[t.type] == "FSTRING_MIDDLE"]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        labels = []
    for text in labels:
        found -= Counter(NUMBER.findall(re.sub(r"\{[^{}]*\}", "", text)))
    return found


def output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(nbf.cell_source({"source": out.get("text", "")}))
        elif "data" in out and "text/plain" in out["data"]:
            parts.append(nbf.cell_source({"source": out["data"]["text/plain"]}))
        elif out.get("output_type") == "error":
            parts.append(out.get("ename", ""))
    return "".join(parts)


def output_problems(en: nbformat.NotebookNode, zh: nbformat.NotebookNode, rel: str) -> list[Problem]:
    """A Chinese notebook that was not run since its code changed, or prints other numbers."""
    out = []
    zh_cells = {c.get("id"): c for c in zh.cells}
    run = f"run `python scripts/nb.py run {LANG}/{rel}`"
    for index, cell in enumerate(en.cells):
        if cell.cell_type != "code" or not cell.get("outputs"):
            continue
        mine = zh_cells.get(cell.get("id"))
        if mine is None:
            continue
        if not mine.get("outputs"):
            out.append(Problem(rel, f"no stored output in {LANG}/{rel} ({run})", index, cell.get("id")))
        elif "NBVAL_CHECK_OUTPUT" in nbf.cell_source(cell):
            want, got = printed_numbers(cell), printed_numbers(mine)
            if want != got:
                want, got = sorted(want.elements()), sorted(got.elements())
                out.append(Problem(rel, f"# NBVAL_CHECK_OUTPUT: {LANG}/{rel} prints other numbers than the English "
                                        f"({run}; if it still differs, the translation changed what the cell prints)",
                                   index, cell.get("id"),
                                   [f"English: {' '.join(want)[:300]}", f"Chinese: {' '.join(got)[:300]}"]))
    return out


@dataclass
class Edition:
    texts: dict = field(default_factory=dict)      # {path under root: text}
    problems: list = field(default_factory=list)   # [Problem]
    counts: dict = field(default_factory=dict)     # {english rel: Counts}
    placeholders: list = field(default_factory=list)


def is_placeholder(nb) -> bool:
    """Whether `nb` is the edition's page for a notebook not translated yet."""
    return "placeholder_for" in nbf.course_meta(nb)


def placeholder_exercise(solution_page: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The exercise page of a solution not translated yet (build.generate writes it)."""
    rel = nbf.course_meta(solution_page)["placeholder_for"]
    english = nbformat.v4.new_notebook(metadata={k: v for k, v in solution_page.metadata.items() if k == "kernelspec"})
    english.cells.append(nbformat.v4.new_markdown_cell(nbf.cell_source(solution_page.cells[0]).split("\n")[0]))
    return placeholder(english, f"{nbf.EXERCISES}/{rel.split('/')[1]}", solution_page.metadata["course"]["edition"])


def generate(root: Path, lang: str = LANG, check_outputs: bool = False) -> Edition:
    """The lessons and solutions of the edition `lang`, built in memory from the English notebooks
    and the translation data under `root` (build.generate then makes the edition's exercises from
    its solutions); empty when `root` has no translations/<lang>/ folder."""
    render = nbf.render
    ed = Edition()
    if not (root / "translations" / lang).is_dir():
        return ed
    listed = read_untranslated(root, lang)
    english = english_notebooks(root)
    for rel in listed:
        if rel not in english:
            ed.problems.append(Problem(rel, f"listed in {UNTRANSLATED.format(lang=lang)} but there is no such "
                                            "English notebook: delete its line"))
    for rel in english:
        try:
            en = nbf.read(root / rel)
        except nbf.NotebookError as err:
            ed.problems.append(Problem(rel, str(err)))
            continue
        folder, name = rel.split("/")
        target = root / lang / rel
        po_file = po_path(root, rel, lang)
        if not po_file.exists():
            if rel not in listed:
                ed.problems.append(Problem(rel, f"has no translation {po_file.relative_to(root)}: start one with "
                                                f"`python -m course_utils.course.edition update {rel}`, or list "
                                                f"it in {UNTRANSLATED.format(lang=lang)}"))
            zh = placeholder(en, rel, lang)
            ed.placeholders.append(rel)
            ed.texts[target] = render(zh)
            continue
        try:
            po = polib.pofile(str(po_file), wrapwidth=0)
        except (OSError, ValueError) as err:
            ed.problems.append(Problem(rel, f"{po_file.relative_to(root)} is not a readable PO file: {err}"))
            continue
        zh, problems, counts = translate_notebook(en, po, rel, root, lang, allow_incomplete=rel in listed)
        ed.counts[rel] = counts
        ed.problems += problems
        if rel in listed and not problems:
            ed.problems.append(Problem(rel, f"is fully translated now: delete its line from "
                                            f"{UNTRANSLATED.format(lang=lang)}"))
        keep_outputs(zh, target)
        if check_outputs:
            ed.problems += output_problems(en, zh, rel)
        ed.texts[target] = render(zh)
    for folder in SOURCES:
        for path in sorted((root / lang / folder).glob("*.ipynb")):
            if path not in ed.texts:
                ed.problems.append(Problem(f"{lang}/{folder}/{path.name}", "no English notebook generates it "
                                                                           "(delete it)"))
    return ed


def cell_changes(old_text: str, new_text: str) -> list[str]:
    """Which cells of an edition notebook differ between the file and the build (for the report)."""
    try:
        old, new = nbf.reads(old_text), nbf.reads(new_text)
    except nbf.NotebookError as err:
        return [str(err)]
    old_cells = {c.get("id"): c for c in old.cells}
    lines = []
    for index, cell in enumerate(new.cells):
        prev = old_cells.get(cell.get("id"))
        if prev is None:
            lines.append(f"cell {index} (id {cell.get('id')}): missing in the file")
        elif nbf.cell_source(prev) != nbf.cell_source(cell):
            lines.append(f"cell {index} (id {cell.get('id')}): its source differs")
        elif prev != cell:
            lines.append(f"cell {index} (id {cell.get('id')}): its outputs or metadata differ")
    if not lines:
        lines.append("the notebook's metadata or cell order differs")
    return lines[:10]


def run(root: Path, check: bool = False, lang: str = LANG) -> list[str]:
    """Write (or with `check` compare) the edition's lessons and solutions under `root` (build.run
    calls it first, then makes the edition's exercises); print a summary and the notes. Returns
    the problems, one string each (build.run prints them as errors)."""
    ed = generate(root, lang, check_outputs=check)
    problems = [p for p in ed.problems if not p.note]
    for p in ed.problems:
        if p.note:
            print(translate(msg("note: {note}", note=str(p))))
    for path, text in ed.texts.items():
        rel = path.relative_to(root).as_posix()
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if check:
            if current is None:
                problems.append(f"{rel}: missing (run `course build`)")
            elif current != text:
                problems.append(f"{rel}: differs from what `course build` writes (run it):\n"
                                + "\n".join(f"    {line}" for line in cell_changes(current, text)))
        elif current != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(translate(msg("wrote {path}", path=rel)))
    if ed.texts:
        done = sum(c.translated for c in ed.counts.values())
        total = sum(c.cells for c in ed.counts.values())
        print(translate(msg("{edition}/: {n} translated notebook(s) ({done} of {total} cells with text), {missing} not "
                            "translated yet ({listed})", edition=lang, n=len(ed.counts), done=done, total=total,
                            missing=len(ed.placeholders), listed=UNTRANSLATED.format(lang=lang))))
        if not check:
            print(translate(msg("{edition}/: run a changed lesson or solution to store its outputs: `{command}`",
                                edition=lang, command=f"python scripts/nb.py run {lang}/notebooks/NN_name.ipynb")))
    return [str(p) for p in problems]


# ----------------------------------------------------------------------------- updating the PO files

def update(root: Path, rels: list[str] | None = None, lang: str = LANG) -> list[str]:
    """Bring the PO files of `rels` (default: every notebook that has one) in step with the English:
    new cells become empty entries, changed ones fuzzy with the previous English kept, entries of
    deleted cells obsolete. Identical English text already translated elsewhere is filled in."""
    rels = rels if rels else [r for r in english_notebooks(root) if po_path(root, r, lang).exists()]
    memory = _translation_memory(root, lang)
    report = []
    for rel in rels:
        en = nbf.read(root / rel)
        path = po_path(root, rel, lang)
        old = polib.pofile(str(path), wrapwidth=0) if path.exists() else None
        live = {e.msgctxt: e for e in (old or []) if not e.obsolete}
        by_msgid = {e.msgid: e for e in (old or []) if e.msgstr and "fuzzy" not in e.flags}
        po = polib.POFile(wrapwidth=0)
        po.metadata = dict(PO_HEADER, **{"X-Source": rel})
        po.header = (f"Chinese edition of {rel}: one entry per cell (msgctxt = the cell's id). Written by\n"
                     "`python -m course_utils.course.edition update`; translate the msgstr lines only.\n"
                     "Guide: translations/README.md")
        used, changes = set(), Counter()
        for index, cell in enumerate(en.cells):
            if not has_text(cell):
                continue
            source, cid = nbf.cell_source(cell), cell.get("id")
            entry = live.get(cid)
            if entry is None:
                entry = polib.POEntry(msgctxt=cid, msgid=source, msgstr="")
                known = by_msgid.get(source) or memory.get(source)
                if known is not None:
                    entry.msgstr = known.msgstr if isinstance(known, polib.POEntry) else known
                    changes["new (filled in from an identical English text)"] += 1
                else:
                    changes["new"] += 1
            elif entry.msgid != source:
                if entry.msgstr:
                    if "fuzzy" not in entry.flags:  # keep the English the translation was made from
                        entry.previous_msgid = entry.msgid
                        entry.flags.append("fuzzy")
                    changes["changed (fuzzy)"] += 1
                else:
                    changes["changed (untranslated)"] += 1
                entry.msgid = source
            used.add(cid)
            entry.comment = f"{cell.cell_type} · sha256:{source_hash(source)}"
            entry.occurrences = [(rel, str(index))]
            po.append(entry)
        live_msgids = {e.msgid for e in po}
        for e in (old or []):
            if (e.obsolete or e.msgctxt not in used) and e.msgstr and e.msgid not in live_msgids:
                if not e.obsolete:
                    changes["removed (kept as obsolete)"] += 1
                e.obsolete = True
                po.append(e)
        path.parent.mkdir(parents=True, exist_ok=True)
        po.save(str(path))
        summary = ", ".join(f"{n} {what}" for what, n in changes.items()) or "no change"
        report.append(f"{path.relative_to(root)}: {summary}")
    return report


def _translation_memory(root: Path, lang: str) -> dict[str, str]:
    memory = {}
    for path in sorted((root / "translations" / lang).rglob("*.po")):
        for e in polib.pofile(str(path), wrapwidth=0):
            if e.msgstr and not e.obsolete and "fuzzy" not in e.flags:
                memory.setdefault(e.msgid, e.msgstr)
    return memory


def status(root: Path, lang: str = LANG) -> list[str]:
    ed = generate(root, lang)
    lines = []
    for rel, c in ed.counts.items():
        open_ = [p for p in ed.problems if p.notebook == rel and p.cell is not None]
        lines.append(f"{rel}: {c.translated}/{c.cells} cells with text translated "
                     f"(markdown {c.markdown_done}/{c.markdown}); {len(open_)} to fix")
    lines += [f"{rel}: not translated yet" for rel in ed.placeholders]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.course.edition",
                                     description="The Chinese edition's translation data (translations/zh/).")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2],
                        help="course folder (default: this checkout)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("update", help="bring PO files in step with the English notebooks")
    up.add_argument("notebooks", nargs="*", help="English notebooks (notebooks/NN_x.ipynb, solutions/NN_x.ipynb) "
                                                 "to update or start; default: every one that has a PO file")
    sub.add_parser("status", help="translated / stale / missing cells per notebook")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.command == "update":
        rels = []
        for item in args.notebooks:
            p = Path(item)
            rel = (p.resolve().relative_to(root) if p.is_absolute() or p.exists() else p).as_posix()
            if rel not in english_notebooks(root):
                print(f"error: {item}: not an English lesson or solution notebook of {root}", file=sys.stderr)
                return 2
            rels.append(rel)
        for line in update(root, rels):
            print(line)
        return 0
    for line in status(root):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
