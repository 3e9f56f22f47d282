"""Plausible wrong answers to notebook 08 (ablation and activation patching); every one must fail its check."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mi_helpers.hooks import hooks, record, run_with_cache
from mi_helpers.interventions import ablate, ablate_heads, induction_loss
from mi_helpers.interventions import patch as _patch
from mi_helpers.planted import UNITS_A, UNITS_B, planted_features, planted_model


def _n(model):
    return len(model.blocks), model.blocks[0].attn.W_Q.shape[0]


def _head_losses(model, tokens, length, replace, *, subtract=True, loss=induction_loss, sign=1.0, transpose=False):
    """The skeleton every 08.1 mutant shares: replace(act, layer, head, name) gives the ablated activation."""
    n_layers, n_heads = _n(model)
    with torch.no_grad():
        base = loss(model(tokens), tokens, length)
        out = torch.zeros(n_layers, n_heads, dtype=base.dtype, device=base.device)
        for layer in range(n_layers):
            for head in range(n_heads):
                name = f"blocks.{layer}.attn.hook_result"
                with hooks(model, [(name, lambda act, nm, l=layer, h=head: replace(act, l, h, nm))]):
                    value = loss(model(tokens), tokens, length)
                out[layer, head] = sign * (value - base if subtract else value)
    return out.T.contiguous() if transpose else out


def _zero(act, layer, head, name):
    act = act.clone()
    act[:, :, head] = 0
    return act


def _means(model, reference, *, dims=(0,)):
    n_layers, _ = _n(model)
    names = [f"blocks.{l}.attn.hook_result" for l in range(n_layers)]
    with torch.no_grad():
        _, cache = run_with_cache(model, reference, names)
    return {name: cache[name].mean(dim=dims, keepdim=True) for name in names}


def _mean_replace(means):
    def replace(act, layer, head, name):
        act = act.clone()
        act[:, :, head] = means[name].expand_as(act)[:, :, head]
        return act
    return replace


# ---------------------------------------------------------------- 08.1

def ablation_without_baseline(model, tokens, length, how="zero", reference=None):
    # returns the loss with each head ablated, not what it costs
    ref = tokens if reference is None else reference
    replace = _zero if how == "zero" else _mean_replace(_means(model, ref))
    return _head_losses(model, tokens, length, replace, subtract=False)


def ablation_sign_flipped(model, tokens, length, how="zero", reference=None):
    ref = tokens if reference is None else reference
    replace = _zero if how == "zero" else _mean_replace(_means(model, ref))
    return _head_losses(model, tokens, length, replace, sign=-1.0)


def ablation_mean_over_positions_too(model, tokens, length, how="zero", reference=None):
    # one mean per head over batch AND positions: the position information of the output is lost
    ref = tokens if reference is None else reference
    replace = _zero if how == "zero" else _mean_replace(_means(model, ref, dims=(0, 1)))
    return _head_losses(model, tokens, length, replace)


def ablation_mean_from_the_tokens(model, tokens, length, how="zero", reference=None):
    # ignores `reference`: the mean is taken over the batch being measured
    replace = _zero if how == "zero" else _mean_replace(_means(model, tokens))
    return _head_losses(model, tokens, length, replace)


def ablation_always_zero(model, tokens, length, how="zero", reference=None):
    # ignores `how`
    return _head_losses(model, tokens, length, _zero)


def ablation_whole_layer(model, tokens, length, how="zero", reference=None):
    # zeroes every head of the layer, not head h alone
    def replace(act, layer, head, name):
        return torch.zeros_like(act)
    return _head_losses(model, tokens, length, replace)


def ablation_layers_and_heads_swapped(model, tokens, length, how="zero", reference=None):
    ref = tokens if reference is None else reference
    replace = _zero if how == "zero" else _mean_replace(_means(model, ref))
    return _head_losses(model, tokens, length, replace, transpose=True)


def ablation_loss_on_every_position(model, tokens, length, how="zero", reference=None):
    # the loss of every next-token prediction, the first copy's guesses included
    def loss(logits, toks, _length):
        return torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), toks[:, 1:].flatten())
    ref = tokens if reference is None else reference
    replace = _zero if how == "zero" else _mean_replace(_means(model, ref))
    return _head_losses(model, tokens, length, replace, loss=loss)


def ablation_of_the_pattern(model, tokens, length, how="zero", reference=None):
    # ablates where the head looks (its pattern), not what it writes: mean patterns are not mean outputs
    n_layers, n_heads = _n(model)
    ref = tokens if reference is None else reference
    names = [f"blocks.{l}.attn.hook_pattern" for l in range(n_layers)]
    with torch.no_grad():
        _, cache = run_with_cache(model, ref, names)
        base = induction_loss(model(tokens), tokens, length)
        out = torch.zeros(n_layers, n_heads, dtype=base.dtype)
        for layer, name in enumerate(names):
            for head in range(n_heads):
                def replace(act, _nm, h=head, nm=name):
                    act = act.clone()
                    act[:, h] = 0 if how == "zero" else cache[nm][:, h].mean(0)
                    return act
                with hooks(model, [(name, replace)]):
                    out[layer, head] = induction_loss(model(tokens), tokens, length) - base
    return out


def ablation_hooks_left_behind(model, tokens, length, how="zero", reference=None):
    # registers a recording hook with register_forward_hook and never removes it
    model.blocks[0].attn.hook_result.register_forward_hook(lambda m, i, o: None)
    return _right(model, tokens, length, how, reference)


def _right(model, tokens, length, how="zero", reference=None):
    ref = tokens if reference is None else reference
    replace = _zero if how == "zero" else _mean_replace(_means(model, ref))
    return _head_losses(model, tokens, length, replace)


def ablation_in_float32(model, tokens, length, how="zero", reference=None):
    # the costs are collected in a float32 tensor whatever the model's dtype
    return _right(model, tokens, length, how, reference).float()


def ablation_with_the_course_function(model, tokens, length, how="zero", reference=None):
    # calls the course's ablate_heads, which this exercise asks you to write yourself
    n_layers, n_heads = _n(model)
    with torch.no_grad():
        base = induction_loss(model(tokens), tokens, length)
        out = torch.zeros(n_layers, n_heads, dtype=base.dtype, device=base.device)
        for layer in range(n_layers):
            for head in range(n_heads):
                with ablate_heads(model, [(layer, head)], how=how,
                                  reference_tokens=tokens if reference is None else reference):
                    out[layer, head] = induction_loss(model(tokens), tokens, length) - base
    return out


# ---------------------------------------------------------------- 08.3

def _patching(model, clean, corrupted, length, by="head", *, normalise=True, flip=False, row_names=None,
              put=None, measure_on_clean=False):
    n_layers, n_heads = _n(model)
    if by == "head":
        names, width = [f"blocks.{l}.attn.hook_result" for l in range(n_layers)], n_heads
    else:
        names = row_names or ([f"blocks.{l}.hook_resid_pre" for l in range(n_layers)]
                              + [f"blocks.{n_layers - 1}.hook_resid_post"])
        width = clean.shape[1]
    with torch.no_grad():
        clean_logits, cache = run_with_cache(model, clean, names)
        clean_loss = induction_loss(clean_logits, clean, length)
        corrupted_loss = induction_loss(model(corrupted), corrupted, length)
        out = torch.zeros(len(names), width, dtype=clean_loss.dtype, device=clean_loss.device)
        for row, name in enumerate(names):
            for i in range(width):
                def hook(act, nm, i=i):
                    act = act.clone()
                    if put is not None:
                        return put(act, cache[nm], i)
                    if by == "head":
                        act[:, :, i] = cache[nm][:, :, i]
                    else:
                        act[:, i] = cache[nm][:, i]
                    return act
                run_on = clean if measure_on_clean else corrupted
                with hooks(model, [(name, hook)]):
                    loss = induction_loss(model(run_on), run_on, length)
                value = (corrupted_loss - loss) / (corrupted_loss - clean_loss) if normalise else loss
                out[row, i] = 1 - value if flip else value
    return out


def patching_not_normalised(model, clean, corrupted, length, by="head"):
    # returns the patched loss itself
    return _patching(model, clean, corrupted, length, by, normalise=False)


def patching_clean_is_zero(model, clean, corrupted, length, by="head"):
    # (loss - clean) / (corrupted - clean): clean 0, corrupted 1, the other way round
    return _patching(model, clean, corrupted, length, by, flip=True)


def patching_the_wrong_way(model, clean, corrupted, length, by="head"):
    # puts the clean activation into the CLEAN run (nothing changes), or rather measures the clean run
    return _patching(model, clean, corrupted, length, by, measure_on_clean=True)


def patching_every_head_of_the_layer(model, clean, corrupted, length, by="head"):
    # patches the whole layer's output at each (layer, head)
    def put(act, clean_act, i):
        return clean_act.clone() if by == "head" else torch.cat([act[:, :i], clean_act[:, i:i + 1], act[:, i + 1:]], 1)
    return _patching(model, clean, corrupted, length, by, put=put)


def patching_positions_from_here_on(model, clean, corrupted, length, by="head"):
    # by position, patches position p AND every position after it
    def put(act, clean_act, i):
        if by == "head":
            act[:, :, i] = clean_act[:, :, i]
            return act
        act[:, i:] = clean_act[:, i:]
        return act
    return _patching(model, clean, corrupted, length, by, put=put)


def patching_without_the_final_stream(model, clean, corrupted, length, by="head"):
    # by position: only the resid_pre of each layer, the last row (the final resid_post) left out
    n_layers, _ = _n(model)
    return _patching(model, clean, corrupted, length, by,
                     row_names=[f"blocks.{l}.hook_resid_pre" for l in range(n_layers)])


def patching_resid_post_rows(model, clean, corrupted, length, by="head"):
    # by position: hook_resid_post of each layer and the embedding's output, in another order than the spec's
    n_layers, _ = _n(model)
    return _patching(model, clean, corrupted, length, by,
                     row_names=[f"blocks.{l}.hook_resid_post" for l in range(n_layers)] + ["blocks.0.hook_resid_pre"])


# ---------------------------------------------------------------- 08.4

def _path(model, tokens, length, sender, receivers, into, *, how="mean", source="intact", normalise=True):
    s_layer, s_head = sender
    sent = f"blocks.{s_layer}.attn.hook_result"
    layers = sorted({l for l, _ in receivers})
    with torch.no_grad():
        logits, cache = run_with_cache(model, tokens, [sent] + [f"blocks.{l}.hook_resid_pre" for l in layers])
        intact_loss = induction_loss(logits, tokens, length)
        mean = cache[sent][:, :, s_head].mean(dim=0)

        def kill(act, _nm):
            act = act.clone()
            act[:, :, s_head] = 0 if how == "zero" else mean
            return act

        with hooks(model, [(sent, kill)]):
            ablated_logits, ablated_cache = run_with_cache(model, tokens, [f"blocks.{l}.hook_resid_pre" for l in layers])
            ablated_loss = induction_loss(ablated_logits, tokens, length)
        fwd = [(sent, kill)]
        for layer, head in receivers:
            attn = model.blocks[layer].attn
            W, b = {"q": (attn.W_Q, attn.b_Q), "k": (attn.W_K, attn.b_K), "v": (attn.W_V, attn.b_V)}[into]
            resid = cache if source == "intact" else ablated_cache
            new = torch.einsum("bpm,md->bpd", resid[f"blocks.{layer}.hook_resid_pre"], W[head]) + b[head]

            def put(act, _nm, head=head, new=new):
                act = act.clone()
                act[:, :, head] = new
                return act

            fwd.append((f"blocks.{layer}.attn.hook_{into}", put))
        with hooks(model, fwd):
            loss = induction_loss(model(tokens), tokens, length)
    if not normalise:
        return float(ablated_loss - loss)
    return float((ablated_loss - loss) / (ablated_loss - intact_loss))


def path_zero_ablation(model, tokens, length, sender, receivers, into):
    # zero-ablates the sender, not mean-ablates
    return _path(model, tokens, length, sender, receivers, into, how="zero")


def path_from_the_ablated_run(model, tokens, length, sender, receivers, into):
    # recomputes the receivers' input from the ABLATED residual stream: nothing is put back
    return _path(model, tokens, length, sender, receivers, into, source="ablated")


def path_not_normalised(model, tokens, length, sender, receivers, into):
    # the loss restored in nats, not as a fraction
    return _path(model, tokens, length, sender, receivers, into, normalise=False)


def path_every_input(model, tokens, length, sender, receivers, into):
    # puts the sender back into q, k AND v whatever `into` says
    return max(_path(model, tokens, length, sender, receivers, i) for i in "qkv")


def path_only_the_first_receiver(model, tokens, length, sender, receivers, into):
    # ignores every receiver after the first
    return _path(model, tokens, length, sender, list(receivers)[:1], into)


def path_into_the_pattern(model, tokens, length, sender, receivers, into):
    # puts the receivers' intact PATTERN back (q and k together), whatever `into` says
    s_layer, s_head = sender
    sent = f"blocks.{s_layer}.attn.hook_result"
    layers = sorted({l for l, _ in receivers})
    with torch.no_grad():
        logits, cache = run_with_cache(model, tokens, [sent] + [f"blocks.{l}.attn.hook_pattern" for l in layers])
        intact_loss = induction_loss(logits, tokens, length)
        mean = cache[sent][:, :, s_head].mean(dim=0)

        def kill(act, _nm):
            act = act.clone()
            act[:, :, s_head] = mean
            return act

        with hooks(model, [(sent, kill)]):
            ablated_loss = induction_loss(model(tokens), tokens, length)
        fwd = [(sent, kill)]
        for layer, head in receivers:
            name = f"blocks.{layer}.attn.hook_pattern"

            def put(act, nm, head=head):
                act = act.clone()
                act[:, head] = cache[nm][:, head]
                return act
            fwd.append((name, put))
        with hooks(model, fwd):
            loss = induction_loss(model(tokens), tokens, length)
    return float((ablated_loss - loss) / (ablated_loss - intact_loss))


# ---------------------------------------------------------------- 08.5

def circuit_through_the_values():
    return {"sender": (0, 0), "receivers": [(1, 0), (1, 1)], "input": "v"}


def circuit_through_the_queries():
    return {"sender": (0, 0), "receivers": [(1, 0), (1, 1)], "input": "q"}


def circuit_with_one_receiver():
    # the best receiver only: both induction heads read the previous-token head
    return {"sender": (0, 0), "receivers": [(1, 0)], "input": "k"}


def circuit_from_the_wrong_sender():
    # the head whose path restores the largest FRACTION: a fraction of a cost near zero is noise
    return {"sender": (0, 1), "receivers": [(1, 0), (1, 1)], "input": "v"}


def circuit_counted_from_one():
    return {"sender": (1, 1), "receivers": [(2, 1), (2, 2)], "input": "k"}


def circuit_in_capitals():
    return {"sender": (0, 0), "receivers": [(1, 0), (1, 1)], "input": "K"}


_MUTANTS_0 = {
    "08.1": [ablation_without_baseline, ablation_sign_flipped, ablation_mean_over_positions_too,
             ablation_mean_from_the_tokens, ablation_always_zero, ablation_whole_layer,
             ablation_layers_and_heads_swapped, ablation_loss_on_every_position, ablation_of_the_pattern,
             ablation_hooks_left_behind, ablation_in_float32, ablation_with_the_course_function],
    "08.3": [patching_not_normalised, patching_clean_is_zero, patching_the_wrong_way,
             patching_every_head_of_the_layer, patching_positions_from_here_on, patching_without_the_final_stream,
             patching_resid_post_rows],
    "08.4": [path_zero_ablation, path_from_the_ablated_run, path_not_normalised, path_every_input,
             path_only_the_first_receiver, path_into_the_pattern],
    "08.5": [circuit_through_the_values, circuit_through_the_queries, circuit_with_one_receiver,
             circuit_from_the_wrong_sender, circuit_counted_from_one, circuit_in_capitals],
}


def _fraction(logits, y, dtype):
    return (logits.argmax(dim=-1) == y).to(dtype).mean()


def _zero_channel(c):
    def zero(activation, name):
        ablated = activation.clone()
        ablated[:, c] = 0.0
        return ablated
    return zero


def cap_no_baseline(model, X, y, layer="relu2"):
    # returns the accuracy WITH each channel ablated, not the accuracy lost
    with torch.no_grad():
        _, cache = run_with_cache(model, X, [layer])
        out = []
        for c in range(cache[layer].shape[1]):
            with hooks(model, [(layer, _zero_channel(c))]):
                out.append(_fraction(model(X), y, X.dtype))
    return torch.stack(out)


def cap_sign_flipped(model, X, y, layer="relu2"):
    # ablated minus clean: the opposite sign
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = _fraction(logits, y, X.dtype)
        out = []
        for c in range(cache[layer].shape[1]):
            with hooks(model, [(layer, _zero_channel(c))]):
                out.append(_fraction(model(X), y, X.dtype) - clean)
    return torch.stack(out)


def cap_relative_drop(model, X, y, layer="relu2"):
    # divides the drop by the clean accuracy ("the share of its accuracy the model loses")
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = _fraction(logits, y, X.dtype)
        out = []
        for c in range(cache[layer].shape[1]):
            with hooks(model, [(layer, _zero_channel(c))]):
                out.append((clean - _fraction(model(X), y, X.dtype)) / clean)
    return torch.stack(out)


def cap_percent(model, X, y, layer="relu2"):
    # percentage points instead of a fraction
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = _fraction(logits, y, X.dtype)
        out = []
        for c in range(cache[layer].shape[1]):
            with hooks(model, [(layer, _zero_channel(c))]):
                out.append(100 * (clean - _fraction(model(X), y, X.dtype)))
    return torch.stack(out)


def cap_hook_left_attached(model, X, y, layer="relu2"):
    # register_forward_hook by hand, and the handles are never removed
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = _fraction(logits, y, X.dtype)
        module = model.get_submodule(layer)
        out = []
        for c in range(cache[layer].shape[1]):
            def zero(mod, inputs, output, c=c):
                ablated = output.clone()
                ablated[:, c] = 0.0
                return ablated
            handle = module.register_forward_hook(zero)
            out.append(clean - _fraction(model(X), y, X.dtype))
            handle  # noqa: B018 - kept, never removed: the next channel's hook runs after this one
    return torch.stack(out)


def cap_hook_returns_nothing(model, X, y, layer="relu2"):
    # the hook edits a copy and forgets to return it: nothing is replaced, every drop is 0
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = _fraction(logits, y, X.dtype)
        out = []
        for c in range(cache[layer].shape[1]):
            def zero(activation, name, c=c):
                ablated = activation.clone()
                ablated[:, c] = 0.0
            with hooks(model, [(layer, zero)]):
                out.append(clean - _fraction(model(X), y, X.dtype))
    return torch.stack(out)


def cap_baseline_inside_hook(model, X, y, layer="relu2"):
    # the clean accuracy is measured inside the `with` block: with the ablation already on
    with torch.no_grad():
        _, cache = run_with_cache(model, X, [layer])
        out = []
        for c in range(cache[layer].shape[1]):
            with hooks(model, [(layer, _zero_channel(c))]):
                clean = _fraction(model(X), y, X.dtype)
                out.append(clean - _fraction(model(X), y, X.dtype))
    return torch.stack(out)


def cap_zeroes_an_image(model, X, y, layer="relu2"):
    # activation[c] = 0: zeroes image c (dim 0), not channel c
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = _fraction(logits, y, X.dtype)
        out = []
        for c in range(cache[layer].shape[1]):
            def zero(activation, name, c=c):
                ablated = activation.clone()
                ablated[c] = 0.0
                return ablated
            with hooks(model, [(layer, zero)]):
                out.append(clean - _fraction(model(X), y, X.dtype))
    return torch.stack(out)


def cap_cumulative(model, X, y, layer="relu2"):
    # one list of channels that keeps growing: channel c is ablated together with channels 0 .. c-1
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = _fraction(logits, y, X.dtype)
        silenced, out = [], []

        def zero(activation, name):
            ablated = activation.clone()
            ablated[:, silenced] = 0.0
            return ablated

        for c in range(cache[layer].shape[1]):
            silenced.append(c)
            with hooks(model, [(layer, zero)]):
                out.append(clean - _fraction(model(X), y, X.dtype))
    return torch.stack(out)


def cap_sixteen_channels(model, X, y, layer="relu2"):
    # the number of channels hard-coded (relu2's 16), whatever `layer` is
    with torch.no_grad():
        clean = _fraction(model(X), y, X.dtype)
        out = []
        for c in range(16):
            with hooks(model, [(layer, _zero_channel(c))]):
                out.append(clean - _fraction(model(X), y, X.dtype))
    return torch.stack(out)


def cap_ignores_layer(model, X, y, layer="relu2"):
    # always ablates relu2, whatever `layer` names
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, ["relu2"])
        clean = _fraction(logits, y, X.dtype)
        out = []
        for c in range(cache["relu2"].shape[1]):
            with hooks(model, [("relu2", _zero_channel(c))]):
                out.append(clean - _fraction(model(X), y, X.dtype))
    return torch.stack(out)


def cap_float32_accuracy(model, X, y, layer="relu2"):
    # (pred == y).float().mean(): float32, whatever X's dtype
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = (logits.argmax(-1) == y).float().mean()
        out = []
        for c in range(cache[layer].shape[1]):
            with hooks(model, [(layer, _zero_channel(c))]):
                out.append(clean - (model(X).argmax(-1) == y).float().mean())
    return torch.stack(out)


def cap_float32_then_cast(model, X, y, layer="relu2"):
    # computed in float32 and cast to X's dtype at the end: the right dtype, float32's digits
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = (logits.argmax(-1) == y).float().mean()
        out = []
        for c in range(cache[layer].shape[1]):
            with hooks(model, [(layer, _zero_channel(c))]):
                out.append(clean - (model(X).argmax(-1) == y).float().mean())
    return torch.stack(out).to(X.dtype)


def cap_item_into_tensor(model, X, y, layer="relu2"):
    # Python floats (.item()) gathered into torch.tensor(..., dtype=X.dtype): right on the CPU, fails on meta
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = (logits.argmax(-1) == y).to(X.dtype).mean().item()
        out = []
        for c in range(cache[layer].shape[1]):
            with hooks(model, [(layer, _zero_channel(c))]):
                out.append(clean - (model(X).argmax(-1) == y).to(X.dtype).mean().item())
    return torch.tensor(out, dtype=X.dtype)


def cap_calls_train(model, X, y, layer="relu2"):
    # model.train() copied from a training loop: dropout switches on, and the model stays in train mode
    model.train()
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = _fraction(logits, y, X.dtype)
        out = []
        for c in range(cache[layer].shape[1]):
            with hooks(model, [(layer, _zero_channel(c))]):
                out.append(clean - _fraction(model(X), y, X.dtype))
    return torch.stack(out)


def cap_eval_not_restored(model, X, y, layer="relu2"):
    # model.eval() "to be safe", and the caller's train mode is not restored
    model.eval()
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = _fraction(logits, y, X.dtype)
        out = []
        for c in range(cache[layer].shape[1]):
            with hooks(model, [(layer, _zero_channel(c))]):
                out.append(clean - _fraction(model(X), y, X.dtype))
    return torch.stack(out)


def cap_mean_ablation(model, X, y, layer="relu2"):
    # replaces the channel by its mean over the batch (mean ablation) instead of 0
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = _fraction(logits, y, X.dtype)
        mean = cache[layer].mean(dim=0)
        out = []
        for c in range(cache[layer].shape[1]):
            def replace(activation, name, c=c):
                ablated = activation.clone()
                ablated[:, c] = mean[c]
                return ablated
            with hooks(model, [(layer, replace)]):
                out.append(clean - _fraction(model(X), y, X.dtype))
    return torch.stack(out)


def cap_zeroes_weights(model, X, y, layer="relu2"):
    # silences the channel through the conv before it (relu(0) = 0), by zeroing its weights in place, for good
    conv = model.conv2 if layer == "relu2" else model.conv1
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = _fraction(logits, y, X.dtype)
        out = []
        for c in range(cache[layer].shape[1]):
            saved = conv.weight[c].clone(), conv.bias[c].clone()
            conv.weight[c] = 0.0
            conv.bias[c] = 0.0
            out.append(clean - _fraction(model(X), y, X.dtype))
            conv.weight[c] = saved[0]  # restores the weight, forgets the bias
    return torch.stack(out)


def cap_calls_ablate(model, X, y, layer="relu2"):
    # the course's ablate: the exercise asks for the hook itself
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
        clean = _fraction(logits, y, X.dtype)
        out = []
        for c in range(cache[layer].shape[1]):
            with ablate(model, layer, dim=1, index=c):
                out.append(clean - _fraction(model(X), y, X.dtype))
    return torch.stack(out)


# ---------------------------------------------------------------- 08.7 ablation_effect

def _accuracy(model, X, y):
    return (model(X).argmax(dim=-1) == y).double().mean().item()


def _zero_units(units):
    units = list(units)

    def zero(hidden, name):
        hidden = hidden.clone()
        hidden[:, units] = 0.0
        return hidden
    return zero


def ae_no_baseline(model, X, y, units):
    # the accuracy with the units ablated, not the accuracy lost
    with torch.no_grad(), hooks(model, [("hidden", _zero_units(units))]):
        return _accuracy(model, X, y)


def ae_sign_flipped(model, X, y, units):
    # ablated minus clean
    with torch.no_grad():
        clean = _accuracy(model, X, y)
        with hooks(model, [("hidden", _zero_units(units))]):
            return _accuracy(model, X, y) - clean


def ae_percent(model, X, y, units):
    # percentage points
    with torch.no_grad():
        clean = _accuracy(model, X, y)
        with hooks(model, [("hidden", _zero_units(units))]):
            return 100 * (clean - _accuracy(model, X, y))


def ae_first_unit_only(model, X, y, units):
    # units[0]: only the first unit listed is ablated
    with torch.no_grad():
        clean = _accuracy(model, X, y)
        with hooks(model, [("hidden", _zero_units(list(units)[:1]))]):
            return clean - _accuracy(model, X, y)


def ae_range_of_len(model, X, y, units):
    # range(len(units)): units 0 .. k-1 instead of the ones listed
    with torch.no_grad():
        clean = _accuracy(model, X, y)
        with hooks(model, [("hidden", _zero_units(range(len(units))))]):
            return clean - _accuracy(model, X, y)


def ae_zeroes_examples(model, X, y, units):
    # hidden[units] = 0: zeroes the examples (rows) numbered `units`, not the units
    units = list(units)

    def zero(hidden, name):
        hidden = hidden.clone()
        hidden[units] = 0.0
        return hidden
    with torch.no_grad():
        clean = _accuracy(model, X, y)
        with hooks(model, [("hidden", zero)]):
            return clean - _accuracy(model, X, y)


def ae_mean_ablation(model, X, y, units):
    # replaces the units by their batch mean instead of 0
    units = list(units)
    with torch.no_grad():
        _, cache = run_with_cache(model, X, ["hidden"])
        mean = cache["hidden"].mean(dim=0)

        def replace(hidden, name):
            hidden = hidden.clone()
            hidden[:, units] = mean[units]
            return hidden
        clean = _accuracy(model, X, y)
        with hooks(model, [("hidden", replace)]):
            return clean - _accuracy(model, X, y)


def ae_hook_returns_nothing(model, X, y, units):
    # edits a copy, returns nothing: nothing is replaced
    units = list(units)

    def zero(hidden, name):
        hidden = hidden.clone()
        hidden[:, units] = 0.0
    with torch.no_grad():
        clean = _accuracy(model, X, y)
        with hooks(model, [("hidden", zero)]):
            return clean - _accuracy(model, X, y)


def ae_hook_left_attached(model, X, y, units):
    # register_forward_hook on the hook point, never removed
    units = list(units)

    def zero(module, inputs, output):
        output = output.clone()
        output[:, units] = 0.0
        return output
    with torch.no_grad():
        clean = _accuracy(model, X, y)
        model.hidden.register_forward_hook(zero)
        return clean - _accuracy(model, X, y)


def ae_ablates_inputs_in_place(model, X, y, units):
    # zeroes the INPUT features `units`, in place: the wrong place, and the caller's X is changed
    with torch.no_grad():
        clean = _accuracy(model, X, y)
        X[:, list(units)] = 0.0
        return clean - _accuracy(model, X, y)


def ae_calls_train(model, X, y, units):
    # model.train() at the start (copied from a training loop): the caller's eval mode is lost
    model.train()
    with torch.no_grad():
        clean = _accuracy(model, X, y)
        with hooks(model, [("hidden", _zero_units(units))]):
            return clean - _accuracy(model, X, y)


def ae_per_example(model, X, y, units):
    # one drop per example instead of the accuracy drop
    with torch.no_grad():
        clean = (model(X).argmax(-1) == y).double()
        with hooks(model, [("hidden", _zero_units(units))]):
            return clean - (model(X).argmax(-1) == y).double()


def ae_calls_ablate(model, X, y, units):
    # the course's ablate
    with torch.no_grad():
        clean = _accuracy(model, X, y)
        with ablate(model, "hidden", dim=1, index=list(units)):
            return clean - _accuracy(model, X, y)


# ---------------------------------------------------------------- 08.8 which_feature_is_used

def wf_the_probe_says_b():
    # the feature the probe reads best
    return "b"


def wf_best_probe():
    # computes it: least-squares probes on the hidden layer, and returns the feature decoded best
    model, data = planted_model(), planted_features(2000, seed=4)
    with torch.no_grad():
        hidden = run_with_cache(model, data.X, ["hidden"])[1]["hidden"]
    H = torch.cat([hidden, torch.ones(len(hidden), 1)], dim=1)
    scores = {}
    for feature in ("a", "b"):
        target = 2.0 * getattr(data, feature).float() - 1.0
        w = torch.linalg.lstsq(H[:1000], target[:1000, None]).solution[:, 0]
        scores[feature] = ((H[1000:] @ w > 0).long() == getattr(data, feature)[1000:]).double().mean().item()
    return max(scores, key=scores.get)


def wf_smallest_effect():
    # ablates both, but keeps the feature whose ablation changes the LEAST ("the robust one")
    model, data = planted_model(), planted_features(1000, seed=5)

    def effect(units):
        units = list(units)

        def zero(hidden, name):
            hidden = hidden.clone()
            hidden[:, units] = 0.0
            return hidden
        with torch.no_grad():
            clean = (model(data.X).argmax(-1) == data.y).double().mean().item()
            with hooks(model, [("hidden", zero)]):
                return clean - (model(data.X).argmax(-1) == data.y).double().mean().item()
    lost = {"a": effect(UNITS_A), "b": effect(UNITS_B)}
    return min(lost, key=lost.get)


def wf_sentence():
    # a sentence instead of the letter
    return "feature a"


def wf_units():
    # the units instead of the feature
    return UNITS_A


def wf_list():
    # the letter in a list
    return ["a"]


def wf_both():
    # hedges
    return "a and b"


def wf_no_return():
    # forgets to return
    "a"


_MUTANTS_1 = {
    "08.2": [cap_no_baseline, cap_sign_flipped, cap_relative_drop, cap_percent, cap_hook_left_attached,
             cap_hook_returns_nothing, cap_baseline_inside_hook, cap_zeroes_an_image, cap_cumulative,
             cap_sixteen_channels, cap_ignores_layer, cap_float32_accuracy, cap_float32_then_cast,
             cap_item_into_tensor, cap_calls_train, cap_eval_not_restored, cap_mean_ablation, cap_zeroes_weights,
             cap_calls_ablate],
    "08.7": [ae_no_baseline, ae_sign_flipped, ae_percent, ae_first_unit_only, ae_range_of_len, ae_zeroes_examples,
             ae_mean_ablation, ae_hook_returns_nothing, ae_hook_left_attached, ae_ablates_inputs_in_place,
             ae_calls_train, ae_per_example, ae_calls_ablate],
    "08.8": [wf_the_probe_says_b, wf_best_probe, wf_smallest_effect, wf_sentence, wf_units, wf_list, wf_both,
             wf_no_return],
}


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


_MUTANTS_2 = {"08.6": [
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


MUTANTS = {**_MUTANTS_0, **_MUTANTS_1, **_MUTANTS_2}
