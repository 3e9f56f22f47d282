"""Blind mutants for notebook 04 (inside a CNN): plausible wrong answers written from the learner's
notebook only. Each mutant carries a one-line comment saying what is wrong. Mutants of 04.4 carry their
own (correct unless stated) copies of record_activations and channel_iou, as a learner's would.

Exercises: 04.1 record_activations, 04.2 top_k_examples, 04.3 channel_iou, 04.4 best_channel_for.
"""
import torch
import torch.nn.functional as F

from mi_helpers.hooks import run_with_cache


def _record(model, x, layer_names):
    cache, handles = {}, []

    def make_hook(name):
        def hook(module, inputs, output):
            cache[name] = output.detach()
        return hook

    try:
        for name in layer_names:
            handles.append(model.get_submodule(name).register_forward_hook(make_hook(name)))
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return cache


def _iou(activation_maps, concept_masks, quantile):
    up = F.interpolate(activation_maps[:, None], size=tuple(concept_masks.shape[-2:]), mode="bilinear",
                       align_corners=False)[:, 0]
    threshold = torch.quantile(up.flatten(), quantile)
    on = up > threshold
    union = (on | concept_masks).sum().item()
    return (on & concept_masks).sum().item() / union if union > 0 else 0.0


# ----------------------------------------------------------------------------- 04.1 record_activations


def record_activations_builtin(model, x, layer_names):
    # WRONG (builtin): mi_helpers.hooks.run_with_cache, which the exercise forbids.
    _, cache = run_with_cache(model, x, layer_names)
    return dict(cache)


def record_activations_float32(model, x, layer_names):
    # WRONG (dtype): stores output.detach().float(): a float64 model's activations come back float32.
    cache, handles = {}, []

    def make_hook(name):
        def hook(module, inputs, output):
            cache[name] = output.detach().float()
        return hook

    try:
        for name in layer_names:
            handles.append(model.get_submodule(name).register_forward_hook(make_hook(name)))
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return cache


def record_activations_getattr(model, x, layer_names):
    # WRONG (edge): finds modules with getattr(model, name), which fails for nested names such as "cnn.relu1"
    # (the hooks registered before the failure are still removed).
    cache, handles = {}, []

    def make_hook(name):
        def hook(module, inputs, output):
            cache[name] = output.detach()
        return hook

    try:
        for name in layer_names:
            handles.append(getattr(model, name).register_forward_hook(make_hook(name)))
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return cache


def record_activations_no_finally(model, x, layer_names):
    # WRONG: removes the hooks after the forward pass without try/finally: a bad name or a failing forward
    # leaves hooks attached.
    cache, handles = {}, []

    def make_hook(name):
        def hook(module, inputs, output):
            cache[name] = output.detach()
        return hook

    for name in layer_names:
        handles.append(model.get_submodule(name).register_forward_hook(make_hook(name)))
    model(x)
    for handle in handles:
        handle.remove()
    return cache


def record_activations_lambda(model, x, layer_names):
    # WRONG: a lambda in the loop reads `name` when it runs: every output is stored under the last name.
    cache, handles = {}, []
    try:
        for name in layer_names:
            handles.append(model.get_submodule(name).register_forward_hook(
                lambda module, inputs, output: cache.__setitem__(name, output.detach())))
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return cache


def record_activations_not_detached(model, x, layer_names):
    # WRONG: stores the outputs without .detach(): they keep the forward pass's autograd graph alive.
    cache, handles = {}, []

    def make_hook(name):
        def hook(module, inputs, output):
            cache[name] = output
        return hook

    try:
        for name in layer_names:
            handles.append(model.get_submodule(name).register_forward_hook(make_hook(name)))
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return cache


def record_activations_swallows_error(model, x, layer_names):
    # WRONG: try/except/finally that prints and swallows the error: hooks removed, but the caller never
    # sees the exception (returns a partial dict).
    cache, handles = {}, []

    def make_hook(name):
        def hook(module, inputs, output):
            cache[name] = output.detach()
        return hook

    try:
        for name in layer_names:
            handles.append(model.get_submodule(name).register_forward_hook(make_hook(name)))
        model(x)
    except Exception as error:  # noqa: BLE001
        print("record_activations:", error)
    finally:
        for handle in handles:
            handle.remove()
    return cache


