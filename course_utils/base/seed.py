"""base layer · reproducibility: one call seeds every random number generator the course uses."""

import os
import random

import numpy as np
import torch

from course_utils.base.validate import non_negative_int


def set_seed(seed: int = 0) -> None:
    """Seed Python's `random`, NumPy and PyTorch (CPU and, if present, CUDA).

    Returns nothing, so a notebook's setup cell shows no output. Code that wants its own
    stream of random numbers builds one: `torch.Generator().manual_seed(seed)`.
    """
    non_negative_int("seed", seed)
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses started from here on
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
