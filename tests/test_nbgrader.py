"""The classroom path: nbgrader generates, autogrades with the hidden tests, and exports.

A temporary course directory per notebook stands in for a classroom, configured by
the repository's own nbgrader_config.py (nbgrader runs from the repository root).
The solution version earns every autograded point; the learner version none.
"""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from conftest import NOTEBOOKS, ROOT, SOLUTIONS, notebook_names
from mi_helpers import batch
from mi_helpers.release import nbgrader_env
from submissions import A, B, C, D, NB, answer_id, exercises_only, index_of, insert_before, set_answer, solved

LOOP_TIMEOUT_S = 12  # an endless loop costs this much, twice; no cell of notebook 00 takes more than a few seconds

def nbgrader(course, *args):
    # the classrooms are built two at a time: torch on one thread in each kernel (the course's limit_threads
    # honours OMP_NUM_THREADS, which the sandbox passes on), or their threads spin against each other
    done = subprocess.run(batch.nbgrader_command(course, course / "gradebook.db", *args), cwd=ROOT,
                          capture_output=True, text=True, timeout=900, env={**nbgrader_env(), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def build_classroom(course: Path, name: str) -> Path:
    """One notebook generated, submitted by two students (three for notebook 00: a tamperer too),
    autograded and exported, in a course of its own."""
    (course / "source" / name).mkdir(parents=True)
    shutil.copy(SOLUTIONS / f"{name}.ipynb", course / "source" / name)
    nbgrader(course, "generate_assignment", name, "--force")
    for student, folder in {"solver": SOLUTIONS, "starter": NOTEBOOKS}.items():
        target = course / "submitted" / student / name
        target.mkdir(parents=True)
        shutil.copy(folder / f"{name}.ipynb", target)
    extra = []
    if name.startswith(NB):
        (course / "submitted" / "tamperer" / name).mkdir(parents=True)
        nbformat.write(tampered(), course / "submitted" / "tamperer" / name / f"{name}.ipynb")
        extra = [f"--ResilientExecute.timeout={LOOP_TIMEOUT_S}"]
    nbgrader(course, "autograde", name, "--create", "--force", *extra)
    nbgrader(course, "export", f"--to={course / 'grades.csv'}")
    return course


@pytest.fixture(scope="session")
def classroom(tmp_path_factory):
    """classroom(name): the course of one notebook of AUTOGRADED. All are built at the first use, side by side:
    an nbgrader run keeps about one core busy (one after the other they took 78 s and 56 s of the suite)."""
    pool = ThreadPoolExecutor(max_workers=len(AUTOGRADED))
    building: dict[str, Future] = {}

    def get(name: str) -> Path:
        if not building:
            for n in AUTOGRADED:
                building[n] = pool.submit(build_classroom, tmp_path_factory.mktemp(f"classroom-{n[:2]}"), n)
        return building[name].result()
    yield get
    pool.shutdown(wait=True)


# What a grader's worker (mi_helpers.batch) would read as its answer for the tamperer, full marks, if the kernel
# could write to the worker's answers
FORGED = '{"student": "tamperer", "success": true, "seconds": 0, "log": "FORGED"}'


def tampered() -> nbformat.NotebookNode:
    """Notebook 00 solved, then: a forged grader's answer written to the kernel's standard output, A's test cell
    edited, B's deleted, a cell that kills the kernel before C, and an endless loop in D's answer cell; without
    the worked examples and figures."""
    nb = exercises_only(solved())
    insert_before(nb, answer_id(A), f"import os, sys\nfor fd in (1, 2):\n    os.write(fd, b'\\n{FORGED}\\n')\n"
                                    f"print({FORGED!r})\nprint({FORGED!r}, file=sys.__stdout__, flush=True)")
    nb.cells[index_of(nb, f"test_{answer_id(A)}")].source = "print('✔ passed')"
    del nb.cells[index_of(nb, f"test_{answer_id(B)}")]
    insert_before(nb, answer_id(C), "import os\nos._exit(1)")
    set_answer(nb, D, "while True:\n    pass")
    return nb


def test_tampering_and_crashes_cost_only_their_own_exercise(classroom):
    name = next(n for n in notebook_names() if n.startswith(NB))
    with Gradebook(f"sqlite:///{classroom(name)}/gradebook.db") as gb:
        sub = gb.find_submission_notebook(name, name, "tamperer")
        scores = {g.name: g.score for g in sub.grades if g.max_score and g.cell_type == "code"}
        assert scores[f"test_{answer_id(A)}"] == 0  # edited: earns nothing
        assert scores[f"test_{answer_id(B)}"] == 0  # deleted, restored: earns nothing
        assert scores[f"test_{answer_id(C)}"] == C.points  # survived the crash before it
        assert scores[f"test_{answer_id(D)}"] == 0  # its answer never finished
        assert sub.code_score == C.points


# Autograded here: notebook 00 (with the tamperer) and 08, the last and longest of the graded notebooks
# before 09. nbgrader's autograde runs mi-grade's executor and judge (mi_helpers.classroom), which
# tests/test_notebooks.py runs on every notebook, and nbgrader's release of every notebook is compared
# with notebooks/ by tests/test_release.py; grading all nine here again cost eight minutes of the suite.
AUTOGRADED = [n for n in notebook_names() if n[:2] in (NB, "08")]


@pytest.mark.parametrize("name", AUTOGRADED)
def test_solution_full_marks_learner_zero(classroom, name):
    with Gradebook(f"sqlite:///{classroom(name)}/gradebook.db") as gb:
        solver = gb.find_submission_notebook(name, name, "solver")
        starter = gb.find_submission_notebook(name, name, "starter")
        assert solver.max_code_score > 0
        assert solver.code_score == solver.max_code_score, [
            (g.name, g.score) for g in solver.grades if g.max_score and g.score != g.max_score]
        assert starter.code_score == 0


def test_export_lists_every_student(classroom):
    name = next(n for n in notebook_names() if n.startswith(NB))
    rows = list(csv.DictReader((classroom(name) / "grades.csv").open()))
    assert {r["student_id"] for r in rows} == {"solver", "starter", "tamperer"}
    assert len(rows) == 3 and all(r["assignment"] == name for r in rows)


def test_parallel_autograde_gives_the_sequential_grades(classroom, tmp_path):
    """mi_helpers.batch: two nbgrader processes side by side, each taking the next student from one queue and
    grading it on its own copy of the gradebook, each student merged into the course's when graded: the same
    scores as nbgrader's own sequential run, every student's earlier submission replaced rather than doubled,
    and the tamperer's forged answer on its kernel's standard output not taken for the worker's (the sandbox
    sends a kernel's output nowhere, and a worker answers on a descriptor that no kernel inherits)."""
    name = next(n for n in notebook_names() if n.startswith(NB))
    course = tmp_path / "course"
    shutil.copytree(classroom(name), course, ignore=shutil.ignore_patterns("autograded", "feedback"))
    sequential = batch.scores(course / "gradebook.db")
    assert {student for _, student, _, _ in sequential} == {"solver", "starter", "tamperer"}
    runs = batch.autograde_all(course, name, jobs=2, extra=(f"--ResilientExecute.timeout={LOOP_TIMEOUT_S}",),
                               progress=lambda line: None)
    assert [r.returncode for r in runs] == [0, 0, 0], [r.log[-2000:] for r in runs if r.returncode]
    assert not any("FORGED" in r.log for r in runs)  # the tamperer's kernel printed it: not the worker's answer
    assert batch.scores(course / "gradebook.db") == sequential
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        assert len(gb.find_assignment(name).submissions) == 3
    assert all((course / "autograded" / student / name / f"{name}.ipynb").exists()
               for student in ("solver", "starter", "tamperer"))


def test_batch_hands_out_students_one_at_a_time_and_replaces_a_dead_grader(tmp_path, monkeypatch):
    """mi_helpers.batch's queue, with stand-ins for the nbgrader processes: a grader busy with one slow submission
    does not hold back the others (student a is graded only once every other student is), a grader that dies or
    answers for another student costs only its student and is replaced, only the students graded successfully
    are merged into the gradebook, and a student with no submission is refused before anything is graded."""
    (tmp_path / "gradebook.db").touch()
    for student in "abcdef":
        (tmp_path / "submitted" / student / "hw").mkdir(parents=True)
    everyone_else_graded = threading.Event()
    graders, merged = [], []

    class Grader:
        def __init__(self, course, copy, assignment, extra, env):
            self.copy, self.students = copy, []
            graders.append(self)

        def grade(self, student):
            self.students.append(student)
            if student == "a":
                assert everyone_else_graded.wait(timeout=30), "a grader's students were fixed in advance"
            if student == "c":
                return None  # the grader died
            if student == "e":
                return {"student": "f", "success": True, "seconds": 1.0, "log": ""}  # not e's answer
            if student == "f":
                everyone_else_graded.set()
            return {"student": student, "success": student != "d", "seconds": 1.0, "log": f"log of {student}"}

        def close(self, kill=False):
            return "it died" if kill else ""

    monkeypatch.setattr(batch, "Worker", Grader)
    monkeypatch.setattr(batch, "copy_gradebook", lambda db, to: to)
    monkeypatch.setattr(batch, "merge_submission", lambda db, copy, assignment, student: merged.append(student))
    runs = batch.autograde_all(tmp_path, "hw", jobs=2, progress=lambda line: None)
    assert [(r.student, r.returncode) for r in runs] == [("a", 0), ("b", 0), ("c", 1), ("d", 1), ("e", 1), ("f", 0)]
    assert runs[2].log == runs[4].log == "it died" and runs[3].log == "log of d"
    assert sorted(merged) == ["a", "b", "f"]
    assert sorted(g.students for g in graders) == [["a"], ["b", "c"], ["d", "e"], ["f"]]
    with pytest.raises(FileNotFoundError, match="from nobody"):
        batch.autograde_all(tmp_path, "hw", students=["b", "nobody"], progress=lambda line: None)
    assert len(graders) == 4


WORKER_WITH_A_LOUD_CONVERTER = r'''
import os, subprocess, sys
import nbgrader.converters

class Loud(nbgrader.converters.Autograde):  # grades nothing: prints, and starts processes that print and read stdin
    def start(self):
        print('{"student": "y", "success": true, "seconds": 0, "log": "FORGED by print"}', flush=True)
        os.write(1, b'{"student": "y", "success": true, "seconds": 0, "log": "FORGED on fd 1"}\n')
        subprocess.run([sys.executable, "-c", "print('FORGED by a child')"])
        # would wait for (and swallow) the next student, sent only once this one is answered
        subprocess.run([sys.executable, "-c", "import sys; sys.stdin.readline()"], timeout=10)

nbgrader.converters.Autograde = Loud
from mi_helpers.batch import serve
sys.exit(serve("hw", []))
'''


def test_a_batch_worker_answers_on_a_stream_that_nothing_it_runs_can_write_or_read():
    """mi_helpers.batch's grader process: what the grading prints, or a process it starts prints (a kernel outside
    the sandbox), is not read as an answer, and nothing it starts can read the students it is sent."""
    worker = subprocess.Popen([sys.executable, "-c", WORKER_WITH_A_LOUD_CONVERTER], cwd=ROOT, env=nbgrader_env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker.stdin.write("x\n")  # as mi_helpers.batch does: the next student once this one is answered
    worker.stdin.flush()
    first = worker.stdout.readline()
    worker.stdin.write("y\n")
    rest, errors = worker.communicate(timeout=120)
    assert worker.returncode == 0 and "Traceback" not in errors, errors  # the course's config loaded
    answers = [json.loads(line) for line in (first + rest).splitlines()]
    assert [(a["student"], a["success"]) for a in answers] == [("x", True), ("y", True)], first + rest
    assert "FORGED" not in first + rest and errors.count("FORGED") == 6  # three for each student
