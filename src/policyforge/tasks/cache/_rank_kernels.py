"""Compiled parts of the RANK mechanism: trace statistics, the speculative feature prediction for a chunk of
requests, the simulation of that chunk with the policy's scores, and the trusted replay of eviction
decisions. See rank.py for why the run is speculative and why it is exact."""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._heap import heap_pop, heap_push

STATS_BLOCK = 4096
STATS_HISTORY = 65536


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


@njit(cache=True)
def predict(a, b, ids, sizes, capacity, cached, ins_time, count, evict_time, ghost_horizon, used, admitting,
            p_touched, p_cached, p_ins, p_count):
    """Features that depend on the cache's state, for requests a..a+stop-1, and `stop`: the chunk ends with
    (and includes) the first request that needs an eviction, or, when the policy has an admission hook, the
    first miss it could admit. Before that request nothing is evicted or refused, so every feature is exact;
    and a call never sees a request after the decision its scores feed. Returns (hit, insert_time, count,
    in_ghost, stop)."""
    m = b - a
    hit = np.zeros(m, np.bool_)
    f_ins = np.empty(m)
    f_count = np.empty(m)
    f_ghost = np.zeros(m)
    p_used = used
    stop = m
    for k in range(m):
        i = a + k
        x = ids[i]
        if not p_touched[x]:
            p_touched[x] = True
            p_cached[x] = cached[x]
            p_ins[x] = ins_time[x]
            p_count[x] = count[x]
        if p_cached[x]:
            p_count[x] += 1
            hit[k] = True
            f_ins[k] = p_ins[x]
            f_count[k] = p_count[x]
            continue
        if evict_time[x] >= 0 and i - evict_time[x] <= ghost_horizon:
            f_ghost[k] = 1.0
        f_ins[k] = i
        f_count[k] = 1.0
        if sizes[i] <= capacity:
            if admitting or p_used + sizes[i] > capacity:
                stop = k + 1  # this request's decision uses the scores: nothing after it may be seen
                break
            p_cached[x] = True
            p_ins[x] = i
            p_count[x] = 1
            p_used += sizes[i]
    for k in range(stop):  # reset the scratch marks for the next chunk
        p_touched[ids[a + k]] = False
    return hit[:stop], f_ins[:stop], f_count[:stop], f_ghost[:stop], stop


@njit(cache=True)
def advance(a, b, ids, sizes, capacity, scores, admitted, hit, f_ghost, cached, stored, ins_time, count,
            evict_time, stamp, ghost_horizon, keys, ties, objs, heap_n, victims, n_victims, rejected, n_rejected,
            totals):
    """Simulate requests a..b-1 (a chunk from `predict`) with the given scores and admissions. Only the last
    request may evict, with the scores of earlier requests (its own enters the heap once it is inserted).
    Returns (the first request not simulated, heap size, number of victims, number of refusals); the first
    is b unless a feature was mispredicted, which `predict`'s chunks rule out."""
    last = b - a - 1
    for k in range(b - a):
        i = a + k
        x = ids[i]
        s = sizes[i]
        if cached[x] != hit[k]:
            return i, heap_n, n_victims, n_rejected
        if cached[x]:
            count[x] += 1
            stamp[x] = i
            heap_n = heap_push(keys, ties, objs, heap_n, scores[k], i, x)
            continue
        ghost = 1.0 if evict_time[x] >= 0 and i - evict_time[x] <= ghost_horizon else 0.0
        if ghost != f_ghost[k]:
            return i, heap_n, n_victims, n_rejected
        totals[0] += 1
        totals[1] += s
        if s > capacity:
            continue
        if not admitted[k]:
            if k != last:
                return i, heap_n, n_victims, n_rejected
            rejected[n_rejected] = i
            n_rejected += 1
            continue
        if totals[2] + s > capacity:
            if k != last:
                return i, heap_n, n_victims, n_rejected
            while totals[2] + s > capacity:
                y = objs[0]
                valid = cached[y] and stamp[y] == ties[0]
                heap_n = heap_pop(keys, ties, objs, heap_n)
                if valid:
                    cached[y] = False
                    evict_time[y] = i
                    totals[2] -= stored[y]
                    victims[n_victims] = y
                    n_victims += 1
        cached[x] = True
        stored[x] = s
        ins_time[x] = i
        count[x] = 1
        stamp[x] = i
        totals[2] += s
        heap_n = heap_push(keys, ties, objs, heap_n, scores[k], i, x)
    return b, heap_n, n_victims, n_rejected


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
