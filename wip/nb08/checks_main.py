"""Checks for notebook 08 (part): ablation of heads, activation patching, the induction circuit's paths.

Every check grades on two models: the hand-built induction model of
:mod:`mi_helpers.circuits`, where the course knows each head's job exactly (the
decoys' outputs are zero, so ablating them costs exactly nothing; only L1H0's keys
read what L0H0 writes), and the trained model of notebook 07, against the course's
own interventions (:mod:`mi_helpers.interventions`), which the learner may not call
while the check runs their code. Hints name a mistake by comparing the learner's
numbers with what that mistake gives (the loss without the baseline subtracted, the
mean over positions too, layers and heads swapped).
"""
from __future__ import annotations

import functools
import math

import torch

from mi_helpers.checks.core import (EdgeCase, call, describe, exercise, expect, expect_close, expect_tensor, fail,
                                    inside, show)
from mi_helpers.circuits import corrupted_pairs, hand_built_induction_model, repeated_pairs
from mi_helpers.hooks import count_hooks, run_with_cache
from mi_helpers.interventions import ablate, ablate_heads, induction_loss, normalised, patch

INTERVENTIONS = ("mi_helpers.interventions.ablate", "mi_helpers.interventions.ablate_heads",
                 "mi_helpers.interventions.patch")


def _close(a, b, atol: float = 1e-4) -> bool:
    """True when a and b are tensors of one shape with close, finite values (to name a mistake in a hint)."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.device.type == "meta":
        return False
    a, b = a.detach().cpu().double(), b.detach().cpu().double()
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and bool(torch.allclose(a, b, atol=atol, rtol=1e-3))


def model_state(model) -> dict:
    """Where the model lives: the hooks attached to it and a copy of its parameters and mode."""
    return {"hooks": count_hooks(model), "training": model.training,
            "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}


def _expect_untouched(model, before: dict, tried: str) -> None:
    after = call(inside, model_state, model, tried=tried)
    expect(after["hooks"] == 0, f"{after['hooks']} hook(s) are still attached to the model after your function "
           "returned.", tried=tried,
           hint="attach hooks only with `with hooks(model, [...]):`, which removes them when the block ends")
    changed = [k for k, v in before["state"].items() if not torch.equal(v, after["state"].get(k, v * 0 + 1))]
    expect(not changed, "your function changed the model's weights.", tried=tried,
           expected="the weights as they were", received="changed: " + ", ".join(changed),
           hint="ablate the activation in the hook (return a changed copy), never the weights")
    expect(after["training"] == before["training"], "your function left the model in another mode.", tried=tried,
           expected=f"training={before['training']}", received=f"training={after['training']}",
           hint="measuring needs no model.train() or model.eval(): leave the mode as you found it")


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
    hand = hand_built_induction_model()
    tokens = repeated_pairs(12, 6, 10, seed=8103)
    tried = ("the hand-built induction model (mi_helpers.circuits: L0H0 previous-token head, L1H0 induction head, "
             "L0H1 and L1H1 decoys whose output weights are 0), 12 rows of A A with length 6, how='zero'")
    before = call(inside, model_state, hand, tried=tried)
    out = call(head_ablation_losses, hand, tokens, 6, tried=tried)
    _expect_untouched(hand, before, tried)
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
    expect(abs(float(out[1, 0]) - (math.log(10) - intact)) < 1e-3, "without the induction head the model should guess among the 10 tokens.", tried=tried,
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
        before = call(inside, model_state, model, tried=tried)
        out = call(head_ablation_losses, model, tokens, 8, how=how, reference=reference if how == "mean" else None,
                   tried=tried)
        _expect_untouched(model, before, tried)
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
        before = call(inside, model_state, hand, tried=tried)
        out = call(activation_patching, hand, clean, corrupted, 6, by=by, tried=tried)
        _expect_untouched(hand, before, tried)
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
        before = call(inside, model_state, hand, tried=tried)
        out = call(path_patching, hand, tokens, 6, (0, 0), [(1, 0)], into, tried=tried)
        _expect_untouched(hand, before, tried)
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
           "read.", tried=tried, hint="the sender is the layer-0 head whose ablation costs the model most (08.1): a head whose "
                "ablation costs nothing has nothing to restore, and its fraction restored is noise")
    expect({tuple(p) for p in receivers} == set(truth["receivers"]), "these are not the heads that read the "
           "sender's output.", tried=tried, received=str(sorted(tuple(p) for p in receivers)),
           hint="try each head of layer 1 alone as the receiver: every head that restores much on its own reads it")
