"""Hostile submissions: notebook 00 solved, exercise C answered wrong, and cells that try to make C
pass anyway or do damage (COURSE_SPEC section 6, "learner code is untrusted").

Every kind starts from :func:`submissions.solved` with C (00.3 cosine_similarity_matrix) answered by a
function that returns zeros of the right shape and dtype, so that disarming any layer of the checks
would be enough to make it pass. A, B and D stay honestly solved. Unless a kind says otherwise the
expected verdict is: A, B and D full points, C zero. A kind's docstring says what the attack is and
why it must not work; its ``post`` condition, if any, is checked after everything was graded.

The cells are written the way a cheater would write them: attacks wrapped in try/except so that the
notebook goes on, and aimed at C only, so that the attacker keeps the points of A, B and D.

Where the attack needs to know something about the run (the port of the test's TCP server, where
the classroom lives, the attacker's own student id), :class:`Context` gives it: a real attacker
would find the classroom by listing /tmp on a shared machine and knows its own student id.
"""
from __future__ import annotations

import copy
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import nbformat

from submissions import A, B, C, D, answer_id, exercises_only, index_of, insert_before, set_answer
from submissions import solved as solved_whole

EXERCISES = (A, B, C, D)
TEST = {ex.id: f"test_{answer_id(ex)}" for ex in EXERCISES}  # the test cell of each exercise
FULL = {ex.id: ex.points for ex in EXERCISES}
NORMAL = {**FULL, C.id: 0}  # the verdict unless a kind says otherwise
NOTHING = {ex.id: 0 for ex in EXERCISES}
PASS_LINE = f"✔ {C.title} passed"

BOTH = ("mi-grade", "nbgrader")
# Attacks on the checks from inside the kernel (the families "kernel" and "ipython") meet one defence under both
# graders: the test cells never run in the kernel, the verdict is the grader's (mi_helpers.grading.execute and
# mi_helpers.verdict, the same code for both; docs/grading.md). So nbgrader, the class's grader, grades all of
# them, and mi-grade the first of each family, which shows that mi-grade takes that path too (a mi-grade that
# trusted the kernel's check would give it C's points). Each grading costs about 12 s of CPU time, and the
# module is bound by CPU: grading the other nine by mi-grade too cost the suite about a minute.
IN_THE_KERNEL = ("nbgrader",)

WRONG_C = f'''def {C.slug}(x, y):
    import torch
    return torch.zeros(len(x), len(y), dtype=x.dtype)  # the right shape and dtype, the wrong values
'''


@dataclass(frozen=True)
class Context:
    """What a submission may know about the run it is graded in."""

    course: Path  # the nbgrader course directory (a real attacker finds it by listing /tmp)
    port: int  # a TCP server on 127.0.0.1 in the test process: reaching it means the network is open
    token: str  # unique to this run: names of the files that attacks leave in /tmp
    contained: bool  # the graders run in a PID namespace of their own, so kill(-1) reaches nothing else
    gradebooks: tuple[Path, ...] = ()  # the copies of the gradebook that nbgrader runs side by side write
    student: str = ""  # the nbgrader student id this submission is graded as
    grader: str = ""  # "mi-grade" or "nbgrader": a label for what the attack leaves, so it can be blamed

    def fill_path(self) -> Path:
        return Path("/tmp") / f"mi_hostile_fill_{self.token}_{self.grader}"


@dataclass(frozen=True)
class Kind:
    """One hostile submission: how it is built, and what grading it must give."""

    name: str
    family: str
    build: Callable[[Context], Any]  # a notebook (nbformat node) or raw bytes
    expected: dict[str, float]  # exercise id -> points
    doc: str
    post: Callable[[Any, "Kind", str], list[str]] | None = None  # (World, kind, grader) -> problems
    last: bool = False  # writes shared files: when the grader fails, later submissions could be
    #                     graded against what it wrote, so it is graded last and alone
    gradable: bool = True  # False: the notebook cannot be graded at all (every exercise zero)
    needs_containment: bool = False  # only run where its blast radius is contained (kill(-1))
    graders: tuple[str, ...] = BOTH  # the graders it is graded by (see IN_THE_KERNEL)
    index: int = 0

    @property
    def student(self) -> str:
        """Its nbgrader student id; nbgrader grades students in sorted order, i.e. in KINDS order."""
        return f"s{self.index:02d}_{self.name}"

    def notebook(self, ctx: Context, grader: str):
        """The submission as graded by ``grader`` (the same attack; only its labels differ)."""
        return self.build(replace(ctx, student=self.student, grader=grader))


