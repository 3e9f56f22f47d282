"""Checks for notebook 09, section 2: sparse autoencoders on planted features (becomes part of
``mi_helpers/checks/nb09.py``).

None trains anything: every check runs the learner's code on inputs whose answer is known by hand.

- 09.4 ``sae_loss``: an analytic batch (reconstruction part 3.5, L1 part 1.75, written out), each part alone
  (l1_coeff = 0; a perfect reconstruction), negative latents (the L1 norm takes |z|), then properties on
  random data that the typical mistakes break: the batch repeated twice leaves the loss unchanged (a mean over
  the batch), extra dimensions reconstructed exactly leave it unchanged (a sum over dimensions), extra latents
  that are 0 leave it unchanged (a sum over latents), the errors doubled quadruple the reconstruction part
  (squared). The loss must carry gradients (measured where the learner's code runs, with autograd: 2(x_hat - x)/n
  for x_hat and l1_coeff sign(z)/n for the latents, written out for the analytic batch). Contracts: float64,
  meta device, edge cases (one row; l1_coeff = 0).
- 09.5 ``SparseAutoencoder``: built where the learner's class lives (``inside``): an nn.Module with exactly the
  parameters W_enc [d, n_latents], b_enc [n_latents], W_dec [n_latents, d], b_dec [d]; unit decoder rows at
  initialisation; the same seed gives the same weights, another seed others; the global random states of torch,
  NumPy and Python untouched. Then hand-set weights (d = 2, three latents) whose latents and reconstruction are
  written out, so that a missing ReLU, b_dec not subtracted or not added back, or swapped outputs each show;
  forward equal to decode(encode(x)) on random weights; gradients reaching all four parameters;
  ``normalise_decoder`` on rows of known norms (2, 5, 0.5): unit rows, the directions kept, the other parameters
  untouched, idempotent, callable after a backward pass (no in-place edit of a leaf under autograd), the same
  Parameter object kept (an optimiser holds it); float64 after ``.double()``.
- 09.6 ``resample_dead``: on :class:`PlantedReconstruction`, a module with the four SAE parameters whose
  forward returns a reconstruction error the check plants (row by row), so the draw is known: one row with
  all the error (every dead latent takes it; the new decoder row, encoder column and bias are written out), two
  rows with errors 1 and 3 (about 3/4 of 4000 draws go to the second: not 1/2 (uniform), not 0.63 (the norm,
  not squared), not 1 (the largest)), alive latents and b_dec untouched, the same seed the same rows and another
  seed others, the global random state untouched, no dead latent (nothing changes), every latent dead
  (scale 1), a perfect reconstruction (uniform draw). The Parameters must stay the same objects.
- 09.7 ``mean_max_cosine``: hand-made dictionaries whose score is known (0.8536 with three learned rows for two
  true features; 0.5 for a negated copy: signed cosines; a zero row gives cosine 0), a permuted and rescaled copy
  scores 1, a random dictionary scores far below, the arguments' order matters. Contracts: float64, edge cases.
"""
from __future__ import annotations

import math
import random

import numpy as np
import torch
from torch import nn

from mi_helpers.checks.core import (EdgeCase, call, close_to, describe, exercise, expect, expect_tensor, fail,
                                    generator, inside, show, single_number)


def _t(rows, dtype=torch.float32) -> torch.Tensor:
    return torch.tensor(rows, dtype=dtype)


def _close(a, b, atol=1e-5) -> bool:
    return isinstance(a, torch.Tensor) and tuple(a.shape) == tuple(b.shape) and \
        bool(torch.allclose(a.detach().double().cpu(), b.detach().double().cpu(), atol=atol, rtol=1e-4))


# ============================================================================================ 09.4 sae_loss

