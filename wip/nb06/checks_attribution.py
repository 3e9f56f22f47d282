"""Checks for notebook 06, sections 2-4: saliency, gradient×input, integrated gradients, LRP-ε and a LIME surrogate.

Every check grades on models whose attributions are known, then against Captum (the course's reference for
attribution), whose ``attribute`` methods raise while the learner's code runs (they may not call them):

- 06.2 ``saliency`` and 06.3 ``gradient_times_input`` try a hand-weighted linear model (saliency |W[target]|,
  gradient×input x * W[target]), a hand-weighted two-layer ReLU net whose active hidden unit the check chooses
  (the gradient is then v[target, active] * W1[active]), a bias-free ReLU net where gradient×input sums to the
  logit (Euler's theorem for a positively homogeneous function), one target for all rows and one per row, and a
  seeded SmallCNN (notebook 04) in float64 against ``captum.attr.Saliency`` / ``InputXGradient``. In the kernel
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
  with gradient × input there as ε -> 0, and ``captum.attr.LRP`` (ε-rule on every layer) on a biased MLP.
- 06.7 ``lime_surrogate``: a linear f recovered to 1e-6 (coefficients and intercept = f(x)), a nonlinear f
  (exp of the first feature) where a narrow kernel gives the local slope and a wide kernel the global fit, the
  same result for the same seed and another for another seed, n_samples honoured (f sees them in one batch).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from mi_helpers.checks.core import (EdgeCase, call, describe, exercise, expect, expect_tensor, fail, generator,
                                    inside, show)
from mi_helpers.checks.nb04 import seeded_cnn
from mi_helpers.hooks import count_hooks

from lib_attribution import SquareModel, linear_model, relu_mlp, seeded_mlp, target_logit

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
    intercept = torch.as_tensor(intercept)
    expect(intercept.numel() == 1, "the intercept should be one number.", tried=tried, received=describe(intercept),
           hint="a 0-d tensor")
    return coef, intercept.reshape(())


@exercise("06.7", "lime_surrogate", points=2, difficulty=2, minutes=20, example=_lime_example,
          forbidden=CAPTUM, opt_out={"meta device": "the perturbations come from a CPU torch.Generator seeded by seed"})
def check_lime_surrogate(lime_surrogate):
    d = torch.float64
    g = generator("06.7")
    w = torch.randn(5, generator=g, dtype=d)
    x = torch.randn(5, generator=g, dtype=d)
    seen = []

    def f_linear(z):
        seen.append(tuple(z.shape))
        return z @ w + 0.7

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
    expect(sum(s[0] for s in seen) == 300, "f did not see n_samples perturbations in all.", tried=tried,
           expected="300 rows in all", received=f"batches {seen}", hint="draw n_samples perturbations")
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
    # 3. seeds.
    tried = "f(z) = tanh(z · w), x random (5,), n_samples = 200, kernel_width = 1, seeds 3, 3 and 4"
    f_tanh = lambda z: torch.tanh(z @ w)  # noqa: E731
    a = _lime_pair(call(lime_surrogate, f_tanh, x, n_samples=200, kernel_width=1.0, seed=3, tried=tried), tried, 5, d)
    b = _lime_pair(call(lime_surrogate, f_tanh, x, n_samples=200, kernel_width=1.0, seed=3, tried=tried), tried, 5, d)
    c = _lime_pair(call(lime_surrogate, f_tanh, x, n_samples=200, kernel_width=1.0, seed=4, tried=tried), tried, 5, d)
    expect(torch.equal(a[0], b[0]), "two calls with the same seed gave different coefficients.", tried=tried,
           received=f"{show(a[0])} and {show(b[0])}",
           hint="draw the perturbations from torch.Generator().manual_seed(seed), not from the global generator")
    expect(not torch.equal(a[0], c[0]), "two different seeds gave the same coefficients.", tried=tried,
           received=show(a[0]), hint="use the seed argument to seed the generator")
