"""Ablation and activation patching (notebook 08), built on :func:`mi_helpers.hooks.hooks` alone.

Both are *interventions*: run the model, but replace one activation on the way.

- **Ablation** asks "what if this component were gone?" It replaces some entries of an
  activation (a head, a channel, a position) by zero, by their mean over a reference
  batch, or by their values on other, randomly drawn reference inputs ("resample"),
  and measures how much a metric moves. A component whose ablation changes nothing
  was not needed, however sharp its attention pattern looks.
- **Activation patching** asks "is this activation enough to carry the answer?" It runs
  the model on a *corrupted* input, but puts back an activation recorded on the *clean*
  input, and measures how much of the clean behaviour returns: see :func:`normalised`.

Every intervention is a context manager around :func:`~mi_helpers.hooks.hooks`, so its
hook is removed on exit even if the forward pass raises, and none edits a tensor in
place: the activation is cloned before entries are replaced, and the reference or
source tensors you pass are only read. Shapes, for the attention-only transformer::

    blocks.{l}.attn.hook_result   [batch, pos, head, d_model]   dim=2 picks heads
    blocks.{l}.attn.hook_z        [batch, pos, head, d_head]    dim=2 picks heads
    blocks.{l}.hook_resid_pre     [batch, pos, d_model]         dim=1 picks positions
    relu2 (SmallCNN)              [batch, channel, h, w]        dim=1 picks channels

Dimension 0 is always the batch.
"""
from __future__ import annotations

import operator
from contextlib import contextmanager
from typing import Iterable, Iterator, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from .hooks import hooks, run_with_cache

Index = Union[int, Sequence[int], slice]
HOWS = ("zero", "mean", "resample")


# --------------------------------------------------------------------------- picking entries


def _where(shape: torch.Size, dim: int, index: Index) -> tuple:
    """The indexing tuple ``(:, ..., :, index)`` that picks ``index`` along ``dim`` (and everything else).

    ``index`` is an int, a list (or tuple, or range) of ints, or a slice.
    """
    if not -len(shape) <= dim < len(shape):
        raise ValueError(f"dim={dim} is out of range for an activation of shape {tuple(shape)}")
    dim %= len(shape)
    if isinstance(index, slice):
        picked = index
    elif isinstance(index, (list, tuple, range)):
        picked = [operator.index(i) for i in index]  # a list: torch reads a tuple as one index per dim
    else:
        try:
            picked = operator.index(index)
        except TypeError:
            raise TypeError(f"index must be an int, a list of ints or a slice, not {type(index).__name__}") from None
    return (slice(None),) * dim + (picked,)


def _check_reference(reference: torch.Tensor, activation: torch.Tensor, name: str) -> None:
    if reference.shape[1:] != activation.shape[1:]:
        want = ", ".join(["any batch"] + [str(n) for n in activation.shape[1:]])
        raise ValueError(f"the reference for {name!r} must have the activation's shape except for the batch, "
                         f"[{want}], but it is {list(reference.shape)}: record it at the same hook point, "
                         f"on inputs of the same size (e.g. sequences of the same length)")


def _check_how(how: str, has_reference: bool, generator, needs: str) -> None:
    if how not in HOWS:
        raise ValueError(f"how must be one of {', '.join(map(repr, HOWS))}, not {how!r}")
    if how != "zero" and not has_reference:
        raise ValueError(f"how={how!r} takes its values from a reference batch: pass {needs}")
    if how == "resample" and not isinstance(generator, torch.Generator):
        raise ValueError("how='resample' draws reference rows at random: pass generator=torch.Generator()"
                         ".manual_seed(seed), so that the draw can be repeated")


def _ablation_hook(name: str, dim: int, index: Index, how: str, reference, generator):
    """The hook of :func:`ablate`: ``fn(activation, name)`` returning a changed copy of the activation."""
    reference = None if reference is None else reference.detach()
    mean = reference.mean(dim=0, keepdim=True) if how == "mean" else None  # [1, ...]

    def hook(activation: torch.Tensor, _name: str) -> torch.Tensor:
        where = _where(activation.shape, dim, index)
        if len(where) == 1:
            raise ValueError(f"dim={dim} is the batch dimension: ablate entries along another one")
        ablated = activation.clone()  # never edit the activation itself: other hooks may hold it
        if how == "zero":
            ablated[where] = 0
            return ablated
        _check_reference(reference, activation, name)
        if how == "mean":
            value = mean[where]  # [1, ...]: the same values for every row of the batch
        else:
            batch, n_ref = activation.shape[0], reference.shape[0]
            if batch == n_ref:  # every reference row once, in a random order
                rows = torch.randperm(batch, generator=generator, device=generator.device)
            else:  # as many rows as the batch has, with replacement
                rows = torch.randint(n_ref, (batch,), generator=generator, device=generator.device)
            value = reference[rows.to(reference.device)][where]  # row i of the batch gets reference row rows[i]
        ablated[where] = value.to(device=activation.device, dtype=activation.dtype)
        return ablated

    return hook


