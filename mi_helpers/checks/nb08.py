"""Checks for notebook 08, ablation and activation patching.

Every check grades on two models: the hand-built induction model of
:mod:`mi_helpers.circuits`, where the course knows each head's job exactly (the
decoys' outputs are zero, so ablating them costs exactly nothing; only L1H0's keys
read what L0H0 writes), and the trained model of notebook 07, against the course's
own interventions (:mod:`mi_helpers.interventions`), which the learner may not call
while the check runs their code. Hints name a mistake by comparing the learner's
numbers with what that mistake gives (the loss without the baseline subtracted, the
mean over positions too, layers and heads swapped).

No check needs a trained network. The answers are known by construction, or come from the course's
own intervention, :func:`mi_helpers.interventions.ablate` (which the learner may not call while the
check runs their code: the exercises ask them to write the hook themselves with
:func:`mi_helpers.hooks.hooks`).

- 08.2 tries SmallCNNs with seeded random convolutions whose read-out is planted: one whose ``fc`` reads
  nothing from four channels of ``relu2`` (zeroing one of them cannot move a logit: the drop is exactly
  0), and one whose ``fc`` reads from one channel alone, in float64: once that channel is silent every
  logit is ``fc.bias``, every image gets the class of the largest bias, and the accuracy falls to the share
  of that class among the labels, known in advance. Then it compares with ``ablate`` at ``relu1`` of a
  random SmallCNN, on a model in eval mode that holds a dropout layer (whose results only a learner who
  leaves the mode alone gets) and on a model in train mode (which must come back in train mode). After
  every call: no hook left, the weights and the mode as they were. The hints name a mistake by comparing
  the result with what a typical mistake gives (the accuracy with the channel ablated, the opposite sign,
  a relative drop, counts, percent, mean ablation, channels ablated cumulatively, every channel but one,
  an image zeroed instead of a channel, float32 arithmetic).
- 08.7 tries the planted MLP of :mod:`mi_helpers.planted`: ablating ``UNITS_B``, which feed nothing
  into the output, must cost exactly 0.0; ablating ``UNITS_A`` or unit 0 alone costs about 0.48, as
  ``ablate`` says; then a seeded random MLP of the same class against ``ablate`` for several sets of units
  given as a list, a tuple and a range.
- 08.8 is a finding: the answer must be ``mi_helpers.planted.FEATURE_USED``; a wrong answer is told why
  a probe's accuracy measures what is decodable, not what is used.

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

import contextlib
import functools
import math

import torch
from torch import nn

from .core import (EdgeCase, call, close_to, describe, exercise, expect, expect_close, expect_tensor, fail, generator,
                   inside, show, single_number)
from .nb04 import seeded_cnn
from ..circuits import corrupted_pairs, hand_built_induction_model, repeated_pairs
from ..harness import tensor_bits
from ..hooks import count_hooks, hooks, run_with_cache
from ..interventions import ablate, ablate_heads, induction_loss, logit_difference, normalised, patch
from ..planted import (FEATURE_UNUSED, FEATURE_USED, UNITS_A, UNITS_B, PlantedMLP, planted_features,
                       planted_model)
from ..transformer import load_induction_model


INTERVENTIONS = ("mi_helpers.interventions.ablate", "mi_helpers.interventions.ablate_heads",
                 "mi_helpers.interventions.patch")


def _close(a, b, atol: float = 1e-4, rtol: float = 1e-3) -> bool:
    """True when a and b are numbers, or tensors of one shape, with close, finite values (to name a mistake)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.device.type == "meta":
        return False
    a, b = a.detach().cpu().double(), b.detach().cpu().double()
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and bool(torch.allclose(a, b, atol=atol, rtol=rtol))


@functools.lru_cache(maxsize=1)
def _trained():
    from mi_helpers.transformer import load_induction_model
    return load_induction_model()


# ---------------------------------------------------------------- 08.1 head_ablation_losses

def reference_head_costs(model, tokens: torch.Tensor, length: int, how: str, reference=None) -> torch.Tensor:
    """The course's answer, from mi_helpers.interventions.ablate_heads."""
    cfg = model.cfg
    with torch.no_grad():
        base = induction_loss(model(tokens), tokens, length)
        costs = torch.zeros(cfg.n_layers, cfg.n_heads, dtype=base.dtype)
        for layer in range(cfg.n_layers):
            for head in range(cfg.n_heads):
                with ablate_heads(model, [(layer, head)], how=how,
                                  reference_tokens=tokens if reference is None else reference):
                    costs[layer, head] = induction_loss(model(tokens), tokens, length) - base
    return costs


def _ablated_losses_hint(out, model, tokens, length, how, reference, want) -> str:
    """Name the mistake that turns the right costs into ``out``, if a usual one does."""
    with torch.no_grad():
        base = induction_loss(model(tokens), tokens, length)
    if _close(out, want + base):
        return "these are the losses with each head ablated: subtract the intact model's loss (the baseline)"
    if _close(out, -want):
        return "the sign is flipped: the cost is (loss with the head ablated) - (loss of the intact model)"
    if _close(out, want.T.reshape(out.shape)) or (out.shape == want.T.shape and _close(out, want.T)):
        return "rows are layers and columns heads: out[layer, head]"
    if how == "mean" and reference is not None and _close(out, reference_head_costs(model, tokens, length, how)):
        return "the mean comes from `reference`, not from `tokens`: record the head outputs on reference"
    if how == "mean":
        return ("mean ablation replaces the head's output with its mean over the BATCH of the reference run, "
                "one mean per position: cache[name].mean(dim=0), [pos, head, d_model], not a mean over the "
                "positions too")
    return ("zero-ablate one head at a time at its output, blocks.{l}.attn.hook_result [batch, pos, head, d_model]: "
            "set act[:, :, h] to 0 in a copy and return it; every other head keeps its output")


def _ablation_example(g, dtype, device="cpu"):
    return (hand_built_induction_model(dtype=dtype).to(device), repeated_pairs(4, 5, 10, seed=8101).to(device), 5)


@exercise("08.1", "head_ablation_losses", points=3, difficulty=2, minutes=25, forbidden=INTERVENTIONS,
          example=_ablation_example, meta=True,
          edge_cases=(EdgeCase("one sequence, length 3, how='mean' with reference=None (the tokens themselves: "
                               "a batch of one is its own mean, so no head costs anything)",
                               lambda: (hand_built_induction_model(), repeated_pairs(1, 3, 10, seed=8102), 3, "mean"),
                               lambda out, args: None if _close(out, torch.zeros(2, 2), atol=1e-6) else
                               "mean-ablating over a batch of one changes nothing: every cost should be 0"),))