# The analytic batch: errors (0, -2, 0) and (1, 1, 1): squared sums 4 and 3, mean 3.5; L1 of the latents 2.5 and 1,
# mean 1.75. With l1_coeff = 0.2 the loss is 3.5 + 0.35 = 3.85.
LOSS_X = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]
LOSS_X_HAT = [[1.0, 0.0, 3.0], [1.0, 1.0, 1.0]]
LOSS_Z = [[0.5, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
# what typical mistakes give on the reconstruction part (l1_coeff = 0) and on the L1 part (x_hat = x, l1_coeff = 1)
RECON_MISTAKES = {7.0 / 6.0: "you averaged over the dimensions too (F.mse_loss does): sum the squared errors over "
                             "the d dimensions of each row, then average over the rows",
                  7.0: "you summed over the batch: average the per-row sums over the rows (.mean(dim=0) or "
                       ".sum(-1).mean())",
                  (2.0 + math.sqrt(3.0)) / 2: "you took the norm of each row's error, not its square: "
                                              "(x_hat - x) ** 2 summed over the dimensions, no square root",
                  7.0 / 3.0: "the squared error summed over the batch and averaged over the dimensions: the other "
                             "way round",
                  0.0: "l1_coeff multiplies the L1 part only: with l1_coeff = 0 the reconstruction error is all "
                       "that remains",
                  5.25: "l1_coeff is ignored: the L1 part (1.75 here) is multiplied by l1_coeff, so with "
                        "l1_coeff = 0 it vanishes"}
L1_MISTAKES = {3.5: "you summed the L1 norms over the batch: average them over the rows",
               1.75 / 4: "you averaged over the latents too: sum |z| over the latents of each row, then average "
                         "over the rows",
               (4.25 + 1.0) / 2: "you squared the latents (an L2 penalty): the L1 norm sums |z|, not z ** 2",
               (math.sqrt(4.25) + 1.0) / 2: "you took the Euclidean (L2) norm of the latents: the L1 norm is "
                                            "the sum of |z|"}


def _nearest_mistake(value: float, mistakes: dict) -> str:
    for wrong, hint in mistakes.items():
        if abs(value - wrong) < 1e-4:
            return hint
    return ""


def loss_gradients(sae_loss, x, x_hat, latents, l1_coeff):
    """Run the learner's loss with autograd where it lives: (the loss, d loss / d x_hat, d loss / d latents)."""
    x_hat = x_hat.clone().requires_grad_(True)
    latents = latents.clone().requires_grad_(True)
    loss = sae_loss(x, x_hat, latents, l1_coeff)
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return {"graph": False, "loss": describe(loss)}
    g_hat, g_z = torch.autograd.grad(loss, (x_hat, latents), allow_unused=True)
    return {"graph": True, "x_hat": g_hat.detach() if g_hat is not None else None,
            "latents": g_z.detach() if g_z is not None else None}


def _loss_value(sae_loss, x, x_hat, z, c, tried) -> float:
    out = call(sae_loss, x, x_hat, z, c, tried=tried)
    expect_tensor(out, tried=tried, name="the loss",
                  hint="return a 0-d tensor (a torch expression, not .item()): training calls .backward() on it")
    expect(out.dim() == 0, "the loss should be one number, a 0-d tensor.", tried=tried, expected="shape ()",
           received=f"shape {tuple(out.shape)}",
           hint="reduce everything: sum over the dimensions (or latents), then .mean() over the batch")
    expect(out.dtype == x.dtype, "the loss has the wrong dtype.", tried=tried, expected=str(x.dtype),
           received=str(out.dtype), hint="compute it from the inputs with torch operations; no float32 constants")
    return out.item()


def _loss_example(g, dtype, device="cpu"):
    x = torch.randn(5, 3, generator=g, dtype=dtype).to(device)
    x_hat = torch.randn(5, 3, generator=g, dtype=dtype).to(device)
    z = torch.rand(5, 4, generator=g, dtype=dtype).to(device)
    return x, x_hat, z, 0.3


@exercise("09.4", "sae_loss", points=2, difficulty=1, minutes=10, meta=True, example=_loss_example,
          edge_cases=(
              EdgeCase("one row: x = [[1, 2]], x_hat = [[1, 2]], latents = [[0, 3, -1]], l1_coeff = 0.5",
                       lambda: (_t([[1.0, 2.0]]), _t([[1.0, 2.0]]), _t([[0.0, 3.0, -1.0]]), 0.5),
                       close_to(lambda *a: 2.0), hint="one row: its squared error (0) plus 0.5 × (|0| + |3| + |-1|)"),
              EdgeCase("l1_coeff = 0 with a perfect reconstruction", lambda: (_t([[1.0, -1.0]] * 3),) * 2
                       + (_t([[4.0, 0.0]] * 3), 0.0), close_to(lambda *a: 0.0),
                       hint="nothing to reconstruct and no penalty: the loss is exactly 0"),
          ))
def check_sae_loss(sae_loss):
    x, x_hat, z = _t(LOSS_X), _t(LOSS_X_HAT), _t(LOSS_Z)
    # the reconstruction part alone
    tried = f"x = {LOSS_X}, x_hat = {LOSS_X_HAT}, latents = {LOSS_Z}, l1_coeff = 0"
    got = _loss_value(sae_loss, x, x_hat, z, 0.0, tried)
    expect(abs(got - 3.5) < 1e-5, "the reconstruction part is wrong.", tried=tried,
           expected="3.5: the squared errors summed over the dimensions, 4 and 3, averaged over the 2 rows",
           received=f"{got:.6g}", hint=_nearest_mistake(got, RECON_MISTAKES) or
           "with l1_coeff = 0 only ((x_hat - x) ** 2).sum(dim=-1).mean() remains")
    # the L1 part alone
    tried = f"x = x_hat = {LOSS_X}, latents = {LOSS_Z}, l1_coeff = 1"
    got = _loss_value(sae_loss, x, x.clone(), z, 1.0, tried)
    expect(abs(got - 1.75) < 1e-5, "the sparsity (L1) part is wrong.", tried=tried,
           expected="1.75: the L1 norms of the latents, 2.5 and 1, averaged over the 2 rows",
           received=f"{got:.6g}", hint=_nearest_mistake(got, L1_MISTAKES) or
           "with a perfect reconstruction only l1_coeff × |latents| summed over the latents, averaged over the "
           "rows remains")
    # together, with the coefficient
    tried = f"x = {LOSS_X}, x_hat = {LOSS_X_HAT}, latents = {LOSS_Z}, l1_coeff = 0.2"
    got = _loss_value(sae_loss, x, x_hat, z, 0.2, tried)
    expect(abs(got - 3.85) < 1e-5, "the loss is wrong when both parts count.", tried=tried,
           expected="3.85 = 3.5 + 0.2 × 1.75", received=f"{got:.6g}",
           hint="l1_coeff multiplies the whole loss here: it belongs to the L1 part only" if abs(got - 1.05) < 1e-4
           else "reconstruction + l1_coeff * sparsity, each part as in the two cases above")
    # negative latents: the L1 norm takes absolute values
    z_neg = _t([[0.5, 0.0, -2.0, 0.0], [0.0, -1.0, 0.0, 0.0]])
    tried = f"x = x_hat, latents = {z_neg.tolist()} (negative values), l1_coeff = 1"
    got = _loss_value(sae_loss, x, x.clone(), z_neg, 1.0, tried)
    expect(abs(got - 1.75) < 1e-5, "the L1 norm of negative latents is wrong.", tried=tried,
           expected="1.75 (|0.5| + |-2| = 2.5 and |-1| = 1, averaged)", received=f"{got:.6g}",
           hint="the L1 norm is the sum of absolute values: latents.abs().sum(dim=-1). After a ReLU the latents "
                "are >= 0 anyway, but the loss is also used on other latents")
    # properties on random data
    g = generator("09.4")
    x, x_hat, z = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g), torch.rand(6, 7, generator=g)
    base = _loss_value(sae_loss, x, x_hat, z, 0.3, "random x, x_hat [6, 5] and latents [6, 7], l1_coeff = 0.3")
    tried = "the same batch written twice (x, x_hat and latents each concatenated with themselves)"
    twice = _loss_value(sae_loss, torch.cat([x, x]), torch.cat([x_hat, x_hat]), torch.cat([z, z]), 0.3, tried)
    expect(abs(twice - base) < 1e-4 * max(1.0, abs(base)), "repeating the batch changed the loss.", tried=tried,
           expected=f"{base:.6g}, the loss of the batch once (an average over rows)", received=f"{twice:.6g}",
           hint="average over the batch (.mean() over the rows), do not sum over it: the loss must not grow "
                "with the batch size, or the learning rate would depend on it")
    tried = "the same batch with 3 more dimensions that x_hat reconstructs exactly"
    extra = torch.randn(6, 3, generator=g)
    wider = _loss_value(sae_loss, torch.cat([x, extra], 1), torch.cat([x_hat, extra], 1), z, 0.3, tried)
    expect(abs(wider - base) < 1e-4 * max(1.0, abs(base)), "dimensions with no error changed the loss.",
           tried=tried, expected=f"{base:.6g}", received=f"{wider:.6g}",
           hint="sum the squared error over the dimensions (.sum(dim=-1)); a mean over them divides by d")
    tried = "the same batch with 5 more latents that are all 0"
    more = _loss_value(sae_loss, x, x_hat, torch.cat([z, torch.zeros(6, 5)], 1), 0.3, tried)
    expect(abs(more - base) < 1e-4 * max(1.0, abs(base)), "latents that are 0 changed the loss.", tried=tried,
           expected=f"{base:.6g}", received=f"{more:.6g}",
           hint="sum |z| over the latents; a mean over them divides by n_latents")
    r0 = _loss_value(sae_loss, x, x_hat, z, 0.0, "random batch, l1_coeff = 0")
    tried = "random batch, l1_coeff = 0, with x_hat - x doubled"
    r2 = _loss_value(sae_loss, x, x + 2 * (x_hat - x), z, 0.0, tried)
    expect(abs(r2 - 4 * r0) < 1e-4 * max(1.0, r0), "doubling the error did not quadruple the reconstruction part.",
           tried=tried, expected=f"{4 * r0:.6g} (4 × {r0:.6g}: the error is squared)", received=f"{r2:.6g}",
           hint="square the error: (x_hat - x) ** 2, summed over the dimensions")
    # gradients, where the learner's code runs
    tried = f"x = {LOSS_X}, x_hat = {LOSS_X_HAT}, latents = {LOSS_Z}, l1_coeff = 0.2, through autograd"
    grads = call(inside, loss_gradients, sae_loss, _t(LOSS_X), _t(LOSS_X_HAT), _t(LOSS_Z), 0.2, tried=tried)
    expect(isinstance(grads, dict) and grads.get("graph") is True, "the loss does not carry gradients.",
           tried=tried, expected="a loss that autograd can differentiate with respect to x_hat and latents",
           received="a value cut from the graph", hint="return the torch expression itself: no .item(), no "
                                                         ".detach(), no torch.tensor(...) around the result")
    want_hat = _t([[0.0, -2.0, 0.0], [1.0, 1.0, 1.0]])  # 2 (x_hat - x) / 2 rows
    expect(grads["x_hat"] is not None and _close(grads["x_hat"], want_hat), "the gradient with respect to x_hat "
           "is wrong.", tried=tried, expected=show(want_hat),
           received=show(grads["x_hat"]) if grads["x_hat"] is not None else "no gradient",
           hint="the reconstruction part must be computed from x_hat with torch operations")
    want_z = _t([[0.1, 0.0, 0.1, 0.0], [0.0, 0.1, 0.0, 0.0]])  # 0.2 sign(z) / 2 rows (|z|' = 0 at 0 in torch)
    expect(grads["latents"] is not None and _close(grads["latents"], want_z), "the gradient with respect to the "
           "latents is wrong.", tried=tried, expected=show(want_z),
           received=show(grads["latents"]) if grads["latents"] is not None else "no gradient",
           hint="the L1 part must be computed from the latents with torch operations (latents.abs())")


# ============================================================================================ 09.5 SparseAutoencoder

SAE_PARAMS = ("W_enc", "b_enc", "W_dec", "b_dec")


def construct(cls, args: tuple, kwargs: dict):
    """cls(*args, **kwargs), built where the class lives."""
    return cls(*args, **kwargs)


def construct_and_states(cls, args: tuple, kwargs: dict) -> dict:
    """Build cls(*args, **kwargs) where the class lives; report its parameters and whether it moved the global
    random states of torch, NumPy or Python (the model stays there)."""
    t, n, p = torch.get_rng_state(), np.random.get_state(), random.getstate()
    model = cls(*args, **kwargs)
    n2 = np.random.get_state()
    moved = not torch.equal(t, torch.get_rng_state()) or not np.array_equal(n[1], n2[1]) or n[2:] != n2[2:] \
        or p != random.getstate()
    shared = False
    if isinstance(model, nn.Module):
        storages = [p.untyped_storage().data_ptr() for p in model.parameters()]
        shared = len(set(storages)) < len(storages)
    return {"moved": bool(moved), "module": isinstance(model, nn.Module), "shared": shared, **parameters_of(model)}


def parameters_of(model) -> dict:
    """The module's parameters (detached copies) by name, and their shapes."""
    if not isinstance(model, nn.Module):
        return {"parameters": {}, "buffers": []}
    return {"parameters": {n: p.detach().clone() for n, p in model.named_parameters()},
            "buffers": [n for n, _ in model.named_buffers()]}


def set_parameters(model, values: dict) -> bool:
    """Copy the given tensors into the module's parameters of those names."""
    with torch.no_grad():
        for name, value in values.items():
            getattr(model, name).copy_(value)
    return True


def convert(model, dtype) -> bool:
    model.to(dtype)
    return True


def encode_decode(model, x: torch.Tensor) -> dict:
    """model.encode(x), model.decode(model.encode(x)) and model(x), where the model lives."""
    with torch.no_grad():
        z = model.encode(x)
        return {"encode": z, "decode": model.decode(z), "forward": model(x)}


def decode_only(model, z: torch.Tensor):
    with torch.no_grad():
        return model.decode(z)


def gradients_reach(model, x: torch.Tensor) -> dict:
    """Which parameters a backward pass through the forward reaches (nonzero gradient); gradients cleared after."""
    out = model(x)
    total = out[0].square().sum() + out[1].sum()
    total.backward()
    reached = {n: bool(p.grad is not None and p.grad.abs().sum() > 0) for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return reached


def normalise_report(model, x: torch.Tensor | None = None) -> dict:
    """Call model.normalise_decoder() (after a forward and backward pass if x is given) where the model lives;
    report the parameters after, and whether W_dec is still the same leaf Parameter."""
    before = {n: id(p) for n, p in model.named_parameters()}
    if x is not None:
        out = model(x)
        (out[0].square().sum() + out[1].sum()).backward()
    model.normalise_decoder()
    model.zero_grad(set_to_none=True)
    after = dict(model.named_parameters())
    w = after.get("W_dec")
    return {"same_objects": all(id(after.get(n)) == i for n, i in before.items()),
            "leaf": bool(w is not None and w.is_leaf and w.requires_grad and isinstance(w, nn.Parameter)),
            **parameters_of(model)}


# Hand-set weights, d = 2, three latents. x - b_dec = [[1, 1], [-0.5, 3]]; pre-activations
# [[1, 0, 0.5], [-0.5, 2, 4]]; latents [[1, 0, 0.5], [0, 2, 4]]; z @ W_dec = [[1.3, 0.4], [2.4, 5.2]]; x_hat adds
# b_dec. A ReLU before the affine map (ReLU(x - b_dec) @ W_enc + b_enc) gives 3.5 instead of 4.
HAND = {"W_enc": [[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]], "b_enc": [0.0, -1.0, 0.5],
        "W_dec": [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], "b_dec": [1.0, 0.0]}
HAND_X = [[2.0, 1.0], [0.5, 3.0]]
HAND_Z = [[1.0, 0.0, 0.5], [0.0, 2.0, 4.0]]
HAND_X_HAT = [[2.3, 0.4], [3.4, 5.2]]
HAND_Z_NO_RELU = [[1.0, 0.0, 0.5], [-0.5, 2.0, 4.0]]
HAND_Z_NO_BDEC = [[2.0, 0.0, 0.0], [0.5, 2.0, 3.0]]  # ReLU(x @ W_enc + b_enc): b_dec not subtracted
HAND_Z_RELU_FIRST = [[1.0, 0.0, 0.5], [0.0, 2.0, 3.5]]  # ReLU(x - b_dec) @ W_enc + b_enc
HAND_X_HAT_NO_BDEC = [[1.3, 0.4], [2.4, 5.2]]


def _build(SparseAutoencoder, d: int, n: int, seed: int, tried: str) -> dict:
    return call(inside, construct_and_states, SparseAutoencoder, (d, n), {"seed": seed}, tried=tried,
                hint_if_raised="__init__(self, d, n_latents, *, seed=0) calls super().__init__() first, then "
                               "creates the four nn.Parameter")


def _expect_params(info, d: int, n: int, tried: str) -> dict:
    expect(isinstance(info, dict) and info.get("module") is True, "your class does not build a torch.nn.Module.",
           tried=tried, expected="an nn.Module", received=describe(info),
           hint="write `class SparseAutoencoder(nn.Module):` and call super().__init__() first in __init__")
    params = info["parameters"]
    expect(sorted(params) == sorted(SAE_PARAMS), "the module's parameters are not the four the exercise names.",
           tried=tried, expected="W_enc, b_enc, W_dec, b_dec (nn.Parameter attributes of those names)",
           received=", ".join(sorted(params)) or "no parameters",
           hint="self.W_enc = nn.Parameter(...) and so on; no nn.Linear (its weight is stored [out, in] and its name "
                "is different), no other parameters")
    shapes = {"W_enc": (d, n), "b_enc": (n,), "W_dec": (n, d), "b_dec": (d,)}
    for name, shape in shapes.items():
        got = tuple(params[name].shape)
        expect(got == shape, f"{name} has the wrong shape.", tried=tried, expected=f"{shape}", received=f"{got}",
               hint=("W_enc maps d inputs to n_latents latents as x @ W_enc: [d, n_latents]; W_dec maps back as "
                     "z @ W_dec: [n_latents, d]") if got == shape[::-1] and len(shape) == 2 else
               "the biases are vectors: b_enc [n_latents], b_dec [d]")
    return params


def _hand_model(SparseAutoencoder, tried: str):
    model = call(inside, construct, SparseAutoencoder, (2, 3), {"seed": 0}, tried=tried)
    call(inside, set_parameters, model, {k: _t(v) for k, v in HAND.items()}, tried=tried)
    return model


@exercise("09.5", "SparseAutoencoder", points=3, difficulty=2, minutes=25,
          opt_out={"float64": "the answer is a class: the check converts the module with .double() and runs it "
                              "on float64 inputs itself",
                   "meta device": "the check sets hand-made weights, which need data",
                   "edge cases": "its arguments are sizes: the check tries one latent and d = 1 itself"})
def check_SparseAutoencoder(SparseAutoencoder):
    # construction
    torch_before = torch.get_rng_state()
    d, n = 5, 12
    tried = f"SparseAutoencoder({d}, {n}, seed=0)"
    info = _build(SparseAutoencoder, d, n, 0, tried)
    params = _expect_params(info, d, n, tried)
    expect(not info["moved"] and torch.equal(torch.get_rng_state(), torch_before),
           "building the model moved the global random state.", tried=tried,
           expected="torch's, NumPy's and Python's global random states as they were",
           hint="draw the initial weights from your own generator: g = torch.Generator().manual_seed(seed); "
                "torch.randn(n_latents, d, generator=g). nn.Linear or nn.init draw from the global state")
    norms = params["W_dec"].norm(dim=1)
    expect(bool(torch.allclose(norms, torch.ones_like(norms), atol=1e-5)), "the decoder rows are not unit vectors "
           "at initialisation.", tried=tried, expected="every row of W_dec of norm 1", received=show(norms),
           hint="normalise each row: w / w.norm(dim=1, keepdim=True) (dim=1: one norm per latent, along d)")
    expect(not info["shared"], "two of the parameters share their memory.", tried=tried,
           expected="four parameters, each with its own storage",
           hint="nn.Parameter(W_dec.T) is a view of W_dec's memory: editing one edits the other. Use .clone()")
    expect(torch.equal(params["W_enc"], params["W_dec"].T) and not params["b_enc"].any()
           and not params["b_dec"].any(), "the initial encoder or biases are not the ones the exercise asks for.",
           tried=tried, expected="W_enc equal to W_dec.T (a copy), b_enc and b_dec all 0",
           hint="W_enc starts as the transpose of the unit decoder rows (tied), so each latent first reads along "
                "its own direction; both biases start at 0")
    again = _build(SparseAutoencoder, d, n, 0, tried + ", twice")
    expect(all(torch.equal(params[k], again["parameters"].get(k, torch.empty(0))) for k in SAE_PARAMS),
           "two models built with the same seed differ.", tried=tried + " twice",
           expected="identical weights", hint="every random draw must come from the generator seeded with `seed`")
    other = _build(SparseAutoencoder, d, n, 1, f"SparseAutoencoder({d}, {n}, seed=1)")
    expect(not torch.equal(params["W_dec"], other["parameters"].get("W_dec", params["W_dec"])),
           "the seed changes nothing: seed=0 and seed=1 give the same decoder.",
           tried=f"SparseAutoencoder({d}, {n}, seed=0) and seed=1", expected="different random decoder rows",
           hint="seed your generator with the `seed` argument")
    for dd, nn_ in ((1, 3), (4, 1)):
        t = f"SparseAutoencoder({dd}, {nn_}, seed=2)"
        p = _expect_params(_build(SparseAutoencoder, dd, nn_, 2, t), dd, nn_, t)
        expect(bool(torch.allclose(p["W_dec"].norm(dim=1), torch.ones(nn_), atol=1e-5)),
               "the decoder rows are not unit vectors at initialisation.", tried=t,
               received=show(p["W_dec"].norm(dim=1)), hint="normalise each row of W_dec (dim=1)")

    # forward, encode and decode on hand-set weights
    tried = (f"hand-set weights W_enc = {HAND['W_enc']}, b_enc = {HAND['b_enc']}, W_dec = {HAND['W_dec']}, "
             f"b_dec = {HAND['b_dec']}, x = {HAND_X}")
    model = _hand_model(SparseAutoencoder, tried)
    out = call(model, _t(HAND_X), tried=tried + ": model(x)",
               hint_if_raised="forward(self, x) returns (x_hat, latents)")
    expect(isinstance(out, (tuple, list)) and len(out) == 2, "forward should return a pair (x_hat, latents).",
           tried=tried, expected="(x_hat [2, 2], latents [2, 3])", received=describe(out),
           hint="end forward with `return x_hat, latents`")
    x_hat, z = out
    if isinstance(x_hat, torch.Tensor) and isinstance(z, torch.Tensor) and tuple(x_hat.shape) == (2, 3) \
            and tuple(z.shape) == (2, 2):
        fail("forward returned (latents, x_hat): the order is swapped.", tried=tried,
             expected="(x_hat [2, 2], latents [2, 3])", received="(a [2, 3] tensor, a [2, 2] tensor)",
             hint="return x_hat first, then the latents")
    expect_tensor(z, shape=(2, 3), dtype=torch.float32, tried=tried, name="latents")
    expect_tensor(x_hat, shape=(2, 2), dtype=torch.float32, tried=tried, name="x_hat")
    if not _close(z, _t(HAND_Z)):
        hint = ("the ReLU is missing: latents must be >= 0" if _close(z, _t(HAND_Z_NO_RELU)) or bool((z < 0).any())
                else "subtract b_dec from x before encoding: ReLU((x - b_dec) @ W_enc + b_enc)"
                if _close(z, _t(HAND_Z_NO_BDEC)) else
                "the ReLU comes last: ReLU((x - b_dec) @ W_enc + b_enc), not ReLU(x - b_dec) @ W_enc + b_enc"
                if _close(z, _t(HAND_Z_RELU_FIRST)) else
                "encode(x) = ReLU((x - b_dec) @ W_enc + b_enc): x - b_dec first, then @ W_enc, + b_enc, then ReLU")
        fail("the latents are wrong.", tried=tried, expected=show(_t(HAND_Z)), received=show(z), hint=hint)
    if not _close(x_hat, _t(HAND_X_HAT)):
        hint = ("add b_dec back when decoding: x_hat = latents @ W_dec + b_dec" if _close(x_hat, _t(HAND_X_HAT_NO_BDEC))
                else "decode(z) = z @ W_dec + b_dec, with the latents above")
        fail("the reconstruction x_hat is wrong (the latents are right).", tried=tried,
             expected=show(_t(HAND_X_HAT)), received=show(x_hat), hint=hint)
    parts = call(inside, encode_decode, model, _t(HAND_X), tried=tried + ": model.encode(x), model.decode(z)",
                 hint_if_raised="the class needs the methods encode(x) and decode(z) besides forward")
    expect(isinstance(parts, dict) and _close(parts.get("encode"), _t(HAND_Z)), "encode(x) is not the latents "
           "that forward returns.", tried=tried, expected=show(_t(HAND_Z)), received=describe(parts.get("encode")),
           hint="forward should call self.encode(x), then self.decode(latents)")
    zz = _t([[0.0, 0.0, 0.0], [2.0, -1.0, 0.5]])
    dec = call(inside, decode_only, model, zz, tried=tried + f", decode({zz.tolist()})")
    want = _t([[1.0, 0.0], [3.3, -0.6]])
    expect(_close(dec, want), "decode(z) is wrong.", tried=tried + f", decode({zz.tolist()})",
           expected=show(want), received=describe(dec) if not isinstance(dec, torch.Tensor) else show(dec),
           hint="decode(z) = z @ W_dec + b_dec, nothing else (no ReLU, no normalisation)")

    # random weights: forward = decode(encode(x)), latents >= 0, gradients reach every parameter
    g = generator("09.5")
    tried = "SparseAutoencoder(6, 10, seed=3) with random weights and biases set by the check, x [8, 6]"
    model = call(inside, construct, SparseAutoencoder, (6, 10), {"seed": 3}, tried=tried)
    call(inside, set_parameters, model, {"W_enc": torch.randn(6, 10, generator=g), "b_enc": 0.3 * torch.randn(10, generator=g),
                                         "W_dec": torch.randn(10, 6, generator=g), "b_dec": torch.randn(6, generator=g)},
         tried=tried)
    x = torch.randn(8, 6, generator=g)
    parts = call(inside, encode_decode, model, x, tried=tried)
    fx_hat, fz = parts["forward"]
    expect(_close(fz, parts["encode"]) and _close(fx_hat, parts["decode"]), "forward(x) is not (decode(encode(x)), "
           "encode(x)).", tried=tried, hint="forward: latents = self.encode(x); return self.decode(latents), latents")
    expect(bool((fz >= 0).all()) and bool((fz > 0).any()), "the latents should be >= 0 (and some > 0).",
           tried=tried, received=show(fz), hint="encode ends with a ReLU")
    reached = call(inside, gradients_reach, model, x, tried=tried + ", a backward pass")
    missing = [k for k in SAE_PARAMS if not reached.get(k)]
    expect(not missing, "a backward pass through forward leaves parameters without gradient.", tried=tried,
           expected="gradients on W_enc, b_enc, W_dec and b_dec", received="none on " + ", ".join(missing),
           hint="use the parameters themselves in encode and decode (no .detach(), no .data, no torch.no_grad() "
                "in forward), and b_dec in both")

    # normalise_decoder
    w = _t([[2.0, 0.0], [3.0, 4.0], [0.0, -0.5]])
    tried = f"the hand-set model with W_dec = {w.tolist()} (row norms 2, 5, 0.5), then model.normalise_decoder()"
    model = _hand_model(SparseAutoencoder, tried)
    call(inside, set_parameters, model, {"W_dec": w}, tried=tried)
    rep = call(inside, normalise_report, model, tried=tried,
               hint_if_raised="normalise_decoder(self) divides each row of W_dec by its norm, in place, under "
                              "torch.no_grad()")
    unit = _t([[1.0, 0.0], [0.6, 0.8], [0.0, -1.0]])
    got = rep["parameters"].get("W_dec")
    if not _close(got, unit):
        cols = w / w.norm(dim=0, keepdim=True)
        fail("normalise_decoder did not make each row of W_dec a unit vector along its own direction.", tried=tried,
             expected=show(unit), received=show(got) if isinstance(got, torch.Tensor) else describe(got),
             hint="you normalised the columns: each *row* is a latent's direction, w.norm(dim=1, keepdim=True)"
             if _close(got, cols) else "W_dec / W_dec.norm(dim=1, keepdim=True), written into W_dec itself")
    for k in ("W_enc", "b_enc", "b_dec"):
        expect(_close(rep["parameters"].get(k), _t(HAND[k])), f"normalise_decoder changed {k}.", tried=tried,
               expected=show(_t(HAND[k])), received=describe(rep["parameters"].get(k)),
               hint="only W_dec changes; the encoder and the biases stay as they are")
    expect(rep["same_objects"] and rep["leaf"], "after normalise_decoder, W_dec is no longer the same Parameter.",
           tried=tried, expected="the same nn.Parameter object, edited in place",
           hint="an optimiser holds the Parameter objects it was given: edit the values in place (with "
                "torch.no_grad(): self.W_dec /= ... or self.W_dec.copy_(...)) instead of assigning a new tensor "
                "or nn.Parameter to self.W_dec")
    rep2 = call(inside, normalise_report, model, tried=tried + " twice")
    expect(_close(rep2["parameters"].get("W_dec"), unit, atol=1e-6), "normalise_decoder is not idempotent.",
           tried=tried + " twice", expected=show(unit), received=describe(rep2["parameters"].get("W_dec")),
           hint="normalising unit rows again must leave them as they are")
    tried = "a forward pass, a backward pass, then model.normalise_decoder() (as in training)"
    model = _hand_model(SparseAutoencoder, tried)
    call(inside, set_parameters, model, {"W_dec": w}, tried=tried)
    rep3 = call(inside, normalise_report, model, _t(HAND_X), tried=tried,
                hint_if_raised="edit W_dec under torch.no_grad() (decorate the method with @torch.no_grad()): "
                               "autograd forbids editing a leaf that requires grad in place")
    expect(_close(rep3["parameters"].get("W_dec"), unit), "normalise_decoder after a backward pass is wrong.",
           tried=tried, expected=show(unit), received=describe(rep3["parameters"].get("W_dec")),
           hint="divide by the row norms of W_dec itself, under torch.no_grad()")

    # float64
    tried = "the hand-set model converted with model.double(), x in float64"
    model = _hand_model(SparseAutoencoder, tried)
    call(inside, convert, model, torch.float64, tried=tried)
    out = call(model, _t(HAND_X, torch.float64), tried=tried)
    expect(isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(v, torch.Tensor) and
                                                                     v.dtype == torch.float64 for v in out),
           "with float64 weights and inputs, the results are not float64.", tried=tried,
           received=describe(out), hint="create no tensor of a fixed dtype in encode or decode")


# ============================================================================================ 09.6 resample_dead

class PlantedReconstruction(nn.Module):
    """The four parameters of an SAE, and a forward pass that reconstructs each row of ``x`` with a planted error.

    ``forward(x) = (x - residual[:len(x)], zeros [len(x), n_latents])``: the squared reconstruction error of row i
    is ``|residual[i]|²``, which the check chooses, so the rows that resampling should draw are known. It has no
    ``encode`` or ``decode``: the spec computes ``x_hat`` with ``sae(x)``.
    """

    def __init__(self, W_enc, b_enc, W_dec, b_dec, residual):
        super().__init__()
        self.W_enc = nn.Parameter(W_enc.clone())
        self.b_enc = nn.Parameter(b_enc.clone())
        self.W_dec = nn.Parameter(W_dec.clone())
        self.b_dec = nn.Parameter(b_dec.clone())
        self.register_buffer("residual", residual.clone())

    def forward(self, x):
        return x - self.residual[: len(x)].to(x.dtype), x.new_zeros(len(x), self.W_dec.shape[0])


def resample_report(resample_dead, sae, x, dead, seed):
    """Run the learner's resample_dead where it lives; report what it returned and did to the module."""
    before = {n: id(p) for n, p in sae.named_parameters()}
    out = resample_dead(sae, x, dead, seed=seed)
    after = dict(sae.named_parameters())
    return {"out": out.detach() if isinstance(out, torch.Tensor) else out,
            "same_objects": sorted(before) == sorted(after) and all(id(after[n]) == i for n, i in before.items()),
            "leaf": all(p.is_leaf and p.requires_grad for p in after.values()),
            "parameters": {n: p.detach().clone() for n, p in after.items()}}


def _planted(W_enc, b_enc, W_dec, b_dec, residual) -> PlantedReconstruction:
    return PlantedReconstruction(W_enc, b_enc, W_dec, b_dec, residual)


def _resample(resample_dead, sae, x, dead, seed, tried, hint_if_raised: str = "") -> dict:
    rep = call(inside, resample_report, resample_dead, sae, x, dead, seed, tried=tried,
               hint_if_raised=hint_if_raised or "compute x_hat with sae(x) (the check's module has only forward); "
                                                "edit the parameters in place under torch.no_grad() (autograd "
                                                "forbids in-place edits of a leaf that requires grad); with no "
                                                "dead latent, draw nothing and change nothing")
    n_dead = int(dead.sum())
    chosen = rep["out"]
    expect_tensor(chosen, shape=(n_dead,), tried=tried, name="the tensor of rows returned",
                  hint="return the index of the row of x that each dead latent took, in the order of the dead "
                       "latents: a LongTensor [n_dead] (what torch.multinomial returns)")
    expect(chosen.dtype == torch.int64, "the returned rows should be int64 indices.", tried=tried,
           expected="int64", received=str(chosen.dtype), hint="return torch.multinomial's result as it is")
    expect(n_dead == 0 or (int(chosen.min()) >= 0 and int(chosen.max()) < len(x)), "the returned rows are not "
           "indices of rows of x.", tried=tried, expected=f"integers in [0, {len(x)})", received=show(chosen),
           hint="draw indices of rows of x")
    expect(rep["same_objects"] and rep["leaf"], "resample_dead replaced the module's parameters.", tried=tried,
           expected="the same nn.Parameter objects, edited in place",
           hint="the optimiser holds the Parameter objects: write into them (sae.W_dec[dead] = ... under "
                "torch.no_grad()) rather than assigning new tensors or Parameters to sae.W_dec")
    return rep


# One row with all the error. x[3] - b_dec = [3, 0, 4]: unit direction [0.6, 0, 0.8]. Alive encoder columns have
# norms 2, 4, 6 (mean 4); 0.2 × 4 = 0.8, so a dead encoder column becomes [0.48, 0, 0.64].
ONE_X = [[1.0, 1.0, 1.0], [0.0, 2.0, 0.0], [5.0, 5.0, 5.0], [4.0, 1.0, 4.0], [-1.0, 0.0, 2.0]]
ONE_B_DEC = [1.0, 1.0, 0.0]
ONE_RESIDUAL = [[0.0] * 3, [0.0] * 3, [0.0] * 3, [0.5, -0.5, 1.0], [0.0] * 3]
ONE_DEAD = [False, True, False, True, False, True]
ONE_W_ENC_COLUMNS = [[2.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 7.0], [0.0, 0.0, 6.0],
                     [1.0, 1.0, 1.0]]  # columns of W_enc, one per latent; dead ones have norms 10, 7 and sqrt 3


def _one_row_case():
    W_enc = _t(ONE_W_ENC_COLUMNS).T.contiguous()
    W_dec = _t([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.6, 0.8, 0], [0, 0.6, 0.8], [0.8, 0, 0.6]])
    b_enc = _t([0.1, -0.2, 0.3, -0.4, 0.5, -0.6])
    return W_enc, b_enc, W_dec, _t(ONE_B_DEC), _t(ONE_RESIDUAL)


