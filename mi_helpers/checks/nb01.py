"""Checks for notebook 01, linear algebra: projections, bases, the SVD, PCA and near-orthogonality.

Each check first tries an analytic case that can be worked out on paper, then
properties every correct answer has (idempotence, orthogonality, invariances),
then a comparison with a torch built-in (``torch.linalg.qr``, ``svdvals``,
``eigh``, ``solve``). None of them holds a copy of the answer: a learner who
reads this file learns what a correct answer must satisfy, not how to write it.
"""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from .core import (EdgeCase, call_on_copies, close_to, describe, exercise, expect, expect_close, expect_number,
                   expect_tensor, fail, generator, show)


def _randn(g, dtype, device, *shape, scale=1.0):
    return (torch.randn(*shape, generator=g, dtype=dtype) * scale).to(device)


def _pca_line(out, args):
    """pca on points along one line: the component is that line's direction, the variance known."""
    X, k = args
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        return "expected (components, explained_variance)"
    components, variance = out
    if not isinstance(components, torch.Tensor) or tuple(components.shape) != (1, 2):
        return "expected components of shape (1, 2)"
    if abs(abs(float(components[0] @ torch.tensor([0.6, 0.8]))) - 1) > 1e-5:
        return f"expected the component ±[0.6, 0.8], got {show(components)}"
    t = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    if not isinstance(variance, torch.Tensor) or abs(float(variance.reshape(-1)[0]) - 25 * t.var().item()) > 1e-4:
        return f"expected the variance {25 * t.var().item():.4g} (25 × the unbiased variance of t)"
    return None


def _random_orthogonal(d: int, g: torch.Generator) -> torch.Tensor:
    """A random orthogonal [d, d] matrix (the Q of a Gaussian matrix)."""
    return torch.linalg.qr(torch.randn(d, d, generator=g)).Q


def _align_signs(reference: torch.Tensor, received: torch.Tensor, dim: int) -> torch.Tensor:
    """Flip the signs of ``reference``'s columns (dim=0) or rows (dim=1) to agree with ``received``.

    Directions found by QR, SVD or eigh are only defined up to sign.
    """
    signs = torch.sign((reference * received).sum(dim, keepdim=True))
    signs[signs == 0] = 1
    return reference * signs






# ---------------------------------------------------------------- 01.1

def _projection_hint(x: torch.Tensor, out: torch.Tensor, expected: torch.Tensor) -> str:
    """Name the mistake from how the output relates to the right one (v has length 2)."""
    for factor, mistake in ((4.0, "your formula assumes v has length 1"),
                            (2.0, "you divided by |v| once")):
        if torch.allclose(out, factor * expected, atol=1e-5):
            return (f"your result is {factor:.0f} times too long: {mistake}. v appears twice in the "
                    "projection, so its length must be divided out twice: divide by |v|² = v·v")
    if torch.allclose(out + expected, x, atol=1e-5):
        return "you returned the residual x - P x (the part orthogonal to v) instead of the projection P x"
    return "row i of the result is the multiple of v closest to x[i]: a number times v"


@exercise("01.1", "project_onto", points=2, difficulty=1, minutes=10,
          example=lambda g, dtype, device="cpu": (_randn(g, dtype, device, 4, 3), _randn(g, dtype, device, 3, scale=2)),
          meta=True,
          edge_cases=(
              EdgeCase("one row, already on the line: x = [[2, 4]], v = [1, 2]",
                       lambda: (torch.tensor([[2.0, 4.0]]), torch.tensor([1.0, 2.0])),
                       close_to(lambda x, v: torch.tensor([[2.0, 4.0]]))),
              EdgeCase("one dimension: x = [[3], [-5]], v = [0.001]",
                       lambda: (torch.tensor([[3.0], [-5.0]]), torch.tensor([0.001])),
                       close_to(lambda x, v: torch.tensor([[3.0], [-5.0]]), atol=1e-4)),
          ),
          opt_out={"written by hand": "no built-in projects onto a line"})
