"""Blind mutants for notebook 02 (linear regression): plausible wrong answers written from the learner's
notebook only. Each mutant carries a one-line comment saying what is wrong. Mutants are self-contained:
those that need the MSE or its gradient define their own helpers here.

Exercises: 02.1 least_squares, 02.2 mse_loss, 02.3 mse_gradient, 02.4 numerical_gradient,
02.5 gradient_descent, 02.6 max_stable_lr.
"""
import torch
import torch.nn.functional as F


def _with_ones(X):
    return torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)], dim=1)


def _mse(w, b, X, y):
    return ((X @ w + b - y) ** 2).mean()


def _mse_grad(w, b, X, y):
    r = X @ w + b - y
    return 2.0 / X.shape[0] * (X.T @ r), 2.0 * r.mean()


# ----------------------------------------------------------------------------- 02.1 least_squares


def least_squares_lstsq(X, y):
    # WRONG (builtin): torch.linalg.lstsq instead of the normal equations.
    theta = torch.linalg.lstsq(_with_ones(X), y[:, None]).solution[:, 0]
    return theta[:-1], theta[-1]


def least_squares_centre_y_inplace(X, y):
    # WRONG: centres y IN PLACE "for stability" and adds the mean back to b: values right, caller's y changed.
    y_mean = y.mean()
    y -= y_mean
    X1 = _with_ones(X)
    theta = torch.linalg.solve(X1.T @ X1, X1.T @ y)
    return theta[:-1], theta[-1] + y_mean


def least_squares_float32(X, y):
    # WRONG: solves the system in float32 (.float()), so float64 input comes back float32.
    X1 = _with_ones(X).float()
    theta = torch.linalg.solve(X1.T @ X1, X1.T @ y.float())
    return theta[:-1], theta[-1]


def least_squares_squeeze(X, y):
    # WRONG (edge): w = theta[:-1].squeeze() is 0-d instead of shape [1] when d == 1.
    X1 = _with_ones(X)
    theta = torch.linalg.solve(X1.T @ X1, X1.T @ y)
    return theta[:-1].squeeze(), theta[-1]


def least_squares_bias_is_mean(X, y):
    # WRONG: fits w without a bias column and sets b = y.mean(): right only for centred features.
    w = torch.linalg.solve(X.T @ X, X.T @ y)
    return w, y.mean()


def least_squares_ridge(X, y):
    # WRONG: adds 1e-3 * I to X1^T X1 "for stability": a slightly shrunk (ridge) solution.
    X1 = _with_ones(X)
    A = X1.T @ X1 + 1e-3 * torch.eye(X1.shape[1], dtype=X.dtype, device=X.device)
    theta = torch.linalg.solve(A, X1.T @ y)
    return theta[:-1], theta[-1]


# ----------------------------------------------------------------------------- 02.2 mse_loss


def mse_loss_builtin(w, b, X, y):
    # WRONG (builtin): calls F.mse_loss, which the exercise forbids.
    return F.mse_loss(X @ w + b, y)


def mse_loss_inplace_y(w, b, X, y):
    # WRONG: subtracts the bias from the targets IN PLACE (y -= b): right value, caller's y changed.
    y -= b
    return ((X @ w - y) ** 2).mean()


def mse_loss_float32(w, b, X, y):
    # WRONG: wraps the result with torch.tensor(...item()), which is float32 whatever X's dtype.
    return torch.tensor(((X @ w + b - y) ** 2).mean().item())


def mse_loss_tensor_bias(w, b, X, y):
    # WRONG (edge): b.to(X.dtype) assumes b is a tensor: fails for a Python float bias, which the spec allows.
    return ((X @ w + b.to(X.dtype) - y) ** 2).mean()


def mse_loss_divide_by_d(w, b, X, y):
    # WRONG: sum divided by len(w) (= d) instead of n: right only for square X.
    return ((X @ w + b - y) ** 2).sum() / w.shape[0]


def mse_loss_column_targets(w, b, X, y):
    # WRONG: y[:, None] broadcasts [n] against [n, 1] into an [n, n] table of errors; right only for n == 1.
    return ((X @ w + b - y[:, None]) ** 2).mean()


# ----------------------------------------------------------------------------- 02.3 mse_gradient


def mse_gradient_autograd(w, b, X, y):
    # WRONG (builtin): uses autograd, which the exercise forbids.
    w_ = w.detach().clone().requires_grad_(True)
    b_ = torch.as_tensor(b, dtype=X.dtype).detach().clone().requires_grad_(True)
    loss = ((X @ w_ + b_ - y) ** 2).mean()
    gw, gb = torch.autograd.grad(loss, [w_, b_])
    return gw, gb


