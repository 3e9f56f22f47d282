"""``python -m mi_helpers.checks``: the contracts each exercise's check enforces, as a Markdown table."""
from __future__ import annotations

from . import REGISTRY
from .core import CONTRACT_NAMES


def contracts_table() -> str:
    lines = ["| exercise | " + " | ".join(CONTRACT_NAMES) + " |", "|---" * (len(CONTRACT_NAMES) + 1) + "|"]
    reasons = []
    for ex in sorted(REGISTRY.values(), key=lambda e: (e.notebook, int(e.id.split(".")[1]))):
        c = ex.contracts
        cells = []
        for name in CONTRACT_NAMES:
            if name in c.opt_out:
                cells.append("opt-out")
                reasons.append(f"- {ex.title}, {name}: {c.opt_out[name]}")
            elif name == "float64" and c.example is None:
                cells.append("–")
            elif name == "meta device":
                cells.append("✔" if c.meta and c.example is not None else "–")
            elif name == "edge cases":
                cells.append(str(len(c.edge_cases)) if c.edge_cases else "–")
            elif name == "written by hand":
                short = dict.fromkeys(n.rsplit(".", 1)[-1] for n in c.forbidden)
                cells.append(", ".join(f"`{n}`" for n in short) if short else "–")
            else:
                cells.append("✔")
        lines.append(f"| {ex.title} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", "Opt-outs:"] + reasons)


if __name__ == "__main__":
    print(contracts_table())