def check_head_ablation_losses(head_ablation_losses):
    hand = hand_built_induction_model().train()  # a mode the learner's function must leave as it is
    tokens = repeated_pairs(12, 6, 10, seed=8103)
    tried = ("the hand-built induction model (mi_helpers.circuits: L0H0 previous-token head, L1H0 induction head, "
             "L0H1 and L1H1 decoys whose output weights are 0) in train mode, 12 rows of A A with length 6, "
             "how='zero'")
    before = model_state(hand)
    out = call(head_ablation_losses, hand, tokens, 6, tried=tried)
    _expect_model_as_before(hand, before, tried)
    expect_tensor(out, shape=(2, 2), dtype=torch.float32, tried=tried, name="the costs",
                  hint="one cost per head: [n_layers, n_heads], in the loss's dtype")
    want = reference_head_costs(hand, tokens, 6, "zero")
    expect(bool((out[:, 1].abs() < 1e-5).all()), "ablating a decoy head should cost nothing.", tried=tried,
           expected="out[0, 1] = out[1, 1] = 0 (their outputs are zero whatever they attend to)",
           received=show(out), hint=_ablated_losses_hint(out, hand, tokens, 6, "zero", None, want))
    expect_close(out, want, tried=tried, name="the costs", atol=1e-4,
                 problem="the loss each head costs is not the course's.",
                 hint=_ablated_losses_hint(out, hand, tokens, 6, "zero", None, want))
    with torch.no_grad():
        intact = float(induction_loss(hand(tokens), tokens, 6))
    expect(abs(float(out[1, 0]) - (math.log(10) - intact)) < 1e-3,
           "without the induction head the model should guess among the 10 tokens.", tried=tried,
           expected=f"out[1, 0] = ln 10 - (intact loss) = {math.log(10):.3f} - ...", received=show(out),
           hint=_ablated_losses_hint(out, hand, tokens, 6, "zero", None, want))

    # Mean ablation, with a reference batch other than the tokens.
    reference = repeated_pairs(20, 6, 10, seed=8104)
    tried = "the hand-built model, 12 rows of A A with length 6, how='mean', reference = 20 other rows of A A"
    out = call(head_ablation_losses, hand, tokens, 6, how="mean", reference=reference, tried=tried)
    want = reference_head_costs(hand, tokens, 6, "mean", reference)
    expect_tensor(out, shape=(2, 2), dtype=torch.float32, tried=tried, name="the costs")
    expect_close(out, want, tried=tried, name="the costs", atol=1e-4,
                 problem="the mean-ablation costs are not the course's.",
                 hint=_ablated_losses_hint(out, hand, tokens, 6, "mean", reference, want))
    tried = "the hand-built model, 12 rows of A A with length 6, how='mean', no reference (the tokens themselves)"
    out = call(head_ablation_losses, hand, tokens, 6, how="mean", tried=tried)
    expect_close(out, reference_head_costs(hand, tokens, 6, "mean"), tried=tried, name="the costs", atol=1e-4,
                 problem="with reference=None, the mean should come from the tokens themselves.",
                 hint="start with `reference = tokens if reference is None else reference`")

    # The trained model of notebook 07, both ways, against the course's interventions.
    model = _trained()
    tokens = repeated_pairs(8, 8, model.cfg.d_vocab, seed=8105)
    reference = repeated_pairs(16, 8, model.cfg.d_vocab, seed=8106)
    for how in ("zero", "mean"):
        tried = f"notebook 07's trained model (load_induction_model()), 8 rows of A A with length 8, how={how!r}" + \
                (", reference = 16 other rows" if how == "mean" else "")
        before = model_state(model)
        out = call(head_ablation_losses, model, tokens, 8, how=how, reference=reference if how == "mean" else None,
                   tried=tried)
        _expect_model_as_before(model, before, tried)
        want = reference_head_costs(model, tokens, 8, how, reference if how == "mean" else None)
        expect_tensor(out, shape=tuple(want.shape), dtype=torch.float32, tried=tried, name="the costs")
        expect_close(out, want, tried=tried, name="the costs", atol=2e-4,
                     problem="the loss each head costs is not the course's.",
                     hint=_ablated_losses_hint(out, model, tokens, 8, how, reference if how == "mean" else None, want))


# ---------------------------------------------------------------- 08.3 activation_patching

def reference_patching(model, clean: torch.Tensor, corrupted: torch.Tensor, length: int, by: str) -> torch.Tensor:
    """The course's answer, from mi_helpers.interventions.patch."""
    n_layers = model.cfg.n_layers
    if by == "head":
        names, dim, width = [f"blocks.{l}.attn.hook_result" for l in range(n_layers)], 2, model.cfg.n_heads
    else:
        names = [f"blocks.{l}.hook_resid_pre" for l in range(n_layers)] + [f"blocks.{n_layers - 1}.hook_resid_post"]
        dim, width = 1, clean.shape[1]
    with torch.no_grad():
        clean_logits, cache = run_with_cache(model, clean, names)
        clean_loss = induction_loss(clean_logits, clean, length)
        corrupted_loss = induction_loss(model(corrupted), corrupted, length)
        out = torch.zeros(len(names), width, dtype=clean_loss.dtype)
        for row, name in enumerate(names):
            for i in range(width):
                with patch(model, name, cache[name], dim=dim, index=i):
                    out[row, i] = normalised(induction_loss(model(corrupted), corrupted, length),
                                             clean_loss, corrupted_loss)
    return out


def _patching_hint(out, model, clean, corrupted, length, by, want) -> str:
    with torch.no_grad():
        clean_loss = induction_loss(model(clean), clean, length)
        corrupted_loss = induction_loss(model(corrupted), corrupted, length)
    gap = float(corrupted_loss - clean_loss)
    if _close(out, 1 - want):
        return "clean must give 1 and corrupted 0: (loss_corrupted - loss) / (loss_corrupted - loss_clean)"
    if _close(out, corrupted_loss - want * gap) or _close(out, want * gap) or _close(out, -want * gap):
        return ("normalise: divide (loss_corrupted - loss_patched) by (loss_corrupted - loss_clean), so that the "
                "clean run gives 1 and the corrupted run 0")
    if by == "position":
        return ("patch one position at a time: act[:, p] = clean_act[:, p] at blocks.{l}.hook_resid_pre for every "
                "layer, then the final blocks.{last}.hook_resid_post: n_layers + 1 rows")
    return ("patch one head at a time: at blocks.{l}.attn.hook_result, act[:, :, h] = clean_act[:, :, h] in a copy, "
            "running the CORRUPTED tokens; the loss is measured on the corrupted run")


def _patching_example(g, dtype, device="cpu"):
    clean = repeated_pairs(4, 5, 10, seed=8301)
    return (hand_built_induction_model(dtype=dtype).to(device), clean.to(device),
            corrupted_pairs(clean, 10, seed=8302).to(device), 5)


@exercise("08.3", "activation_patching", points=3, difficulty=2, minutes=25, forbidden=INTERVENTIONS,
          example=_patching_example,
          opt_out={"meta device": "the normalised metric divides by a loss difference, which has no value on the "
                                  "meta device; the check runs it in float64 on the CPU",
                   "edge cases": "its inputs are a model and two batches: the check tries two models, both ways, "
                                 "and a sequence whose every position is patched"})
