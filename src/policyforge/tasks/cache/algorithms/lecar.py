"""LeCaR (Vietri et al., HotStorage'18) with libCacheSim's parameters: learning rate 0.45, discount rate
0.005^(1/C) (C in the mode's unit), weights starting at 0.5/0.5.

At each eviction the experts' candidates are LRU's tail and LFU's victim (the least frequent, oldest at that
frequency; frequency counts accesses since insertion). When they are the same object it is evicted with no
random draw and leaves no ghost; otherwise r = (random % 100) / 100 picks LRU's when r < w_lru, else LFU's,
and the victim enters that expert's ghost list (one per expert, each bounded to int(C / 2) by size). A
request to a ghost multiplies the evicting expert's weight by exp(-0.45 * dr^t) (t = requests since the
eviction), then renormalises (with libCacheSim's 1e-10 floors), and the object is a miss. The random stream
is numba's (seeded), not libCacheSim's, so figures agree in distribution, not bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._lists import move_to_head, push_head, unlink

CACHE, GHOST_LRU, GHOST_LFU = 0, 1, 2


@njit(cache=True)
def _freq_append(x, f, fhead, ftail, fprev, fnext):
    t = ftail[f]
    fprev[x] = t
    fnext[x] = -1
    if t >= 0:
        fnext[t] = x
    else:
        fhead[f] = x
    ftail[f] = x


@njit(cache=True)
def _freq_remove(x, f, fhead, ftail, fprev, fnext):
    p = fprev[x]
    n = fnext[x]
    if p >= 0:
        fnext[p] = n
    else:
        fhead[f] = n
    if n >= 0:
        fprev[n] = p
    else:
        ftail[f] = p
    fprev[x] = -1
    fnext[x] = -1


@njit(cache=True)
def freq_bump(x, freq, min_freq, fhead, ftail, fprev, fnext):
    """A hit: x moves to the tail of the next frequency's list; returns the (lower bound of the) minimum."""
    f = freq[x]
    _freq_remove(x, f, fhead, ftail, fprev, fnext)
    freq[x] = f + 1
    _freq_append(x, f + 1, fhead, ftail, fprev, fnext)
    return f + 1 if f == min_freq and fhead[f] < 0 else min_freq


@njit(cache=True)
def lecar(ids, sizes, n_objects, capacity, seed):
    np.random.seed(seed)
    lr = 0.45
    dr = 0.005 ** (1.0 / capacity)
    ghost_cap = capacity // 2
    w_lru = 0.5
    w_lfu = 0.5
    state = np.zeros(n_objects, np.int8)  # 0 absent, 1 cached, 2 ghost of LRU, 3 ghost of LFU
    stored = np.zeros(n_objects, np.int64)
    freq = np.zeros(n_objects, np.int64)
    evicted_at = np.zeros(n_objects, np.int64)
    ends = np.full(6, -1, np.int64)  # lists: CACHE, GHOST_LRU, GHOST_LFU
    ghost_used = np.zeros(3, np.int64)
    prev = np.full(n_objects, -1, np.int64)
    nxt = np.full(n_objects, -1, np.int64)
    fhead = np.full(len(ids) + 2, -1, np.int64)
    ftail = np.full(len(ids) + 2, -1, np.int64)
    fprev = np.full(n_objects, -1, np.int64)
    fnext = np.full(n_objects, -1, np.int64)
    min_freq = 1
    used = 0
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        if state[x] == 1:
            move_to_head(ends, CACHE, x, prev, nxt)
            min_freq = freq_bump(x, freq, min_freq, fhead, ftail, fprev, fnext)
            continue
        if state[x] >= 2:  # a ghost: the expert that evicted it is penalised
            r = dr ** (i - evicted_at[x])
            if state[x] == 2:
                w_lru = w_lru * np.exp(-lr * r) + 1e-10
                total = w_lru + w_lfu + 2e-10
                w_lru = w_lru / total
                w_lfu = (w_lfu + 1e-10) / total
            else:
                w_lfu = w_lfu * np.exp(-lr * r) + 1e-10
                total = w_lfu + w_lru + 2e-10
                w_lfu = w_lfu / total
                w_lru = (w_lru + 1e-10) / total
            g = state[x] - 1
            unlink(ends, g, x, prev, nxt)
            ghost_used[g] -= stored[x]
            state[x] = 0
        misses += 1
        miss_bytes += s
        if s > capacity:
            continue
        while used + s > capacity:
            y = ends[2 * CACHE + 1]
            while fhead[min_freq] < 0:
                min_freq += 1
            z = fhead[min_freq]
            g = 0
            if y != z:  # both experts agree: evicted with no ghost and no draw
                r = (np.random.randint(0, 2 ** 31) % 100) / 100.0
                if r < w_lru:
                    g = GHOST_LRU
                else:
                    y = z
                    g = GHOST_LFU
            unlink(ends, CACHE, y, prev, nxt)
            _freq_remove(y, freq[y], fhead, ftail, fprev, fnext)
            used -= stored[y]
            state[y] = 0
            if g > 0:
                state[y] = g + 1
                evicted_at[y] = i
                push_head(ends, g, y, prev, nxt)
                ghost_used[g] += stored[y]
                while ghost_used[g] > ghost_cap:
                    h = ends[2 * g + 1]
                    unlink(ends, g, h, prev, nxt)
                    ghost_used[g] -= stored[h]
                    state[h] = 0
        push_head(ends, CACHE, x, prev, nxt)
        state[x] = 1
        stored[x] = s
        used += s
        freq[x] = 1
        _freq_append(x, 1, fhead, ftail, fprev, fnext)
        min_freq = 1
    return misses, miss_bytes
