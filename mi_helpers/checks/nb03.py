"""Checks for notebook 03, logistic regression and a one-hidden-layer MLP.

The functions of sections 1-3 are compared with torch's own (``torch.sigmoid``,
``F.binary_cross_entropy_with_logits``, ``F.cross_entropy``, autograd) on
ordinary inputs and on extreme ones (logits of ±1000), where a formula that is
right on paper overflows. Autograd is asked too: a loss whose value is right
but whose gradient is NaN stops training just as surely. The MLP is run with
hand-set weights whose output is known on paper, then trained on two moons;
the ReLU boundaries are checked by what a boundary is: points where the unit's
pre-activation is 0, with the normal pointing to the side where it is active.
None of the checks holds a copy of the answer.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..data import train_test_split, two_moons
from ..train import train
from .core import (AUTOGRAD, EdgeCase, call, call_on_copies, close_to, describe, exercise, expect, expect_close,
                   expect_gradient_pair, expect_number, expect_tensor, fail, generator, inside, is_instance,
                   show, single_number)






def _close(a, b, atol: float = 1e-5) -> bool:
    """True when a and b have one shape and close values (used to name a mistake in a hint)."""
    a, b = torch.as_tensor(a).detach().double(), torch.as_tensor(b).detach().double()
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and bool(torch.allclose(a, b, atol=atol, rtol=1e-4))




def _loss_tensor(out, dtype: torch.dtype, tried: str, name: str = "the loss") -> torch.Tensor:
    """A loss must be a 0-d tensor, so that backward() can start from it."""
    expect_tensor(out, tried=tried, name=name, allow_nan=True,
                  hint="return a torch tensor (a 0-d one, from .mean()), not a Python float: "
                       "training calls loss.backward() on it")
    expect_tensor(out, shape=(), tried=tried, name=name, allow_nan=True,
                  hint="the loss is ONE number, the mean over the n examples: end with .mean()")
    return expect_tensor(out, dtype=dtype, tried=tried, name=name, allow_nan=True)


def autograd_through(fn, inputs: tuple, wrt: int) -> tuple[str, object]:
    """Autograd's gradient of fn(*inputs).sum() with respect to inputs[wrt], as plain data.

    Under the graders this runs in the learner's kernel, next to the learner's fn
    (:func:`~mi_helpers.checks.core.inside`): the graph exists only there.
    """
    x = inputs[wrt].clone().requires_grad_(True)
    # the learner receives a copy inside the graph, as a model's output would be: not a leaf, so that
    # an in-place edit of it is allowed, as it would be in training
    args = tuple(x.clone() if i == wrt else (a.clone() if isinstance(a, torch.Tensor) else a)
                 for i, a in enumerate(inputs))
    out = fn(*args)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return "unconnected", describe(out)
    try:
        (grad,) = torch.autograd.grad(out.sum(), x)
    except RuntimeError as exc:
        return "failed", str(exc)
    return "ok", grad.detach()


def _gradient_through(fn, inputs: tuple, wrt: int, tried: str, what: str) -> torch.Tensor:
    """Autograd's gradient of fn(*inputs).sum() with respect to inputs[wrt], with learner-facing failures."""
    report = call(inside, autograd_through, fn, inputs, wrt, tried=tried)
    kind, detail = report if isinstance(report, tuple) and len(report) == 2 else ("failed", describe(report))
    if kind == "unconnected":
        fail(f"autograd cannot differentiate your {what}: its result is not connected to the input.",
             tried=tried, expected="a result with requires_grad=True", received=detail,
             hint="use torch operations only: no .detach(), .item(), .numpy() or torch.tensor(...) "
                  "on intermediate results")
    if kind != "ok":
        fail(f"autograd could not differentiate your {what}: {detail}", tried=tried,
             hint="an in-place operation (+=, .clamp_(), x[mask] = ...) on a tensor autograd needs "
                  "breaks backward; build new tensors instead")
    return detail


# ---------------------------------------------------------------- contracts' inputs



def _labels(g, n, dtype, device):
    return (torch.rand(n, generator=g) < 0.5).to(dtype).to(device)


def _logistic(g, dtype, device="cpu"):
    """(w, b, X, y) for the gradient of logistic regression."""
    X = torch.randn(8, 3, generator=g, dtype=dtype).to(device)
    return (torch.randn(3, generator=g, dtype=dtype).to(device), torch.tensor(0.3, dtype=dtype).to(device), X,
            _labels(g, 8, dtype, device))


def _relative(expected: torch.Tensor, rtol: float):
    """An edge case's expectation: every entry within rtol of the expected value, relatively."""
    def compare(out, args):
        want = expected
        if not isinstance(out, torch.Tensor) or out.shape != want.shape:
            return f"expected {describe(want)}"
        error = ((out.detach().double() - want) / want).abs().max().item()
        return None if error < rtol else f"a relative error of {error:.2g} (expected {show(want)})"
    return compare


def _layer(g, dtype, device="cpu", h=4):
    with torch.random.fork_rng(devices=[]):
        layer = nn.Linear(2, h, dtype=dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(h, 2, generator=g, dtype=dtype))
        layer.bias.copy_(torch.randn(h, generator=g, dtype=dtype))
    return layer.to(device)


def _one_unit() -> nn.Linear:
    with torch.random.fork_rng(devices=[]):
        layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 4.0]]))
        layer.bias.zero_()
    return layer


