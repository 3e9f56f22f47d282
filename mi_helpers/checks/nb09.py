"""Checks for notebook 09: superposition, sparse dictionaries and a mystery model.

Section 1, toy models of superposition (Elhage et al. 2022).

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
  gaps within 1.6 degrees of 72 and biases below -0.22 (docs/measurements/nb09_toy.md); the learner's function runs on one
  thread (``lib_toy.train_and_read``, inside the learner's kernel), where a model this small trains fastest.

Section 2, sparse autoencoders on planted features.


None trains anything: every check runs the learner's code on inputs whose answer is known by hand.

- 09.4 ``sae_loss``: an analytic batch (reconstruction part 3.5, L1 part 1.75, written out), each part alone
  (l1_coeff = 0; a perfect reconstruction), negative latents (the L1 norm takes |z|), then properties on
  random data that the typical mistakes break: the batch repeated twice leaves the loss unchanged (a mean over
  the batch), extra dimensions reconstructed exactly leave it unchanged (a sum over dimensions), extra latents
  that are 0 leave it unchanged (a sum over latents), the errors doubled quadruple the reconstruction part
  (squared). The loss must carry gradients (measured where the learner's code runs, with autograd: 2(x_hat - x)/n
  for x_hat and l1_coeff sign(z)/n for the latents, written out for the analytic batch). Contracts: float64,
  meta device, edge cases (one row; l1_coeff = 0).
- 09.5 ``SparseAutoencoder``: built where the learner's class lives (``inside``): an nn.Module with exactly the
  parameters W_enc [d, n_latents], b_enc [n_latents], W_dec [n_latents, d], b_dec [d]; unit decoder rows at
  initialisation; the same seed gives the same weights, another seed others; the global random states of torch,
  NumPy and Python untouched. Then hand-set weights (d = 2, three latents) whose latents and reconstruction are
  written out, so that a missing ReLU, b_dec not subtracted or not added back, or swapped outputs each show;
  forward equal to decode(encode(x)) on random weights; gradients reaching all four parameters;
  ``normalise_decoder`` on rows of known norms (2, 5, 0.5): unit rows, the directions kept, the other parameters
  untouched, idempotent, callable after a backward pass (no in-place edit of a leaf under autograd), the same
  Parameter object kept (an optimiser holds it); float64 after ``.double()``.
- 09.6 ``resample_dead``: on :class:`PlantedReconstruction`, a module with the four SAE parameters whose
  forward returns a reconstruction error the check plants (row by row), so the draw is known: one row with
  all the error (every dead latent takes it; the new decoder row, encoder column and bias are written out), two
  rows with errors 1 and 3 (about 3/4 of 4000 draws go to the second: not 1/2 (uniform), not 0.63 (the norm,
  not squared), not 1 (the largest)), alive latents and b_dec untouched, the same seed the same rows and another
  seed others, the global random state untouched, no dead latent (nothing changes), every latent dead
  (scale 1), a perfect reconstruction (uniform draw). The Parameters must stay the same objects.
- 09.7 ``mean_max_cosine``: hand-made dictionaries whose score is known (0.8536 with three learned rows for two
  true features; 0.5 for a negated copy: signed cosines; a zero row gives cosine 0), a permuted and rescaled copy
  scores 1, a random dictionary scores far below, the arguments' order matters. Contracts: float64, edge cases.

Section 3, the mystery model: a finding in two halves.

The course trained the mystery model on a task it planted (``mi_helpers.mystery``, below its SPOILERS line), so
it knows both halves of the answer:

- 09.8 ``mystery_mechanism`` returns one letter of the spec's list of six candidate mechanisms; it is
  graded against ``MECHANISM``. A wrong letter is told, in the hint, how often the model's guess agrees
  with that candidate's prediction on 500 sequences the notebook does not use (the check computes each
  candidate's prediction itself: the first token, induction, the most frequent token, the token before or
  after the marker, the last token), and what the method that usually leads to that letter misses. The
  right candidate agrees on 100 % of the sequences, every other on less than 15 %.
- 09.9 ``mystery_heads`` returns the (layer, head) pairs that carry the mechanism, as a set, list or tuple
  of pairs; it is graded against the heads the check measures itself with the course's interventions
  (:func:`mi_helpers.interventions.ablate_heads`, mean ablation over the check's sequences): the heads
  whose ablation alone costs more than half the accuracy. The measurement must equal the shipped
  ``HEADS``, ablating them together must take the model near chance, and ablating every other head
  together must cost almost nothing; otherwise the course is broken and the check raises RuntimeError,
  not a verdict. A wrong set is told, with numbers the learner can reproduce, what its heads do when
  ablated: a head named that costs nothing alone (a decoy, chosen for a sharp pattern), the accuracy
  still lost when every head NOT named is ablated (a head missing; the layer-0 half of the circuit,
  if only layer-1 heads were named), pairs written (head, layer).

Both are findings: any method may find them (opt-outs below); the truth is computed after the learner's
function returns, so nothing the check holds during the call is the answer.
"""
from __future__ import annotations

import functools
import math
import operator
import random

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mi_helpers.checks.core import (EdgeCase, call, close_to, describe, exercise, expect, expect_close,
                                    expect_tensor, fail, generator, inside, show, single_number)
from mi_helpers.mystery import (CONFIG, HEADS, MARKER, MECHANISM, MECHANISMS, mystery_accuracy, mystery_inputs,
                                mystery_targets, shipped_mystery_model, verify_heads)
from mi_helpers.remote import Remote
from mi_helpers.toy import ToyModel, angular_gaps, column_norms, sparse_features, train_and_read
from mi_helpers.utils import one_thread


# ====================================================================================================
# Section 1
# ====================================================================================================

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
                              (1e-4 * W, base, "scaling W by 1e-4 (small, but no column is zero)"),
                              (W[:, perm], base[perm], "permuting the features (the columns)")):
        tried_o = f"a random W [5, 20] float64, and again after {what}"
        got = call(feature_dimensionality, other, tried=tried_o)
        if not _close(got, want, atol=1e-8):
            fail(f"{what} changed the result.", tried=tried_o, expected=show(want), received=show(got),
                 hint=_name(got, _dim_mistakes(other), DIM_FALLBACK) + ": D_i depends only on the angles between "
                      "the columns and their norms relative to each other")


# ====================================================================== 09.3

LOW_DENSITY = 0.03
PENTAGON_NORMS = (0.9, 1.4)     # measured 1.12-1.17 over 40 seeds at density 0.03 (docs/measurements/nb09_toy.md)
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
    # 5. a short run against the spec's loop, step by step: the stream of batches, the number of steps, the loss;
    #    an importance whose largest entry is not 1 (it must not be edited) and the model's dtype
    importance = 1.5 * 0.9 ** torch.arange(6.0)
    given = importance.clone()
    tried = ("train_toy_model(6, 3, 0.25, importance=1.5 * 0.9 ** torch.arange(6.0), steps=25, batch_size=64, "
             "lr=0.03, seed=5), compared with the spec's loop run by the check")
    state = _train(train_toy_model, tried, 6, 3, 0.25, importance, steps=25, batch_size=64, lr=0.03, seed=5)
    expect(torch.equal(importance, given), "your function changed the importance tensor it was given.",
           tried=tried, expected=f"importance unchanged, {show(given)}", received=show(importance),
           hint="weigh the loss with importance as it is; compute anything else into a new tensor")
    expect(state["W"].dtype == torch.float32 and state["b"].dtype == torch.float32,
           "the model should stay in float32, as ToyModel builds it.", tried=tried, expected="W and b float32",
           received=f"W {describe(state['W'])}", hint="train the ToyModel as built: no .double() or .half()")
    ref = _reference_run(6, 3, 0.25, given, steps=25, batch_size=64, lr=0.03, seed=5)
    if not (_close(state["W"], ref["W"], atol=1e-4, rtol=1e-4) and _close(state["b"], ref["b"], atol=1e-4, rtol=1e-4)):
        known = {"one step short: take exactly `steps` steps, for _ in range(steps)":
                 _reference_run(6, 3, 0.25, given, steps=24, batch_size=64, lr=0.03, seed=5),
                 "the same batch at every step: make the generator once, before the loop, and draw a fresh batch "
                 "from it at every step": _reference_run(6, 3, 0.25, given, steps=25, batch_size=64, lr=0.03, seed=5,
                                                         mistake="same_batch"),
                 "one batch for the whole run: draw x = sparse_features(...) inside the loop, at every step":
                 _reference_run(6, 3, 0.25, given, steps=25, batch_size=64, lr=0.03, seed=5, mistake="one_batch")}
        hint = next((h for h, r in known.items() if _close(state["W"], r["W"], atol=1e-4, rtol=1e-4)), TRAIN_HINT)
        fail("after 25 steps your model differs from the spec's training loop.", tried=tried,
             expected=f"W {show(ref['W'])}", received=f"W {show(state['W'])}", hint=hint)