def check_project_onto(project_onto):
    # v = (0, 2) has length 2: a correct projection keeps the second coordinate of each row
    x = torch.tensor([[3.0, 4.0], [1.0, -2.0], [0.0, 0.0]])
    v = torch.tensor([0.0, 2.0])
    tried = "x = [[3, 4], [1, -2], [0, 0]], v = [0, 2] (length 2, not a unit vector)"
    out = call_on_copies(project_onto, x, v, tried=tried)
    expect_tensor(out, shape=(3, 2), dtype=torch.float32, tried=tried,
                  hint="return the projected vectors, one row per row of x (shape [n, d]), "
                       "not the coefficients x·v (shape [n])")
    expected = torch.tensor([[0.0, 4.0], [0.0, -2.0], [0.0, 0.0]])
    expect_close(out, expected, tried=tried, problem="the projections of this small case are wrong.",
                 hint=_projection_hint(x, out, expected))

    g = generator("01.1")
    x = torch.randn(6, 5, generator=g)
    v = 3 * torch.randn(5, generator=g)
    tried = f"x of shape (6, 5), v of shape (5,) with |v| = {v.norm():.2f}, float32"
    p = call_on_copies(project_onto, x, v, tried=tried)
    expect_tensor(p, shape=(6, 5), dtype=torch.float32, tried=tried)

    # each projected row lies on the line through v: Cauchy-Schwarz holds with equality
    gap = p.norm(dim=1) * v.norm() - (p @ v).abs()
    expect(bool((gap <= 1e-4 * (p.norm(dim=1) * v.norm() + 1)).all()),
           "some projected rows do not point along v.", tried=tried,
           expected="every row of the result is a multiple of v",
           received=f"angle gap |p||v| - |p·v| per row: {show(gap)}",
           hint="the projection of x onto v is a number times v itself")
    residual = (x - p) @ v
    expect(bool((residual.abs() <= 1e-4 * (x.norm(dim=1) * v.norm() + 1)).all()),
           "the residual x - P x is not orthogonal to v.", tried=tried,
           expected="(x - P x) · v = 0 for every row", received=show(residual),
           hint="the right multiple of v is the one that leaves nothing along v behind")

    tried_twice = tried + "; then your projection projected again"
    pp = call_on_copies(project_onto, p, v, tried=tried_twice)
    expect_close(pp, p, tried=tried_twice, atol=1e-4,
                 problem="projecting twice changes the result: a projection must be idempotent.",
                 hint="once a vector lies along v, projecting it onto v must leave it unchanged")

    tried_scaled = tried + "; then v replaced by -2.5 v"
    ps = call_on_copies(project_onto, x, -2.5 * v, tried=tried_scaled)
    expect_close(ps, p, tried=tried_scaled, atol=1e-4,
                 problem="the result changes when v is rescaled or flipped.",
                 hint="projecting onto v or onto -2.5 v is projecting onto the same line; "
                      "the length and sign of v must cancel out of your formula")


# ---------------------------------------------------------------- 01.2

def _orthonormality_hint(gram: torch.Tensor) -> str:
    k = gram.shape[0]
    diag_ok = torch.allclose(gram.diagonal(), torch.ones(k), atol=1e-4)
    if not diag_ok:
        return "the diagonal of QᵀQ is not 1: divide each new column by its norm"
    return ("the columns have length 1 but are not orthogonal: from each column subtract its projections "
            "onto the *orthonormal* q's built so far (the original columns are not orthogonal to each other)")


def _gram_schmidt_hint(A: torch.Tensor, Q: torch.Tensor) -> str:
    """Name the mistake on the 2 × 2 case from properties of the output."""
    first = Q[:, 0]
    if first.norm() > 0 and abs(float(first @ A[:, 0]) / float(first.norm() * A[:, 0].norm())) < 1 - 1e-4:
        return ("the first column of Q should point along the first COLUMN of A, a1 = (3, 4). "
                "Work on the columns A[:, j], not the rows A[j], and start with the first one")
    if not torch.allclose(Q.norm(dim=0), torch.ones(Q.shape[1]), atol=1e-4):
        return f"the columns of Q have lengths {show(Q.norm(dim=0))}: divide each new column by its norm"
    return ("q1 = a1 / |a1| = (0.6, 0.8); q2 is a2 minus its projection onto q1, "
            "then divided by its length: (-0.8, 0.6)")


