"""Every check accepts the course's own answer and rejects plausible wrong code."""
from __future__ import annotations

import pytest

from conftest import solution
from mi_helpers.checks import REGISTRY, ExerciseFailed
from mutants import ALL as MUTANTS

CASES = [(ex_id, mutant) for ex_id, mutants in sorted(MUTANTS.items()) for mutant in mutants]


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
def test_check_accepts_the_solution(exercise_id, capsys):
    REGISTRY[exercise_id].check(solution(exercise_id))
    assert capsys.readouterr().out.strip() == f"✔ {REGISTRY[exercise_id].title} passed"


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
def test_every_exercise_has_two_mutants(exercise_id):
    assert len(MUTANTS.get(exercise_id, [])) >= 2, f"{exercise_id} needs at least two wrong implementations"


@pytest.mark.parametrize(("exercise_id", "mutant"), CASES,
                         ids=[f"{ex_id}-{m.__name__}" for ex_id, m in CASES])
def test_check_rejects_mutant(exercise_id, mutant, capsys):
    with pytest.raises(ExerciseFailed) as verdict:
        REGISTRY[exercise_id].check(mutant)
    message = str(verdict.value)
    assert message.startswith(f"✘ {REGISTRY[exercise_id].title}:"), message
    assert "passed" not in capsys.readouterr().out
