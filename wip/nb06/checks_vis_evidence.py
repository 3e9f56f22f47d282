"""Checks for notebook 06 (part "vis_evidence"): activation maximisation, occlusion, sanity checks, FGSM
and the planted-evidence finding.

- 06.1 ``activation_maximisation`` runs on SmallCNNs with seeded random weights
  (:func:`mi_helpers.checks.nb04.seeded_cnn`, 3 channels, 16x16), for a channel of ``relu1`` and one of
  ``relu2``. The check measures, with its own hook, the channel's mean activation on the returned image
  and on 500 planted-evidence images: the image must beat the data set's best. It measures the share of
  the image's spectral energy above half the Nyquist frequency, with and without the regularisers
  (``jitter=0, tv_weight=0``): the regularised image must have clearly less. Same seed, same image;
  another jitter, another image (jitter ignored is caught); pixels in [0, 1]; no hook left, weights,
  mode and ``.grad`` of the model as they were.
- 06.6 ``occlusion``: on a hand-weighted linear model (``flatten`` then ``Linear``) the drop of a 1x1
  window is ``sum_c w[t, c, i, j] (x - baseline)`` and that of non-overlapping 2x2 windows the sum over
  each block, both known analytically; then a seeded random CNN with overlapping windows against
  ``captum.attr.Occlusion`` (whose ``attribute`` raises while the learner's code runs), with a tensor
  baseline and per-image targets. Hints compare with the sum over windows (no average), the opposite
  sign, the baseline ignored, the probability instead of the logit.
NOT IMPLEMENTED YET (planned, see REPORT_vis_evidence.md): 06.8, 06.9, 06.10 below.

- 06.8 ``sanity_check``: an attribution function that ignores the model must give 1 at every step; the
  check's own attribution function *looks at which layers of the copy it receives differ from the
  original* and returns maps planted by the check, with ties, so the expected Spearman correlation at
  every step is known from ``scipy.stats.spearmanr`` (which raises, with ``rankdata``, while the
  learner's code runs): a wrong order, a non-cumulative cascade, Pearson, ties broken by position, or
  a correlation pooled over the batch give other numbers. Saliency on the planted CNN must fall below
  0.5 once every layer is random. The model passed in is unchanged.
- 06.9 ``fgsm``: on a hand-weighted linear model with two classes the input gradient's sign is known
  (``sign(w[other] - w[y])``); on the planted CNN the perturbation must keep within the budget and the
  pixel range, point along the sign of the loss's input gradient (autograd, computed by the check)
  wherever the pixel is not clipped, raise the loss, and flip a growing fraction of predictions as
  epsilon grows (most at 0.3). ``y`` is used, not the prediction. The model's ``.grad`` stays None.
- 06.10 is a finding: the method the check itself finds, with Captum on the planted CNN, to put the
  smallest share of its attribution on the evidence.
"""
from __future__ import annotations

import copy
import math
import sys
from pathlib import Path

import torch
from torch import nn

from mi_helpers.checks.core import (EdgeCase, call, describe, exercise, expect, expect_close, expect_tensor, fail,
                                    generator, inside, show, single_number)
from mi_helpers.checks.nb04 import seeded_cnn
from mi_helpers.hooks import count_hooks

sys.path.insert(0, str(Path(__file__).resolve().parent))  # until lib_vis_evidence moves into mi_helpers
from lib_vis_evidence import (FlatSmallCNN, cached_planted_cnn, evidence_share,  # noqa: E402
                              planted_evidence)


# ---------------------------------------------------------------- shared

def _model_state(model: nn.Module) -> dict:
    return {"weights": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "training": model.training, "hooks": count_hooks(model),
            "grads": [p.grad is None for p in model.parameters()],
            "requires_grad": [p.requires_grad for p in model.parameters()]}


def _expect_model_untouched(model: nn.Module, before: dict, tried: str, *, what: str) -> None:
    after = _model_state(model)
    expect(after["hooks"] == before["hooks"], "your function left a hook attached to the model.", tried=tried,
           expected=f"{before['hooks']} hooks after the call", received=f"{after['hooks']} hooks",
           hint="remove every hook you register (handle.remove() in a `finally:` block), even when the "
                "forward pass raises")
    expect(all(after["grads"]), "your function left gradients on the model's parameters (.grad is set).",
           tried=tried, expected="every parameter's .grad still None",
           hint=f"{what}: ask autograd for the gradient of the input alone, "
                "torch.autograd.grad(loss, x), instead of loss.backward(), which also fills every weight's .grad")
    changed = [k for k, v in before["weights"].items() if not torch.equal(v, after["weights"][k])]
    expect(not changed, "your function changed the model's weights.", tried=tried,
           expected="the model exactly as it was", received=f"changed: {', '.join(changed)}",
           hint="optimise or perturb the input only; give the optimiser the image, never model.parameters()")
    expect(after["training"] == before["training"], "your function changed the model's mode (train/eval).",
           tried=tried, expected="train" if before["training"] else "eval",
           received="train" if after["training"] else "eval", hint="leave model.train()/model.eval() alone")
    expect(after["requires_grad"] == before["requires_grad"], "your function changed requires_grad on the "
           "model's parameters.", tried=tried, hint="leave the parameters' requires_grad as they were")