@exercise("01.2", "gram_schmidt", points=3, difficulty=2, minutes=15,
          example=lambda g, dtype, device="cpu": (_randn(g, dtype, device, 5, 3),),
          forbidden=("torch.linalg.qr", "torch.qr", "torch.Tensor.qr", "torch.geqrf", "torch.linalg.householder_product"),
          edge_cases=(
              EdgeCase("one column: A = [[3], [4]]", lambda: (torch.tensor([[3.0], [4.0]]),),
                       close_to(lambda A: torch.tensor([[0.6], [0.8]]))),
              EdgeCase("columns already orthonormal: the first two columns of the 3 × 3 identity",
                       lambda: (torch.eye(3)[:, :2].contiguous(),), close_to(lambda A: torch.eye(3)[:, :2])),
          ))
def check_gram_schmidt(gram_schmidt):
    # a1 = (3, 4) has length 5; a2 = (1, 2) minus its part along q1 is (-0.32, 0.24), of length 0.4
    A = torch.tensor([[3.0, 1.0], [4.0, 2.0]])
    tried = "A = [[3, 1], [4, 2]]: columns a1 = (3, 4), a2 = (1, 2)"
    Q = call_on_copies(gram_schmidt, A, tried=tried)
    expect_tensor(Q, shape=(2, 2), dtype=torch.float32, tried=tried)
    expect_close(Q, torch.tensor([[0.6, -0.8], [0.8, 0.6]]), tried=tried,
                 problem="Q is wrong on a case worked out by hand.", hint=_gram_schmidt_hint(A, Q))

    g = generator("01.2")
    A = torch.randn(6, 4, generator=g)
    tried = "A of shape (6, 4), float32, random Gaussian (full column rank)"
    Q = call_on_copies(gram_schmidt, A, tried=tried)
    expect_tensor(Q, shape=(6, 4), dtype=torch.float32, tried=tried,
                  hint="Q has one orthonormal column per column of A: shape [d, k]")

    gram = Q.T @ Q
    expect_close(gram, torch.eye(4), tried=tried, atol=1e-4, name="QᵀQ",
                 problem="the columns of Q are not orthonormal (QᵀQ should be the identity).",
                 hint=_orthonormality_hint(gram))
    expect_close(Q @ (Q.T @ A), A, tried=tried, atol=1e-4, name="Q Qᵀ A",
                 problem="Q does not span the same space as A: projecting A onto span(Q) changes it.",
                 hint="every q_j must be built from the columns of A only")
    below = torch.tril(Q.T @ A, diagonal=-1)
    expect(bool(below.abs().max() < 1e-4), "QᵀA is not upper triangular, so span(Q[:, :j]) differs "
           "from span(A[:, :j]).", tried=tried, expected="zeros below the diagonal of QᵀA",
           received=show(Q.T @ A),
           hint="process the columns in order: q_j may use a_1 … a_j, never a later column")

    reference = torch.linalg.qr(A).Q
    expect_close(Q, _align_signs(reference, Q, dim=0), tried=tried, atol=1e-4,
                 problem="Q differs from torch.linalg.qr(A).Q, even allowing each column to flip sign.",
                 hint="Gram-Schmidt and QR give the same columns up to sign")


# ---------------------------------------------------------------- 01.3

@exercise("01.3", "change_of_basis", points=2, difficulty=2, minutes=10,
          example=lambda g, dtype, device="cpu": (_randn(g, dtype, device, 4, 3),
                                                  _randn(g, dtype, device, 3, 3) + 3 * torch.eye(3, dtype=dtype).to(device)),
          edge_cases=(
              EdgeCase("one point, B = 2 × identity: x = [[2, -4, 6]]",
                       lambda: (torch.tensor([[2.0, -4.0, 6.0]]), 2 * torch.eye(3)),
                       close_to(lambda x, B: torch.tensor([[1.0, -2.0, 3.0]]))),
          ),
          opt_out={"written by hand": "torch.linalg.solve is the intended tool"})
