"""Plausible wrong implementations for part fgsm_sanity of notebook 06: MUTANTS = {"06.k": [fn, ...]}.

Each mutant is the solution with one mistake, built by a small factory with a flag naming the mistake.
"""
import torch
import torch.nn.functional as F


# ---------------------------------------------------------------- 06.9

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
    fgsm.__qualname__ = f"fgsm[{mistake}]"
    return fgsm


MUTANTS = {"06.9": [
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


# ---------------------------------------------------------------- 06.8

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
    sanity_check.__qualname__ = f"sanity_check[{mistake}]"
    return sanity_check


MUTANTS["06.8"] = [
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
