"""Cacheus (Rodriguez et al., FAST'21) as libCacheSim 0.3.5 runs it: two experts over one cache, SR-LRU and
CR-LFU, chosen per eviction at random with weights learnt from two ghost lists.

Reproduced behaviour (read from libCacheSim's source, not copied):

* SR-LRU: a scan-resistant list SR of new objects and a reuse list R, each starting at int(C/2) (so with an
  odd C they hold C - 1 between them until the split first moves), and a history H (an LRU of size C). A hit
  in SR moves the object to R's head, then demotes R's tail into SR while R is over its share; a miss of an
  object in H goes to R (demoting R's tail into SR while R lacks room), any other miss to SR as a "new"
  object. Inserting trims SR to its share by moving its tail to H (those objects leave the cache).
* The adaptive split moves: an object that leaves SR (or the cache) still "new" (never hit) is counted and
  stays marked in H; when such an object comes back from H into R, SR's share grows by max(1, demoted //
  new) (truncated; capped at the cache's occupancy - 1) and R's share becomes C - SR's. Objects demoted from
  R into SR are counted; the count drops when one leaves SR for H. The shrinking rule (an SR hit of a
  demoted object) never fires in libCacheSim: the object is re-created in R without its flag.
* CR-LFU: frequency lists, the victim the NEWEST object at the lowest frequency; an object re-inserted from
  H restarts at its frequency when it left plus one.
* Each eviction draws r = (next_rand() % 100) / 100 and takes SR-LRU's victim (SR's tail, else R's) when r <
  w_lru, else CR-LFU's. When both agree nothing is remembered; otherwise the victim enters that expert's
  ghost LRU (int(C/2) each). A miss found in a ghost multiplies that expert's weight by exp(-lr) and
  renormalises. lr starts at 0.001 + (next_rand() % 1000) / 1000 and is updated every C requests from the
  integer hit rate of the last C requests (so lr decays as lr - lr * |delta lr| while the hit rate stays 0,
  and is redrawn only after ten non-improving periods when a period hits every request).
* next_rand is libCacheSim's generator (Lehmer64: a 128-bit state multiplied by 0xda942042e4dd58b5, the
  output its high 64 bits), started at `seed` as its set_rand_seed does. From libCacheSim's unseeded state
  (0xdeadbeef) the kernel gives a standalone libcachesim 0.3.5 run's miss ratios exactly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._lists import move_to_head, push_head, unlink
from policyforge.tasks.cache.algorithms.lecar import _freq_append, _freq_remove, freq_bump

SR, R, H = 0, 1, 2
G_LRU, G_LFU = 0, 1
DEMOTED, NEW = 0, 1  # the two counters of SR-LRU's adaptive split
_LOW32 = np.uint64(0xFFFFFFFF)
_LEHMER = np.uint64(0xDA942042E4DD58B5)
_S32 = np.uint64(32)


@njit(cache=True)
def _mul_high(u, v):
    """High 64 bits of the 128-bit product of two uint64."""
    u0 = u & _LOW32
    u1 = u >> _S32
    v0 = v & _LOW32
    v1 = v >> _S32
    t = u1 * v0 + ((u0 * v0) >> _S32)
    w = (t & _LOW32) + u0 * v1
    return u1 * v1 + (t >> _S32) + (w >> _S32)


@njit(cache=True)
def _next_rand(state):
    """Lehmer64 step on state = (low, high) 64-bit words; returns the new high word."""
    low = state[0]
    state[1] = state[1] * _LEHMER + _mul_high(low, _LEHMER)
    state[0] = low * _LEHMER
    return state[1]


@njit(cache=True)
def _to_history(y, loc, inh, hfreq, freq, stored, new, demoted, counts, ends, prev, nxt, used, capacity,
                fhead, ftail, fprev, fnext):
    """Object y leaves the cache (from SR or R) for SR-LRU's history, carrying its CR-LFU frequency and its
    "new" mark."""
    unlink(ends, loc[y] - 1, y, prev, nxt)
    used[loc[y] - 1] -= stored[y]
    loc[y] = 0
    if new[y]:
        counts[NEW] += 1
    if demoted[y]:
        counts[DEMOTED] -= 1
        demoted[y] = False
    _freq_remove(y, freq[y], fhead, ftail, fprev, fnext)
    push_head(ends, H, y, prev, nxt)
    inh[y] = True
    hfreq[y] = freq[y]
    used[H] += stored[y]
    _trim_history(inh, new, stored, ends, prev, nxt, used, capacity)


@njit(cache=True)
def _trim_history(inh, new, stored, ends, prev, nxt, used, capacity):
    while used[H] >= capacity:
        z = ends[2 * H + 1]
        unlink(ends, H, z, prev, nxt)
        used[H] -= stored[z]
        inh[z] = False
        new[z] = False


@njit(cache=True)
def _demote(loc, stored, new, demoted, counts, ends, prev, nxt, used):
    """R's tail moves to SR's head, marked (and counted) as demoted."""
    y = ends[2 * R + 1]
    unlink(ends, R, y, prev, nxt)
    used[R] -= stored[y]
    push_head(ends, SR, y, prev, nxt)
    loc[y] = 1 + SR
    used[SR] += stored[y]
    new[y] = False
    demoted[y] = True
    counts[DEMOTED] += 1


@njit(cache=True)
def cacheus(ids, sizes, n_objects, capacity, seed):
    state = np.zeros(2, np.uint64)
    state[0] = np.uint64(seed)
    lr = 0.001 + (_next_rand(state) % np.uint64(1000)) / 1000.0
    lr_prev = 0.0
    hit_rate_prev = 0.0
    unlearn = 0
    period_hits = 0
    w_lru = 0.5
    w_lfu = 0.5
    sr_cap = capacity // 2
    r_cap = capacity // 2
    gcap = np.int64(capacity / 2.0)
    loc = np.zeros(n_objects, np.int64)  # 0 not cached, 1 in SR, 2 in R
    inh = np.zeros(n_objects, np.bool_)
    new = np.zeros(n_objects, np.bool_)
    demoted = np.zeros(n_objects, np.bool_)
    counts = np.zeros(2, np.int64)
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
            else:  # SR hit: to R's head (a fresh entry: its marks are lost), then R's overflow into SR
                unlink(ends, SR, x, prev, nxt)
                used[SR] -= stored[x]
                new[x] = False
                demoted[x] = False
                push_head(ends, R, x, prev, nxt)
                loc[x] = 1 + R
                used[R] += stored[x]
                while used[R] > r_cap:
                    _demote(loc, stored, new, demoted, counts, ends, prev, nxt, used)
            min_freq = freq_bump(x, freq, min_freq, fhead, ftail, fprev, fnext)
            period_hits += 1
        else:
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
            if s <= capacity:
                while used[SR] + used[R] + s > capacity:
                    lru_victim = ends[2 * SR + 1] if used[SR] > 0 else ends[2 * R + 1]
                    while fhead[min_freq] < 0:
                        min_freq += 1
                    lfu_victim = ftail[min_freq]
                    r = (_next_rand(state) % np.uint64(100)) / 100.0
                    victim = lru_victim if r < w_lru else lfu_victim
                    vsize = stored[victim]
                    _to_history(victim, loc, inh, hfreq, freq, stored, new, demoted, counts, ends, prev, nxt,
                                used, capacity, fhead, ftail, fprev, fnext)
                    if lru_victim != lfu_victim:
                        which = G_LRU if victim == lru_victim else G_LFU
                        gsize[victim] = vsize
                        _ghost_add_sized(victim, which, vsize, ghost, gsize, gends, gprev, gnext, gused, gcap)
                if s <= (r_cap if inh[x] else sr_cap):
                    f = hfreq[x] + 1 if inh[x] else 1
                    freq[x] = f
                    _freq_append(x, f, fhead, ftail, fprev, fnext)
                    min_freq = min(min_freq, f)
                    if inh[x]:  # back from the history: to R, demoting R's tail into SR while R lacks room
                        was_new = new[x]
                        unlink(ends, H, x, prev, nxt)
                        used[H] -= stored[x]
                        inh[x] = False
                        while used[R] + s > r_cap:
                            _demote(loc, stored, new, demoted, counts, ends, prev, nxt, used)
                        push_head(ends, R, x, prev, nxt)
                        loc[x] = 1 + R
                        stored[x] = s
                        used[R] += s
                        new[x] = False
                        demoted[x] = False
                        if was_new:  # SR was too small: grow its share
                            q = counts[DEMOTED] // counts[NEW]
                            delta = 1.0 if q == 0 else q + 0.5
                            occupied = used[SR] + used[R]
                            if sr_cap + delta > occupied - 1:
                                sr_cap = occupied - 1
                            else:
                                sr_cap = np.int64(sr_cap + delta)
                            r_cap = capacity - sr_cap
                    else:
                        push_head(ends, SR, x, prev, nxt)
                        loc[x] = 1 + SR
                        stored[x] = s
                        used[SR] += s
                        new[x] = True
                        demoted[x] = False
                    while used[SR] > sr_cap:  # SR over its share: its tail leaves the cache for the history
                        y = ends[2 * SR + 1]
                        _to_history(y, loc, inh, hfreq, freq, stored, new, demoted, counts, ends, prev, nxt,
                                    used, capacity, fhead, ftail, fprev, fnext)
                    _trim_history(inh, new, stored, ends, prev, nxt, used, capacity)
        if (i + 1) % capacity == 0:  # learning-rate update, libCacheSim's integer hit rate
            hit_rate = float(period_hits // capacity)
            d_hit = hit_rate - hit_rate_prev
            d_lr = lr - lr_prev
            lr_prev = lr
            hit_rate_prev = hit_rate
            if d_lr != 0:
                sign = 1.0 if d_hit / d_lr > 0 else -1.0
                stepped = lr + sign * abs(lr * d_lr)
                lr = stepped if stepped > 0.001 else 0.0001
                unlearn = 0
            elif hit_rate == 0 or d_hit <= 0:
                unlearn += 1
            elif unlearn >= 10:
                unlearn = 0
                lr = 0.001 + (_next_rand(state) % np.uint64(1000)) / 1000.0
            period_hits = 0
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