def mse_gradient_scale_x_inplace(w, b, X, y):
    # WRONG: folds 2/n into X IN PLACE (X *= 2/n) after computing the residuals: right values, X changed.
    n = X.shape[0]
    r = X @ w + b - y
    X *= 2.0 / n
    return X.T @ r, 2.0 * r.mean()


def mse_gradient_float32(w, b, X, y):
    # WRONG: computes in float32 (.float()), so float64 input comes back float32.
    Xf, r = X.float(), (X @ w + b - y).float()
    return 2.0 / X.shape[0] * (Xf.T @ r), 2.0 * r.mean()


def mse_gradient_squeeze(w, b, X, y):
    # WRONG (edge): .squeeze() makes grad_w 0-d instead of shape [1] when d == 1.
    r = X @ w + b - y
    return (2.0 / X.shape[0] * (X.T @ r)).squeeze(), 2.0 * r.mean()


def mse_gradient_no_bias_in_residual(w, b, X, y):
    # WRONG: residuals X @ w - y forget the bias: right only when b == 0.
    r = X @ w - y
    return 2.0 / X.shape[0] * (X.T @ r), 2.0 * r.mean()


def mse_gradient_missing_two(w, b, X, y):
    # WRONG: drops the factor 2 from the square (half the gradient).
    r = X @ w + b - y
    return (X.T @ r) / X.shape[0], r.mean()


def mse_gradient_bias_sum(w, b, X, y):
    # WRONG: grad_b sums the residuals instead of averaging them (right only for n == 1).
    r = X @ w + b - y
    return 2.0 / X.shape[0] * (X.T @ r), 2.0 * r.sum()


# ----------------------------------------------------------------------------- 02.4 numerical_gradient


def numerical_gradient_nudge_inplace(f, w, eps=1e-6):
    # WRONG: nudges w[i] in place and "puts it back" with arithmetic, leaving rounding errors in w.
    grad = torch.zeros_like(w)
    for i in range(w.shape[0]):
        w[i] += eps
        up = float(f(w))
        w[i] -= 2 * eps
        down = float(f(w))
        w[i] += eps
        grad[i] = (up - down) / (2 * eps)
    return grad


def numerical_gradient_float32(f, w, eps=1e-6):
    # WRONG: collects the results in torch.zeros(p) (float32), throwing away float64 precision.
    grad = torch.zeros(w.shape[0])
    for i in range(w.shape[0]):
        step = torch.zeros_like(w)
        step[i] = eps
        grad[i] = (float(f(w + step)) - float(f(w - step))) / (2 * eps)
    return grad


def numerical_gradient_squeeze(f, w, eps=1e-6):
    # WRONG (edge): stacks a list of 0-d results and .squeeze()s: fine for p > 1, 0-d for p == 1.
    values = []
    for i in range(w.shape[0]):
        plus, minus = w.clone(), w.clone()
        plus[i] += eps
        minus[i] -= eps
        values.append(torch.as_tensor((float(f(plus)) - float(f(minus))) / (2 * eps), dtype=w.dtype))
    return torch.stack(values)[:, None].squeeze()


def numerical_gradient_forward(f, w, eps=1e-6):
    # WRONG: forward difference (f(w + eps e_i) - f(w)) / eps: an O(eps) error the central one avoids.
    grad = torch.zeros_like(w)
    base = float(f(w))
    for i in range(w.shape[0]):
        plus = w.clone()
        plus[i] += eps
        grad[i] = (float(f(plus)) - base) / eps
    return grad


def numerical_gradient_autograd(f, w, eps=1e-6):
    # WRONG (builtin): autograd instead of finite differences (and fails for f returning a Python float).
    w_ = w.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(w_), w_)
    return g.detach()


def numerical_gradient_relative_step(f, w, eps=1e-6):
    # WRONG: uses a relative step eps * |w_i| (zero when w_i == 0, giving 0/0 = NaN there).
    grad = torch.zeros_like(w)
    for i in range(w.shape[0]):
        h = eps * abs(float(w[i]))
        plus, minus = w.clone(), w.clone()
        plus[i] += h
        minus[i] -= h
        grad[i] = (float(f(plus)) - float(f(minus))) / (2 * h) if h > 0 else float("nan")
    return grad


# ----------------------------------------------------------------------------- 02.5 gradient_descent


