"""Hostile submissions against both graders (COURSE_SPEC section 6): tampered exercises earn nothing,
the others keep their points, no other submission is touched, and learner code cannot write the
gradebook, other submissions, the course's source or package, reach the network, or leave a process
behind.

One module-scoped fixture grades every kind of :mod:`hostile` by both graders (but for attacks on the checks from
inside the kernel, which meet the same defence under both: nbgrader grades all of them, mi-grade two; see
``hostile.IN_THE_KERNEL``):

- in a temporary nbgrader classroom built like tests/test_nbgrader.py's: an honest student is
  autograded first, alone; then the hostile submissions in NBGRADER_JOBS runs side by side, each grading its
  share of the kinds on its own copy of the gradebook (the honest student excluded, so that a gradebook
  rewritten later shows as a changed earlier grade, in the course's gradebook or in a copy): one share by
  ``nbgrader autograde``, the other by ``python -m mi_helpers.batch``, whose grader process serves one
  student after another and merges each into the copy;
- with ``mi-grade`` (``python -m mi_helpers.cli``), one subprocess per kind, two at a time, beside the
  nbgrader runs; the kinds that write shared files (``Kind.last``) are graded after it, one at a time,
  so that a grader that lets them write cannot change the grades of other kinds.

Every grader runs under a small reaper (REAPER below), in a PID namespace of its own where the
machine allows it (root: ``unshare --pid``): the reaper reports the processes that outlived their
parent or the grader, then kills them, and ``kill(-1)`` from a submission cannot reach beyond the
namespace. Before and after, the test hashes every file git tracks in the repository, every file of
the package, and the classroom's source/, release/ and the honest student's files, and lists the
machine's processes.

What changed is blamed on the phase it changed in: nbgrader on every kind together with mi-grade on
the kinds that write no shared file, then mi-grade on each kind that does, alone. After each phase the
files and the honest student's grade are put back, so that the next phase starts clean.

WARNING. Against a grader that does not sandbox the learner's kernel these attacks really happen:
files of the repository are overwritten (the fixture puts them back after each phase, from its copy
taken at the start, and keeps the damaged versions in its temporary folder: an edit made by hand
during the run to such a file is in that folder too), processes are flooded, /tmp gets 1 GB files.
Unless the graders are sandboxed, run it on a throwaway clone: the graders get PYTHONPATH=<the
clone>, which an unsandboxed kernel inherits; a sandboxed kernel imports mi_helpers the way the
environment was installed, so give the clone its own ``pip install -e .``.

Options, for speed: a cell may run CELL_TIMEOUT_S seconds under both graders; every hostile loop is
bounded. The module is bound by CPU: with one nbgrader run beside two mi-grade runs, the nbgrader run was
the last to end, alone on one core for a minute.
"""
from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, SOLUTIONS, notebook_path
from hostile import EXERCISES, FULL, KINDS, TEST, Context, Kind
from mi_helpers import batch
from mi_helpers.batch import copy_gradebook
from mi_helpers.release import nbgrader_env
from submissions import NB, solved

pytestmark = pytest.mark.notebooks

CELL_TIMEOUT_S = 20  # per cell, both graders
MI_TOTAL_TIMEOUT_S = 300  # mi-grade --total-timeout
MI_LIMIT_S = 420  # an mi-grade run is killed after this
NBGRADER_LIMIT_S = 1800  # the nbgrader run of all hostile submissions is killed after this
GRACE_S = 5  # a process alive this long after its parent (or the grader) ended was left behind
WORKERS = 2  # mi-grade runs at a time
NBGRADER_JOBS = 2  # nbgrader runs at a time, each on its own copy of the gradebook (nbgrader autograde, batch)
# kinds that wait out a cell's time-out or flood the grader: dealt out first, one to each nbgrader run
SLOW = ("exits_loops_and_memory", "stops_its_process_group", "output_flood", "process_flood")
GRADERS = ("mi-grade", "nbgrader")
FIRST_PHASE = "nbgrader and mi-grade"
NAME = notebook_path(SOLUTIONS, NB).stem  # 00_orientation: the assignment and notebook name

