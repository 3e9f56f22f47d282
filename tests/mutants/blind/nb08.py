"""Blind mutants for notebook 08 (ablation and activation patching): plausible wrong answers written from the
learner's notebook only. Each mutant carries a one-line comment saying what is wrong. Shared private helpers
(`_head_costs`, `_patch_loop`, `_path_patch`, ...) are the correct code a learner would write; the mistake of
each mutant is in what it changes or adds. The findings (08.5, 08.8) are computed by a flawed method, with the
learner's correct 08.1 / 08.4 / 08.7 as helpers, rather than hard-coded.

Exercises: 08.1 head_ablation_losses, 08.2 channel_ablation_accuracy, 08.3 activation_patching,
08.4 path_patching, 08.5 name_the_circuit, 08.6 attribution_patching, 08.7 ablation_effect,
08.8 which_feature_is_used.
"""
import functools
from contextlib import ExitStack

import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from mi_helpers.circuits import hand_built_induction_model, repeated_pairs
from mi_helpers.hooks import hooks, record, run_with_cache
from mi_helpers.interventions import ablate as _course_ablate
from mi_helpers.interventions import ablate_heads as _course_ablate_heads
from mi_helpers.interventions import induction_loss
from mi_helpers.interventions import patch as _course_patch
from mi_helpers.planted import UNITS_A, UNITS_B, planted_features, planted_model
from mi_helpers.train import accuracy as _course_accuracy
from mi_helpers.transformer import load_induction_model


def _result_names(model):
    return [f"blocks.{layer}.attn.hook_result" for layer in range(len(model.blocks))]


def _with_head(act, head, value):
    """A copy of act [batch, pos, head, d_model] with act[:, :, head] = value (correct)."""
    act = act.clone()
    act[:, :, head] = value
    return act


# ----------------------------------------------------------------------------- 08.1 head_ablation_losses


def _head_means(model, tokens, reference, dims=(0,)):
    """{name: mean of hook_result over `dims`} recorded on reference (tokens when None)."""
    names = _result_names(model)
    with torch.no_grad():
        _, cache = run_with_cache(model, tokens if reference is None else reference, names)
    return {name: cache[name].mean(dim=dims) for name in names}


def _head_costs(model, tokens, length, value_of, loss_fn=induction_loss):
    """The learner's loop (correct): loss with act[:, :, head] = value_of(name, head, act) minus the intact loss."""
    with torch.no_grad():
        base = loss_fn(model(tokens), tokens, length)
        rows = []
        for name in _result_names(model):
            row = []
            for head in range(model.cfg.n_heads):
                def hook(act, _name, name=name, head=head):
                    return _with_head(act, head, value_of(name, head, act))
                with hooks(model, [(name, hook)]):
                    row.append(loss_fn(model(tokens), tokens, length) - base)
            rows.append(torch.stack(row))
    return torch.stack(rows)


def _correct_value(model, tokens, how, reference):
    if how == "zero":
        return lambda name, head, act: 0
    means = _head_means(model, tokens, reference)
    return lambda name, head, act: means[name][:, head]


def blind_head_ablation_losses_weight_alias(model, tokens, length, how="zero", reference=None):
    # WRONG (inplace): zero-ablates by setting W_O[head] = 0 and "restores" it from `saved = W_O[head]`, a view
    # of the same storage: the weights stay at 0, and each later head is measured with the earlier ones off.
    if how != "zero":
        return _head_costs(model, tokens, length, _correct_value(model, tokens, how, reference))
    with torch.no_grad():
        base = induction_loss(model(tokens), tokens, length)
        rows = []
        for block in model.blocks:
            row = []
            for head in range(model.cfg.n_heads):
                saved = block.attn.W_O[head]
                block.attn.W_O[head] = 0
                row.append(induction_loss(model(tokens), tokens, length) - base)
                block.attn.W_O[head] = saved
            rows.append(torch.stack(row))
    return torch.stack(rows)


def blind_head_ablation_losses_calls_eval(model, tokens, length, how="zero", reference=None):
    # WRONG (inplace): calls model.eval() "to be safe": a model handed over in train mode comes back in eval mode.
    model.eval()
    return _head_costs(model, tokens, length, _correct_value(model, tokens, how, reference))


def blind_head_ablation_losses_zeros_float32(model, tokens, length, how="zero", reference=None):
    # WRONG (dtype): fills a preallocated torch.zeros(n_layers, n_heads), float32 by default: a float64 model's
    # losses are rounded to float32.
    value_of = _correct_value(model, tokens, how, reference)
    with torch.no_grad():
        base = induction_loss(model(tokens), tokens, length)
        out = torch.zeros(len(model.blocks), model.cfg.n_heads, device=base.device)
        for layer, name in enumerate(_result_names(model)):
            for head in range(model.cfg.n_heads):
                def hook(act, _name, name=name, head=head):
                    return _with_head(act, head, value_of(name, head, act))
                with hooks(model, [(name, hook)]):
                    out[layer, head] = induction_loss(model(tokens), tokens, length) - base
    return out


def blind_head_ablation_losses_item_list(model, tokens, length, how="zero", reference=None):
    # WRONG (edge): collects (loss - base).item() and rebuilds torch.tensor(list): float32 on the CPU, and it
    # fails on the meta device (a meta tensor has no value to .item()).
    value_of = _correct_value(model, tokens, how, reference)
    costs = []
    with torch.no_grad():
        base = induction_loss(model(tokens), tokens, length)
        for name in _result_names(model):
            for head in range(model.cfg.n_heads):
                def hook(act, _name, name=name, head=head):
                    return _with_head(act, head, value_of(name, head, act))
                with hooks(model, [(name, hook)]):
                    costs.append((induction_loss(model(tokens), tokens, length) - base).item())
    return torch.tensor(costs).view(len(model.blocks), model.cfg.n_heads)


def blind_head_ablation_losses_late_binding(model, tokens, length, how="zero", reference=None):
    # WRONG (edge): builds every hook first in a comprehension whose lambdas read `head` when they run: by then
    # it is the last head, so each entry of a layer ablates that layer's last head.
    means = _head_means(model, tokens, reference) if how == "mean" else None
    table = {(layer, head): (f"blocks.{layer}.attn.hook_result",
                             lambda act, name: _with_head(act, head, 0 if how == "zero" else means[name][:, head]))
             for layer in range(len(model.blocks)) for head in range(model.cfg.n_heads)}
    with torch.no_grad():
        base = induction_loss(model(tokens), tokens, length)
        out = []
        for layer, head in table:
            with hooks(model, [table[layer, head]]):
                out.append(induction_loss(model(tokens), tokens, length) - base)
    return torch.stack(out).view(len(model.blocks), model.cfg.n_heads)


