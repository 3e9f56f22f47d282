"""Blind mutants for notebook 03 (logistic regression and MLP): plausible wrong answers written from the
learner's notebook only. Each mutant carries a one-line comment saying what is wrong. 03.5 mutants are
nn.Module classes with the constructor signature MLP(d_in, d_hidden, d_out, activation="relu").

Exercises: 03.1 sigmoid, 03.2 binary_cross_entropy, 03.3 bce_gradient, 03.4 softmax_cross_entropy,
03.5 MLP, 03.6 relu_boundaries.
"""
import torch
import torch.nn.functional as F
from torch import nn


def _stable_sigmoid(z):
    e = torch.exp(torch.where(z >= 0, -z, z))
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))


# ----------------------------------------------------------------------------- 03.1 sigmoid


def sigmoid_builtin(z):
    # WRONG (builtin): calls torch.sigmoid, which the exercise forbids.
    return torch.sigmoid(z)


def sigmoid_clamp_inplace(z):
    # WRONG: clamps the caller's z IN PLACE (under no_grad) to [-80, 80] before the naive formula.
    with torch.no_grad():
        z.clamp_(-80.0, 80.0)
    return 1 / (1 + torch.exp(-z))


def sigmoid_float32(z):
    # WRONG: computes in float32 (.float()), so float64 input comes back float32.
    zf = z.float()
    e = torch.exp(torch.where(zf >= 0, -zf, zf))
    return torch.where(zf >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_naive(z):
    # WRONG (edge): the textbook formula: right values, but NaN autograd gradients at z = -1000.
    return 1 / (1 + torch.exp(-z))


def sigmoid_where_both_full(z):
    # WRONG (edge): torch.where over two full-exponent branches: the unused branch overflows and makes the
    # gradient NaN at large |z| although the values are right.
    return torch.where(z >= 0, 1 / (1 + torch.exp(-z)), torch.exp(z) / (1 + torch.exp(z)))


def sigmoid_abs(z):
    # WRONG (edge): exponentiates -z.abs(), whose gradient at exactly z = 0 is 0: autograd gives slope 0, not 1/4.
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_clamp30(z):
    # WRONG: clamps the logits to [-30, 30] before the formula: finite everywhere, but values beyond |z| = 30
    # are frozen (relative error huge for z << -30, and 1 - sigma wrong in float64 for z >> 30).
    zc = z.clamp(-30.0, 30.0)
    return 1 / (1 + torch.exp(-zc))


# ----------------------------------------------------------------------------- 03.2 binary_cross_entropy


def binary_cross_entropy_builtin(logits, y):
    # WRONG (builtin): calls F.binary_cross_entropy_with_logits, which the exercise forbids.
    return F.binary_cross_entropy_with_logits(logits, y)


def binary_cross_entropy_inplace_y(logits, y):
    # WRONG: y.mul_(logits) reuses y's storage for y * z: right value, caller's y overwritten.
    return (F.softplus(logits) - y.mul_(logits)).mean()


def binary_cross_entropy_float32(logits, y):
    # WRONG: .float() on the result: float64 logits give a float32 loss.
    return (F.softplus(logits) - y * logits).mean().float()


def binary_cross_entropy_clamped_p(logits, y):
    # WRONG (edge): logs of a probability clamped to [1e-7, 1 - 1e-7]: finite, but a confident mistake
    # costs at most -ln(1e-7) = 16.1 (and 1 - 1e-7 is 1 in float32, so log(1 - p) can still be -inf).
    p = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def binary_cross_entropy_log1p_exp(logits, y):
    # WRONG (edge): log1p(exp(z)) - y z overflows to inf for large positive logits (z > 88 in float32).
    return (torch.log1p(torch.exp(logits)) - y * logits).mean()


def binary_cross_entropy_sum(logits, y):
    # WRONG: sum over the examples instead of the mean (right only for n == 1).
    return (F.softplus(logits) - y * logits).sum()


def binary_cross_entropy_flipped(logits, y):
    # WRONG: y and 1 - y swapped in the formula: the loss of the flipped labels, softplus(z) - (1 - y) z.
    return (F.softplus(logits) - (1 - y) * logits).mean()


# ----------------------------------------------------------------------------- 03.3 bce_gradient


def bce_gradient_autograd(w, b, X, y):
    # WRONG (builtin): autograd inside, which the exercise forbids.
    w_ = w.detach().clone().requires_grad_(True)
    b_ = torch.as_tensor(b, dtype=X.dtype).detach().clone().requires_grad_(True)
    z = X @ w_ + b_
    loss = (F.softplus(z) - y * z).mean()
    gw, gb = torch.autograd.grad(loss, [w_, b_])
    return gw, gb


def bce_gradient_residual_in_y(w, b, X, y):
    # WRONG: computes the residual in y's own storage (y.neg_().add_(p)): right values, caller's y destroyed.
    p = torch.sigmoid(X @ w + b)
    r = y.neg_().add_(p)
    return X.T @ r / X.shape[0], r.mean()


def bce_gradient_float32(w, b, X, y):
    # WRONG: computes in float32 (.float()), so float64 input comes back float32.
    r = (torch.sigmoid(X @ w + b) - y).float()
    return X.float().T @ r / X.shape[0], r.mean()


def bce_gradient_squeeze(w, b, X, y):
    # WRONG (edge): .squeeze() makes grad_w 0-d instead of [1] when d == 1.
    r = torch.sigmoid(X @ w + b) - y
    return (X.T @ r / X.shape[0]).squeeze(), r.mean()


def bce_gradient_no_bias(w, b, X, y):
    # WRONG: the logits forget the bias, z = X @ w: right only when b == 0.
    r = torch.sigmoid(X @ w) - y
    return X.T @ r / X.shape[0], r.mean()


def bce_gradient_factor_two(w, b, X, y):
    # WRONG: keeps the factor 2 copied from the MSE gradient of notebook 02.
    r = torch.sigmoid(X @ w + b) - y
    return 2 * X.T @ r / X.shape[0], 2 * r.mean()


def bce_gradient_sign(w, b, X, y):
    # WRONG: label minus probability: the gradient points downhill.
    r = y - torch.sigmoid(X @ w + b)
    return X.T @ r / X.shape[0], r.mean()


# ----------------------------------------------------------------------------- 03.4 softmax_cross_entropy


def softmax_cross_entropy_builtin(logits, y):
    # WRONG (builtin): calls F.cross_entropy, which the exercise forbids.
    return F.cross_entropy(logits, y)


def softmax_cross_entropy_shift_inplace(logits, y):
    # WRONG: subtracts the row maxima from the caller's logits IN PLACE (when autograd allows it).
    m = logits.max(dim=1, keepdim=True).values
    shifted = logits - m if logits.requires_grad else logits.sub_(m)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[torch.arange(logits.shape[0]), y].mean()


def softmax_cross_entropy_float32(logits, y):
    # WRONG: computes in float32 (.float()), so float64 logits give a float32 loss.
    z = logits.float()
    z = z - z.max(dim=1, keepdim=True).values
    log_probs = z - z.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[torch.arange(z.shape[0]), y].mean()


def softmax_cross_entropy_no_shift(logits, y):
    # WRONG (edge): no max-shift: exp overflows to inf for logits in the hundreds or thousands (loss NaN).
    log_probs = logits - logits.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[torch.arange(logits.shape[0]), y].mean()


def softmax_cross_entropy_global_max(logits, y):
    # WRONG (edge): shifts by the maximum of the whole batch, not of each row: a row far below the others
    # underflows to log(0) = -inf.
    z = logits - logits.max()
    log_probs = z - z.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[torch.arange(logits.shape[0]), y].mean()


def softmax_cross_entropy_table(logits, y):
    # WRONG: log_probs[:, y] picks an [n, n] table and averages all of it (right only for n == 1).
    z = logits - logits.max(dim=1, keepdim=True).values
    log_probs = z - z.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[:, y].mean()


def softmax_cross_entropy_onehot_mean(logits, y):
    # WRONG: masks with a one-hot matrix and takes .mean() over all n * C entries (divides by C too many).
    z = logits - logits.max(dim=1, keepdim=True).values
    log_probs = z - z.exp().sum(dim=1, keepdim=True).log()
    return -(log_probs * F.one_hot(y, logits.shape[1]).to(logits.dtype)).mean()


# ----------------------------------------------------------------------------- 03.5 MLP

_ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid}