def _resample_example(g, dtype, device="cpu"):
    W_enc, b_enc, W_dec, b_dec, residual = (t.to(dtype) for t in _one_row_case())
    residual = residual + 0.5  # every row has some error: a real draw
    return (_planted(W_enc, b_enc, W_dec, b_dec, residual), _t(ONE_X, dtype), torch.tensor(ONE_DEAD))


@exercise("09.6", "resample_dead", points=2, difficulty=2, minutes=20, example=_resample_example,
          opt_out={"meta device": "a draw in proportion to the errors needs their values",
                   "edge cases": "the check tries no dead latent, every latent dead and a perfect reconstruction "
                                 "itself, with what each must do to the model"})
def check_resample_dead(resample_dead):
    x, dead = _t(ONE_X), torch.tensor(ONE_DEAD)
    sae = _planted(*_one_row_case())
    tried = ("x [5, 3] where only row 3 is reconstructed with an error, b_dec = [1, 1, 0] (x[3] - b_dec = "
             "[3, 0, 4]), latents 1, 3, 5 of 6 dead, alive encoder columns of norms 2, 4, 6, seed=0")
    torch_before = torch.get_rng_state()
    rep = _resample(resample_dead, sae, x, dead, 0, tried)
    expect(torch.equal(torch.get_rng_state(), torch_before), "resample_dead moved torch's global random state.",
           tried=tried, hint="draw with your own generator: g = torch.Generator().manual_seed(seed); "
                             "torch.multinomial(weights, n_dead, replacement=True, generator=g)")
    chosen, p = rep["out"], rep["parameters"]
    expect(bool((chosen == 3).all()), "a dead latent took a row that has no reconstruction error.", tried=tried,
           expected="row 3 for every dead latent: the only row with an error", received=show(chosen),
           hint="draw rows with probability proportional to their squared reconstruction error, "
                "((x - x_hat) ** 2).sum(dim=-1) with x_hat from sae(x); a uniform draw ignores the error")
    W_enc, b_enc, W_dec, b_dec, _ = _one_row_case()
    alive = ~dead
    unit = _t([0.6, 0.0, 0.8])
    got = p["W_dec"][dead]
    if not _close(got, unit.expand(3, 3)):
        raw = _t(ONE_X[3])
        hint = ("centre the input on b_dec before normalising: x[i] - b_dec (the decoder adds b_dec back)"
                if _close(got, (raw / raw.norm()).expand(3, 3)) else
                "normalise the direction to a unit vector" if _close(got, _t([3.0, 0.0, 4.0]).expand(3, 3)) else
                "each dead latent's decoder row is the unit vector along x[i] - b_dec of its row i")
        fail("the new decoder rows of the dead latents are wrong.", tried=tried,
             expected="[0.6, 0, 0.8] for each dead latent (the unit vector along x[3] - b_dec)",
             received=show(got), hint=hint)
    enc = p["W_enc"][:, dead].T
    if not _close(enc, 0.8 * unit.expand(3, 3)):
        k = [(enc[0] @ unit).item() if enc.shape == (3, 3) else float("nan")]
        all_mean = (2 + 10 + 4 + 7 + 6 + math.sqrt(3)) / 6
        hint = ("scale by the mean norm of the *alive* encoder columns (2, 4, 6: mean 4), not of all of them"
                if abs(k[0] - 0.2 * all_mean) < 1e-4 else
                "multiply by 0.2: the new encoder column is 0.2 × (mean alive column norm) × the unit direction"
                if abs(k[0] - 4.0) < 1e-4 else
                "the encoder column is the decoder direction (a column of W_enc) times 0.2 × the mean norm of "
                "the alive encoder columns" if abs(k[0] - 1.0) > 1e-4 else
                "scale the unit direction by 0.2 × (mean norm of the alive encoder columns, W_enc[:, alive]"
                ".norm(dim=0).mean())")
        fail("the new encoder columns of the dead latents are wrong.", tried=tried,
             expected="[0.48, 0, 0.64] for each (0.2 × 4 × [0.6, 0, 0.8])", received=show(enc), hint=hint)
    expect(bool((p["b_enc"][dead] == 0).all()), "the encoder biases of the dead latents are not 0.", tried=tried,
           expected="0 for each dead latent", received=show(p["b_enc"][dead]),
           hint="set sae.b_enc[dead] = 0: a negative bias is often what killed the latent")
    untouched = {"W_enc (alive columns)": (p["W_enc"][:, alive], W_enc[:, alive]),
                 "b_enc (alive latents)": (p["b_enc"][alive], b_enc[alive]),
                 "W_dec (alive rows)": (p["W_dec"][alive], W_dec[alive]), "b_dec": (p["b_dec"], b_dec)}
    for what, (after, before) in untouched.items():
        expect(torch.equal(after, before), f"resample_dead changed {what}.", tried=tried,
               expected="alive latents and b_dec exactly as they were", received=show(after),
               hint="index with the mask: only the dead latents' rows, columns and biases change")

    # two rows with errors 1 and 3: about 3/4 of the draws go to the second
    n_dead = 4000
    g = generator("09.6")
    d = 3
    xs = torch.randn(6, d, generator=g) + 3.0
    residual = torch.zeros(6, d)
    residual[1, 0] = 1.0
    residual[4] = _t([1.0, 1.0, -1.0])  # squared error 3
    W_enc = torch.randn(d, n_dead + 2, generator=g)
    W_dec = torch.randn(n_dead + 2, d, generator=g)
    W_dec = W_dec / W_dec.norm(dim=1, keepdim=True)
    dead = torch.ones(n_dead + 2, dtype=torch.bool)
    dead[:2] = False
    sae = _planted(W_enc, torch.zeros(n_dead + 2), W_dec, torch.zeros(d), residual)
    tried = (f"x [6, 3], squared reconstruction errors 0, 1, 0, 0, 3, 0 (rows 1 and 4), {n_dead} dead latents "
             "of {0}, seed=0".format(n_dead + 2))
    rep = _resample(resample_dead, sae, xs, dead, 0, tried)
    chosen = rep["out"]
    expect(bool(((chosen == 1) | (chosen == 4)).all()), "a dead latent took a row that has no reconstruction "
           "error.", tried=tried, expected="rows 1 and 4 only", received=f"rows {sorted(set(chosen.tolist()))}",
           hint="draw in proportion to the squared error: rows reconstructed perfectly are never drawn")
    share = (chosen == 4).double().mean().item()
    expect(abs(share - 0.75) < 0.04, "the draws are not in proportion to the squared errors.", tried=tried,
           expected="about 3/4 of the draws on row 4 (error 3 against 1)", received=f"{share:.3f}",
           hint="you always took the row with the largest error: draw at random, torch.multinomial(errors, "
                "n_dead, replacement=True, generator=g)" if share > 0.99 else
           "you drew in proportion to the norm of the error (sqrt(3) against 1 gives 0.63): square it, "
           "((x - x_hat) ** 2).sum(dim=-1)" if abs(share - 0.634) < 0.04 else
           "each row's probability is its squared error divided by the total")
    expect(bool(torch.allclose(rep["parameters"]["W_dec"].norm(dim=1), torch.ones(n_dead + 2), atol=1e-5)),
           "the new decoder rows are not unit vectors.", tried=tried,
           hint="normalise each chosen x[i] - b_dec to norm 1")
    directions = xs / xs.norm(dim=1, keepdim=True)
    expect(_close(rep["parameters"]["W_dec"][dead], directions[chosen]), "the dead latents' decoder rows do not "
           "match the rows returned.", tried=tried, expected="dead latent k (in index order) takes row rows[k]",
           hint="return the rows in the order of the dead latents: sae.W_dec[dead] = u assigns u[k] to the k-th "
                "dead latent")
    spec = torch.multinomial(torch.tensor([0.0, 1.0, 0.0, 0.0, 3.0, 0.0]), n_dead, replacement=True,
                             generator=torch.Generator().manual_seed(0))
    expect(torch.equal(chosen, spec), "the rows are drawn in proportion to the errors, but not with the spec's "
           "draw.", tried=tried, expected="torch.multinomial(errors, n_dead, replacement=True, generator=g) with "
           "g = torch.Generator().manual_seed(seed)", received=f"other rows ({int((chosen != spec).sum())} of "
           f"{n_dead} differ)", hint="one call for all the dead latents, with these arguments, so that a seed means "
                                     "the same draw for everyone (the hidden tests compare the rows)")
    again = _resample(resample_dead, _planted(W_enc, torch.zeros(n_dead + 2), W_dec, torch.zeros(d), residual),
                      xs, dead, 0, tried + ", twice")
    expect(torch.equal(again["out"], chosen), "the same seed gave other rows.", tried=tried + ", twice",
           expected="the same rows", hint="seed a torch.Generator with `seed` and draw with it")
    other = _resample(resample_dead, _planted(W_enc, torch.zeros(n_dead + 2), W_dec, torch.zeros(d), residual),
                      xs, dead, 1, tried.replace("seed=0", "seed=1"))
    expect(not torch.equal(other["out"], chosen), "seed=0 and seed=1 gave the same rows.",
           tried=tried + ", with seed=0 and seed=1", expected="other draws", hint="seed your generator with `seed`")

    # edge cases: no dead latent; every latent dead; a perfect reconstruction
    base = _one_row_case()
    none = torch.zeros(6, dtype=torch.bool)
    tried = "the first case with no dead latent"
    rep = _resample(resample_dead, _planted(*base), x, none, 0, tried)
    for k, v in zip(SAE_PARAMS, base[:4]):
        expect(torch.equal(rep["parameters"][k], v), "with no dead latent, the model changed.", tried=tried,
               expected="every parameter as it was", hint="index with the mask, and draw n_dead = 0 rows")
    tried = "the first case with every latent dead (no alive encoder column to take a norm from: use 1)"
    rep = _resample(resample_dead, _planted(*base), x, torch.ones(6, dtype=torch.bool), 0, tried)
    expect(_close(rep["parameters"]["W_enc"].T, 0.2 * unit.expand(6, 3)), "with every latent dead, the encoder "
           "columns are wrong.", tried=tried, expected="0.2 × 1 × [0.6, 0, 0.8] for each",
           received=show(rep["parameters"]["W_enc"].T),
           hint="when no latent is alive the mean alive norm is undefined: the spec uses 1 instead")
    tried = "every row reconstructed perfectly (all errors 0): draw uniformly"
    W_enc0, b_enc0, W_dec0, b_dec0, _ = base
    rep = _resample(resample_dead, _planted(W_enc0, b_enc0, W_dec0, b_dec0, torch.zeros(5, 3)), x,
                    torch.tensor(ONE_DEAD), 0, tried,
                    hint_if_raised="when every error is 0 the weights of the draw sum to 0 (torch.multinomial "
                                   "refuses them): draw uniformly then, with torch.ones_like(errors)")
    expect_tensor(rep["parameters"]["W_dec"], tried=tried, name="W_dec",
                  hint="with all errors 0 the weights sum to 0: draw uniformly instead (torch.ones_like(errors))")
    expect(bool(torch.allclose(rep["parameters"]["W_dec"].norm(dim=1), torch.ones(6), atol=1e-5)),
           "with all errors 0, the new decoder rows are not unit vectors.", tried=tried,
           hint="draw uniformly when every error is 0")


