"""Blind mutants for notebook 09 (superposition, sparse autoencoders and the mystery model): plausible wrong
answers written from the learner's notebook only. Each mutant carries a one-line comment saying what is wrong.
Shared private helpers (`_toy_loss`, `_dimensionality`, `_train`, `_sae_loss`, `_SAE`, `_resample`, `_mmcs`, the
mystery helpers) are the correct code a learner would write, with a few knobs; the mistake of each mutant is in the
knob it turns or the code it adds. The answers of 09.8 and 09.9 are computed with the mystery model by a flawed
method (one hard-coded answer each), never at import time.

Exercises: 09.1 toy_loss, 09.2 feature_dimensionality, 09.3 train_toy_model, 09.4 sae_loss,
09.5 SparseAutoencoder, 09.6 resample_dead, 09.7 mean_max_cosine, 09.8 mystery_mechanism, 09.9 mystery_heads.
"""
import functools

import torch
import torch.nn.functional as F
from torch import nn

from mi_helpers.hooks import run_with_cache
from mi_helpers.interventions import ablate_heads, patch
from mi_helpers.toy import ToyModel, sparse_features

# ----------------------------------------------------------------------------- 09.1 toy_loss


def _toy_loss(out, x, importance):
    """The learner's correct loss."""
    return (importance * (out - x) ** 2).sum(dim=-1).mean()


def blind_toy_loss_weigh_before_square(out, x, importance):
    # WRONG (subtle): weighs before squaring: the importance ends up squared.
    return ((importance * (out - x)) ** 2).sum(dim=-1).mean()


def blind_toy_loss_sum_batch(out, x, importance):
    # WRONG (subtle): sums over the batch too: the loss grows with the batch size.
    return (importance * (out - x) ** 2).sum()


def blind_toy_loss_no_importance(out, x, importance):
    # WRONG (subtle): forgets the importance: every feature weighs 1.
    return ((out - x) ** 2).sum(dim=-1).mean()


def blind_toy_loss_axes_swapped(out, x, importance):
    # WRONG (subtle): sums over the batch, then averages over the features (the two axes swapped).
    return (importance * (out - x) ** 2).sum(dim=0).mean()


def blind_toy_loss_normalised_importance(out, x, importance):
    # WRONG (subtle): normalises the importance to sum to 1 ("weights of a weighted average").
    return ((importance / importance.sum()) * (out - x) ** 2).sum(dim=-1).mean()


def blind_toy_loss_mse_builtin(out, x, importance):
    # WRONG (builtin): F.mse_loss on sqrt(importance)-scaled tensors: its mean also divides by n_features.
    w = importance.sqrt()
    return F.mse_loss(out * w, x * w)


def blind_toy_loss_mse_times_total(out, x, importance):
    # WRONG (builtin): the total importance times F.mse_loss: right only when every importance is equal.
    return importance.sum() * F.mse_loss(out, x)


def blind_toy_loss_keepdim(out, x, importance):
    # WRONG (edge): keepdim=True in the sum: the result has shape [1], not 0-d.
    return (importance * (out - x) ** 2).sum(dim=-1, keepdim=True).mean(dim=0)


def blind_toy_loss_float32(out, x, importance):
    # WRONG (dtype): computes in float32 whatever the dtype of out.
    return _toy_loss(out.float(), x.float(), importance.float())


def blind_toy_loss_item(out, x, importance):
    # WRONG (inplace): goes through .item() to get "a number": the result is detached from autograd.
    return torch.tensor(_toy_loss(out, x, importance).item(), dtype=out.dtype)


def blind_toy_loss_importance_inplace(out, x, importance):
    # WRONG (inplace): normalises the caller's importance in place (importance /= its sum) before using it.
    importance /= importance.sum()
    return (importance * (out - x) ** 2).sum(dim=-1).mean()


# ----------------------------------------------------------------------------- 09.2 feature_dimensionality


def _dimensionality(W, *, gram=None, numerator=None, denominator=None, threshold=0.0, eps=0.0, out_dtype=None):
    """The learner's correct D_i with knobs."""
    G = W.T @ W if gram is None else gram(W)
    norms2 = G.diagonal()
    num = norms2 ** 2 if numerator is None else numerator(W, G, norms2)
    den = (G ** 2).sum(dim=1) if denominator is None else denominator(W, G, norms2)
    den = den + eps
    ok = (den > 0) & (norms2 > threshold)
    D = torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(den))
    return D if out_dtype is None else D.to(out_dtype)


def blind_feature_dimensionality_rows(W):
    # WRONG (subtle): the Gram matrix of the rows (W @ W.T): one value per hidden dimension, not per feature.
    return _dimensionality(W, gram=lambda W: W @ W.T)


def blind_feature_dimensionality_cos_squared(W):
    # WRONG (subtle): normalises both vectors: the denominator sums squared cosines, not (Ŵ_i · W_j)².
    def den(W, G, n2):
        n = n2.clamp_min(1e-30).sqrt()
        return ((G / n[:, None] / n[None, :]) ** 2).sum(dim=1)
    return _dimensionality(W, numerator=lambda W, G, n2: n2, denominator=den)


def blind_feature_dimensionality_no_hat(W):
    # WRONG (subtle): forgets to normalise W_i in the dot product: ||W_i||² / Σ_j (W_i · W_j)².
    return _dimensionality(W, numerator=lambda W, G, n2: n2)


def blind_feature_dimensionality_hat_once(W):
    # WRONG (subtle): divides G[i, j]² by ||W_i|| instead of ||W_i||²: D = ||W_i||³ / Σ_j G[i, j]².
    return _dimensionality(W, numerator=lambda W, G, n2: n2 * n2.sqrt())


def blind_feature_dimensionality_abs(W):
    # WRONG (subtle): |Ŵ_i · W_j| in the denominator instead of its square.
    def den(W, G, n2):
        return G.abs().sum(dim=1) / n2.clamp_min(1e-30).sqrt()
    return _dimensionality(W, numerator=lambda W, G, n2: n2, denominator=den)


