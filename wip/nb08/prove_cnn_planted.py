"""Throwaway: the part "cnn_planted" of notebook 08 (exercises 08.2, 08.6, 08.7), proved end to end.

1. Runs every code cell of cells_cnn_planted.md in order, as the notebook would (after a stand-in for the
   notebook's setup cell), test cells included: the visible checks print their ✔ line and the hidden tests
   pass on the solution. Figures are saved to /tmp/nb08_cnn_planted_fig*.png.
2. Runs each check on the solution twice (same verdict), and on every mutant twice: each must raise
   ExerciseFailed whose message starts with "✘ 08.k", the same both times.
3. Runs the hidden tests alone against each mutant (informational).
4. With --sandbox: the same verdicts through the graders' sandboxed kernel (as
   tests/test_checks_through_sandbox.py does): the solution cells and the mutants go into one sandboxed
   kernel, every check runs here against the Remote objects, and the verdicts must be the same.
Prints the time of every cell and check.

Usage: OMP_NUM_THREADS=1 .venv/bin/python wip/nb08/prove_cnn_planted.py [-v] [--sandbox]
"""
from __future__ import annotations

import contextlib
import io
import re
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import mi_helpers.checks as checks_package  # noqa: E402
import checks_cnn_planted  # noqa: E402
from mi_helpers.checks.core import REGISTRY, ExerciseFailed  # noqa: E402
from mutants_cnn_planted import MUTANTS  # noqa: E402

# the test cells import from mi_helpers.checks.nb08, where these checks will live
sys.modules["mi_helpers.checks.nb08"] = checks_cnn_planted
checks_package.nb08 = checks_cnn_planted

EXERCISES = (checks_cnn_planted.CHANNEL_ID, checks_cnn_planted.EFFECT_ID, checks_cnn_planted.FINDING_ID)
SETUP = """
import torch
import matplotlib.pyplot as plt
from mi_helpers import plot
from mi_helpers.hooks import count_hooks, hooks, run_with_cache
from mi_helpers.utils import get_device, limit_threads, seed_everything
torch.set_num_threads(1)
seed_everything(0)
device = get_device()
"""


def cells(path: Path) -> list[tuple[str, str]]:
    """(marker, source) of every fenced block, in order."""
    text = path.read_text(encoding="utf-8")
    return [(marker.strip(), source) for marker, source in
            re.findall(r"<!-- ([^>]*?) -->\s*```(?:python|markdown)\n(.*?)```", text, re.S)]


def hidden_part(source: str) -> str:
    return source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]


figures = 0


def show():
    global figures
    for number in plt.get_fignums():
        figures += 1
        plt.figure(number).savefig(f"/tmp/nb08_cnn_planted_fig{figures}.png", dpi=80)
    plt.close("all")


def run_cell(source: str, namespace: dict) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(compile(source, "<cell>", "exec"), namespace)
        return "ok: " + out.getvalue().strip().replace("\n", " | ")[:400], time.perf_counter() - started
    except ExerciseFailed as failure:
        return "check failed: " + failure.message, time.perf_counter() - started
    except AssertionError as failure:
        return f"hidden test failed: {failure}", time.perf_counter() - started
    except Exception as failure:  # noqa: BLE001
        return f"raised {type(failure).__name__}: {str(failure)[:300]}", time.perf_counter() - started


def verdict(ex_id: str, answer) -> tuple[str, float]:
    state = torch.get_rng_state()
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            REGISTRY[ex_id].check(answer)
        result = "passed: " + out.getvalue().strip()
    except ExerciseFailed as failure:
        result = failure.message
    seconds = time.perf_counter() - started
    assert torch.equal(state, torch.get_rng_state()), f"{ex_id}: the check changed the global random state"
    return result, seconds


