"""Checks for notebook 02, linear regression: the closed form, the loss and its gradient,
a numerical gradient check, gradient descent and the largest stable learning rate.

The model throughout is ``y ≈ X @ w + b``: weights ``w`` of shape [d] and one bias
``b``. Each check first tries a case small enough to work out on paper, then asks
torch for the same quantity another way: ``torch.linalg.lstsq`` for the closed
form, ``F.mse_loss`` for the loss, autograd for its gradient and its Hessian, and
a few hundred steps of descent on autograd's gradient for what a learning rate
promises. None of them holds a copy of the answer: a learner who reads this file
learns what a correct answer must satisfy.
"""
from __future__ import annotations

import functools

import math

import torch
import torch.nn.functional as F

from .core import (AUTOGRAD, EdgeCase, call, call_on_copies, close_to, describe, detached, exercise, expect,
                   expect_close,
                   expect_gradient_pair, expect_number, expect_tensor, fail, generator, show,
                   single_number)


def _data(g, dtype, device, n=10, d=3):
    X = (torch.randn(n, d, generator=g, dtype=dtype) * 2 + 1).to(device)
    return X, torch.randn(n, generator=g, dtype=dtype).to(device)


def _linear_model(g, dtype, device="cpu"):
    """(w, b, X, y) for the loss and its gradient."""
    X, y = _data(g, dtype, device, n=8)
    return torch.randn(3, generator=g, dtype=dtype).to(device), torch.tensor(0.5, dtype=dtype).to(device), X, y


def _square_as_float(v: torch.Tensor) -> float:
    return float((v * v).sum())


def _one_point():
    return torch.tensor([2.0]), 0.5, torch.tensor([[3.0]]), torch.tensor([1.0])








def _with_ones(X: torch.Tensor) -> torch.Tensor:
    """X with a column of ones appended: the bias is the weight of a feature that is always 1."""
    return torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], dim=1)


def _lstsq(X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """torch's own least-squares fit of y ≈ X w + b, as (w, b)."""
    theta = torch.linalg.lstsq(_with_ones(X).double(), y.double()[:, None]).solution[:, 0]
    return theta[:-1].to(X.dtype), theta[-1].to(X.dtype)


def _autograd_gradient(w, b, X, y) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient of F.mse_loss(X @ w + b, y) with respect to w and b, by autograd."""
    with torch.enable_grad():
        w = w.detach().clone().requires_grad_(True)
        b = torch.as_tensor(b, dtype=X.dtype).detach().clone().requires_grad_(True)
        F.mse_loss(X @ w + b, y).backward()
    return w.grad, b.grad


def _relative_error(received: torch.Tensor, expected: torch.Tensor) -> float:
    return float((received.double() - expected.double()).norm() / expected.double().norm().clamp_min(1e-300))


# ---------------------------------------------------------------- 02.1

def _fit(out, d: int, dtype: torch.dtype, tried: str) -> tuple[torch.Tensor, float]:
    """Unpack and vet the pair (w, b) that least_squares returns."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("least_squares should return a pair (w, b).", tried=tried,
             expected=f"a tuple of 2: w of shape ({d},) and b, one number", received=describe(out),
             hint="end with `return w, b`. If you solved for theta = (w, b) in one vector, split it: "
                  "theta[:-1] and theta[-1]")
    w, b = out
    expect_tensor(w, shape=(d,), tried=tried, name="w", allow_nan=True,
                  hint=f"one weight per feature, shape ({d},), and the bias returned separately as b. "
                       "A solution of shape (d, 1) needs [:, 0]; theta of length d + 1 needs splitting")
    expect_tensor(w, dtype=dtype, tried=tried, name="w")
    return w, single_number(b, name="b", tried=tried)


def _least_squares_hint(w: float, b: float) -> str:
    """Name the mistake on the line through (0, 1), (1, 3), (2, 5), whose fit is w = 2, b = 1."""
    if abs(w - 2.6) < 1e-3 and abs(b) < 1e-4:
        return ("you fitted a line through the origin (w = 13/5, no bias). Append a column of ones to X, "
                "so that the bias is the weight of a feature that is always 1")
    if abs(b - 3.0) < 1e-3:
        return ("b is the mean of y. That is the right bias only when every feature has mean 0 (here x has "
                "mean 1): solve for the weights and the bias together, with the ones column")
    if abs(w - 1.0) < 1e-3 and abs(b - 2.0) < 1e-3:
        return ("w and b are swapped: check on which side you put the column of ones, and take the bias "
                "from that position of theta")
    return ("the line through (0, 1), (1, 3), (2, 5) is y = 2x + 1. Solve the normal equations "
            "(X̃ᵀX̃) θ = X̃ᵀy, where X̃ is X with a column of ones appended, then split θ into w and b")