REAPER = r'''
"""Run a grader as my child; report the processes it or its children left behind, then kill them.

argv: REPORT LIMIT GRACE -- COMMAND...  I am a child subreaper (pid 1 when in a PID namespace), so
every orphan below me comes to me: one that stays alive GRACE seconds was left behind.
"""
import ctypes, json, os, signal, subprocess, sys, time

report, limit, grace = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
command = sys.argv[5:]
ME = os.getpid()
try:
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
except Exception:
    pass


def processes():
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read().decode(errors="replace")
                fields = stat[stat.rindex(")") + 2:].split()
                found[int(name)] = (fields[0], int(fields[1]), int(fields[19]))  # state, ppid, start
            except (OSError, ValueError, IndexError):
                pass
    return found


def below_me(table):
    children = {}
    for pid, (_, ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    alive, todo = [], list(children.get(ME, []))
    while todo:
        pid = todo.pop()
        if table[pid][0] not in "ZX":
            alive.append(pid)
        todo.extend(children.get(pid, []))
    return alive


def describe(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmdline = "?"
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        cwd = "?"
    return {"pid": pid, "cmdline": " ".join(cmdline.split())[:200], "cwd": cwd}


def reap(result, grader):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid == grader.pid:
            result["rc"] = os.waitstatus_to_exitcode(status)
            grader.returncode = result["rc"]


started = time.monotonic()
grader = subprocess.Popen(command)
result = {"rc": None, "timed_out": False, "contained": ME == 1}
seen, left, ended = {}, {}, None
while True:
    reap(result, grader)
    now = time.monotonic()
    if result["rc"] is None and now - started > limit and not result["timed_out"]:
        result["timed_out"] = True
        os.kill(grader.pid, signal.SIGKILL)
    table = processes()
    for pid, (state, ppid, start) in table.items():
        if ppid == ME and pid != grader.pid and state not in "ZX":  # an orphan that came to me
            first = seen.setdefault((pid, start), now)
            if now - first >= grace and (pid, start) not in left:
                left[(pid, start)] = describe(pid)
    if result["rc"] is not None:
        ended = ended or now
        alive = below_me(table)
        if not alive or now - ended >= grace:
            for pid in alive:
                left.setdefault((pid, table[pid][2]), describe(pid))
            break
    time.sleep(0.5 if len(table) < 300 else 2.0)

for _ in range(100):  # stop, then kill, whatever is left below me, by pid
    alive = below_me(processes())
    if not alive:
        break
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in alive:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    time.sleep(0.05)
    reap(result, grader)
result["left"] = list(left.values())
result["seconds"] = time.monotonic() - started
with open(report, "w") as f:
    json.dump(result, f)
'''


# ------------------------------------------------------------------ running a grader under the reaper

@dataclass
class Run:
    """One grader process: how it ended, what it printed, what it left behind."""

    rc: int | None
    timed_out: bool
    seconds: float
    left: list[dict]
    stdout: str
    stderr: str

    def ended(self) -> str:
        if self.timed_out:
            return "was killed after running too long"
        if self.rc is None:
            return "did not report how it ended"
        if self.rc < 0:
            return f"was killed by {signal.Signals(-self.rc).name}"
        return f"exited with {self.rc}"


def containment() -> list[str]:
    """The command prefix that puts a grader in a PID namespace of its own, or [] where none is allowed.

    Only as root: an unprivileged user namespace would make the grader believe it is root."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return []
    prefix = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
    try:
        ok = subprocess.run(prefix + ["true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return prefix if ok else []


def tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_contained(world: "World", command: list[str], folder: Path, limit: float) -> Run:
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / "reaper.json"
    launcher = world.contain + [sys.executable, str(world.reaper), str(report), str(limit), str(GRACE_S), "--",
                                *command]
    with open(folder / "stdout", "wb") as out, open(folder / "stderr", "wb") as err:
        try:
            subprocess.run(launcher, cwd=ROOT, env=world.env, stdout=out, stderr=err, timeout=limit + 120)
        except subprocess.TimeoutExpired:
            pass
    data = json.loads(report.read_text()) if report.exists() else {"rc": None, "timed_out": True, "left": []}
    read = lambda name: (folder / name).read_text(errors="replace")[-200_000:]  # noqa: E731
    return Run(data["rc"], data["timed_out"], data.get("seconds", 0.0), data["left"], read("stdout"), read("stderr"))


# ------------------------------------------------------------------ what the world looks like

def sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def watched_files(course: Path) -> dict[str, Path]:
    """Every file git tracks in the repository, every file of the package, the classroom's source/ and
    release/, and the honest student's submitted and autograded files."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = {f"repo/{p}": ROOT / p for p in listed.decode().split("\0") if p}
    for path in (ROOT / "mi_helpers").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            files[f"repo/{path.relative_to(ROOT)}"] = path
    for folder in ("source", "release", "submitted/honest", "autograded/honest"):
        for path in (course / folder).rglob("*"):
            if path.is_file():
                files[f"course/{path.relative_to(course)}"] = path
    return files