def check_activation_patching(activation_patching):
    hand = hand_built_induction_model()
    clean = repeated_pairs(12, 6, 10, seed=8303)
    corrupted = corrupted_pairs(clean, 10, seed=8304)
    for by in ("head", "position"):
        tried = (f"the hand-built induction model, clean = 12 rows of A A with length 6, corrupted = the same with "
                 f"the first copy replaced (B A), by={by!r}")
        before = model_state(hand)
        out = call(activation_patching, hand, clean, corrupted, 6, by=by, tried=tried)
        _expect_model_as_before(hand, before, tried)
        want = reference_patching(hand, clean, corrupted, 6, by)
        shape_hint = "[n_layers, n_heads]" if by == "head" else "[n_layers + 1, positions]: resid_pre of each " \
                                                                "layer, then the last resid_post"
        expect_tensor(out, shape=tuple(want.shape), dtype=torch.float32, tried=tried, name="the result",
                      hint=f"one number per {by}: {shape_hint}")
        if by == "head":
            expect(abs(float(out[1, 0]) - 1) < 1e-3 and bool((out[:, 1].abs() < 1e-5).all()),
                   "patching the induction head should restore the clean run, and patching a decoy nothing.",
                   tried=tried, expected="out[1, 0] = 1 (the induction head alone carries the answer), out[:, 1] = 0",
                   received=show(out), hint=_patching_hint(out, hand, clean, corrupted, 6, by, want))
        expect_close(out, want, tried=tried, name="the result", atol=1e-4,
                     problem=f"the normalised metric of patching by {by} is not the course's.",
                     hint=_patching_hint(out, hand, clean, corrupted, 6, by, want))

    model = _trained()
    clean = repeated_pairs(8, 8, model.cfg.d_vocab, seed=8305)
    corrupted = corrupted_pairs(clean, model.cfg.d_vocab, seed=8306)
    for by in ("head", "position"):
        tried = f"notebook 07's trained model, clean = 8 rows of A A with length 8, corrupted = B A, by={by!r}"
        out = call(activation_patching, model, clean, corrupted, 8, by=by, tried=tried)
        want = reference_patching(model, clean, corrupted, 8, by)
        expect_tensor(out, shape=tuple(want.shape), dtype=torch.float32, tried=tried, name="the result")
        expect_close(out, want, tried=tried, name="the result", atol=2e-4,
                     problem=f"the normalised metric of patching by {by} is not the course's.",
                     hint=_patching_hint(out, model, clean, corrupted, 8, by, want))
    tried = "notebook 07's trained model, by='position': the last row patches the whole final residual stream"
    expect(abs(float(out[-1, 8:-1].sum()) - float(want[-1, 8:-1].sum())) < 1e-3, "the last row is wrong.",
           tried=tried, hint=_patching_hint(out, model, clean, corrupted, 8, "position", want))


# ---------------------------------------------------------------- 08.4 path_patching

def reference_path(model, tokens: torch.Tensor, length: int, sender, receivers, into: str) -> float:
    """The course's answer: the sender mean-ablated everywhere, and the receivers' `into` as in the intact run.

    In a two-layer attention-only model a layer-1 receiver's input with only the sender put back is the
    intact run's residual stream, so its q, k or v there are the intact run's: mi_helpers' patch gives them.
    """
    names = [f"blocks.{l}.attn.hook_{into}" for l in sorted({l for l, _ in receivers})]
    with torch.no_grad():
        logits, cache = run_with_cache(model, tokens, names + [f"blocks.{sender[0]}.attn.hook_result"])
        clean_loss = induction_loss(logits, tokens, length)
        result = cache[f"blocks.{sender[0]}.attn.hook_result"]
        with ablate(model, f"blocks.{sender[0]}.attn.hook_result", dim=2, index=sender[1], how="mean",
                    reference=result):
            ablated_loss = induction_loss(model(tokens), tokens, length)
            with _patches(model, cache, receivers, into):
                loss = induction_loss(model(tokens), tokens, length)
    return float(normalised(loss, clean_loss, ablated_loss))


def _patches(model, cache, receivers, into):
    import contextlib
    stack = contextlib.ExitStack()
    for layer, head in receivers:
        name = f"blocks.{layer}.attn.hook_{into}"
        stack.enter_context(patch(model, name, cache[name], dim=2, index=head))
    return stack


PATH_HINT = ("mean-ablate the sender at its output (blocks.{l}.attn.hook_result, head h: its mean over the batch, "
             "per position) in the whole forward pass, except in the receivers' `into` (hook_q, hook_k or hook_v "
             "of their layer), which must see the sender's real output: compute it from the residual stream with "
             "the sender's real output put back (or, in this two-layer model, take it from the intact run). "
             "Then normalise: (ablated loss - loss) / (ablated loss - intact loss)")


@exercise("08.4", "path_patching", points=3, difficulty=3, minutes=30, forbidden=INTERVENTIONS,
          opt_out={"float64": "its result is a Python float (a fraction of the loss), which has no dtype; the "
                              "check compares it with the course's to 1e-4",
                   "meta device": "the result is a number computed from losses, which the meta device has no value "
                                  "for",
                   "edge cases": "the check tries every receiver set and every input of the receivers"})
def check_path_patching(path_patching):
    hand = hand_built_induction_model()
    tokens = repeated_pairs(12, 6, 10, seed=8401)
    known = {"q": 0.0, "k": 1.0, "v": 0.0}
    for into, value in known.items():
        tried = (f"the hand-built induction model (L1H0's keys, and only its keys, read what L0H0 writes), 12 rows "
                 f"of A A with length 6, sender=(0, 0), receivers=[(1, 0)], into={into!r}")
        before = model_state(hand)
        out = call(path_patching, hand, tokens, 6, (0, 0), [(1, 0)], into, tried=tried)
        _expect_model_as_before(hand, before, tried)
        expect(isinstance(out, (float, int)) or (isinstance(out, torch.Tensor) and out.numel() == 1),
               "path_patching should return one number.", tried=tried, expected="a float", received=describe(out),
               hint="return float(normalised_value)")
        expect(abs(float(out) - value) < 1e-3, f"putting L0H0 back into L1H0's {into} should restore "
               f"{value:.0%} of the loss, by construction.", tried=tried, expected=f"{value}",
               received=f"{float(out):.4f}", hint=PATH_HINT)

    model = _trained()
    tokens = repeated_pairs(16, 8, model.cfg.d_vocab, seed=8402)
    for receivers in ([(1, 0)], [(1, 1)], [(1, 0), (1, 1)]):
        for into in ("q", "k", "v"):
            tried = (f"notebook 07's trained model, 16 rows of A A with length 8, sender=(0, 0), "
                     f"receivers={receivers}, into={into!r}")
            out = call(path_patching, model, tokens, 8, (0, 0), receivers, into, tried=tried)
            want = reference_path(model, tokens, 8, (0, 0), receivers, into)
            got = float(out) if isinstance(out, (float, int, torch.Tensor)) else float("nan")
            expect(abs(got - want) < 1e-3, "the fraction of the loss restored is not the course's.", tried=tried,
                   expected=f"{want:.4f}", received=f"{got:.4f}" if got == got else describe(out), hint=PATH_HINT)


