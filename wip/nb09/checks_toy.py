"""Checks for notebook 09, section 1 (part "toy"): toy models of superposition (Elhage et al. 2022).

- 09.1 ``toy_loss(out, x, importance)``: a case worked by hand (each typical mistake gives another number:
  importance ignored, importance squared, the mean over every entry, the sum over the batch, the absolute error),
  then random cases against ``F.mse_loss`` feature by feature (importance one-hot picks one feature's mean squared
  error; equal importance of 1 is the summed squared error over the batch size), a 0-d result, and the gradient
  with respect to ``out`` through the learner's function (``inside``: autograd runs where the function lives),
  ``2 * importance * (out - x) / batch``, so a detached or ``.item()`` loss fails. Contracts: float64, meta,
  edge cases (one sample; one feature).
- 09.2 ``feature_dimensionality(W)``: analytic cases: a regular pentagon of radius 1.3 (0.4 for every feature),
  orthogonal columns of norm 2 (1), an antipodal pair of unequal norms beside an orthogonal column (0.8, 0.2, 1),
  a square W whose columns and rows give different answers, a zero column (0, no NaN); then properties on a random
  W [5, 20]: invariant under a rotation of the hidden space and a scaling of W, equivariant under a permutation of
  the features, in [0, 1]. A wrong answer is compared with typical mistakes (no normalisation, both vectors
  normalised, the feature itself left out of the sum, the sum squared instead of the squares summed, the
  numerator not squared, rows instead of columns) to name one. Contracts: float64, meta, edge cases (one feature;
  one hidden dimension).
- 09.3 ``train_toy_model(...)``: trains with the learner's function (its defaults) and MEASURES THE GEOMETRY of W:
  5 features in 2 dimensions at density 0.03 with equal importance must give a pentagon (five columns of norm
  in [0.9, 1.4], the angles between neighbouring columns 72 ± 5 degrees, every bias below -0.05); at density 1
  with importance [0.3, 1, 0.5, 0.8, 0.2] exactly the two most important features (1 and 3) must be represented,
  with norm 1 ± 0.1 and orthogonal (|cos| < 0.1), the other three columns below 0.15. ``steps=0`` must return
  ``ToyModel(5, 2, seed=seed)`` untouched (the spec's initialisation, and the steps argument honoured); the same
  seed twice gives the same weights (two runs of 50 steps); torch's global random state is unchanged by every call; the model comes
  back as a ToyModel in eval mode. Over 40 seeds with the spec's defaults, every run gave norms 1.12-1.17,
  gaps within 1.6 degrees of 72 and biases below -0.22 (REPORT_toy.md); the learner's function runs on one
  thread (``lib_toy.train_and_read``, inside the learner's kernel), where a model this small trains fastest.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from mi_helpers.checks.core import (EdgeCase, call, close_to, describe, exercise, expect, expect_close,
                                    expect_tensor, fail, generator, inside, show)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # until lib_toy moves into mi_helpers (as mi_helpers.toy)
from lib_toy import ToyModel, angular_gaps, column_norms, train_and_read  # noqa: E402


def _close(a, b, atol=1e-6, rtol=1e-5) -> bool:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.device.type == "meta":
        return False
    a, b = a.detach().double(), b.detach().double()
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and bool(torch.allclose(a, b, atol=atol, rtol=rtol))


def _name(out, mistakes: dict, fallback: str) -> str:
    for words, value in mistakes.items():
        if _close(out, value):
            return f"your result equals {words}"
    return fallback


# ====================================================================== 09.1

def loss_gradient(toy_loss, out: torch.Tensor, x: torch.Tensor, importance: torch.Tensor):
    """Runs where the learner's function lives (core.inside): d toy_loss / d out, or a word on what went wrong."""
    leaf = out.detach().clone().requires_grad_(True)
    loss = toy_loss(leaf, x, importance)
    if not isinstance(loss, torch.Tensor):
        return f"the loss came back as {describe(loss)}"
    if not loss.requires_grad:
        return "the loss is cut from autograd (loss.requires_grad is False)"
    if loss.numel() != 1:
        return f"the loss has {loss.numel()} entries"
    grad, = torch.autograd.grad(loss.reshape(()), leaf, allow_unused=True)
    return "the loss does not depend on out" if grad is None else grad.detach()


