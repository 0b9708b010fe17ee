"""GPU patterns: the ways sharing pods can fill one GPU, by GPU milli class.

Why patterns: fragmentation inside a GPU is a bin-packing effect, and a bin-packing LP over patterns
(Gilmore-Gomory) is far tighter than one that only adds up milli. A pattern counts, per distinct milli
value of the sharing pods, how many such pods one GPU holds. Only maximal patterns are kept (no further
class fits): any other pattern is a sub-multiset of a maximal one, and unused slots are allowed, so the
maximal ones describe every packing. OpenB's ~20 milli classes give about 1,900 maximal patterns.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from policyforge.errors import PolicyforgeError
from policyforge.tasks.k8s_gpu.trace import MILLI

MAX_PATTERNS = 100_000


@lru_cache(maxsize=64)
def maximal_patterns(classes: tuple[int, ...]) -> np.ndarray:
    """Maximal multisets of `classes` (distinct milli values below 1000) fitting one GPU: one row each,
    one column per class, in a deterministic order."""
    values = sorted(classes, reverse=True)
    if any(not 0 < v < MILLI for v in values) or len(set(values)) != len(values):
        raise ValueError(f"milli classes must be distinct and in 1..999: {classes}")
    smallest = values[-1] if values else MILLI + 1
    rows: list[list[int]] = []
    current = [0] * len(values)

    def extend(i: int, room: int) -> None:
        if i == len(values):
            if room < smallest:
                rows.append(current.copy())
                if len(rows) > MAX_PATTERNS:
                    raise PolicyforgeError(f"more than {MAX_PATTERNS:,} GPU patterns for sharing-pod milli classes "
                                           f"{values[:8]}...: too many distinct small GPU requests for the bound")
            return
        for k in range(room // values[i], -1, -1):
            current[i] = k
            extend(i + 1, room - k * values[i])
        current[i] = 0

    extend(0, MILLI)
    order = [values.index(c) for c in classes]
    out = np.array(rows, np.int64).reshape(len(rows), len(values))[:, order]
    out.flags.writeable = False
    return out
