"""Every learner notebook, executed as handed out and graded: zero points, a clear message for each exercise, and
no kernel restart. It measures no time, so it runs beside other tests (tests/test_notebooks.py does not)."""
from __future__ import annotations

import pytest

from conftest import notebook_names
from notebook_runs import learner_grade


@pytest.mark.parametrize("name", notebook_names())
def test_learner_version_earns_zero_with_a_clear_message(name):
    grade = learner_grade(name)
    assert grade.points == 0
    assert grade.restarts == 0, "the learner version must not kill its kernel"
    for result in grade.results:
        assert result.verdict == "not attempted", result.message
        assert result.message.startswith(f"✘ {result.exercise.title}: not attempted yet"), result.message
        assert "Traceback" not in result.message