def _detached_pair(out, args):
    if not isinstance(out, (tuple, list)) or len(out) != 2 or not all(isinstance(t, torch.Tensor) for t in out):
        return "expected (normals, points)"
    if any(t.requires_grad for t in out):
        return "the results still require grad: return them detached (layer.weight.detach())"
    if tuple(out[0].shape) != (1, 2) or tuple(out[1].shape) != (1, 2):
        return "expected two tensors of shape (1, 2) for a layer with one unit"
    return close_to(lambda layer: (torch.tensor([[0.6, 0.8]]), torch.tensor([[0.0, 0.0]])))(out, args)


# ---------------------------------------------------------------- 03.1

def _sigmoid_hint(z: torch.Tensor, out: torch.Tensor) -> str:
    """Name the mistake on z = [0, ln 3, -ln 3] from what the output looks like."""
    if _close(out, 0.5 * (1 + torch.tanh(z))):
        return "your result is (1 + tanh(z)) / 2; the identity is σ(z) = (1 + tanh(z/2)) / 2"
    if _close(out, 1 / (1 + torch.exp(z))):
        return ("your curve is mirrored: you computed σ(-z). σ(z) = 1 / (1 + e^(-z)) goes UP with z, "
                "check the sign in the exponent")
    return "σ(z) = 1 / (1 + e^(-z)): σ(0) = 1/2, σ(ln 3) = 1 / (1 + 1/3) = 3/4, σ(-ln 3) = 1/4"


OVERFLOW_HINT = ("e^(-z) overflows to inf as soon as -z > 88 in float32 (709 in float64), and inf / inf or "
                 "0 × inf is NaN. Only ever exponentiate a number that is ≤ 0: e^(-|z|) lies in (0, 1]. "
                 "With torch.where, BOTH branches are computed (and differentiated) for every entry, so "
                 "neither branch may overflow")


@exercise("03.1", "sigmoid", points=2, difficulty=2, minutes=15,
          example=lambda g, dtype, device="cpu": ((torch.randn(6, generator=g, dtype=dtype) * 5).to(device),), meta=True,
          forbidden=("torch.sigmoid", "torch.Tensor.sigmoid", "torch.special.expit", "torch.nn.functional.sigmoid",
                     "torch.nn.functional.logsigmoid", "torch.nn.functional.softplus", "torch.nn.Sigmoid"),
          edge_cases=(
              EdgeCase("a 0-d tensor z = 0", lambda: (torch.tensor(0.0),), close_to(lambda z: torch.tensor(0.5))),
              EdgeCase("float64 z = [-50, -200, -700]: tiny probabilities, each exact to 1e-9 relatively",
                       lambda: (torch.tensor([-50.0, -200.0, -700.0], dtype=torch.float64),),
                       _relative(torch.exp(torch.tensor([-50.0, -200.0, -700.0], dtype=torch.float64))
                                 / (1 + torch.exp(torch.tensor([-50.0, -200.0, -700.0], dtype=torch.float64))), 1e-9),
                       hint="do not clamp z: σ(-50) is 2e-22, not σ(-30); e^(-|z|) never overflows"),
          ))
def check_sigmoid(sigmoid):
    z = torch.tensor([0.0, math.log(3.0), -math.log(3.0)])
    tried = "z = [0, ln 3, -ln 3], float32"
    out = call_on_copies(sigmoid, z, tried=tried)
    expect_tensor(out, shape=(3,), dtype=torch.float32, tried=tried, allow_nan=True,
                  hint="one probability per entry of z: the same shape as z")
    expect_close(out, torch.tensor([0.5, 0.75, 0.25]), tried=tried,
                 problem="wrong on a case worked out by hand.", hint=_sigmoid_hint(z, out))

    g = generator("03.1")
    z = 4 * torch.randn(3, 5, generator=g, dtype=torch.float64)
    tried = "z of shape (3, 5), float64, random, |z| up to about 12"
    out = call_on_copies(sigmoid, z, tried=tried)
    expect_tensor(out, shape=(3, 5), dtype=torch.float64, tried=tried,
                  hint="work entry by entry on any shape, and keep the dtype of z (no float32 constants)")
    expect_close(out, torch.sigmoid(z), tried=tried, atol=1e-12, rtol=1e-10,
                 problem="differs from torch.sigmoid.")
    mirrored = call_on_copies(sigmoid, -z, tried=tried + "; then -z")
    expect_close(mirrored, 1 - out, tried=tried + ": σ(-z) against 1 - σ(z)", atol=1e-12,
                 name="σ(-z)", problem="the symmetry σ(-z) = 1 - σ(z) does not hold.")

    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        z = torch.tensor([-1000.0, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 1000.0], dtype=dtype)
        tried = f"z = [-1000, -100, -30, -1, 0, 1, 30, 100, 1000], {name}"
        out = call_on_copies(sigmoid, z, tried=tried)
        expect_tensor(out, shape=(9,), dtype=dtype, tried=tried, hint=OVERFLOW_HINT)
        expect_close(out, torch.sigmoid(z), tried=tried, atol=1e-7, problem="wrong for large |z|.",
                     hint=OVERFLOW_HINT)

        z = torch.tensor([-1000.0, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 1000.0], dtype=dtype)
        tried = f"autograd through your sigmoid at z = [-1000, -100, -30, -1, 0, 1, 30, 100, 1000], {name}"
        grad = _gradient_through(sigmoid, (z,), 0, tried, "sigmoid")
        expect_tensor(grad, shape=(9,), tried=tried, name="the gradient dσ/dz",
                      hint="your VALUES are fine, but backward through them gives NaN: autograd "
                           "differentiates every operation you wrote, including an exp that overflowed "
                           "(the derivative of 1 / (1 + inf) is 0 × inf = NaN). In training, one NaN "
                           "gradient turns every weight into NaN. " + OVERFLOW_HINT)
        expect_close(grad, torch.sigmoid(z) * torch.sigmoid(-z), tried=tried, atol=1e-7,
                     name="the gradient dσ/dz", problem="the gradient is not σ(z)(1 - σ(z)).",
                     hint="the values are right but autograd's derivative of them is not: look for an "
                          "operation without a useful gradient (round, a comparison, .detach()) on the way")


