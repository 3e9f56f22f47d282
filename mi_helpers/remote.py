"""The grader's side of the channel into the learner's kernel: objects that stay there, called from here.

The checks grade values, and the values they grade are computed in the
learner's kernel: a :class:`Remote` stands for an object in the kernel (the
learner's function, class or model). Calling it sends the arguments over
(pickled, from the grader to the kernel only) and brings the result back as
plain data (:mod:`mi_helpers.wire`); an object that is not plain data comes
back as another :class:`Remote`. What the call did to its arguments comes back
too and is applied to the grader's own copies: a tensor edited in place is
edited here, hooks left on a model are mirrored on the grader's model (so that
``count_hooks`` sees them), and a global random generator that moved in the
kernel moves here.

:func:`mi_helpers.checks.core.inside` runs a course function in the kernel,
next to the learner's objects, for what cannot be asked through a call alone
(autograd through the learner's function, the layers of the learner's model).
"""
from __future__ import annotations

import builtins
import contextvars
import copy
import io
import os
import pickle
import queue
import random
import time
import weakref
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import torch
from torch import nn

from . import wire
from .harness import MIME


# The built-ins the current exercise asks the learner to write themselves (set by checks.core.exercise):
# sent with every call, so that the kernel arms its tripwires while the learner's code runs.
FORBIDDEN: contextvars.ContextVar[tuple] = contextvars.ContextVar("forbidden", default=())


class ChannelError(BaseException):
    """The kernel did not answer as agreed (it died, ran out of time, or sent something else).

    A BaseException, like KeyboardInterrupt: a check's ``except Exception`` around
    the learner's call must not swallow it."""


class KernelDied(ChannelError):
    """The kernel died while the grader waited for it."""


class RemoteTimeout(ChannelError):
    """The kernel did not answer within the time left to the check."""


class ProtocolError(ChannelError):
    """The kernel answered, but not with a reply the grader can read."""


class RemoteError(Exception):
    """The learner's code raised an error in the kernel; its type, message and the learner's frames."""

    remote_type = "Exception"
    frames: list = []

    def __str__(self) -> str:
        return self.args[0] if self.args else ""


_ERROR_CLASSES: dict[str, type] = {}


def remote_error(type_name: str, message: str, frames: list) -> Exception:
    """An exception to raise in the grader for an error the learner's code raised in the kernel."""
    if type_name == "NotImplementedError":
        return NotImplementedError(message)
    if type_name not in _ERROR_CLASSES:
        base = getattr(builtins, type_name, None)
        bases = (RemoteError,)
        if isinstance(base, type) and issubclass(base, Exception) and base is not Exception:
            bases = (RemoteError, base)
        _ERROR_CLASSES[type_name] = type(type_name, bases, {"remote_type": type_name})
    error = _ERROR_CLASSES[type_name](message)
    error.frames = [f for f in frames if isinstance(f, list) and len(f) == 4][:3]
    return error


class Remote:
    """An object that lives in the learner's kernel. It can be passed back to the kernel, and described."""

    def __init__(self, channel: "KernelChannel", key: int, info: dict):
        self._channel, self._key, self._info, self._epoch = channel, key, info, channel.epoch

    @property
    def remote_type(self) -> str:
        return self._info["type"]

    def remote_isinstance(self, cls: type) -> bool:
        """What the kernel said of the object's class (the learner could have lied: use for messages)."""
        return f"{cls.__module__}.{cls.__qualname__}" in self._info["mro"]

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(f"the grader does not read attribute `{name}` of an object in your notebook "
                             f"({self._info['type']})")

    def __repr__(self) -> str:
        return f"<{self._info['type']} in the learner's kernel>"


class RemoteCallable(Remote):
    """A function or class that lives in the learner's kernel; calling it runs it there."""

    def __call__(self, *args, **kwargs):
        return self._channel.call(self, args, kwargs)

    @property
    def __name__(self) -> str:
        return self._info["type"].rsplit(".", 1)[-1]


def has_remote(*values: Any) -> bool:
    """Whether any of the values, or the items of a list, tuple or dict among them, lives in the kernel."""
    for value in values:
        if isinstance(value, Remote):
            return True
        if isinstance(value, (list, tuple)) and any(isinstance(v, Remote) for v in value):
            return True
        if isinstance(value, dict) and any(isinstance(v, Remote) for v in value.values()):
            return True
    return False


# ------------------------------------------------------------------ mirroring what a call did

