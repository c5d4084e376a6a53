"""Fixtures of the classroom tests (see helpers.py for why they may be skipped)."""

import shutil
import sys
from pathlib import Path

import pytest
from helpers import missing_tool, need, run


@pytest.fixture(scope="session")
def nbgrader_bin():
    need("nbgrader", "nbgrader is not installed here: run `bash scripts/test_classroom.sh` "
                     "(it installs the classroom tools into .venv-classroom)")
    exe = Path(sys.executable).parent / "nbgrader"
    if not exe.exists():
        found = shutil.which("nbgrader")
        if not found:
            missing_tool("the nbgrader command is not on PATH")
        exe = Path(found)
    return exe


@pytest.fixture(scope="session")
def released_course(nbgrader_bin, tmp_path_factory):
    """The nbgrader course of every lesson as an instructor has it before learners submit: written
    by `course classroom nbgrader` and every assignment released by one run of
    `nbgrader generate_assignment "lesson*"` (source/, release/, gradebook.db, nbgrader_config.py).
    Made once per session in a folder no test writes to: use `released` for a copy to grade in."""
    from course_utils.course import classroom

    course = tmp_path_factory.mktemp("released") / "course"
    classroom.write_nbgrader_course(course)
    run([nbgrader_bin, "generate_assignment", "lesson*"], cwd=course)
    return course


@pytest.fixture
def released(released_course, tmp_path):
    """A test's own copy of `released_course`, in its temporary folder: what one test grades
    never meets another test's gradebook."""
    return Path(shutil.copytree(released_course, tmp_path / "course"))
