"""The packing loop compiled (numba), for a GP tree: how a task runs the engine's programs in its own loop.

When GP trees run in the engine's worker pool (`trusted_tree_runs`), the policy module `run` gets carries
each evolved function's postfix program (`policy.gp_program["score"]`, a policyforge.program.GPProgram).
`pack_program` binds the program's terminals to the slots of one row (`program.bind`) and packs every item
in one compiled call, scoring each candidate bin with policyforge.program_kernel.evaluate: no Python call
per item and nothing compiled per candidate (the program is data). The row holds what the views and the
feature module give the rendered module, computed with the same arithmetic, so the bins chosen are the ones
`task.run` chooses calling `score` (tests/test_external_task.py checks it tree for tree).

Only `task.run` imports this module, and only for a module that carries a program, so the sandbox's child
never loads numba for it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.program import bind
from policyforge.program_kernel import evaluate

SLOTS = {"bins.index": 0, "bins.free": 1, "bins.used": 2, "bins.items": 3, "bins.is_new": 4, "item.size": 5,
         "item.capacity": 6, "item.arrived": 7, "item.open_bins": 8, "remaining": 9, "fill_after": 10,
         "tight_fit": 11}
"""Terminal name -> its slot in the row the loop fills per candidate bin."""
N_SLOTS = len(SLOTS)


def pack_program(sizes: np.ndarray, capacity: int, program: object) -> np.ndarray | None:
    """The bin of each item packed with `program`'s scores, or None when it is no program this loop can run
    (then `run` calls the policy's `score` instead)."""
    code = bind(program, SLOTS)
    if code is None:
        return None
    ops, args, consts, depth = code
    return pack(np.asarray(sizes, np.int64), capacity, ops, args, consts, depth)


@njit(cache=True)
def pack(sizes, capacity, ops, args, consts, depth):
    """Packing.candidates, the highest score (the first on a tie, as np.argmax) and Packing.place, per item."""
    n = len(sizes)
    used = np.zeros(n + 1, np.int64)
    items = np.zeros(n + 1, np.int64)
    chosen = np.empty(n, np.int64)
    row = np.zeros(N_SLOTS)
    stack = np.empty(max(depth, 1))
    open_bins = 0
    for i in range(n):
        size = sizes[i]
        row[5], row[6], row[7], row[8] = size, capacity, i, open_bins
        best, best_score = -1, 0.0
        for b in range(open_bins + 1):  # the open bins with room, then the new one
            if b < open_bins and used[b] + size > capacity:
                continue
            free = capacity - used[b]
            row[0], row[1], row[2], row[3] = b, free, used[b], items[b]
            row[4] = 1.0 if b == open_bins else 0.0
            row[9] = free - size
            row[10] = (used[b] + size) / float(capacity)
            row[11] = min(max(1.0 - (float(free) - size) / max(float(size), 1.0), 0.0), 1.0)
            score = evaluate(ops, args, consts, row, stack)
            if best < 0 or score > best_score:
                best, best_score = b, score
        chosen[i] = best
        used[best] += size
        items[best] += 1
        if best == open_bins:
            open_bins += 1
    return chosen