def _loss_mistakes(out, x, importance) -> dict:
    sq = (out - x) ** 2
    b = out.shape[0]
    return {"the squared error without the importance": sq.sum() / b,
            "the importance squared ((importance * (out - x)) ** 2): weigh the squared error, not the error":
                (importance ** 2 * sq).sum() / b,
            "the mean over every entry (batch and features): sum over the features, then average over the batch":
                (importance * sq).mean(),
            "the sum over the batch too: average over the batch (divide by the batch size)": (importance * sq).sum(),
            "the absolute error: square the difference": (importance * (out - x).abs()).sum() / b,
            "the mean over the features and the sum over the batch: the other way round":
                (importance * sq).mean(dim=1).sum()}


LOSS_FALLBACK = ("loss = sum over the features of importance * (out - x) ** 2, averaged over the batch: "
                 "(importance * (out - x) ** 2).sum(dim=-1).mean()")


def _toy_loss_example(g, dtype, device="cpu"):
    x = torch.rand(6, 5, generator=g, dtype=torch.float64) * (torch.rand(6, 5, generator=g) < 0.5)
    out = torch.rand(6, 5, generator=g, dtype=torch.float64)
    importance = torch.rand(5, generator=g, dtype=torch.float64) + 0.1
    return out.to(dtype).to(device), x.to(dtype).to(device), importance.to(dtype).to(device)


def _one_sample():
    return (torch.tensor([[0.5, 0.0, 1.0]]), torch.tensor([[0.0, 0.0, 0.5]]), torch.tensor([1.0, 2.0, 4.0]))


def _one_feature():
    return (torch.tensor([[0.5], [0.0], [1.0]]), torch.tensor([[0.0], [1.0], [1.0]]), torch.tensor([3.0]))


@exercise("09.1", "toy_loss", points=2, difficulty=1, minutes=10,
          example=_toy_loss_example, meta=True,
          edge_cases=(EdgeCase("one sample: out [[0.5, 0, 1]], x [[0, 0, 0.5]], importance [1, 2, 4]", _one_sample,
                               close_to(lambda *a: 1.25), hint="1 · 0.25 + 2 · 0 + 4 · 0.25 = 1.25, averaged over "
                               "a batch of one"),
                      EdgeCase("one feature: out [[0.5], [0], [1]], x [[0], [1], [1]], importance [3]", _one_feature,
                               close_to(lambda *a: 1.25), hint="3 · (0.25 + 1 + 0) / 3 = 1.25")),
          opt_out={"written by hand": "any torch operation is fine, F.mse_loss with reduction='none' included"})
