"""Seeding, devices and the plots the notebooks share."""
from __future__ import annotations

import random

import matplotlib
import numpy as np
import pytest
import torch

from mi_helpers import plot
from mi_helpers.utils import get_device, seed_everything

matplotlib.use("Agg")


def draws():
    return random.random(), np.random.rand(), torch.rand(1).item()


def test_seed_everything_repeats_every_generator():
    seed_everything(3)
    first = draws()
    seed_everything(3)
    assert draws() == first
    seed_everything(4)
    assert draws() != first


def test_get_device_prefers_what_is_asked_and_exists():
    assert get_device("cpu") == torch.device("cpu")
    device = get_device()
    assert device.type in {"cpu", "cuda", "mps"}
    torch.zeros(2, device=device)  # usable


@pytest.mark.parametrize("draw", [
    lambda: plot.heatmap(torch.randn(3, 4), title="T", xlabel="X", ylabel="Y", center=0.0, annotate=True),
    lambda: plot.scatter(torch.randn(10, 2), labels=torch.arange(10) % 2, title="T", xlabel="X", ylabel="Y"),
    lambda: plot.curves([1, 2, 3], {"a": [1, 2, 3], "b": [3, 2, 1]}, title="T", xlabel="X", ylabel="Y", logy=True),
    lambda: plot.bars([1, 2], labels=["p", "q"], title="T", xlabel="X", ylabel="Y"),
])
def test_plots_have_title_and_labels(draw):
    ax = draw()
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("T", "X", "Y")
    matplotlib.pyplot.close("all")


def test_arrows_draws_one_annotation_per_vector():
    ax = plot.arrows(torch.eye(2), labels=["e1", "e2"], title="basis")
    assert len([c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation)]) == 2
    matplotlib.pyplot.close("all")
