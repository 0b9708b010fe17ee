"""Compiled parts of the sampled-at-eviction mode (sampled.py): the cache, the sample drawn at each eviction,
and the trusted replay that draws the same samples. The run and the replay share the list of cached objects
and the generator below, so the replay sees exactly the samples the run saw."""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.program_kernel import evaluate
from policyforge.tasks.cache._program_kernels import (
    N_SLOTS,
    S_CAPACITY,
    S_CLOCK,
    S_NOW,
    S_OBJECTS,
    S_REQUESTS,
)

STORED, INSERTED, COUNT, LAST, SLOT = range(5)
"""Rows of the per-object state (SLOT: the object's place in the list of cached objects, -1 when absent)."""
MISSES, MISSED_BYTES, USED, N_CACHED, VICTIMS = range(5)
"""Slots of the run's counters."""
S_EWMA_SIZE, S_EWMA_GAP = 8, 9
"""Value slots of the stream's statistics (the RANK block's rows of the same name)."""


@njit(cache=True, inline="always")
def _next(rng):
    """splitmix64 on rng[0]: the mechanism's own generator, seeded from the instance's keyed randomness."""
    rng[0] += np.uint64(0x9E3779B97F4A7C15)
    z = rng[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def draw(rng, members, n_cached, sample):
    """`len(sample)` cached objects drawn uniformly with replacement."""
    for j in range(len(sample)):
        sample[j] = members[np.int64(_next(rng) % np.uint64(n_cached))]


@njit(cache=True)
def insert(x, s, i, state, members, counters):
    state[SLOT, x] = counters[N_CACHED]
    members[counters[N_CACHED]] = x
    counters[N_CACHED] += 1
    state[STORED, x] = s
    state[INSERTED, x] = i
    state[COUNT, x] = 1
    state[LAST, x] = i
    counters[USED] += s


@njit(cache=True)
def evict(y, state, members, counters):
    """Remove `y` (cached) from the cache: the last object of the list takes its place."""
    k = state[SLOT, y]
    last = counters[N_CACHED] - 1
    members[k] = members[last]
    state[SLOT, members[k]] = k
    state[SLOT, y] = -1
    counters[N_CACHED] = last
    counters[USED] -= state[STORED, y]


@njit(cache=True)
def new_run(n_objects, n):
    state = np.zeros((5, n_objects), np.int64)
    state[SLOT] = -1
    return state, np.empty(n_objects, np.int64), np.zeros(5, np.int64), np.empty(n, np.int64)


@njit(cache=True)
def block(sample, state, aclock, stream):
    """The rows a policy scores: per sampled object its size, insert_time, last_access, prev_access, count,
    total_count (accesses in the window so far) and access_clock, as one fresh (7, len(sample)) block."""
    out = np.empty((7, len(sample)))
    for j in range(len(sample)):
        y = sample[j]
        last = state[LAST, y]
        out[0, j] = state[STORED, y]
        out[1, j] = state[INSERTED, y]
        out[2, j] = last
        out[3, j] = stream[0, last]
        out[4, j] = state[COUNT, y]
        out[5, j] = stream[1, last]
        out[6, j] = aclock[y]
    return out


@njit(cache=True)
def run(start, victim, victim_score, ids, sizes, capacity, stream, state, aclock, members, counters, victims, rng,
        sample, clock, ops, args, consts, depth, scalars):
    """Simulate from request `start` on. With `victim` >= 0 the run resumes request `start`, whose eviction
    the policy decided (`victim` from the last sample, `victim_score` its score, the new clock). Returns the
    request that needs the policy's choice from `sample` (just drawn), or len(ids) at the end. With a
    program (`ops` non-empty) the kernel scores the samples itself and never returns early."""
    n = len(ids)
    compiled = len(ops) > 0
    values = np.zeros(N_SLOTS)
    values[S_CAPACITY] = scalars[0]
    values[S_OBJECTS] = scalars[1]
    values[S_REQUESTS] = scalars[2]
    stack = np.empty(max(1, depth))
    resume = victim >= 0
    if resume:
        evict(victim, state, members, counters)
        victims[counters[VICTIMS]] = victim
        counters[VICTIMS] += 1
        clock[0] = victim_score
    for i in range(start, n):
        x = ids[i]
        s = sizes[i]
        if not resume:
            if state[SLOT, x] >= 0:
                state[COUNT, x] += 1
                state[LAST, x] = i
                aclock[x] = clock[0]
                continue
            counters[MISSES] += 1
            counters[MISSED_BYTES] += s
            if s > capacity:
                continue
        resume = False
        while counters[USED] + s > capacity:
            draw(rng, members, counters[N_CACHED], sample)
            if not compiled:
                return i
            values[S_CLOCK] = clock[0]
            values[S_NOW] = i
            values[S_EWMA_SIZE] = stream[2, i]
            values[S_EWMA_GAP] = stream[3, i]
            best = 0
            best_score = 0.0
            for j in range(len(sample)):
                y = sample[j]
                last = state[LAST, y]
                values[0] = state[STORED, y]
                values[1] = state[INSERTED, y]
                values[2] = last
                values[3] = stream[0, last]
                values[4] = state[COUNT, y]
                values[5] = stream[1, last]
                values[6] = aclock[y]
                score = evaluate(ops, args, consts, values, stack)
                if j == 0 or score < best_score:
                    best, best_score = j, score
            y = sample[best]
            evict(y, state, members, counters)
            victims[counters[VICTIMS]] = y
            counters[VICTIMS] += 1
            clock[0] = best_score
        insert(x, s, i, state, members, counters)
        aclock[x] = clock[0]
    return n


@njit(cache=True)
def replay(ids, sizes, n_objects, capacity, victims, seed, k):
    """Trusted: replay victims, drawing each eviction's sample as the run did. Returns (status, misses,
    miss_bytes, request, decision): 0 legal; 1 a victim not among its eviction's sample (or not cached);
    2 too few decisions; 3 decisions left over at the end."""
    n = len(ids)
    state, members, counters, _ = new_run(n_objects, 0)
    rng = np.array([seed], np.uint64)
    sample = np.empty(k, np.int64)
    d = 0
    for i in range(n):
        x = ids[i]
        s = sizes[i]
        if state[SLOT, x] >= 0:
            continue
        counters[MISSES] += 1
        counters[MISSED_BYTES] += s
        if s > capacity:
            continue
        while counters[USED] + s > capacity:
            if d >= len(victims):
                return 2, counters[MISSES], counters[MISSED_BYTES], i, d
            draw(rng, members, counters[N_CACHED], sample)
            y = victims[d]
            found = False
            for j in range(k):
                found = found or sample[j] == y
            if y < 0 or not found:
                return 1, counters[MISSES], counters[MISSED_BYTES], i, d
            evict(y, state, members, counters)
            d += 1
        insert(x, s, i, state, members, counters)
    if d != len(victims):
        return 3, counters[MISSES], counters[MISSED_BYTES], n, d
    return 0, counters[MISSES], counters[MISSED_BYTES], n, d
