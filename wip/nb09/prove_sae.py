"""Prove part sae: run the cells of cells_sae.md in order (solutions, checks, hidden tests, figures), run each check
on every mutant of mutants_sae.py (each must fail with "✘ 09.k"), and time everything.

Run: OMP_NUM_THREADS=2 .venv/bin/python wip/nb09/prove_sae.py [-v] [--seeds]
  -v       print every mutant's whole message
  --no-code  skip the code cells (figures, training): checks and mutants only
  --figures DIR  save the figures there
  --sandbox  also grade the solutions and mutants through the sandboxed kernel (as the graders do)
  --seeds  also measure the training over 10 seeds, with and without resampling (for REPORT_sae.md)
"""
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

import checks_sae  # noqa: E402
from mi_helpers.checks.core import ExerciseFailed  # noqa: E402

# the test cells import mi_helpers.checks.nb09: point that name at this part's module for now
sys.modules["mi_helpers.checks.nb09"] = checks_sae
import mutants_sae  # noqa: E402

SETUP = """
import math, time
import torch, numpy as np, matplotlib.pyplot as plt
import torch.nn.functional as F
from torch import nn
from mi_helpers.utils import limit_threads, seed_everything
limit_threads(2)
seed_everything(0)
"""

text = (HERE / "cells_sae.md").read_text(encoding="utf-8")
cells = re.findall(r"<!-- (\w+)(?: ([\d.]+))? -->\n```(\w+)\n(.*?)\n```\n", text, flags=re.S)
print(f"{len(cells)} cells: " + ", ".join(sorted({k for k, *_ in cells})))
# the release test's rule: no line (> 20 characters) of a solution, a hidden test, a mentor note or a model answer
# may appear in what the learner's version shows
secret, released = [], []
for kind, ex, lang, body in cells:
    hidden = re.findall(r"### BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)### END", body, flags=re.S)
    if kind in ("mentor", "discussion"):
        secret += body.splitlines()
    else:
        secret += [line for block in hidden for line in block.splitlines()]
        released.append(re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n.*?### END (SOLUTION|HIDDEN TESTS)", "", body,
                               flags=re.S))
secret = [line.strip() for line in secret if len(line.strip()) > 20 and not line.strip().startswith("#")]
leaked = [line for line in secret if line in "\n".join(released)]
print("no solution line in the learner's text" if not leaked else f"LEAKED: {leaked}")
ns: dict = {}
t_start = time.time()
ok = not leaked
exec(SETUP, ns)
if "--figures" in sys.argv:  # save every figure the cells show, to look at them
    figures = Path(sys.argv[sys.argv.index("--figures") + 1])
    figures.mkdir(parents=True, exist_ok=True)
    shown = []

    def _save(*args, **kwargs):
        import matplotlib.pyplot as plt
        shown.append(figures / f"sae_figure_{len(shown) + 1}.png")
        plt.gcf().savefig(shown[-1], dpi=80)
        plt.close("all")

    ns["plt"].show = _save
t_cells = 0.0
for kind, ex, lang, body in cells:
    if kind == "solution":
        exec(body, ns)
    elif kind == "code":
        if "--no-code" in sys.argv:
            continue
        t = time.time()
        exec(body, ns)
        t_cells += time.time() - t
        print(f"  code cell ({body.splitlines()[0][:60]}...): {time.time() - t:.2f} s")
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
        check = next(v for k, v in vars(checks_sae).items()
                     if k.startswith("check_") and getattr(getattr(v, "exercise", None), "id", None) == ex)
        for mutant in mutants_sae.MUTANTS.get(ex, []):
            name = getattr(mutant, "__qualname__", mutant.__name__)
            t = time.time()
            try:
                check(mutant)
            except ExerciseFailed as err:
                first = str(err).splitlines()[0]
                good = first.startswith(f"✘ {ex}")
                ok &= good
                print(f"    {'rejected' if good else 'BAD MESSAGE'} {name} ({time.time() - t:.2f} s): {first[:140]}")
                if "-v" in sys.argv:
                    print("      " + str(err).replace("\n", "\n      "))
            else:
                ok = False
                print(f"    ACCEPTED (bad) {name}")
print(f"cells of this part (checks, hidden tests, figures, training): {t_cells:.1f} s")
if "runs" in ns:
    for label, (_, history) in ns["runs"].items():
        good = history["mmcs"][-1] >= 0.9
        ok &= good
        print(f"  the notebook's run {label}: MMCS {history['mmcs'][-1]:.3f} ({'>= 0.9' if good else 'BELOW 0.9'}), "
              f"dead {history['dead'][-1]:.3f}, {history['seconds']:.2f} s")
print(f"total with mutants {time.time() - t_start:.1f} s;", "ALL GOOD" if ok else "PROBLEMS")

