"""Build solutions/06_attribution.ipynb from the cell files (scratch: once built, the notebook is the source).

Each cell file holds cells as `<!-- kind [id] -->` followed by a ```python or ```markdown fence; kinds:
markdown, code, setup, mentor, solution ID, test ID, discussion ID (the graded model answer; the question is
the markdown cell before it).
"""
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
PARTS = [a for a in sys.argv[1:] if not a.startswith("--")] or [
    "cells_opening.md", "p1_vis.md", "p2_gradients.md", "p4_occlusion.md", "p4_lime.md", "cells_evidence.md",
    "cells_fgsm_sanity.md", "cells_wrapup.md"]
POINTS = {"06.1": 3, "06.2": 2, "06.3": 2, "06.4": 3, "06.5": 3, "06.6": 2, "06.7": 2, "06.8": 2, "06.9": 3,
          "06.10": 2}
CELL = re.compile(r"<!-- (\w+)(?: ([0-9.]+))? -->\s*```(?:python|markdown)\n(.*?)\n```\s*(?=<!--|\Z)", re.S)


def slug_of(source: str) -> str:
    return re.search(r"^(?:def|class) (\w+)", source, re.M).group(1)


cells, slugs = [], {}
for part in PARTS:
    text = (HERE / part).read_text(encoding="utf-8")
    for kind, ex_id, source in CELL.findall(text):
        number = len(cells)
        cid = f"nb06-cell-{number:02d}"
        if kind in ("markdown", "mentor", "discussion"):
            cell = nbformat.v4.new_markdown_cell(source, id=cid)
        else:
            cell = nbformat.v4.new_code_cell(source, id=cid)
        if kind == "setup":
            cell.metadata["tags"] = ["setup"]
        elif kind == "mentor":
            cell.metadata["tags"] = ["mentor"]
        elif kind == "solution":
            slugs[ex_id] = slug_of(source)
            cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False, "schema_version": 3,
                                         "grade_id": ex_id.replace(".", "_") + "_" + slugs[ex_id]}
        elif kind == "test":
            cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "schema_version": 3,
                                         "points": POINTS[ex_id],
                                         "grade_id": "test_" + ex_id.replace(".", "_") + "_" + slugs[ex_id]}
        elif kind == "discussion":
            cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False, "points": 1,
                                         "schema_version": 3, "grade_id": "discuss_" + ex_id.replace(".", "_")}
        elif kind not in ("markdown", "code"):
            raise ValueError(f"{part}: unknown cell kind {kind}")
        cells.append(cell)

nb = nbformat.v4.new_notebook(cells=cells)
nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
               "language_info": {"name": "python"}}
out = ROOT / "solutions" / "06_attribution.ipynb"
if "--scratch" in sys.argv:
    out = HERE / "06_attribution.ipynb"
nbformat.write(nb, out)
print(f"wrote {out}: {len(cells)} cells, exercises {slugs}")
