"""Proof for 08.6 attribution_patching: the check passes the solution of cells_attribution.md, rejects every
mutant of mutants_attribution.py with a message for 08.5, gives the same verdict twice, runs in time; the test
cell (visible check + hidden tests) passes on the solution; the demo cells run.

Usage: OMP_NUM_THREADS=1 .venv/bin/python wip/nb08/prove_attribution.py [-v] [--figures DIR]
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT)]
torch.set_num_threads(1)


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


import mi_helpers.checks  # noqa: E402  (registers the course's other exercises first)
from mi_helpers.checks import REGISTRY, ExerciseFailed  # noqa: E402
from mi_helpers.hooks import count_hooks  # noqa: E402

checks = load("mi_helpers.checks.nb08", HERE / "checks_attribution.py")  # where the notebook imports it from
mutants = load("mutants_attribution", HERE / "mutants_attribution.py")
CELLS = HERE / "cells_attribution.md"
EX = checks.ATTRIBUTION_ID
# the imports of the notebook's setup cell (cells_main_a.md) that this section uses
SETUP = """
import matplotlib.pyplot as plt
import torch

from mi_helpers import plot
from mi_helpers.circuits import corrupted_pairs, hand_built_induction_model, repeated_pairs
from mi_helpers.hooks import count_hooks, hooks, record, run_with_cache
from mi_helpers.interventions import induction_loss, normalised
from mi_helpers.transformer import load_induction_model
"""


def cells() -> list[tuple[str, str]]:
    text = CELLS.read_text(encoding="utf-8")
    return [(kind, body) for kind, body in
            re.findall(r"<!-- ([a-z]+(?: [0-9.]+)?) -->\s*```(?:python|markdown)\n(.*?)```", text, re.S)]


def verdict(answer) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            REGISTRY[EX].check(answer)
        return "passed: " + out.getvalue().strip(), time.perf_counter() - started
    except ExerciseFailed as failure:
        return failure.message, time.perf_counter() - started


def main() -> int:
    verbose = "-v" in sys.argv
    figures = Path(sys.argv[sys.argv.index("--figures") + 1]) if "--figures" in sys.argv else None
    all_cells = cells()
    namespace: dict = {"__name__": "__main__"}
    exec(compile(SETUP, "<setup cell>", "exec"), namespace)
    solution = next(body for kind, body in all_cells if kind == f"solution {EX}")
    exec(compile(solution, "<solution cell>", "exec"), namespace)
    problems = []

    ex = REGISTRY[EX]
    answers = [("SOLUTION", namespace[ex.slug])] + [(m.__name__, m) for m in mutants.MUTANTS[EX]]
    print(f"== {ex.title}  ({len(mutants.MUTANTS[EX])} mutants)")
    for name, answer in answers:
        first, seconds = verdict(answer)
        again, _ = verdict(answer)
        ok = first == f"passed: ✔ {ex.title} passed" if name == "SOLUTION" else first.startswith(f"✘ {ex.title}:")
        stable = first == again
        if not ok or not stable or seconds > 3.0:
            problems.append((name, ok, stable, round(seconds, 2)))
        mark = "ok " if ok and stable and seconds <= 3.0 else "BAD"
        print(f"  {mark} {name:48s} {seconds:5.2f}s  {first.splitlines()[0]}")
        if verbose and name != "SOLUTION":
            print("      " + "\n      ".join(first.splitlines()[1:]))

    print("\n== the test cell (visible check + hidden tests) on the solution")
    test = next(body for kind, body in all_cells if kind == f"test {EX}")
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(compile(test, "<test cell>", "exec"), dict(namespace))
        print(f"  ok ({time.perf_counter() - started:.2f}s): {out.getvalue().strip()}")
    except Exception as failure:  # noqa: BLE001
        problems.append(("test cell", repr(failure)))
        print(f"  BAD: {type(failure).__name__}: {failure}")
    hidden = test.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
    visible = [line.strip() for line in test.split("### BEGIN HIDDEN TESTS")[0].splitlines() if line.strip()]
    repeated = [line for line in visible if line in [h.strip() for h in hidden.splitlines()]]
    if repeated:
        problems.append(("hidden tests repeat visible lines", repeated))

    print("\n== hidden tests alone against each mutant (informational)")
    caught = []
    for mutant in mutants.MUTANTS[EX]:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(hidden, "<hidden>", "exec"), {**namespace, ex.slug: mutant})
        except BaseException:  # noqa: BLE001
            caught.append(mutant.__name__)
    missed = [m.__name__ for m in mutants.MUTANTS[EX] if m.__name__ not in caught]
    print(f"  hidden tests reject {len(caught)}/{len(mutants.MUTANTS[EX])}; pass: {missed}")

    print("\n== demo cells after the exercise")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shown = []
    plt.show = lambda *a, **k: shown.append(plt.gcf())
    after = [body for kind, body in all_cells[all_cells.index(("test " + EX, test)) + 1:] if kind == "code"]
    for i, body in enumerate(after):
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(compile(body, f"<demo cell {i}>", "exec"), namespace)
        printed = out.getvalue().strip().replace("\n", "\n    ")
        print(f"  demo cell {i}: {time.perf_counter() - started:.2f}s\n    {printed}")
    if figures:
        figures.mkdir(parents=True, exist_ok=True)
        for i, fig in enumerate(shown):
            fig.savefig(figures / f"attribution_{i}.png", dpi=80)
        print(f"  {len(shown)} figures saved in {figures}")
    for model_name in ("course_model", "toy"):
        model = namespace[model_name]
        if count_hooks(model) or any(p.grad is not None for p in model.parameters()):
            problems.append((model_name, "hooks or grads left by the demo"))

    print("\nproblems:", problems or "none")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