_MIRRORED: "weakref.WeakKeyDictionary[nn.Module, list]" = weakref.WeakKeyDictionary()


def mirrored_hook(*_args):
    """Stands on the grader's model for a hook the learner's code left on the kernel's copy; does nothing."""
    return None


def _without_hooks(model: nn.Module) -> nn.Module:
    """A copy of the model to send: no hooks (they may not pickle, and mirrored ones mean nothing there)."""
    clean = copy.deepcopy(model)
    for module in clean.modules():
        for attribute in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
                          "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
                          "_forward_pre_hooks_with_kwargs", "_state_dict_hooks", "_load_state_dict_pre_hooks",
                          "_state_dict_pre_hooks", "_load_state_dict_post_hooks"):
            hooks = getattr(module, attribute, None)
            if hooks is not None:
                hooks.clear()
    return clean


def _argument(args: tuple, kwargs: dict, key) -> Any:
    """The argument a change names: an int or str key, or [key, index] for an item of a list or dict."""
    def pick(container, k):
        if isinstance(container, (list, tuple)):
            return container[k] if isinstance(k, int) and 0 <= k < len(container) else None
        if isinstance(container, dict) and isinstance(k, (str, int)):
            return container.get(k)
        return None

    if isinstance(key, list) and len(key) == 2:
        return pick(pick(args, key[0]) if isinstance(key[0], int) else kwargs.get(key[0]), key[1])
    return pick(args, key) if isinstance(key, int) else pick(kwargs, key)


def _apply_module_changes(model: nn.Module, info: dict) -> None:
    for handle in _MIRRORED.pop(model, []):
        handle.remove()
    handles = []
    modules = dict(model.named_modules())
    hooks = info.get("hooks") if isinstance(info, dict) else None
    for name, counts in (hooks or {}).items():
        module = modules.get(name)
        if module is None or not isinstance(counts, list) or len(counts) != 2:
            continue
        forward, pre = (min(int(c), 1000) if isinstance(c, int) else 0 for c in counts)
        handles += [module.register_forward_hook(mirrored_hook) for _ in range(forward)]
        handles += [module.register_forward_pre_hook(mirrored_hook) for _ in range(pre)]
    if handles:
        _MIRRORED[model] = handles
    state = model.state_dict(keep_vars=True)
    with torch.no_grad():
        for key, value in (info.get("state") or {}).items():
            if key in state and isinstance(value, torch.Tensor):
                target = state[key]
                if target.shape == value.shape and target.dtype == value.dtype:
                    target.copy_(value)
                else:
                    target.data = value.to(target.device)
    for name, flag in (info.get("training") or {}).items():
        if name in modules and isinstance(flag, bool):
            modules[name].training = flag


def _apply_tensor_change(target: Any, value: Any) -> None:
    if not isinstance(target, torch.Tensor) or not isinstance(value, torch.Tensor):
        return
    with torch.no_grad():
        if target.shape == value.shape and target.dtype == value.dtype and target.device.type != "meta":
            target.copy_(value.to(target.device))
        else:
            target.data = value.to(target.device)


def _advance(moved: dict) -> None:
    """The kernel's global generators moved during the call: move the grader's too."""
    if not isinstance(moved, dict):
        return
    if moved.get("torch"):
        torch.rand(1)
    if moved.get("numpy"):
        np.random.rand()
    if moved.get("python"):
        random.random()


# ------------------------------------------------------------------ the channel

class _Pickler(cloudpickle.CloudPickler):
    """cloudpickle sends a check's own lambdas by value; course functions go by name; a Remote as its key."""

    def __init__(self, file, channel: "KernelChannel"):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.channel = channel

    def persistent_id(self, obj):
        if isinstance(obj, Remote):
            if obj._channel is not self.channel or obj._epoch != self.channel.epoch:
                raise ProtocolError("an object from before the kernel restarted was used again")
            return ("ref", obj._key)
        return None


