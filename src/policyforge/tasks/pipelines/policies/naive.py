"""Eudoxia's `naive` scheduler, reimplemented from its behaviour in this interface.

First in, first out over pipelines, one container per pool holding ALL of the pool's free CPUs and RAM.
For each pool with anything free it takes pipelines off the front of the queue: a completed pipeline, or one
with a failed operator, is dropped for good (naive never retries); any other goes to the back of the queue
(after this call's turn), and gets the pool if it has work ready: every pending operator at once when
containers may hold several (in order, parents first), otherwise its first operator whose parents are done.
"""


def init(state, cluster):
    state["queue"] = []


def schedule(state, results, arrivals, cluster):
    queue = state["queue"]
    queue.extend(p.id for p in arrivals)
    multi = cluster.multi_operator_containers
    assignments = []
    requeue = []
    head = 0
    for pool in cluster.pools:
        if pool.cpu_free <= 0 or pool.ram_free_gb <= 0:
            continue
        while head < len(queue):
            pipeline = cluster.pipeline(queue[head])
            head += 1
            if pipeline.done or pipeline.has_failures:
                continue
            requeue.append(pipeline.id)
            if multi:
                ops = pipeline.assignable(parents_complete=False)
            else:
                ops = pipeline.assignable(parents_complete=True)[:1]
            if ops:
                assignments.append((pool.id, ops, pool.cpu_free, pool.ram_free_gb))
                break
    state["queue"] = queue[head:] + requeue
    return [], assignments
