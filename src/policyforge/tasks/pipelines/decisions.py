"""Reading what a policy returned. Malformed output (wrong types or shapes) is a PolicyError; decisions that
are well formed but infeasible are the engine's to reject, one by one, with a recorded reason."""

from __future__ import annotations

import math
import numbers

from policyforge.errors import PolicyError

Assignment = tuple[int, tuple[int, ...], int, float]
_INT = {int}


def _int(value, what: str) -> int:
    if type(value) is int:  # the common case, without the slow abstract-class checks
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            return int(value)
        raise PolicyError(f"{what} must be an integer, got {value!r}")
    return int(value)


def parse_decisions(out, policy: str) -> tuple[list[int], list[Assignment]]:
    """`(suspensions, assignments)`: container ids, and (pool, operator ids, cpus, ram_gb) tuples."""
    if out is None:
        return [], []
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise PolicyError(f"policy {policy}: schedule must return (suspensions, assignments), got {type(out).__name__}")
    suspensions_raw, assignments_raw = out
    try:
        suspensions = [_int(c, "a suspension's container id") for c in (suspensions_raw or ())]
        assignments = [_assignment(a) for a in (assignments_raw or ())]
    except TypeError as exc:
        raise PolicyError(f"policy {policy}: suspensions and assignments must be lists ({exc})") from None
    except PolicyError as exc:
        raise PolicyError(f"policy {policy}: {exc}") from None
    return suspensions, assignments


def _assignment(item) -> Assignment:
    if not isinstance(item, tuple | list) or len(item) != 4:
        raise PolicyError(f"an assignment must be (pool, ops, cpus, ram_gb), got {item!r}")
    pool, ops, cpus, ram = item
    if type(ops) is tuple and type(pool) is int and type(cpus) is int and type(ram) in (int, float) \
            and math.isfinite(ram) and (not ops or set(map(type, ops)) == _INT):
        return pool, ops, cpus, float(ram)  # fast path for well-typed output
    if isinstance(ops, numbers.Integral) and not isinstance(ops, bool):
        ops = (ops,)
    if not isinstance(ops, tuple | list):
        try:
            ops = list(ops)
        except TypeError:
            raise PolicyError(f"an assignment's ops must be a list of operator ids, got {ops!r}") from None
    if isinstance(ram, bool) or not isinstance(ram, numbers.Real) or not math.isfinite(float(ram)):
        raise PolicyError(f"an assignment's ram_gb must be a finite number, got {ram!r}")
    return (_int(pool, "an assignment's pool"), tuple(_int(o, "an operator id") for o in ops),
            _int(cpus, "an assignment's cpus"), float(ram))