@exercise("02.1", "least_squares", points=2, difficulty=2, minutes=15,
          example=lambda g, dtype, device="cpu": _data(g, dtype, device), forbidden=("torch.linalg.lstsq",),
          edge_cases=(
              EdgeCase("n = d + 1, an exact fit: X = [[1, 0], [0, 1], [1, 1]], y = [1, 2, 4]",
                       lambda: (torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), torch.tensor([1.0, 2.0, 4.0])),
                       close_to(lambda X, y: (torch.tensor([2.0, 3.0]), torch.tensor(-1.0)), atol=1e-4)),
          ))
def check_least_squares(least_squares):
    X = torch.tensor([[0.0], [1.0], [2.0]])
    y = torch.tensor([1.0, 3.0, 5.0])
    tried = "X = [[0], [1], [2]], y = [1, 3, 5]: three points on the line y = 2x + 1"
    w, b = _fit(call_on_copies(least_squares, X, y, tried=tried), 1, torch.float32, tried)
    expect(abs(float(w[0]) - 2.0) < 1e-4 and abs(b - 1.0) < 1e-4,
           "the fit of three points on a line is wrong.", tried=tried, expected="w = [2], b = 1",
           received=f"w = {show(w)}, b = {b:.4g}", hint=_least_squares_hint(float(w[0]), b))

    # planted weights, no noise: the fit must find them exactly; features deliberately not centred
    g = generator("02.1")
    w_true, b_true = torch.tensor([1.5, -2.0, 0.5]), -0.7
    X = torch.randn(40, 3, generator=g) + torch.tensor([2.0, -1.0, 0.5])
    y = X @ w_true + b_true
    tried = ("X of shape (40, 3), float32, features with means near 2, -1 and 0.5, "
             "y = X @ [1.5, -2, 0.5] - 0.7 exactly (no noise)")
    w, b = _fit(call_on_copies(least_squares, X, y, tried=tried), 3, torch.float32, tried)
    expect_close(w, w_true, tried=tried, atol=1e-3, name="w",
                 problem="on noiseless data the fit should recover the planted weights.",
                 hint="with the bias fitted together with the weights, y = X w + b holds exactly here")
    expect_number(b, b_true, tried=tried, tol=1e-3, problem="on noiseless data the fit should recover the "
                  "planted bias -0.7.", hint="fit the bias together with the weights (a column of ones)")

    y_noisy = y + 0.5 * torch.randn(40, generator=g)
    tried = tried.replace("exactly (no noise)", "+ noise of std 0.5")
    w, b = _fit(call_on_copies(least_squares, X, y_noisy, tried=tried), 3, torch.float32, tried)
    residual = (y_noisy - X @ w - b).double()
    expect(abs(float(residual.mean())) < 1e-3, "the residuals y - (X w + b) do not average to 0.",
           tried=tried, expected="mean residual 0 (the best bias absorbs any constant offset)",
           received=f"mean residual {float(residual.mean()):.4g}",
           hint="the least-squares bias makes the residuals sum to zero: fit b together with w")
    normal = X.double().T @ residual / len(residual)
    expect(bool(normal.abs().max() < 1e-3), "the residuals are not orthogonal to the features, so a small "
           "change of w would lower the loss: this is not the least-squares fit.", tried=tried,
           expected="Xᵀ(y - X w - b) / n = 0", received=show(normal.float()),
           hint="solve the normal equations with XᵀX, a [d + 1, d + 1] matrix, not X Xᵀ")
    w_ref, b_ref = _lstsq(X, y_noisy)
    expect_close(w, w_ref, tried=tried, atol=1e-3, name="w",
                 problem="w differs from torch.linalg.lstsq on the same data (with a ones column).")
    expect_number(b, float(b_ref), tried=tried, tol=1e-3,
                  problem="b differs from torch.linalg.lstsq on the same data (with a ones column).")


# ---------------------------------------------------------------- 02.2

# Worked out on paper: predictions X w + b = [1, 2, 3, 0], errors [0, 0, -2, -2], MSE = 8 / 4 = 2.
HAND_X = [[1.0], [2.0], [3.0], [0.0]]
HAND_Y = [1.0, 2.0, 5.0, 2.0]
HAND_TRIED = "X = [[1], [2], [3], [0]], w = [1], b = 0, y = [1, 2, 5, 2]: errors X w + b - y = [0, 0, -2, -2]"


