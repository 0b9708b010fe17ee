"""Cacheus (Rodriguez et al., FAST'21) as libCacheSim 0.3.5 runs it: two experts over one cache, SR-LRU and
CR-LFU, chosen per eviction at random with weights learnt from two ghost lists.

Reproduced behaviour (read from libCacheSim's source, not copied):

* SR-LRU: a scan-resistant list SR (int(C/2)) of new objects and a reuse list R (the rest); a hit in SR
  moves the object to R's head, demoting R's tail into SR while R is over its share; a miss of an object in
  SR-LRU's history H (an LRU of size C) goes straight to R, any other miss to SR. Inserting trims SR to its
  share by moving its tail to H (those objects leave the cache). libCacheSim's adaptive SR/R split never
  moves, because the flags it tests live on objects that were just re-created, so the split stays C/2.
* CR-LFU: frequency lists, the victim the NEWEST object at the lowest frequency; an object re-inserted from
  H restarts at its frequency when it left plus one.
* Each eviction draws r = (random % 100) / 100 and takes SR-LRU's victim (SR's tail, else R's) when r <
  w_lru, else CR-LFU's. When both agree nothing is remembered; otherwise the victim enters that expert's
  ghost LRU (int(C/2) each). A miss found in a ghost multiplies that expert's weight by exp(-lr) and
  renormalises. The learning rate is drawn once, 0.001 + (random % 1000) / 1000; libCacheSim's update
  (integer hit rate and integer abs) never changes it afterwards.

The random stream is numba's (seeded), not libCacheSim's, so figures agree in distribution only.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._lists import move_to_head, push_head, unlink
from policyforge.tasks.cache.algorithms.lecar import _freq_append, _freq_remove, freq_bump

SR, R, H = 0, 1, 2
G_LRU, G_LFU = 0, 1


@njit(cache=True)
def _to_history(y, loc, inh, hfreq, freq, stored, ends, prev, nxt, used, capacity, fhead, ftail, fprev, fnext):
    """Object y leaves the cache (from SR or R) for SR-LRU's history, carrying its CR-LFU frequency."""
    unlink(ends, loc[y] - 1, y, prev, nxt)
    used[loc[y] - 1] -= stored[y]
    loc[y] = 0
    _freq_remove(y, freq[y], fhead, ftail, fprev, fnext)
    push_head(ends, H, y, prev, nxt)
    inh[y] = True
    hfreq[y] = freq[y]
    used[H] += stored[y]
    while used[H] >= capacity:
        z = ends[2 * H + 1]
        unlink(ends, H, z, prev, nxt)
        used[H] -= stored[z]
        inh[z] = False


@njit(cache=True)
def _into_r(x, s, loc, stored, ends, prev, nxt, used, r_cap):
    """Put x (size s) at R's head, first demoting R's tail into SR while R has no room."""
    while used[R] + s > r_cap and used[R] > 0:
        y = ends[2 * R + 1]
        unlink(ends, R, y, prev, nxt)
        used[R] -= stored[y]
        push_head(ends, SR, y, prev, nxt)
        loc[y] = 1 + SR
        used[SR] += stored[y]
    push_head(ends, R, x, prev, nxt)
    loc[x] = 1 + R
    stored[x] = s
    used[R] += s


