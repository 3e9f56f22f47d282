"""The grader's hand inside the learner's kernel: it calls what the grader asks for and sends back plain data.

Nothing here decides a grade. The grader (:mod:`mi_helpers.remote`) writes a
request into the sandbox's read-only inbox and asks the kernel to run
``serve(n)``; this module reads the request, makes the call in the kernel, and
publishes the outcome as JSON (:mod:`mi_helpers.wire`) on the kernel's output
channel. The learner's code runs in this same process and could change any of
it; that only changes what comes back, and the grader trusts nothing that comes
back except as data to check.

Besides the result, a call reports what it did to its arguments (tensors edited
in place; hooks, weights and mode of models) and whether it moved the global
random generators, so that the grader can tell as much as a check in the
notebook could.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import pickle
import random
import traceback
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import wire

MIME = "application/vnd.mi-reply+json"
PACKAGE_DIR = Path(__file__).resolve().parent
_objects: dict[int, object] = {}
_saved_states: list = []


def _keep(value) -> list:
    key = len(_objects) + 1
    _objects[key] = value
    kind = type(value)
    return ["ref", key, {"type": f"{kind.__module__}.{kind.__qualname__}", "callable": callable(value),
                         "mro": [f"{k.__module__}.{k.__qualname__}" for k in kind.__mro__]}]


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        tag, key = pid
        if tag != "ref" or key not in _objects:
            raise pickle.UnpicklingError("the grader referred to an object this kernel no longer has")
        return _objects[key]


def _user_namespace() -> dict:
    from IPython import get_ipython
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def _publish(reply: dict) -> None:
    from IPython.display import publish_display_data
    publish_display_data({MIME: reply})


# ------------------------------------------------------------------ "write it yourself": tripwires

class ForbiddenBuiltin(BaseException):
    """The learner's code called a built-in that the exercise asks them to write themselves.

    A BaseException, so that a learner's ``except Exception`` does not hide it."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _owner(dotted: str):
    """("torch.nn.functional.mse_loss") -> (the module or class holding it, "mse_loss")."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:-1]:
            owner = getattr(owner, attribute)
        return owner, parts[-1]
    raise ImportError(dotted)


def forbidden_objects(names) -> dict[int, str]:
    found = {}
    for name in names:
        with contextlib.suppress(ImportError, AttributeError):
            owner, attribute = _owner(name)
            found[id(getattr(owner, attribute))] = name
    return found


LIBRARY_MODULES = ("torch", "numpy", "sklearn", "builtins", "abc", "typing", "collections", "enum")


def _functions(fn):
    """``fn`` itself, or every method a class (or the class of an instance) defines itself.

    A class's code lives in its methods, and a module is called through ``forward``; library classes
    in its ancestry (``nn.Module``) are not the learner's and are skipped.
    """
    if isinstance(getattr(fn, "__code__", None), types.CodeType):
        return [fn]
    if inspect.ismethod(fn):
        return _functions(fn.__func__)
    found = []
    for klass in getattr(fn if isinstance(fn, type) else type(fn), "__mro__", ()):
        if str(getattr(klass, "__module__", "")).split(".")[0] in LIBRARY_MODULES:
            continue
        for value in vars(klass).values():
            value = getattr(value, "__func__", value)  # staticmethod, classmethod
            for part in (value.fget, value.fset) if isinstance(value, property) else (value,):
                if isinstance(getattr(part, "__code__", None), types.CodeType):
                    found.append(part)
    return found


def forbidden_alias(fn, names) -> str | None:
    """The forbidden built-in that ``fn`` reaches through a name of its own module (``from torch import cdist``)
    or of an enclosing function.

    ``fn`` may be a function, a class or an instance: for the last two every method is looked through.
    """
    objects = forbidden_objects(names)
    if not objects:
        return None
    for function in _functions(fn):
        scope = getattr(function, "__globals__", None)
        scope = scope if isinstance(scope, dict) else {}
        for cell in getattr(function, "__closure__", None) or ():
            with contextlib.suppress(ValueError):  # an empty cell
                if id(cell.cell_contents) in objects:
                    return objects[id(cell.cell_contents)]
        stack = [function.__code__]
        while stack:
            code = stack.pop()
            stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
            for name in code.co_names:
                if name in scope and id(scope[name]) in objects:
                    return objects[id(scope[name])]
    return None


def forbidden_alias_in_call(target, args, kwargs, names) -> str | None:
    """``forbidden_alias`` of the function called and of every function, class or module passed to it.

    A check often calls a course function on the learner's class (build it, run its forward): the
    class's methods are then what runs, and they are looked through too. Course code is not.
    """
    if not names:
        return None
    for item in (target, *args, *kwargs.values()):
        owner = getattr(item, "__module__", None) or getattr(type(item), "__module__", "")
        if not isinstance(owner, str) or owner.split(".")[0] in ("mi_helpers", *LIBRARY_MODULES):
            continue
        alias = forbidden_alias(item, names)
        if alias:
            return alias
    return None


@contextlib.contextmanager
def tripwires(names):
    """While active, each named built-in raises ForbiddenBuiltin instead of running."""
    patched = []
    try:
        for name in names:
            try:
                owner, attribute = _owner(name)
                original = getattr(owner, attribute)
                if isinstance(owner, type):  # a method: restore what the class itself held, if anything
                    original = owner.__dict__.get(attribute, None)
            except (ImportError, AttributeError):
                continue

            def wire(*_args, _name=name, **_kwargs):
                raise ForbiddenBuiltin(_name)

            patched.append((owner, attribute, original))
            setattr(owner, attribute, wire)
        yield
    finally:
        for owner, attribute, original in reversed(patched):
            if original is None:
                with contextlib.suppress(AttributeError):
                    delattr(owner, attribute)
            else:
                setattr(owner, attribute, original)


# ------------------------------------------------------------------ what a call did besides returning

def tensor_bits(t: torch.Tensor) -> torch.Tensor:
    """A tensor's bytes, to compare bit for bit (NaN equals NaN); empty on the meta device, which has none."""
    t = t.detach()
    if t.device.type == "meta":
        return torch.empty(0)
    return t.cpu().contiguous().reshape(-1).view(torch.uint8).clone()