def gradient_descent_sgd(X, y, lr, steps):
    # WRONG (builtin): torch.optim.SGD with autograd instead of the hand-written mse_gradient.
    w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=lr)
    losses = [float(_mse(w, b, X, y))]
    for _ in range(steps):
        opt.zero_grad()
        loss = _mse(w, b, X, y)
        loss.backward()
        opt.step()
        losses.append(float(_mse(w, b, X, y)))
    return w.detach(), b.detach(), losses


def gradient_descent_float32(X, y, lr, steps):
    # WRONG: converts X and y with .float() first, so float64 input gives float32 w and b.
    X, y = X.float(), y.float()
    w, b = torch.zeros(X.shape[1]), torch.zeros(())
    losses = [float(_mse(w, b, X, y))]
    for _ in range(steps):
        gw, gb = _mse_grad(w, b, X, y)
        w, b = w - lr * gw, b - lr * gb
        losses.append(float(_mse(w, b, X, y)))
    return w, b, losses


def gradient_descent_first_loss_in_loop(X, y, lr, steps):
    # WRONG (edge): records the starting loss inside the loop, so steps == 0 returns an empty list.
    w = torch.zeros(X.shape[1], dtype=X.dtype)
    b = torch.zeros((), dtype=X.dtype)
    losses = []
    for step in range(steps):
        if step == 0:
            losses.append(float(_mse(w, b, X, y)))
        gw, gb = _mse_grad(w, b, X, y)
        w, b = w - lr * gw, b - lr * gb
        losses.append(float(_mse(w, b, X, y)))
    return w, b, losses


def gradient_descent_sequential_bias(X, y, lr, steps):
    # WRONG: updates w first, then computes the bias gradient at the NEW w (not a simultaneous step).
    w = torch.zeros(X.shape[1], dtype=X.dtype)
    b = torch.zeros((), dtype=X.dtype)
    losses = [float(_mse(w, b, X, y))]
    for _ in range(steps):
        gw, _ = _mse_grad(w, b, X, y)
        w = w - lr * gw
        _, gb = _mse_grad(w, b, X, y)
        b = b - lr * gb
        losses.append(float(_mse(w, b, X, y)))
    return w, b, losses


def gradient_descent_loss_before_step(X, y, lr, steps):
    # WRONG: starts the list with the initial loss AND appends the loss before every update, then the final
    # one: the initial loss appears twice and losses has steps + 2 entries.
    w = torch.zeros(X.shape[1], dtype=X.dtype)
    b = torch.zeros((), dtype=X.dtype)
    losses = [float(_mse(w, b, X, y))]
    for _ in range(steps):
        losses.append(float(_mse(w, b, X, y)))
        gw, gb = _mse_grad(w, b, X, y)
        w, b = w - lr * gw, b - lr * gb
    losses.append(float(_mse(w, b, X, y)))
    return w, b, losses


def gradient_descent_gradient_once(X, y, lr, steps):
    # WRONG: computes the gradient once, before the loop, and walks in a straight line.
    w = torch.zeros(X.shape[1], dtype=X.dtype)
    b = torch.zeros((), dtype=X.dtype)
    losses = [float(_mse(w, b, X, y))]
    gw, gb = _mse_grad(w, b, X, y)
    for _ in range(steps):
        w, b = w - lr * gw, b - lr * gb
        losses.append(float(_mse(w, b, X, y)))
    return w, b, losses


def gradient_descent_scale_y_inplace(X, y, lr, steps):
    # WRONG: standardises the targets IN PLACE for the run and restores them afterwards by arithmetic
    # (the caller's y comes back changed by rounding); GD on the rescaled targets also follows another path.
    mu, sd = y.mean(), y.std()
    y -= mu
    y /= sd
    w = torch.zeros(X.shape[1], dtype=X.dtype)
    b = torch.zeros((), dtype=X.dtype)
    losses = [float(_mse(w * sd, b * sd + mu, X, y * sd + mu))]
    for _ in range(steps):
        gw, gb = _mse_grad(w, b, X, y)
        w, b = w - lr * gw, b - lr * gb
        losses.append(float(_mse(w * sd, b * sd + mu, X, y * sd + mu)))
    y *= sd
    y += mu
    return w * sd, b * sd + mu, losses


# ----------------------------------------------------------------------------- 02.6 max_stable_lr


def max_stable_lr_hessian_autograd(X):
    # WRONG (builtin): the Hessian from torch.autograd.functional.hessian instead of the formula.
    y = torch.zeros(X.shape[0], dtype=X.dtype)
    d = X.shape[1]

    def loss(theta):
        return ((X @ theta[:d] + theta[d] - y) ** 2).mean()

    H = torch.autograd.functional.hessian(loss, torch.zeros(d + 1, dtype=X.dtype))
    return 2.0 / torch.linalg.eigvalsh(H)[-1].item()


