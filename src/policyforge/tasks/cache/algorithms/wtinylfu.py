"""W-TinyLFU as libCacheSim 0.3.5 configures it (Einziger et al., "TinyLFU", ToS 2017): a window LRU of
int(0.01 C) in front of a main SLRU of C - window split 1:4 into probation and protected segments, and a
TinyLFU admission test between the window's victim and the main cache's victim.

Details reproduced from libCacheSim's behaviour: the frequency sketch counts an object on its insertion, on
every hit in the main cache (not in the window) and each time it leaves the window; it is halved every
32 x main-size main-cache hits. A window victim that fits in the main cache moves there without a test;
otherwise it replaces the main cache's victim only when strictly more frequent, else it is dropped. The main
SLRU inserts into the lowest segment with room (so into protected when probation is full); a hit in
probation promotes, and an overfull protected segment cools its tail into probation, whose overflow is
evicted. Objects larger than the window or than probation are not cached. libCacheSim's sketch is a
counting Bloom filter; here counts are exact (no hash collisions), the one deliberate difference.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._lists import move_to_head, push_head, unlink

WINDOW, PROBATION, PROTECTED = 0, 1, 2


@njit(cache=True)
def _slru_evict(ends, prev, nxt, where, stored, used):
    """Drop the main cache's victim (probation's tail, else protected's)."""
    k = PROBATION if used[PROBATION] > 0 else PROTECTED
    y = ends[2 * k + 1]
    unlink(ends, k, y, prev, nxt)
    used[k] -= stored[y]
    where[y] = -1


@njit(cache=True)
def _slru_insert(x, s, ends, prev, nxt, where, stored, used, seg_max, main_cap):
    k = -1
    for seg in (PROBATION, PROTECTED):
        if used[seg] + s <= seg_max[seg]:
            k = seg
            break
    if k < 0:
        while used[PROBATION] + used[PROTECTED] + s > main_cap:
            _slru_evict(ends, prev, nxt, where, stored, used)
        k = PROBATION
    push_head(ends, k, x, prev, nxt)
    where[x] = k
    stored[x] = s
    used[k] += s


@njit(cache=True)
def _slru_hit(x, ends, prev, nxt, where, stored, used, seg_max):
    if where[x] == PROTECTED:
        move_to_head(ends, PROTECTED, x, prev, nxt)
        return
    unlink(ends, PROBATION, x, prev, nxt)
    used[PROBATION] -= stored[x]
    push_head(ends, PROTECTED, x, prev, nxt)
    where[x] = PROTECTED
    used[PROTECTED] += stored[x]
    while used[PROTECTED] > seg_max[PROTECTED]:  # cool protected's tail into probation
        y = ends[2 * PROTECTED + 1]
        unlink(ends, PROTECTED, y, prev, nxt)
        used[PROTECTED] -= stored[y]
        push_head(ends, PROBATION, y, prev, nxt)
        where[y] = PROBATION
        used[PROBATION] += stored[y]
        while used[PROBATION] > seg_max[PROBATION]:
            _slru_evict(ends, prev, nxt, where, stored, used)


@njit(cache=True)
def wtinylfu(ids, sizes, n_objects, capacity):
    window_cap = np.int64(capacity * 0.01)
    main_cap = capacity - window_cap
    seg_max = np.zeros(3, np.int64)
    seg_max[WINDOW] = window_cap
    seg_max[PROBATION] = np.int64(1.0 / 5.0 * main_cap)
    seg_max[PROTECTED] = np.int64(4.0 / 5.0 * main_cap)
    decay_every = 32 * main_cap
    main_hits = 0
    freq = np.zeros(n_objects, np.int64)
    where = np.full(n_objects, -1, np.int64)
    stored = np.zeros(n_objects, np.int64)
    used = np.zeros(3, np.int64)
    ends = np.full(6, -1, np.int64)
    prev = np.full(n_objects, -1, np.int64)
    nxt = np.full(n_objects, -1, np.int64)
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        if where[x] == WINDOW:
            move_to_head(ends, WINDOW, x, prev, nxt)
            continue
        if where[x] > 0:
            _slru_hit(x, ends, prev, nxt, where, stored, used, seg_max)
            freq[x] += 1
            main_hits += 1
            if main_hits >= decay_every:
                main_hits = 0
                for j in range(n_objects):
                    freq[j] >>= 1
            continue
        misses += 1
        miss_bytes += s
        if s > capacity or s > window_cap or s > main_cap or s > seg_max[PROBATION]:
            continue
        while used[WINDOW] + used[PROBATION] + used[PROTECTED] + s > capacity:
            while True:  # one eviction: window victims move into room in main until one is decided
                if used[WINDOW] <= 0:
                    _slru_evict(ends, prev, nxt, where, stored, used)
                    break
                v = ends[2 * WINDOW + 1]
                sv = stored[v]
                decided = True
                if used[PROBATION] + used[PROTECTED] + sv <= main_cap:
                    unlink(ends, WINDOW, v, prev, nxt)
                    used[WINDOW] -= sv
                    _slru_insert(v, sv, ends, prev, nxt, where, stored, used, seg_max, main_cap)
                    decided = False
                else:
                    m = ends[2 * (PROBATION if used[PROBATION] > 0 else PROTECTED) + 1]
                    unlink(ends, WINDOW, v, prev, nxt)
                    used[WINDOW] -= sv
                    where[v] = -1
                    if freq[v] > freq[m]:
                        _slru_evict(ends, prev, nxt, where, stored, used)
                        _slru_insert(v, sv, ends, prev, nxt, where, stored, used, seg_max, main_cap)
                freq[v] += 1
                if decided:
                    break
        push_head(ends, WINDOW, x, prev, nxt)
        where[x] = WINDOW
        stored[x] = s
        used[WINDOW] += s
        freq[x] += 1
    return misses, miss_bytes