def _reference_run(n, m, density, importance, *, steps, batch_size, lr, seed, mistake="") -> dict:
    """The spec's loop, run by the check (``mistake`` gives what two typical slips give instead)."""
    with one_thread():
        model = ToyModel(n, m, seed=seed)
        g = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        x = sparse_features(batch_size, n, density, generator=g) if mistake == "one_batch" else None
        for _ in range(steps):
            if mistake == "same_batch":
                g = torch.Generator().manual_seed(seed)
            if mistake != "one_batch":
                x = sparse_features(batch_size, n, density, generator=g)
            loss = (importance * (model(x) - x) ** 2).sum(-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return {"W": model.W.detach().clone(), "b": model.b.detach().clone()}


# ====================================================================================================
# Section 2
# ====================================================================================================

def _t(rows, dtype=torch.float32) -> torch.Tensor:
    return torch.tensor(rows, dtype=dtype)


def _near(a, b, atol=1e-5) -> bool:
    return isinstance(a, torch.Tensor) and tuple(a.shape) == tuple(b.shape) and \
        bool(torch.allclose(a.detach().double().cpu(), b.detach().double().cpu(), atol=atol, rtol=1e-4))


# ============================================================================================ 09.4 sae_loss

# The analytic batch: errors (0, -2, 0) and (1, 1, 1): squared sums 4 and 3, mean 3.5; L1 of the latents 2.5 and 1,
# mean 1.75. With l1_coeff = 0.2 the loss is 3.5 + 0.35 = 3.85.
LOSS_X = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]
LOSS_X_HAT = [[1.0, 0.0, 3.0], [1.0, 1.0, 1.0]]
LOSS_Z = [[0.5, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
# what typical mistakes give on the reconstruction part (l1_coeff = 0) and on the L1 part (x_hat = x, l1_coeff = 1)
RECON_MISTAKES = {7.0 / 6.0: "you averaged over the dimensions too (F.mse_loss does): sum the squared errors over "
                             "the d dimensions of each row, then average over the rows",
                  7.0: "you summed over the batch: average the per-row sums over the rows (.mean(dim=0) or "
                       ".sum(-1).mean())",
                  (2.0 + math.sqrt(3.0)) / 2: "you took the norm of each row's error, not its square: "
                                              "(x_hat - x) ** 2 summed over the dimensions, no square root",
                  7.0 / 3.0: "the squared error summed over the batch and averaged over the dimensions: the other "
                             "way round",
                  0.0: "l1_coeff multiplies the L1 part only: with l1_coeff = 0 the reconstruction error is all "
                       "that remains",
                  5.25: "l1_coeff is ignored: the L1 part (1.75 here) is multiplied by l1_coeff, so with "
                        "l1_coeff = 0 it vanishes"}
L1_MISTAKES = {3.5: "you summed the L1 norms over the batch: average them over the rows",
               1.75 / 4: "you averaged over the latents too: sum |z| over the latents of each row, then average "
                         "over the rows",
               (4.25 + 1.0) / 2: "you squared the latents (an L2 penalty): the L1 norm sums |z|, not z ** 2",
               (math.sqrt(4.25) + 1.0) / 2: "you took the Euclidean (L2) norm of the latents: the L1 norm is "
                                            "the sum of |z|"}


def _nearest_mistake(value: float, mistakes: dict) -> str:
    for wrong, hint in mistakes.items():
        if abs(value - wrong) < 1e-4:
            return hint
    return ""


def loss_gradients(sae_loss, x, x_hat, latents, l1_coeff):
    """Run the learner's loss with autograd where it lives: (the loss, d loss / d x_hat, d loss / d latents)."""
    x_hat = x_hat.clone().requires_grad_(True)
    latents = latents.clone().requires_grad_(True)
    loss = sae_loss(x, x_hat, latents, l1_coeff)
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return {"graph": False, "loss": describe(loss)}
    g_hat, g_z = torch.autograd.grad(loss, (x_hat, latents), allow_unused=True)
    return {"graph": True, "x_hat": g_hat.detach() if g_hat is not None else None,
            "latents": g_z.detach() if g_z is not None else None}


def _loss_value(sae_loss, x, x_hat, z, c, tried) -> float:
    out = call(sae_loss, x, x_hat, z, c, tried=tried)
    expect_tensor(out, tried=tried, name="the loss",
                  hint="return a 0-d tensor (a torch expression, not .item()): training calls .backward() on it")
    expect(out.dim() == 0, "the loss should be one number, a 0-d tensor.", tried=tried, expected="shape ()",
           received=f"shape {tuple(out.shape)}",
           hint="reduce everything: sum over the dimensions (or latents), then .mean() over the batch")
    expect(out.dtype == x.dtype, "the loss has the wrong dtype.", tried=tried, expected=str(x.dtype),
           received=str(out.dtype), hint="compute it from the inputs with torch operations; no float32 constants")
    return out.item()


def _loss_example(g, dtype, device="cpu"):
    x = torch.randn(5, 3, generator=g, dtype=dtype).to(device)
    x_hat = torch.randn(5, 3, generator=g, dtype=dtype).to(device)
    z = torch.rand(5, 4, generator=g, dtype=dtype).to(device)
    return x, x_hat, z, 0.3


@exercise("09.4", "sae_loss", points=2, difficulty=1, minutes=10, meta=True, example=_loss_example,
          edge_cases=(
              EdgeCase("one row: x = [[1, 2]], x_hat = [[1, 2]], latents = [[0, 3, -1]], l1_coeff = 0.5",
                       lambda: (_t([[1.0, 2.0]]), _t([[1.0, 2.0]]), _t([[0.0, 3.0, -1.0]]), 0.5),
                       close_to(lambda *a: 2.0), hint="one row: its squared error (0) plus 0.5 × (|0| + |3| + |-1|)"),
              EdgeCase("l1_coeff = 0 with a perfect reconstruction", lambda: (_t([[1.0, -1.0]] * 3),) * 2
                       + (_t([[4.0, 0.0]] * 3), 0.0), close_to(lambda *a: 0.0),
                       hint="nothing to reconstruct and no penalty: the loss is exactly 0"),
          ))
def check_sae_loss(sae_loss):
    x, x_hat, z = _t(LOSS_X), _t(LOSS_X_HAT), _t(LOSS_Z)
    # the reconstruction part alone
    tried = f"x = {LOSS_X}, x_hat = {LOSS_X_HAT}, latents = {LOSS_Z}, l1_coeff = 0"
    got = _loss_value(sae_loss, x, x_hat, z, 0.0, tried)
    expect(abs(got - 3.5) < 1e-5, "the reconstruction part is wrong.", tried=tried,
           expected="3.5: the squared errors summed over the dimensions, 4 and 3, averaged over the 2 rows",
           received=f"{got:.6g}", hint=_nearest_mistake(got, RECON_MISTAKES) or
           "with l1_coeff = 0 only ((x_hat - x) ** 2).sum(dim=-1).mean() remains")
    # the L1 part alone
    tried = f"x = x_hat = {LOSS_X}, latents = {LOSS_Z}, l1_coeff = 1"
    got = _loss_value(sae_loss, x, x.clone(), z, 1.0, tried)
    expect(abs(got - 1.75) < 1e-5, "the sparsity (L1) part is wrong.", tried=tried,
           expected="1.75: the L1 norms of the latents, 2.5 and 1, averaged over the 2 rows",
           received=f"{got:.6g}", hint=_nearest_mistake(got, L1_MISTAKES) or
           "with a perfect reconstruction only l1_coeff × |latents| summed over the latents, averaged over the "
           "rows remains")
    # together, with the coefficient
    tried = f"x = {LOSS_X}, x_hat = {LOSS_X_HAT}, latents = {LOSS_Z}, l1_coeff = 0.2"
    got = _loss_value(sae_loss, x, x_hat, z, 0.2, tried)
    expect(abs(got - 3.85) < 1e-5, "the loss is wrong when both parts count.", tried=tried,
           expected="3.85 = 3.5 + 0.2 × 1.75", received=f"{got:.6g}",
           hint="l1_coeff multiplies the whole loss here: it belongs to the L1 part only" if abs(got - 1.05) < 1e-4
           else "reconstruction + l1_coeff * sparsity, each part as in the two cases above")
    # negative latents: the L1 norm takes absolute values
    z_neg = _t([[0.5, 0.0, -2.0, 0.0], [0.0, -1.0, 0.0, 0.0]])
    tried = f"x = x_hat, latents = {z_neg.tolist()} (negative values), l1_coeff = 1"
    got = _loss_value(sae_loss, x, x.clone(), z_neg, 1.0, tried)
    expect(abs(got - 1.75) < 1e-5, "the L1 norm of negative latents is wrong.", tried=tried,
           expected="1.75 (|0.5| + |-2| = 2.5 and |-1| = 1, averaged)", received=f"{got:.6g}",
           hint="the L1 norm is the sum of absolute values: latents.abs().sum(dim=-1). After a ReLU the latents "
                "are >= 0 anyway, but the loss is also used on other latents")
    # properties on random data
    g = generator("09.4")
    x, x_hat, z = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g), torch.rand(6, 7, generator=g)
    base = _loss_value(sae_loss, x, x_hat, z, 0.3, "random x, x_hat [6, 5] and latents [6, 7], l1_coeff = 0.3")
    tried = "the same batch written twice (x, x_hat and latents each concatenated with themselves)"
    twice = _loss_value(sae_loss, torch.cat([x, x]), torch.cat([x_hat, x_hat]), torch.cat([z, z]), 0.3, tried)
    expect(abs(twice - base) < 1e-4 * max(1.0, abs(base)), "repeating the batch changed the loss.", tried=tried,
           expected=f"{base:.6g}, the loss of the batch once (an average over rows)", received=f"{twice:.6g}",
           hint="average over the batch (.mean() over the rows), do not sum over it: the loss must not grow "
                "with the batch size, or the learning rate would depend on it")
    tried = "the same batch with 3 more dimensions that x_hat reconstructs exactly"
    extra = torch.randn(6, 3, generator=g)
    wider = _loss_value(sae_loss, torch.cat([x, extra], 1), torch.cat([x_hat, extra], 1), z, 0.3, tried)
    expect(abs(wider - base) < 1e-4 * max(1.0, abs(base)), "dimensions with no error changed the loss.",
           tried=tried, expected=f"{base:.6g}", received=f"{wider:.6g}",
           hint="sum the squared error over the dimensions (.sum(dim=-1)); a mean over them divides by d")
    tried = "the same batch with 5 more latents that are all 0"
    more = _loss_value(sae_loss, x, x_hat, torch.cat([z, torch.zeros(6, 5)], 1), 0.3, tried)
    expect(abs(more - base) < 1e-4 * max(1.0, abs(base)), "latents that are 0 changed the loss.", tried=tried,
           expected=f"{base:.6g}", received=f"{more:.6g}",
           hint="sum |z| over the latents; a mean over them divides by n_latents")
    r0 = _loss_value(sae_loss, x, x_hat, z, 0.0, "random batch, l1_coeff = 0")
    tried = "random batch, l1_coeff = 0, with x_hat - x doubled"
    r2 = _loss_value(sae_loss, x, x + 2 * (x_hat - x), z, 0.0, tried)
    expect(abs(r2 - 4 * r0) < 1e-4 * max(1.0, r0), "doubling the error did not quadruple the reconstruction part.",
           tried=tried, expected=f"{4 * r0:.6g} (4 × {r0:.6g}: the error is squared)", received=f"{r2:.6g}",
           hint="square the error: (x_hat - x) ** 2, summed over the dimensions")
    # gradients, where the learner's code runs
    tried = f"x = {LOSS_X}, x_hat = {LOSS_X_HAT}, latents = {LOSS_Z}, l1_coeff = 0.2, through autograd"
    grads = call(inside, loss_gradients, sae_loss, _t(LOSS_X), _t(LOSS_X_HAT), _t(LOSS_Z), 0.2, tried=tried)
    expect(isinstance(grads, dict) and grads.get("graph") is True, "the loss does not carry gradients.",
           tried=tried, expected="a loss that autograd can differentiate with respect to x_hat and latents",
           received="a value cut from the graph", hint="return the torch expression itself: no .item(), no "
                                                         ".detach(), no torch.tensor(...) around the result")
    want_hat = _t([[0.0, -2.0, 0.0], [1.0, 1.0, 1.0]])  # 2 (x_hat - x) / 2 rows
    expect(grads["x_hat"] is not None and _near(grads["x_hat"], want_hat), "the gradient with respect to x_hat "
           "is wrong.", tried=tried, expected=show(want_hat),
           received=show(grads["x_hat"]) if grads["x_hat"] is not None else "no gradient",
           hint="the reconstruction part must be computed from x_hat with torch operations")
    want_z = _t([[0.1, 0.0, 0.1, 0.0], [0.0, 0.1, 0.0, 0.0]])  # 0.2 sign(z) / 2 rows (|z|' = 0 at 0 in torch)
    expect(grads["latents"] is not None and _near(grads["latents"], want_z), "the gradient with respect to the "
           "latents is wrong.", tried=tried, expected=show(want_z),
           received=show(grads["latents"]) if grads["latents"] is not None else "no gradient",
           hint="the L1 part must be computed from the latents with torch operations (latents.abs())")


# ============================================================================================ 09.5 SparseAutoencoder

SAE_PARAMS = ("W_enc", "b_enc", "W_dec", "b_dec")


def construct(cls, args: tuple, kwargs: dict):
    """cls(*args, **kwargs), built where the class lives."""
    return cls(*args, **kwargs)


def construct_and_states(cls, args: tuple, kwargs: dict) -> dict:
    """Build cls(*args, **kwargs) where the class lives; report its parameters and whether it moved the global
    random states of torch, NumPy or Python (the model stays there)."""
    t, n, p = torch.get_rng_state(), np.random.get_state(), random.getstate()
    model = cls(*args, **kwargs)
    n2 = np.random.get_state()
    moved = not torch.equal(t, torch.get_rng_state()) or not np.array_equal(n[1], n2[1]) or n[2:] != n2[2:] \
        or p != random.getstate()
    shared = False
    if isinstance(model, nn.Module):
        storages = [p.untyped_storage().data_ptr() for p in model.parameters()]
        shared = len(set(storages)) < len(storages)
    return {"moved": bool(moved), "module": isinstance(model, nn.Module), "shared": shared, **parameters_of(model)}


def parameters_of(model) -> dict:
    """The module's parameters (detached copies) by name, and their shapes."""
    if not isinstance(model, nn.Module):
        return {"parameters": {}, "buffers": []}
    return {"parameters": {n: p.detach().clone() for n, p in model.named_parameters()},
            "buffers": [n for n, _ in model.named_buffers()]}


def set_parameters(model, values: dict) -> bool:
    """Copy the given tensors into the module's parameters of those names."""
    with torch.no_grad():
        for name, value in values.items():
            getattr(model, name).copy_(value)
    return True


def convert(model, dtype) -> bool:
    model.to(dtype)
    return True


def encode_decode(model, x: torch.Tensor) -> dict:
    """model.encode(x), model.decode(model.encode(x)) and model(x), where the model lives."""
    with torch.no_grad():
        z = model.encode(x)
        return {"encode": z, "decode": model.decode(z), "forward": model(x)}


def decode_only(model, z: torch.Tensor):
    with torch.no_grad():
        return model.decode(z)


def gradients_reach(model, x: torch.Tensor) -> dict:
    """Which parameters a backward pass through the forward reaches (nonzero gradient); gradients cleared after."""
    out = model(x)
    total = out[0].square().sum() + out[1].sum()
    total.backward()
    reached = {n: bool(p.grad is not None and p.grad.abs().sum() > 0) for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return reached


def normalise_report(model, x: torch.Tensor | None = None) -> dict:
    """Call model.normalise_decoder() (after a forward and backward pass if x is given) where the model lives;
    report the parameters after, and whether W_dec is still the same leaf Parameter."""
    before = {n: id(p) for n, p in model.named_parameters()}
    if x is not None:
        out = model(x)
        (out[0].square().sum() + out[1].sum()).backward()
    model.normalise_decoder()
    model.zero_grad(set_to_none=True)
    after = dict(model.named_parameters())
    w = after.get("W_dec")
    return {"same_objects": all(id(after.get(n)) == i for n, i in before.items()),
            "leaf": bool(w is not None and w.is_leaf and w.requires_grad and isinstance(w, nn.Parameter)),
            **parameters_of(model)}


# Hand-set weights, d = 2, three latents. x - b_dec = [[1, 1], [-0.5, 3]]; pre-activations
# [[1, 0, 0.5], [-0.5, 2, 4]]; latents [[1, 0, 0.5], [0, 2, 4]]; z @ W_dec = [[1.3, 0.4], [2.4, 5.2]]; x_hat adds
# b_dec. A ReLU before the affine map (ReLU(x - b_dec) @ W_enc + b_enc) gives 3.5 instead of 4.
HAND = {"W_enc": [[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]], "b_enc": [0.0, -1.0, 0.5],
        "W_dec": [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], "b_dec": [1.0, 0.0]}
HAND_X = [[2.0, 1.0], [0.5, 3.0]]
HAND_Z = [[1.0, 0.0, 0.5], [0.0, 2.0, 4.0]]
HAND_X_HAT = [[2.3, 0.4], [3.4, 5.2]]
HAND_Z_NO_RELU = [[1.0, 0.0, 0.5], [-0.5, 2.0, 4.0]]
HAND_Z_NO_BDEC = [[2.0, 0.0, 0.0], [0.5, 2.0, 3.0]]  # ReLU(x @ W_enc + b_enc): b_dec not subtracted
HAND_Z_RELU_FIRST = [[1.0, 0.0, 0.5], [0.0, 2.0, 3.5]]  # ReLU(x - b_dec) @ W_enc + b_enc
HAND_X_HAT_NO_BDEC = [[1.3, 0.4], [2.4, 5.2]]


def _build(SparseAutoencoder, d: int, n: int, seed: int, tried: str) -> dict:
    return call(inside, construct_and_states, SparseAutoencoder, (d, n), {"seed": seed}, tried=tried,
                hint_if_raised="__init__(self, d, n_latents, *, seed=0) calls super().__init__() first, then "
                               "creates the four nn.Parameter")


def _expect_params(info, d: int, n: int, tried: str) -> dict:
    expect(isinstance(info, dict) and info.get("module") is True, "your class does not build a torch.nn.Module.",
           tried=tried, expected="an nn.Module", received=describe(info),
           hint="write `class SparseAutoencoder(nn.Module):` and call super().__init__() first in __init__")
    params = info["parameters"]
    expect(sorted(params) == sorted(SAE_PARAMS), "the module's parameters are not the four the exercise names.",
           tried=tried, expected="W_enc, b_enc, W_dec, b_dec (nn.Parameter attributes of those names)",
           received=", ".join(sorted(params)) or "no parameters",
           hint="self.W_enc = nn.Parameter(...) and so on; no nn.Linear (its weight is stored [out, in] and its name "
                "is different), no other parameters")
    shapes = {"W_enc": (d, n), "b_enc": (n,), "W_dec": (n, d), "b_dec": (d,)}
    for name, shape in shapes.items():
        got = tuple(params[name].shape)
        expect(got == shape, f"{name} has the wrong shape.", tried=tried, expected=f"{shape}", received=f"{got}",
               hint=("W_enc maps d inputs to n_latents latents as x @ W_enc: [d, n_latents]; W_dec maps back as "
                     "z @ W_dec: [n_latents, d]") if got == shape[::-1] and len(shape) == 2 else
               "the biases are vectors: b_enc [n_latents], b_dec [d]")
    return params


def _hand_model(SparseAutoencoder, tried: str):
    model = call(inside, construct, SparseAutoencoder, (2, 3), {"seed": 0}, tried=tried)
    call(inside, set_parameters, model, {k: _t(v) for k, v in HAND.items()}, tried=tried)
    return model


@exercise("09.5", "SparseAutoencoder", points=3, difficulty=2, minutes=25,
          opt_out={"float64": "the answer is a class: the check converts the module with .double() and runs it "
                              "on float64 inputs itself",
                   "meta device": "the check sets hand-made weights, which need data",
                   "edge cases": "its arguments are sizes: the check tries one latent and d = 1 itself"})
def check_SparseAutoencoder(SparseAutoencoder):
    # construction
    torch_before = torch.get_rng_state()
    d, n = 5, 12
    tried = f"SparseAutoencoder({d}, {n}, seed=0)"
    info = _build(SparseAutoencoder, d, n, 0, tried)
    params = _expect_params(info, d, n, tried)
    expect(not info["moved"] and torch.equal(torch.get_rng_state(), torch_before),
           "building the model moved the global random state.", tried=tried,
           expected="torch's, NumPy's and Python's global random states as they were",
           hint="draw the initial weights from your own generator: g = torch.Generator().manual_seed(seed); "
                "torch.randn(n_latents, d, generator=g). nn.Linear or nn.init draw from the global state")
    norms = params["W_dec"].norm(dim=1)
    expect(bool(torch.allclose(norms, torch.ones_like(norms), atol=1e-5)), "the decoder rows are not unit vectors "
           "at initialisation.", tried=tried, expected="every row of W_dec of norm 1", received=show(norms),
           hint="normalise each row: w / w.norm(dim=1, keepdim=True) (dim=1: one norm per latent, along d)")
    expect(not info["shared"], "two of the parameters share their memory.", tried=tried,
           expected="four parameters, each with its own storage",
           hint="nn.Parameter(W_dec.T) is a view of W_dec's memory: editing one edits the other. Use .clone()")
    expect(torch.equal(params["W_enc"], params["W_dec"].T) and not params["b_enc"].any()
           and not params["b_dec"].any(), "the initial encoder or biases are not the ones the exercise asks for.",
           tried=tried, expected="W_enc equal to W_dec.T (a copy), b_enc and b_dec all 0",
           hint="W_enc starts as the transpose of the unit decoder rows (tied), so each latent first reads along "
                "its own direction; both biases start at 0")
    again = _build(SparseAutoencoder, d, n, 0, tried + ", twice")
    expect(all(torch.equal(params[k], again["parameters"].get(k, torch.empty(0))) for k in SAE_PARAMS),
           "two models built with the same seed differ.", tried=tried + " twice",
           expected="identical weights", hint="every random draw must come from the generator seeded with `seed`")
    other = _build(SparseAutoencoder, d, n, 1, f"SparseAutoencoder({d}, {n}, seed=1)")
    expect(not torch.equal(params["W_dec"], other["parameters"].get("W_dec", params["W_dec"])),
           "the seed changes nothing: seed=0 and seed=1 give the same decoder.",
           tried=f"SparseAutoencoder({d}, {n}, seed=0) and seed=1", expected="different random decoder rows",
           hint="seed your generator with the `seed` argument")
    for dd, nn_ in ((1, 3), (4, 1)):
        t = f"SparseAutoencoder({dd}, {nn_}, seed=2)"
        p = _expect_params(_build(SparseAutoencoder, dd, nn_, 2, t), dd, nn_, t)
        expect(bool(torch.allclose(p["W_dec"].norm(dim=1), torch.ones(nn_), atol=1e-5)),
               "the decoder rows are not unit vectors at initialisation.", tried=t,
               received=show(p["W_dec"].norm(dim=1)), hint="normalise each row of W_dec (dim=1)")

    # forward, encode and decode on hand-set weights
    tried = (f"hand-set weights W_enc = {HAND['W_enc']}, b_enc = {HAND['b_enc']}, W_dec = {HAND['W_dec']}, "
             f"b_dec = {HAND['b_dec']}, x = {HAND_X}")
    model = _hand_model(SparseAutoencoder, tried)
    out = call(model, _t(HAND_X), tried=tried + ": model(x)",
               hint_if_raised="forward(self, x) returns (x_hat, latents)")
    expect(isinstance(out, (tuple, list)) and len(out) == 2, "forward should return a pair (x_hat, latents).",
           tried=tried, expected="(x_hat [2, 2], latents [2, 3])", received=describe(out),
           hint="end forward with `return x_hat, latents`")
    x_hat, z = out
    if isinstance(x_hat, torch.Tensor) and isinstance(z, torch.Tensor) and tuple(x_hat.shape) == (2, 3) \
            and tuple(z.shape) == (2, 2):
        fail("forward returned (latents, x_hat): the order is swapped.", tried=tried,
             expected="(x_hat [2, 2], latents [2, 3])", received="(a [2, 3] tensor, a [2, 2] tensor)",
             hint="return x_hat first, then the latents")
    expect_tensor(z, shape=(2, 3), dtype=torch.float32, tried=tried, name="latents")
    expect_tensor(x_hat, shape=(2, 2), dtype=torch.float32, tried=tried, name="x_hat")
    if not _near(z, _t(HAND_Z)):
        hint = ("the ReLU is missing: latents must be >= 0" if _near(z, _t(HAND_Z_NO_RELU)) or bool((z < 0).any())
                else "subtract b_dec from x before encoding: ReLU((x - b_dec) @ W_enc + b_enc)"
                if _near(z, _t(HAND_Z_NO_BDEC)) else
                "the ReLU comes last: ReLU((x - b_dec) @ W_enc + b_enc), not ReLU(x - b_dec) @ W_enc + b_enc"
                if _near(z, _t(HAND_Z_RELU_FIRST)) else
                "encode(x) = ReLU((x - b_dec) @ W_enc + b_enc): x - b_dec first, then @ W_enc, + b_enc, then ReLU")
        fail("the latents are wrong.", tried=tried, expected=show(_t(HAND_Z)), received=show(z), hint=hint)
    if not _near(x_hat, _t(HAND_X_HAT)):
        hint = ("add b_dec back when decoding: x_hat = latents @ W_dec + b_dec" if _near(x_hat, _t(HAND_X_HAT_NO_BDEC))
                else "decode(z) = z @ W_dec + b_dec, with the latents above")
        fail("the reconstruction x_hat is wrong (the latents are right).", tried=tried,
             expected=show(_t(HAND_X_HAT)), received=show(x_hat), hint=hint)
    parts = call(inside, encode_decode, model, _t(HAND_X), tried=tried + ": model.encode(x), model.decode(z)",
                 hint_if_raised="the class needs the methods encode(x) and decode(z) besides forward")
    expect(isinstance(parts, dict) and _near(parts.get("encode"), _t(HAND_Z)), "encode(x) is not the latents "
           "that forward returns.", tried=tried, expected=show(_t(HAND_Z)), received=describe(parts.get("encode")),
           hint="forward should call self.encode(x), then self.decode(latents)")
    zz = _t([[0.0, 0.0, 0.0], [2.0, -1.0, 0.5]])
    dec = call(inside, decode_only, model, zz, tried=tried + f", decode({zz.tolist()})")
    want = _t([[1.0, 0.0], [3.3, -0.6]])
    expect(_near(dec, want), "decode(z) is wrong.", tried=tried + f", decode({zz.tolist()})",
           expected=show(want), received=describe(dec) if not isinstance(dec, torch.Tensor) else show(dec),
           hint="decode(z) = z @ W_dec + b_dec, nothing else (no ReLU, no normalisation)")

    # random weights: forward = decode(encode(x)), latents >= 0, gradients reach every parameter
    g = generator("09.5")
    tried = "SparseAutoencoder(6, 10, seed=3) with random weights and biases set by the check, x [8, 6]"
    model = call(inside, construct, SparseAutoencoder, (6, 10), {"seed": 3}, tried=tried)
    call(inside, set_parameters, model, {"W_enc": torch.randn(6, 10, generator=g), "b_enc": 0.3 * torch.randn(10, generator=g),
                                         "W_dec": torch.randn(10, 6, generator=g), "b_dec": torch.randn(6, generator=g)},
         tried=tried)
    x = torch.randn(8, 6, generator=g)
    parts = call(inside, encode_decode, model, x, tried=tried)
    fx_hat, fz = parts["forward"]
    expect(_near(fz, parts["encode"]) and _near(fx_hat, parts["decode"]), "forward(x) is not (decode(encode(x)), "
           "encode(x)).", tried=tried, hint="forward: latents = self.encode(x); return self.decode(latents), latents")
    expect(bool((fz >= 0).all()) and bool((fz > 0).any()), "the latents should be >= 0 (and some > 0).",
           tried=tried, received=show(fz), hint="encode ends with a ReLU")
    reached = call(inside, gradients_reach, model, x, tried=tried + ", a backward pass")
    missing = [k for k in SAE_PARAMS if not reached.get(k)]
    expect(not missing, "a backward pass through forward leaves parameters without gradient.", tried=tried,
           expected="gradients on W_enc, b_enc, W_dec and b_dec", received="none on " + ", ".join(missing),
           hint="use the parameters themselves in encode and decode (no .detach(), no .data, no torch.no_grad() "
                "in forward), and b_dec in both")

    # normalise_decoder
    w = _t([[2.0, 0.0], [3.0, 4.0], [0.0, -0.5]])
    tried = f"the hand-set model with W_dec = {w.tolist()} (row norms 2, 5, 0.5), then model.normalise_decoder()"
    model = _hand_model(SparseAutoencoder, tried)
    call(inside, set_parameters, model, {"W_dec": w}, tried=tried)
    rep = call(inside, normalise_report, model, tried=tried,
               hint_if_raised="normalise_decoder(self) divides each row of W_dec by its norm, in place, under "
                              "torch.no_grad()")
    unit = _t([[1.0, 0.0], [0.6, 0.8], [0.0, -1.0]])
    got = rep["parameters"].get("W_dec")
    if not _near(got, unit):
        cols = w / w.norm(dim=0, keepdim=True)
        fail("normalise_decoder did not make each row of W_dec a unit vector along its own direction.", tried=tried,
             expected=show(unit), received=show(got) if isinstance(got, torch.Tensor) else describe(got),
             hint="you normalised the columns: each *row* is a latent's direction, w.norm(dim=1, keepdim=True)"
             if _near(got, cols) else "W_dec / W_dec.norm(dim=1, keepdim=True), written into W_dec itself")
    for k in ("W_enc", "b_enc", "b_dec"):
        expect(_near(rep["parameters"].get(k), _t(HAND[k])), f"normalise_decoder changed {k}.", tried=tried,
               expected=show(_t(HAND[k])), received=describe(rep["parameters"].get(k)),
               hint="only W_dec changes; the encoder and the biases stay as they are")
    expect(rep["same_objects"] and rep["leaf"], "after normalise_decoder, W_dec is no longer the same Parameter.",
           tried=tried, expected="the same nn.Parameter object, edited in place",
           hint="an optimiser holds the Parameter objects it was given: edit the values in place (with "
                "torch.no_grad(): self.W_dec /= ... or self.W_dec.copy_(...)) instead of assigning a new tensor "
                "or nn.Parameter to self.W_dec")
    rep2 = call(inside, normalise_report, model, tried=tried + " twice")
    expect(_near(rep2["parameters"].get("W_dec"), unit, atol=1e-6), "normalise_decoder is not idempotent.",
           tried=tried + " twice", expected=show(unit), received=describe(rep2["parameters"].get("W_dec")),
           hint="normalising unit rows again must leave them as they are")
    tried = "a forward pass, a backward pass, then model.normalise_decoder() (as in training)"
    model = _hand_model(SparseAutoencoder, tried)
    call(inside, set_parameters, model, {"W_dec": w}, tried=tried)
    rep3 = call(inside, normalise_report, model, _t(HAND_X), tried=tried,
                hint_if_raised="edit W_dec under torch.no_grad() (decorate the method with @torch.no_grad()): "
                               "autograd forbids editing a leaf that requires grad in place")
    expect(_near(rep3["parameters"].get("W_dec"), unit), "normalise_decoder after a backward pass is wrong.",
           tried=tried, expected=show(unit), received=describe(rep3["parameters"].get("W_dec")),
           hint="divide by the row norms of W_dec itself, under torch.no_grad()")

    # float64
    tried = "the hand-set model converted with model.double(), x in float64"
    model = _hand_model(SparseAutoencoder, tried)
    call(inside, convert, model, torch.float64, tried=tried)
    out = call(model, _t(HAND_X, torch.float64), tried=tried)
    expect(isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(v, torch.Tensor) and
                                                                     v.dtype == torch.float64 for v in out),
           "with float64 weights and inputs, the results are not float64.", tried=tried,
           received=describe(out), hint="create no tensor of a fixed dtype in encode or decode")


# ============================================================================================ 09.6 resample_dead

class PlantedReconstruction(nn.Module):
    """The four parameters of an SAE, and a forward pass that reconstructs each row of ``x`` with a planted error.

    ``forward(x) = (x - residual[:len(x)], zeros [len(x), n_latents])``: the squared reconstruction error of row i
    is ``|residual[i]|²``, which the check chooses, so the rows that resampling should draw are known. It has no
    ``encode`` or ``decode``: the spec computes ``x_hat`` with ``sae(x)``.
    """

    def __init__(self, W_enc, b_enc, W_dec, b_dec, residual):
        super().__init__()
        self.W_enc = nn.Parameter(W_enc.clone())
        self.b_enc = nn.Parameter(b_enc.clone())
        self.W_dec = nn.Parameter(W_dec.clone())
        self.b_dec = nn.Parameter(b_dec.clone())
        self.register_buffer("residual", residual.clone())

    def forward(self, x):
        return x - self.residual[: len(x)].to(x.dtype), x.new_zeros(len(x), self.W_dec.shape[0])


def resample_report(resample_dead, sae, x, dead, seed):
    """Run the learner's resample_dead where it lives; report what it returned and did to the module."""
    before = {n: id(p) for n, p in sae.named_parameters()}
    out = resample_dead(sae, x, dead, seed=seed)
    after = dict(sae.named_parameters())
    return {"out": out.detach() if isinstance(out, torch.Tensor) else out,
            "same_objects": sorted(before) == sorted(after) and all(id(after[n]) == i for n, i in before.items()),
            "leaf": all(p.is_leaf and p.requires_grad for p in after.values()),
            "parameters": {n: p.detach().clone() for n, p in after.items()}}


def _planted(W_enc, b_enc, W_dec, b_dec, residual) -> PlantedReconstruction:
    return PlantedReconstruction(W_enc, b_enc, W_dec, b_dec, residual)


def _resample(resample_dead, sae, x, dead, seed, tried, hint_if_raised: str = "") -> dict:
    rep = call(inside, resample_report, resample_dead, sae, x, dead, seed, tried=tried,
               hint_if_raised=hint_if_raised or "compute x_hat with sae(x) (the check's module has only forward); "
                                                "edit the parameters in place under torch.no_grad() (autograd "
                                                "forbids in-place edits of a leaf that requires grad); with no "
                                                "dead latent, draw nothing and change nothing")
    n_dead = int(dead.sum())
    chosen = rep["out"]
    expect_tensor(chosen, shape=(n_dead,), tried=tried, name="the tensor of rows returned",
                  hint="return the index of the row of x that each dead latent took, in the order of the dead "
                       "latents: a LongTensor [n_dead] (what torch.multinomial returns)")
    expect(chosen.dtype == torch.int64, "the returned rows should be int64 indices.", tried=tried,
           expected="int64", received=str(chosen.dtype), hint="return torch.multinomial's result as it is")
    expect(n_dead == 0 or (int(chosen.min()) >= 0 and int(chosen.max()) < len(x)), "the returned rows are not "
           "indices of rows of x.", tried=tried, expected=f"integers in [0, {len(x)})", received=show(chosen),
           hint="draw indices of rows of x")
    expect(rep["same_objects"] and rep["leaf"], "resample_dead replaced the module's parameters.", tried=tried,
           expected="the same nn.Parameter objects, edited in place",
           hint="the optimiser holds the Parameter objects: write into them (sae.W_dec[dead] = ... under "
                "torch.no_grad()) rather than assigning new tensors or Parameters to sae.W_dec")
    return rep


# One row with all the error. x[3] - b_dec = [3, 0, 4]: unit direction [0.6, 0, 0.8]. Alive encoder columns have
# norms 2, 4, 6 (mean 4); 0.2 × 4 = 0.8, so a dead encoder column becomes [0.48, 0, 0.64].
ONE_X = [[1.0, 1.0, 1.0], [0.0, 2.0, 0.0], [5.0, 5.0, 5.0], [4.0, 1.0, 4.0], [-1.0, 0.0, 2.0]]
ONE_B_DEC = [1.0, 1.0, 0.0]
ONE_RESIDUAL = [[0.0] * 3, [0.0] * 3, [0.0] * 3, [0.5, -0.5, 1.0], [0.0] * 3]
ONE_DEAD = [False, True, False, True, False, True]
ONE_W_ENC_COLUMNS = [[2.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 2.4, 3.2], [0.0, 0.0, 7.0], [0.0, 0.0, 6.0],
                     [1.0, 1.0, 1.0]]  # columns of W_enc, one per latent; dead ones have norms 10, 7 and sqrt 3;
# the alive columns' norms are 2, 4, 6 and their rows' norms are not (2, 2.4, 6.8: the norm over the wrong axis)


def _one_row_case():
    W_enc = _t(ONE_W_ENC_COLUMNS).T.contiguous()
    W_dec = _t([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.6, 0.8, 0], [0, 0.6, 0.8], [0.8, 0, 0.6]])
    b_enc = _t([0.1, -0.2, 0.3, -0.4, 0.5, -0.6])
    return W_enc, b_enc, W_dec, _t(ONE_B_DEC), _t(ONE_RESIDUAL)


