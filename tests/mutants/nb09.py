"""Plausible wrong answers to notebook 09 (superposition, sparse dictionaries, the mystery model); every one
must fail its check."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mi_helpers.hooks import run_with_cache
from mi_helpers.interventions import ablate_heads
from mi_helpers.mystery import load_mystery_model, mystery_inputs
from mi_helpers.toy import ToyModel, sparse_features

from mutants.factory import named


# ------------------------------------------------------------ section 1

# ---------------------------------------------------------------- 09.1

def _loss(mistake):
    def toy_loss(out, x, importance):
        if mistake == "inplace":
            d = out.sub_(x)  # edits the model's output in place
            return (importance * d ** 2).sum(-1).mean()
        sq = (out - x) ** 2
        if mistake == "no_importance":
            return sq.sum(-1).mean()
        if mistake == "importance_squared":
            return ((importance * (out - x)) ** 2).sum(-1).mean()
        if mistake == "mean_all":
            return (importance * sq).mean()
        if mistake == "sum_all":
            return (importance * sq).sum()
        if mistake == "abs_error":
            return (importance * (out - x).abs()).sum(-1).mean()
        if mistake == "detached":
            return torch.tensor((importance * sq).sum(-1).mean().item(), dtype=out.dtype)
        if mistake == "float32":
            return (importance * sq).sum(-1).mean().float()
        if mistake == "mean_features_sum_batch":
            return (importance * sq).mean(-1).sum()
        raise ValueError(mistake)
    return named("toy_loss", toy_loss, mistake)


_TOY = {"09.1": [
    _loss("no_importance"),            # the importance forgotten
    _loss("importance_squared"),       # (importance * (out - x)) ** 2: weighs the error, not the squared error
    _loss("mean_all"),                 # .mean() over batch and features
    _loss("sum_all"),                  # .sum() over batch and features
    _loss("abs_error"),                # L1 instead of squared error
    _loss("detached"),                 # .item() wrapped back in a tensor: no gradient
    _loss("float32"),                  # .float(): float64 inputs give a float32 loss
    _loss("mean_features_sum_batch"),  # the two reductions swapped
    _loss("inplace"),                  # out.sub_(x): edits the caller's tensor
]}


# ---------------------------------------------------------------- 09.2

def _dim(mistake):
    def feature_dimensionality(W):
        if mistake == "rows":
            W = W.T
        gram = W.T @ W
        sq = torch.diagonal(gram)
        norm = sq.sqrt()
        safe_norm = torch.where(norm > 0, norm, torch.ones_like(norm))
        unit = W / safe_norm
        dots = unit.T @ W  # [i, j] = Ŵ_i · W_j
        num = sq
        if mistake == "no_normalisation":
            den = (gram ** 2).sum(1)
        elif mistake == "both_unit":
            den = ((unit.T @ unit) ** 2).sum(1)
        elif mistake == "exclude_self":
            den = (dots ** 2).sum(1) - sq
        elif mistake == "square_of_sum":
            den = dots.sum(1) ** 2
        elif mistake == "norm_not_squared":
            num, den = norm, (dots ** 2).sum(1)
        elif mistake == "nan_for_zero":
            return sq / (dots ** 2).sum(1)
        elif mistake == "float32":
            num, den = sq.float(), (dots ** 2).sum(1).float()
        else:
            den = (dots ** 2).sum(1)
        alive = den > 0
        return torch.where(alive, num / torch.where(alive, den, torch.ones_like(den)), torch.zeros_like(den))
    return named("feature_dimensionality", feature_dimensionality, mistake)


def feature_dimensionality_loop(W):
    # a Python loop over features that builds the result from floats: float32, and loses float64
    out = []
    for i in range(W.shape[1]):
        n2 = float(W[:, i] @ W[:, i])
        den = sum(float(W[:, i] @ W[:, j]) ** 2 for j in range(W.shape[1])) / n2 if n2 > 0 else 0.0
        out.append(n2 / den if den > 0 else 0.0)
    return torch.tensor(out)


_TOY["09.2"] = [
    _dim("no_normalisation"),   # W_i instead of the unit vector in the denominator
    _dim("both_unit"),          # W_j normalised too
    _dim("exclude_self"),       # the sum over j != i
    _dim("square_of_sum"),      # (Σ_j Ŵ_i · W_j)² instead of Σ_j (Ŵ_i · W_j)²
    _dim("norm_not_squared"),   # ||W_i|| in the numerator
    _dim("rows"),               # rows of W instead of its columns
    _dim("nan_for_zero"),       # a zero column gives 0 / 0
    _dim("float32"),            # computed in float32
    feature_dimensionality_loop,
]


# ---------------------------------------------------------------- 09.3

def _train(mistake):
    def train_toy_model(n_features, n_hidden, density, importance, *, steps=1000, batch_size=512, lr=0.01, seed=0):
        if mistake == "swapped_sizes":
            model = ToyModel(n_hidden, n_features, seed=seed)
        elif mistake == "unseeded_model":
            model = ToyModel(n_features, n_hidden)
        else:
            model = ToyModel(n_features, n_hidden, seed=seed)
        if mistake == "manual_seed":
            torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        params = [model.W] if mistake == "no_bias" else model.parameters()
        if mistake == "lr_ignored":
            optimizer = torch.optim.Adam(params)
        elif mistake == "sgd":
            optimizer = torch.optim.SGD(params, lr=lr)
        else:
            optimizer = torch.optim.Adam(params, lr=lr)
        for _ in range(steps):
            if mistake == "generator_in_loop":
                g = torch.Generator().manual_seed(seed)
            p = 1 - density if mistake == "inverted_density" else density
            if mistake in ("global_rng", "manual_seed"):
                x = sparse_features(batch_size, n_features, p, generator=None)
            elif mistake == "dense":
                x = torch.rand(batch_size, n_features, generator=g)
            else:
                x = sparse_features(batch_size, n_features, p, generator=g)
            out = model(x)
            if mistake == "no_importance":
                loss = ((out - x) ** 2).sum(-1).mean()
            else:
                loss = (importance * (out - x) ** 2).sum(-1).mean()
            if mistake != "no_zero_grad":
                optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return model if mistake == "train_mode" else model.eval()
    return named("train_toy_model", train_toy_model, mistake)


_TOY["09.3"] = [
    _train("no_importance"),     # the importance left out of the loss
    _train("no_bias"),           # only W given to the optimiser
    _train("no_zero_grad"),      # gradients accumulate over steps
    _train("inverted_density"),  # 1 - density: the probability of absence
    _train("dense"),             # every feature always present
    _train("global_rng"),        # batches from the global random state (generator=None)
    _train("manual_seed"),       # torch.manual_seed(seed), then global draws: moves the global state
    _train("train_mode"),        # returned without .eval()
    _train("unseeded_model"),    # ToyModel(n, m): the seed changes only the batches
    _train("swapped_sizes"),     # ToyModel(n_hidden, n_features)
    _train("lr_ignored"),        # torch.optim.Adam(model.parameters()): the default lr 1e-3, not lr
    _train("sgd"),               # plain SGD at the same lr
    _train("generator_in_loop"),  # the generator re-seeded at every step: the same batch every time (it still forms
                                  # a pentagon at seed 0; the check's 25-step comparison with the spec's loop sees it)
]


# ------------------------------------------------------------ section 2

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


_SAE = {
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


# ------------------------------------------------------------ section 3

def _patterns(tokens):
    model = load_mystery_model()
    names = [f"blocks.{l}.attn.hook_pattern" for l in range(model.cfg.n_layers)]
    with torch.no_grad():
        _, cache = run_with_cache(model, tokens, names)
    return model, torch.stack([cache[n] for n in names])  # [layer, batch, head, q, k]


# ---------------------------------------------------------------- 09.8: wrong letters, each from a flawed method

def mechanism_from_circuit_shape():
    """Reads attention only: a sharp previous-token head in layer 0 and a layer-1 head that looks one past
    something is 07's induction circuit, so it must be induction."""
    _, p = _patterns(mystery_inputs(200, seed=1))
    prev_score = p[0].diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(0, 2))  # [head]
    return "b" if prev_score.max() > 0.5 else "a"


