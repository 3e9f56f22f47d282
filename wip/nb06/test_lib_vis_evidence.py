"""Tests of wip/nb06/lib_vis_evidence.py (to move to tests/ with the module)."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lib_vis_evidence import (CORNERS, FlatSmallCNN, PATCH, evidence_dependence, evidence_share,  # noqa: E402
                              planted_cnn, planted_evidence)


def test_data_is_deterministic_and_shaped():
    a, b = planted_evidence(300, seed=3), planted_evidence(300, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.images.shape == (300, 3, 16, 16) and a.images.dtype == torch.float32
    assert a.masks.shape == (300, 16, 16) and a.masks.dtype == torch.bool
    assert (a.masks.sum(dim=(1, 2)) == PATCH * PATCH).all()
    assert 0 <= a.images.min() and a.images.max() <= 1
    assert not torch.equal(a.images, planted_evidence(300, seed=4).images)


def test_patch_is_in_its_corner_and_its_colour_is_the_label():
    d = planted_evidence(400)
    for i in range(0, 400, 37):
        r, c = CORNERS[int(d.corner[i])]
        assert d.masks[i, r:r + PATCH, c:c + PATCH].all()
        mean_colour = d.images[i][:, d.masks[i]].mean(dim=1)
        assert int(mean_colour.argmax()) == int(d.labels[i])


def test_nothing_outside_the_patch_tells_the_label():
    d = planted_evidence(3000)
    # the distractor's colour is independent of the label: each label sees each colour about 1/3 of the time
    for k in range(3):
        share = torch.bincount(d.distractor_colour[d.labels == k], minlength=3).float()
        share /= share.sum()
        assert (share - 1 / 3).abs().max() < 0.06
    # the mean colour outside the masks is about the same for every label
    outside = (d.images * (~d.masks)[:, None]).sum(dim=(2, 3)) / (~d.masks).sum(dim=(1, 2))[:, None]
    means = torch.stack([outside[d.labels == k].mean(dim=0) for k in range(3)])
    assert (means - means.mean(dim=0)).abs().max() < 0.01


def test_evidence_share_analytic():
    mask = torch.zeros(2, 4, 4, dtype=torch.bool)
    mask[:, 0, 0] = True
    a = torch.zeros(2, 3, 4, 4)
    a[0, 0, 0, 0], a[0, 1, 0, 0], a[0, 2, 3, 3] = 1.0, -2.0, 1.0  # 3 on the mask, 1 off: 0.75
    a[1, 0, 1, 1] = 5.0  # nothing on the mask: 0
    assert evidence_share(a, mask) == pytest.approx((0.75 + 0.0) / 2)
    assert evidence_share(a.abs().sum(1), mask) == pytest.approx(0.375)
    assert evidence_share(torch.zeros(2, 4, 4), mask) == 0.0  # all-zero maps count 0, no NaN
    with pytest.raises(ValueError):
        evidence_share(torch.zeros(2, 5, 5), mask)


def test_planted_cnn_reads_the_evidence_and_nothing_else():
    model = planted_cnn()
    test = planted_evidence(600, seed=100)
    dep = evidence_dependence(model, test)
    assert dep["clean"] >= 0.95
    assert dep["outside swapped"] >= 0.95  # everything outside the patch replaced: accuracy stays
    assert dep["patch swapped"] >= 0.95  # another image's patch: the prediction follows it
    assert dep["patch blanked"] <= 0.45  # no patch: chance (1/3)
    x = test.images[:50]
    assert torch.allclose(FlatSmallCNN(model)(x), model(x))
    assert torch.equal(planted_cnn().fc.weight, model.fc.weight)  # the same weights on every run