def _resample_example(g, dtype, device="cpu"):
    W_enc, b_enc, W_dec, b_dec, residual = (t.to(dtype) for t in _one_row_case())
    residual = residual + 0.5  # every row has some error: a real draw
    return (_planted(W_enc, b_enc, W_dec, b_dec, residual), _t(ONE_X, dtype), torch.tensor(ONE_DEAD))


@exercise("09.6", "resample_dead", points=2, difficulty=2, minutes=20, example=_resample_example,
          opt_out={"meta device": "a draw in proportion to the errors needs their values",
                   "edge cases": "the check tries no dead latent, every latent dead and a perfect reconstruction "
                                 "itself, with what each must do to the model"})
def check_resample_dead(resample_dead):
    x, dead = _t(ONE_X), torch.tensor(ONE_DEAD)
    sae = _planted(*_one_row_case())
    tried = ("x [5, 3] where only row 3 is reconstructed with an error, b_dec = [1, 1, 0] (x[3] - b_dec = "
             "[3, 0, 4]), latents 1, 3, 5 of 6 dead, alive encoder columns of norms 2, 4, 6, seed=0")
    torch_before = torch.get_rng_state()
    rep = _resample(resample_dead, sae, x, dead, 0, tried)
    expect(torch.equal(torch.get_rng_state(), torch_before), "resample_dead moved torch's global random state.",
           tried=tried, hint="draw with your own generator: g = torch.Generator().manual_seed(seed); "
                             "torch.multinomial(weights, n_dead, replacement=True, generator=g)")
    chosen, p = rep["out"], rep["parameters"]
    expect(bool((chosen == 3).all()), "a dead latent took a row that has no reconstruction error.", tried=tried,
           expected="row 3 for every dead latent: the only row with an error", received=show(chosen),
           hint="draw rows with probability proportional to their squared reconstruction error, "
                "((x - x_hat) ** 2).sum(dim=-1) with x_hat from sae(x); a uniform draw ignores the error")
    W_enc, b_enc, W_dec, b_dec, _ = _one_row_case()
    alive = ~dead
    unit = _t([0.6, 0.0, 0.8])
    got = p["W_dec"][dead]
    if not _near(got, unit.expand(3, 3)):
        raw = _t(ONE_X[3])
        hint = ("centre the input on b_dec before normalising: x[i] - b_dec (the decoder adds b_dec back)"
                if _near(got, (raw / raw.norm()).expand(3, 3)) else
                "normalise the direction to a unit vector" if _near(got, _t([3.0, 0.0, 4.0]).expand(3, 3)) else
                "each dead latent's decoder row is the unit vector along x[i] - b_dec of its row i")
        fail("the new decoder rows of the dead latents are wrong.", tried=tried,
             expected="[0.6, 0, 0.8] for each dead latent (the unit vector along x[3] - b_dec)",
             received=show(got), hint=hint)
    enc = p["W_enc"][:, dead].T
    if not _near(enc, 0.8 * unit.expand(3, 3)):
        k = [(enc[0] @ unit).item() if enc.shape == (3, 3) else float("nan")]
        all_mean = (2 + 10 + 4 + 7 + 6 + math.sqrt(3)) / 6
        hint = ("scale by the mean norm of the *alive* encoder columns (2, 4, 6: mean 4), not of all of them"
                if abs(k[0] - 0.2 * all_mean) < 1e-4 else
                "multiply by 0.2: the new encoder column is 0.2 × (mean alive column norm) × the unit direction"
                if abs(k[0] - 4.0) < 1e-4 else
                "the encoder column is the decoder direction (a column of W_enc) times 0.2 × the mean norm of "
                "the alive encoder columns" if abs(k[0] - 1.0) > 1e-4 else
                "scale the unit direction by 0.2 × (mean norm of the alive encoder columns, W_enc[:, alive]"
                ".norm(dim=0).mean())")
        fail("the new encoder columns of the dead latents are wrong.", tried=tried,
             expected="[0.48, 0, 0.64] for each (0.2 × 4 × [0.6, 0, 0.8])", received=show(enc), hint=hint)
    expect(bool((p["b_enc"][dead] == 0).all()), "the encoder biases of the dead latents are not 0.", tried=tried,
           expected="0 for each dead latent", received=show(p["b_enc"][dead]),
           hint="set sae.b_enc[dead] = 0: a negative bias is often what killed the latent")
    untouched = {"W_enc (alive columns)": (p["W_enc"][:, alive], W_enc[:, alive]),
                 "b_enc (alive latents)": (p["b_enc"][alive], b_enc[alive]),
                 "W_dec (alive rows)": (p["W_dec"][alive], W_dec[alive]), "b_dec": (p["b_dec"], b_dec)}
    for what, (after, before) in untouched.items():
        expect(torch.equal(after, before), f"resample_dead changed {what}.", tried=tried,
               expected="alive latents and b_dec exactly as they were", received=show(after),
               hint="index with the mask: only the dead latents' rows, columns and biases change")

    # two rows with errors 1 and 3: about 3/4 of the draws go to the second
    n_dead = 4000
    g = generator("09.6")
    d = 3
    xs = torch.randn(6, d, generator=g) + 3.0
    residual = torch.zeros(6, d)
    residual[1, 0] = 1.0
    residual[4] = _t([1.0, 1.0, -1.0])  # squared error 3
    W_enc = torch.randn(d, n_dead + 2, generator=g)
    W_dec = torch.randn(n_dead + 2, d, generator=g)
    W_dec = W_dec / W_dec.norm(dim=1, keepdim=True)
    dead = torch.ones(n_dead + 2, dtype=torch.bool)
    dead[:2] = False
    sae = _planted(W_enc, torch.zeros(n_dead + 2), W_dec, torch.zeros(d), residual)
    tried = (f"x [6, 3], squared reconstruction errors 0, 1, 0, 0, 3, 0 (rows 1 and 4), {n_dead} dead latents "
             "of {0}, seed=0".format(n_dead + 2))
    rep = _resample(resample_dead, sae, xs, dead, 0, tried)
    chosen = rep["out"]
    expect(bool(((chosen == 1) | (chosen == 4)).all()), "a dead latent took a row that has no reconstruction "
           "error.", tried=tried, expected="rows 1 and 4 only", received=f"rows {sorted(set(chosen.tolist()))}",
           hint="draw in proportion to the squared error: rows reconstructed perfectly are never drawn")
    share = (chosen == 4).double().mean().item()
    expect(abs(share - 0.75) < 0.04, "the draws are not in proportion to the squared errors.", tried=tried,
           expected="about 3/4 of the draws on row 4 (error 3 against 1)", received=f"{share:.3f}",
           hint="you always took the row with the largest error: draw at random, torch.multinomial(errors, "
                "n_dead, replacement=True, generator=g)" if share > 0.99 else
           "you drew in proportion to the norm of the error (sqrt(3) against 1 gives 0.63): square it, "
           "((x - x_hat) ** 2).sum(dim=-1)" if abs(share - 0.634) < 0.04 else
           "each row's probability is its squared error divided by the total")
    expect(bool(torch.allclose(rep["parameters"]["W_dec"].norm(dim=1), torch.ones(n_dead + 2), atol=1e-5)),
           "the new decoder rows are not unit vectors.", tried=tried,
           hint="normalise each chosen x[i] - b_dec to norm 1")
    directions = xs / xs.norm(dim=1, keepdim=True)
    expect(_near(rep["parameters"]["W_dec"][dead], directions[chosen]), "the dead latents' decoder rows do not "
           "match the rows returned.", tried=tried, expected="dead latent k (in index order) takes row rows[k]",
           hint="return the rows in the order of the dead latents: sae.W_dec[dead] = u assigns u[k] to the k-th "
                "dead latent")
    spec = torch.multinomial(torch.tensor([0.0, 1.0, 0.0, 0.0, 3.0, 0.0]), n_dead, replacement=True,
                             generator=torch.Generator().manual_seed(0))
    expect(torch.equal(chosen, spec), "the rows are drawn in proportion to the errors, but not with the spec's "
           "draw.", tried=tried, expected="torch.multinomial(errors, n_dead, replacement=True, generator=g) with "
           "g = torch.Generator().manual_seed(seed)", received=f"other rows ({int((chosen != spec).sum())} of "
           f"{n_dead} differ)", hint="one call for all the dead latents, with these arguments, so that a seed means "
                                     "the same draw for everyone (the hidden tests compare the rows)")
    again = _resample(resample_dead, _planted(W_enc, torch.zeros(n_dead + 2), W_dec, torch.zeros(d), residual),
                      xs, dead, 0, tried + ", twice")
    expect(torch.equal(again["out"], chosen), "the same seed gave other rows.", tried=tried + ", twice",
           expected="the same rows", hint="seed a torch.Generator with `seed` and draw with it")
    other = _resample(resample_dead, _planted(W_enc, torch.zeros(n_dead + 2), W_dec, torch.zeros(d), residual),
                      xs, dead, 1, tried.replace("seed=0", "seed=1"))
    expect(not torch.equal(other["out"], chosen), "seed=0 and seed=1 gave the same rows.",
           tried=tried + ", with seed=0 and seed=1", expected="other draws", hint="seed your generator with `seed`")

    # edge cases: no dead latent; every latent dead; a perfect reconstruction
    base = _one_row_case()
    none = torch.zeros(6, dtype=torch.bool)
    tried = "the first case with no dead latent"
    rep = _resample(resample_dead, _planted(*base), x, none, 0, tried)
    for k, v in zip(SAE_PARAMS, base[:4]):
        expect(torch.equal(rep["parameters"][k], v), "with no dead latent, the model changed.", tried=tried,
               expected="every parameter as it was", hint="index with the mask, and draw n_dead = 0 rows")
    tried = "the first case with every latent dead (no alive encoder column to take a norm from: use 1)"
    rep = _resample(resample_dead, _planted(*base), x, torch.ones(6, dtype=torch.bool), 0, tried)
    expect(_near(rep["parameters"]["W_enc"].T, 0.2 * unit.expand(6, 3)), "with every latent dead, the encoder "
           "columns are wrong.", tried=tried, expected="0.2 × 1 × [0.6, 0, 0.8] for each",
           received=show(rep["parameters"]["W_enc"].T),
           hint="when no latent is alive the mean alive norm is undefined: the spec uses 1 instead")
    tried = "every row reconstructed perfectly (all errors 0): draw uniformly"
    W_enc0, b_enc0, W_dec0, b_dec0, _ = base
    rep = _resample(resample_dead, _planted(W_enc0, b_enc0, W_dec0, b_dec0, torch.zeros(5, 3)), x,
                    torch.tensor(ONE_DEAD), 0, tried,
                    hint_if_raised="when every error is 0 the weights of the draw sum to 0 (torch.multinomial "
                                   "refuses them): draw uniformly then, with torch.ones_like(errors)")
    expect_tensor(rep["parameters"]["W_dec"], tried=tried, name="W_dec",
                  hint="with all errors 0 the weights sum to 0: draw uniformly instead (torch.ones_like(errors))")
    expect(bool(torch.allclose(rep["parameters"]["W_dec"].norm(dim=1), torch.ones(6), atol=1e-5)),
           "with all errors 0, the new decoder rows are not unit vectors.", tried=tried,
           hint="draw uniformly when every error is 0")


