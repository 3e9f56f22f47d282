"""Checks for notebook 09, section 3 (part "mystery"): the mystery model, a finding in two halves.

The course trained the mystery model on a task it planted (``lib_mystery``, below its SPOILERS line), so
it knows both halves of the answer:

- 09.8 ``mystery_mechanism`` returns one letter of the spec's list of six candidate mechanisms; it is
  graded against ``MECHANISM``. A wrong letter is told, in the hint, how often the model's guess agrees
  with that candidate's prediction on 500 sequences the notebook does not use (the check computes each
  candidate's prediction itself: the first token, induction, the most frequent token, the token before or
  after the marker, the last token), and what the method that usually leads to that letter misses. The
  right candidate agrees on 100 % of the sequences, every other on less than 15 %.
- 09.9 ``mystery_heads`` returns the (layer, head) pairs that carry the mechanism, as a set, list or tuple
  of pairs; it is graded against the heads the check measures itself with the course's interventions
  (:func:`mi_helpers.interventions.ablate_heads`, mean ablation over the check's sequences): the heads
  whose ablation alone costs more than half the accuracy. The measurement must equal the shipped
  ``HEADS``, ablating them together must take the model near chance, and ablating every other head
  together must cost almost nothing; otherwise the course is broken and the check raises RuntimeError,
  not a verdict. A wrong set is told, with numbers the learner can reproduce, what its heads do when
  ablated: a head named that costs nothing alone (a decoy, chosen for a sharp pattern), the accuracy
  still lost when every head NOT named is ablated (a head missing; the layer-0 half of the circuit,
  if only layer-1 heads were named), pairs written (head, layer).

Both are findings: any method may find them (opt-outs below); the truth is computed after the learner's
function returns, so nothing the check holds during the call is the answer.
"""
from __future__ import annotations

import functools
import operator
import sys
from pathlib import Path

import torch

from mi_helpers.checks.core import call, describe, exercise, expect, fail, inside
from mi_helpers.remote import Remote

sys.path.insert(0, str(Path(__file__).resolve().parent))  # until lib_mystery moves into mi_helpers
from lib_mystery import (CONFIG, HEADS, MARKER, MECHANISM, MECHANISMS, mystery_accuracy,  # noqa: E402
                         mystery_inputs, mystery_targets, shipped_mystery_model, verify_heads)

MECHANISM_ID, HEADS_ID = "09.8", "09.9"
CHECK_SEED = 9_090  # the check's sequences: not the notebook's
FINDING_OPT_OUT = {"inputs unchanged": "it takes no input", "float64": "it returns a finding, not numbers",
                   "meta device": "it returns a finding, not numbers", "edge cases": "it takes no input",
                   "written by hand": "a finding: the check grades the answer, whatever method found it"}


@functools.lru_cache(maxsize=1)
def _check_tokens() -> torch.Tensor:
    return mystery_inputs(500, seed=CHECK_SEED)


@functools.lru_cache(maxsize=1)
def _model_guess() -> torch.Tensor:
    with torch.no_grad():
        return shipped_mystery_model()(_check_tokens())[:, -1].argmax(dim=-1)


# ---------------------------------------------------------------- 09.8 mystery_mechanism

