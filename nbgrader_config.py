"""nbgrader's configuration for this course; nbgrader reads it when run from the repository root.

The course keeps its notebooks flat (``solutions/NN_name.ipynb`` is the source,
``notebooks/NN_name.ipynb`` the release), while nbgrader wants one folder per
assignment. ``classroom/`` bridges the two: ``make classroom`` (or
``python -m mi_helpers.release --classroom``) links ``classroom/source/NN_name/NN_name.ipynb``
to each solution, so every notebook is one nbgrader assignment named after it,
and an instructor runs nbgrader here, at the root:

    nbgrader generate_assignment 00_orientation
    nbgrader collect 00_orientation            # or zip_collect
    nbgrader autograde 00_orientation
    nbgrader generate_feedback 00_orientation
    nbgrader export
"""
from pathlib import Path

from nbgrader.converters import Autograde, GenerateAssignment
from nbgrader.preprocessors import Execute, OverwriteCells

from mi_helpers.classroom import FlagTamperedCells, ResilientExecute, StripMentorNotes

c = get_config()  # noqa: F821 (nbgrader provides it)


def _defaults(converter, trait):
    """nbgrader's own list of preprocessors for one step."""
    return list(converter.class_traits()[trait].default())


HERE = Path(__file__).resolve().parent

c.CourseDirectory.course_id = "hands-on-mi"
c.CourseDirectory.root = str(HERE / "classroom")
c.CourseDirectory.db_url = f"sqlite:///{HERE / 'classroom' / 'gradebook.db'}"

# What a learner sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Mentor notes are for the solutions version only: drop them before anything else.
c.GenerateAssignment.preprocessors = [StripMentorNotes] + _defaults(GenerateAssignment, "preprocessors")

# Autograding: a solution notebook runs whole in 90 s, so no cell may take 120 s.
c.Execute.timeout = 120

# A misbehaving submission is graded all the same (mi_helpers/classroom.py): edited
# or deleted test cells are restored and earn nothing; loops, huge allocations and
# crashes cost only their own cell.
c.OverwriteCells.add_missing_cells = True
c.FlagTamperedCells.add_missing_cells = True
c.Autograde.sanitize_preprocessors = [
    FlagTamperedCells if p is OverwriteCells else p for p in _defaults(Autograde, "sanitize_preprocessors")
]
c.Autograde.autograde_preprocessors = [
    ResilientExecute if p is Execute else p for p in _defaults(Autograde, "autograde_preprocessors")
]
