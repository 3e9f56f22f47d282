"""The checks give the same verdicts through the sandbox's channel as in the notebook.

Under the graders, a check runs in the grader's process and the learner's code
in a sandboxed kernel (docs/grading.md). Side effects (an input edited in place,
hooks left on a model, a global generator moved) and autograd through the
learner's code reach the check through the channel. Here every solution answer
and every wrong implementation of tests/mutants is put into a sandboxed kernel,
one kernel per notebook, and checked from this process: the solutions must pass
and the mutants must be rejected, as they are in tests/test_mutants.py.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import io
import json
import time

import nbformat
import pytest

from conftest import SOLUTIONS, notebook_path
from mi_helpers.checks import REGISTRY, ExerciseFailed, exercises_of
from mi_helpers.grading import execute
from mi_helpers.notebook import is_answer_cell, is_setup_cell
from mutants import ALL as MUTANTS, factory

CASES = [(ex_id, m.__name__) for ex_id, ms in sorted(MUTANTS.items()) for m in ms]
CHECK_TIMEOUT_S = 300


def _module_source(number: str) -> str:
    """The mutant module as one cell: the kernel cannot import tests/mutants, so what the module imports
    from mutants.factory comes inline."""
    module = __import__(f"mutants.nb{number}", fromlist=["MUTANTS"])
    return inspect.getsource(module).replace("from mutants.factory import named\n", inspect.getsource(factory))


@functools.lru_cache(maxsize=None)
def verdicts(number: str) -> dict:
    """{(exercise id, name): "passed" or the check's message} for the solution and every mutant."""
    solution = json.loads(notebook_path(SOLUTIONS, number).read_text(encoding="utf-8"))
    setup = "".join("".join(c["source"]) + "\n" for c in solution["cells"] if is_setup_cell(c))
    answers = "".join("".join(c["source"]) + "\n\n" for c in solution["cells"] if is_answer_cell(c))
    cells = [nbformat.v4.new_code_cell(setup), nbformat.v4.new_code_cell(answers),
             nbformat.v4.new_code_cell(_module_source(number)), nbformat.v4.new_code_cell("pass")]
    nb = nbformat.v4.new_notebook(cells=cells)
    found: dict = {}

    def judge(index, cell, channel):
        for ex in exercises_of(number):
            names = [("solution", ex.slug)] + [(m.__name__, m.__name__) for m in MUTANTS.get(ex.id, [])]
            for key, name in names:
                channel.deadline = time.monotonic() + CHECK_TIMEOUT_S
                try:
                    answer = channel.names([name])[name]
                    with contextlib.redirect_stdout(io.StringIO()):
                        REGISTRY[ex.id].check(answer)
                    found[(ex.id, key)] = "passed"
                except ExerciseFailed as verdict:
                    found[(ex.id, key)] = verdict.message

    run = execute(nb, judge=judge, graded={3}, cell_timeout=CHECK_TIMEOUT_S * 10, total_timeout=3600)
    assert not run.failed_cells, run.failed_cells
    return found


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
def test_solution_passes_through_the_sandbox(exercise_id):
    assert verdicts(exercise_id[:2])[(exercise_id, "solution")] == "passed"


@pytest.mark.parametrize(("exercise_id", "name"), CASES, ids=[f"{e}-{n}" for e, n in CASES])
def test_mutant_rejected_through_the_sandbox(exercise_id, name):
    verdict = verdicts(exercise_id[:2])[(exercise_id, name)]
    assert verdict.startswith(f"✘ {REGISTRY[exercise_id].title}:"), verdict
