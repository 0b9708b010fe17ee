"""Eudoxia's `priority` scheduler, reimplemented from its behaviour in this interface.

Three first-in-first-out queues of jobs (query, interactive, batch), served strictly in that order; it WILL
starve low priorities. A job is a pipeline's operators that are ready: all its pending or failed ones at
once when containers may hold several, else one job per operator whose parents are done. Work is queued
when a pipeline arrives or one of its containers ends, never twice.

Each job goes to the pool with the most free RAM (among pools with a free CPU; first such pool on ties):
- new: a tenth of the pool's CPUs and RAM (at least 1 each), or everything free if that is not less;
- after an OOM: twice the failed container's CPUs and RAM; if that does not fit the pool, or reaches half
  of its capacity, the job is dropped for good;
- after a suspension: its old size when strictly less than what is free, else sized as new.
When every pool is depleted the remaining jobs wait. If query jobs are left waiting, it suspends as many
non-query containers that sit at an operator boundary, taking them round-robin over the pools.
"""

from policyforge.tasks.pipelines.features import BATCH, INTERACTIVE, QUERY


def init(state, cluster):
    state["queues"] = {QUERY: [], INTERACTIVE: [], BATCH: []}
    state["queued"] = set()  # operator ids currently in a queue


def _enqueue(state, priority, pipeline, ops, retry):
    state["queues"][priority].append((pipeline, ops, retry))
    state["queued"].update(ops)


def schedule(state, results, arrivals, cluster):
    multi = cluster.multi_operator_containers
    queued = state["queued"]
    # pipelines whose ready work may have changed: arrivals first, then those of ended containers
    touched = {p.id: p.priority for p in arrivals}
    retry = {}
    for r in results:
        if r.outcome == "suspended":
            continue
        touched[r.pipeline] = r.priority
        if r.failed:
            retry.update(dict.fromkeys(r.remaining, (r.cpu, r.ram_gb, r.error)))
    queues = state["queues"]
    for pid, priority in touched.items():
        ops = cluster.assignable(pid, parents_complete=not multi)
        if not queued.isdisjoint(ops):
            ops = tuple(op for op in ops if op not in queued)
        if not ops:
            continue
        queued.update(ops)
        if multi:
            queues[priority].append((pid, ops, retry.get(ops[0])))
        else:
            queues[priority].extend((pid, (op,), retry.get(op)) for op in ops)
    for r in results:  # suspended containers come back with their old size and no error
        if r.outcome == "suspended":
            _enqueue(state, r.priority, r.pipeline, r.remaining, (r.cpu, r.ram_gb, None))

    free_cpu = [p.cpu_free for p in cluster.pools]
    free_ram = [p.ram_free_gb for p in cluster.pools]
    pools = range(len(free_cpu))
    assignments = []
    for priority in (QUERY, INTERACTIVE, BATCH):
        queue = state["queues"][priority]
        taken = 0
        for _pid, ops, previous in queue:
            pool = -1
            best = 0
            for i in pools:
                if free_ram[i] > best and free_cpu[i] > 0:
                    pool, best = i, free_ram[i]
            if pool < 0:
                break
            taken += 1
            queued.difference_update(ops)
            total_cpu = cluster.pools[pool].cpu_total
            total_ram = cluster.pools[pool].ram_total_gb
            if previous is not None and previous[2] is not None:
                cpu, ram = 2 * previous[0], 2 * previous[1]
                if cpu > free_cpu[pool] or ram > free_ram[pool]:
                    continue
                if cpu / total_cpu >= 0.5 or ram / total_ram >= 0.5:
                    continue
            elif previous is not None and previous[0] < free_cpu[pool] and previous[1] < free_ram[pool]:
                cpu, ram = previous[0], previous[1]
            else:
                cpu, ram = max(1, int(total_cpu / 10)), max(1, int(total_ram / 10))
                if cpu >= free_cpu[pool] or ram >= free_ram[pool]:
                    cpu, ram = free_cpu[pool], free_ram[pool]
            assignments.append((pool, ops, cpu, ram))
            free_cpu[pool] -= cpu
            free_ram[pool] -= ram
        del queue[:taken]

    suspensions = []
    wanted = len(state["queues"][QUERY])
    if wanted and cluster.suspendable:
        lists = [p.containers for p in cluster.pools]
        cursor = [0] * len(lists)
        exhausted = [False] * len(lists)
        pool = 0
        while len(suspensions) < wanted and not all(exhausted):
            found = None
            while cursor[pool] < len(lists[pool]):
                candidate = lists[pool][cursor[pool]]
                cursor[pool] += 1
                if candidate.priority != QUERY:
                    found = candidate
                    break
            if found is None:
                exhausted[pool] = True
            elif found.suspendable:
                suspensions.append(found.id)
            pool = (pool + 1) % len(lists)
    return suspensions, assignments
