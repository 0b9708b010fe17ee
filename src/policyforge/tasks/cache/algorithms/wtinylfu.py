"""W-TinyLFU as libCacheSim 0.3.5 configures it (Einziger et al., "TinyLFU", ToS 2017): a window LRU of
int(0.01 C) in front of a main SLRU of C - window split 1:4 into probation and protected segments, and a
TinyLFU admission test between the window's victim and the main cache's victim.

Details reproduced from libCacheSim's behaviour: the frequency sketch counts an object on its insertion, on
every hit in the main cache (not in the window) and each time it leaves the window; it is halved every
32 x main-size main-cache hits. A window victim that fits in the main cache moves there without a test;
otherwise it replaces the main cache's victim only when strictly more frequent, else it is dropped. The main
SLRU inserts into the lowest segment with room (so into protected when probation is full); a hit in
probation promotes, and an overfull protected segment cools its tail into probation, whose overflow is
evicted. Objects larger than the window or than probation are not cached.

The frequency sketch is libCacheSim's counting Bloom filter (`minimalIncrementCBF`), collisions included:
sized for `entries` = the main cache's size (a C int) at error 0.001, i.e. ceil(14.38 x entries) 32-bit
counters (at least 2 x hashes) and ceil(ln 2 x 14.38) = 10 hashes; an object's counters are
(a + i b) mod 2^32 mod counters for i < 10, with a and b the low 32 bits of XXH64 of its 8-byte
little-endian id under seeds 0x12345678 and 0x12344321; adding increments all ten, the estimate is their
minimum, decay halves every counter. In objects mode the filter is sized by the main cache's object count,
so collisions change decisions (up to 0.012 in miss ratio against exact counts). When the filter would
exceed 2^25 counters (bytes mode with a main cache over ~2.3 MB) counts are kept per object instead:
with that many counters a false estimate needs all ten counters shared, which is negligible.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._lists import move_to_head, push_head, unlink

WINDOW, PROBATION, PROTECTED = 0, 1, 2
HASH_SEEDS = (0x12345678, 0x12344321)
MAX_COUNTERS = 1 << 25
_P1, _P2, _P3, _P4, _P5 = (np.uint64(0x9E3779B185EBCA87), np.uint64(0xC2B2AE3D27D4EB4F),
                           np.uint64(0x165667B19E3779F9), np.uint64(0x85EBCA77C2B2AE63),
                           np.uint64(0x27D4EB2F165667C5))


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def xxh64_u64(values: np.ndarray, seed: int) -> np.ndarray:
    """XXH64 of each value's 8 little-endian bytes (the algorithm's single-lane path, vectorised)."""
    v = np.asarray(values, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = np.uint64(seed) + _P5 + np.uint64(8)
        h = h ^ (_rotl(v * _P2, 31) * _P1)
        h = _rotl(h, 27) * _P1 + _P4
        h = h ^ (h >> np.uint64(33))
        h = h * _P2
        h = h ^ (h >> np.uint64(29))
        h = h * _P3
        h = h ^ (h >> np.uint64(32))
    return h


def sketch_hashes(dense_ids: np.ndarray, obj_id: np.ndarray, n_objects: int) -> tuple[np.ndarray, np.ndarray]:
    """Per dense object, the two 32-bit hashes the sketch derives its counters from."""
    ids = np.zeros(n_objects, np.uint64)
    ids[dense_ids] = obj_id
    a, b = (xxh64_u64(ids, seed) & np.uint64(0xFFFFFFFF) for seed in HASH_SEEDS)
    return a.astype(np.int64), b.astype(np.int64)


@njit(cache=True)
def _sketch_shape(main_cap):
    """(counters, hashes) of libCacheSim's filter for `main_cap` entries (passed as a C int)."""
    entries = ((main_cap + 2 ** 31) % 2 ** 32) - 2 ** 31
    bpe = -np.log(0.001) / 0.480453013918201
    hashes = np.int64(np.ceil(0.693147180559945 * bpe))
    counters = np.int64(min(np.ceil(bpe * entries), 2 ** 31 - 1))
    if counters < hashes:
        counters = 2 * hashes
    return counters, hashes


@njit(cache=True, inline="always")
def _sketch_add(x, bf, ha, hb, hashes, counters, exact):
    if exact:
        bf[x] += 1
        return
    for i in range(hashes):
        bf[((ha[x] + i * hb[x]) & 0xFFFFFFFF) % counters] += 1


@njit(cache=True, inline="always")
def _sketch_estimate(x, bf, ha, hb, hashes, counters, exact):
    if exact:
        return bf[x]
    least = bf[ha[x] % counters]
    for i in range(1, hashes):
        c = bf[((ha[x] + i * hb[x]) & 0xFFFFFFFF) % counters]
        if c < least:
            least = c
    return least


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
def wtinylfu(ids, sizes, n_objects, capacity, ha, hb):
    window_cap = np.int64(capacity * 0.01)
    main_cap = capacity - window_cap
    seg_max = np.zeros(3, np.int64)
    seg_max[WINDOW] = window_cap
    seg_max[PROBATION] = np.int64(1.0 / 5.0 * main_cap)
    seg_max[PROTECTED] = np.int64(4.0 / 5.0 * main_cap)
    decay_every = 32 * main_cap
    main_hits = 0
    counters, hashes = _sketch_shape(main_cap)
    exact = counters > MAX_COUNTERS
    bf = np.zeros(n_objects if exact else counters, np.int64)
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
            _sketch_add(x, bf, ha, hb, hashes, counters, exact)
            main_hits += 1
            if main_hits >= decay_every:
                main_hits = 0
                for j in range(len(bf)):
                    bf[j] >>= 1
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
                    if (_sketch_estimate(v, bf, ha, hb, hashes, counters, exact)
                            > _sketch_estimate(m, bf, ha, hb, hashes, counters, exact)):
                        _slru_evict(ends, prev, nxt, where, stored, used)
                        _slru_insert(v, sv, ends, prev, nxt, where, stored, used, seg_max, main_cap)
                _sketch_add(v, bf, ha, hb, hashes, counters, exact)
                if decided:
                    break
        push_head(ends, WINDOW, x, prev, nxt)
        where[x] = WINDOW
        stored[x] = s
        used[WINDOW] += s
        _sketch_add(x, bf, ha, hb, hashes, counters, exact)
    return misses, miss_bytes
