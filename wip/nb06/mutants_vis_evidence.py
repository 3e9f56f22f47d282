"""Plausible wrong implementations for part vis_evidence of notebook 06: MUTANTS = {"06.k": [fn, ...]}.

Each mutant is the solution with one mistake, built by a small factory with a flag naming the mistake.
"""
import torch


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
    activation_maximisation.__qualname__ = f"activation_maximisation[{mistake}]"
    return activation_maximisation


MUTANTS = {"06.1": [
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
    occlusion.__qualname__ = f"occlusion[{mistake}]"
    return occlusion


def _occ_captum(model, x, target, *, window, stride, baseline=0.0):
    # calls the forbidden library function
    from captum.attr import Occlusion
    c = x.shape[1]
    return Occlusion(model).attribute(x, target=target, sliding_window_shapes=(c, window, window),
                                      strides=(c, stride, stride), baselines=baseline)[:, 0]


MUTANTS["06.6"] = [
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
