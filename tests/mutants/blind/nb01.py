"""Blind mutants for notebook 01 (linear algebra): plausible wrong answers written from the learner's
notebook only. Each mutant carries a one-line comment saying what is wrong.

Exercises: 01.1 project_onto, 01.2 gram_schmidt, 01.3 change_of_basis, 01.4 low_rank_approx, 01.5 pca,
01.6 max_interference.
"""
import torch
from sklearn.decomposition import PCA

# ----------------------------------------------------------------------------- 01.1 project_onto


def project_onto_norm_once(x, v):
    # WRONG: divides by |v| instead of |v|^2 (right only for a unit v).
    return ((x @ v) / v.norm())[:, None] * v


def project_onto_normalise_inplace(x, v):
    # WRONG: normalises v in place (v /= |v|) before projecting; values right, caller's v changed.
    v /= v.norm()
    return (x @ v)[:, None] * v


def project_onto_float32(x, v):
    # WRONG: ends with .float(), so float64 input comes back float32.
    return torch.outer((x @ v) / (v @ v), v).float()


def project_onto_squeeze(x, v):
    # WRONG: a stray .squeeze() returns [d] instead of [1, d] for a single row.
    return torch.outer((x @ v) / (v @ v), v).squeeze()


def project_onto_abs(x, v):
    # WRONG: uses |x . v| ("amount of v") as the coefficient, so points on the far side land on +v's side.
    return ((x @ v).abs() / (v @ v))[:, None] * v


# ----------------------------------------------------------------------------- 01.2 gram_schmidt


def gram_schmidt_qr(A):
    # WRONG (builtin): torch.linalg.qr with the signs fixed so that R has a positive diagonal.
    Q, R = torch.linalg.qr(A)
    return Q * torch.sign(torch.diagonal(R))


def gram_schmidt_column_view(A):
    # WRONG: takes A[:, j] without .clone() and subtracts in place, so A is overwritten; Q is right.
    d, k = A.shape
    Q = torch.zeros_like(A)
    for j in range(k):
        a = A[:, j]
        for i in range(j):
            a -= (Q[:, i] @ a) * Q[:, i]
        Q[:, j] = a / a.norm()
    return Q


def gram_schmidt_float32(A):
    # WRONG: Q starts as torch.zeros(d, k) (float32), so float64 input comes back float32.
    d, k = A.shape
    Q = torch.zeros(d, k)
    for j in range(k):
        a = A[:, j].clone().float()
        for i in range(j):
            a = a - (Q[:, i] @ a) * Q[:, i]
        Q[:, j] = a / a.norm()
    return Q


def gram_schmidt_original_columns(A):
    # WRONG: subtracts projections onto the normalised ORIGINAL columns a_i/|a_i| instead of the q_i
    # (identical for k <= 2, wrong from the third column on).
    d, k = A.shape
    Q = torch.zeros_like(A)
    for j in range(k):
        a = A[:, j].clone()
        for i in range(j):
            u = A[:, i] / A[:, i].norm()
            a = a - (u @ A[:, j]) * u
        Q[:, j] = a / a.norm()
    return Q


def gram_schmidt_stack_squeeze(A):
    # WRONG (edge): builds a list and stacks it with .squeeze(-1): k == 1 returns [d] instead of [d, 1].
    qs = []
    for j in range(A.shape[1]):
        a = A[:, j].clone()
        for q in qs:
            a = a - (q @ a) * q
        qs.append(a / a.norm())
    return torch.stack(qs, dim=1).squeeze(-1)


def gram_schmidt_positive_first(A):
    # WRONG: flips each q so that its first entry is positive ("a canonical sign"): q_1 may point against a_1.
    d, k = A.shape
    Q = torch.zeros_like(A)
    for j in range(k):
        a = A[:, j].clone()
        for i in range(j):
            a = a - (Q[:, i] @ a) * Q[:, i]
        q = a / a.norm()
        Q[:, j] = q * (1.0 if q[0] >= 0 else -1.0)
    return Q


# ----------------------------------------------------------------------------- 01.3 change_of_basis


def change_of_basis_dot_products(x, B):
    # WRONG: dot products with the basis vectors, x @ B: right only for an orthonormal B.
    return x @ B


