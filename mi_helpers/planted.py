"""A small MLP with a feature planted in its hidden layer that it never uses.

Notebook 08 teaches that *correlation is not causation*: a linear probe can read a
feature out of a layer that the model never uses. To grade the claim "the model uses
feature a, not feature b", the course needs a model where this is known exactly, so
every weight here is set by hand (no training: exact and instantaneous).

**The data** (:func:`planted_features`). Two binary features ``a`` and ``b`` are written
into the input as signs along two fixed orthonormal directions ``u_a``, ``u_b`` of
``R^d_in`` (:func:`feature_directions`; they depend on ``d_in`` only), plus isotropic
Gaussian noise in every dimension::

    x = AMP_A * (2a - 1) * u_a + AMP_B * (2b - 1) * u_b + SIGMA * noise,    y = a

``a`` and ``b`` are independent fair coins by default (``agreement=0.5``; pass another
``agreement = P(b == a)`` for a fixed correlation). The label is ``a`` and nothing else.
``b`` is written louder (``AMP_B = 2 * AMP_A``), so it is the *more* decodable feature:
along ``u_a`` the signal-to-noise ratio is ``AMP_A / SIGMA = 2`` (no classifier can beat
``Phi(2)``, about 97.7% on ``y``), along ``u_b`` it is 4 (about 99.997%).

**The model** (:func:`planted_model`): ``fc1 -> relu -> hidden -> fc2``, where ``hidden``
is a :class:`~mi_helpers.hooks.HookPoint` that names the hidden activation after the ReLU.

- ``UNITS_A`` = (0, 1) compute ``relu(+u_a . x)`` and ``relu(-u_a . x)``; ``fc2`` reads their
  difference, ``u_a . x``, into the logits ``(-GAIN * u_a . x, +GAIN * u_a . x)``: the model
  predicts ``y = a`` and is Bayes-optimal.
- ``UNITS_B`` = (2, 3, 4, 5) compute ``relu(+-B_GAIN * u_b . x)``, twice over: twice as many
  units as ``a`` and about four times larger activations, so a linear probe decodes ``b``
  from the hidden layer almost perfectly, better than ``a``. Their weights into the output
  are exactly zero.
- Units from 6 to ``hidden - 1``, if any, read random directions (drawn from ``seed``) and
  also have zero weight into the output.

So the probe that finds ``b`` best points at the wrong feature. Only an intervention tells
them apart: zero-, mean- or resample-ablating ``UNITS_B`` (or any unit outside ``UNITS_A``)
leaves every logit bit-for-bit unchanged, while ablating ``UNITS_A`` makes the output a
constant, and the accuracy falls to chance. ``FEATURE_USED = "a"`` is the answer the checks
expect.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .hooks import HookPoint

D_IN = 16  # input dimension by default
HIDDEN = 8  # hidden units by default: UNITS_A, UNITS_B and two unused random units
AMP_A = 1.0  # amplitude of a's sign along u_a in the input
AMP_B = 2.0  # amplitude of b's sign along u_b: b is the louder, more decodable feature
SIGMA = 0.5  # standard deviation of the noise, in every input dimension
GAIN = 4.0  # logit gain of fc2 on u_a . x
B_GAIN = 2.0  # gain of fc1 on u_b . x in the b-units (larger activations than the a-units)
DIRECTION_SEED = 8  # the seed of the fixed directions u_a, u_b (notebook 08)

UNITS_A = (0, 1)  # hidden units that compute a, and the only ones fc2 reads
UNITS_B = (2, 3, 4, 5)  # hidden units that compute b, with zero weight into the output
FEATURE_USED = "a"  # the feature the model uses (and the label)
FEATURE_UNUSED = "b"  # decodable from the hidden layer, better than a, but never used
N_PLANTED = len(UNITS_A) + len(UNITS_B)


@dataclass(frozen=True)
class PlantedData:
    """Inputs ``X`` ``[n, d_in]`` float32, features ``a``, ``b`` and label ``y = a``, ``[n]`` int64."""

    X: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return self.X.shape[0]


def feature_directions(d_in: int = D_IN) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed orthonormal directions ``(u_a, u_b)``, each ``[d_in]`` float32, along which the
    input carries a and b. They depend on ``d_in`` only (not on any seed), so data and model of
    the same ``d_in`` always agree."""
    if d_in < 2:
        raise ValueError(f"need d_in >= 2 for two orthogonal directions, got {d_in}")
    g = torch.Generator().manual_seed(DIRECTION_SEED)
    q, _ = torch.linalg.qr(torch.randn(d_in, 2, generator=g, dtype=torch.float64))
    return q[:, 0].float().contiguous(), q[:, 1].float().contiguous()


