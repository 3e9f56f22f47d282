"""The grading core both graders stand on: a sandboxed executor and the trusted verdict.

    mi-grade (cli.py, pytest_plugin.py)      nbgrader autograde (classroom.py)
                     \\                           /
            grade_notebook()            ResilientExecute.preprocess()
                     \\                           /
           execute(): the notebook's cells in a sandboxed kernel (sandbox.py);
           at each test cell, run_check() in this process (verdict.py),
           calling the learner's names in the kernel (remote.py, harness.py, wire.py)

What decides points never runs in the learner's kernel: the test cells are not
sent to it. Their source is the course's (the release notebook's for
``mi-grade``, the gradebook's for nbgrader), executed here, and every call of
the learner's code goes through the channel, which brings back plain data.

What goes wrong in a submission is expected and graded all the same: an edited
or deleted test cell earns nothing; an infinite loop, a huge allocation,
``sys.exit`` or a dead kernel costs the cell where it happened (the kernel is
restarted, the cells before it replayed, and grading goes on after it).
"""
from __future__ import annotations

import copy
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat
import zmq
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .checks import Exercise
from .notebook import (COURSE_ROOT, RELEASE_DIR, GradingError, exercise_of, grade_id, is_answer_cell,
                       is_test_cell, read_notebook, reference_for, setup_source, visible_source)
from .remote import KernelChannel, KernelDied, RemoteTimeout
from .sandbox import Sandbox, SandboxedKernelManager, SandboxUnavailable
from .verdict import FAILED, NOT_ATTEMPTED, PASSED, Verdict, prelude, run_check

__all__ = ["grade_notebook", "execute", "Grade", "Result", "GradingError", "SandboxUnavailable",
           "COURSE_ROOT", "RELEASE_DIR", "CELL_TIMEOUT_S", "TOTAL_TIMEOUT_S", "MEMORY_LIMIT_MB"]

