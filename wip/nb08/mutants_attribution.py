"""Plausible wrong answers to 08.6 attribution_patching; every one must fail its check.

Each is self-contained (it imports what it needs), so that it runs in the tests' process and, pasted as one
cell, in the graders' sandboxed kernel. The comment above each says what is wrong.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mi_helpers.hooks import hooks, record, run_with_cache
from mi_helpers.interventions import induction_loss
from mi_helpers.interventions import patch as _patch  # for attribution_with_the_library_patch


def _result_names(model):
    return [f"blocks.{layer}.attn.hook_result" for layer in range(len(model.blocks))]


def _metric_or_default(metric, clean, length):
    return metric if metric is not None else (lambda logits: induction_loss(logits, clean, length))


# ---------------------------------------------------------------- wrong values


def attribution_real_patching_by_hand(model, clean, corrupted, length, metric=None):
    # real activation patching, a run per head with its clean output put back: what the exercise approximates
    metric = _metric_or_default(metric, clean, length)
    names = _result_names(model)
    with torch.no_grad():
        clean_logits, clean_cache = run_with_cache(model, clean, names)
        m_clean, m_corrupted = metric(clean_logits), metric(model(corrupted))
        out = torch.zeros(len(names), model.cfg.n_heads, dtype=m_clean.dtype)
        for layer, name in enumerate(names):
            for head in range(model.cfg.n_heads):
                def put_back(act, _name, head=head):
                    act = act.clone()
                    act[:, :, head] = clean_cache[_name][:, :, head]
                    return act
                with hooks(model, [(name, put_back)]):
                    out[layer, head] = (metric(model(corrupted)) - m_corrupted) / (m_clean - m_corrupted)
    return out


def attribution_with_the_library_patch(model, clean, corrupted, length, metric=None):
    # real patching through the course's patch(), which the exercise forbids
    metric = _metric_or_default(metric, clean, length)
    names = _result_names(model)
    with torch.no_grad():
        clean_logits, clean_cache = run_with_cache(model, clean, names)
        m_clean, m_corrupted = metric(clean_logits), metric(model(corrupted))
        out = torch.zeros(len(names), model.cfg.n_heads, dtype=m_clean.dtype)
        for layer, name in enumerate(names):
            for head in range(model.cfg.n_heads):
                with _patch(model, name, clean_cache[name], dim=2, index=head):
                    out[layer, head] = (metric(model(corrupted)) - m_corrupted) / (m_clean - m_corrupted)
    return out


def _attribution(model, clean, corrupted, length, metric=None, *, sign=1.0, normalise=True, reduce="sum",
                 at="corrupted", difference=True, detach_in_hook=False, absolute=False, dtype=None, first=0):
    """The right computation, but for the one mistake each mutant below switches on."""
    metric = _metric_or_default(metric, clean, length)
    names = _result_names(model)
    with torch.no_grad():
        clean_logits, clean_cache = run_with_cache(model, clean, names)
        m_clean = metric(clean_logits)
        m_corrupted_plain = metric(model(corrupted)) if at == "clean" else None
    tokens = corrupted if at == "corrupted" else clean
    if detach_in_hook:
        cache = {}

        def leaf(act, name):
            cache[name] = act.detach().requires_grad_()  # cuts the graph: later layers no longer see this one
            return cache[name]

        with hooks(model, [(name, leaf) for name in names]):
            m_run = metric(model(tokens))
    else:
        with record(model, names, detach=False) as cache:
            m_run = metric(model(tokens))
    grads = torch.autograd.grad(m_run, [cache[name] for name in names])
    m_corrupted = m_run.detach() if at == "corrupted" else m_corrupted_plain
    rows = []
    for name, grad in zip(names, grads):
        corrupted_act = run_with_cache(model, corrupted, [name])[1][name] if at == "clean" else cache[name].detach()
        delta = clean_cache[name] - corrupted_act if difference else clean_cache[name]
        if dtype is not None:
            delta, grad = delta.to(dtype), grad.to(dtype)
        prod = sign * delta[:, first:] * grad[:, first:]
        rows.append(prod.sum(dim=(0, 1, 3)) if reduce == "sum" else prod.mean(dim=0).sum(dim=(0, 2)))
    out = torch.stack(rows)
    if normalise:
        out = out / (m_clean - m_corrupted).to(out.dtype)  # in float32 too when dtype is float32
    return out.abs() if absolute else out


def attribution_sign_flipped(model, clean, corrupted, length, metric=None):
    # (corrupted - clean) · gradient: the difference taken the wrong way round
    return _attribution(model, clean, corrupted, length, metric, sign=-1.0)


def attribution_not_normalised(model, clean, corrupted, length, metric=None):
    # the raw first-order change of the loss, not divided by metric(clean) - metric(corrupted)
    return _attribution(model, clean, corrupted, length, metric, normalise=False)


def attribution_mean_over_batch(model, clean, corrupted, length, metric=None):
    # averages the products over the batch: the gradient of a mean already holds the 1/batch
    return _attribution(model, clean, corrupted, length, metric, reduce="mean")


def attribution_gradient_at_the_clean_run(model, clean, corrupted, length, metric=None):
    # takes the gradient in the clean run (expands around the wrong end of the path)
    return _attribution(model, clean, corrupted, length, metric, at="clean")


def attribution_gradient_times_clean_activation(model, clean, corrupted, length, metric=None):
    # gradient × input (notebook 06's habit): clean_act · gradient, without subtracting the corrupted activation
    return _attribution(model, clean, corrupted, length, metric, difference=False)


def attribution_detached_in_the_hook(model, clean, corrupted, length, metric=None):
    # each activation made a leaf in its hook (act.detach().requires_grad_()): layer 0 loses its path through layer 1
    return _attribution(model, clean, corrupted, length, metric, detach_in_hook=True)


def attribution_absolute_values(model, clean, corrupted, length, metric=None):
    # reports |estimate| as "importance": hides that a patch can make the metric worse
    return _attribution(model, clean, corrupted, length, metric, absolute=True)


def attribution_second_copy_only(model, clean, corrupted, length, metric=None):
    # sums only over the second copy's positions, where the loss is read: layer 0 acts there from the first copy too
    return _attribution(model, clean, corrupted, length, metric, first=length)


def attribution_in_float32(model, clean, corrupted, length, metric=None):
    # works in float32 (.float() "to save memory") and casts back at the end: float32 numbers in a float64 tensor
    dtype = next(model.parameters()).dtype
    return _attribution(model, clean, corrupted, length, metric, dtype=torch.float32).to(dtype)


def attribution_zeros_without_dtype(model, clean, corrupted, length, metric=None):
    # fills torch.zeros(n_layers, n_heads), which is float32 whatever the model's dtype
    right = _attribution(model, clean, corrupted, length, metric)
    out = torch.zeros(len(model.blocks), model.cfg.n_heads)
    for layer in range(len(model.blocks)):
        out[layer] = right[layer]
    return out


def attribution_ignores_the_metric(model, clean, corrupted, length, metric=None):
    # always the induction loss: the metric argument is accepted and never used
    return _attribution(model, clean, corrupted, length, None)


def attribution_loss_on_every_position(model, clean, corrupted, length, metric=None):
    # the next-token loss over the whole sequence, each run with its own tokens: the filler B is unpredictable noise
    def whole(logits, tokens):
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))
    names = _result_names(model)
    with torch.no_grad():
        clean_logits, clean_cache = run_with_cache(model, clean, names)
        m_clean = whole(clean_logits, clean) if metric is None else metric(clean_logits)
    with record(model, names, detach=False) as cache:
        logits = model(corrupted)
        m_corrupted = whole(logits, corrupted) if metric is None else metric(logits)
    grads = torch.autograd.grad(m_corrupted, [cache[name] for name in names])
    rows = [((clean_cache[name] - cache[name].detach()) * grad).sum(dim=(0, 1, 3)) for name, grad in zip(names, grads)]
    return torch.stack(rows) / (m_clean - m_corrupted.detach())


# ---------------------------------------------------------------- right values, broken contracts


def attribution_backward_leaves_grads(model, clean, corrupted, length, metric=None):
    # right values, through loss.backward() and retain_grad(): every parameter keeps a .grad afterwards
    metric = _metric_or_default(metric, clean, length)
    names = _result_names(model)
    with torch.no_grad():
        clean_logits, clean_cache = run_with_cache(model, clean, names)
        m_clean = metric(clean_logits)
    with record(model, names, detach=False) as cache:
        m_corrupted = metric(model(corrupted))
    for name in names:
        cache[name].retain_grad()
    m_corrupted.backward()
    rows = [((clean_cache[name] - cache[name].detach()) * cache[name].grad).sum(dim=(0, 1, 3)) for name in names]
    return torch.stack(rows) / (m_clean - m_corrupted.detach())


def attribution_hooks_left_attached(model, clean, corrupted, length, metric=None):
    # right values, but records the corrupted activations with register_forward_hook and never removes the hooks
    metric = _metric_or_default(metric, clean, length)
    names = _result_names(model)
    with torch.no_grad():
        clean_logits, clean_cache = run_with_cache(model, clean, names)
        m_clean = metric(clean_logits)
    cache = {}
    for name in names:
        model.get_submodule(name).register_forward_hook(
            lambda _module, _inputs, output, name=name: cache.__setitem__(name, output))
    m_corrupted = metric(model(corrupted))
    grads = torch.autograd.grad(m_corrupted, [cache[name] for name in names])
    rows = [((clean_cache[name] - cache[name].detach()) * grad).sum(dim=(0, 1, 3)) for name, grad in zip(names, grads)]
    return torch.stack(rows) / (m_clean - m_corrupted.detach())


def attribution_one_run_per_head(model, clean, corrupted, length, metric=None):
    # right values, but a fresh corrupted run and backward pass for every head: the cost of real patching
    metric = _metric_or_default(metric, clean, length)
    names = _result_names(model)
    with torch.no_grad():
        clean_logits, clean_cache = run_with_cache(model, clean, names)
        m_clean = metric(clean_logits)
    out = []
    for name in names:
        row = []
        for head in range(model.cfg.n_heads):
            with record(model, [name], detach=False) as cache:
                m_corrupted = metric(model(corrupted))
            (grad,) = torch.autograd.grad(m_corrupted, [cache[name]])
            delta = clean_cache[name][:, :, head] - cache[name].detach()[:, :, head]
            row.append((delta * grad[:, :, head]).sum() / (m_clean - m_corrupted.detach()))
        out.append(torch.stack(row))
    return torch.stack(out)


def attribution_leaves_train_mode(model, clean, corrupted, length, metric=None):
    # right values, but calls model.train() "so that gradients flow" (they flow in eval mode too) and leaves it there
    model.train()
    return _attribution(model, clean, corrupted, length, metric)


def attribution_overwrites_the_corrupted_tokens(model, clean, corrupted, length, metric=None):
    # right values, but "resets" the caller's corrupted tokens to the clean ones on the way out (an in-place edit)
    out = _attribution(model, clean, corrupted, length, metric)
    corrupted[:, :length] = clean[:, :length]
    return out


MUTANTS = {"08.6": [
    attribution_real_patching_by_hand,
    attribution_with_the_library_patch,
    attribution_sign_flipped,
    attribution_not_normalised,
    attribution_mean_over_batch,
    attribution_gradient_at_the_clean_run,
    attribution_gradient_times_clean_activation,
    attribution_detached_in_the_hook,
    attribution_absolute_values,
    attribution_second_copy_only,
    attribution_in_float32,
    attribution_zeros_without_dtype,
    attribution_ignores_the_metric,
    attribution_loss_on_every_position,
    attribution_backward_leaves_grads,
    attribution_hooks_left_attached,
    attribution_one_run_per_head,
    attribution_leaves_train_mode,
    attribution_overwrites_the_corrupted_tokens,
]}
