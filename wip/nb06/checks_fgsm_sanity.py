"""Checks for notebook 06 (part "fgsm_sanity"): FGSM (06.9) and sanity checks by cascading randomisation (06.8).

- 06.9 ``fgsm(model, x, y, epsilon)``: on a hand-weighted linear model with two classes the sign of the
  cross-entropy's input gradient is known, ``sign(w[other] - w[y])``, so the adversarial image is known
  exactly: ``clamp(x + epsilon * sign(w[1 - y] - w[y]), 0, 1)``; half the labels disagree with the model's
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
- 06.8 ``sanity_check(model, x, target, attribution_fn, layers, *, seed=0)``: see ``check_sanity_check``.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mi_helpers.checks.core import (EdgeCase, call, close_to, describe, exercise, expect, expect_close,
                                    expect_tensor, fail, generator, inside, show)
from mi_helpers.checks.nb04 import seeded_cnn
from mi_helpers.hooks import count_hooks

sys.path.insert(0, str(Path(__file__).resolve().parent))  # until lib_vis_evidence moves into mi_helpers
from lib_vis_evidence import planted_evidence  # noqa: E402


# ---------------------------------------------------------------- shared

def _watch(fn, model, **kwargs):
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


# ---------------------------------------------------------------- 06.9 fgsm

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
            "an L2-normalised step (that is the L2 attack, not the L-infinity one)": (x + epsilon * l2).clamp(0, 1)}


def _fgsm_hint(out, mistakes, default: str) -> str:
    for name, value in mistakes.items():
        if isinstance(out, torch.Tensor) and out.shape == value.shape and \
                torch.allclose(out.detach().double(), value.detach().double(), atol=1e-9, rtol=1e-7):
            return f"your result equals {name}"
    return default


FGSM_RECIPE = ("copy x, detach it, set requires_grad on the copy; loss = cross-entropy of model(copy) against y; "
               "grad = torch.autograd.grad(loss, copy); return (x + epsilon * grad.sign()).clamp(0, 1), detached")


def _fgsm_call(fgsm, model, x, y, epsilon, tried):
    seen = call(inside, _watch, fgsm, model, x=x, y=y, epsilon=epsilon, tried=tried)
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


@exercise("06.9", "fgsm", points=2, difficulty=1, minutes=15,
          example=_fgsm_example, meta=True, forbidden=("captum.robust.FGSM.perturb",),
          edge_cases=(EdgeCase("epsilon = 0: no perturbation, the image comes back as it was",
                               lambda: _fgsm_example(generator("06.9", 5), torch.float64)[:3] + (0.0,),
                               close_to(lambda model, x, y, eps: x, atol=0.0),
                               hint="with epsilon 0 the result is x itself (clamped, and x is already in [0, 1])"),))
def check_fgsm(fgsm):
    g = generator("06.9")
    # 1. a linear model with two classes: the gradient's sign is sign(w[other] - w[y]), known exactly
    model = _linear2(g)
    w = model[1].weight.detach()
    x = 0.25 + 0.5 * torch.rand(6, 1, 3, 4, generator=g, dtype=torch.float64)
    with torch.no_grad():
        pred = model(x).argmax(dim=-1)
    y = torch.where(torch.arange(6) % 2 == 0, pred, 1 - pred)  # half the labels disagree with the prediction
    tried = ("a linear model (flatten, Linear 12 -> 2) with known weights w, x [6, 1, 3, 4] float64 in [0.25, 0.75], "
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


# ---------------------------------------------------------------- 06.8 sanity_check

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
    model, x, target, _, _ = _sc_example(generator("06.8", 3), torch.float64)
    return model, x, target, PlantedMaps(model, ["fc"]), ["fc"]


def _sc_call(sanity_check, model, x, target, fn, layers, tried, **kw):
    seen = call(inside, _watch, sanity_check, model, x=x, target=target, attribution_fn=fn, layers=layers,
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
    return _watch(lambda m, *a: fn(m, *a, seed=seed), model, **kwargs)


@exercise("06.8", "sanity_check", points=3, difficulty=3, minutes=30,
          example=_sc_example, forbidden=SC_FORBIDDEN,
          edge_cases=(EdgeCase("a single layer in `layers`: one correlation", _sc_one_layer,
                               close_to(lambda model, x, target, fn, layers:
                                        _sc_expected(tuple(x.shape), 1)[0], atol=1e-9),
                               hint="with layers=['fc'] there is one step: the top layer randomised"),),
          opt_out={"meta device": "correlations of ranks need values; the per-image ranks have nothing "
                                  "device-specific that the float64 and CPU runs would not catch"})
def check_sanity_check(sanity_check):
    g = generator("06.8")
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