def change_of_basis_transposed_solve(x, B):
    # WRONG: solves B^T c = x (transposes B instead of the points): right only for a symmetric B.
    return torch.linalg.solve(B.T, x.T).T


def change_of_basis_inv_right(x, B):
    # WRONG: x @ inv(B) instead of x @ inv(B)^T: right only for a symmetric B.
    return x @ torch.linalg.inv(B)


def change_of_basis_out_into_x(x, B):
    # WRONG: writes the solution into x's own storage (out=x.T) "to avoid a copy": the caller's x is overwritten.
    torch.linalg.solve(B, x.T.clone(), out=x.T)
    return x


def change_of_basis_float32(x, B):
    # WRONG: solves in float32 (.float()), so float64 input comes back float32 and loses precision.
    return torch.linalg.solve(B.float(), x.T.float()).T


def change_of_basis_squeeze(x, B):
    # WRONG: a stray .squeeze() returns [d] instead of [1, d] for a single point.
    return torch.linalg.solve(B, x.T).T.squeeze()


# ----------------------------------------------------------------------------- 01.4 low_rank_approx


def low_rank_approx_svd_lowrank(A, k):
    # WRONG (builtin): torch.svd_lowrank, a randomised approximate SVD (drawing from the global RNG).
    U, S, V = torch.svd_lowrank(A, q=k)
    return (U * S) @ V.T


def low_rank_approx_inplace(A, k):
    # WRONG: subtracts the dropped components from A IN PLACE and returns A (values right, caller's A changed).
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    A -= (U[:, k:] * S[k:]) @ Vh[k:]
    return A


def low_rank_approx_float32(A, k):
    # WRONG: the SVD is taken of A.float(), so float64 input comes back float32.
    U, S, Vh = torch.linalg.svd(A.float(), full_matrices=False)
    return (U[:, :k] * S[:k]) @ Vh[:k]


def low_rank_approx_eig_route(A, k):
    # WRONG (edge): U and S from eigh(A A^T), V = A^T U / S: NaN/garbage when A has rank < k (S_i = 0).
    evals, evecs = torch.linalg.eigh(A @ A.T)
    order = torch.argsort(evals, descending=True)[:k]
    S = evals[order].clamp(min=0).sqrt()
    U = evecs[:, order]
    V = (A.T @ U) / S
    return (U * S) @ V.T


def low_rank_approx_eigh_ascending(A, k):
    # WRONG: eigenvectors of A^T A from eigh, which sorts ASCENDING: keeps the k smallest directions.
    _, V = torch.linalg.eigh(A.T @ A)
    Vk = V[:, :k]
    return A @ Vk @ Vk.T


def low_rank_approx_off_by_one(A, k):
    # WRONG: off by one, keeps k + 1 terms ("indices 0 to k"); right only when k == min(m, n).
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    kk = min(k + 1, S.numel())
    return (U[:, :kk] * S[:kk]) @ Vh[:kk]


# ----------------------------------------------------------------------------- 01.5 pca


def pca_sklearn(X, k):
    # WRONG (builtin): sklearn's PCA instead of the centred SVD.
    model = PCA(n_components=k).fit(X.detach().cpu().numpy())
    return (torch.as_tensor(model.components_, dtype=X.dtype),
            torch.as_tensor(model.explained_variance_, dtype=X.dtype))


def pca_centre_inplace(X, k):
    # WRONG: centres X in place (X -= mean), changing the caller's tensor; results right.
    X -= X.mean(dim=0)
    _, S, Vh = torch.linalg.svd(X, full_matrices=False)
    return Vh[:k], S[:k] ** 2 / (X.shape[0] - 1)


def pca_float32(X, k):
    # WRONG: the SVD runs on Xc.float(): float64 input comes back float32.
    Xc = (X - X.mean(dim=0)).float()
    _, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    return Vh[:k], S[:k] ** 2 / (X.shape[0] - 1)


def pca_biased(X, k):
    # WRONG: biased variance S^2 / n instead of S^2 / (n - 1).
    Xc = X - X.mean(dim=0)
    _, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    return Vh[:k], S[:k] ** 2 / X.shape[0]


