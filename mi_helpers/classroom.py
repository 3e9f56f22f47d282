"""nbgrader, extended for a classroom: mentor notes stay private, and a misbehaving
submission is graded all the same.

``nbgrader_config.py`` puts these in nbgrader's pipelines:

- :class:`StripMentorNotes` (generate_assignment): drops the cells tagged ``mentor``.
- :class:`FlagTamperedCells` (autograde, sanitising): nbgrader already puts an edited
  test cell back and, with ``add_missing_cells``, a deleted one; this also marks them,
  because an exercise whose test cell was tampered with earns nothing.
- :class:`ResilientExecute` (autograde, executing): runs the notebook with
  :func:`mi_helpers.grading.execute`, so that an infinite loop, a huge allocation or
  a crashed kernel costs only the cell that did it, then turns every marked test
  cell into a failure.
"""
from __future__ import annotations

import re
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import Execute, NbGraderPreprocessor, OverwriteCells

MENTOR_TAG = "mentor"
TAMPERED = "mi_tampered"  # cell metadata key: "edited" or "deleted"
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)


def visible_source(source: str) -> str:
    """A cell's source as compared for tampering: no blank lines, no trailing spaces."""
    return "\n".join(line.rstrip() for line in source.splitlines() if line.strip())


class StripMentorNotes(NbGraderPreprocessor):  # nbgrader's base: enabled, unlike nbconvert's
    """Remove the cells tagged ``mentor``: notes for whoever leads the session."""

    def preprocess(self, nb, resources):
        nb.cells = [c for c in nb.cells if MENTOR_TAG not in c.get("metadata", {}).get("tags", [])]
        return nb, resources


def _is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


class FlagTamperedCells(OverwriteCells):
    """nbgrader's OverwriteCells, which also marks the test cells it had to restore or re-add."""

    def preprocess_cell(self, cell, resources, cell_index):
        edited = False
        if _is_test_cell(cell):
            try:
                source = self.gradebook.find_source_cell(
                    cell.metadata.nbgrader["grade_id"], self.notebook_id, self.assignment_id)
                # The gradebook holds the test cell with its hidden tests; the learner's copy has
                # them only if it is the instructor's own version.
                edited = visible_source(cell.source) not in {
                    visible_source(source.source), visible_source(HIDDEN.sub("", source.source))}
            except MissingEntry:
                pass
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if edited:
            cell.metadata[TAMPERED] = "edited"
        return cell, resources

    def missing_cell_transform(self, source_cell, max_score, is_solution=False, is_task=False):
        cell = super().missing_cell_transform(source_cell, max_score, is_solution, is_task)
        if cell.cell_type == "code" and not is_solution and not is_task:
            cell.metadata[TAMPERED] = "deleted"
        return cell


def _error(name: str, message: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=name, evalue=message, traceback=[message])


class ResilientExecute(Execute):
    """nbgrader's Execute on the course's crash-proof executor; tampered test cells fail."""

    def preprocess(self, nb, resources, km=None):
        from .grading import MEMORY_LIMIT_MB, TOTAL_TIMEOUT_S, execute

        graded = {i for i, c in enumerate(nb.cells) if _is_test_cell(c)}
        kernel = nb.metadata.get("kernelspec", {}).get("name", "python3")
        workdir = resources.get("metadata", {}).get("path") or "."
        run = execute(nb, cell_timeout=self.timeout or 120, memory_limit_mb=MEMORY_LIMIT_MB,
                      total_timeout=TOTAL_TIMEOUT_S, kernel_name=kernel, workdir=Path(workdir),
                      graded=graded)
        for index, (_, why) in run.failed_cells.items():
            nb.cells[index].outputs = [_error("CellFailed", f"✘ this cell {why}.")]
        for cell in nb.cells:
            how = cell.metadata.pop(TAMPERED, None)
            if how and _is_test_cell(cell):
                cell.outputs = [_error("Tampered", f"✘ this test cell was {how}, so it earns nothing.")]
        return nb, resources
