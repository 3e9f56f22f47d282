"""Build solutions/07_attention.ipynb from its cells (scratch: the notebook is the source of truth once built)."""
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).parent))
from cells_mine import CELLS_MINE  # noqa: E402
from parse_part1 import part1  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
P1 = part1()
cells = []
counter = 0


def _id():
    global counter
    counter += 1
    return f"nb07-cell-{counter - 1:02d}"


def md(text, **meta):
    cell = nbformat.v4.new_markdown_cell(text.strip("\n"), id=_id())
    cell.metadata.update(meta)
    cells.append(cell)


def code(text, **meta):
    cell = nbformat.v4.new_code_cell(text.strip("\n"), id=_id())
    cell.metadata.update(meta)
    cells.append(cell)


def mentor(text):
    md(text, tags=["mentor"])


def answer(grade_id, text):
    code(text, nbgrader={"grade": False, "solution": True, "locked": False, "grade_id": grade_id,
                         "schema_version": 3})


def test(grade_id, points, text):
    code(text, nbgrader={"grade": True, "solution": False, "locked": True, "points": points,
                         "grade_id": grade_id, "schema_version": 3})


def discuss(grade_id, text):
    md(text, nbgrader={"grade": True, "solution": True, "locked": False, "points": 1, "grade_id": grade_id,
                       "schema_version": 3})


SLUGS = {"07.1": ("scaled_dot_product_attention", 2), "07.2": ("MultiHeadAttention", 3),
         "07.3": ("AttentionLayer", 3), "07.4": ("head_scores", 3), "07.5": ("name_the_heads", 2),
         "07.6": ("attention_rollout", 2)}


def exercise(ex_id, parts):
    slug, points = SLUGS[ex_id]
    gid = ex_id.replace(".", "_") + "_" + slug
    md(parts["spec"])
    answer(gid, parts["solution"])
    test("test_" + gid, points, parts["test"])
    if parts.get("mentor"):
        mentor(parts["mentor"])


ENV = {"md": md, "code": code, "mentor": mentor, "discuss": discuss, "exercise": exercise, "P1": P1}
for item in CELLS_MINE:
    item(ENV)

nb = nbformat.v4.new_notebook(cells=cells)
nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
               "language_info": {"name": "python"}}
out = ROOT / "solutions" / "07_attention.ipynb"
nbformat.write(nb, out)
print(f"wrote {out} with {len(cells)} cells")
