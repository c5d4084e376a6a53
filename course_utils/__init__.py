"""course_utils: the helper package of the course "Attention, step by step".

Each module is one idea of the course and the single source of truth that later
lessons import once a lesson has built the idea by hand. The folders are layers;
a module imports only from its own layer or the layers above it in this list
(tests/test_layers.py enforces it):

    base/          seed (reproducibility), validate (argument checks with clear errors), i18n
                   (translatable messages: English source, other editions at display time)
    transformer/   the model a learner builds: intuition (numpy, lessons 01-04); masks -> attention
                   -> positional -> layers -> model, torch_border (conversions to and from torch.nn)
    corpus/        the toy English->Chinese corpus: grammar -> data, metrics (exact match, BLEU)
    run/           running the model: decoding (inference, the one evaluation), train, reference
                   (the shipped model), scripted (a stand-in model that needs no training, lesson 10)
    view/          what a learner sees: plotting, widget_base (the one widget convention), widgets
                   (lessons 01-04), widgets_masks (06), widgets_steps (08), widgets_translate (10)
    course/        the course machinery: notebook (the notebook format, in one place), checks (exercise
                   graders), exercise_list, progress, build
                   (exercise generator), grading (`course check`), judge (grading outside the learner's
                   kernel: docs/JUDGE.md), reset (`course reset`), cli (the `course`
                   command: parsing and dispatch), classroom (nbgrader for a class), class_progress (the
                   class's progress for an instructor), edition (the
                   Chinese edition zh/ from translations/zh), catalogue (the Chinese message catalogue),
                   capstone (lesson 11: the learner's parts gathered from their notebooks, the assembled
                   model measured)

Lessons import from a layer's package, e.g. ``from course_utils.transformer import causal_mask``.
"""

__version__ = "0.1.0"

from course_utils.base.seed import set_seed  # noqa: F401  (the first cell of every notebook)
