"""A binary min-heap of (key, tie, object) in three parallel arrays, for lazy priority queues: stale
entries stay in the heap and are skipped when popped (the caller checks them against its own state)."""

from __future__ import annotations

from numba import njit


@njit(cache=True, inline="always")
def _less(keys, ties, a, b):
    return keys[a] < keys[b] or (keys[a] == keys[b] and ties[a] < ties[b])


@njit(cache=True)
def heap_push(keys, ties, objs, n, key, tie, obj):
    """Insert at position n (the current size); returns the new size."""
    i = n
    keys[i] = key
    ties[i] = tie
    objs[i] = obj
    while i > 0:
        parent = (i - 1) >> 1
        if _less(keys, ties, i, parent):
            keys[i], keys[parent] = keys[parent], keys[i]
            ties[i], ties[parent] = ties[parent], ties[i]
            objs[i], objs[parent] = objs[parent], objs[i]
            i = parent
        else:
            break
    return n + 1


@njit(cache=True)
def heap_pop(keys, ties, objs, n):
    """Remove the root (smallest key, then smallest tie); returns the new size. Read the root first."""
    n -= 1
    keys[0] = keys[n]
    ties[0] = ties[n]
    objs[0] = objs[n]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        child = left
        if left + 1 < n and _less(keys, ties, left + 1, left):
            child = left + 1
        if _less(keys, ties, child, i):
            keys[i], keys[child] = keys[child], keys[i]
            ties[i], ties[child] = ties[child], ties[i]
            objs[i], objs[child] = objs[child], objs[i]
            i = child
        else:
            break
    return n
