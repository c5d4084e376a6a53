"""view: what a learner sees — plots and the lessons' interactive widgets.

    plotting, widget_base -> widgets (01-04), widgets_masks (06), widgets_steps (08),
    widgets_translate (10)

Imports from every layer below it (base, transformer, corpus, run), never from course.
"""
