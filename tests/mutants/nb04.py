"""Plausible wrong answers to notebook 04 (looking inside a CNN); every one must fail its check."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mi_helpers.hooks import run_with_cache

# ---------------------------------------------------------------- 04.1 record_activations


def record_never_removing_hooks(model, x, layer_names):
    cache = {}
    for name in layer_names:
        def hook(module, inputs, output, name=name):
            cache[name] = output.detach()
        model.get_submodule(name).register_forward_hook(hook)
    model(x)
    return cache


def record_removing_hooks_only_on_success(model, x, layer_names):
    cache, handles = {}, []
    for name in layer_names:
        def hook(module, inputs, output, name=name):
            cache[name] = output.detach()
        handles.append(model.get_submodule(name).register_forward_hook(hook))
    model(x)  # if this raises, the hooks stay
    for handle in handles:
        handle.remove()
    return cache


def record_registering_hooks_before_the_try(model, x, layer_names):
    cache, handles = {}, []
    for name in layer_names:  # a bad name raises here, with the earlier hooks already on
        def hook(module, inputs, output, name=name):
            cache[name] = output.detach()
        handles.append(model.get_submodule(name).register_forward_hook(hook))
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return cache


def record_inputs_instead_of_outputs(model, x, layer_names):
    cache, handles = {}, []
    try:
        for name in layer_names:
            def hook(module, inputs, output, name=name):
                cache[name] = inputs[0].detach()
            handles.append(model.get_submodule(name).register_forward_hook(hook))
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return cache


def record_with_a_late_binding_closure(model, x, layer_names):
    cache, handles = {}, []
    try:
        for name in layer_names:  # every lambda reads `name` when it runs: the last one
            handles.append(model.get_submodule(name).register_forward_hook(
                lambda module, inputs, output: cache.__setitem__(name, output.detach())))
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return cache


def record_without_detaching(model, x, layer_names):
    cache, handles = {}, []
    try:
        for name in layer_names:
            def hook(module, inputs, output, name=name):
                cache[name] = output
            handles.append(model.get_submodule(name).register_forward_hook(hook))
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return cache


def record_looking_modules_up_with_getattr(model, x, layer_names):
    cache, handles = {}, []
    try:
        for name in layer_names:
            def hook(module, inputs, output, name=name):
                cache[name] = output.detach()
            handles.append(getattr(model, name).register_forward_hook(hook))
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return cache


def record_swallowing_errors(model, x, layer_names):
    cache, handles = {}, []
    try:
        for name in layer_names:
            def hook(module, inputs, output, name=name):
                cache[name] = output.detach()
            handles.append(model.get_submodule(name).register_forward_hook(hook))
        model(x)
    except Exception:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return cache


# ---------------------------------------------------------------- 04.2 top_k_examples


def top_k_lowest_first(activations, channel, k):
    peaks = activations[:, channel].flatten(1).max(dim=1).values
    return peaks.argsort()[:k]


def top_k_in_increasing_order(activations, channel, k):
    peaks = activations[:, channel].flatten(1).max(dim=1).values
    return peaks.argsort()[-k:]


def top_k_by_mean_activation(activations, channel, k):
    return activations[:, channel].mean(dim=(1, 2)).topk(k).indices


def top_k_indexing_the_wrong_axis(activations, channel, k):
    return activations[channel].amax(dim=(1, 2)).topk(k).indices


def top_k_over_every_channel(activations, channel, k):
    return activations.amax(dim=(1, 2, 3)).topk(k).indices


def top_k_off_by_one(activations, channel, k):
    peaks = activations[:, channel].flatten(1).max(dim=1).values
    return peaks.argsort(descending=True)[:k - 1]


def top_k_skipping_the_first(activations, channel, k):
    peaks = activations[:, channel].flatten(1).max(dim=1).values
    return peaks.argsort(descending=True)[1:k + 1]


# ---------------------------------------------------------------- 04.3 channel_iou


def _upsample(maps, size):
    return F.interpolate(maps[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0]


def _iou(on, masks):
    union = (on | masks).sum()
    return 0.0 if union == 0 else ((on & masks).sum() / union).item()


def iou_with_a_threshold_per_image(activation_maps, concept_masks, quantile):
    maps = _upsample(activation_maps, concept_masks.shape[-2:])
    thresholds = torch.quantile(maps.flatten(1), quantile, dim=1)
    return _iou(maps > thresholds[:, None, None], concept_masks.bool())


def iou_without_upsampling(activation_maps, concept_masks, quantile):
    maps = activation_maps.float()
    return _iou(maps > torch.quantile(maps.flatten(), quantile), concept_masks.bool())


def iou_with_nearest_upsampling(activation_maps, concept_masks, quantile):
    maps = F.interpolate(activation_maps[:, None].float(), size=concept_masks.shape[-2:], mode="nearest")[:, 0]
    return _iou(maps > torch.quantile(maps.flatten(), quantile), concept_masks.bool())


def iou_with_the_threshold_before_upsampling(activation_maps, concept_masks, quantile):
    threshold = torch.quantile(activation_maps.flatten().float(), quantile)
    return _iou(_upsample(activation_maps, concept_masks.shape[-2:]) > threshold, concept_masks.bool())


def iou_averaged_over_images(activation_maps, concept_masks, quantile):
    maps = _upsample(activation_maps, concept_masks.shape[-2:])
    on, masks = maps > torch.quantile(maps.flatten(), quantile), concept_masks.bool()
    scores = [_iou(on[i], masks[i]) for i in range(len(masks)) if (on[i] | masks[i]).any()]
    return sum(scores) / len(scores) if scores else 0.0


def iou_over_the_mask_area(activation_maps, concept_masks, quantile):
    maps = _upsample(activation_maps, concept_masks.shape[-2:])
    on, masks = maps > torch.quantile(maps.flatten(), quantile), concept_masks.bool()
    return 0.0 if masks.sum() == 0 else ((on & masks).sum() / masks.sum()).item()


def iou_dividing_by_an_empty_union(activation_maps, concept_masks, quantile):
    maps = _upsample(activation_maps, concept_masks.shape[-2:])
    on, masks = maps > torch.quantile(maps.flatten(), quantile), concept_masks.bool()
    return ((on & masks).sum() / (on | masks).sum()).item()


def iou_with_greater_or_equal(activation_maps, concept_masks, quantile):
    maps = _upsample(activation_maps, concept_masks.shape[-2:])
    return _iou(maps >= torch.quantile(maps.flatten(), quantile), concept_masks.bool())


# ---------------------------------------------------------------- 04.4 best_channel_for


def _right_iou(activation_maps, concept_masks, quantile):
    maps = _upsample(activation_maps, concept_masks.shape[-2:])
    return _iou(maps > torch.quantile(maps.flatten(), quantile), concept_masks.bool())


def _channel_scores(model, images, concept_mask, layer, quantile):
    """The layer's activations and every channel's IoU, computed right: the mistakes come after."""
    _, cache = run_with_cache(model, images, [layer])
    acts = cache[layer]
    return acts, torch.tensor([_right_iou(acts[:, c], concept_mask, quantile) for c in range(acts.shape[1])])


def best_channel_by_mean_activation_inside_the_concept(model, images, concept_mask, layer="relu1",
                                                        quantile=0.97):
    acts, _ = _channel_scores(model, images, concept_mask, layer, quantile)
    maps = _upsample(acts.flatten(0, 1), concept_mask.shape[-2:]).reshape(acts.shape[0], acts.shape[1], -1)
    inside = concept_mask.flatten(1)[:, None, :].float()
    return int(((maps * inside).sum(dim=(0, 2)) / inside.sum()).argmax())


def best_channel_by_peak_activation(model, images, concept_mask, layer="relu1", quantile=0.97):
    _, cache = run_with_cache(model, images, [layer])
    has_concept = concept_mask.flatten(1).any(dim=1)
    return int(cache[layer][has_concept].amax(dim=(0, 2, 3)).argmax())


def best_channel_by_lowest_iou(model, images, concept_mask, layer="relu1", quantile=0.97):
    _, scores = _channel_scores(model, images, concept_mask, layer, quantile)
    return int(scores.argmin())


def best_channel_returning_its_iou(model, images, concept_mask, layer="relu1", quantile=0.97):
    _, scores = _channel_scores(model, images, concept_mask, layer, quantile)
    return float(scores.max())


MUTANTS = {
    "04.1": [record_never_removing_hooks, record_removing_hooks_only_on_success,
             record_registering_hooks_before_the_try,
             record_inputs_instead_of_outputs, record_with_a_late_binding_closure, record_without_detaching,
             record_looking_modules_up_with_getattr, record_swallowing_errors],
    "04.2": [top_k_lowest_first, top_k_in_increasing_order, top_k_by_mean_activation,
             top_k_indexing_the_wrong_axis, top_k_over_every_channel, top_k_off_by_one,
             top_k_skipping_the_first],
    "04.3": [iou_with_a_threshold_per_image, iou_without_upsampling, iou_with_nearest_upsampling,
             iou_with_the_threshold_before_upsampling, iou_averaged_over_images, iou_over_the_mask_area,
             iou_dividing_by_an_empty_union, iou_with_greater_or_equal],
    "04.4": [best_channel_by_mean_activation_inside_the_concept, best_channel_by_peak_activation,
             best_channel_by_lowest_iou, best_channel_returning_its_iou],
}