def _mse_hint(value: float) -> str:
    known = {8.0: "that is the SUM of the squared errors: the mean squared error divides by n",
             math.sqrt(2.0): "that is the ROOT of the mean squared error: leave out the square root",
             1.0: "that is the mean ABSOLUTE error: square the errors instead",
             -1.0: "that is the mean error: square each error before taking the mean",
             4.5: ("your predictions have shape [n, 1] and y has shape [n]: subtracting them broadcasts "
                   "into an [n, n] table. Use X @ w with w of shape [d] (predictions of shape [n])")}
    for number, hint in known.items():
        if abs(value - number) < 1e-4:
            return hint
    return "the mean of the squared errors [0, 0, -2, -2] is (0 + 0 + 4 + 4) / 4 = 2"


@exercise("02.2", "mse_loss", points=1, difficulty=1, minutes=5,
          example=_linear_model, meta=True, forbidden=("torch.nn.functional.mse_loss", "torch.nn.MSELoss"),
          edge_cases=(
              EdgeCase("one example and a Python float bias: w = [2], b = 0.5, X = [[3]], y = [1]", _one_point,
                       close_to(lambda w, b, X, y: torch.tensor(30.25))),
          ))
def check_mse_loss(mse_loss):
    X, y, w = torch.tensor(HAND_X), torch.tensor(HAND_Y), torch.tensor([1.0])
    loss = single_number(call_on_copies(mse_loss, w, torch.tensor(0.0), X, y, tried=HAND_TRIED), name="the loss",
                   tried=HAND_TRIED)
    expect_number(loss, 2.0, tried=HAND_TRIED, tol=1e-5, problem="the loss of a case worked out by hand is wrong.",
                  hint=_mse_hint(loss))

    tried = HAND_TRIED.replace("b = 0", "b = 0.5").replace("[0, 0, -2, -2]", "[0.5, 0.5, -1.5, -1.5]")
    loss = single_number(call_on_copies(mse_loss, w, torch.tensor(0.5), X, y, tried=tried), name="the loss", tried=tried)
    expect_number(loss, 1.25, tried=tried, tol=1e-5, problem="the loss with a bias is wrong.",
                  hint="the loss did not change with b: add b to every prediction, X @ w + b"
                  if abs(loss - 2.0) < 1e-5 else "(0.25 + 0.25 + 2.25 + 2.25) / 4 = 1.25")

    g = generator("02.2")
    X, w = torch.randn(6, 3, generator=g), torch.randn(3, generator=g)
    b, y = torch.randn((), generator=g), torch.randn(6, generator=g)
    tried = "X of shape (6, 3), w of shape (3,), b a 0-d tensor, y of shape (6,), float32, random"
    loss = single_number(call_on_copies(mse_loss, w, b, X, y, tried=tried), name="the loss", tried=tried)
    expected = float(F.mse_loss(X @ w + b, y))
    expect_number(loss, expected, tried=tried, tol=1e-5 * (1 + expected),
                  problem="the loss differs from torch.nn.functional.mse_loss(X @ w + b, y).",
                  hint=_mse_hint(loss))


# ---------------------------------------------------------------- 02.3

GRAD_SHAPE_HINT = ("one partial derivative per weight: sum the per-example terms over "
                   "the examples (dim 0), not over the features")
GRAD_BIAS_HINT = "∂L/∂b is one number: the mean of 2 × error, a 0-d tensor"

def _gradient_hint(grad_w: float, grad_b: float) -> str:
    """Name the mistake on the hand case, whose gradient is grad_w = [-3], grad_b = -2."""
    ratio_w, ratio_b = grad_w / -3.0, grad_b / -2.0
    if abs(ratio_w - 1) < 1e-4 and abs(ratio_b - 1) > 1e-4:
        return "grad_w is right, grad_b is not: ∂L/∂b = (2/n) Σ (x_i·w + b - y_i), the mean of 2 × error"
    if abs(ratio_w - ratio_b) < 1e-4:
        for ratio, hint in ((0.5, "half the right size: the square's derivative brings a factor 2"),
                            (-1.0, "the right size with the wrong sign: the error is prediction - y, "
                                   "and the gradient points uphill"),
                            (4.0, "n = 4 times too large: the loss is a MEAN over the n examples, so its "
                                  "gradient is a mean too"),
                            (2.0, "twice too large: a sum over the examples without the factor 2 is not "
                                  "the gradient of the mean")):
            if abs(ratio_w - ratio) < 1e-4:
                return f"your gradient is {hint}"
    return ("with errors r = [0, 0, -2, -2]: ∂L/∂w = (2/n) Σ r_i x_i = (2/4)·(-6) = -3 and "
            "∂L/∂b = (2/n) Σ r_i = (2/4)·(-4) = -2")