# ---------------------------------------------------------------- 08.5 name_the_circuit

@functools.lru_cache(maxsize=1)
def measured_circuit() -> dict:
    """The truth, measured on the trained model with the course's own interventions: the layer-0 head whose
    mean-ablation costs the most loss (a sender whose ablation costs nothing has nothing to restore), the input
    of the layer-1 heads through which putting it back restores the most, and the heads that restore at least
    half of the loss on their own."""
    model = _trained()
    tokens = repeated_pairs(64, 8, model.cfg.d_vocab, seed=8501)
    costs = reference_head_costs(model, tokens, 8, "mean")
    head = int(costs[0].argmax())
    receivers = [(1, h) for h in range(model.cfg.n_heads)]
    restored = {into: reference_path(model, tokens, 8, (0, head), receivers, into) for into in "qkv"}
    into = max(restored, key=restored.get)
    if restored[into] < 0.8:  # pragma: no cover - a checkpoint the course would not ship
        raise RuntimeError(f"no input restores 80 % of the loss: {restored}")
    alone = {r: reference_path(model, tokens, 8, (0, head), [r], into) for r in receivers}
    return {"sender": (0, head), "receivers": tuple(r for r, v in alone.items() if v >= 0.5), "input": into}


@exercise("08.5", "name_the_circuit", points=2, difficulty=2, minutes=15,
          opt_out={"inputs unchanged": "it takes no input", "float64": "it returns names",
                   "meta device": "it returns names", "edge cases": "it takes no input",
                   "written by hand": "a finding: any method may find it"})
def check_name_the_circuit(name_the_circuit):
    tried = "name_the_circuit(), about notebook 07's trained model (load_induction_model())"
    out = call(name_the_circuit, tried=tried)
    keys = {"sender", "receivers", "input"}
    expect(isinstance(out, dict) and set(out) == keys, "the answer should be a dict with three entries.",
           tried=tried, expected="{'sender': (layer, head), 'receivers': [(layer, head), ...], 'input': 'q', 'k' "
                                 "or 'v'}", received=describe(out), hint="return a dict with exactly these keys")
    truth = measured_circuit()
    sender, receivers, into = out["sender"], out["receivers"], out["input"]

    def pair(p):
        return isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(i, int) and not isinstance(i, bool)
                                                                      for i in p)

    expect(pair(sender), "out['sender'] should be one (layer, head) pair of Python ints.", tried=tried,
           received=describe(sender), hint="e.g. (0, 1): counted from 0")
    expect(isinstance(receivers, (list, tuple, set)) and receivers and all(pair(p) for p in receivers),
           "out['receivers'] should be a non-empty list of (layer, head) pairs.", tried=tried,
           received=describe(receivers), hint="a single head is still a list: [(1, 0)]")
    expect(into in ("q", "k", "v"), "out['input'] should be 'q', 'k' or 'v'.", tried=tried, received=repr(into),
           hint="the input of the receivers through which the sender's output matters")
    if into != truth["input"]:
        fail(f"putting the sender's output back into the receivers' {into!r} restores little of the loss.",
             tried=tried, hint="compare path_patching into 'q', 'k' and 'v': one of them restores almost all of "
                               "it. Which input of an induction head must know the previous token?")
    expect(tuple(sender) == truth["sender"], f"{tuple(sender)} is not the head whose output the induction heads "
           "read.", tried=tried,
           hint="the sender is the layer-0 head whose ablation costs the model most (08.1): a head whose "
                "ablation costs nothing has nothing to restore, and its fraction restored is noise")
    expect({tuple(p) for p in receivers} == set(truth["receivers"]), "these are not the heads that read the "
           "sender's output.", tried=tried, received=str(sorted(tuple(p) for p in receivers)),
           hint="try each head of layer 1 alone as the receiver: every head that restores much on its own reads it")


# The exercises' ids in the notebook (one place to renumber them; the checks' data does not depend on them).
CHANNEL_ID, EFFECT_ID, FINDING_ID = "08.2", "08.7", "08.8"


# ---------------------------------------------------------------- shared: what a call did to the model

def model_state(model: nn.Module) -> dict:
    """The model's hooks, mode (per submodule) and weights (as bits), to compare before and after a call."""
    return {"hooks": count_hooks(model),
            "training": {name or "(the model)": m.training for name, m in model.named_modules()},
            "state": {k: tensor_bits(v) for k, v in model.state_dict(keep_vars=True).items()}}


def _expect_model_as_before(model: nn.Module, before: dict, tried: str, *, eval_hint: str = "") -> None:
    """After a call of the learner's code: no hook left, the same mode everywhere, the same weights."""
    after = model_state(model)
    left = after["hooks"] - before["hooks"]
    expect(left <= 0, f"{left} hook{'s are' if left != 1 else ' is'} still attached to the model after your "
           "function returned.", tried=tried, expected=f"count_hooks(model) == {before['hooks']}, as before",
           received=f"count_hooks(model) == {after['hooks']}",
           hint="attach every hook with `with hooks(model, [(name, fn)]):` and run the forward pass inside the "
                "`with` block: the hook is removed when the block ends, even if the forward pass raises. A hook "
                "registered with register_forward_hook and never removed fires on every later forward pass")
    switched = [name for name, flag in before["training"].items() if after["training"].get(name) != flag]
    if switched:
        was = before["training"]["(the model)"]
        fail(f"your function left the model in {'eval' if was else 'train'} mode; it came in "
             f"{'train' if was else 'eval'} mode.", tried=tried,
             expected=f"model.training == {was} afterwards, as before", received=f"model.training == {not was}",
             hint=eval_hint or "evaluate the model in the mode the caller gave it: do not call model.train() or "
                               "model.eval(); if you must switch, save `was = model.training` first and call "
                               "model.train(was) before returning")
    changed = [k for k, bits in before["state"].items()
               if k not in after["state"] or not torch.equal(bits, after["state"][k])]
    expect(not changed, "your function changed the model's weights.", tried=tried,
           expected="every parameter and buffer left as it was", received="changed: " + ", ".join(changed),
           hint="ablate the activation with a hook that returns an edited copy of it; do not zero weights "
                "(model.conv2.weight[c] = 0, .zero_(), .mul_(0)) in place: the caller's model keeps the change")


