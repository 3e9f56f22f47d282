"""Wrong code written blind: each check also rejects mistakes that nobody wrote beside it.

tests/mutants/blind/ holds wrong answers written from the learner's notebook
alone (its specs, docstrings and hints) by someone who had not read the checks,
each labelled with a family: inplace, dtype, edge, builtin, random, subtle. The
checks must reject them. The few they do not reject are listed below, each with
its reason: either it is not wrong by the exercise's spec, or it is a gap still
open. A new escape fails the suite, and so does a listed escape that a check
now rejects (then the list is out of date).
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
from collections import Counter
from pathlib import Path

import pytest

from mi_helpers.checks import REGISTRY, ExerciseFailed

BLIND = Path(__file__).parent / "mutants" / "blind"

# name -> why a check may let it pass
ACCEPTED = {
    "MLPSeededInit": "not wrong by the spec: it seeds its own initialisation, which the spec leaves free",
    "max_stable_lr_hessian_autograd": "not wrong by the spec: autograd's Hessian is the same matrix, and "
                                      "02.6 teaches 2/λmax, not the Hessian",
    "tcav_score_float32": "not wrong in effect: float32 dot products change a sign only at exact ties",
    "best_channel_for_builtin": "not wrong by the spec: it records with run_with_cache, which 04.4's hint allows",
    "probe_accuracy_classes_from_train": "not wrong in effect: a probe fitted with scikit-learn, as the spec "
                                         "suggests, cannot predict a class its training part never saw either",
    "channel_iou_float32": "not wrong by the spec: the solution upsamples in float32 too, and a count of pixels "
                           "over a threshold changes with float32 only at ties",
    "best_channel_for_nan_scores": "wrong in channel_iou, where 04.3 rejects it (channel_iou_no_guard); 04.4 "
                                   "calls the learner's own channel_iou and grades the search over channels",
    "best_channel_for_per_image_threshold": "wrong in channel_iou, where 04.3 rejects it (channel_iou_per_image); "
                                            "04.4 grades the search over channels",
    "probe_accuracy_full_standardise": "wrong by the spec but not in effect: a linear probe's predictions do not "
                                       "change when all rows are shifted and scaled alike, so test statistics "
                                       "reach the accuracy only through the weak regularisation",
    "blind_channel_ablation_accuracy_inplace_hook": "not wrong in effect: nothing else reads relu2's output in "
                                                    "SmallCNN, so zeroing it in place gives the copy's numbers",
    "blind_path_patching_tensor": "not wrong in effect: the course accepts a 0-d tensor where it asks for a float, "
                                  "as in 05.1",
    "blind_ablation_effect_tensor": "not wrong in effect: the course accepts a 0-d tensor where it asks for a "
                                    "float, as in 05.1",
    "blind_attribution_patching_three_runs": "not wrong in effect: one more run costs time, not correctness; the "
                                             "check's limit of three runs separates it from a run per head",
}
OPEN: dict[str, str] = {}  # gaps still to close: none


def _load(number: str):
    spec = importlib.util.spec_from_file_location(f"blind_nb{number}", BLIND / f"nb{number}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MUTANTS


@functools.lru_cache(maxsize=None)
def blind_mutants() -> list[tuple[str, object, str]]:
    return [(ex_id, fn, family) for path in sorted(BLIND.glob("nb*.py"))
            for ex_id, items in sorted(_load(path.stem[2:]).items()) for fn, family in items]


def verdict(ex_id: str, fn) -> str | None:
    """The check's message if it rejects fn, None if it lets it pass."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            REGISTRY[ex_id].check(fn)
    except ExerciseFailed as failure:
        return failure.message
    return None


CASES = blind_mutants()
RESULTS: dict[str, tuple[str, bool]] = {}  # name -> (family, rejected), for the summary


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
def test_every_exercise_has_two_blind_mutants(exercise_id):
    assert sum(ex == exercise_id for ex, _, _ in CASES) >= 2


@pytest.mark.parametrize(("exercise_id", "mutant", "family"), CASES,
                         ids=[f"{e}-{m.__name__}" for e, m, _ in CASES])
def test_blind_mutant(exercise_id, mutant, family):
    message = verdict(exercise_id, mutant)
    RESULTS[mutant.__name__] = (family, message is not None)
    name = mutant.__name__
    if name in ACCEPTED or name in OPEN:
        assert message is None, f"{name} is now rejected: take it off the list of escapes ({message.splitlines()[0]})"
    else:
        assert message is not None, f"{exercise_id}'s check lets the blind mutant {name} ({family}) pass"
        assert message.startswith(f"✘ {REGISTRY[exercise_id].title}:")


def summary() -> list[str]:
    if not RESULTS:
        return []
    total, rejected = Counter(), Counter()
    for family, ok in RESULTS.values():
        total[family] += 1
        rejected[family] += ok
    lines = [f"blind mutants: {sum(rejected.values())} of {sum(total.values())} rejected "
             f"({len(ACCEPTED)} let through with a stated reason, {len(OPEN)} open)"]
    lines += [f"  {family:8} {rejected[family]:3} of {total[family]:3}" for family in sorted(total)]
    return lines
