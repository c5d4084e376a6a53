"""base: what every other layer may use — reproducible seeds, argument validation and
translatable messages.

Imports nothing from the rest of course_utils.
"""
