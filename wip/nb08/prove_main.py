"""Throwaway: the checks of 08.1, 08.3-08.5 pass the solution and reject every mutant."""
import contextlib, io, sys, time
from pathlib import Path
HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]
import torch
torch.set_num_threads(1)
import checks_main as C
import sol_main as S
from mi_helpers.checks import REGISTRY, ExerciseFailed
try:
    from mutants_main import MUTANTS
except ImportError:
    MUTANTS = {}
cases = {"08.1": S.head_ablation_losses, "08.3": S.activation_patching, "08.4": S.path_patching,
         "08.5": S.name_the_circuit}
bad = 0
for ex, fn in cases.items():
    t = time.time()
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            REGISTRY[ex].check(fn)
        print("PASS", ex, f"{time.time() - t:.1f}s")
    except ExerciseFailed as e:
        bad += 1
        print("SOLUTION FAILS", ex, e.message)
    for m in MUTANTS.get(ex, []):
        t = time.time()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                REGISTRY[ex].check(m)
            bad += 1
            print("  ESCAPED", m.__name__)
        except ExerciseFailed as e:
            print("  rejected", m.__name__, f"{time.time() - t:.1f}s |", e.message.splitlines()[0][:150])
print("problems:", bad)