def blind_head_ablation_losses_mean_over_positions(model, tokens, length, how="zero", reference=None):
    # WRONG: the mean is taken over the batch AND the positions: one vector per head instead of one per position.
    if how == "zero":
        return _head_costs(model, tokens, length, lambda name, head, act: 0)
    means = _head_means(model, tokens, reference, dims=(0, 1))  # [head, d_model]
    return _head_costs(model, tokens, length, lambda name, head, act: means[name][head])


def blind_head_ablation_losses_ignores_reference(model, tokens, length, how="zero", reference=None):
    # WRONG: the mean is always recorded on `tokens`; a `reference` passed in is never used.
    return _head_costs(model, tokens, length, _correct_value(model, tokens, how, None))


def blind_head_ablation_losses_sign(model, tokens, length, how="zero", reference=None):
    # WRONG: intact loss minus ablated loss: a head that matters gets a negative number.
    return -_head_costs(model, tokens, length, _correct_value(model, tokens, how, reference))


def _whole_sequence_loss(logits, tokens, length):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


def blind_head_ablation_losses_whole_sequence(model, tokens, length, how="zero", reference=None):
    # WRONG: a next-token cross-entropy over the whole sequence (first copy included) instead of induction_loss.
    return _head_costs(model, tokens, length, _correct_value(model, tokens, how, reference),
                       loss_fn=_whole_sequence_loss)


def blind_head_ablation_losses_builtin(model, tokens, length, how="zero", reference=None):
    # WRONG (builtin): calls the course's ablate_heads, which the exercise forbids.
    ref = tokens if reference is None else reference
    with torch.no_grad():
        base = induction_loss(model(tokens), tokens, length)
        out = []
        for layer in range(len(model.blocks)):
            for head in range(model.cfg.n_heads):
                with _course_ablate_heads(model, [(layer, head)], how=how,
                                          reference_tokens=None if how == "zero" else ref):
                    out.append(induction_loss(model(tokens), tokens, length) - base)
    return torch.stack(out).view(len(model.blocks), model.cfg.n_heads)


def blind_head_ablation_losses_mean_random_rows(model, tokens, length, how="zero", reference=None):
    # WRONG (random): "to save time" the mean is over 16 reference rows drawn at random on every call.
    if how == "zero":
        return _head_costs(model, tokens, length, lambda name, head, act: 0)
    ref = tokens if reference is None else reference
    rows = torch.randperm(ref.shape[0])[:16].to(ref.device)
    means = _head_means(model, tokens, ref[rows])
    return _head_costs(model, tokens, length, lambda name, head, act: means[name][:, head])


# ----------------------------------------------------------------------------- 08.2 channel_ablation_accuracy


def _accuracy(model, X, y):
    """Accuracy as a 0-dim tensor in X's dtype (correct)."""
    return (model(X).argmax(dim=-1) == y).to(X.dtype).mean()


def _n_channels(model, X, layer):
    with torch.no_grad():
        _, cache = run_with_cache(model, X, [layer])
    return cache[layer].shape[1]


def _zero_channel(c):
    def zero(activation, name):
        ablated = activation.clone()
        ablated[:, c] = 0
        return ablated
    return zero


def _channel_drops(model, X, y, layer, make_hook=_zero_channel, acc=_accuracy):
    """The learner's loop (correct with the defaults)."""
    n = _n_channels(model, X, layer)
    with torch.no_grad():
        clean = acc(model, X, y)
        drops = []
        for c in range(n):
            with hooks(model, [(layer, make_hook(c))]):
                drops.append(clean - acc(model, X, y))
    return torch.stack(drops)


def blind_channel_ablation_accuracy_inplace_hook(model, X, y, layer="relu2"):
    # WRONG (inplace): the hook zeroes the channel in the activation itself and returns it, instead of
    # returning an edited copy.
    def make(c):
        def zero(activation, name):
            activation[:, c] = 0
            return activation
        return zero
    return _channel_drops(model, X, y, layer, make)


def blind_channel_ablation_accuracy_calls_eval(model, X, y, layer="relu2"):
    # WRONG (inplace): calls model.eval() first: a model given in train mode comes back in eval mode (and is
    # not evaluated in the mode it was given).
    model.eval()
    return _channel_drops(model, X, y, layer)


def blind_channel_ablation_accuracy_float32(model, X, y, layer="relu2"):
    # WRONG (dtype): the accuracy is (pred == y).float().mean(): float32 even for float64 images.
    return _channel_drops(model, X, y, layer, acc=lambda m, X, y: (m(X).argmax(dim=-1) == y).float().mean())


def blind_channel_ablation_accuracy_course_accuracy(model, X, y, layer="relu2"):
    # WRONG (edge): uses mi_helpers.train.accuracy (a Python float via .item()) and torch.tensor(list):
    # float32 on the CPU, and it fails on the meta device.
    n = _n_channels(model, X, layer)
    clean = _course_accuracy(model, X, y)
    drops = []
    for c in range(n):
        with hooks(model, [(layer, _zero_channel(c))]):
            drops.append(clean - _course_accuracy(model, X, y))
    return torch.tensor(drops)


def blind_channel_ablation_accuracy_sixteen(model, X, y, layer="relu2"):
    # WRONG (edge): loops over range(16) because "relu2 has 16 channels": any other layer breaks.
    with torch.no_grad():
        clean = _accuracy(model, X, y)
        drops = []
        for c in range(16):
            with hooks(model, [(layer, _zero_channel(c))]):
                drops.append(clean - _accuracy(model, X, y))
    return torch.stack(drops)


def blind_channel_ablation_accuracy_no_return(model, X, y, layer="relu2"):
    # WRONG: the hook edits a clone and returns nothing, so nothing is ablated: every drop is 0.
    def make(c):
        def zero(activation, name):
            ablated = activation.clone()
            ablated[:, c] = 0
        return zero
    return _channel_drops(model, X, y, layer, make)


def blind_channel_ablation_accuracy_sign(model, X, y, layer="relu2"):
    # WRONG: ablated accuracy minus clean accuracy: the sign is the other way round.
    return -_channel_drops(model, X, y, layer)


def blind_channel_ablation_accuracy_keep_only(model, X, y, layer="relu2"):
    # WRONG: keeps only channel c and zeroes all the others.
    def make(c):
        def keep(activation, name):
            ablated = torch.zeros_like(activation)
            ablated[:, c] = activation[:, c]
            return ablated
        return keep
    return _channel_drops(model, X, y, layer, make)


def blind_channel_ablation_accuracy_cumulative(model, X, y, layer="relu2"):
    # WRONG: one mask shared by the loop is never reset: channel c is ablated together with channels 0..c-1.
    n = _n_channels(model, X, layer)
    mask = torch.ones(n, dtype=X.dtype, device=X.device)

    def make(c):
        mask[c] = 0

        def zero(activation, name):
            return activation * mask[None, :, None, None]
        return zero
    return _channel_drops(model, X, y, layer, make)