# ---------------------------------------------------------------- 03.2

def _bce_hint(logits: torch.Tensor, y: torch.Tensor, value: float, n: int) -> str:
    """Name the mistake on the hand case from how the value relates to the right one."""
    right = float(F.binary_cross_entropy_with_logits(logits, y))
    if abs(value - n * right) < 1e-4:
        return f"your loss is n = {n} times too large: the loss is the MEAN over the examples, not the sum"
    if abs(value - float(F.binary_cross_entropy_with_logits(logits, 1 - y))) < 1e-4:
        return ("you swapped the two cases: the term -log σ(z) belongs to the examples with y = 1, "
                "-log(1 - σ(z)) to those with y = 0")
    if abs(value - float(F.binary_cross_entropy_with_logits(torch.sigmoid(logits), y))) < 1e-4:
        return ("you applied the sigmoid twice: the function receives LOGITS z (any real number), "
                "and the probability is σ(z)")
    return ("-log σ(z) for y = 1, -log(1 - σ(z)) = -log σ(-z) for y = 0, averaged: here both examples "
            "are right with probability 3/4, so the loss is -ln(3/4)")


LOG_SIGMOID_HINT = ("for z = -1000, σ(z) is 0 in floating point and log 0 = -inf: never take the log of a "
                    "probability. Work with the logits: -log σ(z) = log(1 + e^(-z)) = softplus(-z), "
                    "and 1 - σ(z) = σ(-z). F.softplus (or max(z, 0) + log1p(e^(-|z|))) never overflows. "
                    "Clamping p to [ε, 1 - ε] is not enough: it caps each term at -log ε")


@exercise("03.2", "binary_cross_entropy", points=2, difficulty=2, minutes=15,
          example=lambda g, dtype, device="cpu": ((torch.randn(6, generator=g, dtype=dtype) * 3).to(device),
                                                  _labels(g, 6, dtype, device)), meta=True,
          forbidden=("torch.nn.functional.binary_cross_entropy_with_logits", "torch.nn.functional.binary_cross_entropy",
                     "torch.nn.BCELoss", "torch.nn.BCEWithLogitsLoss"),
          edge_cases=(
              EdgeCase("one example: logits = [0], y = [1]", lambda: (torch.tensor([0.0]), torch.tensor([1.0])),
                       close_to(lambda z, y: torch.tensor(math.log(2.0)))),
          ))
def check_binary_cross_entropy(binary_cross_entropy):
    logits, y = torch.tensor([math.log(3.0), -math.log(3.0)]), torch.tensor([1.0, 0.0])
    tried = "logits = [ln 3, -ln 3] (probabilities 3/4 and 1/4), y = [1, 0], float32"
    out = _loss_tensor(call_on_copies(binary_cross_entropy, logits, y, tried=tried), torch.float32, tried)
    value = float(out) if torch.isfinite(out) else float("nan")
    expect_number(value, -math.log(0.75), tried=tried, tol=1e-5,
                  problem="wrong on a case worked out by hand: both examples get their label with "
                          "probability 3/4, so the loss is -ln(3/4) ≈ 0.2877.",
                  hint=_bce_hint(logits, y, value, 2))

    g = generator("03.2")
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        logits = 3 * torch.randn(40, generator=g, dtype=dtype)
        y = torch.randint(0, 2, (40,), generator=g).to(dtype)
        tried = f"logits of shape (40,), {name}, random, |z| up to about 9; y random in {{0, 1}}, {name}"
        out = _loss_tensor(call_on_copies(binary_cross_entropy, logits, y, tried=tried), dtype, tried)
        expect_close(out, F.binary_cross_entropy_with_logits(logits, y), tried=tried,
                     atol=1e-6, rtol=1e-5, name="the loss",
                     problem="differs from F.binary_cross_entropy_with_logits(logits, y).",
                     hint=_bce_hint(logits, y, float(out), 40))

    logits = torch.tensor([1000.0, -1000.0, 100.0, -100.0, 20.0, -20.0, 0.5])
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    tried = ("logits = [1000, -1000, 100, -100, 20, -20, 0.5], y = [0, 1, 1, 0, 0, 1, 1], float32: "
             "two examples confidently wrong")
    out = _loss_tensor(call_on_copies(binary_cross_entropy, logits, y, tried=tried), torch.float32, tried)
    expect_tensor(out, tried=tried, name="the loss", hint=LOG_SIGMOID_HINT)
    expect_close(out, F.binary_cross_entropy_with_logits(logits, y), tried=tried, atol=1e-4, name="the loss",
                 problem="wrong for extreme logits: a logit of -1000 for an example with label 1 "
                         "costs 1000 (the exact -log σ(-1000)), not a capped amount.",
                 hint=LOG_SIGMOID_HINT)

    tried = "autograd: the gradient of your loss with respect to the logits above"
    grad = _gradient_through(binary_cross_entropy, (logits, y), 0, tried, "loss")
    expect_tensor(grad, shape=(7,), tried=tried, name="the gradient",
                  hint="the loss is finite but its gradient is not: some intermediate overflowed "
                       "(in a torch.where, the branch you did not pick is still differentiated). "
                       + LOG_SIGMOID_HINT)
    expect_close(grad, (torch.sigmoid(logits) - y) / 7, tried=tried, atol=1e-6, name="the gradient",
                 problem="the gradient of your loss with respect to the logits is not (σ(z) - y) / n.")