def record_activations_inputs(model, x, layer_names):
    # WRONG: records the module's INPUT (inputs[0]) instead of its output.
    cache, handles = {}, []

    def make_hook(name):
        def hook(module, inputs, output):
            cache[name] = inputs[0].detach()
        return hook

    try:
        for name in layer_names:
            handles.append(model.get_submodule(name).register_forward_hook(make_hook(name)))
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return cache


# ----------------------------------------------------------------------------- 04.2 top_k_examples


def top_k_examples_shift_inplace(activations, channel, k):
    # WRONG: shifts the channel to be non-negative IN PLACE (a -= a.min()): same ranking, input changed.
    a = activations[:, channel]
    a -= a.min()
    return torch.topk(a.amax(dim=(1, 2)), k).indices


def top_k_examples_int32(activations, channel, k):
    # WRONG (dtype): returns int32 indices instead of int64.
    return torch.topk(activations[:, channel].amax(dim=(1, 2)), k).indices.to(torch.int32)


def top_k_examples_squeeze(activations, channel, k):
    # WRONG (edge): a stray .squeeze(): k == 1 gives a 0-d tensor instead of shape [1].
    return torch.topk(activations[:, channel].amax(dim=(1, 2)), k).indices.squeeze()


def top_k_examples_mean(activations, channel, k):
    # WRONG: ranks by the MEAN over positions instead of the peak.
    return torch.topk(activations[:, channel].mean(dim=(1, 2)), k).indices


def top_k_examples_ascending(activations, channel, k):
    # WRONG: argsort()[-k:]: the right k images, but ordered lowest first.
    return activations[:, channel].amax(dim=(1, 2)).argsort()[-k:]


def top_k_examples_sum(activations, channel, k):
    # WRONG: ranks by the SUM of the map (total activation), not its maximum.
    return torch.topk(activations[:, channel].flatten(1).sum(dim=1), k).indices


def top_k_examples_height_only(activations, channel, k):
    # WRONG: max over the height only, then the first column's value: ignores the other columns.
    return torch.topk(activations[:, channel].max(dim=1).values[:, 0], k).indices


# ----------------------------------------------------------------------------- 04.3 channel_iou


def channel_iou_union_inplace(activation_maps, concept_masks, quantile):
    # WRONG: computes the union with concept_masks.logical_or_(on), overwriting the caller's masks.
    up = F.interpolate(activation_maps[:, None], size=tuple(concept_masks.shape[-2:]), mode="bilinear",
                       align_corners=False)[:, 0]
    on = up > torch.quantile(up.flatten(), quantile)
    inter = (on & concept_masks).sum().item()
    union = concept_masks.logical_or_(on).sum().item()
    return inter / union if union > 0 else 0.0


def channel_iou_float32(activation_maps, concept_masks, quantile):
    # WRONG (dtype): .float() on the maps before upsampling: float64 maps are thresholded in float32.
    up = F.interpolate(activation_maps.float()[:, None], size=tuple(concept_masks.shape[-2:]), mode="bilinear",
                       align_corners=False)[:, 0]
    on = up > torch.quantile(up.flatten(), quantile)
    union = (on | concept_masks).sum().item()
    return (on & concept_masks).sum().item() / union if union > 0 else 0.0


def channel_iou_greater_equal(activation_maps, concept_masks, quantile):
    # WRONG (edge): >= instead of >: a dead channel (all 0, threshold 0) switches every pixel on.
    up = F.interpolate(activation_maps[:, None], size=tuple(concept_masks.shape[-2:]), mode="bilinear",
                       align_corners=False)[:, 0]
    on = up >= torch.quantile(up.flatten(), quantile)
    union = (on | concept_masks).sum().item()
    return (on & concept_masks).sum().item() / union if union > 0 else 0.0