def _hook_counts(model: nn.Module) -> dict:
    return {name: [len(m._forward_hooks), len(m._forward_pre_hooks)] for name, m in model.named_modules()}


def _state(model: nn.Module) -> dict:
    return {k: tensor_bits(v) for k, v in model.state_dict(keep_vars=True).items()}


def _arguments(args: tuple, kwargs: dict):
    """(key, value) of every argument, and of every item of a list, tuple or dict argument: key
    [outer, inner] for those, so that an in-place edit of a tensor in a list comes back too."""
    for key, value in [*enumerate(args), *kwargs.items()]:
        yield key, value
        if isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if isinstance(item, torch.Tensor):
                    yield [key, index], item
        elif isinstance(value, dict):
            for inner, item in value.items():
                if isinstance(inner, (str, int)) and isinstance(item, torch.Tensor):
                    yield [key, inner], item


def _before(args: tuple, kwargs: dict) -> dict:
    seen = {}
    for key, value in _arguments(args, kwargs):
        if isinstance(value, torch.Tensor):
            seen[repr(key)] = ("tensor", tuple(value.shape), value.dtype, tensor_bits(value))
        elif isinstance(value, nn.Module):
            seen[repr(key)] = ("module", _state(value), value.training)
    return seen


def _after(args: tuple, kwargs: dict, seen: dict) -> list:
    changes = []
    for key, value in _arguments(args, kwargs):
        if repr(key) not in seen:
            continue
        record = seen[repr(key)]
        if record[0] == "tensor" and isinstance(value, torch.Tensor):
            if (tuple(value.shape), value.dtype) != record[1:3] or not torch.equal(tensor_bits(value), record[3]):
                changes.append([key, "tensor", value])
        elif record[0] == "module" and isinstance(value, nn.Module):
            old_state = record[1]
            new_state = value.state_dict(keep_vars=True)
            changed = {k: v.detach() for k, v in new_state.items()
                       if k not in old_state or not torch.equal(tensor_bits(v), old_state[k])}
            changes.append([key, "module", {"hooks": _hook_counts(value), "state": changed,
                                            "training": {n: m.training for n, m in value.named_modules()}}])
    return changes


