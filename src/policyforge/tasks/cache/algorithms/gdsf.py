"""GDSF (Cherkasova, 1998) as libCacheSim 0.3.5 runs it: priority = L + frequency x 1e6 / size, frequency 1
on insertion and +1 per hit (re-prioritised with the current L), L the priority of the last evicted object;
ties go to the object whose priority was set earliest. A missed object is inserted before evicting, so it can be
its own victim. One heap entry per cached object, updated in place."""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._iheap import iheap_pop, iheap_push, iheap_update


@njit(cache=True)
def gdsf(ids, sizes, n_objects, capacity):
    cached = np.zeros(n_objects, np.bool_)
    stored = np.zeros(n_objects, np.int64)
    freq = np.zeros(n_objects, np.int64)
    pos = np.full(n_objects, -1, np.int64)
    keys = np.empty(n_objects, np.float64)
    ties = np.empty(n_objects, np.int64)
    objs = np.empty(n_objects, np.int64)
    size = 0
    floor = 0.0
    used = 0
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        if cached[x]:
            freq[x] += 1
            iheap_update(keys, ties, objs, pos, size, x, floor + freq[x] * 1.0e6 / stored[x], i)
            continue
        misses += 1
        miss_bytes += s
        if s > capacity:
            continue
        # libCacheSim's GDSF_get inserts first and evicts afterwards while the cache is over capacity, so
        # the new object competes too: when its priority is the lowest it is the one evicted (and sets L)
        cached[x] = True
        stored[x] = s
        freq[x] = 1
        used += s
        size = iheap_push(keys, ties, objs, pos, size, floor + 1.0e6 / s, i, x)
        while used > capacity:
            y = objs[0]
            floor = keys[0]
            size = iheap_pop(keys, ties, objs, pos, size)
            cached[y] = False
            used -= stored[y]
    return misses, miss_bytes
