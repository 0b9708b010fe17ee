"""The inflation experiment for a GP tree, compiled (numba): the scheduling cycle and the tree in one loop.

One generic kernel, compiled once (cached on disk): the tree arrives as a postfix program (policyforge.program,
its terminals bound to rows of the kernel's value matrix), so no candidate compiles anything. Per arriving pod
it does what engine.Scheduler does with the trusted interpreter (trees/interpreter.py): filter the feasible
nodes, compute the terminals the program reads for every candidate (views.py and features.py, the same
arithmetic in the same order), run the program over the candidates with the shared evaluator
(policyforge.program_kernel.evaluate_columns, finite as nan_to_num makes it), take the best (ties: the fixed node
order), choose GPUs as ClusterState.default_gpus and bind as ClusterState.bind. compiled.py builds the inputs;
tests/test_k8s_kernels.py checks the decisions equal the interpreter's.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.program_kernel import evaluate_columns
from policyforge.tasks.k8s_gpu.node_kernels import after_fragmentation, feasible, node_fragmentation, refresh

MILLI = 1000

TERMINALS = (
    "nodes.cpu_free", "nodes.cpu_capacity", "nodes.memory_free", "nodes.memory_capacity", "nodes.gpu_count",
    "nodes.gpu_free_total", "nodes.full_free_gpus", "nodes.max_gpu_free", "nodes.pod_count", "nodes.sharing_pods",
    "pod.cpu_milli", "pod.memory_mib", "pod.num_gpu", "pod.gpu_milli", "pod.total_gpu_milli", "pod.is_sharing",
    "pod.is_cpu_only", "fragmentation", "fragmentation_after", "fgd_score", "cpu_left_percent",
    "memory_left_percent", "tightest_gpu_free", "partial_gpus", "partial_gpu_free", "same_kind_pods",
    "gpu_pod_kinds", "pod_model_share", "model_demand_share", "model_free_share", "model_scarcity",
    "cpu_gpu_balance", "workload_cpu_only_share", "workload_sharing_share", "workload_multi_gpu_share",
    "workload_constrained_share",
)
"""The terminals the kernel computes, by code (their index here)."""
(T_FRAG, T_AFTER, T_FGD, T_MODEL_SHARE, T_MODEL_FREE, T_SCARCITY) = (17, 18, 19, 27, 29, 30)
SLOTS = {name: t for t, name in enumerate(TERMINALS)}
"""Terminal name -> its row of the kernel's value matrix (program.bind)."""


@njit(cache=True)
def run_tree(ops, args, consts, depth, used, seq_cpu, seq_mem, seq_num, seq_milli, seq_mask, seq_key, n_keys,
             cpu_cap, mem_cap, gpu_count, gpu_model, model_bit, gpu_exists, rank,
             cpu_free, mem_free, gpu_free, full_free, max_free, free_total, pod_count, sharing_pods, whole_pods,
             version, w_cpu, w_num, w_milli, w_mask, w_prob, all_mask, demand_share, shares, need, fgd_steps,
             n_models, node_type, n_types):
    """Place the sequence with the program's scores; the state arrays are updated as the run goes. Returns per
    arriving pod the node (-1: failed) and the GPUs as a bit mask. `node_type` numbers the nodes that start
    alike (CPU, GPU count, model; memory does not enter fragmentation), `n_types` of them."""
    n_nodes, width = gpu_free.shape
    n = seq_cpu.shape[0]
    node_out = np.full(n, -1, np.int32)
    mask_out = np.zeros(n, np.uint64)
    before = np.zeros(n_nodes)
    before_version = np.full(n_nodes, -1, np.int64)
    wants_after = used[T_AFTER] or used[T_FGD]
    keys = n_keys if wants_after else 1
    after = np.zeros((keys, n_nodes, width))
    after_version = np.full((keys, n_nodes), -1, np.int64)
    type_after = np.zeros((keys, n_types, width))
    type_done = np.zeros((keys, n_types), np.bool_)
    values = np.zeros((len(TERMINALS), n_nodes))
    stack = np.empty((max(depth, 1), n_nodes))
    scores = np.empty(n_nodes)
    cand = np.empty(n_nodes, np.int64)
    free_by_model = np.zeros(n_models)
    for j in range(n_nodes):
        if gpu_model[j] >= 0:
            free_by_model[gpu_model[j]] += free_total[j]
    model_values = np.zeros(n_models)
    scarcity = np.zeros(n_models)
    for i in range(n):
        c, mem, num, m, pmask = seq_cpu[i], seq_mem[i], seq_num[i], seq_milli[i], seq_mask[i]
        sharing = num == 1 and m < MILLI
        k_count = feasible(cand, c, mem, num, m, pmask, cpu_free, mem_free, model_bit, full_free, max_free)
        if k_count == 0:
            continue
        if k_count == 1:
            node = cand[0]
        else:
            _terminals(used, values, cand, k_count, c, mem, num, m, pmask, sharing, seq_key[i], all_mask,
                       cpu_cap, mem_cap, gpu_count, gpu_model, model_bit, gpu_exists, cpu_free, mem_free, gpu_free,
                       full_free, max_free, free_total, pod_count, sharing_pods, whole_pods, version,
                       w_cpu, w_num, w_milli, w_mask, w_prob, demand_share, shares, need, fgd_steps,
                       before, before_version, after, after_version, free_by_model, model_values, scarcity,
                       node_type, type_after, type_done)
            evaluate_columns(ops, args, consts, values, k_count, stack, scores)  # finite, as nan_to_num makes them
            best = 0
            for k in range(1, k_count):
                x = scores[k]
                if x > scores[best] or (x == scores[best] and rank[cand[k]] < rank[cand[best]]):
                    best = k
            node = cand[best]
        gmask = np.uint64(0)
        if num > 0:
            if m < MILLI:
                pick = -1
                for g in range(gpu_count[node]):
                    if gpu_free[node, g] >= m and (pick < 0 or gpu_free[node, g] < gpu_free[node, pick]):
                        pick = g
                gmask = np.uint64(1) << np.uint64(pick)
                gpu_free[node, pick] -= m
            else:
                taken = 0
                for g in range(gpu_count[node]):
                    if taken < num and gpu_free[node, g] == MILLI:
                        gmask |= np.uint64(1) << np.uint64(g)
                        gpu_free[node, g] -= m
                        taken += 1
        cpu_free[node] -= c
        mem_free[node] -= mem
        pod_count[node] += 1
        if sharing:
            sharing_pods[node] += 1
        elif num > 0:
            whole_pods[node, num - 1] += 1
        total = refresh(node, gpu_free, full_free, max_free)
        if gpu_model[node] >= 0:
            free_by_model[gpu_model[node]] += total - free_total[node]
        free_total[node] = total
        version[node] += 1
        node_out[i] = node
        mask_out[i] = gmask
    return node_out, mask_out


