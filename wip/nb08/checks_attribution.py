"""Checks for notebook 08, part "attribution": 08.6 attribution_patching, the gradient approximation of
activation patching by head.

Attribution patching estimates what patching head h's clean output into the corrupted run does to the
metric, by the first term of a Taylor expansion around the corrupted run. Along the straight path
``act(t) = corrupted_act + t (clean_act - corrupted_act)`` of that head's activation, with everything
downstream recomputed, the estimate is the derivative of the metric at t = 0. The checks compute that
derivative by central finite differences (step 1e-6, float64) of the course's own
:func:`mi_helpers.interventions.patch`, given the interpolated activation as its source: another method
than the learner's (autograd), so no copy of the answer; it agrees with autograd to about 1e-9. Real
patching is the same path at t = 1.

Tried, all in float64:

- the course's trained model (``load_induction_model``) with the default metric, the induction loss on
  the second copy (clean ``A A`` from ``repeated_pairs``, corrupted ``B A`` from ``corrupted_pairs``): on this
  batch the approximation gets even the sign of L0H0 wrong (a negative entry, so that ``abs()`` shows);
- the hand-built model (``circuits.hand_built_induction_model``, length 5 so that B shares no token with A),
  where the approximation is known to fail: L0H0's estimate is 0 (the corrupted run sits on a flat point:
  the induction head spreads its attention evenly over equally wrong tokens), while real patching of L0H0
  gives about -1.8, and L1H0's estimate is about 3.1 for a real 1. The learner's function must give the
  approximation there too: it is a property of the method, not a bug;
- a metric linear in the logits (``logit_difference``, through the ``metric`` argument): the logits are a
  linear function of the last layer's head outputs, so there the estimate equals real patching exactly
  (compared with ``patch`` at t = 1), and the first layer still follows the finite differences;
- contracts, in the kernel that holds the learner's objects (:func:`~mi_helpers.checks.core.inside`): at
  most three runs of the model (attribution patching needs two, whatever the number of heads; patching
  head by head needs one per head), no ``.grad`` left on any parameter (``loss.backward()`` leaves them,
  ``torch.autograd.grad`` does not), ``requires_grad`` and the weights unchanged, no hook left behind;
  tokens unchanged (the core's "inputs unchanged"). ``ablate``, ``ablate_heads`` and ``patch`` raise while
  the learner's code runs.

A wrong result is compared with the typical mistakes, each computed by the same finite differences or by
real patching, to name it in the hint: real patching instead of the estimate, the opposite sign, no
normalisation, a mean over the batch, the gradient taken at the clean run, the gradient times the clean
activation alone (gradient × input), the ``metric`` argument ignored, absolute values, the paths through later
layers cut or positions skipped (the first layer wrong, the last right).
"""
from __future__ import annotations

import functools

import torch

from mi_helpers.checks.core import (EdgeCase, call, describe, exercise, expect, expect_tensor, fail, generator,
                                    inside, show)
from mi_helpers.circuits import corrupted_pairs, hand_built_induction_model, repeated_pairs
from mi_helpers.hooks import count_hooks, run_with_cache
from mi_helpers.interventions import induction_loss, logit_difference, patch
from mi_helpers.transformer import load_induction_model

ATTRIBUTION_ID = "08.6"  # the exercise's id in the notebook (one place to renumber it)
INTERVENTIONS = ("mi_helpers.interventions.ablate", "mi_helpers.interventions.ablate_heads",
                 "mi_helpers.interventions.patch")
AP_STEP = 1e-6  # central differences in float64: truncation ~ STEP², rounding ~ 1e-16 / AP_STEP, about 1e-9 here
# The method needs 2 runs (clean, corrupted); a third (the clean metric in a run of its own) is wasteful, not wrong.
AP_MAX_RUNS = 3


# ---------------------------------------------------------------- references, all through the course's patch


def _ap_default_metric(logits: torch.Tensor, tokens: torch.Tensor, length: int) -> torch.Tensor:
    """The notebook's default metric: the induction loss on the second copy (lower is better)."""
    return induction_loss(logits, tokens, length)


def _ap_names(model) -> list[str]:
    return [f"blocks.{layer}.attn.hook_result" for layer in range(model.cfg.n_layers)]


