"""LHD (Beckmann et al., NSDI'18) as libCacheSim 0.3.5 runs it: evict the sampled object of least hit density.

Parameters and behaviour as in libCacheSim's LHD (read, not copied): objects are classed by app (always 1)
x 16 hit-age classes (log2 steps of the sum of the last two hit ages below 20,000); ages are requests
since the last access (counted in accesses: hits and insertions) shifted right by 10; the density table
starts as (class + 1) / (age + 1) and is re-learnt only every 2^20 accesses, so on these traces (at most
1M requests) it never changes. An eviction samples 8 random cached objects (32 after 50 reconfigurations)
plus the last 8 admitted objects that looked worse than the EWMA (0.9) of victim densities, and evicts the
least density / size; 1 in 32 accesses marks the object an "explorer" (+1 density) while a budget of 1% of
the cache lasts. A hit updates the object's size to the request's. The random stream is numba's (seeded).
"""

from __future__ import annotations

import numpy as np
from numba import njit

MAX_AGE = 20000
SHIFT = 10
CLASSES = 16
APP = 1
ADMISSIONS = 8


@njit(cache=True, inline="always")
def _class(age_sum):
    if age_sum == 0:
        return CLASSES - 1
    log = 0
    while age_sum < MAX_AGE and log < CLASSES - 1:
        age_sum <<= 1
        log += 1
    return log


@njit(cache=True)
def _density(x, now, stamp, last_hit, last_last, size, explorer):
    age = (now - stamp[x]) >> SHIFT
    if age >= MAX_AGE - 1:
        return -np.inf
    c = APP * CLASSES + _class(last_hit[x] + last_last[x])
    density = np.float32(np.float32((c + 1.0) / (age + 1.0)) / np.float32(size[x]))
    return density + 1.0 if explorer[x] else density


@njit(cache=True)
def lhd(ids, sizes, n_objects, capacity, seed):
    np.random.seed(seed)
    slot = np.full(n_objects, -1, np.int64)
    tags = np.empty(n_objects, np.int64)
    stamp = np.zeros(n_objects, np.int64)
    last_hit = np.zeros(n_objects, np.int64)
    last_last = np.zeros(n_objects, np.int64)
    size = np.zeros(n_objects, np.int64)
    stored = np.zeros(n_objects, np.int64)
    explorer = np.zeros(n_objects, np.bool_)
    recent = np.full(ADMISSIONS, -1, np.int64)
    recent_head = 0
    n_tags = 0
    now = 0
    ewma_victim = 0.0
    budget = np.int64(np.float32(capacity) * np.float32(0.01))
    used = 0
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        insert = slot[x] < 0
        if not insert:
            used += s - stored[x]
            stored[x] = s
            age = min((now - stamp[x]) >> SHIFT, MAX_AGE - 1)
            if explorer[x]:
                budget += size[x]
            last_last[x] = last_hit[x]
            last_hit[x] = age
        else:
            misses += 1
            miss_bytes += s
            if s > capacity:
                continue
            while used + s > capacity:
                victim = -1
                best = np.inf
                for _ in range(8):
                    y = tags[np.random.randint(0, 2 ** 31) % n_tags]
                    d = _density(y, now, stamp, last_hit, last_last, size, explorer)
                    if d < best:
                        victim, best = y, d
                for k in range(ADMISSIONS):
                    y = recent[k]
                    if y >= 0 and slot[y] >= 0:
                        d = _density(y, now, stamp, last_hit, last_last, size, explorer)
                        if d < best:
                            victim, best = y, d
                ewma_victim = 0.9 * ewma_victim + 0.1 * best
                used -= stored[victim]
                if explorer[victim]:
                    budget += size[victim]
                last = tags[n_tags - 1]  # swap-remove the victim's tag
                tags[slot[victim]] = last
                slot[last] = slot[victim]
                slot[victim] = -1
                n_tags -= 1
            slot[x] = n_tags
            tags[n_tags] = x
            n_tags += 1
            stored[x] = s
            used += s
            last_last[x] = MAX_AGE
            last_hit[x] = 0
        stamp[x] = now
        size[x] = s
        explore = np.random.randint(0, 2 ** 31) % 32 == 0
        explorer[x] = explore and budget > 0
        if explorer[x]:
            budget -= s
        if insert and not explore and _density(x, now, stamp, last_hit, last_last, size, explorer) < ewma_victim:
            recent[recent_head % ADMISSIONS] = x
            recent_head += 1
        now += 1
    return misses, miss_bytes
