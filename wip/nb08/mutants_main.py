"""Plausible wrong answers to notebook 08's ablation and patching exercises; every one must fail its check."""
from __future__ import annotations

import torch

from mi_helpers.hooks import hooks, run_with_cache
from mi_helpers.interventions import ablate_heads, induction_loss


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


MUTANTS = {
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