# --------------------------------------------------------------------------- ablation


@contextmanager
def ablate(model: nn.Module, name: str, *, dim: int, index: Index, how: str = "zero",
           reference: torch.Tensor | None = None,
           generator: torch.Generator | None = None) -> Iterator[nn.Module]:
    """Inside the ``with`` block, the entries ``index`` along ``dim`` of activation ``name`` are replaced.

    ``index`` is an int, a list of ints or a slice; ``dim`` must not be 0 (the batch).
    With an activation ``x`` of shape ``[batch, ...]``, the entries picked are
    ``x[:, ..., index, ...]`` (``index`` at position ``dim``), and they become:

    - ``how="zero"``: 0;
    - ``how="mean"``: ``reference.mean(0)`` at the same entries, the same for every row of the batch;
    - ``how="resample"``: the same entries of reference rows drawn at random with ``generator``
      (required): a random permutation of the rows when the batch sizes are equal, rows drawn
      with replacement when they differ. Each forward pass draws again, and row ``i`` of the
      batch takes all its replaced entries from one reference row.

    ``reference`` (required for "mean" and "resample") is the activation ``name`` recorded on a
    reference batch: the same shape as the activation except for the batch size, e.g.
    ``run_with_cache(model, reference_x, [name])[1][name]``. Every other entry is left as it
    was; the activation is copied, never edited in place, and keeps its dtype and device.

    Examples::

        with ablate(model, "blocks.1.attn.hook_result", dim=2, index=0):     # head L1H0
            logits = model(tokens)
        with ablate(cnn, "relu2", dim=1, index=[3, 5], how="mean", reference=cache["relu2"]):
            out = cnn(x)                                                    # channels 3 and 5
        with ablate(model, "blocks.0.hook_resid_pre", dim=1, index=4):       # position 4
            logits = model(tokens)
    """
    if dim == 0:
        raise ValueError("dim=0 is the batch dimension: ablate entries along another one")
    _check_how(how, reference is not None, generator, needs=f"reference=<the activation {name!r} recorded "
                                                              f"on a reference batch>")
    with hooks(model, [(name, _ablation_hook(name, dim, index, how, reference, generator))]):
        yield model