def mechanism_from_first_column():
    """Reads attention only: some head puts weight on position 0, so the model copies the first token."""
    return "a"


def mechanism_most_frequent():
    """Eyeballed five sequences in which the guess happened to occur twice."""
    return "c"


def mechanism_off_by_one():
    """Read a pattern's axes the wrong way round: the marker's neighbour, on the wrong side."""
    return "e"


def mechanism_direct_path():
    """The guess often equals some token of the sequence; took the current one (the direct path)."""
    return "f"


def mechanism_as_sentence():
    """Right idea, wrong form: a sentence instead of a letter."""
    return "the token after the marker"


def mechanism_as_list():
    return ["d"]


# ---------------------------------------------------------------- 09.9: wrong sets of heads

def _ablation_costs(tokens, how="mean"):
    model = load_mystery_model()
    cfg = model.cfg
    with torch.no_grad():
        guess = model(tokens)[:, -1].argmax(-1)
        costs = torch.zeros(cfg.n_layers, cfg.n_heads)
        for l in range(cfg.n_layers):
            for h in range(cfg.n_heads):
                with ablate_heads(model, [(l, h)], how=how, reference_tokens=tokens):
                    costs[l, h] = 1 - (model(tokens)[:, -1].argmax(-1) == guess).float().mean()
    return costs


