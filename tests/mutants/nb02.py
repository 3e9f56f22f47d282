"""Plausible wrong answers to notebook 02 (linear regression); every one must fail its check."""
from __future__ import annotations

import torch


def _with_ones(X):
    return torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], dim=1)


# ---------------------------------------------------------------- 02.1 least_squares


def least_squares_without_bias(X, y):
    w = torch.linalg.solve(X.T @ X, X.T @ y)
    return w, torch.zeros((), dtype=X.dtype)


def least_squares_with_bias_as_mean_of_y(X, y):
    w = torch.linalg.solve(X.T @ X, X.T @ y)
    return w, y.mean()


def least_squares_splitting_theta_in_the_wrong_order(X, y):
    Xt = _with_ones(X)  # ones appended last, but the bias read from the front
    theta = torch.linalg.solve(Xt.T @ Xt, Xt.T @ y)
    return theta[1:], theta[0]


def least_squares_with_X_Xt(X, y):
    Xt = _with_ones(X)  # the n × n Gram matrix of the examples instead of the features'
    theta = torch.linalg.solve(Xt @ Xt.T, Xt.T @ y)
    return theta[:-1], theta[-1]


def least_squares_pinv_without_bias_then_mean_residual(X, y):
    w = torch.linalg.pinv(X) @ y
    return w, (y - X @ w).mean()


# ---------------------------------------------------------------- 02.2 mse_loss


def mse_as_sum(w, b, X, y):
    return ((X @ w + b - y) ** 2).sum()


def mse_as_root_mean_square(w, b, X, y):
    return ((X @ w + b - y) ** 2).mean().sqrt()


def mse_as_mean_absolute_error(w, b, X, y):
    return (X @ w + b - y).abs().mean()


def mse_broadcasting_a_column_against_y(w, b, X, y):
    predictions = X @ w[:, None] + b  # [n, 1] - [n] -> [n, n]
    return ((predictions - y) ** 2).mean()


def mse_forgetting_the_bias(w, b, X, y):
    return ((X @ w - y) ** 2).mean()


# ---------------------------------------------------------------- 02.3 mse_gradient


def gradient_without_factor_two(w, b, X, y):
    r = X @ w + b - y
    return X.T @ r / len(y), r.mean()


def gradient_as_sum_over_examples(w, b, X, y):
    r = X @ w + b - y
    return 2 * X.T @ r, 2 * r.sum()


def gradient_with_sign_error(w, b, X, y):
    r = y - (X @ w + b)
    return 2 * X.T @ r / len(y), 2 * r.mean()


def gradient_averaged_over_the_wrong_axis(w, b, X, y):
    r = X @ w + b - y
    return 2 * (X * r[:, None]).mean(dim=1), 2 * r.mean()


def gradient_with_bias_gradient_missing_factor_two(w, b, X, y):
    r = X @ w + b - y
    return 2 * X.T @ r / len(y), r.mean()


# ---------------------------------------------------------------- 02.4 numerical_gradient


def numerical_gradient_forward_differences(f, w, eps=1e-6):
    grad = torch.zeros_like(w)
    base = float(f(w))
    for i in range(w.numel()):
        step = w.clone()
        step[i] += eps
        grad[i] = (float(f(step)) - base) / eps
    return grad


def numerical_gradient_without_restoring(f, w, eps=1e-6):
    grad = torch.zeros_like(w)
    for i in range(w.numel()):
        w[i] += eps
        up = float(f(w))
        w[i] -= 2 * eps
        down = float(f(w))
        grad[i] = (up - down) / (2 * eps)  # w[i] is left at w[i] - eps
    return grad


def numerical_gradient_dividing_by_eps(f, w, eps=1e-6):
    grad = torch.zeros_like(w)
    for i in range(w.numel()):
        up, down = w.clone(), w.clone()
        up[i] += eps
        down[i] -= eps
        grad[i] = (float(f(up)) - float(f(down))) / eps
    return grad


def numerical_gradient_perturbing_every_entry(f, w, eps=1e-6):
    slope = (float(f(w + eps)) - float(f(w - eps))) / (2 * eps)
    return torch.full_like(w, slope)


def numerical_gradient_in_float32(f, w, eps=1e-6):
    grad = torch.zeros(w.shape)  # float32, whatever the dtype of w
    for i in range(w.numel()):
        up, down = w.clone(), w.clone()
        up[i] += eps
        down[i] -= eps
        grad[i] = (float(f(up)) - float(f(down))) / (2 * eps)
    return grad


# ---------------------------------------------------------------- 02.5 gradient_descent