@contextmanager
def ablate_heads(model: nn.Module, heads: Iterable[tuple[int, int]], how: str = "zero",
                 reference_tokens: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> Iterator[nn.Module]:
    """Ablate several heads of an :class:`~mi_helpers.transformer.AttnOnlyTransformer` at once.

    ``heads`` lists ``(layer, head)`` pairs; each is ablated at ``blocks.{layer}.attn.hook_result``
    (``[batch, pos, head, d_model]``, dim 2), as :func:`ablate` does. For "mean" and "resample",
    ``reference_tokens`` (``[n_ref, pos]``, the same ``pos`` as the tokens the model will see)
    are run through the model once, when the ``with`` block is entered, to record the reference
    activations. With "resample", each layer draws its own rows (the heads of one layer share theirs).
    """
    heads = sorted({(int(layer), int(head)) for layer, head in heads})
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    for layer, head in heads:
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            raise ValueError(f"no head L{layer}H{head}: the model has layers 0..{n_layers - 1} "
                             f"and heads 0..{n_heads - 1}")
    _check_how(how, reference_tokens is not None, generator, needs="reference_tokens=<a batch of token sequences>")
    by_layer = {layer: [h for l, h in heads if l == layer] for layer, _ in heads}
    names = {layer: f"blocks.{layer}.attn.hook_result" for layer in by_layer}
    cache = {}
    if how != "zero":
        with torch.no_grad():
            _, cache = run_with_cache(model, reference_tokens, list(names.values()))
    fwd_hooks = [(names[layer], _ablation_hook(names[layer], 2, picked, how, cache.get(names[layer]), generator))
                 for layer, picked in by_layer.items()]
    with hooks(model, fwd_hooks):
        yield model


# --------------------------------------------------------------------------- patching


@contextmanager
def patch(model: nn.Module, name: str, source: torch.Tensor, *, dim: int | None = None,
          index: Index | None = None) -> Iterator[nn.Module]:
    """Inside the ``with`` block, activation ``name`` is replaced by ``source`` (e.g. a clean run's).

    ``source`` must have exactly the activation's shape (the same batch, the same sequence
    length). Without ``dim`` and ``index`` the whole activation is replaced; with them, only the
    entries ``index`` along ``dim`` (as in :func:`ablate`), the others keep the run's own values.
    ``source`` is only read (a copy goes into the model), cast to the activation's dtype and device.

    Example (activation patching of head L1H0's output)::

        _, clean_cache = run_with_cache(model, clean_tokens)
        with patch(model, "blocks.1.attn.hook_result", clean_cache["blocks.1.attn.hook_result"], dim=2, index=0):
            patched_logits = model(corrupted_tokens)
    """
    if (dim is None) != (index is None):
        raise ValueError("give both dim and index (to patch some entries), or neither (to patch the whole activation)")

    def hook(activation: torch.Tensor, _name: str) -> torch.Tensor:
        if source.shape != activation.shape:
            raise ValueError(f"the source for {name!r} must have the activation's shape {list(activation.shape)}, "
                             f"but it is {list(source.shape)}: record it at the same hook point, on a batch of "
                             f"the same size")
        value = source.to(device=activation.device, dtype=activation.dtype)
        if dim is None:
            return value.clone()
        where = _where(activation.shape, dim, index)
        patched = activation.clone()
        patched[where] = value[where]
        return patched

    with hooks(model, [(name, hook)]):
        yield model


# --------------------------------------------------------------------------- metrics


def logit_difference(logits: torch.Tensor, correct: torch.Tensor, wrong: torch.Tensor) -> torch.Tensor:
    """The mean of ``logits[..., correct] - logits[..., wrong]`` over every row: a 0-dim tensor.

    ``logits`` is ``[batch, pos, vocab]`` or ``[batch, vocab]``; ``correct`` and ``wrong`` are integer
    tensors of its leading shape (``[batch, pos]`` or ``[batch]``): one token id per row.
    """
    lead = tuple(logits.shape[:-1])
    picked = []
    for what, ids in (("correct", correct), ("wrong", wrong)):
        ids = torch.as_tensor(ids, device=logits.device)
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise ValueError(f"{what} must hold token ids (integers), not {ids.dtype}")
        if tuple(ids.shape) != lead:
            raise ValueError(f"{what} must have the logits' leading shape {list(lead)} (logits are "
                             f"{list(logits.shape)}), but it is {list(ids.shape)}")
        picked.append(logits.gather(-1, ids.long().unsqueeze(-1)).squeeze(-1))
    return (picked[0] - picked[1]).mean()


def normalised(value, clean, corrupted):
    """``(value - corrupted) / (clean - corrupted)``: 1 at the clean run's metric, 0 at the corrupted run's.

    For activation patching: the fraction of the clean behaviour that a patch restores. Works on
    floats and on tensors (elementwise, with broadcasting). Raises ValueError when ``clean ==
    corrupted`` (anywhere, for tensors): the clean and corrupted runs must differ.
    """
    gap = clean - corrupted
    exact = gap if torch.is_tensor(gap) else torch.as_tensor(gap, dtype=torch.float64)  # keeps tiny float gaps
    if bool((exact == 0).any()):
        raise ValueError(f"clean ({clean}) equals corrupted ({corrupted}): nothing to normalise by. The metric must "
                         f"differ between the clean and the corrupted run")
    return (value - corrupted) / gap


def induction_loss(logits: torch.Tensor, tokens: torch.Tensor, length: int) -> torch.Tensor:
    """The mean cross-entropy of the next-token predictions that induction can make, on ``A A`` sequences.

    ``tokens`` is ``[batch, 2 * length]``: a block A of ``length`` tokens, then A again (as
    :func:`~mi_helpers.circuits.repeated_pairs` makes); ``logits`` is ``[batch, 2 * length, vocab]``,
    where ``logits[:, t]`` predicts ``tokens[:, t + 1]``. The positions counted are the queries
    of the second copy that have a next token::

        logits[:, length : 2*length - 1]   predict   tokens[:, length + 1 : 2*length]

    that is, the second copy's tokens 1 .. length-1 (its first token, ``tokens[:, length]``, cannot
    be predicted from the first copy, so it is left out, as in :attr:`mi_helpers.transformer.RepeatedBatch.repeated`).
    Returns the mean over the ``batch * (length - 1)`` predictions, a 0-dim tensor (in nats).
    A perfect induction circuit gives about 0; uniform logits give ``log(vocab)``.
    """
    if length < 2:
        raise ValueError(f"length must be at least 2 (the second copy needs a token after its first), got {length}")
    if tokens.dim() != 2 or tokens.shape[1] != 2 * length:
        raise ValueError(f"tokens must be [batch, 2 * length] = [batch, {2 * length}], got {list(tokens.shape)}")
    if tuple(logits.shape[:2]) != tuple(tokens.shape) or logits.dim() != 3:
        raise ValueError(f"logits must be [batch, 2 * length, vocab] = {list(tokens.shape) + ['vocab']}, "
                         f"got {list(logits.shape)}")
    predictions = logits[:, length:2 * length - 1]  # [batch, length - 1, vocab]
    targets = tokens[:, length + 1:2 * length].to(logits.device)  # [batch, length - 1]
    return F.cross_entropy(predictions.reshape(-1, logits.shape[-1]), targets.reshape(-1))
