"""pytest plugin for the notebook phases of scripts/test.sh (`-p tests.nbval_order`, with xdist's
`--dist loadfile --no-loadscope-reorder`): the longest notebooks start first.

xdist hands whole notebooks to the two workers in the order it is given; by default it reorders
them by their number of cells, which says little about their run time (the capstone solution,
the longest run by far because it trains a model, has fewer cells than most), so a long
notebook could start late and end the phase with one worker busy and the other idle. Started
first, the long notebooks run side by side and the short ones fill in around them. Only the order
of the notebooks changes: every cell of every notebook
still runs, in its notebook's own order, in a kernel of its own.
"""

from __future__ import annotations

from pathlib import Path

# CPU seconds of one notebook's run in a fresh kernel, by "folder/name" (the same for both
# editions: zh/ holds the same code cells); measured with nbclient on the 2-core machine
# (2026-12-07). Only their order matters. Unlisted notebooks take about 5.
COST = {
    "solutions/11_capstone.ipynb": 57,   # trains the capstone model to its target
    "notebooks/09_training.ipynb": 43,   # trains the lesson's model
    "notebooks/10_inference.ipynb": 43,  # times decoding with and without the cache
    "notebooks/08_building_the_transformer.ipynb": 20,
    "exercises/11_capstone.ipynb": 10,
    "notebooks/06_masks.ipynb": 8,
}
DEFAULT_COST = 5


def cost(path: Path) -> float:
    return COST.get(f"{path.parent.name}/{path.name}", DEFAULT_COST)


def pytest_collection_modifyitems(session, config, items):
    paths = [Path(str(item.fspath)) for item in items]
    if not any(p.suffix == ".ipynb" for p in paths):
        return
    first_seen: dict[Path, int] = {}
    for p in paths:
        first_seen.setdefault(p, len(first_seen))
    # a stable sort of whole files: a notebook's cells keep their order and stay together
    order = sorted(range(len(items)), key=lambda i: (-cost(paths[i]), first_seen[paths[i]], i))
    items[:] = [items[i] for i in order]
