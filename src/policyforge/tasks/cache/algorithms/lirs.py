"""LIRS (Jiang and Zhang, SIGMETRICS'02) as libCacheSim 0.3.5 runs it: HIR share 1% of the cache (at least
one unit), stack S (LIR and HIR entries, resident or not), stack Q (resident HIRs), a list of non-resident
HIR entries used to bound S at twice the cache size; objects larger than the HIR share are not cached.

State is kept per stack as libCacheSim keeps it (S's entry carries is-LIR and resident flags; Q's entries
are resident HIRs), and every step below follows its order of evictions, so the miss ratios agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.cache.algorithms._lists import move_to_head, push_head, unlink


@njit(cache=True)
def _evict_hir(st, ends, sp, sn, qp, qn, hp, hn, in_s, in_q, in_nh, res_s, stored):
    y = ends[3]
    if y < 0:
        return
    st[1] -= stored[y]  # hirs_count
    unlink(ends, 1, y, qp, qn)
    in_q[y] = False
    if in_s[y]:
        res_s[y] = False
        push_head(ends, 2, y, hp, hn)
        in_nh[y] = True
    st[3] -= stored[y]  # occupied


@njit(cache=True)
def _prune(st, ends, sp, sn, hp, hn, in_s, in_nh, lir_s, res_s, stored):
    t = ends[1]
    while t != ends[0]:
        if lir_s[t]:
            break
        if not res_s[t] and in_nh[t]:
            unlink(ends, 2, t, hp, hn)
            in_nh[t] = False
        unlink(ends, 0, t, sp, sn)
        in_s[t] = False
        st[4] -= stored[t]  # S occupied
        t = ends[1]


@njit(cache=True)
def _evict_lir(st, limits, ends, sp, sn, qp, qn, hp, hn, in_s, in_q, in_nh, lir_s, res_s, stored):
    y = ends[1]
    if y < 0:
        return
    st[0] -= stored[y]  # lirs_count
    unlink(ends, 0, y, sp, sn)
    in_s[y] = False
    st[4] -= stored[y]
    st[3] -= stored[y]
    if stored[y] <= limits[1]:
        while st[1] + stored[y] > limits[1] and ends[3] >= 0:
            _evict_hir(st, ends, sp, sn, qp, qn, hp, hn, in_s, in_q, in_nh, res_s, stored)
        if in_q[y]:
            move_to_head(ends, 1, y, qp, qn)
        else:
            push_head(ends, 1, y, qp, qn)
            in_q[y] = True
        st[1] += stored[y]
        st[3] += stored[y]
    _prune(st, ends, sp, sn, hp, hn, in_s, in_nh, lir_s, res_s, stored)


@njit(cache=True)
def lirs(ids, sizes, n_objects, capacity):
    hirs_limit = max(1, int(0.01 * capacity))
    limits = np.array([capacity - hirs_limit, hirs_limit], np.int64)
    lirs_limit = limits[0]
    # st: lirs_count, hirs_count, nonresident (unused), occupied, S occupied
    st = np.zeros(5, np.int64)
    ends = np.full(6, -1, np.int64)  # S, Q, NH
    sp = np.full(n_objects, -1, np.int64)
    sn = np.full(n_objects, -1, np.int64)
    qp = np.full(n_objects, -1, np.int64)
    qn = np.full(n_objects, -1, np.int64)
    hp = np.full(n_objects, -1, np.int64)
    hn = np.full(n_objects, -1, np.int64)
    in_s = np.zeros(n_objects, np.bool_)
    in_q = np.zeros(n_objects, np.bool_)
    in_nh = np.zeros(n_objects, np.bool_)
    lir_s = np.zeros(n_objects, np.bool_)
    res_s = np.zeros(n_objects, np.bool_)
    stored = np.zeros(n_objects, np.int64)
    misses = 0
    miss_bytes = 0
    for i in range(len(ids)):
        x = ids[i]
        s = sizes[i]
        hit = False
        if in_s[x]:
            move_to_head(ends, 0, x, sp, sn)
        if in_q[x]:
            move_to_head(ends, 1, x, qp, qn)
        if in_s[x]:
            if lir_s[x]:
                _prune(st, ends, sp, sn, hp, hn, in_s, in_nh, lir_s, res_s, stored)
                hit = True
            elif res_s[x]:
                if in_q[x]:
                    st[1] -= stored[x]
                    unlink(ends, 1, x, qp, qn)
                    in_q[x] = False
                    st[3] -= stored[x]
                while st[0] + stored[x] > lirs_limit and ends[1] >= 0:
                    _evict_lir(st, limits, ends, sp, sn, qp, qn, hp, hn, in_s, in_q, in_nh, lir_s, res_s, stored)
                lir_s[x] = True
                st[0] += stored[x]
                st[3] += stored[x]
                hit = True
        elif in_q[x]:
            while st[0] + stored[x] > lirs_limit and ends[1] >= 0:
                _evict_lir(st, limits, ends, sp, sn, qp, qn, hp, hn, in_s, in_q, in_nh, lir_s, res_s, stored)
            push_head(ends, 0, x, sp, sn)
            in_s[x] = True
            st[4] += stored[x]
            lir_s[x] = False
            res_s[x] = True
            hit = True
        if not hit:
            misses += 1
            miss_bytes += s
            nonresident_in_s = in_s[x]  # a miss with an S entry is a non-resident HIR
            insertable = s <= capacity
            if insertable and nonresident_in_s:
                while st[0] + stored[x] > lirs_limit and ends[1] >= 0:
                    _evict_lir(st, limits, ends, sp, sn, qp, qn, hp, hn, in_s, in_q, in_nh, lir_s, res_s, stored)
                if in_nh[x]:
                    unlink(ends, 2, x, hp, hn)
                    in_nh[x] = False
            elif insertable:
                if s > lirs_limit or s > hirs_limit:
                    insertable = False
                elif st[0] + s > lirs_limit and st[1] + s > hirs_limit:
                    while st[1] + s > hirs_limit and ends[3] >= 0:
                        _evict_hir(st, ends, sp, sn, qp, qn, hp, hn, in_s, in_q, in_nh, res_s, stored)
            if insertable:
                # the eviction loop of cache_get_base, with LIRS_evict's three cases
                while st[3] + s > capacity:
                    before = (st[0], st[1], st[3])
                    if in_s[x] and not lir_s[x] and not res_s[x]:
                        while st[1] >= hirs_limit and ends[3] >= 0:
                            _evict_hir(st, ends, sp, sn, qp, qn, hp, hn, in_s, in_q, in_nh, res_s, stored)
                        _evict_lir(st, limits, ends, sp, sn, qp, qn, hp, hn, in_s, in_q, in_nh, lir_s, res_s, stored)
                    elif not in_s[x] and not in_q[x] and st[0] + s > lirs_limit and st[1] + s > hirs_limit:
                        _evict_hir(st, ends, sp, sn, qp, qn, hp, hn, in_s, in_q, in_nh, res_s, stored)
                    if (st[0], st[1], st[3]) == before:
                        break  # libCacheSim would spin here; not reached on the fidelity traces
                if in_s[x] and not lir_s[x] and not res_s[x]:
                    lir_s[x] = True
                    res_s[x] = True
                    st[0] += stored[x]
                    st[3] += stored[x]
                elif not in_s[x] and not in_q[x]:
                    stored[x] = s
                    push_head(ends, 0, x, sp, sn)
                    in_s[x] = True
                    st[4] += s
                    res_s[x] = True
                    if st[0] + s <= lirs_limit:
                        lir_s[x] = True
                        st[0] += s
                    else:
                        lir_s[x] = False
                        push_head(ends, 1, x, qp, qn)
                        in_q[x] = True
                        st[1] += s
                    st[3] += s
        # limitStack
        while st[4] > 2 * capacity:
            t = ends[5]
            if t < 0:
                break
            unlink(ends, 2, t, hp, hn)
            in_nh[t] = False
            if in_s[t]:
                unlink(ends, 0, t, sp, sn)
                in_s[t] = False
                st[4] -= stored[t]
    return misses, miss_bytes
