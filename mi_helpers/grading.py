"""Grading one notebook: execute it under time and memory limits, then score each exercise.

The learner's notebook is never changed: a copy is executed. What can go wrong
in a submission is expected and graded all the same:

- a test cell that was edited or deleted: that exercise earns nothing (the
  course's own copy of the test cell is what runs);
- a check function redefined or patched in an earlier cell: the checks are
  imported afresh inside every test cell;
- an infinite loop, a huge allocation, ``sys.exit`` or a crash of the kernel:
  the cell is recorded, the kernel is restarted, the cells before it are run
  again, and grading goes on after it, so the other exercises keep their points.

:func:`grade_notebook` does the work; :mod:`mi_helpers.pytest_plugin` turns each
exercise into a pytest item, and :mod:`mi_helpers.cli` prints the score table.
"""
from __future__ import annotations

import copy
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .checks import REGISTRY, Exercise
from .classroom import visible_source

COURSE_ROOT = Path(__file__).resolve().parents[1]
RELEASE_DIR = COURSE_ROOT / "notebooks"

CELL_TIMEOUT_S = 120  # one cell; a solution notebook runs whole in 90 s
TOTAL_TIMEOUT_S = 900  # the whole grading, restarts included
MEMORY_LIMIT_MB = 1536  # the course's limit on a kernel's resident memory
MAX_RESTARTS = 4

# Run before the course's test cell: forget every check module, so that what the
# learner redefined or patched in mi_helpers.checks is gone and the check is imported afresh.
FRESH_CHECKS = (
    "import sys as _mi_sys\n"
    "for _mi_name in [n for n in _mi_sys.modules if n == 'mi_helpers.checks' "
    "or n.startswith('mi_helpers.checks.')]:\n"
    "    del _mi_sys.modules[_mi_name]\n"
)
TEST_ID = re.compile(r"^test_(\d\d)_(\d+)_")


@dataclass
class Result:
    """One exercise's grade."""

    exercise: Exercise
    verdict: str  # passed, failed, not attempted, tampered, timed out, out of memory, crashed
    points: float
    message: str

    @property
    def max_points(self) -> int:
        return self.exercise.points