# ---------------------------------------------------------------- 03.3

GRAD_SHAPE_HINT = "one partial derivative per weight: combine the examples (dim 0 of X), keep the features"
GRAD_DTYPE_HINT = "keep the dtype of X; look for NaN from an overflowing exp"
GRAD_BIAS_HINT = "∂L/∂b is one number: a mean over the examples, a 0-d tensor"

def _bce_gradient_hint(grad_w: torch.Tensor, grad_b: float) -> str:
    """Name the mistake on the hand case, whose gradient is grad_w = [0.625, -0.125], grad_b = 0.25."""
    right_w, right_b = torch.tensor([0.625, -0.125]), 0.25
    for factor, mistake in ((-1.0, "the right size with the wrong sign: the residual is σ(z) - y, "
                                   "prediction minus label, and the gradient points uphill"),
                            (4.0, "n = 4 times too large: the loss is a MEAN over the examples, so its "
                                  "gradient is a mean too")):
        if _close(grad_w, factor * right_w) and abs(grad_b - factor * right_b) < 1e-5:
            return f"your gradient is {mistake}"
    if _close(grad_w, right_w) and abs(grad_b - right_b) > 1e-5:
        return "grad_w is right, grad_b is not: ∂L/∂b is the mean of the residuals σ(z_i) - y_i"
    if _close(grad_w, torch.tensor([0.5, -0.25])):
        return ("this is the gradient at b = 0: with b = ln 3 every probability is σ(ln 3) = 3/4. "
                "Did you leave b out of the logits z = X w + b?")
    return ("here z = X w + b = ln 3 for every example, so σ(z) = 3/4 and the residuals σ(z) - y are "
            "[-1/4, 3/4, 3/4, -1/4]. The residuals are the probabilities minus the labels, not the logits "
            "minus the labels")


def _autograd_bce(w, b, X, y):
    """autograd's gradient of F.binary_cross_entropy_with_logits(X @ w + b, y) with respect to w and b."""
    w, b = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
    return torch.autograd.grad(F.binary_cross_entropy_with_logits(X @ w + b, y), (w, b))


@exercise("03.3", "bce_gradient", points=2, difficulty=2, minutes=15,
          example=_logistic, meta=True, forbidden=AUTOGRAD,
          edge_cases=(
              EdgeCase("one feature (d = 1): w = [0], b = 0, X = [[2], [4]], y = [1, 0]",
                       lambda: (torch.zeros(1), torch.tensor(0.0), torch.tensor([[2.0], [4.0]]), torch.tensor([1.0, 0.0])),
                       close_to(lambda w, b, X, y: (torch.tensor([0.5]), torch.tensor(0.0)))),
          ))
def check_bce_gradient(bce_gradient):
    X = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 1.0], [-2.0, 0.0]])
    y, w, b = torch.tensor([1.0, 0.0, 0.0, 1.0]), torch.zeros(2), torch.tensor(math.log(3.0))
    tried = ("X = [[1, 2], [3, -1], [0, 1], [-2, 0]], y = [1, 0, 0, 1], w = [0, 0], b = ln 3 "
             "(so every probability σ(X w + b) is 3/4), float32")
    out = call_on_copies(bce_gradient, w, b, X, y, tried=tried)
    grad_w, grad_b = expect_gradient_pair(
        out, fn_name='bce_gradient', d=2, dtype=torch.float32, tried=tried,
        shape_hint=GRAD_SHAPE_HINT, bias_hint=GRAD_BIAS_HINT, dtype_hint=GRAD_DTYPE_HINT)
    expect(_close(grad_w, torch.tensor([0.625, -0.125])) and abs(grad_b - 0.25) < 1e-5,
           "the gradient of a case worked out by hand is wrong.", tried=tried,
           expected="grad_w = [0.625, -0.125], grad_b = 0.25",
           received=f"grad_w = {show(grad_w)}, grad_b = {grad_b:.4g}", hint=_bce_gradient_hint(grad_w, grad_b))

    g = generator("03.3")
    for dtype, n, d in ((torch.float32, 30, 3), (torch.float64, 12, 5)):
        name = str(dtype).replace("torch.", "")
        X = torch.randn(n, d, generator=g, dtype=dtype)
        w, b = torch.randn(d, generator=g, dtype=dtype), torch.randn((), generator=g, dtype=dtype)
        y = torch.randint(0, 2, (n,), generator=g).to(dtype)
        tried = (f"X of shape ({n}, {d}), w of shape ({d},), b a 0-d tensor, y of shape ({n},) in {{0, 1}}, "
                 f"{name}, random")
        out = call_on_copies(bce_gradient, w, b, X, y, tried=tried)
        grad_w, grad_b = expect_gradient_pair(
            out, fn_name='bce_gradient', d=d, dtype=dtype, tried=tried,
            shape_hint=GRAD_SHAPE_HINT, bias_hint=GRAD_BIAS_HINT, dtype_hint=GRAD_DTYPE_HINT)
        ref_w, ref_b = _autograd_bce(w, b, X, y)
        autograd = "autograd's gradient of F.binary_cross_entropy_with_logits(X @ w + b, y)"
        expect_close(grad_w, ref_w, tried=tried, atol=1e-6, rtol=1e-5, name="grad_w",
                     problem=f"grad_w differs from {autograd}.",
                     hint="∂L/∂w_j is the mean over the examples of (σ(z_i) - y_i) · X[i, j]")
        expect_number(grad_b, float(ref_b), tried=tried, tol=1e-6, problem=f"grad_b differs from {autograd}.",
                      hint="∂L/∂b is the mean over the examples of σ(z_i) - y_i")

    X = torch.randn(8, 2, generator=g)
    w, b = torch.tensor([400.0, -300.0]), torch.tensor(-50.0)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    tried = "X of shape (8, 2), float32, w = [400, -300], b = -50: logits in the hundreds, some confidently wrong"
    out = call_on_copies(bce_gradient, w, b, X, y, tried=tried)
    grad_w, grad_b = expect_gradient_pair(
        out, fn_name='bce_gradient', d=2, dtype=torch.float32, tried=tried,
        shape_hint=GRAD_SHAPE_HINT, bias_hint=GRAD_BIAS_HINT, dtype_hint=GRAD_DTYPE_HINT)
    ref_w, ref_b = _autograd_bce(w, b, X, y)
    expect_close(grad_w, ref_w, tried=tried, atol=1e-5, name="grad_w",
                 problem="grad_w is wrong when the logits are large.",
                 hint="σ(z) of a logit in the hundreds is 0 or 1 to float precision; use a sigmoid that "
                      "does not overflow (yours from 03.1, or torch.sigmoid)")
    expect_number(grad_b, float(ref_b), tried=tried, tol=1e-5, problem="grad_b is wrong when the logits are large.")