def check_toy_loss(toy_loss):
    # 1. worked by hand
    out = torch.tensor([[0.0, 1.0, 0.5], [0.0, 2.0, 0.0]])
    x = torch.tensor([[1.0, 0.0, 0.5], [0.0, 0.0, 1.0]])
    importance = torch.tensor([1.0, 2.0, 0.5])
    tried = ("out = [[0, 1, 0.5], [0, 2, 0]], x = [[1, 0, 0.5], [0, 0, 1]], importance = [1, 2, 0.5]: squared "
             "errors [[1, 1, 0], [0, 4, 1]], weighted [[1, 2, 0], [0, 8, 0.5]], per sample 3 and 8.5")
    got = call(toy_loss, out, x, importance, tried=tried)
    expect_tensor(got, tried=tried, name="the loss",
                  hint="return a 0-d tensor (what .sum() or .mean() give), not a Python float: training needs "
                       "its gradient")
    expect(got.dim() == 0, "the loss should be a 0-d tensor (one number).", tried=tried,
           expected="shape ()", received=f"shape {tuple(got.shape)}",
           hint="sum over the features (dim=-1), then average over the batch: one number")
    expect_tensor(got, dtype=torch.float32, tried=tried, name="the loss")
    if abs(got.item() - 5.75) > 1e-5:
        fail("the loss is wrong.", tried=tried, expected="5.75 = (3 + 8.5) / 2", received=f"{got.item():.6g}",
             hint=_name(got, _loss_mistakes(out, x, importance), LOSS_FALLBACK))
    # 2. random cases against F.mse_loss, feature by feature
    g = generator("09.1")
    out, x, _ = _toy_loss_example(g, torch.float32)
    k = 3
    onehot = torch.zeros(5)
    onehot[k] = 1.0
    tried = f"random out and x [6, 5] float32, importance one-hot on feature {k}"
    got = call(toy_loss, out, x, onehot, tried=tried)
    want = F.mse_loss(out[:, k], x[:, k])
    expect_tensor(got, shape=(), dtype=torch.float32, tried=tried, name="the loss")
    if not _close(got, want):
        fail("with all the importance on one feature, the loss should be that feature's mean squared error.",
             tried=tried, expected=f"{want.item():.6g} = F.mse_loss(out[:, {k}], x[:, {k}])",
             received=f"{got.item():.6g}", hint=_name(got, _loss_mistakes(out, x, onehot), LOSS_FALLBACK))
    ones = torch.ones(5)
    tried = "random out and x [6, 5] float32, importance all 1"
    got = call(toy_loss, out, x, ones, tried=tried)
    want = F.mse_loss(out, x, reduction="sum") / 6
    expect_tensor(got, shape=(), dtype=torch.float32, tried=tried, name="the loss")
    if not _close(got, want):
        fail("with importance 1 everywhere, the loss should be the summed squared error divided by the batch size.",
             tried=tried, expected=f"{want.item():.6g} = F.mse_loss(out, x, reduction='sum') / 6",
             received=f"{got.item():.6g}", hint=_name(got, _loss_mistakes(out, x, ones), LOSS_FALLBACK))
    _, _, importance = _toy_loss_example(g, torch.float32)
    tried = "random out and x [6, 5] float32, random importance in [0.1, 1.1]"
    got = call(toy_loss, out, x, importance, tried=tried)
    want = sum(importance[i] * F.mse_loss(out[:, i], x[:, i]) for i in range(5))
    expect_tensor(got, shape=(), dtype=torch.float32, tried=tried, name="the loss")
    if not _close(got, want):
        fail("the loss is wrong.", tried=tried,
             expected=f"{want.item():.6g} = Σ_i importance[i] · F.mse_loss(out[:, i], x[:, i])",
             received=f"{got.item():.6g}", hint=_name(got, _loss_mistakes(out, x, importance), LOSS_FALLBACK))
    # 3. the gradient reaches out (training depends on it)
    tried = "the same inputs, out requiring grad: d loss / d out, through your function"
    grad = call(inside, loss_gradient, toy_loss, out, x, importance, tried=tried)
    if not isinstance(grad, torch.Tensor):
        fail("the loss carries no gradient back to the model's output.", tried=tried,
             expected="d loss / d out = 2 · importance · (out - x) / batch", received=str(grad),
             hint="build the loss from torch operations on out and keep it a tensor: no .item(), .detach(), "
                  "float(...) or torch.tensor(...) around it")
    expect_close(grad, 2 * importance * (out - x) / 6, tried=tried, problem="the gradient with respect to out is wrong.",
                 hint="the loss must be the plain weighted sum over features, averaged over the batch")


# ====================================================================== 09.2

def _unit(W):
    n = W.norm(dim=0)
    return W / torch.where(n > 0, n, torch.ones_like(n))


