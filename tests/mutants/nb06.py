"""Plausible wrong answers to notebook 06 (feature visualisation and attribution); every one must fail its check."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mutants.factory import named


# ---------------------------------------------------------------- 06.1

def _am(mistake):
    def activation_maximisation(model, layer, channel, *, shape=(3, 16, 16), steps=100, lr=0.05, jitter=2, tv_weight=0.1, seed=0):
        g = torch.Generator().manual_seed(seed)
        p = next(model.parameters())
        noise = torch.randn(1, *shape, dtype=p.dtype) if mistake == "global_rng" else \
            torch.randn(1, *shape, generator=g, dtype=p.dtype)
        image = (0.5 + 0.01 * noise).requires_grad_()
        opt = torch.optim.Adam([image], lr=lr)
        store = {}
        handle = model.get_submodule(layer).register_forward_hook(lambda m, i, o: store.update(a=o))
        for _ in range(steps):
            j = 0 if mistake == "no_jitter" else jitter
            dy, dx = torch.randint(-j, j + 1, (2,), generator=g).tolist() if j else (0, 0)
            model(torch.roll(image, (dy, dx), dims=(2, 3)))
            act = store["a"].mean() if mistake == "whole_layer" else store["a"][:, channel].mean()
            tv = ((image[..., 1:, :] - image[..., :-1, :]) ** 2).sum() + ((image[..., 1:] - image[..., :-1]) ** 2).sum()
            sign_act = 1 if mistake == "descent" else -1
            sign_tv = -1 if mistake == "tv_sign" else 1
            loss = sign_act * act + sign_tv * tv_weight * tv
            if mistake == "backward":
                loss.backward()
            else:
                image.grad, = torch.autograd.grad(loss, image)
            opt.step()
            if mistake != "no_clamp":
                with torch.no_grad():
                    image.clamp_(0, 1)
        if mistake != "hook_left":
            handle.remove()
        return image.detach()
    return named("am", activation_maximisation, mistake)


_MUTANTS_0 = {"06.1": [
    _am("descent"),       # sign error: minimises the activation (gradient descent)
    _am("tv_sign"),       # the total-variation penalty subtracted: rewards flicker instead of punishing it
    _am("no_clamp"),      # the image is never clamped to [0, 1]
    _am("backward"),      # loss.backward(): the model's weights get a .grad
    _am("hook_left"),     # the forward hook is never removed
    _am("global_rng"),    # the starting noise from the global random state: the seed changes nothing
    _am("no_jitter"),     # the jitter argument is ignored
    _am("whole_layer"),   # the mean of the whole layer, not of the channel
]}


# ---------------------------------------------------------------- 06.6

def _occ(mistake):
    def occlusion(model, x, target, *, window, stride, baseline=0.0):
        batch, c, H, W = x.shape
        rows = torch.arange(batch)
        t = torch.as_tensor(target).expand(batch)
        if mistake == "argmax_target":
            t = model(x).argmax(-1)
        base = torch.as_tensor(0.0 if mistake == "no_baseline" else baseline, dtype=x.dtype).expand_as(x)
        dtype = torch.float32 if mistake == "float32" else x.dtype
        total = torch.zeros(batch, H, W, dtype=dtype)
        count = torch.zeros(H, W, dtype=dtype)
        with torch.no_grad():
            out = model(x)
            clean = (torch.softmax(out, -1) if mistake == "probability" else out)[rows, t]
            stop = H - window if mistake == "off_by_one" else H - window + 1
            for top in range(0, stop, stride):
                for left in range(0, (W - window if mistake == "off_by_one" else W - window + 1), stride):
                    inside = torch.zeros(H, W, dtype=torch.bool)
                    inside[top:top + window, left:left + window] = True
                    if mistake == "one_channel":
                        where = torch.zeros(c, H, W, dtype=torch.bool)
                        where[0] = inside
                        occluded = torch.where(where, base, x)
                    elif mistake == "inplace":
                        saved = x[:, :, top:top + window, left:left + window].clone()
                        x[:, :, top:top + window, left:left + window] = base[:, :, top:top + window, left:left + window]
                        occluded = x.clone()
                        x[:, :, top:top + window, left:left + window] = saved + 0.0 * saved + (1e-3 if top == 0 and left == 0 else 0)
                    else:
                        occluded = torch.where(inside, base, x)
                    o = model(occluded)
                    o = (torch.softmax(o, -1) if mistake == "probability" else o)[rows, t]
                    drop = o - clean if mistake == "sign" else clean - o
                    total += (drop[:, None, None] * inside).to(dtype)
                    count += inside
        if mistake == "sum":
            return total
        return total / count.clamp_min(1)
    return named("occlusion", occlusion, mistake)


def _occ_captum(model, x, target, *, window, stride, baseline=0.0):
    # calls the forbidden library function
    from captum.attr import Occlusion
    c = x.shape[1]
    return Occlusion(model).attribute(x, target=target, sliding_window_shapes=(c, window, window),
                                      strides=(c, stride, stride), baselines=baseline)[:, 0]


_MUTANTS_0["06.6"] = [
    _occ("sum"),            # the sum of the drops over covering windows, not their mean
    _occ("sign"),           # occluded minus clean: the opposite sign
    _occ("no_baseline"),    # the baseline argument ignored (always 0)
    _occ("probability"),    # the drop of the softmax probability, not of the logit
    _occ("off_by_one"),     # range(0, H - window, stride): the last window row and column forgotten
    _occ("one_channel"),    # only channel 0 occluded
    _occ("argmax_target"),  # the predicted class instead of the target argument
    _occ("float32"),        # accumulates in float32 in a float64 call
    _occ("inplace"),        # writes the baseline into x and restores it imperfectly
    _occ_captum,            # calls captum.attr.Occlusion.attribute
]


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


_MUTANTS_1 = {
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


# ---------------------------------------------------------------- 06.10

def _fgsm(mistake):
    def fgsm(model, x, y, epsilon):
        if mistake == "captum":
            from captum.robust import FGSM
            return FGSM(model, lower_bound=0.0, upper_bound=1.0).perturb(x, epsilon, y).detach()
        if mistake == "inplace_rg":
            z = x.requires_grad_(True)
        else:
            z = x.detach().clone().requires_grad_(True)
        logits = model(z)
        labels = logits.argmax(dim=-1).detach() if mistake == "prediction" else y
        loss = F.cross_entropy(logits, labels)
        if mistake == "backward":
            loss.backward()
            grad = z.grad
        else:
            grad, = torch.autograd.grad(loss, z)
        if mistake == "float32":
            return (x.detach() + epsilon * grad.sign()).clamp(0, 1).float()
        if mistake == "raw_gradient":
            step = epsilon * grad
        elif mistake == "l2":
            step = epsilon * grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).reshape(-1, *[1] * (x.dim() - 1))
        elif mistake == "descent":
            step = -epsilon * grad.sign()
        else:
            step = epsilon * grad.sign()
        if mistake == "inplace":
            with torch.no_grad():
                return x.add_(step).clamp_(0, 1).clone()
        out = (z if mistake == "not_detached" else x.detach()) + step
        if mistake != "no_clamp":
            out = out.clamp(0, 1)
        return out if mistake == "not_detached" else out.detach()
    return named("fgsm", fgsm, mistake)


_MUTANTS_2 = {"06.10": [
    _fgsm("descent"),       # sign error: x - epsilon * sign(grad) lowers the loss
    _fgsm("no_clamp"),      # never clamped to [0, 1]
    _fgsm("prediction"),    # attacks the model's prediction, not the label y
    _fgsm("raw_gradient"),  # epsilon * grad instead of epsilon * sign(grad)
    _fgsm("l2"),            # an L2-normalised step: not the L-infinity attack
    _fgsm("backward"),      # loss.backward(): the model's parameters get a .grad
    _fgsm("inplace_rg"),    # x.requires_grad_() switches on requires_grad for the caller's tensor
    _fgsm("inplace"),       # x.add_(...): edits the caller's image
    _fgsm("float32"),       # returns float32 (.float()) for a float64 input
    _fgsm("not_detached"),  # returns a tensor that still requires grad
    _fgsm("captum"),        # calls captum.robust.FGSM.perturb (forbidden)
]}


# ---------------------------------------------------------------- 06.9

def _sc(mistake):
    import copy

    def sanity_check(model, x, target, attribution_fn, layers, *, seed=0):
        def ranks(v):
            n, d = v.shape
            order = v.argsort(dim=1)
            if mistake == "ordinal":  # ties broken by position
                return order.argsort(dim=1).double() + 1
            if mistake == "scipy":
                from scipy.stats import rankdata
                return torch.as_tensor(rankdata(v.numpy(), axis=1), dtype=torch.float64)
            s = v.gather(1, order)
            new = torch.ones_like(s, dtype=torch.bool)
            new[:, 1:] = s[:, 1:] != s[:, :-1]
            group = new.long().cumsum(dim=1) - 1
            pos = torch.arange(1, d + 1, dtype=torch.float64).expand(n, d)
            total = torch.zeros(n, d, dtype=torch.float64).scatter_add_(1, group, pos)
            count = torch.zeros(n, d, dtype=torch.float64).scatter_add_(1, group, torch.ones_like(pos))
            mean = (total / count.clamp_min(1)).gather(1, group)
            return torch.empty_like(mean).scatter_(1, order, mean)

        def corr(a, b):
            if mistake == "pooled":
                a, b = a.reshape(1, -1), b.reshape(1, -1)
            if mistake != "pearson":
                a, b = ranks(a), ranks(b)
            a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
            return ((a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))).mean()

        flat = lambda m: attribution_fn(m, x, target).detach().reshape(x.shape[0], -1).double()  # noqa: E731
        reference = flat(model)
        g = torch.Generator().manual_seed(0 if mistake == "seed_ignored" else seed)
        rand = model if mistake == "no_copy" else copy.deepcopy(model)
        out, previous = [], reference
        for name in (layers if mistake == "bottom_first" else reversed(layers)):
            if mistake == "not_cumulative":
                rand = copy.deepcopy(model)
            with torch.no_grad():
                params = list(rand.get_submodule(name).parameters())
                for p in params[:1] if mistake == "weight_only" else params:
                    noise = torch.randn(p.shape, dtype=p.dtype) if mistake == "global_rng" else \
                        torch.randn(p.shape, generator=g, dtype=p.dtype)
                    p.copy_(0.1 * noise)
            now = flat(rand)
            out.append(corr(previous if mistake == "vs_previous" else reference, now))
            previous = now
        result = torch.stack(out)
        return result.float() if mistake == "float32" else result
    return named("sanity_check", sanity_check, mistake)


_MUTANTS_2["06.9"] = [
    _sc("bottom_first"),    # the cascade from the input side (layers in forward order)
    _sc("not_cumulative"),  # a fresh copy at every step: one layer randomised at a time
    _sc("pearson"),         # Pearson correlation of the maps, not of their ranks
    _sc("ordinal"),         # argsort().argsort() ranks: ties broken by position
    _sc("pooled"),          # one correlation over the whole batch, not one per image
    _sc("vs_previous"),     # each step compared with the previous step's map, not the original's
    _sc("no_copy"),         # randomises the model passed in (no deepcopy)
    _sc("global_rng"),      # new weights from the global random state: the seed does nothing
    _sc("seed_ignored"),    # a generator seeded with 0 whatever `seed` is
    _sc("float32"),         # returns float32
    _sc("scipy"),           # scipy.stats.rankdata (forbidden)
]


# ---------------------------------------------------------------- 06.8 the finding

def finding_the_most_evidence():
    # reads the table the wrong way round: the method with the largest share
    return "integrated_gradients"


def finding_the_second_least():
    # occlusion looks the most scattered in the pictures, but its share is not the smallest
    return "occlusion"


def finding_a_sentence():
    return "saliency puts the least attribution on the patch"


def finding_the_shares():
    # the table itself, not its reading
    return {"saliency": 0.12, "occlusion": 0.36}


_MUTANTS_3 = {"06.8": [finding_the_most_evidence, finding_the_second_least, finding_a_sentence, finding_the_shares]}


MUTANTS = {**_MUTANTS_0, **_MUTANTS_1, **_MUTANTS_2, **_MUTANTS_3}
