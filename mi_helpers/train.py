"""One short training loop, with a progress bar: the same loop for every model in the course."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm


def train(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, *,
          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
          epochs: int = 100, lr: float = 1e-2, batch_size: int | None = None,
          optimizer: str = "adam", weight_decay: float = 0.0, seed: int = 0,
          progress: bool = True, desc: str = "training", log_dir: str | Path | None = None) -> list[float]:
    """Fit ``model`` to (X, y) and return the mean training loss of each epoch.

    ``loss_fn`` defaults to cross-entropy (``y`` holds class indices). With
    ``batch_size=None`` every step sees the whole data set. Shuffling uses its
    own generator seeded with ``seed``, so a run repeats exactly.

    ``log_dir``: also write each epoch's loss (``loss/train``) to TensorBoard's files in this folder, to
    watch with ``tensorboard --logdir <its parent>`` (offline, at http://localhost:6006). Needs the
    ``tensorboard`` package: ``pip install tensorboard``.
    """
    writer = _writer(log_dir, desc) if log_dir is not None else None
    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    device = next(model.parameters()).device
    X, y = X.to(device), y.to(device)
    optimisers = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
    if optimizer not in optimisers:
        raise ValueError(f"optimizer must be one of {sorted(optimisers)}")
    opt = optimisers[optimizer](model.parameters(), lr=lr, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    size = batch_size or n
    history = []
    model.train()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        order = torch.randperm(n, generator=g).to(device) if size < n else torch.arange(n, device=device)
        total = 0.0
        for start in range(0, n, size):
            batch = order[start:start + size]
            opt.zero_grad()
            loss = loss_fn(model(X[batch]), y[batch])
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        history.append(total / n)
        bar.set_postfix(loss=f"{history[-1]:.4f}")
        if writer is not None:
            writer.add_scalar("loss/train", history[-1], len(history))
    if writer is not None:
        writer.close()
    model.eval()
    return history


def _writer(log_dir: str | Path, desc: str):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ImportError("train(log_dir=...) writes TensorBoard's files and needs the tensorboard package: "
                          "pip install tensorboard (in the course's environment: .venv/bin/pip install tensorboard), "
                          "or leave log_dir out.") from None
    writer = SummaryWriter(log_dir=str(log_dir))
    writer.add_text("run", desc)
    return writer


@torch.no_grad()
def accuracy(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of rows of X whose highest-scoring class is y."""
    device = next(model.parameters()).device
    return (model(X.to(device)).argmax(dim=-1).cpu() == y.cpu()).float().mean().item()
