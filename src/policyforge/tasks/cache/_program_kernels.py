"""The RANK mechanism with a GP program compiled in: the shared evaluator (policyforge.program_kernel,
compiled once, the program passed as arrays) called per request inside the simulator loop, so a GP candidate
costs no Python call per eviction and no compile of its own.

It makes exactly the decisions of `rank.run_policy` with the program's module (tests/test_interpreter.py
checks it victim for victim): each request's features are the ones `_rank_kernels.chunk` would give that row
(they depend on the state before the request only, which is why chunks end where they do), the score is the
program's value in the same IEEE operations as the rendered module's numpy code (policyforge.program), and
evictions, ties and the clock follow `_rank_kernels.advance` (see `run_rank` on its heap).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.program_kernel import evaluate
from policyforge.tasks.cache.algorithms._iheap import iheap_pop, iheap_push, iheap_update

STORED, INSERTED, COUNT, EVICTED = range(4)
"""Rows of the per-object state."""
N_SLOTS = 15
"""Value slots a program's terminals read: the RANK block's ten rows (rank.OBJS_COLUMNS order), then the
scalars capacity, objects, requests, clock, now (see rank.RANK_SLOTS)."""
S_CAPACITY, S_OBJECTS, S_REQUESTS, S_CLOCK, S_NOW = 10, 11, 12, 13, 14


@njit(cache=True)
def run_rank(ids, sizes, n_objects, capacity, stream, ghost_horizon, ops, args, consts, depth, scalars):
    """The whole RANK run of a program: returns (victims as dense object numbers in order, how many).
    `scalars` are the run's constants (capacity, objects, requests) in slot order.

    One heap entry per cached object, re-keyed in place when it is re-scored: the lazy queue of
    `_rank_kernels.advance` keeps stale entries and skips them, but its valid entries are exactly these
    (key, request of the score) pairs, and request indices are unique, so both evict the same object."""
    n = len(ids)
    state = np.zeros((4, n_objects), np.int64)
    state[EVICTED] = -1
    keys = np.empty(n_objects)
    ties = np.empty(n_objects, np.int64)
    objs = np.empty(n_objects, np.int64)
    pos = np.full(n_objects, -1, np.int64)
    victims = np.empty(n, np.int64)
    values = np.zeros(N_SLOTS)
    values[S_CAPACITY] = scalars[0]
    values[S_OBJECTS] = scalars[1]
    values[S_REQUESTS] = scalars[2]
    stack = np.empty(max(1, depth))
    heap_n = 0
    n_victims = 0
    used = 0
    for i in range(n):
        x = ids[i]
        s = sizes[i]
        values[0] = s
        values[2] = i
        values[3] = stream[0, i]
        values[5] = stream[1, i]
        values[8] = stream[2, i]
        values[9] = stream[3, i]
        values[S_NOW] = i
        if pos[x] >= 0:
            state[COUNT, x] += 1
            values[1] = state[INSERTED, x]
            values[4] = state[COUNT, x]
            values[6] = 0.0
            values[7] = 1.0
            iheap_update(keys, ties, objs, pos, heap_n, x, evaluate(ops, args, consts, values, stack), i)
            continue
        if s > capacity:
            continue
        values[1] = i
        values[4] = 1.0
        values[6] = 1.0 if state[EVICTED, x] >= 0 and i - state[EVICTED, x] <= ghost_horizon else 0.0
        values[7] = 0.0
        score = evaluate(ops, args, consts, values, stack)  # with the clock before this request's evictions
        while used + s > capacity:
            y = objs[0]
            values[S_CLOCK] = keys[0]
            heap_n = iheap_pop(keys, ties, objs, pos, heap_n)
            state[EVICTED, y] = i
            used -= state[STORED, y]
            victims[n_victims] = y
            n_victims += 1
        state[STORED, x] = s
        state[INSERTED, x] = i
        state[COUNT, x] = 1
        used += s
        heap_n = iheap_push(keys, ties, objs, pos, heap_n, score, i, x)
    return victims, n_victims
