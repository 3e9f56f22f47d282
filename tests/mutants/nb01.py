"""Plausible wrong answers to notebook 01 (linear algebra); every one must fail its check."""
from __future__ import annotations

import torch

# ---------------------------------------------------------------- 01.1 project_onto


def project_assuming_unit_direction(x, v):
    return (x @ v)[:, None] * v


def project_dividing_by_norm_not_squared_norm(x, v):
    return (x @ v / v.norm())[:, None] * v


def project_returning_coefficients(x, v):
    return x @ v / (v @ v)


def project_onto_the_orthogonal_complement(x, v):
    return x - (x @ v / (v @ v))[:, None] * v


# ---------------------------------------------------------------- 01.2 gram_schmidt


def gram_schmidt_without_normalising(A):
    Q = torch.zeros_like(A)
    for j in range(A.shape[1]):
        q = A[:, j].clone()
        for i in range(j):
            q = q - (Q[:, i] @ A[:, j]) / (Q[:, i] @ Q[:, i]) * Q[:, i]
        Q[:, j] = q
    return Q


def gram_schmidt_projecting_on_original_columns(A):
    Q = torch.zeros_like(A)
    for j in range(A.shape[1]):
        q = A[:, j].clone()
        for i in range(j):
            a = A[:, i]
            q = q - (a @ A[:, j]) / (a @ a) * a
        Q[:, j] = q / q.norm()
    return Q


def gram_schmidt_orthogonalising_rows(A):
    Q = torch.zeros_like(A)
    for j in range(A.shape[0]):
        q = A[j].clone()
        for i in range(j):
            q = q - (Q[i] @ q) * Q[i]
        Q[j] = q / q.norm()
    return Q


def gram_schmidt_in_reverse_column_order(A):
    Q = torch.zeros_like(A)
    for j in reversed(range(A.shape[1])):
        q = A[:, j].clone()
        for i in range(j + 1, A.shape[1]):
            q = q - (Q[:, i] @ q) * Q[:, i]
        Q[:, j] = q / q.norm()
    return Q


# ---------------------------------------------------------------- 01.3 change_of_basis


def coordinates_as_x_times_B(x, B):
    return x @ B


def coordinates_as_dot_products_with_basis_vectors(x, B):
    return x @ B.T


def coordinates_solving_with_B_transposed(x, B):
    return torch.linalg.solve(B.T, x.T).T


# ---------------------------------------------------------------- 01.4 low_rank_approx


def low_rank_keeping_smallest_singular_values(A, k):
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    return U[:, -k:] @ torch.diag(S[-k:]) @ Vh[-k:]


def low_rank_keeping_one_too_many(A, k):
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    return U[:, :k + 1] @ torch.diag(S[:k + 1]) @ Vh[:k + 1]


def low_rank_keeping_one_too_few(A, k):
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    return U[:, :k - 1] @ torch.diag(S[:k - 1]) @ Vh[:k - 1]


def low_rank_forgetting_singular_values(A, k):
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    return U[:, :k] @ Vh[:k]


# ---------------------------------------------------------------- 01.5 pca


def pca_without_centring(X, k):
    U, S, Vh = torch.linalg.svd(X, full_matrices=False)
    return Vh[:k], S[:k] ** 2 / (X.shape[0] - 1)


def pca_returning_columns_of_U(X, k):
    Xc = X - X.mean(dim=0)
    U, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    return U[:, :k].T, S[:k] ** 2 / (X.shape[0] - 1)


def pca_with_components_as_columns(X, k):
    Xc = X - X.mean(dim=0)
    U, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    return Vh[:k].T, S[:k] ** 2 / (X.shape[0] - 1)


def pca_with_full_square_transposed_components(X, k):
    Xc = X - X.mean(dim=0)
    U, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    return Vh.T[:k], S[:k] ** 2 / (X.shape[0] - 1)


def pca_returning_singular_values(X, k):
    Xc = X - X.mean(dim=0)
    U, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    return Vh[:k], S[:k]


def pca_with_biased_variance(X, k):
    Xc = X - X.mean(dim=0)
    U, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    return Vh[:k], S[:k] ** 2 / X.shape[0]


# ---------------------------------------------------------------- 01.6 max_interference


def interference_including_the_diagonal(V):
    U = V / V.norm(dim=1, keepdim=True)
    return (U @ U.T).abs().max().item()


def interference_without_absolute_value(V):
    U = V / V.norm(dim=1, keepdim=True)
    cos = U @ U.T
    cos.fill_diagonal_(-1.0)
    return cos.max().item()


def interference_without_normalising(V):
    dots = (V @ V.T).abs()
    dots.fill_diagonal_(0.0)
    return dots.max().item()


def interference_as_mean_not_max(V):
    U = V / V.norm(dim=1, keepdim=True)
    cos = (U @ U.T).abs()
    n = len(V)
    return ((cos.sum() - cos.diagonal().sum()) / (n * (n - 1))).item()


MUTANTS = {
    "01.1": [project_assuming_unit_direction, project_dividing_by_norm_not_squared_norm,
             project_returning_coefficients, project_onto_the_orthogonal_complement],
    "01.2": [gram_schmidt_without_normalising, gram_schmidt_projecting_on_original_columns,
             gram_schmidt_orthogonalising_rows, gram_schmidt_in_reverse_column_order],
    "01.3": [coordinates_as_x_times_B, coordinates_as_dot_products_with_basis_vectors,
             coordinates_solving_with_B_transposed],
    "01.4": [low_rank_keeping_smallest_singular_values, low_rank_keeping_one_too_many,
             low_rank_keeping_one_too_few, low_rank_forgetting_singular_values],
    "01.5": [pca_without_centring, pca_returning_columns_of_U, pca_with_components_as_columns,
             pca_with_full_square_transposed_components, pca_returning_singular_values,
             pca_with_biased_variance],
    "01.6": [interference_including_the_diagonal, interference_without_absolute_value,
             interference_without_normalising, interference_as_mean_not_max],
}
