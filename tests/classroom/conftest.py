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
def released(nbgrader_bin, tmp_path_factory):
    """released(lesson, target): an nbgrader course folder of one lesson at `target`, written by
    `course classroom nbgrader` and its assignment released by `nbgrader generate_assignment`
    (source/, release/, gradebook.db, nbgrader_config.py), as an instructor has it before
    learners submit. Each lesson is released once per session, in a folder no test writes to;
    each test gets its own copy, so what one test grades never meets another's gradebook."""
    from course_utils.course import classroom

    made: dict[str, Path] = {}

    def copy(lesson: str, target: Path) -> Path:
        if lesson not in made:
            course = tmp_path_factory.mktemp(f"released{lesson}") / "course"
            classroom.write_nbgrader_course(course, lessons=[lesson])
            run([nbgrader_bin, "generate_assignment", f"lesson{lesson}"], cwd=course)
            made[lesson] = course
        shutil.copytree(made[lesson], target)
        return target

    return copy