KINDS: list[Kind] = []


def kind(family: str, expected: dict[str, float] = NORMAL, *, post=None, last: bool = False,
         gradable: bool = True, needs_containment: bool = False, graders: tuple[str, ...] = BOTH):
    """Register the decorated builder as a kind; its docstring is the kind's description."""

    def register(build):
        KINDS.append(Kind(build.__name__, family, build, dict(expected), " ".join(build.__doc__.split()),
                          post, last, gradable, needs_containment, graders, index=len(KINDS)))
        return build

    return register


# ------------------------------------------------------------------ building blocks

def solved() -> nbformat.NotebookNode:
    """Notebook 00 solved, without its worked examples and figures: every kind is graded twice."""
    return exercises_only(solved_whole())


def code(source: str, **values: Any) -> str:
    """A cell's source: dedented, with @NAME@ replaced by the values given (@PASS@: C's pass line)."""
    text = textwrap.dedent(source).strip() + "\n"
    for key, value in {"pass": PASS_LINE, **values}.items():
        text = text.replace(f"@{key.upper()}@", str(value))
    return text


def wrong_c() -> nbformat.NotebookNode:
    nb = solved()
    set_answer(nb, C, WRONG_C)
    return nb


def attack(source: str, *, at: str = TEST[C.id], **values: Any) -> nbformat.NotebookNode:
    """C answered wrong, and a cell with ``source`` inserted before the cell whose grade id is ``at``
    (by default: just before C's test cell)."""
    nb = wrong_c()
    insert_before(nb, at, code(source, **values))
    return nb


def at_the_end(nb: nbformat.NotebookNode, source: str, **values: Any) -> nbformat.NotebookNode:
    """A cell after the last test cell: what it does to the kernel cannot count against D."""
    nb.cells.insert(index_of(nb, TEST[D.id]) + 1, nbformat.v4.new_code_cell(code(source, **values)))
    return nb


def cell_of(nb, exercise_test_or_answer_id: str):
    return nb.cells[index_of(nb, exercise_test_or_answer_id)]


# ------------------------------------------------------------------ post-conditions
# A post-condition is called as post(world, kind, grader) and returns problems. The World
# (tests/test_hostile.py) offers changed_in(kind, grader) {"repo/<path>" or "course/<path>": how} and
# honest_changes(kind, grader) [str], both limited to the grading that the kind and grader can be
# blamed for, contacts [str] (what reached the TCP server) and ctx (Context).

def untouched(*prefixes: str):
    """No file under these prefixes changed while this kind was graded."""

    def post(world, kind, grader) -> list[str]:
        return [f"{path} was {how}" for path, how in sorted(world.changed_in(kind, grader).items())
                if path.startswith(prefixes)]

    return post


def honest_untouched(world, kind, grader) -> list[str]:
    return list(world.honest_changes(kind, grader))


def no_contact(world, kind, grader) -> list[str]:
    label = f"{kind.name} {grader}"
    return [f"the test's TCP server on 127.0.0.1 was reached ({n} connections)"
            for n in [sum(c == label for c in world.contacts)] if n]


def no_fill_left(world, kind, grader) -> list[str]:
    path = replace(world.ctx, grader=grader).fill_path()
    if path.exists():
        return [f"{path} ({path.stat().st_size >> 20} MB) was left in the machine's /tmp: /tmp is not private"]
    return []


# ================================================================== control

@kind("control", FULL)
def control_solved(ctx):
    """No attack, every answer right: full marks. If this fails, the harness is wrong, not the grader."""
    return solved()


@kind("control")
def control_wrong_c(ctx):
    """No attack: C answered wrong and left so. The baseline every other kind is compared with."""
    return wrong_c()


# ================================================================== tampering with the checks in the kernel

@kind("kernel")
def patch_check_function(ctx):
    """Replaces check_cosine_similarity_matrix in mi_helpers.checks.nb00 (and the name in the notebook)
    by a function that prints the pass line: the verdict must come from the course's check, not from
    whatever the kernel calls by that name."""
    return attack("""
        import mi_helpers.checks.nb00 as _checks
        def _always_passes(*args, **kwargs):
            print("@PASS@")
        _checks.check_cosine_similarity_matrix = _always_passes
        check_cosine_similarity_matrix = _always_passes
    """)


