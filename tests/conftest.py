"""Shared test set-up: one thread per test process (CI runs two xdist workers on two cores)."""

import os

import pytest
import torch

torch.set_num_threads(int(os.environ.get("COURSE_TEST_THREADS", "1")))
os.environ.setdefault("COURSE_NO_PROGRESS", "1")


@pytest.fixture
def gen():
    """A private, seeded random generator, so tests never depend on the global RNG."""
    return torch.Generator().manual_seed(1234)
