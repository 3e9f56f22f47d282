"""Plausible wrong implementations, one module per notebook: ``MUTANTS = {"NN.k": [fn, ...]}``."""
from importlib import import_module
from pathlib import Path

ALL: dict = {}
for _path in sorted(Path(__file__).parent.glob("nb*.py")):
    ALL.update(import_module(f"{__name__}.{_path.stem}").MUTANTS)