def blind_feature_dimensionality_exclude_self(W):
    # WRONG (subtle): the sum over j leaves i itself out (the spec says i included).
    def den(W, G, n2):
        return ((G ** 2).sum(dim=1) - n2 ** 2) / n2.clamp_min(1e-30)
    return _dimensionality(W, numerator=lambda W, G, n2: n2, denominator=den)


def blind_feature_dimensionality_nan(W):
    # WRONG (edge): no guard: a zero column gives 0/0 = NaN.
    G = W.T @ W
    return G.diagonal() ** 2 / (G ** 2).sum(dim=1)


def blind_feature_dimensionality_threshold(W):
    # WRONG (edge): treats columns of squared norm under 1e-4 as dropped: small (scaled) W gives 0s.
    return _dimensionality(W, threshold=1e-4)


def blind_feature_dimensionality_eps(W):
    # WRONG (edge): adds 1e-8 to the denominator "for safety": wrong for small W (not scale invariant).
    return _dimensionality(W, eps=1e-8)


def blind_feature_dimensionality_float32(W):
    # WRONG (dtype): fills a torch.zeros(n) of the default dtype: float64 W gives a float32 result.
    D = _dimensionality(W)
    out = torch.zeros(W.shape[1])
    out[:] = D
    return out


def blind_feature_dimensionality_alias(W):
    # WRONG (inplace): W_hat = W; W_hat /= norms: divides the caller's W in place (and then uses it twice).
    norms = W.norm(dim=0).clamp_min(1e-12)
    W_hat = W
    W_hat /= norms
    den = ((W_hat.T @ W) ** 2).sum(dim=1)
    num = (W ** 2).sum(dim=0)
    return torch.where(den > 0, num / den.clamp_min(1e-30), torch.zeros_like(den))


def blind_feature_dimensionality_normalize_rows(W):
    # WRONG (builtin): F.normalize(W, dim=1) normalises the rows, not the columns.
    W_hat = F.normalize(W, dim=1)
    num = (W ** 2).sum(dim=0)
    den = ((W_hat.T @ W) ** 2).sum(dim=1)
    return torch.where(den > 0, num / den.clamp_min(1e-30), torch.zeros_like(den))


# ----------------------------------------------------------------------------- 09.3 train_toy_model


def _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed, *, zero_grad=True,
           params=None, one_batch=False, reseed_each=False, global_rng=False, manual_seed=False, evaluate=True,
           start=0, double=False, opt_kwargs=None, loss_fn=_toy_loss, clamp_bias=False):
    """The learner's training loop (correct with the default knobs)."""
    if manual_seed:
        torch.manual_seed(seed)
    model = ToyModel(n_features, n_hidden, seed=seed)
    if double:
        model = model.double()
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters() if params is None else params(model),
                           **({"lr": lr} if opt_kwargs is None else opt_kwargs))
    gen = None if global_rng else g
    x = sparse_features(batch_size, n_features, density, generator=gen) if one_batch else None
    for _ in range(start, steps):
        if reseed_each:
            gen = torch.Generator().manual_seed(seed)
        if not one_batch:
            x = sparse_features(batch_size, n_features, density, generator=gen)
        x_ = x.double() if double else x
        loss = loss_fn(model(x_), x_, importance)
        if zero_grad:
            opt.zero_grad()
        loss.backward()
        opt.step()
        if clamp_bias:
            with torch.no_grad():
                model.b.clamp_(max=0)
    return model.eval() if evaluate else model


def blind_train_toy_model_no_zero_grad(n_features, n_hidden, density, importance, *, steps=1000, batch_size=512,
                                       lr=0.01, seed=0):
    # WRONG (subtle): never calls optimizer.zero_grad(): the gradients of every step so far add up.
    return _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed, zero_grad=False)


def blind_train_toy_model_only_W(n_features, n_hidden, density, importance, *, steps=1000, batch_size=512,
                                 lr=0.01, seed=0):
    # WRONG (subtle): Adam([model.W]): the bias is never trained (it stays 0).
    return _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed,
                  params=lambda m: [m.W])


def blind_train_toy_model_one_batch(n_features, n_hidden, density, importance, *, steps=1000, batch_size=512,
                                    lr=0.01, seed=0):
    # WRONG (subtle): draws one batch before the loop and trains on it at every step (no fresh data).
    return _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed, one_batch=True)


def blind_train_toy_model_reseed_each_step(n_features, n_hidden, density, importance, *, steps=1000,
                                           batch_size=512, lr=0.01, seed=0):
    # WRONG (random): makes the generator inside the loop: every step draws the same batch.
    return _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed, reseed_each=True)


def blind_train_toy_model_global_rng(n_features, n_hidden, density, importance, *, steps=1000, batch_size=512,
                                     lr=0.01, seed=0):
    # WRONG (random): sparse_features(..., generator=None): batches come from torch's global random state.
    return _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed, global_rng=True)


def blind_train_toy_model_manual_seed(n_features, n_hidden, density, importance, *, steps=1000, batch_size=512,
                                      lr=0.01, seed=0):
    # WRONG (random): torch.manual_seed(seed) first "for reproducibility": resets the global random state.
    return _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed, manual_seed=True)


def blind_train_toy_model_no_eval(n_features, n_hidden, density, importance, *, steps=1000, batch_size=512,
                                  lr=0.01, seed=0):
    # WRONG (edge): returns the model still in training mode (forgets model.eval()).
    return _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed, evaluate=False)


def blind_train_toy_model_from_one(n_features, n_hidden, density, importance, *, steps=1000, batch_size=512,
                                   lr=0.01, seed=0):
    # WRONG (edge): for step in range(1, steps): one step fewer than asked (steps=1 trains nothing).
    return _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed, start=1)


