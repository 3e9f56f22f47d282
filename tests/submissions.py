"""Submissions built for tests: notebook 00 solved with the solution's answers, then broken on purpose."""
from __future__ import annotations

import nbformat

from conftest import NOTEBOOKS, SOLUTIONS, notebook_path
from mi_helpers.checks import exercises_of
from mi_helpers.notebook import is_setup_cell

NB = "00"
A, B, C, D = exercises_of(NB)[:4]


def answer_id(ex):
    return f"{ex.id.replace('.', '_')}_{ex.slug}"


def solved(nb: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    """The learner notebook (``nb``, or notebook 00 as released) with the solution notebook's answers
    in the answer cells."""
    nb = nbformat.read(notebook_path(NOTEBOOKS, NB), as_version=4) if nb is None else nb
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source
               for c in nbformat.read(notebook_path(SOLUTIONS, NB), as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = "\n".join(line for line in answers[gid].splitlines()
                                    if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    return nb


def exercises_only(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` without its worked examples and figures: the set-up cell, the exercises, their tests and the
    text. For tests that grade notebook 00 many times, or with answers that hang (a figure cell that calls a
    hanging answer costs a cell time-out of its own): those cells cost a fifth of a grading (mi-grade: 22.4 s
    with them, 17.7 s without)."""
    nb.cells = [c for c in nb.cells if c.cell_type != "code" or is_setup_cell(c) or c.metadata.get("nbgrader")]
    return nb


def index_of(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def set_answer(nb, ex, source):
    nb.cells[index_of(nb, answer_id(ex))].source = source


def insert_before(nb, gid, source):
    nb.cells.insert(index_of(nb, gid), nbformat.v4.new_code_cell(source))


def save(nb, tmp_path, name):
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def by_id(grade):
    return {r.exercise.id: r for r in grade.results}
