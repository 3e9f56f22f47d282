"""Plausible wrong answers to notebook 09, section 1 (toy models of superposition); every one must fail its check."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # until lib_toy moves into mi_helpers
from lib_toy import ToyModel, sparse_features  # noqa: E402


def _named(prefix: str, fn, mistake: str):
    """A mutant made by a factory gets a name of its own, bound in this module: the sandbox tests look a
    mutant up by its name in the kernel, where the solution's function holds the plain name."""
    fn.__name__ = fn.__qualname__ = f"{prefix}_{mistake}"
    globals()[fn.__name__] = fn
    return fn


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
    return _named("toy_loss", toy_loss, mistake)


MUTANTS = {"09.1": [
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
    return _named("feature_dimensionality", feature_dimensionality, mistake)


def feature_dimensionality_loop(W):
    # a Python loop over features that builds the result from floats: float32, and loses float64
    out = []
    for i in range(W.shape[1]):
        n2 = float(W[:, i] @ W[:, i])
        den = sum(float(W[:, i] @ W[:, j]) ** 2 for j in range(W.shape[1])) / n2 if n2 > 0 else 0.0
        out.append(n2 / den if den > 0 else 0.0)
    return torch.tensor(out)


MUTANTS["09.2"] = [
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
    return _named("train_toy_model", train_toy_model, mistake)


MUTANTS["09.3"] = [
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
]
# Not in the list: _train("generator_in_loop"), the generator re-seeded at every step (the same batch every time).
# With the spec's defaults it still forms a pentagon at seed 0 and passes the visible check; the hidden test (an
# exact comparison with a 25-step reference run) rejects it. See REPORT_toy.md.
HIDDEN_ONLY = {"09.3": [_train("generator_in_loop")]}
