"""Read helper B's cells for 07.1, 07.2, 07.6 from scratch/nb07_cells_part1.md."""
import re
from pathlib import Path

TEXT = Path(__file__).resolve().parents[1].joinpath("nb07_cells_part1.md").read_text()


def part1() -> dict:
    out = {}
    sections = re.split(r"\n## Exercise (07\.\d) · \w+\n", TEXT)
    for ex_id, body in zip(sections[1::2], sections[2::2]):
        md = re.findall(r"````markdown\n(.*?)\n````", body, re.S)
        solution = re.search(r"<!-- solution [\d.]+ -->\n```python\n(.*?)\n```", body, re.S).group(1)
        test = re.search(r"<!-- test [\d.]+ -->\n```python\n(.*?)\n```", body, re.S).group(1)
        out[ex_id] = {"spec": md[0], "mentor": md[1], "solution": solution, "test": test}
    return out


if __name__ == "__main__":
    for k, v in part1().items():
        print(k, {n: len(t) for n, t in v.items()})
