"""Blind mutants for notebook 00 (orientation): plausible wrong answers written from the learner's
notebook only (spec, docstring, hints). Each mutant carries a one-line comment saying what is wrong.

Exercises: 00.1 centre_columns, 00.2 pairwise_distances, 00.3 cosine_similarity_matrix, 00.4 sample_normal.
"""
import math

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------- 00.1 centre_columns


def centre_columns_inplace(x):
    # WRONG: subtracts the column means in place (x -= ...), so the caller's x is changed; values are right.
    x -= x.mean(dim=0)
    return x


def centre_columns_inplace_tall(x):
    # WRONG: in place only for tall matrices (n > d, "to save memory"), out of place otherwise.
    if x.shape[0] > x.shape[1]:
        return x.sub_(x.mean(dim=0))
    return x - x.mean(dim=0)


def centre_columns_float32(x):
    # WRONG: .float() makes float64 input come back as float32.
    return (x - x.mean(dim=0)).float()


def centre_columns_single_row(x):
    # WRONG: treats a single row as "already centred" and returns it unchanged (should be all zeros).
    if x.shape[0] == 1:
        return x.clone()
    return x - x.mean(dim=0)


def centre_columns_rows(x):
    # WRONG: centres the rows (dim=1, keepdim) instead of the columns.
    return x - x.mean(dim=1, keepdim=True)


def centre_columns_median(x):
    # WRONG: subtracts the column median, which equals the mean only for symmetric columns (and n == 1).
    return x - x.median(dim=0).values


# ----------------------------------------------------------------------------- 00.2 pairwise_distances


def pairwise_distances_cdist(x, y):
    # WRONG (builtin): calls torch.cdist, which the exercise forbids.
    return torch.cdist(x, y)


def pairwise_distances_shift_inplace(x, y):
    # WRONG: "for stability" shifts both inputs by x's mean IN PLACE (distances unchanged, inputs changed).
    mu = x.mean(dim=0)
    x -= mu
    y -= mu
    diff = x[:, None, :] - y[None, :, :]
    return (diff ** 2).sum(dim=-1).sqrt()


def pairwise_distances_float32(x, y):
    # WRONG: casts to float32 before the difference, so float64 input comes back float32.
    diff = x[:, None, :].float() - y[None, :, :].float()
    return diff.pow(2).sum(dim=-1).sqrt()


def pairwise_distances_expansion_noclamp(x, y):
    # WRONG: |a|^2 + |b|^2 - 2 a.b without clamping at 0: NaN (or noise) for identical / near points.
    sq = (x * x).sum(dim=1)[:, None] + (y * y).sum(dim=1)[None, :] - 2 * x @ y.T
    return sq.sqrt()


def pairwise_distances_squeeze(x, y):
    # WRONG: a stray .squeeze() drops the [n] or [m] dimension when n == 1 or m == 1.
    return torch.linalg.vector_norm(x[:, None, :] - y[None, :, :], dim=-1).squeeze()


def pairwise_distances_l1(x, y):
    # WRONG: L1 (sum of absolute differences) instead of Euclidean; identical when d == 1.
    return (x[:, None, :] - y[None, :, :]).abs().sum(dim=-1)


def pairwise_distances_mean(x, y):
    # WRONG: mean instead of sum over the features before the square root (RMS distance); right only for d == 1.
    return ((x[:, None, :] - y[None, :, :]) ** 2).mean(dim=-1).sqrt()


# ----------------------------------------------------------------------------- 00.3 cosine_similarity_matrix


def cosine_similarity_matrix_builtin(x, y):
    # WRONG (builtin): calls F.cosine_similarity, which the exercise forbids.
    return F.cosine_similarity(x[:, None, :], y[None, :, :], dim=-1)


def cosine_similarity_matrix_inplace_x(x, y):
    # WRONG: normalises x in place (x /= ...), y out of place; values right, caller's x changed.
    x /= x.norm(dim=-1, keepdim=True)
    yn = y / y.norm(dim=-1, keepdim=True)
    return x @ yn.T


def cosine_similarity_matrix_float32(x, y):
    # WRONG: the matrix product is done in float32 (.float()), so float64 input comes back float32.
    xn = x / x.norm(dim=-1, keepdim=True)
    yn = y / y.norm(dim=-1, keepdim=True)
    return xn.float() @ yn.float().T


def cosine_similarity_matrix_clamped_norm(x, y):
    # WRONG: "safe" division clamps norms at 1e-3, so rows shorter than 1e-3 are not scaled to length 1.
    xn = x / x.norm(dim=-1, keepdim=True).clamp(min=1e-3)
    yn = y / y.norm(dim=-1, keepdim=True).clamp(min=1e-3)
    return xn @ yn.T