if "--seeds" in sys.argv:
    lib = sys.modules.get("lib_sae") or __import__("lib_sae")
    rows = []
    for seed in range(10):
        data = lib.synthetic_activations(20_000, d=16, n_true=32, density=0.05, noise=0.01, seed=seed)
        for label, fn in (("resample", ns["resample_dead"]), ("none", None)):
            sae = ns["SparseAutoencoder"](16, 64, seed=seed)
            h = lib.train_sae(sae, data.activations, loss_fn=ns["sae_loss"], l1_coeff=0.3, steps=1000, lr=1e-2,
                              resample_fn=fn, resample_every=100, resample_until=0.6, true_features=data.features,
                              score_fn=ns["mean_max_cosine"], seed=seed, progress=False)
            first = next((s for s, m in zip(h["step"], h["mmcs"]) if m >= 0.9), None)
            rows.append((seed, label, h["mmcs"][-1], max(h["dead"]), h["dead"][-1], sum(h["resampled"]), first,
                         h["seconds"]))
            print(f"seed {seed} {label:>8}: MMCS {h['mmcs'][-1]:.3f}, dead max {max(h['dead']):.3f} end "
                  f"{h['dead'][-1]:.3f}, resampled {sum(h['resampled'])}, MMCS >= 0.9 from step {first}, "
                  f"{h['seconds']:.2f} s")
    for label in ("resample", "none"):
        r = [row for row in rows if row[1] == label]
        print(f"{label:>8}: MMCS min {min(x[2] for x in r):.3f} mean {sum(x[2] for x in r) / len(r):.3f}; "
              f"dead at the end mean {sum(x[4] for x in r) / len(r):.3f} max {max(x[4] for x in r):.3f}; "
              f"time mean {sum(x[7] for x in r) / len(r):.2f} s")

if "--sandbox" in sys.argv:
    # as tests/test_checks_through_sandbox.py: the solutions and every mutant in a sandboxed kernel, judged here
    import contextlib
    import inspect
    import io

    import nbformat

    from mi_helpers.checks import REGISTRY
    from mi_helpers.grading import execute

    # the sandbox sees mi_helpers only: the kernel builds checks_sae from its source (the grader pickles the
    # course functions by reference to that module name)
    kernel_setup = SETUP + ("import sys, types\nchecks_sae = types.ModuleType('checks_sae')\n"
                            "sys.modules['checks_sae'] = sys.modules['mi_helpers.checks.nb09'] = checks_sae\n"
                            f"exec({(HERE / 'checks_sae.py').read_text(encoding='utf-8')!r}, checks_sae.__dict__)\n")
    answers = "\n\n".join(body for kind, ex, lang, body in cells if kind == "solution")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(kernel_setup), nbformat.v4.new_code_cell(answers),
                                         nbformat.v4.new_code_cell(inspect.getsource(mutants_sae)),
                                         nbformat.v4.new_code_cell("pass")])
    found = {}

    def judge(index, cell, channel):
        for ex_id in ("09.4", "09.5", "09.6", "09.7"):
            ex = REGISTRY[ex_id]
            for key, name in [("solution", ex.slug)] + [(m.__name__, m.__name__) for m in mutants_sae.MUTANTS[ex_id]]:
                channel.deadline = time.monotonic() + 300
                t = time.time()
                try:
                    answer = channel.names([name])[name]
                    with contextlib.redirect_stdout(io.StringIO()):
                        ex.check(answer)
                    found[(ex_id, key)] = ("passed", time.time() - t)
                except ExerciseFailed as verdict:
                    found[(ex_id, key)] = (verdict.message, time.time() - t)
            # the hidden tests, in this process, with the learner's name standing for the kernel's object
            body = next(b for kind, e, lang, b in cells if kind == "test" and e == ex_id)
            hidden = body.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            space = {}
            exec(SETUP, space)
            space[ex.slug] = channel.names([ex.slug])[ex.slug]
            t = time.time()
            try:
                exec(hidden, space)
                found[(ex_id, "solution: hidden tests")] = ("passed", time.time() - t)
            except Exception as exc:  # noqa: BLE001
                found[(ex_id, "solution: hidden tests")] = (f"{type(exc).__name__}: {exc}", time.time() - t)

    t = time.time()
    run = execute(nb, judge=judge, graded={3}, cell_timeout=600, total_timeout=1200)
    print(f"sandbox: {time.time() - t:.1f} s, failed cells {run.failed_cells}")
    for (ex_id, key), (verdict, seconds) in sorted(found.items()):
        good = verdict == "passed" if key.startswith("solution") else verdict.startswith(f"✘ {ex_id}")
        ok &= good
        print(f"  {'ok ' if good else 'BAD'} {ex_id} {key} ({seconds:.2f} s): {verdict.splitlines()[0][:120]}")
        if not good or "-v" in sys.argv:
            print("      " + verdict.replace("\n", "\n      "))
    print("SANDBOX ALL GOOD" if ok else "SANDBOX PROBLEMS")
sys.exit(0 if ok else 1)