@exercise("02.3", "mse_gradient", points=2, difficulty=2, minutes=15,
          example=_linear_model, meta=True, forbidden=AUTOGRAD,
          edge_cases=(
              EdgeCase("one example and a Python float bias: w = [2], b = 0.5, X = [[3]], y = [1]", _one_point,
                       close_to(lambda w, b, X, y: (torch.tensor([33.0]), torch.tensor(11.0)))),
          ))
def check_mse_gradient(mse_gradient):
    X, y, w = torch.tensor(HAND_X), torch.tensor(HAND_Y), torch.tensor([1.0])
    out = call_on_copies(mse_gradient, w, torch.tensor(0.0), X, y, tried=HAND_TRIED)
    grad_w, grad_b = expect_gradient_pair(
        out, fn_name='mse_gradient', d=1, dtype=torch.float32, tried=HAND_TRIED,
        shape_hint=GRAD_SHAPE_HINT, bias_hint=GRAD_BIAS_HINT)
    expect(abs(float(grad_w[0]) + 3.0) < 1e-5 and abs(grad_b + 2.0) < 1e-5,
           "the gradient of a case worked out by hand is wrong.", tried=HAND_TRIED,
           expected="grad_w = [-3], grad_b = -2", received=f"grad_w = {show(grad_w)}, grad_b = {grad_b:.4g}",
           hint=_gradient_hint(float(grad_w[0]), grad_b))

    g = generator("02.3")
    X, w = torch.randn(7, 3, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)
    b, y = torch.randn((), generator=g, dtype=torch.float64), torch.randn(7, generator=g, dtype=torch.float64)
    tried = "X of shape (7, 3), w of shape (3,), b a 0-d tensor, y of shape (7,), float64, random"
    out = call_on_copies(mse_gradient, w, b, X, y, tried=tried)
    grad_w, grad_b = expect_gradient_pair(
        out, fn_name='mse_gradient', d=3, dtype=torch.float64, tried=tried,
        shape_hint=GRAD_SHAPE_HINT, bias_hint=GRAD_BIAS_HINT)
    ref_w, ref_b = _autograd_gradient(w, b, X, y)
    expect_close(grad_w, ref_w, tried=tried, atol=1e-9, rtol=1e-7, name="grad_w",
                 problem="grad_w differs from autograd's gradient of F.mse_loss(X @ w + b, y).",
                 hint="∂L/∂w = (2/n) Xᵀ(X w + b - y): shape [d], one entry per weight")
    expect_number(grad_b, float(ref_b), tried=tried, tol=1e-9 + 1e-7 * abs(float(ref_b)),
                  problem="grad_b differs from autograd's gradient of F.mse_loss(X @ w + b, y).",
                  hint="∂L/∂b = (2/n) Σ (X w + b - y)")

    X = torch.randn(30, 2, generator=g)
    y = X @ torch.tensor([1.0, -1.0]) + 0.3 + 0.5 * torch.randn(30, generator=g)
    w, b = _lstsq(X, y)
    tried = "X of shape (30, 2), float32, noisy y, at the least-squares solution (w, b) from torch.linalg.lstsq"
    out = call_on_copies(mse_gradient, w, b, X, y, tried=tried)
    grad_w, grad_b = expect_gradient_pair(
        out, fn_name='mse_gradient', d=2, dtype=torch.float32, tried=tried,
        shape_hint=GRAD_SHAPE_HINT, bias_hint=GRAD_BIAS_HINT)
    expect(float(grad_w.abs().max()) < 1e-4 and abs(grad_b) < 1e-4,
           "at the minimum of the loss the gradient should be zero.", tried=tried,
           expected="grad_w = [0, 0], grad_b = 0", received=f"grad_w = {show(grad_w)}, grad_b = {grad_b:.3g}",
           hint="the gradient is built from the errors X w + b - y; at the minimum they are orthogonal to "
                "every feature and to the ones column")


# ---------------------------------------------------------------- 02.4

def _numerical_hint(out: torch.Tensor, exact: torch.Tensor) -> str:
    """Name the mistake on a quadratic, where central differences are exact for any eps."""
    if torch.allclose(out, 2 * exact, atol=1e-6):
        return "twice the gradient: f(w + eps) and f(w - eps) are 2 eps apart, so divide by 2 eps"
    if torch.allclose(out, exact / 2, atol=1e-6):
        return "half the gradient: (f(w + eps) - f(w - eps)) is divided by 2 eps, not by 4 eps"
    if torch.allclose(out, torch.full_like(out, float(out[0])), atol=1e-6):
        return ("every entry is the same: perturb ONE entry w[i] at a time (a copy of w with eps added to "
                "entry i only), not every entry at once")
    return ("the error grows with eps, as with a forward difference (f(w + eps) - f(w)) / eps. Central "
            "differences (f(w + eps e_i) - f(w - eps e_i)) / (2 eps) are exact for a quadratic at any eps")


