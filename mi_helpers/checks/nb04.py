"""Checks for notebook 04, looking inside a CNN: hooks, top-k examples and network dissection.

No check needs a trained network. The recorder is compared with
:func:`mi_helpers.hooks.run_with_cache` on a SmallCNN with seeded random weights;
top-k examples and IoU are tried on activation tensors planted by hand, whose
answers are known by construction; and the dissection must find detector
channels whose weights the check sets itself, so the course knows which channel
detects "red" before the learner's code looks.
"""
from __future__ import annotations

import numbers
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from ..data import COLOURS, shapes
from ..hooks import count_hooks, run_with_cache
from ..models import SmallCNN
from .core import (EdgeCase, call, close_to, describe, exercise, expect, expect_close, expect_tensor, fail,
                   generator, show, single_number)


def seeded_cnn(seed: int, **kwargs) -> SmallCNN:
    """A SmallCNN whose random weights come from ``seed``; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN(**kwargs)
    return model.eval()




IOU_NUMBER_HINT = ("one IoU for the whole data set: count the pixels over all images together, divide once, "
                   "and return a Python float (.item() turns a 0-d tensor into one)")


# ---------------------------------------------------------------- 04.1

def _expect_cache(out, names: list[str], tried: str) -> dict:
    expect(isinstance(out, dict), "the result should be a dict from layer name to tensor.", tried=tried,
           expected="a dict such as {'conv1': tensor, ...}", received=describe(out),
           hint="create cache = {} before the forward pass, let each hook write cache[name] = ..., "
                "and return cache")
    missing = [n for n in names if n not in out]
    extra = [k for k in out if k not in names]
    if missing or extra:
        hint = "one hook per name, each writing to its own entry of the dict"
        if len(out) == 1 and missing:
            hint = ("only one entry came back. If you define the hook inside a loop, Python looks up "
                    "`name` when the hook RUNS, after the loop has ended, so every hook writes to the "
                    "last name. Bind it when the hook is made: a factory function make_hook(name), or "
                    "a default argument lambda module, inputs, output, name=name: ...")
        fail("the dict does not have one entry per requested layer.", tried=tried,
             expected=f"keys {names}", received=f"keys {list(out)}", hint=hint)
    return out


def _cnn_example(g, dtype, device="cpu"):
    model = seeded_cnn(4009).to(dtype).to(device)
    return model, torch.randn(3, 1, 8, 8, generator=g, dtype=dtype).to(device), ["conv1", "relu2", "fc"]


def _maps_example(g, dtype, device="cpu"):
    maps = torch.randn(4, 3, 3, generator=g, dtype=dtype).to(device)
    masks = (torch.rand(4, 6, 6, generator=g) < 0.3).to(device)
    return maps, masks, 0.5


@exercise("04.1", "record_activations", points=3, difficulty=2, minutes=20,
          example=_cnn_example,
          forbidden=("mi_helpers.hooks.run_with_cache", "mi_helpers.hooks.record",
                     "torchvision.models.feature_extraction.create_feature_extractor"),
          opt_out={"edge cases": "the check tries a nested name, a wrong name and a forward pass that raises"})
def check_record_activations(record_activations):
    g = generator("04.1")
    model = seeded_cnn(4001)
    names = ["conv1", "relu2", "fc"]
    x = torch.randn(5, 1, 8, 8, generator=g)
    tried = f"a SmallCNN with random weights, x of shape (5, 1, 8, 8), layer_names = {names}"
    out = _expect_cache(call(record_activations, model, x, names, tried=tried), names, tried)
    left = count_hooks(model)
    expect(left == 0, f"{left} hooks are still attached to the model after your function returned.",
           tried=tried, expected="count_hooks(model) == 0", received=f"count_hooks(model) == {left}",
           hint="register_forward_hook returns a handle: keep every handle and call handle.remove() "
                "on each before returning. A forgotten hook fires on every later forward pass")

    _, reference = run_with_cache(model, x, names)
    _, around = run_with_cache(model, x, ["conv2", "flatten"])
    inputs = {"conv1": x, "relu2": around["conv2"], "fc": around["flatten"]}
    for name in names:
        value = out[name]
        hint = ""
        if isinstance(value, torch.Tensor) and value.shape == inputs[name].shape and torch.allclose(
                value.detach(), inputs[name], atol=1e-5):
            hint = ("this is what goes INTO the layer. A forward hook is called as hook(module, inputs, "
                    "output): record `output`, not `inputs` (a tuple of the positional inputs)")
        elif isinstance(value, (tuple, list)):
            hint = "`inputs` is a tuple; the hook's third argument, `output`, is the tensor to keep"
        expect_close(value, reference[name], tried=tried, name=f"the activation of {name!r}",
                     problem=f"the activation recorded for {name!r} differs from "
                             "mi_helpers.hooks.run_with_cache (a manual forward pass).",
                     hint=hint or f"record the OUTPUT of model.get_submodule({name!r}) during model(x)")
    attached = [name for name in names if out[name].requires_grad]
    expect(not attached, "the recorded tensors are still attached to the autograd graph.", tried=tried,
           expected="requires_grad=False for every recorded tensor",
           received=f"requires_grad=True for {attached}",
           hint="store output.detach() (or run the forward pass under torch.no_grad()): a cache that "
                "holds the graph keeps every intermediate tensor of the forward pass alive")

    # names of nested modules, as model.named_modules() spells them
    nested = nn.Sequential(OrderedDict(cnn=seeded_cnn(4002), softmax=nn.Softmax(dim=-1))).eval()
    names = ["cnn.relu1", "softmax"]
    tried = f"nn.Sequential(cnn=SmallCNN, softmax=Softmax), x of shape (5, 1, 8, 8), layer_names = {names}"
    out = _expect_cache(call(record_activations, nested, x, names, tried=tried,
                              hint_if_raised="look each layer up with model.get_submodule(name): it "
                                             "follows dotted names such as 'cnn.relu1' into submodules, "
                                             "which getattr(model, name) and model._modules do not"),
                        names, tried)
    _, reference = run_with_cache(nested, x, names)
    for name in names:
        expect_close(out[name], reference[name], tried=tried, name=f"the activation of {name!r}",
                     problem=f"the activation recorded for {name!r} differs from run_with_cache.")
    left = count_hooks(nested)
    expect(left == 0, f"{left} hooks are still attached after your function returned.", tried=tried,
           expected="count_hooks(model) == 0", received=f"count_hooks(model) == {left}")

    # a forward pass that raises: 12 × 12 images reach fc with 144 features instead of 64
    model = seeded_cnn(4003)
    names = ["conv1", "relu2", "fc"]
    bad = torch.randn(2, 1, 12, 12, generator=g)
    _expect_clean_failure(record_activations, (model, bad, names), model, what="the model's forward pass",
                          tried=f"a SmallCNN built for 8 × 8 images, x of shape (2, 1, 12, 12), layer_names = "
                                f"{names}: conv1 and relu2 run, then fc raises a RuntimeError (144 features "
                                "instead of 64)")

    # a name that does not exist, after two that do
    names = ["conv1", "relu2", "conv9"]
    _expect_clean_failure(record_activations, (model, x, names), model, what="looking up 'conv9'",
                          tried=f"x of shape (5, 1, 8, 8), layer_names = {names}: the model has no 'conv9', "
                                "so finding it raises an AttributeError after two hooks are on")


def _expect_clean_failure(fn, args: tuple, model, *, what: str, tried: str) -> None:
    """The learner's ``fn(*args)`` must pass the error on and leave no hook on the model."""
    raised = None
    try:
        fn(*args)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # expected: the model's own error, passed on
        raised = exc
    left = count_hooks(model)
    expect(left == 0, f"after {what} raised an error, {left} hooks are still attached to the model.",
           tried=tried, expected="count_hooks(model) == 0 whatever goes wrong",
           received=f"count_hooks(model) == {left}",
           hint="put everything that can fail, registering the hooks AND the forward pass, inside "
                "try: ..., and remove every handle registered so far in the finally: block, which runs "
                "whether the code returns or raises")
    expect(raised is not None, f"your function returned normally although {what} raised an error.",
           tried=tried, expected="the error, passed on to the caller", received="no error",
           hint="clean up with try/finally and let the error through: an `except` that swallows it "
                "hands back a half-filled cache as if all were well")


