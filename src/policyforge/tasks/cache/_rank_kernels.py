"""Compiled parts of the RANK mechanism: trace statistics, the exact features of a chunk of requests (a chunk
ends with the request its scores decide), the simulation of that chunk with the policy's scores, and the
trusted replay of eviction and admission decisions. See rank.py for why chunks end where they do."""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._heap import heap_pop, heap_push


@njit(cache=True)
def stream_features(ids, sizes, n_objects):
    """Per request: the previous access to its object (-1: none), accesses so far (this one included), and
    running statistics of the stream: EWMA of sizes and of reuse gaps (alpha 0.001)."""
    n = len(ids)
    prev_access = np.full(n, -1.0)
    total = np.empty(n)
    ewma_size = np.empty(n)
    ewma_gap = np.empty(n)
    last = np.full(n_objects, -1, np.int64)
    seen = np.zeros(n_objects, np.int64)
    es = float(sizes[0]) if n else 0.0
    eg = 0.0
    gap_seen = False
    for i in range(n):
        x = ids[i]
        es += 0.001 * (sizes[i] - es)
        if last[x] >= 0:
            gap = float(i - last[x])
            if gap_seen:
                eg += 0.001 * (gap - eg)
            else:
                eg = gap
                gap_seen = True
            prev_access[i] = last[x]
        last[x] = i
        seen[x] += 1
        total[i] = seen[x]
        ewma_size[i] = es
        ewma_gap[i] = eg
    return prev_access, total, ewma_size, ewma_gap


# Rows of the per-object state (int64) and of the chunk scratch, and slots of the run's counters.
CACHED, STORED, INSERTED, COUNT, EVICTED, STAMP = 0, 1, 2, 3, 4, 5
TOUCHED, P_CACHED, P_INSERTED, P_COUNT = 0, 1, 2, 3
MISSES, MISSED_BYTES, USED, HEAP_N, VICTIMS, REJECTED = 0, 1, 2, 3, 4, 5
# Rows of the block a policy sees: rank.OBJS_COLUMNS, in this order.
B_SIZE, B_INSERTED, B_NOW, B_PREV, B_COUNT, B_TOTAL, B_GHOST, B_HIT, B_EWMA_SIZE, B_EWMA_GAP = range(10)


@njit(cache=True)
def chunk(a, bound, ids, sizes, capacity, stream, state, scratch, counters, ghost_horizon, admitting):
    """The policy's columns for the next chunk, requests a..a+stop-1, as one fresh (10, stop) block. The chunk
    ends with (and includes) the first request that needs an eviction, or, when the policy has an admission
    hook, the first miss it could admit: before that request nothing is evicted or refused, so every
    cache-dependent feature is exact, and a call never sees a request after the decision its scores feed.
    The block holds nothing but these rows (no uninitialised memory reaches the policy)."""
    m = bound - a
    hit = np.zeros(m, np.bool_)
    f_ins = np.empty(m)
    f_count = np.empty(m)
    f_ghost = np.zeros(m)
    p_used = counters[USED]
    stop = m
    for k in range(m):
        i = a + k
        x = ids[i]
        if scratch[TOUCHED, x] == 0:
            scratch[TOUCHED, x] = 1
            scratch[P_CACHED, x] = state[CACHED, x]
            scratch[P_INSERTED, x] = state[INSERTED, x]
            scratch[P_COUNT, x] = state[COUNT, x]
        if scratch[P_CACHED, x]:
            scratch[P_COUNT, x] += 1
            hit[k] = True
            f_ins[k] = scratch[P_INSERTED, x]
            f_count[k] = scratch[P_COUNT, x]
            continue
        if state[EVICTED, x] >= 0 and i - state[EVICTED, x] <= ghost_horizon:
            f_ghost[k] = 1.0
        f_ins[k] = i
        f_count[k] = 1.0
        if sizes[i] <= capacity:
            if admitting or p_used + sizes[i] > capacity:
                stop = k + 1  # this request's decision uses the scores: nothing after it may be seen
                break
            scratch[P_CACHED, x] = 1
            scratch[P_INSERTED, x] = i
            scratch[P_COUNT, x] = 1
            p_used += sizes[i]
    block = np.empty((10, stop))
    for k in range(stop):
        i = a + k
        scratch[TOUCHED, ids[i]] = 0  # reset the scratch marks for the next chunk
        block[B_SIZE, k] = sizes[i]
        block[B_INSERTED, k] = f_ins[k]
        block[B_NOW, k] = i
        block[B_PREV, k] = stream[0, i]
        block[B_COUNT, k] = f_count[k]
        block[B_TOTAL, k] = stream[1, i]
        block[B_GHOST, k] = f_ghost[k]
        block[B_HIT, k] = 1.0 if hit[k] else 0.0
        block[B_EWMA_SIZE, k] = stream[2, i]
        block[B_EWMA_GAP, k] = stream[3, i]
    return block


