"""S3-FIFO (Yang et al., SOSP'23) as libCacheSim 0.3.5 runs it: a small FIFO of 10% of the cache, a main
FIFO with a 2-bit clock for the rest, a ghost FIFO of 90% of the cache (in the same unit), promotion from
small to main at 2 or more hits; before the first eviction a full small queue sends new objects to main;
objects at least as large as the small queue are not inserted."""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._lists import push_head, unlink

SMALL, MAIN, GHOST = 0, 1, 2
MOVE_TO_MAIN = 2


@njit(cache=True)
def s3fifo(ids, sizes, n_objects, capacity):
    small_cap = int(capacity * 0.10)
    main_cap = capacity - small_cap
    ghost_cap = int(capacity * 0.90)
    where = np.full(n_objects, -1, np.int64)
    freq = np.zeros(n_objects, np.int64)
    stored = np.zeros(n_objects, np.int64)
    ends = np.full(6, -1, np.int64)
    prev = np.full(n_objects, -1, np.int64)
    nxt = np.full(n_objects, -1, np.int64)
    used = np.zeros(3, np.int64)
    has_evicted = False
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        w = where[x]
        if w in (SMALL, MAIN):
            freq[x] += 1
            continue
        hit_on_ghost = False
        if w == GHOST:
            unlink(ends, GHOST, x, prev, nxt)
            used[GHOST] -= stored[x]
            where[x] = -1
            hit_on_ghost = True
        misses += 1
        miss_bytes += s
        if s > small_cap or s > capacity:
            continue
        while used[SMALL] + used[MAIN] + s > capacity:
            has_evicted = True
            if used[MAIN] > main_cap or used[SMALL] == 0:
                while used[MAIN] > 0:
                    y = ends[2 * MAIN + 1]
                    unlink(ends, MAIN, y, prev, nxt)
                    if freq[y] >= 1:
                        push_head(ends, MAIN, y, prev, nxt)
                        freq[y] = min(freq[y], 3) - 1
                    else:
                        used[MAIN] -= stored[y]
                        where[y] = -1
                        break
            else:
                while used[SMALL] > 0:
                    y = ends[2 * SMALL + 1]
                    unlink(ends, SMALL, y, prev, nxt)
                    used[SMALL] -= stored[y]
                    if freq[y] >= MOVE_TO_MAIN:
                        push_head(ends, MAIN, y, prev, nxt)
                        where[y] = MAIN
                        used[MAIN] += stored[y]
                        freq[y] = 0
                    else:
                        where[y] = -1
                        if stored[y] <= ghost_cap:
                            while used[GHOST] + stored[y] > ghost_cap:
                                g = ends[2 * GHOST + 1]
                                unlink(ends, GHOST, g, prev, nxt)
                                used[GHOST] -= stored[g]
                                where[g] = -1
                            push_head(ends, GHOST, y, prev, nxt)
                            where[y] = GHOST
                            used[GHOST] += stored[y]
                        break
        if hit_on_ghost:
            target = MAIN
        elif s >= small_cap:
            continue
        elif not has_evicted and used[SMALL] >= small_cap:
            target = MAIN
        else:
            target = SMALL
        push_head(ends, target, x, prev, nxt)
        where[x] = target
        stored[x] = s
        used[target] += s
        freq[x] = 0
    return misses, miss_bytes
