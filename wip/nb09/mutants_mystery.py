"""Plausible wrong answers to section 3 of notebook 09 (the mystery model): MUTANTS = {"09.k": [fn, ...]}.

Each is the answer a flawed method reaches, computed by that method where it is cheap (so that the mutant
stays wrong for the right reason if the checkpoint is rebuilt); each is a plain function with a name of its own
(the sandbox tests look a mutant up by its name in the kernel).
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from mi_helpers.hooks import run_with_cache
from mi_helpers.interventions import ablate_heads

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lib_mystery import load_mystery_model, mystery_inputs  # noqa: E402


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


MUTANTS = {
    "09.8": [mechanism_from_circuit_shape, mechanism_from_first_column, mechanism_most_frequent,
             mechanism_off_by_one, mechanism_direct_path, mechanism_as_sentence, mechanism_as_list],
    "09.9": [heads_last_layer_only, heads_top_one, heads_sharpest_patterns, heads_plus_decoy, heads_all,
             heads_swapped, heads_layer_zero_only],
    # heads_largest_attention_last_row and heads_low_threshold are plausible methods that happen to find the
    # right heads on the shipped model (its decoys are random heads): kept above, not graded as mutants
}