def max_stable_lr_scale_inplace(X):
    # WRONG: folds sqrt(2/n) into X IN PLACE (X *= ...): right value, caller's X changed.
    n = X.shape[0]
    s = (2.0 / n) ** 0.5
    X *= s
    X1 = torch.cat([X, torch.full((n, 1), s, dtype=X.dtype)], dim=1)
    return 2.0 / torch.linalg.eigvalsh(X1.T @ X1)[-1].item()


def max_stable_lr_float32(X):
    # WRONG: eigenvalues of H.float(): float32 precision on float64 input.
    X1 = _with_ones(X)
    H = (2.0 / X.shape[0]) * X1.T @ X1
    return 2.0 / torch.linalg.eigvalsh(H.float())[-1].item()


def max_stable_lr_power_iteration(X):
    # WRONG (edge): 20 steps of power iteration from the all-ones vector: inaccurate when the top two
    # eigenvalues are close, and lands on the wrong eigenvalue if the start is orthogonal to the top one.
    X1 = _with_ones(X)
    H = (2.0 / X.shape[0]) * X1.T @ X1
    v = torch.ones(H.shape[0], dtype=H.dtype)
    for _ in range(20):
        v = H @ v
        v = v / v.norm()
    return 2.0 / float(v @ H @ v)


def max_stable_lr_no_bias(X):
    # WRONG: Hessian with respect to w only (no ones column), forgetting that b is a parameter too.
    H = (2.0 / X.shape[0]) * X.T @ X
    return 2.0 / torch.linalg.eigvalsh(H)[-1].item()


def max_stable_lr_smallest(X):
    # WRONG: takes eigvalsh(...)[0], the SMALLEST eigenvalue (eigvalsh sorts ascending).
    X1 = _with_ones(X)
    H = (2.0 / X.shape[0]) * X1.T @ X1
    return 2.0 / torch.linalg.eigvalsh(H)[0].item()


def max_stable_lr_no_two(X):
    # WRONG: H = X1^T X1 / n, forgetting the 2 from the square (twice the limit).
    X1 = _with_ones(X)
    H = X1.T @ X1 / X.shape[0]
    return 2.0 / torch.linalg.eigvalsh(H)[-1].item()


MUTANTS = {
    "02.1": [
        (least_squares_lstsq, "builtin"),
        (least_squares_centre_y_inplace, "inplace"),
        (least_squares_float32, "dtype"),
        (least_squares_squeeze, "edge"),
        (least_squares_bias_is_mean, "subtle"),
        (least_squares_ridge, "subtle"),
    ],
    "02.2": [
        (mse_loss_builtin, "builtin"),
        (mse_loss_inplace_y, "inplace"),
        (mse_loss_float32, "dtype"),
        (mse_loss_tensor_bias, "edge"),
        (mse_loss_divide_by_d, "subtle"),
        (mse_loss_column_targets, "subtle"),
    ],
    "02.3": [
        (mse_gradient_autograd, "builtin"),
        (mse_gradient_scale_x_inplace, "inplace"),
        (mse_gradient_float32, "dtype"),
        (mse_gradient_squeeze, "edge"),
        (mse_gradient_no_bias_in_residual, "subtle"),
        (mse_gradient_missing_two, "subtle"),
        (mse_gradient_bias_sum, "subtle"),
    ],
    "02.4": [
        (numerical_gradient_autograd, "builtin"),
        (numerical_gradient_nudge_inplace, "inplace"),
        (numerical_gradient_float32, "dtype"),
        (numerical_gradient_squeeze, "edge"),
        (numerical_gradient_relative_step, "edge"),
        (numerical_gradient_forward, "subtle"),
    ],
    "02.5": [
        (gradient_descent_sgd, "builtin"),
        (gradient_descent_scale_y_inplace, "inplace"),
        (gradient_descent_float32, "dtype"),
        (gradient_descent_first_loss_in_loop, "edge"),
        (gradient_descent_sequential_bias, "subtle"),
        (gradient_descent_loss_before_step, "subtle"),
        (gradient_descent_gradient_once, "subtle"),
    ],
    "02.6": [
        (max_stable_lr_hessian_autograd, "builtin"),
        (max_stable_lr_scale_inplace, "inplace"),
        (max_stable_lr_float32, "dtype"),
        (max_stable_lr_power_iteration, "edge"),
        (max_stable_lr_no_bias, "subtle"),
        (max_stable_lr_smallest, "subtle"),
        (max_stable_lr_no_two, "subtle"),
    ],
}