# ---------------------------------------------------------------- 03.4

def _cross_entropy_hint(logits: torch.Tensor, y: torch.Tensor, value: float) -> str:
    """Name the mistake from how the value relates to what common wrong formulas give."""
    n = logits.shape[0]
    rows = torch.arange(n)
    if abs(value - float(-F.log_softmax(logits, dim=0)[rows, y].mean())) < 1e-4:
        return "you normalised over the batch (dim 0): the softmax runs over the classes of each row, dim 1"
    if abs(value - float(-F.log_softmax(logits, dim=1).mean())) < 1e-4:
        return ("you averaged -log p over every class; the loss only looks at the probability of the TRUE "
                "class of each row: pick log_probs[i, y[i]]")
    if abs(value - float(-F.log_softmax(logits, dim=1)[:, y].mean())) < 1e-4:
        return ("log_probs[:, y] is an [n, n] table (every row, at every label); pick one entry per row: "
                "log_probs[torch.arange(n), y]")
    if abs(value - n * float(F.cross_entropy(logits, y))) < 1e-3:
        return f"n = {n} times too large: take the mean over the rows, not the sum"
    return ("loss = mean over rows of -log softmax(logits[i])[y[i]], with log softmax(z)_c = z_c - log Σ_k e^(z_k): "
            "check the axis of the sum and which entry you pick")


SHIFT_HINT = ("e^z overflows for z > 88 in float32. Subtract each row's maximum before exponentiating: "
              "softmax(z) = softmax(z - max(z)), and log Σ e^(z_k) = m + log Σ e^(z_k - m)")


@exercise("03.4", "softmax_cross_entropy", points=2, difficulty=2, minutes=15,
          example=lambda g, dtype, device="cpu": ((torch.randn(5, 4, generator=g, dtype=dtype) * 3).to(device),
                                                  torch.randint(0, 4, (5,), generator=g).to(device)),
          forbidden=("torch.nn.functional.cross_entropy", "torch.nn.functional.log_softmax", "torch.log_softmax",
                     "torch.Tensor.log_softmax", "torch.logsumexp", "torch.Tensor.logsumexp",
                     "torch.nn.CrossEntropyLoss"),
          edge_cases=(
              EdgeCase("one class (C = 1): every probability is 1", lambda: (torch.tensor([[3.0], [-7.0]]), torch.tensor([0, 0])),
                       close_to(lambda z, y: torch.tensor(0.0))),
              EdgeCase("one example: logits = [[0, ln 3]], y = [1]", lambda: (torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([1])),
                       close_to(lambda z, y: torch.tensor(-math.log(0.75)))),
          ))