def main() -> int:
    verbose = "-v" in sys.argv
    problems = []
    namespace: dict = {"__name__": "__main__"}
    exec(compile(SETUP, "<setup>", "exec"), namespace)
    plt.show = show
    tests = {}
    print("== the section's cells, in order (solution notebook)")
    total = 0.0
    for marker, source in cells(HERE / "cells_cnn_planted.md"):
        kind = marker.split()[0]
        if kind not in ("code", "solution", "test"):
            continue
        if kind == "test":
            tests[marker.split()[1]] = source
        result, seconds = run_cell(source, namespace)
        total += seconds
        ok = result.startswith("ok")
        if kind == "test":
            ok = ok and "✔" in result
        if not ok:
            problems.append((marker, result))
        print(f"  {'ok ' if ok else 'BAD'} {marker:14s} {seconds:6.2f}s  {result.splitlines()[0][:150]}")
    print(f"  cells in all: {total:.1f}s; figures saved: {figures}")

    for ex_id in EXERCISES:
        ex = REGISTRY[ex_id]
        answers = [("SOLUTION", namespace[ex.slug])] + [(m.__name__, m) for m in MUTANTS[ex_id]]
        print(f"\n== {ex.title}  ({len(MUTANTS[ex_id])} mutants)")
        for name, answer in answers:
            first, seconds = verdict(ex_id, answer)
            again, _ = verdict(ex_id, answer)
            ok = first.startswith(f"passed: ✔ {ex.title} passed") if name == "SOLUTION" \
                else first.startswith(f"✘ {ex.title}")
            stable = first == again
            if not ok or not stable:
                problems.append((ex_id, name, "verdict" if not ok else "unstable"))
            print(f"  {'ok ' if ok and stable else 'BAD'} {name:28s} {seconds:5.2f}s  {first.splitlines()[0][:110]}")
            if verbose and name != "SOLUTION":
                print("      " + "\n      ".join(first.splitlines()[1:]))

    print("\n== hidden tests alone against each mutant (informational)")
    for ex_id, cell in tests.items():
        slug = REGISTRY[ex_id].slug
        caught = []
        for mutant in MUTANTS[ex_id]:
            result, _ = run_cell(hidden_part(cell), {**namespace, slug: mutant})
            if not result.startswith("ok"):
                caught.append(mutant.__name__)
        missed = [m.__name__ for m in MUTANTS[ex_id] if m.__name__ not in caught]
        print(f"  {ex_id}: hidden tests reject {len(caught)}/{len(MUTANTS[ex_id])}; pass: {missed}")

    if "--sandbox" in sys.argv:
        problems += sandbox(namespace)
    print("\nproblems:", problems or "none")
    return 1 if problems else 0


def sandbox(namespace: dict) -> list:
    """The checks through the graders' sandboxed kernel: the same verdicts as in this process."""
    import inspect

    import nbformat

    import mutants_cnn_planted
    from mi_helpers.grading import execute

    blocks = cells(HERE / "cells_cnn_planted.md")
    answers = [source for marker, source in blocks if marker.startswith("solution")]
    imports = "from mi_helpers.planted import UNITS_A, UNITS_B, planted_features, planted_model\n"
    kernel_cells = [nbformat.v4.new_code_cell(SETUP + imports), nbformat.v4.new_code_cell("\n\n".join(answers)),
                    nbformat.v4.new_code_cell(inspect.getsource(mutants_cnn_planted)),
                    nbformat.v4.new_code_cell("pass")]
    found: dict = {}

    def judge(index, cell, channel):
        for ex_id in EXERCISES:
            ex = REGISTRY[ex_id]
            for key, name in [("SOLUTION", ex.slug)] + [(m.__name__, m.__name__) for m in MUTANTS[ex_id]]:
                channel.deadline = time.monotonic() + 300
                started = time.perf_counter()
                try:
                    answer = channel.names([name])[name]
                    with contextlib.redirect_stdout(io.StringIO()):
                        ex.check(answer)
                    found[(ex_id, key)] = ("passed", time.perf_counter() - started)
                except ExerciseFailed as failure:
                    found[(ex_id, key)] = (failure.message, time.perf_counter() - started)

    started = time.perf_counter()
    run = execute(nbformat.v4.new_notebook(cells=kernel_cells), judge=judge, graded={3}, cell_timeout=600,
                  total_timeout=1200)
    print(f"\n== through the sandbox: {time.perf_counter() - started:.1f}s, failed cells: {run.failed_cells}")
    problems = []
    for ex_id in EXERCISES:
        ex = REGISTRY[ex_id]
        print(f"-- {ex.title}")
        local = {"SOLUTION": namespace[ex.slug], **{m.__name__: m for m in MUTANTS[ex_id]}}
        for key, answer in local.items():
            remote, seconds = found.get((ex_id, key), ("MISSING", 0.0))
            here, _ = verdict(ex_id, answer)
            here = "passed" if here.startswith("passed") else here
            ok = remote == "passed" if key == "SOLUTION" else remote.startswith(f"✘ {ex.title}:")
            same = remote.splitlines()[0] == here.splitlines()[0]
            if not ok or not same:
                problems.append(("sandbox", ex_id, key, "verdict" if not ok else "differs from in-process"))
            print(f"  {'ok ' if ok else 'BAD'} {'same' if same else 'DIFF'} {key:28s} {seconds:5.2f}s  "
                  f"{remote.splitlines()[0][:100]}")
            if not same:
                print(f"       in process: {here.splitlines()[0][:120]}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