# The functions handed to the learner's numerical_gradient live at module level: under the graders they
# travel to the learner's kernel, and a function travels by its name.
def _quadratic(v: torch.Tensor, A: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return 0.5 * v @ A @ v + c @ v


def _sum_of_sines(v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return (a * torch.sin(v)).sum()


def _mse_of_theta(t: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(X @ t[:3] + t[3], y)


@exercise("02.4", "numerical_gradient", points=2, difficulty=2, minutes=15,
          example=lambda g, dtype, device="cpu": (functools.partial(_sum_of_sines, a=torch.randn(4, generator=g, dtype=dtype)),
                                                  torch.randn(4, generator=g, dtype=dtype)),
          forbidden=AUTOGRAD,
          edge_cases=(
              EdgeCase("p = 1 and an f that returns a Python float: f(w) = w², w = [3], float64",
                       lambda: (_square_as_float, torch.tensor([3.0], dtype=torch.float64)),
                       close_to(lambda f, w: torch.tensor([6.0], dtype=torch.float64), atol=1e-6)),
              EdgeCase("an entry of w that is 0: f(w) = Σ w², w = [0, 1.5], float64",
                       lambda: (_square_as_float, torch.tensor([0.0, 1.5], dtype=torch.float64)),
                       close_to(lambda f, w: torch.tensor([0.0, 3.0], dtype=torch.float64), atol=1e-6)),
          ))
def check_numerical_gradient(numerical_gradient):
    A = torch.tensor([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]], dtype=torch.float64)
    c = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)

    quadratic = functools.partial(_quadratic, A=A, c=c)

    tried = ("f(w) = ½ wᵀAw + c·w with A = [[3, 1, 0], [1, 2, 0.5], [0, 0.5, 1]], c = [1, -1, 2], "
             "at w = [1, -2, 0.5], float64, eps=0.1 (a large eps on purpose)")
    w_given = w.clone()
    out = detached(call(numerical_gradient, quadratic, w_given, eps=0.1, tried=tried))
    expect(torch.equal(w_given, w), "your function changed the w it was given.", tried=tried,
           expected=f"w = {show(w)} afterwards", received=f"w = {show(w_given)}",
           hint="after evaluating f at w + eps e_i and w - eps e_i, put w[i] back as it was "
                "(or perturb a copy: w.clone())")
    expect_tensor(out, shape=(3,), tried=tried, name="the gradient", allow_nan=True,
                  hint="one partial derivative per entry of w: a tensor shaped like w")
    expect_tensor(out, dtype=torch.float64, tried=tried, name="the gradient",
                  hint="keep the dtype of w, for instance with torch.zeros_like(w): float32 would throw "
                       "away the precision that a gradient check needs")
    exact = A @ w + c
    expect_close(out, exact, tried=tried, atol=1e-8, rtol=0,
                 problem="wrong on a quadratic, where central differences are exact whatever eps.",
                 hint=_numerical_hint(out, exact))

    g = generator("02.4")
    w = torch.randn(5, generator=g, dtype=torch.float64)
    a = torch.randn(5, generator=g, dtype=torch.float64)
    tried = "f(w) = Σ a_i sin(w_i) at a random w of shape (5,), float64, default eps"
    out = call_on_copies(numerical_gradient, functools.partial(_sum_of_sines, a=a), w, tried=tried)
    expect_tensor(out, shape=(5,), dtype=torch.float64, tried=tried, name="the gradient")
    error = _relative_error(out, a * torch.cos(w))
    expect(error < 1e-6, "the relative error against the exact gradient a_i cos(w_i) is too large.",
           tried=tried, expected="relative error ‖g_num - g‖ / ‖g‖ < 1e-6",
           received=f"relative error {error:.2g}",
           hint="use central differences and the default eps=1e-6 in the signature")

    X = torch.randn(20, 3, generator=g, dtype=torch.float64)
    y = torch.randn(20, generator=g, dtype=torch.float64)
    theta = torch.randn(4, generator=g, dtype=torch.float64)
    tried = ("f(θ) = F.mse_loss(X @ θ[:3] + θ[3], y), the MSE with the bias as a 4th parameter, "
             "X of shape (20, 3), float64, default eps")
    out = call_on_copies(numerical_gradient, functools.partial(_mse_of_theta, X=X, y=y), theta, tried=tried)
    expect_tensor(out, shape=(4,), dtype=torch.float64, tried=tried, name="the gradient")
    exact_w, exact_b = _autograd_gradient(theta[:3], theta[3], X, y)
    error = _relative_error(out, torch.cat([exact_w, exact_b[None]]))
    expect(error < 1e-6, "the relative error against autograd's gradient of the MSE is too large.",
           tried=tried, expected="relative error < 1e-6", received=f"relative error {error:.2g}",
           hint="central differences in float64 with eps=1e-6 reach about 1e-9 here")


# ---------------------------------------------------------------- 02.5

def _descent(out, d: int, steps: int, tried: str) -> tuple[torch.Tensor, float, list[float]]:
    """Unpack and vet (w, b, losses)."""
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail("gradient_descent should return (w, b, losses).", tried=tried,
             expected=f"a tuple of 3: w of shape ({d},), b, and a list of {steps + 1} losses",
             received=describe(out), hint="end with `return w, b, losses`")
    w, b, losses = out
    if isinstance(losses, torch.Tensor):
        losses = losses.detach().cpu().flatten().tolist()
    if not isinstance(losses, (list, tuple)):
        fail("losses should be a list of numbers.", tried=tried, expected=f"a list of {steps + 1} floats",
             received=describe(losses), hint="start with losses = [loss at the start], then append after every step")
    expect(len(losses) == steps + 1, "losses has the wrong length.", tried=tried,
           expected=f"{steps + 1} numbers: the loss at the start, then after each of the {steps} steps",
           received=f"a list of length {len(losses)}",
           hint="record the loss once before the loop and once after every update")
    losses = [single_number(v, name=f"losses[{i}]", tried=tried,
                      hint="the loss grew without bound: does every step go AGAINST the gradient, "
                           "w - lr * grad_w?") for i, v in enumerate(losses)]
    expect_tensor(w, shape=(d,), tried=tried, name="w", allow_nan=True, hint=f"one weight per feature: shape ({d},)")
    expect_tensor(w, dtype=torch.float32, tried=tried, name="w",
                  hint="start from zeros with the dtype of X: torch.zeros(d, dtype=X.dtype)")
    expect_tensor(w, tried=tried, name="w", hint="the weights grew without bound: does every step go AGAINST "
                                                 "the gradient, w - lr * grad_w?")
    return w, single_number(b, name="b", tried=tried), losses


def _step_hint(w, b, w_ref, b_ref, lr) -> str:
    """Name the mistake in one step of gradient descent from zero."""
    if torch.allclose(w, -w_ref, atol=1e-6) and abs(b + b_ref) < 1e-6:
        return "you stepped uphill: the update is w - lr * grad_w and b - lr * grad_b"
    if torch.allclose(w, w_ref, atol=1e-6) and abs(b) < 1e-12:
        return "b never moved: update the bias too, b - lr * grad_b"
    if torch.allclose(w, w_ref, atol=1e-6) and abs(b - b_ref / lr) < 1e-5:
        return "b took a step of the whole gradient: multiply grad_b by the learning rate too"
    if torch.allclose(w, w_ref * lr, atol=1e-6):
        return "the step is lr times too small: multiply the gradient by lr once"
    return "start from w = 0 and b = 0, then w ← w - lr * grad_w and b ← b - lr * grad_b"


@exercise("02.5", "gradient_descent", points=2, difficulty=2, minutes=15,
          example=lambda g, dtype, device="cpu": (*_data(g, dtype, device, d=2), 0.05, 3),
          forbidden=AUTOGRAD + ("torch.optim.SGD", "torch.optim.Adam"),
          edge_cases=(
              EdgeCase("steps = 0: no update at all", lambda: (torch.tensor([[1.0], [2.0]]), torch.tensor([1.0, 3.0]), 0.1, 0),
                       lambda out, args: None if isinstance(out, (tuple, list)) and len(out) == 3
                       and isinstance(out[2], (list, tuple)) and len(out[2]) == 1 and abs(float(out[2][0]) - 5.0) < 1e-5
                       else "expected w = 0, b = 0 and losses = [5.0], the loss before any step"),
          ))
def check_gradient_descent(gradient_descent):
    g = generator("02.5")
    X = torch.randn(20, 2, generator=g)
    y = X @ torch.tensor([2.0, -1.0]) + 1.0 + 0.1 * torch.randn(20, generator=g)
    lr = 0.1
    tried = "one step (lr=0.1, steps=1) on X of shape (20, 2), y of shape (20,), float32"
    w, b, losses = _descent(call_on_copies(gradient_descent, X, y, lr, 1, tried=tried), 2, 1, tried)
    start = float((y.double() ** 2).mean())
    expect_number(losses[0], start, tried=tried, tol=1e-4 * (1 + start),
                  problem="losses[0] is not the loss at w = 0, b = 0, which is mean(y²).",
                  hint="start from zeros (torch.zeros of shape [d] and a 0-d zero) and record the loss before "
                       "the first step")
    grad_w, grad_b = _autograd_gradient(torch.zeros(2), 0.0, X, y)
    w_ref, b_ref = -lr * grad_w, float(-lr * grad_b)
    expect(torch.allclose(w, w_ref, atol=1e-5) and abs(b - b_ref) < 1e-5,
           "one step from zero lands in the wrong place.", tried=tried,
           expected=f"w = {show(w_ref)}, b = {b_ref:.4f} (w = -lr ∇_w L, b = -lr ∂L/∂b at 0)",
           received=f"w = {show(w)}, b = {b:.4f}", hint=_step_hint(w, b, w_ref, b_ref, lr))
    after = float(F.mse_loss(X @ w + b, y))
    expect_number(losses[1], after, tried=tried, tol=1e-4 * (1 + after),
                  problem="losses[1] is not the loss at the parameters after the step.",
                  hint="append the loss after each update, computed with the updated w and b")

    # planted weights, no noise: 300 steps must recover them
    w_true, b_true = torch.tensor([1.5, -2.0, 0.5]), 0.7
    X = torch.randn(100, 3, generator=g)
    y = X @ w_true + b_true
    steps = 300
    tried = (f"X of shape (100, 3), y = X @ [1.5, -2, 0.5] + 0.7 exactly (no noise), lr=0.1, steps={steps}; "
             "the largest stable learning rate here is about 0.7")
    w, b, losses = _descent(call_on_copies(gradient_descent, X, y, lr, steps, tried=tried), 3, steps, tried)
    rises = [i for i in range(steps) if losses[i + 1] > losses[i] * (1 + 1e-5) + 1e-7]
    if rises:
        first = rises[0]
        fail("the loss went up during training.", tried=tried,
             expected="a loss that never increases (lr is well below the stable limit)",
             received=f"at step {first + 1} it rose from {losses[first]:.4g} to {losses[first + 1]:.4g}",
             hint="compute the gradient at the CURRENT w and b, inside the loop, and step against it")
    expect_close(w, w_true, tried=tried, atol=1e-2, rtol=0, name="w",
                 problem="gradient descent did not recover the planted weights within 1e-2.",
                 hint="every step must use the gradient at the current parameters, and update w and b")
    expect_number(b, b_true, tried=tried, tol=1e-2, problem="gradient descent did not recover the planted "
                  "bias 0.7 within 1e-2.", hint="update the bias at every step too: b ← b - lr * grad_b")
    final = float(F.mse_loss(X @ w + b, y))
    expect_number(losses[-1], final, tried=tried, tol=1e-4 * (1 + final),
                  problem="the last entry of losses is not the loss at the returned w and b.")


# ---------------------------------------------------------------- 02.6

def _hessian_top(X: torch.Tensor) -> float:
    """λmax of the Hessian of the MSE with bias, by autograd (the loss is quadratic, so y is irrelevant)."""
    X = X.double()
    y = torch.zeros(X.shape[0], dtype=X.dtype)
    with torch.enable_grad():
        H = torch.autograd.functional.hessian(lambda t: F.mse_loss(X @ t[:-1] + t[-1], y),
                                              torch.zeros(X.shape[1] + 1, dtype=X.dtype))
    return float(torch.linalg.eigvalsh(H).max())


def _stable_lr_hint(lr: float) -> str:
    """Name the mistake on X = [[2], [0], [2], [0]]: Hessian [[4, 2], [2, 2]], eigenvalues 3 ± √5."""
    top, bottom = 3 + math.sqrt(5), 3 - math.sqrt(5)
    known = ((1 / top, "that is 1/λmax: gradient descent on a quadratic is stable up to 2/λmax"),
             (2 / bottom, "that uses the SMALLEST eigenvalue: the steepest direction (λmax) diverges first"),
             (0.5, "that ignores the bias: the Hessian of the loss in (w, b) uses X with a column of ones"),
             (4 / top, "the Hessian is twice what you used: L = mean((X̃θ - y)²) gives H = (2/n) X̃ᵀX̃"),
             (1 / (2 * top), "you left out the 1/n of the mean: H = (2/n) X̃ᵀX̃"))
    for value, hint in known:
        if abs(lr - value) < 1e-4:
            return hint
    return ("here X̃ = [X, 1] gives X̃ᵀX̃ = [[8, 4], [4, 4]], so H = (2/4) X̃ᵀX̃ = [[4, 2], [2, 2]] with "
            "eigenvalues 3 ± √5, and the answer is 2 / (3 + √5) ≈ 0.382")


def _autograd_descent(X: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> list[float]:
    """Full-batch gradient descent on y ≈ X w + b from zero, with autograd's gradient; the loss at each step."""
    theta = torch.zeros(X.shape[1] + 1, dtype=X.dtype, requires_grad=True)
    losses = []
    with torch.enable_grad():
        for _ in range(steps):
            loss = F.mse_loss(X @ theta[:-1] + theta[-1], y)
            (grad,) = torch.autograd.grad(loss, theta)
            with torch.no_grad():
                theta -= lr * grad
            losses.append(loss.item())
    return losses


@exercise("02.6", "max_stable_lr", points=3, difficulty=3, minutes=20,
          example=lambda g, dtype, device="cpu": (_data(g, dtype, device)[0],),
          edge_cases=(
              EdgeCase("X = [[1, -1], [-1, 1], [1, -1], [-1, 1]]: H's top eigenvector [1, -1, 0] is orthogonal to [1, 1, 1]",
                       lambda: (torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]]),),
                       close_to(lambda X: 0.5, atol=1e-5),
                       hint="torch.linalg.eigvalsh(H) gives every eigenvalue exactly; power iteration from a "
                            "fixed start can miss the top one"),
              EdgeCase("float64 X = [[0.1], [0.7], [1.3]]: the answer to 12 digits",
                       lambda: (torch.tensor([[0.1], [0.7], [1.3]], dtype=torch.float64),),
                       close_to(lambda X: 2 / torch.linalg.eigvalsh(
                           (2 / 3) * torch.cat([X, torch.ones(3, 1, dtype=X.dtype)], 1).T
                           @ torch.cat([X, torch.ones(3, 1, dtype=X.dtype)], 1))[-1].item(), atol=1e-12),
                       hint="keep float64 all the way: no .float() before the eigenvalues"),
          ),
          opt_out={"written by hand": "torch.linalg.eigvalsh is the intended tool; autograd's Hessian gives the "
                                      "same matrix, and the exercise is about 2/λmax, not the Hessian"})
