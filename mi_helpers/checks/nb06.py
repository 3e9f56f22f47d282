"""Checks for notebook 06, feature visualisation and attribution.

Every check grades on models whose attributions are known (hand-weighted, or planted by the check), then
against Captum, the course's reference for attribution, whose ``attribute`` methods raise while the learner's
code runs (they may not call them). None trains a network: the planted-evidence CNN is the shipped one
(:func:`mi_helpers.evidence.load_planted_cnn`).

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
  ``captum.attr.Occlusion`` (whose ``attribute`` raises while the learner's code runs), with a random tensor
  baseline (the window takes its values pixel by pixel) and per-image targets. Hints compare with the sum over windows (no average), the opposite
  sign, the baseline ignored, the probability instead of the logit.

- 06.2 ``saliency`` and 06.3 ``gradient_times_input`` try a hand-weighted linear model (saliency |W[target]|,
  gradient×input x * W[target]), a hand-weighted two-layer ReLU net whose active hidden unit the check chooses
  (the gradient is then v[target, active] * W1[active]), a bias-free ReLU net where gradient×input sums to the
  logit (Euler's theorem for a positively homogeneous function), one target for all rows and one per row, and a
  seeded SmallCNN (notebook 04) in float64 against ``captum.attr.Saliency`` / ``InputXGradient``, and (saliency)
  a colour CNN, where a max over the channels shows. In the kernel
  that holds the learner's objects: no ``.grad`` left on the parameters or the input, the input not left
  requiring grad, no hook left, the mode unchanged. A wrong map is compared with typical mistakes to name one
  (signed gradient, |gradient × input|, the target ignored, the softmax's gradient, one target for every row).
- 06.4 ``integrated_gradients`` (midpoint Riemann sum, the course's convention): the linear model, where IG is
  ``(x - baseline) * W[target]`` for any step count; :class:`SquareModel`, where the midpoint rule is exact and
  a left or right sum is not (so the rule shows); completeness below 1 % at the learner's default step count on
  six digits through a seeded SmallCNN (inputs × 4); the baseline argument honoured; ``captum.attr.
  IntegratedGradients(method="riemann_middle")`` with the same steps and baseline; the steps argument honoured.
- 06.5 ``lrp_epsilon`` (nn.Sequential of Linear and ReLU): a hand-weighted two-layer net with exact fractions
  (ε = 1, bias included), conservation layer by layer on a bias-free net (with ``return_layers=True``), equality
  with gradient × input there as ε -> 0, a pre-activation of exactly 0 (sign(0) = +1: no division by 0), a
  TypeError for a layer it has no rule for (Tanh, Sigmoid), and ``captum.attr.LRP`` (ε-rule on every layer) on a
  biased MLP.
- 06.7 ``lime_surrogate``: a linear f recovered to 1e-6 (coefficients and intercept = f(x)), a nonlinear f
  (exp of the first feature) where a narrow kernel gives the local slope and a wide kernel the global fit, the
  same result for the same seed and another for another seed; at a middle width, the exact fit the spec
  describes (its draw, kernel and weighted least squares, solved here by the normal equations), which names a
  kernel misread; torch's global random state untouched.

- 06.9 ``sanity_check(model, x, target, attribution_fn, layers, *, seed=0)``: the check's own attribution
  function (:class:`PlantedMaps`) finds which layers of the copy it receives were randomised and returns maps
  planted for that set, with many ties, so the right correlation at every step is known (scipy's spearmanr,
  outside the learner's code; ``spearmanr`` and ``rankdata`` raise inside it); the hints name the wrong order,
  a cascade that is not cumulative, Pearson, ties broken by position, a correlation pooled over the batch, each
  step against the previous one. :class:`SpecDraws` also compares the new values with the spec's draws (one
  generator, from the top, weight and bias). The input itself must keep 1; saliency must fall; same seed, same
  result, another seed another; the model passed in unchanged.
- 06.10 ``fgsm(model, x, y, epsilon)``: on a hand-weighted linear model with two classes the sign of the
  cross-entropy's input gradient is known, ``sign(w[other] - w[y])``, so the adversarial image is known
  exactly: ``clamp(x + epsilon * sign(w[1 - y] - w[y]), 0, 1)``, and two pixels that neither class reads
  have a gradient of exactly 0 and must not move; half the labels disagree with the model's
  prediction, so an answer that attacks the prediction instead of ``y`` fails, and one case sits near the
  pixel bounds with a large budget so that the clamp matters. On a SmallCNN with seeded random weights
  (float64, random labels), the check computes the input gradient of the loss with autograd itself and
  requires: every change within the budget, every pixel in [0, 1], the change equal to
  ``epsilon * sign(gradient)`` wherever the pixel is not clipped, the mean loss higher than before, and a
  fraction of flipped predictions that grows with epsilon (0 at epsilon 0). The learner's function runs
  next to the model (``inside``) and reports what a returned value cannot show: no ``.grad`` left on any
  parameter, weights and hooks unchanged, ``x`` still without ``requires_grad``, the result detached.
  Hints compare the answer with what typical mistakes give (the opposite sign, no clamp, the prediction
  instead of ``y``, the raw gradient instead of its sign, an L2-normalised step). ``captum.robust.FGSM.perturb``
  raises while the learner's code runs. Contracts: float64 (example), meta device, the edge case epsilon = 0.
- 06.8 ``least_evidence_method`` is a finding: the method (of saliency, gradient × input, integrated gradients,
  LRP-ε and occlusion) that puts the least of its attribution on the planted evidence, which the check measures
  itself with Captum on the shipped planted CNN and images the notebook does not use, and grades only because
  the gap to the next method is wide (saliency about 0.1, the next above 0.3).
"""
from __future__ import annotations

import copy
import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..attribution import SquareModel, linear_model, relu_mlp, seeded_mlp, target_logit
from ..evidence import FlatSmallCNN, evidence_share, planted_evidence, shipped_planted_cnn
from ..hooks import count_hooks
from .core import (EdgeCase, call, close_to, describe, exercise, expect, expect_close, expect_tensor, fail, generator,
                   inside, show, single_number)
from .nb04 import seeded_cnn


# ====================================================================== vis_evidence

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
    baseline = torch.rand(xc.shape, generator=g, dtype=torch.float64)  # its own value at every pixel
    tc = torch.tensor([3, 7])
    before = _model_state(cnn)
    tried3 = ("a SmallCNN with seeded random weights, x [2, 3, 16, 16] float64, target=tensor([3, 7]), window=4, "
              "stride=2, baseline a tensor like x of uniform random values (the window takes its values there)")
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


# ====================================================================== attribution

AUTOGRAD_SHORTCUTS = ("torch.func.grad", "torch.func.jacrev", "torch.func.jacfwd", "torch.func.vjp",
                      "torch.autograd.functional.jacobian", "torch.autograd.functional.vjp")
CAPTUM = ("captum.attr.Saliency.attribute", "captum.attr.InputXGradient.attribute",
          "captum.attr.IntegratedGradients.attribute", "captum.attr.LRP.attribute",
          "captum.attr.Lime.attribute", "captum.attr.LimeBase.attribute", "captum.attr.KernelShap.attribute")


def _close(a, b, atol=1e-8, rtol=1e-6) -> bool:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.device.type == "meta":
        return False
    a, b = a.detach().double(), b.detach().double()
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and bool(torch.allclose(a, b, atol=atol, rtol=rtol))


def _grad(model, x, target, of="logit"):
    """d (target logit, or probability, or sum of logits) / dx: the check's own autograd, to name mistakes."""
    x_ = x.detach().clone().requires_grad_(True)
    out = model(x_)
    if of == "prob":
        out = torch.softmax(out, dim=1)
    if of == "sum":
        chosen = out.sum()
    else:
        t = torch.as_tensor(target).expand(out.shape[0])
        chosen = out.gather(1, t[:, None]).sum()
    return torch.autograd.grad(chosen, x_)[0]


def _name(out, mistakes: dict, fallback: str) -> str:
    for words, value in mistakes.items():
        if _close(out, value, atol=1e-6, rtol=1e-5):
            return words
    return fallback


def _expect_map(out, want, tried, mistakes, fallback, atol=1e-8, rtol=1e-6, problem="the attribution is wrong."):
    expect_tensor(out, tried=tried, hint="return one tensor with the shape of x")
    expect_tensor(out, shape=tuple(want.shape), tried=tried,
                  hint="one value per input entry: the result has the shape of x (no sum or max over channels)")
    expect_tensor(out, dtype=want.dtype, tried=tried,
                  hint="the model and x are " + str(want.dtype).replace("torch.", "") + ": keep that dtype")
    if not _close(out, want, atol=atol, rtol=rtol):
        diff = (out.detach().double() - want.double()).abs()
        fail(problem, tried=tried, expected=show(want), received=show(out),
             hint=_name(out, mistakes, fallback) + f"\nlargest difference {diff.max().item():.3g}")


def _watch(fn, model, x, target, *args, **kwargs):
    """Run the learner's fn where it lives and report what a returned value cannot show."""
    training, hooks = model.training, count_hooks(model)
    out = fn(model, x, target, *args, **kwargs)
    if isinstance(out, torch.Tensor):
        out = out.detach()
    elif isinstance(out, (tuple, list)):
        out = type(out)(o.detach() if isinstance(o, torch.Tensor) else o for o in out)
    return {"out": out, "grads": [n for n, p in model.named_parameters() if p.grad is not None],
            "x_requires_grad": bool(x.requires_grad), "x_grad": x.grad is not None,
            "hooks": count_hooks(model) - hooks, "training": [training, model.training]}


