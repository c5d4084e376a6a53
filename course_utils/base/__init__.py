"""base: what every other layer may use — reproducible seeds and argument validation.

Imports nothing from the rest of course_utils.
"""
