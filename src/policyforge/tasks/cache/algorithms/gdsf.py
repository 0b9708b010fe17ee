"""GDSF (Cherkasova, 1998) as libCacheSim 0.3.5 runs it: priority = L + frequency x 1e6 / size, frequency 1
on insertion and +1 per hit (re-prioritised with the current L), L the priority of the last evicted object;
ties go to the object whose priority was set earliest."""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._heap import heap_pop, heap_push


@njit(cache=True)
def gdsf(ids, sizes, n_objects, capacity):
    cached = np.zeros(n_objects, np.bool_)
    stored = np.zeros(n_objects, np.int64)
    freq = np.zeros(n_objects, np.int64)
    stamp = np.full(n_objects, -1, np.int64)
    n = len(ids)
    keys = np.empty(n + 1, np.float64)
    ties = np.empty(n + 1, np.int64)
    objs = np.empty(n + 1, np.int64)
    size = 0
    floor = 0.0
    used = 0
    misses = 0
    miss_bytes = 0
    for i in range(n):
        x = ids[i]
        s = sizes[i]
        if cached[x]:
            freq[x] += 1
            stamp[x] = i
            size = heap_push(keys, ties, objs, size, floor + freq[x] * 1.0e6 / stored[x], i, x)
            continue
        misses += 1
        miss_bytes += s
        if s > capacity:
            continue
        while used + s > capacity:
            y = objs[0]
            valid = cached[y] and stamp[y] == ties[0]
            priority = keys[0]
            size = heap_pop(keys, ties, objs, size)
            if valid:
                floor = priority
                cached[y] = False
                used -= stored[y]
        cached[x] = True
        stored[x] = s
        freq[x] = 1
        stamp[x] = i
        used += s
        size = heap_push(keys, ties, objs, size, floor + 1.0e6 / s, i, x)
    return misses, miss_bytes