def check_softmax_cross_entropy(softmax_cross_entropy):
    logits, y = torch.zeros(5, 7), torch.tensor([0, 3, 6, 2, 2])
    tried = "logits = zeros of shape (5, 7): 5 examples, 7 classes, every class equally likely; y = [0, 3, 6, 2, 2]"
    out = _loss_tensor(call_on_copies(softmax_cross_entropy, logits, y, tried=tried), torch.float32, tried)
    value = float(out) if torch.isfinite(out) else float("nan")
    expect_number(value, math.log(7), tried=tried, tol=1e-5,
                  problem="with uniform logits every class has probability 1/7, so the loss is ln 7 ≈ 1.9459.",
                  hint=(f"you got ln 5 = ln n: you normalised over the batch (dim 0) instead of the classes"
                        if abs(value - math.log(5)) < 1e-4 else _cross_entropy_hint(logits, y, value)))

    logits, y = torch.log(torch.tensor([[1.0, 2.0, 1.0], [1.0, 1.0, 2.0]])), torch.tensor([1, 0])
    tried = ("logits = log [[1, 2, 1], [1, 1, 2]] (probabilities [1/4, 1/2, 1/4] and [1/4, 1/4, 1/2]), "
             "y = [1, 0], float32")
    out = _loss_tensor(call_on_copies(softmax_cross_entropy, logits, y, tried=tried), torch.float32, tried)
    value = float(out) if torch.isfinite(out) else float("nan")
    expect_number(value, 1.5 * math.log(2), tried=tried, tol=1e-5,
                  problem="wrong on a case worked out by hand: the true classes get 1/2 and 1/4, "
                          "so the loss is (ln 2 + ln 4) / 2 ≈ 1.0397.",
                  hint=_cross_entropy_hint(logits, y, value))

    g = generator("03.4")
    for dtype, n, c in ((torch.float32, 6, 4), (torch.float64, 9, 3)):
        name = str(dtype).replace("torch.", "")
        logits = 3 * torch.randn(n, c, generator=g, dtype=dtype)
        y = torch.randint(0, c, (n,), generator=g)
        tried = f"logits of shape ({n}, {c}), {name}, random; y of shape ({n},), int64"
        out = _loss_tensor(call_on_copies(softmax_cross_entropy, logits, y, tried=tried), dtype, tried)
        expect_close(out, F.cross_entropy(logits, y), tried=tried, atol=1e-6, name="the loss",
                     problem="differs from F.cross_entropy(logits, y).",
                     hint=_cross_entropy_hint(logits, y, float(out)))

        shift = 500 * torch.randn(n, 1, generator=g, dtype=dtype)
        tried_shift = tried + "; then a different large constant (hundreds) added to each row"
        out_shift = _loss_tensor(call_on_copies(softmax_cross_entropy, logits + shift, y, tried=tried_shift), dtype,
                                 tried_shift)
        expect_tensor(out_shift, tried=tried_shift, name="the loss", hint=SHIFT_HINT)
        expect_close(out_shift, out, tried=tried_shift, atol=1e-4, name="the loss",
                     problem="adding a constant to a row of logits changes your loss; softmax is shift "
                             "invariant, so the loss should not move.", hint=SHIFT_HINT)

    logits = 1000 * torch.randn(6, 5, generator=g)
    y = torch.randint(0, 5, (6,), generator=g)
    tried = "logits of shape (6, 5), float32, in the thousands; y of shape (6,), int64"
    out = _loss_tensor(call_on_copies(softmax_cross_entropy, logits, y, tried=tried), torch.float32, tried)
    expect_tensor(out, tried=tried, name="the loss", hint=SHIFT_HINT)
    expect_close(out, F.cross_entropy(logits, y), tried=tried, atol=1e-3, rtol=1e-5, name="the loss",
                 problem="differs from F.cross_entropy(logits, y) for large logits.", hint=SHIFT_HINT)
    tried = "autograd: the gradient of your loss with respect to the logits above"
    grad = _gradient_through(softmax_cross_entropy, (logits, y), 0, tried, "loss")
    expect_tensor(grad, shape=(6, 5), tried=tried, name="the gradient", hint=SHIFT_HINT)
    expected = (torch.softmax(logits, dim=1) - F.one_hot(y, 5)) / 6
    expect_close(grad, expected, tried=tried, atol=1e-6, name="the gradient",
                 problem="the gradient of your loss with respect to the logits is not (softmax(z) - onehot(y)) / n.")


# ---------------------------------------------------------------- 03.5

# What the checks of 03.5 ask of the learner's model runs where the model lives (see core.inside): these
# functions take the model and return plain data.

def seeded_build(MLP, seed: int, args: tuple, kwargs: dict):
    """MLP(*args, **kwargs) with initial weights drawn from ``seed``; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLP(*args, **kwargs)


def layer_sizes(model) -> dict:
    """For `hidden` and `output`: (in_features, out_features) if an nn.Linear, else a description."""
    out = {}
    for name in ("hidden", "output"):
        layer = getattr(model, name, None)
        out[name] = (layer.in_features, layer.out_features) if isinstance(layer, nn.Linear) else describe(layer)
    return out


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def hand_set(model, output_weights: list[float]) -> bool:
    """Two hidden units computing x and -x; the output adds them with the given weights."""
    with torch.no_grad():
        model.hidden.weight.copy_(torch.tensor([[1.0], [-1.0]]))
        model.hidden.bias.zero_()
        model.output.weight.copy_(torch.tensor([output_weights]))
        model.output.bias.zero_()
    return True


def seeded_train(model, X: torch.Tensor, y: torch.Tensor, epochs: int, lr: float) -> list[float]:
    """mi_helpers.train.train on one thread, seeded, the global random state left as it was."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small trains faster on one thread, and as fast on a busy machine
    try:
        with torch.random.fork_rng(devices=[]):
            return train(model, X, y, epochs=epochs, lr=lr, seed=0, progress=False)
    finally:
        torch.set_num_threads(threads)


def _build(MLP, *args, tried: str, seed: int = 0, **kwargs):
    """MLP(*args, **kwargs) with seeded initial weights, checked to be an nn.Module."""
    model = call(inside, seeded_build, MLP, seed, args, kwargs, tried=tried)
    expect(is_instance(model, nn.Module), f"{tried} should build a torch.nn.Module.", tried=tried,
           expected="an nn.Module", received=describe(model),
           hint="write `class MLP(nn.Module):` and call super().__init__() first in __init__")
    return model


def _layers(model, d_in: int, d_hidden: int, d_out: int, tried: str) -> None:
    """Fail unless the model has its `hidden` and `output` layers with the right sizes."""
    sizes = call(inside, layer_sizes, model, tried=tried)
    for name, (i, o) in (("hidden", (d_in, d_hidden)), ("output", (d_hidden, d_out))):
        found = sizes.get(name) if isinstance(sizes, dict) else None
        expect(isinstance(found, tuple), f"the model has no nn.Linear layer named `{name}`.", tried=tried,
               expected=f"self.{name} = nn.Linear({i}, {o})", received=str(found),
               hint="name the two layers self.hidden and self.output: the next exercise and the figures "
                    "read the hidden layer by that name")
        expect(found == (i, o), f"self.{name} has the wrong size.",
               tried=tried, expected=f"nn.Linear({i}, {o})", received=f"nn.Linear({found[0]}, {found[1]})",
               hint="the hidden layer maps d_in inputs to d_hidden units, the output layer d_hidden "
                    "units to d_out logits")