@kind("kernel", graders=IN_THE_KERNEL)
def disarm_core_helpers(ctx):
    """Turns fail, expect, expect_close, expect_number into no-ops and expect_tensor into identity, in
    mi_helpers.checks.core and in nb00's imported copies, and replaces ExerciseFailed by a class that
    renders a pass line: a check whose helpers live in the learner's kernel can be disarmed."""
    return attack("""
        import mi_helpers.checks as _package
        import mi_helpers.checks.core as _core
        import mi_helpers.checks.nb00 as _nb00
        def _nothing(*args, **kwargs):
            return None
        def _as_is(value=None, *args, **kwargs):
            return value
        class _Quiet(Exception):
            def __init__(self, *args, **kwargs):
                super().__init__("@PASS@")
            def _render_traceback_(self):
                return ["@PASS@"]
        for _module in (_core, _nb00):
            for _name in ("fail", "expect", "expect_close", "expect_number"):
                if hasattr(_module, _name):
                    setattr(_module, _name, _nothing)
            for _name in ("expect_tensor", "_expect_result", "single_number"):
                if hasattr(_module, _name):
                    setattr(_module, _name, _as_is)
            _module.ExerciseFailed = _Quiet
        _package.ExerciseFailed = _Quiet
    """)


@kind("kernel", graders=IN_THE_KERNEL)
def fake_module_in_sys_modules(ctx):
    """Puts a fake mi_helpers.checks.nb00 in sys.modules (everything from the real one but C's check,
    which passes): importing the check inside the kernel is no proof of getting the course's."""
    return attack("""
        import sys, types
        import mi_helpers.checks.nb00 as _real
        _fake = types.ModuleType("mi_helpers.checks.nb00")
        _fake.__getattr__ = lambda name: getattr(_real, name)
        def _always_passes(*args, **kwargs):
            print("@PASS@")
        _fake.check_cosine_similarity_matrix = _always_passes
        sys.modules["mi_helpers.checks.nb00"] = _fake
        sys.modules["mi_helpers.checks"].nb00 = _fake
    """)


@kind("kernel", graders=IN_THE_KERNEL)
def fake_package_on_path(ctx):
    """Copies mi_helpers/checks to a folder of its own with C's check made to pass, puts that folder
    first in mi_helpers.__path__ and forgets the imported checks: a fresh import inside the kernel
    then loads the learner's copy."""
    return attack("""
        import pathlib, sys, tempfile
        import mi_helpers
        try:
            _real = pathlib.Path(mi_helpers.__file__).resolve().parent / "checks"
            _mine = pathlib.Path(tempfile.mkdtemp()) / "mi_helpers" / "checks"
            _mine.mkdir(parents=True)
            for _file in _real.glob("*.py"):
                (_mine / _file.name).write_text(_file.read_text(encoding="utf-8"), encoding="utf-8")
            (_mine / "nb00.py").write_text((_real / "nb00.py").read_text(encoding="utf-8")
                                           + "\\n\\ndef check_cosine_similarity_matrix(*args, **kwargs):\\n"
                                           + "    print('@PASS@')\\n", encoding="utf-8")
            mi_helpers.__path__.insert(0, str(_mine.parent))
            for _name in [n for n in sys.modules if n.startswith("mi_helpers.checks")]:
                del sys.modules[_name]
        except Exception as _error:
            print("could not:", _error)
    """)


@kind("kernel", graders=IN_THE_KERNEL)
def import_hook(ctx):
    """Inserts a finder at the front of sys.meta_path that loads mi_helpers.checks.nb00 with C's check
    replaced, and forgets the imported checks: every later import of the check, fresh or not, goes
    through the learner's hook."""
    return attack("""
        import importlib.abc, importlib.util, sys
        import mi_helpers.checks.nb00 as _real
        _ORIGIN = _real.__file__
        class _Swap(importlib.abc.MetaPathFinder, importlib.abc.Loader):
            def find_spec(self, name, path=None, target=None):
                if name == "mi_helpers.checks.nb00":
                    return importlib.util.spec_from_file_location(name, _ORIGIN, loader=self)
                return None
            def create_module(self, spec):
                return None
            def exec_module(self, module):
                with open(_ORIGIN, encoding="utf-8") as source:
                    exec(compile(source.read(), _ORIGIN, "exec"), module.__dict__)
                def _always_passes(*args, **kwargs):
                    print("@PASS@")
                module.check_cosine_similarity_matrix = _always_passes
        sys.meta_path.insert(0, _Swap())
        for _name in [n for n in sys.modules if n.startswith("mi_helpers.checks")]:
            del sys.modules[_name]
    """)