def check_change_of_basis(change_of_basis):
    x = torch.tensor([[1.0, 0.0], [-2.0, 5.0], [0.5, 0.25]])
    tried = "the identity basis B = I (2 × 2), x = [[1, 0], [-2, 5], [0.5, 0.25]]"
    c = call_on_copies(change_of_basis, x, torch.eye(2), tried=tried)
    expect_tensor(c, shape=(3, 2), dtype=torch.float32, tried=tried,
                  hint="one row of coordinates per row of x: shape [n, d]")
    expect_close(c, x, tried=tried, problem="in the standard basis the coordinates should be x itself.")

    # b1 = (1, 0), b2 = (1, 1); (2, 3) = -1·b1 + 3·b2
    B = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    x = torch.tensor([[1.0, 0.0], [1.0, 1.0], [2.0, 3.0]])
    tried = "B = [[1, 1], [0, 1]] (basis vectors are the columns b1 = (1, 0), b2 = (1, 1)), x = [[1, 0], [1, 1], [2, 3]]"
    c = call_on_copies(change_of_basis, x, B, tried=tried)
    expect_tensor(c, shape=(3, 2), dtype=torch.float32, tried=tried)
    expect_close(c, torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 3.0]]), tried=tried,
                 problem="the coordinates are wrong on a case worked out by hand.",
                 hint="b1 and b2 themselves must get coordinates (1, 0) and (0, 1); (2, 3) = -1·b1 + 3·b2. "
                      "Dot products with the basis vectors (x @ B) are coordinates only when the basis is "
                      "orthonormal: here you must solve B c = x, with the basis vectors as the COLUMNS of B "
                      "(solving with B.T uses the rows)")

    g = generator("01.3")
    B = torch.eye(4) + 0.5 * torch.randn(4, 4, generator=g)
    x = torch.randn(5, 4, generator=g)
    tried = "x of shape (5, 4), B of shape (4, 4): random, invertible, not orthogonal"
    c = call_on_copies(change_of_basis, x, B, tried=tried)
    expect_tensor(c, shape=(5, 4), dtype=torch.float32, tried=tried)
    expect_close(c @ B.T, x, tried=tried, atol=1e-4, name="the reconstruction Σ_j c_ij b_j",
                 problem="the coordinates do not rebuild the points: B c_i ≠ x_i.",
                 hint="the basis vectors are the columns of B, so B c_i = x_i, i.e. C Bᵀ = x. "
                      "If you solved with B.T, you used the rows as the basis")


# ---------------------------------------------------------------- 01.4

def _tail_error(A: torch.Tensor, k: int) -> float:
    """Eckart-Young: the Frobenius error of the best rank-k approximation."""
    s = torch.linalg.svdvals(A.double())
    return float(s[k:].pow(2).sum().sqrt())


def _low_rank_hint(out: torch.Tensor, k: int) -> str:
    """Name the mistake on diag-like A with singular values 3, 2, 1 from the output's own spectrum."""
    s = torch.linalg.svdvals(out.double())
    kept = [round(float(x), 3) for x in s if x > 1e-4]
    if len(kept) != k:
        return (f"your approximation has rank {len(kept)} (singular values {kept}), not k = {k}: "
                "keep exactly k singular triplets, U[:, :k], S[:k] and Vh[:k]")
    if all(abs(x - 1.0) < 1e-4 for x in kept):
        return ("all your singular values are 1: you dropped S. Multiply the singular values back in "
                "between U and Vᵀ: (U_k * S_k) @ Vh_k")
    return (f"you kept the singular values {kept}, the best rank-{k} approximation keeps the {k} LARGEST, "
            "3 and 2 (torch.linalg.svd sorts them in decreasing order, so they come first)")


@exercise("01.4", "low_rank_approx", points=2, difficulty=2, minutes=15,
          example=lambda g, dtype, device="cpu": (_randn(g, dtype, device, 5, 4), 2),
          edge_cases=(
              EdgeCase("a matrix of rank 1 (every entry 2, 3 × 4), k = 2: it is its own best approximation",
                       lambda: (torch.full((3, 4), 2.0), 2), close_to(lambda A, k: torch.full((3, 4), 2.0), atol=1e-5),
                       hint="take the SVD of A itself (torch.linalg.svd): the eigenvalues of AᵀA can round "
                            "below 0, and their square roots are NaN"),
              EdgeCase("k = min(m, n): nothing is dropped", lambda: (torch.tensor([[1.0, 2.0], [3.0, -4.0], [0.5, 6.0]]), 2),
                       close_to(lambda A, k: A, atol=1e-5)),
          ),
          opt_out={"written by hand": "the exercise is built on torch.linalg.svd"})
