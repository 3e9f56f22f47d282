"""``mi-grade``: grade one notebook from the command line and print a score table.

    mi-grade notebooks/00_orientation.ipynb
    mi-grade my_work.ipynb --json grade.json --timeout 60

The notebook is executed as a copy, under a time limit per cell and in total and
a memory limit for its kernel; the file itself is never changed. pytest is the
engine (:mod:`mi_helpers.pytest_plugin`). The exit status is 0 for full marks,
1 when points were lost, 2 when the notebook could not be graded.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

from .grading import CELL_TIMEOUT_S, MEMORY_LIMIT_MB, TOTAL_TIMEOUT_S
from .notebook import GradingError, read_notebook, reference_for
from .sandbox import SandboxUnavailable


class _Collector:
    """A pytest plugin that keeps the collected items, to read their results afterwards."""

    def __init__(self):
        self.items: list = []

    def pytest_collection_finish(self, session):
        self.items = list(session.items)


def score_table(grade) -> str:
    """The grade as a fixed-width table: exercise, points, verdict, message."""
    rows = [("exercise", "points", "verdict", "message")]
    for r in grade.results:
        first, *rest = r.message.splitlines() or [""]
        rows.append((r.exercise.title, f"{r.points:g}/{r.max_points}", r.verdict, first))
        rows.extend(("", "", "", line) for line in rest)
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])
        if n == 0:
            lines.append("-" * min(100, sum(widths) + 6 + len("message")))
    lines.append("")
    passed = sum(r.verdict == "passed" for r in grade.results)
    lines.append(f"score: {grade.points:g}/{grade.max_points} points, {passed} of "
                 f"{len(grade.results)} exercises passed "
                 f"({grade.seconds:.0f} s, peak memory {grade.peak_memory_mb:.0f} MB)")
    for problem in grade.problems:
        lines.append(f"note: {problem}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mi-grade", description=textwrap.dedent(__doc__.split("\n\n")[0]))
    parser.add_argument("notebook", type=Path, help="the notebook to grade")
    parser.add_argument("--timeout", type=float, default=CELL_TIMEOUT_S, help="seconds one cell may run")
    parser.add_argument("--total-timeout", type=float, default=TOTAL_TIMEOUT_S,
                        help="seconds the whole notebook may run")
    parser.add_argument("--memory", type=float, default=MEMORY_LIMIT_MB,
                        help="megabytes the kernel may use")
    parser.add_argument("--reference", type=Path, default=None,
                        help="grade against this notebook's test cells (default: the course's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the grade to this file")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="run your notebook's kernel without the sandbox (for your own work on a machine "
                             "without bubblewrap: the grade is then not tamper-proof)")
    args = parser.parse_args(argv)

    if not args.notebook.is_file():
        print(f"mi-grade: there is no notebook at {args.notebook}", file=sys.stderr)
        return 2
    try:
        reference_for(read_notebook(args.notebook)) if args.reference is None else read_notebook(args.notebook)
    except GradingError as exc:
        print(f"mi-grade: {exc}", file=sys.stderr)
        return 2
    if not args.unsandboxed:
        try:
            from .sandbox import Sandbox
            Sandbox().close()
        except SandboxUnavailable as exc:
            print(f"mi-grade: {exc}. To grade your own notebook without the sandbox, add --unsandboxed.",
                  file=sys.stderr)
            return 2

    import pytest

    collector = _Collector()
    # Run from an empty folder so that no other pytest configuration is picked up.
    workdir = Path(tempfile.mkdtemp(prefix="mi-grade-"))
    try:
        notebook = workdir / args.notebook.name
        shutil.copy(args.notebook, notebook)
        pytest_args = [str(notebook), "-p", "mi_helpers.pytest_plugin", "--mi-grade",
                       "-p", "no:cacheprovider", "-p", "no:terminal", "--rootdir", str(workdir),
                       "-c", str(workdir / "pytest.ini"),
                       "--mi-timeout", str(args.timeout), "--mi-memory", str(args.memory),
                       "--mi-total-timeout", str(args.total_timeout)]
        if args.reference:
            pytest_args += ["--mi-reference", str(args.reference.resolve())]
        if args.unsandboxed:
            pytest_args.append("--mi-unsandboxed")
        (workdir / "pytest.ini").write_text("[pytest]\n")
        print(f"grading {args.notebook} (executing a copy; this takes a minute) ...", flush=True)
        pytest.main(pytest_args, plugins=[collector])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    grade = collector.items[0].parent.grade if collector.items else None
    if grade is None:
        print("mi-grade: the notebook could not be executed", file=sys.stderr)
        return 2
    grade.notebook = args.notebook
    print(score_table(grade))
    if not grade.sandboxed:
        print("note: graded WITHOUT the sandbox (--unsandboxed): fine for your own work, not for a class")
    if args.json:
        args.json.write_text(json.dumps({
            "notebook": str(args.notebook), "points": grade.points, "max_points": grade.max_points,
            "seconds": round(grade.seconds, 2), "peak_memory_mb": round(grade.peak_memory_mb, 1),
            "exercises": [{"id": r.exercise.id, "slug": r.exercise.slug, "points": r.points,
                           "max_points": r.max_points, "verdict": r.verdict, "message": r.message}
                          for r in grade.results],
        }, indent=2, ensure_ascii=False))
    return 0 if grade.points == grade.max_points else 1


if __name__ == "__main__":
    sys.exit(main())
