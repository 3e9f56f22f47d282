"""The grading core: one registry of exercises and the messages every check speaks.

A check is a function decorated with :func:`exercise`. It receives the learner's
function (or class), calls it through :func:`call`, and inspects what came back
with :func:`expect_tensor`, :func:`expect_close` and :func:`expect`. When all
is well the decorator prints one line::

    ✔ 00.2 pairwise_distances passed

When something is wrong it raises :class:`ExerciseFailed`, whose message says
which exercise failed, what was tried, what was expected against what was
received, and a hint. In Jupyter the error renders as that message alone: no
frames from inside ``mi_helpers`` (IPython asks an exception for
``_render_traceback_`` before it formats one).

Checks build their inputs from a local :class:`torch.Generator`, so they give
the same verdict on every run; the decorator puts Python's, NumPy's and
PyTorch's global random states back afterwards, so a check never disturbs the
learner's random streams, whatever the learner's code drew.
"""
from __future__ import annotations

import contextvars
import functools
import math
import random
import textwrap
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..harness import ForbiddenBuiltin, forbidden_alias_in_call, tensor_bits, tripwires
from ..remote import FORBIDDEN, Remote, RemoteError

PACKAGE_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Exercise:
    """What the course knows about one exercise."""

    id: str  # "NN.k"
    slug: str  # the name of the learner's function or class
    points: int
    difficulty: int  # 1 (warm-up) to 3 (hard)
    minutes: int  # estimated time
    check: Callable[..., None] = field(repr=False, compare=False)
    contracts: "Contracts" = field(default=None, repr=False, compare=False)

    @property
    def notebook(self) -> str:
        return self.id.split(".")[0]

    @property
    def title(self) -> str:
        return f"{self.id} {self.slug}"


REGISTRY: dict[str, Exercise] = {}


def exercises_of(notebook: str) -> list[Exercise]:
    """The exercises of one notebook ("00", "01", ...) in order."""
    found = [ex for ex in REGISTRY.values() if ex.notebook == notebook]
    return sorted(found, key=lambda ex: int(ex.id.split(".")[1]))


MESSAGE_WIDTH = 100  # a check's sentences wrap here, between words, for any notebook's width


def _wrap(text: str, indent: int) -> str:
    """``text`` wrapped at MESSAGE_WIDTH between words, each line after the first indented by ``indent``;
    a line break already in the text is kept, and the line after it indented too."""
    pad = " " * indent
    return "\n".join(textwrap.fill(part, width=MESSAGE_WIDTH, initial_indent=pad if i else "",
                                    subsequent_indent=pad, break_long_words=False, break_on_hyphens=False)
                      for i, part in enumerate(text.split("\n")))


class ExerciseFailed(AssertionError):
    """A check's verdict against the learner's code, phrased for the learner."""

    def __init__(self, title: str, problem: str, *, tried: str = "", expected: Any = None,
                 received: Any = None, hint: str = "", detail: str = ""):
        self.title = title
        self.problem = problem
        self.tried = tried
        self.expected = expected
        self.received = received
        self.hint = hint
        self.detail = detail
        super().__init__(self.message)

    @property
    def message(self) -> str:
        lines = [_wrap(f"✘ {self.title}: {self.problem}", indent=2)]
        for label, value in (("tried", self.tried), ("expected", self.expected),
                             ("received", self.received), ("hint", self.hint)):
            if value not in (None, ""):
                if label in ("tried", "hint"):  # sentences: wrapped between words
                    text = _wrap(" " * 12 + str(value), indent=12)[12:]
                else:  # values (a tensor printed over several lines) keep their own lines
                    text = str(value).replace("\n", "\n" + " " * 12)
                lines.append(f"  {label + ':':<10}{text}")
        if self.detail:
            lines.append(self.detail)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        return ["\x1b[31m" + line + "\x1b[0m" if i == 0 else line
                for i, line in enumerate(self.message.splitlines())]