def _correct(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """[n] bool: the rows of X whose highest logit is y (no hooks but those already on)."""
    with torch.no_grad():
        return model(X).argmax(dim=-1) == y


def mixed_labels(model: nn.Module, X: torch.Tensor, g: torch.Generator, n_classes: int,
                 share: float = 0.3) -> torch.Tensor:
    """The model's own predictions on X, with about ``share`` of them replaced by labels drawn at random:
    an accuracy well below 1, so that a drop can be either sign and a relative drop differs from it."""
    with torch.no_grad():
        y = model(X).argmax(dim=-1)
    redraw = torch.rand(len(y), generator=g) < share
    y[redraw] = torch.randint(n_classes, (int(redraw.sum()),), generator=g)
    return y


# ---------------------------------------------------------------- 08.2 channel_ablation_accuracy

CHANNELS_OF = {"relu1": 8, "relu2": 16}
DEAD = (2, 5, 11, 13)  # channels of relu2 that the first planted CNN's fc reads nothing from
ALONE = 6  # the second planted CNN's fc reads channel 6 only
CHANNEL_HINT = ("for each channel c: a hook on `layer` that returns a copy of the activation with [:, c] set to 0 "
                "(dim 1 is the channel; dim 0 the batch), a forward pass with that hook on, and the accuracy "
                "without any hook minus the accuracy with it")


def reference_drops(model: nn.Module, X: torch.Tensor, y: torch.Tensor, layer: str = "relu2", *,
                    how: str = "zero", cumulative: bool = False, all_but: bool = False) -> torch.Tensor:
    """[channels] accuracy lost per channel, in X's dtype, with the course's ``ablate``. The keyword
    arguments give the typical mistakes a hint names (mean ablation, channels 0..c together, all but c)."""
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
    acts = cache[layer]
    n = acts.shape[1]
    clean = (logits.argmax(dim=-1) == y).to(X.dtype).mean()
    drops = []
    for c in range(n):
        index = list(range(c + 1)) if cumulative else [i for i in range(n) if i != c] if all_but else c
        with ablate(model, layer, dim=1, index=index, how=how, reference=acts if how == "mean" else None):
            drops.append(clean - _correct(model, X, y).to(X.dtype).mean())
    return torch.stack(drops)


def _image_zeroed(model: nn.Module, X: torch.Tensor, y: torch.Tensor, layer: str) -> torch.Tensor:
    """A typical mistake, to name it: for each c, image c (dim 0) zeroed instead of channel c."""
    with torch.no_grad():
        logits, cache = run_with_cache(model, X, [layer])
    clean = (logits.argmax(dim=-1) == y).to(X.dtype).mean()
    drops = []
    for c in range(min(cache[layer].shape[1], X.shape[0])):
        def zero(activation, name, c=c):
            activation = activation.clone()
            activation[c] = 0
            return activation
        with hooks(model, [(layer, zero)]):
            drops.append(clean - _correct(model, X, y).to(X.dtype).mean())
    return torch.stack(drops)


def _drop_hint(out: torch.Tensor, model: nn.Module, X: torch.Tensor, y: torch.Tensor, layer: str,
               want: torch.Tensor) -> str:
    """Name the mistake by comparing the result with what the typical ones give on these inputs."""
    base = _correct(model, X, y).to(torch.float64).mean().item()
    want = want.detach().cpu().double()
    n = X.shape[0]
    if out.dtype == torch.float64 and want.dtype == torch.float64 and not _close(out, want, 1e-12, rtol=0) \
            and _close(out, want, 1e-6, rtol=0):
        return ("the values agree only to about float32's precision: somewhere the accuracy goes through float32 "
                "((pred == y).float(), torch.tensor(list_of_floats), .item() then torch.tensor, mi_helpers.train."
                "accuracy). Turn the booleans into X's dtype: (pred == y).to(X.dtype).mean()")
    candidates = [
        (base - want, "you returned the accuracy WITH each channel ablated. The exercise asks for the accuracy "
                      "the model LOSES: the clean accuracy (no hook) minus the ablated one"),
        (-want, "the sign is flipped: the drop is the clean accuracy minus the ablated accuracy, positive when "
                "the model gets worse"),
        (want / base if base else want, "you divided by the clean accuracy: return the difference of the two "
                                        "accuracies itself, not a relative drop"),
        (want * n, "these are counts of images: divide by the number of images, so that the drop is a fraction "
                   "between -1 and 1"),
        (want * 100, "these are percentages: return fractions (0.05, not 5)"),
        (reference_drops(model, X, y, layer, how="mean").double(),
         "this is MEAN ablation (each channel replaced by its average over the batch). Set the channel to 0"),
        (reference_drops(model, X, y, layer, cumulative=True).double(),
         "channel c was ablated together with every channel before it: ablate one channel at a time (a hook "
         "that captures a list you keep appending to, or an activation edited in place and reused, "
         "accumulates the ablations)"),
        (reference_drops(model, X, y, layer, all_but=True).double(),
         "you zeroed every channel EXCEPT c: zero channel c alone, activation[:, c] = 0"),
        (_image_zeroed(model, X, y, layer).double(),
         "activation[c] = 0 zeroes IMAGE c (dim 0 is the batch): the channel is dim 1, activation[:, c] = 0"),
    ]
    for value, hint in candidates:
        if _close(out, value, 1e-6, rtol=0):
            return hint
    if bool((want != 0).any()) and _close(out, torch.zeros_like(want), 1e-6, rtol=0):
        return ("every drop is 0, as if the ablation changed nothing. Two usual causes: the hook edits a copy of "
                "the activation but does not RETURN it (a hook replaces the activation only with what it "
                "returns), or the clean accuracy was measured with the ablation hook already attached")
    return CHANNEL_HINT


def _expect_drops(out, model, X, y, layer: str, tried: str, n_channels: int, *, atol: float,
                  problem: str = "the accuracy drops differ from the course's zero ablation (mi_helpers.interventions."
                                 "ablate) of each channel.") -> torch.Tensor:
    """The result must be [n_channels] in X's dtype, equal to the course's ablation."""
    expect_tensor(out, tried=tried, allow_nan=True,
                  hint="build the result with torch.stack(list_of_0d_tensors) or torch.zeros(n, dtype=X.dtype, "
                       "device=X.device) filled channel by channel")
    expect_tensor(out, shape=(n_channels,), tried=tried, allow_nan=True,
                  hint=f"one drop per channel of {layer!r}: its activation is [batch, channel, height, width], so "
                       f"there are activation.shape[1] = {n_channels} of them (read the number of channels from "
                       "the activation, not from a constant: `layer` may be another layer)")
    expect_tensor(out, dtype=X.dtype, tried=tried,
                  hint="keep X's dtype: turn the booleans pred == y into X's dtype with .to(X.dtype) before the "
                       "mean (.float() gives float32; the mean of a bool or int tensor needs a float dtype)")
    want = reference_drops(model, X, y, layer)
    expect_close(out, want, tried=tried, atol=atol, rtol=0, problem=problem,
                 hint=_drop_hint(out, model, X, y, layer, want))
    return out


def dead_channel_cnn(seed: int, dead=DEAD) -> nn.Module:
    """A SmallCNN with seeded random weights whose fc reads nothing from the relu2 channels ``dead``:
    flatten lays relu2's pooled maps out channel after channel, 4 features each (2 × 2 after pool2)."""
    model = seeded_cnn(seed)
    with torch.no_grad():
        for c in dead:
            model.fc.weight[:, 4 * c:4 * (c + 1)] = 0.0
    return model


def lone_channel_cnn(seed: int, X: torch.Tensor, g: torch.Generator, channel: int = ALONE) -> tuple[nn.Module, int]:
    """A SmallCNN whose fc reads relu2's ``channel`` and nothing else, and the class it predicts once that
    channel is 0: then every logit is its bias, so every image gets the class of the largest bias. The
    weights into fc are random, scaled to the channel's spread on X, and the bias centres the logits on X,
    so that the model's predictions vary from image to image while the channel is on."""
    model = seeded_cnn(seed)
    with torch.no_grad():
        pooled = run_with_cache(model, X, ["pool2"])[1]["pool2"][:, channel].flatten(1)  # [n, 4]
        weight = torch.randn(10, 4, generator=g) / pooled.std(dim=0).mean()
        model.fc.weight.zero_()
        model.fc.weight[:, 4 * channel:4 * (channel + 1)] = weight
        model.fc.bias.copy_(-weight @ pooled.mean(dim=0))
    return model, int(model.fc.bias.argmax())


def dropout_cnn(seed: int) -> nn.Module:
    """A SmallCNN in eval mode with a dropout layer after relu2 (pool2 becomes Dropout then MaxPool):
    in eval mode the dropout does nothing; in train mode it zeroes half the values at random."""
    model = seeded_cnn(seed)
    model.pool2 = nn.Sequential(nn.Dropout(0.5), nn.MaxPool2d(2))
    return model.eval()


def _cnn_example(_g, dtype, device="cpu"):
    g = torch.Generator().manual_seed(8029)  # not the contract's generator: the same data whatever the id
    model = seeded_cnn(8029)
    X = torch.rand(60, 1, 8, 8, generator=g)
    y = mixed_labels(model, X, g, 10)
    return model.to(dtype).to(device), X.to(dtype).to(device), y.to(device)


def _one_image():
    model = seeded_cnn(8027)
    X = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(8027))
    with torch.no_grad():
        y = model(X).argmax(dim=-1)  # the model's own prediction: the clean accuracy is 1
    return model, X, y


