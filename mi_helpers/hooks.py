"""Hooks: read or replace a model's activations by name, and never leave a hook behind.

The idea comes from TransformerLens's hook points, in a version small enough to
read in one sitting:

- An activation is named by the module that produces it (``"conv1"``,
  ``"blocks.0.attn.hook_pattern"``). :class:`HookPoint` is an identity module
  whose only job is to give a name to a value that no module outputs.
- A hook is ``fn(activation, name) -> replacement or None``. Returning a tensor
  replaces the activation (ablation, patching); returning None only reads it.
- Hooks are global state on the model, so the only ways to add them here are
  context managers that remove every hook on exit, even when the forward pass
  raises: :func:`hooks` and :func:`record` (and :func:`run_with_cache`).

Shapes follow the module: a conv layer's activation is ``[batch, channel, height, width]``.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

import torch
from torch import nn

Hook = Callable[[torch.Tensor, str], "torch.Tensor | None"]


class HookPoint(nn.Module):
    """An identity module: ``x -> x``. Put one where a value deserves a name."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def module_names(model: nn.Module) -> list[str]:
    """The names of every submodule, in the order they were registered (the root's is left out)."""
    return [name for name, _ in model.named_modules() if name]


def count_hooks(model: nn.Module) -> int:
    """How many forward hooks are attached anywhere in ``model`` (0 after any context here exits)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@contextmanager
def hooks(model: nn.Module, fwd_hooks: Iterable[tuple[str, Hook]]) -> Iterator[nn.Module]:
    """Attach ``(name, fn)`` forward hooks for the duration of a ``with`` block.

    ``fn(output, name)`` runs after the named module; a tensor it returns replaces
    the module's output. Every hook is removed on exit, whatever happened inside.
    """
    handles = []
    try:
        for name, fn in fwd_hooks:
            module = model.get_submodule(name)  # raises AttributeError naming the bad name

            def call(_module, _inputs, output, fn=fn, name=name):
                return fn(output, name)

            handles.append(module.register_forward_hook(call))
        yield model
    finally:
        for handle in handles:
            handle.remove()


class ActivationCache(dict):
    """Recorded activations by name (detached tensors), with a short summary when printed."""

    def __repr__(self) -> str:
        parts = [f"{name}: {tuple(value.shape)}" for name, value in self.items()]
        return "ActivationCache(" + ", ".join(parts) + ")"


@contextmanager
def record(model: nn.Module, names: Iterable[str] | None = None,
           detach: bool = True) -> Iterator[ActivationCache]:
    """Record the outputs of the named modules (all of them if ``names`` is None).

    Usage::

        with record(model, ["conv1", "conv2"]) as cache:
            model(x)
        cache["conv1"]  # [batch, channel, height, width]

    A module that runs twice keeps its last output.
    """
    cache = ActivationCache()
    names = module_names(model) if names is None else list(names)

    def keep(output, name):
        cache[name] = output.detach() if detach and torch.is_tensor(output) else output
        return None

    with hooks(model, [(name, keep) for name in names]):
        yield cache


def run_with_cache(model: nn.Module, x: torch.Tensor, names: Iterable[str] | None = None):
    """Run ``model(x)`` once and return ``(output, cache)`` of the named activations."""
    with record(model, names) as cache:
        output = model(x)
    return output, cache
