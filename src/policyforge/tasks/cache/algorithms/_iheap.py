"""An indexed binary min-heap of (key, tie, object): one entry per object, `pos[obj]` its slot (-1 when
absent), so a changed priority is updated in place instead of pushing a new entry (no stale entries)."""

from __future__ import annotations

from numba import njit


@njit(cache=True, inline="always")
def _less(keys, ties, a, b):
    return keys[a] < keys[b] or (keys[a] == keys[b] and ties[a] < ties[b])


@njit(cache=True, inline="always")
def _swap(keys, ties, objs, pos, a, b):
    keys[a], keys[b] = keys[b], keys[a]
    ties[a], ties[b] = ties[b], ties[a]
    objs[a], objs[b] = objs[b], objs[a]
    pos[objs[a]] = a
    pos[objs[b]] = b


@njit(cache=True)
def _up(keys, ties, objs, pos, i):
    while i > 0:
        parent = (i - 1) >> 1
        if not _less(keys, ties, i, parent):
            break
        _swap(keys, ties, objs, pos, i, parent)
        i = parent


@njit(cache=True)
def _down(keys, ties, objs, pos, n, i):
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and _less(keys, ties, child + 1, child):
            child += 1
        if not _less(keys, ties, child, i):
            break
        _swap(keys, ties, objs, pos, i, child)
        i = child


@njit(cache=True)
def iheap_push(keys, ties, objs, pos, n, key, tie, obj):
    """Add `obj` (absent) with (key, tie); returns the new size."""
    keys[n] = key
    ties[n] = tie
    objs[n] = obj
    pos[obj] = n
    _up(keys, ties, objs, pos, n)
    return n + 1


@njit(cache=True)
def iheap_pop(keys, ties, objs, pos, n):
    """Remove the root (read it first); returns the new size."""
    pos[objs[0]] = -1
    n -= 1
    if n > 0:
        keys[0] = keys[n]
        ties[0] = ties[n]
        objs[0] = objs[n]
        pos[objs[0]] = 0
        _down(keys, ties, objs, pos, n, 0)
    return n


@njit(cache=True)
def iheap_update(keys, ties, objs, pos, n, obj, key, tie):
    """Give `obj` (present) a new (key, tie) and restore the heap order."""
    i = pos[obj]
    keys[i] = key
    ties[i] = tie
    _up(keys, ties, objs, pos, i)
    _down(keys, ties, objs, pos, n, pos[obj])
