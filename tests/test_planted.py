"""The planted model: it uses feature a, computes feature b (more decodable than a) and never
uses it; probes find both, only interventions tell them apart."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from mi_helpers.hooks import count_hooks, hooks, module_names, run_with_cache
from mi_helpers.planted import (D_IN, FEATURE_UNUSED, FEATURE_USED, HIDDEN, UNITS_A, UNITS_B, PlantedData,
                                feature_directions, planted_features, planted_model)

N = 4000


@pytest.fixture(scope="module")
def data():
    return planted_features(N, seed=0)


@pytest.fixture(scope="module")
def model():
    return planted_model()


@pytest.fixture(scope="module")
def run(model, data):
    """(logits, hidden activations) on ``data``."""
    with torch.no_grad():
        logits, cache = run_with_cache(model, data.X, ["hidden"])
    return logits, cache["hidden"]


def accuracy(logits, target):
    return (logits.argmax(dim=1) == target).float().mean().item()


def probe_accuracy(features, target, n_train=N // 2, l2=1e-3, steps=25):
    """Test accuracy of a logistic-regression probe fit on the first ``n_train`` rows, scored
    on the rest: L2-regularised, on standardised features, fit by Newton's method (exact and
    fast for a few features; torch.optim's first optimiser costs a second of imports)."""
    train, test = features[:n_train].double(), features[n_train:].double()
    mean, std = train.mean(dim=0), train.std(dim=0) + 1e-8
    ones = torch.ones(n_train, 1, dtype=torch.float64)
    train = torch.cat([(train - mean) / std, ones], dim=1)
    test = torch.cat([(test - mean) / std, ones[: len(test)]], dim=1)
    t = target[:n_train].double()
    penalty = l2 * torch.eye(train.shape[1], dtype=torch.float64)
    penalty[-1, -1] = 0.0  # the intercept is not penalised
    w = torch.zeros(train.shape[1], dtype=torch.float64)
    for _ in range(steps):
        p = torch.sigmoid(train @ w)
        gradient = train.T @ (p - t) / n_train + penalty @ w
        hessian = (train.T * (p * (1 - p))) @ train / n_train + penalty
        w = w - torch.linalg.solve(hessian + 1e-9 * torch.eye(len(w), dtype=torch.float64), gradient)
    return ((test @ w > 0).long() == target[n_train:]).double().mean().item()


def ablate(model, x, units, values):
    """Logits with the hidden ``units`` replaced by ``values`` (a number, or one value per unit)."""
    units = list(units)

    def replace(h, name):
        h = h.clone()
        h[:, units] = values
        return h

    with torch.no_grad(), hooks(model, [("hidden", replace)]):
        logits = model(x)
    assert count_hooks(model) == 0
    return logits


# --- data ---------------------------------------------------------------------------------

def test_data_shapes_dtypes_and_label(data):
    assert isinstance(data, PlantedData) and len(data) == N
    assert data.X.shape == (N, D_IN) and data.X.dtype == torch.float32
    for name in ("a", "b", "y"):
        value = getattr(data, name)
        assert value.shape == (N,) and value.dtype == torch.int64, name
        assert set(value.unique().tolist()) == {0, 1}, name
    assert torch.equal(data.y, data.a)
    assert torch.isfinite(data.X).all()


def test_data_is_deterministic_in_the_seed(data):
    again = planted_features(N, seed=0)
    for name in ("X", "a", "b", "y"):
        assert torch.equal(getattr(again, name), getattr(data, name)), name
    other = planted_features(N, seed=1)
    assert not torch.equal(other.X, data.X) and not torch.equal(other.b, data.b)


def test_features_are_balanced_and_independent_by_default(data):
    assert abs(data.a.float().mean().item() - 0.5) < 0.04
    assert abs(data.b.float().mean().item() - 0.5) < 0.04
    assert abs((data.a == data.b).float().mean().item() - 0.5) < 0.04
    assert torch.equal(planted_features(500, seed=3, agreement=1.0).b, planted_features(500, seed=3).a)
    correlated = planted_features(N, seed=0, agreement=0.8)
    assert abs((correlated.a == correlated.b).float().mean().item() - 0.8) < 0.04
    with pytest.raises(ValueError):
        planted_features(10, agreement=1.5)