class KernelChannel:
    """Requests to the harness in a kernel that nbclient started (see :mod:`mi_helpers.harness`)."""

    def __init__(self, client, inbox: Path):
        self.client = client  # an nbclient.NotebookClient with a running kernel
        self.inbox = Path(inbox)
        self.counter = 0
        self.epoch = 0
        self.deadline = time.monotonic() + 60

    def restarted(self, client) -> None:
        """A new kernel: every Remote of the old one is void."""
        self.client = client
        self.epoch += 1

    # ------------------------------------------------------------ one round trip

    def request(self, payload: dict) -> dict:
        self.counter += 1
        number = self.counter
        path = self.inbox / f"request-{number}.pickle"
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, self).dump(payload)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise ProtocolError(f"the grader could not send its request to the kernel ({exc})") from None
        path.write_bytes(buffer.getvalue())
        os.chmod(path, 0o644)
        try:
            from jupyter_core.utils import run_sync
            reply = run_sync(self._round_trip)(number)
        finally:
            path.unlink(missing_ok=True)
        return reply

    async def _round_trip(self, number: int) -> dict:
        from jupyter_core.utils import ensure_async
        kc, km = self.client.kc, self.client.km
        code = f"__import__('mi_helpers.harness', fromlist=['serve']).serve({number})"
        msg_id = kc.execute(code, silent=False, store_history=False, allow_stdin=False)
        reply = None
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise RemoteTimeout("the kernel did not answer in time")
            try:
                msg = await ensure_async(kc.get_iopub_msg(timeout=min(remaining, 0.5)))
            except queue.Empty:
                if not await ensure_async(km.is_alive()):
                    raise KernelDied("the kernel died") from None
                continue
            except Exception:  # a message that fails its signature or does not parse: not ours, dropped
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg.get("msg_type"), msg.get("content", {})
            if os.environ.get("MI_GRADER_DEBUG"):  # for course authors: what the kernel answered
                print("kernel:", kind, str(content)[:300])
            if kind == "display_data" and isinstance(content.get("data"), dict) and MIME in content["data"]:
                reply = content["data"][MIME]
            elif kind == "status" and content.get("execution_state") == "idle":
                break
        if not isinstance(reply, dict) or reply.get("number") != number:
            raise ProtocolError("the kernel did not answer the grader's request")
        return reply

    # ------------------------------------------------------------ what the checks use

    def _decode(self, raw: Any) -> Any:
        def make_ref(key: int, info: dict) -> Remote:
            cls = RemoteCallable if info["callable"] else Remote
            return cls(self, key, info)
        try:
            return wire.decode(raw, make_ref)
        except (wire.WireError, ValueError, TypeError, OverflowError, RuntimeError) as exc:
            raise ProtocolError(f"the kernel sent back something that is not plain data ({exc})") from None

    @staticmethod
    def _raise(reply: dict) -> None:
        error = reply.get("error")
        if not isinstance(error, dict):
            raise ProtocolError("the kernel's reply is malformed")
        kind = error.get("type") if isinstance(error.get("type"), str) else "Exception"
        message = error.get("message") if isinstance(error.get("message"), str) else ""
        if kind == "GraderError":
            raise ProtocolError(message[:500])
        frames = error.get("frames") if isinstance(error.get("frames"), list) else []
        raise remote_error(kind[:100], message[:4000], frames)

    def call(self, target: Any, args: tuple, kwargs: dict) -> Any:
        """``target(*args, **kwargs)`` in the kernel; its result, and its side effects mirrored here."""
        sent_args = tuple(_without_hooks(a) if isinstance(a, nn.Module) else a for a in args)
        sent_kwargs = {k: _without_hooks(v) if isinstance(v, nn.Module) else v for k, v in kwargs.items()}
        reply = self.request({"op": "call", "target": target, "args": sent_args, "kwargs": sent_kwargs,
                              "forbidden": FORBIDDEN.get()})
        changes = self._decode(reply.get("changes", ["list", []]))
        for change in changes if isinstance(changes, list) else []:
            if not isinstance(change, list) or len(change) != 3:
                continue
            key, kind, value = change
            original = _argument(args, kwargs, key)
            if kind == "tensor":
                _apply_tensor_change(original, value)
            elif kind == "module" and isinstance(original, nn.Module) and isinstance(value, dict):
                _apply_module_changes(original, value)
        _advance(reply.get("rng"))
        if reply.get("ok") is not True:
            self._raise(reply)
        return self._decode(reply.get("value"))

    def names(self, names: list[str]) -> dict[str, Any]:
        """The objects bound to ``names`` in the learner's notebook; a missing name is left out."""
        reply = self.request({"op": "names", "names": list(names)})
        if reply.get("ok") is not True or not isinstance(reply.get("names"), dict):
            self._raise(reply)
        found = {}
        for name in names:
            raw = reply["names"].get(name)
            if raw is not None:
                found[name] = self._decode(raw)
        return found

    def begin(self) -> None:
        """Keep the kernel's random states: a check must not change what the notebook draws next."""
        self.request({"op": "begin"})

    def end(self) -> None:
        self.request({"op": "end"})
