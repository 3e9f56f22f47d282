"""The planted-evidence data and CNN of notebook 06 (mi_helpers.evidence), and the notebook's attribution models
(mi_helpers.attribution)."""
import shutil

import pytest
import torch

from mi_helpers.attribution import SquareModel, completeness_error, linear_model, relu_mlp, seeded_mlp, target_logit
from mi_helpers.evidence import (CHECKPOINT, CHECKPOINT_SHA256, CORNERS, PATCH, FlatSmallCNN, evidence_dependence,
                                 evidence_share, load_planted_cnn, planted_cnn, planted_evidence)
from mi_helpers.shipped import ChecksumError, sha256_of


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


@pytest.mark.parametrize("source", ["shipped", "trained again"])
def test_planted_cnn_reads_the_evidence_and_nothing_else(source):
    model = load_planted_cnn() if source == "shipped" else planted_cnn()
    test = planted_evidence(600, seed=100)
    dep = evidence_dependence(model, test)
    assert dep["clean"] >= 0.95
    assert dep["outside swapped"] >= 0.95  # everything outside the patch replaced: accuracy stays
    assert dep["patch swapped"] >= 0.95  # another image's patch: the prediction follows it
    assert dep["patch blanked"] <= 0.45  # no patch: chance (1/3)
    x = test.images[:50]
    assert torch.allclose(FlatSmallCNN(model)(x), model(x))
    if source == "trained again":
        assert torch.equal(planted_cnn().fc.weight, model.fc.weight)  # the same weights on every run


def test_the_shipped_planted_cnn_matches_its_sha256(tmp_path):
    assert sha256_of(CHECKPOINT) == CHECKPOINT_SHA256.read_text().split()[0]
    assert CHECKPOINT.stat().st_size < 100_000
    copy = tmp_path / CHECKPOINT.name
    shutil.copyfile(CHECKPOINT, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="mi_helpers.evidence --reproduce"):
        load_planted_cnn(path=copy)


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