def machine_processes() -> dict[tuple[int, float], dict]:
    import psutil

    found = {}
    for p in psutil.process_iter(["pid", "ppid", "create_time", "status", "cmdline"]):
        found[(p.info["pid"], p.info["create_time"])] = p.info
    return found


def gradebook_rows(db: Path, student: str) -> dict:
    """cell name -> (auto_score, manual_score, extra_credit) of one student's notebook, or {"error": ...}."""
    from nbgrader.api import Gradebook

    try:
        with Gradebook(f"sqlite:///{db}") as gb:
            sub = gb.find_submission_notebook(NAME, NAME, student)
            return {g.name: (g.auto_score, g.manual_score, g.extra_credit) for g in sub.grades}
    except Exception as exc:  # noqa: BLE001 - a missing submission is an answer too
        return {"error": f"{type(exc).__name__}: {exc}"}


def points_from_rows(rows: dict) -> dict[str, float | None] | None:
    if "error" in rows:
        return None
    points = {}
    for ex in EXERCISES:
        auto, manual, extra = rows.get(TEST[ex.id], (None, None, None))
        base = manual if manual is not None else auto
        points[ex.id] = None if base is None else base + (extra or 0)
    return points


def nbgrader_errors(log: str) -> dict[str, str]:
    """student id -> the exception nbgrader logged when it could not grade that student's submission."""
    found, student = {}, None
    for line in log.splitlines():
        if "There was an error processing assignment:" in line:
            student = Path(line.split(":", 1)[1].strip()).parent.name
            found[student] = "nbgrader could not grade it"
        elif line.startswith("[") and "Traceback" not in line:
            student = None
        elif student is not None and line.strip().strip("^~ "):  # the traceback's last line: the exception
            found[student] = f"nbgrader could not grade it: {line.strip()}"
    return found


def restore_rows(db: Path, student: str, rows: dict) -> None:
    """Put one student's grades back as they were (the test's repair after a phase that changed them)."""
    from nbgrader.api import Gradebook

    if "error" in rows:
        return
    with Gradebook(f"sqlite:///{db}") as gb:
        for grade in gb.find_submission_notebook(NAME, NAME, student).grades:
            if grade.name in rows:
                grade.auto_score, grade.manual_score, grade.extra_credit = rows[grade.name]
        gb.db.commit()


