"""Every solution notebook, executed: it passes every check within the limits (the learner versions:
tests/test_learner_notebooks.py, which measures no time)."""
from __future__ import annotations

import os

import pytest

from conftest import notebook_names
from mi_helpers.checks import exercises_of
from notebook_runs import MEASURED, WALL, best_of_two, plain_run_seconds, solution_grade

TIME_LIMIT_S = 90  # COURSE_SPEC section 2, one notebook on a 2-core machine
COURSE_TIME_LIMIT_S = 12 * 60
MEMORY_LIMIT_MB = 1536  # 1.5 GB peak resident memory of the kernel
GRADING_OVERHEAD_S = 5  # issue 7: grading an honest notebook takes at most its run time plus 5 s,
GRADING_OVERHEAD_SHARE = 0.35  # or plus 35 % of it for a long one (07 on a slowed machine: 30 %, not understood yet)


@pytest.mark.parametrize("name", notebook_names())
def test_solution_passes_every_check(name):
    grade = solution_grade(name)
    failed = [r.message for r in grade.results if r.verdict != "passed"]
    assert not failed, "\n".join(failed)
    assert {r.exercise.id for r in grade.results} == {ex.id for ex in exercises_of(name[:2])}
    assert grade.points == grade.max_points > 0
    assert grade.restarts == 0


@pytest.mark.parametrize("name", notebook_names())
def test_solution_within_time_and_memory(name):
    grade = solution_grade(name)
    assert grade.seconds <= TIME_LIMIT_S, f"{name} took {grade.seconds:.0f} s"
    assert 0 < grade.peak_memory_mb <= MEMORY_LIMIT_MB, f"{name} peaked at {grade.peak_memory_mb:.0f} MB"


def test_whole_course_within_time():
    for name in notebook_names():
        solution_grade(name)
    total = sum(g.seconds for key, g in MEASURED.items() if key.startswith("solutions/"))
    assert total <= COURSE_TIME_LIMIT_S, f"the course takes {total:.0f} s"


# Running each notebook a second time, in a plain kernel, costs the suite four minutes. The suite measures
# the overhead where it is largest: 00 (the shortest, with the most checks per second), 07 (the largest
# share, up to 30 %) and 09 (the longest). `make bench-overhead` measures every notebook.
OVERHEAD_MEASURED = notebook_names() if os.environ.get("MI_MEASURE_EVERY_NOTEBOOK") else [
    n for n in notebook_names() if n[:2] in ("00", "07", "09")]


@pytest.mark.parametrize("name", OVERHEAD_MEASURED)
def test_grading_costs_at_most_five_seconds_more_than_running(name):
    """Sandbox, trusted verdicts and all: grading a solution is not much slower than running it."""
    grade_s = (solution_grade(name), WALL[f"solutions/{name}"])[1]
    plain_s = plain_run_seconds(name)

    def allowed(plain):
        return plain + max(GRADING_OVERHEAD_S, GRADING_OVERHEAD_SHARE * plain)

    if grade_s > allowed(plain_s):  # measured once each, minutes apart: measure both again, together
        grade_s, plain_s = best_of_two(name)
    assert grade_s <= allowed(plain_s), f"grading took {grade_s:.1f} s, running {plain_s:.1f} s " \
                                        "(the faster of two measurements each)"
