"""The terminology of the Chinese edition: one table (translations/zh/terminology.csv) that the
translators and these tests share. Lesson 00's glossary gives each term exactly the table's
Chinese form; no Chinese notebook uses a form the table says to avoid (the note's own words in
「…」 aside, and a form introduced with 也称/也写作/又称/也叫 on purpose); the first use of a
term a learner meets in English in code or papers (headings aside) carries the English in
parentheses (注意力权重（attention weights）), or stands in a table row that names it in English."""

import csv
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "translations" / "zh" / "terminology.csv"
TERMS = list(csv.DictReader(TABLE.open(encoding="utf-8")))
INTRODUCED = re.compile(r"(也称|也写作|又称|也叫|亦称)\s*[“\"]?$")


def english_forms(term: str) -> set[str]:
    """The English spellings that may stand in the parentheses for a table entry."""
    base = term.replace("`", "").lower()
    forms = {base}
    m = re.match(r"^(.*?)\s*\(([^)]*)\)\s*(.*)$", base)
    if m:
        forms |= {f"{m.group(1)} {m.group(3)}".strip(), m.group(2)}
    for f in list(forms):
        forms |= {p.strip() for p in re.split(r",|/", f) if p.strip()}
        forms.add(f.replace("isation", "ization"))
    return forms


def edition_notebooks() -> list[tuple[str, nbformat.NotebookNode]]:
    """The translated notebooks of zh/, in a learner's reading order (each lesson, then its exercises)."""
    out = []
    for lesson in sorted((REPO / "zh" / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for path in (lesson, REPO / "zh" / "exercises" / lesson.name, REPO / "zh" / "solutions" / lesson.name):
            if path.exists():
                nb = nbformat.read(path, as_version=4)
                if "placeholder_for" not in nb.metadata.get("course", {}):
                    out.append((path.relative_to(REPO).as_posix(), nb))
    return out


def prose(text: str) -> str:
    """Markdown as a reader reads it: no code, formulas, HTML tags, link targets or quotes of the note."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return re.sub(r"「[^」]*」", " ", text)


def glossary(nb) -> list[list[str]]:
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and "| English | 中文 |" in c.source)
    lines = cell.source.split("| English | 中文 |", 1)[1].splitlines()[2:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([part.strip() for part in line.strip().strip("|").split("|")])
    return rows


def test_the_table_is_well_formed():
    english = [t["english"] for t in TERMS]
    chinese = [t["chinese"] for t in TERMS]
    assert len(set(english)) == len(english), "an English term is listed twice"
    assert len(set(chinese)) == len(chinese), "two English terms share one Chinese form"
    for t in TERMS:
        assert t["chinese"].strip() and t["first_use"] in ("gloss", "-"), t
        for bad in filter(None, t["avoid"].split(";")):
            assert bad not in chinese, f"{bad!r} is avoided for {t['english']!r} but is the form of another term"


def test_lesson_00_glossary_uses_the_tables_one_chinese_form():
    table = {t["english"]: t["chinese"] for t in TERMS}
    english_rows = glossary(nbformat.read(REPO / "notebooks" / "00_welcome.ipynb", as_version=4))
    missing = [row[0] for row in english_rows if row[0] not in table]
    assert not missing, f"glossary terms of lesson 00 missing from {TABLE.name}: {missing}"
    zh_rows = glossary(nbformat.read(REPO / "zh" / "notebooks" / "00_welcome.ipynb", as_version=4))
    assert [r[0] for r in zh_rows] == [r[0] for r in english_rows], "the Chinese glossary lists other terms"
    wrong = [(r[0], r[1], table[r[0]]) for r in zh_rows if r[1] != table[r[0]]]
    assert not wrong, f"(term, Chinese glossary, table): {wrong}"


def test_no_chinese_notebook_uses_an_avoided_form():
    found = []
    for rel, nb in edition_notebooks():
        for index, cell in enumerate(nb.cells):
            text = re.sub(r"「[^」]*」", " ", cell.source)
            for t in TERMS:
                for bad in filter(None, t["avoid"].split(";")):
                    for m in re.finditer(re.escape(bad), text):
                        if not INTRODUCED.search(text[max(0, m.start() - 8):m.start()]):
                            found.append(f"{rel} cell {index} (id {cell.get('id')}): {bad!r} -> {t['chinese']!r}")
    assert not found, "forms the terminology table avoids:\n" + "\n".join(found)


def scan(text: str, forms: list[str]):
    """Longest-match occurrences (form, start, end) of the table's forms in `text`."""
    i = 0
    while i < len(text):
        hit = next((f for f in forms if text.startswith(f, i)), None)
        if hit:
            yield hit, i, i + len(hit)
            i += len(hit)
        else:
            i += 1


def glossed(text: str, start: int, end: int, english: set[str]) -> bool:
    after = re.split(r"[。；;\n]", text[end:end + 40], maxsplit=1)[0]
    for inner in re.findall(r"[（(]([^）)]*)[）)]", after):
        if any(e in inner.lower() for e in english):
            return True
    line = text[text.rfind("\n", 0, start) + 1: (text.find("\n", end) + 1 or len(text) + 1) - 1]
    return line.lstrip().startswith("|") and any(e in line.lower() for e in english)


def test_the_first_use_of_each_term_gives_the_english_once():
    by_form = {t["chinese"]: t for t in TERMS if " / " not in t["chinese"] and t["chinese"] != t["english"]}
    forms = sorted(by_form, key=len, reverse=True)
    seen, problems = set(), []
    for rel, nb in edition_notebooks():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "markdown":
                continue
            text = re.sub(r"(?m)^#.*$", " ", prose(cell.source))  # headings name a term, prose introduces it
            for form, start, end in scan(text, forms):
                if form in seen:
                    continue
                seen.add(form)
                term = by_form[form]
                if term["first_use"] == "gloss" and not glossed(text, start, end, english_forms(term["english"])):
                    problems.append(f"{rel} cell {index} (id {cell.get('id')}): first use of {form!r} without "
                                    f"（{term['english']}）: …{text[max(0, start - 15):end + 15]}…")
    assert seen, "no table term found in the Chinese notebooks"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("term, form", [("recurrent neural network (RNN)", "rnn"),
                                        ("causal (subsequent) mask", "causal mask"),
                                        ("vocabulary, word2idx", "word2idx"), ("tokenisation", "tokenization")])
def test_english_forms(term, form):
    assert form in english_forms(term)