def _mse_gradient(w, b, X, y):
    r = X @ w + b - y
    return 2 * X.T @ r / len(y), 2 * r.mean()


def _mse(w, b, X, y):
    return float(((X @ w + b - y) ** 2).mean())


def gradient_ascent(X, y, lr, steps):
    w, b = torch.zeros(X.shape[1]), torch.tensor(0.0)
    losses = [_mse(w, b, X, y)]
    for _ in range(steps):
        grad_w, grad_b = _mse_gradient(w, b, X, y)
        w, b = w + lr * grad_w, b + lr * grad_b
        losses.append(_mse(w, b, X, y))
    return w, b, losses


def gradient_descent_never_updating_the_bias(X, y, lr, steps):
    w, b = torch.zeros(X.shape[1]), torch.tensor(0.0)
    losses = [_mse(w, b, X, y)]
    for _ in range(steps):
        grad_w, _ = _mse_gradient(w, b, X, y)
        w = w - lr * grad_w
        losses.append(_mse(w, b, X, y))
    return w, b, losses


def gradient_descent_with_the_gradient_computed_once(X, y, lr, steps):
    w, b = torch.zeros(X.shape[1]), torch.tensor(0.0)
    losses = [_mse(w, b, X, y)]
    grad_w, grad_b = _mse_gradient(w, b, X, y)
    for _ in range(steps):
        w, b = w - lr * grad_w, b - lr * grad_b
        losses.append(_mse(w, b, X, y))
    return w, b, losses


def gradient_descent_without_lr_on_the_bias(X, y, lr, steps):
    w, b = torch.zeros(X.shape[1]), torch.tensor(0.0)
    losses = [_mse(w, b, X, y)]
    for _ in range(steps):
        grad_w, grad_b = _mse_gradient(w, b, X, y)
        w, b = w - lr * grad_w, b - grad_b
        losses.append(_mse(w, b, X, y))
    return w, b, losses


def gradient_descent_recording_only_after_steps(X, y, lr, steps):
    w, b = torch.zeros(X.shape[1]), torch.tensor(0.0)
    losses = []
    for _ in range(steps):
        grad_w, grad_b = _mse_gradient(w, b, X, y)
        w, b = w - lr * grad_w, b - lr * grad_b
        losses.append(_mse(w, b, X, y))
    return w, b, losses


# ---------------------------------------------------------------- 02.6 max_stable_lr


def _hessian(X, factor=2.0, mean=True, bias=True):
    Xt = _with_ones(X) if bias else X
    H = factor * Xt.T @ Xt
    return H / X.shape[0] if mean else H


def stable_lr_one_over_lambda_max(X):
    return (1 / torch.linalg.eigvalsh(_hessian(X)).max()).item()


def stable_lr_from_lambda_min(X):
    return (2 / torch.linalg.eigvalsh(_hessian(X)).min()).item()


def stable_lr_without_factor_two_in_the_hessian(X):
    return (2 / torch.linalg.eigvalsh(_hessian(X, factor=1.0)).max()).item()


def stable_lr_without_one_over_n(X):
    return (2 / torch.linalg.eigvalsh(_hessian(X, mean=False)).max()).item()


def stable_lr_without_the_bias_column(X):
    return (2 / torch.linalg.eigvalsh(_hessian(X, bias=False)).max()).item()


MUTANTS = {
    "02.1": [least_squares_without_bias, least_squares_with_bias_as_mean_of_y,
             least_squares_splitting_theta_in_the_wrong_order, least_squares_with_X_Xt,
             least_squares_pinv_without_bias_then_mean_residual],
    "02.2": [mse_as_sum, mse_as_root_mean_square, mse_as_mean_absolute_error,
             mse_broadcasting_a_column_against_y, mse_forgetting_the_bias],
    "02.3": [gradient_without_factor_two, gradient_as_sum_over_examples, gradient_with_sign_error,
             gradient_averaged_over_the_wrong_axis, gradient_with_bias_gradient_missing_factor_two],
    "02.4": [numerical_gradient_forward_differences, numerical_gradient_without_restoring,
             numerical_gradient_dividing_by_eps, numerical_gradient_perturbing_every_entry,
             numerical_gradient_in_float32],
    "02.5": [gradient_ascent, gradient_descent_never_updating_the_bias,
             gradient_descent_with_the_gradient_computed_once, gradient_descent_without_lr_on_the_bias,
             gradient_descent_recording_only_after_steps],
    "02.6": [stable_lr_one_over_lambda_max, stable_lr_from_lambda_min, stable_lr_without_factor_two_in_the_hessian,
             stable_lr_without_one_over_n, stable_lr_without_the_bias_column],
}
