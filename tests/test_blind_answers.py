"""Grade the answers of tests/blind_answers.py (written from the exercise statements alone) with the
course's `check`, exactly as a check cell calls it: `check("NN.name", obj)`.

Each answer's source runs in a fresh namespace holding its exercise notebook's own imports (the
import cell of exercises/NN_*.ipynb), registered with `linecache` so that the grader can quote the
learner's line as it does in a notebook.

Three ways to fail:
- a right answer that does not pass is a *false reject*;
- a wrong answer that passes is a *false accept*;
- a wrong answer whose feedback is only generic. The rule: the result must carry a hint
  (`CheckResult.hint`) AND its message must not be one of the grader's "no known mistake matched"
  forms (`GENERIC_MESSAGES`: "differs from the reference: max difference ...", "is not right yet",
  "N of M predictions are off" / "1 of M predictions is off", "N of M words have the wrong id").
  With such a message the hint is
  only the exercise's standing advice (it restates the formula), which leaves the learner to find the
  mistake alone. A hint that comes with a named failure (a known mistake's value or signature, a
  shape or dtype that tells the cause, an error turned into its cause, an in-place change, swapped
  return values) names a specific cause. Wrong answers for which no specific hint is possible are
  listed in `EXPECTED_GENERIC` with the reason.

`python tests/test_blind_answers.py` prints the counts per exercise.
"""

from __future__ import annotations

import json
import linecache
import os
import re
import sys
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

os.environ.setdefault("COURSE_NO_PROGRESS", "1")
sys.path.insert(0, str(Path(__file__).parent))

from blind_answers import ANSWERS  # noqa: E402

from course_utils.course.checks import check  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# Messages a grader gives when the answer matched no known mistake (see the docstring).
GENERIC_MESSAGES = re.compile(r"differs from the reference: max difference|is not right yet"
                              r"|of \d+ predictions (?:are|is) off|words? (?:have|has) the wrong id")

# (exercise, label) -> why no specific hint can be given for this wrong answer.
EXPECTED_GENERIC: dict[tuple[str, str], str] = {
    ("02.rnn_forward", "reads x along the batch"):
        "x[:, t].flip(0) feeds each row another sentence's token: no single known mistake to name, the standing "
        "advice (the loop written out) is the right help",
    ("05.predict_param_count", "one layer"):
        "the wording of 05.predict_param_count's feedback is being reworked separately; its hint already says "
        "four layers",
}


@cache
def _imports(lesson: str) -> str:
    """The import cell of the exercise notebook of `lesson` ("01" ... "10")."""
    path = next((ROOT / "exercises").glob(f"{lesson}_*.ipynb"))
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "code" and "from course_utils.course.checks import check" in text:
            return text
    raise AssertionError(f"{path.name}: no import cell")


@cache
def grade(answer):
    namespace: dict = {"__name__": "__main__"}
    exec(_imports(answer.exercise[:2]), namespace)
    filename = f"<answer {answer.exercise} {answer.label}>"
    lines = answer.source.splitlines(keepends=True)
    linecache.cache[filename] = (len(answer.source), None, lines, filename)
    exec(compile(answer.source, filename, "exec"), namespace)
    return check(answer.exercise, namespace[answer.name])


def named(result) -> bool:
    return bool((result.hint or "").strip()) and not GENERIC_MESSAGES.search(result.message)


def verdict(answer, result) -> str:
    if answer.right:
        return "ok" if result.passed else "false reject"
    if result.passed:
        return "false accept"
    if named(result):
        return "named"
    return "expected generic" if (answer.exercise, answer.label) in EXPECTED_GENERIC else "generic"


def _id(a):
    return f"{a.exercise}:{'right' if a.right else 'wrong'}:{a.label}"


@pytest.mark.parametrize("answer", ANSWERS, ids=_id)
def test_blind_answer(answer):
    result = grade(answer)
    v = verdict(answer, result)
    assert v in ("ok", "named", "expected generic"), f"{v}: {answer.exercise} {answer.label}\n{result!r}"


def test_expected_generic_entries_are_real():
    labels = {(a.exercise, a.label) for a in ANSWERS if not a.right}
    assert set(EXPECTED_GENERIC) <= labels
    for a in ANSWERS:
        if (a.exercise, a.label) in EXPECTED_GENERIC:  # still generic: a named hint would make the entry stale
            assert not named(grade(a)), f"{a.exercise} {a.label} is named now: drop it from EXPECTED_GENERIC"


def test_named_share_at_least_95_percent():
    wrong = [a for a in ANSWERS if not a.right]
    n_named = sum(named(grade(a)) for a in wrong)
    assert n_named / len(wrong) >= 0.95, f"{n_named}/{len(wrong)} wrong answers get a named hint"


def main(verbose: bool = False) -> None:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a in ANSWERS:
        r = grade(a)
        v = verdict(a, r)
        counts[a.exercise]["answers"] += 1
        counts[a.exercise][v] += 1
        if verbose or v not in ("ok", "named"):
            print(f"[{v}] {a.exercise} / {a.label}\n    {r.message}\n    hint: {r.hint}")
    cols = ("answers", "ok", "false reject", "false accept", "named", "generic", "expected generic")
    print("exercise".ljust(26) + "".join(c[:12].rjust(13) for c in cols))
    total = defaultdict(int)
    for ex in sorted(counts):
        print(ex.ljust(26) + "".join(str(counts[ex][c]).rjust(13) for c in cols))
        for c in cols:
            total[c] += counts[ex][c]
    print("total".ljust(26) + "".join(str(total[c]).rjust(13) for c in cols))
    wrong = total["named"] + total["generic"] + total["expected generic"] + total["false accept"]
    print(f"named hints: {total['named']}/{wrong} wrong answers = {100 * total['named'] / max(wrong, 1):.1f} %")


if __name__ == "__main__":
    main(verbose="-v" in sys.argv)
