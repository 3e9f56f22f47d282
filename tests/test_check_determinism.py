"""No check is flaky: the same answer gets the same verdict on every run.

The verdict is compared word for word, but for wrong answers that keep state
between calls (a generator made once and reused): their numbers, and so the
message, change from run to run by design; whether they pass must not.
"""
from __future__ import annotations

import pytest

from conftest import solution
from mi_helpers.checks import REGISTRY
from mutants import ALL as MUTANTS
from test_blind_mutants import blind_mutants, verdict

RUNS = 2  # each answer checked twice and compared (three runs cost the suite 100 s more)


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
def test_same_verdicts_on_every_run(exercise_id):
    answers = [solution(exercise_id), *MUTANTS.get(exercise_id, []),
               *(fn for ex, fn, _ in blind_mutants() if ex == exercise_id)]
    stateful = {"shares_one_generator_across_calls", "sample_normal_cached_generator"}

    def outcome(answer):
        message = verdict(exercise_id, answer)
        return (message is None) if getattr(answer, "__name__", "") in stateful else message

    runs = [[outcome(answer) for answer in answers] for _ in range(RUNS)]
    for run in runs[1:]:
        changed = [getattr(a, "__name__", "?") for a, first, again in zip(answers, runs[0], run) if first != again]
        assert not changed, f"{exercise_id}: verdicts changed between runs for {changed}"