def blind_train_toy_model_double(n_features, n_hidden, density, importance, *, steps=1000, batch_size=512,
                                 lr=0.01, seed=0):
    # WRONG (dtype): model.double() "for precision": returns a float64 model, not the float32 ToyModel.
    return _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed, double=True)


def blind_train_toy_model_default_lr(n_features, n_hidden, density, importance, *, steps=1000, batch_size=512,
                                     lr=0.01, seed=0):
    # WRONG (builtin): torch.optim.Adam(model.parameters()) without lr=lr: Adam's default 1e-3 whatever lr is.
    return _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed, opt_kwargs={})


def blind_train_toy_model_importance_inplace(n_features, n_hidden, density, importance, *, steps=1000,
                                             batch_size=512, lr=0.01, seed=0):
    # WRONG (inplace): normalises the caller's importance in place (importance /= importance.max()).
    importance /= importance.max()
    return _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed)


def blind_train_toy_model_clamp_bias(n_features, n_hidden, density, importance, *, steps=1000, batch_size=512,
                                     lr=0.01, seed=0):
    # WRONG (inplace): clamps b to <= 0 in place after every step ("the bias must end up negative").
    return _train(n_features, n_hidden, density, importance, steps, batch_size, lr, seed, clamp_bias=True)


# ----------------------------------------------------------------------------- 09.4 sae_loss


def _rec(x, x_hat):
    return ((x_hat - x) ** 2).sum(dim=-1).mean()


def _l1(latents):
    return latents.abs().sum(dim=-1).mean()


def blind_sae_loss_mse_builtin(x, x_hat, latents, l1_coeff):
    # WRONG (builtin): F.mse_loss averages over the d dimensions too: the reconstruction is d times too small.
    return F.mse_loss(x_hat, x) + l1_coeff * _l1(latents)


def blind_sae_loss_norm_p1(x, x_hat, latents, l1_coeff):
    # WRONG (builtin): torch.norm(latents, p=1) is the L1 norm of the whole batch, not averaged over rows.
    return _rec(x, x_hat) + l1_coeff * torch.norm(latents, p=1)


def blind_sae_loss_no_abs(x, x_hat, latents, l1_coeff):
    # WRONG (edge): latents.sum() without abs ("latents are ReLU outputs"): negative latents lower the loss.
    return _rec(x, x_hat) + l1_coeff * latents.sum(dim=-1).mean()


def blind_sae_loss_keepdim(x, x_hat, latents, l1_coeff):
    # WRONG (edge): keepdim=True sums: the loss comes back with shape [1], not 0-d.
    rec = ((x_hat - x) ** 2).sum(dim=-1, keepdim=True).mean(dim=0)
    return rec + l1_coeff * latents.abs().sum(dim=-1, keepdim=True).mean(dim=0)


def blind_sae_loss_l1_mean(x, x_hat, latents, l1_coeff):
    # WRONG (subtle): the L1 part is the mean of |z| over the latents too (divided by n_latents).
    return _rec(x, x_hat) + l1_coeff * latents.abs().mean()


def blind_sae_loss_rec_summed(x, x_hat, latents, l1_coeff):
    # WRONG (subtle): the reconstruction summed over the batch as well (only the L1 part is averaged).
    return ((x_hat - x) ** 2).sum() + l1_coeff * _l1(latents)


def blind_sae_loss_norm_not_squared(x, x_hat, latents, l1_coeff):
    # WRONG (subtle): ||x - x_hat|| per row, not its square.
    return (x_hat - x).norm(dim=-1).mean() + l1_coeff * _l1(latents)


def blind_sae_loss_l2_penalty(x, x_hat, latents, l1_coeff):
    # WRONG (subtle): penalises the squared latents (an L2 penalty), not their absolute values.
    return _rec(x, x_hat) + l1_coeff * (latents ** 2).sum(dim=-1).mean()


def blind_sae_loss_convex(x, x_hat, latents, l1_coeff):
    # WRONG (subtle): (1 - λ) * reconstruction + λ * L1: the reconstruction is weighed down too.
    return (1 - l1_coeff) * _rec(x, x_hat) + l1_coeff * _l1(latents)


def blind_sae_loss_divide_by_d(x, x_hat, latents, l1_coeff):
    # WRONG (subtle): "averaged over the batch" as a total divided by x.shape[-1] (d, not the batch size).
    return ((x_hat - x) ** 2).sum() / x.shape[-1] + l1_coeff * latents.abs().sum() / x.shape[-1]


def blind_sae_loss_float32(x, x_hat, latents, l1_coeff):
    # WRONG (dtype): casts everything to float32 first ("SAEs train in float32").
    return _rec(x.float(), x_hat.float()) + l1_coeff * _l1(latents.float())


def blind_sae_loss_l1_item(x, x_hat, latents, l1_coeff):
    # WRONG (inplace): takes the L1 part with .item() (for logging): the latents get no gradient.
    return _rec(x, x_hat) + l1_coeff * _l1(latents).item()


# ----------------------------------------------------------------------------- 09.5 SparseAutoencoder