# ---------------------------------------------------------------- 04.2

def _expect_indices(out, k: int, n: int, tried: str) -> torch.Tensor:
    expect_tensor(out, tried=tried, hint="return the image indices as a tensor: torch.topk(...).indices")
    expect(out.dtype == torch.int64, "the indices should be an int64 tensor.", tried=tried,
           expected="int64", received=str(out.dtype).replace("torch.", ""),
           hint="you may have returned the activation values; torch.topk gives .values and .indices")
    expect_tensor(out, shape=(k,), tried=tried,
                  hint="one index per example, k in all: reduce each image's map to one number first "
                       "(shape [n]), then take the top k of those n numbers")
    expect(bool(((out >= 0) & (out < n)).all()), "some indices are not image indices.", tried=tried,
           expected=f"integers in [0, {n})", received=show(out),
           hint="the indices should point into the first dimension of activations (the images)")
    expect(len(set(out.tolist())) == k, "the same image appears twice.", tried=tried,
           expected=f"{k} different images", received=show(out))
    return out


def _top_k_hint(out: torch.Tensor, expected: torch.Tensor, by_mean: torch.Tensor, lowest: torch.Tensor,
                other_channel: torch.Tensor) -> str:
    if sorted(out.tolist()) == sorted(expected.tolist()):
        return "the right images in the wrong order: the first index is the image with the highest peak"
    if torch.equal(out, by_mean):
        return ("these are the images with the highest MEAN activation. Rank by the peak: the maximum "
                "over the spatial positions (h and w) of each image's map")
    if torch.equal(out, lowest) or torch.equal(out, lowest.flip(0)):
        return "these are the images with the LOWEST peaks: sort in decreasing order (torch.topk does)"
    if torch.equal(out, other_channel):
        return ("these images peak in ANOTHER channel: select the channel first (activations[:, channel], "
                "dimension 1), then reduce over h and w only")
    return ("select the channel (activations[:, channel] has shape [n, h, w]), take each image's maximum "
            "over h and w (shape [n]), then the indices of the k largest, largest first")