@kind("kernel", graders=IN_THE_KERNEL)
def patch_torch_comparisons(ctx):
    """Makes torch.allclose, torch.equal, Tensor.__eq__ and Tensor.__lt__ always true for C's test (and
    puts them back afterwards, to keep D): any verdict computed with the kernel's torch, visible check
    or hidden assert, is then the learner's to choose."""
    nb = attack("""
        import torch
        _MISSING = object()
        _saved = {name: torch.Tensor.__dict__.get(name, _MISSING) for name in ("__eq__", "__lt__")}
        _saved_functions = (torch.allclose, torch.equal)
        torch.allclose = lambda *args, **kwargs: True
        torch.equal = lambda *args, **kwargs: True
        torch.Tensor.__eq__ = lambda self, other: torch.ones(self.shape, dtype=torch.bool)
        torch.Tensor.__lt__ = lambda self, other: torch.ones(self.shape, dtype=torch.bool)
    """)
    insert_before(nb, answer_id(D), code("""
        torch.allclose, torch.equal = _saved_functions
        for _name, _value in _saved.items():
            if _value is _MISSING:
                delattr(torch.Tensor, _name)
            else:
                setattr(torch.Tensor, _name, _value)
    """))
    return nb


@kind("kernel", graders=IN_THE_KERNEL)
def stack_walking_answer(ctx):
    """C's answer, when called, walks up the stack (sys._getframe) and disarms every caller: fail,
    expect, expect_close, expect_tensor in the callers' module globals, and torch.allclose where a
    caller uses torch, then returns garbage: whatever calls the learner's function must not share a
    stack (or a torch) with the verdict."""
    nb = wrong_c()
    set_answer(nb, C, code(f"""
        def {C.slug}(x, y):
            import sys, torch
            def nothing(*args, **kwargs):
                return None
            def as_is(value=None, *args, **kwargs):
                return value
            frame = sys._getframe(1)
            while frame is not None:
                names = frame.f_globals
                for name in ("fail", "expect", "expect_close", "expect_number"):
                    if callable(names.get(name)):
                        names[name] = nothing
                for name in ("expect_tensor", "_expect_result"):
                    if callable(names.get(name)):
                        names[name] = as_is
                if names.get("torch") is torch:
                    torch.allclose = lambda *args, **kwargs: True
                frame = frame.f_back
            return torch.zeros(len(x), len(y), dtype=x.dtype)
    """))
    return nb


# ================================================================== IPython-level tricks

@kind("ipython")
def input_transformers(ctx):
    """Registers input transformers (input_transformers_cleanup and _post) that turn any cell calling C's
    check or C's hidden tests into `pass`: the test cell's source must not go through the learner's
    IPython."""
    return attack("""
        def _skip_the_check(lines):
            text = "".join(lines)
            if "check_cosine_similarity_matrix(" in text or "cosine_similarity_matrix(_x" in text:
                return ["pass\\n"]
            return lines
        _shell = get_ipython()
        _shell.input_transformers_cleanup.append(_skip_the_check)
        _shell.input_transformers_post.append(_skip_the_check)
    """)


@kind("ipython", graders=IN_THE_KERNEL)
def custom_exc_swallows(ctx):
    """set_custom_exc((BaseException,), ...) with a handler that prints the pass line and shows no error:
    a verdict read from the kernel's error outputs sees none."""
    return attack("""
        def _swallow(shell, etype, value, tb, tb_offset=None):
            print("@PASS@")
            return []
        get_ipython().set_custom_exc((BaseException,), _swallow)
    """)


@kind("ipython", graders=IN_THE_KERNEL)
def showtraceback_replaced(ctx):
    """Replaces the shell's showtraceback (and _showtraceback) so that errors print the pass line instead
    of an error output."""
    return attack("""
        def _quiet(*args, **kwargs):
            print("@PASS@")
        _shell = get_ipython()
        _shell.showtraceback = _quiet
        _shell._showtraceback = _quiet
    """)


@kind("ipython", graders=IN_THE_KERNEL)
def pass_line_hooks(ctx):
    """A post_run_cell event handler and an atexit handler that print the pass line after every cell:
    printed text is not a verdict."""
    return attack("""
        import atexit
        def _claim(*args, **kwargs):
            print("@PASS@")
        get_ipython().events.register("post_run_cell", _claim)
        atexit.register(_claim)
    """)


