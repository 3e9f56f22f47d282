"""Hooks leave nothing behind and record what a manual forward pass computes; the images keep
their planted concepts; the small CNN learns the digits."""
from __future__ import annotations

import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mi_helpers.data import COLOURS, SHAPES, digits, shapes
from mi_helpers.hooks import HookPoint, count_hooks, hooks, module_names, record, run_with_cache
from mi_helpers.models import SmallCNN
from mi_helpers.train import accuracy, train


@pytest.fixture
def cnn():
    torch.manual_seed(0)
    return SmallCNN()


def manual_forward(model, x):
    steps = {}
    h = x
    for name in ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc"]:
        h = getattr(model, name)(h)
        steps[name] = h
    return steps


def test_record_equals_a_manual_forward_pass_and_leaves_no_hook(cnn):
    x = torch.randn(5, 1, 8, 8)
    output, cache = run_with_cache(cnn, x)
    expected = manual_forward(cnn, x)
    assert set(cache) == set(module_names(cnn))
    for name, value in expected.items():
        torch.testing.assert_close(cache[name], value)
    torch.testing.assert_close(output, expected["fc"])
    assert count_hooks(cnn) == 0
    assert "conv1: (5, 8, 8, 8)" in repr(cache)


def test_hooks_are_removed_even_when_the_forward_pass_raises(cnn):
    with pytest.raises(RuntimeError):
        with record(cnn, ["conv1", "fc"]):
            assert count_hooks(cnn) == 2
            cnn(torch.randn(2, 3, 8, 8))  # wrong channel count
    assert count_hooks(cnn) == 0
    with pytest.raises(AttributeError):
        with hooks(cnn, [("conv1", lambda a, n: None), ("no_such_layer", lambda a, n: None)]):
            pass
    assert count_hooks(cnn) == 0


def test_a_hook_that_returns_a_tensor_replaces_the_activation(cnn):
    x = torch.randn(3, 1, 8, 8)
    with hooks(cnn, [("relu2", lambda act, name: torch.zeros_like(act))]):
        ablated = cnn(x)
    torch.testing.assert_close(ablated, cnn.fc.bias.expand(3, -1))
    assert not torch.allclose(cnn(x), ablated)


def test_hook_point_is_an_identity_with_a_name():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), HookPoint())
    x = torch.randn(2, 3)
    _, cache = run_with_cache(model, x, ["1"])
    torch.testing.assert_close(cache["1"], model[0](x))


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 300), seed=st.integers(0, 10_000))
def test_shapes_are_deterministic_and_masks_match_the_pixels(n, seed):
    a, b = shapes(n, seed=seed), shapes(n, seed=seed)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert a.images.shape == (n, 3, 16, 16) and a.masks.shape == (n, 16, 16)
    assert a.masks.flatten(1).sum(1).min() > 0, "every image shows its shape"
    bright = a.images.max(dim=1).values > 0.5  # the shape's pixels are the bright ones
    assert torch.equal(bright, a.masks)
    # the colour channel that is brightest inside the mask is the planted colour
    inside = (a.images * a.masks[:, None]).flatten(2).sum(2)
    dominant = inside.argmax(dim=1)
    assert torch.equal(dominant, a.colour)


def test_concept_masks_partition_the_shape_pixels():
    data = shapes(500, seed=1)
    concepts = data.concept_masks()
    assert torch.equal(sum(concepts[s].int() for s in SHAPES).bool(), data.masks)
    assert torch.equal(sum(concepts[c].int() for c in COLOURS).bool(), data.masks)
    bars = concepts["vertical bar"] | concepts["horizontal bar"]
    assert torch.equal(bars, concepts["bar"])
    vertical = concepts["vertical bar"][data.shape == SHAPES.index("bar")]
    rows = vertical.any(dim=2).sum(dim=1).float()
    cols = vertical.any(dim=1).sum(dim=1).float()
    assert (rows[rows > 0] >= cols[rows > 0]).float().mean() > 0.95  # vertical bars are tall


def test_thousands_of_shapes_in_well_under_a_second():
    shapes(10)  # warm up
    start = time.process_time()  # CPU time: other processes on the machine do not count
    shapes(2000, seed=3)
    assert time.process_time() - start < 0.5


def test_digits_split_is_fixed():
    a, b = digits(), digits()
    assert torch.equal(a.X_test, b.X_test)
    assert a.X_train.shape[1:] == (1, 8, 8) and len(a.X_train) + len(a.X_test) == 1797
    assert 0.0 <= a.X_train.min() and a.X_train.max() <= 1.0


def test_small_cnn_learns_the_digits_in_seconds():
    data = digits()
    torch.manual_seed(0)
    model = SmallCNN()
    start = time.process_time()  # CPU time of both threads: about twice the wall time on 2 cores
    train(model, data.X_train, data.y_train, epochs=15, lr=3e-3, batch_size=64, progress=False)
    seconds = time.process_time() - start
    acc = accuracy(model, data.X_test, data.y_test)
    assert acc >= 0.95, f"test accuracy {acc:.3f}"
    assert seconds < 40, f"training took {seconds:.1f} s of CPU time"