def _dim_mistakes(W) -> dict:
    W = W.double()
    G = W.T @ W
    n2 = (W ** 2).sum(0)
    Gu = _unit(W).T @ W  # Ŵ_i · W_j
    off = Gu - torch.diag(torch.diag(Gu))
    safe = lambda num, den: torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), 0 * den)  # noqa: E731
    out = {"||W_i||² / Σ_j (W_i · W_j)²: W_i not normalised in the denominator (use the unit vector Ŵ_i)":
               safe(n2, (G ** 2).sum(1)),
           "||W_i||² / Σ_j (Ŵ_i · Ŵ_j)²: W_j normalised too (only Ŵ_i is a unit vector)":
               safe(n2, ((_unit(W).T @ _unit(W)) ** 2).sum(1)),
           "the sum over j ≠ i: the feature itself belongs in the sum (j = i gives ||W_i||²)":
               safe(n2, (off ** 2).sum(1)),
           "(Σ_j Ŵ_i · W_j)²: square each dot product, then sum": safe(n2, Gu.sum(1) ** 2),
           "Σ_j |Ŵ_i · W_j| in the denominator: square each dot product": safe(n2, Gu.abs().sum(1)),
           "||W_i|| in the numerator: it is the squared norm ||W_i||²": safe(n2.sqrt(), (Gu ** 2).sum(1))}
    if W.shape[0] == W.shape[1]:  # rows instead of columns gives the right shape only for a square W
        Wt = W.T
        out["the rows of W instead of its columns (feature i is the column W[:, i])"] = \
            safe((Wt ** 2).sum(0), ((_unit(Wt).T @ Wt) ** 2).sum(1))
    return out


DIM_FALLBACK = ("D_i = ||W_i||² / Σ_j (Ŵ_i · W_j)², j over every feature (i too), W_i the column W[:, i], "
                "Ŵ_i = W_i / ||W_i||; a zero column gives 0")


def _pentagon(radius: float, turn: float = 0.3) -> torch.Tensor:
    a = turn + 2 * math.pi * torch.arange(5, dtype=torch.float64) / 5
    return radius * torch.stack([a.cos(), a.sin()])


def _expect_dims(feature_dimensionality, W, want, tried, problem, atol=1e-5):
    got = call(feature_dimensionality, W, tried=tried)
    expect_tensor(got, shape=(W.shape[1],), tried=tried, name="the result",
                  hint="one number per feature: W is [n_hidden, n_features] and feature i is the column W[:, i]")
    expect_tensor(got, dtype=W.dtype, tried=tried, name="the result")
    if not _close(got, want, atol=atol):
        fail(problem, tried=tried, expected=show(want), received=show(got),
             hint=_name(got, _dim_mistakes(W), DIM_FALLBACK))
    return got


def _dims_example(g, dtype, device="cpu"):
    return (torch.randn(3, 7, generator=g, dtype=torch.float64).to(dtype).to(device),)


@exercise("09.2", "feature_dimensionality", points=3, difficulty=2, minutes=15,
          example=_dims_example, meta=True,
          edge_cases=(EdgeCase("one feature: W = [[0.5], [-2.0]]", lambda: (torch.tensor([[0.5], [-2.0]]),),
                               close_to(lambda W: torch.ones(1)), hint="a feature alone has its own dimension: 1"),
                      EdgeCase("one hidden dimension: W = [[2, -1, 0]]", lambda: (torch.tensor([[2.0, -1.0, 0.0]]),),
                               close_to(lambda W: torch.tensor([0.8, 0.2, 0.0])),
                               hint="4 / (4 + 1) for the first, 1 / (4 + 1) for the second, 0 for the zero column")),
          opt_out={"written by hand": "no built-in computes it"})