# ============================================================================================ 09.7 mean_max_cosine

MMC_TRUE = [[1.0, 0.0], [0.0, 1.0]]
MMC_LEARNED = [[3.0, 0.0], [1.0, 1.0], [-1.0, 0.0]]  # e1: best 1 (the first row); e2: best 1/sqrt 2: mean 0.8536


def _mmc_value(fn, learned, true, tried) -> float:
    out = call(fn, learned, true, tried=tried)
    return single_number(out, tried=tried, name="the score",
                         hint="average the best cosine of each true feature into one number: .mean().item()")


def _mmc_example(g, dtype, device="cpu"):
    return torch.randn(7, 4, generator=g, dtype=dtype), torch.randn(5, 4, generator=g, dtype=dtype)


@exercise("09.7", "mean_max_cosine", points=2, difficulty=1, minutes=10, example=_mmc_example,
          edge_cases=(
              EdgeCase("one learned row and one true feature, the same direction at another scale",
                       lambda: (_t([[0.0, -2.0, 0.0]]), _t([[0.0, -0.5, 0.0]])), close_to(lambda *a: 1.0)),
              EdgeCase("a learned row of zeros (cosine 0 with everything, not NaN)",
                       lambda: (_t([[0.0, 0.0], [0.0, 1.0]]), _t([[1.0, 0.0], [0.0, 1.0]])),
                       close_to(lambda *a: 0.5),
                       hint="divide by the norms clamped away from 0 (F.normalize does this): a zero row then has "
                            "cosine 0 with every feature"),
          ),
          opt_out={"meta device": "the result is a Python float, which needs the values"})