def _expect_clean(fn, model, x, target, tried, *args, **kwargs):
    seen = call(inside, _watch, fn, model, x, target, *args, tried=tried, **kwargs)
    expect(isinstance(seen, dict) and "grads" in seen, "the check could not watch your function run.",
           tried=tried, received=describe(seen), hint="run the cell that defines your function again")
    expect(not seen["grads"], "your function left gradients in the model's parameters (their .grad).",
           tried=tried, expected="every parameter's .grad as it was: None", received=", ".join(seen["grads"][:4]),
           hint="logit.backward() stores a gradient in every parameter. torch.autograd.grad(logit, x_) returns "
                "the gradient you ask for and stores none")
    expect(not seen["x_requires_grad"] and not seen["x_grad"],
           "after your function, the caller's x requires grad (or holds a .grad).", tried=tried,
           expected="x as it came: requires_grad=False, .grad None",
           received=f"requires_grad={seen['x_requires_grad']}, .grad set={seen['x_grad']}",
           hint="x.requires_grad_() changes the caller's tensor; work on a copy: "
                "x_ = x.detach().clone().requires_grad_(True)")
    expect(seen["hooks"] == 0, "your function left hooks on the model.", tried=tried,
           expected="no hook left", received=f"{seen['hooks']} more hooks",
           hint="no hook is needed here; if you add one, remove it (handle.remove()) in a finally block")
    expect(seen["training"][0] == seen["training"][1], "your function changed the model's mode.", tried=tried,
           expected=f"training={seen['training'][0]}", received=f"training={seen['training'][1]}",
           hint="leave model.train() / model.eval() alone")
    return seen["out"]


# hand-weighted models shared by 06.2-06.4 ------------------------------------------------------------------

W_LIN = [[1.5, -2.0, 0.5, 0.0], [-1.0, 0.25, 3.0, -0.5], [0.0, 1.0, -1.0, 2.0]]
B_LIN = [0.5, -1.0, 0.25]
# A two-layer ReLU net: hidden unit 0 reads x0 + x1, unit 1 reads x2 - x3 - 10 (off for the check's x),
# unit 2 reads -x0 (off for x0 > 0). The logits are v @ h. Only unit 0 is on, so the gradient of logit c is
# v[c, 0] * (1, 1, 0, 0).
W1_RELU = [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0], [-1.0, 0.0, 0.0, 0.0]]
B1_RELU = [0.0, -10.0, 0.0]
V_RELU = [[2.0, 5.0, -3.0], [-1.5, 1.0, 4.0]]
X_RELU = [[1.0, 2.0, 0.5, 3.0], [0.5, 0.25, 2.0, 1.0]]


def _gradient_example(g, dtype, device="cpu"):
    return seeded_mlp(61, dtype=dtype).to(device), torch.randn(3, 6, generator=g, dtype=dtype).to(device), 1


def _gradient_edge(one_row_fn):
    return (EdgeCase("one row (batch 1) and a target given as a 0-d tensor", lambda: (
        seeded_mlp(62), torch.randn(1, 6, generator=torch.Generator().manual_seed(62), dtype=torch.float64),
        torch.tensor(2)), one_row_fn, hint="the batch may have one row, and target may be an int, a 0-d tensor or "
                                           "a LongTensor [batch]: torch.as_tensor(target).expand(batch)"),)


# ---------------------------------------------------------------- 06.2 saliency

def _saliency_edge_expect(out, args):
    model, x, t = args
    return None if _close(out, _grad(model, x, int(t)).abs()) else f"expected {show(_grad(model, x, int(t)).abs())}"


@exercise("06.2", "saliency", points=2, difficulty=1, minutes=15, example=_gradient_example, meta=True,
          forbidden=CAPTUM + AUTOGRAD_SHORTCUTS, edge_cases=_gradient_edge(_saliency_edge_expect))
def check_saliency(saliency):
    d = torch.float64
    # 1. linear: |d logit_t / dx| = |W[t]| in every row, whatever x.
    model = linear_model(W_LIN, B_LIN)
    x = torch.randn(5, 4, generator=generator("06.2"), dtype=d)
    W = torch.tensor(W_LIN, dtype=d)
    for target in (1, torch.tensor([0, 2, 1, 1, 0])):
        tried = f"a linear model logits = x Wᵀ + b (W = {W_LIN}), x of shape (5, 4), float64, target = {target}"
        out = call(saliency, model, x, target, tried=tried)
        want = W[torch.as_tensor(target).expand(5)].abs()
        _expect_map(out, want, tried, {
            "that is the signed gradient: saliency is its absolute value, .abs()": W[torch.as_tensor(target).expand(5)],
            "that is the gradient of the sum of ALL logits: pick the target logit of each row first":
                W.sum(0).abs().expand(5, 4),
            "that is gradient × input: saliency is the gradient alone": (x * W[torch.as_tensor(target).expand(5)]).abs(),
            "every row got the first row's target: use target[i] for row i (logits.gather(1, target[:, None]))":
                W[torch.as_tensor(target).expand(5)[0]].abs().expand(5, 4),
        }, "for a linear model the gradient of logit t is W[t], the same for every x")
    # 2. a two-layer ReLU net whose active unit is known: the gradient is v[t, 0] * (1, 1, 0, 0).
    model = relu_mlp([W1_RELU, V_RELU], [B1_RELU, [0.0, 0.0]])
    x = torch.tensor(X_RELU, dtype=d)
    tried = ("a hand-weighted ReLU net: hidden unit 0 = relu(x0 + x1) is the only one on; logits = V h with "
             f"V = {V_RELU}; x = {X_RELU}, target = 0")
    out = call(saliency, model, x, 0, tried=tried)
    want = torch.tensor([[2.0, 2.0, 0.0, 0.0]] * 2, dtype=d)
    _expect_map(out, want, tried, {"that is the gradient of the softmax probability, not of the logit: saliency "
                                   "differentiates the logit (model(x)[:, target]) itself": _grad(model, x, 0, "prob").abs()},
                "only hidden unit 0 is on, so d logit_0/dx = V[0, 0] * (1, 1, 0, 0) = (2, 2, 0, 0)")
    # 3. a seeded SmallCNN in float64 against Captum, and the leftovers.
    from captum.attr import Saliency
    cnn = seeded_cnn(62).double()
    g = generator("06.2", salt=1)
    x = torch.rand(4, 1, 8, 8, generator=g, dtype=d)
    t = torch.tensor([3, 0, 7, 3])
    tried = "a seeded SmallCNN (notebook 04) in float64, x = 4 random images (4, 1, 8, 8), target = [3, 0, 7, 3]"
    out = _expect_clean(saliency, cnn, x, t, tried)
    _expect_map(out, Saliency(cnn).attribute(x.clone(), target=t, abs=True).detach(), tried,
                {"the signed gradient: take .abs()": _grad(cnn, x, t)}, "compare with captum.attr.Saliency")
    # 4. colour images: one value per pixel AND channel (a max or sum over channels is another map)
    cnn = seeded_cnn(63, in_channels=3, n_classes=3, image_size=16).double()
    x = torch.rand(3, 3, 16, 16, generator=g, dtype=d)
    t = torch.tensor([2, 0, 1])
    tried = "a seeded SmallCNN on colour images in float64, x of shape (3, 3, 16, 16), target = [2, 0, 1]"
    out = call(saliency, cnn, x, t, tried=tried)
    grad = _grad(cnn, x, t)
    _expect_map(out, grad.abs(), tried, {"the max over the colour channels: saliency keeps one value per pixel and "
                                         "channel, shape (3, 3, 16, 16); reduce only when you plot":
                                         grad.abs().amax(1, keepdim=True).expand_as(grad)},
                "compare with |d logit / dx| per pixel and channel")


# ---------------------------------------------------------------- 06.3 gradient_times_input

def _gxi_edge_expect(out, args):
    model, x, t = args
    want = x * _grad(model, x, int(t))
    return None if _close(out, want) else f"expected {show(want)}"


@exercise("06.3", "gradient_times_input", points=2, difficulty=1, minutes=10, example=_gradient_example, meta=True,
          forbidden=CAPTUM + AUTOGRAD_SHORTCUTS, edge_cases=_gradient_edge(_gxi_edge_expect))