class _Failure(Exception):
    """Raised inside a check; the decorator turns it into ExerciseFailed with the title."""

    def __init__(self, problem: str, **parts: Any):
        super().__init__(problem)
        self.problem = problem
        self.parts = parts


def fail(problem: str, *, tried: str = "", expected: Any = None, received: Any = None,
         hint: str = "") -> None:
    """Stop the check with a verdict. Use for failures no helper below covers."""
    raise _Failure(problem, tried=tried, expected=expected, received=received, hint=hint)


@dataclass(frozen=True)
class EdgeCase:
    """A degenerate but valid input from the docstring, and what the answer must do on it.

    ``args()`` builds the arguments; ``expect(out, args)`` returns a problem in words, or None.
    """

    name: str
    args: Callable[[], tuple]
    expect: Callable[[Any, tuple], str | None]
    hint: str = ""


@dataclass(frozen=True)
class Contracts:
    """What every check of an exercise enforces besides its own tests (see the table in docs/grading.md).

    - inputs unchanged: every tensor passed to the learner's code is the same, bit for bit, afterwards;
    - float64: ``example(generator, torch.float64)`` gives float64 results, computed in float64;
    - meta: ``example(generator, dtype, "meta")`` runs on PyTorch's meta device (no data), the result there too;
    - edge cases: the docstring's degenerate inputs, each with what the answer must do;
    - written by hand: the ``forbidden`` built-ins raise while the learner's code runs.

    ``opt_out`` names a contract and says why it does not apply: no contract is skipped silently.
    """

    example: Callable[..., tuple] | None = None
    edge_cases: tuple[EdgeCase, ...] = ()
    forbidden: tuple[str, ...] = ()
    meta: bool = False
    opt_out: dict = field(default_factory=dict)

    def applies(self, name: str) -> bool:
        return name not in self.opt_out


# "Without autograd": every way into it that a learner meets (exercises that ask for a gradient by hand)
AUTOGRAD = ("torch.autograd.grad", "torch.autograd.backward", "torch.Tensor.backward",
            "torch.autograd.functional.jacobian", "torch.autograd.functional.hessian", "torch.func.grad",
            "torch.func.jacrev", "torch.func.jacfwd", "torch.func.hessian", "torch.func.vjp")

CONTRACT_NAMES = ("inputs unchanged", "float64", "meta device", "edge cases", "written by hand")
_CURRENT: contextvars.ContextVar["Exercise | None"] = contextvars.ContextVar("exercise", default=None)


