"""Grading one notebook (COURSE_SPEC section 6): the score table, and submissions that misbehave.

A submission is built from the release notebook 00 with the solution's answers
pasted in, then broken on purpose. Whatever one exercise does, the others keep
their points, and the learner's file is never changed.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import nbformat
import pytest

from mi_helpers.grading import grade_notebook
from mi_helpers.sandbox import Sandbox

from submissions import (A, B, C, D, NB, answer_id, by_id, exercises_only, index_of, insert_before, save, set_answer,
                         solved)


def test_crashes_loops_and_memory_cost_only_their_own_exercise(tmp_path):
    nb = exercises_only(solved())  # with its figures, each figure cell that calls B cost another 15 s
    insert_before(nb, answer_id(A), "import sys\nsys.exit(3)")  # IPython survives this
    set_answer(nb, B, f"def {B.slug}(*args, **kwargs):\n    while True:\n        pass")
    insert_before(nb, answer_id(C), "import os\nos._exit(1)")  # the kernel dies
    set_answer(nb, D, f"def {D.slug}(*args, **kwargs):\n    import torch\n"
                      "    return torch.ones(2**30, dtype=torch.float64)  # 8 GB")
    path = save(nb, tmp_path, "broken.ipynb")
    before = path.read_bytes()
    grade = grade_notebook(path, cell_timeout=15)
    results = by_id(grade)
    assert results[A.id].verdict == "passed", results[A.id].message
    assert results[B.id].verdict == "timed out" and "longer than 15 s" in results[B.id].message
    assert results[C.id].verdict == "passed", results[C.id].message
    assert results[D.id].verdict == "out of memory" and "memory" in results[D.id].message
    assert grade.points == A.points + C.points
    assert grade.restarts == 3  # the loop, os._exit and the allocation, one each (no figure cell calls them again)
    assert all(("longer than" in p) or ("memory" in p) or ("crashed" in p) for p in grade.problems)
    assert path.read_bytes() == before


def test_tampering_earns_nothing_and_touches_nothing_else(tmp_path):
    nb = exercises_only(solved())
    test_a = index_of(nb, f"test_{answer_id(A)}")
    nb.cells[test_a].source = "print('✔ passed')"  # edited test cell
    del nb.cells[index_of(nb, f"test_{answer_id(B)}")]  # deleted test cell
    insert_before(nb, answer_id(C), (  # the check redefined and patched, and a wrong answer
        f"import mi_helpers.checks.{'nb' + NB} as checks\n"
        f"checks.check_{C.slug} = lambda *a, **k: print('✔ passed')\n"
        f"check_{C.slug} = checks.check_{C.slug}"))
    set_answer(nb, C, f"def {C.slug}(*args, **kwargs):\n    import torch\n    return torch.zeros(1)")
    path = save(nb, tmp_path, "tampered.ipynb")
    report = tmp_path / "grade.json"
    done = subprocess.run([sys.executable, "-m", "mi_helpers.cli", str(path), "--json", str(report)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    table = done.stdout
    assert "exercise" in table and "verdict" in table and "score:" in table
    grades = {e["id"]: e for e in json.loads(report.read_text())["exercises"]}
    assert grades[A.id]["verdict"] == "tampered" and "edited" in grades[A.id]["message"]
    assert grades[B.id]["verdict"] == "tampered" and "deleted" in grades[B.id]["message"]
    assert grades[C.id]["verdict"] == "failed" and grades[C.id]["points"] == 0
    assert grades[D.id]["verdict"] == "passed" and grades[D.id]["points"] == D.points
    for ex in (A, B, C, D):
        assert ex.title in table


def test_cli_explains_what_it_cannot_grade(tmp_path):
    not_json = tmp_path / "notes.ipynb"
    not_json.write_text("these are my notes")
    foreign = save(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), tmp_path, "x.ipynb")
    for path, words in ((tmp_path / "missing.ipynb", "there is no notebook"),
                        (not_json, "not a readable notebook"),
                        (foreign, "none of the course's exercises")):
        done = subprocess.run([sys.executable, "-m", "mi_helpers.cli", str(path)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2
        assert words in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="each sandbox gets a uid of its own only when grading as root")
def test_sandboxes_side_by_side_never_share_a_uid():
    """The grader runs the course's setup cell, which seeds Python's random: a uid drawn from it was the same
    in every grader, and one grader's clean-up (SIGKILL to every process of its uid) killed the kernel of
    another grading beside it."""
    boxes = []
    try:
        for _ in range(3):
            random.seed(0)
            boxes.append(Sandbox())
        assert len({box.uid for box in boxes}) == 3
    finally:
        for box in boxes:
            box.close()
