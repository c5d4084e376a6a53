"""pytest plugin for the notebook phases of scripts/test.sh (`-p tests.nbval_order`, with xdist's
`--dist loadfile --no-loadscope-reorder`): the longest notebooks start first.

xdist hands whole notebooks to the two workers in the order it is given; by default it reorders
them by their number of cells, which says little about their run time (the capstone solution,
the longest run by far because it trains a model, has fewer cells than most), so a long
notebook could start late and end the phase with one worker busy and the other idle. Started
first, the long notebooks run side by side and the short ones fill in around them. Only the order of the notebooks changes: every cell of every notebook
still runs, in its notebook's own order, in a kernel of its own.
"""

from __future__ import annotations

from pathlib import Path

# Relative cost of a notebook under nbval, by "folder/name" (the same for both editions: zh/
# holds the same code cells). From timed runs; only their order matters. Unlisted: 10.
COST = {
    "solutions/11_capstone.ipynb": 350,   # trains the capstone model to its target
    "notebooks/09_training.ipynb": 100,   # trains the lesson's model
    "exercises/11_capstone.ipynb": 55,
    "notebooks/10_inference.ipynb": 30,
    "solutions/09_training.ipynb": 24,
    "notebooks/08_building_the_transformer.ipynb": 20,
    "solutions/08_building_the_transformer.ipynb": 18,
    "exercises/09_training.ipynb": 18,
    "exercises/03_tokens_embeddings_positions.ipynb": 18,
    "solutions/03_tokens_embeddings_positions.ipynb": 17,
    "exercises/07_cross_attention.ipynb": 17,
    "exercises/08_building_the_transformer.ipynb": 17,
    "solutions/10_inference.ipynb": 17,
}
DEFAULT_COST = 10


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