def exercise(id: str, slug: str, *, points: int, difficulty: int, minutes: int,
             example: Callable[..., tuple] | None = None, edge_cases: tuple[EdgeCase, ...] = (),
             forbidden: tuple[str, ...] = (), meta: bool = False, opt_out: dict | None = None):
    """Register a check for exercise ``id`` and give it the course's voice.

    The decorated check takes the learner's object first. It passes by
    returning; it fails through :func:`fail` or the ``expect`` helpers. After it,
    the exercise's :class:`Contracts` are checked, and every :func:`call` of the
    learner's code inside it applies "inputs unchanged" and "written by hand".
    """
    contracts = Contracts(example, tuple(edge_cases), tuple(forbidden), meta, dict(opt_out or {}))
    unknown = set(contracts.opt_out) - set(CONTRACT_NAMES)
    if unknown:
        raise ValueError(f"{id}: no contract called {sorted(unknown)}")

    def decorate(check: Callable[..., None]) -> Callable[..., None]:
        title = f"{id} {slug}"

        @functools.wraps(check)
        def run(answer: Any = None, *args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True  # pytest: keep the report on the verdict
            # Whatever the learner's code draws, the notebook's random streams go on as before.
            states = random.getstate(), np.random.get_state(), torch.get_rng_state()
            current = _CURRENT.set(REGISTRY[id])
            armed = FORBIDDEN.set(contracts.forbidden if contracts.applies("written by hand") else ())
            try:
                if answer is None:
                    fail(f"the check received None instead of your `{slug}`.",
                         hint=f"pass your function itself: check_{slug}({slug}). "
                              "Did you run the cell that defines it?")
                if not callable(answer):
                    fail(f"the check needs your `{slug}` function, but received "
                         f"{describe(answer)}.", hint=f"call the check as check_{slug}({slug})")
                check(answer, *args, **kwargs)
                _check_contracts(contracts, answer, id)
            except _Failure as failure:
                raise ExerciseFailed(title, failure.problem, **failure.parts) from None
            finally:
                FORBIDDEN.reset(armed)
                _CURRENT.reset(current)
                random.setstate(states[0])
                np.random.set_state(states[1])
                torch.set_rng_state(states[2])
            print(f"✔ {title} passed")

        if id in REGISTRY and REGISTRY[id].slug != slug:
            raise ValueError(f"exercise id {id} is already taken by {REGISTRY[id].slug}")
        REGISTRY[id] = Exercise(id, slug, points, difficulty, minutes, run, contracts)
        run.exercise = REGISTRY[id]
        return run

    return decorate


# ---------------------------------------------------------------- calling learner code

def _learner_frames(exc: BaseException) -> str:
    """The traceback lines of the learner's own code, without mi_helpers' frames."""
    if isinstance(exc, RemoteError):  # raised in the learner's kernel: it sent its frames as text
        frames = [tuple(f) for f in exc.frames]
    else:
        frames = [("your cell" if f.filename.startswith(("<", "/tmp/ipykernel")) else Path(f.filename).name,
                   f.lineno, f.name, f.line or "")
                  for f in traceback.extract_tb(exc.__traceback__)
                  if not Path(f.filename).resolve().is_relative_to(PACKAGE_DIR)]
    if not frames:
        return ""
    lines = ["  where:    (your code, most recent call last)"]
    for place, lineno, name, line in frames[-3:]:
        lines.append(f"            {place}, line {lineno}, in {name}: {line}".rstrip())
    return "\n".join(lines)


def _tensor_arguments(args: tuple, kwargs: dict) -> list[tuple[str, torch.Tensor]]:
    """(how to name it, tensor) for every tensor argument, and every tensor in a list, tuple or dict argument."""
    found = []
    for key, value in [*enumerate(args), *kwargs.items()]:
        name = f"argument {key + 1}" if isinstance(key, int) else f"argument `{key}`"
        if isinstance(value, torch.Tensor):
            found.append((name, value))
        elif isinstance(value, (list, tuple)):
            found += [(f"item {i} of {name}", v) for i, v in enumerate(value) if isinstance(v, torch.Tensor)]
        elif isinstance(value, dict):
            found += [(f"entry {k!r} of {name}", v) for k, v in value.items() if isinstance(v, torch.Tensor)]
    return found


FORBIDDEN_HINT = ("this exercise is about writing that computation: use the operations the exercise names "
                  "(the built-in is what the check compares you with)")


def call(fn: Callable[..., Any], *args: Any, tried: str, hint_if_raised: str = "",
         **kwargs: Any) -> Any:
    """Call the learner's ``fn`` and turn anything that goes wrong into a verdict.

    ``tried`` describes the inputs in words ("x of shape (4, 3), float32");
    ``hint_if_raised`` replaces the generic hint when the learner's code raises.
    Two contracts hold for every call: the tensors passed in come back unchanged,
    bit for bit, and the built-ins the exercise forbids raise while it runs.
    """
    ex = _CURRENT.get()
    contracts = ex.contracts if ex is not None and ex.contracts is not None else Contracts()
    watched = [(name, t, tensor_bits(t)) for name, t in _tensor_arguments(args, kwargs)] \
        if contracts.applies("inputs unchanged") else []
    forbidden = FORBIDDEN.get()
    try:
        local = not isinstance(fn, Remote) and not any(isinstance(v, Remote) for v in [*args, *kwargs.values()])
        alias = forbidden_alias_in_call(fn, args, kwargs, forbidden) if forbidden and local else None
        if alias:
            raise ForbiddenBuiltin(alias)
        with tripwires(forbidden if not isinstance(fn, Remote) else ()):
            result = fn(*args, **kwargs)
    except ForbiddenBuiltin as exc:
        raise _Failure(f"this exercise asks you to write it yourself, and your code called `{exc.name}`.",
                       tried=tried, hint=FORBIDDEN_HINT) from None
    except NotImplementedError:
        raise _Failure("not attempted yet: your function still raises NotImplementedError.",
                       tried=tried,
                       hint="replace the line `raise NotImplementedError()` with your code, "
                            "run that cell, then run this check again") from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # the learner's bug: say what and where, not how we got there
        if getattr(exc, "remote_type", None) == "ForbiddenBuiltin":
            raise _Failure(f"this exercise asks you to write it yourself, and your code called `{exc}`.",
                           tried=tried, hint=FORBIDDEN_HINT) from None
        failure = _Failure(f"your function raised {type(exc).__name__}: {exc}", tried=tried,
                           hint=hint_if_raised or "run your function on the input above yourself and read the error")
        failure.parts["detail"] = _learner_frames(exc)
        raise failure from None
    for name, tensor, before in watched:
        if not torch.equal(tensor_bits(tensor), before):
            raise _Failure(f"your function changed its input in place ({name}, {describe(tensor)}).",
                           tried=tried, expected="every input left exactly as it was",
                           hint="an in-place operation (x -= ..., x[...] = ..., x.add_(...), x /= x.norm()) "
                                "edits the caller's tensor; build a new tensor instead (x = x - ...)")
    if result is None:
        raise _Failure("your function returned None.", tried=tried,
                       hint="did you forget the `return` statement?")
    return result


def inside(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, run where the learner's objects live.

    In the notebook that is right here. Under the graders, the learner's function,
    class or model lives in the sandboxed kernel (a :class:`~mi_helpers.remote.Remote`):
    then ``fn``, a course function, is sent there to run next to it, and only its
    plain-data result comes back. Use it for what a check cannot ask through a call
    of the learner's code alone (autograd through it, the layers of a model it built),
    and check what comes back as a value.
    """
    for value in [*args, *kwargs.values()]:
        if isinstance(value, Remote):
            return value._channel.call(fn, args, kwargs)
    return fn(*args, **kwargs)


def is_instance(value: Any, cls: type) -> bool:
    """isinstance, also for an object in the learner's kernel (as the kernel describes it)."""
    if isinstance(value, Remote):
        return value.remote_isinstance(cls)
    return isinstance(value, cls)


def detached(value: Any) -> Any:
    """The value with any tensors in it (or in a returned tuple or list) cut from autograd."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, (tuple, list)):
        return type(value)(detached(v) for v in value)
    return value


def call_on_copies(fn: Callable[..., Any], *args: Any, tried: str, **kwargs: Any) -> Any:
    """:func:`call` on copies of the tensor arguments, with the result detached.

    For checks that reuse their inputs afterwards: an in-place edit by the
    learner's code cannot change them. (A check that wants to catch in-place
    edits calls :func:`call` and compares the input before and after.)
    """
    copies = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    return detached(call(fn, *copies, tried=tried, **kwargs))


# ---------------------------------------------------------------- describing values

def describe(value: Any) -> str:
    """A short description: type, shape and dtype where they exist."""
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)}, {str(value.dtype).replace('torch.', '')}" \
               + ("" if value.device.type == "cpu" else f", on {value.device}")
    if isinstance(value, np.ndarray):
        return f"numpy array of shape {value.shape}, {value.dtype}"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of {len(value)} items"
    if isinstance(value, float):
        return f"float {value:.6g}"
    if isinstance(value, Remote):
        return value.remote_type.rsplit(".", 1)[-1] + " object"
    if callable(value):
        return f"{type(value).__name__} {getattr(value, '__name__', '')}".strip()
    return f"{type(value).__name__} {value!r}"[:120]


def show(tensor: torch.Tensor, limit: int = 6) -> str:
    """A compact printout of a small tensor, or its first entries."""
    t = tensor.detach().cpu()
    if t.numel() <= limit * limit and t.dim() <= 2:
        return str(t.numpy().round(4))
    flat = t.flatten()[:limit].numpy().round(4)
    return f"first entries {flat} ..."


# ---------------------------------------------------------------- expectations

def expect(condition: bool, problem: str, *, tried: str = "", expected: Any = None,
           received: Any = None, hint: str = "") -> None:
    """Fail with ``problem`` unless ``condition`` holds."""
    if not condition:
        fail(problem, tried=tried, expected=expected, received=received, hint=hint)


def expect_tensor(value: Any, *, shape: tuple[int, ...] | None = None,
                  dtype: torch.dtype | None = None, device: torch.device | str | None = None,
                  tried: str = "", name: str = "the result", hint: str = "",
                  allow_nan: bool = False) -> torch.Tensor:
    """Fail unless ``value`` is a tensor of the given shape, dtype and device, free of NaN."""
    if not isinstance(value, torch.Tensor):
        fail(f"{name} should be a torch.Tensor.", tried=tried, expected="a torch.Tensor",
             received=describe(value),
             hint=hint or "build the result with torch operations (torch.as_tensor converts an array)")
    if shape is not None and tuple(value.shape) != tuple(shape):
        fail(f"{name} has the wrong shape.", tried=tried, expected=f"shape {tuple(shape)}",
             received=f"shape {tuple(value.shape)}", hint=hint)
    if dtype is not None and value.dtype != dtype:
        fail(f"{name} has the wrong dtype.", tried=tried, expected=str(dtype).replace("torch.", ""),
             received=str(value.dtype).replace("torch.", ""),
             hint=hint or "keep the dtype of the input: avoid float64 constants and numpy round trips")
    if device is not None and value.device.type != torch.device(device).type:
        fail(f"{name} is on the wrong device.", tried=tried, expected=str(torch.device(device)),
             received=str(value.device), hint=hint or "create tensors with device=...")
    if not allow_nan and value.is_floating_point():
        bad = ~torch.isfinite(value)
        if bad.any():
            fail(f"{name} contains {int(bad.sum())} NaN or infinite entries.", tried=tried,
                 received=show(value),
                 hint=hint or "look for a division by zero, a log of 0 or a sqrt of a negative number")
    return value


def expect_close(received: torch.Tensor, expected: torch.Tensor, *, tried: str,
                 problem: str = "the values are wrong.", atol: float = 1e-5, rtol: float = 1e-4,
                 hint: str = "", name: str = "the result") -> None:
    """Fail unless ``received`` matches ``expected`` (shape, dtype, then values)."""
    expected = expected.detach()
    received = expect_tensor(received, shape=tuple(expected.shape), dtype=expected.dtype,
                             tried=tried, name=name, hint=hint)
    diff = (received.detach().cpu() - expected.cpu()).abs()
    if not torch.allclose(received.detach().cpu(), expected.cpu(), atol=atol, rtol=rtol):
        where = tuple(int(i) for i in np.unravel_index(int(diff.argmax()), tuple(expected.shape)))
        fail(problem, tried=tried, expected=show(expected), received=show(received),
             hint=(hint + "\n" if hint else "")
             + f"largest difference {diff.max().item():.3g} at index {where}")


def single_number(value: Any, *, tried: str, name: str = "the result", expected: str = "a float",
                  hint: str = "", nonfinite_hint: str = "") -> float:
    """``value`` as a float: a Python number, a one-element tensor or array. Fail on anything
    else, and on NaN or infinity."""
    one = (isinstance(value, torch.Tensor) and value.numel() == 1) or \
        (isinstance(value, np.ndarray) and value.size == 1) or isinstance(value, np.generic)
    if one:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(f"{name} should be a single number.", tried=tried, expected=expected, received=describe(value),
             hint=hint or "reduce to one number: .mean() or .sum() give a 0-d tensor, .item() a Python float")
    if not math.isfinite(value):
        fail(f"{name} is {'NaN' if math.isnan(value) else 'infinite'}.", tried=tried, expected=expected,
             received=str(value),
             hint=nonfinite_hint or "look for a division by zero, a log of 0 or a step that grows without bound")
    return float(value)


def expect_number(received: Any, expected: float, *, tried: str, tol: float = 1e-6,
                  problem: str = "the number is wrong.", hint: str = "") -> float:
    """Fail unless ``received`` is a real number (or 0-d tensor) within ``tol`` of ``expected``."""
    received = single_number(received, tried=tried, expected=f"{expected:.6g}", hint=hint)
    if abs(received - expected) > tol:
        fail(problem, tried=tried, expected=f"{expected:.6g}", received=f"{received:.6g}", hint=hint)
    return received


def expect_gradient_pair(out: Any, *, fn_name: str, d: int, dtype: torch.dtype, tried: str,
                         shape_hint: str, bias_hint: str, dtype_hint: str = "") -> tuple[torch.Tensor, float]:
    """Unpack and vet a gradient returned as ``(grad_w [d], grad_b one number)``."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"{fn_name} should return a pair (grad_w, grad_b).", tried=tried,
             expected=f"a tuple of 2: grad_w of shape ({d},) and grad_b, one number", received=describe(out),
             hint="end with `return grad_w, grad_b`")
    grad_w, grad_b = out
    expect_tensor(grad_w, shape=(d,), tried=tried, name="grad_w", allow_nan=True, hint=shape_hint)
    expect_tensor(grad_w, dtype=dtype, tried=tried, name="grad_w", hint=dtype_hint)
    return grad_w, single_number(grad_b, name="grad_b", expected="a 0-d tensor (a Python float is accepted too)",
                                 tried=tried, hint=bias_hint)