def blind_channel_ablation_accuracy_mean(model, X, y, layer="relu2"):
    # WRONG: mean ablation (the channel's mean over images and positions) instead of setting it to 0.
    def make(c):
        def mean(activation, name):
            ablated = activation.clone()
            ablated[:, c] = activation[:, c].mean()
            return ablated
        return mean
    return _channel_drops(model, X, y, layer, make)


def blind_channel_ablation_accuracy_train_mode(model, X, y, layer="relu2"):
    # WRONG (random): runs the forward passes in model.train() "so the hooks fire", then restores the mode:
    # dropout is on, and the drops change from call to call.
    was_training = model.training
    model.train()
    try:
        return _channel_drops(model, X, y, layer)
    finally:
        model.train(was_training)


def blind_channel_ablation_accuracy_agreement(model, X, y, layer="relu2"):
    # WRONG: measures how often the prediction stays the clean one (the clean predictions as labels), not
    # the accuracy against y.
    with torch.no_grad():
        pred = model(X).argmax(dim=-1)
    return _channel_drops(model, X, pred, layer)


def blind_channel_ablation_accuracy_builtin(model, X, y, layer="relu2"):
    # WRONG (builtin): uses the course's ablate, which the exercise forbids.
    n = _n_channels(model, X, layer)
    with torch.no_grad():
        clean = _accuracy(model, X, y)
        drops = []
        for c in range(n):
            with _course_ablate(model, layer, dim=1, index=c):
                drops.append(clean - _accuracy(model, X, y))
    return torch.stack(drops)


# ----------------------------------------------------------------------------- 08.3 activation_patching


def _patch_names(model, by):
    n_layers = len(model.blocks)
    if by == "head":
        return _result_names(model)
    return [f"blocks.{l}.hook_resid_pre" for l in range(n_layers)] + [f"blocks.{n_layers - 1}.hook_resid_post"]


def _edit_head(act, src, i):
    act = act.clone()
    act[:, :, i] = src[:, :, i]
    return act


def _edit_position(act, src, i):
    act = act.clone()
    act[:, i] = src[:, i]
    return act


def _restored(loss, loss_clean, loss_corrupted):
    return (loss_corrupted - loss) / (loss_corrupted - loss_clean)


def _patch_loop(model, clean, corrupted, length, by, edit=None, names=None, fraction=_restored, noising=False):
    """The learner's loop (correct with the defaults): run corrupted with one entry from the clean run."""
    names = _patch_names(model, by) if names is None else names
    edit = edit or (_edit_head if by == "head" else _edit_position)
    source, target = (corrupted, clean) if noising else (clean, corrupted)
    with torch.no_grad():
        logits, cache = run_with_cache(model, source, names)
        loss_clean = induction_loss(model(clean), clean, length) if noising else induction_loss(logits, clean, length)
        loss_corrupted = induction_loss(logits if noising else model(corrupted), clean, length)
        width = model.cfg.n_heads if by == "head" else clean.shape[1]
        rows = []
        for name in names:
            row = []
            for i in range(width):
                def hook(act, _name, name=name, i=i):
                    return edit(act, cache[name], i)
                with hooks(model, [(name, hook)]):
                    loss = induction_loss(model(target), clean, length)
                row.append(fraction(loss, loss_clean, loss_corrupted))
            rows.append(torch.stack(row))
    return torch.stack(rows)


def blind_activation_patching_cache_inplace(model, clean, corrupted, length, by="head"):
    # WRONG (inplace): builds the patched activation by writing the corrupted run's OTHER entries into the clean
    # cache itself and returning it: the cache is changed for every later patch of the same layer.
    def edit(act, src, i):
        dim = 2 if by == "head" else 1
        others = [j for j in range(act.shape[dim]) if j != i]
        if dim == 2:
            src[:, :, others] = act[:, :, others]
        else:
            src[:, others] = act[:, others]
        return src
    return _patch_loop(model, clean, corrupted, length, by, edit=edit)


def blind_activation_patching_hooks_accumulate(model, clean, corrupted, length, by="head"):
    # WRONG (inplace): registers each patch with register_forward_hook and removes the handles only at the end:
    # every run also carries all the earlier patches.
    names = _patch_names(model, by)
    edit = _edit_head if by == "head" else _edit_position
    width = model.cfg.n_heads if by == "head" else clean.shape[1]
    handles = []
    try:
        with torch.no_grad():
            logits, cache = run_with_cache(model, clean, names)
            loss_clean = induction_loss(logits, clean, length)
            loss_corrupted = induction_loss(model(corrupted), clean, length)
            rows = []
            for name in names:
                row = []
                for i in range(width):
                    def hook(module, inputs, output, name=name, i=i):
                        return edit(output, cache[name], i)
                    handles.append(model.get_submodule(name).register_forward_hook(hook))
                    row.append(_restored(induction_loss(model(corrupted), clean, length), loss_clean, loss_corrupted))
                rows.append(torch.stack(row))
    finally:
        for handle in handles:
            handle.remove()
    return torch.stack(rows)


def blind_activation_patching_zeros_float32(model, clean, corrupted, length, by="head"):
    # WRONG (dtype): writes into a preallocated torch.zeros(...), float32 by default: float64 results are rounded.
    result = _patch_loop(model, clean, corrupted, length, by)
    out = torch.zeros(result.shape, device=result.device)
    for r in range(result.shape[0]):
        for c in range(result.shape[1]):
            out[r, c] = result[r, c]
    return out


def blind_activation_patching_no_last_row(model, clean, corrupted, length, by="head"):
    # WRONG (edge): by position, only the resid_pre of each layer: the last resid_post row is missing.
    names = None if by == "head" else [f"blocks.{l}.hook_resid_pre" for l in range(len(model.blocks))]
    return _patch_loop(model, clean, corrupted, length, by, names=names)


def blind_activation_patching_one_minus(model, clean, corrupted, length, by="head"):
    # WRONG: (loss_patched - loss_clean) / (loss_corrupted - loss_clean): the fraction NOT restored (clean 0,
    # corrupted 1).
    return _patch_loop(model, clean, corrupted, length, by,
                       fraction=lambda loss, lc, lk: (loss - lc) / (lk - lc))


def blind_activation_patching_noising(model, clean, corrupted, length, by="head"):
    # WRONG: patches the other way: runs the CLEAN tokens with one activation from the corrupted run.
    return _patch_loop(model, clean, corrupted, length, by, noising=True)


def blind_activation_patching_position_wrong_dim(model, clean, corrupted, length, by="head"):
    # WRONG: by position, copies act[:, :, p] (coordinate p of d_model, the head code's dim 2) instead of act[:, p].
    return _patch_loop(model, clean, corrupted, length, by, edit=_edit_head)


def blind_activation_patching_head_wrong_dim(model, clean, corrupted, length, by="head"):
    # WRONG: by head, copies act[:, h] (position h) instead of act[:, :, h].
    return _patch_loop(model, clean, corrupted, length, by, edit=_edit_position)