def check_feature_dimensionality(feature_dimensionality):
    W = _pentagon(1.3).float()
    _expect_dims(feature_dimensionality, W, torch.full((5,), 0.4),
                 "W [2, 5] float32: a regular pentagon, five columns of norm 1.3 at 72° from each other",
                 "a regular pentagon should give 0.4 for every feature (five features share two dimensions).")
    Q = torch.linalg.qr(torch.randn(3, 3, generator=generator("09.2"), dtype=torch.float64))[0]
    _expect_dims(feature_dimensionality, 2 * Q, torch.ones(3, dtype=torch.float64),
                 "W [3, 3] float64: orthogonal columns of norm 2 (a rotation times 2)",
                 "orthogonal columns should each get 1: a dimension of its own.")
    W = torch.tensor([[2.0, -1.0, 0.0], [0.0, 0.0, 0.5]])
    _expect_dims(feature_dimensionality, W, torch.tensor([0.8, 0.2, 1.0]),
                 "W = [[2, -1, 0], [0, 0, 0.5]]: an antipodal pair of norms 2 and 1, and a column of norm 0.5 "
                 "orthogonal to both", "an antipodal pair of unequal norms shares its dimension unequally: "
                 "16 / (16 + 4) = 0.8 and 1 / (1 + 4) = 0.2; the orthogonal column keeps 1.")
    W = torch.tensor([[2.0, -1.0], [0.0, 0.5]])
    _expect_dims(feature_dimensionality, W, torch.tensor([0.8, 1.5625 / 5.5625]),
                 "W = [[2, -1], [0, 0.5]]: columns (2, 0) and (-1, 0.5), rows (2, -1) and (0, 0.5)",
                 "wrong for a square W: feature i is the column W[:, i].")
    W = torch.tensor([[1.0, 0.0, 0.6, -1.0], [0.0, 0.0, 0.8, 0.0]], dtype=torch.float64)
    tried = "W = [[1, 0, 0.6, -1], [0, 0, 0.8, 0]] float64: column 1 is zero"
    got = call(feature_dimensionality, W, tried=tried)
    expect_tensor(got, shape=(4,), dtype=torch.float64, tried=tried,
                  hint="a zero column has no direction: give it 0 (torch.where on the norm), not 0 / 0 = NaN")
    want = torch.tensor([1 / (1 + 0.36 + 1), 0.0, 1 / (0.36 + 1 + 0.36), 1 / (1 + 0.36 + 1)], dtype=torch.float64)
    if not _close(got, want):
        fail("wrong with a zero column among the others.", tried=tried, expected=show(want), received=show(got),
             hint=_name(got, _dim_mistakes(W), DIM_FALLBACK) + " (a zero column gives 0 and adds 0 to the others' sums)")
    # properties on a random W
    g = generator("09.2", salt=1)
    W = torch.randn(5, 20, generator=g, dtype=torch.float64)
    tried = "a random W [5, 20] float64"
    base = call(feature_dimensionality, W, tried=tried)
    expect_tensor(base, shape=(20,), dtype=torch.float64, tried=tried)
    expect(bool(((base >= -1e-9) & (base <= 1 + 1e-9)).all()), "a feature's dimensionality should lie in [0, 1].",
           tried=tried, expected="every value in [0, 1]", received=show(base),
           hint=_name(base, _dim_mistakes(W), DIM_FALLBACK))
    R = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))[0]
    perm = torch.randperm(20, generator=g)
    for other, want, what in ((R @ W, base, "rotating the hidden space (W -> R W, R orthogonal)"),
                              (0.25 * W, base, "scaling W by 0.25"),
                              (W[:, perm], base[perm], "permuting the features (the columns)")):
        tried_o = f"a random W [5, 20] float64, and again after {what}"
        got = call(feature_dimensionality, other, tried=tried_o)
        if not _close(got, want, atol=1e-8):
            fail(f"{what} changed the result.", tried=tried_o, expected=show(want), received=show(got),
                 hint=_name(got, _dim_mistakes(other), DIM_FALLBACK) + ": D_i depends only on the angles between "
                      "the columns and their norms relative to each other")


# ====================================================================== 09.3

LOW_DENSITY = 0.03
PENTAGON_NORMS = (0.9, 1.4)     # measured 1.12-1.17 over 40 seeds at density 0.03 (REPORT_toy.md)
PENTAGON_GAP_TOL = 5.0          # degrees; measured |gap - 72| <= 1.6 over the same 40 seeds
DENSE_IMPORTANCE = (0.3, 1.0, 0.5, 0.8, 0.2)