def generator(exercise_id: str, salt: int = 0) -> torch.Generator:
    """A generator seeded from the exercise id, so a check draws the same inputs every run."""
    major, minor = (int(part) for part in exercise_id.split("."))
    return torch.Generator().manual_seed(10_000 * major + 100 * minor + salt)


# ---------------------------------------------------------------- contracts after the check

def _floats(value: Any) -> list:
    """Every floating-point tensor and Python float in a result (through tuples, lists and dicts)."""
    if isinstance(value, torch.Tensor):
        return [value] if value.is_floating_point() else []
    if isinstance(value, float):
        return [value]
    if isinstance(value, (list, tuple)):
        return [f for v in value for f in _floats(v)]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    return []


def _float32_exact(values: list) -> bool | None:
    """True if every non-trivial value is exactly a float32: a float64 result computed in float32.

    A value computed in float64 from random inputs is a float32 with probability
    about 2^-29; integers and zeros are left out, since they are floats32 anyway.
    None when there is no non-trivial value to judge by.
    """
    flat = torch.cat([torch.as_tensor(v, dtype=torch.float64).detach().cpu().reshape(-1) for v in values]) \
        if values else torch.empty(0, dtype=torch.float64)
    flat = flat[torch.isfinite(flat) & (flat != flat.round())]
    if flat.numel() == 0:
        return None
    return bool((flat.float().double() == flat).all())


