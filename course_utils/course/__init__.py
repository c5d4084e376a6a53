"""course: the course machinery — exercise graders (checks), progress, the exercise
generator (build) and the `course` command (cli).

The top layer: it may import from every other layer; nothing imports from it.
"""
