"""The oracles. Belady (MIN): evict the cached object whose next request is furthest away (never: furthest
of all). BeladySize, as libCacheSim 0.3.5 runs it: objects never requested again are not inserted (and are
dropped on their last hit); at eviction 128 cached objects are sampled with replacement and the one with the
largest size x distance to its next request goes, a sampled object already past its next request at once."""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._heap import heap_pop, heap_push

NEVER = np.iinfo(np.int64).max


@njit(cache=True)
def belady(ids, sizes, next_access, n_objects, capacity):
    cached = np.zeros(n_objects, np.bool_)
    stored = np.zeros(n_objects, np.int64)
    upcoming = np.zeros(n_objects, np.int64)
    n = len(ids)
    keys = np.empty(n + 1, np.float64)
    ties = np.empty(n + 1, np.int64)
    objs = np.empty(n + 1, np.int64)
    size = 0
    used = 0
    misses = 0
    miss_bytes = 0
    for i in range(n):
        x = ids[i]
        s = sizes[i]
        nxt = next_access[i] if next_access[i] >= 0 else NEVER
        if cached[x]:
            upcoming[x] = nxt
            size = heap_push(keys, ties, objs, size, -float(nxt), -nxt, x)
            continue
        misses += 1
        miss_bytes += s
        if s > capacity:
            continue
        while used + s > capacity:
            y = objs[0]
            valid = cached[y] and upcoming[y] == -ties[0]
            size = heap_pop(keys, ties, objs, size)
            if valid:
                cached[y] = False
                used -= stored[y]
        cached[x] = True
        stored[x] = s
        upcoming[x] = nxt
        used += s
        size = heap_push(keys, ties, objs, size, -float(nxt), -nxt, x)
    return misses, miss_bytes


@njit(cache=True)
def belady_size(ids, sizes, next_access, n_objects, capacity, samples, seed):
    np.random.seed(seed)
    cached = np.zeros(n_objects, np.bool_)
    stored = np.zeros(n_objects, np.int64)
    upcoming = np.zeros(n_objects, np.int64)
    members = np.empty(n_objects, np.int64)
    position = np.full(n_objects, -1, np.int64)
    count = 0
    used = 0
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        nxt = next_access[i]
        if cached[x]:
            if nxt < 0:
                cached[x] = False
                used -= stored[x]
                last = members[count - 1]
                members[position[x]] = last
                position[last] = position[x]
                count -= 1
            else:
                upcoming[x] = nxt
            continue
        misses += 1
        miss_bytes += s
        if s > capacity:
            continue
        while used + s > capacity:
            victim = -1
            best = -1.0
            for _ in range(samples):
                y = members[np.random.randint(0, count)]
                dt = upcoming[y] - i
                if dt <= 0:
                    victim = y
                    break
                score = np.log(float(stored[y])) + np.log(float(dt))
                if score > best:
                    best = score
                    victim = y
            cached[victim] = False
            used -= stored[victim]
            last = members[count - 1]
            members[position[victim]] = last
            position[last] = position[victim]
            count -= 1
        if nxt < 0:
            continue
        cached[x] = True
        stored[x] = s
        upcoming[x] = nxt
        used += s
        members[count] = x
        position[x] = count
        count += 1
    return misses, miss_bytes