class _SAE(nn.Module):
    """The learner's correct SAE, with class-level knobs."""

    relu = True
    sub_bdec = True
    dec_bias = True
    init_dim = 1
    norm_dim = 1
    clone_enc = True
    generator = "own"       # "own", "global", "manual_seed"
    dtype = None
    swap_out = False
    reassign = False
    frobenius = False

    def __init__(self, d, n_latents, *, seed=0):
        super().__init__()
        if self.generator == "own":
            g = torch.Generator().manual_seed(seed)
            w = torch.randn(n_latents, d, generator=g, dtype=self.dtype or torch.float32)
        else:
            if self.generator == "manual_seed":
                torch.manual_seed(seed)
            w = torch.randn(n_latents, d, dtype=self.dtype or torch.float32)
        w = w / w.norm(dim=self.init_dim, keepdim=True)
        self.W_dec = nn.Parameter(w)
        self.W_enc = nn.Parameter(w.T.clone() if self.clone_enc else w.T)
        self.b_enc = nn.Parameter(torch.zeros(n_latents, dtype=w.dtype))
        self.b_dec = nn.Parameter(torch.zeros(d, dtype=w.dtype))

    def encode(self, x):
        pre = ((x - self.b_dec) if self.sub_bdec else x) @ self.W_enc + self.b_enc
        return torch.relu(pre) if self.relu else pre

    def decode(self, z):
        return z @ self.W_dec + self.b_dec if self.dec_bias else z @ self.W_dec

    def forward(self, x):
        z = self.encode(x)
        x_hat = self.decode(z)
        return (z, x_hat) if self.swap_out else (x_hat, z)

    @torch.no_grad()
    def normalise_decoder(self):
        if self.frobenius:
            norm = self.W_dec.norm()
        else:
            norm = self.W_dec.norm(dim=self.norm_dim, keepdim=True)
        if self.reassign:
            self.W_dec = nn.Parameter(self.W_dec / norm)
        else:
            self.W_dec /= norm


class blind_SparseAutoencoder_no_relu(_SAE):
    # WRONG (subtle): encode forgets the ReLU: latents can be negative.
    relu = False


class blind_SparseAutoencoder_no_bdec_in_encode(_SAE):
    # WRONG (subtle): encode uses x @ W_enc + b_enc, without subtracting b_dec first.
    sub_bdec = False


class blind_SparseAutoencoder_decode_no_bias(_SAE):
    # WRONG (subtle): decode returns z @ W_dec, forgetting + b_dec.
    dec_bias = False


class blind_SparseAutoencoder_init_columns(_SAE):
    # WRONG (builtin): w.norm(dim=0) at initialisation: unit columns of W_dec, not unit rows.
    init_dim = 0


class blind_SparseAutoencoder_normalise_columns(_SAE):
    # WRONG (subtle): normalise_decoder rescales the columns of W_dec (dim=0), not its rows.
    norm_dim = 0


class blind_SparseAutoencoder_frobenius(_SAE):
    # WRONG (builtin): normalise_decoder divides by W_dec.norm() (the whole matrix), not each row's norm.
    frobenius = True


class blind_SparseAutoencoder_shared_memory(_SAE):
    # WRONG (inplace): W_enc = nn.Parameter(w.T) without .clone(): it shares memory with W_dec.
    clone_enc = False


class blind_SparseAutoencoder_new_parameter(_SAE):
    # WRONG (inplace): normalise_decoder assigns a new nn.Parameter: the optimiser keeps the old one.
    reassign = True


class blind_SparseAutoencoder_global_rng(_SAE):
    # WRONG (random): torch.randn without a generator: draws from (and moves) the global random state.
    generator = "global"


class blind_SparseAutoencoder_manual_seed(_SAE):
    # WRONG (random): torch.manual_seed(seed) then torch.randn: resets the global random state.
    generator = "manual_seed"


class blind_SparseAutoencoder_decode_float32(_SAE):
    # WRONG (dtype): decode returns .float(): a float64 SAE gives a float32 reconstruction.

    def decode(self, z):
        return (z @ self.W_dec + self.b_dec).float()


class blind_SparseAutoencoder_swapped_outputs(_SAE):
    # WRONG (subtle): forward returns (latents, x_hat), the pair in the wrong order.
    swap_out = True


class blind_SparseAutoencoder_tied(_SAE):
    # WRONG (subtle): reads "W_enc as the transpose of W_dec" as tied weights: W_enc is a view, not a parameter.

    def __init__(self, d, n_latents, *, seed=0):
        nn.Module.__init__(self)
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(n_latents, d, generator=g)
        self.W_dec = nn.Parameter(w / w.norm(dim=1, keepdim=True))
        self.b_enc = nn.Parameter(torch.zeros(n_latents))
        self.b_dec = nn.Parameter(torch.zeros(d))

    @property
    def W_enc(self):
        return self.W_dec.T


# ----------------------------------------------------------------------------- 09.6 resample_dead


def _resample(sae, x, dead, seed, *, errors_fn=None, draw=None, sub_bdec=True, unit=True, s_fn=None,
              reset_benc=True, reassign=False, empty=None, zero_guard=True, out_dtype=None):
    """The learner's correct resampling, with knobs."""
    n_dead = int(dead.sum())
    if n_dead == 0:
        return torch.empty(0, dtype=torch.long) if empty is None else empty()
    with torch.no_grad():
        x_hat, _ = sae(x)
        errors = ((x - x_hat) ** 2).sum(dim=-1) if errors_fn is None else errors_fn(x, x_hat)
        if zero_guard and not (errors > 0).any():
            errors = torch.ones_like(errors)
        if draw is None:
            g = torch.Generator().manual_seed(seed)
            rows = torch.multinomial(errors, n_dead, replacement=True, generator=g)
        else:
            rows = draw(errors, n_dead, seed)
        u = x[rows] - sae.b_dec if sub_bdec else x[rows].clone()
        if unit:
            u = u / u.norm(dim=1, keepdim=True)
        alive = ~dead
        if s_fn is not None:
            s = s_fn(sae, dead)
        else:
            s = sae.W_enc[:, alive].norm(dim=0).mean() if alive.any() else 1.0
        if reassign:
            W_dec, W_enc, b_enc = sae.W_dec.detach().clone(), sae.W_enc.detach().clone(), sae.b_enc.detach().clone()
        else:
            W_dec, W_enc, b_enc = sae.W_dec, sae.W_enc, sae.b_enc
        W_dec[dead] = u.to(W_dec.dtype)
        W_enc[:, dead] = (0.2 * s * u.T).to(W_enc.dtype)
        if reset_benc:
            b_enc[dead] = 0
        if reassign:
            sae.W_dec, sae.W_enc, sae.b_enc = nn.Parameter(W_dec), nn.Parameter(W_enc), nn.Parameter(b_enc)
    return rows if out_dtype is None else rows.to(out_dtype)