def _rng_states():
    return torch.get_rng_state(), np.random.get_state(), random.getstate()


def _moved(before, after) -> dict:
    numpy_same = before[1][0] == after[1][0] and np.array_equal(before[1][1], after[1][1]) \
        and tuple(before[1][2:]) == tuple(after[1][2:])
    return {"torch": not torch.equal(before[0], after[0]), "numpy": not numpy_same, "python": before[2] != after[2]}


def _learner_frames(exc: BaseException) -> list:
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            inside = Path(frame.filename).resolve().is_relative_to(PACKAGE_DIR)
        except (OSError, ValueError):
            inside = False
        if inside:
            continue
        place = "your cell" if frame.filename.startswith(("<", "/tmp/ipykernel")) else Path(frame.filename).name
        frames.append([place, frame.lineno or 0, frame.name, (frame.line or "")[:200]])
    return frames[-3:]


# ------------------------------------------------------------------ requests

def _call(request: dict) -> dict:
    target, args, kwargs = request["target"], tuple(request["args"]), dict(request["kwargs"])
    forbidden = tuple(request.get("forbidden", ()))
    seen = _before(args, kwargs)
    rng = _rng_states()
    reply: dict = {}
    try:
        alias = forbidden_alias_in_call(target, args, kwargs, forbidden)
        if alias:
            raise ForbiddenBuiltin(alias)
        with tripwires(forbidden):
            value = target(*args, **kwargs)
        reply["ok"] = True
        reply["value"] = wire.encode(value, _keep)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: they are the learner's errors here
        reply["ok"] = False
        reply["error"] = {"type": type(exc).__name__, "message": str(exc)[:4000],
                          "frames": _learner_frames(exc)}
        if isinstance(exc, ForbiddenBuiltin):
            reply["error"]["message"] = exc.name
    reply["changes"] = wire.encode(_after(args, kwargs, seen), _keep)
    reply["rng"] = _moved(rng, _rng_states())
    return reply


def _names(request: dict) -> dict:
    namespace = _user_namespace()
    found = {}
    for name in request["names"]:
        if name not in namespace:
            found[name] = None
            continue
        value = namespace[name]
        found[name] = _keep(value) if callable(value) else wire.encode(value, _keep)
    return {"ok": True, "names": found}


def serve(number: int) -> None:
    """Answer request ``number`` from the inbox."""
    inbox = Path(os.environ.get("MI_SANDBOX_INBOX", "/nonexistent"))
    try:
        with open(inbox / f"request-{int(number)}.pickle", "rb") as handle:
            request = _Unpickler(handle).load()
        op = request["op"]
        if op == "call":
            reply = _call(request)
        elif op == "names":
            reply = _names(request)
        elif op == "begin":
            _saved_states.append(_rng_states())
            reply = {"ok": True}
        elif op == "end":
            if _saved_states:
                states = _saved_states.pop()
                torch.set_rng_state(states[0])
                np.random.set_state(states[1])
                random.setstate(states[2])
            reply = {"ok": True}
        else:
            reply = {"ok": False, "error": {"type": "GraderError", "message": f"unknown request {op!r}",
                                            "frames": []}}
    except Exception as exc:  # a request that could not even be read: say so, the grader decides
        reply = {"ok": False, "error": {"type": "GraderError", "message": f"{type(exc).__name__}: {exc}"[:2000],
                                        "frames": []}}
    reply["number"] = int(number)
    _publish(reply)