def _activation(model: nn.Module, layer: str, channel: int, x: torch.Tensor) -> torch.Tensor:
    """The mean activation of one channel of one layer for each image: [batch]."""
    store = {}
    handle = model.get_submodule(layer).register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return store["a"][:, channel].mean(dim=(-2, -1))


def high_frequency_share(image: torch.Tensor) -> float:
    """The share of an image's spectral energy (mean removed) above half the Nyquist frequency."""
    z = image.detach().double() - image.detach().double().mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(z).abs() ** 2
    fy = torch.fft.fftfreq(image.shape[-2]).abs()
    fx = torch.fft.fftfreq(image.shape[-1]).abs()
    high = fy[:, None].maximum(fx[None, :]) > 0.25
    return float((power * high).sum() / power.sum().clamp_min(1e-300))


# ---------------------------------------------------------------- 06.1

AM_SHAPE = (3, 16, 16)


def _am_example(g, dtype, device="cpu"):
    return (seeded_cnn(4109, in_channels=3, image_size=16).to(dtype).to(device), "relu1", 0)


def _am_kwargs(**over):
    kw = dict(shape=AM_SHAPE, steps=100, lr=0.05, jitter=2, tv_weight=0.1, seed=0)
    kw.update(over)
    return kw


def _expect_image(out, tried: str, dtype=torch.float32) -> torch.Tensor:
    expect_tensor(out, shape=(1, *AM_SHAPE), dtype=dtype, tried=tried, name="the image",
                  hint="return the optimised image detached, with a batch dimension of 1: [1, C, H, W]")
    expect(out.min().item() >= 0.0 and out.max().item() <= 1.0, "the image leaves the pixel range [0, 1].",
           tried=tried, expected="every pixel in [0, 1]",
           received=f"pixels from {out.min().item():.3g} to {out.max().item():.3g}",
           hint="the images the model was trained on live in [0, 1]: clamp the image after every step "
                "(with torch.no_grad(): image.clamp_(0, 1)), or the activation grows without bound")
    return out


@exercise("06.1", "activation_maximisation", points=3, difficulty=2, minutes=25,
          example=lambda g, dtype, device="cpu": _am_example(g, dtype, device) + (),
          opt_out={"written by hand": "no built-in optimises an input; the check measures the image itself",
                   "meta device": "the check measures activations and spectra, which need data",
                   "edge cases": "the arguments that could be degenerate are keyword-only; steps, jitter=0 and "
                                 "tv_weight=0 are tried in the check itself"})