@torch.no_grad()
def _ap_path_derivatives(model, clean, corrupted, metric, *, at: str = "corrupted",
                         direction: str = "difference") -> torch.Tensor:
    """[n_layers, n_heads]: d/dt of metric(run with head h = base_act + t Δ) at t = 0, Δ = clean - corrupted act.

    ``at="corrupted"`` runs the corrupted tokens (the attribution estimate, before normalising);
    ``at="clean"`` runs the clean tokens with the clean activation as the base (a gradient taken at the
    clean run: a mistake, computed only to name it), and ``direction="clean"`` moves along the clean
    activation itself instead of Δ (gradient × input: another mistake). Central differences of ``patch``.
    """
    names = _ap_names(model)
    _, clean_cache = run_with_cache(model, clean, names)
    _, corrupted_cache = run_with_cache(model, corrupted, names)
    tokens, base = (corrupted, corrupted_cache) if at == "corrupted" else (clean, clean_cache)
    out = torch.zeros(model.cfg.n_layers, model.cfg.n_heads, dtype=torch.float64)
    for layer, name in enumerate(names):
        delta = clean_cache[name] - corrupted_cache[name] if direction == "difference" else clean_cache[name]
        for head in range(model.cfg.n_heads):
            values = []
            for t in (AP_STEP, -AP_STEP):
                with patch(model, name, base[name] + t * delta, dim=2, index=head):
                    values.append(metric(model(tokens)).double())
            out[layer, head] = (values[0] - values[1]) / (2 * AP_STEP)
    return out


@torch.no_grad()
def _ap_real_patching(model, clean, corrupted, metric) -> torch.Tensor:
    """[n_layers, n_heads]: (metric(patched) - metric(corrupted)) / (metric(clean) - metric(corrupted))."""
    names = _ap_names(model)
    clean_logits, clean_cache = run_with_cache(model, clean, names)
    m_clean, m_corrupted = metric(clean_logits).double(), metric(model(corrupted)).double()
    out = torch.zeros(model.cfg.n_layers, model.cfg.n_heads, dtype=torch.float64)
    for layer, name in enumerate(names):
        for head in range(model.cfg.n_heads):
            with patch(model, name, clean_cache[name], dim=2, index=head):
                out[layer, head] = (metric(model(corrupted)).double() - m_corrupted) / (m_clean - m_corrupted)
    return out


@torch.no_grad()
def _ap_gap(model, clean, corrupted, metric) -> float:
    """metric(clean run) - metric(corrupted run)."""
    return float(metric(model(clean)).double() - metric(model(corrupted)).double())


def attribution_references(model, clean, corrupted, length, metric=None) -> dict:
    """The estimate the check expects, and what typical mistakes give, on these inputs."""
    metric = functools.partial(_ap_default_metric, tokens=clean, length=length) if metric is None else metric
    gap = _ap_gap(model, clean, corrupted, metric)
    return {"approx": _ap_path_derivatives(model, clean, corrupted, metric) / gap,
            "at_clean": _ap_path_derivatives(model, clean, corrupted, metric, at="clean") / gap,
            "times_clean": _ap_path_derivatives(model, clean, corrupted, metric, direction="clean") / gap,
            "real": _ap_real_patching(model, clean, corrupted, metric), "gap": gap, "batch": clean.shape[0],
            "positions": clean.shape[1]}


# ---------------------------------------------------------------- naming the mistake


def _ap_close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-6) -> bool:
    a, b = a.detach().cpu().double(), b.detach().cpu().double()
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and bool(torch.allclose(a, b, atol=atol, rtol=1e-5))


AP_RECIPE = ("for head h of layer l: sum over batch, positions and d_model of (clean_act - corrupted_act) × "
          "d metric / d act, the gradient taken in the CORRUPTED run (act = blocks.{l}.attn.hook_result[:, :, h]), "
          "then divide by metric(clean run) - metric(corrupted run)")