@exercise("04.2", "top_k_examples", points=2, difficulty=1, minutes=10,
          example=lambda g, dtype, device="cpu": (torch.randn(6, 3, 4, 4, generator=g, dtype=dtype).to(device), 1, 2),
          edge_cases=(
              EdgeCase("k = n = 1: one image, one channel", lambda: (torch.full((1, 1, 2, 2), -3.0), 0, 1),
                       close_to(lambda a, c, k: torch.tensor([0]))),
          ),
          opt_out={"written by hand": "torch.topk is the intended tool"})
def check_top_k_examples(top_k_examples):
    # channel 1 of 4 images: peaks 0.5, 3, 1, 2; means 0.5, 0.75, 1, 0.5. Channel 0 is loud elsewhere.
    acts = torch.zeros(4, 2, 2, 2)
    acts[0, 1] = 0.5
    acts[1, 1, 0, 1] = 3.0
    acts[2, 1] = 1.0
    acts[3, 1, 1, 0] = 2.0
    acts[[0, 2], 0] = 10.0
    tried = ("activations of shape (4, 2, 2, 2) (4 images, 2 channels, 2 × 2 maps), channel = 1, k = 2; "
             "the 4 maps of channel 1 peak at 0.5, 3, 1 and 2")
    out = _expect_indices(call(top_k_examples, acts.clone(), 1, 2, tried=tried), 2, 4, tried)
    expected = torch.tensor([1, 3])
    expect(torch.equal(out, expected), "the top 2 images are wrong.", tried=tried,
           expected=show(expected), received=show(out),
           hint=_top_k_hint(out, expected, by_mean=torch.tensor([2, 1]), lowest=torch.tensor([0, 2]),
                            other_channel=torch.tensor([0, 2])))

    # planted: six images carry one spike each (10, 9, ... 5) on a silent map, in a random order;
    # six others are a flat 3-point-something (higher mean, lower peak), and loud in channel 1
    g = generator("04.2")
    n, c, h, w, channel = 12, 5, 4, 4, 3
    acts = 0.5 * torch.rand(n, c, h, w, generator=g)
    order = torch.randperm(n, generator=g)
    spiky, flat = order[:6], order[6:]
    acts[spiky, channel] = 0.0
    spots = torch.randint(h * w, (6,), generator=g)
    acts[spiky, channel, spots // w, spots % w] = torch.arange(10.0, 4.0, -1.0)
    acts[flat, channel] = 3.0 + 0.1 * torch.arange(6.0)[:, None, None]
    loud_order = torch.tensor([2.0, 5.0, 0.0, 3.0, 1.0, 4.0])
    acts[flat, 1] = 20.0 + loud_order[:, None, None]  # channel 1 ranks the flat images another way
    lowest = acts[:, channel].flatten(1).amax(1).argsort()
    for k in (4, 1, 6):
        tried = (f"activations of shape ({n}, {c}, {h}, {w}), channel = {channel}, k = {k}: six images "
                 "have a single spike in that channel, six others a flat, higher mean but lower peak")
        before = acts.clone()
        out = _expect_indices(call(top_k_examples, acts, channel, k, tried=tried), k, n, tried)
        expect(torch.equal(acts, before), "your function changed the activations it was given.",
               tried=tried, hint="sort or select into new tensors; do not write into activations")
        expected = spiky[:k]
        expect(torch.equal(out, expected), f"the top {k} images are wrong.", tried=tried,
               expected=show(expected), received=show(out),
               hint=_top_k_hint(out, expected, by_mean=flat.flip(0)[:k], lowest=lowest[:k],
                                other_channel=flat[loud_order.argsort(descending=True)][:k]))


# ---------------------------------------------------------------- 04.3

def _rectangles(boxes, n_rows: int, n_cols: int) -> torch.Tensor:
    """Boolean masks [len(boxes), n_rows, n_cols], one rectangle (top, left, height, width) each."""
    masks = torch.zeros(len(boxes), n_rows, n_cols, dtype=torch.bool)
    for i, (top, left, height, width) in enumerate(boxes):
        masks[i, top:top + height, left:left + width] = True
    return masks


def _gap_quantile(n_values: int, n_on: int) -> float:
    """The quantile whose threshold falls halfway between the n_on largest values and the rest."""
    return (n_values - n_on - 0.5) / (n_values - 1)


def _iou_value(fn, maps, masks, quantile, tried: str, hint_if_raised: str = "") -> float:
    out = call(fn, maps.clone(), masks.clone(), quantile, tried=tried, hint_if_raised=hint_if_raised)
    value = single_number(out, tried=tried, expected="a float in [0, 1]", hint=IOU_NUMBER_HINT)
    expect(value == value, "the IoU is NaN.", tried=tried, expected="a number in [0, 1]", received="nan",
           hint="NaN is 0 / 0: when the union is empty (nothing is on and the mask is empty) return 0.0")
    expect(0.0 <= value <= 1.0 + 1e-6, "an IoU lies between 0 and 1.", tried=tried,
           expected="a number in [0, 1]", received=f"{value:.6g}",
           hint="intersection and union are counts of pixels, and the intersection is part of the union")
    return value


@exercise("04.3", "channel_iou", points=3, difficulty=3, minutes=25,
          example=_maps_example,
          edge_cases=(
              EdgeCase("constant maps and empty masks: nothing is on and the union is empty",
                       lambda: (torch.ones(2, 3, 3), torch.zeros(2, 6, 6, dtype=torch.bool), 0.5),
                       close_to(lambda a, m, q: 0.0)),
          ),
          opt_out={"float64": "it returns a ratio of two pixel counts, which float32 holds to 1e-7",
                   "written by hand": "no built-in computes network dissection's score"})
def check_channel_iou(channel_iou):
    # rectangles of very different sizes, one image with an empty mask; the map IS the mask
    boxes = [(1, 1, 6, 6), (2, 3, 2, 2), (0, 0, 0, 0), (4, 1, 3, 4), (6, 6, 1, 1), (2, 2, 4, 4)]
    masks = _rectangles(boxes, 8, 8)
    q = _gap_quantile(masks.numel(), int(masks.sum()))
    tried = (f"6 masks of 8 × 8 (rectangles of 36, 4, 0, 12, 1 and 16 pixels), activation maps equal to "
             f"the masks (1.0 inside, 0.0 outside), quantile = {q:.4f} (the top {1 - q:.1%} of all pixels)")
    value = _iou_value(channel_iou, masks.float(), masks, q, tried)
    expect(abs(value - 1.0) < 1e-6, "a channel that equals the mask exactly must score IoU 1.", tried=tried,
           expected="1.0", received=f"{value:.6g}",
           hint="take ONE threshold for the whole data set: torch.quantile over every pixel of every "
                "image. A threshold per image marks the top pixels of every image, even where the "
                "concept is absent or large")

    # the same rectangles, each map shifted one pixel to the right
    boxes = [(1, 1, 6, 4), (2, 3, 2, 3), (0, 0, 0, 0), (4, 1, 3, 5)]
    masks = _rectangles(boxes, 8, 8)
    maps = _rectangles([(t, l + 1, hh, ww) for t, l, hh, ww in boxes], 8, 8).float()
    q = _gap_quantile(masks.numel(), int(masks.sum()))
    inter = sum(hh * (ww - 1) for _, _, hh, ww in boxes)
    union = sum(hh * (ww + 1) for _, _, hh, ww in boxes)
    area = sum(hh * ww for _, _, hh, ww in boxes)
    tried = (f"4 masks of 8 × 8 (rectangles), the maps the same rectangles shifted one pixel right, "
             f"quantile = {q:.4f}: {inter} pixels in both, {union} in either, {area} in the masks")
    value = _iou_value(channel_iou, maps, masks, q, tried)
    hint = "IoU = |on ∩ mask| / |on ∪ mask|, with both counts summed over the whole data set"
    per_image = [(ww - 1) / (ww + 1) for _, _, hh, ww in boxes if hh * ww > 0]
    if any(abs(value - sum(per_image) / k) < 1e-4 for k in (len(per_image), len(boxes))):
        hint = ("this is the mean of one IoU per image. Dissection counts pixels over the whole data set: "
                "sum the intersections of all images, sum the unions, then divide once")
    elif abs(value - inter / area) < 1e-4:
        hint = (f"{inter}/{area} is the intersection over the MASK's area (recall): a channel that is on "
                "everywhere would score 1. Divide by the union")
    expect(abs(value - inter / union) < 1e-4, "the IoU of a shifted map is wrong.", tried=tried,
           expected=f"{inter}/{union} = {inter / union:.6g}", received=f"{value:.6g}", hint=hint)

    # half-resolution maps: a 4 × 4 block upsampled (bilinear) to 16 × 16 covers the 8 × 8 mask block
    tops, lefts = [1, 3, 2, 2, 3], [3, 1, 2, 4, 3]
    low = torch.zeros(5, 8, 8)
    masks = torch.zeros(5, 16, 16, dtype=torch.bool)
    for i, (t, l) in enumerate(zip(tops, lefts)):
        low[i, t:t + 4, l:l + 4] = 1.0
        masks[i, 2 * t:2 * t + 8, 2 * l:2 * l + 8] = True
    q = _gap_quantile(masks.numel(), int(masks.sum()))
    tried = ("5 maps of 8 × 8, each a block of 4 × 4 ones, and masks of 16 × 16, each the matching block "
             f"of 8 × 8, quantile = {q:.4f}")
    value = _iou_value(channel_iou, low, masks, q, tried,
                       hint_if_raised="the maps (8 × 8) and the masks (16 × 16) differ in size: upsample the "
                                      "maps to the masks' size with F.interpolate before comparing them")
    expect(abs(value - 1.0) < 1e-5, "a half-resolution map of the mask, upsampled, must score IoU 1.",
           tried=tried, expected="1.0", received=f"{value:.6g}",
           hint="upsample the maps to the masks' size first: F.interpolate(maps[:, None], size=(H, W), "
                "mode='bilinear', align_corners=False)[:, 0]; then threshold")

    # upsampling must be bilinear: a half-resolution map scores what its bilinear upsampling scores
    g = generator("04.3")
    low = torch.rand(10, 8, 8, generator=g)
    masks = F.interpolate(torch.rand(10, 1, 4, 4, generator=g), size=(16, 16), mode="bilinear",
                          align_corners=False)[:, 0] > 0.6
    upsampled = F.interpolate(low[:, None], size=(16, 16), mode="bilinear", align_corners=False)[:, 0]
    tried_low = "random maps of 8 × 8 and random blob masks of 16 × 16, quantile = 0.8"
    tried_up = tried_low + "; then the same maps upsampled by F.interpolate(bilinear, align_corners=False)"
    from_low = _iou_value(channel_iou, low, masks, 0.8, tried_low)
    from_up = _iou_value(channel_iou, upsampled, masks, 0.8, tried_up)
    expect(abs(from_low - from_up) < 1e-5, "low-resolution maps score differently from their upsampled "
           "version.", tried=tried_up, expected=f"{from_up:.6g} both times",
           received=f"{from_low:.6g} from the 8 × 8 maps",
           hint="upsample with F.interpolate(..., mode='bilinear', align_corners=False), the maps "
                "(not the masks), before the threshold is computed")

    # empty concepts and dead channels: 0, never NaN
    masks = _rectangles([(1, 1, 3, 3), (0, 0, 0, 0)], 8, 8)
    empty = torch.zeros_like(masks)
    live = torch.rand(2, 8, 8, generator=g)
    for maps, concept, what in ((live, empty, "random maps and empty masks (a concept absent from the data)"),
                                (torch.zeros(2, 8, 8), empty, "all-zero maps (a dead channel) and empty masks"),
                                (torch.zeros(2, 8, 8), masks, "all-zero maps (a dead channel) and a 3 × 3 mask")):
        tried = f"{what}, 2 images of 8 × 8, quantile = 0.9"
        value = _iou_value(channel_iou, maps, concept, 0.9, tried)
        expect(abs(value) < 1e-6, "this IoU should be 0.", tried=tried, expected="0.0", received=f"{value:.6g}",
               hint="a pixel is on where the activation is STRICTLY greater than the threshold, so a "
                    "channel that is 0 everywhere has no pixel on; if the union is empty, return 0.0")


# ---------------------------------------------------------------- 04.4

def _plant_colour_detector(model: SmallCNN, channel: int, colour: str, gain: float = 2.0) -> None:
    """Turn conv1's ``channel`` into a detector of one of the shapes' colours, by hand.

    The centre tap reads the colour's own input channel with weight +gain and the
    other two with -gain; the bias silences the dark background. On shapes() images
    the channel is then positive on that colour's pixels only.
    """
    weights = -gain * torch.ones(3)
    weights[COLOURS.index(colour)] = gain
    with torch.no_grad():
        model.conv1.weight[channel] = 0.0
        model.conv1.weight[channel, :, 1, 1] = weights
        model.conv1.bias[channel] = -0.25 * gain


def _planted_model(seed: int, red: int, blue: int, loud: int) -> SmallCNN:
    """Random conv1 but for a red detector, a blue detector and a loud channel that fires on any shape."""
    model = seeded_cnn(seed, in_channels=3, n_classes=4, image_size=16)
    _plant_colour_detector(model, red, "red")
    _plant_colour_detector(model, blue, "blue")
    with torch.no_grad():
        model.conv1.weight[loud] = 0.0
        # about 3 on a pixel of any of the three colours: loud, but not selective
        model.conv1.weight[loud, :, 1, 1] = torch.tensor([2.35, 2.85, 1.55])
        model.conv1.bias[loud] = -0.6
    return model


class _Planted(nn.Module):
    """A layer that outputs activation maps the check planted, whatever the input."""

    def __init__(self, maps: torch.Tensor):
        super().__init__()
        self.register_buffer("maps", maps)

    def forward(self, x):
        return self.maps[: x.shape[0]].clone()


class _PlantedLayers(nn.Module):
    """A stand-in for a CNN: layers relu1 and relu2 give planted maps; with ``broken``, the forward
    pass raises after both have run (as a model fed the wrong input size does)."""

    def __init__(self, relu1: torch.Tensor, relu2: torch.Tensor, broken: bool = False):
        super().__init__()
        self.relu1, self.relu2, self.broken = _Planted(relu1), _Planted(relu2), broken

    def forward(self, x):
        a, b = self.relu1(x), self.relu2(x)
        if self.broken:
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (the check's broken model)")
        return torch.cat([a.flatten(1), b.flatten(1)], dim=1)


def _planted_layer(g, mask: torch.Tensor, broad: int, sharp: int, channels: int = 6) -> torch.Tensor:
    """Maps [n, channels, H, W] in which channel ``broad`` covers the whole concept but also spikes
    on a few pixels outside it, and channel ``sharp`` fires on a quarter of the concept only.

    At a low quantile (0.5) the broad channel matches best (IoU about 0.8 against 0.35); at a high
    one (0.9) its spikes take the top of its range and the sharp channel wins (0.25 against 0.1).
    The other channels are noise."""
    noise = lambda: 0.05 * torch.randn(mask.shape, generator=g)  # noqa: E731
    maps = torch.stack([noise() for _ in range(channels)], dim=1)
    u = torch.rand(mask.shape, generator=g)
    spikes = (~mask) & (torch.rand(mask.shape, generator=g) < 0.08)
    maps[:, broad] = torch.where(mask, 2.0 + 0.1 * u, torch.where(spikes, 5.0 + u, noise()))
    quarter = mask & (torch.rand(mask.shape, generator=g) < 0.25)
    maps[:, sharp] = torch.where(quarter, 3.0 + 0.1 * u, noise())
    return maps


@exercise("04.4", "best_channel_for", points=2, difficulty=2, minutes=15,
          opt_out={"float64": "it returns a channel index",
                   "edge cases": "the check plants detectors, a loud channel, maps whose best channel "
                                 "depends on the quantile and the layer, and a forward pass that raises",
                   "written by hand": "its hint allows mi_helpers.hooks.run_with_cache for the recording"})
def check_best_channel_for(best_channel_for):
    g = generator("04.4")
    red, blue, loud = (int(i) for i in torch.randperm(8, generator=g)[:3])
    model = _planted_model(4004, red, blue, loud)
    data = shapes(n=300, seed=4004)
    concepts = data.concept_masks()
    for colour, layer, planted in (("red", "relu1", red), ("blue", "conv1", blue)):
        tried = (f"a SmallCNN(in_channels=3) whose conv1 channels the check set by hand, 300 shapes() "
                 f"images, concept '{colour}', layer = '{layer}', quantile = 0.97")
        out = call(best_channel_for, model, data.images.clone(), concepts[colour].clone(), layer, 0.97,
                    tried=tried)
        if isinstance(out, torch.Tensor) and out.numel() == 1 and not out.is_floating_point():
            out = int(out)
        expect(isinstance(out, numbers.Integral) and not isinstance(out, bool),
               "the result should be a channel index.",
               tried=tried, expected="an int", received=describe(out),
               hint="return the index of the best channel (argmax), not its IoU; int(...) makes a "
                    "Python int from a 0-d tensor")
        left = count_hooks(model)
        expect(left == 0, f"{left} hooks are still attached to the model after your function returned.",
               tried=tried, expected="count_hooks(model) == 0",
               hint="record the activations with your record_activations (or mi_helpers.hooks.run_with_cache)")
        hint = (f"score every channel of the layer with channel_iou against the '{colour}' mask and return "
                "the index of the highest IoU")
        if out == loud:
            hint = (f"channel {loud} is the loudest inside the {colour} shapes, but it is just as loud on "
                    f"every other colour. Rank the channels by IoU (channel_iou), not by how strongly they "
                    "fire: dissection asks where a channel is on, and whether that matches the concept")
        expect(int(out) == planted, f"the check planted a '{colour}' detector, and your function did not find it.",
               tried=tried, expected=f"channel {planted}", received=f"channel {out}", hint=hint)

    # maps planted layer by layer, whose best channel depends on the quantile and the layer asked for
    mask = torch.rand(40, 16, 16, generator=g) < 0.4
    order = torch.randperm(6, generator=g).tolist()
    model = _PlantedLayers(_planted_layer(g, mask, order[0], order[1]), _planted_layer(g, mask, order[2], order[3]))
    images = torch.zeros(40, 3, 16, 16)
    for layer, q, planted, why in (
            ("relu1", 0.5, order[0], "covers the whole concept, with a few spikes outside it"),
            ("relu1", 0.9, order[1], "fires on a quarter of the concept only, but never outside it"),
            ("relu2", 0.9, order[3], "fires on a quarter of the concept only, but never outside it")):
        tried = (f"a stand-in model whose layers relu1 and relu2 output maps the check planted "
                 f"(40 images, 6 channels, 16 × 16), layer = '{layer}', quantile = {q}")
        out = call(best_channel_for, model, images, mask, layer, q, tried=tried)
        if isinstance(out, torch.Tensor) and out.numel() == 1 and not out.is_floating_point():
            out = int(out)
        expect(isinstance(out, numbers.Integral) and not isinstance(out, bool) and int(out) == planted,
               f"at quantile {q}, the best channel of {layer} is the one that {why}; your function chose "
               "another.", tried=tried, expected=f"channel {planted}", received=describe(out),
               hint="record the layer you are given (not a fixed one) and pass the quantile you are given "
                    "on to channel_iou: which channel matches best depends on both")
    broken = _PlantedLayers(model.relu1.maps, model.relu2.maps, broken=True)
    _expect_clean_failure(best_channel_for, (broken, images, mask, "relu2", 0.9), broken,
                          what="the model's forward pass",
                          tried="a stand-in model whose forward pass raises a RuntimeError after relu1 and "
                                "relu2 have run, layer = 'relu2'")