def check_low_rank_approx(low_rank_approx):
    # singular values 3, 1, 2 sit on the diagonal out of order: rank 2 keeps the 3 and the 2
    A = torch.tensor([[3.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]])
    tried = "A = [[3, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0]] (singular values 3, 2, 1), k = 2"
    out = call_on_copies(low_rank_approx, A, 2, tried=tried)
    expect_tensor(out, shape=(3, 4), dtype=torch.float32, tried=tried,
                  hint="the approximation has the shape of A: U_k diag(S_k) V_kᵀ is [m, n]")
    expect_close(out, torch.tensor([[3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]]),
                 tried=tried, atol=1e-5, problem="wrong on a case worked out by hand.",
                 hint=_low_rank_hint(out, k=2))

    g = generator("01.4")
    for m, n, k in ((8, 6, 2), (5, 9, 3)):
        A = torch.randn(m, n, generator=g)
        tried = f"A of shape ({m}, {n}), float32, random Gaussian, k = {k}"
        out = call_on_copies(low_rank_approx, A, k, tried=tried)
        expect_tensor(out, shape=(m, n), dtype=torch.float32, tried=tried)
        s = torch.linalg.svdvals(out.double())
        rank = int((s > 1e-4 * s[0]).sum()) if s[0] > 0 else 0
        expect(rank == k, "the approximation does not have rank k.", tried=tried, expected=f"rank {k}",
               received=f"rank {rank} (its singular values: {show(s.float())})",
               hint="use exactly the first k singular triplets: U[:, :k], S[:k], Vh[:k]")
        error = float((A.double() - out.double()).norm())
        best = _tail_error(A, k)
        expect_number(error, best, tried=tried, tol=1e-4 * (1 + best),
                      problem="the Frobenius error ‖A - A_k‖ is not the Eckart-Young optimum "
                              "sqrt(σ_{k+1}² + σ_{k+2}² + …).",
                      hint="the best rank-k approximation keeps the k largest singular values, "
                           "scaled by their singular values")
        # random rank-k competitors: the best matrix whose columns lie in a random k-dim subspace
        for _ in range(10):
            basis = torch.linalg.qr(torch.randn(m, k, generator=g)).Q
            rival = float((A - basis @ (basis.T @ A)).norm())
            expect(rival >= error - 1e-4, "a random rank-k matrix approximates A better than yours.",
                   tried=tried, expected=f"no rank-{k} matrix beats error {error:.4f}",
                   received=f"a random one reaches {rival:.4f}",
                   hint="the SVD truncation is optimal (Eckart-Young): keep the top k singular values")

        full = min(m, n)
        tried_full = f"A of shape ({m}, {n}), k = {full} (full rank)"
        out = call_on_copies(low_rank_approx, A, full, tried=tried_full)
        expect_close(out, A, tried=tried_full, atol=1e-4,
                     problem="keeping every singular value should give A back.",
                     hint="with k = min(m, n), U diag(S) Vᵀ is A itself")


# ---------------------------------------------------------------- 01.5

