"""Small tests of lib_attribution (run: OMP_NUM_THREADS=1 .venv/bin/python -m pytest wip/nb06/test_lib_attribution.py)."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from lib_attribution import SquareModel, completeness_error, linear_model, relu_mlp, seeded_mlp, target_logit  # noqa: E402


def test_linear_model_weights():
    m = linear_model([[1.0, 2.0]], [0.5])
    assert torch.allclose(m(torch.tensor([[1.0, 1.0]], dtype=torch.float64)), torch.tensor([[3.5]], dtype=torch.float64))


def test_square_model():
    m = SquareModel([[1.0, -2.0]])
    assert m(torch.tensor([[3.0, 1.0]], dtype=torch.float64)).item() == 7.0


def test_relu_mlp_bias_free_is_homogeneous():
    m = seeded_mlp(0, bias=False)
    x = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(m(3 * x), 3 * m(x))
    assert all(not isinstance(l, torch.nn.Linear) or l.bias is None for l in m)


def test_seeded_mlp_repeats_and_leaves_rng():
    state = torch.get_rng_state()
    a, b = seeded_mlp(5), seeded_mlp(5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert torch.equal(state, torch.get_rng_state())


def test_completeness_error_exact_for_linear():
    m = relu_mlp([[[2.0, -1.0]]])
    x = torch.tensor([[1.0, 3.0]], dtype=torch.float64)
    attr = x * torch.tensor([2.0, -1.0], dtype=torch.float64)
    assert completeness_error(attr, m, x, 0).item() == 0.0
    assert target_logit(m, x, torch.tensor([0])).item() == -1.0