def blind_activation_patching_prefix(model, clean, corrupted, length, by="head"):
    # WRONG: by position, patches every position up to p (act[:, :p + 1]) instead of position p alone.
    def edit(act, src, i):
        act = act.clone()
        act[:, :i + 1] = src[:, :i + 1]
        return act
    return _patch_loop(model, clean, corrupted, length, by, edit=edit if by == "position" else None)


def blind_activation_patching_shuffled_rows(model, clean, corrupted, length, by="head"):
    # WRONG (random): takes the clean activation from randomly permuted rows ("resample" style): row r of the
    # corrupted run gets another sequence's clean activation.
    base = _edit_head if by == "head" else _edit_position

    def edit(act, src, i):
        return base(act, src[torch.randperm(src.shape[0]).to(src.device)], i)
    return _patch_loop(model, clean, corrupted, length, by, edit=edit)


def blind_activation_patching_builtin(model, clean, corrupted, length, by="head"):
    # WRONG (builtin): uses the course's patch, which the exercise forbids.
    names = _patch_names(model, by)
    width, dim = (model.cfg.n_heads, 2) if by == "head" else (clean.shape[1], 1)
    with torch.no_grad():
        logits, cache = run_with_cache(model, clean, names)
        loss_clean = induction_loss(logits, clean, length)
        loss_corrupted = induction_loss(model(corrupted), clean, length)
        rows = []
        for name in names:
            row = []
            for i in range(width):
                with _course_patch(model, name, cache[name], dim=dim, index=i):
                    row.append(_restored(induction_loss(model(corrupted), clean, length), loss_clean, loss_corrupted))
            rows.append(torch.stack(row))
    return torch.stack(rows)


# ----------------------------------------------------------------------------- 08.4 path_patching


_WEIGHTS = {"q": ("W_Q", "b_Q"), "k": ("W_K", "b_K"), "v": ("W_V", "b_V")}


def _receiver_input(model, layer, head, into, resid, bias=True):
    attn = model.blocks[layer].attn
    W, b = (getattr(attn, n) for n in _WEIGHTS[into])
    new = torch.einsum("bpm,md->bpd", resid, W[head])
    return new + b[head] if bias else new


def _path_patch(model, tokens, length, sender, receivers, into, *, sender_value="mean", resid_from="intact",
                bias=True, all_heads=False, fraction=None, as_float=True):
    """The learner's path patching (correct with the defaults)."""
    s_layer, s_head = sender
    s_name = f"blocks.{s_layer}.attn.hook_result"
    r_layers = sorted({layer for layer, _ in receivers})
    resid_names = [f"blocks.{layer}.hook_resid_pre" for layer in r_layers]
    with torch.no_grad():
        logits, cache = run_with_cache(model, tokens, [s_name] + resid_names)
        loss_intact = induction_loss(logits, tokens, length)
        sender_out = cache[s_name][:, :, s_head]
        if sender_value == "mean":
            value = sender_out.mean(dim=0)
        elif sender_value == "mean_all":
            value = sender_out.mean(dim=(0, 1))
        elif sender_value == "zero":
            value = torch.zeros_like(sender_out)
        else:  # "resample"
            value = sender_out[torch.randperm(sender_out.shape[0]).to(sender_out.device)]

        def ablate_sender(act, name):
            return _with_head(act, s_head, value)

        with record(model, resid_names) as ablated_cache, hooks(model, [(s_name, ablate_sender)]):
            loss_ablated = induction_loss(model(tokens), tokens, length)
        source = cache if resid_from == "intact" else ablated_cache
        fwd = [(s_name, ablate_sender)]
        for layer, head in receivers:
            new = _receiver_input(model, layer, head, into, source[f"blocks.{layer}.hook_resid_pre"], bias)
            if all_heads:
                new_all = torch.stack([_receiver_input(model, layer, h, into, source[f"blocks.{layer}.hook_resid_pre"],
                                                       bias) for h in range(model.cfg.n_heads)], dim=2)

                def hook(act, name, new_all=new_all):
                    return new_all.clone()
            else:
                def hook(act, name, head=head, new=new):
                    act = act.clone()
                    act[:, :, head] = new
                    return act
            fwd.append((f"blocks.{layer}.attn.hook_{into}", hook))
        with hooks(model, fwd):
            loss_patched = induction_loss(model(tokens), tokens, length)
    if fraction is None:
        result = (loss_ablated - loss_patched) / (loss_ablated - loss_intact)
    else:
        result = fraction(loss_intact, loss_ablated, loss_patched)
    return float(result) if as_float else result


def blind_path_patching_resid_accumulates(model, tokens, length, sender, receivers, into):
    # WRONG (inplace): rebuilds the intact resid_pre as the ablated run's plus the sender's change with `+=` on
    # the cached tensor itself: each further receiver adds the change once more.
    s_layer, s_head = sender
    s_name = f"blocks.{s_layer}.attn.hook_result"
    resid_names = sorted({f"blocks.{layer}.hook_resid_pre" for layer, _ in receivers})
    with torch.no_grad():
        logits, cache = run_with_cache(model, tokens, [s_name])
        loss_intact = induction_loss(logits, tokens, length)
        mean = cache[s_name][:, :, s_head].mean(dim=0)
        delta = cache[s_name][:, :, s_head] - mean

        def ablate_sender(act, name):
            return _with_head(act, s_head, mean)

        with record(model, resid_names) as ablated_cache, hooks(model, [(s_name, ablate_sender)]):
            loss_ablated = induction_loss(model(tokens), tokens, length)
        fwd = [(s_name, ablate_sender)]
        for layer, head in receivers:
            resid = ablated_cache[f"blocks.{layer}.hook_resid_pre"]
            resid += delta
            new = _receiver_input(model, layer, head, into, resid)

            def hook(act, name, head=head, new=new):
                act = act.clone()
                act[:, :, head] = new
                return act
            fwd.append((f"blocks.{layer}.attn.hook_{into}", hook))
        with hooks(model, fwd):
            loss_patched = induction_loss(model(tokens), tokens, length)
    return float((loss_ablated - loss_patched) / (loss_ablated - loss_intact))


def blind_path_patching_tensor(model, tokens, length, sender, receivers, into):
    # WRONG (dtype): returns the 0-dim tensor, not a Python float (float(...) forgotten).
    return _path_patch(model, tokens, length, sender, receivers, into, as_float=False)