def check_activation_maximisation(activation_maximisation):
    data = planted_evidence(500, seed=5).images
    for seed, layer, channel in ((4101, "relu1", 0), (4101, "relu2", 7)):
        model = seeded_cnn(seed, in_channels=3, image_size=16)
        best = _activation(model, layer, channel, data).max().item()
        before = _model_state(model)
        tried = (f"a SmallCNN with seeded random weights (3 channels, 16x16), layer={layer!r}, channel={channel}, "
                 "shape=(3, 16, 16), steps=100, lr=0.05, jitter=2, tv_weight=0.1, seed=0")
        reg = _expect_image(call(activation_maximisation, model, layer, channel, tried=tried, **_am_kwargs()), tried)
        _expect_model_untouched(model, before, tried, what="only the image needs a gradient")
        reached = _activation(model, layer, channel, reg).item()
        if reached <= best:
            other = _activation(model, layer, channel, 1 - reg).item()
            fail("the image does not excite the channel more than the best image of the data set.", tried=tried,
                 expected=f"mean activation of channel {channel} of {layer} above {best:.4g} (the maximum over "
                          "500 planted-evidence images)", received=f"{reached:.4g}",
                 hint="gradient *ascent*: minimise the negative activation (loss = -activation + tv_weight * tv)"
                      if reached < 0.5 * best else
                      "read the activation of this channel only, `activation[:, channel].mean()`, at the layer "
                      f"named `layer` (model.get_submodule(layer)); {other:.3g} is what the inverted image gets")
        tried0 = tried.replace("jitter=2, tv_weight=0.1", "jitter=0, tv_weight=0")
        plain = _expect_image(call(activation_maximisation, model, layer, channel, tried=tried0,
                                   **_am_kwargs(jitter=0, tv_weight=0.0)), tried0)
        hf_reg, hf_plain = high_frequency_share(reg), high_frequency_share(plain)
        expect(hf_reg < 0.5 * hf_plain, "the regularised image is not smoother than the unregularised one.",
               tried=f"{tried}, against the same call with jitter=0, tv_weight=0",
               expected=f"a share of spectral energy above half the Nyquist frequency well below the "
                        f"unregularised image's {hf_plain:.3f}", received=f"{hf_reg:.3f}",
               hint="add tv_weight times the total variation, the sum of squared differences between "
                    "neighbouring pixels (down and across), to the loss you minimise; check its sign: "
                    "the penalty must be *added* to -activation")
        again = call(activation_maximisation, model, layer, channel, tried=tried, **_am_kwargs())
        expect(isinstance(again, torch.Tensor) and torch.equal(again, reg),
               "two calls with the same seed gave different images.", tried=tried + ", twice",
               hint="draw the starting image and the jitter shifts from torch.Generator().manual_seed(seed), "
                    "not from the global random state")
    tried_c = "the same model, layer='relu2', channel=7 against channel=3, jitter=2, tv_weight=0.1, seed=0"
    other = call(activation_maximisation, model, "relu2", 3, tried=tried_c, **_am_kwargs())
    expect(isinstance(other, torch.Tensor) and not torch.equal(other, reg), "two channels gave the same image.",
           tried=tried_c, expected="one image per channel", received="the same image",
           hint="maximise `activation[:, channel].mean()`, the chosen channel alone, not the whole layer's mean")
    tried_j = "the same model, jitter=0 against jitter=3, tv_weight=0.1, seed=0"
    a = call(activation_maximisation, model, "relu2", 7, tried=tried_j, **_am_kwargs(jitter=0))
    b = call(activation_maximisation, model, "relu2", 7, tried=tried_j, **_am_kwargs(jitter=3))
    expect(not torch.equal(a, b), "the jitter argument changes nothing.", tried=tried_j,
           expected="different images", received="the same image",
           hint="at every step shift the image by a random (dy, dx) in [-jitter, jitter] with "
                "torch.roll(image, (dy, dx), dims=(2, 3)) before the forward pass")


# ---------------------------------------------------------------- 06.6

def _linear_model(g, dtype=torch.float64, classes=3, shape=(2, 4, 4)):
    model = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), classes))
    with torch.no_grad():
        model[1].weight.copy_(torch.randn(classes, math.prod(shape), generator=g))
        model[1].bias.copy_(torch.randn(classes, generator=g))
    return model.to(dtype).eval()


def _occ_example(g, dtype, device="cpu"):
    model = _linear_model(g).to(dtype).to(device)
    return (model, torch.rand(2, 2, 4, 4, generator=g).to(dtype).to(device), 1)


def _occ_mistakes(model, x, target, window, stride, baseline):
    """What typical mistakes give, to name one in a hint: {name: [batch, H, W]}."""
    from captum.attr import Occlusion
    c = x.shape[1]
    kw = dict(sliding_window_shapes=(c, window, window), strides=(c, stride, stride))
    base = torch.as_tensor(baseline, dtype=x.dtype)
    right = Occlusion(model).attribute(x, target=target, baselines=base.expand_as(x), **kw)[:, 0]
    zero = Occlusion(model).attribute(x, target=target, baselines=0.0, **kw)[:, 0].to(x.dtype)
    H, W = x.shape[-2:]
    count = torch.zeros(H, W, dtype=x.dtype)
    for top in range(0, H - window + 1, stride):
        for left in range(0, W - window + 1, stride):
            count[top:top + window, left:left + window] += 1
    prob = Occlusion(lambda z: torch.softmax(model(z), -1)).attribute(x, target=target, baselines=base.expand_as(x),
                                                                       **kw)[:, 0].to(x.dtype)
    right = right.to(x.dtype)
    return right, {"the sum over the windows that cover a pixel, not their mean": right * count,
                   "the opposite sign (occluded minus original; the drop is original minus occluded)": -right,
                   "the baseline argument ignored (0 used)": zero,
                   "the drop of the softmax probability instead of the logit": prob}


def _occ_hint(out, mistakes) -> str:
    for name, value in mistakes.items():
        if isinstance(out, torch.Tensor) and out.shape == value.shape and \
                torch.allclose(out.detach().double(), value.double(), atol=1e-6, rtol=1e-5):
            return f"your result equals {name}"
    return ("for each window position: copy x, set the window (all channels) to the baseline, and take "
            "logit(x) - logit(occluded) for each image's target; add it to every pixel of the window and "
            "count the windows per pixel; divide at the end")