def test_features_lie_along_orthonormal_directions(data):
    u_a, u_b = feature_directions(D_IN)
    assert u_a.shape == u_b.shape == (D_IN,)
    assert torch.allclose(torch.stack([u_a, u_b]) @ torch.stack([u_a, u_b]).T, torch.eye(2), atol=1e-6)
    assert ((data.X @ u_a > 0).long() == data.a).float().mean() > 0.95
    assert ((data.X @ u_b > 0).long() == data.b).float().mean() > 0.99
    with pytest.raises(ValueError):
        feature_directions(1)


# --- the model ----------------------------------------------------------------------------

def test_model_names_and_determinism():
    model = planted_model()
    assert {"fc1", "relu", "hidden", "fc2"} <= set(module_names(model))
    assert model.fc1.weight.shape == (HIDDEN, D_IN) and model.fc2.weight.shape == (2, HIDDEN)
    same, other = planted_model(seed=0), planted_model(seed=1)
    for (name, p), q, r in zip(model.named_parameters(), same.parameters(), other.parameters()):
        assert torch.equal(p, q), name
    assert not torch.equal(model.fc1.weight, other.fc1.weight)  # the unused spare units differ
    assert torch.equal(model.fc2.weight, other.fc2.weight)
    assert torch.equal(planted_model(hidden=6, seed=0).fc1.weight, planted_model(hidden=6, seed=5).fc1.weight)
    with pytest.raises(ValueError):
        planted_model(hidden=5)


def test_model_predicts_the_label(run, data):
    logits, _ = run
    assert logits.shape == (N, 2) and logits.dtype == torch.float32
    assert accuracy(logits, data.y) > 0.95
    assert accuracy(logits, data.b) < 0.6  # it does not predict b


def test_b_units_have_zero_output_weight_and_larger_activations(model, run):
    _, hidden = run
    assert FEATURE_USED == "a" and FEATURE_UNUSED == "b"
    assert set(UNITS_A).isdisjoint(UNITS_B) and len(UNITS_B) > len(UNITS_A)
    used = model.fc2.weight.abs().sum(dim=0).nonzero().flatten().tolist()
    assert used == sorted(UNITS_A)
    assert hidden[:, list(UNITS_B)].mean() > 2 * hidden[:, list(UNITS_A)].mean()


def test_a_probe_finds_b_better_than_a(run, data):
    _, hidden = run
    acc_a, acc_b = probe_accuracy(hidden, data.a), probe_accuracy(hidden, data.b)
    assert acc_b >= 0.95
    assert acc_a >= 0.9
    assert acc_b > acc_a  # the feature the probe finds best is the one the model does not use


# --- interventions ------------------------------------------------------------------------

def test_ablating_the_b_units_changes_no_logit(model, run, data):
    logits, hidden = run
    b = list(UNITS_B)
    assert torch.equal(ablate(model, data.X, b, 0.0), logits)  # zero-ablation
    assert torch.equal(ablate(model, data.X, b, hidden[:, b].mean(dim=0)), logits)  # mean-ablation
    shuffled = hidden[torch.randperm(N, generator=torch.Generator().manual_seed(0))][:, b]
    assert torch.equal(ablate(model, data.X, b, shuffled), logits)  # resample-ablation
    rest = [unit for unit in range(HIDDEN) if unit not in UNITS_A]
    assert torch.equal(ablate(model, data.X, rest, 0.0), logits)  # nothing outside UNITS_A matters


def test_ablating_the_a_units_drops_accuracy_to_chance(model, run, data):
    _, hidden = run
    a = list(UNITS_A)
    for values in (0.0, hidden[:, a].mean(dim=0)):
        logits = ablate(model, data.X, a, values)
        assert accuracy(logits, data.y) < 0.65
        assert (logits == logits[0]).all()  # the output no longer depends on the input


def test_flipping_b_in_the_input_changes_nothing_and_flipping_a_flips_the_prediction(model, run, data):
    logits, _ = run
    u_a, u_b = feature_directions(D_IN)
    with torch.no_grad():
        # reflect each input along u_b: the same input with b flipped (the noise along u_b too)
        flipped_b = model(data.X - 2 * (data.X @ u_b)[:, None] * u_b)
        flipped_a = model(data.X - 2 * (data.X @ u_a)[:, None] * u_a)
    assert (flipped_b - logits).abs().max() < 1e-4
    assert (flipped_a.argmax(dim=1) != logits.argmax(dim=1)).float().mean() > 0.99


def test_no_global_random_state_is_used_or_changed():
    torch_state, np_state, py_state = torch.get_rng_state(), np.random.get_state(), random.getstate()
    planted_features(100, seed=7)
    planted_model(hidden=12, seed=7)
    feature_directions(5)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert random.getstate() == py_state
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]
