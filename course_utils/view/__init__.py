"""view: what a learner sees — plots and the lessons' interactive widgets.

Imports from every layer below it (base, transformer, corpus, run), never from course.
"""
