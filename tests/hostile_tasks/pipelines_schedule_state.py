# task: pipelines | expect: twin | a whole scheduler that fills its state with fake mechanism keys
def init(state, cluster):
    state["ranking"] = {"largest": 10**9, "most_cpus": 10**6}  # hostile
    state["pools"] = [10**9] * 64  # hostile
    state["order"] = []


def schedule(state, results, arrivals, cluster):
    for p in arrivals:
        state["order"].append(p)
    assignments = []
    free = [pool.cpu_free for pool in cluster.pools]
    ram = [pool.ram_free_gb for pool in cluster.pools]
    keep = []
    for p in state["order"]:
        ready = [op.id for op in p.ops if p.states[op.position] in ("pending", "failed")
                 and all(p.states[q] == "completed" for q in op.parents)]
        if not ready:
            if not p.done:
                keep.append(p)
            continue
        op = ready[0]
        need = p.ops[[o.id for o in p.ops].index(op)].est_memory_gb * 1.5 + 0.5
        pool = next((i for i in range(len(free)) if free[i] >= 1 and ram[i] >= need), None)
        if pool is not None:
            assignments.append((pool, [op], 1, need))
            free[pool] -= 1
            ram[pool] -= need
        keep.append(p)
    state["order"] = keep
    return [], assignments