def _ap_hint(out: torch.Tensor, refs: dict, *, default_out: torch.Tensor | None = None) -> str:
    approx = refs["approx"]
    if _ap_close(out, refs["real"]):
        return ("your values are those of real activation patching (a run per head with its clean output put "
                "back). This exercise asks for its first-order estimate: one corrupted run, one backward pass, "
                "and the gradient times the difference of the activations, for all heads at once")
    if _ap_close(out, -approx):
        return ("every value has the opposite sign. The difference is clean_act - corrupted_act (from the "
                "corrupted run towards the clean one), and the normaliser metric(clean) - metric(corrupted): "
                "for a loss it is negative, which makes restoring the clean behaviour positive")
    for scale, words in ((refs["gap"], "not divided by"), (-refs["gap"], "multiplied by -1 instead of divided by")):
        if _ap_close(out, approx * scale):
            return (f"these are the raw estimates of the metric's change, {words} metric(clean run) - "
                    f"metric(corrupted run) = {refs['gap']:.4g}: normalise them like activation patching "
                    "(clean = 1, corrupted = 0)")
    for divisor, words in ((refs["batch"], "the batch"), (refs["batch"] * refs["positions"], "batch and positions")):
        if _ap_close(out, approx / divisor):
            return (f"your values are {divisor} times too small: you averaged over {words}. The metric is "
                    "already a mean, and its gradient already holds the 1/n: SUM the products over batch, "
                    "positions and d_model")
    if _ap_close(out, refs["at_clean"]):
        return ("you took the gradient in the CLEAN run. Attribution patching expands the metric around the "
                "CORRUPTED run, the run that patching changes: keep the graph of the corrupted run and "
                "differentiate its metric")
    if _ap_close(out, refs["times_clean"]):
        return ("you multiplied the gradient by the clean activation alone (gradient × input, as in notebook 06). "
                "Patching changes the activation by clean_act - corrupted_act: multiply the gradient by that "
                "difference")
    if default_out is not None and _ap_close(out, default_out):
        return ("your values are those of the default metric (the induction loss), although the check passed "
                "another one: use the `metric` argument when it is given, for the gradient and for the normaliser")
    if _ap_close(out.abs(), approx.abs()):
        return ("right sizes, some signs wrong: keep the sign of the estimate (a negative value says that the "
                "patch would make the metric worse)")
    if out.shape[0] > 1 and _ap_close(out[-1], approx[-1]) and not _ap_close(out[:-1], approx[:-1]):
        return ("the last layer is right and the earlier ones are not: a head of layer 0 acts on the metric "
                "directly AND through every later layer (it changes their queries, keys and values, at every "
                "position). Two usual causes: the activations were cut from the graph (a hook that returns "
                "act.detach().requires_grad_() hides the paths through the later layers: record them with "
                "record(model, names, detach=False) instead), or the sum skips positions (the first copy's "
                "positions matter through the later layers' keys and values: sum over ALL positions)")
    return AP_RECIPE


# ---------------------------------------------------------------- the cases


def _ap_trained(dtype=torch.float64):
    return load_induction_model().to(dtype)


def _ap_pairs(n: int, length: int, d_vocab: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    seed_clean, seed_corrupted = (int(s) for s in torch.randint(0, 2**31 - 1, (2,), generator=g))
    clean = repeated_pairs(n, length, d_vocab, seed=seed_clean)
    return clean, corrupted_pairs(clean, d_vocab, seed=seed_corrupted)


def _ap_example(g, dtype, device="cpu"):
    model = _ap_trained(dtype).to(device)
    clean, corrupted = _ap_pairs(3, 7, model.cfg.d_vocab, g)
    return model, clean.to(device), corrupted.to(device), 7


def _ap_edge_args():
    g = generator(ATTRIBUTION_ID, salt=3)
    model = _ap_trained()
    clean, corrupted = _ap_pairs(1, 2, model.cfg.d_vocab, g)
    return model, clean, corrupted, 2


def _ap_edge_expect(out, args) -> str | None:
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 2):
        return "expected a tensor of shape (2, 2)"
    want = attribution_references(*args)["approx"]
    if not _ap_close(out, want):
        return f"expected {show(want)}, got {show(out)}"
    return None


def _ap_watch(attribution_patching, model, clean, corrupted, length):
    """Run the learner's function next to the model (in the learner's kernel under the graders) and report
    what a returned value cannot show: how often the model ran, and the state of its parameters."""
    runs = []
    handle = model.register_forward_pre_hook(lambda _module, _inputs: runs.append(1))
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    training = model.training
    try:
        result = attribution_patching(model, clean, corrupted, length)
    finally:
        handle.remove()
    now_frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    return {"result": result, "runs": len(runs), "training": [training, model.training],
            "grads": [name for name, p in model.named_parameters() if p.grad is not None],
            "requires_grad": sorted(set(frozen) ^ now_frozen)}


