"""pytest as the grading engine: each exercise of a notebook becomes one test.

    pytest -p mi_helpers.pytest_plugin --mi-grade notebooks/00_orientation.ipynb

The notebook is executed once, on the first exercise's turn (see
:func:`mi_helpers.grading.grade_notebook`); every exercise then passes or fails
with its own message. ``mi-grade`` runs this and prints a score table.
"""
from __future__ import annotations

import pytest

from .grading import CELL_TIMEOUT_S, MEMORY_LIMIT_MB, TOTAL_TIMEOUT_S, Result, grade_notebook
from .notebook import exercise_of, grade_id, is_test_cell, read_notebook, reference_for


def pytest_addoption(parser):
    group = parser.getgroup("mi-grade", "grading course notebooks")
    group.addoption("--mi-grade", action="store_true",
                    help="collect the .ipynb files given as one test per exercise and grade them")
    group.addoption("--mi-reference", default=None,
                    help="the notebook whose test cells count (default: the course's release notebook)")
    group.addoption("--mi-timeout", type=float, default=CELL_TIMEOUT_S, help="seconds one cell may run")
    group.addoption("--mi-total-timeout", type=float, default=TOTAL_TIMEOUT_S,
                    help="seconds the whole notebook may run")
    group.addoption("--mi-memory", type=float, default=MEMORY_LIMIT_MB,
                    help="megabytes of resident memory the kernel may use")
    group.addoption("--mi-unsandboxed", action="store_true",
                    help="run the kernel without the sandbox (the grade can then be tampered with)")


def pytest_collect_file(file_path, parent):
    if parent.config.getoption("--mi-grade") and file_path.suffix == ".ipynb":
        return GradedNotebook.from_parent(parent, path=file_path)
    return None


class NotGraded(Exception):
    """An exercise that earned nothing; its message is the learner's."""


class GradedNotebook(pytest.File):
    grade = None

    def reference(self):
        option = self.config.getoption("--mi-reference")
        if option:
            return read_notebook(option)
        return reference_for(read_notebook(self.path))

    def collect(self):
        for cell in self.reference().cells:
            ex = exercise_of(grade_id(cell)) if is_test_cell(cell) else None
            if ex is not None:
                yield ExerciseItem.from_parent(self, name=ex.title, exercise=ex)

    def graded(self):
        if self.grade is None:
            option = self.config.getoption
            self.grade = grade_notebook(self.path, reference=option("--mi-reference"),
                                        cell_timeout=option("--mi-timeout"),
                                        total_timeout=option("--mi-total-timeout"),
                                        memory_limit_mb=option("--mi-memory"),
                                        sandboxed=not option("--mi-unsandboxed"))
        return self.grade


class ExerciseItem(pytest.Item):
    def __init__(self, *, exercise, **kwargs):
        super().__init__(**kwargs)
        self.exercise = exercise
        self.result: Result | None = None

    def runtest(self):
        grade = self.parent.graded()
        self.result = next((r for r in grade.results if r.exercise.id == self.exercise.id), None)
        if self.result is None:
            self.result = Result(self.exercise, "missing", 0, f"✘ {self.exercise.title}: not found")
        if self.result.verdict != "passed":
            raise NotGraded(self.result.message)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, NotGraded):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, self.name