def pca_not_centred(X, k):
    # WRONG: forgets to centre (right only for data whose columns already have mean 0).
    _, S, Vh = torch.linalg.svd(X, full_matrices=False)
    return Vh[:k], S[:k] ** 2 / (X.shape[0] - 1)


def pca_eigh_unsorted(X, k):
    # WRONG: eigh of the covariance, takes the last k eigenpairs but forgets that eigh sorts ascending:
    # right components, increasing order.
    evals, evecs = torch.linalg.eigh(torch.cov(X.T))
    return evecs[:, -k:].T, evals[-k:]


def pca_squeeze(X, k):
    # WRONG (edge): .squeeze() returns [d] and a 0-d tensor for k == 1 instead of [1, d] and [1].
    Xc = X - X.mean(dim=0)
    _, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    return Vh[:k].squeeze(), (S[:k] ** 2 / (X.shape[0] - 1)).squeeze()


# ----------------------------------------------------------------------------- 01.6 max_interference


def max_interference_inplace(V):
    # WRONG: normalises V in place (V /= norms): right value, caller's V changed.
    V /= V.norm(dim=1, keepdim=True)
    C = (V @ V.T).abs()
    C.fill_diagonal_(0)
    return C.max().item()


def max_interference_float32(V):
    # WRONG: computed in float32 (.float()), losing precision on float64 input.
    U = V.float() / V.float().norm(dim=1, keepdim=True)
    C = (U @ U.T).abs()
    C.fill_diagonal_(0)
    return C.max().item()


def max_interference_mask_ones(V):
    # WRONG: removes the diagonal by zeroing every |cos| close to 1, so parallel or repeated rows are missed.
    U = V / V.norm(dim=1, keepdim=True)
    C = (U @ U.T).abs()
    C[C > 1 - 1e-6] = 0
    return C.max().item()


def max_interference_no_abs(V):
    # WRONG: largest signed cosine, forgets .abs(): misses strongly anti-parallel pairs.
    U = V / V.norm(dim=1, keepdim=True)
    C = U @ U.T
    C.fill_diagonal_(-1.0)
    return C.max().item()


def max_interference_column_norms(V):
    # WRONG: normalises the columns (norm over dim=0) instead of the rows, so the cosines are off.
    U = V / V.norm(dim=0, keepdim=True)
    C = (U @ U.T).abs()
    C.fill_diagonal_(0)
    return C.max().item()


MUTANTS = {
    "01.1": [
        (project_onto_norm_once, "subtle"),
        (project_onto_normalise_inplace, "inplace"),
        (project_onto_float32, "dtype"),
        (project_onto_squeeze, "edge"),
        (project_onto_abs, "subtle"),
    ],
    "01.2": [
        (gram_schmidt_qr, "builtin"),
        (gram_schmidt_column_view, "inplace"),
        (gram_schmidt_float32, "dtype"),
        (gram_schmidt_stack_squeeze, "edge"),
        (gram_schmidt_original_columns, "subtle"),
        (gram_schmidt_positive_first, "subtle"),
    ],
    "01.3": [
        (change_of_basis_dot_products, "subtle"),
        (change_of_basis_transposed_solve, "subtle"),
        (change_of_basis_inv_right, "subtle"),
        (change_of_basis_out_into_x, "inplace"),
        (change_of_basis_float32, "dtype"),
        (change_of_basis_squeeze, "edge"),
    ],
    "01.4": [
        (low_rank_approx_svd_lowrank, "builtin"),
        (low_rank_approx_inplace, "inplace"),
        (low_rank_approx_float32, "dtype"),
        (low_rank_approx_eig_route, "edge"),
        (low_rank_approx_eigh_ascending, "subtle"),
        (low_rank_approx_off_by_one, "subtle"),
    ],
    "01.5": [
        (pca_sklearn, "builtin"),
        (pca_centre_inplace, "inplace"),
        (pca_float32, "dtype"),
        (pca_squeeze, "edge"),
        (pca_biased, "subtle"),
        (pca_not_centred, "subtle"),
        (pca_eigh_unsorted, "subtle"),
    ],
    "01.6": [
        (max_interference_inplace, "inplace"),
        (max_interference_float32, "dtype"),
        (max_interference_mask_ones, "edge"),
        (max_interference_no_abs, "subtle"),
        (max_interference_column_norms, "subtle"),
    ],
}
