"""FIFO, LRU and SIEVE as libCacheSim runs them: insert at the head, evict from the tail; an object larger
than the cache is a miss and is not inserted; a hit keeps the size the object was inserted with."""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._lists import move_to_head, push_head, unlink


@njit(cache=True)
def fifo(ids, sizes, n_objects, capacity):
    cached = np.zeros(n_objects, np.bool_)
    stored = np.zeros(n_objects, np.int64)
    queue = np.empty(len(ids), np.int64)
    head = 0
    tail = 0
    used = 0
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        if cached[x]:
            continue
        misses += 1
        miss_bytes += s
        if s > capacity:
            continue
        while used + s > capacity:
            y = queue[head]
            head += 1
            cached[y] = False
            used -= stored[y]
        queue[tail] = x
        tail += 1
        cached[x] = True
        stored[x] = s
        used += s
    return misses, miss_bytes


@njit(cache=True)
def lru(ids, sizes, n_objects, capacity):
    cached = np.zeros(n_objects, np.bool_)
    stored = np.zeros(n_objects, np.int64)
    ends = np.full(2, -1, np.int64)
    prev = np.full(n_objects, -1, np.int64)
    nxt = np.full(n_objects, -1, np.int64)
    used = 0
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        if cached[x]:
            move_to_head(ends, 0, x, prev, nxt)
            continue
        misses += 1
        miss_bytes += s
        if s > capacity:
            continue
        while used + s > capacity:
            y = ends[1]
            unlink(ends, 0, y, prev, nxt)
            cached[y] = False
            used -= stored[y]
        push_head(ends, 0, x, prev, nxt)
        cached[x] = True
        stored[x] = s
        used += s
    return misses, miss_bytes


@njit(cache=True)
def sieve(ids, sizes, n_objects, capacity):
    """SIEVE (Zhang et al., NSDI'24): a hit sets a visited bit; the hand walks from the tail toward the head,
    clearing bits, and evicts the first unvisited object; it wraps to the tail at the head."""
    cached = np.zeros(n_objects, np.bool_)
    visited = np.zeros(n_objects, np.bool_)
    stored = np.zeros(n_objects, np.int64)
    ends = np.full(2, -1, np.int64)
    prev = np.full(n_objects, -1, np.int64)
    nxt = np.full(n_objects, -1, np.int64)
    hand = -1
    used = 0
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        if cached[x]:
            visited[x] = True
            continue
        misses += 1
        miss_bytes += s
        if s > capacity:
            continue
        while used + s > capacity:
            y = hand if hand >= 0 else ends[1]
            while visited[y]:
                visited[y] = False
                y = prev[y] if prev[y] >= 0 else ends[1]
            hand = prev[y]
            unlink(ends, 0, y, prev, nxt)
            cached[y] = False
            used -= stored[y]
        push_head(ends, 0, x, prev, nxt)
        cached[x] = True
        visited[x] = False
        stored[x] = s
        used += s
    return misses, miss_bytes
