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

import functools
import math
import random
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..remote import Remote, RemoteError

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
        lines = [f"✘ {self.title}: {self.problem}"]
        for label, value in (("tried", self.tried), ("expected", self.expected),
                             ("received", self.received), ("hint", self.hint)):
            if value not in (None, ""):
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


def exercise(id: str, slug: str, *, points: int, difficulty: int, minutes: int):
    """Register a check for exercise ``id`` and give it the course's voice.

    The decorated check takes the learner's object first. It passes by
    returning; it fails through :func:`fail` or the ``expect`` helpers.
    """

    def decorate(check: Callable[..., None]) -> Callable[..., None]:
        title = f"{id} {slug}"

        @functools.wraps(check)
        def run(answer: Any = None, *args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True  # pytest: keep the report on the verdict
            # Whatever the learner's code draws, the notebook's random streams go on as before.
            states = random.getstate(), np.random.get_state(), torch.get_rng_state()
            try:
                if answer is None:
                    fail(f"the check received None instead of your `{slug}`.",
                         hint=f"pass your function itself: check_{slug}({slug}). "
                              "Did you run the cell that defines it?")
                if not callable(answer):
                    fail(f"the check needs your `{slug}` function, but received "
                         f"{describe(answer)}.", hint=f"call the check as check_{slug}({slug})")
                check(answer, *args, **kwargs)
            except _Failure as failure:
                raise ExerciseFailed(title, failure.problem, **failure.parts) from None
            finally:
                random.setstate(states[0])
                np.random.set_state(states[1])
                torch.set_rng_state(states[2])
            print(f"✔ {title} passed")

        if id in REGISTRY and REGISTRY[id].slug != slug:
            raise ValueError(f"exercise id {id} is already taken by {REGISTRY[id].slug}")
        REGISTRY[id] = Exercise(id, slug, points, difficulty, minutes, run)
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


def call(fn: Callable[..., Any], *args: Any, tried: str, hint_if_raised: str = "",
         **kwargs: Any) -> Any:
    """Call the learner's ``fn`` and turn anything that goes wrong into a verdict.

    ``tried`` describes the inputs in words ("x of shape (4, 3), float32");
    ``hint_if_raised`` replaces the generic hint when the learner's code raises.
    """
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise _Failure("not attempted yet: your function still raises NotImplementedError.",
                       tried=tried,
                       hint="replace the line `raise NotImplementedError()` with your code, "
                            "run that cell, then run this check again") from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # the learner's bug: say what and where, not how we got there
        failure = _Failure(f"your function raised {type(exc).__name__}: {exc}", tried=tried,
                           hint=hint_if_raised or "run your function on the input above yourself and read the error")
        failure.parts["detail"] = _learner_frames(exc)
        raise failure from None
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