def _ap_expect_result(out, refs, tried: str, *, problem: str, default_out=None, extra_hint: str = "") -> torch.Tensor:
    expect_tensor(out, tried=tried, hint="return one tensor, [n_layers, n_heads]: torch.stack of one row per layer")
    expect_tensor(out, shape=tuple(refs["approx"].shape), tried=tried,
                  hint="one number per head: [n_layers, n_heads]. Sum each head's products over batch (dim 0), "
                       "positions (dim 1) and d_model (dim 3), keep the head axis (dim 2)")
    expect_tensor(out, dtype=torch.float64, tried=tried,
                  hint="the model is float64 here: keep its dtype (no torch.zeros(...) without dtype=, no .float())")
    if not _ap_close(out, refs["approx"]):
        hint = _ap_hint(out, refs, default_out=default_out)
        fail(problem, tried=tried, expected=show(refs["approx"]), received=show(out),
             hint=hint + (("\n" + extra_hint) if extra_hint else ""))
    return out


def _ap_expect_no_hooks(model, tried: str) -> None:
    left = count_hooks(model)
    expect(left == 0, f"{left} hook{'s are' if left != 1 else ' is'} still attached to the model after your "
           "function returned.", tried=tried, expected="no hook left on the model",
           hint="add hooks only through `with record(...)`, `with hooks(...)` or run_with_cache: they remove "
                "their hooks on exit, even when the code inside raises")


def _ap_expect_weights(model, before: list[torch.Tensor], tried: str) -> None:
    changed = [name for (name, p), old in zip(model.named_parameters(), before) if not torch.equal(p.detach(), old)]
    expect(not changed, "your function changed the model's weights.", tried=tried,
           expected="every parameter as it was", received="changed: " + ", ".join(changed[:4]),
           hint="read the model, never edit it: no in-place operation on a parameter, no optimizer step")


@exercise(ATTRIBUTION_ID, "attribution_patching", points=3, difficulty=3, minutes=25,
          example=_ap_example, forbidden=INTERVENTIONS,
          edge_cases=(EdgeCase("one sequence (batch 1) with length 2: A A = 4 tokens, one prediction on the second "
                               "copy, the trained model in float64", _ap_edge_args, _ap_edge_expect,
                               hint="nothing special should happen with one row and one prediction: " + AP_RECIPE),))