@njit(cache=True)
def _terminals(used, values, cand, k_count, c, mem, num, m, pmask, sharing, key, all_mask,
               cpu_cap, mem_cap, gpu_count, gpu_model, model_bit, gpu_exists, cpu_free, mem_free, gpu_free,
               full_free, max_free, free_total, pod_count, sharing_pods, whole_pods, version,
               w_cpu, w_num, w_milli, w_mask, w_prob, demand_share, shares, need, fgd_steps,
               before, before_version, after, after_version, free_by_model, model_values, scarcity,
               node_type, type_after, type_done):
    """values[t, :k_count] for every terminal t the program reads, as views.py and features.py compute it."""
    width = gpu_free.shape[1]
    total_free = 0.0
    for j in range(free_by_model.shape[0]):
        total_free += free_by_model[j]
    if used[T_MODEL_FREE] or used[T_SCARCITY]:
        for j in range(free_by_model.shape[0]):
            share = free_by_model[j] / total_free if total_free > 0 else free_by_model[j]
            model_values[j] = share
            d = demand_share[j]
            scarcity[j] = min(d / max(share, 1e-3), 100.0) if d > 0 else 0.0
    model_share = 1.0
    if used[T_MODEL_SHARE] and num > 0 and pmask != all_mask:
        accepted = 0.0
        for j in range(free_by_model.shape[0]):
            if (pmask >> j) & 1 == 1:
                accepted += free_by_model[j]
        model_share = accepted / total_free if total_free > 0 else 0.0
    width_after = width if sharing else 1
    if used[T_FRAG] or used[T_FGD]:
        for k in range(k_count):
            j = cand[k]
            if before_version[j] != version[j]:
                before[j] = node_fragmentation(cpu_free[j], gpu_free[j], model_bit[j], w_cpu, w_num, w_milli,
                                               w_mask, w_prob, all_mask)
                before_version[j] = version[j]
    if used[T_AFTER] or used[T_FGD]:
        for k in range(k_count):
            j = cand[k]
            if after_version[key, j] != version[j]:
                if version[j] == 0:  # untouched: the state of every untouched node of its type, computed once
                    kind = node_type[j]
                    if not type_done[key, kind]:
                        after_fragmentation(type_after[key, kind], cpu_free[j], gpu_free[j], model_bit[j], c, num,
                                            m, sharing, w_cpu, w_num, w_milli, w_mask, w_prob, all_mask)
                        type_done[key, kind] = True
                    after[key, j] = type_after[key, kind]
                else:
                    after_fragmentation(after[key, j], cpu_free[j], gpu_free[j], model_bit[j], c, num, m, sharing,
                                        w_cpu, w_num, w_milli, w_mask, w_prob, all_mask)
                after_version[key, j] = version[j]
    for t in range(used.shape[0]):
        if not used[t]:
            continue
        row = values[t]
        if t == 0:
            for k in range(k_count):
                row[k] = float(cpu_free[cand[k]])
        elif t == 1:
            for k in range(k_count):
                row[k] = float(cpu_cap[cand[k]])
        elif t == 2:
            for k in range(k_count):
                row[k] = float(mem_free[cand[k]])
        elif t == 3:
            for k in range(k_count):
                row[k] = float(mem_cap[cand[k]])
        elif t == 4:
            for k in range(k_count):
                row[k] = float(gpu_count[cand[k]])
        elif t == 5:
            for k in range(k_count):
                row[k] = float(free_total[cand[k]])
        elif t == 6:
            for k in range(k_count):
                row[k] = float(full_free[cand[k]])
        elif t == 7:
            for k in range(k_count):
                row[k] = float(max_free[cand[k]])
        elif t == 8:
            for k in range(k_count):
                row[k] = float(pod_count[cand[k]])
        elif t == 9:
            for k in range(k_count):
                row[k] = float(sharing_pods[cand[k]])
        elif t <= 16:
            if t == 10:
                v = float(c)
            elif t == 11:
                v = float(mem)
            elif t == 12:
                v = float(num)
            elif t == 13:
                v = float(m)
            elif t == 14:
                v = float(num * m)
            elif t == 15:
                v = 1.0 if sharing else 0.0
            else:
                v = 1.0 if num == 0 else 0.0
            row[:k_count] = v
        elif t == T_FRAG:
            for k in range(k_count):
                row[k] = before[cand[k]]
        elif t == T_AFTER:
            for k in range(k_count):
                j = cand[k]
                v = after[key, j, 0]
                for g in range(1, width_after):
                    v = min(v, after[key, j, g])
                row[k] = v
        elif t == T_FGD:  # the best GPU's score is the lowest after's (node_kernels.fgd_best_scores)
            for k in range(k_count):
                j = cand[k]
                low = after[key, j, 0]
                for g in range(1, width_after):
                    low = min(low, after[key, j, g])
                row[k] = -1.0 if low == np.inf else float(np.searchsorted(fgd_steps, (before[j] - low) / 1000.0,
                                                                          side="right"))
        elif t == 20:
            for k in range(k_count):
                j = cand[k]
                row[k] = float((cpu_free[j] - c) * 100) / float(max(cpu_cap[j], 1))
        elif t == 21:
            for k in range(k_count):
                j = cand[k]
                row[k] = float((mem_free[j] - mem) * 100) / float(max(mem_cap[j], 1))
        elif t == 22:
            if num == 0:
                row[:k_count] = 0.0
            elif not sharing:
                row[:k_count] = float(MILLI)
            else:
                for k in range(k_count):
                    j = cand[k]
                    low = MILLI + 1
                    for g in range(width):
                        f = gpu_free[j, g]
                        if f >= m and f < low:
                            low = f
                    row[k] = float(low)
        elif t == 23:
            for k in range(k_count):
                j = cand[k]
                count = 0
                for g in range(width):
                    f = gpu_free[j, g]
                    if f > 0 and f < MILLI and gpu_exists[j, g]:
                        count += 1
                row[k] = float(count)
        elif t == 24:
            for k in range(k_count):
                j = cand[k]
                part = 0
                for g in range(width):
                    f = gpu_free[j, g]
                    if f < MILLI:
                        part += f
                row[k] = float(part)
        elif t == 25:
            if num == 0:
                row[:k_count] = 0.0
            elif sharing:
                for k in range(k_count):
                    row[k] = float(sharing_pods[cand[k]])
            else:
                for k in range(k_count):
                    row[k] = float(whole_pods[cand[k], num - 1])
        elif t == 26:
            for k in range(k_count):
                j = cand[k]
                kinds = 1 if sharing_pods[j] > 0 else 0
                for g in range(width):
                    if whole_pods[j, g] > 0:
                        kinds += 1
                row[k] = float(kinds)
        elif t == T_MODEL_SHARE:
            row[:k_count] = model_share
        elif 28 <= t <= T_SCARCITY:
            per_model = demand_share if t == 28 else (model_values if t == T_MODEL_FREE else scarcity)
            for k in range(k_count):
                j = cand[k]
                row[k] = per_model[gpu_model[j]] if gpu_model[j] >= 0 else 0.0
        elif t == 31:
            for k in range(k_count):
                j = cand[k]
                cpu = cpu_free[j] - c
                gpu = free_total[j] - num * m
                if gpu > 0 and need > 0:
                    row[k] = min(float(cpu) / (float(max(gpu, 1)) * max(need, 1e-9)), 10.0)
                else:
                    row[k] = 10.0
        else:
            row[:k_count] = shares[t - 32]