# ============================================================================================ 09.7 mean_max_cosine

MMC_TRUE = [[1.0, 0.0], [0.0, 1.0]]
MMC_LEARNED = [[3.0, 0.0], [1.0, 1.0], [-1.0, 0.0]]  # e1: best 1 (the first row); e2: best 1/sqrt 2: mean 0.8536


def _mmc_value(fn, learned, true, tried) -> float:
    out = call(fn, learned, true, tried=tried)
    return single_number(out, tried=tried, name="the score",
                         hint="average the best cosine of each true feature into one number: .mean().item()")


def _mmc_example(g, dtype, device="cpu"):
    return torch.randn(7, 4, generator=g, dtype=dtype), torch.randn(5, 4, generator=g, dtype=dtype)


@exercise("09.7", "mean_max_cosine", points=2, difficulty=1, minutes=10, example=_mmc_example,
          edge_cases=(
              EdgeCase("one learned row and one true feature, the same direction at another scale",
                       lambda: (_t([[0.0, -2.0, 0.0]]), _t([[0.0, -0.5, 0.0]])), close_to(lambda *a: 1.0)),
              EdgeCase("a learned row of zeros (cosine 0 with everything, not NaN)",
                       lambda: (_t([[0.0, 0.0], [0.0, 1.0]]), _t([[1.0, 0.0], [0.0, 1.0]])),
                       close_to(lambda *a: 0.5),
                       hint="divide by the norms clamped away from 0 (F.normalize does this): a zero row then has "
                            "cosine 0 with every feature"),
          ),
          opt_out={"meta device": "the result is a Python float, which needs the values"})
