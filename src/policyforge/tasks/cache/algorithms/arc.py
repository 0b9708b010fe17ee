"""ARC (Megiddo and Modha, FAST'03) with variable-size objects, as libCacheSim 0.3.5 runs it: T1/B1/T2/B2
measured in bytes (or objects), p a float adapted by max(|B2|/|B1|, 1) on a B1 hit (and the mirror on B2),
ghost hits inserted into T2, case IV trimming B1 when |T1|+|B1|+size exceeds the cache and B2 when the four
lists reach twice the cache, and T1's tail dropped without a ghost when B1 is empty."""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._lists import move_to_head, push_head, unlink

T1, B1, T2, B2 = 0, 1, 2, 3


@njit(cache=True)
def arc(ids, sizes, n_objects, capacity):
    where = np.full(n_objects, -1, np.int64)
    stored = np.zeros(n_objects, np.int64)
    ends = np.full(8, -1, np.int64)
    prev = np.full(n_objects, -1, np.int64)
    nxt = np.full(n_objects, -1, np.int64)
    size = np.zeros(4, np.int64)  # bytes in T1, B1, T2, B2
    p = 0.0
    in_b1 = False
    in_b2 = False
    ghost_vtime = -1
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        w = where[x]
        if w >= 0:
            in_b1 = False
            in_b2 = False
            if w == T1:
                unlink(ends, T1, x, prev, nxt)
                push_head(ends, T2, x, prev, nxt)
                where[x] = T2
                size[T1] -= stored[x]
                size[T2] += stored[x]
                continue
            if w == T2:
                move_to_head(ends, T2, x, prev, nxt)
                continue
            ghost_vtime = i
            if w == B1:
                in_b1 = True
                delta = max(size[B2] / size[B1], 1.0)
                p = min(p + delta, float(capacity))
            else:
                in_b2 = True
                delta = max(size[B1] / size[B2], 1.0)
                p = max(p - delta, 0.0)
            size[w] -= stored[x]
            unlink(ends, w, x, prev, nxt)
            where[x] = -1
        misses += 1
        miss_bytes += s
        if s > capacity:
            continue
        ghost_now = ghost_vtime == i and (in_b1 or in_b2)
        while size[T1] + size[T2] + s > capacity:
            if not ghost_now:
                if size[T1] + size[B1] + s > capacity:
                    if size[B1] > 0:
                        y = ends[2 * B1 + 1]
                        unlink(ends, B1, y, prev, nxt)
                        size[B1] -= stored[y]
                        where[y] = -1
                    else:
                        y = ends[2 * T1 + 1]
                        unlink(ends, T1, y, prev, nxt)
                        size[T1] -= stored[y]
                        where[y] = -1
                        continue
                elif size[T1] + size[B1] + size[T2] + size[B2] >= 2 * capacity and size[B2] > 0:
                    y = ends[2 * B2 + 1]
                    unlink(ends, B2, y, prev, nxt)
                    size[B2] -= stored[y]
                    where[y] = -1
            # REPLACE
            if (size[T1] > 0 and (size[T1] > p or (size[T1] == p and in_b2))) or size[T2] == 0:
                y = ends[2 * T1 + 1]
                unlink(ends, T1, y, prev, nxt)
                push_head(ends, B1, y, prev, nxt)
                where[y] = B1
                size[T1] -= stored[y]
                size[B1] += stored[y]
            else:
                y = ends[2 * T2 + 1]
                unlink(ends, T2, y, prev, nxt)
                push_head(ends, B2, y, prev, nxt)
                where[y] = B2
                size[T2] -= stored[y]
                size[B2] += stored[y]
        stored[x] = s
        if ghost_now:
            push_head(ends, T2, x, prev, nxt)
            where[x] = T2
            size[T2] += s
            in_b1 = False
            in_b2 = False
            ghost_vtime = -1
        else:
            push_head(ends, T1, x, prev, nxt)
            where[x] = T1
            size[T1] += s
    return misses, miss_bytes
