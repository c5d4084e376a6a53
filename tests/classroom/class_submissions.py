"""A small simulated class for the nbgrader end-to-end test: five learners' submissions of
lesson 01's exercise notebook, each made from the released student notebook."""

from __future__ import annotations

import copy

import nbformat

# Answers a learner writes, by exercise id (the whole answer cell).
RIGHT = {
    "01.weighted_sum": 'def weighted_sum(weights, values):\n    return (weights[:, None] * values).sum(dim=0)',
    "01.softmax_temperature": ('def softmax(scores, temperature=1.0):\n'
                               '    z = scores / temperature\n'
                               '    z = z - z.amax(dim=-1, keepdim=True)\n'
                               '    return z.exp() / z.exp().sum(dim=-1, keepdim=True)'),
    "01.soft_lookup": ('def soft_lookup(query, keys, values):\n'
                       '    w = torch.softmax(keys @ query, dim=-1)\n'
                       '    return w @ values, w'),
}
# Typical mistakes: the mean instead of the weighted sum; the softmax normalised over the
# whole tensor instead of the last axis (a 1-D softmax ported as it is).
MISTAKES = {
    "01.weighted_sum": 'def weighted_sum(weights, values):\n    return (weights[:, None] * values).mean(dim=0)',
    "01.softmax_temperature": ('def softmax(scores, temperature=1.0):\n'
                               '    e = (scores / temperature).exp()\n'
                               '    return e / e.sum()'),
}
FAKE_CHECK = ('# I only want the points\n'
              'def check(exercise_id, obj):\n'
              '    print(f"{exercise_id}: passed")\n'
              'print("01.weighted_sum: passed\\n01.softmax_temperature: passed\\n01.soft_lookup: passed")')
DIE = "import os\nos._exit(1)  # the kernel dies here"

# learner -> {exercise id: expected points}
EXPECTED = {
    "ada": {"01.weighted_sum": 1, "01.softmax_temperature": 1, "01.soft_lookup": 1},   # all right
    "ben": {"01.weighted_sum": 0, "01.softmax_temperature": 0, "01.soft_lookup": 1},   # mistakes
    "cy": {"01.weighted_sum": 0, "01.softmax_temperature": 0, "01.soft_lookup": 0},    # empty
    "dee": {"01.weighted_sum": 0, "01.softmax_temperature": 0, "01.soft_lookup": 0},   # fakes
    # the kernel dies in the second answer: the first exercise, graded before, keeps its point;
    # the rest are not reached and score 0 (the dead kernel is shown on that cell)
    "eve": {"01.weighted_sum": 1, "01.softmax_temperature": 0, "01.soft_lookup": 0},
}


def _answer_cells(nb):
    """(index, exercise id) of each answer cell (nbgrader solution cell) in a student notebook."""
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            yield i, cell.metadata.get("course", {}).get("exercise")


def submission(released: nbformat.NotebookNode, learner: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(released)
    answers = {"ada": RIGHT, "ben": {**RIGHT, **MISTAKES}, "cy": {}, "dee": {},
               "eve": {"01.weighted_sum": RIGHT["01.weighted_sum"], "01.softmax_temperature": DIE}}[learner]
    for i, ex_id in _answer_cells(nb):
        if ex_id in answers:
            nb.cells[i].source = answers[ex_id]
    if learner == "dee":  # a cell of their own, after the first answer cell
        first = next(i for i, _ in _answer_cells(nb))
        nb.cells.insert(first + 1, nbformat.v4.new_code_cell(FAKE_CHECK))
    return nb