def _pca_output(out, k: int, d: int, tried: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("pca should return a pair (components, explained_variance).", tried=tried,
             expected="a tuple of 2 tensors", received=describe(out),
             hint="end with `return components, explained_variance`")
    components, variance = out
    expect_tensor(components, shape=(k, d), dtype=torch.float32, tried=tried, name="components",
                  hint="one component per ROW, each of length d: shape [k, d]. The right singular "
                       "vectors are the rows of Vh (torch.linalg.svd returns Vᵀ), not the columns of U")
    expect_tensor(variance, shape=(k,), dtype=torch.float32, tried=tried, name="explained_variance")
    return components, variance


def _variance_hint(variance: torch.Tensor, top: torch.Tensor, n: int) -> str:
    if torch.allclose(variance, top * (n - 1) / n, rtol=1e-3):
        return "these are variances with a 1/n factor: the course uses the unbiased 1/(n - 1)"
    if torch.allclose(variance, (top * (n - 1)).sqrt(), rtol=1e-3):
        return "these look like singular values of the centred data: square them and divide by n - 1"
    return ("explained variance i is the variance of the data along component i: "
            "σ_i² / (n - 1) for the singular values σ of the CENTRED data")


@exercise("01.5", "pca", points=3, difficulty=2, minutes=20,
          example=lambda g, dtype, device="cpu": (_randn(g, dtype, device, 20, 4) * torch.tensor([3.0, 1.0, 0.5, 0.1], dtype=dtype).to(device) + 5, 2),
          forbidden=("torch.pca_lowrank", "sklearn.decomposition.PCA"),
          edge_cases=(
              EdgeCase("k = 1, four points on one line: X = t [3, 4] for t = -1, 0, 1, 2",
                       lambda: (torch.tensor([[-3.0, -4.0], [0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]), 1), _pca_line),
          ))
def check_pca(pca):
    # four points at ±2 u1 and ±1 u2 around a centre (10, -3); u1 = (0.6, 0.8), u2 = (-0.8, 0.6)
    u = torch.tensor([[0.6, 0.8], [-0.8, 0.6]])
    X = torch.stack([2 * u[0], -2 * u[0], u[1], -u[1]]) + torch.tensor([10.0, -3.0])
    tried = "4 points in 2-d: centre (10, -3) ± 2·(0.6, 0.8) and ± 1·(-0.8, 0.6), k = 2"
    components, variance = _pca_output(call_on_copies(pca, X, 2, tried=tried), 2, 2, tried)
    expect_close(components, _align_signs(u, components, dim=1), tried=tried, atol=1e-4, name="components",
                 problem="the components are not the directions (0.6, 0.8) and (-0.8, 0.6) (up to sign).",
                 hint="centre the data first (subtract the mean of each column): without it the "
                      "first direction points at the mean, not along the spread. "
                      "Components are rows, in decreasing order of variance")
    expect_close(variance, torch.tensor([8.0 / 3.0, 2.0 / 3.0]), tried=tried, atol=1e-4,
                 name="explained_variance",
                 problem="the explained variances are wrong: along (0.6, 0.8) the points sit at ±2, "
                         "so the variance is (4 + 4 + 0 + 0) / (4 - 1) = 8/3.",
                 hint=_variance_hint(variance, torch.tensor([8.0 / 3.0, 2.0 / 3.0]), 4))

    g = generator("01.5")
    n, d, k = 80, 6, 3
    stds = torch.tensor([3.0, 2.0, 1.2, 0.6, 0.3, 0.1])
    X = (torch.randn(n, d, generator=g) * stds) @ _random_orthogonal(d, g).T + 5 * torch.randn(d, generator=g)
    tried = f"X of shape ({n}, {d}), float32, spread along random orthogonal directions, not centred, k = {k}"
    components, variance = _pca_output(call_on_copies(pca, X, k, tried=tried), k, d, tried)
    expect_close(components @ components.T, torch.eye(k), tried=tried, atol=1e-4, name="components @ components.T",
                 problem="the components are not orthonormal rows.",
                 hint="the rows of Vh from torch.linalg.svd are orthonormal; columns of U are a different thing")
    expect(bool((variance[:-1] >= variance[1:] - 1e-6).all()), "the explained variances are not sorted "
           "in decreasing order.", tried=tried, expected="explained_variance[0] ≥ [1] ≥ …",
           received=show(variance), hint="keep the first k singular values: svd sorts them largest first")

    evals, evecs = torch.linalg.eigh(torch.cov(X.T.double()))  # eigh sorts eigenvalues increasingly
    top = evals.flip(0)[:k].float()
    top_vectors = evecs.flip(1)[:, :k].T.float()
    expect_close(variance, top, tried=tried, rtol=1e-3, atol=1e-4, name="explained_variance",
                 problem="the explained variances differ from the top eigenvalues of the covariance matrix "
                         "torch.cov(X.T).", hint=_variance_hint(variance, top, n))
    expect_close(components, _align_signs(top_vectors, components, dim=1), tried=tried, atol=1e-3,
                 name="components",
                 problem="the components differ from the top eigenvectors of the covariance matrix "
                         "(torch.linalg.eigh), even allowing each to flip sign.",
                 hint="centre X, take its SVD and keep the first k ROWS of Vh "
                      "(Vh.T[:k] or Vh[:, :k] are columns: a different thing)")

    tried_shift = tried + "; then X + 7 (every point shifted)"
    shifted, shifted_variance = _pca_output(call_on_copies(pca, X + 7.0, k, tried=tried_shift), k, d, tried_shift)
    expect_close(shifted, _align_signs(components, shifted, dim=1), tried=tried_shift, atol=1e-3,
                 name="components", problem="shifting every point changes the components.",
                 hint="PCA describes the spread around the mean: subtract X.mean(dim=0) first")
    expect_close(shifted_variance, variance, tried=tried_shift, rtol=1e-3, atol=1e-4,
                 name="explained_variance", problem="shifting every point changes the explained variance.",
                 hint="PCA describes the spread around the mean: subtract X.mean(dim=0) first")


# ---------------------------------------------------------------- 01.6

def _single_number(value, tried: str) -> float:
    """The value as a float; fail unless it is one number (a Python number or a 1-element tensor)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    fail("the result should be a single number.", tried=tried, expected="a float (or a 0-d tensor)",
         received=describe(value),
         hint="reduce the [N, N] matrix of |cosines| to its largest entry with .max(), then .item()")


@exercise("01.6", "max_interference", points=2, difficulty=2, minutes=10,
          example=lambda g, dtype, device="cpu": (_randn(g, dtype, device, 6, 4),),
          edge_cases=(
              EdgeCase("N = 2 vectors of one direction, lengths 1 and 1e6", lambda: (torch.tensor([[1.0, 1.0], [1e6, 1e6]]),),
                       close_to(lambda V: 1.0, atol=1e-5)),
              EdgeCase("N = 2 orthogonal vectors", lambda: (torch.tensor([[0.0, 3.0], [-2.0, 0.0]]),),
                       close_to(lambda V: 0.0, atol=1e-6)),
          ),
          opt_out={"written by hand": "the cosine matrix of notebook 00 may be reused"})
def check_max_interference(max_interference):
    g = generator("01.6")
    tried = "the 5 columns of a random 5 × 5 orthogonal matrix (an orthonormal basis), as rows"
    value = call_on_copies(max_interference, _random_orthogonal(5, g).T.contiguous(), tried=tried)
    value = _single_number(value, tried)
    expect_number(value, 0.0, tried=tried, tol=1e-5,
                  problem="an orthonormal basis has no interference at all.",
                  hint="a vector's cosine with ITSELF is always 1: leave the diagonal of the "
                       "cosine matrix out (for instance set it to 0 before taking the max)")

    tried = "V = [[1, 0, 0], [0, 1, 0], [2, 0, 0]]: the third row is twice the first"
    value = call_on_copies(max_interference, torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [2.0, 0.0, 0.0]]),
                  tried=tried)
    value = _single_number(value, tried)
    too_big = value > 1 + 1e-5
    expect_number(value, 1.0, tried=tried, tol=1e-5,
                  problem="two rows pointing the same way have cosine similarity 1.",
                  hint="a cosine is never above 1: normalise each row to unit length before the dot "
                       "products, raw dot products grow with the lengths of the vectors" if too_big else
                       "the answer is the LARGEST |cosine| over all pairs of different rows (here rows 0 "
                       "and 2): take the max, not a mean, and make sure no pair is skipped")

    tried = "V = [[2, 0], [3, 4], [0, -1]]: cosines 0.6 (rows 0, 1), 0 (rows 0, 2), -0.8 (rows 1, 2)"
    value = call_on_copies(max_interference, torch.tensor([[2.0, 0.0], [3.0, 4.0], [0.0, -1.0]]), tried=tried)
    value = _single_number(value, tried)
    expect_number(value, 0.8, tried=tried, tol=1e-5,
                  problem="the largest |cosine| here is 0.8, between rows 1 and 2 (cosine -0.8).",
                  hint="interference is the ABSOLUTE cosine: a vector and its opposite interfere fully")

    V = torch.randn(12, 5, generator=g) * torch.rand(12, 1, generator=g).add(0.5)
    tried = "V of shape (12, 5), float32, random rows of different lengths"
    value = call_on_copies(max_interference, V, tried=tried)
    brute = max(abs(float(F.cosine_similarity(V[i], V[j], dim=0)))
                for i, j in itertools.combinations(range(len(V)), 2))
    value = _single_number(value, tried)
    expect_number(value, brute, tried=tried, tol=1e-5,
                  problem="differs from a loop over every pair with F.cosine_similarity.",
                  hint="normalise the rows, take all pairwise dot products at once (V̂ V̂ᵀ), "
                       "use absolute values, ignore the diagonal")