CELL_TIMEOUT_S = 120  # one cell; a solution notebook runs whole in 90 s
TOTAL_TIMEOUT_S = 900  # the whole grading, restarts included
MEMORY_LIMIT_MB = 1536  # the course's limit on the resident memory of the kernel and its children
MAX_RESTARTS = 4
MAX_CELL_OUTPUT = 2 * 2 ** 20  # characters of output kept per cell
MAX_NOTEBOOK_OUTPUT = 20 * 2 ** 20
MAX_MESSAGE = 128 * 2 ** 20  # a larger message from the kernel cuts its connection


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
    sandboxed: bool = True

    @property
    def points(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def max_points(self) -> int:
        return sum(r.max_points for r in self.results)


# ------------------------------------------------------------------ watching the kernel

def _tree(pid: int) -> list:
    import psutil
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _proc_kb(pid: int, filename: str, key: str) -> int:
    try:
        with open(f"/proc/{pid}/{filename}", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _hwm_kb(process) -> int:
    return _proc_kb(process.pid, "status", "VmHWM")


def _pss_kb(process) -> int:
    """Proportional set size: a page shared by a process and the child it forked counts once in the sum."""
    pss = _proc_kb(process.pid, "smaps_rollup", "Pss")
    if pss:
        return pss
    try:
        return process.memory_info().rss // 1024
    except Exception:
        return 0


PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _rss_kb(process) -> int:
    """Resident set size from /proc/PID/statm: cheap, an overcount of what forked processes share."""
    try:
        with open(f"/proc/{process.pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * PAGE_KB
    except (OSError, ValueError, IndexError):
        return 0


class MemoryWatch(threading.Thread):
    """Samples the memory of a kernel and every process under it; kills them all past the limit.

    The peak is the larger of the summed proportional set size (PSS: memory a
    forked child still shares with its parent counts once) and the high-water
    mark (VmHWM) of the largest single process, which misses no spike.

    Every 50 ms the watch reads what is cheap to read (resident sizes, high-water
    marks); it sums PSS every 0.5 s, and at once when the resident sizes add up
    past the limit. Reading PSS walks the kernel's page tables under its memory
    lock: every 50 ms it slowed a notebook that trains a model by a fifth.
    """

    def __init__(self, pid: int, limit_mb: float, interval: float = 0.05, pss_every: int = 10,
                 tree_every: int = 5):
        super().__init__(daemon=True)
        self.pid, self.limit_kb, self.interval = pid, limit_mb * 1024, interval
        self.pss_every, self.tree_every = pss_every, tree_every
        self.peak_kb = 0
        self.killed = False
        self._stop_event = threading.Event()
        self._ticks = 0
        self._processes: list = []

    def _sample(self, exact: bool = False) -> int:
        if exact or self._ticks % self.tree_every == 0:
            self._processes = _tree(self.pid)
        largest = max((_hwm_kb(p) for p in self._processes), default=0)
        if not exact and self._ticks % self.pss_every:
            if sum(_rss_kb(p) for p in self._processes) <= self.limit_kb:
                return largest
            self._processes = _tree(self.pid)  # past the limit by the cheap count: measure properly
        return max(largest, sum(_pss_kb(p) for p in self._processes))

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.peak_kb = max(self.peak_kb, self._sample())
            self._ticks += 1
            if self.peak_kb > self.limit_kb and not self.killed:
                self.killed = True
                for process in reversed(_tree(self.pid)):
                    try:
                        process.send_signal(signal.SIGKILL)
                    except Exception:
                        pass

    def stop(self) -> float:
        self.peak_kb = max(self.peak_kb, self._sample(exact=True))
        self._stop_event.set()
        return self.peak_kb / 1024


# ------------------------------------------------------------------ the executor

class _Unsandboxed:
    """``mi-grade --unsandboxed``: the same channel, a plain kernel, no isolation (said in the report)."""

    uid = None

    def __init__(self, workdir):
        self.root = Path(tempfile.mkdtemp(prefix="mi-grade-"))
        self.inbox = self.root / "inbox"
        self.inbox.mkdir()
        self.workdir = Path(workdir) if workdir else self.root

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class GradingClient(NotebookClient):
    """nbclient with a cap on the output it keeps, and no display update reaching a graded cell."""

    protected: set = set()

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in (content.get("data") or {}).values()) \
            + sum(len(str(v)) for v in (content.get("traceback") or []))
        used = self._output_used.get(cell_index, 0)
        total = sum(self._output_used.values())
        if used + size > MAX_CELL_OUTPUT or total + size > MAX_NOTEBOOK_OUTPUT:
            if cell_index not in self._truncated:
                self._truncated.add(cell_index)
                outs.append(nbformat.v4.new_output("stream", name="stdout",
                                                   text="[the grader kept no more of this cell's output]\n"))
            return None
        self._output_used[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)

    def _update_display_id(self, display_id, msg):
        for cell_index in list(self._display_id_map.get(display_id, {})):
            if cell_index in self.protected:
                del self._display_id_map[display_id][cell_index]
        return super()._update_display_id(display_id, msg)


@dataclass
class Execution:
    """What executing a notebook cost, and the cells that could not finish."""

    seconds: float
    peak_memory_mb: float
    restarts: int
    failed_cells: dict[int, tuple[str, str]]  # cell index -> (verdict, why)


class _OutOfTime(Exception):
    """The whole notebook ran past its total limit."""


def execute(nb, *, judge: Callable[[int, "nbformat.NotebookNode", KernelChannel], None], graded: set[int], cell_timeout: float = CELL_TIMEOUT_S,
            memory_limit_mb: float = MEMORY_LIMIT_MB, total_timeout: float = TOTAL_TIMEOUT_S,
            workdir: str | Path | None = None, sandboxed: bool = True) -> Execution:
    """Execute ``nb`` in place in a sandboxed kernel; at each cell in ``graded``, call ``judge`` instead.

    ``judge(index, cell, channel)`` decides the cell's outcome in this process and
    sets its outputs; the cell itself never reaches the kernel. A cell (or a
    judge) that runs past ``cell_timeout``, pushes the kernel past
    ``memory_limit_mb`` or kills it is recorded in ``failed_cells``; the kernel is
    restarted, the cells before it run again (except those in ``graded``, whose
    outcomes already count) and execution goes on after it.
    """
    started = time.perf_counter()
    failed: dict[int, tuple[str, str]] = {}
    peak_mb, restarts, position = 0.0, 0, 0
    while position < len(nb.cells) and restarts <= MAX_RESTARTS:
        box = Sandbox(workdir=workdir) if sandboxed else _Unsandboxed(workdir)
        client = GradingClient(nb, timeout=cell_timeout, allow_errors=True, interrupt_on_timeout=False,
                               resources={"metadata": {"path": str(getattr(box, "scratch", box.workdir))}},
                               record_timing=False, shutdown_kernel="immediate",
                               kernel_name="python3")
        client._output_used, client._truncated = {}, set()
        client.protected = set(graded)
        env = None
        if sandboxed:
            client.km = SandboxedKernelManager(kernel_name="python3")
            client.km.sandbox = box
        else:
            client.km = AsyncKernelManager(kernel_name="python3")
            env = {**os.environ, "MI_SANDBOX_INBOX": str(box.inbox)}
        # a message larger than this from the kernel cuts its connection instead of filling our memory
        client.km.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        watch = None
        index = 0
        try:
            with client.setup_kernel(**({"env": env} if env else {})):
                _drop_unreadable_messages(client.kc)
                channel = KernelChannel(client, box.inbox)
                watch = MemoryWatch(_kernel_pid(client) or 0, memory_limit_mb)
                if watch.pid:
                    watch.start()
                try:
                    for index, cell in enumerate(nb.cells):
                        if cell.cell_type != "code" or index in failed:
                            continue
                        if index < position and index in graded:
                            continue  # replaying after a restart: this cell's outcome is already kept
                        if time.perf_counter() - started > total_timeout:
                            raise _OutOfTime
                        if index in graded:
                            channel.deadline = time.monotonic() + cell_timeout
                            judge(index, cell, channel)
                        else:
                            client.execute_cell(cell, index)
                        position = max(position, index + 1)
                    position = len(nb.cells)
                except _OutOfTime:
                    position = len(nb.cells)
                    why = f"was not run: the notebook passed the total limit of {total_timeout:.0f} s"
                    failed.update({i: ("timed out", why) for i in range(index, len(nb.cells)) if i in graded})
                except (CellTimeoutError, DeadKernelError, KernelDied, RemoteTimeout, Exception) as exc:
                    # Exception: whatever else nbclient raises on a kernel gone wrong is that cell's crash
                    if os.environ.get("MI_GRADER_DEBUG"):  # for course authors: what ended the cell
                        import traceback
                        traceback.print_exc()
                    if watch is not None and watch.killed:
                        failed[index] = ("out of memory", f"used more than {memory_limit_mb:.0f} MB of memory")
                    elif isinstance(exc, (CellTimeoutError, RemoteTimeout)):
                        failed[index] = ("timed out", f"ran longer than {cell_timeout:.0f} s")
                    else:
                        failed[index] = ("crashed", "crashed the kernel (exit, abort or segfault)")
                    position = max(position, index + 1)
                    restarts += 1
        except (DeadKernelError, RuntimeError, KernelDied) as exc:  # the kernel could not even start
            failed.setdefault(index, ("crashed", f"could not be run: the kernel did not start ({exc})"))
            position = max(position, index + 1)
            restarts += 1
        finally:
            if watch is not None:
                peak_mb = max(peak_mb, watch.stop())
            box.close()
    return Execution(time.perf_counter() - started, peak_mb, restarts, failed)


def _drop_unreadable_messages(kc) -> None:
    """Messages from the kernel that fail their signature or do not parse are dropped, not raised.

    The learner's code shares the kernel's sockets: a forked child, or a cell
    writing to them, can send garbage, which must not stop the grader.
    """
    for channel in (kc.iopub_channel, kc.shell_channel):
        receive = channel.get_msg

        async def get_msg(*args, _receive=receive, **kwargs):
            for _ in range(10_000):
                try:
                    return await ensure_async(_receive(*args, **kwargs))
                except ValueError:
                    continue
            raise DeadKernelError("the kernel sends only unreadable messages")

        channel.get_msg = get_msg


def _kernel_pid(client: NotebookClient) -> int | None:
    provisioner = getattr(client.km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    return getattr(process, "pid", None)


# ------------------------------------------------------------------ verdicts as outputs

def verdict_outputs(verdict: Verdict) -> list:
    """A verdict as a test cell's outputs: nbgrader gives full points to a cell without an error."""
    if verdict.verdict == PASSED:
        return [nbformat.v4.new_output("stream", name="stdout", text=verdict.message + "\n")]
    return [nbformat.v4.new_output("error", ename="ExerciseFailed", evalue=verdict.message,
                                   traceback=verdict.message.splitlines())]


class Judge:
    """The trusted verdicts of one notebook: the course's test cells, run here against the kernel."""

    def __init__(self, reference, tests: dict[int, tuple[Exercise, str]]):
        self.namespace = prelude(setup_source(reference))
        self.tests = tests
        self.verdicts: dict[int, Verdict] = {}

    def __call__(self, index: int, cell, channel: KernelChannel) -> None:
        if index not in self.tests:  # a test cell already judged without running (tampered)
            return
        ex, source = self.tests[index]
        verdict = run_check(ex, source, self.namespace, channel)
        self.verdicts[index] = verdict
        cell.outputs = verdict_outputs(verdict)
        cell.execution_count = None


# ------------------------------------------------------------------ grading one notebook

def grade_notebook(path: str | Path, *, reference: str | Path | None = None,
                   cell_timeout: float = CELL_TIMEOUT_S, memory_limit_mb: float = MEMORY_LIMIT_MB,
                   total_timeout: float = TOTAL_TIMEOUT_S, sandboxed: bool = True) -> Grade:
    """Execute a copy of the notebook at ``path`` in a sandbox and grade every exercise in it.

    ``reference`` is the notebook whose test cells count (by default the course's
    release notebook with the same exercises). A solution notebook is its own
    reference, so that its hidden tests run too.
    """
    path = Path(path)
    nb = read_notebook(path)
    ref = read_notebook(reference) if reference else reference_for(nb)

    tests = {grade_id(c): c for c in ref.cells if is_test_cell(c) and exercise_of(grade_id(c))}
    mine: dict[str, list] = {}
    for cell in nb.cells:
        if grade_id(cell):
            mine.setdefault(grade_id(cell), []).append(cell)
    answers = {grade_id(c) for c in nb.cells if is_answer_cell(c)}

    results: dict[str, Result] = {}
    for gid, ref_cell in tests.items():
        ex = exercise_of(gid)
        cells = mine.get(gid, [])
        answer_id = gid[len("test_"):]
        if not cells:
            results[ex.id] = Result(ex, "tampered", 0, f"✘ {ex.title}: its test cell was deleted.")
        elif len(cells) > 1:
            results[ex.id] = Result(ex, "tampered", 0, f"✘ {ex.title}: its test cell appears {len(cells)} "
                                    "times, so it earns nothing. Keep the course's one copy.")
        elif not is_test_cell(cells[0]) or visible_source(cells[0].source) != visible_source(ref_cell.source):
            results[ex.id] = Result(ex, "tampered", 0, f"✘ {ex.title}: its test cell was edited, "
                                    "so it earns nothing. Restore the cell from the course's notebook.")
        elif answer_id not in answers:
            results[ex.id] = Result(ex, "tampered", 0,
                                    f"✘ {ex.title}: its answer cell is missing or lost its grading metadata.")

    plan = copy.deepcopy(nb)  # what actually runs
    judged: dict[int, tuple[Exercise, str]] = {}
    for index, cell in enumerate(plan.cells):
        gid = grade_id(cell)
        if cell.get("cell_type") == "code":
            cell.outputs, cell.execution_count = [], None
        if gid in tests or (gid and gid.startswith("test_")) or is_test_cell(cell):
            ex = exercise_of(gid)
            if ex is not None and ex.id not in results and gid in tests:
                judged[index] = (ex, tests[gid].source)
            cell.cell_type, cell.source = "code", "pass  # a test cell: graded by the grader, not run here"
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)

    judge = Judge(ref, judged)
    run = execute(plan, judge=judge, graded=set(judged), cell_timeout=cell_timeout,
                  memory_limit_mb=memory_limit_mb, total_timeout=total_timeout,
                  workdir=path.parent.resolve(), sandboxed=sandboxed)
    skip = run.failed_cells

    for index, (ex, _) in judged.items():
        if index in skip:
            verdict, why = skip[index]
            results[ex.id] = Result(ex, verdict, 0, f"✘ {ex.title}: the check {why}.")
        elif index in judge.verdicts:
            v = judge.verdicts[index]
            results[ex.id] = Result(ex, v.verdict, ex.points if v.verdict == PASSED else 0, v.message)
        else:
            results[ex.id] = Result(ex, "crashed", 0,
                                    f"✘ {ex.title}: not graded, the kernel kept crashing before it.")

    problems = [f"cell {i + 1} {why}" for i, (_, why) in sorted(skip.items())]
    ordered = sorted(results.values(), key=lambda r: int(r.exercise.id.split(".")[1]))
    return Grade(path, ordered, run.seconds, run.peak_memory_mb, run.restarts, problems, sandboxed)


__all__ += ["FAILED", "NOT_ATTEMPTED", "PASSED", "Judge", "verdict_outputs", "MemoryWatch"]