def _one_channel():
    g = torch.Generator().manual_seed(8028)
    model = seeded_cnn(8028, channels=(4, 1))  # relu2 has a single channel
    X = torch.rand(40, 1, 8, 8, generator=g)
    return model, X, mixed_labels(model, X, g, 10)


@exercise(CHANNEL_ID, "channel_ablation_accuracy", points=3, difficulty=2, minutes=20,
          example=_cnn_example, meta=True, forbidden=INTERVENTIONS,
          edge_cases=(
              EdgeCase("a single image, X of shape (1, 1, 8, 8): each drop is -1, 0 or 1",
                       _one_image, close_to(lambda model, X, y: reference_drops(model, X, y))),
              EdgeCase("SmallCNN(channels=(4, 1)), whose relu2 has one channel: a result of shape (1,)",
                       _one_channel, close_to(lambda model, X, y: reference_drops(model, X, y)),
                       hint="read the number of channels from the activation (activation.shape[1]), not from a "
                            "constant"),
          ))
def check_channel_ablation_accuracy(channel_ablation_accuracy):
    fn = channel_ablation_accuracy
    g = torch.Generator().manual_seed(80200)

    # 1. fc reads nothing from four channels: zeroing one of them cannot change a logit.
    model = dead_channel_cnn(8021)
    X = torch.rand(120, 1, 8, 8, generator=g)
    y = mixed_labels(model, X, g, 10)
    tried = (f"a SmallCNN with random convolutions whose fc reads nothing from relu2's channels {list(DEAD)} (their "
             "weights into fc are 0), X of shape (120, 1, 8, 8), float32, y of shape (120,), layer left at its "
             "default ('relu2')")
    before = model_state(model)
    out = call(fn, model, X, y, tried=tried)
    _expect_model_as_before(model, before, tried)
    expect_tensor(out, shape=(16,), tried=tried, allow_nan=True,
                  hint="one drop per channel of relu2 (16 channels): activation.shape[1], a tensor of shape (16,)")
    dead = out.detach()[list(DEAD)]
    if not bool((dead == 0).all()):
        fail(f"the drop of channels {list(DEAD)} should be exactly 0: fc reads nothing from them, so zeroing one "
             "cannot move any logit.", tried=tried, expected=str([0.0] * len(DEAD)), received=show(dead),
             hint=_drop_hint(out, model, X, y, "relu2", reference_drops(model, X, y)))
    _expect_drops(out, model, X, y, "relu2", tried, 16, atol=1e-6)

    # 2. fc reads one channel alone: with it at 0 every logit is fc.bias, and one class wins everywhere. float64.
    X = torch.rand(130, 1, 8, 8, generator=g)
    model, winner = lone_channel_cnn(8022, X, g)
    model, X = model.double(), X.double()
    with torch.no_grad():
        predicted = model(X).argmax(dim=-1)
    y = predicted.clone()
    y[:30] = (y[:30] + 1) % 10  # 30 labels made wrong: the clean accuracy is 100 / 130
    clean = _correct(model, X, y).double().mean().item()
    falls_to = (y == winner).double().mean().item()
    if len(predicted.unique()) < 4 or not 0 < falls_to < 0.5:  # pragma: no cover - a model the course would not ship
        raise RuntimeError("the lone-channel CNN is degenerate: its channel hardly moves the predictions")
    tried = (f"a SmallCNN in float64 whose fc reads relu2's channel {ALONE} and nothing else (fc.bias is largest for "
             f"class {winner}); X of shape (130, 1, 8, 8), float64; y: the model's own predictions with 30 of them "
             f"changed, so the clean accuracy is 100/130")
    before = model_state(model)
    out = call(fn, model, X, y, "relu2", tried=tried)
    _expect_model_as_before(model, before, tried)
    expect_tensor(out, shape=(16,), tried=tried, allow_nan=True)
    expect_tensor(out, dtype=torch.float64, tried=tried,
                  hint="with float64 inputs the result is float64: turn pred == y into X's dtype with "
                       ".to(X.dtype) before the mean, and build the result with torch.stack or "
                       "torch.zeros(n, dtype=X.dtype, device=X.device)")
    want = torch.zeros(16, dtype=torch.float64)
    want[ALONE] = clean - falls_to
    expect_close(out, want, tried=tried, atol=1e-12, rtol=0,
                 problem=f"the drops are not the ones the planted read-out gives: 0 for every channel but {ALONE}, and "
                         f"{clean:.4f} - {falls_to:.4f} = {clean - falls_to:.4f} for channel {ALONE} (with it at 0 "
                         f"every logit is fc.bias, so every image is predicted {winner}, and {falls_to:.1%} of the "
                         f"labels are {winner}).",
                 hint=_drop_hint(out, model, X, y, "relu2", want))

    # 3. Another layer, against the course's ablate on a random SmallCNN.
    model = seeded_cnn(8023)
    X = torch.rand(150, 1, 8, 8, generator=g)
    y = mixed_labels(model, X, g, 10)
    tried = "a SmallCNN with seeded random weights, X of shape (150, 1, 8, 8), y of shape (150,), layer='relu1'"
    before = model_state(model)
    out = call(fn, model, X, y, layer="relu1", tried=tried,
               hint_if_raised="relu1 has 8 channels, relu2 16: hook the module named by `layer`, and read the "
                              "number of channels from its activation (activation.shape[1])")
    _expect_model_as_before(model, before, tried)
    _expect_drops(out, model, X, y, "relu1", tried, 8, atol=1e-6)

    # 4. A model in eval mode with a dropout layer: evaluated as given, it is deterministic.
    model = dropout_cnn(8024)
    X = torch.rand(150, 1, 8, 8, generator=g)
    y = mixed_labels(model, X, g, 10)
    tried = ("a SmallCNN in eval mode with a dropout layer after relu2 (pool2 = Sequential(Dropout(0.5), "
             "MaxPool2d(2))), X of shape (150, 1, 8, 8), y of shape (150,)")
    before = model_state(model)
    out = call(fn, model, X, y, tried=tried)
    _expect_model_as_before(model, before, tried,
                           eval_hint="do not call model.train(): it switches dropout on, and the accuracies "
                                     "become random. Evaluate the model in the mode the caller gave")
    _expect_drops(out, model, X, y, "relu2", tried, 16, atol=1e-6,
                  problem="the drops differ from the course's zero ablation of each channel with the model in eval "
                          "mode.")

    # 5. A model in train mode comes back in train mode.
    model = seeded_cnn(8025).train()
    X = torch.rand(50, 1, 8, 8, generator=g)
    y = mixed_labels(model, X, g, 10)
    tried = "a SmallCNN (no dropout) in train mode, X of shape (50, 1, 8, 8), y of shape (50,)"
    before = model_state(model)
    out = call(fn, model, X, y, tried=tried)
    _expect_model_as_before(model, before, tried)
    _expect_drops(out, model, X, y, "relu2", tried, 16, atol=1e-6)


