"""Plausible wrong answers to exercises 08.2, 08.7 and 08.8 of notebook 08; every one must fail its check.

Each is self-contained (imports at the top of this file only), so that it runs in the tests' process and,
pasted as one cell, in the graders' sandboxed kernel.
"""
from __future__ import annotations

import torch

from mi_helpers.hooks import hooks, run_with_cache
from mi_helpers.interventions import ablate  # for the mutants that call the forbidden course function
from mi_helpers.planted import UNITS_A, UNITS_B, planted_features, planted_model


# ---------------------------------------------------------------- 08.2 channel_ablation_accuracy

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


MUTANTS = {
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
