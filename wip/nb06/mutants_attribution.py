"""Plausible wrong implementations of 06.2-06.5 and 06.7; each must be rejected by its check."""
import torch
from torch import nn


def _t(target, n):
    return torch.as_tensor(target).expand(n)


def _g(model, x, target, of="logit"):
    x_ = x.detach().clone().requires_grad_(True)
    out = model(x_)
    if of == "prob":
        out = torch.softmax(out, 1)
    chosen = out.sum() if of == "sum" else out.gather(1, _t(target, out.shape[0])[:, None]).sum()
    return torch.autograd.grad(chosen, x_)[0]


# 06.2 ------------------------------------------------------------------------------------------------------
def sal_signed(model, x, target):  # no abs: the signed gradient
    return _g(model, x, target)


def sal_all_logits(model, x, target):  # target ignored: gradient of the sum of all logits
    return _g(model, x, target, "sum").abs()


def sal_prob(model, x, target):  # gradient of the softmax probability instead of the logit
    return _g(model, x, target, "prob").abs()


def sal_channel_max(model, x, target):  # max over channels: wrong shape
    return _g(model, x, target).abs().amax(1, keepdim=False)


def sal_backward(model, x, target):  # logit.backward(): leaves .grad on the parameters
    x_ = x.detach().clone().requires_grad_(True)
    out = model(x_)
    out.gather(1, _t(target, out.shape[0])[:, None]).sum().backward()
    return x_.grad.abs()


def sal_inplace_requires_grad(model, x, target):  # x.requires_grad_() on the caller's tensor
    x.requires_grad_(True)
    out = model(x)
    g = torch.autograd.grad(out.gather(1, _t(target, out.shape[0])[:, None]).sum(), x)[0]
    return g.abs()


def sal_captum(model, x, target):  # the forbidden library call
    from captum.attr import Saliency
    return Saliency(model).attribute(x, target=target)


def sal_float32(model, x, target):  # float32 in a float64 call
    return _g(model, x, target).abs().float()


def sal_first_target(model, x, target):  # every row gets row 0's target
    t = torch.as_tensor(target).reshape(-1)[0]
    return _g(model, x, int(t)).abs()


# 06.3 ------------------------------------------------------------------------------------------------------
def gxi_grad_only(model, x, target):  # forgot to multiply by x
    return _g(model, x, target)


def gxi_abs(model, x, target):  # |grad × input|
    return (x * _g(model, x, target)).abs()


def gxi_saliency_times_x(model, x, target):  # x times |grad|
    return x * _g(model, x, target).abs()


def gxi_all_logits(model, x, target):  # target ignored
    return x * _g(model, x, target, "sum")


def gxi_inplace(model, x, target):  # multiplies the caller's x in place
    g = _g(model, x, target)
    return x.mul_(g)


def gxi_backward(model, x, target):  # leaves .grad on the parameters
    x_ = x.detach().clone().requires_grad_(True)
    out = model(x_)
    out.gather(1, _t(target, out.shape[0])[:, None]).sum().backward()
    return x * x_.grad


def gxi_captum(model, x, target):  # forbidden
    from captum.attr import InputXGradient
    return InputXGradient(model).attribute(x, target=target)


def gxi_float32(model, x, target):  # computed in float32
    return (x.float() * _g(model, x, target).float()).to(x.dtype)


# 06.4 ------------------------------------------------------------------------------------------------------
def _ig(model, x, target, baseline, steps, alphas, factor="diff", mean=True):
    b = torch.zeros_like(x) if baseline is None else baseline
    total = torch.zeros_like(x)
    for a in alphas:
        total = total + _g(model, b + a * (x - b), target)
    avg = total / steps if mean else total
    return {"diff": (x - b) * avg, "x": x * avg, "none": avg, "neg": (b - x) * avg}[factor]


def ig_left(model, x, target, baseline=None, steps=50):  # left Riemann sum
    return _ig(model, x, target, baseline, steps, [k / steps for k in range(steps)])


def ig_right(model, x, target, baseline=None, steps=50):  # right Riemann sum
    return _ig(model, x, target, baseline, steps, [(k + 1) / steps for k in range(steps)])


