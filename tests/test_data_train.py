"""The data generators keep their planted truth; the training loop learns and repeats itself."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mi_helpers.data import circles, grid, linear_regression_data, train_test_split, two_moons
from mi_helpers.train import accuracy, train


@settings(max_examples=20, deadline=None)
@given(d=st.integers(1, 5), correlation=st.floats(0.0, 0.9), seed=st.integers(0, 1000))
def test_regression_data_is_repeatable_and_planted(d, correlation, seed):
    w = torch.linspace(-2, 2, d)
    a = linear_regression_data(500, w, bias=1.0, noise=0.0, correlation=correlation, seed=seed)
    b = linear_regression_data(500, w, bias=1.0, noise=0.0, correlation=correlation, seed=seed)
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)
    assert a.X.shape == (500, d) and a.y.shape == (500,) and a.X.dtype == torch.float32
    torch.testing.assert_close(a.y, a.X @ w + 1.0)  # no noise: exactly the planted line


def test_regression_correlation_and_scales_are_what_was_asked():
    data = linear_regression_data(20000, (1.0, 1.0), correlation=0.8, scales=(1.0, 100.0), seed=1)
    c = torch.corrcoef(data.X.T)[0, 1].item()
    assert abs(c - 0.8) < 0.02
    ratio = (data.X[:, 1].std() / data.X[:, 0].std()).item()
    assert 95 < ratio < 105


def test_moons_circles_split_and_grid():
    for make in (two_moons, circles):
        X, y = make(300, seed=2)
        assert X.shape == (300, 2) and set(y.tolist()) == {0, 1}
        assert torch.equal(make(300, seed=2)[0], X)
    X, y = two_moons(100)
    Xtr, ytr, Xte, yte = train_test_split(X, y, test_fraction=0.2, seed=0)
    assert len(Xtr) == 80 and len(Xte) == 20
    assert sorted(torch.cat([ytr, yte]).tolist()) == sorted(y.tolist())
    xx, yy, points = grid(X, steps=10)
    assert xx.shape == (10, 10) and points.shape == (100, 2)


def test_train_learns_and_repeats():
    X, y = two_moons(300, seed=0)

    def fit():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        return model, train(model, X, y, epochs=150, lr=0.05, batch_size=64, progress=False)

    model, history = fit()
    assert history[-1] < 0.5 * history[0]
    assert accuracy(model, X, y) > 0.95
    assert fit()[1] == history


def test_train_logs_each_epoch_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    X, y = two_moons(100, seed=0)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    history = train(model, X, y, epochs=12, lr=0.05, progress=False, log_dir=tmp_path / "mlp")
    events = EventAccumulator(str(tmp_path / "mlp"))
    events.Reload()
    logged = events.Scalars("loss/train")
    assert [e.step for e in logged] == list(range(1, 13))
    assert [e.value for e in logged] == pytest.approx(history, rel=1e-6)


def test_train_without_tensorboard_says_how_to_get_it(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    X, y = two_moons(20, seed=0)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        train(torch.nn.Linear(2, 2), X, y, epochs=1, progress=False, log_dir=tmp_path)
