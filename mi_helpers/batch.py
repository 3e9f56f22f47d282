"""Grade a class on every core: nbgrader autograde in a few processes side by side, the gradebook written by one.

``nbgrader autograde ASSIGNMENT`` grades the students one after the other, and a notebook of this course
keeps about one core busy while it runs. ::

    python -m mi_helpers.batch 00_orientation              # every submitted student, one per core
    python -m mi_helpers.batch 00_orientation --jobs 4 --course classroom --ResilientExecute.timeout=60
    python -m mi_helpers.batch 00_orientation --only alice bob     # regrade two students

runs ``--jobs`` nbgrader processes side by side (default: one per core), from the repository root, so with the
course's nbgrader_config.py (the sandbox, the trusted judge, tampered cells flagged). Each grades one student at a
time with nbgrader's own Autograde converter, as ``nbgrader autograde ASSIGNMENT --student=ID`` would (the way the
formgrader's API calls it), and asks for the next student when it is done: one queue of students, so a process
that drew quick submissions is never left idle while another grades slow ones, and each process pays nbgrader's
start-up once. nbgrader keeps its gradebook in SQLite, which lets one connection write at a time; two nbgrader
processes writing the course's gradebook at once fail at random with "database is locked" (SQLite gives that
error at once, without waiting, to a transaction that read and then wants to write while another writes, so a
longer busy timeout does not cure it). So no nbgrader process here writes the course's gradebook: each gets a
copy of it, made when it starts, and as soon as it has graded a student this process copies that student's
submission, grades and comments from the copy into the course's gradebook, in one transaction. The course's
gradebook has one writer, this process; what ends in it is what sequential ``nbgrader autograde`` writes
(``--benchmark`` compares the two).

    python -m mi_helpers.batch --benchmark [--students 20] [--notebooks 00 04] [--jobs 2]

grades the same submissions (solution and learner versions, alternately) of each notebook both ways in two
scratch courses, sequential ``nbgrader autograde`` first, and prints both times, their ratio, and whether
every student got the same score on every graded cell.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .release import ROOT, nbgrader_env

# nbgrader's tables that hold a student's submission, in the order their rows refer to each other
SUBMISSION_TABLES = ("submitted_assignment", "submitted_notebook", "grade", "comment")


@dataclass
class StudentRun:
    student: str
    seconds: float
    returncode: int
    log: str


def nbgrader_options(course: Path, db: Path) -> list[str]:
    return [f"--CourseDirectory.root={course}", f"--CourseDirectory.db_url=sqlite:///{db}", "--log-level=WARN"]


def nbgrader_command(course: Path, db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "nbgrader", *args, *nbgrader_options(course, db)]


def submitted_students(course: Path, assignment: str) -> list[str]:
    """The students with a submission of ``assignment`` in ``course/submitted``, sorted as nbgrader sorts them."""
    return sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}") if p.is_dir())


def copy_gradebook(db: Path, to: Path) -> Path:
    """A consistent copy of the gradebook ``db`` at ``to`` (sqlite's online backup), for one nbgrader process to write."""
    to.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(db), sqlite3.connect(to)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return to


def merge_submission(main_db: Path, worker_db: Path, assignment: str, student: str) -> int:
    """Copy ``student``'s submission of ``assignment`` (and its grades, comments, the student) from
    ``worker_db``, a copy of ``main_db`` that one nbgrader process wrote, into ``main_db``, replacing the
    one there; one transaction. Returns the number of grade rows copied."""
    con = sqlite3.connect(main_db, timeout=60, isolation_level=None)
    try:
        con.execute("ATTACH DATABASE ? AS w", (str(worker_db),))
        con.execute("BEGIN IMMEDIATE")
        found = con.execute("SELECT id FROM main.assignment WHERE name = ?", (assignment,)).fetchone()
        if found is None:
            raise ValueError(f"the gradebook has no assignment {assignment!r}: run nbgrader generate_assignment")
        assignment_id = found[0]

        def submissions(db: str) -> list[str]:
            return [r[0] for r in con.execute(f"SELECT id FROM {db}.submitted_assignment "
                                              "WHERE assignment_id = ? AND student_id = ?", (assignment_id, student))]

        def notebooks(db: str, ids: list[str]) -> list[str]:
            marks = ",".join("?" * len(ids))
            return [r[0] for r in con.execute(f"SELECT id FROM {db}.submitted_notebook WHERE assignment_id IN ({marks})",
                                              ids)] if ids else []

        old = submissions("main")
        old_notebooks = notebooks("main", old)
        for table, key, ids in (("grade", "notebook_id", old_notebooks), ("comment", "notebook_id", old_notebooks),
                                ("submitted_notebook", "assignment_id", old),
                                ("submitted_assignment", "id", old)):
            if ids:
                con.execute(f"DELETE FROM main.{table} WHERE {key} IN ({','.join('?' * len(ids))})", ids)
        con.execute("INSERT OR IGNORE INTO main.student SELECT * FROM w.student WHERE id = ?", (student,))
        new = submissions("w")
        new_notebooks = notebooks("w", new)
        copied = 0
        for table, key, ids in (("submitted_assignment", "id", new), ("submitted_notebook", "assignment_id", new),
                                ("grade", "notebook_id", new_notebooks), ("comment", "notebook_id", new_notebooks)):
            if ids:
                cursor = con.execute(f"INSERT INTO main.{table} SELECT * FROM w.{table} "
                                     f"WHERE {key} IN ({','.join('?' * len(ids))})", ids)
                copied += cursor.rowcount if table == "grade" else 0
        con.execute("COMMIT")
        return copied
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def serve(assignment: str, options: list[str]) -> int:
    """``python -m mi_helpers.batch --worker ASSIGNMENT [nbgrader options]``: one nbgrader process that grades
    the students it is told, one at a time. It reads a student's id from standard input, grades that student as
    ``nbgrader autograde ASSIGNMENT --student=ID`` does (nbgrader's own Autograde converter, configured from the
    course's nbgrader_config.py and ``options``, as the formgrader's API runs it), and answers one line of JSON
    on its standard output; it ends when its input does. Only this process sees those two streams: they are
    moved to private descriptors that nothing it starts inherits, and standard output becomes standard error,
    so that nothing else printed (by nbgrader, a preprocessor, or a kernel, which the sandbox already sends to
    /dev/null) can be read as an answer."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)  # os.dup: not inherited by the kernels
    orders = os.fdopen(os.dup(0), "r")
    os.dup2(2, 1)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdout = sys.stderr
    from nbgrader.apps import AutogradeApp
    from nbgrader.converters import Autograde
    from nbgrader.utils import capture_log, temp_attrs

    app = AutogradeApp()
    app.initialize(options)
    for line in orders:
        student = line.strip()
        started = time.perf_counter()
        with temp_attrs(app.coursedir, assignment_id=assignment, student_id=student):
            converter = Autograde(coursedir=app.coursedir, parent=app)
            converter.force = converter.create_student = True  # nbgrader autograde --force --create
            result = capture_log(converter)
        answers.write(json.dumps({"student": student, "success": bool(result["success"]),
                                  "seconds": time.perf_counter() - started,
                                  "log": result.get("log", "") + result.get("error", "")}) + "\n")
    return 0


class Worker:
    """One ``--worker`` process, on its own copy of the gradebook, and the way to hand it students."""

    def __init__(self, course: Path, copy: Path, assignment: str, extra: tuple[str, ...], env: dict[str, str]):
        self.copy = copy
        self.errors = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mi_helpers.batch", "--worker", assignment, "--",
             *nbgrader_options(course, copy), *extra],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors, text=True)

    def grade(self, student: str) -> dict | None:
        """The worker's answer for ``student``, or None when the worker died."""
        try:
            self.process.stdin.write(student + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            return None
        line = self.process.stdout.readline()
        try:
            return json.loads(line)
        except ValueError:
            return None

    def close(self, kill: bool = False) -> str:
        """End the worker (at once with ``kill``, else when it has answered); what it printed on standard error."""
        if kill:
            self.process.kill()
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        self.process.wait()
        self.errors.seek(0)
        log = self.errors.read()
        self.errors.close()
        self.copy.unlink(missing_ok=True)
        return log


def autograde_all(course: Path, assignment: str, *, db: Path | None = None, jobs: int | None = None,
                  students: list[str] | None = None, extra: tuple[str, ...] = (), progress=print) -> list[StudentRun]:
    """nbgrader autograde of every student, ``jobs`` students at a time: ``jobs`` worker processes, each on its own
    copy of the gradebook, take the next student from one queue whenever they finish one, so that a worker given
    quick submissions is not left idle while another grades slow ones. Each student is merged into ``db``
    (default ``course/gradebook.db``) as soon as it is graded. A worker serves many students: each nbgrader process
    pays some seconds of start-up (nbgrader, torch, the course's checks); one that dies is replaced."""
    course = Path(course).resolve()
    db = Path(db).resolve() if db else course / "gradebook.db"
    if not db.exists():
        raise FileNotFoundError(f"no gradebook at {db}: run nbgrader generate_assignment {assignment} first")
    submitted = submitted_students(course, assignment)
    students = submitted if students is None else sorted(set(students))
    missing = [s for s in students if s not in submitted]
    if missing:
        raise FileNotFoundError(f"no submission of {assignment} in {course / 'submitted'} from {', '.join(missing)}")
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(students)))
    # each kernel gets its share of the cores (the course's limit_threads honours OMP_NUM_THREADS, which the
    # sandbox passes on): two kernels of two threads on two cores spin against each other
    # (unless the environment says how many threads)
    env = nbgrader_env()
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    merging = threading.Lock()
    waiting = list(reversed(students))
    scratch = Path(tempfile.mkdtemp(prefix="mi-batch-"))

    def next_student() -> str | None:
        with merging:
            return waiting.pop() if waiting else None

    def work(k: int) -> list[StudentRun]:
        runs, worker, started = [], None, 0
        while (student := next_student()) is not None:
            if worker is None:
                started += 1
                copy = scratch / f"gradebook-{k}-{started}.db"
                with merging:  # a consistent copy: nothing is being merged while it is taken
                    copy_gradebook(db, copy)
                worker = Worker(course, copy, assignment, extra, env)
            answer = worker.grade(student)
            if answer is None or answer.get("student") != student:  # it died or broke the protocol: this
                # student failed, and the next gets a new worker
                log, worker = worker.close(kill=True), None
                runs.append(StudentRun(student, 0.0, 1, log))
            else:
                if answer["success"]:
                    with merging:
                        merge_submission(db, worker.copy, assignment, student)
                runs.append(StudentRun(student, answer["seconds"], 0 if answer["success"] else 1, answer["log"]))
            progress(f"{student}: {'graded' if runs[-1].returncode == 0 else 'FAILED'} in {runs[-1].seconds:.1f} s")
        if worker is not None:
            worker.close()
        return runs

    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            runs = [run for share in pool.map(work, range(jobs)) for run in share]
        return sorted(runs, key=lambda run: students.index(run.student))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def scores(db: Path) -> dict[tuple[str, str, str, str], float | None]:
    """(assignment, student, notebook, cell) -> autograded score, for every graded cell in the gradebook."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT a.name, sa.student_id, n.name, c.name, g.auto_score FROM grade g "
            "JOIN submitted_notebook sn ON g.notebook_id = sn.id JOIN submitted_assignment sa ON sn.assignment_id = sa.id "
            "JOIN assignment a ON sa.assignment_id = a.id JOIN notebook n ON sn.notebook_id = n.id "
            "JOIN base_cell c ON g.cell_id = c.id").fetchall()
    finally:
        con.close()
    return {row[:4]: row[4] for row in rows}


def benchmark(students: int = 20, notebooks: tuple[str, ...] = ("00", "04"), jobs: int = 2) -> int:
    """Grade ``students`` submissions of each notebook sequentially and in parallel; print the ratio."""
    names = [next(p.stem for p in sorted((ROOT / "solutions").glob(f"{nb}_*.ipynb"))) for nb in notebooks]
    base = Path(tempfile.mkdtemp(prefix="mi-batch-bench-"))
    courses = {way: base / way for way in ("sequential", "parallel")}
    try:
        first = courses["sequential"]
        for name in names:
            (first / "source" / name).mkdir(parents=True)
            shutil.copy(ROOT / "solutions" / f"{name}.ipynb", first / "source" / name)
            done = subprocess.run(nbgrader_command(first, first / "gradebook.db", "generate_assignment", name, "--force"),
                                  cwd=ROOT, env=nbgrader_env(), capture_output=True, text=True)
            if done.returncode:
                print(done.stdout + done.stderr)
                return 1
            for i in range(students):  # solution and learner versions alternately
                target = first / "submitted" / f"student{i:02d}" / name
                target.mkdir(parents=True)
                shutil.copy((ROOT / ("solutions" if i % 2 == 0 else "notebooks")) / f"{name}.ipynb", target)
        shutil.copytree(first, courses["parallel"])
        seconds: dict[tuple[str, str], float] = {}
        for name in names:
            course = courses["sequential"]
            started = time.perf_counter()
            done = subprocess.run(nbgrader_command(course, course / "gradebook.db", "autograde", name, "--create",
                                                   "--force"), cwd=ROOT, env=nbgrader_env(), capture_output=True, text=True)
            seconds[("sequential", name)] = time.perf_counter() - started
            if done.returncode:
                print(done.stdout[-3000:] + done.stderr[-3000:])
                return 1
            print(f"sequential nbgrader autograde {name}: {students} students in {seconds[('sequential', name)]:.1f} s",
                  flush=True)
            course = courses["parallel"]
            started = time.perf_counter()
            runs = autograde_all(course, name, jobs=jobs, progress=lambda line: None)
            seconds[("parallel", name)] = time.perf_counter() - started
            failed = [r for r in runs if r.returncode]
            print(f"parallel ({jobs} jobs) {name}: {students} students in {seconds[('parallel', name)]:.1f} s", flush=True)
            if failed:
                print(f"{len(failed)} students failed, the first:\n{failed[0].log[-3000:]}")
                return 1
        sequential = scores(courses["sequential"] / "gradebook.db")
        parallel = scores(courses["parallel"] / "gradebook.db")
        same = sequential == parallel
        total = {way: sum(s for (w, _), s in seconds.items() if w == way) for way in ("sequential", "parallel")}
        print(f"\n{students} submissions each of {', '.join(names)} on {os.cpu_count()} cores")
        print(f"sequential nbgrader autograde: {total['sequential']:.1f} s; in parallel, {jobs} jobs: "
              f"{total['parallel']:.1f} s; ratio {total['sequential'] / total['parallel']:.2f}x")
        points = {}
        for (assignment, student, _, _), score in parallel.items():
            points[(assignment, student)] = points.get((assignment, student), 0) + (score or 0)
        print(f"graded cells: {len(sequential)} sequential, {len(parallel)} parallel; identical scores: {same}; "
              f"points per submission: {sorted(set(points.values()))}")
        return 0 if same and len(sequential) > 0 else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mi_helpers.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", nargs="?", help="the assignment to autograde, e.g. 00_orientation")
    parser.add_argument("--course", default=str(ROOT / "classroom"), help="nbgrader's course folder (classroom/)")
    parser.add_argument("--db", help="the gradebook (default: COURSE/gradebook.db)")
    parser.add_argument("--jobs", type=int, default=None, help="students graded at a time (default: the cores)")
    parser.add_argument("--only", nargs="+", metavar="STUDENT", help="grade only these students (default: all)")
    parser.add_argument("--benchmark", action="store_true", help="time sequential against parallel grading")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--students", type=int, default=20, help="submissions per notebook (--benchmark)")
    parser.add_argument("--notebooks", nargs="+", default=["00", "04"], help="notebook numbers (--benchmark)")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:  # --worker ASSIGNMENT -- nbgrader options: see serve()
        return serve(argv[1], argv[3:])
    args, options = parser.parse_known_args(argv)
    wrong = [o for o in options if not (o.startswith("--") and "." in o.split("=")[0])]
    if wrong:
        parser.error(f"unrecognised: {' '.join(wrong)} (nbgrader options are written --Class.trait=value)")
    if args.benchmark:
        return benchmark(args.students, tuple(args.notebooks), args.jobs or 2)
    if not args.assignment:
        parser.error("say which assignment to grade, e.g. 00_orientation")
    try:
        runs = autograde_all(Path(args.course), args.assignment, db=Path(args.db) if args.db else None,
                             jobs=args.jobs, students=args.only, extra=tuple(options))
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    failed = [r for r in runs if r.returncode]
    for run in failed:
        print(f"\n{run.student}: nbgrader autograde failed:\n{run.log[-2000:]}")
    print(f"{len(runs) - len(failed)} of {len(runs)} students graded")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