def _after_last_occurrence(tokens: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """[n]: the token right after the LAST earlier occurrence (before the final position) of value[i] in row i; -1 if none."""
    n, length = tokens.shape
    hit = tokens[:, :-1] == value[:, None]  # [n, length - 1]
    position = torch.arange(length - 1).expand(n, -1)
    last = torch.where(hit, position, torch.full_like(position, -1)).max(dim=1).values
    after = tokens.gather(1, (last + 1).clamp(max=length - 1)[:, None]).squeeze(1)
    return torch.where(last >= 0, after, torch.full_like(after, -1))


def candidate_predictions(tokens: torch.Tensor) -> dict:
    """Each candidate mechanism's prediction at the last position, [n] int64 (-1 where it predicts nothing)."""
    n = tokens.shape[0]
    counts = torch.zeros(n, CONFIG.d_vocab, dtype=torch.long).scatter_add_(1, tokens, torch.ones_like(tokens))
    marker_at = (tokens == MARKER).long().argmax(dim=1)
    before = tokens.gather(1, (marker_at - 1).clamp(min=0)[:, None]).squeeze(1)
    return {"a": tokens[:, 0],
            "b": _after_last_occurrence(tokens, tokens[:, -1]),
            "c": counts.argmax(dim=1),
            "d": mystery_targets(tokens),
            "e": torch.where(marker_at > 0, before, torch.full_like(before, -1)),
            "f": tokens[:, -1]}


@functools.lru_cache(maxsize=1)
def candidate_agreement() -> dict:
    """The share of the check's sequences on which the model's guess equals each candidate's prediction."""
    guess = _model_guess()
    return {k: (guess == p).double().mean().item() for k, p in candidate_predictions(_check_tokens()).items()}


MISLEADS = {  # what usually leads to each wrong letter, and the experiment that would have told
    "a": "a head that pours its attention onto position 0 is often parking it there (nothing better to attend "
         "to), not copying: test the candidate on the model's behaviour, not on a pattern",
    "b": "a previous-token head in layer 0 and a layer-1 head that attends one position past something is the "
         "shape of 07's induction circuit, but a shape is not a behaviour: change only the LAST token of some "
         "sequences and watch whether the guess moves (an induction head's query is the current token)",
    "c": "count, in each sequence, which token occurs most often, and compare with the guess",
    "e": "a pattern read with its axes swapped puts what a head reads on the wrong side of it: rows are the "
         "query positions, columns the key positions attended. Whatever a pattern suggests, test the rule on "
         "the guesses",
    "f": "the current token is what the direct path (embedding to unembedding) would predict; compare with the "
         "guess",
}


@exercise(MECHANISM_ID, "mystery_mechanism", points=2, difficulty=2, minutes=30, opt_out=FINDING_OPT_OUT)
def check_mystery_mechanism(mystery_mechanism):
    tried = "mystery_mechanism(), about the mystery model (load_mystery_model()) and mystery_inputs"
    out = call(mystery_mechanism, tried=tried)
    answer = out.strip().strip("().").strip().lower() if isinstance(out, str) else None
    expect(answer in MECHANISMS, "the answer should be the letter of one mechanism of the list.", tried=tried,
           expected="one of " + ", ".join(f'"{k}"' for k in MECHANISMS), received=describe(out),
           hint='return a string of one letter, such as "a" (not a sentence, not a number, not a list)')
    if answer == MECHANISM:
        return
    agree = candidate_agreement()
    fail(f'the mystery model does not do ({answer}): "{MECHANISMS[answer]}".', tried=tried,
         expected="the mechanism whose prediction the model's guess follows on almost every sequence",
         received=f'"{answer}", whose prediction the model\'s guess equals on {agree[answer]:.0%} of 500 new '
                  f"sequences",
         hint=f"{MISLEADS[answer]}. Write each candidate's prediction as code, a function of the tokens, and "
              "count how often the model's guess (its argmax at the last position) equals it: the right one agrees "
              "on nearly every sequence, the wrong ones on few")


# ---------------------------------------------------------------- 09.9 mystery_heads

@functools.lru_cache(maxsize=1)
def measured_heads() -> frozenset:
    """The heads the check measures with the course's ablate_heads, verified; raises RuntimeError if the course is broken."""
    model, tokens = shipped_mystery_model(), _check_tokens()
    base = mystery_accuracy(model, tokens)
    cfg = model.cfg
    found = frozenset((l, h) for l in range(cfg.n_layers) for h in range(cfg.n_heads)
                      if base - mystery_accuracy(model, tokens, [(l, h)]) > 0.5)
    numbers = verify_heads(model, tokens, found)
    if found != HEADS or numbers["heads_ablated"] > 0.2 or numbers["intact"] - numbers["others_ablated"] > 0.05:
        raise RuntimeError(f"the mystery model does not verify: measured {sorted(found)}, shipped {sorted(HEADS)}, "
                           f"{numbers}")  # pragma: no cover - a checkpoint the course would not ship
    return found


def heads_as_plain(value):
    """A set of pairs as a list of tuples of ints, which the graders' channel carries as plain data (a set it
    does not: it stays in the learner's kernel); anything else as it is. Runs where the answer lives."""
    if not isinstance(value, (set, frozenset)):
        return value
    def plain(i):
        return operator.index(i) if hasattr(i, "__index__") and not isinstance(i, bool) else i
    return sorted((tuple(plain(i) for i in p) if isinstance(p, (tuple, list)) else p for p in value), key=repr)


def _as_heads(out, tried: str) -> set:
    """The learner's answer as a set of (layer, head) pairs of ints, or a verdict on its form."""
    if isinstance(out, Remote):  # under the graders a set stays in the kernel: bring its pairs over
        out = inside(heads_as_plain, out)
    else:
        out = heads_as_plain(out)
    expect(isinstance(out, (set, frozenset, list, tuple)) and not isinstance(out, str),
           "the answer should be a set (or list) of (layer, head) pairs.", tried=tried,
           expected="e.g. {(0, 1), (1, 3)}", received=describe(out), hint="return a set of tuples of two ints")
    heads = set()
    for pair in out:
        ok = isinstance(pair, (tuple, list)) and len(pair) == 2 and not any(isinstance(i, bool) for i in pair)
        try:
            pair = tuple(operator.index(i) for i in pair) if ok else None
        except TypeError:
            pair = None
        expect(pair is not None, "every item should be one (layer, head) pair of ints.", tried=tried,
               received=describe(out), hint="a single head is still a set of one pair: {(1, 0)}; layers and heads "
                                            "are counted from 0")
        heads.add(pair)
    expect(bool(heads), "the answer is empty.", tried=tried, expected="at least one (layer, head) pair",
           received=describe(out), hint="the model does its job with some of its heads: name them")
    n_layers, n_heads = CONFIG.n_layers, CONFIG.n_heads
    bad = sorted(p for p in heads if not (0 <= p[0] < n_layers and 0 <= p[1] < n_heads))
    if bad:
        swapped = all(0 <= h < n_layers and 0 <= l < n_heads for l, h in heads)
        fail(f"the model has no head {', '.join(f'L{l}H{h}' for l, h in bad)}.", tried=tried,
             expected=f"pairs (layer, head) with layer in 0..{n_layers - 1} and head in 0..{n_heads - 1}",
             received=str(sorted(heads)),
             hint="the pairs look written as (head, layer): write (layer, head)" if swapped else
                  "layers and heads are counted from 0")
    return heads


def _percent(x: float) -> str:
    return f"{100 * x:.0f} %"


@exercise(HEADS_ID, "mystery_heads", points=3, difficulty=3, minutes=40, opt_out=FINDING_OPT_OUT)
def check_mystery_heads(mystery_heads):
    tried = "mystery_heads(), about the mystery model (load_mystery_model()) and mystery_inputs"
    out = call(mystery_heads, tried=tried)
    heads = _as_heads(out, tried)
    truth = measured_heads()
    if heads == set(truth):
        return
    model, tokens = shipped_mystery_model(), _check_tokens()
    cfg = model.cfg
    intact = mystery_accuracy(model, tokens)
    hints = []
    extra, missing = heads - truth, truth - heads
    if extra:
        costs = [intact - mystery_accuracy(model, tokens, [p]) for p in sorted(extra)]
        hints.append(f"ablate each head you named ALONE (mean ablation over mystery_inputs): "
                     f"{len(extra)} of them cost{'s' if len(extra) == 1 else ''} at most "
                     f"{_percent(max(max(costs), 0.0))} of the accuracy, each on its own. A head the model does not "
                     "need is not part of the mechanism, however sharp its attention pattern")
    if missing:
        others = [(l, h) for l in range(cfg.n_layers) for h in range(cfg.n_heads) if (l, h) not in heads]
        named = mystery_accuracy(model, tokens, sorted(heads))
        left = mystery_accuracy(model, tokens, others)
        hints.append(f"the heads you named, ablated together, take the accuracy from {_percent(intact)} to "
                     f"{_percent(named)}; but ablating every head you did NOT name (together) also takes it to "
                     f"{_percent(left)}: a head you left out carries part of the mechanism")
        if all(l == cfg.n_layers - 1 for l, _ in heads) and any(l < cfg.n_layers - 1 for l, _ in missing):
            hints.append("you named heads of the last layer only. A layer-1 head can find the right position only "
                         "if a layer-0 head has first written something there for its keys to read (07's induction "
                         "circuit needed two heads; 08's path patching found the one it reads)")
    fail("these are not the heads that carry the mechanism.", tried=tried,
         expected="every head whose ablation alone costs the model most of its accuracy, and no other",
         received=str(sorted(heads)), hint="; ".join(hints))