def _train(train_toy_model, tried: str, *args, **kwargs) -> dict:
    """Train with the learner's function where it lives, on one thread, and read the model as plain data."""
    rng = torch.get_rng_state()
    state = call(inside, train_and_read, train_toy_model, *args, tried=tried, **kwargs,
                 hint_if_raised="train_toy_model uses your toy_loss: make 09.1 pass first, then read the error")
    moved = not isinstance(state, dict) or state.get("rng_moved", True) or not torch.equal(rng, torch.get_rng_state())
    expect(not moved, "your function changed torch's global random state.", tried=tried,
           expected="torch.get_rng_state() as it was", received="a different state (torch.manual_seed, or a draw "
           "without generator=)", hint="draw every batch from g = torch.Generator().manual_seed(seed) "
           "(sparse_features(..., generator=g)) and build the model with ToyModel(..., seed=seed): both leave the "
           "global random state alone, so the notebook's other cells draw what they drew before")
    expect(state["is_toy"], "the result should be a ToyModel.", tried=tried,
           expected="the trained ToyModel", received=f"a {state['cls']}",
           hint="build model = ToyModel(n_features, n_hidden, seed=seed), train it, and return model.eval()")
    n, m = args[0], args[1]
    expect(isinstance(state.get("W"), torch.Tensor) and tuple(state["W"].shape) == (m, n),
           "the model's W has the wrong shape.", tried=tried,
           expected=f"W of shape ({m}, {n})", received=describe(state.get("W")),
           hint="ToyModel(n_features, n_hidden, seed=seed): the arguments in that order")
    expect(not state["training"], "the model came back in training mode.", tried=tried, expected="model.training False",
           received="model.training True", hint="end with `return model.eval()`")
    expect(bool(torch.isfinite(state["W"]).all() and torch.isfinite(state["b"]).all()),
           "the trained weights contain NaN or infinite values.", tried=tried, received=show(state["W"]),
           hint="a loss that grows without bound: check the sign of the step and that you call "
                "optimizer.zero_grad() before every loss.backward()")
    return state


def _describe_W(W, b) -> str:
    fmt = lambda t, d: "[" + ", ".join(f"{v:.{d}f}" for v in t.tolist()) + "]"  # noqa: E731
    return (f"column norms {fmt(column_norms(W), 2)}, angles between neighbouring columns of norm ≥ 0.5 "
            f"{fmt(angular_gaps(W), 1)}°, b {fmt(b.double(), 2)}")


TRAIN_HINT = ("every step: x = sparse_features(batch_size, n_features, density, generator=g); loss = toy_loss(model(x), "
              "x, importance); optimizer.zero_grad(); loss.backward(); optimizer.step(), with "
              "torch.optim.Adam(model.parameters(), lr=lr) over W and b")


@exercise("09.3", "train_toy_model", points=3, difficulty=2, minutes=20,
          opt_out={"float64": "the spec trains a float32 ToyModel; the check measures the geometry it learns",
                   "meta device": "training needs data; the check measures the weights it learns",
                   "edge cases": "steps=0 is tried in the check; the sizes are the section's",
                   "written by hand": "torch.optim.Adam is the intended optimiser"})