def channel_iou_no_guard(activation_maps, concept_masks, quantile):
    # WRONG (edge): no guard for an empty union: NaN (0/0) when nothing is on and the mask is empty.
    up = F.interpolate(activation_maps[:, None], size=tuple(concept_masks.shape[-2:]), mode="bilinear",
                       align_corners=False)[:, 0]
    on = up > torch.quantile(up.flatten(), quantile)
    inter = (on & concept_masks).sum().float()
    union = (on | concept_masks).sum().float()
    return (inter / union).item()


def channel_iou_per_image(activation_maps, concept_masks, quantile):
    # WRONG: one threshold per image (quantile over each image's pixels), not one for the whole data set.
    up = F.interpolate(activation_maps[:, None], size=tuple(concept_masks.shape[-2:]), mode="bilinear",
                       align_corners=False)[:, 0]
    thresholds = torch.quantile(up.flatten(1), quantile, dim=1)
    on = up > thresholds[:, None, None]
    union = (on | concept_masks).sum().item()
    return (on & concept_masks).sum().item() / union if union > 0 else 0.0


def channel_iou_threshold_before_upsampling(activation_maps, concept_masks, quantile):
    # WRONG: takes the quantile of the low-resolution maps, before upsampling.
    threshold = torch.quantile(activation_maps.flatten(), quantile)
    up = F.interpolate(activation_maps[:, None], size=tuple(concept_masks.shape[-2:]), mode="bilinear",
                       align_corners=False)[:, 0]
    on = up > threshold
    union = (on | concept_masks).sum().item()
    return (on & concept_masks).sum().item() / union if union > 0 else 0.0


def channel_iou_nearest(activation_maps, concept_masks, quantile):
    # WRONG: upsamples with mode="nearest" instead of bilinear.
    up = F.interpolate(activation_maps[:, None], size=tuple(concept_masks.shape[-2:]), mode="nearest")[:, 0]
    on = up > torch.quantile(up.flatten(), quantile)
    union = (on | concept_masks).sum().item()
    return (on & concept_masks).sum().item() / union if union > 0 else 0.0


def channel_iou_align_corners(activation_maps, concept_masks, quantile):
    # WRONG: bilinear with align_corners=True instead of False.
    up = F.interpolate(activation_maps[:, None], size=tuple(concept_masks.shape[-2:]), mode="bilinear",
                       align_corners=True)[:, 0]
    on = up > torch.quantile(up.flatten(), quantile)
    union = (on | concept_masks).sum().item()
    return (on & concept_masks).sum().item() / union if union > 0 else 0.0


# ----------------------------------------------------------------------------- 04.4 best_channel_for


def best_channel_for_builtin(model, images, concept_mask, layer="relu1", quantile=0.97):
    # WRONG (builtin): records with mi_helpers.hooks.run_with_cache instead of the learner's record_activations.
    with torch.no_grad():
        _, cache = run_with_cache(model, images, [layer])
    acts = cache[layer]
    scores = [_iou(acts[:, c], concept_mask, quantile) for c in range(acts.shape[1])]
    return int(torch.tensor(scores).argmax())


def best_channel_for_mask_inplace(model, images, concept_mask, layer="relu1", quantile=0.97):
    # WRONG: its channel_iou ORs the on-region into the caller's mask in place, so every later channel is
    # scored against a growing, corrupted mask (and the caller's mask is changed).
    acts = _record(model, images, [layer])[layer]
    scores = []
    for c in range(acts.shape[1]):
        scores.append(channel_iou_union_inplace(acts[:, c], concept_mask, quantile))
    return int(torch.tensor(scores).argmax())


def best_channel_for_nan_scores(model, images, concept_mask, layer="relu1", quantile=0.97):
    # WRONG (edge): unguarded IoU (NaN for an empty union), and argmax picks a NaN as the best score.
    acts = _record(model, images, [layer])[layer]
    scores = [channel_iou_no_guard(acts[:, c], concept_mask, quantile) for c in range(acts.shape[1])]
    return int(torch.tensor(scores).argmax())