def _forward(model, x: torch.Tensor, shape: tuple[int, int], tried: str) -> torch.Tensor:
    out = call_on_copies(model, x, tried=tried)
    expect_tensor(out, shape=shape, tried=tried, name="the output", allow_nan=True,
                  hint="forward returns one row of d_out logits per row of x")
    return expect_tensor(out, dtype=torch.float32, tried=tried, name="the output")


@exercise("03.5", "MLP", points=3, difficulty=2, minutes=20,
          opt_out={"float64": "the spec's forward is float32, like the layers nn.Linear builds",
                   "edge cases": "its arguments are sizes: the check builds several, down to one input and one unit",
                   "written by hand": "nn.Linear is the intended building block"})
def check_MLP(MLP):
    tried = "MLP(2, 16, 2)"
    model = _build(MLP, 2, 16, 2, tried=tried)
    _layers(model, 2, 16, 2, tried)
    count = call(inside, parameter_count, model, tried=tried)
    expect(count == 2 * 16 + 16 + 16 * 2 + 2, "MLP(2, 16, 2) has the wrong number of parameters.", tried=tried,
           expected="82 = (2 × 16 + 16) + (16 × 2 + 2): two weight matrices and two biases",
           received=f"{count}",
           hint="the two nn.Linear layers are the only parameters: no extra layer, no bias=False")
    x = torch.randn(5, 2, generator=generator("03.5"))
    _forward(model, x, (5, 2), tried + ", forward on x of shape (5, 2), float32")

    x = torch.tensor([[-2.0], [-0.5], [0.0], [1.0], [3.0]])
    tried = ("MLP(1, 2, 1) with hand-set weights: hidden units h₁ = x and h₂ = -x (no bias), "
             "output h₁ - 2 h₂; x = [-2, -0.5, 0, 1, 3]")
    model = _build(MLP, 1, 2, 1, tried="MLP(1, 2, 1)")
    _layers(model, 1, 2, 1, "MLP(1, 2, 1)")
    call(inside, hand_set, model, [1.0, -2.0], tried=tried)
    out = _forward(model, x, (5, 1), tried)[:, 0]
    expected = torch.tensor([-4.0, -1.0, 0.0, 1.0, 3.0])  # relu(x) - 2 relu(-x): x for x > 0, 2x below
    hint = "with ReLU, the output is relu(x) - 2 relu(-x): x for x ≥ 0 and 2x for x < 0"
    if _close(out, 3 * x[:, 0]):
        hint = ("your output is 3x, a straight line: no activation was applied. Without a nonlinearity "
                "the two layers collapse into one linear map")
    elif _close(out, expected.clamp(min=0)):
        hint = ("the negative outputs were cut to 0: you applied the activation after the output layer "
                "too. Logits must be free to take any sign; apply it to the hidden layer only")
    expect_close(out, expected, tried=tried, problem="the forward pass is wrong on a case worked out by hand.",
                 name="the output", hint=hint)

    tried = ("MLP(1, 2, 1, activation='sigmoid') with hand-set weights: h₁ = x, h₂ = -x, output h₁ + h₂; "
             "x = [-2, -0.5, 0, 1, 3]")
    model = _build(MLP, 1, 2, 1, activation="sigmoid", tried="MLP(1, 2, 1, activation='sigmoid')")
    _layers(model, 1, 2, 1, "MLP(1, 2, 1, activation='sigmoid')")
    call(inside, hand_set, model, [1.0, 1.0], tried=tried)
    out = _forward(model, x, (5, 1), tried)[:, 0]
    hint = "σ(x) + σ(-x) = 1 for every x, so this network outputs exactly 1 everywhere"
    if _close(out, x[:, 0].abs()):
        hint = "your output is |x| = relu(x) + relu(-x): activation='sigmoid' still applied a ReLU"
    elif _close(out, torch.zeros(5)):
        hint = "your output is 0 = x + (-x): no activation was applied"
    expect_close(out, torch.ones(5), tried=tried, name="the output", hint=hint,
                 problem="with activation='sigmoid' the forward pass is wrong on a case worked out by hand.")

    # 32 units: with 16, a few initialisations in 40 end in a poor local minimum on these data
    X, y = two_moons(400, noise=0.1, seed=1)
    X_train, y_train, X_test, y_test = train_test_split(X, y, seed=1)
    tried = ("MLP(2, 32, 2) trained with mi_helpers.train.train on 300 points of two moons (noise 0.1): "
             "Adam, lr 0.05, 300 full-batch steps, seed 0; tested on the other 100")
    model = _build(MLP, 2, 32, 2, tried=tried)
    history = call(inside, seeded_train, model, X_train, y_train, 300, 0.05, tried=tried)
    final = single_number(history[-1] if isinstance(history, list) and history else history, tried=tried,
                          name="the final training loss",
                          nonfinite_hint="forward should return raw logits; F.cross_entropy applies the softmax itself")
    # the accuracy is computed here, from the logits the trained model gives on the held-out points
    logits = _forward(model, X_test, (len(X_test), 2), tried + ", forward on the 100 test points")
    score = (logits.argmax(dim=1) == y_test).float().mean().item()
    expect(score >= 0.95, "the trained MLP does not reach 95 % test accuracy.", tried=tried,
           expected="test accuracy ≥ 95 %", received=f"{score:.1%} (final training loss {final:.3f})",
           hint="a straight line scores about 85 % on two moons: a model that cannot bend its decision "
                "boundary has lost its nonlinearity. Return the logits themselves, without softmax or "
                "activation on the output")


# ---------------------------------------------------------------- 03.6

