"""Throwaway: the 07 checks through the graders' sandboxed kernel (as tests/test_checks_through_sandbox.py does).

The solution cells and tests/mutants/nb07.py go into one sandboxed kernel; every check runs here, in the
grader, against the Remote objects. Prints the first line of each verdict and whether it matches the
in-process verdict.
Usage: .venv/bin/python scratch/nb07_sandbox.py [solution source: .py or the cells .md]
"""
from __future__ import annotations

import contextlib
import inspect
import re
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "scratch")]

import nbformat  # noqa: E402

import mutants.nb07 as mutant_module  # noqa: E402
from mi_helpers.checks import REGISTRY, ExerciseFailed  # noqa: E402
from mi_helpers.grading import execute  # noqa: E402
from nb07_prove import run_cell, solution_source, test_cells, verdict  # noqa: E402

IDS = ("07.1", "07.2", "07.6")


def main() -> int:
    source_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "scratch" / "nb07_cells_part1.md"
    source = solution_source(source_path)
    local: dict = {"__name__": "solution_07"}
    exec(compile(source, str(source_path), "exec"), local)
    cells = [nbformat.v4.new_code_cell(source), nbformat.v4.new_code_cell(inspect.getsource(mutant_module)),
             nbformat.v4.new_code_cell("pass")]
    nb = nbformat.v4.new_notebook(cells=cells)
    found: dict = {}
    cells_of = test_cells(source_path)
    setup = re.search(r"<!-- setup -->\s*```python\n(.*?)```", source_path.read_text(), re.S) \
        if source_path.suffix == ".md" else None
    grader_ns: dict = {}
    if setup:
        exec(setup.group(1), grader_ns)
    cell_results: dict = {}

    def judge(index, cell, channel):
        for ex_id, test_source in cells_of.items():  # the test cells, in the grader, the answer a Remote
            slug = REGISTRY[ex_id].slug
            channel.deadline = time.monotonic() + 300
            cell_results[ex_id] = run_cell(test_source, {**grader_ns, slug: channel.names([slug])[slug]})
        for ex_id in IDS:
            ex = REGISTRY[ex_id]
            names = [("SOLUTION", ex.slug)] + [(m.__name__, m.__name__) for m in mutant_module.MUTANTS[ex_id]]
            for key, name in names:
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
    run = execute(nb, judge=judge, graded={2}, cell_timeout=3000, total_timeout=3600)
    print(f"sandboxed run: {time.perf_counter() - started:.1f}s, failed cells: {run.failed_cells}")
    problems = []
    for ex_id in IDS:
        ex = REGISTRY[ex_id]
        print(f"== {ex.title}")
        local_answers = {"SOLUTION": local[ex.slug], **{m.__name__: m for m in mutant_module.MUTANTS[ex_id]}}
        for key, answer in local_answers.items():
            remote, seconds = found.get((ex_id, key), ("MISSING", 0.0))
            here, _ = verdict(ex_id, answer)
            here = "passed" if here.startswith("passed") else here
            ok = remote == "passed" if key == "SOLUTION" else remote.startswith(f"✘ {ex.title}:")
            same = remote.splitlines()[0] == here.splitlines()[0]
            if not ok:
                problems.append((ex_id, key))
            print(f"  {'ok ' if ok else 'BAD'} {'same' if same else 'DIFF'} {key:45s} {seconds:5.2f}s  "
                  f"{remote.splitlines()[0]}")
            if not same:
                print(f"       in process: {here.splitlines()[0]}")
    for ex_id, result in cell_results.items():
        print(f"test cell {ex_id} through the sandbox (visible check + hidden tests, answer a Remote): {result}")
        if not result.startswith("ok"):
            problems.append((ex_id, "test cell"))
    print("\nproblems:", problems or "none")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
