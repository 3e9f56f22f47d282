"""Checks, one module per notebook, on one grading core (:mod:`mi_helpers.checks.core`).

Importing this package registers every exercise of the course.
"""
from importlib import import_module

from .core import REGISTRY, Exercise, ExerciseFailed, exercises_of

NOTEBOOK_MODULES = ("nb00", "nb01")
for _name in NOTEBOOK_MODULES:
    import_module(f"{__name__}.{_name}")

__all__ = ["REGISTRY", "Exercise", "ExerciseFailed", "exercises_of"]