@dataclass
class Grade:
    """A whole notebook's grade and what executing it cost."""

    notebook: Path
    results: list[Result]
    seconds: float
    peak_memory_mb: float
    restarts: int = 0
    problems: list[str] = field(default_factory=list)  # cells that timed out or crashed

    @property
    def points(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def max_points(self) -> int:
        return sum(r.max_points for r in self.results)


# ------------------------------------------------------------------ finding the exercises

def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def exercise_of(test_grade_id: str) -> Exercise | None:
    """The exercise a test cell grades: ``test_00_2_pairwise_distances`` -> 00.2."""
    match = TEST_ID.match(test_grade_id or "")
    if not match:
        return None
    return REGISTRY.get(f"{match.group(1)}.{int(match.group(2))}")


def reference_for(nb) -> nbformat.NotebookNode:
    """The course's release notebook that holds the test cells of ``nb``."""
    ids = {grade_id(c) for c in nb.cells if grade_id(c)}
    best, overlap = None, 0
    for path in sorted(RELEASE_DIR.glob("*.ipynb")):
        candidate = nbformat.read(path, as_version=4)
        shared = len(ids & {grade_id(c) for c in candidate.cells if is_test_cell(c)})
        if shared > overlap:
            best, overlap = candidate, shared
    if best is None:
        raise GradingError("this notebook holds none of the course's exercises: "
                           "grade a notebook from the course's notebooks/ folder")
    return best


class GradingError(Exception):
    """The notebook cannot be graded at all (not a notebook, not one of the course's)."""


# ------------------------------------------------------------------ watching the kernel

def _kernel_pid(client: NotebookClient) -> int | None:
    provisioner = getattr(client.km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    return getattr(process, "pid", None)


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class MemoryWatch(threading.Thread):
    """Samples a kernel's memory; kills the kernel when it passes the limit.

    The peak comes from Linux's high-water mark (VmHWM), which misses no spike;
    elsewhere it falls back to sampling psutil.
    """

    def __init__(self, pid: int, limit_mb: float, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.limit_kb, self.interval = pid, limit_mb * 1024, interval
        self.peak_kb = 0
        self.killed = False
        self._stop_event = threading.Event()

    def _sample(self) -> int:
        hwm = _status_kb(self.pid, "VmHWM")
        if hwm:
            return hwm
        try:
            import psutil
            return psutil.Process(self.pid).memory_info().rss // 1024
        except Exception:
            return 0

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.peak_kb = max(self.peak_kb, self._sample())
            if self.peak_kb > self.limit_kb and not self.killed:
                self.killed = True
                try:
                    import os
                    import signal
                    os.kill(self.pid, signal.SIGKILL)
                except OSError:
                    pass

    def stop(self) -> float:
        self.peak_kb = max(self.peak_kb, self._sample())
        self._stop_event.set()
        return self.peak_kb / 1024


# ------------------------------------------------------------------ executing

class _OutOfTime(Exception):
    """The whole notebook ran past its total limit (not nbclient's CellTimeoutError, a TimeoutError)."""


@dataclass
class Execution:
    """What executing a notebook cost, and the cells that could not finish."""

    seconds: float
    peak_memory_mb: float
    restarts: int
    failed_cells: dict[int, tuple[str, str]]  # cell index -> (verdict, why)


def execute(nb, *, cell_timeout: float = CELL_TIMEOUT_S, memory_limit_mb: float = MEMORY_LIMIT_MB,
            total_timeout: float = TOTAL_TIMEOUT_S, kernel_name: str = "python3",
            workdir: str | Path = ".", graded: set[int] = frozenset()) -> Execution:
    """Execute ``nb`` in place, cell by cell, surviving what a submission can do to a kernel.

    A cell that runs past ``cell_timeout``, pushes the kernel past ``memory_limit_mb``
    or kills it is recorded in ``failed_cells``; the kernel is restarted, the cells
    before it run again (except those in ``graded``, whose outputs already count)
    and execution goes on after it. Errors inside cells are kept as their outputs.
    """
    started = time.perf_counter()
    failed: dict[int, tuple[str, str]] = {}
    peak_mb, restarts, position = 0.0, 0, 0
    resources = {"metadata": {"path": str(workdir)}}
    while position < len(nb.cells) and restarts <= MAX_RESTARTS:
        client = NotebookClient(nb, timeout=cell_timeout, kernel_name=kernel_name,
                                allow_errors=True, interrupt_on_timeout=False,
                                resources=resources, record_timing=False)
        with client.setup_kernel():
            watch = MemoryWatch(_kernel_pid(client) or 0, memory_limit_mb)
            if watch.pid:
                watch.start()
            index = 0
            try:
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code" or index in failed:
                        continue
                    if index < position and index in graded:
                        continue  # replaying after a restart: this cell's outcome is already kept
                    if time.perf_counter() - started > total_timeout:
                        raise _OutOfTime
                    client.execute_cell(cell, index)
                    position = max(position, index + 1)
                position = len(nb.cells)
            except _OutOfTime:
                position = len(nb.cells)
                why = f"was not run: the notebook passed the total limit of {total_timeout:.0f} s"
                failed.update({i: ("timed out", why) for i in range(index, len(nb.cells)) if i in graded})
            except (CellTimeoutError, DeadKernelError, RuntimeError) as exc:
                if watch.killed:
                    failed[index] = ("out of memory", f"used more than {memory_limit_mb:.0f} MB of memory")
                elif isinstance(exc, CellTimeoutError):
                    failed[index] = ("timed out", f"ran longer than {cell_timeout:.0f} s")
                else:
                    failed[index] = ("crashed", "crashed the kernel (exit, abort or segfault)")
                position = max(position, index + 1)
                restarts += 1
            finally:
                peak_mb = max(peak_mb, watch.stop())
    return Execution(time.perf_counter() - started, peak_mb, restarts, failed)


def _error_message(cell) -> str | None:
    """The error a cell raised, as the learner should read it; None if it raised nothing."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name, value = output.get("ename", "Error"), output.get("evalue", "")
            if name == "ExerciseFailed":
                return value
            if name == "NameError":
                missing = re.search(r"name '(\w+)' is not defined", value)
                if missing:
                    return (f"✘ `{missing.group(1)}` is not defined when the check runs: "
                            "keep the exercise's answer cell, with its name unchanged, and run it.")
            return f"✘ the check stopped with {name}: {value}"
    return None


def _printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream").strip()


def grade_notebook(path: str | Path, *, reference: str | Path | None = None,
                   cell_timeout: float = CELL_TIMEOUT_S, memory_limit_mb: float = MEMORY_LIMIT_MB,
                   total_timeout: float = TOTAL_TIMEOUT_S, kernel_name: str = "python3") -> Grade:
    """Execute a copy of the notebook at ``path`` and grade every exercise in it.

    ``reference`` is the notebook whose test cells count (by default the course's
    release notebook with the same exercises). A solution notebook is its own
    reference, so that its hidden tests run too.
    """
    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        raise GradingError(f"{path} is not a readable notebook ({exc})") from None
    ref = nbformat.read(reference, as_version=4) if reference else reference_for(nb)

    tests = {grade_id(c): c for c in ref.cells if is_test_cell(c) and exercise_of(grade_id(c))}
    learner_cells = {grade_id(c): c for c in nb.cells if grade_id(c)}
    answers = {grade_id(c) for c in nb.cells
               if c.get("metadata", {}).get("nbgrader", {}).get("solution")}

    results: dict[str, Result] = {}
    plan = copy.deepcopy(nb)  # what actually runs
    test_index: dict[int, Exercise] = {}
    for gid, ref_cell in tests.items():
        ex = exercise_of(gid)
        mine = learner_cells.get(gid)
        answer_id = gid[len("test_"):]
        if mine is None:
            results[ex.id] = Result(ex, "tampered", 0, f"✘ {ex.title}: its test cell was deleted.")
        elif visible_source(mine.source) != visible_source(ref_cell.source):
            results[ex.id] = Result(ex, "tampered", 0, f"✘ {ex.title}: its test cell was edited, "
                                    "so it earns nothing. Restore the cell from the course's notebook.")
        elif answer_id not in answers:
            results[ex.id] = Result(ex, "tampered", 0,
                                    f"✘ {ex.title}: its answer cell is missing or lost its grading metadata.")
    for index, cell in enumerate(plan.cells):
        gid = grade_id(cell)
        if gid in tests:
            ex = exercise_of(gid)
            if ex.id in results:
                cell.source = "pass  # not graded: " + results[ex.id].verdict
            else:
                cell.source = FRESH_CHECKS + tests[gid].source
                test_index[index] = ex
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None

    run = execute(plan, cell_timeout=cell_timeout, memory_limit_mb=memory_limit_mb,
                  total_timeout=total_timeout, kernel_name=kernel_name,
                  workdir=path.parent.resolve(), graded=set(test_index))
    skip = run.failed_cells

    for index, ex in test_index.items():
        cell = plan.cells[index]
        if index in skip:
            verdict, why = skip[index]
            results[ex.id] = Result(ex, verdict, 0, f"✘ {ex.title}: the check {why}.")
            continue
        if cell.get("execution_count") is None and not cell.get("outputs"):
            results[ex.id] = Result(ex, "crashed", 0,
                                    f"✘ {ex.title}: not graded, the kernel kept crashing before it.")
            continue
        error = _error_message(cell)
        if error is None:
            printed = _printed(cell).splitlines()
            results[ex.id] = Result(ex, "passed", ex.points, printed[-1] if printed else f"✔ {ex.title} passed")
        else:
            verdict = "not attempted" if "NotImplementedError" in error else "failed"
            results[ex.id] = Result(ex, verdict, 0, error)

    problems = [f"cell {i + 1} {why}" for i, (_, why) in sorted(skip.items())]
    ordered = sorted(results.values(), key=lambda r: int(r.exercise.id.split(".")[1]))
    return Grade(path, ordered, run.seconds, run.peak_memory_mb, run.restarts, problems)