def blind_resample_dead_norm_errors(sae, x, dead, *, seed=0):
    # WRONG (subtle): draws in proportion to the norm of the error, not the squared error.
    return _resample(sae, x, dead, seed, errors_fn=lambda x, x_hat: (x - x_hat).norm(dim=-1))


def blind_resample_dead_worst_rows(sae, x, dead, *, seed=0):
    # WRONG (subtle): takes the rows with the largest errors (in order) instead of drawing them at random.
    def draw(errors, n_dead, seed):
        order = errors.argsort(descending=True)
        return order[torch.arange(n_dead) % len(order)]
    return _resample(sae, x, dead, seed, draw=draw)


def blind_resample_dead_global_rng(sae, x, dead, *, seed=0):
    # WRONG (random): torch.multinomial without generator=: draws from torch's global random state.
    return _resample(sae, x, dead, seed, draw=lambda e, n, s: torch.multinomial(e, n, replacement=True))


def blind_resample_dead_reseed_each(sae, x, dead, *, seed=0):
    # WRONG (random): a fresh generator seeded with seed for each dead latent: they all draw the same row.
    def draw(errors, n_dead, seed):
        return torch.cat([torch.multinomial(errors, 1, replacement=True,
                                            generator=torch.Generator().manual_seed(seed)) for _ in range(n_dead)])
    return _resample(sae, x, dead, seed, draw=draw)


def blind_resample_dead_no_bdec(sae, x, dead, *, seed=0):
    # WRONG (subtle): u along x[row] itself, forgetting to subtract b_dec.
    return _resample(sae, x, dead, seed, sub_bdec=False)


def blind_resample_dead_not_unit(sae, x, dead, *, seed=0):
    # WRONG (subtle): u = x[row] - b_dec, not divided by its norm.
    return _resample(sae, x, dead, seed, unit=False)


def blind_resample_dead_s_all(sae, x, dead, *, seed=0):
    # WRONG (subtle): s is the mean norm of every encoder column, dead ones included.
    return _resample(sae, x, dead, seed, s_fn=lambda sae, dead: sae.W_enc.norm(dim=0).mean())


def blind_resample_dead_s_rows(sae, x, dead, *, seed=0):
    # WRONG (builtin): norm(dim=1): the norms of the d rows of W_enc[:, alive], not of its columns.
    return _resample(sae, x, dead, seed,
                     s_fn=lambda sae, dead: sae.W_enc[:, ~dead].norm(dim=1).mean() if (~dead).any() else 1.0)


def blind_resample_dead_keeps_benc(sae, x, dead, *, seed=0):
    # WRONG (subtle): leaves the dead latents' encoder biases as they were (not set to 0).
    return _resample(sae, x, dead, seed, reset_benc=False)


def blind_resample_dead_new_parameters(sae, x, dead, *, seed=0):
    # WRONG (inplace): builds new nn.Parameters for W_dec, W_enc and b_enc: the optimiser holds the old ones.
    return _resample(sae, x, dead, seed, reassign=True)


def blind_resample_dead_empty_float(sae, x, dead, *, seed=0):
    # WRONG (edge): with no dead latent returns torch.tensor([]), a float32 tensor, not int64.
    return _resample(sae, x, dead, seed, empty=lambda: torch.tensor([]))


def blind_resample_dead_no_zero_guard(sae, x, dead, *, seed=0):
    # WRONG (edge): no fallback when every error is 0: torch.multinomial gets an all-zero distribution.
    return _resample(sae, x, dead, seed, zero_guard=False)


def blind_resample_dead_int32(sae, x, dead, *, seed=0):
    # WRONG (dtype): returns the rows as int32 (.int()), not int64.
    return _resample(sae, x, dead, seed, out_dtype=torch.int32)


# ----------------------------------------------------------------------------- 09.7 mean_max_cosine


def _cosines(learned, true):
    return F.normalize(true, dim=1) @ F.normalize(learned, dim=1).T  # [k, m]


def blind_mean_max_cosine_wrong_axis(learned, true):
    # WRONG (subtle): max over the true features (dim=0): the mean over learned rows of their best match.
    return _cosines(learned, true).max(dim=0).values.mean().item()


def blind_mean_max_cosine_abs(learned, true):
    # WRONG (subtle): the absolute cosine: a row pointing against a feature counts as finding it.
    return _cosines(learned, true).abs().max(dim=1).values.mean().item()


def blind_mean_max_cosine_unit_learned(learned, true):
    # WRONG (subtle): assumes the decoder rows are unit vectors: normalises only the true features.
    return (F.normalize(true, dim=1) @ learned.T).max(dim=1).values.mean().item()


def blind_mean_max_cosine_normalize_dim0(learned, true):
    # WRONG (builtin): F.normalize(..., dim=0) normalises the columns, not the rows.
    return (F.normalize(true, dim=0) @ F.normalize(learned, dim=0).T).max(dim=1).values.mean().item()


def blind_mean_max_cosine_indices(learned, true):
    # WRONG (builtin): torch.max(cos, 1)[1] is the indices, not the values: averages the argmax positions.
    return torch.max(_cosines(learned, true), 1)[1].float().mean().item()


def blind_mean_max_cosine_no_clamp(learned, true):
    # WRONG (edge): divides by the norms without clamping: a zero row gives NaN.
    t = true / true.norm(dim=1, keepdim=True)
    w = learned / learned.norm(dim=1, keepdim=True)
    return (t @ w.T).max(dim=1).values.mean().item()


def blind_mean_max_cosine_big_eps(learned, true):
    # WRONG (edge): divides by norm + 1e-3: cosines of short vectors shrink (not scale invariant).
    t = true / (true.norm(dim=1, keepdim=True) + 1e-3)
    w = learned / (learned.norm(dim=1, keepdim=True) + 1e-3)
    return (t @ w.T).max(dim=1).values.mean().item()