def check_gradient_times_input(gradient_times_input):
    d = torch.float64
    model = linear_model(W_LIN, B_LIN)
    x = torch.randn(5, 4, generator=generator("06.3"), dtype=d)
    W = torch.tensor(W_LIN, dtype=d)
    t = torch.tensor([2, 0, 1, 2, 1])
    tried = f"a linear model logits = x Wᵀ + b (W = {W_LIN}), x of shape (5, 4), float64, target = {t.tolist()}"
    out = call(gradient_times_input, model, x, t, tried=tried)
    _expect_map(out, x * W[t], tried, {
        "that is the gradient alone: multiply it by x": W[t],
        "that is |gradient × input|: keep the sign (a negative entry pushes the logit down)": (x * W[t]).abs(),
        "that is x times |gradient| (saliency × x): use the signed gradient": x * W[t].abs(),
        "that uses the gradient of the sum of all logits: pick each row's target logit": x * W.sum(0),
        "every row got the first row's target": x * W[t[0]],
    }, "for a linear model, gradient × input is x * W[target], row by row")
    model = relu_mlp([W1_RELU, V_RELU], [B1_RELU, [0.0, 0.0]])
    xr = torch.tensor(X_RELU, dtype=d)
    tried = f"the hand-weighted ReLU net (only hidden unit 0 = relu(x0 + x1) on), x = {X_RELU}, target = 1"
    out = call(gradient_times_input, model, xr, 1, tried=tried)
    _expect_map(out, xr * torch.tensor([-1.5, -1.5, 0.0, 0.0], dtype=d), tried, {},
                "d logit_1 / dx = V[1, 0] * (1, 1, 0, 0) = (-1.5, -1.5, 0, 0); multiply by x")
    # Bias-free ReLU net: positively homogeneous, so Σ x * grad = f(x) (Euler).
    net = seeded_mlp(63, bias=False)
    x = torch.randn(6, 6, generator=generator("06.3", salt=1), dtype=d)
    tried = "a bias-free ReLU MLP (6 -> 8 -> 5 -> 3), float64, 6 random rows, target = 2"
    out = call(gradient_times_input, net, x, 2, tried=tried)
    expect_tensor(out, shape=(6, 6), dtype=d, tried=tried)
    expect(_close(out.sum(1), target_logit(net, x, 2)),
           "on a bias-free ReLU net, each row of gradient × input should sum to that row's target logit.",
           tried=tried, expected=show(target_logit(net, x, 2)), received=show(out.sum(1)),
           hint="f(λx) = λ f(x) for such a net, so Σ_i x_i ∂f/∂x_i = f(x) exactly: " +
                _name(out, {"|x × grad| loses the sign": (x * _grad(net, x, 2)).abs()}, "x times the signed gradient"))
    from captum.attr import InputXGradient
    cnn = seeded_cnn(63).double()
    x = torch.rand(3, 1, 8, 8, generator=generator("06.3", salt=2), dtype=d)
    t = torch.tensor([1, 4, 9])
    tried = "a seeded SmallCNN in float64, x = 3 random images (3, 1, 8, 8), target = [1, 4, 9]"
    out = _expect_clean(gradient_times_input, cnn, x, t, tried)
    _expect_map(out, InputXGradient(cnn).attribute(x.clone(), target=t).detach(), tried, {},
                "compare with captum.attr.InputXGradient")


# ---------------------------------------------------------------- 06.4 integrated_gradients

def _ig_mistakes(model, x, t, baseline, steps):
    from captum.attr import IntegratedGradients
    ig = IntegratedGradients(model)
    b = torch.zeros_like(x) if baseline is None else baseline
    out = {}
    for method, words in (("riemann_left", "a left Riemann sum (α = k/steps, k = 0..steps-1)"),
                          ("riemann_right", "a right Riemann sum (α = k/steps, k = 1..steps)"),
                          ("riemann_trapezoid", "the trapezoid rule")):
        out[f"that is {words}: the course uses the midpoint rule, α = (k + ½)/steps"] = \
            ig.attribute(x.clone(), b, target=t, n_steps=steps, method=method).detach()
    mid = ig.attribute(x.clone(), b, target=t, n_steps=steps, method="riemann_middle").detach()
    diff = x - b
    safe = torch.where(diff == 0, torch.ones_like(diff), diff)
    out["the average gradient is right, but it is not multiplied by (x - baseline)"] = mid / safe
    out["that is the average gradient times x, not times (x - baseline)"] = mid / safe * x
    out["the sum of the gradients, not their mean: divide by steps"] = mid * steps
    out["the sign is flipped: the path goes from the baseline to x, and the factor is (x - baseline)"] = -mid
    if baseline is not None:
        out["the baseline argument is ignored: that is IG from zeros"] = ig.attribute(
            x.clone(), target=t, n_steps=steps, method="riemann_middle").detach()
    return out


def _ig_example(g, dtype, device="cpu"):
    return seeded_mlp(64, dtype=dtype).to(device), torch.randn(3, 6, generator=g, dtype=dtype).to(device), 0


DIGIT_ROWS = (0, 1, 2, 3, 4, 5)


@exercise("06.4", "integrated_gradients", points=3, difficulty=2, minutes=25, example=_ig_example, meta=True,
          forbidden=CAPTUM + AUTOGRAD_SHORTCUTS,
          edge_cases=(EdgeCase("the baseline equal to x: the path has length 0, so every attribution is 0",
                               lambda: (seeded_mlp(65), torch.ones(2, 6, dtype=torch.float64),
                                        0, torch.ones(2, 6, dtype=torch.float64), 7),
                               lambda out, args: None if _close(out, torch.zeros(2, 6, dtype=torch.float64))
                               else "expected zeros"),))
