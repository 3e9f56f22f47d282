"""Seeding and devices: the two things every notebook sets up first."""
from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and PyTorch's global random generators.

    Global seeding makes a whole notebook repeatable. Code that must not depend
    on what ran before it (a check, a data generator) should take its own
    ``torch.Generator`` instead.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds the CPU and every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """The best device here: ``prefer`` if given, else CUDA, then Apple's MPS, then the CPU.

    The course runs on the CPU; the code is written so that any of the three works.
    """
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def limit_threads(n: int = 2) -> None:
    """Use at most ``n`` CPU threads: the course's machines have two cores."""
    torch.set_num_threads(n)
