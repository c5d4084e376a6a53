"""course layer · what the judge cannot prove from outputs, flagged from the source: a learner's
cell that uses the course's own implementation of an exercise (`from course_utils.transformer
import attention`), the graders' modules, the solution notebooks, or the judge's helper in the
kernel. Right outputs from such an answer are still right outputs; the judge's report says
where they may come from. A static scan: code built at run time (exec of a string) escapes it.
"""

from __future__ import annotations

import ast

from course_utils.base.i18n import msg

__all__ = ["flags"]

_PACKAGE = "course_utils"
_GRADERS = "course_utils.course.checks"
_JUDGE = "course_utils.course.judge"
_SOURCES = ("solutions/", "solutions\\", "reference.pt")  # the solutions, the shipped model's checkpoint


def _code_cells(nb) -> list[tuple[int, object, str]]:
    cells = []
    for index, cell in enumerate(nb.cells if nb is not None else []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append((index + 1, cell.get("id"), "".join(source) if isinstance(source, list) else str(source)))
    return cells


def _parse(source: str):
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # a learner's broken cell: nothing to read
        return None


def _imports(tree) -> dict[str, str]:
    """{name bound: dotted name of the package} for the imports of `tree`."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == _PACKAGE:
                    bound[a.asname or _PACKAGE] = a.name if a.asname else _PACKAGE
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == _PACKAGE and not node.level:
            for a in node.names:
                bound[a.asname or a.name] = f"{node.module}.{a.name}"
    return bound


def _defined(tree) -> set[str]:
    """Names the cell binds at its top level itself (def, class, assignment)."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        for target in getattr(node, "targets", [getattr(node, "target", None)]):
            names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)} if target is not None else set()
    return names


def _references(tree, aliases: dict[str, str], given_lines: set[str], lines: list[str]) -> list[tuple[str, str]]:
    """(how, dotted name) for what `tree` takes from the package: "import" (its imports), "read"
    (a name or attribute bound to the package by an earlier import; "given" when the notebook as
    given made that import), "text" (a string naming a package module or the solutions), "comm"
    (the kernel's comm manager). Only on the lines the learner wrote: a line of the notebook as
    given (`given_lines`, stripped) is the course's code, used as it is meant to be."""
    def mine(node) -> bool:
        number = getattr(node, "lineno", None)
        if not isinstance(number, int) or not 0 < number <= len(lines):
            return True
        return lines[number - 1].strip() not in given_lines

    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and mine(node):
            found += [("import", used) for used in _imports(ast.Module([node], [])).values()]
        if not mine(node):
            continue
        chain, cur = [], node
        while isinstance(cur, ast.Attribute):
            chain.append(cur.attr)
            cur = cur.value
        if isinstance(cur, ast.Name) and cur.id in aliases and (chain or isinstance(cur.ctx, ast.Load)):
            dotted, given = aliases[cur.id]
            found.append(("given" if given else "read", ".".join([dotted, *reversed(chain)])))
        if isinstance(node, ast.Attribute) and node.attr == "comm_manager":
            found.append(("comm", "comm_manager"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                (_PACKAGE + "." in node.value or any(p in node.value for p in _SOURCES)):
            found.append(("text", node.value[:80]))
    return found


def flags(nb, fresh, name) -> list[str]:
    """Notes for the exercise whose learner object is `name` (or any of the names of a set, for an
    exercise that gathers several parts): where the lines the learner wrote or changed (those not
    in `fresh`, the notebook as given) use the course's own `name`, the graders, the solutions or
    the judge's helper. Cells are numbered as the notebook shows them, from 1, markdown included."""
    names = {name} if isinstance(name, str) else set(name)
    fresh_cells = _code_cells(fresh)
    given = {cid: source.strip() for _, cid, source in fresh_cells if cid}
    given_lines = {line.strip() for _, _, source in fresh_cells for line in source.splitlines() if line.strip()}
    given_imports = {used for _, _, source in fresh_cells
                     for used in _imports(_parse(source) or ast.Module([], [])).values()}
    aliases, notes = {}, []
    for number, cid, source in _code_cells(nb):
        tree = _parse(source)
        if tree is None:
            continue
        mine = given.get(cid) != source.strip()
        for name_bound in _defined(tree):
            aliases.pop(name_bound, None)
        aliases.update({bound: (dotted, not mine) for bound, dotted in _imports(tree).items()})
        found = _references(tree, aliases, given_lines, source.splitlines()) if mine else ()
        for how, used in dict.fromkeys(found):
            if how == "import" and used in given_imports:
                continue  # the notebook as given imports it itself
            if how == "given" and used.rsplit(".", 1)[-1] not in names:
                continue  # what the notebook gives, used as it is meant to be
            if used.startswith(_GRADERS + ".") and used != f"{_GRADERS}.check":
                notes.append(msg("cell {n} uses `{used}`, the graders' own code", n=number, used=used))
            elif used.startswith(_JUDGE) or how == "comm":
                notes.append(msg("cell {n} reaches into the judge's channel (`{used}`)", n=number, used=used))
            elif how == "text" and "reference.pt" in used:
                if "REFERENCE_CHECKPOINT" in names:  # a note for the exercise that trains a model only
                    notes.append(msg("cell {n} names the course's trained model (`{used}`)", n=number, used=used))
            elif how == "text" and _PACKAGE not in used:
                notes.append(msg("cell {n} names the solutions (`{used}`)", n=number, used=used))
            elif used.startswith(_PACKAGE + ".") and used.rsplit(".", 1)[-1] in names:
                part = used.rsplit(".", 1)[-1]
                notes.append(msg("cell {n} uses `{used}`, the course's own `{name}`", n=number, used=used, name=part))
    return list(dict.fromkeys(notes))
