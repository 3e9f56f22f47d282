"""Each notebook executed once per test session, its grade shared by every test that needs it."""
from __future__ import annotations

import functools

from conftest import NOTEBOOKS, SOLUTIONS
from mi_helpers.grading import Grade, grade_notebook

MEASURED: dict[str, Grade] = {}


@functools.lru_cache(maxsize=None)
def solution_grade(name: str) -> Grade:
    """The solution notebook graded against itself, hidden tests included."""
    path = SOLUTIONS / f"{name}.ipynb"
    grade = grade_notebook(path, reference=path)
    MEASURED[f"solutions/{name}"] = grade
    return grade


@functools.lru_cache(maxsize=None)
def learner_grade(name: str) -> Grade:
    """The learner (release) notebook as handed out, graded as the course grades it."""
    grade = grade_notebook(NOTEBOOKS / f"{name}.ipynb")
    MEASURED[f"notebooks/{name}"] = grade
    return grade