def check_integrated_gradients(integrated_gradients):
    d = torch.float64
    g = generator("06.4")
    # 1. linear: IG = (x - baseline) * W[t], exactly, for any steps.
    model = linear_model(W_LIN, B_LIN)
    W = torch.tensor(W_LIN, dtype=d)
    x = torch.randn(4, 4, generator=g, dtype=d)
    base = torch.randn(4, 4, generator=g, dtype=d)
    t = torch.tensor([0, 1, 2, 1])
    tried = f"a linear model (W = {W_LIN}), x (4, 4) float64, target = {t.tolist()}, baseline left out (zeros)"
    out = call(integrated_gradients, model, x, t, tried=tried)
    _expect_map(out, x * W[t], tried, {"that is the gradient alone: multiply the average gradient by (x - baseline)": W[t],
                                       "a sign error: the factor is (x - baseline)": -x * W[t]},
                "for a linear model IG from zeros is x * W[target], whatever the step count")
    tried = f"the same linear model and x, baseline = a random (4, 4) tensor, steps = 3"
    out = call(integrated_gradients, model, x, t, base, 3, tried=tried)
    _expect_map(out, (x - base) * W[t], tried, {"the baseline argument is ignored (that is IG from zeros)": x * W[t],
                                                "that is x * gradient: the factor is (x - baseline)": x * W[t]},
                "for a linear model IG is (x - baseline) * W[target] exactly")
    # 2. the square model: the midpoint rule is exact, left and right sums are not.
    C = [[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]
    sq = SquareModel(C)
    x = torch.randn(3, 3, generator=g, dtype=d)
    base = torch.randn(3, 3, generator=g, dtype=d)
    tried = f"a model with logits Σ_i C[c, i] x_i² (C = {C}), x and baseline random (3, 3), target = 0, steps = 4"
    out = call(integrated_gradients, sq, x, 0, base, 4, tried=tried)
    Ct = torch.tensor(C, dtype=d)[0]
    _expect_map(out, Ct * (x ** 2 - base ** 2), tried, _ig_mistakes(sq, x, 0, base, 4),
                "the gradient 2 C x is linear along the path, so the midpoint rule gives C (x² - baseline²) exactly")
    # 3. completeness at the learner's default steps, on digits through a seeded SmallCNN.
    from mi_helpers.data import digits
    cnn = seeded_cnn(3).double()
    xd = 4 * digits().X_test[list(DIGIT_ROWS)].double()
    td = cnn(xd).argmax(1).detach()
    tried = ("a seeded SmallCNN in float64, 6 test digits × 4, target = the predicted class, baseline zeros, "
             "steps left at your default")
    out = _expect_clean(integrated_gradients, cnn, xd, td, tried)
    expect_tensor(out, shape=tuple(xd.shape), dtype=d, tried=tried)
    gap = target_logit(cnn, xd, td) - target_logit(cnn, torch.zeros_like(xd), td)
    err = (out.reshape(6, -1).sum(1) - gap).abs() / gap.abs()
    expect(bool((err < 0.01).all()), "completeness fails: Σ attributions is not within 1 % of f(x) - f(baseline).",
           tried=tried, expected="relative error < 0.01 in every row", received=show(err),
           hint=_name(out, _ig_mistakes(cnn, xd, td, None, 50), "raise your default number of steps (50 is "
                                                                "enough here with the midpoint rule) or check the sum"))
    # 4. against Captum with a baseline and a step count.
    from captum.attr import IntegratedGradients
    x = torch.rand(3, 1, 8, 8, generator=g, dtype=d)
    base = 0.2 * torch.rand(3, 1, 8, 8, generator=g, dtype=d)
    t = torch.tensor([2, 5, 8])
    for steps in (2, 16):
        tried = f"the seeded SmallCNN, 3 random images, baseline = 0.2 × random images, target = {t.tolist()}, steps = {steps}"
        out = call(integrated_gradients, cnn, x, t, baseline=base, steps=steps, tried=tried)
        want = IntegratedGradients(cnn).attribute(x.clone(), base, target=t, n_steps=steps, method="riemann_middle")
        _expect_map(out, want.detach(), tried, _ig_mistakes(cnn, x, t, base, steps),
                    "compare with captum.attr.IntegratedGradients(model).attribute(x, baseline, target=..., "
                    "n_steps=steps, method='riemann_middle')", atol=1e-7, rtol=1e-5)


# ---------------------------------------------------------------- 06.5 lrp_epsilon

def _lrp_example(g, dtype, device="cpu"):
    return seeded_mlp(66, dtype=dtype).to(device), torch.randn(3, 6, generator=g, dtype=dtype).to(device), 1, 1e-3


def _lrp_mistakes(model, x, t, eps):
    from captum.attr import LRP
    from captum.attr._utils.lrp_rules import EpsilonRule
    out = {"that is gradient × input: it equals LRP-ε only on a bias-free net as ε -> 0; divide each layer's "
           "relevance by its pre-activations z + ε·sign(z), bias included":
           x * _grad(model, x, t)}
    for e, words in ((1e-9, "that is LRP with a tiny ε: use the eps argument"),):
        for m in model:
            if isinstance(m, nn.Linear):
                m.rule = EpsilonRule(epsilon=e)
        out[words] = LRP(model).attribute(x.clone(), target=t).detach()
    return out


def _raised_by(fn, *args, **kwargs) -> str:
    """The name of the exception that fn(*args, **kwargs) raises ("" if none): run where fn lives."""
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the learner's error is the answer here
        return type(exc).__name__
    return ""


def _captum_lrp(model, x, t, eps):
    from captum.attr import LRP
    from captum.attr._utils.lrp_rules import EpsilonRule
    for m in model:
        if isinstance(m, nn.Linear):
            m.rule = EpsilonRule(epsilon=eps)
    return LRP(model).attribute(x.clone(), target=t).detach()


@exercise("06.5", "lrp_epsilon", points=3, difficulty=3, minutes=30, example=_lrp_example, meta=True,
          forbidden=CAPTUM)
def check_lrp_epsilon(lrp_epsilon):
    d = torch.float64
    # 1. by hand: x = (1, 2), W1 = [[1, 1], [1, -1]], b1 = (1, 0): z1 = (4, -1), a1 = (4, 0);
    # W2 = [[2, 5]], b2 = -2: z2 = 6 = R2. With ε = 1: R_a1 = a1 * W2 * R2 / (z2 + 1) = (48/7, 0);
    # R_x = x * W1[0] * R_a1[0] / (z1[0] + 1) = (1, 2) * (48/7) / 5 = (48/35, 96/35).
    net = relu_mlp([[[1.0, 1.0], [1.0, -1.0]], [[2.0, 5.0]]], [[1.0, 0.0], [-2.0]])
    x = torch.tensor([[1.0, 2.0]], dtype=d)
    tried = "x = (1, 2), W1 = [[1, 1], [1, -1]], b1 = (1, 0), ReLU, W2 = [[2, 5]], b2 = -2, target 0, eps = 1"
    out = call(lrp_epsilon, net, x, 0, 1.0, tried=tried)
    want = torch.tensor([[48 / 35, 96 / 35]], dtype=d)
    _expect_map(out, want, tried, {
        "ε is added without the sign or left out: the denominator is z + ε·sign(z) (here 6 + 1 and 4 + 1)":
            torch.tensor([[1.0, 2.0]], dtype=d) * 6 / 4,
        "the output relevance should be the target logit (6), not 1": want / 6,
        "the bias is left out of z: z is the layer's full output, a Wᵀ + b": torch.tensor([[1.0, 2.0]], dtype=d) *
            (3 * 2 * 6 / 7) / (3 + 1)},
        "z2 = 6, R_a1 = (4·2·6/7, 0) = (48/7, 0), R_x = (1, 2) · (48/7) / 5 = (48/35, 96/35)")
    # 2. conservation layer by layer on a bias-free net, and gradient × input as ε -> 0.
    net = seeded_mlp(67, sizes=(6, 10, 8, 4), bias=False)
    x = torch.randn(5, 6, generator=generator("06.5"), dtype=d)
    t = torch.tensor([0, 1, 2, 3, 0])
    tried = "a bias-free ReLU MLP 6 -> 10 -> 8 -> 4 (float64), 5 rows, target = [0, 1, 2, 3, 0], eps = 1e-12, return_layers=True"
    out = call(lrp_epsilon, net, x, t, 1e-12, return_layers=True, tried=tried,
               hint_if_raised="lrp_epsilon(model, x, target, eps, return_layers=True) returns (R_input, relevances)")
    expect(isinstance(out, (tuple, list)) and len(out) == 2 and isinstance(out[1], (list, tuple)),
           "with return_layers=True the result should be a pair (R_input, relevances).", tried=tried,
           received=describe(out), hint="return R_input, relevances (a list, input first, output last)")
    R, layers = out
    expect(len(layers) == 4, "relevances should hold one tensor per Linear layer's input, plus the output.",
           tried=tried, expected="4 tensors: [6 inputs], [10 units], [8 units], [4 logits]",
           received=f"{len(layers)} items", hint="relevances[0] is R_input, relevances[-1] the output relevance")
    want_total = target_logit(net, x, t)
    for k, layer_r in enumerate(layers):
        expect_tensor(layer_r, shape=(5, (6, 10, 8, 4)[k]), dtype=d, tried=tried, name=f"relevances[{k}]")
        expect(_close(layer_r.sum(1), want_total, atol=1e-8),
               f"relevance is not conserved: relevances[{k}] does not sum to the target logit.", tried=tried,
               expected=show(want_total), received=show(layer_r.sum(1)),
               hint="on a bias-free net with ε -> 0 each layer's relevance sums to the same total, the target "
                    "logit: start from R = logit in the target column (zeros elsewhere), and pass it through each "
                    "ReLU unchanged")
    _expect_map(R, x * _grad(net, x, t), tried, {}, "on a bias-free ReLU net, LRP-ε -> gradient × input",
                problem="on a bias-free ReLU net with ε -> 0, LRP should equal gradient × input.")
    # 2b. a pre-activation exactly 0: sign(0) counts as +1, so that unit's relevance (0) divides by ε, not by 0.
    # x = (1, 1), W1 = [[1, 1], [1, -1]]: z1 = (2, 0), a1 = (2, 0); W2 = [[2, 5]]: z2 = 4; ε = 0.5:
    # R_a1 = (2·2·4 / 4.5, 0); R_x = (1, 1) · (16 / 4.5) / 2.5 = (64/45, 64/45).
    net = relu_mlp([[[1.0, 1.0], [1.0, -1.0]], [[2.0, 5.0]]])
    tried = "x = (1, 1), bias-free W1 = [[1, 1], [1, -1]] (so z1 = (2, 0): one pre-activation exactly 0), ReLU, W2 = [[2, 5]], target 0, eps = 0.5"
    out = call(lrp_epsilon, net, torch.ones(1, 2, dtype=d), 0, 0.5, tried=tried)
    zero_hint = ("a pre-activation of exactly 0 must not divide by 0: the spec counts sign(0) as +1, so the "
                 "denominator there is 0 + ε (torch.sign(0) is 0; use torch.where(z >= 0, 1.0, -1.0))")
    expect(not isinstance(out, torch.Tensor) or bool(torch.isfinite(out).all()),
           "the relevance holds NaN or infinite values where a pre-activation is exactly 0.", tried=tried,
           expected="(64/45, 64/45)", received=describe(out), hint=zero_hint)
    _expect_map(out, torch.full((1, 2), 64 / 45, dtype=d), tried, {}, zero_hint)
    # 2c. a layer the ε-rule does not cover must be refused, not skipped
    for layer in (nn.Tanh(), nn.Sigmoid()):
        odd = nn.Sequential(nn.Linear(2, 3), layer, nn.Linear(3, 2)).to(d).eval()
        tried = f"nn.Sequential(Linear(2, 3), {layer}, Linear(3, 2)), x = (1, 1) float64, target 0, eps = 0.1"
        raised = call(inside, _raised_by, lrp_epsilon, odd, torch.ones(1, 2, dtype=d), 0, 0.1, tried=tried)
        expect(raised == "TypeError", f"a model with an {type(layer).__name__} layer should raise a TypeError.",
               tried=tried, expected="TypeError", received=raised or "no error: a result came back",
               hint="LRP-ε here knows Linear and ReLU only; for any other layer, raise TypeError(...) naming it "
                    "rather than passing relevance through a layer whose rule you did not write")
    # 3. against Captum (ε-rule on every Linear) on a biased MLP, with absorption by ε.
    net = seeded_mlp(68)
    x = torch.randn(4, 6, generator=generator("06.5", salt=1), dtype=d)
    t = torch.tensor([2, 0, 1, 2])
    for eps in (0.25, 1e-9):
        tried = f"a seeded ReLU MLP 6 -> 8 -> 5 -> 3 with biases (float64), 4 rows, target = {t.tolist()}, eps = {eps}"
        out = _expect_clean(lrp_epsilon, net, x, t, tried, eps)
        _expect_map(out, _captum_lrp(net, x, t, eps), tried, _lrp_mistakes(net, x, t, eps),
                    "compare with captum.attr.LRP with EpsilonRule(epsilon=eps) on every Linear")


# ---------------------------------------------------------------- 06.7 lime_surrogate

def _lime_example(g, dtype, device="cpu"):
    w = torch.randn(4, generator=g, dtype=dtype)
    return (lambda z: torch.tanh(z @ w.to(z.device))), torch.randn(4, generator=g, dtype=dtype).to(device)


def _lime_pair(out, tried, d, dtype):
    expect(isinstance(out, (tuple, list)) and len(out) == 2, "the result should be a pair (coef, intercept).",
           tried=tried, received=describe(out), hint="return coef, intercept")
    coef, intercept = out
    expect_tensor(coef, shape=(d,), dtype=dtype, tried=tried, name="coef", hint="one coefficient per feature")
    expect(isinstance(intercept, torch.Tensor) and intercept.dim() == 0 and intercept.dtype == dtype,
           "the intercept should be a 0-d tensor in x's dtype.", tried=tried, received=describe(intercept),
           expected=f"a 0-d tensor, {dtype}",
           hint="the solution vector's first entry, sol[0], is 0-d; a slice sol[:1] has shape (1,)")
    return coef, intercept


def _lime_reference(f, x, n, width, seed):
    """The spec's fit, by the normal equations (another route than lstsq), and what kernel mistakes give:
    ([intercept, coef...], {mistake: coef})."""
    eps = torch.randn(n, x.shape[0], generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
    y = f(x + eps)
    A = torch.cat([torch.ones(n, 1, dtype=x.dtype), eps], 1)
    sq = (eps ** 2).sum(1)

    def fit(weights):
        return torch.linalg.solve(A.T @ (weights[:, None] * A), A.T @ (weights * y))

    kernels = {"the kernel exp(-d² / (2 w²)): the spec's kernel has no factor 2": torch.exp(-sq / (2 * width ** 2)),
               "the kernel exp(-d / w²) with the distance d, not its square": torch.exp(-sq.sqrt() / width ** 2),
               "rows scaled by π instead of √π (that weighs each squared error by π²)":
                   torch.exp(-sq / width ** 2) ** 2,
               "no weights at all (a global fit)": torch.ones(n, dtype=x.dtype)}
    return fit(torch.exp(-sq / width ** 2)), {words: fit(k)[1:] for words, k in kernels.items()}


@exercise("06.7", "lime_surrogate", points=2, difficulty=2, minutes=20, example=_lime_example,
          forbidden=CAPTUM, opt_out={"meta device": "the perturbations come from a CPU torch.Generator seeded by seed"})
def check_lime_surrogate(lime_surrogate):
    d = torch.float64
    g = generator("06.7")
    w = torch.randn(5, generator=g, dtype=d)
    x = torch.randn(5, generator=g, dtype=d)
    f_linear = lambda z: z @ w + 0.7  # noqa: E731 (sent to where the learner's code runs: it records nothing)

    tried = f"f(z) = z · w + 0.7 with w = {show(w)}, x = {show(x)}, n_samples = 300, kernel_width = 0.5, seed = 0"
    out = call(lime_surrogate, f_linear, x, n_samples=300, kernel_width=0.5, seed=0, tried=tried)
    coef, intercept = _lime_pair(out, tried, 5, d)
    expect(_close(coef, w, atol=1e-6, rtol=0), "the coefficients of a linear f are not recovered.", tried=tried,
           expected=show(w), received=show(coef),
           hint="fit a weighted least squares of f(z) on [1, z - x] (torch.linalg.lstsq on rows scaled by √weight): "
                "with f linear every sample lies on the plane, so any positive weights give w back exactly")
    fx = x @ w + 0.7
    expect(abs(float(intercept) - float(fx)) < 1e-6, "the intercept should be the surrogate's value at x, f(x).",
           tried=tried, expected=f"{float(fx):.6g}", received=f"{float(intercept):.6g}",
           hint="the surrogate is intercept + coef · (z - x): regress on the offsets z - x, not on z" if
           abs(float(intercept) - 0.7) < 1e-6 else "regress f(z) on [1, z - x]")
    # 2. locality: f = exp(z0) at 0; slope 1 there; a wide kernel fits the global slope e^{1/2} ≈ 1.65.
    f_exp = lambda z: torch.exp(z[:, 0])  # noqa: E731
    x0 = torch.zeros(2, dtype=d)
    got = {}
    for width in (0.2, 1.0, 100.0):
        tried = f"f(z) = exp(z0), x = (0, 0), n_samples = 2000, kernel_width = {width}, seed = 1"
        got[width] = _lime_pair(call(lime_surrogate, f_exp, x0, n_samples=2000, kernel_width=width, seed=1,
                                     tried=tried), tried, 2, d)[0]
    narrow, mid, wide = got[0.2][0].item(), got[1.0][0].item(), got[100.0][0].item()
    expect(abs(narrow - 1) < 0.05 and 1.05 < mid < 1.4 and abs(wide - math.exp(0.5)) < 0.25
           and all(abs(c[1].item()) < 0.05 for c in got.values()),
           "the kernel does not make the fit local.", tried="f(z) = exp(z0) at x = 0, kernel_width 0.2, 1 and 100",
           expected="slope ≈ 1 (the derivative at x) with width 0.2, ≈ 1.65 (the global least squares) with width 100, "
                    "and ≈ 0 for z1, which f does not read",
           received=f"{narrow:.4g}, {mid:.4g} (width 1, expected about 1.19) and {wide:.4g}; for z1: "
                    + ", ".join(f"{c[1].item():.3g}" for c in got.values()),
           hint=("the weights look unused or equal: π(z) = exp(-‖z - x‖² / kernel_width²) must multiply each "
                 "sample's squared error" if abs(narrow - wide) < 0.05 else
                 "π(z) = exp(-‖z - x‖² / kernel_width²): nearer samples weigh more (check the sign and the square)"))
    # 2b. the spec fixes the draw, the kernel and the fit: the exact numbers at a middle width
    f_tanh = lambda z: torch.tanh(z @ w)  # noqa: E731
    tried = ("f(z) = tanh(z · w), x random (5,), n_samples = 400, kernel_width = 0.8, seed = 2; the check draws "
             "eps = torch.randn(400, 5, generator=torch.Generator().manual_seed(2), dtype=float64) as the spec says")
    rng = torch.get_rng_state()
    got = _lime_pair(call(lime_surrogate, f_tanh, x, n_samples=400, kernel_width=0.8, seed=2, tried=tried),
                     tried, 5, d)
    expect(torch.equal(torch.get_rng_state(), rng), "your function moved the global random generator.", tried=tried,
           expected="torch's global random state as it was", received="it changed (torch.manual_seed or a draw "
           "without generator=)", hint="draw only from your own torch.Generator().manual_seed(seed): the spec "
           "leaves the global random state untouched, so the learner's other cells draw what they drew before")
    want, mistakes = _lime_reference(f_tanh, x, 400, 0.8, 2)
    expect(_close(got[0], want[1:], atol=1e-6, rtol=0) and abs(float(got[1]) - float(want[0])) < 1e-6,
           "the surrogate differs from the weighted least-squares fit the spec describes.", tried=tried,
           expected=f"coef {show(want[1:])}, intercept {float(want[0]):.6g}",
           received=f"coef {show(got[0])}, intercept {float(got[1]):.6g}",
           hint=_name(got[0], mistakes, "π = exp(-‖z - x‖² / kernel_width²) (the squared distance, divided by the "
                      "squared width), and rows scaled by √π before torch.linalg.lstsq"))
    # 3. seeds.
    tried = "f(z) = tanh(z · w), x random (5,), n_samples = 200, kernel_width = 1, seeds 3, 3 and 4"
    a = _lime_pair(call(lime_surrogate, f_tanh, x, n_samples=200, kernel_width=1.0, seed=3, tried=tried), tried, 5, d)
    b = _lime_pair(call(lime_surrogate, f_tanh, x, n_samples=200, kernel_width=1.0, seed=3, tried=tried), tried, 5, d)
    c = _lime_pair(call(lime_surrogate, f_tanh, x, n_samples=200, kernel_width=1.0, seed=4, tried=tried), tried, 5, d)
    expect(torch.equal(a[0], b[0]), "two calls with the same seed gave different coefficients.", tried=tried,
           received=f"{show(a[0])} and {show(b[0])}",
           hint="draw the perturbations from torch.Generator().manual_seed(seed), not from the global generator")
    expect(not torch.equal(a[0], c[0]), "two different seeds gave the same coefficients.", tried=tried,
           received=show(a[0]), hint="use the seed argument to seed the generator")


# ====================================================================== fgsm_sanity

# ---------------------------------------------------------------- shared

def _watch_model(fn, model, **kwargs):
    """Run the learner's function next to the model (in the learner's kernel under the graders) and report
    what a returned value cannot show: the parameters' .grad, weights, mode and hooks, the inputs' requires_grad."""
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    hooks, training = count_hooks(model), model.training
    frozen = [p.requires_grad for p in model.parameters()]
    inputs_rg = [a.requires_grad for a in kwargs.values() if isinstance(a, torch.Tensor)]
    result = fn(model, *kwargs.values())  # the learner's arguments, in order, passed by keyword to name them
    return {"result": result.detach() if isinstance(result, torch.Tensor) else result,
            "result_requires_grad": bool(isinstance(result, torch.Tensor) and result.requires_grad),
            "grads": [name for name, p in model.named_parameters() if p.grad is not None],
            "changed": [k for k, v in model.state_dict().items() if not torch.equal(v, weights[k])],
            "hooks": [hooks, count_hooks(model)], "training": [training, model.training],
            "requires_grad": [frozen, [p.requires_grad for p in model.parameters()]],
            "inputs_requires_grad": [inputs_rg, [a.requires_grad for a in kwargs.values() if isinstance(a, torch.Tensor)]]}


def _expect_untouched(seen: dict, tried: str, *, what: str,
                      weights_hint: str = "perturb the input only; never step the model's parameters") -> None:
    expect(not seen["grads"], "your function left gradients on the model's parameters (their .grad).",
           tried=tried, expected="every parameter's .grad still None", received=", ".join(seen["grads"][:4]),
           hint=f"{what}: ask autograd for the gradient of the input alone, torch.autograd.grad(loss, x_adv), "
                "instead of loss.backward(), which also fills every weight's .grad")
    expect(not seen["changed"], "your function changed the model's weights.", tried=tried,
           expected="the model exactly as it was", received="changed: " + ", ".join(seen["changed"]),
           hint=weights_hint)
    expect(seen["hooks"][0] == seen["hooks"][1], "your function left a hook attached to the model.", tried=tried,
           expected=f"{seen['hooks'][0]} hooks", received=f"{seen['hooks'][1]} hooks",
           hint="remove every hook you register (handle.remove() in a `finally:` block)")
    expect(seen["training"][0] == seen["training"][1], "your function changed the model's mode (train/eval).",
           tried=tried, hint="leave model.train()/model.eval() alone")
    expect(seen["requires_grad"][0] == seen["requires_grad"][1],
           "your function changed requires_grad on the model's parameters.", tried=tried,
           hint="leave the parameters' requires_grad as they were: autograd.grad with respect to the input "
                "does not need them frozen")


# ---------------------------------------------------------------- 06.10 fgsm

def _linear2(g, d=12, dtype=torch.float64):
    model = nn.Sequential(nn.Flatten(), nn.Linear(d, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.randn(2, d, generator=g))
        model[1].bias.copy_(torch.randn(2, generator=g))
    return model.to(dtype).eval()


def _fgsm_example(g, dtype, device="cpu"):
    model = _linear2(g).to(dtype).to(device)
    x = torch.rand(4, 1, 3, 4, generator=g, dtype=torch.float64).to(dtype).to(device)
    return model, x, torch.tensor([0, 1, 1, 0], device=device), 0.1


def _fgsm_mistakes(model, x, y, epsilon) -> dict:
    """What typical mistakes give on this input: {name: tensor}."""
    with torch.enable_grad():
        def grad_for(labels):
            z = x.detach().clone().requires_grad_(True)
            return torch.autograd.grad(F.cross_entropy(model(z), labels), z)[0]
        g = grad_for(y)
        with torch.no_grad():
            pred = model(x).argmax(dim=-1)
        g_pred = grad_for(pred)
    l2 = g / g.flatten(1).norm(dim=1).clamp_min(1e-300).reshape(-1, *[1] * (x.dim() - 1))
    return {"the opposite sign (x - epsilon * sign(gradient)): that lowers the loss": (x - epsilon * g.sign()).clamp(0, 1),
            "no clamp to the pixel range [0, 1]": x + epsilon * g.sign(),
            "the gradient of the loss for the model's prediction instead of the label y":
                (x + epsilon * g_pred.sign()).clamp(0, 1),
            "a step along the raw gradient, not its sign": (x + epsilon * g).clamp(0, 1),
            "an L2-normalised step (that is the L2 attack, not the L-infinity one)": (x + epsilon * l2).clamp(0, 1),
            "pixels whose gradient is exactly 0 moved too: their sign is 0 (torch.sign), not +1 or -1":
                (x + epsilon * torch.where(g > 0, 1.0, -1.0).to(x.dtype)).clamp(0, 1)}


def _fgsm_hint(out, mistakes, default: str) -> str:
    for name, value in mistakes.items():
        if isinstance(out, torch.Tensor) and out.shape == value.shape and \
                torch.allclose(out.detach().double(), value.detach().double(), atol=1e-9, rtol=1e-7):
            return f"your result equals {name}"
    return default


FGSM_RECIPE = ("copy x, detach it, set requires_grad on the copy; loss = cross-entropy of model(copy) against y; "
               "grad = torch.autograd.grad(loss, copy); return (x + epsilon * grad.sign()).clamp(0, 1), detached")


def _fgsm_call(fgsm, model, x, y, epsilon, tried):
    seen = call(inside, _watch_model, fgsm, model, x=x, y=y, epsilon=epsilon, tried=tried)
    out = seen["result"]
    expect_tensor(out, shape=tuple(x.shape), dtype=x.dtype, tried=tried, name="the adversarial image",
                  hint="return a tensor shaped and typed like x: x + epsilon * sign(gradient), clamped")
    _expect_untouched(seen, tried, what="only the input needs a gradient")
    expect(seen["inputs_requires_grad"][1][0] is False, "after your call, the caller's x requires grad.",
           tried=tried, expected="x.requires_grad still False",
           hint="x.requires_grad_() switches it on for the caller's tensor too: work on a copy, "
                "x_adv = x.detach().clone().requires_grad_(True)")
    expect(not seen["result_requires_grad"], "the adversarial image still requires grad.", tried=tried,
           expected="a detached tensor", hint="return the result .detach()ed (or computed under torch.no_grad())")
    return out


@exercise("06.10", "fgsm", points=2, difficulty=1, minutes=15,
          example=_fgsm_example, meta=True, forbidden=("captum.robust.FGSM.perturb",),
          edge_cases=(EdgeCase("epsilon = 0: no perturbation, the image comes back as it was",
                               lambda: _fgsm_example(generator("06.10", 5), torch.float64)[:3] + (0.0,),
                               close_to(lambda model, x, y, eps: x, atol=0.0),
                               hint="with epsilon 0 the result is x itself (clamped, and x is already in [0, 1])"),))
def check_fgsm(fgsm):
    g = generator("06.10")
    # 1. a linear model with two classes: the gradient's sign is sign(w[other] - w[y]), known exactly
    model = _linear2(g)
    with torch.no_grad():  # two pixels that neither class reads: the gradient there is exactly 0
        model[1].weight[:, [2, 7]] = 0.0
    w = model[1].weight.detach()
    x = 0.25 + 0.5 * torch.rand(6, 1, 3, 4, generator=g, dtype=torch.float64)
    with torch.no_grad():
        pred = model(x).argmax(dim=-1)
    y = torch.where(torch.arange(6) % 2 == 0, pred, 1 - pred)  # half the labels disagree with the prediction
    tried = ("a linear model (flatten, Linear 12 -> 2) with known weights w, 0 for both classes at pixels 2 and 7 "
             "(a zero gradient there: those pixels must not move), x [6, 1, 3, 4] float64 in [0.25, 0.75], "
             f"y={y.tolist()} (three of them not the model's prediction), epsilon=0.1")
    out = _fgsm_call(fgsm, model, x, y, 0.1, tried)
    direction = (w[1 - y] - w[y]).sign().reshape(x.shape)
    expected = (x + 0.1 * direction).clamp(0, 1)
    expect_close(out, expected, tried=tried, atol=1e-12, problem="the adversarial images are wrong.",
                 hint=_fgsm_hint(out, _fgsm_mistakes(model, x, y, 0.1), FGSM_RECIPE)
                 + " (for two classes the loss's input gradient is p_other * (w[other] - w[y]): its sign is "
                   "sign(w[other] - w[y]))")
    # 2. near the bounds with a large budget: the clamp matters
    xb = torch.rand(6, 1, 3, 4, generator=g, dtype=torch.float64).round() * 0.9 + 0.05  # pixels 0.05 or 0.95
    tried2 = tried.replace("in [0.25, 0.75]", "with pixels 0.05 or 0.95").replace("epsilon=0.1", "epsilon=0.5")
    out2 = _fgsm_call(fgsm, model, xb, y, 0.5, tried2)
    expected2 = (xb + 0.5 * direction).clamp(0, 1)
    expect(out2.min().item() >= 0 and out2.max().item() <= 1, "the adversarial image leaves the pixel range [0, 1].",
           tried=tried2, expected="every pixel in [0, 1]",
           received=f"pixels from {out2.min().item():.3g} to {out2.max().item():.3g}",
           hint="clamp the result: (x + epsilon * grad.sign()).clamp(0, 1); the planted images live in [0, 1]")
    expect_close(out2, expected2, tried=tried2, atol=1e-12, problem="the adversarial images are wrong.",
                 hint=_fgsm_hint(out2, _fgsm_mistakes(model, xb, y, 0.5), FGSM_RECIPE))
    # 3. a CNN with random weights in float64: the budget, the range, the direction, the loss, the flips
    cnn = seeded_cnn(4110, in_channels=3, n_classes=3, image_size=16).double()
    xc = planted_evidence(64, seed=9).images.double()
    yc = torch.randint(3, (64,), generator=g)
    with torch.enable_grad():
        z = xc.clone().requires_grad_(True)
        grad = torch.autograd.grad(F.cross_entropy(cnn(z), yc), z)[0]
    eps = 0.03
    tried3 = (f"a SmallCNN with seeded random weights (3 channels, 3 classes, 16x16) in float64, x [64, 3, 16, 16] "
              f"planted-evidence images, y random labels, epsilon={eps}")
    out3 = _fgsm_call(fgsm, cnn, xc, yc, eps, tried3)
    mistakes3 = _fgsm_mistakes(cnn, xc, yc, eps)
    delta = out3 - xc
    expect(delta.abs().max().item() <= eps + 1e-12, "a pixel moved by more than the budget epsilon.", tried=tried3,
           expected=f"|x_adv - x| <= {eps} everywhere (the L-infinity ball)",
           received=f"a change of {delta.abs().max().item():.4g}",
           hint=_fgsm_hint(out3, mistakes3, "each pixel moves by epsilon times the sign of its gradient, no more"))
    expect(out3.min().item() >= 0 and out3.max().item() <= 1, "the adversarial image leaves the pixel range [0, 1].",
           tried=tried3, expected="every pixel in [0, 1]", hint="clamp the result to [0, 1]")
    free = ((xc + eps * grad.sign()) >= 0) & ((xc + eps * grad.sign()) <= 1)  # pixels the clamp does not touch
    wrong = free & ((delta - eps * grad.sign()).abs() > 1e-12)
    if wrong.any():
        fail(f"on {int(wrong.sum())} of {int(free.sum())} unclipped pixels, the change is not epsilon times the sign "
             "of the loss's input gradient.", tried=tried3,
             expected="x_adv - x = epsilon * sign(d loss / d x) wherever x + epsilon * sign stays in [0, 1] "
                      "(the check computes the gradient with autograd)",
             received=f"first entries of the change {show(delta[wrong][:6])} where epsilon * sign is "
                      f"{show((eps * grad.sign())[wrong][:6])}",
             hint=_fgsm_hint(out3, mistakes3, FGSM_RECIPE))
    with torch.no_grad():
        before, after = F.cross_entropy(cnn(xc), yc).item(), F.cross_entropy(cnn(out3), yc).item()
    expect(after > before, "the attack does not raise the loss.", tried=tried3,
           expected=f"a mean cross-entropy above {before:.4g}", received=f"{after:.4g}",
           hint=_fgsm_hint(out3, mistakes3, "step *up* the gradient of the loss: x + epsilon * sign(grad)"))
    # 4. the fraction of predictions flipped grows with epsilon
    with torch.no_grad():
        clean = cnn(xc).argmax(dim=-1)
    fractions = []
    for e in (0.0, 0.003, 0.01, 0.03, 0.1):
        tried4 = tried3.replace(f"epsilon={eps}", f"epsilon={e}").replace("y random labels", "y the model's predictions")
        adv = _fgsm_call(fgsm, cnn, xc, clean, e, tried4)
        with torch.no_grad():
            fractions.append((cnn(adv).argmax(dim=-1) != clean).double().mean().item())
    grows = fractions[0] == 0 and all(b >= a for a, b in zip(fractions, fractions[1:])) and fractions[-1] > 0.5
    expect(grows, "the fraction of flipped predictions does not grow with epsilon as it should.",
           tried=tried3.replace(f"epsilon={eps}", "epsilon in (0, 0.003, 0.01, 0.03, 0.1)").replace(
               "y random labels", "y the model's predictions"),
           expected="0 flipped at epsilon 0, then a fraction that never falls and passes 0.5 by epsilon 0.1",
           received="fractions " + ", ".join(f"{f:.2f}" for f in fractions),
           hint="the attack must push each image *away* from its label y: add epsilon * sign of the gradient of "
                "the cross-entropy against y")


# ---------------------------------------------------------------- 06.9 sanity_check

SC_LAYERS = ["conv1", "conv2", "fc"]
SC_FORBIDDEN = ("scipy.stats.spearmanr", "scipy.stats.rankdata", "scipy.stats._stats_py.spearmanr",
                "scipy.stats._stats_py.rankdata", "scipy.stats.mstats.spearmanr", "scipy.stats.mstats.rankdata")


def _planted_map(randomised: list, shape: tuple, n_layers: int, dtype) -> torch.Tensor:
    """The map the check plants for a model whose layers ``randomised`` (indices into the layer list) differ
    from the original's: integer levels 0..4 (many ties), cubed (so that Pearson differs from Spearman), with
    a scale and an offset per image (so that one correlation pooled over the batch differs from their mean).
    Every set of randomised layers replaces its own share of the levels, drawn from a generator of its own."""
    n, d = shape[0], math.prod(shape[1:])
    levels = torch.randint(5, (n, d), generator=torch.Generator().manual_seed(606))
    if randomised:
        key = sum(1 << i for i in randomised)
        gk = torch.Generator().manual_seed(6060 + key)
        replace = torch.rand(n, d, generator=gk) < 0.2 + 0.6 * len(randomised) / n_layers
        levels = torch.where(replace, torch.randint(5, (n, d), generator=gk), levels)
    scale = torch.arange(1, n + 1, dtype=torch.float64)[:, None]
    return ((levels.double() ** 3) * scale + 3.0 * scale).reshape(shape).to(dtype)


class PlantedMaps:
    """An attribution function for the check: it finds which of ``layers`` of the model it receives differ from
    the original model's (any parameter changed) and returns the map planted for that set of layers."""

    def __init__(self, model: nn.Module, layers: list):
        self.layers = list(layers)
        self.reference = {name: [p.detach().clone() for p in model.get_submodule(name).parameters()]
                          for name in self.layers}

    def randomised(self, model: nn.Module) -> list:
        return [i for i, name in enumerate(self.layers)
                if any(p.shape != q.shape or not torch.equal(p.detach().to(q.dtype), q)
                       for p, q in zip(model.get_submodule(name).parameters(), self.reference[name]))]

    def __call__(self, model, x, target):
        return _planted_map(self.randomised(model), tuple(x.shape), len(self.layers), x.dtype)


class SpecDraws(PlantedMaps):
    """PlantedMaps that also checks the redrawn values: every parameter of every randomised layer must be the
    spec's draw (one generator seeded with ``seed``, layers from the top, weight then bias, 0.1 * randn). A step
    whose values differ gets the planted map negated, so its correlation turns negative."""

    def __init__(self, model: nn.Module, layers: list, seed: int):
        super().__init__(model, layers)
        g = torch.Generator().manual_seed(seed)
        self.draws = {name: [0.1 * torch.randn(q.shape, generator=g, dtype=q.dtype) for q in self.reference[name]]
                      for name in reversed(self.layers)}

    def __call__(self, model, x, target):
        randomised = self.randomised(model)
        exact = all(torch.equal(p.detach(), want) for i in randomised
                    for p, want in zip(model.get_submodule(self.layers[i]).parameters(), self.draws[self.layers[i]]))
        planted = _planted_map(randomised, tuple(x.shape), len(self.layers), x.dtype)
        return planted if exact else -planted


def input_itself(model, x, target):
    """An 'attribution' that ignores the model: the input itself."""
    return x.detach().clone()


def saliency_abs(model, x, target):
    """|d logit_target / d x| summed over channels, computed by the check (not with Captum)."""
    with torch.enable_grad():
        z = x.detach().clone().requires_grad_(True)
        out = model(z)
        t = torch.as_tensor(target).expand(x.shape[0]) if torch.as_tensor(target).dim() == 0 else target
        picked = out.gather(1, torch.as_tensor(t).reshape(-1, 1)).sum()
        grad, = torch.autograd.grad(picked, z)
    return grad.abs().sum(dim=1)


def _spearman_mean(a: torch.Tensor, b: torch.Tensor, how: str = "spearman") -> float:
    """The reference: scipy's Spearman correlation per image, averaged (and what typical mistakes compute)."""
    from scipy import stats
    a = a.detach().double().reshape(a.shape[0], -1).numpy()
    b = b.detach().double().reshape(b.shape[0], -1).numpy()
    if how == "pooled":
        return float(stats.spearmanr(a.ravel(), b.ravel())[0])
    values = []
    for u, v in zip(a, b):
        if how == "spearman":
            values.append(stats.spearmanr(u, v)[0])
        elif how == "pearson":
            values.append(stats.pearsonr(u, v)[0])
        elif how == "ordinal":  # the ranks argsort().argsort() gives, as a learner would compute them
            ru, rv = (torch.from_numpy(w).argsort().argsort().double().numpy() for w in (u, v))
            values.append(stats.pearsonr(ru, rv)[0])
    return float(sum(values) / len(values))


def _cascade_sets(n_layers: int, how: str) -> list:
    if how == "bottom first":
        return [list(range(k)) for k in range(1, n_layers + 1)]
    if how == "not cumulative":
        return [[n_layers - k] for k in range(1, n_layers + 1)]
    return [list(range(n_layers - k, n_layers)) for k in range(1, n_layers + 1)]  # from the top, cumulative


def _sc_expected(shape, n_layers, dtype=torch.float64) -> tuple[torch.Tensor, dict]:
    """The right correlations for the planted maps, and what typical mistakes give: {name: tensor}."""
    maps = lambda sets: [_planted_map(s, shape, n_layers, dtype) for s in sets]  # noqa: E731
    original = _planted_map([], shape, n_layers, dtype)
    right_maps = maps(_cascade_sets(n_layers, "top first"))
    row = lambda ms, how="spearman": torch.tensor([_spearman_mean(original, m, how) for m in ms],  # noqa: E731
                                                  dtype=torch.float64)
    right = row(right_maps)
    mistakes = {
        "the cascade in the wrong order (from the input side; it starts at the output layer, layers[-1])":
            row(maps(_cascade_sets(n_layers, "bottom first"))),
        "one layer randomised at a time (not cumulative: each step must keep the layers randomised before)":
            row(maps(_cascade_sets(n_layers, "not cumulative"))),
        "Pearson's correlation of the maps themselves, not of their ranks": row(right_maps, "pearson"),
        "ranks that break ties by position (argsort of argsort); tied values must share their average rank":
            row(right_maps, "ordinal"),
        "one correlation over the whole batch pooled together; compute one per image and average them":
            row(right_maps, "pooled"),
        "each step compared with the previous step's map, not with the original model's":
            torch.tensor([_spearman_mean(a, b) for a, b in zip([original] + right_maps[:-1], right_maps)],
                         dtype=torch.float64),
    }
    return right, mistakes


def _sc_hint(out, mistakes, default: str) -> str:
    for name, value in mistakes.items():
        if isinstance(out, torch.Tensor) and out.shape == value.shape and \
                torch.allclose(out.detach().double(), value, atol=1e-9):
            return f"your result equals {name}"
    return default


SC_RECIPE = ("reference = the map of the model passed in; copy = copy.deepcopy(model); for name in "
             "reversed(layers): redraw every parameter of copy.get_submodule(name) (keep the earlier ones "
             "randomised), then compare attribution_fn(copy, x, target) with the reference: per image, average "
             "ranks of both flattened maps, Pearson correlation of the ranks, mean over the images")


def _sc_example(g, dtype, device="cpu"):
    model = seeded_cnn(4108, in_channels=1, n_classes=4, image_size=8).to(dtype).to(device)
    return model, torch.rand(3, 1, 8, 8, generator=g, dtype=torch.float64).to(dtype).to(device), 1, \
        PlantedMaps(model, SC_LAYERS), SC_LAYERS


def _sc_one_layer(g=None):
    model, x, target, _, _ = _sc_example(generator("06.9", 3), torch.float64)
    return model, x, target, PlantedMaps(model, ["fc"]), ["fc"]


def _sc_call(sanity_check, model, x, target, fn, layers, tried, **kw):
    seen = call(inside, _watch_model, sanity_check, model, x=x, target=target, attribution_fn=fn, layers=layers,
                tried=tried, **kw) if not kw else \
        call(inside, _watch_seed, sanity_check, model, x=x, target=target, attribution_fn=fn, layers=layers,
             tried=tried, **kw)
    out = seen["result"]
    expect_tensor(out, shape=(len(layers),), dtype=torch.float64, tried=tried, name="the tensor of correlations",
                  hint="return one correlation per randomisation step, torch.tensor([...], dtype=torch.float64): "
                       "as many as there are layers in `layers`")
    _expect_untouched(seen, tried, what="no gradient of the weights is needed",
                      weights_hint="randomise a copy, randomised = copy.deepcopy(model), never the model passed in")
    return out


def _watch_seed(fn, model, *, seed, **kwargs):
    return _watch_model(lambda m, *a: fn(m, *a, seed=seed), model, **kwargs)


@exercise("06.9", "sanity_check", points=3, difficulty=3, minutes=30,
          example=_sc_example, forbidden=SC_FORBIDDEN,
          edge_cases=(EdgeCase("a single layer in `layers`: one correlation", _sc_one_layer,
                               close_to(lambda model, x, target, fn, layers:
                                        _sc_expected(tuple(x.shape), 1)[0], atol=1e-9),
                               hint="with layers=['fc'] there is one step: the top layer randomised"),),
          opt_out={"meta device": "correlations of ranks need values; the per-image ranks have nothing "
                                  "device-specific that the float64 and CPU runs would not catch"})
def check_sanity_check(sanity_check):
    g = generator("06.9")
    model = seeded_cnn(4108, in_channels=1, n_classes=4, image_size=8)
    x = torch.rand(5, 1, 8, 8, generator=g)
    planted = PlantedMaps(model, SC_LAYERS)
    # 1. planted maps: the expected correlation at every step is known (scipy, outside your code)
    tried = ("a SmallCNN (1 channel, 8x8) with seeded random weights, x [5, 1, 8, 8], target=1, "
             f"layers={SC_LAYERS}, and the check's own attribution_fn: it finds which layers of the model it "
             "receives were randomised and returns maps planted for that set (with many tied values)")
    out = _sc_call(sanity_check, model, x, 1, planted, SC_LAYERS, tried)
    right, mistakes = _sc_expected(tuple(x.shape), len(SC_LAYERS), x.dtype)
    expect_close(out, right, tried=tried, atol=1e-9, problem="the correlations are wrong.",
                 hint=_sc_hint(out, mistakes, SC_RECIPE))
    # 1b. the same, with seed=3 and a check that the copy's new values are the spec's draws
    tried1b = tried + ", seed=3; the attribution_fn also compares the randomised layers' values with the spec's draws"
    out = _sc_call(sanity_check, model, x, 1, SpecDraws(model, SC_LAYERS, 3), SC_LAYERS, tried1b, seed=3)
    if not _close(out, right, atol=1e-9, rtol=0):
        expect(bool((out > -1e-9).all()), "the randomised weights are not the values the spec draws.",
               tried=tried1b, expected=show(right), received=show(out) + " (negative: a step whose new weights differ)",
               hint="one g = torch.Generator().manual_seed(seed) for the whole call (not one per layer or per step), "
                    "layers from the top (reversed(layers)), and for each layer EVERY parameter, weight and bias, in "
                    "the order of .parameters(): p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))")
        expect_close(out, right, tried=tried1b, atol=1e-9, problem="the correlations are wrong.",
                     hint=_sc_hint(out, mistakes, SC_RECIPE))
    # 2. an attribution that ignores the model: 1 at every step
    tried2 = tried.split(", and the check's")[0] + ", attribution_fn returning the input itself (ignores the model)"
    out2 = _sc_call(sanity_check, model, x, 1, input_itself, SC_LAYERS, tried2)
    expect_close(out2, torch.ones(len(SC_LAYERS), dtype=torch.float64), tried=tried2, atol=1e-9,
                 problem="a method that ignores the model should keep a correlation of 1 at every step.",
                 hint="the same map twice has Spearman correlation exactly 1: compare each step's map with the "
                      "map of the model as passed in, per image")
    # 3. saliency (the check's own) on the random CNN: falls once layers are redrawn; deterministic under seed
    tried3 = tried.split(", and the check's")[0] + (", attribution_fn = |gradient of the target logit| summed over "
                                                     "channels, seed=0")
    a = _sc_call(sanity_check, model, x, 1, saliency_abs, SC_LAYERS, tried3, seed=0)
    expect(a[-1].item() < 0.5 and bool((a < 1 - 1e-6).all()),
           "saliency barely changes when every layer is redrawn: the layers are not randomised.", tried=tried3,
           expected="correlations below 1, the last one below 0.5", received=show(a),
           hint="redraw every parameter (weight and bias) of each layer of the copy, under torch.no_grad(): "
                "p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))")
    b = _sc_call(sanity_check, model, x, 1, saliency_abs, SC_LAYERS, tried3, seed=0)
    expect(torch.equal(a, b), "two calls with the same seed gave different correlations.",
           tried=tried3 + ", twice", expected=show(a), received=show(b),
           hint="draw the new weights from g = torch.Generator().manual_seed(seed), created once per call, "
                "not from the global random state")
    c = _sc_call(sanity_check, model, x, 1, saliency_abs, SC_LAYERS, tried3.replace("seed=0", "seed=1"), seed=1)
    expect(not torch.equal(a, c), "seed=0 and seed=1 gave the same correlations.",
           tried=tried3 + ", then seed=1", expected="different random weights, different correlations",
           received=show(c), hint="seed the generator you draw the new weights from with the `seed` argument")


# ====================================================================== planted evidence: the finding

FINDING_ID = "06.8"
METHODS = ("saliency", "gradient_times_input", "integrated_gradients", "lrp_epsilon", "occlusion")
EVIDENCE_SEED = 105  # the images the check scores the methods on: not the notebook's


@functools.lru_cache(maxsize=1)
def reference_shares(n: int = 48) -> dict:
    """Captum's attribution of the shipped planted CNN, each method scored by ``evidence_share``.

    Targets are the labels; integrated gradients and gradient × input start from a black image;
    occlusion uses a 3x3 window (the patch's size) with stride 1; LRP runs with the ε-rule on
    every layer of :class:`~mi_helpers.evidence.FlatSmallCNN`. Computed once per process
    (about 0.3 s), before the learner's code runs.
    """
    from captum.attr import LRP, InputXGradient, IntegratedGradients, Occlusion, Saliency
    from captum.attr._utils.lrp_rules import EpsilonRule

    model = shipped_planted_cnn().double()
    data = planted_evidence(n, seed=EVIDENCE_SEED)
    x, t = data.images.double(), data.labels
    flat = FlatSmallCNN(model)
    for layer in flat.children():
        layer.rule = EpsilonRule(epsilon=1e-6)
    maps = {"saliency": Saliency(model).attribute(x, target=t, abs=True),
            "gradient_times_input": InputXGradient(model).attribute(x, target=t),
            "integrated_gradients": IntegratedGradients(model).attribute(x, target=t, n_steps=32,
                                                                         method="riemann_middle"),
            "lrp_epsilon": LRP(flat).attribute(x, target=t),
            "occlusion": Occlusion(model).attribute(x, target=t, sliding_window_shapes=(3, 3, 3),
                                                    strides=(3, 1, 1))}
    return {name: evidence_share(a, data.masks) for name, a in maps.items()}


def _finding_truth() -> str:
    shares = reference_shares()
    ranked = sorted(shares, key=shares.get)
    # the finding is graded only because it is not close: the least share is far below the next
    assert shares[ranked[1]] - shares[ranked[0]] > 0.1, f"no clear least evidence share: {shares}"
    return ranked[0]


@exercise(FINDING_ID, "least_evidence_method", points=2, difficulty=1, minutes=10,
          opt_out={"inputs unchanged": "it takes no input", "float64": "it returns a name",
                   "edge cases": "it takes no input",
                   "written by hand": "a finding: the check grades the answer, whatever method found it"})
def check_least_evidence_method(least_evidence_method):
    truth = _finding_truth()
    tried = "least_evidence_method(), about the planted CNN (load_planted_cnn()) and its evidence patch"
    out = call(least_evidence_method, tried=tried)
    answer = out.strip().lower() if isinstance(out, str) else None
    expect(answer in METHODS, "the answer should be the name of one method of the table.", tried=tried,
           expected="one of " + ", ".join(f'"{m}"' for m in METHODS), received=describe(out),
           hint="return the method's name as a string, spelt as in the table's rows (the name of your function)")
    if answer == truth:
        return
    shares = reference_shares()
    most = max(shares, key=shares.get)
    if answer == most:
        hint = ("you named the method that puts the MOST of its attribution on the patch; the question asks for "
                "the least")
    else:
        hint = ("compare the methods on the same images with the labels as targets: evidence_share(attribution, "
                "masks) for each method, then take the smallest value; rank, do not eyeball the maps")
    fail(f'"{answer}" is not the method that puts the least of its attribution on the evidence.', tried=tried,
         expected="the method with the smallest evidence share (the check measures it with Captum's "
                  "implementations on other images of the same kind)",
         received=f'"{answer}", whose share the check measures as {shares[answer]:.2f}', hint=hint)