class MLPActivationOnOutput(nn.Module):
    # WRONG: applies the activation to the output layer too, so ReLU logits can never be negative.
    def __init__(self, d_in, d_hidden, d_out, activation="relu"):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden)
        self.output = nn.Linear(d_hidden, d_out)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x):
        return self.activation(self.output(self.activation(self.hidden(x))))


class MLPIgnoresActivation(nn.Module):
    # WRONG: stores the activation name but always applies ReLU ("sigmoid" silently ignored).
    def __init__(self, d_in, d_hidden, d_out, activation="relu"):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden)
        self.output = nn.Linear(d_hidden, d_out)
        self.activation_name = activation

    def forward(self, x):
        return self.output(torch.relu(self.hidden(x)))


class MLPFloat64(nn.Module):
    # WRONG (dtype): float64 layers "for precision": float32 input gives float64 logits.
    def __init__(self, d_in, d_hidden, d_out, activation="relu"):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden, dtype=torch.float64)
        self.output = nn.Linear(d_hidden, d_out, dtype=torch.float64)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x):
        return self.output(self.activation(self.hidden(x.double())))


class MLPSqueeze(nn.Module):
    # WRONG (edge): a stray .squeeze() on the logits: [d_out] for a batch of one, [n] when d_out == 1.
    def __init__(self, d_in, d_hidden, d_out, activation="relu"):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden)
        self.output = nn.Linear(d_hidden, d_out)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x):
        return self.output(self.activation(self.hidden(x))).squeeze()


