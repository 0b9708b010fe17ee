"""Decisions as data on the wire: what crosses from the sandboxed child to the trusted scorer.

The child's output is untrusted, so the format is deliberately poor: JSON whose only non-JSON values are
numeric numpy arrays, written as {"__array__": dtype, "shape": [...], "data": base64 of little-endian bytes}.
Decoding accepts a fixed set of numeric dtypes, checks that the byte count matches the shape, and yields
read-only arrays; there is no pickle and no object dtype, so no code or object graph can come across.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64")
ARRAY_KEY = "__array__"
MAX_DEPTH = 8


class WireError(ValueError):
    """The child's decisions are not well-formed data."""


def encode(value: Any) -> Any:
    """A JSON-able form of `value` (dicts with string keys, lists, numbers, strings, numpy arrays)."""
    if isinstance(value, np.ndarray):
        if value.dtype.name not in DTYPES:
            raise WireError(f"array of dtype {value.dtype} cannot be sent (numeric dtypes only)")
        data = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()
        return {ARRAY_KEY: value.dtype.name, "shape": list(value.shape), "data": base64.b64encode(data).decode()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise WireError(f"{type(value).__name__} cannot be sent as a decision (numbers, strings, lists, dicts, arrays)")


def decode(value: Any, depth: int = 0) -> Any:
    """The inverse of `encode`, strict: WireError for anything that is not exactly that format."""
    if depth > MAX_DEPTH:
        raise WireError("decisions nested too deeply")
    if isinstance(value, dict):
        if ARRAY_KEY in value:
            return _array(value)
        return {str(k): decode(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise WireError("non-finite number in decisions")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise WireError(f"unexpected {type(value).__name__} in decisions")


def _array(value: dict) -> np.ndarray:
    if set(value) != {ARRAY_KEY, "shape", "data"}:
        raise WireError("malformed array")
    dtype, shape, data = value[ARRAY_KEY], value["shape"], value["data"]
    if dtype not in DTYPES:
        raise WireError(f"array dtype {dtype!r} is not allowed")
    if not isinstance(shape, list) or len(shape) > 4 or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise WireError("malformed array shape")
    if not isinstance(data, str):
        raise WireError("malformed array data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (ValueError, TypeError):
        raise WireError("array data is not base64") from None
    kind = np.dtype(dtype).newbyteorder("<")
    if len(raw) != math.prod(shape) * kind.itemsize:
        raise WireError("array data does not match its shape")
    array = np.frombuffer(raw, dtype=kind).reshape(shape).astype(np.dtype(dtype), copy=False)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise WireError("non-finite number in a decision array")
    array.flags.writeable = False
    return array
