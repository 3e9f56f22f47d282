"""Plots the notebooks share. Each returns its matplotlib Axes so a notebook can add to it.

Every figure gets a title and axis labels: a picture nobody can read teaches nothing.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _axes(ax, figsize=(5, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def heatmap(matrix, *, title: str, xlabel: str, ylabel: str, ax=None, cmap: str = "viridis",
            center: float | None = None, colorbar_label: str = "", annotate: bool = False,
            xticklabels: Sequence[str] | None = None, yticklabels: Sequence[str] | None = None):
    """A matrix as coloured cells; ``center`` makes a diverging map symmetric around it."""
    m = _numpy(matrix)
    ax = _axes(ax)
    kwargs = {}
    if center is not None:
        span = float(np.nanmax(np.abs(m - center))) or 1.0
        kwargs = dict(vmin=center - span, vmax=center + span)
        cmap = "RdBu_r" if cmap == "viridis" else cmap
    image = ax.imshow(m, cmap=cmap, aspect="auto", **kwargs)
    cbar = ax.figure.colorbar(image, ax=ax)
    cbar.set_label(colorbar_label)
    if annotate:  # dark text on light cells, light text on dark ones
        for (i, j), value in np.ndenumerate(m):
            red, green, blue, _ = image.cmap(image.norm(value))
            light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if light else "white")
    if xticklabels is not None:
        ax.set_xticks(range(len(xticklabels)), xticklabels, rotation=45, ha="right")
    if yticklabels is not None:
        ax.set_yticks(range(len(yticklabels)), yticklabels)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def scatter(points, *, title: str, xlabel: str = "x₁", ylabel: str = "x₂", labels=None,
            ax=None, equal: bool = True, **kwargs):
    """Points of shape [n, 2], coloured by ``labels`` if given."""
    p = _numpy(points)
    ax = _axes(ax)
    if labels is not None:  # a colour map only means something with labels to colour by
        kwargs.update(c=_numpy(labels), cmap=kwargs.get("cmap", "tab10"))
    ax.scatter(p[:, 0], p[:, 1], s=kwargs.pop("s", 12), **kwargs)
    if equal:
        ax.set_aspect("equal", adjustable="datalim")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def arrows(vectors, *, ax=None, origin=(0.0, 0.0), labels: Sequence[str] | None = None,
           color=None, title: str | None = None):
    """2-d vectors of shape [k, 2] drawn as arrows from ``origin``."""
    v = _numpy(vectors).reshape(-1, 2)
    ax = _axes(ax)
    colors = color or [f"C{i}" for i in range(len(v))]
    for i, (dx, dy) in enumerate(v):
        c = colors[i] if isinstance(colors, list) else colors
        ax.annotate("", xy=(origin[0] + dx, origin[1] + dy), xytext=origin,
                    arrowprops=dict(arrowstyle="->", color=c, lw=2))
        if labels is not None:
            ax.text(origin[0] + 1.08 * dx, origin[1] + 1.08 * dy, labels[i], color=c)
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
    if title:
        ax.set_title(title)
    return ax


def curves(xs, ys: dict, *, title: str, xlabel: str, ylabel: str, ax=None,
           logx: bool = False, logy: bool = False, marker: str = "o"):
    """One line per entry of ``ys`` (label -> values) against the shared ``xs``."""
    ax = _axes(ax)
    for label, values in ys.items():
        ax.plot(_numpy(xs), _numpy(values), marker=marker, label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if len(ys) > 1:
        ax.legend()
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return ax


def bars(values, *, labels: Sequence[str], title: str, xlabel: str, ylabel: str, ax=None):
    """A bar per value, named by ``labels``."""
    ax = _axes(ax)
    ax.bar(range(len(labels)), _numpy(values))
    ax.set_xticks(range(len(labels)), labels)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax
