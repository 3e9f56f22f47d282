"""Blind mutants for notebook 06 (feature visualisation and attribution): plausible wrong answers written from
the learner's notebook only. Each mutant carries a one-line comment saying what is wrong. Shared private helpers
(`_act_max`, `_grad_of_logit`, `_ig`, `_lrp`, `_occlusion`, `_lime`, `_sanity`, `_fgsm`, ...) are the correct
code a learner would write, with a few knobs; the mistake of each mutant is in the knob it turns or the code it
adds. The finding (06.8) is computed by a flawed method, with the learner's correct attribution functions as
helpers, rather than hard-coded (one mutant excepted).

Exercises: 06.1 activation_maximisation, 06.2 saliency, 06.3 gradient_times_input, 06.4 integrated_gradients,
06.5 lrp_epsilon, 06.6 occlusion, 06.7 lime_surrogate, 06.8 least_evidence_method, 06.9 sanity_check,
06.10 fgsm.
"""
import copy
import random

import torch
import torch.nn.functional as F
from torch import nn

from mi_helpers.evidence import evidence_share, load_planted_cnn, planted_evidence


def _targets(logits, target):
    """One class per row, whatever target is (correct)."""
    return torch.as_tensor(target, device=logits.device).expand(logits.shape[0])


def _chosen(logits, target):
    t = _targets(logits, target)
    return logits.gather(1, t[:, None]).sum()


# ----------------------------------------------------------------------------- 06.1 activation_maximisation


def _tv(img):
    return ((img[..., 1:, :] - img[..., :-1, :]) ** 2).sum() + ((img[..., 1:] - img[..., :-1]) ** 2).sum()


def _act_max(model, layer, channel, shape, steps, lr, jitter, tv_weight, seed, *, sign_tv=1.0,
             tv=_tv, objective=None, clamp_each_step=True, keep_shift=False, dtype=None, shift_fn=None,
             use_backward=False, remove_hook=True):
    """The learner's loop (correct with the default knobs)."""
    p = next(model.parameters())
    g = torch.Generator().manual_seed(seed)
    image = (0.5 + 0.01 * torch.randn(1, *shape, generator=g, dtype=dtype or p.dtype)).to(p.device)
    image.requires_grad_()
    opt = torch.optim.Adam([image], lr=lr)
    store = {}
    handle = model.get_submodule(layer).register_forward_hook(lambda m, i, o: store.update(a=o))
    try:
        for _ in range(steps):
            if shift_fn is not None:
                dy, dx = shift_fn(g, jitter)
            elif jitter:
                dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=g))
            else:
                dy, dx = 0, 0
            shifted = torch.roll(image, (dy, dx), dims=(2, 3))
            model(shifted)
            act = store["a"]
            gain = act[:, channel].mean() if objective is None else objective(act, channel)
            loss = -gain + sign_tv * tv_weight * tv(image)
            if use_backward:
                opt.zero_grad()
                loss.backward()
            else:
                grad, = torch.autograd.grad(loss, image)
                image.grad = grad
            opt.step()
            with torch.no_grad():
                if clamp_each_step:
                    image.clamp_(0, 1)
                if keep_shift:
                    image.copy_(torch.roll(image, (dy, dx), dims=(2, 3)))
    finally:
        if remove_hook:
            handle.remove()
    return image.detach().clamp(0, 1)


def blind_activation_maximisation_backward(model, layer, channel, *, shape=(3, 16, 16), steps=100, lr=0.05,
                                           jitter=2, tv_weight=0.1, seed=0):
    # WRONG (inplace): loss.backward() instead of autograd.grad: every parameter of the model keeps a .grad.
    return _act_max(model, layer, channel, shape, steps, lr, jitter, tv_weight, seed, use_backward=True)


def blind_activation_maximisation_hook_left(model, layer, channel, *, shape=(3, 16, 16), steps=100, lr=0.05,
                                            jitter=2, tv_weight=0.1, seed=0):
    # WRONG (inplace): never removes its forward hook: the model is left with a hook that fills a dead dict.
    return _act_max(model, layer, channel, shape, steps, lr, jitter, tv_weight, seed, remove_hook=False)


def blind_activation_maximisation_freeze_params(model, layer, channel, *, shape=(3, 16, 16), steps=100, lr=0.05,
                                                jitter=2, tv_weight=0.1, seed=0):
    # WRONG (inplace): model.requires_grad_(False) "so only the image is optimised", never undone.
    model.requires_grad_(False)
    return _act_max(model, layer, channel, shape, steps, lr, jitter, tv_weight, seed)


def blind_activation_maximisation_float32(model, layer, channel, *, shape=(3, 16, 16), steps=100, lr=0.05,
                                          jitter=2, tv_weight=0.1, seed=0):
    # WRONG (dtype): the start image is float32 whatever the model's dtype (torch.randn's default).
    return _act_max(model, layer, channel, shape, steps, lr, jitter, tv_weight, seed, dtype=torch.float32)


def blind_activation_maximisation_exclusive_jitter(model, layer, channel, *, shape=(3, 16, 16), steps=100,
                                                   lr=0.05, jitter=2, tv_weight=0.1, seed=0):
    # WRONG (edge): torch.randint(-jitter, jitter) with no special case: +jitter is never drawn, and jitter=0
    # raises (randint's range is empty).
    def shift(g, jitter):
        return (int(v) for v in torch.randint(-jitter, jitter, (2,), generator=g))
    return _act_max(model, layer, channel, shape, steps, lr, jitter, tv_weight, seed, shift_fn=shift)


def blind_activation_maximisation_global_shifts(model, layer, channel, *, shape=(3, 16, 16), steps=100,
                                                lr=0.05, jitter=2, tv_weight=0.1, seed=0):
    # WRONG (random): draws the shifts with Python's random module, not the seeded generator: not reproducible.
    def shift(g, jitter):
        return random.randint(-jitter, jitter), random.randint(-jitter, jitter)
    return _act_max(model, layer, channel, shape, steps, lr, jitter, tv_weight, seed, shift_fn=shift)


def blind_activation_maximisation_tv_sign(model, layer, channel, *, shape=(3, 16, 16), steps=100, lr=0.05,
                                          jitter=2, tv_weight=0.1, seed=0):
    # WRONG (subtle): "maximise activation + tv_weight * tv" turned into a loss with the TV term's sign flipped:
    # the penalty rewards flicker.
    return _act_max(model, layer, channel, shape, steps, lr, jitter, tv_weight, seed, sign_tv=-1.0)


def blind_activation_maximisation_tv_mean(model, layer, channel, *, shape=(3, 16, 16), steps=100, lr=0.05,
                                          jitter=2, tv_weight=0.1, seed=0):
    # WRONG (subtle): the TV penalty is the mean of the squared differences, not their sum (hundreds of times
    # weaker).
    def tv(img):
        return ((img[..., 1:, :] - img[..., :-1, :]) ** 2).mean() + ((img[..., 1:] - img[..., :-1]) ** 2).mean()
    return _act_max(model, layer, channel, shape, steps, lr, jitter, tv_weight, seed, tv=tv)


def blind_activation_maximisation_whole_layer(model, layer, channel, *, shape=(3, 16, 16), steps=100, lr=0.05,
                                              jitter=2, tv_weight=0.1, seed=0):
    # WRONG (subtle): maximises the mean activation of the whole layer, ignoring `channel`.
    return _act_max(model, layer, channel, shape, steps, lr, jitter, tv_weight, seed,
                    objective=lambda act, channel: act.mean())


def blind_activation_maximisation_keeps_shift(model, layer, channel, *, shape=(3, 16, 16), steps=100, lr=0.05,
                                              jitter=2, tv_weight=0.1, seed=0):
    # WRONG (subtle): keeps the rolled image as the new image (the shifts accumulate) instead of only showing
    # the model a shifted copy.
    return _act_max(model, layer, channel, shape, steps, lr, jitter, tv_weight, seed, keep_shift=True)


# ----------------------------------------------------------------------------- 06.2 saliency


def _grad_of_logit(model, x, target, *, score=None):
    """The signed gradient of the summed target logits (correct with score=None)."""
    x_ = x.detach().clone().requires_grad_(True)
    logits = model(x_)
    if score is not None:
        logits = score(logits)
    grad, = torch.autograd.grad(_chosen(logits, target), x_)
    return grad


def blind_saliency_requires_grad_x(model, x, target):
    # WRONG (inplace): x.requires_grad_() on the caller's tensor: x comes back requiring grad.
    x.requires_grad_(True)
    logits = model(x)
    grad, = torch.autograd.grad(_chosen(logits, target), x)
    return grad.abs()


def blind_saliency_backward(model, x, target):
    # WRONG (inplace): logit.backward(): every parameter of the model is left with a .grad.
    x_ = x.detach().clone().requires_grad_(True)
    _chosen(model(x_), target).backward()
    return x_.grad.abs()


def blind_saliency_float32(model, x, target):
    # WRONG (dtype): returns the map .float(): float64 inputs give a float32 map.
    return _grad_of_logit(model, x, target).abs().float()


def blind_saliency_index_columns(model, x, target):
    # WRONG (subtle): logits[:, target].sum(): with one target per row it sums every row's logits of every
    # listed class, so a row's map mixes in the other rows' classes.
    x_ = x.detach().clone().requires_grad_(True)
    logits = model(x_)
    grad, = torch.autograd.grad(logits[:, torch.as_tensor(target)].sum(), x_)
    return grad.abs()


def blind_saliency_softmax(model, x, target):
    # WRONG (subtle): the gradient of the softmax probability, not of the logit.
    return _grad_of_logit(model, x, target, score=lambda logits: logits.softmax(-1)).abs()


def blind_saliency_max_channels(model, x, target):
    # WRONG (subtle): takes the max over the channels (the display step) inside the function: [batch, 1, H, W].
    grad = _grad_of_logit(model, x, target).abs()
    return grad.amax(dim=1, keepdim=True) if grad.dim() == 4 else grad


def blind_saliency_torch_func(model, x, target):
    # WRONG (builtin): per-row gradients with torch.func.vmap(grad(...)), a forbidden shortcut.
    t = torch.as_tensor(target, device=x.device).expand(x.shape[0])

    def one(xi, ti):
        return model(xi[None])[0, ti]
    return torch.func.vmap(torch.func.grad(one))(x.detach(), t).abs()


def blind_saliency_captum(model, x, target):
    # WRONG (builtin): Captum's Saliency instead of autograd by hand.
    from captum.attr import Saliency
    return Saliency(model).attribute(x, target=target, abs=True).detach()


def blind_saliency_smoothed(model, x, target):
    # WRONG (random): adds a little noise from the global generator "to stabilise the map" (SmoothGrad of one
    # sample): not the gradient at x, and not reproducible.
    noisy = x + 0.01 * torch.randn_like(x)
    return _grad_of_logit(model, noisy, target).abs()


def blind_saliency_squeezed(model, x, target):
    # WRONG (edge): .squeeze() "to drop the channel axis of grey images": a batch of one, or one channel, loses
    # an axis, and the map is no longer shaped like x.
    return _grad_of_logit(model, x, target).abs().squeeze()


# ----------------------------------------------------------------------------- 06.3 gradient_times_input


def blind_gradient_times_input_requires_grad_x(model, x, target):
    # WRONG (inplace): x.requires_grad_() on the caller's tensor instead of on a copy.
    x.requires_grad_(True)
    grad, = torch.autograd.grad(_chosen(model(x), target), x)
    return (x * grad).detach()


def blind_gradient_times_input_backward(model, x, target):
    # WRONG (inplace): logit.backward(): the parameters keep a .grad.
    x_ = x.detach().clone().requires_grad_(True)
    _chosen(model(x_), target).backward()
    return x * x_.grad


def blind_gradient_times_input_float32(model, x, target):
    # WRONG (dtype): runs the product in float32 ("images are float32 anyway").
    return (x.float() * _grad_of_logit(model, x, target).float())


def blind_gradient_times_input_index_target(model, x, target):
    # WRONG (edge): indexes target[:, None]: an int target raises.
    x_ = x.detach().clone().requires_grad_(True)
    logits = model(x_)
    grad, = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), x_)
    return x * grad


def blind_gradient_times_input_captum(model, x, target):
    # WRONG (builtin): Captum's InputXGradient.
    from captum.attr import InputXGradient
    return InputXGradient(model).attribute(x, target=target).detach()


def blind_gradient_times_input_abs(model, x, target):
    # WRONG (subtle): |x * grad|, the sign dropped (as in saliency).
    return (x * _grad_of_logit(model, x, target)).abs()


def blind_gradient_times_input_first_target(model, x, target):
    # WRONG (subtle): uses the first row's target for every row.
    t = int(torch.as_tensor(target).flatten()[0])
    return x * _grad_of_logit(model, x, t)


def blind_gradient_times_input_log_softmax(model, x, target):
    # WRONG (subtle): the gradient of the log-probability, not of the logit.
    return x * _grad_of_logit(model, x, target, score=lambda logits: logits.log_softmax(-1))


def blind_gradient_times_input_channel_sum(model, x, target):
    # WRONG (subtle): sums the product over the channels of an image: [batch, H, W], not x's shape.
    m = x * _grad_of_logit(model, x, target)
    return m.sum(dim=1) if m.dim() == 4 else m


# ----------------------------------------------------------------------------- 06.4 integrated_gradients


def _ig(model, x, target, baseline, steps, *, alphas=None, times=None, score=None):
    """The learner's loop (correct with the default knobs)."""
    b = torch.zeros_like(x) if baseline is None else baseline.to(x.dtype).expand_as(x)
    if alphas is None:
        alphas = [(k + 0.5) / steps for k in range(steps)]
    total = torch.zeros_like(x)
    for a in alphas:
        point = (b + a * (x - b)).detach()
        total = total + _grad_of_logit(model, point, target, score=score)
    return (x - b if times is None else times(x, b)) * total / len(alphas)


def blind_integrated_gradients_detach_alias(model, x, target, baseline=None, steps=50):
    # WRONG (inplace): builds each point with `point = x.detach(); point.mul_(alpha)`, thinking detach copies:
    # it scales the caller's x in place, step after step.
    b = torch.zeros_like(x) if baseline is None else baseline.expand_as(x)
    x0 = x.detach().clone()
    total = torch.zeros_like(x)
    prev = 1.0
    for k in range(steps):
        alpha = (k + 0.5) / steps
        point = x.detach()
        point.mul_(alpha / prev)
        prev = alpha
        total = total + _grad_of_logit(model, b + point - alpha * b, target)
    return (x0 - b) * total / steps


def blind_integrated_gradients_backward(model, x, target, baseline=None, steps=50):
    # WRONG (inplace): .backward() at every point: the parameters are left with the summed .grad.
    b = torch.zeros_like(x) if baseline is None else baseline.expand_as(x)
    total = torch.zeros_like(x)
    for k in range(steps):
        point = (b + (k + 0.5) / steps * (x - b)).detach().requires_grad_(True)
        _chosen(model(point), target).backward()
        total = total + point.grad
    return (x - b) * total / steps


def blind_integrated_gradients_float32_alphas(model, x, target, baseline=None, steps=50):
    # WRONG (dtype): the path points are built from torch.linspace's float32 alphas and cast to float32.
    b = torch.zeros_like(x) if baseline is None else baseline.expand_as(x)
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    total = torch.zeros_like(x, dtype=torch.float32)
    for a in alphas:
        point = (b + a * (x - b)).float()
        total = total + _grad_of_logit(model, point.to(x.dtype), target).float()
    return ((x - b).float() * total / steps)


def blind_integrated_gradients_baseline_or(model, x, target, baseline=None, steps=50):
    # WRONG (edge): `b = baseline or torch.zeros_like(x)`: a tensor baseline raises (ambiguous truth value).
    b = baseline or torch.zeros_like(x)
    return _ig(model, x, target, b, steps)


def blind_integrated_gradients_captum(model, x, target, baseline=None, steps=50):
    # WRONG (builtin): Captum's IntegratedGradients with method="riemann_middle".
    from captum.attr import IntegratedGradients
    return IntegratedGradients(model).attribute(x, baselines=baseline, target=target, n_steps=steps,
                                                method="riemann_middle").detach()


def blind_integrated_gradients_random_alphas(model, x, target, baseline=None, steps=50):
    # WRONG (random): Monte-Carlo alphas drawn from the global generator instead of the midpoints.
    return _ig(model, x, target, baseline, steps, alphas=torch.rand(steps).tolist())


def blind_integrated_gradients_left_sum(model, x, target, baseline=None, steps=50):
    # WRONG (subtle): the left Riemann sum, alpha_k = k / steps.
    return _ig(model, x, target, baseline, steps, alphas=[k / steps for k in range(steps)])


def blind_integrated_gradients_linspace(model, x, target, baseline=None, steps=50):
    # WRONG (subtle): alphas = linspace(0, 1, steps), both ends included, averaged (not the midpoint rule).
    return _ig(model, x, target, baseline, steps, alphas=torch.linspace(0, 1, steps).tolist())


def blind_integrated_gradients_times_x(model, x, target, baseline=None, steps=50):
    # WRONG (subtle): multiplies the averaged gradient by x, not by x - baseline.
    return _ig(model, x, target, baseline, steps, times=lambda x, b: x)


def blind_integrated_gradients_ignores_baseline(model, x, target, baseline=None, steps=50):
    # WRONG (subtle): always integrates from zeros, whatever baseline is given.
    return _ig(model, x, target, None, steps)


# ----------------------------------------------------------------------------- 06.5 lrp_epsilon


def _lrp(model, x, target, eps, return_layers, *, sign=None, bias=True, stabiliser="sign", start="logit",
         check_types=True, dtype=None, order="input_first"):
    """The learner's LRP-ε (correct with the default knobs)."""
    if check_types:
        for m in model:
            if not isinstance(m, (nn.Linear, nn.ReLU)):
                raise TypeError(f"lrp_epsilon supports nn.Linear and nn.ReLU only, not {type(m).__name__}")
    with torch.no_grad():
        a = x if dtype is None else x.to(dtype)
        inputs, linears = [], []
        for m in model:
            if isinstance(m, nn.Linear):
                inputs.append(a)
                linears.append(m)
            if dtype is None:
                a = m(a)
            elif isinstance(m, nn.Linear):
                a = F.linear(a, m.weight.to(dtype), None if m.bias is None else m.bias.to(dtype))
            else:
                a = m(a)
        logits = a
        t = _targets(logits, target)
        if start == "logit":
            R = torch.zeros_like(logits).scatter(1, t[:, None], logits.gather(1, t[:, None]))
        elif start == "one":
            R = torch.zeros_like(logits).scatter(1, t[:, None], 1.0)
        else:  # "all"
            R = logits.clone()
        out = R
        relevances = [R]
        for m, a in zip(reversed(linears), reversed(inputs)):
            W = m.weight.to(a.dtype)
            z = a @ W.T
            if bias and m.bias is not None:
                z = z + m.bias.to(a.dtype)
            if stabiliser == "sign":
                sg = torch.where(z >= 0, 1.0, -1.0).to(z.dtype) if sign is None else sign(z)
                s = R / (z + eps * sg)
            else:
                s = R / (z + eps)
            R = a * (s @ W)
            relevances.append(R)
        relevances = relevances[::-1]
        if order != "input_first":
            relevances = relevances[::-1]
    if return_layers:
        return R, relevances
    return R


def blind_lrp_epsilon_hooks_left(model, x, target, eps=1e-6, return_layers=False):
    # WRONG (inplace): keeps the Linear inputs with forward hooks that it never removes.
    store = []
    for m in model:
        if isinstance(m, nn.Linear):
            m.register_forward_hook(lambda mod, inp, out: store.append(inp[0]))
    return _lrp(model, x, target, eps, return_layers)


def blind_lrp_epsilon_float32(model, x, target, eps=1e-6, return_layers=False):
    # WRONG (dtype): casts everything to float32 "as LRP has no need of float64".
    out = _lrp(model, x, target, eps, return_layers, dtype=torch.float32)
    return out


def blind_lrp_epsilon_torch_sign(model, x, target, eps=1e-6, return_layers=False):
    # WRONG (edge): torch.sign(z), which is 0 at z = 0: a pre-activation of exactly 0 divides by 0.
    return _lrp(model, x, target, eps, return_layers, sign=torch.sign)


def blind_lrp_epsilon_skips_unknown(model, x, target, eps=1e-6, return_layers=False):
    # WRONG (edge): no TypeError on other layers: it walks the Linear layers and ignores the rest.
    return _lrp(model, x, target, eps, return_layers, check_types=False)


def blind_lrp_epsilon_captum(model, x, target, eps=1e-6, return_layers=False):
    # WRONG (builtin): Captum's LRP with an EpsilonRule on every Linear layer.
    from captum.attr import LRP
    from captum.attr._utils.lrp_rules import EpsilonRule
    net = copy.deepcopy(model)
    for m in net:
        if isinstance(m, nn.Linear):
            m.rule = EpsilonRule(epsilon=eps)
    R = LRP(net).attribute(x, target=target).detach()
    if return_layers:
        return R, _lrp(model, x, target, eps, True)[1]
    return R


def blind_lrp_epsilon_no_bias(model, x, target, eps=1e-6, return_layers=False):
    # WRONG (subtle): z = a Wᵀ without the bias.
    return _lrp(model, x, target, eps, return_layers, bias=False)


def blind_lrp_epsilon_plain_eps(model, x, target, eps=1e-6, return_layers=False):
    # WRONG (subtle): z + eps, not z + eps * sign(z): a negative z near -eps is pushed to 0, not away from it.
    return _lrp(model, x, target, eps, return_layers, stabiliser="plain")


def blind_lrp_epsilon_start_one(model, x, target, eps=1e-6, return_layers=False):
    # WRONG (subtle): the output relevance is 1 in the target column (as for a gradient), not the logit.
    return _lrp(model, x, target, eps, return_layers, start="one")


def blind_lrp_epsilon_all_logits(model, x, target, eps=1e-6, return_layers=False):
    # WRONG (subtle): starts from every logit, not the target's alone.
    return _lrp(model, x, target, eps, return_layers, start="all")


def blind_lrp_epsilon_output_first(model, x, target, eps=1e-6, return_layers=False):
    # WRONG (subtle): the relevances listed in the order they were computed, output first.
    return _lrp(model, x, target, eps, return_layers, order="output_first")


# ----------------------------------------------------------------------------- 06.6 occlusion


def _occlusion(model, x, target, window, stride, baseline, *, tops=None, drop=None, mean=True,
               base_of=None, zeros_dtype=None, per_channel=False):
    """The learner's occlusion (correct with the default knobs)."""
    batch, C, H, W = x.shape
    with torch.no_grad():
        if base_of is not None:
            base_img = base_of(x, baseline)
        else:
            base_img = torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x)
        logits = model(x)
        t = _targets(logits, target)
        rows = torch.arange(batch, device=x.device)
        clean = logits[rows, t]
        total = torch.zeros(batch, H, W, dtype=zeros_dtype or x.dtype, device=x.device)
        count = torch.zeros(H, W, dtype=zeros_dtype or x.dtype, device=x.device)
        tops_h = range(0, H - window + 1, stride) if tops is None else tops(H, window, stride)
        tops_w = range(0, W - window + 1, stride) if tops is None else tops(W, window, stride)
        for top in tops_h:
            for left in tops_w:
                inside = torch.zeros(H, W, dtype=torch.bool, device=x.device)
                inside[top:top + window, left:left + window] = True
                if per_channel:
                    d = torch.zeros(batch, dtype=x.dtype, device=x.device)
                    for c in range(C):
                        cin = torch.zeros(C, H, W, dtype=torch.bool, device=x.device)
                        cin[c] = inside
                        occ = torch.where(cin, base_img, x)
                        d = d + clean - model(occ)[rows, t]
                else:
                    occ = torch.where(inside, base_img, x)
                    new = model(occ)[rows, t]
                    d = clean - new if drop is None else drop(clean, new)
                total += inside * d[:, None, None].to(total.dtype)
                count += inside
        if not mean:
            return total.to(x.dtype)
        return (total / count.clamp_min(1)).to(total.dtype)


def blind_occlusion_in_place(model, x, target, *, window, stride, baseline=0.0):
    # WRONG (inplace): writes the baseline into x itself and puts the saved window back from a view of x:
    # the "saved" values are the baseline, so x stays occluded and every later window sees earlier ones.
    batch, C, H, W = x.shape
    base_img = torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x)
    with torch.no_grad():
        logits = model(x)
        t = _targets(logits, target)
        rows = torch.arange(batch)
        clean = logits[rows, t]
        total = torch.zeros(batch, H, W, dtype=x.dtype)
        count = torch.zeros(H, W, dtype=x.dtype)
        for top in range(0, H - window + 1, stride):
            for left in range(0, W - window + 1, stride):
                saved = x[:, :, top:top + window, left:left + window]
                x[:, :, top:top + window, left:left + window] = base_img[:, :, top:top + window, left:left + window]
                d = clean - model(x)[rows, t]
                x[:, :, top:top + window, left:left + window] = saved
                total[:, top:top + window, left:left + window] += d[:, None, None]
                count[top:top + window, left:left + window] += 1
    return total / count.clamp_min(1)


def blind_occlusion_float32_accumulators(model, x, target, *, window, stride, baseline=0.0):
    # WRONG (dtype): total and count from torch.zeros' default float32: float64 inputs give a float32 map.
    return _occlusion(model, x, target, window, stride, baseline, zeros_dtype=torch.float32)


def blind_occlusion_off_by_one(model, x, target, *, window, stride, baseline=0.0):
    # WRONG (edge): range(0, H - window, stride): the last position (the window touching the edge) is skipped;
    # with window == H no window at all.
    return _occlusion(model, x, target, window, stride, baseline,
                      tops=lambda n, window, stride: range(0, n - window, stride))


def blind_occlusion_number_baseline(model, x, target, *, window, stride, baseline=0.0):
    # WRONG (edge): torch.full_like(x, float(baseline)): a tensor baseline raises (or, 1-element, is one number).
    return _occlusion(model, x, target, window, stride, baseline,
                      base_of=lambda x, baseline: torch.full_like(x, float(baseline)))


def blind_occlusion_baseline_mean(model, x, target, *, window, stride, baseline=0.0):
    # WRONG (subtle): a tensor baseline is reduced to its mean value, not read at the window's pixels.
    return _occlusion(model, x, target, window, stride, baseline,
                      base_of=lambda x, b: torch.full_like(x, float(torch.as_tensor(b, dtype=x.dtype).mean())))


def blind_occlusion_captum(model, x, target, *, window, stride, baseline=0.0):
    # WRONG (builtin): Captum's Occlusion.
    from captum.attr import Occlusion
    C = x.shape[1]
    attr = Occlusion(model).attribute(x, target=target, sliding_window_shapes=(C, window, window),
                                      strides=(C, stride, stride), baselines=baseline)
    return attr.detach()[:, 0]


def blind_occlusion_sum(model, x, target, *, window, stride, baseline=0.0):
    # WRONG (subtle): the sum of the drops of the windows covering a pixel, not their mean.
    return _occlusion(model, x, target, window, stride, baseline, mean=False)


def blind_occlusion_rise(model, x, target, *, window, stride, baseline=0.0):
    # WRONG (subtle): logit(occluded) - logit(x): the sign is reversed.
    return _occlusion(model, x, target, window, stride, baseline, drop=lambda clean, new: new - clean)


def blind_occlusion_per_channel(model, x, target, *, window, stride, baseline=0.0):
    # WRONG (subtle): occludes one channel at a time and adds the drops, instead of the window over every
    # channel at once.
    return _occlusion(model, x, target, window, stride, baseline, per_channel=True)


def blind_occlusion_partial_windows(model, x, target, *, window, stride, baseline=0.0):
    # WRONG (subtle): corners at every stride up to H, windows cropped at the border: partial windows count.
    return _occlusion(model, x, target, window, stride, baseline,
                      tops=lambda n, window, stride: range(0, n, stride))


# ----------------------------------------------------------------------------- 06.7 lime_surrogate


def _lime(f, x, n_samples, kernel_width, seed, *, eps=None, kernel=None, weights="sqrt", centre=True,
          intercept=True):
    """The learner's weighted least squares (correct with the default knobs)."""
    d = x.shape[0]
    if eps is None:
        eps = torch.randn(n_samples, d, generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
    eps = eps.to(x.device)
    z = x + eps
    dist2 = ((z - x) ** 2).sum(1)
    pi = torch.exp(-dist2 / kernel_width ** 2) if kernel is None else kernel(dist2, kernel_width)
    y = f(z).to(x.dtype)
    cols = z - x if centre else z
    A = torch.cat([torch.ones(n_samples, 1, dtype=x.dtype, device=x.device), cols], 1) if intercept else cols
    sw = (pi.sqrt() if weights == "sqrt" else pi if weights == "pi" else torch.ones_like(pi))[:, None]
    sol = torch.linalg.lstsq(A * sw, y[:, None] * sw).solution[:, 0]
    if intercept:
        return sol[1:], sol[0]
    return sol, f(x[None]).to(x.dtype)[0]


def blind_lime_surrogate_global_seed(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):
    # WRONG (random): torch.manual_seed(seed) then torch.randn: reproducible, but the global random state is
    # reseeded (the spec says it stays untouched).
    torch.manual_seed(seed)
    return _lime(f, x, n_samples, kernel_width, seed, eps=torch.randn(n_samples, x.shape[0], dtype=x.dtype))


def blind_lime_surrogate_unseeded(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):
    # WRONG (random): draws from the global generator and ignores seed: two calls differ.
    return _lime(f, x, n_samples, kernel_width, seed, eps=torch.randn(n_samples, x.shape[0], dtype=x.dtype))


def blind_lime_surrogate_float32(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):
    # WRONG (dtype): the noise in torch.randn's default float32, and the fit with it: float64 x gives float32.
    eps = torch.randn(n_samples, x.shape[0], generator=torch.Generator().manual_seed(seed))
    coef, b = _lime(f, x.float(), n_samples, kernel_width, seed, eps=eps)
    return coef, b


def blind_lime_surrogate_intercept_1d(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):
    # WRONG (edge): returns the intercept as sol[:1], shape [1], not a 0-d tensor.
    coef, b = _lime(f, x, n_samples, kernel_width, seed)
    return coef, b.reshape(1)


def blind_lime_surrogate_captum(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):
    # WRONG (builtin): Captum's Lime on a wrapper module (its own sampling and kernel).
    from captum.attr import Lime

    class _F(nn.Module):
        def forward(self, z):
            return f(z)[:, None]
    coef = Lime(_F()).attribute(x[None], target=0, n_samples=n_samples)[0].detach()
    return coef, f(x[None])[0]


def blind_lime_surrogate_gaussian_half(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):
    # WRONG (subtle): the kernel exp(-‖z - x‖² / (2 w²)), a Gaussian's half, not exp(-‖z - x‖² / w²).
    return _lime(f, x, n_samples, kernel_width, seed, kernel=lambda d2, w: torch.exp(-d2 / (2 * w ** 2)))


def blind_lime_surrogate_distance_not_squared(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):
    # WRONG (subtle): exp(-‖z - x‖ / w²): the distance, not its square.
    return _lime(f, x, n_samples, kernel_width, seed, kernel=lambda d2, w: torch.exp(-d2.sqrt() / w ** 2))


def blind_lime_surrogate_unweighted(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):
    # WRONG (subtle): computes π but fits ordinary least squares: the kernel width has no effect.
    return _lime(f, x, n_samples, kernel_width, seed, weights="none")


def blind_lime_surrogate_weights_pi(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):
    # WRONG (subtle): scales the rows by π, not √π: minimises Σ π² (...)², a kernel twice as narrow.
    return _lime(f, x, n_samples, kernel_width, seed, weights="pi")


def blind_lime_surrogate_regress_on_z(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):
    # WRONG (subtle): regresses on z, not z - x: the intercept is the fit's value at 0, not at x.
    return _lime(f, x, n_samples, kernel_width, seed, centre=False)


def blind_lime_surrogate_no_intercept(f, x, *, n_samples=1000, kernel_width=0.5, seed=0):
    # WRONG (subtle): fits coef · (z - x) with no intercept column and reports f(x) as the intercept.
    return _lime(f, x, n_samples, kernel_width, seed, intercept=False)


# ----------------------------------------------------------------------------- 06.8 least_evidence_method


def _sal(model, x, t):
    return _grad_of_logit(model, x, t).abs()


def _gxi(model, x, t):
    return x * _grad_of_logit(model, x, t)


def _igm(model, x, t):
    return _ig(model, x, t, None, 16)


def _occ(model, x, t):
    return _occlusion(model, x, t, 3, 1, 0.0)


_METHODS = {"saliency": _sal, "gradient_times_input": _gxi, "integrated_gradients": _igm, "occlusion": _occ}


def _maps(model=None, n=32, seed=201):
    model = load_planted_cnn() if model is None else model
    data = planted_evidence(n, seed=seed)
    return {name: fn(model, data.images, data.labels) for name, fn in _METHODS.items()}, data


def blind_least_evidence_method_argmax():
    # WRONG: measures the shares correctly but returns the method with the largest one.
    maps, data = _maps()
    shares = {name: evidence_share(m, data.masks) for name, m in maps.items()}
    return max(shares, key=shares.get)


def blind_least_evidence_method_min_without_key():
    # WRONG: measures the shares correctly, then min(shares) without key=: the alphabetically first name.
    maps, data = _maps()
    shares = {name: evidence_share(m, data.masks) for name, m in maps.items()}
    return min(shares)


def blind_least_evidence_method_signed_mass():
    # WRONG: the signed attribution summed over the patch (no absolute value, not divided by the map's total).
    maps, data = _maps()
    mass = {}
    for name, m in maps.items():
        m = (m.sum(1) if m.dim() == 4 else m).double()
        mass[name] = (m * data.masks).sum((1, 2)).mean().item()
    return min(mass, key=mass.get)


def blind_least_evidence_method_mass_on_patch():
    # WRONG: the least absolute attribution *on* the patch (unnormalised mass), not the share of the map.
    maps, data = _maps()
    mass = {name: ((m.abs().sum(1) if m.dim() == 4 else m.abs()) * data.masks).sum((1, 2)).mean().item() for name, m in maps.items()}
    return min(mass, key=mass.get)


def blind_least_evidence_method_off_patch():
    # WRONG: computes the share *off* the patch (mask inverted) and takes the smallest.
    maps, data = _maps()
    shares = {name: evidence_share(m, ~data.masks) for name, m in maps.items()}
    return min(shares, key=shares.get)


def blind_least_evidence_method_hard_coded():
    # WRONG: hard-coded from the pictures: occlusion's square looked the smallest.
    return "occlusion"


# ----------------------------------------------------------------------------- 06.9 sanity_check


def _avg_ranks(v):
    """Average ranks (1-based) of each row of v [n, d], ties sharing the mean (correct)."""
    n, d = v.shape
    order = v.argsort(dim=1)
    s = v.gather(1, order)
    new = torch.ones_like(s, dtype=torch.long)
    new[:, 1:] = (s[:, 1:] != s[:, :-1]).long()
    group = new.cumsum(1) - 1
    pos = torch.arange(1, d + 1, dtype=torch.float64).expand(n, d)
    sums = torch.zeros(n, d, dtype=torch.float64).scatter_add_(1, group, pos)
    counts = torch.zeros(n, d, dtype=torch.float64).scatter_add_(1, group, torch.ones(n, d, dtype=torch.float64))
    mean_pos = (sums / counts.clamp_min(1)).gather(1, group)
    return torch.empty_like(mean_pos).scatter_(1, order, mean_pos)


def _pearson_rows(a, b):
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


def _spearman_mean(a, b):
    return _pearson_rows(_avg_ranks(a), _avg_ranks(b)).mean()


def _flat(m, n):
    return m.detach().reshape(n, -1).double().cpu()


def _redraw(module, g):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device))


def _sanity(model, x, target, attribution_fn, layers, seed, *, order=None, cumulative=True, corr=None,
            redraw=None, deep_copy=True, vs_previous=False):
    """The learner's cascade (correct with the default knobs)."""
    n = len(x)
    reference = _flat(attribution_fn(model, x, target), n)
    corr = _spearman_mean if corr is None else corr
    redraw = _redraw if redraw is None else redraw
    g = torch.Generator().manual_seed(seed)
    names = list(reversed(layers)) if order is None else order(layers)
    rand = copy.deepcopy(model) if deep_copy else model
    out, previous = [], reference
    for name in names:
        if not cumulative:
            rand = copy.deepcopy(model)
        redraw(rand.get_submodule(name), g)
        current = _flat(attribution_fn(rand, x, target), n)
        out.append(corr(current, previous if vs_previous else reference))
        if vs_previous:
            previous = current
    return torch.stack([torch.as_tensor(v, dtype=torch.float64) for v in out])


def blind_sanity_check_no_copy(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (inplace): randomises the model passed in ("copy" forgotten): the caller's model is destroyed.
    return _sanity(model, x, target, attribution_fn, layers, seed, deep_copy=False)


def blind_sanity_check_float32(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (dtype): ranks and correlations in float32, and a float32 result.
    def corr(a, b):
        a, b = _avg_ranks(a).float(), _avg_ranks(b).float()
        return _pearson_rows(a, b).mean()
    return _sanity(model, x, target, attribution_fn, layers, seed, corr=corr).float()


def blind_sanity_check_scipy(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (builtin): scipy.stats.spearmanr per image.
    from scipy.stats import spearmanr

    def corr(a, b):
        return sum(spearmanr(a[i].numpy(), b[i].numpy())[0] for i in range(len(a))) / len(a)
    return _sanity(model, x, target, attribution_fn, layers, seed, corr=corr)


def blind_sanity_check_global_randn(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (random): redraws with torch.randn_like (the global generator): seed has no effect.
    def redraw(module, g):
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(0.1 * torch.randn_like(p))
    return _sanity(model, x, target, attribution_fn, layers, seed, redraw=redraw)


def blind_sanity_check_generator_per_layer(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (subtle): a new Generator().manual_seed(seed) for every layer, not one for the whole call.
    def redraw(module, g):
        _redraw(module, torch.Generator().manual_seed(seed))
    return _sanity(model, x, target, attribution_fn, layers, seed, redraw=redraw)


def blind_sanity_check_bottom_up(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (subtle): randomises from the input side (layers[0] first).
    return _sanity(model, x, target, attribution_fn, layers, seed, order=list)


def blind_sanity_check_not_cumulative(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (subtle): a fresh copy at every step: only one layer is random at a time.
    return _sanity(model, x, target, attribution_fn, layers, seed, cumulative=False)


def blind_sanity_check_pearson(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (subtle): the Pearson correlation of the values, not of their ranks.
    return _sanity(model, x, target, attribution_fn, layers, seed,
                   corr=lambda a, b: _pearson_rows(a, b).mean())


def blind_sanity_check_ordinal_ranks(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (subtle): ranks by argsort().argsort(): ties broken by position, not averaged.
    def ranks(v):
        return v.argsort(dim=1).argsort(dim=1).double()
    return _sanity(model, x, target, attribution_fn, layers, seed,
                   corr=lambda a, b: _pearson_rows(ranks(a), ranks(b)).mean())


def blind_sanity_check_dense_ranks(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (subtle): dense ranks from torch.unique(return_inverse=True): tied groups get consecutive ranks.
    def ranks(v):
        return torch.stack([torch.unique(row, return_inverse=True)[1].double() for row in v])
    return _sanity(model, x, target, attribution_fn, layers, seed,
                   corr=lambda a, b: _pearson_rows(ranks(a), ranks(b)).mean())


def blind_sanity_check_pooled(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (subtle): one Spearman correlation over all the images' pixels pooled together.
    return _sanity(model, x, target, attribution_fn, layers, seed,
                   corr=lambda a, b: _spearman_mean(a.reshape(1, -1), b.reshape(1, -1)))


def blind_sanity_check_vs_previous(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (subtle): compares each step's map with the previous step's, not with the trained model's.
    return _sanity(model, x, target, attribution_fn, layers, seed, vs_previous=True)


def blind_sanity_check_weights_only(model, x, target, attribution_fn, layers, *, seed=0):
    # WRONG (subtle): redraws only each layer's weight, leaving the bias trained.
    def redraw(module, g):
        with torch.no_grad():
            module.weight.copy_(0.1 * torch.randn(module.weight.shape, generator=g, dtype=module.weight.dtype))
    return _sanity(model, x, target, attribution_fn, layers, seed, redraw=redraw)


# ----------------------------------------------------------------------------- 06.10 fgsm


def _fgsm(model, x, y, epsilon, *, direction=1.0, clamp=True, labels=None, step=None):
    """The learner's FGSM (correct with the default knobs)."""
    x_adv = x.detach().clone().requires_grad_(True)
    logits = model(x_adv)
    loss = F.cross_entropy(logits, y if labels is None else labels(logits, y))
    grad, = torch.autograd.grad(loss, x_adv)
    out = x + direction * epsilon * (grad.sign() if step is None else step(grad))
    return (out.clamp(0, 1) if clamp else out).detach()


def blind_fgsm_requires_grad_x(model, x, y, epsilon):
    # WRONG (inplace): x.requires_grad_() on the caller's x.
    x.requires_grad_(True)
    grad, = torch.autograd.grad(F.cross_entropy(model(x), y), x)
    return (x + epsilon * grad.sign()).clamp(0, 1).detach()


def blind_fgsm_backward(model, x, y, epsilon):
    # WRONG (inplace): loss.backward(): the model's parameters keep a .grad.
    x_adv = x.detach().clone().requires_grad_(True)
    F.cross_entropy(model(x_adv), y).backward()
    return (x + epsilon * x_adv.grad.sign()).clamp(0, 1)


def blind_fgsm_add_in_place(model, x, y, epsilon):
    # WRONG (inplace): steps x itself in place (x.add_, x.clamp_) and returns it: the caller's images change.
    x_adv = x.detach().clone().requires_grad_(True)
    grad, = torch.autograd.grad(F.cross_entropy(model(x_adv), y), x_adv)
    with torch.no_grad():
        x.add_(epsilon * grad.sign()).clamp_(0, 1)
    return x


def blind_fgsm_float32(model, x, y, epsilon):
    # WRONG (dtype): returns the adversarial image .float().
    return _fgsm(model, x, y, epsilon).float()


def blind_fgsm_sign_zero_moves(model, x, y, epsilon):
    # WRONG (edge): torch.where(grad > 0, 1, -1) as the sign: a pixel with zero gradient moves by -epsilon.
    return _fgsm(model, x, y, epsilon, step=lambda g: torch.where(g > 0, 1.0, -1.0).to(g.dtype))


def blind_fgsm_captum(model, x, y, epsilon):
    # WRONG (builtin): captum.robust.FGSM.
    from captum.robust import FGSM
    return FGSM(model, lower_bound=0.0, upper_bound=1.0).perturb(x, epsilon=epsilon, target=y).detach()


def blind_fgsm_random_start(model, x, y, epsilon):
    # WRONG (random): starts from a random point in the ball (R+FGSM), drawn from the global generator.
    start = (x + epsilon / 2 * torch.randn_like(x).sign()).clamp(0, 1)
    return _fgsm(model, start, y, epsilon / 2)


def blind_fgsm_descent(model, x, y, epsilon):
    # WRONG (subtle): x - epsilon * sign(grad): a step *down* the loss.
    return _fgsm(model, x, y, epsilon, direction=-1.0)


def blind_fgsm_no_clamp(model, x, y, epsilon):
    # WRONG (subtle): no clamp to [0, 1].
    return _fgsm(model, x, y, epsilon, clamp=False)


def blind_fgsm_predicted_labels(model, x, y, epsilon):
    # WRONG (subtle): attacks the model's predictions, not the labels y it was given.
    return _fgsm(model, x, y, epsilon, labels=lambda logits, y: logits.argmax(-1).detach())


def blind_fgsm_scaled_gradient(model, x, y, epsilon):
    # WRONG (subtle): epsilon * grad / max|grad| (an L∞-normalised gradient), not its sign.
    return _fgsm(model, x, y, epsilon,
                 step=lambda g: g / g.abs().amax(dim=tuple(range(1, g.dim())), keepdim=True).clamp_min(1e-12))


MUTANTS = {
    "06.1": [
        (blind_activation_maximisation_backward, "inplace"),
        (blind_activation_maximisation_hook_left, "inplace"),
        (blind_activation_maximisation_freeze_params, "inplace"),
        (blind_activation_maximisation_float32, "dtype"),
        (blind_activation_maximisation_exclusive_jitter, "edge"),
        (blind_activation_maximisation_global_shifts, "random"),
        (blind_activation_maximisation_tv_sign, "subtle"),
        (blind_activation_maximisation_tv_mean, "subtle"),
        (blind_activation_maximisation_whole_layer, "subtle"),
        (blind_activation_maximisation_keeps_shift, "subtle"),
    ],
    "06.2": [
        (blind_saliency_requires_grad_x, "inplace"),
        (blind_saliency_backward, "inplace"),
        (blind_saliency_float32, "dtype"),
        (blind_saliency_squeezed, "edge"),
        (blind_saliency_torch_func, "builtin"),
        (blind_saliency_captum, "builtin"),
        (blind_saliency_smoothed, "random"),
        (blind_saliency_index_columns, "subtle"),
        (blind_saliency_softmax, "subtle"),
        (blind_saliency_max_channels, "subtle"),
    ],
    "06.3": [
        (blind_gradient_times_input_requires_grad_x, "inplace"),
        (blind_gradient_times_input_backward, "inplace"),
        (blind_gradient_times_input_float32, "dtype"),
        (blind_gradient_times_input_index_target, "edge"),
        (blind_gradient_times_input_captum, "builtin"),
        (blind_gradient_times_input_abs, "subtle"),
        (blind_gradient_times_input_first_target, "subtle"),
        (blind_gradient_times_input_log_softmax, "subtle"),
        (blind_gradient_times_input_channel_sum, "subtle"),
    ],
    "06.4": [
        (blind_integrated_gradients_detach_alias, "inplace"),
        (blind_integrated_gradients_backward, "inplace"),
        (blind_integrated_gradients_float32_alphas, "dtype"),
        (blind_integrated_gradients_baseline_or, "edge"),
        (blind_integrated_gradients_captum, "builtin"),
        (blind_integrated_gradients_random_alphas, "random"),
        (blind_integrated_gradients_left_sum, "subtle"),
        (blind_integrated_gradients_linspace, "subtle"),
        (blind_integrated_gradients_times_x, "subtle"),
        (blind_integrated_gradients_ignores_baseline, "subtle"),
    ],
    "06.5": [
        (blind_lrp_epsilon_hooks_left, "inplace"),
        (blind_lrp_epsilon_float32, "dtype"),
        (blind_lrp_epsilon_torch_sign, "edge"),
        (blind_lrp_epsilon_skips_unknown, "edge"),
        (blind_lrp_epsilon_captum, "builtin"),
        (blind_lrp_epsilon_no_bias, "subtle"),
        (blind_lrp_epsilon_plain_eps, "subtle"),
        (blind_lrp_epsilon_start_one, "subtle"),
        (blind_lrp_epsilon_all_logits, "subtle"),
        (blind_lrp_epsilon_output_first, "subtle"),
    ],
    "06.6": [
        (blind_occlusion_in_place, "inplace"),
        (blind_occlusion_float32_accumulators, "dtype"),
        (blind_occlusion_off_by_one, "edge"),
        (blind_occlusion_number_baseline, "edge"),
        (blind_occlusion_captum, "builtin"),
        (blind_occlusion_baseline_mean, "subtle"),
        (blind_occlusion_sum, "subtle"),
        (blind_occlusion_rise, "subtle"),
        (blind_occlusion_per_channel, "subtle"),
        (blind_occlusion_partial_windows, "subtle"),
    ],
    "06.7": [
        (blind_lime_surrogate_global_seed, "random"),
        (blind_lime_surrogate_unseeded, "random"),
        (blind_lime_surrogate_float32, "dtype"),
        (blind_lime_surrogate_intercept_1d, "edge"),
        (blind_lime_surrogate_captum, "builtin"),
        (blind_lime_surrogate_gaussian_half, "subtle"),
        (blind_lime_surrogate_distance_not_squared, "subtle"),
        (blind_lime_surrogate_unweighted, "subtle"),
        (blind_lime_surrogate_weights_pi, "subtle"),
        (blind_lime_surrogate_regress_on_z, "subtle"),
        (blind_lime_surrogate_no_intercept, "subtle"),
    ],
    "06.8": [
        (blind_least_evidence_method_argmax, "subtle"),
        (blind_least_evidence_method_min_without_key, "subtle"),
        (blind_least_evidence_method_signed_mass, "subtle"),
        (blind_least_evidence_method_mass_on_patch, "subtle"),
        (blind_least_evidence_method_off_patch, "subtle"),
        (blind_least_evidence_method_hard_coded, "subtle"),
    ],
    "06.9": [
        (blind_sanity_check_no_copy, "inplace"),
        (blind_sanity_check_float32, "dtype"),
        (blind_sanity_check_scipy, "builtin"),
        (blind_sanity_check_global_randn, "random"),
        (blind_sanity_check_generator_per_layer, "subtle"),
        (blind_sanity_check_bottom_up, "subtle"),
        (blind_sanity_check_not_cumulative, "subtle"),
        (blind_sanity_check_pearson, "subtle"),
        (blind_sanity_check_ordinal_ranks, "subtle"),
        (blind_sanity_check_dense_ranks, "subtle"),
        (blind_sanity_check_pooled, "subtle"),
        (blind_sanity_check_vs_previous, "subtle"),
        (blind_sanity_check_weights_only, "subtle"),
    ],
    "06.10": [
        (blind_fgsm_requires_grad_x, "inplace"),
        (blind_fgsm_backward, "inplace"),
        (blind_fgsm_add_in_place, "inplace"),
        (blind_fgsm_float32, "dtype"),
        (blind_fgsm_sign_zero_moves, "edge"),
        (blind_fgsm_captum, "builtin"),
        (blind_fgsm_random_start, "random"),
        (blind_fgsm_descent, "subtle"),
        (blind_fgsm_no_clamp, "subtle"),
        (blind_fgsm_predicted_labels, "subtle"),
        (blind_fgsm_scaled_gradient, "subtle"),
    ],
}
