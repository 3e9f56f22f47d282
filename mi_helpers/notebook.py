"""What a course notebook is made of, as both graders read it: answer cells, test cells, setup cells.

This module sits at the bottom of grading: it only reads notebooks, and both
graders (``mi-grade`` and the nbgrader adapter) find exercises through it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

if TYPE_CHECKING:  # the checks import torch: a process that only reads notebooks need not
    from .checks import Exercise

COURSE_ROOT = Path(__file__).resolve().parents[1]
RELEASE_DIR = COURSE_ROOT / "notebooks"
TEST_ID = re.compile(r"^test_(\d\d)_(\d+)_")
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)
SETUP_TAG = "setup"


class GradingError(Exception):
    """The notebook cannot be graded at all (not a notebook, not one of the course's)."""


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def is_test_cell(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_answer_cell(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("solution")) and not meta.get("grade")


def is_setup_cell(cell) -> bool:
    return cell.get("cell_type") == "code" and SETUP_TAG in cell.get("metadata", {}).get("tags", [])


def visible_source(source: str) -> str:
    """A cell's source as compared for tampering: no hidden tests, blank lines or trailing spaces."""
    return "\n".join(line.rstrip() for line in HIDDEN.sub("", source).splitlines() if line.strip())


def exercise_of(test_grade_id: str | None) -> Exercise | None:
    """The exercise a test cell grades: ``test_00_2_pairwise_distances`` -> 00.2."""
    match = TEST_ID.match(test_grade_id or "")
    if not match:
        return None
    from .checks import REGISTRY

    ex = REGISTRY.get(f"{match.group(1)}.{int(match.group(2))}")
    if ex is None or test_grade_id != f"test_{ex.id.replace('.', '_')}_{ex.slug}":
        return None
    return ex


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """A notebook in format 4, or GradingError saying why not."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        raise GradingError(f"{path} is not a readable notebook ({type(exc).__name__}: "
                           f"{str(exc)[:200]})") from None
    if not isinstance(nb.get("cells"), list):
        raise GradingError(f"{path} is not a readable notebook (it has no list of cells)")
    return nb


def reference_for(nb) -> nbformat.NotebookNode:
    """The course's release notebook that holds the test cells of ``nb``."""
    ids = {grade_id(c) for c in nb.cells if grade_id(c)}
    best, overlap = None, 0
    for path in sorted(RELEASE_DIR.glob("*.ipynb")):
        candidate = nbformat.read(path, as_version=4)
        shared = len(ids & {grade_id(c) for c in candidate.cells if is_test_cell(c)})
        if shared > overlap:
            best, overlap = candidate, shared
    if best is None:
        raise GradingError("this notebook holds none of the course's exercises: "
                           "grade a notebook from the course's notebooks/ folder")
    return best


def setup_source(reference) -> str:
    """The course's setup cells (imports, seeds): what the trusted grader runs before the checks."""
    return "\n".join(c.source for c in reference.cells if is_setup_cell(c))
