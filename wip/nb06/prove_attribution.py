"""Prove part "attribution" of notebook 06: build the solution from cells_attribution.md, run every check on it
(the ✔ line), on every mutant (each must fail with "✘ 06.k"), the hidden tests, and time each.

    OMP_NUM_THREADS=1 .venv/bin/python wip/nb06/prove_attribution.py      (from /work/main)
"""
import os
import re
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

import matplotlib
matplotlib.use("Agg")
import warnings
warnings.filterwarnings("ignore")

import checks_attribution
import mutants_attribution
from mi_helpers.checks.core import ExerciseFailed

sys.modules["mi_helpers.checks.nb06"] = checks_attribution  # where the checks will live

text = open(os.path.join(HERE, "cells_attribution.md")).read()
cells = re.findall(r"<!-- (\w+)(?: ([\d.]+))? -->\n```(\w+)\n(.*?)\n```", text, re.S)

ns = {}
exec("import math, torch\nfrom torch import nn\nimport matplotlib.pyplot as plt\nfrom mi_helpers import data, plot\n"
     "import mi_helpers.train as train_lib\nfrom mi_helpers.utils import seed_everything\nseed_everything(0)", ns)

failures = []
total = 0.0
for kind, ex_id, lang, src in cells:
    if lang != "python":
        continue
    if kind == "test":
        visible, hidden = src.split("### BEGIN HIDDEN TESTS")
        hidden = hidden.split("### END HIDDEN TESTS")[0]
        t0 = time.time()
        exec(visible, ns)
        t_check = time.time() - t0
        t0 = time.time()
        exec(hidden, ns)
        t_hidden = time.time() - t0
        total += t_check + t_hidden
        print(f"   {ex_id}: check {t_check:.2f} s, hidden tests {t_hidden:.2f} s (passed)")
        check = getattr(checks_attribution, visible.split("import ")[1].split("\n")[0].strip())
        for mutant in mutants_attribution.MUTANTS[ex_id]:
            t0 = time.time()
            try:
                check(mutant)
            except ExerciseFailed as exc:
                ok = exc.message.startswith(f"✘ {ex_id}")
                first = exc.message.splitlines()[0][:110]
                hint = next((l.strip() for l in exc.message.splitlines() if l.strip().startswith("hint:")), "")[:150]
                print(f"   {'rejected' if ok else 'WRONG MESSAGE'} {mutant.__name__:<26} {time.time() - t0:.2f} s  {first}\n"
                      f"      {hint}")
                if not ok:
                    failures.append(mutant.__name__)
            except Exception as exc:  # noqa: BLE001
                print(f"   CRASHED {mutant.__name__}: {type(exc).__name__}: {exc}")
                failures.append(mutant.__name__)
            else:
                print(f"   ACCEPTED {mutant.__name__}")
                failures.append(mutant.__name__)
    else:
        t0 = time.time()
        exec(src, ns)
        dt = time.time() - t0
        total += dt
        if kind == "code":
            print(f"   code cell ({src.splitlines()[0][:50]}...): {dt:.2f} s")
print(f"cells in total (checks and hidden tests included, mutants not): {total:.1f} s")
if failures:
    print("FAILED:", failures)
    sys.exit(1)
print("all mutants rejected")