def _boundaries_output(out, h: int, dtype: torch.dtype, tried: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("relu_boundaries should return a pair (normals, points).", tried=tried,
             expected=f"a tuple of 2 tensors of shape ({h}, 2)", received=describe(out),
             hint="end with `return normals, points`")
    normals, points = out
    for value, name in ((normals, "normals"), (points, "points")):
        expect_tensor(value, shape=(h, 2), tried=tried, name=name,
                      hint="one row per hidden unit, one column per input coordinate: shape [h, 2]. "
                           "layer.weight already has that shape; layer.weight.T does not")
        expect_tensor(value, dtype=dtype, tried=tried, name=name)
    return normals, points


def _linear(weight: torch.Tensor, bias: torch.Tensor) -> nn.Linear:
    """nn.Linear with the given parameters; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        layer = nn.Linear(weight.shape[1], weight.shape[0], dtype=weight.dtype)
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
    return layer


def _check_boundaries(layer: nn.Linear, normals: torch.Tensor, points: torch.Tensor, tried: str) -> None:
    """The properties every correct answer has, for any layer."""
    W, b = layer.weight.detach(), layer.bias.detach()
    length = normals.norm(dim=1)
    expect_close(length, torch.ones_like(length), tried=tried, atol=1e-5, name="the lengths of the normals",
                 problem="the normals are not unit vectors.", hint="divide each row of the weight matrix by its norm")
    pre = (points * W).sum(dim=1) + b  # unit j's pre-activation at its own point
    expect_close(pre, torch.zeros_like(pre), tried=tried, atol=1e-4, name="pre-activation of unit j at points[j]",
                 problem="points[j] does not lie on unit j's boundary: its pre-activation there is not 0.",
                 hint="on the boundary w·x + b = 0. A point along the normal, x = t ŵ, gives t |w| + b = 0, "
                      "so t = -b / |w| (not -b / |w|²: ŵ already has length 1), and b must be in it")
    side = (normals * W).sum(dim=1)  # how unit j's pre-activation changes along its normal
    expect(bool((side > 0).all()), "some normals point to the side where the unit is OFF.", tried=tried,
           expected="w_j · normals[j] > 0 for every unit (moving along the normal switches the unit on)",
           received=show(side), hint="the pre-activation w·x + b grows fastest along +w, not -w")
    along_line = torch.stack([-normals[:, 1], normals[:, 0]], dim=1)
    offset = (points * along_line).sum(dim=1)
    expect_close(offset, torch.zeros_like(offset), tried=tried, atol=1e-4,
                 name="the component of points[j] along its line",
                 problem="points[j] is on the boundary but not the point of it closest to the origin.",
                 hint="the closest point lies on the line through the origin along the normal: a multiple of ŵ")


@exercise("03.6", "relu_boundaries", points=2, difficulty=2, minutes=15,
          example=lambda g, dtype, device="cpu": (_layer(g, dtype, device),),
          edge_cases=(
              EdgeCase("a layer with one unit, w = [3, 4] and bias 0: its line goes through the origin",
                       lambda: (_one_unit(),), _detached_pair),
          ),
          opt_out={"written by hand": "no built-in computes a ReLU unit's boundary"})
def check_relu_boundaries(relu_boundaries):
    layer = _linear(torch.tensor([[2.0, 0.0], [0.0, -1.0], [3.0, 4.0]]), torch.tensor([-4.0, 1.0, 5.0]))
    tried = ("nn.Linear(2, 3) with weight [[2, 0], [0, -1], [3, 4]] and bias [-4, 1, 5]: the units are "
             "on where 2x₁ - 4 > 0, -x₂ + 1 > 0 and 3x₁ + 4x₂ + 5 > 0")
    normals, points = _boundaries_output(call_on_copies(relu_boundaries, layer, tried=tried), 3, torch.float32, tried)
    expect_close(normals, torch.tensor([[1.0, 0.0], [0.0, -1.0], [0.6, 0.8]]), tried=tried, name="normals",
                 problem="the normals are wrong on a case worked out by hand.",
                 hint="unit 1 is on for x₁ > 2, so its normal is (1, 0); unit 2 is on for x₂ < 1: (0, -1); "
                      "unit 3's normal is (3, 4) / 5. Row j of layer.weight is unit j's w")
    expect_close(points, torch.tensor([[2.0, 0.0], [0.0, 1.0], [-0.6, -0.8]]), tried=tried, name="points",
                 problem="the boundary points are wrong on a case worked out by hand.",
                 hint="unit 1's boundary is the line x₁ = 2, closest to the origin at (2, 0); unit 2's is "
                      "x₂ = 1, at (0, 1); unit 3's line 3x₁ + 4x₂ + 5 = 0 is at distance 5/5 = 1 from the "
                      "origin, on the side opposite to (3, 4)")

    g = generator("03.6")
    for h, dtype in ((2, torch.float32), (7, torch.float32), (5, torch.float64)):
        name = str(dtype).replace("torch.", "")
        weight = torch.randn(h, 2, generator=g, dtype=dtype) * (0.5 + 2 * torch.rand(h, 1, generator=g, dtype=dtype))
        bias = torch.randn(h, generator=g, dtype=dtype)
        layer = _linear(weight, bias)
        tried = f"nn.Linear(2, {h}), {name}, random weights of different lengths and random biases"
        normals, points = _boundaries_output(call_on_copies(relu_boundaries, layer, tried=tried), h, dtype, tried)
        expect(torch.equal(layer.weight.detach(), weight) and torch.equal(layer.bias.detach(), bias),
               "your function changed the layer's parameters.", tried=tried,
               expected="the layer left as it was", received="different weights or biases",
               hint="read layer.weight and layer.bias; do not assign to them or edit them in place")
        _check_boundaries(layer, normals, points, tried)