@njit(cache=True)
def cacheus(ids, sizes, n_objects, capacity, seed):
    np.random.seed(seed)
    lr = 0.001 + (np.random.randint(0, 2 ** 31) % 1000) / 1000.0
    w_lru = 0.5
    w_lfu = 0.5
    sr_cap = capacity // 2
    r_cap = capacity - sr_cap
    gcap = np.int64(capacity / 2.0)
    loc = np.zeros(n_objects, np.int64)  # 0 not cached, 1 in SR, 2 in R
    inh = np.zeros(n_objects, np.bool_)
    hfreq = np.zeros(n_objects, np.int64)
    freq = np.zeros(n_objects, np.int64)
    stored = np.zeros(n_objects, np.int64)
    ghost = np.full(n_objects, -1, np.int64)
    gsize = np.zeros(n_objects, np.int64)
    used = np.zeros(3, np.int64)
    gused = np.zeros(2, np.int64)
    ends = np.full(6, -1, np.int64)
    prev = np.full(n_objects, -1, np.int64)
    nxt = np.full(n_objects, -1, np.int64)
    gends = np.full(4, -1, np.int64)
    gprev = np.full(n_objects, -1, np.int64)
    gnext = np.full(n_objects, -1, np.int64)
    fhead = np.full(len(ids) + 2, -1, np.int64)
    ftail = np.full(len(ids) + 2, -1, np.int64)
    fprev = np.full(n_objects, -1, np.int64)
    fnext = np.full(n_objects, -1, np.int64)
    min_freq = 1
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        if loc[x] > 0:
            if loc[x] == 1 + R:
                move_to_head(ends, R, x, prev, nxt)
            else:  # SR hit: to R's head, demoting R's tail into SR while R is full
                unlink(ends, SR, x, prev, nxt)
                used[SR] -= stored[x]
                _into_r(x, stored[x], loc, stored, ends, prev, nxt, used, r_cap)
            min_freq = freq_bump(x, freq, min_freq, fhead, ftail, fprev, fnext)
            continue
        misses += 1
        miss_bytes += s
        g = ghost[x]
        if g >= 0:  # the expert that evicted x is penalised
            if g == G_LRU:
                w_lru = w_lru * np.exp(-lr)
            else:
                w_lfu = w_lfu * np.exp(-lr)
            unlink(gends, g, x, gprev, gnext)
            gused[g] -= gsize[x]
            ghost[x] = -1
        w_lru = w_lru / (w_lru + w_lfu)
        w_lfu = 1.0 - w_lru
        if s > capacity:
            continue
        while used[SR] + used[R] + s > capacity:
            lru_victim = ends[2 * SR + 1] if used[SR] > 0 else ends[2 * R + 1]
            while fhead[min_freq] < 0:
                min_freq += 1
            lfu_victim = ftail[min_freq]
            r = (np.random.randint(0, 2 ** 31) % 100) / 100.0
            victim = lru_victim if r < w_lru else lfu_victim
            _to_history(victim, loc, inh, hfreq, freq, stored, ends, prev, nxt, used, capacity, fhead, ftail,
                        fprev, fnext)
            if lru_victim != lfu_victim:
                which = G_LRU if victim == lru_victim else G_LFU
                gsize[victim] = stored[victim]
                _ghost_add_sized(victim, which, stored[victim], ghost, gsize, gends, gprev, gnext, gused, gcap)
        if s > (r_cap if inh[x] else sr_cap):
            continue
        f = hfreq[x] + 1 if inh[x] else 1
        freq[x] = f
        _freq_append(x, f, fhead, ftail, fprev, fnext)
        min_freq = min(min_freq, f)
        if inh[x]:  # a history hit goes to R, demoting R's tail into SR while R is full
            unlink(ends, H, x, prev, nxt)
            used[H] -= stored[x]
            inh[x] = False
            _into_r(x, s, loc, stored, ends, prev, nxt, used, r_cap)
        else:
            push_head(ends, SR, x, prev, nxt)
            loc[x] = 1 + SR
            used[SR] += s
            stored[x] = s
        while used[SR] > sr_cap:  # SR over its share: its tail leaves the cache for the history
            y = ends[2 * SR + 1]
            _to_history(y, loc, inh, hfreq, freq, stored, ends, prev, nxt, used, capacity, fhead, ftail,
                        fprev, fnext)
        while used[H] >= capacity:
            z = ends[2 * H + 1]
            unlink(ends, H, z, prev, nxt)
            used[H] -= stored[z]
            inh[z] = False
    return misses, miss_bytes


@njit(cache=True)
def _ghost_add_sized(y, g, s, ghost, gsize, gends, gprev, gnext, gused, gcap):
    """Remember victim y in ghost LRU g (LRU-evicting older ghosts to fit; too large: not remembered)."""
    if s > gcap:
        return
    while gused[g] + s > gcap:
        z = gends[2 * g + 1]
        unlink(gends, g, z, gprev, gnext)
        gused[g] -= gsize[z]
        ghost[z] = -1
    push_head(gends, g, y, gprev, gnext)
    ghost[y] = g
    gused[g] += s
