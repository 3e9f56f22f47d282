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
    """Use at most ``n`` CPU threads: the course's machines have two cores. ``OMP_NUM_THREADS``, where set,
    lowers it: a grader running several notebooks side by side gives each kernel its share of the cores
    (two kernels with two threads each on two cores trained 04's CNN slower than one after the other)."""
    cap = os.environ.get("OMP_NUM_THREADS", "")
    torch.set_num_threads(max(1, min(n, int(cap))) if cap.isdigit() else n)


class torch_threads:
    """``with torch_threads(n): ...`` runs torch on ``n`` intra-op threads, then puts the count back (``None``
    leaves it alone). Tiny models train fastest on one thread: a second only adds the cost of waking it, and
    when the other core is busy much more (measured for notebook 09's SAE: 1000 steps took 7 s on one thread
    and 63 s on two while another process used the machine)."""

    def __init__(self, n: int | None):
        self.n = n

    def __enter__(self):
        self.previous = torch.get_num_threads()
        if self.n is not None:
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.previous)
        return False


def one_thread() -> torch_threads:
    """``with one_thread(): ...``: torch on one thread inside the block (see :class:`torch_threads`)."""
    return torch_threads(1)
