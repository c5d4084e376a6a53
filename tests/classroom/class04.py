"""A simulated class on lesson 04 (4 points) for the nbgrader end-to-end test: eleven learners,
honest and not, each submission written as a learner would leave it in nbgrader's
`submitted/<learner>/lesson04/` folder. EXPECTED is what each one earned.

    from class04 import EXPECTED, write_submissions
    write_submissions(course / "submitted", released_notebook)
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import nbformat
from helpers import ROOT

from course_utils.course import notebook

sys.path.insert(0, str(ROOT / "tests"))
from hostile.cases import CASES  # noqa: E402  (the judge's hostile cases, reused as a class's cheats)

NAME = "04_self_attention.ipynb"
IDS = ("04.attention", "04.fix_attention", "04.predict_score_std", "04.self_attention")

# Answers a learner writes (the whole answer cell), by exercise id.
RIGHT = {
    "04.attention": ('def attention(q, k, v, mask=None):\n'
                     '    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n'
                     '    if mask is not None:\n'
                     '        scores = scores.masked_fill(~mask, float("-inf"))\n'
                     '    weights = torch.softmax(scores, dim=-1)\n'
                     '    return weights @ v, weights'),
    "04.fix_attention": ('def attention_fixed(q, k, v):\n'
                         '    d_k = q.size(-1)\n'
                         '    scores = q @ k.transpose(-2, -1) / d_k ** 0.5\n'
                         '    weights = scores.softmax(dim=-1)\n'
                         '    return weights @ v, weights'),
    "04.predict_score_std": "prediction = 8.0",
    "04.self_attention": ('def self_attention(x, w_q, w_k, w_v):\n'
                          '    q, k, v = x @ w_q, x @ w_k, x @ w_v\n'
                          '    return attention(q, k, v)'),
}
# Typical mistakes: the mask ignored; only the softmax axis fixed (the scale still missing);
# the spread of one product of two numbers instead of a sum of 64; self-attention right,
# written without the (wrong) attention above.
MISTAKES = {
    "04.attention": ('def attention(q, k, v, mask=None):\n'
                     '    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n'
                     '    weights = torch.softmax(scores, dim=-1)\n'
                     '    return weights @ v, weights'),
    "04.fix_attention": ('def attention_fixed(q, k, v):\n'
                         '    scores = q @ k.transpose(-2, -1)\n'
                         '    weights = scores.softmax(dim=-1)\n'
                         '    return weights @ v, weights'),
    "04.predict_score_std": "prediction = 1.0",
    "04.self_attention": ('def self_attention(x, w_q, w_k, w_v):\n'
                          '    q, k, v = x @ w_q, x @ w_k, x @ w_v\n'
                          '    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.size(-1)), dim=-1)\n'
                          '    return w @ v, w'),
}
# Wrong everywhere (for the learner who also makes torch.allclose lie).
WRONG = {**MISTAKES,
         "04.self_attention": ('def self_attention(x, w_q, w_k, w_v):\n'
                               '    q, k, v = x @ w_q, x @ w_k, x @ w_v\n'
                               '    w = torch.softmax(q @ k.transpose(-2, -1), dim=-1)\n'
                               '    return w @ v, w')}
# Right, but torch warns on every call (copy-constructing a tensor from a tensor).
WARNING = {**RIGHT,
           "04.attention": ('def attention(q, k, v, mask=None):\n'
                            '    q = torch.tensor(q)  # torch warns: use q.clone().detach()\n'
                            '    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))\n'
                            '    if mask is not None:\n'
                            '        scores = scores.masked_fill(~mask, float("-inf"))\n'
                            '    weights = torch.softmax(scores, dim=-1)\n'
                            '    return weights @ v, weights')}

REPLACE_REQUIRE_PASS = '''import course_utils.course.classroom as _classroom
_classroom.require_pass = lambda *args, **kwargs: None
'''
# A package submitted beside the notebook: every check and every grading line passes.
FAKE_PACKAGE = {
    "course_utils/__init__.py": "",
    "course_utils/course/__init__.py": "",
    "course_utils/course/checks.py": ("class _R:\n    status, message, hint, passed = 'passed', 'ok', None, True\n"
                                      "    def __repr__(self):\n        return 'passed'\n"
                                      "def check(*args, **kwargs):\n    return _R()\n"),
    "course_utils/course/classroom.py": "def require_pass(*args, **kwargs):\n    return None\n",
}

# learner -> (what they did, {exercise id: points earned})
CLASS = {
    "ada": ("every answer right", dict.fromkeys(IDS, 1)),
    "ben": ("typical mistakes (self-attention right)", {**dict.fromkeys(IDS, 0), "04.self_attention": 1}),
    "cy": ("nothing written", dict.fromkeys(IDS, 0)),
    "dee": ("a printed table of passes", dict.fromkeys(IDS, 0)),
    "eve": ("a redefined check", dict.fromkeys(IDS, 0)),
    "fay": ("wrong answers and torch.allclose always true", dict.fromkeys(IDS, 0)),
    "gus": ("require_pass replaced", dict.fromkeys(IDS, 0)),
    "hal": ("an IPython input transformer", dict.fromkeys(IDS, 0)),
    "ivy": ("a course_utils/ folder submitted beside the notebook", dict.fromkeys(IDS, 0)),
    "jon": ("right, with a torch warning on every call", dict.fromkeys(IDS, 1)),
    "kim": ("right, worked in the course copy (exercises/) and copied over the assignment", dict.fromkeys(IDS, 1)),
    "lee": ("right, in an old course copy without nbgrader's cell metadata", dict.fromkeys(IDS, 1)),
}
EXPECTED = {learner: points for learner, (_, points) in CLASS.items()}


def _answer_cells(nb):
    """(index, exercise id) of each answer cell: a code cell of an exercise that is not its check cell."""
    for i, cell in enumerate(nb.cells):
        ex_id = notebook.exercise_id(cell)
        if ex_id and notebook.cell_role(cell) == "code":
            yield i, ex_id


def _fill(nb, answers: dict) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    for i, ex_id in _answer_cells(nb):
        if ex_id in answers:
            nb.cells[i].source = answers[ex_id]
    return nb


def _with_cell(nb, code: str, where: str = "start") -> nbformat.NotebookNode:
    """A learner's own cell after the notebook's imports ("start") or at the end."""
    cell = nbformat.v4.new_code_cell(code)
    if where == "end":
        nb.cells.append(cell)
    else:
        first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "import" in c.source
                     and "check" in c.source)
        nb.cells.insert(first + 1, cell)
    return nb


def submission(released: nbformat.NotebookNode, learner: str) -> tuple[nbformat.NotebookNode, dict]:
    """(notebook, {relative path: text} of extra files) that `learner` submits."""
    extra: dict[str, str] = {}
    if learner == "ada":
        nb = _fill(released, RIGHT)
    elif learner == "ben":
        nb = _fill(released, MISTAKES)
    elif learner == "cy":
        nb = _fill(released, {})
    elif learner == "dee":
        nb = _with_cell(_fill(released, {}), CASES["printed_table"].code, "end")
    elif learner == "eve":
        nb = _with_cell(_fill(released, {}), CASES["redefined_check"].code)
    elif learner == "fay":
        nb = _with_cell(_fill(released, WRONG), CASES["patched_allclose"].code)
    elif learner == "gus":
        nb = _with_cell(_fill(released, {}), REPLACE_REQUIRE_PASS)
    elif learner == "hal":
        nb = _with_cell(_fill(released, {}), CASES["input_transformer"].code)
    elif learner == "ivy":
        nb, extra = _fill(released, {}), dict(FAKE_PACKAGE)
    elif learner == "jon":
        nb = _fill(released, WARNING)
    elif learner == "kim":  # the course copy the nbgitpuller link gave them, not the fetched assignment
        nb = _fill(nbformat.read(ROOT / "exercises" / NAME, as_version=4), RIGHT)
    elif learner == "lee":  # saved by a tool that keeps only the course's own metadata
        nb = _fill(nbformat.read(ROOT / "exercises" / NAME, as_version=4), RIGHT)
        for cell in nb.cells:
            cell.metadata.pop("nbgrader", None)
    else:
        raise KeyError(learner)
    return nb, extra


def write_submissions(submitted: Path, released: nbformat.NotebookNode, assignment: str = "lesson04") -> None:
    for learner in CLASS:
        nb, extra = submission(released, learner)
        folder = submitted / learner / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / NAME)
        for rel, text in extra.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)


def gradebook(course: Path, assignment: str = "lesson04", course_id: str = "attention-course") -> dict:
    """{learner: {grade id: score}} of this class from nbgrader's gradebook."""
    return gradebook_of(course, list(CLASS), assignment, course_id)


def gradebook_of(course: Path, learners: list[str], assignment: str = "lesson04",
                 course_id: str = "attention-course") -> dict:
    """{learner: {grade id: score}, or None where the learner has no autograded submission}."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id) as gb:
        found = {}
        for learner in learners:
            try:
                sub = gb.find_submission(assignment, learner)
            except Exception:  # not autograded at all
                found[learner] = None
                continue
            found[learner] = {g.name: g.score for g in sub.notebooks[0].grades}
        return found


def describe(got: dict) -> str:
    """The gradebook as a table: learner, what they did, points recorded / earned."""
    lines = []
    for learner, (what, points) in CLASS.items():
        scores = got.get(learner)
        total = "not graded" if scores is None else f"{sum(scores.values()):g}"
        lines.append(f"{learner:4} {total:>10} / earned {sum(points.values())}  {what}")
    return "\n".join(lines)


if __name__ == "__main__":  # print a gradebook: python class04.py COURSE_DIR
    print(describe(gradebook(Path(sys.argv[1]))))
    print(json.dumps(gradebook(Path(sys.argv[1])), indent=1))