def blind_path_patching_late_binding(model, tokens, length, sender, receivers, into):
    # WRONG (edge): the receiver hooks are lambdas made in a comprehension that read `head` late: with several
    # receivers of a layer, every hook patches the last one's head (with the last one's input).
    s_layer, s_head = sender
    s_name = f"blocks.{s_layer}.attn.hook_result"
    resid_names = sorted({f"blocks.{layer}.hook_resid_pre" for layer, _ in receivers})
    with torch.no_grad():
        logits, cache = run_with_cache(model, tokens, [s_name] + resid_names)
        loss_intact = induction_loss(logits, tokens, length)
        mean = cache[s_name][:, :, s_head].mean(dim=0)

        def ablate_sender(act, name):
            return _with_head(act, s_head, mean)

        with hooks(model, [(s_name, ablate_sender)]):
            loss_ablated = induction_loss(model(tokens), tokens, length)
        fwd = [(s_name, ablate_sender)] + [
            (f"blocks.{layer}.attn.hook_{into}",
             lambda act, name: _with_head(act, head, _receiver_input(
                 model, layer, head, into, cache[f"blocks.{layer}.hook_resid_pre"])))
            for layer, head in receivers]
        with hooks(model, fwd):
            loss_patched = induction_loss(model(tokens), tokens, length)
    return float((loss_ablated - loss_patched) / (loss_ablated - loss_intact))


def blind_path_patching_no_bias(model, tokens, length, sender, receivers, into):
    # WRONG: the receiver's new input is resid_pre @ W[h] without the bias b[h].
    return _path_patch(model, tokens, length, sender, receivers, into, bias=False)


def blind_path_patching_resid_from_ablated(model, tokens, length, sender, receivers, into):
    # WRONG: computes the receiver's input from the ABLATED run's resid_pre: the path carries nothing back.
    return _path_patch(model, tokens, length, sender, receivers, into, resid_from="ablated")


def blind_path_patching_zero_sender(model, tokens, length, sender, receivers, into):
    # WRONG: zero-ablates the sender instead of replacing it by its mean over the batch.
    return _path_patch(model, tokens, length, sender, receivers, into, sender_value="zero")


def blind_path_patching_mean_over_positions(model, tokens, length, sender, receivers, into):
    # WRONG: the sender's mean is over the batch AND the positions, not one mean per position.
    return _path_patch(model, tokens, length, sender, receivers, into, sender_value="mean_all")


def blind_path_patching_all_heads(model, tokens, length, sender, receivers, into):
    # WRONG: replaces the `into` of EVERY head of the receiver's layer, not only the receiver head's slice.
    return _path_patch(model, tokens, length, sender, receivers, into, all_heads=True)


def blind_path_patching_one_minus(model, tokens, length, sender, receivers, into):
    # WRONG: (loss_patched - loss_intact) / (loss_ablated - loss_intact): the fraction NOT restored.
    return _path_patch(model, tokens, length, sender, receivers, into,
                       fraction=lambda intact, ablated, patched: (patched - intact) / (ablated - intact))


def blind_path_patching_resample_sender(model, tokens, length, sender, receivers, into):
    # WRONG (random): "ablates" the sender by giving each row another row's output (a random permutation)
    # instead of the mean over the batch.
    return _path_patch(model, tokens, length, sender, receivers, into, sender_value="resample")


def blind_path_patching_builtin(model, tokens, length, sender, receivers, into):
    # WRONG (builtin): uses the course's ablate (mean) and patch, which the exercise forbids.
    s_layer, s_head = sender
    s_name = f"blocks.{s_layer}.attn.hook_result"
    resid_names = sorted({f"blocks.{layer}.hook_resid_pre" for layer, _ in receivers})
    with torch.no_grad():
        logits, cache = run_with_cache(model, tokens, [s_name] + resid_names)
        loss_intact = induction_loss(logits, tokens, length)
        with _course_ablate(model, s_name, dim=2, index=s_head, how="mean", reference=cache[s_name]):
            loss_ablated = induction_loss(model(tokens), tokens, length)
            _, ablated_cache = run_with_cache(model, tokens, [f"blocks.{l}.attn.hook_{into}"
                                                             for l in sorted({l for l, _ in receivers})])
            with ExitStack() as stack:
                for layer, head in receivers:
                    name = f"blocks.{layer}.attn.hook_{into}"
                    source = ablated_cache[name].clone()
                    source[:, :, head] = _receiver_input(model, layer, head, into,
                                                         cache[f"blocks.{layer}.hook_resid_pre"])
                    stack.enter_context(_course_patch(model, name, source, dim=2, index=head))
                loss_patched = induction_loss(model(tokens), tokens, length)
    return float((loss_ablated - loss_patched) / (loss_ablated - loss_intact))


# ----------------------------------------------------------------------------- 08.5 name_the_circuit


@functools.lru_cache(maxsize=None)
def _circuit_numbers(which="course"):
    """The learner's measurements (with correct 08.1 and 08.4): mean-ablation costs of layer 0, and the path
    patching fraction of each layer-0 sender into each single layer-1 head and into all of them, per input."""
    if which == "course":
        model, length = load_induction_model(), 10
    else:
        model, length = hand_built_induction_model(), 6
    tokens = repeated_pairs(100, length, model.cfg.d_vocab, seed=1)
    means = _head_means(model, tokens, None)
    costs = _head_costs(model, tokens, length, lambda name, head, act: means[name][:, head])
    n_heads = model.cfg.n_heads
    layer1 = [(1, h) for h in range(n_heads)]
    fractions = {}
    for s in range(n_heads):
        for receivers in [[r] for r in layer1] + [layer1]:
            for into in "qkv":
                fractions[(0, s), tuple(receivers), into] = _path_patch(model, tokens, length, (0, s), receivers, into)
    return costs.tolist(), fractions, n_heads


def _circuit_from(sender, numbers, receiver_rule=None):
    """The input with the largest fraction for all of layer 1, then the single heads restoring >= 0.5 through it."""
    _, fractions, n_heads = numbers
    layer1 = tuple((1, h) for h in range(n_heads))
    into = max("qkv", key=lambda i: fractions[sender, layer1, i])
    singles = {r: fractions[sender, (r,), into] for r in layer1}
    receivers = receiver_rule(singles) if receiver_rule else [r for r, f in singles.items() if f >= 0.5]
    return {"sender": sender, "receivers": receivers, "input": into}


def _best_sender(numbers):
    costs = numbers[0]
    return (0, max(range(len(costs[0])), key=lambda h: costs[0][h]))


def blind_name_the_circuit_sender_by_fraction():
    # WRONG: picks as sender the layer-0 head with the largest fraction restored anywhere (a noisy ratio for a
    # head whose ablation costs almost nothing) instead of the head whose ablation costs the most.
    numbers = _circuit_numbers()
    sender = max(numbers[1].items(), key=lambda item: item[1])[0][0]
    return _circuit_from(sender, numbers)


def blind_name_the_circuit_top_receiver_only():
    # WRONG: keeps only the single receiver that restores the most: the second induction head is missed.
    numbers = _circuit_numbers()
    return _circuit_from(_best_sender(numbers), numbers,
                         receiver_rule=lambda singles: [max(singles, key=singles.get)])


def blind_name_the_circuit_hand_built():
    # WRONG: measures the hand-built model of notebook 07 instead of load_induction_model(): one receiver only.
    numbers = _circuit_numbers("hand_built")
    return _circuit_from(_best_sender(numbers), numbers)


