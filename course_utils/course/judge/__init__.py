"""course layer · the judge: `course check` (and the nbgrader autograde path, through
course.grading) computes every verdict in its own process, never in the learner's kernel.
See docs/JUDGE.md for the design; the modules: wire (what crosses the channel), kernel (the
helper inside the kernel), remote (the judge's end: requests, handles, grading one exercise),
transports (comm or pipe), session (a notebook run in a kernel), launcher, scan.
"""
