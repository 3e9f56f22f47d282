"""Planted evidence: images whose label is decided by a few known pixels, and a CNN that reads only them.

Notebook 06 grades attribution methods by where they put their attribution. That needs a
model for which the course knows which pixels matter. :func:`planted_evidence` draws
16x16 RGB images in which a small 3x3 patch in one of the four corners carries the label
(its colour: red 0, green 1, blue 2); everything else (a random shape of a random colour
from :func:`mi_helpers.data.shapes`, kept out of the corners, and uniform noise) is drawn
independently of the label and so carries no information about it. The boolean mask of
the patch's pixels comes with every image.

:func:`planted_cnn` trains a :class:`~mi_helpers.models.SmallCNN` on it with a fixed seed
(two or three seconds on a 2-core CPU); the course ships that model (:func:`load_planted_cnn`, checked
against its sha256; ``python -m mi_helpers.evidence --reproduce`` trains it again), so that the notebook
and the checks read the same weights. :func:`evidence_dependence` :func:`evidence_dependence` measures that it reads
the patch and nothing else: swapping every pixel outside the masks between images leaves
its accuracy as it was, giving each image another image's patch makes its predictions
follow the patch, and blanking the patch brings it to chance.

:func:`evidence_share` scores an attribution map by the share of its absolute value that
falls on the evidence pixels.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from .data import _RGB, shapes
from .models import SmallCNN
from .shipped import CHECKPOINT_DIR, load_verified, save_with_sha256
from .train import accuracy, train

EVIDENCE_COLOURS = ("red", "green", "blue")  # label k = a patch of colour k
PATCH = 3  # the evidence patch is PATCH x PATCH pixels
CORNERS = ((1, 1), (1, 12), (12, 1), (12, 12))  # top-left pixel (row, column) of the patch in each corner
CORNER_BOX = 6  # distractor shapes keep out of the CORNER_BOX x CORNER_BOX square of each corner


@dataclass
class PlantedEvidence:
    """images [n, 3, 16, 16] float32 in [0, 1]; labels [n] int64 in {0, 1, 2} (the patch's colour);
    masks [n, 16, 16] bool, the patch's pixels (the only evidence); corner [n] int64 indexing CORNERS;
    distractor_colour [n] int64, the colour of the distractor shape (independent of the label)."""

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor
    corner: torch.Tensor
    distractor_colour: torch.Tensor


def planted_evidence(n: int = 1200, *, noise: float = 0.1, seed: int = 0) -> PlantedEvidence:
    """``n`` images whose label is the colour of a 3x3 patch in a random corner; nothing else tells it.

    Deterministic under ``seed``; no loop over images. The distractor is one shape of
    :func:`mi_helpers.data.shapes` (any of the three colours, drawn independently of the label),
    with its pixels in the four corner boxes removed, so it never touches the patch.
    """
    size = 16
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(3, (n,), generator=g)
    corner = torch.randint(len(CORNERS), (n,), generator=g)
    background = shapes(n, size, noise=0.0, seed=seed + 1)  # its own seed: independent of the labels
    rows = torch.arange(size)
    near = lambda lo: (rows < CORNER_BOX) if lo < size // 2 else (rows >= size - CORNER_BOX)  # noqa: E731
    boxes = torch.zeros(size, size, dtype=torch.bool)
    for r, c in CORNERS:
        boxes |= near(r)[:, None] & near(c)[None, :]
    images = background.images * (~boxes).float()
    top = torch.tensor([r for r, _ in CORNERS])[corner]
    left = torch.tensor([c for _, c in CORNERS])[corner]
    in_rows = (rows[None] >= top[:, None]) & (rows[None] < top[:, None] + PATCH)  # [n, size]
    in_cols = (rows[None] >= left[:, None]) & (rows[None] < left[:, None] + PATCH)
    masks = in_rows[:, :, None] & in_cols[:, None, :]  # [n, size, size]
    patch = masks[:, None].float() * _RGB[labels][:, :, None, None]
    images = torch.where(masks[:, None], patch, images)
    images = (images + noise * torch.rand(images.shape, generator=g)).clamp(0, 1)
    return PlantedEvidence(images, labels, masks, corner, background.colour)


def planted_cnn(seed: int = 0, *, epochs: int = 40, progress: bool = False) -> SmallCNN:
    """A SmallCNN (3 channels in, 3 classes, 16x16) trained on ``planted_evidence(seed=seed)``, in eval mode.

    Full-batch Adam from a seeded initialisation: the same weights on every run (about a second).
    Test accuracy (``planted_evidence(seed=seed + 100)``) is above 0.95.
    """
    data = planted_evidence(seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN(in_channels=3, n_classes=3, image_size=16)
    train(model, data.images, data.labels, epochs=epochs, lr=2e-2, seed=seed, progress=progress,
          desc="planted CNN")
    return model.eval()


CHECKPOINT = CHECKPOINT_DIR / "planted_cnn.pt"
CHECKPOINT_SHA256 = CHECKPOINT_DIR / "planted_cnn.sha256"
REBUILD = "python -m mi_helpers.evidence --reproduce"


def load_planted_cnn(verify: bool = True, *, path=None) -> SmallCNN:
    """The shipped :func:`planted_cnn` (seed 0), in eval mode, after checking the file's sha256."""
    saved = load_verified(CHECKPOINT if path is None else path, CHECKPOINT_SHA256, REBUILD, verify)
    model = SmallCNN(in_channels=3, n_classes=3, image_size=16)
    model.load_state_dict(saved["state_dict"])
    return model.eval()


@functools.lru_cache(maxsize=1)
def _shipped_state() -> dict:
    return {k: v.clone() for k, v in load_planted_cnn().state_dict().items()}


def shipped_planted_cnn() -> SmallCNN:
    """A fresh copy of the shipped model, read once per process (for checks: each caller may change its copy)."""
    model = SmallCNN(in_channels=3, n_classes=3, image_size=16)
    model.load_state_dict(_shipped_state())
    return model.eval()


def reproduce_checkpoint(seed: int = 0) -> dict:
    """Train :func:`planted_cnn` again and write it, and its sha256, into the package; returns its accuracies."""
    torch.set_num_threads(2)
    model = planted_cnn(seed)
    state = {name: value.detach().float().contiguous() for name, value in model.state_dict().items()}
    dependence = evidence_dependence(model, planted_evidence(600, seed=seed + 100))
    meta = {"seed": seed, "torch": str(torch.__version__), **dependence}
    save_with_sha256({"state_dict": state, "meta": meta}, CHECKPOINT, CHECKPOINT_SHA256)
    return dependence


def evidence_share(attribution: torch.Tensor, mask: torch.Tensor) -> float:
    """The share of the absolute attribution on the evidence pixels, averaged over images.

    attribution: [n, C, H, W] (summed over channels after the absolute value) or [n, H, W];
    mask: [n, H, W] bool. Each image's share is sum(|a| on the mask) / sum(|a|), in [0, 1];
    an image whose attribution is zero everywhere counts 0 (it found no evidence).
    Returns a Python float.
    """
    a = attribution.detach().abs().double()
    if a.dim() == 4:
        a = a.sum(dim=1)
    if a.shape != mask.shape:
        raise ValueError(f"attribution {tuple(attribution.shape)} does not match mask {tuple(mask.shape)}")
    total = a.sum(dim=(1, 2))
    on = (a * mask.to(a.dtype)).sum(dim=(1, 2))
    share = torch.where(total > 0, on / total.clamp_min(torch.finfo(a.dtype).tiny), torch.zeros_like(total))
    return share.mean().item()


def swap_outside(data: PlantedEvidence, seed: int = 0) -> torch.Tensor:
    """Images whose pixels outside their mask come from another image (whose own patch is replaced
    by noise first, so that no second patch comes along); each image keeps its own patch."""
    n = data.images.shape[0]
    g = torch.Generator().manual_seed(seed)
    order = torch.roll(torch.randperm(n, generator=g), 1)
    noise = 0.1 * torch.rand(data.images.shape, generator=g)
    backgrounds = torch.where(data.masks[:, None], noise, data.images)  # every patch removed
    return torch.where(data.masks[:, None], data.images, backgrounds[order])


def evidence_dependence(model: torch.nn.Module, data: PlantedEvidence, seed: int = 0) -> dict[str, float]:
    """How the model's accuracy moves when the evidence or everything else is changed.

    - "clean": accuracy on the images;
    - "outside swapped": every pixel outside the mask taken from another image (should stay);
    - "patch swapped": accuracy against the *donor's* label when each image's patch is replaced by
      another image's patch, at the same place (should stay: the prediction follows the patch);
    - "patch blanked": the patch replaced by background noise (should fall to about 1/3, chance).
    """
    n = data.images.shape[0]
    order = torch.roll(torch.arange(n), 1)
    donor_colour = _RGB[data.labels[order]][:, :, None, None]
    g = torch.Generator().manual_seed(seed)
    noise = 0.1 * torch.rand(data.images.shape, generator=g)
    patched = torch.where(data.masks[:, None], (donor_colour + noise).clamp(0, 1), data.images)
    blanked = torch.where(data.masks[:, None], noise, data.images)
    return {
        "clean": accuracy(model, data.images, data.labels),
        "outside swapped": accuracy(model, swap_outside(data, seed), data.labels),
        "patch swapped": accuracy(model, patched, data.labels[order]),
        "patch blanked": accuracy(model, blanked, data.labels),
    }


class FlatSmallCNN(torch.nn.Module):
    """The same network as a SmallCNN, sharing its layers, with the flatten done in ``forward`` (no module).

    Captum's LRP needs a rule for every leaf module and has none that works for ``nn.Flatten``;
    this view has only layers it knows (Conv2d, ReLU, MaxPool2d, Linear). Same outputs as the SmallCNN.
    """

    def __init__(self, cnn: SmallCNN):
        super().__init__()
        for name in ("conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "fc"):
            setattr(self, name, getattr(cnn, name))

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(x.flatten(1))


def _main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mi_helpers.evidence",
                                     description="Rebuild or check the course's planted-evidence CNN.")
    parser.add_argument("--reproduce", action="store_true",
                        help=f"train it again (seed 0, 2 threads, a few seconds) and rewrite {CHECKPOINT.name} "
                             f"and {CHECKPOINT_SHA256.name}")
    args = parser.parse_args(argv)
    if args.reproduce:
        reproduce_checkpoint()
    dependence = evidence_dependence(load_planted_cnn(), planted_evidence(600, seed=100))
    print(f"{CHECKPOINT.name}: sha256 ok; accuracy on 600 new images: "
          + ", ".join(f"{k} {v:.3f}" for k, v in dependence.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