def best_channel_for_loudest_inside(model, images, concept_mask, layer="relu1", quantile=0.97):
    # WRONG: picks the channel with the highest mean activation inside the concept, not the highest IoU.
    acts = _record(model, images, [layer])[layer]
    up = F.interpolate(acts, size=tuple(concept_mask.shape[-2:]), mode="bilinear", align_corners=False)
    inside = (up * concept_mask[:, None]).sum(dim=(0, 2, 3)) / concept_mask.sum().clamp(min=1)
    return int(inside.argmax())


def best_channel_for_fixed_quantile(model, images, concept_mask, layer="relu1", quantile=0.97):
    # WRONG: ignores the quantile argument and always uses 0.97.
    acts = _record(model, images, [layer])[layer]
    scores = [_iou(acts[:, c], concept_mask, 0.97) for c in range(acts.shape[1])]
    return int(torch.tensor(scores).argmax())


def best_channel_for_fixed_layer(model, images, concept_mask, layer="relu1", quantile=0.97):
    # WRONG: ignores the layer argument and always records "relu1".
    acts = _record(model, images, ["relu1"])["relu1"]
    scores = [_iou(acts[:, c], concept_mask, quantile) for c in range(acts.shape[1])]
    return int(torch.tensor(scores).argmax())


def best_channel_for_leaky_hooks(model, images, concept_mask, layer="relu1", quantile=0.97):
    # WRONG: registers its hook without try/finally: a bad layer name or failing forward leaves it attached.
    store = {}
    handle = model.get_submodule(layer).register_forward_hook(
        lambda module, inputs, output: store.__setitem__("a", output.detach()))
    model(images)
    handle.remove()
    acts = store["a"]
    scores = [_iou(acts[:, c], concept_mask, quantile) for c in range(acts.shape[1])]
    return int(torch.tensor(scores).argmax())


def best_channel_for_per_image_threshold(model, images, concept_mask, layer="relu1", quantile=0.97):
    # WRONG: scores channels with a per-image threshold, which switches on the top pixels of every image.
    acts = _record(model, images, [layer])[layer]
    scores = [channel_iou_per_image(acts[:, c], concept_mask, quantile) for c in range(acts.shape[1])]
    return int(torch.tensor(scores).argmax())


MUTANTS = {
    "04.1": [
        (record_activations_builtin, "builtin"),
        (record_activations_float32, "dtype"),
        (record_activations_getattr, "edge"),
        (record_activations_no_finally, "subtle"),
        (record_activations_lambda, "subtle"),
        (record_activations_not_detached, "subtle"),
        (record_activations_swallows_error, "subtle"),
        (record_activations_inputs, "subtle"),
    ],
    "04.2": [
        (top_k_examples_shift_inplace, "inplace"),
        (top_k_examples_int32, "dtype"),
        (top_k_examples_squeeze, "edge"),
        (top_k_examples_mean, "subtle"),
        (top_k_examples_ascending, "subtle"),
        (top_k_examples_sum, "subtle"),
        (top_k_examples_height_only, "subtle"),
    ],
    "04.3": [
        (channel_iou_union_inplace, "inplace"),
        (channel_iou_float32, "dtype"),
        (channel_iou_greater_equal, "edge"),
        (channel_iou_no_guard, "edge"),
        (channel_iou_per_image, "subtle"),
        (channel_iou_threshold_before_upsampling, "subtle"),
        (channel_iou_nearest, "subtle"),
        (channel_iou_align_corners, "subtle"),
    ],
    "04.4": [
        (best_channel_for_builtin, "builtin"),
        (best_channel_for_mask_inplace, "inplace"),
        (best_channel_for_nan_scores, "edge"),
        (best_channel_for_loudest_inside, "subtle"),
        (best_channel_for_fixed_quantile, "subtle"),
        (best_channel_for_fixed_layer, "subtle"),
        (best_channel_for_leaky_hooks, "subtle"),
        (best_channel_for_per_image_threshold, "subtle"),
    ],
}
