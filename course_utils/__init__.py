"""course_utils: the helper package of the course "Attention, step by step".

Each module is one idea of the course and the single source of truth that later
lessons import once a lesson has built the idea inline. Imports flow one way:

    masks -> attention -> positional -> layers -> model -> data -> train / decoding

with plotting, widgets, checks, progress and the `course` CLI on top.
"""

__version__ = "0.1.0"

from course_utils.seed import set_seed  # noqa: F401  (the first cell of every notebook)
