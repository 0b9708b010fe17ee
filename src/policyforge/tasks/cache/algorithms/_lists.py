"""Intrusive doubly linked lists over dense object numbers, for the compiled baselines.

`ends[2k]` is list k's head (most recently inserted), `ends[2k+1]` its tail (oldest); `prev` points toward
the head, `nxt` toward the tail; -1 is "none". An object is in at most one list per (prev, nxt) pair.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def new_lists(n_lists: int, n_objects: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.full(2 * n_lists, -1, np.int64), np.full(n_objects, -1, np.int64),
            np.full(n_objects, -1, np.int64))


@njit(cache=True, inline="always")
def push_head(ends, k, x, prev, nxt):
    head = ends[2 * k]
    prev[x] = -1
    nxt[x] = head
    if head >= 0:
        prev[head] = x
    else:
        ends[2 * k + 1] = x
    ends[2 * k] = x


@njit(cache=True, inline="always")
def unlink(ends, k, x, prev, nxt):
    p = prev[x]
    n = nxt[x]
    if p >= 0:
        nxt[p] = n
    else:
        ends[2 * k] = n
    if n >= 0:
        prev[n] = p
    else:
        ends[2 * k + 1] = p
    prev[x] = -1
    nxt[x] = -1


@njit(cache=True, inline="always")
def move_to_head(ends, k, x, prev, nxt):
    if ends[2 * k] != x:
        unlink(ends, k, x, prev, nxt)
        push_head(ends, k, x, prev, nxt)