def planted_features(n: int, *, seed: int = 0, d_in: int = D_IN, agreement: float = 0.5) -> PlantedData:
    """``n`` inputs that carry two binary features, ``a`` (the label) and ``b`` (a distractor).

    ``a`` is a fair coin; ``b`` equals ``a`` with probability ``agreement`` (0.5 by default:
    independent). The same ``seed`` gives the same data; the global random state is not used.
    """
    if not 0.0 <= agreement <= 1.0:
        raise ValueError(f"agreement is a probability, got {agreement}")
    u_a, u_b = feature_directions(d_in)
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, generator=g) < 0.5).long()
    same = (torch.rand(n, generator=g) < agreement).long()
    b = torch.where(same.bool(), a, 1 - a)
    noise = torch.randn(n, d_in, generator=g)
    sign_a, sign_b = (2 * a - 1).float(), (2 * b - 1).float()
    X = AMP_A * sign_a[:, None] * u_a + AMP_B * sign_b[:, None] * u_b + SIGMA * noise
    return PlantedData(X=X, a=a, b=b, y=a.clone())


class PlantedMLP(nn.Module):
    """``fc1 -> relu -> hidden -> fc2``; ``hidden`` names the hidden activation ``[batch, hidden]``."""

    def __init__(self, d_in: int, hidden: int):
        super().__init__()
        # The default initialisation draws from the global generator: fork it, so that its state
        # is left as it was (planted_model then overwrites every weight).
        with torch.random.fork_rng(devices=[]):
            self.fc1 = nn.Linear(d_in, hidden)
            self.relu = nn.ReLU()
            self.hidden = HookPoint()
            self.fc2 = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.hidden(self.relu(self.fc1(x))))


def planted_model(d_in: int = D_IN, hidden: int = HIDDEN, *, seed: int = 0) -> PlantedMLP:
    """The hand-set MLP above: uses ``a`` (``UNITS_A``), computes but never uses ``b`` (``UNITS_B``).

    ``seed`` draws only the input weights of the unused units beyond ``UNITS_B`` (none when
    ``hidden == 6``); the global random state is not used.
    """
    if hidden < N_PLANTED:
        raise ValueError(f"need hidden >= {N_PLANTED} (units {UNITS_A} for a, {UNITS_B} for b), got {hidden}")
    u_a, u_b = feature_directions(d_in)
    model = PlantedMLP(d_in, hidden)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        W1, W2 = model.fc1.weight, model.fc2.weight  # [hidden, d_in], [2, hidden]
        W1[UNITS_A[0]], W1[UNITS_A[1]] = u_a, -u_a
        for plus, minus in zip(UNITS_B[0::2], UNITS_B[1::2]):
            W1[plus], W1[minus] = B_GAIN * u_b, -B_GAIN * u_b
        if hidden > N_PLANTED:
            W1[N_PLANTED:] = torch.randn(hidden - N_PLANTED, d_in, generator=g) / d_in ** 0.5
        # logit_1 - logit_0 = 2 * GAIN * (relu(u_a.x) - relu(-u_a.x)) = 2 * GAIN * u_a.x; all else 0.
        W2[1, UNITS_A[0]], W2[1, UNITS_A[1]] = GAIN, -GAIN
        W2[0, UNITS_A[0]], W2[0, UNITS_A[1]] = -GAIN, GAIN
    return model.eval()
