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


def attention_patterns(pattern, *, tokens=None, heads: Sequence[int] | None = None,
                       title: str | None = None, layer: int | None = None, axes=None):
    """Attention patterns as heatmaps, one per head in a row: ``pattern`` is [head, q, k] or [q, k].

    Row q of a head's map is where query position q looks (it sums to 1; the upper triangle
    is 0 in a causal model). ``tokens`` (strings or ints, one per position) label both axes;
    ``heads`` picks which heads to draw (all by default); ``layer`` names them "L1H0" and so on.
    ``title`` goes above the row (default "attention patterns[, layer L]"); ``axes`` draws into
    existing Axes, one per head, instead of a new figure.
    Returns the array of Axes, one per head drawn.
    """
    p = _numpy(pattern)
    if p.ndim == 2:
        p = p[None]
    if p.ndim != 3:
        raise ValueError(f"pattern must be [head, query_pos, key_pos] or [query_pos, key_pos], got shape {p.shape}")
    heads = list(range(p.shape[0])) if heads is None else list(heads)
    if axes is None:
        size = min(6.0, 2.0 + 0.1 * p.shape[-1])
        _, axes = plt.subplots(1, len(heads), figsize=(size * len(heads) + 1.0, size), squeeze=False,
                               constrained_layout=True)
    axes = np.asarray(axes).reshape(-1)
    labels = None
    if tokens is not None:
        labels = [str(t) for t in (tokens.tolist() if hasattr(tokens, "tolist") else list(tokens))]
        if len(labels) != p.shape[-1]:
            raise ValueError(f"{len(labels)} tokens for {p.shape[-1]} positions: give one label per position")
    image = None
    for ax, head in zip(axes, heads):
        image = ax.imshow(p[head], cmap="Blues", vmin=0.0, vmax=1.0, aspect="equal")
        name = f"L{layer}H{head}" if layer is not None else f"head {head}"
        ax.set(title=name, xlabel="key position (attended to)", ylabel="query position")
        if labels is not None:
            ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
            ax.set_yticks(range(len(labels)), labels, fontsize=7)
    if image is not None:
        axes[0].figure.colorbar(image, ax=list(axes[:len(heads)]), shrink=0.8, label="attention weight")
    if title is None:
        title = "attention patterns" if layer is None else f"attention patterns, layer {layer}"
    axes[0].figure.suptitle(title)
    return axes[:len(heads)]
