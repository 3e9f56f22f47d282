"""Plausible wrong answers to notebook 00; the check of each exercise must reject every one."""
from __future__ import annotations

import numpy as np
import torch


# ---------------------------------------------------------------- 00.1 centre_columns

def subtracts_row_means(x):
    return x - x.mean(dim=1, keepdim=True)  # wrong axis, shapes made to fit


def subtracts_row_means_without_keepdim(x):
    return x - x.mean(dim=1)  # wrong axis: fails to broadcast, or silently wrong if square


def subtracts_the_global_mean(x):
    return x - x.mean()  # one number for the whole matrix


def standardises_columns(x):
    return (x - x.mean(dim=0)) / x.std(dim=0)  # z-scores, not centring


def centres_in_place(x):
    x -= x.mean(dim=0)  # right numbers, but the caller's tensor is overwritten
    return x


# ---------------------------------------------------------------- 00.2 pairwise_distances

def squared_distances(x, y):
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(dim=-1)  # forgot the square root


def transposed_distances(x, y):
    return ((y[:, None, :] - x[None, :, :]) ** 2).sum(dim=-1).sqrt()  # [m, n], not [n, m]


def manhattan_distances(x, y):
    return (x[:, None, :] - y[None, :, :]).abs().sum(dim=-1)  # L1, not Euclidean


def norm_over_the_points_axis(x, y):
    return (x[:, None, :] - y[None, :, :]).norm(dim=1)  # reduces over m, not over d


def distances_in_float32(x, y):
    x, y = x.float(), y.float()  # silently drops float64 precision
    return (x[:, None, :] - y[None, :, :]).norm(dim=-1)


# ---------------------------------------------------------------- 00.3 cosine_similarity_matrix

def dot_products_without_normalising(x, y):
    return x @ y.T


def normalises_columns_not_rows(x, y):
    return (x / x.norm(dim=0, keepdim=True)) @ (y / y.norm(dim=0, keepdim=True)).T


def normalises_only_x(x, y):
    return (x / x.norm(dim=-1, keepdim=True)) @ y.T


def norm_without_keepdim(x, y):
    # [n, d] / [n] broadcasts along the wrong axis (or fails when n != d)
    return (x / x.norm(dim=-1)) @ (y / y.norm(dim=-1)).T


def transposed_similarities(x, y):
    return (y / y.norm(dim=-1, keepdim=True)) @ (x / x.norm(dim=-1, keepdim=True)).T


def pearson_correlation(x, y):
    # centres each vector first: correlation, not cosine
    xc, yc = x - x.mean(dim=-1, keepdim=True), y - y.mean(dim=-1, keepdim=True)
    return (xc / xc.norm(dim=-1, keepdim=True)) @ (yc / yc.norm(dim=-1, keepdim=True)).T


# ---------------------------------------------------------------- 00.4 sample_normal

def seeds_the_global_rng(n, seed, device):
    torch.manual_seed(seed)  # reproducible, but resets the stream every other cell shares
    return torch.randn(n, device=device)


_SHARED = torch.Generator().manual_seed(0)


def shares_one_generator_across_calls(n, seed, device):
    return torch.randn(n, generator=_SHARED).to(device)  # seeded once: the same seed differs next call


def ignores_the_seed(n, seed, device):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, generator=g).to(device)


def draws_uniform_not_normal(n, seed, device):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, generator=g).to(device)


def standardised_uniform(n, seed, device):
    g = torch.Generator().manual_seed(seed)
    return ((torch.rand(n, generator=g) - 0.5) * 12 ** 0.5).to(device)  # mean 0, std 1, flat


def ignores_the_device(n, seed, device):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g)


def numpy_float64(n, seed, device):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(n)).to(device)


def returns_a_column(n, seed, device):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, generator=g).to(device)


MUTANTS = {
    "00.1": [subtracts_row_means, subtracts_row_means_without_keepdim, subtracts_the_global_mean,
             standardises_columns, centres_in_place],
    "00.2": [squared_distances, transposed_distances, manhattan_distances, norm_over_the_points_axis,
             distances_in_float32],
    "00.3": [dot_products_without_normalising, normalises_columns_not_rows, normalises_only_x,
             norm_without_keepdim, transposed_similarities, pearson_correlation],
    "00.4": [seeds_the_global_rng, shares_one_generator_across_calls, ignores_the_seed,
             draws_uniform_not_normal, standardised_uniform, ignores_the_device, numpy_float64,
             returns_a_column],
}
