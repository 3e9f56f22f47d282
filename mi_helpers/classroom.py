"""nbgrader, extended for a classroom: mentor notes stay private, and a submission is graded in the sandbox.

``nbgrader_config.py`` puts these in nbgrader's pipelines:

- :class:`StripMentorNotes` (generate_assignment): drops the cells tagged ``mentor``.
- :class:`FlagTamperedCells` (autograde, sanitising): nbgrader already puts an edited
  test cell back and, with ``add_missing_cells``, a deleted one; this also marks them,
  because an exercise whose test cell was tampered with earns nothing.
- :class:`ResilientExecute` (autograde, executing): a thin adapter over the grading
  core (:mod:`mi_helpers.grading`): the submission's cells run in the sandboxed
  kernel, and each test cell, as nbgrader restored it from the gradebook, is run by
  the trusted judge in this process. Its outputs, which nbgrader turns into points,
  are the judge's verdict and nothing the learner's kernel printed.
"""
from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import Execute, NbGraderPreprocessor, OverwriteCells
from traitlets import Bool

from .notebook import exercise_of, grade_id, is_test_cell, visible_source

MENTOR_TAG = "mentor"
TAMPERED = "mi_tampered"  # cell metadata key: "edited" or "deleted"


class StripMentorNotes(NbGraderPreprocessor):  # nbgrader's base: enabled, unlike nbconvert's
    """Remove the cells tagged ``mentor``: notes for whoever leads the session."""

    def preprocess(self, nb, resources):
        nb.cells = [c for c in nb.cells if MENTOR_TAG not in c.get("metadata", {}).get("tags", [])]
        return nb, resources


class FlagTamperedCells(OverwriteCells):
    """nbgrader's OverwriteCells, which also marks the test cells it had to restore or re-add.

    It also repairs what would stop nbgrader itself: a cell whose grade id the
    gradebook does not know loses its grading metadata (nbgrader would otherwise
    fail on the whole submission), and a course cell whose grade/solution flags
    were changed gets them back before nbgrader compares checksums.
    """

    def _known(self, gid: str) -> bool:
        try:
            self.gradebook.find_source_cell(gid, self.notebook_id, self.assignment_id)
            return True
        except MissingEntry:
            return False

    def _restore_flags(self, cell, gid: str) -> bool:
        """Put back the course's grade/solution flags on a known cell; True if they had been changed."""
        flags = {}
        for flag, find in (("grade", self.gradebook.find_graded_cell), ("solution", self.gradebook.find_solution_cell)):
            try:
                find(gid, self.notebook_id, self.assignment_id)
                flags[flag] = True
            except MissingEntry:
                flags[flag] = False
        meta = cell.metadata.nbgrader
        changed = any(bool(meta.get(flag)) != value for flag, value in flags.items())
        meta.update(flags)
        return changed

    def preprocess_cell(self, cell, resources, cell_index):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            return cell, resources
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(gid, str) or not self._known(gid):
            del cell.metadata["nbgrader"]  # not one of the course's cells: an ordinary cell, graded as nothing
            return cell, resources
        edited = False
        if gid.startswith("test_"):
            source = self.gradebook.find_source_cell(gid, self.notebook_id, self.assignment_id)
            # The gradebook holds the test cell with its hidden tests; the learner's copy has
            # them only if it is the instructor's own version. visible_source drops them.
            edited = not is_test_cell(cell) or visible_source(cell.source) != visible_source(source.source)
        edited = self._restore_flags(cell, gid) and gid.startswith("test_") or edited
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
    """nbgrader's Execute on the course's grading core: sandboxed kernel, trusted verdicts."""

    sandboxed = Bool(True, help="Run the submission's kernel in the bubblewrap sandbox. Turning it off "
                                "lets a submission change its own grade and others': only for debugging.").tag(config=True)

    def preprocess(self, nb, resources, km=None):
        from .grading import MEMORY_LIMIT_MB, TOTAL_TIMEOUT_S, Judge, execute
        from .notebook import reference_for

        graded, judged = set(), {}
        seen: set[str] = set()
        for index, cell in enumerate(nb.cells):
            gid = grade_id(cell)
            if not (is_test_cell(cell) or (gid or "").startswith("test_")):
                continue
            graded.add(index)
            how = cell.metadata.pop(TAMPERED, None)
            ex = exercise_of(gid)
            if how or ex is None or gid in seen or not is_test_cell(cell):
                why = f"was {how}" if how else "is not one of the course's test cells"
                cell.outputs = [_error("Tampered", f"✘ this test cell {why}, so it earns nothing.")]
            else:
                judged[index] = (ex, cell.source)
            seen.add(gid)
        judge = Judge(reference_for(nb), judged)
        workdir = resources.get("metadata", {}).get("path") or None
        run = execute(nb, judge=judge, graded=graded, cell_timeout=self.timeout or 120,
                      memory_limit_mb=MEMORY_LIMIT_MB, total_timeout=TOTAL_TIMEOUT_S,
                      workdir=workdir, sandboxed=self.sandboxed)
        for index, (_, why) in run.failed_cells.items():
            nb.cells[index].outputs = [_error("CellFailed", f"✘ this cell {why}.")]
        return nb, resources
