"""Checks for notebook 00, orientation: broadcasting, distances, cosine similarity, seeds.

Each check tries a case worked out on paper first (its message is the easiest to
read), then properties that any correct answer has, then a comparison with the
torch built-in that the exercise re-implements.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..utils import get_device
from .core import (EdgeCase, call, close_to, describe, exercise, expect, expect_close, expect_tensor, fail,
                   generator, show)


def _close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-5) -> bool:
    """True when a and b have one shape and close values (used to name a mistake in a hint)."""
    return a.shape == b.shape and bool(torch.allclose(a.detach().cpu().double(),
                                                      b.detach().cpu().double(), atol=atol))


def _expect_result(out, *, shape, dtype, tried: str, shape_hint: str, nan_hint: str = "") -> torch.Tensor:
    """expect_tensor in three steps, so that each failure comes with the hint that fits it."""
    expect_tensor(out, shape=shape, tried=tried, hint=shape_hint, allow_nan=True)
    expect_tensor(out, dtype=dtype, tried=tried, allow_nan=True)
    return expect_tensor(out, tried=tried, hint=nan_hint)


# ---------------------------------------------------------------- 00.1

def _centring_hint(x: torch.Tensor, out: torch.Tensor) -> str:
    """Name the mistake from what the output looks like, not from a reference answer."""
    if out.shape != x.shape:
        return "the result should have the shape of x"
    column_means = out.mean(dim=0)
    row_means = out.mean(dim=1)
    shift = x - out  # what was subtracted from each entry
    if torch.allclose(column_means, torch.zeros_like(column_means), atol=1e-5):
        return ("your columns do have mean 0, but their spread changed: centring only subtracts, "
                "it does not divide by the standard deviation")
    if torch.allclose(row_means, torch.zeros_like(row_means), atol=1e-5):
        return ("each ROW of your result has mean 0: you averaged along the wrong dimension. "
                "Which dim of x.mean(dim=...) leaves one number per column?")
    if torch.allclose(shift, shift.flatten()[0].expand_as(shift), atol=1e-5):
        return ("you subtracted the same number from every entry (the mean of the whole matrix?); "
                "each column needs its own mean")
    return "entry [i, j] of the result should be x[i, j] minus the mean of column j of x"


_NEAR_AND_FAR = torch.tensor([[1234.567, -2345.678, 987.654], [0.1234, 5.678, -9.1011], [-3.3333, 7.7777, 0.5555]])


def _rows(g, dtype, device="cpu", n=5, d=3, name="x"):
    return torch.randn(n, d, generator=g, dtype=dtype).to(device) * 3 + 1


@exercise("00.1", "centre_columns", points=1, difficulty=1, minutes=5,
          example=lambda g, dtype, device="cpu": (_rows(g, dtype, device),), meta=True,
          edge_cases=(
              EdgeCase("a single row x = [[1, 2, 3]]: every column's mean is its only entry",
                       lambda: (torch.tensor([[1.0, 2.0, 3.0]]),), close_to(lambda x: torch.zeros(1, 3))),
              EdgeCase("a single column x = [[1], [2], [6]]", lambda: (torch.tensor([[1.0], [2.0], [6.0]]),),
                       close_to(lambda x: torch.tensor([[-2.0], [-1.0], [3.0]]))),
          ),
          opt_out={"written by hand": "one subtraction: no built-in does the exercise for you"})
def check_centre_columns(centre_columns):
    # A case worked out on paper: the column means are 3 and 5.
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]])
    x_before = x.clone()
    tried = "x = [[1, 2], [3, 4], [5, 9]] (3 rows, 2 columns), float32"
    out = call(centre_columns, x, tried=tried)
    _expect_result(out, shape=(3, 2), dtype=torch.float32, tried=tried,
                   shape_hint="the result has one entry for each entry of x: shape [n, d]")
    expect(torch.equal(x, x_before), "your function changed its input x.", tried=tried,
           expected="x left as it was", received=f"x is now\n{show(x)}",
           hint="an in-place operation (x -= ..., x.sub_(...)) edits the caller's tensor; "
                "build a new one instead: result = x - ...")
    expected = torch.tensor([[-2.0, -3.0], [0.0, -1.0], [2.0, 4.0]])
    expect_close(out, expected, tried=tried, problem="the centred matrix is wrong.",
                 hint=_centring_hint(x, out.detach().float()))

    # Properties on random data: columns end with mean 0 and keep their spread.
    g = generator("00.1")
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(5, 3, generator=g, dtype=dtype) * torch.tensor([1.0, 4.0, 0.5], dtype=dtype) \
            + torch.tensor([10.0, -3.0, 0.0], dtype=dtype)
        name = str(dtype).replace("torch.", "")
        tried = f"x of shape (5, 3), {name}, columns with means near 10, -3 and 0"
        out = call(centre_columns, x.clone(), tried=tried)
        _expect_result(out, shape=(5, 3), dtype=dtype, tried=tried,
                       shape_hint="the result has one entry for each entry of x: shape [n, d]")
        means = out.mean(dim=0)
        expect(bool(torch.allclose(means, torch.zeros_like(means), atol=1e-4)),
               "the columns of the result do not have mean 0.", tried=tried,
               expected="column means [0, 0, 0]", received=f"column means {show(means)}",
               hint=_centring_hint(x, out))
        shift = x - out  # must be one constant per column
        spread = (shift - shift[:1]).abs().max()
        expect(bool(spread < 1e-4), "the result is not x minus one number per column.",
               tried=tried, expected="x - result constant down each column",
               received=f"x - result =\n{show(shift)}", hint=_centring_hint(x, out))


# ---------------------------------------------------------------- 00.2

def _distance_hint(x: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> str:
    true = torch.cdist(x, y)
    if _close(out, true ** 2):
        return "these are SQUARED distances: take the square root at the end"
    if _close(out, torch.cdist(x, y, p=1)):
        return ("these are sums of absolute differences (the Manhattan distance); the Euclidean "
                "distance is the square root of the sum of squared differences")
    if _close(out, true.T):
        return "rows and columns are swapped: row i should belong to x[i], column j to y[j]"
    return "entry [i, j] should be the length of the vector x[i] - y[j]"


@exercise("00.2", "pairwise_distances", points=2, difficulty=2, minutes=10,
          example=lambda g, dtype, device="cpu": (_rows(g, dtype, device), _rows(g, dtype, device, n=4)), meta=True,
          forbidden=("torch.cdist", "torch.functional.cdist", "torch.nn.functional.pairwise_distance",
                     "torch.pairwise_distance"),
          edge_cases=(
              EdgeCase("one point each, in one dimension: x = [[3]], y = [[-1]]",
                       lambda: (torch.tensor([[3.0]]), torch.tensor([[-1.0]])), close_to(lambda x, y: torch.tensor([[4.0]]))),
              EdgeCase("three points against themselves (x = y), one far from the origin",
                       lambda: (_NEAR_AND_FAR,) * 2, close_to(lambda x, y: torch.cdist(x, y), atol=1e-2),
                       hint="with |x|² + |y|² - 2 x·y, rounding leaves tiny negative numbers where x = y, "
                            "and their square root is NaN: subtract first, or clamp at 0"),
              # chosen so that |x|² + |y|² - 2 x·y rounds to -2 in float32 however the dot product is summed
              EdgeCase("two points 0.00024 apart, far from the origin: x = [[806.72662, 2834.4224]], "
                       "y = [[806.72662, 2834.4226]]",
                       lambda: (torch.tensor([[806.7266235351562, 2834.42236328125]]),
                                torch.tensor([[806.7266235351562, 2834.422607421875]])),
                       close_to(lambda x, y: torch.tensor([[0.000244140625]]), atol=1e-2),
                       hint="with |x|² + |y|² - 2 x·y, rounding leaves a negative number here, and its square "
                            "root is NaN: subtract first, or clamp at 0"),
          ))
def check_pairwise_distances(pairwise_distances):
    # A case worked out on paper, with 3-4-5 triangles. n != m, so a transposed result shows.
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    y = torch.tensor([[0.0, 0.0], [0.0, 4.0], [6.0, 8.0]])
    tried = "x = [[0, 0], [3, 4]] (n = 2), y = [[0, 0], [0, 4], [6, 8]] (m = 3), float32"
    out = call(pairwise_distances, x, y, tried=tried)
    _expect_result(out, shape=(2, 3), dtype=torch.float32, tried=tried,
                   shape_hint="one row per point of x, one column per point of y: shape [n, m]")
    expected = torch.tensor([[0.0, 4.0, 10.0], [5.0, 3.0, 5.0]])
    expect_close(out, expected, tried=tried, problem="the distances are wrong.",
                 hint=_distance_hint(x, y, out.detach()))

    # Against the built-in on random points.
    g = generator("00.2")
    x, y = torch.randn(5, 4, generator=g), torch.randn(7, 4, generator=g)
    tried = "random x of shape (5, 4) and y of shape (7, 4), float32, compared with torch.cdist(x, y)"
    out = call(pairwise_distances, x, y, tried=tried)
    expect_close(out, torch.cdist(x, y), tried=tried, atol=1e-4,
                 problem="the distances differ from torch.cdist.",
                 hint=_distance_hint(x, y, _expect_result(
                     out, shape=(5, 7), dtype=torch.float32, tried=tried,
                     shape_hint="one row per point of x, one column per point of y: shape [n, m]")))

    # Properties of a distance, for a set of points against itself.
    x = torch.randn(6, 3, generator=g) * 2
    tried = "pairwise_distances(x, x) for random x of shape (6, 3), float32"
    d = call(pairwise_distances, x, x, tried=tried)
    d = expect_tensor(d, shape=(6, 6), dtype=torch.float32, tried=tried, allow_nan=True).detach().cpu()
    expect(bool(torch.isfinite(d).all()), f"the result contains {int((~torch.isfinite(d)).sum())} NaN "
           "or infinite entries.", tried=tried, expected="finite distances", received=show(d),
           hint="if you expanded |x - y|² = |x|² + |y|² - 2 x·y, rounding can make it slightly "
                "negative where x = y, and its square root is NaN: clamp at 0 before the square root")
    expect(bool(d.diagonal().abs().max() < 1e-3), "the distance from a point to itself is not 0.",
           tried=tried, expected="diagonal [0, 0, 0, 0, 0, 0]", received=f"diagonal {show(d.diagonal())}",
           hint="entry [i, i] compares x[i] with itself")
    expect(bool((d - d.T).abs().max() < 1e-4), "the matrix is not symmetric: d(a, b) != d(b, a).",
           tried=tried, expected="result[i, j] == result[j, i]", received=show(d))
    expect(bool((d >= 0).all()), "some distances are negative.", tried=tried,
           expected="every entry >= 0", received=show(d), hint="a length is never negative")
    # triangle inequality for every triple: d(i, k) <= d(i, j) + d(j, k)
    excess = d[:, None, :] - (d[:, :, None] + d[None, :, :])  # [i, j, k]
    i, rest = divmod(int(excess.argmax()), 6 * 6)  # the worst triple (argmax of the flattened tensor)
    j, k = divmod(rest, 6)
    expect(bool(excess.max() <= 1e-4), "the triangle inequality fails.", tried=tried,
           expected=f"d({i}, {k}) <= d({i}, {j}) + d({j}, {k})",
           received=f"{d[i, k]:.4f} > {d[i, j]:.4f} + {d[j, k]:.4f}",
           hint="squared distances break the triangle inequality: did you take the square root?")

    # A float64 input keeps its precision.
    x, y = torch.randn(3, 2, generator=g, dtype=torch.float64), torch.randn(4, 2, generator=g, dtype=torch.float64)
    tried = "random x of shape (3, 2) and y of shape (4, 2), float64"
    out = call(pairwise_distances, x, y, tried=tried)
    expect_close(out, torch.cdist(x, y), tried=tried, atol=1e-8,
                 hint="keep the input's dtype: no float32 constants, no .float()")


# ---------------------------------------------------------------- 00.3

_COSINE_NAN = ("NaN comes from 0 / 0. None of these vectors has length 0: did you change them "
               "(subtract a mean?) before dividing by their lengths?")


def _cosine_hint(x: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> str:
    if _close(out, x @ y.T):
        return "these are plain dot products: divide by the lengths of both vectors"
    if out.shape == (x.shape[0], y.shape[0]) and bool((out.abs() > 1 + 1e-5).any()):
        return ("some values lie outside [-1, 1]: each row of x and each row of y must be divided "
                "by its own length (norm over the feature dimension)")
    if _close(out, F.cosine_similarity(y[:, None, :], x[None, :, :], dim=-1)):
        return "rows and columns are swapped: row i should belong to x[i], column j to y[j]"
    return "entry [i, j] should be x[i]·y[j] / (|x[i]| |y[j]|): the cosine of the angle between them"


@exercise("00.3", "cosine_similarity_matrix", points=2, difficulty=2, minutes=10,
          example=lambda g, dtype, device="cpu": (_rows(g, dtype, device), _rows(g, dtype, device, n=4)), meta=True,
          forbidden=("torch.nn.functional.cosine_similarity", "torch.cosine_similarity"),
          edge_cases=(
              EdgeCase("one dimension: x = [[2], [-3]], y = [[5]] (same and opposite directions)",
                       lambda: (torch.tensor([[2.0], [-3.0]]), torch.tensor([[5.0]])),
                       close_to(lambda x, y: torch.tensor([[1.0], [-1.0]]))),
              EdgeCase("one row each, of very different lengths: x = [[1e-20, 0]], y = [[3e10, 0]]",
                       lambda: (torch.tensor([[1e-20, 0.0]], dtype=torch.float64),
                                torch.tensor([[3e10, 0.0]], dtype=torch.float64)),
                       close_to(lambda x, y: torch.tensor([[1.0]], dtype=torch.float64)),
                       hint="no row is all zeros, however short: do not add an epsilon or clamp the norms, "
                            "which changes the answer for short vectors"),
          ))
def check_cosine_similarity_matrix(cosine_similarity_matrix):
    # A case worked out on paper: angles of 0, 45, 90, 135 and 180 degrees.
    x = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, -1.0]])
    tried = "x = [[1, 0], [1, 1]] (n = 2), y = [[2, 0], [0, 3], [-1, -1]] (m = 3), float32"
    out = call(cosine_similarity_matrix, x, y, tried=tried)
    _expect_result(out, shape=(2, 3), dtype=torch.float32, tried=tried,
                   shape_hint="one row per vector of x, one column per vector of y: shape [n, m]",
                   nan_hint=_COSINE_NAN)
    r = 0.5 ** 0.5
    expected = torch.tensor([[1.0, 0.0, -r], [r, r, -1.0]])
    expect_close(out, expected, tried=tried, problem="the cosine similarities are wrong.",
                 hint=_cosine_hint(x, y, out.detach()))

    # Against the built-in, broadcast over every pair.
    g = generator("00.3")
    x, y = torch.randn(5, 6, generator=g), torch.randn(4, 6, generator=g)
    tried = ("random x of shape (5, 6) and y of shape (4, 6), float32, compared with "
             "F.cosine_similarity on every pair")
    out = call(cosine_similarity_matrix, x, y, tried=tried)
    reference = F.cosine_similarity(x[:, None, :], y[None, :, :], dim=-1)
    expect_close(out, reference, tried=tried, problem="the cosine similarities are wrong.",
                 hint=_cosine_hint(x, y, _expect_result(
                     out, shape=(5, 4), dtype=torch.float32, tried=tried, nan_hint=_COSINE_NAN,
                     shape_hint="one row per vector of x, one column per vector of y: shape [n, m]")))
    out = out.detach().cpu()
    expect(bool((out.abs() <= 1 + 1e-5).all()), "some values lie outside [-1, 1].", tried=tried,
           expected="every entry in [-1, 1]", received=show(out), hint=_cosine_hint(x, y, out))

    # Scale invariance: the length of a vector does not change its direction.
    scales = torch.tensor([0.01, 0.5, 3.0, 40.0, 1000.0])[:, None]
    tried = "the same x with its rows multiplied by 0.01, 0.5, 3, 40 and 1000"
    scaled = call(cosine_similarity_matrix, x * scales, y, tried=tried)
    expect_close(scaled, out, tried=tried, problem="the result changes when vectors are rescaled.",
                 hint="cosine similarity depends only on directions: divide each vector by its length")

    # A set of vectors against itself: symmetric with 1 on the diagonal.
    tried = "cosine_similarity_matrix(x, x) for the random x of shape (5, 6)"
    s = call(cosine_similarity_matrix, x, x, tried=tried)
    s = _expect_result(s, shape=(5, 5), dtype=torch.float32, tried=tried, nan_hint=_COSINE_NAN,
                       shape_hint="x against itself gives one row and one column per vector of x"
                       ).detach().cpu()
    expect(bool((s.diagonal() - 1).abs().max() < 1e-5), "a vector's cosine with itself is not 1.",
           tried=tried, expected="diagonal [1, 1, 1, 1, 1]", received=f"diagonal {show(s.diagonal())}",
           hint="a vector makes an angle of 0 with itself, and cos 0 = 1")
    expect(bool((s - s.T).abs().max() < 1e-5), "the matrix is not symmetric.", tried=tried,
           expected="result[i, j] == result[j, i]", received=show(s))

    # A float64 input keeps its precision.
    x, y = torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(2, 4, generator=g, dtype=torch.float64)
    tried = "random x of shape (3, 4) and y of shape (2, 4), float64"
    out = call(cosine_similarity_matrix, x, y, tried=tried)
    expect_close(out, F.cosine_similarity(x[:, None, :], y[None, :, :], dim=-1), tried=tried, atol=1e-8,
                 hint="keep the input's dtype: no float32 constants, no .float()")


# ---------------------------------------------------------------- 00.4

def _expect_samples(out, n: int, device: torch.device, tried: str) -> torch.Tensor:
    expect_tensor(out, shape=(n,), tried=tried, allow_nan=True,
                  hint="n samples in a 1-d tensor: torch.randn(n, ...) has shape (n,)")
    expect_tensor(out, dtype=torch.float32, tried=tried, allow_nan=True,
                  hint="torch.randn gives float32 by default; numpy gives float64 (convert with .float())")
    return expect_tensor(out, device=device, tried=tried,
                         hint="put the samples on the requested device: device=... or .to(device)")


@exercise("00.4", "sample_normal", points=2, difficulty=2, minutes=10,
          edge_cases=(EdgeCase("n = 1", lambda: (1, 5), lambda out, args: None if isinstance(out, torch.Tensor)
                               and tuple(out.shape) == (1,) else "expected a tensor of shape (1,)"),),
          opt_out={"float64": "its result is float32 by the spec, whatever the arguments",
                   "written by hand": "drawing normal samples is torch.randn's job; the exercise is the seeding"})
def check_sample_normal(sample_normal):
    cpu = torch.device("cpu")
    global_state = torch.get_rng_state()
    try:
        tried = "sample_normal(1000, seed=0, device='cpu')"
        first = _expect_samples(call(sample_normal, 1000, 0, "cpu", tried=tried), 1000, cpu, tried)
        tried = "sample_normal(1000, seed=0, device='cpu') twice"
        again = _expect_samples(call(sample_normal, 1000, 0, "cpu", tried=tried), 1000, cpu, tried)
        expect(torch.equal(first, again), "the same seed gave different numbers.", tried=tried,
               expected=show(first), received=show(again),
               hint="make a fresh torch.Generator inside the function and seed it with `seed` "
                    "on every call; a generator made once outside keeps moving on")
        tried = "sample_normal(1000, seed=1, device=torch.device('cpu')) against seed=0"
        other = _expect_samples(call(sample_normal, 1000, 1, cpu, tried=tried), 1000, cpu, tried)
        expect(not torch.equal(first, other), "different seeds gave the same numbers.", tried=tried,
               expected="two different samples", received=f"both {show(first)}",
               hint="use the `seed` argument: generator.manual_seed(seed)")
        expect(torch.equal(global_state, torch.get_rng_state()),
               "your function changed PyTorch's global random state.",
               tried="torch.get_rng_state() before and after calling sample_normal",
               expected="the same state before and after", received="a different state",
               hint="torch.manual_seed and draws without generator=... use the global generator "
                    "that every other cell shares; draw from your own torch.Generator instead")
    finally:
        torch.set_rng_state(global_state)  # undo what the learner's code did to the global stream

    # The distribution, by a Kolmogorov-Smirnov test against the standard normal. The critical value is
    # for a false-rejection rate of 1e-6 (Kolmogorov's limit: P(sqrt(n) D > t) ≈ 2 exp(-2 t²)); the seed
    # is fixed, so a correct answer gets the same verdict on every run.
    n = 100_000
    tried = f"sample_normal({n}, seed=2024, device='cpu')"
    big = _expect_samples(call(sample_normal, n, 2024, "cpu", tried=tried), n, cpu, tried).detach().double()
    ordered = big.sort().values
    cdf = 0.5 * (1 + torch.special.erf(ordered / math.sqrt(2)))
    steps = torch.arange(1, n + 1, dtype=torch.float64) / n
    distance = torch.maximum((steps - cdf).abs(), (cdf - (steps - 1 / n)).abs()).max().item()
    critical = math.sqrt(-0.5 * math.log(1e-6 / 2) / n)
    mean, std = big.mean().item(), big.std().item()
    expect(distance < critical, "the samples do not follow the standard normal distribution.", tried=tried,
           expected=f"a Kolmogorov-Smirnov distance to the standard normal below {critical:.4f} "
                    "(a correct sampler exceeds it once in a million seeds)",
           received=f"{distance:.4f} (mean {mean:.3f}, standard deviation {std:.3f})",
           hint="torch.randn draws from the standard normal; torch.rand draws uniformly from [0, 1). Mean 0 "
                "and standard deviation 1 are not enough: the shape must be the bell curve")

    # Different seeds give unrelated samples, not the same stream shifted or scaled.
    tried = f"sample_normal({n}, seed=2024) and sample_normal({n}, seed=2025)"
    other = _expect_samples(call(sample_normal, n, 2025, "cpu", tried=tried), n, cpu, tried).detach().double()
    bound = 5 / math.sqrt(n)  # |correlation| of independent samples exceeds 5/sqrt(n) with probability < 1e-6
    for shift in (0, 1, -1):
        a = big[max(shift, 0):n + min(shift, 0)]
        b = other[max(-shift, 0):n - max(shift, 0)]
        r = torch.corrcoef(torch.stack([a, b]))[0, 1].abs().item()
        expect(r < bound, "the samples of two seeds are related.", tried=tried,
               expected=f"independent samples: |correlation| < {bound:.3f} at every offset",
               received=f"|correlation| {r:.3f} at an offset of {shift}",
               hint="seed a generator with `seed` itself and draw n numbers from it; do not derive one "
                    "seed's samples from another's (skipping, shifting or scaling one stream)")

    # The device argument is obeyed. 'meta' tensors have a shape but no data and exist in every
    # PyTorch, so this runs on a CPU-only machine. A generator cannot live on 'meta', so an error
    # there is forgiven; a tensor on the wrong device is not.
    tried = "sample_normal(10, seed=0, device='meta'), a device every PyTorch has (shapes, no data)"
    try:
        on_meta = sample_normal(10, 0, "meta")
    except Exception:  # noqa: BLE001 - only the tensor's device is tested here
        on_meta = None
    if isinstance(on_meta, torch.Tensor) and on_meta.device.type != "meta":
        fail("the result is not on the requested device: your function ignores `device`.",
             tried=tried, expected="a tensor on meta", received=describe(on_meta) + f", on {on_meta.device}",
             hint="create the tensor with device=device, or move it with .to(device)")

    accelerator = get_device()
    if accelerator.type != "cpu":  # only on machines that have one
        tried = f"sample_normal(1000, seed=0, device='{accelerator.type}') twice"
        a = _expect_samples(call(sample_normal, 1000, 0, accelerator.type, tried=tried), 1000, accelerator, tried)
        b = _expect_samples(call(sample_normal, 1000, 0, accelerator, tried=tried), 1000, accelerator, tried)
        expect(torch.equal(a.cpu(), b.cpu()), "the same seed gave different numbers.", tried=tried,
               expected=show(a), received=show(b), hint="seed a fresh generator on every call")
