"""A learner's first `check(...)` answers at once: it loads the checkers without importing the slow
modules no check needs (nbformat with its JSON-schema grammars, about 2 CPU seconds; sympy, which
`torch.broadcast_shapes` imports on its first call, about 1.5 s; sacreBLEU, 0.5 s). Each kernel paid
them before (4.6 s of CPU for the first check of an exercise notebook, 0.14 s now)."""

import os
import random
import subprocess
import sys

import torch

from course_utils.base.validate import broadcast_shape

SLOW = ("nbformat", "sympy", "sacrebleu")

FIRST_CHECKS = r"""
import sys
import torch
from course_utils.course.checks import check

def stub(q, k, v, mask=None):
    raise NotImplementedError("Exercise 04.attention: your code here")

def attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(-1)
    return weights @ v, weights

assert check("04.attention", stub).status == "pending"
assert check("04.attention", attention).status == "passed"
print(" ".join(name for name in sys.argv[1:] if name in sys.modules))
"""


def test_the_first_checks_import_no_slow_module():
    out = subprocess.run([sys.executable, "-c", FIRST_CHECKS, *SLOW], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, COURSE_NO_PROGRESS="1", OMP_NUM_THREADS="1"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [], f"imported by the first checks: {out.stdout.strip()}"


def test_reading_a_notebook_builds_no_uri_grammar():
    """nbformat validates notebooks with jsonschema; from 4.24 on, jsonschema builds rfc3987-syntax's
    grammar as it loads (1 CPU second in every Jupyter server, `course check`, nbgrader and nbval
    process), which is why requirements-lock.txt pins jsonschema 4.23.0."""
    code = "import sys, nbformat; nbformat.validate(nbformat.v4.new_notebook()); print('rfc3987_syntax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", "jsonschema loads rfc3987_syntax: keep jsonschema at 4.23.0 in the lock"


def test_broadcast_shape_agrees_with_torch():
    rng = random.Random(0)
    for _ in range(5000):
        shapes = [tuple(rng.choice((1, 1, 2, 3)) for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(1, 3))]
        try:
            want = tuple(torch.broadcast_shapes(*shapes))
        except RuntimeError:
            want = None
        assert broadcast_shape(*shapes) == want, shapes
    assert broadcast_shape(torch.Size([2, 1, 5]), (4, 1)) == (2, 4, 5)
    assert broadcast_shape((2, 3), (4, 3)) is None
