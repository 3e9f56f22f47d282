"""Prove part fgsm_sanity: build the solution from cells_fgsm_sanity.md, run each check on it and on every
mutant, run the hidden tests and the demo cells, and time every check.
Run: OMP_NUM_THREADS=1 .venv/bin/python wip/nb06/prove_fgsm_sanity.py"""
import re
import sys
import time
import types
import warnings
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
warnings.filterwarnings("ignore")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import checks_fgsm_sanity  # noqa: E402
from mi_helpers.checks.core import ExerciseFailed  # noqa: E402

# the test cells import mi_helpers.checks.nb06: point that name at this part's module for now
sys.modules["mi_helpers.checks.nb06"] = checks_fgsm_sanity
import mutants_fgsm_sanity  # noqa: E402

text = (HERE / "cells_fgsm_sanity.md").read_text()
cells = re.findall(r"<!-- (\w+)(?: ([\d.]+))? -->\n```(\w+)\n(.*?)\n```\n", text, flags=re.S)
setup = """
import math, torch, numpy as np, matplotlib.pyplot as plt
import torch.nn.functional as F
from torch import nn
from mi_helpers import plot
from lib_vis_evidence import planted_cnn, planted_evidence, evidence_share, EVIDENCE_COLOURS
planted_model = planted_cnn()  # in the notebook, 06.1's figure cell trains it
"""
ns: dict = {}
t = time.time()
exec(setup, ns)
print(f"  setup (planted CNN trained, as 06.1's figure cell does): {time.time() - t:.2f} s")
ok = True
t_all = time.time()
t_cells = 0.0
for kind, ex, lang, body in cells:
    if kind == "solution":
        exec(body, ns)
    elif kind == "code":
        t = time.time()
        exec(body, ns)
        t_cells += time.time() - t
        print(f"  demo cell: {time.time() - t:.2f} s")
    elif kind == "test":
        visible, hidden = body.split("### BEGIN HIDDEN TESTS")
        t = time.time()
        exec(visible, ns)
        t_cells += time.time() - t
        print(f"  check {ex}: {time.time() - t:.2f} s")
        t = time.time()
        exec(hidden.split("### END HIDDEN TESTS")[0], ns)
        t_cells += time.time() - t
        print(f"  hidden tests {ex} passed: {time.time() - t:.2f} s")
        check = next(v for k, v in vars(checks_fgsm_sanity).items()
                     if k.startswith("check_") and getattr(getattr(v, "exercise", None), "id", None) == ex)
        for mutant in mutants_fgsm_sanity.MUTANTS.get(ex, []):
            name = getattr(mutant, "__qualname__", mutant.__name__)
            t = time.time()
            try:
                check(mutant)
            except ExerciseFailed as err:
                first = str(err).splitlines()[0]
                good = first.startswith(f"✘ {ex}")
                ok &= good
                print(f"    {'rejected' if good else 'BAD MESSAGE'} {name} ({time.time() - t:.2f} s): {first[:150]}")
                if "-v" in sys.argv:
                    print("      " + str(err).replace("\n", "\n      "))
            else:
                ok = False
                print(f"    ACCEPTED (bad) {name}")
print(f"cells of this part (checks, hidden tests, demos): {t_cells:.1f} s")
print(f"total {time.time() - t_all:.1f} s;", "ALL GOOD" if ok else "PROBLEMS")
sys.exit(0 if ok else 1)
