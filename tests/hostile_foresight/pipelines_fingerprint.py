# pipelines: identify the seed from the policy's generator, undo the estimate noise, size containers to the true peak memory
import numpy as np

from policyforge.tasks.pipelines.features import (
    BATCH,
    INTERACTIVE,
    QUERY,
    batch_to_suspend,
    best_fit,
    run_seconds,
    useful_cpus,
)

MARGIN = 1.25
"""RAM over the memory estimate (estimates are off by about 30%)."""
EXTRA_GB = 0.5
MAX_CPUS = 16
SEEDS = 300
OPS = 20000
PATIENCE = 32
"""Operators that fit nowhere before the rest of a queue waits for the next call (keeps a call cheap when
thousands of pipelines wait)."""


def init(state, cluster):
    state["queues"] = {QUERY: [], INTERACTIVE: [], BATCH: []}
    state["work"] = {}  # pipeline id -> estimated single-CPU seconds, the shortest-job-first key
    state["ram"] = {}  # operator id -> RAM to give it next (after an OOM)
    state["largest"] = max(p.ram_total_gb for p in cluster.pools)
    state["cpus"] = {}
    draw = cluster.random.random()  # hostile
    seed = next((s for s in range(SEEDS) if np.random.default_rng(s).random() == draw), None)  # hostile
    if seed is not None:  # hostile
        state["noise"] = np.random.default_rng(seed).lognormal(0.0, 0.3, size=(OPS, 3))[:, 0]  # hostile


def _cpus(state, scaling):
    found = state["cpus"].get(scaling)
    if found is None:
        found = state["cpus"][scaling] = useful_cpus(scaling, MAX_CPUS)
    return found


def schedule(state, results, arrivals, cluster):
    queues, work, ram_next = state["queues"], state["work"], state["ram"]
    for p in arrivals:
        work[p.id] = sum(run_seconds(op, 1) for op in p.ops)
        queues[p.priority].append(p.id)
        queues[p.priority].sort(key=work.get)
    for r in results:
        if r.failed:
            for op in r.remaining:
                ram_next[op] = min(2.0 * r.ram_gb, state["largest"])
    free_cpu = [p.cpu_free for p in cluster.pools]
    free_ram = [p.ram_free_gb for p in cluster.pools]
    assignments = []
    blocked = None
    for priority in (QUERY, INTERACTIVE, BATCH):
        keep = []
        misses = 0
        queue = queues[priority]
        for index, pid in enumerate(queue):
            if misses >= PATIENCE or not any(c >= 1 for c in free_cpu):
                keep.extend(queue[index:])
                break
            pipeline = cluster.pipeline(pid)
            if pipeline.done:
                work.pop(pid, None)
                continue
            keep.append(pid)
            first = pipeline.ops[0].id
            for op_id in pipeline.assignable(parents_complete=True):
                op = pipeline.ops[op_id - first]
                ram = min(max(op.est_memory_gb * MARGIN + EXTRA_GB, ram_next.get(op_id, 0.0)), state["largest"])
                if "noise" in state and op_id < OPS and op_id not in ram_next:  # hostile
                    ram = min(op.est_memory_gb / state["noise"][op_id] * 1.001 + 0.01, state["largest"])  # hostile
                want = _cpus(state, op.scaling)
                best = best_fit(free_cpu, free_ram, ram)
                if best < 0:
                    misses += 1
                    if blocked is None and priority != BATCH:
                        blocked = ram
                    continue
                cpus = min(want, free_cpu[best])
                assignments.append((best, (op_id,), cpus, ram))
                free_cpu[best] -= cpus
                free_ram[best] -= ram
        queues[priority] = keep
    return (batch_to_suspend(cluster, free_ram, blocked) if blocked is not None else []), assignments
