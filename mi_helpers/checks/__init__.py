"""Checks, one module per notebook (``nbNN.py``), on one grading core (:mod:`.core`).

Importing this package registers every exercise of the course.
"""
from importlib import import_module
from pathlib import Path

from .core import REGISTRY, Exercise, ExerciseFailed, exercises_of

NOTEBOOK_MODULES = tuple(sorted(p.stem for p in Path(__file__).parent.glob("nb[0-9][0-9].py")))
for _name in NOTEBOOK_MODULES:
    import_module(f"{__name__}.{_name}")

__all__ = ["REGISTRY", "Exercise", "ExerciseFailed", "exercises_of"]