def blind_name_the_circuit_receivers_by_cost():
    # WRONG: a receiver is a layer-1 head whose own ablation costs at least half of the sender's cost (reads
    # "restores at least half of the loss" as an ablation cost), not one that restores half by path patching.
    numbers = _circuit_numbers()
    costs = numbers[0]
    sender = _best_sender(numbers)
    circuit = _circuit_from(sender, numbers)
    circuit["receivers"] = [(1, h) for h in range(numbers[2]) if costs[1][h] >= 0.5 * costs[0][sender[1]]]
    return circuit


def blind_name_the_circuit_counted_from_one():
    # WRONG (edge): layers and heads counted from 1, as "layer 1, head 1" reads aloud.
    circuit = _circuit_from(_best_sender(_circuit_numbers()), _circuit_numbers())
    return {"sender": (circuit["sender"][0] + 1, circuit["sender"][1] + 1),
            "receivers": [(l + 1, h + 1) for l, h in circuit["receivers"]], "input": circuit["input"]}


def blind_name_the_circuit_tensor_ints():
    # WRONG (edge): the sender comes from costs[0].argmax() and the receivers from nonzero(): 0-dim tensors,
    # not Python ints.
    costs, fractions, n_heads = _circuit_numbers()
    costs = torch.tensor(costs)
    sender = (torch.tensor(0), costs[0].argmax())
    layer1 = tuple((1, h) for h in range(n_heads))
    key = (0, int(sender[1]))
    into = max("qkv", key=lambda i: fractions[key, layer1, i])
    singles = torch.tensor([fractions[key, ((1, h),), into] for h in range(n_heads)])
    receivers = [(torch.tensor(1), h) for h in (singles >= 0.5).nonzero().flatten()]
    return {"sender": sender, "receivers": receivers, "input": into}


def blind_name_the_circuit_input_word():
    # WRONG (edge): names the input "keys" (as the text says the heads read it "in their keys"), not "k".
    circuit = _circuit_from(_best_sender(_circuit_numbers()), _circuit_numbers())
    circuit["input"] = {"q": "queries", "k": "keys", "v": "values"}[circuit["input"]]
    return circuit


# ----------------------------------------------------------------------------- 08.6 attribution_patching


def _attribution(model, clean, corrupted, length, metric, *, grad_in="corrupted", reduce="sum", sign=1,
                 normalise=None, rows=None):
    """The learner's attribution patching (correct with the defaults)."""
    if metric is None:
        def metric(logits):
            return induction_loss(logits, clean, length)
    names = _result_names(model)
    if rows is not None:
        clean, corrupted = clean[rows], corrupted[rows]
    grad_tokens, other_tokens = (corrupted, clean) if grad_in == "corrupted" else (clean, corrupted)
    with torch.no_grad():
        other_logits, other_cache = run_with_cache(model, other_tokens, names)
    with record(model, names, detach=False) as cache:
        grad_logits = model(grad_tokens)
    grad_metric = metric(grad_logits)
    grads = torch.autograd.grad(grad_metric, [cache[name] for name in names])
    other_metric = metric(other_logits)
    if grad_in == "corrupted":
        clean_cache, corrupted_cache, clean_metric, corrupted_metric = other_cache, cache, other_metric, grad_metric
    else:
        clean_cache, corrupted_cache, clean_metric, corrupted_metric = cache, other_cache, grad_metric, other_metric
    out = []
    for name, grad in zip(names, grads):
        diff = sign * (clean_cache[name].detach() - corrupted_cache[name].detach())
        prod = diff * grad
        out.append(prod.sum(dim=(0, 1, 3)) if reduce == "sum" else prod.mean(dim=(0, 1, 3)))
    estimate = torch.stack(out)
    gap = (clean_metric - corrupted_metric).detach()
    if normalise is None:
        return estimate / gap
    return normalise(estimate, gap)


def blind_attribution_patching_backward(model, clean, corrupted, length, metric=None):
    # WRONG (inplace): metric.backward() with retain_grad() on the recorded activations, instead of
    # torch.autograd.grad: every parameter of the model is left with a .grad.
    if metric is None:
        def metric(logits):
            return induction_loss(logits, clean, length)
    names = _result_names(model)
    with torch.no_grad():
        clean_logits, clean_cache = run_with_cache(model, clean, names)
    with record(model, names, detach=False) as cache:
        logits = model(corrupted)
    corrupted_metric = metric(logits)
    for name in names:
        cache[name].retain_grad()
    corrupted_metric.backward()
    out = [((clean_cache[name] - cache[name].detach()) * cache[name].grad).sum(dim=(0, 1, 3)) for name in names]
    return torch.stack(out) / (metric(clean_logits) - corrupted_metric.detach())


def blind_attribution_patching_zeros_float32(model, clean, corrupted, length, metric=None):
    # WRONG (dtype): copies the estimates into a preallocated torch.zeros(n_layers, n_heads), float32 by default.
    estimate = _attribution(model, clean, corrupted, length, metric)
    out = torch.zeros(estimate.shape, device=estimate.device)
    out[:] = estimate.detach()
    return out


def blind_attribution_patching_assumes_loss(model, clean, corrupted, length, metric=None):
    # WRONG (edge): "the metric is a loss, lower is better": divides by |gap| and flips the sign, which is
    # right for the induction loss and backwards for a metric where higher is better.
    return _attribution(model, clean, corrupted, length, metric, normalise=lambda est, gap: -est / gap.abs())


def blind_attribution_patching_three_runs(model, clean, corrupted, length, metric=None):
    # WRONG (edge): runs the corrupted tokens a second time under no_grad for the denominator's metric: three
    # forward passes where the spec allows two.
    if metric is None:
        def metric(logits):
            return induction_loss(logits, clean, length)
    with torch.no_grad():
        corrupted_metric = metric(model(corrupted))
    names = _result_names(model)
    with torch.no_grad():
        clean_logits, clean_cache = run_with_cache(model, clean, names)
    with record(model, names, detach=False) as cache:
        logits = model(corrupted)
    grads = torch.autograd.grad(metric(logits), [cache[name] for name in names])
    out = [((clean_cache[name] - cache[name].detach()) * g).sum(dim=(0, 1, 3)) for name, g in zip(names, grads)]
    return torch.stack(out) / (metric(clean_logits) - corrupted_metric)


def blind_attribution_patching_mean(model, clean, corrupted, length, metric=None):
    # WRONG: averages the products over batch, positions and d_model instead of summing them.
    return _attribution(model, clean, corrupted, length, metric, reduce="mean")


def blind_attribution_patching_grad_in_clean(model, clean, corrupted, length, metric=None):
    # WRONG: takes the gradient in the CLEAN run (the tangent at t = 1) instead of the corrupted one.
    return _attribution(model, clean, corrupted, length, metric, grad_in="clean")


def blind_attribution_patching_sign(model, clean, corrupted, length, metric=None):
    # WRONG: (corrupted_act - clean_act) * gradient: the difference the wrong way round.
    return _attribution(model, clean, corrupted, length, metric, sign=-1)