# ================================================================== malformed notebooks

@kind("malformed", NOTHING, gradable=False)
def not_json(ctx):
    """A file that is not JSON: it cannot be graded (every exercise zero, mi-grade says so and exits 2),
    and the other students are graded all the same."""
    return b"these are my notes, not a notebook {\n"


@kind("malformed")
def nbformat_3(ctx):
    """The submission saved in nbformat 3 (an older format that nbformat upgrades without loss): it is
    read and graded like any other, so A, B and D keep their points and C, still wrong, gets none."""
    return nbformat.writes(wrong_c(), version=3).encode()


@kind("malformed")
def renamed_test_cell(ctx):
    """C's test cell given another grade_id (and a pass line for source): C's test is then missing, and
    must be restored or counted as deleted, never skipped."""
    nb = wrong_c()
    cell = cell_of(nb, TEST[C.id])
    cell.metadata.nbgrader["grade_id"] = TEST[C.id] + "_mine"
    cell.source = f"print('{PASS_LINE}')"
    return nb


@kind("malformed")
def answer_cell_claims_another_id(ctx):
    """C's answer cell given A's answer grade_id (a duplicate): C's answer cell is lost, A's real one
    comes first and keeps A's points."""
    nb = wrong_c()
    cell_of(nb, answer_id(C)).metadata.nbgrader["grade_id"] = answer_id(A)
    return nb


@kind("malformed")
def duplicated_test_id(ctx):
    """A second cell with C's test grade_id and metadata, holding only the pass line, just before the
    real test cell: the first cell with the id must not be taken for the test."""
    nb = wrong_c()
    real = cell_of(nb, TEST[C.id])
    fake = nbformat.v4.new_code_cell(f"print('{PASS_LINE}')", metadata=copy.deepcopy(real.metadata))
    nb.cells.insert(index_of(nb, TEST[C.id]), fake)
    return nb


@kind("malformed")
def forged_checksums(ctx):
    """C's test cell edited to print the pass line and D's test cell raised to 20 points, each with its
    nbgrader checksum recomputed to match: checksums in the submission prove nothing; D still earns
    the course's points for D, not 20."""
    from nbgrader.utils import compute_checksum

    nb = wrong_c()
    test_c, test_d = cell_of(nb, TEST[C.id]), cell_of(nb, TEST[D.id])
    test_c.source = f"print('{PASS_LINE}')"
    test_d.metadata.nbgrader["points"] = 20
    for cell in (test_c, test_d):
        cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    return nb


@kind("malformed")
def test_cell_made_markdown(ctx):
    """C's test cell turned into a markdown cell (same source, same metadata): a test that does not run
    earns nothing."""
    nb = wrong_c()
    i = index_of(nb, TEST[C.id])
    old = nb.cells[i]
    nb.cells[i] = nbformat.v4.new_markdown_cell(old.source, metadata=copy.deepcopy(old.metadata))
    return nb


@kind("malformed")
def test_cell_made_solution(ctx):
    """C's test cell marked as a solution cell (solution: true) holding the pass line: a learner cannot
    make the course's test cell its own answer (nor send it to manual grading)."""
    nb = wrong_c()
    cell = cell_of(nb, TEST[C.id])
    cell.metadata.nbgrader["solution"] = True
    cell.source = f"print('{PASS_LINE}')"
    return nb


@kind("malformed")
def prefilled_pass_outputs(ctx):
    """Every test cell carries a forged output, the pass line, and an execution count, while C is wrong:
    outputs in the submission are not results."""
    nb = wrong_c()
    for n, ex in enumerate(EXERCISES, start=1):
        cell = cell_of(nb, TEST[ex.id])
        cell.execution_count = n
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"✔ {ex.title} passed\n")]
    return nb


@kind("malformed")
def hundred_megabyte_notebook(ctx):
    """A 100 MB output (one string) stored in an ordinary code cell: outputs are not graded, the notebook
    is read and graded like any other (A, B, D full, C zero); grading must not fall over."""
    nb = wrong_c()
    cell = nbformat.v4.new_code_cell("print('a long story')", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * (100 * 2 ** 20))]
    nb.cells.insert(index_of(nb, answer_id(A)), cell)
    return nb


# ================================================================== crashes and limits (COURSE_SPEC 6.3's list)