@njit(cache=True)
def advance(a, ids, sizes, capacity, block, scores, admitted, state, keys, heap, victims, rejected, counters,
            ghost_horizon, clock):
    """Simulate the chunk `block` (requests a..a+len-1, from `chunk`) with the given scores and admissions.
    Only the last request may evict, with the scores of earlier requests (its own enters the heap once it is
    inserted). `clock[0]` becomes the score of each victim as it is evicted (GDSF's L). Returns the first
    request not simulated: the chunk's end unless a feature was mispredicted, which `chunk` rules out."""
    m = block.shape[1]
    last = m - 1
    ties = heap[0]
    objs = heap[1]
    heap_n = counters[HEAP_N]
    for k in range(m):
        i = a + k
        x = ids[i]
        s = sizes[i]
        if state[CACHED, x] != block[B_HIT, k]:
            counters[HEAP_N] = heap_n
            return i
        if state[CACHED, x]:
            state[COUNT, x] += 1
            state[STAMP, x] = i
            heap_n = heap_push(keys, ties, objs, heap_n, scores[k], i, x)
            continue
        ghost = 1.0 if state[EVICTED, x] >= 0 and i - state[EVICTED, x] <= ghost_horizon else 0.0
        if ghost != block[B_GHOST, k]:
            counters[HEAP_N] = heap_n
            return i
        counters[MISSES] += 1
        counters[MISSED_BYTES] += s
        if s > capacity:
            continue
        if not admitted[k] or counters[USED] + s > capacity:
            if k != last:
                counters[HEAP_N] = heap_n
                return i
            if not admitted[k]:
                rejected[counters[REJECTED]] = i
                counters[REJECTED] += 1
                continue
            while counters[USED] + s > capacity:
                y = objs[0]
                valid = state[CACHED, y] == 1 and state[STAMP, y] == ties[0]
                key = keys[0]
                heap_n = heap_pop(keys, ties, objs, heap_n)
                if valid:
                    clock[0] = key
                    state[CACHED, y] = 0
                    state[EVICTED, y] = i
                    counters[USED] -= state[STORED, y]
                    victims[counters[VICTIMS]] = y
                    counters[VICTIMS] += 1
        state[CACHED, x] = 1
        state[STORED, x] = s
        state[INSERTED, x] = i
        state[COUNT, x] = 1
        state[STAMP, x] = i
        counters[USED] += s
        heap_n = heap_push(keys, ties, objs, heap_n, scores[k], i, x)
    counters[HEAP_N] = heap_n
    return a + m


@njit(cache=True)
def replay(ids, sizes, n_objects, capacity, victims, rejected):
    """Trusted: replay eviction and admission decisions without any policy. Returns (status, misses,
    miss_bytes, request, decision): status 0 legal; 1 a victim not cached (or unknown, -1); 2 too few
    decisions; 3 decisions left over at the end; 4 a refusal that is not of a miss insertion, in increasing
    request order. `request` and `decision` locate the first illegal one."""
    cached = np.zeros(n_objects, np.bool_)
    stored = np.zeros(n_objects, np.int64)
    used = 0
    misses = 0
    miss_bytes = 0
    d = 0
    r = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        if r < len(rejected) and rejected[r] < i:
            return 4, misses, miss_bytes, i, r
        if cached[x]:
            if r < len(rejected) and rejected[r] == i:
                return 4, misses, miss_bytes, i, r
            continue
        misses += 1
        miss_bytes += s
        if r < len(rejected) and rejected[r] == i:
            r += 1  # refused: counted as a miss, not inserted
            continue
        if s > capacity:
            continue
        while used + s > capacity:
            if d >= len(victims):
                return 2, misses, miss_bytes, i, d
            y = victims[d]
            if y < 0 or not cached[y]:
                return 1, misses, miss_bytes, i, d
            cached[y] = False
            used -= stored[y]
            d += 1
        cached[x] = True
        stored[x] = s
        used += s
    if d != len(victims):
        return 3, misses, miss_bytes, len(ids), d
    if r != len(rejected):
        return 4, misses, miss_bytes, len(ids), r
    return 0, misses, miss_bytes, len(ids), d
