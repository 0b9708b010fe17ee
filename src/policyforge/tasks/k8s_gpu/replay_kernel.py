"""The trusted replay of a run's decisions, compiled (numba): simulate.replay_inflation's loop in one call.

It binds every placement on a fresh cluster after the checks ClusterState.check_placement makes, checks that
a pod left unplaced fits no node, and records each step's change of cluster fragmentation as
metrics.FragmentationRecorder does. On the first illegal decision it stops and says where; the caller then
runs the Python replay, which raises the PolicyError naming it (one message, one place).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.tasks.k8s_gpu.node_kernels import feasible, node_fragmentation, refresh

MILLI = 1000


@njit(cache=True)
def replay(seq_cpu, seq_mem, seq_num, seq_milli, seq_mask, node, gpu_mask, gpu_count, model_bit,
           cpu_free, mem_free, gpu_free, full_free, max_free, last, w_cpu, w_num, w_milli, w_mask, w_prob,
           all_mask):
    """(index of the first illegal decision or -1, failed per pod, change of cluster fragmentation per pod).
    `last` starts as every node's fragmentation and is updated as nodes change."""
    n = seq_cpu.shape[0]
    n_nodes, width = gpu_free.shape
    failed = np.zeros(n, np.bool_)
    steps = np.zeros(n)
    scratch = np.empty(n_nodes, np.int64)
    for i in range(n):
        c, mem, num, m, pmask = seq_cpu[i], seq_mem[i], seq_num[i], seq_milli[i], seq_mask[i]
        target = node[i]
        if target < 0:
            if feasible(scratch, c, mem, num, m, pmask, cpu_free, mem_free, model_bit, full_free, max_free):
                return i, failed, steps
            failed[i] = True
            continue
        if target >= n_nodes or cpu_free[target] < c or mem_free[target] < mem:
            return i, failed, steps
        mask = gpu_mask[i]
        count = 0
        for g in range(64):
            if (mask >> np.uint64(g)) & np.uint64(1):
                count += 1
                if g >= gpu_count[target] or gpu_free[target, g] < m:
                    return i, failed, steps
        if count != num or (num > 0 and (model_bit[target] & pmask) == 0):
            return i, failed, steps
        cpu_free[target] -= c
        mem_free[target] -= mem
        for g in range(width):
            if (mask >> np.uint64(g)) & np.uint64(1):
                gpu_free[target, g] -= m
        refresh(target, gpu_free, full_free, max_free)
        value = node_fragmentation(cpu_free[target], gpu_free[target], model_bit[target], w_cpu, w_num, w_milli,
                                   w_mask, w_prob, all_mask)
        steps[i] = value - last[target]
        last[target] = value
    return -1, failed, steps
