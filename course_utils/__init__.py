"""course_utils: the helper package of the course "Attention, step by step".

Each module is one idea of the course and the single source of truth that later
lessons import once a lesson has built the idea inline. Imports flow one way:

    masks -> attention -> positional -> layers -> model
    grammar -> data (the toy English->Chinese corpus), metrics (exact match, BLEU)
    model + data + metrics -> train, decoding -> reference (the shipped model)

and on top: plotting, widgets / widgets_masks / widgets_translate (lesson widgets),
checks (exercise graders), progress, build (exercise generator) and cli (`course`).
"""

__version__ = "0.1.0"

from course_utils.seed import set_seed  # noqa: F401  (the first cell of every notebook)