def _check_contracts(contracts: Contracts, answer: Any, exercise_id: str) -> None:
    g = generator(exercise_id, salt=77)
    if contracts.example is not None and contracts.applies("float64"):
        args = contracts.example(g, torch.float64)
        tried = "the check's example inputs in float64 (see the docstring: the result keeps the input's dtype)"
        out = call(answer, *args, tried=tried)
        floats = _floats(out)
        wrong = [describe(v) for v in floats if isinstance(v, torch.Tensor) and v.dtype != torch.float64]
        expect(not wrong, "with float64 inputs, a result came back in another dtype.", tried=tried,
               expected="float64 results", received=", ".join(wrong),
               hint="keep the input's dtype: torch.zeros(n, dtype=x.dtype) or torch.zeros_like(x), not "
                    "torch.zeros(n); no .float(), no torch.tensor(..., dtype=torch.float32)")
        expect(_float32_exact(floats) is not True, "with float64 inputs, the result was computed in float32.",
               tried=tried, expected="every digit of float64 precision",
               received="values that are all exactly float32 numbers",
               hint="somewhere the computation goes through float32 (.float(), torch.tensor(...) without "
                    "dtype, a float32 constant tensor, numpy float32): keep the input's dtype throughout")
    if contracts.example is not None and contracts.meta and contracts.applies("meta device"):
        args = contracts.example(g, torch.float32, "meta")
        tried = ("the example inputs on PyTorch's meta device (tensors with a shape and a dtype but no data: "
                 "a stand-in for a GPU)")
        out = call(answer, *args, tried=tried,
                   hint_if_raised="your code mixes devices or needs the values on the CPU: create new "
                                  "tensors on the input's device (torch.zeros_like(x), device=x.device), "
                                  "and keep .item(), .tolist() and numpy out of it")
        elsewhere = [describe(v) for v in _floats(out) if isinstance(v, torch.Tensor) and v.device.type != "meta"]
        expect(not elsewhere and not any(isinstance(v, float) for v in _floats(out)),
               "on the meta device, the result left the input's device.", tried=tried,
               expected="tensors on the meta device", received=", ".join(elsewhere) or describe(out),
               hint="create tensors with device=x.device (or torch.zeros_like(x)) so that the code runs "
                    "on a GPU as well as on the CPU")
    if contracts.applies("edge cases"):
        for case in contracts.edge_cases:
            args = case.args()
            tried = f"an edge case the docstring allows: {case.name}"
            out = call(answer, *args, tried=tried)
            bad = [v for v in _floats(out) if not bool(torch.isfinite(torch.as_tensor(v)).all())]
            expect(not bad, "the result contains NaN or infinite values on an edge case.", tried=tried,
                   expected="finite values", received=describe(bad[0]) if bad else "",
                   hint=case.hint or "look for a division by n - 1, by a norm or by a standard deviation "
                                     "that is 0 here, or a sqrt of a tiny negative number")
            problem = case.expect(out, args)
            expect(problem is None, f"wrong on an edge case: {problem}.", tried=tried,
                   received=describe(out), hint=case.hint)


def close_to(expected: Callable[..., Any], atol: float = 1e-6) -> Callable[[Any, tuple], str | None]:
    """An edge case's expectation: the result equals ``expected(*args)`` (tensors, floats, or tuples of them)."""

    def compare(out: Any, args: tuple) -> str | None:
        want = expected(*args)
        pairs = list(zip(out, want)) if isinstance(want, tuple) and isinstance(out, (tuple, list)) \
            and len(out) == len(want) else [(out, want)]
        for got, wanted in pairs:
            if isinstance(wanted, torch.Tensor):
                if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(wanted.shape):
                    return f"expected {describe(wanted)}"
                if not torch.allclose(got.detach().cpu().double(), wanted.detach().cpu().double(), atol=atol):
                    return f"expected {show(wanted)}, got {show(got)}"
            else:
                try:
                    if abs(float(got) - float(wanted)) > atol:
                        return f"expected {float(wanted):.6g}, got {float(got):.6g}"
                except (TypeError, ValueError):
                    return f"expected {wanted!r}"
        return None

    return compare
