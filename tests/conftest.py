"""Shared test helpers: the course's paths and the reference answers of the solution notebooks."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"


def notebook_path(directory: Path, number: str) -> Path:
    """The notebook of ``directory`` whose name starts with ``number`` ("00")."""
    found = sorted(directory.glob(f"{number}_*.ipynb"))
    if not found:
        pytest.fail(f"no notebook {number}_*.ipynb in {directory}")
    return found[0]


@functools.lru_cache(maxsize=None)
def solution_namespace(number: str) -> dict:
    """Execute the code cells of solution notebook ``number`` that define things.

    Only the setup cells and answer cells run: imports, function and class
    definitions. Test cells, figures and training are left out, so this is fast.
    """
    nb = json.loads(notebook_path(SOLUTIONS, number).read_text(encoding="utf-8"))
    namespace: dict = {"__name__": f"solution_{number}"}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code":
            continue
        if meta.get("solution") or "setup" in tags:
            source = "".join(cell["source"])
            source = "\n".join(line for line in source.splitlines()
                               if not line.lstrip().startswith(("%", "!")))
            exec(compile(source, f"<{number} cell>", "exec"), namespace)
    return namespace


def solution(exercise_id: str):
    """The solution notebook's answer to exercise ``NN.k``: the object named by its slug."""
    from mi_helpers.checks import REGISTRY

    ex = REGISTRY[exercise_id]
    namespace = solution_namespace(ex.notebook)
    if ex.slug not in namespace:
        pytest.fail(f"solution notebook {ex.notebook} defines no `{ex.slug}`")
    return namespace[ex.slug]


def free_ports(n: int = 1) -> list[int]:
    """``n`` distinct TCP ports on 127.0.0.1 that were free a moment ago, for servers a test starts."""
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def notebook_names() -> list[str]:
    return sorted(p.stem for p in SOLUTIONS.glob("*.ipynb"))


# Modules whose tests measure time (limits, overheads) or load both cores themselves: `make test` runs them after
# the rest, one test at a time; the rest run two at a time (pytest-xdist), the grading, hub and browser tests
# among them (they wait more than they compute, and their time limits only bound a wait).
SERIAL = {"test_notebooks", "test_nbgrader", "test_hostile", "test_transformer", "test_hooks_models"}


# The longest modules of the parallel pass, longest first: pytest-xdist hands out modules in the order they were
# collected, and a long one handed out last kept one worker busy for a minute while the other had nothing to do.
LONGEST_FIRST = ["test_check_determinism", "test_checks_through_sandbox", "test_learner_notebooks", "test_hub",
                 "test_grading", "test_blind_mutants", "test_release", "test_browser"]


def pytest_collection_modifyitems(items):
    """Tests that execute whole notebooks carry the mark `notebooks` (make test-fast skips them); those of
    SERIAL the mark `serial`. The modules of LONGEST_FIRST come first, the others after them in their order."""
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__, len(rank)))
    for item in items:
        if item.module.__name__ in {"test_notebooks", "test_learner_notebooks", "test_nbgrader", "test_grading",
                                    "test_hostile", "test_checks_through_sandbox"}:
            item.add_marker(pytest.mark.notebooks)
        if item.module.__name__ in SERIAL:
            item.add_marker(pytest.mark.serial)


def _counts() -> list[str]:
    """How many wrong answers the checks reject, and what training the transformer cost, if this process ran them."""
    import sys
    blind = sys.modules.get("test_blind_mutants")
    trained = sys.modules.get("test_transformer")
    return [*(blind.summary() if blind else []), *(trained.TRAINED if trained else [])]


FROM_WORKERS: list[str] = []  # what _counts gave in each pytest-xdist worker
ROWS_FROM_WORKERS: list[tuple] = []  # the notebooks each worker graded (notebook_runs.table_rows)


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # a pytest-xdist worker: hand the counts to the controller
        from notebook_runs import table_rows

        session.config.workeroutput["counts"] = _counts()
        session.config.workeroutput["notebook_rows"] = table_rows()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    FROM_WORKERS.extend(getattr(node, "workeroutput", {}).get("counts", []))
    ROWS_FROM_WORKERS.extend(tuple(row) for row in getattr(node, "workeroutput", {}).get("notebook_rows", []))


def pytest_terminal_summary(terminalreporter):
    """Print what executing each notebook cost, and how many wrong answers the checks reject."""
    for line in [*FROM_WORKERS, *_counts()]:
        terminalreporter.write_line(line)
    from notebook_runs import table_rows

    rows = sorted([*ROWS_FROM_WORKERS, *table_rows()])
    if not rows:
        return
    tr = terminalreporter
    tr.section("notebook run times, memory and scores")
    tr.write_line(f"{'notebook':38} {'seconds':>8} {'graded in':>9} {'plain run':>9} {'peak MB':>8} {'points':>8}")
    for name, seconds, wall, plain, peak, points, max_points in rows:
        plain = f"{plain:9.1f}" if plain is not None else f"{'':9}"
        tr.write_line(f"{name:38} {seconds:8.1f} {wall:9.1f} {plain} {peak:8.0f} {points:>4g}/{max_points:<3}")
    tr.write_line("seconds: executing in the sandbox; graded in: the whole grading, from the call to the "
                  "grade; plain run: the notebook in one plain kernel, checks included")