@exercise("06.6", "occlusion", points=2, difficulty=2, minutes=20,
          forbidden=("captum.attr.Occlusion.attribute", "captum.attr.FeatureAblation.attribute"),
          opt_out={"float64": "window and stride are keyword-only, which the contract's example cannot pass; "
                              "three of the check's four cases are float64, compared to 1e-9 with their dtype",
                   "edge cases": "same reason; a window as large as the image is tried in the hidden tests",
                   "meta device": "the result is compared with values; a loop over windows has nothing "
                                  "device-specific the CPU run would not catch"})
def check_occlusion(occlusion):
    g = generator("06.6")
    # 1. a hand-weighted linear model: 1x1 windows give the contribution of each pixel, summed over channels
    model = _linear_model(g)
    x = torch.rand(3, 2, 4, 4, generator=g, dtype=torch.float64)
    w = model[1].weight.detach().reshape(3, 2, 4, 4)
    target = torch.tensor([0, 2, 1])
    tried = ("a linear model (flatten, Linear) with known weights w [3 classes, 2, 4, 4], x [3, 2, 4, 4] float64, "
             "target=tensor([0, 2, 1]), window=1, stride=1, baseline=0.2")
    out = call(occlusion, model, x, target, tried=tried, window=1, stride=1, baseline=0.2)
    expected = (w[target] * (x - 0.2)).sum(dim=1)
    right, mistakes = _occ_mistakes(model, x, target, 1, 1, 0.2)
    expect_close(out, expected, tried=tried, atol=1e-9, problem="the drops of 1x1 windows are wrong.",
                 hint=_occ_hint(out, mistakes) + " (for a linear model the drop of one pixel is "
                      "sum over channels of w[target, c, i, j] * (x - baseline))")
    # 2. non-overlapping 2x2 windows: each pixel gets the total contribution of its block
    tried2 = tried.replace("window=1, stride=1, baseline=0.2", "window=2, stride=2, baseline=0.0").replace(
        "target=tensor([0, 2, 1])", "target=1 (an int: the same class for every image)")
    out2 = call(occlusion, model, x, 1, tried=tried2, window=2, stride=2, baseline=0.0)
    contrib = (w[1] * x).sum(dim=1)  # [3, 4, 4]
    blocks = contrib.reshape(3, 2, 2, 2, 2).sum(dim=(2, 4))  # [3, 2, 2]
    expected2 = blocks.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)
    _, mistakes2 = _occ_mistakes(model, x, 1, 2, 2, 0.0)
    expect_close(out2, expected2, tried=tried2, atol=1e-9, problem="the drops of 2x2 windows are wrong.",
                 hint=_occ_hint(out2, mistakes2) + " (each pixel of a block gets the drop of the one window "
                      "covering it; the window spans every channel)")
    # 3. overlapping windows on a random CNN, against Captum, with a tensor baseline
    cnn = seeded_cnn(4106, in_channels=3, image_size=16).double()
    xc = torch.rand(2, 3, 16, 16, generator=g, dtype=torch.float64)
    baseline = torch.full_like(xc, 0.5)
    tc = torch.tensor([3, 7])
    before = _model_state(cnn)
    tried3 = ("a SmallCNN with seeded random weights, x [2, 3, 16, 16] float64, target=tensor([3, 7]), window=4, "
              "stride=2, baseline a tensor of 0.5 like x")
    out3 = call(occlusion, cnn, xc, tc, tried=tried3, window=4, stride=2, baseline=baseline)
    _expect_model_untouched(cnn, before, tried3, what="occlusion needs no gradient")
    right3, mistakes3 = _occ_mistakes(cnn, xc, tc, 4, 2, baseline)
    expect_close(out3, right3, tried=tried3, atol=1e-6, problem="your occlusion map differs from Captum's.",
                 hint=_occ_hint(out3, mistakes3) + " (overlapping windows: average the drops of every window "
                      "that covers the pixel)")
    # 4. float32, window 3 stride 1
    x32 = xc.float()
    cnn32 = seeded_cnn(4106, in_channels=3, image_size=16)
    tried4 = "the same CNN in float32, x [2, 3, 16, 16] float32, target=5, window=3, stride=1, baseline=0.0"
    out4 = call(occlusion, cnn32, x32, 5, tried=tried4, window=3, stride=1)
    right4, mistakes4 = _occ_mistakes(cnn32, x32, 5, 3, 1, 0.0)
    expect_close(out4, right4, tried=tried4, atol=1e-5, problem="your occlusion map differs from Captum's.",
                 hint=_occ_hint(out4, mistakes4))