def _truth():
    costs = _ablation_costs(mystery_inputs(500, seed=3))
    return {(l, h) for l in range(costs.shape[0]) for h in range(costs.shape[1]) if costs[l, h] > 0.5}


def heads_last_layer_only():
    """Ablated the layer-1 heads only (the last position's guess is written there): the layer-0 half is missing."""
    costs = _ablation_costs(mystery_inputs(500, seed=3))
    return {(1, int(costs[1].argmax()))}


def heads_top_one():
    """The single head whose ablation costs the most."""
    costs = _ablation_costs(mystery_inputs(500, seed=3))
    i = int(costs.flatten().argmax())
    return {(i // costs.shape[1], i % costs.shape[1])}


def heads_sharpest_patterns():
    """Heads named by how sharp their patterns are (mean of each query's largest weight above 0.6): decoys too."""
    _, p = _patterns(mystery_inputs(200, seed=1))
    sharp = p.max(dim=-1).values.mean(dim=(1, 3))  # [layer, head]
    return {(l, h) for l in range(sharp.shape[0]) for h in range(sharp.shape[1]) if sharp[l, h] > 0.6}


def heads_largest_attention_last_row():
    """Per layer, the head whose LAST row puts the largest single weight anywhere: right in layer 1, but in
    layer 0 the last position is not where the previous-token head does its work."""
    _, p = _patterns(mystery_inputs(200, seed=1))
    last = p[:, :, :, -1, :].max(dim=-1).values.mean(dim=1)  # [layer, head]
    return {(l, int(last[l].argmax())) for l in range(last.shape[0])}


def heads_plus_decoy():
    """The right heads and one more: the layer-0 head with the sharpest pattern among the others."""
    truth = _truth()
    _, p = _patterns(mystery_inputs(200, seed=1))
    sharp = p[0].max(dim=-1).values.mean(dim=(0, 2))
    decoy = max((h for h in range(sharp.shape[0]) if (0, h) not in truth), key=lambda h: float(sharp[h]))
    return truth | {(0, decoy)}


def heads_low_threshold():
    """Every head whose zero ablation costs more than 1 %: zero ablation moves the others off their inputs."""
    costs = _ablation_costs(mystery_inputs(500, seed=3), how="zero")
    return {(l, h) for l in range(costs.shape[0]) for h in range(costs.shape[1]) if costs[l, h] > 0.01}


def heads_all():
    """Ablating all eight heads destroys it, so all eight carry it."""
    return {(l, h) for l in range(2) for h in range(4)}


def heads_swapped():
    """(head, layer) instead of (layer, head)."""
    return {(h, l) for l, h in _truth()}


def heads_layer_zero_only():
    """Named the previous-token head only."""
    return {p for p in _truth() if p[0] == 0}


_MYSTERY = {
    "09.8": [mechanism_from_circuit_shape, mechanism_from_first_column, mechanism_most_frequent,
             mechanism_off_by_one, mechanism_direct_path, mechanism_as_sentence, mechanism_as_list],
    "09.9": [heads_last_layer_only, heads_top_one, heads_sharpest_patterns, heads_plus_decoy, heads_all,
             heads_swapped, heads_layer_zero_only],
    # heads_largest_attention_last_row and heads_low_threshold are plausible methods that happen to find the
    # right heads on the shipped model (its decoys are random heads): kept above, not graded as mutants
}


MUTANTS = {**_TOY, **_SAE, **_MYSTERY}