def blind_mean_max_cosine_overall_max(learned, true):
    # WRONG (subtle): the single largest cosine of the whole matrix, not the mean of each feature's best.
    return _cosines(learned, true).max().item()


def blind_mean_max_cosine_one_to_one(learned, true):
    # WRONG (subtle): greedy one-to-one matching (each learned row used once), which the spec does not ask for.
    cos = _cosines(learned, true).clone()
    best = []
    for _ in range(min(cos.shape)):
        flat = int(cos.argmax())
        i, j = divmod(flat, cos.shape[1])
        best.append(cos[i, j].item())
        cos[i, :] = -float("inf")
        cos[:, j] = -float("inf")
    best += [-1.0] * (cos.shape[0] - len(best))
    return sum(best) / len(best)


def blind_mean_max_cosine_inplace(learned, true):
    # WRONG (inplace): normalises learned and true in place (learned /= its norms): edits the caller's tensors.
    learned /= learned.norm(dim=1, keepdim=True).clamp_min(1e-12)
    true /= true.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (true @ learned.T).max(dim=1).values.mean().item()


def blind_mean_max_cosine_half(learned, true):
    # WRONG (dtype): computes in bfloat16 "to save memory": the score is off by about 1e-2.
    return _cosines(learned.bfloat16(), true.bfloat16()).max(dim=1).values.mean().item()


# ----------------------------------------------------------------------------- 09.8 mystery_mechanism


@functools.lru_cache(maxsize=1)
def _mystery():
    """The model, 500 sequences and its guess at the last position (computed on first use, not at import)."""
    from mi_helpers.mystery import load_mystery_model, mystery_inputs
    model = load_mystery_model()
    tokens = mystery_inputs(500, seed=0)
    with torch.no_grad():
        logits = model(tokens)
    return model, tokens, logits[:, -1].argmax(-1)


def _after_marker(tokens, v, offset):
    """The token at (first occurrence of v) + offset, or -1 (no v, or off the sequence)."""
    n = tokens.shape[1]
    pred = torch.full((tokens.shape[0],), -1, dtype=tokens.dtype)
    for r in range(tokens.shape[0]):
        idx = (tokens[r] == v).nonzero().flatten()
        idx = idx[(idx + offset >= 0) & (idx + offset < n)]
        if len(idx):
            pred[r] = tokens[r, idx[0] + offset]
    return pred


def _induction(tokens):
    pred = torch.full((tokens.shape[0],), -1, dtype=tokens.dtype)
    for r in range(tokens.shape[0]):
        idx = (tokens[r, :-1] == tokens[r, -1]).nonzero().flatten()
        if len(idx):
            pred[r] = tokens[r, idx[-1] + 1]
    return pred


def _scores(tokens, target, *, marker_search=True, swap_de=False, skip_de=False):
    """Agreement of each candidate's prediction with target (the learner's method, with knobs)."""
    def agree(pred):
        return (pred == target).float().mean().item()
    scores = {"a": agree(tokens[:, 0]), "b": agree(_induction(tokens)),
              "c": agree(torch.mode(tokens, dim=1).values), "f": agree(tokens[:, -1])}
    if not skip_de:
        after, before = (-1, 1) if swap_de else (1, -1)
        if marker_search:
            scores["d"] = max(agree(_after_marker(tokens, v, after)) for v in range(32))
            scores["e"] = max(agree(_after_marker(tokens, v, before)) for v in range(32))
        else:  # the marker taken as each sequence's most frequent token
            mode = torch.mode(tokens, dim=1).values
            scores["d"] = agree(torch.stack([_after_marker(tokens[r:r + 1], int(mode[r]), after)[0]
                                             for r in range(len(tokens))]))
            scores["e"] = agree(torch.stack([_after_marker(tokens[r:r + 1], int(mode[r]), before)[0]
                                             for r in range(len(tokens))]))
    return scores


def blind_mystery_mechanism_patterns_look_like_induction():
    # WRONG: judges by attention: the sharp layer-1 head's last row looks at a token the model then outputs,
    # right after some earlier token, "as an induction head does": never checks what that earlier token is.
    model, tokens, guess = _mystery()
    _, cache = run_with_cache(model, tokens, [f"blocks.{model.cfg.n_layers - 1}.attn.hook_pattern"])
    last_row = cache[f"blocks.{model.cfg.n_layers - 1}.attn.hook_pattern"][:, :, -1]  # [batch, head, key]
    head = int(last_row.max(dim=-1).values.mean(0).argmax())
    where = last_row[:, head].argmax(dim=-1)
    copies = (tokens.gather(1, where[:, None]).squeeze(1) == guess).float().mean().item()
    if copies < 0.5:
        return "c"
    if (where == 0).float().mean() > 0.5:
        return "a"
    if (where == tokens.shape[1] - 1).float().mean() > 0.5:
        return "f"
    return "b"


def blind_mystery_mechanism_swapped_d_e():
    # WRONG: the codes of "right after the marker" and "right before the marker" are swapped (index -1 for
    # after): the best-agreeing candidate is reported under the other letter.
    _, tokens, guess = _mystery()
    scores = _scores(tokens, guess, swap_de=True)
    return max(scores, key=scores.get)


def blind_mystery_mechanism_marker_is_mode():
    # WRONG: no search over marker tokens: takes each sequence's most frequent token as "the marker".
    _, tokens, guess = _mystery()
    scores = _scores(tokens, guess, marker_search=False)
    return max(scores, key=scores.get)


def blind_mystery_mechanism_argmin():
    # WRONG: measures every candidate's agreement correctly, then returns min(scores, key=...).
    _, tokens, guess = _mystery()
    scores = _scores(tokens, guess)
    return min(scores, key=scores.get)