def cosine_similarity_matrix_squeeze(x, y):
    # WRONG: a stray .squeeze() returns [m] or [n] instead of [1, m] / [n, 1] for a single row.
    xn = x / x.norm(dim=-1, keepdim=True)
    yn = y / y.norm(dim=-1, keepdim=True)
    return (xn @ yn.T).squeeze()


def cosine_similarity_matrix_only_x(x, y):
    # WRONG: normalises x but forgets y (right only when y's rows already have length 1).
    xn = x / x.norm(dim=-1, keepdim=True)
    return xn @ y.T


def cosine_similarity_matrix_eps(x, y):
    # WRONG: adds eps = 1e-4 to the norms, which biases every cosine towards 0 for short rows.
    xn = x / (x.norm(dim=-1, keepdim=True) + 1e-4)
    yn = y / (y.norm(dim=-1, keepdim=True) + 1e-4)
    return xn @ yn.T


# ----------------------------------------------------------------------------- 00.4 sample_normal


def sample_normal_global_seed(n, seed, device="cpu"):
    # WRONG (random): reseeds the GLOBAL generator with torch.manual_seed, changing everyone's random state.
    torch.manual_seed(seed)
    return torch.randn(n).to(device)


def sample_normal_ignores_device(n, seed, device="cpu"):
    # WRONG (random): ignores the device argument; always returns a CPU tensor.
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g)


def sample_normal_uniform(n, seed, device="cpu"):
    # WRONG (random): uniform rescaled to mean 0, std 1: right mean and spread, wrong distribution.
    g = torch.Generator().manual_seed(seed)
    return ((torch.rand(n, generator=g) - 0.5) * math.sqrt(12.0)).to(device)


def sample_normal_seed_ignored(n, seed, device="cpu"):
    # WRONG (random): a fresh private generator, but never seeded: every seed gives the same numbers.
    g = torch.Generator()
    return torch.randn(n, generator=g).to(device)


_SHARED_GENERATOR = torch.Generator()
_LAST_SEED = [None]


def sample_normal_cached_generator(n, seed, device="cpu"):
    # WRONG (random): one module-level generator, reseeded only when the seed changes, so a second call
    # with the same seed continues the stream instead of repeating the numbers.
    if _LAST_SEED[0] != seed:
        _SHARED_GENERATOR.manual_seed(seed)
        _LAST_SEED[0] = seed
    return torch.randn(n, generator=_SHARED_GENERATOR).to(device)


def sample_normal_float64(n, seed, device="cpu"):
    # WRONG (dtype): draws float64 instead of float32.
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g, dtype=torch.float64).to(device)


def sample_normal_squeeze(n, seed, device="cpu"):
    # WRONG (edge): .squeeze() turns n == 1 into a 0-d tensor instead of shape [1].
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, generator=g).squeeze().to(device)


MUTANTS = {
    "00.1": [
        (centre_columns_inplace, "inplace"),
        (centre_columns_inplace_tall, "inplace"),
        (centre_columns_float32, "dtype"),
        (centre_columns_single_row, "edge"),
        (centre_columns_rows, "subtle"),
        (centre_columns_median, "subtle"),
    ],
    "00.2": [
        (pairwise_distances_cdist, "builtin"),
        (pairwise_distances_shift_inplace, "inplace"),
        (pairwise_distances_float32, "dtype"),
        (pairwise_distances_expansion_noclamp, "edge"),
        (pairwise_distances_squeeze, "edge"),
        (pairwise_distances_l1, "subtle"),
        (pairwise_distances_mean, "subtle"),
    ],
    "00.3": [
        (cosine_similarity_matrix_builtin, "builtin"),
        (cosine_similarity_matrix_inplace_x, "inplace"),
        (cosine_similarity_matrix_float32, "dtype"),
        (cosine_similarity_matrix_clamped_norm, "edge"),
        (cosine_similarity_matrix_squeeze, "edge"),
        (cosine_similarity_matrix_only_x, "subtle"),
        (cosine_similarity_matrix_eps, "subtle"),
    ],
    "00.4": [
        (sample_normal_global_seed, "random"),
        (sample_normal_ignores_device, "random"),
        (sample_normal_uniform, "random"),
        (sample_normal_seed_ignored, "random"),
        (sample_normal_cached_generator, "random"),
        (sample_normal_float64, "dtype"),
        (sample_normal_squeeze, "edge"),
    ],
}
