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


# ---------------------------------------------------------------- images

@dataclass
class Digits:
    """scikit-learn's bundled 8x8 handwritten digits, as images in [0, 1], with a fixed split."""

    X_train: torch.Tensor  # [n_train, 1, 8, 8] float32
    y_train: torch.Tensor  # [n_train] int64, 0-9
    X_test: torch.Tensor  # [n_test, 1, 8, 8] float32
    y_test: torch.Tensor  # [n_test] int64


def digits(test_fraction: float = 0.25, seed: int = 0) -> Digits:
    """The 1797 digits of ``sklearn.datasets.load_digits`` (shipped with scikit-learn: no download)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    X_train, y_train, X_test, y_test = train_test_split(X, y, test_fraction=test_fraction, seed=seed)
    return Digits(X_train, y_train, X_test, y_test)


SHAPES = ("circle", "square", "triangle", "bar")
COLOURS = ("red", "green", "blue")
_RGB = torch.tensor([[1.0, 0.15, 0.15], [0.15, 0.85, 0.15], [0.2, 0.35, 1.0]])


@dataclass
class Shapes:
    """Images of one shape each, with every concept that made them.

    images [n, 3, size, size] float32 in [0, 1]; shape, colour [n] int64 indexing
    SHAPES and COLOURS; position [n, 2] float32 (centre x, y in pixels); angle [n]
    float32 in radians (only bars have a meaningful orientation; vertical = 1 when
    a bar is closer to vertical); masks [n, size, size] bool, the shape's pixels.
    """

    images: torch.Tensor
    shape: torch.Tensor
    colour: torch.Tensor
    position: torch.Tensor
    angle: torch.Tensor
    vertical: torch.Tensor
    masks: torch.Tensor

    def concept_masks(self) -> dict[str, torch.Tensor]:
        """Per-pixel masks [n, size, size] for each concept value: "circle", "red", "vertical bar" ...

        A concept's mask is the shape's pixels in images that have the concept,
        and empty elsewhere: the ground truth that network dissection scores against.
        """
        out = {}
        for i, name in enumerate(SHAPES):
            out[name] = self.masks & (self.shape == i)[:, None, None]
        for i, name in enumerate(COLOURS):
            out[name] = self.masks & (self.colour == i)[:, None, None]
        is_bar = self.shape == SHAPES.index("bar")
        out["vertical bar"] = self.masks & (is_bar & (self.vertical == 1))[:, None, None]
        out["horizontal bar"] = self.masks & (is_bar & (self.vertical == 0))[:, None, None]
        return out


def shapes(n: int = 2000, size: int = 16, *, noise: float = 0.05, seed: int = 0) -> Shapes:
    """Draw ``n`` images of one coloured shape on a dark background, all at once (no loops over images).

    Every image's shape, colour, position and orientation are random and returned;
    so are the masks of the shape's pixels. Deterministic under ``seed``; thousands
    of images take a few milliseconds.
    """
    g = torch.Generator().manual_seed(seed)
    shape = torch.randint(len(SHAPES), (n,), generator=g)
    colour = torch.randint(len(COLOURS), (n,), generator=g)
    radius = size * (0.16 + 0.08 * torch.rand(n, generator=g))  # shape's half-size
    margin = radius + 1
    centre = margin[:, None] + (size - 2 * margin)[:, None] * torch.rand(n, 2, generator=g)
    vertical = torch.randint(2, (n,), generator=g)
    jitter = (torch.rand(n, generator=g) - 0.5) * 0.5  # up to ±14° off the axis
    angle = jitter + vertical * (torch.pi / 2)

    coords = torch.arange(size, dtype=torch.float32) + 0.5
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # [size, size]
    dx = xx[None] - centre[:, 0, None, None]
    dy = yy[None] - centre[:, 1, None, None]
    r = radius[:, None, None]
    along = dx * torch.cos(angle)[:, None, None] + dy * torch.sin(angle)[:, None, None]
    across = -dx * torch.sin(angle)[:, None, None] + dy * torch.cos(angle)[:, None, None]
    inside = torch.stack([
        dx ** 2 + dy ** 2 <= r ** 2,  # circle
        (dx.abs() <= 0.8 * r) & (dy.abs() <= 0.8 * r),  # square
        (dy <= 0.8 * r) & (dy >= -r + 2 * dx.abs()),  # triangle, apex up
        (along.abs() <= 1.2 * r) & (across.abs() <= 0.3 * r + 0.5),  # bar
    ])  # [4, n, size, size]
    masks = inside[shape, torch.arange(n)]
    images = masks[:, None].float() * _RGB[colour][:, :, None, None]
    images = (images + noise * torch.rand(images.shape, generator=g)).clamp(0, 1)
    return Shapes(images, shape, colour, centre, angle.float(), vertical, masks)
