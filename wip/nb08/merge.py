"""Scratch: merge the three check modules and the three mutant modules into the package and the tests."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def split(path):
    text = Path(path).read_text()
    tree = ast.parse(text)
    doc = ast.get_docstring(tree) or ""
    first = next(n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))
                 and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)))
    start = min([first.lineno] + [d.lineno for d in getattr(first, "decorator_list", [])])
    lines = text.splitlines(keepends=True)
    while start > 1 and lines[start - 2].startswith("#"):
        start -= 1
    imports = [ast.get_source_segment(text, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return doc, imports, "".join(lines[start - 1:])


def merge(parts, out, title, header_imports):
    docs, bodies = [], []
    for p in parts:
        doc, imports, body = split(p)
        docs.append(doc)
        bodies.append(body)
    text = '"""' + title + "\n\n" + "\n\n".join(d.split("\n\n", 1)[-1] if i else d.split("\n", 1)[-1].lstrip()
                                                   for i, d in enumerate(docs)).strip() + '\n"""\n'
    text += header_imports + "\n\n" + "\n\n".join(b.strip() + "\n" for b in bodies)
    Path(out).write_text(text)


CHECK_IMPORTS = '''from __future__ import annotations

import contextlib
import functools
import math

import torch
from torch import nn

from .core import (EdgeCase, call, close_to, describe, exercise, expect, expect_close, expect_tensor, fail, generator,
                   inside, show, single_number)
from .nb04 import seeded_cnn
from ..circuits import corrupted_pairs, hand_built_induction_model, repeated_pairs
from ..harness import tensor_bits
from ..hooks import count_hooks, hooks, run_with_cache
from ..interventions import ablate, ablate_heads, induction_loss, logit_difference, normalised, patch
from ..planted import (FEATURE_UNUSED, FEATURE_USED, UNITS_A, UNITS_B, PlantedMLP, planted_features,
                       planted_model)
from ..transformer import load_induction_model
'''
merge(["checks_main.py", "checks_cnn_planted.py", "checks_attribution.py"], ROOT / "mi_helpers/checks/nb08.py",
      "Checks for notebook 08, ablation and activation patching.", CHECK_IMPORTS)

MUTANT_IMPORTS = '''from __future__ import annotations

import torch
import torch.nn.functional as F

from mi_helpers.hooks import hooks, record, run_with_cache
from mi_helpers.interventions import ablate, ablate_heads, induction_loss
from mi_helpers.interventions import patch as _patch
from mi_helpers.planted import UNITS_A, UNITS_B, planted_features, planted_model
'''
bodies = []
for i, f in enumerate(["mutants_main.py", "mutants_cnn_planted.py", "mutants_attribution.py"]):
    _, _, body = split(f)
    bodies.append(body.replace("\nMUTANTS = {", f"\n_MUTANTS_{i} = {{").replace("MUTANTS = {", f"_MUTANTS_{i} = {{", 1)
                  if not body.startswith("MUTANTS") else body)
text = ('"""Plausible wrong answers to notebook 08 (ablation and activation patching); every one must fail its '
        'check."""\n' + MUTANT_IMPORTS + "\n\n" + "\n\n".join(b.strip() + "\n" for b in bodies)
        + "\n\nMUTANTS = {**_MUTANTS_0, **_MUTANTS_1, **_MUTANTS_2}\n")
(ROOT / "tests/mutants/nb08.py").write_text(text)
