"""Tests of mi_helpers.toy (notebook 09, section 1): the model, the data, and the helpers the checks and figures use."""
import math

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
from mi_helpers.toy import (ToyModel, angular_gaps, column_norms, dims_per_feature, draw_columns,
                     sparse_features, toy_state)


def test_toy_model_shapes_seed_and_global_state():
    state = torch.get_rng_state()
    a, b, c = ToyModel(5, 2, seed=0), ToyModel(5, 2, seed=0), ToyModel(5, 2, seed=1)
    assert torch.equal(state, torch.get_rng_state())
    assert a.W.shape == (2, 5) and a.b.shape == (5,) and a.W.dtype == torch.float32
    assert torch.equal(a.W, b.W) and not torch.equal(a.W, c.W)
    assert torch.equal(a.b, torch.zeros(5))
    assert abs(a.W.std().item() - math.sqrt(2 / 7)) < 0.3  # Xavier-normal scale
    assert [n for n, _ in a.named_parameters()] == ["W", "b"]


def test_toy_model_forward_is_relu_wt_w_x_plus_b():
    model = ToyModel(6, 3, seed=2)
    with torch.no_grad():
        model.b.copy_(torch.linspace(-0.5, 0.5, 6))
    x = torch.rand(4, 6, generator=torch.Generator().manual_seed(0))
    want = torch.relu(x @ model.W.T @ model.W + model.b)
    assert torch.allclose(model(x), want)
    assert model.hidden(x).shape == (4, 3)
    with pytest.raises(ValueError):
        ToyModel(0, 2)


def test_sparse_features_statistics_and_determinism():
    g = torch.Generator().manual_seed(0)
    x = sparse_features(20_000, 5, 0.1, generator=g)
    assert x.shape == (20_000, 5) and x.dtype == torch.float32
    assert x.min() >= 0 and x.max() <= 1
    present = (x > 0).float().mean(0)
    assert ((present - 0.1).abs() < 0.01).all()
    assert abs(x[x > 0].mean().item() - 0.5) < 0.02  # uniform in [0, 1] when present
    y = sparse_features(20_000, 5, 0.1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, y)
    assert torch.equal(sparse_features(3, 4, 0.0, generator=g), torch.zeros(3, 4))
    assert (sparse_features(3, 4, 1.0, generator=g) > 0).all()
    assert sparse_features(3, 4, 0.5, generator=g, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ValueError):
        sparse_features(3, 4, 1.5, generator=g)


def test_geometry_helpers():
    a = 0.4 + 2 * math.pi * torch.arange(5, dtype=torch.float64) / 5
    pentagon = torch.stack([a.cos(), a.sin()])
    assert torch.allclose(angular_gaps(pentagon), torch.full((5,), 72.0, dtype=torch.float64))
    assert torch.allclose(column_norms(pentagon), torch.ones(5, dtype=torch.float64))
    assert abs(dims_per_feature(pentagon) - 0.4) < 1e-12
    two = torch.tensor([[1.0, 0.0, 0.01], [0.0, 1.0, 0.0]])
    assert torch.allclose(angular_gaps(two), torch.tensor([90.0, 270.0], dtype=torch.float64))
    assert angular_gaps(torch.zeros(2, 3)).numel() == 0
    assert abs(dims_per_feature(two) - 2 / 2.0001) < 1e-9
    with pytest.raises(ValueError):
        angular_gaps(torch.zeros(3, 3))


def test_toy_state_and_drawing():
    model = ToyModel(5, 2, seed=0).eval()
    state = toy_state(model)
    assert state["is_toy"] and not state["training"] and torch.equal(state["W"], model.W.detach())
    state["W"][0, 0] = 99.0  # a copy
    assert model.W[0, 0] != 99.0
    assert toy_state(object())["W"] is None
    ax = draw_columns(model.W, title="test")
    assert ax.get_title() == "test"
    matplotlib.pyplot.close("all")
