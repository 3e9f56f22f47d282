"""Sparse dictionaries (notebook 09, section 2): planted features, and a training loop that runs the learner's pieces.

Synthetic activations with a known answer::

    features       [n_true, d]   unit rows f_k, random directions (n_true > d: more features than dimensions)
    coefficients   [n, n_true]   c_ik >= 0, nonzero with probability ``density``, then uniform in [0, 1)
    activations    [n, d]        x_i = sum_k c_ik f_k + noise * N(0, I)

A sparse autoencoder trained on ``activations`` should find the ``features`` among its decoder rows.
:func:`train_sae` is the course's loop; every piece of the method in it (the SAE, its loss, the
resampling of dead latents, the score) is the learner's, passed in as an argument. It holds no solution.
Residual-stream helpers (:func:`residual_activations`, :func:`top_activations`) read the transformer of
notebook 07 through :func:`mi_helpers.hooks.run_with_cache`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch

from mi_helpers.hooks import run_with_cache
from mi_helpers.utils import torch_threads


@dataclass
class SyntheticActivations:
    """Activations built from planted features (see the module's docstring for the shapes)."""

    activations: torch.Tensor   # [n, d] float32
    features: torch.Tensor      # [n_true, d] float32, unit rows
    coefficients: torch.Tensor  # [n, n_true] float32, >= 0, mostly 0


SEED_OFFSET = 90_210


def synthetic_activations(n: int, *, d: int = 16, n_true: int = 32, density: float = 0.05, noise: float = 0.01,
                          seed: int = 0) -> SyntheticActivations:
    """``n`` activations in ``d`` dimensions, each a sparse nonnegative mix of ``n_true`` planted unit features.

    Each coefficient is nonzero with probability ``density`` (independently), and then uniform in [0, 1);
    Gaussian noise of standard deviation ``noise`` is added to every coordinate. The features depend on
    ``seed``, ``d`` and ``n_true`` only (they are drawn first), so two calls with the same seed and another
    ``n`` share them. Draws from its own generator: the global random state is left alone.
    """
    if n < 1 or d < 1 or n_true < 1 or not 0.0 <= density <= 1.0 or noise < 0:
        raise ValueError(f"need n, d, n_true >= 1, 0 <= density <= 1 and noise >= 0; got n={n}, d={d}, "
                         f"n_true={n_true}, density={density}, noise={noise}")
    g = torch.Generator().manual_seed(SEED_OFFSET + seed)  # offset: an SAE seeded alike must not start on the answer
    features = torch.randn(n_true, d, generator=g)
    features = features / features.norm(dim=1, keepdim=True)
    active = torch.rand(n, n_true, generator=g) < density
    coefficients = torch.rand(n, n_true, generator=g) * active
    activations = coefficients @ features + noise * torch.randn(n, d, generator=g)
    return SyntheticActivations(activations.float(), features.float(), coefficients.float())


# ------------------------------------------------------------------------------------------- training

def _reset_adam_moments(opt: torch.optim.Optimizer, sae, dead: torch.Tensor) -> None:
    """Zero Adam's running moments of the resampled latents (their old gradients mean nothing now)."""
    where = {id(sae.W_enc): (slice(None), dead), id(sae.b_enc): (dead,), id(sae.W_dec): (dead,)}
    for group in opt.param_groups:
        for p in group["params"]:
            state = opt.state.get(p, {})
            if id(p) in where:
                for key in ("exp_avg", "exp_avg_sq"):
                    if key in state:
                        state[key][where[id(p)]] = 0.0


@torch.no_grad()
def dead_fraction(sae, x: torch.Tensor) -> float:
    """The fraction of latents that are 0 on every row of ``x`` (dead on that data)."""
    _, latents = sae(x)
    return (latents > 0).sum(dim=0).eq(0).float().mean().item()


def train_sae(sae, activations: torch.Tensor, *, loss_fn: Callable, l1_coeff: float, steps: int = 1500,
              batch_size: int = 256, lr: float = 3e-3, resample_fn: Callable | None = None,
              resample_every: int = 250, resample_until: float = 0.6, true_features: torch.Tensor | None = None,
              score_fn: Callable | None = None, log_every: int = 50, seed: int = 0, progress: bool = True,
              desc: str = "SAE", threads: int | None = 1) -> dict:
    """Train ``sae`` on ``activations`` [n, d] with Adam, calling the learner's pieces.

    Each step: a batch of ``batch_size`` rows (drawn from a generator seeded with ``seed``),
    ``x_hat, latents = sae(x)``, ``loss = loss_fn(x, x_hat, latents, l1_coeff)``, a step of Adam, then
    ``sae.normalise_decoder()``. Every ``resample_every`` steps, while at most ``resample_until`` of the
    steps are done and if ``resample_fn`` is given: the latents that are 0 on every row of a fresh sample
    of 4096 rows of the data are dead; ``resample_fn(sae, sample, dead, seed=...)`` gets them, and Adam's
    running moments of those latents are reset to 0.

    Returns a dict of lists logged every ``log_every`` steps: ``"step"``, ``"loss"`` (the batch loss),
    ``"dead"`` (the fraction of latents that are 0 on 4096 fixed rows) and, if ``true_features`` and
    ``score_fn`` are given, ``"mmcs"`` (``score_fn(sae.W_dec, true_features)``); also ``"resampled"``
    (the number of latents resampled at each resampling) and ``"seconds"``. The model is left as trained.

    ``threads``: torch's intra-op threads during training (put back afterwards; None leaves them alone). The
    matrices are tiny, so one thread is as fast as two, and it does not stall when the other core is busy
    (measured: 1000 steps took 7 s on one thread and 63 s on two while another process used the machine).
    """
    with torch_threads(threads):
        return _train(sae, activations, loss_fn, l1_coeff, steps, batch_size, lr, resample_fn, resample_every,
                      resample_until, true_features, score_fn, log_every, seed, progress, desc)


def _train(sae, activations, loss_fn, l1_coeff, steps, batch_size, lr, resample_fn, resample_every, resample_until,
           true_features, score_fn, log_every, seed, progress, desc) -> dict:
    from tqdm.auto import tqdm

    start = time.perf_counter()
    g = torch.Generator().manual_seed(seed)
    n = activations.shape[0]
    watch = activations[torch.randperm(n, generator=g)[:4096]]
    opt = torch.optim.Adam(sae.parameters(), lr=lr)
    history = {"step": [], "loss": [], "dead": [], "mmcs": [], "resampled": [], "seconds": 0.0}

    def log(step: int, loss: float) -> None:
        history["step"].append(step)
        history["loss"].append(loss)
        history["dead"].append(dead_fraction(sae, watch))
        if true_features is not None and score_fn is not None:
            history["mmcs"].append(float(score_fn(sae.W_dec.detach().clone(), true_features)))

    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    for step in bar:
        x = activations[torch.randint(n, (batch_size,), generator=g)]
        x_hat, latents = sae(x)
        loss = loss_fn(x, x_hat, latents, l1_coeff)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sae.normalise_decoder()
        if step % log_every == 0:
            log(step, loss.item())
        if resample_fn is not None and (step + 1) % resample_every == 0 and step + 1 <= resample_until * steps:
            sample = activations[torch.randperm(n, generator=g)[:4096]]
            with torch.no_grad():
                dead = ~(sae(sample)[1] > 0).any(dim=0)
            if dead.any():
                resample_fn(sae, sample, dead, seed=seed * 100_003 + step)
                _reset_adam_moments(opt, sae, dead)
            history["resampled"].append(int(dead.sum()))
    log(steps, loss.item())
    history["seconds"] = time.perf_counter() - start
    return history


# ------------------------------------------------------------------------------- the residual stream

def residual_activations(model, tokens: torch.Tensor, hook: str = "blocks.0.hook_resid_post") -> torch.Tensor:
    """The residual stream at ``hook`` for every position of ``tokens`` [batch, pos]: [batch, pos, d_model]."""
    with torch.no_grad():
        _, cache = run_with_cache(model, tokens, [hook])
    return cache[hook]


def token_roles(batch) -> torch.Tensor:
    """For each position of a :class:`~mi_helpers.transformer.RepeatedBatch`: 0 filler, 1 first copy of A,
    2 the second copy's first token, 3 the second copy's predictable tokens (``batch.repeated``). [n, n_ctx]."""
    n, n_ctx = batch.tokens.shape
    inside = torch.arange(n_ctx)[None, :] - batch.offset[:, None]
    length = batch.lengths[:, None]
    roles = torch.zeros(n, n_ctx, dtype=torch.long)
    roles[(inside >= 0) & (inside < length)] = 1
    roles[inside == length] = 2
    roles[batch.repeated] = 3
    return roles


ROLE_NAMES = ("filler", "first copy", "second copy, first token", "second copy (predictable)")


def top_activations(latents: torch.Tensor, latent: int, k: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest values of one latent over ``latents`` [n, pos, n_latents], and where: (values [k],
    (row, position) [k, 2])."""
    column = latents[..., latent].reshape(-1)
    values, flat = column.topk(k)
    pos = latents.shape[1]
    return values, torch.stack([flat // pos, flat % pos], dim=1)