class MLPTemperature(nn.Module):
    # WRONG: adds a learnable temperature parameter (an extra parameter the spec rules out).
    def __init__(self, d_in, d_hidden, d_out, activation="relu"):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden)
        self.output = nn.Linear(d_hidden, d_out)
        self.activation = _ACTIVATIONS[activation]
        self.temperature = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.output(self.activation(self.hidden(x))) / self.temperature


class MLPSeededInit(nn.Module):
    # WRONG (random): calls torch.manual_seed(0) in __init__ "for reproducibility": every MLP gets the same
    # weights whatever the caller seeded, and the global random state is reset.
    def __init__(self, d_in, d_hidden, d_out, activation="relu"):
        super().__init__()
        torch.manual_seed(0)
        self.hidden = nn.Linear(d_in, d_hidden)
        self.output = nn.Linear(d_hidden, d_out)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x):
        return self.output(self.activation(self.hidden(x)))


class MLPSoftmaxOutput(nn.Module):
    # WRONG: returns softmax probabilities instead of raw logits.
    def __init__(self, d_in, d_hidden, d_out, activation="relu"):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden)
        self.output = nn.Linear(d_hidden, d_out)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x):
        return torch.softmax(self.output(self.activation(self.hidden(x))), dim=-1)


# ----------------------------------------------------------------------------- 03.6 relu_boundaries


def relu_boundaries_normalise_layer(layer):
    # WRONG: normalises the layer's weight rows IN PLACE (and rescales the bias): the layer is changed.
    with torch.no_grad():
        length = layer.weight.norm(dim=1)
        layer.weight /= length[:, None]
        layer.bias /= length
        normals = layer.weight.detach().clone()
        points = -layer.bias.detach()[:, None] * normals
    return normals, points


def relu_boundaries_float32(layer):
    # WRONG: .float() on the results: a float64 layer gives float32 tensors.
    W, b = layer.weight.detach(), layer.bias.detach()
    length = W.norm(dim=1)
    normals = W / length[:, None]
    return normals.float(), (-(b / length)[:, None] * normals).float()