# ---------------------------------------------------------------- 08.7 ablation_effect

UNITS_HINT = ("a hook on 'hidden' that returns a copy of the activation [batch, hidden] with the columns `units` set "
              "to 0 (h = h.clone(); h[:, list(units)] = 0), the accuracy with it on, and the accuracy without any "
              "hook minus that")


def reference_effect(model: nn.Module, X: torch.Tensor, y: torch.Tensor, units, how: str = "zero") -> float:
    """The accuracy lost when ``units`` of the hook point ``hidden`` are ablated, with the course's ``ablate``."""
    units = list(units)
    clean = _correct(model, X, y).double().mean().item()
    if not units:
        return 0.0
    reference = run_with_cache(model, X, ["hidden"])[1]["hidden"] if how == "mean" else None
    with ablate(model, "hidden", dim=1, index=units, how=how, reference=reference):
        return clean - _correct(model, X, y).double().mean().item()


def random_mlp(seed: int, d_in: int = 16, hidden: int = 10) -> PlantedMLP:
    """The planted model's class with PyTorch's default random initialisation, drawn from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = PlantedMLP(d_in, hidden)
        with torch.no_grad():  # a larger fc2 and bias so that more units matter, and differently
            model.fc2.weight.mul_(3.0)
            model.fc1.bias.add_(0.3)
    return model.eval()


def _rows_zeroed(model: nn.Module, X: torch.Tensor, y: torch.Tensor, units) -> float:
    """A typical mistake, to name it: the rows (examples) numbered ``units`` zeroed instead of the columns."""
    rows = [u for u in units if u < X.shape[0]]

    def zero(hidden, name):
        hidden = hidden.clone()
        hidden[rows] = 0
        return hidden
    clean = _correct(model, X, y).double().mean().item()
    with hooks(model, [("hidden", zero)]):
        return clean - _correct(model, X, y).double().mean().item()


def _effect_hint(value: float, model, X, y, units, want: float) -> str:
    base = _correct(model, X, y).double().mean().item()
    n = X.shape[0]
    units = list(units)
    candidates = [
        (base - want, "you returned the accuracy WITH the units ablated. The exercise asks for the accuracy the "
                      "model LOSES: the clean accuracy (no hook) minus the ablated one"),
        (-want, "the sign is flipped: the drop is the clean accuracy minus the ablated accuracy"),
        (want * 100, "this is a percentage: return a fraction (0.05, not 5)"),
        (want * n, "this is a count of examples: divide by the number of examples"),
    ]
    if units:
        candidates += [
            (reference_effect(model, X, y, units[:1]), "only the first unit was ablated: zero every unit in "
                                                       "`units` (h[:, list(units)] = 0)"),
            (reference_effect(model, X, y, range(len(units))),
             f"you zeroed units 0 .. {len(units) - 1} (range(len(units))), not the units listed in `units`"),
            (_rows_zeroed(model, X, y, units), "hidden[units] = 0 zeroes the EXAMPLES (rows) numbered `units`: dim 0 "
                                               "is the batch. The units are the columns: hidden[:, list(units)] = 0"),
            (reference_effect(model, X, y, units, how="mean"),
             "this is MEAN ablation (the units replaced by their average over the batch). Set them to 0"),
        ]
    for other, hint in candidates:
        if _close(value, other, 1e-6, rtol=0):
            return hint
    if want != 0 and value == 0:
        return ("the ablation changed nothing. Two usual causes: the hook edits a copy of the activation but does "
                "not RETURN it (a hook replaces the activation only with what it returns), or the clean accuracy "
                "was measured with the hook already attached")
    return UNITS_HINT


def _expect_effect(fn, model, X, y, units, tried: str, *, exact_zero: bool = False, problem: str = "") -> float:
    before = model_state(model)
    out = call(fn, model, X, y, units, tried=tried)
    _expect_model_as_before(model, before, tried)
    value = single_number(out, tried=tried, name="the accuracy drop",
                          expected="one number: a Python float (a 0-d tensor is accepted)",
                          hint="return clean_accuracy - ablated_accuracy, one number (.item() turns a 0-d tensor "
                               "into a Python float)")
    want = 0.0 if exact_zero else reference_effect(model, X, y, units)
    if exact_zero:
        expect(value == 0.0, problem or "the drop should be exactly 0.", tried=tried, expected="0.0",
               received=f"{value:.6g}", hint=_effect_hint(value, model, X, y, units, 0.0))
    else:
        expect(abs(value - want) <= 1e-6, problem or "the accuracy drop differs from the course's zero ablation of "
               "these units (mi_helpers.interventions.ablate).", tried=tried, expected=f"{want:.6g}",
               received=f"{value:.6g}", hint=_effect_hint(value, model, X, y, units, want))
    return value


def _planted_example():
    data = planted_features(200, seed=8069)
    return planted_model(), data.X, data.y


@exercise(EFFECT_ID, "ablation_effect", points=2, difficulty=1, minutes=10, forbidden=INTERVENTIONS,
          edge_cases=(
              EdgeCase("units = [] (nothing ablated): the drop is 0",
                       lambda: (*_planted_example(), []), close_to(lambda model, X, y, units: 0.0, atol=0.0),
                       hint="with no unit to ablate, the ablated run is the clean run: h[:, []] = 0 changes nothing"),
              EdgeCase("a single example (X of shape (1, 16)): the drop is -1, 0 or 1",
                       lambda: (planted_model(), *(lambda d: (d.X[:1], d.y[:1]))(planted_features(5, seed=8068)),
                                UNITS_A),
                       close_to(lambda model, X, y, units: reference_effect(model, X, y, units))),
          ),
          opt_out={"float64": "it returns one Python float, a difference of two fractions of the examples, which "
                              "float32 holds to 1e-7 (the planted model is float32, like its data)",
                   "meta device": "it returns a Python float: .item() needs the values, which the meta device "
                                  "does not have"})
def check_ablation_effect(ablation_effect):
    fn = ablation_effect
    g = torch.Generator().manual_seed(80600)
    model = planted_model().train()  # no dropout, so the values are the same; the mode must stay
    data = planted_features(1000, seed=8061)
    X, y = data.X, data.y
    what = "the planted model (planted_model(), in train mode), 1000 examples of planted_features, y = a"
    _expect_effect(fn, model, X, y, UNITS_B, f"{what}, units = UNITS_B = {UNITS_B}", exact_zero=True,
                   problem="ablating UNITS_B should cost exactly 0.0: their weights into the output are 0, so "
                           "zeroing them cannot move a logit.")
    _expect_effect(fn, model, X, y, UNITS_A, f"{what}, units = UNITS_A = {UNITS_A} (a tuple)",
                   problem="ablating UNITS_A should cost about half the accuracy: with both at 0 every logit is 0, "
                           "and every example gets class 0.")
    _expect_effect(fn, model, X, y, [0], f"{what}, units = [0] (one unit)")

    # A random MLP of the same class, against the course's ablate.
    model = random_mlp(8062)
    X = torch.randn(400, 16, generator=g)
    y = mixed_labels(model, X, g, 2)
    what = "a PlantedMLP(16, 10) with seeded random weights, X of shape (400, 16), y of shape (400,)"
    for units in ([3], (0, 4, 7), range(2, 9)):
        _expect_effect(fn, model, X, y, units, f"{what}, units = {units!r}")


# ---------------------------------------------------------------- 08.8 which_feature_is_used

@exercise(FINDING_ID, "which_feature_is_used", points=2, difficulty=1, minutes=10,
          opt_out={"inputs unchanged": "it takes no input", "float64": "it returns a letter",
                   "edge cases": "it takes no input",
                   "written by hand": "a finding: the check grades the answer, whatever method found it"})
def check_which_feature_is_used(which_feature_is_used):
    tried = "which_feature_is_used(), about the planted model (planted_model()) and planted_features"
    out = call(which_feature_is_used, tried=tried)
    answer = out.strip().lower() if isinstance(out, str) else None
    expect(answer in ("a", "b"), "the answer should be the letter of one feature.", tried=tried,
           expected='"a" or "b"', received=describe(out),
           hint='return the string "a" or the string "b" (not a tuple of units, not a sentence)')
    if answer != FEATURE_USED:
        fail(f"the planted model does not use feature {answer}.", tried=tried, expected="the feature whose ablation "
             "costs the model its accuracy", received=f'"{answer}"',
             hint=f"a probe's accuracy measures what is DECODABLE from the hidden layer, not what the model USES: "
                  f"{FEATURE_UNUSED} is written louder, so a probe reads it best, but a model may compute something "
                  "and never read it. Decide with an intervention: compare ablation_effect(...) for UNITS_A and for "
                  "UNITS_B (or ablate each probe's direction) and pick the feature whose removal hurts")


ATTRIBUTION_ID = "08.6"  # the exercise's id in the notebook (one place to renumber it)
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


AP_RECIPE = ("for head h of layer l: sum over batch, positions and d_model of (clean_act - corrupted_act) × "
          "d metric / d act, the gradient taken in the CORRUPTED run (act = blocks.{l}.attn.hook_result[:, :, h]), "
          "then divide by metric(clean run) - metric(corrupted run)")


def _ap_hint(out: torch.Tensor, refs: dict, *, default_out: torch.Tensor | None = None) -> str:
    approx = refs["approx"]
    if _close(out, refs["real"], atol=1e-6, rtol=1e-5):
        return ("your values are those of real activation patching (a run per head with its clean output put "
                "back). This exercise asks for its first-order estimate: one corrupted run, one backward pass, "
                "and the gradient times the difference of the activations, for all heads at once")
    if _close(out, -approx, atol=1e-6, rtol=1e-5):
        return ("every value has the opposite sign. The difference is clean_act - corrupted_act (from the "
                "corrupted run towards the clean one), and the normaliser metric(clean) - metric(corrupted): "
                "for a loss it is negative, which makes restoring the clean behaviour positive")
    for scale, words in ((refs["gap"], "not divided by"), (-refs["gap"], "multiplied by -1 instead of divided by")):
        if _close(out, approx * scale, atol=1e-6, rtol=1e-5):
            return (f"these are the raw estimates of the metric's change, {words} metric(clean run) - "
                    f"metric(corrupted run) = {refs['gap']:.4g}: normalise them like activation patching "
                    "(clean = 1, corrupted = 0)")
    for divisor, words in ((refs["batch"], "the batch"), (refs["batch"] * refs["positions"], "batch and positions")):
        if _close(out, approx / divisor, atol=1e-6, rtol=1e-5):
            return (f"your values are {divisor} times too small: you averaged over {words}. The metric is "
                    "already a mean, and its gradient already holds the 1/n: SUM the products over batch, "
                    "positions and d_model")
    if _close(out, refs["at_clean"], atol=1e-6, rtol=1e-5):
        return ("you took the gradient in the CLEAN run. Attribution patching expands the metric around the "
                "CORRUPTED run, the run that patching changes: keep the graph of the corrupted run and "
                "differentiate its metric")
    if _close(out, refs["times_clean"], atol=1e-6, rtol=1e-5):
        return ("you multiplied the gradient by the clean activation alone (gradient × input, as in notebook 06). "
                "Patching changes the activation by clean_act - corrupted_act: multiply the gradient by that "
                "difference")
    if default_out is not None and _close(out, default_out, atol=1e-6, rtol=1e-5):
        return ("your values are those of the default metric (the induction loss), although the check passed "
                "another one: use the `metric` argument when it is given, for the gradient and for the normaliser")
    if _close(out.abs(), approx.abs(), atol=1e-6, rtol=1e-5):
        return ("right sizes, some signs wrong: keep the sign of the estimate (a negative value says that the "
                "patch would make the metric worse)")
    if out.shape[0] > 1 and _close(out[-1], approx[-1], atol=1e-6, rtol=1e-5) \
            and not _close(out[:-1], approx[:-1], atol=1e-6, rtol=1e-5):
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
    if not _close(out, want, atol=1e-6, rtol=1e-5):
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
    if not _close(out, refs["approx"], atol=1e-6, rtol=1e-5):
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
    before = model_state(model)
    out = call(attribution_patching, model, clean, corrupted, length, tried=tried)
    _expect_model_as_before(model, before, tried)
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
    expect(_close(out[-1], refs["real"][-1], atol=1e-6, rtol=1e-5),
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