def check_mean_max_cosine(mean_max_cosine):
    tried = f"learned = {MMC_LEARNED}, true = {MMC_TRUE}"
    got = _mmc_value(mean_max_cosine, _t(MMC_LEARNED), _t(MMC_TRUE), tried)
    want = (1 + 1 / math.sqrt(2)) / 2
    if abs(got - want) > 1e-5:
        hint = ("you took, for each *learned* row, its best true feature: the score asks, for each *true* "
                "feature, its best learned row (max over the learned rows, mean over the true features)"
                if abs(got - (1 + 1 / math.sqrt(2) + 0) / 3) < 1e-4 else
                "normalise both sets of rows before the dot products: cosines, not dot products"
                if got > 1 + 1e-6 else
                "take the max over the learned rows for each true feature, then the mean; not the mean of all "
                "the cosines" if abs(got - (1 + 1 / math.sqrt(2) - 1 + 0 + 1 / math.sqrt(2) + 0) / 6) < 1e-4 else
                "cosine(f_k, w_j) = f_k · w_j / (|f_k| |w_j|); the score is the mean over k of the max over j")
        fail("the score is wrong.", tried=tried, expected=f"{want:.6f}: feature [1, 0] finds [3, 0] (cosine 1), "
             "feature [0, 1] finds [1, 1] (cosine 0.7071)", received=f"{got:.6g}", hint=hint)
    tried = "learned = -true (each learned row points against its feature), true = the identity in 2 dimensions"
    got = _mmc_value(mean_max_cosine, -torch.eye(2) * 2, torch.eye(2), tried)
    expect(abs(got) < 1e-6, "the cosines lost their sign.", tried=tried,
           expected="0: each feature's best cosine is 0 (with the other row), its own row gives -1",
           received=f"{got:.6g}", hint="a decoder row that points against a feature does not find it (its latent "
                                       "is >= 0): keep the sign, no .abs()")
    g = generator("09.7")
    true = torch.randn(6, 5, generator=g, dtype=torch.float64)
    perm = torch.randperm(9, generator=g)
    learned = torch.cat([true * torch.rand(6, 1, generator=g, dtype=torch.float64) * 3 + 0.0,
                         torch.randn(3, 5, generator=g, dtype=torch.float64)])[perm]
    tried = "learned = the 6 true features (random, not unit) rescaled by positive factors, 3 random rows added, " \
            "shuffled"
    got = _mmc_value(mean_max_cosine, learned, true, tried)
    expect(abs(got - 1.0) < 1e-9, "a dictionary that holds every feature does not score 1.", tried=tried,
           expected="1.0", received=f"{got:.10g}",
           hint="normalise the rows of both arguments: the score must not depend on their lengths or order")
    rand = torch.randn(64, 16, generator=g)
    feats = torch.randn(32, 16, generator=g)
    tried = "a random dictionary (64 rows) against 32 random features in 16 dimensions"
    got = _mmc_value(mean_max_cosine, rand, feats, tried)
    expect(0.3 < got < 0.85, "a random dictionary scores implausibly.", tried=tried,
           expected="a value well below 1 and above 0 (near 0.6)", received=f"{got:.4g}",
           hint="cosine(f_k, w_j) = f_k · w_j / (|f_k| |w_j|); the score is the mean over k of the max over j")
    tried = "(learned, true) swapped: learned = the 2 true features of the first case, true = the 3 learned rows"
    got = _mmc_value(mean_max_cosine, _t(MMC_TRUE), _t(MMC_LEARNED), tried)
    want = (1 + 1 / math.sqrt(2) + 0) / 3
    expect(abs(got - want) < 1e-5, "the order of the arguments is not the one the exercise names.", tried=tried,
           expected=f"{want:.6f}", received=f"{got:.6g}",
           hint="mean_max_cosine(learned, true): the mean runs over the rows of the *second* argument")
