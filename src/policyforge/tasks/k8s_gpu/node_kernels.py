"""Compiled (numba) computations on one node, shared by the kernels: the filter, the counters kept after a
change, and fragmentation exactly as features._fragmentation computes it for a row.

Fragmentation is the same arithmetic in the same order: per shape the GPU milli it could not use (all idle milli when it cannot
run there, else the idle milli of the GPUs too small for it), weighted by its probability and added left to
right in shape order (features._expected). tests/test_k8s_kernels.py checks the two agree bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MILLI = 1000


@njit(cache=True)
def node_fragmentation(cpu_free, row, model_bit, w_cpu, w_num, w_milli, w_mask, w_prob, all_mask):
    """Expected fragmented GPU milli of a node with `cpu_free` CPU and per-GPU free milli `row` (every GPU
    column, 0 for GPUs the node lacks, as in ClusterState.gpu_free)."""
    total = 0
    for g in range(row.shape[0]):
        total += row[g]
    acc = 0.0
    for s in range(w_prob.shape[0]):
        m = w_milli[s]
        fit = 0
        small = 0
        for g in range(row.shape[0]):
            if row[g] >= m:
                fit += 1
            else:
                small += row[g]
        need = w_num[s] if w_num[s] > 1 else 1
        access = (model_bit & w_mask[s]) != 0 or w_mask[s] == all_mask
        satisfied = fit >= need and cpu_free >= w_cpu[s] and access and m > 0
        term = (float(small) if satisfied else float(total)) * w_prob[s]
        acc = term if s == 0 else acc + term
    return acc


@njit(cache=True)
def after_fragmentation(out, cpu_free, row, model_bit, pod_cpu, pod_num, pod_milli, sharing,
                        w_cpu, w_num, w_milli, w_mask, w_prob, all_mask):
    """Fragmentation after a hypothetical placement into `out`: for a sharing pod one value per GPU (inf where
    it does not fit), otherwise out[0] for the default choice (the lowest-index idle GPUs)."""
    cpu = cpu_free - pod_cpu
    trial = row.copy()
    if sharing:
        for g in range(row.shape[0]):
            if row[g] >= pod_milli:
                trial[g] = row[g] - pod_milli
                out[g] = node_fragmentation(cpu, trial, model_bit, w_cpu, w_num, w_milli, w_mask, w_prob, all_mask)
                trial[g] = row[g]
            else:
                out[g] = np.inf
        return
    taken = 0
    for g in range(row.shape[0]):
        if taken < pod_num and row[g] == MILLI:
            trial[g] = 0
            taken += 1
    out[0] = node_fragmentation(cpu, trial, model_bit, w_cpu, w_num, w_milli, w_mask, w_prob, all_mask)


@njit(cache=True)
def feasible(out, c, mem, num, m, pmask, cpu_free, mem_free, model_bit, full_free, max_free):
    """ClusterState.feasible into `out`, returning how many nodes fit: CPU and memory (inclusive), GPU model,
    GPU capacity. One call per pod: the loop over nodes stays inside (a call per node costs more than the
    test itself)."""
    count = 0
    for j in range(cpu_free.shape[0]):
        if cpu_free[j] < c or mem_free[j] < mem:
            continue
        if num > 0:
            if (model_bit[j] & pmask) == 0:
                continue
            if m < MILLI:
                if max_free[j] < m:
                    continue
            elif full_free[j] < num:
                continue
        out[count] = j
        count += 1
    return count


@njit(cache=True)
def refresh(j, gpu_free, full_free, max_free):
    """ClusterState._refresh's GPU counters of node j; returns its free GPU milli in total."""
    full, top, total = 0, gpu_free[j, 0], 0
    for g in range(gpu_free.shape[1]):
        v = gpu_free[j, g]
        if v == MILLI:
            full += 1
        top = max(top, v)
        total += v
    full_free[j], max_free[j] = full, top
    return total


@njit(cache=True)
def refresh_before(index, before, before_version, version, cpu_free, gpu_free, model_bit,
                   w_cpu, w_num, w_milli, w_mask, w_prob, all_mask):
    """features._before's cache: recompute every node of `index` whose version moved on."""
    for k in range(index.shape[0]):
        j = index[k]
        if before_version[j] != version[j]:
            before[j] = node_fragmentation(cpu_free[j], gpu_free[j], model_bit[j], w_cpu, w_num, w_milli, w_mask,
                                           w_prob, all_mask)
            before_version[j] = version[j]


@njit(cache=True)
def refresh_after(index, after, after_version, version, cpu_free, gpu_free, model_bit, pod_cpu, pod_num,
                  pod_milli, sharing, w_cpu, w_num, w_milli, w_mask, w_prob, all_mask):
    """features._after_per_gpu's cache for one pod shape: recompute every node of `index` whose version moved on."""
    for k in range(index.shape[0]):
        j = index[k]
        if after_version[j] != version[j]:
            after_fragmentation(after[j], cpu_free[j], gpu_free[j], model_bit[j], pod_cpu, pod_num, pod_milli,
                                sharing, w_cpu, w_num, w_milli, w_mask, w_prob, all_mask)
            after_version[j] = version[j]


@njit(cache=True)
def fgd_scores(index, before, after, steps):
    """features._fgd_scores_per_gpu from the caches: per node of `index` and GPU column, FGD's integer score
    (the steps of features.FGD_STEPS at or below (before - after) / 1000), -1 where the pod cannot go."""
    out = np.empty((index.shape[0], after.shape[1]))
    for k in range(index.shape[0]):
        j = index[k]
        for g in range(after.shape[1]):
            a = after[j, g]
            out[k, g] = -1.0 if a == np.inf else float(np.searchsorted(steps, (before[j] - a) / 1000.0,
                                                                        side="right"))
    return out


@njit(cache=True)
def fgd_best_scores(index, before, after, steps):
    """fgd_scores(...).max(axis=1) in one search per node: the score counts steps at or below (before -
    after) / 1000, which never decreases as `after` falls, so the best GPU's score is the score of the lowest
    finite `after` (-1 when there is none)."""
    out = np.empty(index.shape[0])
    for k in range(index.shape[0]):
        j = index[k]
        low = np.inf
        for g in range(after.shape[1]):
            low = min(low, after[j, g])
        out[k] = -1.0 if low == np.inf else float(np.searchsorted(steps, (before[j] - low) / 1000.0, side="right"))
    return out
