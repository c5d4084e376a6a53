"""Shared test set-up: one thread per test process (CI runs two xdist workers on two cores)."""

import os

import pytest
import torch

torch.set_num_threads(int(os.environ.get("COURSE_TEST_THREADS", "1")))
os.environ.setdefault("COURSE_NO_PROGRESS", "1")


@pytest.fixture(autouse=True)
def _torch_threads_unchanged():
    """A test must leave torch's thread count as it found it. A test process left with a second
    thread runs every later test's small tensor operations on two threads that wait for each other;
    on a loaded machine those waits made one test file ten times slower."""
    before = torch.get_num_threads()
    yield
    after = torch.get_num_threads()
    if after != before:
        torch.set_num_threads(before)
        pytest.fail(f"the test left torch using {after} threads (it began with {before}): "
                    "set them back when it ends (course_utils.run.reference.torch_threads does)", pytrace=False)


@pytest.fixture
def gen():
    """A private, seeded random generator, so tests never depend on the global RNG."""
    return torch.Generator().manual_seed(1234)