def check_attribution_patching(attribution_patching):
    # 1. The course's trained model, the default metric, on a batch (salt 27) where the estimate of L0H0 is
    # negative, about -0.27 (real patching: -0.87), so that a sign lost to abs() shows.
    model = _ap_trained()
    length = 6
    clean, corrupted = _ap_pairs(6, length, model.cfg.d_vocab, generator(ATTRIBUTION_ID, salt=27))
    tried = (f"the course's trained model (load_induction_model(), in float64), clean = 6 rows A A with "
             f"length = {length} (repeated_pairs), corrupted = the same rows B A (corrupted_pairs), metric left "
             "at its default (the induction loss on the second copy)")
    before = [p.detach().clone() for p in model.parameters()]
    out = call(attribution_patching, model, clean, corrupted, length, tried=tried)
    _ap_expect_no_hooks(model, tried)
    _ap_expect_weights(model, before, tried)
    refs = attribution_references(model, clean, corrupted, length)
    _ap_expect_result(out, refs, tried,
                      problem="the estimates differ from the first-order approximation of patching each head.")

    # 2. The hand-built model, where the approximation fails: the learner must give the approximation anyway.
    g = generator(ATTRIBUTION_ID)
    toy = hand_built_induction_model(dtype=torch.float64)
    length = 5
    clean, corrupted = _ap_pairs(4, length, toy.cfg.d_vocab, g)
    tried = ("the hand-built induction model (mi_helpers.circuits, float64), clean = 4 rows A A with length = 5, "
             "corrupted = B A (no token of B in A), the default metric")
    out = call(attribution_patching, toy, clean, corrupted, length, tried=tried)
    _ap_expect_no_hooks(toy, tried)
    refs = attribution_references(toy, clean, corrupted, length)
    _ap_expect_result(out, refs, tried,
                      problem="the estimates differ from the first-order approximation on the hand-built model.",
                      extra_hint="here real patching gives " + show(refs["real"]).replace("\n", " ") + ": the "
                                 "approximation is far from it (L0H0: 0 against about -1.8), and that is expected: "
                                 "the check wants the first-order estimate even where it misleads")

    # 3. A metric linear in the logits: the last layer's estimates equal real patching exactly.
    model = _ap_trained()
    length = 8
    clean, corrupted = _ap_pairs(5, length, model.cfg.d_vocab, g)
    wrong = torch.randint(0, model.cfg.d_vocab, tuple(clean.shape), generator=g)
    metric = functools.partial(logit_difference, correct=clean.roll(-1, dims=1), wrong=wrong)
    tried = (f"the trained model (float64), 5 rows A A / B A with length = {length}, and metric = the logit "
             "difference between the next token and a random one at every position (mi_helpers.interventions."
             "logit_difference: higher is better, linear in the logits)")
    out = call(attribution_patching, model, clean, corrupted, length, metric=metric, tried=tried,
               hint_if_raised="the function takes metric=..., a function logits -> 0-dim tensor: call it on the "
                              "logits of each run instead of the induction loss when it is given")
    _ap_expect_no_hooks(model, tried)
    refs = attribution_references(model, clean, corrupted, length, metric)
    plain = call(attribution_patching, model, clean, corrupted, length, tried=tried.split(", and metric")[0])
    _ap_expect_result(out, refs, tried, default_out=plain,
                      problem="with a metric given, the estimates differ from the first-order approximation.")
    expect(_ap_close(out[-1], refs["real"][-1], atol=1e-6),
           "with a metric linear in the logits, the last layer's estimates should equal real patching exactly.",
           tried=tried, expected=show(refs["real"][-1]), received=show(out[-1]),
           hint="the logits are a linear function of the last layer's head outputs, so the first-order term is "
                "the whole change there: " + AP_RECIPE)

    # 4. What a returned value cannot show, asked in the kernel that holds the model.
    toy = hand_built_induction_model(dtype=torch.float64)
    clean, corrupted = _ap_pairs(3, 4, toy.cfg.d_vocab, g)
    tried = "the hand-built model (float64), 3 rows A A / B A with length = 4, the default metric"
    seen = call(inside, _ap_watch, attribution_patching, toy, clean, corrupted, 4, tried=tried)
    expect(isinstance(seen, dict) and {"result", "runs", "training", "grads", "requires_grad"} <= set(seen),
           "the check could not watch your function run.", tried=tried, received=describe(seen),
           hint="run the cell that defines attribution_patching again, then this check")
    expect(seen["result"] is not None, "your function returned None.", tried=tried,
           hint="did you forget the `return` statement?")
    expect(seen["runs"] <= AP_MAX_RUNS, f"your function ran the model {seen['runs']} times.", tried=tried,
           expected="2 runs: one on the clean tokens, one on the corrupted tokens, whatever the number of heads",
           received=f"{seen['runs']} runs for a model with {toy.cfg.n_layers} × {toy.cfg.n_heads} heads",
           hint="the point of attribution patching is its cost: one corrupted run and ONE backward pass give the "
                "gradient for every head at once. Ask torch.autograd.grad for all the recorded activations in a "
                "single call, and do not re-run the model per head or per layer")
    expect(not seen["grads"], "your function left gradients in the model's parameters (their .grad).", tried=tried,
           expected="every parameter's .grad as it was: None", received=", ".join(seen["grads"][:4]) + ", ...",
           hint="loss.backward() stores a gradient in every parameter, where a later optimizer step or gradient "
                "would find it. torch.autograd.grad(metric, activations) returns the gradients you ask for and "
                "stores none")
    expect(not seen["requires_grad"], "your function changed which parameters require gradients.", tried=tried,
           received="changed: " + ", ".join(seen["requires_grad"][:4]),
           hint="leave model.requires_grad_(...) alone: the activations of a run are in the graph already")
    before, after = seen["training"]
    expect(before == after, "your function left the model in another mode.", tried=tried,
           expected=f"training={before}", received=f"training={after}",
           hint="attribution patching needs no model.train() or model.eval(): leave the mode as you found it")
    _ap_expect_no_hooks(toy, tried)
