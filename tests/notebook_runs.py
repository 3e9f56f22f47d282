"""Each notebook executed once per test session, its grade shared by every test that needs it."""
from __future__ import annotations

import functools
import time

import nbformat
from nbclient import NotebookClient

from conftest import NOTEBOOKS, SOLUTIONS
from mi_helpers.grading import Grade, grade_notebook

MEASURED: dict[str, Grade] = {}
WALL: dict[str, float] = {}  # seconds from the call to the grade, sandbox and verdicts included
PLAIN: dict[str, float] = {}  # seconds to run the notebook as a learner does: one kernel, no sandbox


@functools.lru_cache(maxsize=None)
def solution_grade(name: str) -> Grade:
    """The solution notebook graded against itself, hidden tests included."""
    path = SOLUTIONS / f"{name}.ipynb"
    started = time.perf_counter()
    grade = grade_notebook(path, reference=path)
    WALL[f"solutions/{name}"] = time.perf_counter() - started
    MEASURED[f"solutions/{name}"] = grade
    return grade


@functools.lru_cache(maxsize=None)
def learner_grade(name: str) -> Grade:
    """The learner (release) notebook as handed out, graded as the course grades it."""
    started = time.perf_counter()
    grade = grade_notebook(NOTEBOOKS / f"{name}.ipynb")
    WALL[f"notebooks/{name}"] = time.perf_counter() - started
    MEASURED[f"notebooks/{name}"] = grade
    return grade


@functools.lru_cache(maxsize=None)
def plain_run_seconds(name: str) -> float:
    """The solution notebook run top to bottom in a plain kernel, checks included, as in JupyterLab."""
    nb = nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(SOLUTIONS)}}).execute()
    PLAIN[f"solutions/{name}"] = time.perf_counter() - started
    return PLAIN[f"solutions/{name}"]


def table_rows() -> list[tuple]:
    """(notebook, seconds executing, seconds graded in, plain-run seconds or None, peak MB, points, max points) of
    each notebook this process graded: plain data, so that a pytest-xdist worker can hand it to the summary."""
    return [(name, grade.seconds, WALL.get(name, 0.0), PLAIN.get(name), grade.peak_memory_mb, grade.points,
             grade.max_points) for name, grade in sorted(MEASURED.items())]


def best_of_two(name: str) -> tuple[float, float]:
    """(grading seconds, plain-run seconds) for the solution, each the faster of the first measurement and a
    second one taken now, back to back: a machine that was busy during one of them costs neither."""
    path = SOLUTIONS / f"{name}.ipynb"
    first_grade, first_plain = (solution_grade(name), WALL[f"solutions/{name}"])[1], plain_run_seconds(name)
    started = time.perf_counter()
    grade_notebook(path, reference=path)
    second_grade = time.perf_counter() - started
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(SOLUTIONS)}}).execute()
    second_plain = time.perf_counter() - started
    return min(first_grade, second_grade), min(first_plain, second_plain)
