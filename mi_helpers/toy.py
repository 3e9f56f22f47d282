"""Toy models of superposition (Elhage et al. 2022), the library of notebook 09's section 1.

``n_features`` sparse features live in ``n_hidden < n_features``
dimensions: the model is ``out = ReLU(Wᵀ W x + b)`` with ``W [n_hidden, n_features]``; column ``W[:, i]`` is
where feature ``i`` points in the hidden space. Nothing here trains (training is exercise 09.3) and nothing
here touches the global random state: every draw comes from a generator the caller passes or seeds.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from mi_helpers.utils import one_thread


class ToyModel(nn.Module):
    """``out = ReLU(Wᵀ W x + b)``: n_features -> n_hidden -> n_features with tied weights.

    Parameters: ``W [n_hidden, n_features]`` drawn Xavier-normal (std sqrt(2 / (n_hidden + n_features))) from
    ``torch.Generator().manual_seed(seed)``, so the same seed gives the same model and the global random
    state is untouched; ``b [n_features]`` zeros. Float32.
    """

    def __init__(self, n_features: int, n_hidden: int, *, seed: int = 0):
        super().__init__()
        if n_features < 1 or n_hidden < 1:
            raise ValueError(f"n_features and n_hidden must be at least 1, got {n_features} and {n_hidden}")
        g = torch.Generator().manual_seed(seed)
        std = math.sqrt(2.0 / (n_hidden + n_features))
        self.n_features, self.n_hidden = n_features, n_hidden
        self.W = nn.Parameter(std * torch.randn(n_hidden, n_features, generator=g))
        self.b = nn.Parameter(torch.zeros(n_features))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """x [batch, n_features] -> h = W x, [batch, n_hidden]."""
        return x @ self.W.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [batch, n_features] -> ReLU(Wᵀ W x + b), [batch, n_features]."""
        return torch.relu(self.hidden(x) @ self.W + self.b)

    def extra_repr(self) -> str:
        return f"n_features={self.n_features}, n_hidden={self.n_hidden}"


def sparse_features(n: int, n_features: int, density: float, *, generator: torch.Generator,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """n samples of sparse synthetic features: [n, n_features].

    Each entry is present with probability ``density`` (independently), and a present feature takes a value
    uniform in [0, 1]; absent ones are 0. Two draws from ``generator``, in this order: the presence
    (``torch.rand(n, n_features) < density``), then the values (``torch.rand(n, n_features)``).
    """
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density is a probability, got {density}")
    present = torch.rand(n, n_features, generator=generator) < density
    values = torch.rand(n, n_features, generator=generator)
    return (values * present).to(dtype)


# ---------------------------------------------------------------- reading a trained model (plain data)

def toy_state(model) -> dict:
    """What the checks need from a model, as plain data (runs where the model lives, see checks.core.inside):
    its class name, W and b (detached copies, or None), its mode, and whether any parameter holds a .grad."""
    W, b = getattr(model, "W", None), getattr(model, "b", None)
    return {"cls": type(model).__name__, "is_toy": isinstance(model, ToyModel),
            "W": W.detach().clone() if isinstance(W, torch.Tensor) else None,
            "b": b.detach().clone() if isinstance(b, torch.Tensor) else None,
            "training": bool(getattr(model, "training", False)),
            "requires_grad": [bool(p.requires_grad) for p in model.parameters()]
            if isinstance(model, nn.Module) else []}


def train_and_read(train_fn, *args, **kwargs) -> dict:
    """Runs where the learner's function lives (checks.core.inside): ``train_fn(*args, **kwargs)`` on one thread,
    then :func:`toy_state` of what it returned, with ``rng_moved``: whether torch's global random state changed."""
    state = torch.get_rng_state()
    with one_thread():
        model = train_fn(*args, **kwargs)
    read = toy_state(model)
    read["rng_moved"] = not torch.equal(state, torch.get_rng_state())
    return read


def column_norms(W: torch.Tensor) -> torch.Tensor:
    """||W[:, i]|| for every feature i: [n_features]."""
    return W.detach().double().norm(dim=0)


def angular_gaps(W: torch.Tensor, *, min_norm: float = 0.5) -> torch.Tensor:
    """For a W with 2 rows: the angles in degrees between neighbouring columns of norm >= ``min_norm``, going
    round the circle (they add up to 360). A regular pentagon gives five gaps of 72."""
    if W.shape[0] != 2:
        raise ValueError(f"angular_gaps needs W with 2 rows (2 hidden dimensions), got {tuple(W.shape)}")
    W = W.detach().double()
    kept = W[:, column_norms(W) >= min_norm]
    if kept.shape[1] == 0:
        return torch.empty(0, dtype=torch.float64)
    angles = torch.atan2(kept[1], kept[0]).sort().values
    gaps = torch.diff(torch.cat([angles, angles[:1] + 2 * math.pi]))
    return torch.rad2deg(gaps)


def dims_per_feature(W: torch.Tensor) -> float:
    """The paper's "dimensions per feature": n_hidden / ||W||_F². 1 when n_hidden features are represented
    (each with norm 1) and the rest dropped; n_hidden / n_features when all features are, with norm 1."""
    W = W.detach().double()
    return float(W.shape[0] / (W ** 2).sum().clamp_min(1e-12))


def draw_columns(W: torch.Tensor, *, ax=None, title: str | None = None):
    """The columns of a W with 2 rows as arrows from the origin, labelled by feature, with the unit circle."""
    import matplotlib.pyplot as plt

    from mi_helpers import plot

    W = W.detach().cpu().double()
    if W.shape[0] != 2:
        raise ValueError(f"draw_columns needs W with 2 rows, got {tuple(W.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(3.2, 3.2))
    t = torch.linspace(0, 2 * math.pi, 200)
    ax.plot(t.cos(), t.sin(), color="0.85", lw=1, zorder=0)
    plot.arrows(W.T, ax=ax, labels=[str(i) for i in range(W.shape[1])], title=title)
    ax.set_xlim(-1.4, 1.4)
    ax.set_ylim(-1.4, 1.4)
    ax.set(xlabel="hidden dimension 1", ylabel="hidden dimension 2")
    return ax
