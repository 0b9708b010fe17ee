"""2Q (Johnson and Shasha, VLDB'94) as libCacheSim 0.3.5 runs it: Ain a FIFO of 25% of the cache, Aout a
ghost FIFO of 50%, Am an LRU of the remaining 75%; a hit in Aout enters Am (Am evicts its own LRU end to make
room); the cache evicts Ain's oldest into Aout while Ain is over its share, else Am's LRU end; objects
larger than Ain are not inserted."""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._lists import move_to_head, push_head, unlink

AIN, AM, AOUT = 0, 1, 2


@njit(cache=True)
def twoq(ids, sizes, n_objects, capacity):
    ain_cap = int(capacity * 0.25)
    aout_cap = int(capacity * 0.5)
    am_cap = capacity - ain_cap
    where = np.full(n_objects, -1, np.int64)
    stored = np.zeros(n_objects, np.int64)
    ends = np.full(6, -1, np.int64)
    prev = np.full(n_objects, -1, np.int64)
    nxt = np.full(n_objects, -1, np.int64)
    used = np.zeros(3, np.int64)
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        w = where[x]
        if w == AIN:
            continue
        if w == AM:
            move_to_head(ends, AM, x, prev, nxt)
            continue
        hit_on_ghost = False
        if w == AOUT:
            unlink(ends, AOUT, x, prev, nxt)
            used[AOUT] -= stored[x]
            where[x] = -1
            hit_on_ghost = True
        misses += 1
        miss_bytes += s
        if s > ain_cap or s > capacity:
            continue
        while used[AIN] + used[AM] + s > capacity:
            if used[AIN] > ain_cap:
                y = ends[2 * AIN + 1]
                unlink(ends, AIN, y, prev, nxt)
                used[AIN] -= stored[y]
                where[y] = -1
                if stored[y] <= aout_cap:
                    while used[AOUT] + stored[y] > aout_cap:
                        g = ends[2 * AOUT + 1]
                        unlink(ends, AOUT, g, prev, nxt)
                        used[AOUT] -= stored[g]
                        where[g] = -1
                    push_head(ends, AOUT, y, prev, nxt)
                    where[y] = AOUT
                    used[AOUT] += stored[y]
            else:
                y = ends[2 * AM + 1]
                unlink(ends, AM, y, prev, nxt)
                used[AM] -= stored[y]
                where[y] = -1
        stored[x] = s
        if hit_on_ghost:
            if s > am_cap:
                continue
            while used[AM] + s > am_cap:
                y = ends[2 * AM + 1]
                unlink(ends, AM, y, prev, nxt)
                used[AM] -= stored[y]
                where[y] = -1
            push_head(ends, AM, x, prev, nxt)
            where[x] = AM
            used[AM] += s
        else:
            push_head(ends, AIN, x, prev, nxt)
            where[x] = AIN
            used[AIN] += s
    return misses, miss_bytes