class Listener:
    """A TCP server on 127.0.0.1 in the test process; a submission that reaches it had network."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.contacts: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    said = conn.recv(200).decode(errors="replace").strip()
                except OSError:
                    said = ""
                self.contacts.append(said or f"someone at {peer}")
                try:
                    conn.sendall(b"ok\n")
                except OSError:
                    pass

    def close(self):
        self.sock.close()


@dataclass
class Outcome:
    """One kind under one grader."""

    points: dict[str, float | None] | None  # None: no grade at all
    run: Run | None
    left: list[dict] = field(default_factory=list)  # processes it left behind
    note: str = ""


@dataclass
class World:
    ctx: Context
    course: Path
    tmp: Path
    env: dict
    contain: list[str]
    reaper: Path
    outcomes: dict = field(default_factory=dict)  # (kind name, grader) -> Outcome
    skipped: dict = field(default_factory=dict)  # kind name -> why
    # What changed, by phase: FIRST_PHASE (nbgrader on every kind, beside mi-grade on the kinds that
    # write no shared file), then "mi-grade <kind>" for each kind graded last. Files and the honest grade are put
    # back after each phase.
    damage: dict = field(default_factory=dict)  # phase -> {"repo/..." or "course/...": how}
    honest_damage: dict = field(default_factory=dict)  # phase -> [str]
    honest_first: dict = field(default_factory=dict)
    contacts: list = field(default_factory=list)
    unattributed_left: list = field(default_factory=list)
    machine_left: list = field(default_factory=list)
    nbgrader_runs: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)

    def phase_of(self, kind: Kind, grader: str) -> str:
        return f"mi-grade {kind.name}" if grader == "mi-grade" and kind.last else FIRST_PHASE

    def changed_in(self, kind: Kind, grader: str) -> dict[str, str]:
        return self.damage.get(self.phase_of(kind, grader), {})

    def honest_changes(self, kind: Kind, grader: str) -> list[str]:
        return self.honest_damage.get(self.phase_of(kind, grader), [])

    @property
    def changed(self) -> dict[str, str]:
        return {f"{key} ({phase})": how for phase, files in self.damage.items() for key, how in files.items()}

    @property
    def honest_problems(self) -> list[str]:
        return [f"{p} ({phase})" for phase, problems in self.honest_damage.items() for p in problems]

    def check_and_repair(self, phase: str, before: dict, backup: dict) -> None:
        """Record what changed since ``before`` (files, the honest student's grade) during ``phase``,
        then put it back, so that the next phase is graded, and blamed, on its own."""
        after = {key: sha(path) for key, path in watched_files(self.course).items()}
        changed = {}
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                changed[key] = ("added" if before.get(key) is None else
                                "deleted" if after.get(key) is None else "modified")
        if changed:
            self.damage[phase] = changed
        before.update({key: after[key] for key, how in changed.items() if how == "added"})  # reported once
        for key in changed:
            if key in backup:
                path = ROOT / key[len("repo/"):] if key.startswith("repo/") else self.course / key[len("course/"):]
                if path.exists():  # keep the damaged version
                    keep = self.tmp / "damaged" / phase.replace(" ", "_") / key
                    keep.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, keep)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(backup[key])
        self.check_honest_grade(phase, self.course / "gradebook.db", repair=True)

    def check_honest_grade(self, phase: str, db: Path, *, repair: bool = False) -> None:
        """Record it if the honest student's grade in ``db`` is not the first one, and put it back if asked."""
        rows = gradebook_rows(db, "honest")
        if rows != self.honest_first:
            diff = ", ".join(f"{cell} {self.honest_first.get(cell)} -> {rows.get(cell)}"
                             for cell in sorted(set(rows) | set(self.honest_first))
                             if rows.get(cell) != self.honest_first.get(cell))
            where = "" if db == self.course / "gradebook.db" else f" in the copy {db.name}"
            self.honest_damage.setdefault(phase, []).append(
                f"the honest student's grade{where} changed (auto, manual, extra): {diff}")
            if repair:
                restore_rows(db, "honest", self.honest_first)

    def problems(self, kind: Kind, grader: str) -> list[str]:
        """Everything that shows the kind did not hold under this grader."""
        out = self.outcomes.get((kind.name, grader))
        if out is None:
            return [f"{grader} did not grade it"]
        found = []
        run = out.run
        if grader == "mi-grade" and run is not None:
            if run.timed_out or run.rc is None or run.rc not in (0, 1, 2):
                found.append(f"mi-grade {run.ended()}:\n{tail(run.stdout + run.stderr)}")
            elif run.rc == 2 and kind.gradable:
                found.append(f"mi-grade refused to grade it: {tail(run.stderr, 3)}")
            elif not kind.gradable and run.rc != 2:
                found.append(f"mi-grade should refuse this notebook (exit 2), it {run.ended()}")
            if not kind.gradable and "Traceback" in run.stderr:
                found.append(f"mi-grade refused it with a traceback:\n{tail(run.stderr)}")
        points = out.points
        if points is None and kind.gradable:
            found.append(f"{grader} gave no grade" + (f": {out.note}" if out.note else ""))
        else:
            if kind.gradable and None in points.values() and out.note:
                found.append(out.note)  # why nbgrader has no score for it
            for ex in EXERCISES:
                got = (points or {}).get(ex.id)
                if got is None and not kind.gradable:
                    got = 0
                want = kind.expected[ex.id]
                if got != want:
                    shown = "no score (not graded, or left for manual grading)" if got is None else f"{got:g} points"
                    found.append(f"{ex.title}: {shown}, expected {want}")
        counted = collections.Counter(f"{e['cmdline']} (cwd {e['cwd']})" for e in out.left)
        found += [f"left {n} process{'es' if n > 1 else ''} behind: {what}" for what, n in counted.most_common(5)]
        if kind.post is not None:
            found += kind.post(self, kind, grader)
        return found


# ------------------------------------------------------------------ the fixture

def nbgrader_command(course: Path, *args: str, db: Path | None = None) -> list[str]:
    return batch.nbgrader_command(course, db or course / "gradebook.db", *args)


def shares(kinds: list[Kind], n: int) -> list[list[Kind]]:
    """The kinds dealt out to n nbgrader runs, the SLOW ones first, so that no run gets two of them before another
    gets one."""
    ordered = sorted(kinds, key=lambda k: k.name not in SLOW)
    return [sorted(ordered[j::n], key=lambda k: k.index) for j in range(n)]


def write_submission(content, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, (bytes, bytearray)):
        path.write_bytes(content)
    else:
        nbformat.write(content, path)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    started = time.perf_counter()
    tmp = tmp_path_factory.mktemp("hostile")
    course = tmp_path_factory.mktemp("hostile-course")
    listener = Listener()
    token = uuid.uuid4().hex[:12]
    contain = containment()
    reaper = tmp / "reaper.py"
    reaper.write_text(REAPER)
    env = nbgrader_env()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    # three graders side by side on two cores: torch on one thread each (limit_threads honours it, and the
    # sandbox passes it on to the kernel), or their threads spin against each other
    env["OMP_NUM_THREADS"] = "1"
    env["MI_HOSTILE_TOKEN"] = token  # marks every process the graders start (unless a sandbox clears it)
    copies = tuple(tmp / "gradebooks" / f"share{j}.db" for j in range(NBGRADER_JOBS))
    ctx = Context(course=course, port=listener.port, token=token, contained=bool(contain), gradebooks=copies)
    w = World(ctx, course, tmp, env, contain, reaper)
    processes_before = set(machine_processes())

    # The classroom: source = solutions/00, generated; the honest student graded first, alone.
    (course / "source" / NAME).mkdir(parents=True)
    shutil.copy(SOLUTIONS / f"{NAME}.ipynb", course / "source" / NAME)
    done = subprocess.run(nbgrader_command(course, "generate_assignment", NAME, "--force"), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"nbgrader generate_assignment failed:\n{done.stdout}\n{done.stderr}"
    write_submission(solved(), course / "submitted" / "honest" / NAME / f"{NAME}.ipynb")
    honest_run = run_contained(w, nbgrader_command(course, "autograde", NAME, "--student=honest", "--create",
                                                   "--force", f"--ResilientExecute.timeout={CELL_TIMEOUT_S}"),
                               tmp / "runs" / "nbgrader-honest", NBGRADER_LIMIT_S)
    w.honest_first = gradebook_rows(course / "gradebook.db", "honest")
    w.unattributed_left += honest_run.left
    files = watched_files(course)
    before = {key: sha(path) for key, path in files.items()}
    backup = {key: path.read_bytes() for key, path in files.items() if path.is_file()}
    w.seconds["setup"] = time.perf_counter() - started

    # One submission per kind, for each grader.
    kinds = []
    for k in KINDS:
        if k.needs_containment and not contain:
            w.skipped[k.name] = "the graders cannot be put in a PID namespace here (needs root and unshare)"
            continue
        write_submission(k.notebook(ctx, "nbgrader"), course / "submitted" / k.student / NAME / f"{NAME}.ipynb")
        if "mi-grade" in k.graders:
            write_submission(k.notebook(ctx, "mi-grade"), tmp / "solo" / k.student / f"{NAME}.ipynb")
        kinds.append(k)

    def nbgrader_share(j: int, share: list[Kind]):
        """One share of the kinds, on a copy of the gradebook: the even shares by ``nbgrader autograde``, the odd
        ones by ``python -m mi_helpers.batch`` (a grader process that takes one student at a time and merges
        each into the copy), the two ways an instructor grades a class."""
        t0 = time.perf_counter()
        db = copy_gradebook(course / "gradebook.db", copies[j])
        timeout = f"--ResilientExecute.timeout={CELL_TIMEOUT_S}"
        if j % 2 == 0:
            others = ["honest"] + [k.student for k in kinds if k not in share]
            command = nbgrader_command(course, "autograde", NAME, "--create", "--force",
                                       f"--CourseDirectory.student_id_exclude={','.join(others)}", timeout, db=db)
        else:
            command = [sys.executable, "-m", "mi_helpers.batch", NAME, f"--course={course}", f"--db={db}",
                       "--jobs=1", timeout, "--only", *[k.student for k in share]]
        run = run_contained(w, command, tmp / "runs" / f"nbgrader-share{j}", NBGRADER_LIMIT_S)
        w.nbgrader_runs.append(run)
        errors = nbgrader_errors(run.stdout + "\n" + run.stderr)  # mi_helpers.batch prints a failed student's log
        for k in share:
            rows = gradebook_rows(db, k.student)
            why = errors.get(k.student) or (f"nbgrader {run.ended()} before or while grading it"
                                            if run.rc != 0 else "")
            left = [e for e in run.left if f"/{k.student}/" in e["cwd"] + " " + e["cmdline"]]
            w.outcomes[(k.name, "nbgrader")] = Outcome(points_from_rows(rows), run, left, why)
        w.unattributed_left += [e for e in run.left if not any(f"/{k.student}/" in e["cwd"] + " " + e["cmdline"]
                                                               for k in share)]
        w.check_honest_grade(FIRST_PHASE, db)  # the copy this run wrote: the honest student's grade is unchanged
        w.seconds[f"nbgrader {'autograde' if j % 2 == 0 else 'batch'} {j + 1}"] = time.perf_counter() - t0

    def mi_grade(k: Kind):
        folder = tmp / "runs" / f"mi-grade-{k.student}"
        report = folder / "grade.json"
        run = run_contained(w, [sys.executable, "-m", "mi_helpers.cli", str(tmp / "solo" / k.student / f"{NAME}.ipynb"),
                                "--json", str(report), "--timeout", str(CELL_TIMEOUT_S),
                                "--total-timeout", str(MI_TOTAL_TIMEOUT_S)], folder, MI_LIMIT_S)
        points, note = None, ""
        if report.exists():
            try:
                points = {e["id"]: e["points"] for e in json.loads(report.read_text())["exercises"]}
            except (ValueError, KeyError) as exc:
                note = f"its JSON report is unreadable ({exc})"
        else:
            note = f"mi-grade {run.ended()}: {tail(run.stderr, 3)}"
        w.outcomes[(k.name, "mi-grade")] = Outcome(points, run, run.left, note)

    # Two phases, each checked and repaired before the next: first nbgrader on every kind (NBGRADER_JOBS runs)
    # and, beside it, mi-grade on the kinds that write no shared file, two at a time (four graders on two
    # cores keep both busy to the end); then mi-grade on the kinds that write shared files, one at a time, alone. A grader
    # that let a kind of the first phase write the package could change the grades of kinds graded
    # beside it: the test then fails on the changed files, blamed on the first phase as a whole.
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WORKERS + NBGRADER_JOBS) as pool:
        nbgrader_done = [pool.submit(nbgrader_share, j, share) for j, share in enumerate(shares(kinds, NBGRADER_JOBS))]
        for done in [pool.submit(mi_grade, k) for k in kinds if not k.last and "mi-grade" in k.graders]:
            done.result()
        w.seconds["mi-grade"] = time.perf_counter() - t0
        for done in nbgrader_done:
            done.result()
    w.check_and_repair(FIRST_PHASE, before, backup)
    t1 = time.perf_counter()
    for k in kinds:
        if k.last and "mi-grade" in k.graders:
            mi_grade(k)
            w.check_and_repair(f"mi-grade {k.name}", before, backup)
    w.seconds["mi-grade, last kinds"] = time.perf_counter() - t1
    w.seconds["grading"] = time.perf_counter() - t0

    # After: the network, processes.
    time.sleep(GRACE_S)
    w.contacts = list(listener.contacts)
    import psutil

    for key, info in machine_processes().items():
        if key in processes_before or info["status"] == psutil.STATUS_ZOMBIE or info["pid"] == os.getpid():
            continue
        try:
            marked = psutil.Process(info["pid"]).environ().get("MI_HOSTILE_TOKEN") == token
        except (psutil.Error, OSError):
            marked = False
        if marked:
            w.machine_left.append(info)
    w.seconds["total"] = time.perf_counter() - started

    yield w

    # Remove what attacks left in /tmp (the repository was put back after each phase).
    listener.close()
    for leftover in Path("/tmp").glob(f"mi_hostile_fill_{token}*"):
        leftover.unlink(missing_ok=True)
    for info in w.machine_left:  # started by this test's graders and still alive: end them, by pid
        try:
            os.kill(info["pid"], signal.SIGKILL)
        except OSError:
            pass


# ------------------------------------------------------------------ the tests

PAIRS = [(k, grader) for k in KINDS for grader in GRADERS if grader in k.graders]


@pytest.mark.parametrize(("kind", "grader"), PAIRS, ids=[f"{k.name}-{grader}" for k, grader in PAIRS])
def test_kind_holds(world, kind, grader):
    if kind.name in world.skipped:
        pytest.skip(world.skipped[kind.name])
    problems = world.problems(kind, grader)
    assert not problems, (f"{kind.name} ({kind.family}) did not hold under {grader}.\n{kind.doc}\n"
                          + "\n".join("  - " + p for p in problems))


def test_honest_student_graded_first_and_never_changed(world):
    assert points_from_rows(world.honest_first) == FULL, f"the honest student's first grade: {world.honest_first}"
    assert not world.honest_problems, "\n".join(world.honest_problems)


def test_course_files_unchanged(world):
    assert not world.changed, "files changed while hostile submissions were graded:\n" + "\n".join(
        f"  {how}: {key}" for key, how in sorted(world.changed.items()))


def test_no_process_left_behind(world):
    left = [f"{grader} grading {name}: {e['cmdline']} (cwd {e['cwd']})"
            for (name, grader), out in sorted(world.outcomes.items()) for e in out.left]
    left += [f"nbgrader (no submission's): {e['cmdline']} (cwd {e['cwd']})" for e in world.unattributed_left]
    left += [f"still running on the machine: pid {i['pid']} {' '.join(i['cmdline'] or [])[:200]}"
             for i in world.machine_left]
    counted = collections.Counter(left)
    assert not left, f"{len(left)} processes outlived the grading:\n" + "\n".join(
        f"  {n} x {what}" for what, n in counted.most_common(40))


def test_summary(world, capsys):
    """Runs last (pytest keeps the file's order): one line when every kind held, else the list."""
    ran = [k for k in KINDS if k.name not in world.skipped]
    failing = {}
    for k in ran:
        for grader in k.graders:
            for problem in world.problems(k, grader):
                failing.setdefault(k.name, []).append(f"{grader}: {problem.splitlines()[0]}")
    general = []
    if world.changed:
        general.append(f"{len(world.changed)} watched files changed: " + ", ".join(sorted(world.changed)[:8]))
    general += world.honest_problems[:2]
    if world.unattributed_left or world.machine_left:
        general.append(f"{len(world.unattributed_left) + len(world.machine_left)} processes left behind "
                       "that no single submission can be blamed for")
    timing = ", ".join(f"{k} {v:.0f} s" for k, v in world.seconds.items())
    ran_as = f"{len(ran)} kinds in {sum(len(k.graders) for k in ran)} gradings"
    with capsys.disabled():
        print()
        print(f"{'kind':36} {'family':10} " + "  ".join(f"{g + ' ' + ' '.join(e.id for e in EXERCISES):26}"
                                                       for g in GRADERS))
        for k in ran:
            row = []
            for grader in GRADERS:
                outcome = world.outcomes.get((k.name, grader))
                points = outcome.points if outcome is not None else None
                row.append("(not graded by it)" if grader not in k.graders else "no grade" if points is None else
                           "  ".join("-" if points.get(e.id) is None else f"{points[e.id]:<3g}" for e in EXERCISES))
            print(f"{k.name:36} {k.family:10} " + "  ".join(f"{cell:26}" for cell in row))
        if not failing and not general:
            print(f"hostile submissions: {ran_as}, all held ({timing})")
        else:
            print(f"hostile submissions: {ran_as}, {len(failing)} did not hold ({timing})")
            for name, problems in failing.items():
                print(f"  {name}:")
                for problem in problems[:6]:
                    print(f"    - {problem}")
            for line in general:
                print(f"  ! {line}")
        for name, why in world.skipped.items():
            print(f"  (skipped {name}: {why})")
    assert not failing and not general, (f"{len(failing)} of {len(ran)} kinds did not hold: "
                                         + ", ".join(failing) + ("; " if general else "") + "; ".join(general))