def ig_no_factor(model, x, target, baseline=None, steps=50):  # average gradient, not times (x - baseline)
    return _ig(model, x, target, baseline, steps, [(k + .5) / steps for k in range(steps)], "none")


def ig_times_x(model, x, target, baseline=None, steps=50):  # times x instead of (x - baseline)
    return _ig(model, x, target, baseline, steps, [(k + .5) / steps for k in range(steps)], "x")


def ig_ignores_baseline(model, x, target, baseline=None, steps=50):  # baseline argument ignored
    return _ig(model, x, target, None, steps, [(k + .5) / steps for k in range(steps)])


def ig_sum(model, x, target, baseline=None, steps=50):  # sum of gradients, not the mean
    return _ig(model, x, target, baseline, steps, [(k + .5) / steps for k in range(steps)], mean=False)


def ig_sign(model, x, target, baseline=None, steps=50):  # (baseline - x): sign flipped
    return _ig(model, x, target, baseline, steps, [(k + .5) / steps for k in range(steps)], "neg")


def ig_few_steps(model, x, target, baseline=None, steps=3):  # default step count too small for completeness
    return _ig(model, x, target, baseline, steps, [(k + .5) / steps for k in range(steps)])


def ig_steps_ignored(model, x, target, baseline=None, steps=50):  # steps argument ignored (always 50)
    return _ig(model, x, target, baseline, 50, [(k + .5) / 50 for k in range(50)])


def ig_captum(model, x, target, baseline=None, steps=50):  # forbidden
    from captum.attr import IntegratedGradients
    return IntegratedGradients(model).attribute(x, baseline, target=target, n_steps=steps, method="riemann_middle")


# 06.5 ------------------------------------------------------------------------------------------------------
def _lrp(model, x, target, eps=1e-6, return_layers=False, *, stab="sign", bias=True, start="logit",
         relu_rel=False, times_a=True):
    with torch.no_grad():
        acts, a = [], x
        for layer in model:
            if isinstance(layer, nn.Linear):
                acts.append(a)
            a = layer(a)
        t = _t(target, a.shape[0])
        val = a.gather(1, t[:, None]) if start == "logit" else torch.ones_like(a.gather(1, t[:, None]))
        R = torch.zeros_like(a).scatter(1, t[:, None], val) if start != "all" else a.clone()
        rel = [R]
        for layer, a in zip(reversed([m for m in model if isinstance(m, nn.Linear)]), reversed(acts)):
            z = layer(a) if bias else a @ layer.weight.T
            den = z + eps * torch.where(z >= 0, 1.0, -1.0).to(z.dtype) if stab == "sign" else z + eps
            R = (a if times_a else 1) * ((R / den) @ layer.weight)
            if relu_rel:
                R = R.clamp(min=0)
            rel.insert(0, R)
    return (rel[0], rel) if return_layers else rel[0]


def lrp_eps_no_sign(model, x, target, eps=1e-6, return_layers=False):  # z + eps, not z + eps·sign(z)
    return _lrp(model, x, target, eps, return_layers, stab="plain")


def lrp_no_bias(model, x, target, eps=1e-6, return_layers=False):  # z without the bias
    return _lrp(model, x, target, eps, return_layers, bias=False)


def lrp_start_one(model, x, target, eps=1e-6, return_layers=False):  # output relevance 1, not the logit
    return _lrp(model, x, target, eps, return_layers, start="one")


def lrp_all_logits(model, x, target, eps=1e-6, return_layers=False):  # every logit as output relevance
    return _lrp(model, x, target, eps, return_layers, start="all")


def lrp_clamped(model, x, target, eps=1e-6, return_layers=False):  # negative relevance cut at each layer
    return _lrp(model, x, target, eps, return_layers, relu_rel=True)


def lrp_no_activation(model, x, target, eps=1e-6, return_layers=False):  # forgot the factor a_j
    return _lrp(model, x, target, eps, return_layers, times_a=False)


def lrp_grad_x_input(model, x, target, eps=1e-6, return_layers=False):  # gradient × input passed off as LRP
    r = x * _g(model, x, target)
    return (r, [r]) if return_layers else r


