"""Plausible wrong answers to notebook 03 (logistic regression and MLP); every one must fail its check."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------- 03.1 sigmoid


def sigmoid_naive(z):
    # right values everywhere (exp(1000) = inf gives 1 / inf = 0), but backward is 0 × inf = NaN
    return 1 / (1 + torch.exp(-z))


def sigmoid_where_with_overflowing_branches(z):
    # the values are stable, but torch.where differentiates the branch it did not pick too
    return torch.where(z >= 0, 1 / (1 + torch.exp(-z)), torch.exp(z) / (1 + torch.exp(z)))


def sigmoid_from_tanh_without_halving(z):
    return 0.5 * (1 + torch.tanh(z))


def sigmoid_with_sign_error(z):
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, e / (1 + e), 1 / (1 + e))


def sigmoid_of_exp_ratio(z):
    # e^z / (1 + e^z): inf / inf = NaN for large positive z
    return torch.exp(z) / (1 + torch.exp(z))


# ---------------------------------------------------------------- 03.2 binary_cross_entropy


def bce_summed(logits, y):
    return (F.softplus(logits) - y * logits).sum()


def bce_through_log_of_probabilities(logits, y):
    p = torch.sigmoid(logits)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def bce_with_clamped_probabilities(logits, y):
    p = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def bce_treating_probabilities_as_logits(logits, y):
    return F.binary_cross_entropy_with_logits(torch.sigmoid(logits), y)


def bce_with_labels_swapped(logits, y):
    return (F.softplus(logits) - (1 - y) * logits).mean()


# ---------------------------------------------------------------- 03.3 bce_gradient


def bce_gradient_summed(w, b, X, y):
    r = torch.sigmoid(X @ w + b) - y
    return X.T @ r, r.sum()


def bce_gradient_with_sign_error(w, b, X, y):
    r = y - torch.sigmoid(X @ w + b)
    return X.T @ r / len(y), r.mean()


def bce_gradient_forgetting_the_bias(w, b, X, y):
    r = torch.sigmoid(X @ w) - y
    return X.T @ r / len(y), r.mean()


def bce_gradient_without_sigmoid(w, b, X, y):
    # the residual of linear regression: logits used as if they were probabilities
    r = X @ w + b - y
    return X.T @ r / len(y), r.mean()


def bce_gradient_with_zero_bias_gradient(w, b, X, y):
    r = torch.sigmoid(X @ w + b) - y
    return X.T @ r / len(y), torch.zeros((), dtype=X.dtype)


# ---------------------------------------------------------------- 03.4 softmax_cross_entropy


def cross_entropy_without_max_shift(logits, y):
    log_probs = logits - logits.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[torch.arange(len(y)), y].mean()


def cross_entropy_normalised_over_the_batch(logits, y):
    shifted = logits - logits.max(dim=0, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=0, keepdim=True).log()
    return -log_probs[torch.arange(len(y)), y].mean()


def cross_entropy_averaged_over_classes(logits, y):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.mean()


def cross_entropy_indexing_columns_only(logits, y):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[:, y].mean()


# ---------------------------------------------------------------- 03.5 MLP


class MLPWithoutNonlinearity(nn.Module):
    def __init__(self, d_in, d_hidden, d_out, activation="relu"):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden)
        self.output = nn.Linear(d_hidden, d_out)

    def forward(self, x):
        return self.output(self.hidden(x))


class MLPWithActivationAfterOutput(nn.Module):
    def __init__(self, d_in, d_hidden, d_out, activation="relu"):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden)
        self.output = nn.Linear(d_hidden, d_out)
        self.act = torch.relu if activation == "relu" else torch.sigmoid

    def forward(self, x):
        return self.act(self.output(self.act(self.hidden(x))))


class MLPWithHiddenLayerOfSizeDIn(nn.Module):
    def __init__(self, d_in, d_hidden, d_out, activation="relu"):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_in)
        self.output = nn.Linear(d_in, d_out)
        self.act = torch.relu if activation == "relu" else torch.sigmoid

    def forward(self, x):
        return self.output(self.act(self.hidden(x)))


class MLPIgnoringTheActivationArgument(nn.Module):
    def __init__(self, d_in, d_hidden, d_out, activation="relu"):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden)
        self.output = nn.Linear(d_hidden, d_out)

    def forward(self, x):
        return self.output(torch.relu(self.hidden(x)))


class MLPWithExtraLayer(nn.Module):
    def __init__(self, d_in, d_hidden, d_out, activation="relu"):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden)
        self.middle = nn.Linear(d_hidden, d_hidden)
        self.output = nn.Linear(d_hidden, d_out)
        self.act = torch.relu if activation == "relu" else torch.sigmoid

    def forward(self, x):
        return self.output(self.act(self.middle(self.act(self.hidden(x)))))


# ---------------------------------------------------------------- 03.6 relu_boundaries


def boundaries_from_transposed_weight(layer):
    W, b = layer.weight.detach().T, layer.bias.detach()
    normals = W / W.norm(dim=1, keepdim=True)
    return normals, -(b / W.norm(dim=1))[:, None] * normals


def boundaries_with_normals_to_the_inactive_side(layer):
    W, b = layer.weight.detach(), layer.bias.detach()
    normals = -W / W.norm(dim=1, keepdim=True)
    return normals, (b / W.norm(dim=1))[:, None] * normals


def boundaries_with_sign_error_in_the_points(layer):
    W, b = layer.weight.detach(), layer.bias.detach()
    normals = W / W.norm(dim=1, keepdim=True)
    return normals, (b / W.norm(dim=1))[:, None] * normals


def boundaries_without_the_bias(layer):
    W = layer.weight.detach()
    normals = W / W.norm(dim=1, keepdim=True)
    return normals, torch.zeros_like(normals)


def boundaries_forgetting_to_divide_by_the_length(layer):
    W, b = layer.weight.detach(), layer.bias.detach()
    normals = W / W.norm(dim=1, keepdim=True)
    return normals, -b[:, None] * normals


def boundaries_dividing_by_the_length_twice(layer):
    W, b = layer.weight.detach(), layer.bias.detach()
    normals = W / W.norm(dim=1, keepdim=True)
    return normals, -(b / W.norm(dim=1) ** 2)[:, None] * normals


MUTANTS = {
    "03.1": [sigmoid_naive, sigmoid_where_with_overflowing_branches, sigmoid_from_tanh_without_halving,
             sigmoid_with_sign_error, sigmoid_of_exp_ratio],
    "03.2": [bce_summed, bce_through_log_of_probabilities, bce_with_clamped_probabilities,
             bce_treating_probabilities_as_logits, bce_with_labels_swapped],
    "03.3": [bce_gradient_summed, bce_gradient_with_sign_error, bce_gradient_forgetting_the_bias,
             bce_gradient_without_sigmoid, bce_gradient_with_zero_bias_gradient],
    "03.4": [cross_entropy_without_max_shift, cross_entropy_normalised_over_the_batch,
             cross_entropy_averaged_over_classes, cross_entropy_indexing_columns_only],
    "03.5": [MLPWithoutNonlinearity, MLPWithActivationAfterOutput, MLPWithHiddenLayerOfSizeDIn,
             MLPIgnoringTheActivationArgument, MLPWithExtraLayer],
    "03.6": [boundaries_from_transposed_weight, boundaries_with_normals_to_the_inactive_side,
             boundaries_with_sign_error_in_the_points, boundaries_without_the_bias,
             boundaries_forgetting_to_divide_by_the_length, boundaries_dividing_by_the_length_twice],
}
