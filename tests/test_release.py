"""notebooks/ is nbgrader's release of solutions/: in sync, and nothing of the instructor's leaks."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from conftest import NOTEBOOKS, ROOT, SOLUTIONS, notebook_names
from mi_helpers.checks import REGISTRY, exercises_of
from mi_helpers.classroom import StripMentorNotes
from mi_helpers.release import release

SOLUTION_BLOCK = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)


def read(path):
    return nbformat.read(path, as_version=4)


def meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def text(nb) -> str:
    return "\n".join(c.source for c in nb.cells)


def test_every_solution_has_a_release_and_back():
    assert notebook_names(), "no notebooks yet"
    assert {p.name for p in SOLUTIONS.glob("*.ipynb")} == {p.name for p in NOTEBOOKS.glob("*.ipynb")}


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.ipynb")) + sorted(NOTEBOOKS.glob("*.ipynb")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_without_outputs(path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("name", notebook_names())
def test_nothing_of_the_instructor_reaches_the_learner(name):
    solution, learner = read(SOLUTIONS / f"{name}.ipynb"), read(NOTEBOOKS / f"{name}.ipynb")
    released = text(learner)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in released
    secret = []
    for cell in solution.cells:
        for block in SOLUTION_BLOCK.findall(cell.source) + HIDDEN_BLOCK.findall(cell.source):
            secret += [line.strip() for line in block.splitlines()]
        if "mentor" in cell.metadata.get("tags", []):
            secret += [line.strip() for line in cell.source.splitlines()]
        if cell.cell_type == "markdown" and meta(cell).get("solution"):
            secret += [line.strip() for line in cell.source.splitlines()]  # model answers
    secret = [line for line in secret if len(line) > 20 and not line.startswith("#")]
    assert secret, "the solution notebook should hold solutions"
    leaked = [line for line in secret if line in released]
    assert not leaked, f"reaches the learner: {leaked[:3]}"


@pytest.mark.parametrize("name", notebook_names())
def test_notebook_contract(name):
    """COURSE_SPEC section 4: the opening, the exercises' four cells, hints, discussion, mentor notes."""
    nb = read(SOLUTIONS / f"{name}.ipynb")
    opening = nb.cells[0].source
    for part in ("# ", "Learning objectives", "Prerequisites", "Estimated time", "pairs", "🔄"):
        assert part in opening, f"the first cell lacks {part!r}"
    assert "setup" in nb.cells[1].metadata.get("tags", []), "the second cell is the setup cell"
    assert any("mentor" in c.metadata.get("tags", []) for c in nb.cells), "no mentor notes"
    assert any(c.cell_type == "markdown" and meta(c).get("grade") and meta(c).get("solution")
               for c in nb.cells), "no discussion question"
    assert sum("🔄" in c.source for c in nb.cells[1:]) >= 2, "too few driver switches"
    assert any("tqdm" in c.source or "plot." in c.source or "plt." in c.source for c in nb.cells), "no figure"

    ids = {}
    for i, cell in enumerate(nb.cells):
        gid = meta(cell).get("grade_id", "")
        if cell.cell_type == "code" and meta(cell).get("grade"):
            ex = next(ex for ex in REGISTRY.values() if gid == f"test_{ex.id.replace('.', '_')}_{ex.slug}")
            answer, spec = nb.cells[i - 1], nb.cells[i - 2]
            assert meta(answer).get("grade_id") == gid[len("test_"):], f"{gid}: the answer cell must precede it"
            assert meta(cell)["points"] == ex.points and meta(cell).get("locked")
            assert f"check_{ex.slug}({ex.slug})" in cell.source
            assert "### BEGIN HIDDEN TESTS" in cell.source, f"{gid} has no hidden tests"
            assert f'def {ex.slug}(' in answer.source or f"class {ex.slug}" in answer.source
            assert '"""' in answer.source, f"{ex.slug} needs a docstring with shapes and dtypes"
            assert "### BEGIN SOLUTION" in answer.source
            assert f"Exercise {ex.id}" in spec.source or any(
                f"Exercise {ex.id}" in c.source for c in nb.cells[max(0, i - 6):i])
            block = "\n".join(c.source for c in nb.cells[max(0, i - 6):i])
            assert "<details>" in block and "What you should see" in block, f"{ex.id}: hints and outcome"
            ids[ex.id] = ex
    assert set(ids) == {ex.id for ex in exercises_of(name[:2])}


def test_strip_mentor_notes_keeps_everything_else():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("keep"),
        nbformat.v4.new_markdown_cell("drop", metadata={"tags": ["mentor"]}),
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["setup"]}),
    ])
    out, _ = StripMentorNotes()(nb, {})  # as nbconvert calls it: only an enabled one acts
    assert [c.source for c in out.cells] == ["keep", "x = 1"]


def test_release_backs_up_a_learners_changes(tmp_path):
    (tmp_path / "solutions").mkdir()
    shutil.copy(sorted(SOLUTIONS.glob("*.ipynb"))[0], tmp_path / "solutions")
    first = release(tmp_path)
    assert all(m.startswith("released") for m in first)
    target = sorted((tmp_path / "notebooks").glob("*.ipynb"))[0]
    target.write_text(target.read_text().replace("raise NotImplementedError()", "return 42"))
    messages = release(tmp_path)
    backups = list((tmp_path / "backups").glob("*.ipynb"))
    assert len(backups) == 1 and "return 42" in backups[0].read_text()
    assert any("were saved to backups/" in m for m in messages)
    assert "return 42" not in target.read_text()
    release(tmp_path)  # an untouched release is not backed up again
    assert len(list((tmp_path / "backups").glob("*.ipynb"))) == 1


def test_regenerating_the_release_changes_nothing():
    """`make check-release`: nbgrader's release of solutions/ today is byte for byte notebooks/."""
    done = subprocess.run([sys.executable, "-m", "mi_helpers.release", "--check"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
