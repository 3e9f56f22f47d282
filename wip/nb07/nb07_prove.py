"""Throwaway: every 07 check passes the solution and rejects every mutant, with the same verdict twice.

Usage: .venv/bin/python scratch/nb07_prove.py [solution source file or the cells .md]
"""
from __future__ import annotations

import contextlib
import io
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from mi_helpers.checks import REGISTRY, ExerciseFailed  # noqa: E402
from mutants.nb07 import MUTANTS  # noqa: E402


def solution_source(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        return text
    # the .md: the setup block, then every "(b) solution cell" block
    blocks = re.findall(r"<!-- (setup|solution [0-9.]+) -->\s*```python\n(.*?)```", text, re.S)
    return "\n\n".join(code for _, code in blocks)


def test_cells(path: Path) -> dict:
    """{"07.1": source of its test cell, ...} from the .md."""
    if path.suffix == ".py":
        return {}
    text = path.read_text(encoding="utf-8")
    return dict(re.findall(r"<!-- test ([0-9.]+) -->\s*```python\n(.*?)```", text, re.S))


def hidden_part(source: str) -> str:
    return source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]


def run_cell(source: str, namespace: dict) -> str:
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(compile(source, "<test cell>", "exec"), dict(namespace))
        return "ok: " + out.getvalue().strip().replace("\n", " | ")
    except ExerciseFailed as failure:
        return "check failed: " + failure.message.splitlines()[0]
    except AssertionError as failure:
        return f"hidden test failed: {failure}"
    except Exception as failure:  # noqa: BLE001
        return f"hidden test raised {type(failure).__name__}: {str(failure)[:100]}"


def verdict(ex_id: str, answer) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            REGISTRY[ex_id].check(answer)
        return "passed: " + out.getvalue().strip(), time.perf_counter() - started
    except ExerciseFailed as failure:
        return failure.message, time.perf_counter() - started


def main() -> int:
    paths = [a for a in sys.argv[1:] if not a.startswith("-")]
    source = Path(paths[0]) if paths else ROOT / "scratch" / "nb07_cells_part1.md"
    namespace: dict = {"__name__": "solution_07"}
    exec(compile(solution_source(source), str(source), "exec"), namespace)
    problems = []
    for ex_id in ("07.1", "07.2", "07.6"):
        ex = REGISTRY[ex_id]
        answers = [("SOLUTION", namespace[ex.slug])] + [(m.__name__, m) for m in MUTANTS[ex_id]]
        print(f"== {ex.title}  ({len(MUTANTS[ex_id])} mutants)")
        for name, answer in answers:
            first, seconds = verdict(ex_id, answer)
            again, _ = verdict(ex_id, answer)
            ok = first.startswith("passed") if name == "SOLUTION" else first.startswith(f"✘ {ex.title}:")
            stable = first == again
            if not ok or not stable:
                problems.append((ex_id, name, ok, stable))
            mark = "ok " if ok and stable else "BAD"
            print(f"  {mark} {name:45s} {seconds:5.2f}s  {first.splitlines()[0]}")
            if name != "SOLUTION" and "-v" in sys.argv:
                print("      " + "\n      ".join(first.splitlines()[1:]))
    cells = test_cells(source)
    if cells:
        print("\n== test cells (visible check + hidden tests) on the solution")
        for ex_id, cell in cells.items():
            result = run_cell(cell, namespace)
            if not result.startswith("ok"):
                problems.append((ex_id, "test cell", result))
            print(f"  {ex_id}: {result}")
        print("\n== hidden tests alone against each mutant (informational: how many they catch too)")
        for ex_id, cell in cells.items():
            slug = REGISTRY[ex_id].slug
            caught = [m.__name__ for m in MUTANTS[ex_id]
                      if not run_cell(hidden_part(cell), {**namespace, slug: m}).startswith("ok")]
            missed = [m.__name__ for m in MUTANTS[ex_id] if m.__name__ not in caught]
            print(f"  {ex_id}: hidden tests reject {len(caught)}/{len(MUTANTS[ex_id])}; pass: {missed}")
    print("\nproblems:", problems or "none")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