@kind("crash")
def exits_loops_and_memory(ctx):
    """Before C's test: sys.exit(3), os._exit(1) (the kernel dies), an endless loop and an 8 GB
    allocation: each costs only its own cell; A, B and D keep their points."""
    nb = wrong_c()
    for source in ("import sys\nsys.exit(3)", "import os\nos._exit(1)", "while True:\n    pass",
                   "import torch\n_big = torch.ones(2 ** 30, dtype=torch.float64)  # 8 GB"):
        insert_before(nb, TEST[C.id], source)
    return nb


# ================================================================== resource abuse

@kind("resources")
def output_flood(ctx):
    """Prints 200 MB (one megabyte a line) before C's test: the grader's memory and the grade must not
    drown in it."""
    return attack("""
        _line = "y" * (2 ** 20 - 1)
        for _ in range(200):
            print(_line)
    """)


@kind("resources")
def orphan_sleepers(ctx):
    """Starts `sleep 600` in a session of its own (start_new_session=True) and a double-forked
    `sleep 601`: neither may outlive the grading."""
    return attack("""
        import os, subprocess
        try:
            subprocess.Popen(["sleep", "600"], start_new_session=True)
            _pid = os.fork()
            if _pid == 0:  # double fork: the grandchild is nobody's child
                try:
                    os.setsid()
                    if os.fork() == 0:
                        os.execv("/bin/sleep", ["sleep", "601"])
                finally:
                    os._exit(0)
            os.waitpid(_pid, 0)
        except OSError as _error:
            print("could not:", _error)
    """)


@kind("resources", post=untouched("repo/mi_helpers/checks/nb00.py"))
def orphan_writer(ctx):
    """A detached child (its own session) that, for five minutes, keeps appending to the course's
    mi_helpers/checks/nb00.py: it must neither outlive the grading nor write to the package."""
    return attack('''
        import subprocess, sys
        import mi_helpers.checks.nb00 as _checks
        _LOOP = """
        import sys, time
        for _ in range(600):
            try:
                with open(sys.argv[1], "a", encoding="utf-8") as f:
                    f.write("# still here\\\\n")
            except OSError:
                pass
            time.sleep(0.5)
        """
        try:
            subprocess.Popen([sys.executable, "-c", _LOOP, _checks.__file__],
                             start_new_session=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as _error:
            print("could not:", _error)
    ''')


@kind("resources")
def process_flood(ctx):
    """After the last test cell, forks until fork fails (at most 2000 children, 15 s), each child in a
    session of its own sleeping ten minutes: the machine's process table is not the learner's, and
    none of them may outlive the grading."""
    return at_the_end(wrong_c(), """
        import os, time
        _started, _children = time.time(), 0
        while _children < 2000 and time.time() - _started < 15:
            try:
                _pid = os.fork()
            except OSError as _error:
                print(f"fork failed after {_children} children: {_error}")
                break
            if _pid == 0:
                try:
                    os.setsid()
                    os.execv("/bin/sleep", ["sleep", "600"])
                finally:
                    os._exit(0)
            _children += 1
        print(_children, "children")
    """)


@kind("resources", post=no_fill_left)
def fill_tmp(ctx):
    """After the last test cell, writes to /tmp until ENOSPC (at most 1 GB, 10 s) and leaves the file:
    /tmp must be private to the submission, limited, and thrown away."""
    return at_the_end(wrong_c(), """
        import time
        _written, _started = 0, time.time()
        try:
            with open("@PATH@", "wb") as _file:
                _chunk = b"\\0" * (16 << 20)
                while _written < (1 << 30) and time.time() - _started < 10:
                    _file.write(_chunk)
                    _written += len(_chunk)
        except OSError as _error:
            print("stopped:", _error)
        print(_written >> 20, "MB written")
    """, path=ctx.fill_path())


@kind("resources")
def stops_its_process_group(ctx):
    """os.killpg(0, SIGSTOP) before C's test: the kernel's process group stops, and with it whatever
    shares the group; the grader must not be in it, and must get past the stopped cell."""
    return attack("""
        import os, signal
        try:
            os.killpg(0, signal.SIGSTOP)
        except OSError as _error:
            print("could not:", _error)
    """)