def blind_mystery_mechanism_against_last_token():
    # WRONG: compares the candidates with tokens[:, -1] (the last input token) instead of the model's guess.
    _, tokens, _ = _mystery()
    scores = _scores(tokens, tokens[:, -1])
    return max(scores, key=scores.get)


def blind_mystery_mechanism_skips_markers():
    # WRONG: tests only the candidates that need no marker (a, b, c, f) and returns the best of those.
    _, tokens, guess = _mystery()
    scores = _scores(tokens, guess, skip_de=True)
    return max(scores, key=scores.get)


def blind_mystery_mechanism_hard_coded():
    # WRONG: hard-coded from the attention maps (a sharp head in layer 1 after a layer-0 head: "induction").
    return "b"


# ----------------------------------------------------------------------------- 09.9 mystery_heads


def _accuracy(model, tokens, guess, *, positions=False, full_guess=None):
    with torch.no_grad():
        logits = model(tokens)
    if positions:
        return (logits.argmax(-1) == full_guess).float().mean().item()
    return (logits[:, -1].argmax(-1) == guess).float().mean().item()


def _ablation_table(heads, *, how="mean", positions=False):
    model, tokens, guess = _mystery()
    full_guess = None
    if positions:
        with torch.no_grad():
            full_guess = model(tokens).argmax(-1)
    table = {}
    for layer, head in heads:
        kw = {"reference_tokens": tokens} if how != "zero" else {}
        with ablate_heads(model, [(layer, head)], how=how, **kw):
            table[(layer, head)] = _accuracy(model, tokens, guess, positions=positions, full_guess=full_guess)
    return table


def _all_heads(layers=None):
    model = _mystery()[0]
    layers = range(model.cfg.n_layers) if layers is None else layers
    return [(layer, head) for layer in layers for head in range(model.cfg.n_heads)]


def blind_mystery_heads_only_layer1():
    # WRONG: ablates only the last layer's heads ("layer 1 writes the answer"): misses the layer-0 head.
    model = _mystery()[0]
    table = _ablation_table(_all_heads([model.cfg.n_layers - 1]))
    return {h for h, acc in table.items() if acc < 0.5}


def blind_mystery_heads_chance_threshold():
    # WRONG: keeps only heads whose ablation drops the accuracy to chance (< 2/31): too strict a threshold.
    table = _ablation_table(_all_heads())
    return {h for h, acc in table.items() if acc < 2 / 31}


def blind_mystery_heads_top_one():
    # WRONG: names only the single head whose ablation costs the most.
    table = _ablation_table(_all_heads())
    return {min(table, key=table.get)}


def blind_mystery_heads_all_positions():
    # WRONG: measures the accuracy at every position (not the last) and keeps heads costing more than 3 points.
    table = _ablation_table(_all_heads(), positions=True)  # the intact model agrees with itself: 1.0
    return {h for h, acc in table.items() if 1.0 - acc > 0.03}


def blind_mystery_heads_sharp_patterns():
    # WRONG: judges by attention: heads whose pattern is sharp (mean max attention over 0.3), no intervention.
    model, tokens, _ = _mystery()
    names = [f"blocks.{layer}.attn.hook_pattern" for layer in range(model.cfg.n_layers)]
    _, cache = run_with_cache(model, tokens, names)
    chosen = set()
    for layer, name in enumerate(names):
        sharp = cache[name].max(dim=-1).values.mean(dim=(0, 2))  # [head]
        chosen |= {(layer, h) for h in range(model.cfg.n_heads) if sharp[h] > 0.3}
    return chosen


def blind_mystery_heads_patch_last_token():
    # WRONG: patching with the wrong corruption (the last token changed, as for induction): the guess barely
    # moves, so every head "restores" it.
    model, tokens, guess = _mystery()
    corrupted = tokens.clone()
    corrupted[:, -1] = (corrupted[:, -1] + 1) % model.cfg.d_vocab
    names = [f"blocks.{layer}.attn.hook_result" for layer in range(model.cfg.n_layers)]
    _, clean = run_with_cache(model, tokens, names)
    chosen = set()
    with torch.no_grad():
        for layer, head in _all_heads():
            with patch(model, names[layer], clean[names[layer]], dim=2, index=head):
                restored = (model(corrupted)[:, -1].argmax(-1) == guess).float().mean().item()
            if restored > 0.5:
                chosen.add((layer, head))
    return chosen


def blind_mystery_heads_direct_logit():
    # WRONG: direct logit attribution only: heads whose output at the last position raises the guess's logit
    # by more than 1 (misses heads that act through a later head).
    model, tokens, guess = _mystery()
    names = [f"blocks.{layer}.attn.hook_result" for layer in range(model.cfg.n_layers)]
    _, cache = run_with_cache(model, tokens, names)
    chosen = set()
    for layer, name in enumerate(names):
        dla = (cache[name][:, -1] @ model.W_U).gather(2, guess[:, None, None].expand(-1, model.cfg.n_heads, 1))
        chosen |= {(layer, h) for h in range(model.cfg.n_heads) if dla[:, h, 0].mean() > 1.0}
    return chosen


def blind_mystery_heads_hard_coded():
    # WRONG: hard-coded from the attention maps: the one sharp head in layer 1.
    return {(1, 1)}


