"""Hand-weighted models and small helpers for notebook 06 (gradients, relevance, perturbation).

Every model here has its weights set by hand or from a
seed, so the attributions are known in advance:

- :func:`linear_model`: logits = x Wᵀ + b. Saliency is |W[target]|, gradient×input is x * W[target], and
  integrated gradients from a baseline b₀ is (x - b₀) * W[target] exactly, for any number of steps.
- :class:`SquareModel`: logit c = Σ_i C[c, i] x_i². Its gradient is linear along a straight path, so the
  midpoint rule integrates it exactly: IG = C[target] * (x² - baseline²), for any number of steps, while a
  left or right Riemann sum is off by C * (x - b)² / steps.
- :func:`relu_mlp`: an ``nn.Sequential`` of Linear and ReLU from given weights (bias-free if the biases are
  None), the kind of network ``lrp_epsilon`` supports; :func:`seeded_mlp` draws one from a seed.
- :func:`digits_cnn`: the SmallCNN of notebook 04 trained on the digits (about 2 s, cached).
- :func:`completeness_error`: |Σ attr - (f(x) - f(baseline))| / |f(x) - f(baseline)|, per row.
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from .models import SmallCNN


def _as(t, dtype) -> torch.Tensor:
    return torch.as_tensor(t, dtype=dtype)


def linear_model(W, b=None, *, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """nn.Sequential(nn.Linear) with weight W [n_out, n_in] and bias b [n_out] (zeros if None), in eval mode."""
    W = _as(W, dtype)
    with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws from the global generator
        layer = nn.Linear(W.shape[1], W.shape[0], bias=True).to(dtype)
    with torch.no_grad():
        layer.weight.copy_(W)
        layer.bias.copy_(_as(b, dtype) if b is not None else torch.zeros(W.shape[0], dtype=dtype))
    return nn.Sequential(layer).eval()


class SquareModel(nn.Module):
    """logits[:, c] = Σ_i C[c, i] · x_i², for x of shape [batch, n_in] (C: [n_out, n_in])."""

    def __init__(self, C, *, dtype: torch.dtype = torch.float64):
        super().__init__()
        self.C = nn.Parameter(_as(C, dtype).clone())

    def forward(self, x):
        return (x * x) @ self.C.T


def relu_mlp(weights, biases=None, *, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """Linear, ReLU, Linear, ReLU, ..., Linear from weights [W1, W2, ...] (W_k: [n_out, n_in]).

    ``biases`` None gives a bias-free net (every Linear with bias=False); else one bias (or None) per layer.
    """
    layers = []
    for k, W in enumerate(weights):
        W = _as(W, dtype)
        b = None if biases is None else biases[k]
        with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws from the global generator
            layer = nn.Linear(W.shape[1], W.shape[0], bias=b is not None).to(dtype)
        with torch.no_grad():
            layer.weight.copy_(W)
            if b is not None:
                layer.bias.copy_(_as(b, dtype))
        layers.append(layer)
        if k < len(weights) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).eval()


def seeded_mlp(seed: int, sizes=(6, 8, 5, 3), *, bias: bool = True, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """A relu_mlp with random weights (and biases, if ``bias``) drawn from ``seed``; global random state untouched."""
    g = torch.Generator().manual_seed(seed)
    weights = [torch.randn(o, i, generator=g, dtype=dtype) / i ** 0.5 for i, o in zip(sizes[:-1], sizes[1:])]
    biases = [0.3 * torch.randn(o, generator=g, dtype=dtype) for o in sizes[1:]] if bias else None
    return relu_mlp(weights, biases, dtype=dtype)


@functools.lru_cache(maxsize=2)
def digits_cnn(epochs: int = 60, seed: int = 0) -> SmallCNN:
    """The SmallCNN of notebook 04 trained on the digits' training split (full batch, Adam), in eval mode.

    About 2 s on one CPU core; cached, so call it as often as needed (do not train the result further).
    """
    from .data import digits
    from .train import train

    data = digits()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN()
    train(model, data.X_train, data.y_train, epochs=epochs, lr=1e-2, seed=seed, progress=False)
    for p in model.parameters():  # training leaves the last step's gradients: no attribution should see them
        p.grad = None
    return model.eval()


def target_logit(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """model(x)[i, target_i] for every row i, without a graph: [batch]. ``target`` an int or a LongTensor [batch]."""
    with torch.no_grad():
        logits = model(x)
    t = torch.as_tensor(target, device=logits.device).expand(logits.shape[0])
    return logits.gather(1, t[:, None])[:, 0]


def completeness_error(attr: torch.Tensor, model: nn.Module, x: torch.Tensor, target, baseline=None) -> torch.Tensor:
    """Per row, |Σ attr - (f(x) - f(baseline))| / |f(x) - f(baseline)|, with f the target logit: [batch]."""
    baseline = torch.zeros_like(x) if baseline is None else baseline.expand_as(x)
    gap = target_logit(model, x, target) - target_logit(model, baseline, target)
    return (attr.reshape(attr.shape[0], -1).sum(1) - gap).abs() / gap.abs()