def check_max_stable_lr(max_stable_lr):
    X = torch.tensor([[2.0], [0.0], [2.0], [0.0]])
    tried = "X = [[2], [0], [2], [0]]: n = 4, one feature, plus the bias"
    lr = single_number(call_on_copies(max_stable_lr, X, tried=tried), name="the learning rate", tried=tried,
                 hint="return one number: 2 / λmax, with .item() to turn a 0-d tensor into a float")
    expect_number(lr, 2 / (3 + math.sqrt(5)), tried=tried, tol=1e-4,
                  problem="the largest stable learning rate of a case worked out by hand is wrong.",
                  hint=_stable_lr_hint(lr))

    g = generator("02.6")
    X = torch.randn(50, 3, generator=g) * torch.tensor([1.0, 2.0, 0.5]) + torch.tensor([1.0, 0.0, -1.0])
    tried = "X of shape (50, 3), float32, features with different scales and non-zero means"
    lr = single_number(call_on_copies(max_stable_lr, X, tried=tried), name="the learning rate", tried=tried)
    expected = 2 / _hessian_top(X)
    expect_number(lr, expected, tried=tried, tol=1e-4 * expected,
                  problem="differs from 2 / λmax, with λmax from torch.linalg.eigvalsh of the MSE's Hessian "
                          "(computed by autograd).",
                  hint="H = (2/n) X̃ᵀX̃ with X̃ = [X, 1]; torch.linalg.eigvalsh sorts the eigenvalues, "
                       "largest last")

    # what the number promises: training just below it converges, just above it diverges
    Xd = X.double()
    y = Xd @ torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64) + 0.3 + torch.randn(50, generator=g).double()
    below, above = _autograd_descent(Xd, y, 0.9 * lr, 200), _autograd_descent(Xd, y, 1.1 * lr, 200)
    best = float(F.mse_loss(_with_ones(Xd) @ torch.linalg.lstsq(_with_ones(Xd), y[:, None]).solution[:, 0], y))
    expect(below[-1] < best * (1 + 1e-3) + 1e-6,
           "gradient descent (with autograd's gradient) at 0.9 × your learning rate does not converge.", tried=tried,
           expected=f"final loss ≈ {best:.4f}, the least-squares minimum",
           received=f"final loss {below[-1]:.4g}", hint="your rate is too large")
    expect(not math.isfinite(above[-1]) or above[-1] > 10 * below[0],
           "gradient descent (with autograd's gradient) at 1.1 × your learning rate does not diverge.", tried=tried,
           expected="a loss that blows up", received=f"final loss {above[-1]:.4g}",
           hint="your rate is below the largest stable one")
