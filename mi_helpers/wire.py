"""The narrow channel from the learner's kernel back to the grader: plain data and tensors, nothing else.

The grader never unpickles anything that the learner's side produced. What the
kernel sends back is JSON of this shape, each value a tagged list:

    ["none"]  ["bool", b]  ["int", "123"]  ["float", "0.5"]  ["str", s]
    ["list", [...]]  ["tuple", [...]]  ["dict", [[key, value], ...]]
    ["tensor", dtype, shape, device, requires_grad, base64 bytes or None]
    ["array", dtype, shape, base64 bytes]  ["dtype", "float32"]  ["device", "cpu"]  ["size", [...]]
    ["ref", id, description]   an object that stays in the kernel (a model, a class ...)

:func:`encode` runs inside the sandbox; :func:`decode` runs in the grader and
checks everything it reads: tags, dtypes from a fixed list, byte counts against
shapes, nesting depth and total size.
"""
from __future__ import annotations

import base64
import math
from typing import Any, Callable

import numpy as np
import torch

MAX_DEPTH = 32
MAX_ITEMS = 200_000
MAX_BYTES = 256 * 2 ** 20
MAX_TEXT = 100_000

TORCH_DTYPES = {str(d).replace("torch.", ""): d for d in (
    torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16,
    torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128)}
NUMPY_DTYPES = {name: np.dtype(name) for name in (
    "bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
    "float16", "float32", "float64", "complex64", "complex128")}


class WireError(ValueError):
    """What the kernel sent back is not plain data of the agreed shape."""


# ------------------------------------------------------------------ inside the sandbox

def encode(value: Any, keep: Callable[[Any], list], depth: int = 0) -> list:
    """``value`` as tagged plain data; anything else becomes ``keep(value)``, a reference."""
    if depth > MAX_DEPTH:
        return keep(value)
    if value is None:
        return ["none"]
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        return ["float", repr(value)]
    if isinstance(value, str):
        return ["str", value[:MAX_TEXT]]
    if isinstance(value, torch.dtype):
        return ["dtype", str(value).replace("torch.", "")]
    if isinstance(value, torch.device):
        return ["device", str(value)]
    if isinstance(value, torch.Size):
        return ["size", [int(v) for v in value]]
    if isinstance(value, torch.Tensor) and value.layout == torch.strided \
            and str(value.dtype).replace("torch.", "") in TORCH_DTYPES:
        t = value.detach()
        data = None
        if t.device.type != "meta":
            t = t.cpu().contiguous()
            data = base64.b64encode(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"").decode()
        return ["tensor", str(value.dtype).replace("torch.", ""), list(value.shape), value.device.type,
                bool(value.requires_grad), data]
    if isinstance(value, np.ndarray) and value.dtype.name in NUMPY_DTYPES:
        return ["array", value.dtype.name, list(value.shape),
                base64.b64encode(np.ascontiguousarray(value).tobytes()).decode()]
    if isinstance(value, np.generic) and value.dtype.name in NUMPY_DTYPES:
        return ["array", value.dtype.name, None, base64.b64encode(value.tobytes()).decode()]
    if type(value) in (list, tuple):
        return ["list" if type(value) is list else "tuple", [encode(v, keep, depth + 1) for v in value]]
    if type(value) is dict:
        return ["dict", [[encode(k, keep, depth + 1), encode(v, keep, depth + 1)] for k, v in value.items()]]
    return keep(value)


# ------------------------------------------------------------------ in the grader

class _Budget:
    def __init__(self):
        self.items = 0
        self.bytes = 0

    def take(self, items: int = 1, nbytes: int = 0) -> None:
        self.items += items
        self.bytes += nbytes
        if self.items > MAX_ITEMS or self.bytes > MAX_BYTES:
            raise WireError("the value sent back is too large")


def _shape(raw) -> tuple[int, ...]:
    if not isinstance(raw, list) or len(raw) > 16 or not all(type(n) is int and 0 <= n for n in raw):
        raise WireError("bad shape")
    return tuple(raw)


