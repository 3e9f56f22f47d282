"""Data with known ground truth, made on the spot: nothing is downloaded.

Each generator takes a ``seed`` and draws from its own ``torch.Generator``, so
the same call gives the same data in every notebook and every check.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Regression:
    """Synthetic regression data y = X w + b + noise, with the truth kept alongside."""

    X: torch.Tensor  # [n, d] float32
    y: torch.Tensor  # [n] float32
    weights: torch.Tensor  # [d] the planted weights
    bias: float
    noise: float  # standard deviation of the noise


def linear_regression_data(n: int = 200, weights=(2.0, -3.0), bias: float = 0.5, noise: float = 0.1,
                           *, correlation: float = 0.0, scales=None, seed: int = 0) -> Regression:
    """Features from a standard normal (optionally correlated and rescaled), targets from planted weights.

    ``correlation`` is the correlation between every pair of features (0 <= c < 1);
    ``scales`` multiplies each feature column, e.g. to make one feature 1000 times larger.
    """
    g = torch.Generator().manual_seed(seed)
    w = torch.as_tensor(weights, dtype=torch.float32)
    d = w.numel()
    if not 0.0 <= correlation < 1.0:
        raise ValueError("correlation must lie in [0, 1)")
    cov = torch.full((d, d), correlation) + (1 - correlation) * torch.eye(d)
    X = torch.randn(n, d, generator=g) @ torch.linalg.cholesky(cov).T
    if scales is not None:
        X = X * torch.as_tensor(scales, dtype=torch.float32)
    y = X @ w + bias + noise * torch.randn(n, generator=g)
    return Regression(X, y, w, float(bias), float(noise))


def two_moons(n: int = 400, noise: float = 0.1, *, seed: int = 0):
    """scikit-learn's two interleaving half-circles as tensors: X [n, 2] float32, y [n] int64 in {0, 1}."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)


def circles(n: int = 400, noise: float = 0.05, factor: float = 0.5, *, seed: int = 0):
    """scikit-learn's two concentric circles as tensors: X [n, 2] float32, y [n] int64 in {0, 1}."""
    from sklearn.datasets import make_circles

    X, y = make_circles(n_samples=n, noise=noise, factor=factor, random_state=seed)
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)


def train_test_split(*tensors: torch.Tensor, test_fraction: float = 0.25, seed: int = 0):
    """Shuffle the rows of every tensor the same way and cut them in two: train parts, then test parts."""
    n = tensors[0].shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = n - int(round(test_fraction * n))
    train = [t[order[:cut]] for t in tensors]
    test = [t[order[cut:]] for t in tensors]
    return (*train, *test)


def grid(X: torch.Tensor, steps: int = 200, margin: float = 0.5):
    """A grid covering 2-d points X, for drawing decision boundaries.

    Returns (xx, yy, points): xx, yy of shape [steps, steps] and points [steps², 2], float32.
    """
    lo = X.min(dim=0).values.numpy() - margin
    hi = X.max(dim=0).values.numpy() + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    points = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], axis=1), dtype=torch.float32)
    return xx, yy, points