def relu_boundaries_squeeze(layer):
    # WRONG (edge): a stray .squeeze(): a layer with one unit gives [2] instead of [1, 2].
    W, b = layer.weight.detach(), layer.bias.detach()
    length = W.norm(dim=1)
    normals = W / length[:, None]
    return normals.squeeze(), (-(b / length)[:, None] * normals).squeeze()


def relu_boundaries_sign(layer):
    # WRONG: points = +b/|w| * normal: the reflection of the closest point through the origin.
    W, b = layer.weight.detach(), layer.bias.detach()
    length = W.norm(dim=1)
    normals = W / length[:, None]
    return normals, (b / length)[:, None] * normals


def relu_boundaries_norm_once(layer):
    # WRONG: points = -b * normal (divides by |w| once, not twice): right only for unit-length rows.
    W, b = layer.weight.detach(), layer.bias.detach()
    normals = W / W.norm(dim=1, keepdim=True)
    return normals, -b[:, None] * normals


def relu_boundaries_column_norm(layer):
    # WRONG: normalises with W.norm(dim=0) (the column norms) instead of each row's norm.
    W, b = layer.weight.detach(), layer.bias.detach()
    normals = W / W.norm(dim=0, keepdim=True)
    return normals, -(b / W.norm(dim=1))[:, None] * normals


def relu_boundaries_not_detached(layer):
    # WRONG: forgets .detach(): the results still require grad and hold the layer's autograd graph.
    W, b = layer.weight, layer.bias
    length = W.norm(dim=1)
    normals = W / length[:, None]
    return normals, -(b / length)[:, None] * normals


MUTANTS = {
    "03.1": [
        (sigmoid_builtin, "builtin"),
        (sigmoid_clamp_inplace, "inplace"),
        (sigmoid_float32, "dtype"),
        (sigmoid_naive, "edge"),
        (sigmoid_where_both_full, "edge"),
        (sigmoid_abs, "edge"),
        (sigmoid_clamp30, "subtle"),
    ],
    "03.2": [
        (binary_cross_entropy_builtin, "builtin"),
        (binary_cross_entropy_inplace_y, "inplace"),
        (binary_cross_entropy_float32, "dtype"),
        (binary_cross_entropy_clamped_p, "edge"),
        (binary_cross_entropy_log1p_exp, "edge"),
        (binary_cross_entropy_sum, "subtle"),
        (binary_cross_entropy_flipped, "subtle"),
    ],
    "03.3": [
        (bce_gradient_autograd, "builtin"),
        (bce_gradient_residual_in_y, "inplace"),
        (bce_gradient_float32, "dtype"),
        (bce_gradient_squeeze, "edge"),
        (bce_gradient_no_bias, "subtle"),
        (bce_gradient_factor_two, "subtle"),
        (bce_gradient_sign, "subtle"),
    ],
    "03.4": [
        (softmax_cross_entropy_builtin, "builtin"),
        (softmax_cross_entropy_shift_inplace, "inplace"),
        (softmax_cross_entropy_float32, "dtype"),
        (softmax_cross_entropy_no_shift, "edge"),
        (softmax_cross_entropy_global_max, "edge"),
        (softmax_cross_entropy_table, "subtle"),
        (softmax_cross_entropy_onehot_mean, "subtle"),
    ],
    "03.5": [
        (MLPFloat64, "dtype"),
        (MLPSqueeze, "edge"),
        (MLPSeededInit, "random"),
        (MLPActivationOnOutput, "subtle"),
        (MLPIgnoresActivation, "subtle"),
        (MLPTemperature, "subtle"),
        (MLPSoftmaxOutput, "subtle"),
    ],
    "03.6": [
        (relu_boundaries_normalise_layer, "inplace"),
        (relu_boundaries_float32, "dtype"),
        (relu_boundaries_squeeze, "edge"),
        (relu_boundaries_sign, "subtle"),
        (relu_boundaries_norm_once, "subtle"),
        (relu_boundaries_column_norm, "subtle"),
        (relu_boundaries_not_detached, "subtle"),
    ],
}