def check_train_toy_model(train_toy_model):
    ones = torch.ones(5)
    # 1. steps=0: the spec's initial model, untouched
    tried = "train_toy_model(5, 2, 0.03, torch.ones(5), steps=0, seed=3)"
    state = _train(train_toy_model, tried, 5, 2, LOW_DENSITY, ones, steps=0, seed=3)
    init = ToyModel(5, 2, seed=3)
    expect(torch.equal(state["W"], init.W.detach()) and torch.equal(state["b"], init.b.detach()),
           "with steps=0 the model should be ToyModel(5, 2, seed=3) as built.", tried=tried,
           expected=f"W {show(init.W)}", received=f"W {show(state['W'])}",
           hint="build the model with ToyModel(n_features, n_hidden, seed=seed) and take exactly `steps` optimiser "
                "steps (for step in range(steps))")
    # 2. low density, equal importance: the pentagon
    tried = (f"train_toy_model(5, 2, {LOW_DENSITY}, torch.ones(5), seed=0) with your defaults: 5 features in 2 "
             "dimensions, each present 3 % of the time")
    state = _train(train_toy_model, tried, 5, 2, LOW_DENSITY, ones, seed=0)
    W, b = state["W"], state["b"]
    norms, gaps = column_norms(W), angular_gaps(W)
    lo, hi = PENTAGON_NORMS
    pentagon = bool(((norms >= lo) & (norms <= hi)).all()) and gaps.numel() == 5 \
        and bool(((gaps - 72).abs() <= PENTAGON_GAP_TOL).all())
    if not pentagon:
        fail("at low density the five features should form a regular pentagon.", tried=tried,
             expected=f"five columns of norm in [{lo}, {hi}], 72 ± {PENTAGON_GAP_TOL:g}° between neighbours",
             received=_describe_W(W, b),
             hint=("the features look dense: pass `density` to sparse_features (the probability a feature is "
                   "present), not 1 - density" if gaps.numel() <= 2 else
                   "weights that grow without bound: call optimizer.zero_grad() before every backward"
                   if float(norms.max()) > 3 else TRAIN_HINT))
    expect(bool((b < -0.05).all()), "at low density every bias should be negative.", tried=tried,
           expected="b < 0 for every feature (it cuts off the interference from the other features)",
           received=f"b {show(b)}",
           hint="give the optimiser every parameter, torch.optim.Adam(model.parameters(), lr=lr): b must train too")
    # 3. the same seed, the same model (a short run is enough to tell)
    tried_d = f"train_toy_model(5, 2, {LOW_DENSITY}, torch.ones(5), steps=50, seed=1), twice"
    first = _train(train_toy_model, tried_d, 5, 2, LOW_DENSITY, ones, steps=50, seed=1)
    again = _train(train_toy_model, tried_d, 5, 2, LOW_DENSITY, ones, steps=50, seed=1)
    expect(torch.equal(again["W"], first["W"]) and torch.equal(again["b"], first["b"]), "two calls with the same "
           "seed gave different models.", tried=tried_d, expected="the same W and b",
           received=f"W {show(first['W'])} then {show(again['W'])}",
           hint="draw every batch from one g = torch.Generator().manual_seed(seed), made once before the loop")
    # 4. density 1 with unequal importance: the two most important features, orthogonal, the rest dropped
    importance = torch.tensor(DENSE_IMPORTANCE)
    tried = ("train_toy_model(5, 2, 1.0, importance=tensor([0.3, 1.0, 0.5, 0.8, 0.2]), seed=0): every feature "
             "always present")
    state = _train(train_toy_model, tried, 5, 2, 1.0, importance, seed=0)
    W, b = state["W"], state["b"]
    norms = column_norms(W)
    kept, dropped = norms[[1, 3]], norms[[0, 2, 4]]
    cos = float((W[:, 1] @ W[:, 3]).abs() / (norms[1] * norms[3]).clamp_min(1e-12))
    if not (bool(((kept - 1).abs() <= 0.1).all()) and bool((dropped <= 0.15).all()) and cos < 0.1):
        top = norms.sort(descending=True).values
        settled = bool(((top[:2] - 1).abs() <= 0.1).all()) and bool((top[2:] <= 0.15).all())
        wrong_pair = settled and sorted(norms.argsort(descending=True)[:2].tolist()) != [1, 3]
        fail("with dense features only the two most important ones should be represented, orthogonally.",
             tried=tried, expected="columns 1 and 3 (importance 1.0 and 0.8) of norm 1 ± 0.1 and orthogonal "
                                   "(|cos| < 0.1), columns 0, 2 and 4 of norm below 0.15",
             received=_describe_W(W, b) + f", |cos(W_1, W_3)| = {cos:.3f}",
             hint=("two features survive, but not the two most important ones: weigh each feature's squared error "
                   "by its importance (pass `importance` to your toy_loss)" if wrong_pair else
                   "the columns have not settled into two orthogonal unit vectors: with dense features the model "
                   "settles quickly when the loss weighs features by importance and Adam uses lr=lr. " + TRAIN_HINT))