def blind_attribution_patching_not_normalised(model, clean, corrupted, length, metric=None):
    # WRONG: returns the raw first-order change of the metric, not divided by metric(clean) - metric(corrupted).
    return _attribution(model, clean, corrupted, length, metric, normalise=lambda est, gap: est)


def blind_attribution_patching_ignores_metric(model, clean, corrupted, length, metric=None):
    # WRONG: always uses the induction loss, whatever `metric` is passed.
    return _attribution(model, clean, corrupted, length, None)


def blind_attribution_patching_random_rows(model, clean, corrupted, length, metric=None):
    # WRONG (random): "to keep it fast", estimates on half of the rows drawn at random on every call.
    rows = torch.randperm(clean.shape[0])[:max(1, clean.shape[0] // 2)].to(clean.device)
    if metric is None:
        sub_clean = clean[rows]

        def metric(logits):
            return induction_loss(logits, sub_clean, length)
    return _attribution(model, clean, corrupted, length, metric, rows=rows)


def blind_attribution_patching_builtin(model, clean, corrupted, length, metric=None):
    # WRONG (builtin): real activation patching with the course's patch, one run per head (forbidden, and not
    # the first-order estimate).
    if metric is None:
        def metric(logits):
            return induction_loss(logits, clean, length)
    names = _result_names(model)
    with torch.no_grad():
        clean_logits, clean_cache = run_with_cache(model, clean, names)
        m_clean, m_corrupted = metric(clean_logits), metric(model(corrupted))
        rows = []
        for name in names:
            row = []
            for head in range(model.cfg.n_heads):
                with _course_patch(model, name, clean_cache[name], dim=2, index=head):
                    row.append((metric(model(corrupted)) - m_corrupted) / (m_clean - m_corrupted))
            rows.append(torch.stack(row))
    return torch.stack(rows)


# ----------------------------------------------------------------------------- 08.7 ablation_effect


def _float_accuracy(model, X, y):
    return (model(X).argmax(dim=-1) == y).double().mean().item()


def _zero_units(units):
    def zero(h, name):
        h = h.clone()
        h[:, list(units)] = 0
        return h
    return zero


def _effect(model, X, y, hook, acc=_float_accuracy):
    """The learner's ablation_effect (correct with the zero hook)."""
    with torch.no_grad():
        clean = acc(model, X, y)
        with hooks(model, [("hidden", hook)]):
            ablated = acc(model, X, y)
    return clean - ablated


def blind_ablation_effect_zeroes_weights(model, X, y, units):
    # WRONG (inplace): ablates by zeroing fc2's weights from the units (no hook) and never puts them back.
    with torch.no_grad():
        clean = _float_accuracy(model, X, y)
        model.fc2.weight[:, list(units)] = 0
        ablated = _float_accuracy(model, X, y)
    return clean - ablated


def blind_ablation_effect_calls_eval(model, X, y, units):
    # WRONG (inplace): calls model.eval() first and leaves it so: a model given in train mode comes back in eval.
    model.eval()
    return _effect(model, X, y, _zero_units(units))


def blind_ablation_effect_tensor(model, X, y, units):
    # WRONG (dtype): returns the 0-dim tensor difference, not a Python float (.item() forgotten).
    return _effect(model, X, y, _zero_units(units), acc=lambda m, X, y: (m(X).argmax(dim=-1) == y).double().mean())


def blind_ablation_effect_tensor_index(model, X, y, units):
    # WRONG (edge): indexes with torch.tensor(units): an empty tuple makes a float tensor, which cannot index.
    def zero(h, name):
        h = h.clone()
        h[:, torch.tensor(units)] = 0
        return h
    return _effect(model, X, y, zero)


def blind_ablation_effect_slice(model, X, y, units):
    # WRONG (edge): ablates the slice units[0]:units[-1]: the last unit is left out (and no units crash).
    def zero(h, name):
        h = h.clone()
        h[:, units[0]:units[-1]] = 0
        return h
    return _effect(model, X, y, zero)


def blind_ablation_effect_sign(model, X, y, units):
    # WRONG: ablated accuracy minus clean accuracy.
    return -_effect(model, X, y, _zero_units(units))


def blind_ablation_effect_one_at_a_time(model, X, y, units):
    # WRONG: ablates each unit alone and adds up the drops, instead of ablating the units together.
    return sum(_effect(model, X, y, _zero_units([u])) for u in units) + 0.0


def blind_ablation_effect_keep_only(model, X, y, units):
    # WRONG: keeps the units and zeroes all the others.
    def keep(h, name):
        kept = torch.zeros_like(h)
        kept[:, list(units)] = h[:, list(units)]
        return kept
    return _effect(model, X, y, keep)


def blind_ablation_effect_agreement(model, X, y, units):
    # WRONG: the fraction of predictions that change (clean predictions as labels), not the accuracy lost on y.
    with torch.no_grad():
        pred = model(X).argmax(dim=-1)
    return _effect(model, X, pred, _zero_units(units))


def blind_ablation_effect_percent(model, X, y, units):
    # WRONG: returns percentage points (100 x the difference), as the figure prints it.
    return 100 * _effect(model, X, y, _zero_units(units))


def blind_ablation_effect_resample(model, X, y, units):
    # WRONG (random): resample-ablates (each row gets another random row's units) instead of setting them to 0.
    def resample(h, name):
        h = h.clone()
        h[:, list(units)] = h[torch.randperm(h.shape[0]).to(h.device)][:, list(units)]
        return h
    return _effect(model, X, y, resample)


def blind_ablation_effect_builtin(model, X, y, units):
    # WRONG (builtin): uses the course's ablate, which the exercise forbids.
    with torch.no_grad():
        clean = _float_accuracy(model, X, y)
        with _course_ablate(model, "hidden", dim=1, index=list(units)):
            ablated = _float_accuracy(model, X, y)
    return clean - ablated


# ----------------------------------------------------------------------------- 08.8 which_feature_is_used


def _planted_setup():
    return planted_model(), planted_features(2000, seed=1), planted_features(2000, seed=2)


def blind_which_feature_is_used_probe():
    # WRONG: decides with a probe, not an intervention: the feature a logistic-regression probe on the hidden
    # layer reads best ("b").
    model, fit_set, test_set = _planted_setup()
    with torch.no_grad():
        h_fit = run_with_cache(model, fit_set.X, ["hidden"])[1]["hidden"].numpy()
        h_test = run_with_cache(model, test_set.X, ["hidden"])[1]["hidden"].numpy()
    scores = {f: LogisticRegression(max_iter=1000).fit(h_fit, getattr(fit_set, f).numpy())
              .score(h_test, getattr(test_set, f).numpy()) for f in ("a", "b")}
    return max(scores, key=scores.get)


def blind_which_feature_is_used_sign():
    # WRONG: compares (ablated - clean) accuracies, so it returns the feature whose ablation costs LEAST.
    model, _, test_set = _planted_setup()
    effects = {f: -_effect(model, test_set.X, test_set.y, _zero_units(units))
               for f, units in (("a", UNITS_A), ("b", UNITS_B))}
    return max(effects, key=effects.get)


def blind_which_feature_is_used_hidden_change():
    # WRONG: measures how much zeroing each feature's units changes the hidden layer (its norm), not the output.
    model, _, test_set = _planted_setup()
    with torch.no_grad():
        hidden = run_with_cache(model, test_set.X, ["hidden"])[1]["hidden"]
    changes = {f: (hidden - _zero_units(units)(hidden, "hidden")).norm().item()
               for f, units in (("a", UNITS_A), ("b", UNITS_B))}
    return max(changes, key=changes.get)


def blind_which_feature_is_used_weights():
    # WRONG: reads the weights instead of intervening: the feature whose units have the largest input weights.
    model, _, _ = _planted_setup()
    norms = {f: model.fc1.weight[list(units)].norm().item() for f, units in (("a", UNITS_A), ("b", UNITS_B))}
    return max(norms, key=norms.get)


def blind_which_feature_is_used_dict_key():
    # WRONG (edge): returns the key of an effects dict labelled as in the figure ("a: units (0, 1)"), not "a".
    model, _, test_set = _planted_setup()
    effects = {f"{f}: units {units}": _effect(model, test_set.X, test_set.y, _zero_units(units))
               for f, units in (("a", UNITS_A), ("b", UNITS_B))}
    return max(effects, key=effects.get)


MUTANTS = {
    "08.1": [
        (blind_head_ablation_losses_weight_alias, "inplace"),
        (blind_head_ablation_losses_calls_eval, "inplace"),
        (blind_head_ablation_losses_zeros_float32, "dtype"),
        (blind_head_ablation_losses_item_list, "edge"),
        (blind_head_ablation_losses_late_binding, "edge"),
        (blind_head_ablation_losses_builtin, "builtin"),
        (blind_head_ablation_losses_mean_random_rows, "random"),
        (blind_head_ablation_losses_mean_over_positions, "subtle"),
        (blind_head_ablation_losses_ignores_reference, "subtle"),
        (blind_head_ablation_losses_sign, "subtle"),
        (blind_head_ablation_losses_whole_sequence, "subtle"),
    ],
    "08.2": [
        (blind_channel_ablation_accuracy_inplace_hook, "inplace"),
        (blind_channel_ablation_accuracy_calls_eval, "inplace"),
        (blind_channel_ablation_accuracy_float32, "dtype"),
        (blind_channel_ablation_accuracy_course_accuracy, "edge"),
        (blind_channel_ablation_accuracy_sixteen, "edge"),
        (blind_channel_ablation_accuracy_builtin, "builtin"),
        (blind_channel_ablation_accuracy_train_mode, "random"),
        (blind_channel_ablation_accuracy_no_return, "subtle"),
        (blind_channel_ablation_accuracy_sign, "subtle"),
        (blind_channel_ablation_accuracy_keep_only, "subtle"),
        (blind_channel_ablation_accuracy_cumulative, "subtle"),
        (blind_channel_ablation_accuracy_mean, "subtle"),
        (blind_channel_ablation_accuracy_agreement, "subtle"),
    ],
    "08.3": [
        (blind_activation_patching_cache_inplace, "inplace"),
        (blind_activation_patching_hooks_accumulate, "inplace"),
        (blind_activation_patching_zeros_float32, "dtype"),
        (blind_activation_patching_no_last_row, "edge"),
        (blind_activation_patching_builtin, "builtin"),
        (blind_activation_patching_shuffled_rows, "random"),
        (blind_activation_patching_one_minus, "subtle"),
        (blind_activation_patching_noising, "subtle"),
        (blind_activation_patching_position_wrong_dim, "subtle"),
        (blind_activation_patching_head_wrong_dim, "subtle"),
        (blind_activation_patching_prefix, "subtle"),
    ],
    "08.4": [
        (blind_path_patching_resid_accumulates, "inplace"),
        (blind_path_patching_tensor, "dtype"),
        (blind_path_patching_late_binding, "edge"),
        (blind_path_patching_builtin, "builtin"),
        (blind_path_patching_resample_sender, "random"),
        (blind_path_patching_no_bias, "subtle"),
        (blind_path_patching_resid_from_ablated, "subtle"),
        (blind_path_patching_zero_sender, "subtle"),
        (blind_path_patching_mean_over_positions, "subtle"),
        (blind_path_patching_all_heads, "subtle"),
        (blind_path_patching_one_minus, "subtle"),
    ],
    "08.5": [
        (blind_name_the_circuit_sender_by_fraction, "subtle"),
        (blind_name_the_circuit_top_receiver_only, "subtle"),
        (blind_name_the_circuit_hand_built, "subtle"),
        (blind_name_the_circuit_receivers_by_cost, "subtle"),
        (blind_name_the_circuit_counted_from_one, "edge"),
        (blind_name_the_circuit_tensor_ints, "edge"),
        (blind_name_the_circuit_input_word, "edge"),
    ],
    "08.6": [
        (blind_attribution_patching_backward, "inplace"),
        (blind_attribution_patching_zeros_float32, "dtype"),
        (blind_attribution_patching_assumes_loss, "edge"),
        (blind_attribution_patching_three_runs, "edge"),
        (blind_attribution_patching_builtin, "builtin"),
        (blind_attribution_patching_random_rows, "random"),
        (blind_attribution_patching_mean, "subtle"),
        (blind_attribution_patching_grad_in_clean, "subtle"),
        (blind_attribution_patching_sign, "subtle"),
        (blind_attribution_patching_not_normalised, "subtle"),
        (blind_attribution_patching_ignores_metric, "subtle"),
    ],
    "08.7": [
        (blind_ablation_effect_zeroes_weights, "inplace"),
        (blind_ablation_effect_calls_eval, "inplace"),
        (blind_ablation_effect_tensor, "dtype"),
        (blind_ablation_effect_tensor_index, "edge"),
        (blind_ablation_effect_slice, "edge"),
        (blind_ablation_effect_builtin, "builtin"),
        (blind_ablation_effect_resample, "random"),
        (blind_ablation_effect_sign, "subtle"),
        (blind_ablation_effect_one_at_a_time, "subtle"),
        (blind_ablation_effect_keep_only, "subtle"),
        (blind_ablation_effect_agreement, "subtle"),
        (blind_ablation_effect_percent, "subtle"),
    ],
    "08.8": [
        (blind_which_feature_is_used_probe, "subtle"),
        (blind_which_feature_is_used_sign, "subtle"),
        (blind_which_feature_is_used_hidden_change, "subtle"),
        (blind_which_feature_is_used_weights, "subtle"),
        (blind_which_feature_is_used_dict_key, "edge"),
    ],
}
