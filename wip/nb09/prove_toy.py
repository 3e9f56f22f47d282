"""Prove part toy: run the cells of cells_toy.md in order (setup, solutions, figures, tests with their hidden tests),
each check on the solution (a ✔ line) and on every mutant (each must fail with "✘ 09.k"), and print timings.
Run: OMP_NUM_THREADS=2 .venv/bin/python wip/nb09/prove_toy.py [-v] [--only 09.1,09.2] [--no-figures]"""
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

import checks_toy  # noqa: E402
from mi_helpers.checks.core import ExerciseFailed  # noqa: E402

sys.modules["mi_helpers.checks.nb09"] = checks_toy  # the test cells import mi_helpers.checks.nb09
import mutants_toy  # noqa: E402

only = None
if "--only" in sys.argv:
    only = set(sys.argv[sys.argv.index("--only") + 1].split(","))
figures = "--no-figures" not in sys.argv

text = (HERE / "cells_toy.md").read_text()
cells = re.findall(r"<!-- (\w+)(?: ([\d.]+))? -->\n```(\w+)\n(.*?)\n```\n", text, flags=re.S)
setup = """
import math, torch, numpy as np, matplotlib.pyplot as plt
import torch.nn.functional as F
from torch import nn
from mi_helpers import plot
"""
ns: dict = {}
exec(setup, ns)
ok = True
t_all = time.time()
t_cells = 0.0
cpu_cells = [0.0]
counts = {}
for kind, ex, lang, body in cells:
    if kind == "solution":
        exec(body, ns)
    elif kind == "code":
        if not figures and "plt.show()" in body:
            continue
        t, c = time.time(), time.process_time()
        exec(body, ns)
        matplotlib.pyplot.close("all")
        t_cells += time.time() - t
        cpu_cells[0] += time.process_time() - c
        print(f"  code cell ({body.splitlines()[0][:50]}...): {time.time() - t:.2f} s wall, {time.process_time() - c:.2f} s CPU")
    elif kind == "test":
        if only is not None and ex not in only:
            continue
        visible, hidden = body.split("### BEGIN HIDDEN TESTS")
        t, c = time.time(), time.process_time()
        exec(visible, ns)
        t_cells += time.time() - t
        cpu_cells[0] += time.process_time() - c
        print(f"  check {ex}: {time.time() - t:.2f} s wall, {time.process_time() - c:.2f} s CPU")
        t, c = time.time(), time.process_time()
        exec(hidden.split("### END HIDDEN TESTS")[0], ns)
        t_cells += time.time() - t
        cpu_cells[0] += time.process_time() - c
        print(f"  hidden tests {ex} passed: {time.time() - t:.2f} s wall, {time.process_time() - c:.2f} s CPU")
        for mutant in getattr(mutants_toy, "HIDDEN_ONLY", {}).get(ex, []):  # must fail the hidden tests
            name = mutant.__name__
            slug = next(v for k, v in vars(checks_toy).items() if k.startswith("check_")
                        and getattr(getattr(v, "exercise", None), "id", None) == ex).exercise.slug
            own = ns[slug]
            ns[slug] = mutant
            try:
                exec(hidden.split("### END HIDDEN TESTS")[0], ns)
            except AssertionError:
                print(f"    rejected by the hidden tests: {name}")
            else:
                ok = False
                print(f"    ACCEPTED by the hidden tests (bad): {name}")
            finally:
                ns[slug] = own
        check = next(v for k, v in vars(checks_toy).items()
                     if k.startswith("check_") and getattr(getattr(v, "exercise", None), "id", None) == ex)
        for mutant in mutants_toy.MUTANTS.get(ex, []):
            name = getattr(mutant, "__qualname__", mutant.__name__)
            if "--mutants" in sys.argv and not any(w in name for w in sys.argv[sys.argv.index("--mutants") + 1].split(",")):
                continue
            t = time.time()
            try:
                check(mutant)
            except ExerciseFailed as err:
                first = str(err).splitlines()[0]
                good = first.startswith(f"✘ {ex}")
                ok &= good
                counts[ex] = counts.get(ex, 0) + good
                print(f"    {'rejected' if good else 'BAD MESSAGE'} {name} ({time.time() - t:.2f} s): {first[:150]}")
                if "-v" in sys.argv:
                    print("      " + str(err).replace("\n", "\n      "))
            else:
                ok = False
                print(f"    ACCEPTED (bad) {name}")
print(f"cells of this part (checks, hidden tests, figures): {t_cells:.1f} s wall, {cpu_cells[0]:.1f} s CPU; "
      f"mutants rejected: {counts}")
print(f"total {time.time() - t_all:.1f} s;", "ALL GOOD" if ok else "PROBLEMS")
sys.exit(0 if ok else 1)