MUTANTS = {
    "09.1": [
        (blind_toy_loss_weigh_before_square, "subtle"),
        (blind_toy_loss_sum_batch, "subtle"),
        (blind_toy_loss_no_importance, "subtle"),
        (blind_toy_loss_axes_swapped, "subtle"),
        (blind_toy_loss_normalised_importance, "subtle"),
        (blind_toy_loss_mse_builtin, "builtin"),
        (blind_toy_loss_mse_times_total, "builtin"),
        (blind_toy_loss_keepdim, "edge"),
        (blind_toy_loss_float32, "dtype"),
        (blind_toy_loss_item, "inplace"),
        (blind_toy_loss_importance_inplace, "inplace"),
    ],
    "09.2": [
        (blind_feature_dimensionality_rows, "subtle"),
        (blind_feature_dimensionality_cos_squared, "subtle"),
        (blind_feature_dimensionality_no_hat, "subtle"),
        (blind_feature_dimensionality_hat_once, "subtle"),
        (blind_feature_dimensionality_abs, "subtle"),
        (blind_feature_dimensionality_exclude_self, "subtle"),
        (blind_feature_dimensionality_nan, "edge"),
        (blind_feature_dimensionality_threshold, "edge"),
        (blind_feature_dimensionality_eps, "edge"),
        (blind_feature_dimensionality_float32, "dtype"),
        (blind_feature_dimensionality_alias, "inplace"),
        (blind_feature_dimensionality_normalize_rows, "builtin"),
    ],
    "09.3": [
        (blind_train_toy_model_no_zero_grad, "subtle"),
        (blind_train_toy_model_only_W, "subtle"),
        (blind_train_toy_model_one_batch, "subtle"),
        (blind_train_toy_model_reseed_each_step, "random"),
        (blind_train_toy_model_global_rng, "random"),
        (blind_train_toy_model_manual_seed, "random"),
        (blind_train_toy_model_no_eval, "edge"),
        (blind_train_toy_model_from_one, "edge"),
        (blind_train_toy_model_double, "dtype"),
        (blind_train_toy_model_default_lr, "builtin"),
        (blind_train_toy_model_importance_inplace, "inplace"),
        (blind_train_toy_model_clamp_bias, "inplace"),
    ],
    "09.4": [
        (blind_sae_loss_mse_builtin, "builtin"),
        (blind_sae_loss_norm_p1, "builtin"),
        (blind_sae_loss_no_abs, "edge"),
        (blind_sae_loss_keepdim, "edge"),
        (blind_sae_loss_l1_mean, "subtle"),
        (blind_sae_loss_rec_summed, "subtle"),
        (blind_sae_loss_norm_not_squared, "subtle"),
        (blind_sae_loss_l2_penalty, "subtle"),
        (blind_sae_loss_convex, "subtle"),
        (blind_sae_loss_divide_by_d, "subtle"),
        (blind_sae_loss_float32, "dtype"),
        (blind_sae_loss_l1_item, "inplace"),
    ],
    "09.5": [
        (blind_SparseAutoencoder_no_relu, "subtle"),
        (blind_SparseAutoencoder_no_bdec_in_encode, "subtle"),
        (blind_SparseAutoencoder_decode_no_bias, "subtle"),
        (blind_SparseAutoencoder_init_columns, "builtin"),
        (blind_SparseAutoencoder_normalise_columns, "subtle"),
        (blind_SparseAutoencoder_frobenius, "builtin"),
        (blind_SparseAutoencoder_shared_memory, "inplace"),
        (blind_SparseAutoencoder_new_parameter, "inplace"),
        (blind_SparseAutoencoder_global_rng, "random"),
        (blind_SparseAutoencoder_manual_seed, "random"),
        (blind_SparseAutoencoder_decode_float32, "dtype"),
        (blind_SparseAutoencoder_swapped_outputs, "subtle"),
        (blind_SparseAutoencoder_tied, "subtle"),
    ],
    "09.6": [
        (blind_resample_dead_norm_errors, "subtle"),
        (blind_resample_dead_worst_rows, "subtle"),
        (blind_resample_dead_global_rng, "random"),
        (blind_resample_dead_reseed_each, "random"),
        (blind_resample_dead_no_bdec, "subtle"),
        (blind_resample_dead_not_unit, "subtle"),
        (blind_resample_dead_s_all, "subtle"),
        (blind_resample_dead_s_rows, "builtin"),
        (blind_resample_dead_keeps_benc, "subtle"),
        (blind_resample_dead_new_parameters, "inplace"),
        (blind_resample_dead_empty_float, "edge"),
        (blind_resample_dead_no_zero_guard, "edge"),
        (blind_resample_dead_int32, "dtype"),
    ],
    "09.7": [
        (blind_mean_max_cosine_wrong_axis, "subtle"),
        (blind_mean_max_cosine_abs, "subtle"),
        (blind_mean_max_cosine_unit_learned, "subtle"),
        (blind_mean_max_cosine_normalize_dim0, "builtin"),
        (blind_mean_max_cosine_indices, "builtin"),
        (blind_mean_max_cosine_no_clamp, "edge"),
        (blind_mean_max_cosine_big_eps, "edge"),
        (blind_mean_max_cosine_overall_max, "subtle"),
        (blind_mean_max_cosine_one_to_one, "subtle"),
        (blind_mean_max_cosine_inplace, "inplace"),
        (blind_mean_max_cosine_half, "dtype"),
    ],
    "09.8": [
        (blind_mystery_mechanism_patterns_look_like_induction, "subtle"),
        (blind_mystery_mechanism_swapped_d_e, "subtle"),
        (blind_mystery_mechanism_marker_is_mode, "subtle"),
        (blind_mystery_mechanism_argmin, "subtle"),
        (blind_mystery_mechanism_against_last_token, "subtle"),
        (blind_mystery_mechanism_skips_markers, "subtle"),
        (blind_mystery_mechanism_hard_coded, "subtle"),
    ],
    "09.9": [
        (blind_mystery_heads_only_layer1, "subtle"),
        (blind_mystery_heads_chance_threshold, "subtle"),
        (blind_mystery_heads_top_one, "subtle"),
        (blind_mystery_heads_all_positions, "subtle"),
        (blind_mystery_heads_sharp_patterns, "subtle"),
        (blind_mystery_heads_patch_last_token, "subtle"),
        (blind_mystery_heads_direct_logit, "subtle"),
        (blind_mystery_heads_hard_coded, "subtle"),
    ],
}
