"""Notebook authoring tool for maintainers.

    python scripts/nb.py from-py SRC.py OUT.ipynb   # percent-format script -> notebook (no outputs)
    python scripts/nb.py run NB.ipynb [NB ...]       # execute in place, storing outputs
    python scripts/nb.py to-py NB.ipynb OUT.py       # notebook -> percent-format script

Percent format: a line `# %%` starts a code cell, `# %% [markdown]` a markdown cell
(its lines written as `# text`), and `# %% tags=["nbval-ignore-output"]` adds tags.
`run` executes with the current interpreter's kernel, in the notebook's own folder, with
COURSE_NO_PROGRESS=1 (a maintainer's run records no progress), and fails (exit 1) on the first
error unless the cell is tagged `raises-exception`.
"""

import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat

HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def from_py(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    cells, current = [], None
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            current = {"md": bool(m["md"]), "tags": json.loads(m["tags"]) if m["tags"] else [], "lines": []}
            cells.append(current)
        elif current is not None:
            current["lines"].append(line)
    for c in cells:
        lines = c["lines"]
        while lines and not lines[-1].strip():
            lines.pop()
        if c["md"]:
            src = "\n".join(s[2:] if s.startswith("# ") else s.lstrip("#") for s in lines)
            cell = nbformat.v4.new_markdown_cell(src)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        if c["tags"]:
            cell.metadata["tags"] = c["tags"]
        nb.cells.append(cell)
    return nb


def to_py(nb) -> str:
    out = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        tag = f" tags={json.dumps(tags)}" if tags else ""
        if cell.cell_type == "markdown":
            out.append(f"# %% [markdown]{tag}")
            out += [("# " + s) if s else "#" for s in cell.source.splitlines()]
        else:
            out.append(f"# %%{tag}")
            out += cell.source.splitlines()
        out.append("")
    return "\n".join(out)


def run(path: Path, timeout: int = 600) -> float:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    # A maintainer's run stores outputs: checks must neither record progress nor print the
    # "not recorded" notice into them (the kernel inherits this).
    os.environ.setdefault("COURSE_NO_PROGRESS", "1")
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent.resolve())}}).execute()
    elapsed = time.perf_counter() - t0
    nbformat.write(nb, path)
    return elapsed


def main(argv):
    if len(argv) >= 3 and argv[0] == "from-py":
        nbformat.write(from_py(Path(argv[1]).read_text(encoding="utf-8")), argv[2])
    elif len(argv) >= 2 and argv[0] == "run":
        for p in argv[1:]:
            print(f"{p}: ran in {run(Path(p)):.1f} s")
    elif len(argv) >= 3 and argv[0] == "to-py":
        Path(argv[2]).write_text(to_py(nbformat.read(argv[1], as_version=4)), encoding="utf-8")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