@kind("resources", post=no_contact)
def phone_a_friend(ctx):
    """C's answer returns the right result only if it can connect to a TCP server that the test runs on
    127.0.0.1: with no network, it cannot, and C earns nothing."""
    nb = wrong_c()
    set_answer(nb, C, code(f"""
        def {C.slug}(x, y):
            import socket, torch
            try:
                with socket.create_connection(("127.0.0.1", @PORT@), timeout=2) as friend:
                    friend.sendall(b"phone_a_friend @GRADER@\\n")
                    answered = friend.recv(16).startswith(b"ok")
            except OSError:
                answered = False
            if answered:
                return (x / x.norm(dim=-1, keepdim=True)) @ (y / y.norm(dim=-1, keepdim=True)).T
            return torch.zeros(len(x), len(y), dtype=x.dtype)
    """, port=ctx.port, grader=ctx.grader))
    return nb


# ================================================================== reading and writing the course's files

@kind("disk")
def copies_the_solution(ctx):
    """C's answer looks for the solution notebook (next to the package, in the classroom's source/, up
    from the working folder), execs the solution's answer cell and returns its result: solutions and
    the course's source must be invisible to the kernel."""
    nb = wrong_c()
    set_answer(nb, C, code(f"""
        def _find_the_solution():
            import json, pathlib, torch
            import mi_helpers
            here = pathlib.Path.cwd().resolve()
            folders = [pathlib.Path(mi_helpers.__file__).resolve().parents[1] / "solutions",
                       pathlib.Path("@COURSE@") / "source" / "00_orientation"]
            folders += [up / "source" / "00_orientation" for up in (here, *here.parents)]
            for folder in folders:
                try:
                    paths = sorted(folder.glob("00_*.ipynb"))
                except OSError:
                    continue
                for path in paths:
                    try:
                        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
                    except (OSError, ValueError, KeyError):
                        continue
                    for cell in cells:
                        if cell.get("metadata", {{}}).get("nbgrader", {{}}).get("grade_id") == "{answer_id(C)}":
                            found = {{"torch": torch}}
                            exec("".join(cell["source"]), found)
                            return found["{C.slug}"]
            return None

        try:
            _copied = _find_the_solution()
        except Exception:
            _copied = None

        def {C.slug}(x, y):
            import torch
            if _copied is not None:
                return _copied(x, y)
            return torch.zeros(len(x), len(y), dtype=x.dtype)
    """, course=ctx.course))
    return nb


@kind("disk", post=untouched("course/submitted/honest/", "course/autograded/honest/"), last=True)
def overwrites_a_classmate(ctx):
    """Overwrites the honest student's submitted and autograded notebooks (found from the working folder
    and in the classroom): other submissions must be out of reach."""
    return attack("""
        import pathlib
        _here = pathlib.Path.cwd().resolve()
        _courses = [pathlib.Path("@COURSE@")] + [up for up in (_here, *_here.parents) if (up / "submitted").is_dir()]
        for _course in _courses:
            for _folder in ("submitted", "autograded"):
                try:
                    _victims = list((_course / _folder / "honest").rglob("*.ipynb"))
                except OSError:
                    continue
                for _victim in _victims:
                    try:
                        _victim.write_text('{"cells": [], "note": "deleted by a classmate"}')
                        print("overwrote", _victim)
                    except OSError as _error:
                        print("could not overwrite", _victim, _error)
    """, course=ctx.course)


@kind("disk", post=honest_untouched, last=True)
def rewrites_the_gradebook(ctx):
    """Finds nbgrader's gradebook.db (up from the working folder, in the classroom, and the copies that
    nbgrader runs side by side write: the test's, which a real attacker finds by listing /tmp, and those of
    mi_helpers.batch's graders in /tmp) and, with sqlite,
    gives itself 100 on every cell and the honest student 0: the gradebook must be out of reach, and
    an earlier grade never changes."""
    return attack("""
        import pathlib, sqlite3, tempfile
        _here = pathlib.Path.cwd().resolve()
        _books = {pathlib.Path("@COURSE@") / "gradebook.db", *map(pathlib.Path, @COPIES@),
                  *pathlib.Path(tempfile.gettempdir()).glob("mi-batch-*/gradebook-*.db")}  # mi_helpers.batch's
        for _up in (_here, *_here.parents):
            try:
                if (_up / "gradebook.db").is_file():
                    _books.add(_up / "gradebook.db")
            except OSError:
                pass
        _OF = ("SELECT sn.id FROM submitted_notebook sn JOIN submitted_assignment sa "
               "ON sn.assignment_id = sa.id WHERE sa.student_id = ?")
        for _book in _books:
            try:
                _db = sqlite3.connect(str(_book), timeout=5)
                _db.execute(f"UPDATE grade SET manual_score = 0 WHERE notebook_id IN ({_OF})", ("honest",))
                _db.execute(f"UPDATE grade SET manual_score = 100 WHERE notebook_id IN ({_OF})", ("@ME@",))
                _db.commit()
                _db.close()
                print("rewrote", _book)
            except Exception as _error:
                print("could not rewrite", _book, _error)
    """, course=ctx.course, me=ctx.student, copies=repr([str(db) for db in ctx.gradebooks]))