def _bytes(raw, expected: int) -> bytes:
    if not isinstance(raw, str) or len(raw) > 4 * (MAX_BYTES // 3) + 8:
        raise WireError("bad data")
    try:
        data = base64.b64decode(raw, validate=True)
    except ValueError:
        raise WireError("bad base64") from None
    if len(data) != expected:
        raise WireError("the data does not match the shape")
    return data


def decode(obj: Any, make_ref: Callable[[int, str], Any], depth: int = 0,
           budget: _Budget | None = None) -> Any:
    """The value ``obj`` describes, built afresh in the grader; WireError for anything else."""
    budget = budget or _Budget()
    budget.take()
    if depth > MAX_DEPTH + 1 or not isinstance(obj, list) or not obj or not isinstance(obj[0], str):
        raise WireError("not a tagged value")
    tag, args = obj[0], obj[1:]

    def arity(n: int) -> None:
        if len(args) != n:
            raise WireError(f"bad {tag}")

    if tag == "none":
        arity(0)
        return None
    if tag == "bool":
        arity(1)
        if type(args[0]) is not bool:
            raise WireError("bad bool")
        return args[0]
    if tag == "int":
        arity(1)
        if not isinstance(args[0], str) or len(args[0]) > 400:
            raise WireError("bad int")
        return int(args[0])
    if tag == "float":
        arity(1)
        if not isinstance(args[0], str) or len(args[0]) > 40:
            raise WireError("bad float")
        value = float(args[0])
        return value if math.isfinite(value) or args[0] in ("nan", "inf", "-inf") else float("nan")
    if tag == "str":
        arity(1)
        if not isinstance(args[0], str) or len(args[0]) > MAX_TEXT:
            raise WireError("bad str")
        budget.take(nbytes=len(args[0]))
        return args[0]
    if tag == "dtype":
        arity(1)
        if args[0] not in TORCH_DTYPES:
            raise WireError("bad dtype")
        return TORCH_DTYPES[args[0]]
    if tag == "device":
        arity(1)
        if not isinstance(args[0], str) or len(args[0]) > 20:
            raise WireError("bad device")
        return torch.device(args[0])
    if tag == "size":
        arity(1)
        return torch.Size(_shape(args[0]))
    if tag == "tensor":
        arity(5)
        dtype_name, raw_shape, device, requires_grad, data = args
        if dtype_name not in TORCH_DTYPES or device not in ("cpu", "cuda", "mps", "meta") \
                or type(requires_grad) is not bool:
            raise WireError("bad tensor")
        dtype, shape = TORCH_DTYPES[dtype_name], _shape(raw_shape)
        numel = math.prod(shape)
        if device == "meta":
            if data is not None:
                raise WireError("bad meta tensor")
            return torch.empty(shape, dtype=dtype, device="meta")
        itemsize = torch.empty((), dtype=dtype).element_size()
        budget.take(nbytes=numel * itemsize)
        raw = _bytes(data, numel * itemsize)
        flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
        tensor = flat.view(dtype).reshape(shape).clone() if numel else torch.empty(shape, dtype=dtype)
        if device != "cpu" and _device_available(device):
            tensor = tensor.to(device)
        if requires_grad and tensor.is_floating_point():
            tensor.requires_grad_(True)
        return tensor
    if tag == "array":
        arity(3)
        dtype_name, raw_shape, data = args
        if dtype_name not in NUMPY_DTYPES:
            raise WireError("bad array")
        dtype = NUMPY_DTYPES[dtype_name]
        shape = () if raw_shape is None else _shape(raw_shape)
        budget.take(nbytes=math.prod(shape) * dtype.itemsize)
        array = np.frombuffer(_bytes(data, math.prod(shape) * dtype.itemsize), dtype=dtype).reshape(shape).copy()
        return array[()] if raw_shape is None else array
    if tag in ("list", "tuple"):
        arity(1)
        if not isinstance(args[0], list):
            raise WireError(f"bad {tag}")
        items = [decode(v, make_ref, depth + 1, budget) for v in args[0]]
        return items if tag == "list" else tuple(items)
    if tag == "dict":
        arity(1)
        if not isinstance(args[0], list):
            raise WireError("bad dict")
        out = {}
        for pair in args[0]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("bad dict entry")
            key = decode(pair[0], make_ref, depth + 1, budget)
            if not isinstance(key, (str, int, float, bool, tuple, type(None))):
                raise WireError("bad dict key")
            out[key] = decode(pair[1], make_ref, depth + 1, budget)
        return out
    if tag == "ref":
        arity(2)
        ref_id, description = args
        if type(ref_id) is not int or not isinstance(description, dict):
            raise WireError("bad reference")
        return make_ref(ref_id, _description(description))
    raise WireError(f"unknown tag {tag[:20]!r}")


def _description(raw: dict) -> dict:
    """What the kernel says about an object it keeps: only short strings and flags are kept."""
    out = {"type": "object", "callable": False, "mro": []}
    if isinstance(raw.get("type"), str):
        out["type"] = raw["type"][:200]
    if type(raw.get("callable")) is bool:
        out["callable"] = raw["callable"]
    if isinstance(raw.get("mro"), list):
        out["mro"] = [m[:200] for m in raw["mro"][:30] if isinstance(m, str)]
    return out


def _device_available(device: str) -> bool:
    if device == "cuda":
        return torch.cuda.is_available()
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps and mps.is_available())
    return False