def lrp_captum(model, x, target, eps=1e-6, return_layers=False):  # forbidden
    from captum.attr import LRP
    return LRP(model).attribute(x, target=target)


def lrp_float32(model, x, target, eps=1e-6, return_layers=False):  # float32 arithmetic
    out = _lrp(model.float(), x.float(), target, eps, return_layers)
    model.double()
    return (out[0].double(), [r.double() for r in out[1]]) if return_layers else out.double()


# 06.7 ------------------------------------------------------------------------------------------------------
def _lime(f, x, n_samples, kernel_width, seed, *, kernel="ok", offsets=True, gen="seed", dtype=None):
    g = torch.Generator().manual_seed(seed)
    dt = dtype or x.dtype
    noise = torch.randn(n_samples, x.shape[0], generator=g, dtype=dt) if gen == "seed" else \
        torch.randn(n_samples, x.shape[0], dtype=dt)
    z = x.to(dt) + noise
    y = f(z.to(x.dtype)).reshape(-1).to(dt)
    d2 = (noise ** 2).sum(1)
    w = {"ok": torch.exp(-d2 / kernel_width ** 2), "none": torch.ones_like(d2),
         "inverted": torch.exp(d2 / kernel_width ** 2).clamp(max=1e300)}[kernel]
    feats = noise if offsets else z
    A = torch.cat([torch.ones(n_samples, 1, dtype=dt), feats], 1)
    sw = w.sqrt()[:, None]
    sol = torch.linalg.lstsq(A * sw, y[:, None] * sw).solution[:, 0]
    return sol[1:].to(x.dtype), sol[0].to(x.dtype)


def lime_no_kernel(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):  # weights ignored: a global fit
    return _lime(f, x, n_samples, kernel_width, seed, kernel="none")


def lime_inverted_kernel(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):  # exp(+d²/w²): far samples weigh more
    return _lime(f, x, n_samples, kernel_width, seed, kernel="inverted")


def lime_raw_features(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):  # regresses on z: intercept is f(0)
    return _lime(f, x, n_samples, kernel_width, seed, offsets=False)


def lime_global_rng(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):  # seed ignored: global generator
    return _lime(f, x, n_samples, kernel_width, seed, gen="global")


def lime_float32(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):  # float32 samples and fit
    return _lime(f, x, n_samples, kernel_width, seed, dtype=torch.float32)


def lime_unweighted_lstsq(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):  # weights multiply y only
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(n_samples, x.shape[0], generator=g, dtype=x.dtype)
    y = f(x + noise).reshape(-1)
    w = torch.exp(-(noise ** 2).sum(1) / kernel_width ** 2)
    A = torch.cat([torch.ones(n_samples, 1, dtype=x.dtype), noise], 1)
    sol = torch.linalg.lstsq(A, (w * y)[:, None]).solution[:, 0]
    return sol[1:], sol[0]


def lime_half_samples(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):  # off by a factor: n_samples // 2
    return _lime(f, x, n_samples // 2, kernel_width, seed)


MUTANTS = {
    "06.2": [sal_signed, sal_all_logits, sal_prob, sal_channel_max, sal_backward, sal_inplace_requires_grad,
             sal_captum, sal_float32, sal_first_target],
    "06.3": [gxi_grad_only, gxi_abs, gxi_saliency_times_x, gxi_all_logits, gxi_inplace, gxi_backward, gxi_captum,
             gxi_float32],
    "06.4": [ig_left, ig_right, ig_no_factor, ig_times_x, ig_ignores_baseline, ig_sum, ig_sign, ig_few_steps,
             ig_steps_ignored, ig_captum],
    "06.5": [lrp_eps_no_sign, lrp_no_bias, lrp_start_one, lrp_all_logits, lrp_clamped, lrp_no_activation,
             lrp_grad_x_input, lrp_captum, lrp_float32],
    "06.7": [lime_no_kernel, lime_inverted_kernel, lime_raw_features, lime_global_rng, lime_float32,
             lime_unweighted_lstsq, lime_half_samples],
}