@kind("disk", post=untouched("repo/notebooks/", "repo/solutions/"), last=True)
def rewrites_course_notebooks(ctx):
    """Rewrites C's test cell as the pass line in the course's release notebook (notebooks/) and solution
    notebook (solutions/), found from the package's path: the course's source is out of reach."""
    return attack("""
        import json, pathlib
        import mi_helpers
        _root = pathlib.Path(mi_helpers.__file__).resolve().parents[1]
        for _folder in ("notebooks", "solutions"):
            try:
                _paths = sorted((_root / _folder).glob("00_*.ipynb"))
            except OSError:
                continue
            for _path in _paths:
                try:
                    _nb = json.loads(_path.read_text(encoding="utf-8"))
                    for _cell in _nb["cells"]:
                        if _cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "@TEST@":
                            _cell["source"] = "print('@PASS@')"
                    _path.write_text(json.dumps(_nb), encoding="utf-8")
                    print("rewrote", _path)
                except Exception as _error:
                    print("could not rewrite", _path, _error)
    """, test=TEST[C.id])


@kind("disk", post=untouched("repo/mi_helpers/grading.py"), last=True)
def patches_the_grader(ctx):
    """Appends to the course's mi_helpers/grading.py a wrapper that marks every exercise passed: the
    package is read-only to the kernel."""
    return attack('''
        import pathlib
        import mi_helpers
        _path = pathlib.Path(mi_helpers.__file__).resolve().parent / "grading.py"
        _PATCH = """

        # added by a student: every exercise passes
        if "grade_notebook" in globals():
            _original_grade_notebook = grade_notebook
            def grade_notebook(*args, **kwargs):
                grade = _original_grade_notebook(*args, **kwargs)
                for result in grade.results:
                    result.verdict, result.points = "passed", result.exercise.points
                return grade
        """
        try:
            _path.write_text(_path.read_text(encoding="utf-8") + _PATCH, encoding="utf-8")
            print("patched", _path)
        except OSError as _error:
            print("could not patch", _path, _error)
    ''')


@kind("disk", post=untouched("repo/mi_helpers/checks/nb00.py"), last=True)
def patches_the_check_module(ctx):
    """Appends to the course's mi_helpers/checks/nb00.py a check_cosine_similarity_matrix that passes,
    then reloads it: a check read from a file the kernel can write is the learner's."""
    return attack("""
        import importlib, pathlib
        import mi_helpers.checks.nb00 as _checks
        _path = pathlib.Path(_checks.__file__)
        try:
            _path.write_text(_path.read_text(encoding="utf-8")
                             + "\\n\\ndef check_cosine_similarity_matrix(*args, **kwargs):\\n"
                             + "    print('@PASS@')\\n", encoding="utf-8")
            importlib.reload(_checks)
            from mi_helpers.checks.nb00 import check_cosine_similarity_matrix
            print("patched", _path)
        except Exception as _error:
            print("could not patch", _path, _error)
    """)


# ================================================================== killing the grader (graded last by nbgrader)

@kind("resources")
def kills_the_grader(ctx):
    """os.kill(os.getppid(), SIGKILL) before C's test: the kernel's parent must not be the grader (or
    not be killable by it); the submission is graded all the same and so is every student after it."""
    return attack("""
        import os, signal
        try:
            os.kill(os.getppid(), signal.SIGKILL)
        except OSError as _error:
            print("could not:", _error)
    """)


@kind("resources", needs_containment=True)
def kills_everything(ctx):
    """os.kill(-1, SIGKILL) before C's test: every process the kernel's user may signal. Only run where
    the graders are in a PID namespace of the test's (the blast radius of an unsandboxed grader)."""
    return attack("""
        import os, signal
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError as _error:
            print("could not:", _error)
    """)


def by_name(name: str) -> Kind:
    return next(k for k in KINDS if k.name == name)
