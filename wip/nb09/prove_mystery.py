"""Prove part mystery: run the cells of cells_mystery.md in order (setup, demos, solutions, figures, tests with
their hidden tests), each check on the solution (✔) and on every mutant (must fail with "✘ 09.k"), and time it
all. Run: OMP_NUM_THREADS=2 .venv/bin/python wip/nb09/prove_mystery.py"""
import re
import sys
import time
import warnings
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
warnings.filterwarnings("ignore")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))
t_start = time.time()

import checks_mystery  # noqa: E402
from mi_helpers.checks.core import ExerciseFailed  # noqa: E402

sys.modules["mi_helpers.checks.nb09"] = checks_mystery  # the test cells import this name
import mutants_mystery  # noqa: E402

text = (HERE / "cells_mystery.md").read_text(encoding="utf-8")
cells = re.findall(r"<!-- (\w+)(?: ([\d.]+))? -->\n```(\w+)\n(.*?)\n```\n", text, flags=re.S)
assert "{{" not in text, "placeholders left in cells_mystery.md"
# what the notebook's setup cell must import for this part (at assembly: from mi_helpers.mystery import ...)
setup = """
import math, torch, matplotlib.pyplot as plt
from mi_helpers import plot
from mi_helpers.hooks import hooks, run_with_cache
from mi_helpers.interventions import ablate_heads, patch
from mi_helpers.utils import get_device, limit_threads, seed_everything
from lib_mystery import load_mystery_model, mystery_corrupted, mystery_inputs, mystery_targets
limit_threads(2); seed_everything(0); device = get_device()
"""
ns: dict = {}
exec(setup, ns)
ok = True
t_cells = time.time()
for kind, ex, lang, body in cells:
    if kind in ("markdown", "mentor", "discussion"):
        continue
    t = time.time()
    if kind in ("solution", "code"):
        exec(body, ns)
        print(f"  {kind} {ex or ''}: {time.time() - t:.2f} s")
    elif kind == "test":
        visible, hidden = body.split("### BEGIN HIDDEN TESTS")
        exec(visible, ns)
        print(f"  check {ex}: {time.time() - t:.2f} s")
        t = time.time()
        exec(hidden.split("### END HIDDEN TESTS")[0], ns)
        print(f"  hidden tests {ex} passed: {time.time() - t:.2f} s")
t_notebook = time.time() - t_cells
print(f"the part's cells, checks included: {t_notebook:.1f} s")

t = time.time()
for ex, mutants in mutants_mystery.MUTANTS.items():
    check = {"09.8": checks_mystery.check_mystery_mechanism, "09.9": checks_mystery.check_mystery_heads}[ex]
    for mutant in mutants:
        try:
            check(mutant)
        except ExerciseFailed as err:
            first = str(err).splitlines()[0]
            good = first.startswith(f"✘ {ex}")
            ok &= good
            print(f"    {'rejected' if good else 'BAD MESSAGE'} {mutant.__name__} -> {mutant()!r}")
            print("      " + str(err).replace("\n", "\n      "))
        else:
            ok = False
            print(f"    ACCEPTED (bad) {mutant.__name__} -> {mutant()!r}")
print(f"mutants: {time.time() - t:.1f} s")
print(f"total {time.time() - t_start:.1f} s;", "ALL GOOD" if ok else "PROBLEMS")
sys.exit(0 if ok else 1)
