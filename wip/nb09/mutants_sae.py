"""Plausible wrong answers to notebook 09, section 2 (sparse autoencoders); every one must fail its check.

Each mutant has a name of its own, bound in this module (the sandbox tests look a mutant up by its name)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


# ---------------------------------------------------------------------------------------------- 09.4 sae_loss

def loss_mse_mean(x, x_hat, latents, l1_coeff):  # F.mse_loss: averaged over the dimensions too
    return F.mse_loss(x_hat, x) + l1_coeff * latents.abs().sum(-1).mean()


def loss_sum_batch(x, x_hat, latents, l1_coeff):  # summed over the batch
    return ((x_hat - x) ** 2).sum() + l1_coeff * latents.abs().sum()


def loss_l1_mean_latents(x, x_hat, latents, l1_coeff):  # the L1 part averaged over the latents
    return ((x_hat - x) ** 2).sum(-1).mean() + l1_coeff * latents.abs().mean()


def loss_l2_penalty(x, x_hat, latents, l1_coeff):  # squared latents instead of |z|
    return ((x_hat - x) ** 2).sum(-1).mean() + l1_coeff * (latents ** 2).sum(-1).mean()


def loss_norm_not_squared(x, x_hat, latents, l1_coeff):  # the error's norm, not its square
    return (x_hat - x).norm(dim=-1).mean() + l1_coeff * latents.abs().sum(-1).mean()


def loss_no_abs(x, x_hat, latents, l1_coeff):  # "latents are >= 0 after the ReLU anyway"
    return ((x_hat - x) ** 2).sum(-1).mean() + l1_coeff * latents.sum(-1).mean()


def loss_item(x, x_hat, latents, l1_coeff):  # a Python number wrapped back into a tensor: no gradient
    value = (((x_hat - x) ** 2).sum(-1).mean() + l1_coeff * latents.abs().sum(-1).mean()).item()
    return torch.tensor(value, dtype=x.dtype)


def loss_coeff_both(x, x_hat, latents, l1_coeff):  # the coefficient on the whole loss
    return l1_coeff * (((x_hat - x) ** 2).sum(-1).mean() + latents.abs().sum(-1).mean())


# ---------------------------------------------------------------------------------------------- 09.5 SparseAutoencoder

class SAEBase(nn.Module):
    """The right SAE; each mutant below changes one thing."""

    def __init__(self, d, n_latents, *, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(n_latents, d, generator=g)
        w = w / w.norm(dim=1, keepdim=True)
        self.W_enc = nn.Parameter(w.T.clone())
        self.b_enc = nn.Parameter(torch.zeros(n_latents))
        self.W_dec = nn.Parameter(w)
        self.b_dec = nn.Parameter(torch.zeros(d))

    def encode(self, x):
        return torch.relu((x - self.b_dec) @ self.W_enc + self.b_enc)

    def decode(self, z):
        return z @ self.W_dec + self.b_dec

    def forward(self, x):
        z = self.encode(x)
        return self.decode(z), z

    @torch.no_grad()
    def normalise_decoder(self):
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True)


class SAENoReLU(SAEBase):
    def encode(self, x):
        return (x - self.b_dec) @ self.W_enc + self.b_enc


class SAENoCentring(SAEBase):  # b_dec not subtracted before encoding
    def encode(self, x):
        return torch.relu(x @ self.W_enc + self.b_enc)


class SAEReluFirst(SAEBase):  # the ReLU on the centred input, before the affine map
    def encode(self, x):
        return torch.relu(x - self.b_dec) @ self.W_enc + self.b_enc


class SAEDecodeNoBias(SAEBase):
    def decode(self, z):
        return z @ self.W_dec


class SAESwapped(SAEBase):
    def forward(self, x):
        z = self.encode(x)
        return z, self.decode(z)


class SAENormaliseColumns(SAEBase):
    @torch.no_grad()
    def normalise_decoder(self):
        self.W_dec /= self.W_dec.norm(dim=0, keepdim=True)


class SAENormaliseWithGrad(SAEBase):  # no torch.no_grad(): autograd refuses the in-place edit of a leaf
    def normalise_decoder(self):
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True)


class SAENewParameter(SAEBase):  # a new Parameter: the optimiser keeps the old one
    def normalise_decoder(self):
        self.W_dec = nn.Parameter(self.W_dec.detach() / self.W_dec.detach().norm(dim=1, keepdim=True))


class SAEGlobalRNG(SAEBase):  # draws from the global random state
    def __init__(self, d, n_latents, *, seed=0):
        super().__init__(d, n_latents, seed=seed)
        w = torch.randn(n_latents, d)
        w = w / w.norm(dim=1, keepdim=True)
        with torch.no_grad():
            self.W_dec.copy_(w)
            self.W_enc.copy_(w.T)


class SAENotUnit(SAEBase):  # rows scaled like nn.Linear's init, not to norm 1
    def __init__(self, d, n_latents, *, seed=0):
        super().__init__(d, n_latents, seed=seed)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            self.W_dec.copy_(torch.randn(n_latents, d, generator=g) / d ** 0.5)


class SAESharedMemory(SAEBase):  # nn.Parameter(w.T) without .clone(): W_enc is a view of W_dec
    def __init__(self, d, n_latents, *, seed=0):
        super().__init__(d, n_latents, seed=seed)
        self.W_enc = nn.Parameter(self.W_dec.data.T)


class SAEUntiedInit(SAEBase):  # the encoder drawn separately, not the decoder's transpose
    def __init__(self, d, n_latents, *, seed=0):
        super().__init__(d, n_latents, seed=seed)
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            self.W_enc.copy_(torch.randn(d, n_latents, generator=g) / d ** 0.5)


class SAELinear(nn.Module):  # nn.Linear layers: other names, [out, in] weights, global random state
    def __init__(self, d, n_latents, *, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.enc = nn.Linear(d, n_latents)
        self.dec = nn.Linear(n_latents, d)

    def encode(self, x):
        return torch.relu(self.enc(x - self.dec.bias))

    def decode(self, z):
        return self.dec(z)

    def forward(self, x):
        z = self.encode(x)
        return self.decode(z), z

    @torch.no_grad()
    def normalise_decoder(self):
        self.dec.weight /= self.dec.weight.norm(dim=0, keepdim=True)


class SAETransposedEncoder(SAEBase):  # W_enc stored [n_latents, d], like nn.Linear's weight
    def __init__(self, d, n_latents, *, seed=0):
        super().__init__(d, n_latents, seed=seed)
        self.W_enc = nn.Parameter(self.W_dec.detach().clone())

    def encode(self, x):
        return torch.relu((x - self.b_dec) @ self.W_enc.T + self.b_enc)


class SAEDetachedDecoder(SAEBase):  # the decoder used through .detach(): W_dec never learns
    def decode(self, z):
        return z @ self.W_dec.detach() + self.b_dec


# ---------------------------------------------------------------------------------------------- 09.6 resample_dead

def _resample(sae, x, dead, seed, *, mistake=""):
    with torch.no_grad():
        x_hat, _ = sae(x)
        errors = ((x - x_hat) ** 2).sum(-1)
        if mistake == "norm":
            errors = errors.sqrt()
        if not bool((errors > 0).any()):
            errors = torch.ones_like(errors)
        n_dead = int(dead.sum())
        if n_dead == 0:
            return torch.zeros(0, dtype=torch.long)
        g = torch.Generator().manual_seed(seed)
        if mistake == "uniform":
            rows = torch.randint(len(x), (n_dead,), generator=g)
        elif mistake == "argmax":
            rows = errors.argmax().repeat(n_dead)
        elif mistake == "global_rng":
            rows = torch.multinomial(errors, n_dead, replacement=True)
        else:
            rows = torch.multinomial(errors, n_dead, replacement=True, generator=g)
        u = x[rows] if mistake == "no_centre" else x[rows] - sae.b_dec
        if mistake != "no_unit":
            u = u / u.norm(dim=1, keepdim=True)
        alive = ~dead
        if mistake == "all_norms":
            scale = sae.W_enc.norm(dim=0).mean()
        else:
            scale = sae.W_enc[:, alive].norm(dim=0).mean() if bool(alive.any()) else 1.0
        factor = 1.0 if mistake == "no_scale" else 0.2 * scale
        target = torch.ones_like(dead) if mistake == "everything" else dead
        if mistake == "everything":
            rows = torch.multinomial(errors, len(dead), replacement=True, generator=g)
            u = x[rows] - sae.b_dec
            u = u / u.norm(dim=1, keepdim=True)
        sae.W_dec[target] = u
        sae.W_enc[:, target] = factor * u.T
        if mistake != "keep_bias":
            sae.b_enc[target] = 0.0
        return rows


def resample_uniform(sae, x, dead, *, seed=0):  # the errors ignored
    return _resample(sae, x, dead, seed, mistake="uniform")


def resample_argmax(sae, x, dead, *, seed=0):  # the worst row for every dead latent
    return _resample(sae, x, dead, seed, mistake="argmax")


def resample_norm(sae, x, dead, *, seed=0):  # in proportion to the error's norm, not its square
    return _resample(sae, x, dead, seed, mistake="norm")


def resample_no_centre(sae, x, dead, *, seed=0):  # x[i], not x[i] - b_dec
    return _resample(sae, x, dead, seed, mistake="no_centre")


def resample_no_unit(sae, x, dead, *, seed=0):  # the direction not normalised
    return _resample(sae, x, dead, seed, mistake="no_unit")


def resample_no_scale(sae, x, dead, *, seed=0):  # the encoder column at the decoder's scale
    return _resample(sae, x, dead, seed, mistake="no_scale")


def resample_all_norms(sae, x, dead, *, seed=0):  # the mean norm of every encoder column, dead ones included
    return _resample(sae, x, dead, seed, mistake="all_norms")


def resample_keep_bias(sae, x, dead, *, seed=0):  # the (negative) encoder bias kept
    return _resample(sae, x, dead, seed, mistake="keep_bias")


def resample_everything(sae, x, dead, *, seed=0):  # every latent resampled, alive ones too
    return _resample(sae, x, dead, seed, mistake="everything")


def resample_global_rng(sae, x, dead, *, seed=0):  # torch.multinomial without the generator
    return _resample(sae, x, dead, seed, mistake="global_rng")


def resample_no_grad_missing(sae, x, dead, *, seed=0):  # in-place edits of leaves that require grad
    x_hat, _ = sae(x)
    errors = ((x - x_hat) ** 2).sum(-1).detach()
    rows = torch.multinomial(errors, int(dead.sum()), replacement=True, generator=torch.Generator().manual_seed(seed))
    u = (x[rows] - sae.b_dec.detach())
    u = u / u.norm(dim=1, keepdim=True)
    sae.W_dec[dead] = u
    sae.b_enc[dead] = 0.0
    return rows


def resample_one_at_a_time(sae, x, dead, *, seed=0):  # one draw per dead latent: not the spec's draw
    with torch.no_grad():
        x_hat, _ = sae(x)
        errors = ((x - x_hat) ** 2).sum(-1)
        if not bool((errors > 0).any()):
            errors = torch.ones_like(errors)
        g = torch.Generator().manual_seed(seed)
        idx = dead.nonzero().flatten()
        rows = torch.zeros(len(idx), dtype=torch.long)
        scale = sae.W_enc[:, ~dead].norm(dim=0).mean() if bool((~dead).any()) else 1.0
        for k, j in enumerate(idx.tolist()):
            rows[k] = torch.multinomial(errors / errors.sum(), 1, generator=g)[0]
            u = x[rows[k]] - sae.b_dec
            u = u / u.norm()
            sae.W_dec[j] = u
            sae.W_enc[:, j] = 0.2 * scale * u
            sae.b_enc[j] = 0.0
        return rows


def resample_rows_shuffled(sae, x, dead, *, seed=0):  # the right draw, returned sorted: not the order used
    return _resample(sae, x, dead, seed).sort().values


def resample_new_parameters(sae, x, dead, *, seed=0):  # new Parameters: the optimiser keeps the old ones
    with torch.no_grad():
        x_hat, _ = sae(x)
        errors = ((x - x_hat) ** 2).sum(-1)
        rows = torch.multinomial(errors, int(dead.sum()), replacement=True,
                                 generator=torch.Generator().manual_seed(seed))
        u = x[rows] - sae.b_dec
        u = u / u.norm(dim=1, keepdim=True)
        W_dec, W_enc, b_enc = sae.W_dec.detach().clone(), sae.W_enc.detach().clone(), sae.b_enc.detach().clone()
        scale = W_enc[:, ~dead].norm(dim=0).mean()
        W_dec[dead], W_enc[:, dead], b_enc[dead] = u, 0.2 * scale * u.T, 0.0
    sae.W_dec, sae.W_enc, sae.b_enc = nn.Parameter(W_dec), nn.Parameter(W_enc), nn.Parameter(b_enc)
    return rows


# ---------------------------------------------------------------------------------------------- 09.7 mean_max_cosine

def mmcs_wrong_axis(learned, true):  # for each learned row, its best feature
    c = F.normalize(true, dim=1) @ F.normalize(learned, dim=1).T
    return c.max(dim=0).values.mean().item()


def mmcs_abs(learned, true):  # the sign dropped
    c = F.normalize(true, dim=1) @ F.normalize(learned, dim=1).T
    return c.abs().max(dim=1).values.mean().item()


def mmcs_dot(learned, true):  # dot products, not cosines
    return (true @ learned.T).max(dim=1).values.mean().item()


def mmcs_mean_all(learned, true):  # the mean of every cosine
    return (F.normalize(true, dim=1) @ F.normalize(learned, dim=1).T).mean().item()


def mmcs_learned_only(learned, true):  # only the learned rows normalised ("the true features are unit")
    return (true @ F.normalize(learned, dim=1).T).max(dim=1).values.mean().item()


def mmcs_float32(learned, true):  # computed in float32
    c = F.normalize(true.float(), dim=1) @ F.normalize(learned.float(), dim=1).T
    return c.max(dim=1).values.mean().item()


def mmcs_no_clamp(learned, true):  # divides by the raw norms: NaN for a zero row
    a = learned / learned.norm(dim=1, keepdim=True)
    b = true / true.norm(dim=1, keepdim=True)
    return (b @ a.T).max(dim=1).values.mean().item()


MUTANTS = {
    "09.4": [loss_mse_mean, loss_sum_batch, loss_l1_mean_latents, loss_l2_penalty, loss_norm_not_squared,
             loss_no_abs, loss_item, loss_coeff_both],
    "09.5": [SAENoReLU, SAENoCentring, SAEReluFirst, SAEDecodeNoBias, SAESwapped, SAENormaliseColumns, SAENormaliseWithGrad,
             SAENewParameter, SAEGlobalRNG, SAENotUnit, SAESharedMemory, SAEUntiedInit, SAELinear, SAETransposedEncoder, SAEDetachedDecoder],
    "09.6": [resample_uniform, resample_argmax, resample_norm, resample_no_centre, resample_no_unit,
             resample_no_scale, resample_all_norms, resample_keep_bias, resample_everything, resample_global_rng,
             resample_no_grad_missing, resample_new_parameters, resample_one_at_a_time,
             resample_rows_shuffled],
    "09.7": [mmcs_wrong_axis, mmcs_abs, mmcs_dot, mmcs_mean_all, mmcs_learned_only, mmcs_float32, mmcs_no_clamp],
}