def check_mean_max_cosine(mean_max_cosine):
    tried = f"learned = {MMC_LEARNED}, true = {MMC_TRUE}"
    got = _mmc_value(mean_max_cosine, _t(MMC_LEARNED), _t(MMC_TRUE), tried)
    want = (1 + 1 / math.sqrt(2)) / 2
    if abs(got - want) > 1e-5:
        hint = ("you took, for each *learned* row, its best true feature: the score asks, for each *true* "
                "feature, its best learned row (max over the learned rows, mean over the true features)"
                if abs(got - (1 + 1 / math.sqrt(2) + 0) / 3) < 1e-4 else
                "normalise both sets of rows before the dot products: cosines, not dot products"
                if got > 1 + 1e-6 else
                "take the max over the learned rows for each true feature, then the mean; not the mean of all "
                "the cosines" if abs(got - (1 + 1 / math.sqrt(2) - 1 + 0 + 1 / math.sqrt(2) + 0) / 6) < 1e-4 else
                "cosine(f_k, w_j) = f_k · w_j / (|f_k| |w_j|); the score is the mean over k of the max over j")
        fail("the score is wrong.", tried=tried, expected=f"{want:.6f}: feature [1, 0] finds [3, 0] (cosine 1), "
             "feature [0, 1] finds [1, 1] (cosine 0.7071)", received=f"{got:.6g}", hint=hint)
    tried = "learned = -true (each learned row points against its feature), true = the identity in 2 dimensions"
    got = _mmc_value(mean_max_cosine, -torch.eye(2) * 2, torch.eye(2), tried)
    expect(abs(got) < 1e-6, "the cosines lost their sign.", tried=tried,
           expected="0: each feature's best cosine is 0 (with the other row), its own row gives -1",
           received=f"{got:.6g}", hint="a decoder row that points against a feature does not find it (its latent "
                                       "is >= 0): keep the sign, no .abs()")
    g = generator("09.7")
    true = torch.randn(6, 5, generator=g, dtype=torch.float64)
    perm = torch.randperm(9, generator=g)
    learned = torch.cat([true * torch.rand(6, 1, generator=g, dtype=torch.float64) * 3 + 0.0,
                         torch.randn(3, 5, generator=g, dtype=torch.float64)])[perm]
    tried = "learned = the 6 true features (random, not unit) rescaled by positive factors, 3 random rows added, " \
            "shuffled"
    got = _mmc_value(mean_max_cosine, learned, true, tried)
    expect(abs(got - 1.0) < 1e-9, "a dictionary that holds every feature does not score 1.", tried=tried,
           expected="1.0", received=f"{got:.10g}",
           hint="normalise the rows of both arguments: the score must not depend on their lengths or order")
    rand = torch.randn(64, 16, generator=g)
    feats = torch.randn(32, 16, generator=g)
    tried = "a random dictionary (64 rows) against 32 random features in 16 dimensions"
    got = _mmc_value(mean_max_cosine, rand, feats, tried)
    expect(0.3 < got < 0.85, "a random dictionary scores implausibly.", tried=tried,
           expected="a value well below 1 and above 0 (near 0.6)", received=f"{got:.4g}",
           hint="cosine(f_k, w_j) = f_k · w_j / (|f_k| |w_j|); the score is the mean over k of the max over j")
    tried = "(learned, true) swapped: learned = the 2 true features of the first case, true = the 3 learned rows"
    got = _mmc_value(mean_max_cosine, _t(MMC_TRUE), _t(MMC_LEARNED), tried)
    want = (1 + 1 / math.sqrt(2) + 0) / 3
    expect(abs(got - want) < 1e-5, "the order of the arguments is not the one the exercise names.", tried=tried,
           expected=f"{want:.6f}", received=f"{got:.6g}",
           hint="mean_max_cosine(learned, true): the mean runs over the rows of the *second* argument")


# ====================================================================================================
# Section 3
# ====================================================================================================

MECHANISM_ID, HEADS_ID = "09.8", "09.9"
CHECK_SEED = 9_090  # the check's sequences: not the notebook's
FINDING_OPT_OUT = {"inputs unchanged": "it takes no input", "float64": "it returns a finding, not numbers",
                   "meta device": "it returns a finding, not numbers", "edge cases": "it takes no input",
                   "written by hand": "a finding: the check grades the answer, whatever method found it"}


@functools.lru_cache(maxsize=1)
def _check_tokens() -> torch.Tensor:
    return mystery_inputs(500, seed=CHECK_SEED)


@functools.lru_cache(maxsize=1)
def _model_guess() -> torch.Tensor:
    with torch.no_grad():
        return shipped_mystery_model()(_check_tokens())[:, -1].argmax(dim=-1)


# ---------------------------------------------------------------- 09.8 mystery_mechanism

def _after_last_occurrence(tokens: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """[n]: the token right after the LAST earlier occurrence (before the final position) of value[i] in row i; -1 if none."""
    n, length = tokens.shape
    hit = tokens[:, :-1] == value[:, None]  # [n, length - 1]
    position = torch.arange(length - 1).expand(n, -1)
    last = torch.where(hit, position, torch.full_like(position, -1)).max(dim=1).values
    after = tokens.gather(1, (last + 1).clamp(max=length - 1)[:, None]).squeeze(1)
    return torch.where(last >= 0, after, torch.full_like(after, -1))


def candidate_predictions(tokens: torch.Tensor) -> dict:
    """Each candidate mechanism's prediction at the last position, [n] int64 (-1 where it predicts nothing)."""
    n = tokens.shape[0]
    counts = torch.zeros(n, CONFIG.d_vocab, dtype=torch.long).scatter_add_(1, tokens, torch.ones_like(tokens))
    marker_at = (tokens == MARKER).long().argmax(dim=1)
    before = tokens.gather(1, (marker_at - 1).clamp(min=0)[:, None]).squeeze(1)
    return {"a": tokens[:, 0],
            "b": _after_last_occurrence(tokens, tokens[:, -1]),
            "c": counts.argmax(dim=1),
            "d": mystery_targets(tokens),
            "e": torch.where(marker_at > 0, before, torch.full_like(before, -1)),
            "f": tokens[:, -1]}


@functools.lru_cache(maxsize=1)
def candidate_agreement() -> dict:
    """The share of the check's sequences on which the model's guess equals each candidate's prediction."""
    guess = _model_guess()
    return {k: (guess == p).double().mean().item() for k, p in candidate_predictions(_check_tokens()).items()}


MISLEADS = {  # what usually leads to each wrong letter, and the experiment that would have told
    "a": "a head that pours its attention onto position 0 is often parking it there (nothing better to attend "
         "to), not copying: test the candidate on the model's behaviour, not on a pattern",
    "b": "a previous-token head in layer 0 and a layer-1 head that attends one position past something is the "
         "shape of 07's induction circuit, but a shape is not a behaviour: change only the LAST token of some "
         "sequences and watch whether the guess moves (an induction head's query is the current token)",
    "c": "count, in each sequence, which token occurs most often, and compare with the guess",
    "e": "a pattern read with its axes swapped puts what a head reads on the wrong side of it: rows are the "
         "query positions, columns the key positions attended. Whatever a pattern suggests, test the rule on "
         "the guesses",
    "f": "the current token is what the direct path (embedding to unembedding) would predict; compare with the "
         "guess",
}


@exercise(MECHANISM_ID, "mystery_mechanism", points=2, difficulty=2, minutes=30, opt_out=FINDING_OPT_OUT)
def check_mystery_mechanism(mystery_mechanism):
    tried = "mystery_mechanism(), about the mystery model (load_mystery_model()) and mystery_inputs"
    out = call(mystery_mechanism, tried=tried)
    answer = out.strip().strip("().").strip().lower() if isinstance(out, str) else None
    expect(answer in MECHANISMS, "the answer should be the letter of one mechanism of the list.", tried=tried,
           expected="one of " + ", ".join(f'"{k}"' for k in MECHANISMS), received=describe(out),
           hint='return a string of one letter, such as "a" (not a sentence, not a number, not a list)')
    if answer == MECHANISM:
        return
    agree = candidate_agreement()
    fail(f'the mystery model does not do ({answer}): "{MECHANISMS[answer]}".', tried=tried,
         expected="the mechanism whose prediction the model's guess follows on almost every sequence",
         received=f'"{answer}", whose prediction the model\'s guess equals on {agree[answer]:.0%} of 500 new '
                  f"sequences",
         hint=f"{MISLEADS[answer]}. Write each candidate's prediction as code, a function of the tokens, and "
              "count how often the model's guess (its argmax at the last position) equals it: the right one agrees "
              "on nearly every sequence, the wrong ones on few")


# ---------------------------------------------------------------- 09.9 mystery_heads

@functools.lru_cache(maxsize=1)
def measured_heads() -> frozenset:
    """The heads the check measures with the course's ablate_heads, verified; raises RuntimeError if the course is broken."""
    model, tokens = shipped_mystery_model(), _check_tokens()
    base = mystery_accuracy(model, tokens)
    cfg = model.cfg
    found = frozenset((l, h) for l in range(cfg.n_layers) for h in range(cfg.n_heads)
                      if base - mystery_accuracy(model, tokens, [(l, h)]) > 0.5)
    numbers = verify_heads(model, tokens, found)
    if found != HEADS or numbers["heads_ablated"] > 0.2 or numbers["intact"] - numbers["others_ablated"] > 0.05:
        raise RuntimeError(f"the mystery model does not verify: measured {sorted(found)}, shipped {sorted(HEADS)}, "
                           f"{numbers}")  # pragma: no cover - a checkpoint the course would not ship
    return found


def heads_as_plain(value):
    """A set of pairs as a list of tuples of ints, which the graders' channel carries as plain data (a set it
    does not: it stays in the learner's kernel); anything else as it is. Runs where the answer lives."""
    if not isinstance(value, (set, frozenset)):
        return value
    def plain(i):
        return operator.index(i) if hasattr(i, "__index__") and not isinstance(i, bool) else i
    return sorted((tuple(plain(i) for i in p) if isinstance(p, (tuple, list)) else p for p in value), key=repr)


def _as_heads(out, tried: str) -> set:
    """The learner's answer as a set of (layer, head) pairs of ints, or a verdict on its form."""
    if isinstance(out, Remote):  # under the graders a set stays in the kernel: bring its pairs over
        out = inside(heads_as_plain, out)
    else:
        out = heads_as_plain(out)
    expect(isinstance(out, (set, frozenset, list, tuple)) and not isinstance(out, str),
           "the answer should be a set (or list) of (layer, head) pairs.", tried=tried,
           expected="e.g. {(0, 1), (1, 3)}", received=describe(out), hint="return a set of tuples of two ints")
    heads = set()
    for pair in out:
        ok = isinstance(pair, (tuple, list)) and len(pair) == 2 and not any(isinstance(i, bool) for i in pair)
        try:
            pair = tuple(operator.index(i) for i in pair) if ok else None
        except TypeError:
            pair = None
        expect(pair is not None, "every item should be one (layer, head) pair of ints.", tried=tried,
               received=describe(out), hint="a single head is still a set of one pair: {(1, 0)}; layers and heads "
                                            "are counted from 0")
        heads.add(pair)
    expect(bool(heads), "the answer is empty.", tried=tried, expected="at least one (layer, head) pair",
           received=describe(out), hint="the model does its job with some of its heads: name them")
    n_layers, n_heads = CONFIG.n_layers, CONFIG.n_heads
    bad = sorted(p for p in heads if not (0 <= p[0] < n_layers and 0 <= p[1] < n_heads))
    if bad:
        swapped = all(0 <= h < n_layers and 0 <= l < n_heads for l, h in heads)
        fail(f"the model has no head {', '.join(f'L{l}H{h}' for l, h in bad)}.", tried=tried,
             expected=f"pairs (layer, head) with layer in 0..{n_layers - 1} and head in 0..{n_heads - 1}",
             received=str(sorted(heads)),
             hint="the pairs look written as (head, layer): write (layer, head)" if swapped else
                  "layers and heads are counted from 0")
    return heads


def _percent(x: float) -> str:
    return f"{100 * x:.0f} %"


@exercise(HEADS_ID, "mystery_heads", points=3, difficulty=3, minutes=40, opt_out=FINDING_OPT_OUT)
def check_mystery_heads(mystery_heads):
    tried = "mystery_heads(), about the mystery model (load_mystery_model()) and mystery_inputs"
    out = call(mystery_heads, tried=tried)
    heads = _as_heads(out, tried)
    truth = measured_heads()
    if heads == set(truth):
        return
    model, tokens = shipped_mystery_model(), _check_tokens()
    cfg = model.cfg
    intact = mystery_accuracy(model, tokens)
    hints = []
    extra, missing = heads - truth, truth - heads
    if extra:
        costs = [intact - mystery_accuracy(model, tokens, [p]) for p in sorted(extra)]
        hints.append(f"ablate each head you named ALONE (mean ablation over mystery_inputs): "
                     f"{len(extra)} of them cost{'s' if len(extra) == 1 else ''} at most "
                     f"{_percent(max(max(costs), 0.0))} of the accuracy, each on its own. A head the model does not "
                     "need is not part of the mechanism, however sharp its attention pattern")
    if missing:
        others = [(l, h) for l in range(cfg.n_layers) for h in range(cfg.n_heads) if (l, h) not in heads]
        named = mystery_accuracy(model, tokens, sorted(heads))
        left = mystery_accuracy(model, tokens, others)
        hints.append(f"the heads you named, ablated together, take the accuracy from {_percent(intact)} to "
                     f"{_percent(named)}; but ablating every head you did NOT name (together) also takes it to "
                     f"{_percent(left)}: a head you left out carries part of the mechanism")
        if all(l == cfg.n_layers - 1 for l, _ in heads) and any(l < cfg.n_layers - 1 for l, _ in missing):
            hints.append("you named heads of the last layer only. A layer-1 head can find the right position only "
                         "if a layer-0 head has first written something there for its keys to read (07's induction "
                         "circuit needed two heads; 08's path patching found the one it reads)")
    fail("these are not the heads that carry the mechanism.", tried=tried,
         expected="every head whose ablation alone costs the model most of its accuracy, and no other",
         received=str(sorted(heads)), hint="; ".join(hints))
