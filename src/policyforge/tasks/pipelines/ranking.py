"""A fixed scheduling mechanism driven by small policy functions over columns (Vulcan's split): RANK
(`rank(ops, load)`, which ready operator first) and, optionally, VALUE functions for sizing (`ram_gb(ops,
load)`, `cpus(ops, load)`).

Why: writing a whole `schedule(...)` means getting queues, sizing, placement, OOM retries and preemption
right before any idea about ORDER or SIZE can be tried. Here the mechanism does all of that once, correctly,
and a policy only answers "which ready operator first?" (and, if it wants, "how much RAM / how many CPUs?")
with one number per operator, computed from columns of estimates. That is small enough for a small model
to write and for genetic programming to search.

The mechanism, per call:
- ready operators are those whose parents have completed; one operator per container;
- RAM: the memory estimate x 1.25 + 0.5 GB (the `ram_gb` column), or what `ram_gb(ops, load)` returns (at
  least 0.1 GB); after an OOM, at least twice the RAM that failed; capped at the largest pool; an operator
  that fails even with the largest pool's RAM is given up (it can never fit);
- CPUs: as many as its scaling curve turns into speed (the `cpus` column: `useful_cpus`, at most 16), or
  what `cpus(ops, load)` returns rounded (at least 1, at most the largest pool's); no more than is free;
- operators are placed in descending rank (ties: the order they became ready) on the pool that fits with
  the least RAM left over; after 32 that fit nowhere, the rest wait for the next call;
- when a query or interactive operator fits nowhere, one batch container at an operator boundary is
  suspended in a pool where that frees enough RAM.

Use it from a policy module:

    from policyforge.tasks.pipelines import ranking

    def rank(ops, load):
        return -ops.priority * 1000.0 - ops.pipeline_seconds_left

    def init(state, cluster):
        ranking.init(state, cluster)

    def schedule(state, results, arrivals, cluster):
        return ranking.schedule(state, results, arrivals, cluster, rank)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from policyforge.tasks.pipelines.features import (
    BATCH,
    WEIGHTS,
    batch_to_suspend,
    best_fit,
    cpu_seconds,
    useful_cpus,
)

__all__ = ["ReadyOps", "Load", "init", "schedule", "COLUMNS"]

MARGIN = 1.25
"""RAM over the memory estimate (estimates are off by about 30%)."""
EXTRA_GB = 0.5
MAX_CPUS = 16
PATIENCE = 32
"""Operators that fit nowhere before the rest wait for the next call (keeps a call cheap under load)."""
TABLE_WIDTH = 64
"""Slots of the ready table at first (it is compacted, then doubled, when full)."""

STATIC = ("priority", "weight", "est_memory_gb", "est_cpu_seconds", "est_io_seconds", "cpus", "run_seconds",
          "path_seconds", "pipeline_ops", "pipeline_seconds", "children")
"""Columns fixed when a pipeline arrives (in this order in each ready row, after the pipeline id)."""
COLUMNS = (*STATIC[:8], "ram_gb", "failures", "waited", "pipeline_ops_left", "pipeline_seconds_left", *STATIC[8:],
           "ready_waited")
"""Every column `rank` sees, one value per ready operator (see PIPELINES_RANK_POLICY for units)."""


class ReadyOps:
    """The ready operators as read-only columns (numpy float arrays), one entry per operator, plus `id`."""

    __slots__ = ("id", *COLUMNS)

    def __init__(self, ids: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        for name, values in (("id", ids), *columns.items()):
            values.flags.writeable = False
            object.__setattr__(self, name, values)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("ops is read-only")

    def __len__(self) -> int:
        return self.id.shape[0]


def _ready_ops(ids: np.ndarray, table: np.ndarray, ram_gb: np.ndarray, waited: np.ndarray,
              ready_waited: np.ndarray) -> ReadyOps:
    """ReadyOps over one read-only (rows x operators) table, without a copy per column: each column is a row
    view of `table` (a view of a read-only array cannot be made writeable), the computed ones arrays of
    their own."""
    for array in (ids, table, ram_gb, waited, ready_waited):
        array.flags.writeable = False
    ops = object.__new__(ReadyOps)
    set_ = object.__setattr__
    set_(ops, "id", ids)
    for name, row in _TABLE_ROWS:
        set_(ops, name, table[row])
    set_(ops, "ram_gb", ram_gb)
    set_(ops, "waited", waited)
    set_(ops, "ready_waited", ready_waited)
    return ops


class Load:
    """Scalars describing the cluster when `rank` is called."""

    __slots__ = ("now", "cpu_free_fraction", "ram_free_fraction", "ready", "pipelines", "urgent_ready",
                 "max_cpu_free", "max_ram_free_gb", "pool_cpus", "pool_ram_gb")

    def __init__(self, now: float, cpu_free_fraction: float, ram_free_fraction: float, ready: int,
                 pipelines: int, urgent_ready: int = 0, max_cpu_free: int = 0, max_ram_free_gb: float = 0.0,
                 pool_cpus: int = 0, pool_ram_gb: float = 0.0) -> None:
        for name, value in zip(self.__slots__, (now, cpu_free_fraction, ram_free_fraction, ready, pipelines,
                                                urgent_ready, max_cpu_free, max_ram_free_gb, pool_cpus, pool_ram_gb),
                               strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("load is read-only")


def init(state: dict, cluster) -> None:
    """Prepare `state` for `schedule` (call it from the policy's own `init`)."""
    state["ranking"] = {
        "ready": {},  # op id -> its slot (column) in "table": not handed out, in the order they became ready
        "table": np.zeros((len(_STORED), TABLE_WIDTH)),  # per slot: the _STORED rows of a ready operator
        "pipes": np.zeros((3, 64)),  # per pipeline id: arrival, ops left, estimated seconds left
        "slots": 0,  # slots of "table" in use (live or not)
        "pipelines": {},  # pipeline id -> [arrival, ops left, estimated seconds left]
        "rows": {},  # pipeline id -> (first op id, its operators' rows of (pipeline id, *STATIC), an array)
        "seconds": {},  # op id -> its estimated run seconds, to count down its pipeline's work
        "ram": {},  # op id -> RAM to give it next (after an OOM)
        "failures": {},  # op id -> OOM failures so far
        "recheck": set(),  # pipelines given work last call (a rejected assignment must not lose its operators)
        "cpus": {},  # scaling curve -> useful CPUs
        "largest": max(p.ram_total_gb for p in cluster.pools),
        "most_cpus": max(p.cpu_total for p in cluster.pools),
        "cpu_total": max(1, sum(p.cpu_total for p in cluster.pools)),  # the load fractions' denominators
        "ram_total": max(1e-9, sum(p.ram_total_gb for p in cluster.pools)),
    }
    mem = state["ranking"]  # rank_kernel.decide's constants of the run, typed once:
    mem["scalars"] = (float(mem["largest"]), int(mem["most_cpus"]), int(mem["cpu_total"]), float(mem["ram_total"]))


def _useful(memo: dict, scaling: str) -> int:
    found = memo.get(scaling)
    if found is None:
        found = memo[scaling] = useful_cpus(scaling, MAX_CPUS)
    return found


def _arrive(mem: dict, pipeline) -> None:
    """Record a new pipeline's fixed per-operator figures, including each operator's critical path: its own
    estimated run time plus the longest chain of its descendants'."""
    ops = pipeline.ops
    rows = []
    for op in ops:
        cpus = _useful(mem["cpus"], op.scaling)
        run = op.est_io_seconds + cpu_seconds(op.scaling, op.est_cpu_seconds, cpus)
        rows.append([pipeline.priority, WEIGHTS[pipeline.priority], op.est_memory_gb, op.est_cpu_seconds,
                     op.est_io_seconds, cpus, run, run, len(ops), 0.0, 0])
    for position in range(len(rows) - 1, -1, -1):  # ops are in topological order: children come later
        for parent in ops.parents[position]:
            rows[parent][7] = max(rows[parent][7], rows[parent][6] + rows[position][7])
            rows[parent][10] += 1
    first = ops.ids.start
    total = sum(r[6] for r in rows)
    for position, row in enumerate(rows):
        mem["seconds"][first + position] = row[6]
        row[9] = total
    mem["pipelines"][pipeline.id] = left = [pipeline.arrival, len(rows), total]
    mem["rows"][pipeline.id] = (first, np.array([(pipeline.id, *row) for row in rows], dtype=np.float64))
    pipes = mem["pipes"]
    if pipeline.id >= pipes.shape[1]:
        pipes = mem["pipes"] = np.concatenate((pipes, np.zeros((3, max(pipes.shape[1], pipeline.id + 1)))), axis=1)
    pipes[:, pipeline.id] = left


def _slot(mem: dict) -> int:
    """A free column of the ready table: the next one, after moving the live ones to the front (in their
    order) when the table is full, and doubling it when they fill more than half of it."""
    table, used = mem["table"], mem["slots"]
    if used == table.shape[1]:
        ready = mem["ready"]
        live = np.fromiter(ready.values(), np.int64, len(ready))
        if 2 * len(live) > table.shape[1]:
            table = mem["table"] = np.concatenate((table, np.zeros_like(table)), axis=1)
        table[:, :len(live)] = table[:, live]
        for slot, op_id in enumerate(ready):
            ready[op_id] = slot
        used = len(live)
    mem["slots"] = used + 1
    return used


def _refresh(mem: dict, cluster, pid: int) -> None:
    """Add the pipeline's operators that are ready now (parents completed) and not yet known to be."""
    if pid not in mem["pipelines"]:
        return
    ready = mem["ready"]
    first, rows = mem["rows"][pid]
    for op_id in cluster.assignable(pid):
        if op_id not in ready:
            slot = _slot(mem)
            table = mem["table"]  # row by row: a column from a Python tuple costs three times as much
            table[:_READY_SINCE, slot] = rows[op_id - first]
            table[_READY_SINCE, slot] = cluster.now
            # an operator's OOM figures cannot change while it is ready (only a container running it fails)
            table[_AFTER_OOM, slot] = mem["ram"].get(op_id, 0.0)
            table[_FAILURES, slot] = mem["failures"].get(op_id, 0)
            ready[op_id] = slot


def _forget(mem: dict, pid: int) -> None:
    mem["pipelines"].pop(pid, None)
    first, rows = mem["rows"].pop(pid, (0, ()))
    for op_id in range(first, first + len(rows)):
        mem["ready"].pop(op_id, None)
        mem["seconds"].pop(op_id, None)
        mem["ram"].pop(op_id, None)
        mem["failures"].pop(op_id, None)


_STORED = ("pipeline", *STATIC, "ready_since", "after_oom", "failures")
"""Rows stored per ready operator when it becomes ready (mem["table"]): its pipeline, STATIC, when it became
ready, the RAM an OOM asks for next and the OOM count (rank_kernel.py reads them by these positions)."""
_TABLE = (*_STORED, "arrival", "pipeline_ops_left", "pipeline_seconds_left")
"""Rows of the per-call table: the stored rows, then its pipeline's [arrival, ops left, seconds left]."""
_COMPUTED = ("ram_gb", "waited", "ready_waited")
_TABLE_ROWS = tuple((name, _TABLE.index(name)) for name in COLUMNS if name not in _COMPUTED)
_MEMORY, _AFTER_OOM, _ARRIVAL = _TABLE.index("est_memory_gb"), _TABLE.index("after_oom"), _TABLE.index("arrival")
_READY_SINCE, _PRIORITY = _TABLE.index("ready_since"), _TABLE.index("priority")
_FAILURES = _TABLE.index("failures")


def _columns(mem: dict, now: float) -> tuple[np.ndarray, ReadyOps, np.ndarray]:
    """(operator ids, the columns `rank` sees, the RAM each must get at least after its OOMs), gathered from
    the stored rows of the ready operators and their pipelines' current figures."""
    ready = mem["ready"]
    stored = mem["table"][:, np.fromiter(ready.values(), np.int64, len(ready))]
    table = np.concatenate((stored, mem["pipes"][:, stored[0].astype(np.int64)]))
    ids = np.fromiter(ready, dtype=np.int64, count=len(ready))
    after_oom = table[_AFTER_OOM]
    ram_gb = np.minimum(np.maximum(table[_MEMORY] * MARGIN + EXTRA_GB, after_oom), mem["largest"])
    return ids, _ready_ops(ids, table, ram_gb, now - table[_ARRIVAL], now - table[_READY_SINCE]), after_oom


def _values(function: Callable, ops: ReadyOps, load: Load) -> np.ndarray:
    """What a policy function returned, as a float per operator (a scalar applies to all); ValueError
    naming the function on a wrong shape."""
    raw = np.array(function(ops, load), dtype=float)  # a copy: it may be a read-only column
    n = ops.id.shape[0]
    if raw.ndim == 0:
        raw = np.full(n, float(raw))
    if raw.shape != (n,):
        name = getattr(function, "__name__", "the policy function")
        raise ValueError(f"{name}(ops, load) must return one number per ready operator ({n}), "
                         f"got shape {raw.shape}")
    return raw


def _sizes(ops: ReadyOps, after_oom: np.ndarray, load: Load, ram_gb: Callable | None, cpus: Callable | None,
           mem: dict) -> tuple[np.ndarray, np.ndarray]:
    """RAM and CPUs per ready operator: the policy's VALUE functions when given, within the mechanism's
    bounds (NaN means the mechanism's own size), else the mechanism's columns."""
    ram, cpu = ops.ram_gb, ops.cpus
    if ram_gb is not None:
        wanted = _values(ram_gb, ops, load)
        wanted = np.where(np.isnan(wanted), ram, wanted)  # infinities are clipped below
        ram = np.minimum(np.maximum(np.maximum(wanted, 0.1), after_oom), mem["largest"])
    if cpus is not None:
        wanted = _values(cpus, ops, load)
        wanted = np.where(np.isnan(wanted), cpu, wanted)
        cpu = np.minimum(np.maximum(np.round(wanted), 1.0), mem["most_cpus"])  # np.clip, without its wrapper
    return ram, cpu


def _observe(mem: dict, results, arrivals, cluster) -> None:
    """Fold this call's arrivals and ended containers into the mechanism's memory."""
    touched = set(mem["recheck"])
    for p in arrivals:
        _arrive(mem, p)
        touched.add(p.id)
    for r in results:
        pid = r.pipeline
        if pid not in mem["pipelines"]:
            continue
        touched.add(pid)
        left = mem["pipelines"][pid]
        remaining = set(r.remaining)
        for op_id in r.ops:
            if op_id not in remaining:
                left[1] -= 1
                left[2] -= mem["seconds"].get(op_id, 0.0)
        if r.failed:
            if r.ram_gb >= mem["largest"]:  # it failed with all a pool has: it can never run
                _forget(mem, pid)
                touched.discard(pid)
                continue
            for op_id in r.remaining:
                mem["ram"][op_id] = min(2.0 * r.ram_gb, mem["largest"])
                mem["failures"][op_id] = mem["failures"].get(op_id, 0) + 1
        if left[1] <= 0:
            _forget(mem, pid)
            touched.discard(pid)
        else:  # the arrival does not change; two items cost a third of a row from a list
            pipes = mem["pipes"]
            pipes[1, pid] = left[1]
            pipes[2, pid] = left[2]
    for pid in sorted(touched):
        _refresh(mem, cluster, pid)


def schedule(state: dict, results, arrivals, cluster, rank: Callable, ram_gb: Callable | None = None,
             cpus: Callable | None = None, programs: tuple | None = None) -> tuple[list[int], list[tuple]]:
    """One scheduling decision: rank the ready operators with `rank(ops, load)`, size them (with `ram_gb` and
    `cpus` when given), place them best-fit in that order, and suspend a batch container for a blocked urgent
    operator (see the module docstring). Sets itself up on the first call when the policy's `init` did not
    call `ranking.init`. `programs` (rank_programs.tree_programs of the same functions) decides the same in
    one compiled call."""
    if "ranking" not in state:
        init(state, cluster)
    mem = state["ranking"]
    _observe(mem, results, arrivals, cluster)
    recheck = mem["recheck"] = set()
    pools = cluster.pools
    free_cpu = [p.cpu_free for p in pools]
    open_pools = sum(c >= 1 for c in free_cpu)  # pools with a free CPU: placement stops when none is left
    ready = mem["ready"]
    if not ready or not open_pools:
        return [], []
    free_ram = [p.ram_free_gb for p in pools]
    if programs is not None:
        return _compiled(mem, cluster, free_cpu, free_ram, programs)
    ids, ops, after_oom = _columns(mem, cluster.now)
    priority_list = ops.priority.tolist()
    load = Load(cluster.now, sum(free_cpu) / mem["cpu_total"], sum(free_ram) / mem["ram_total"], len(priority_list),
                len(mem["pipelines"]), len(priority_list) - priority_list.count(BATCH), max(free_cpu), max(free_ram),
                mem["most_cpus"], mem["largest"])
    scores = _values(rank, ops, load)
    if np.isnan(scores).any():
        scores[np.isnan(scores)] = -np.inf  # NaN ranks last
    ram, cpu = _sizes(ops, after_oom, load, ram_gb, cpus, mem)
    order = np.argsort(-scores, kind="stable").tolist() if len(scores) > 1 else [0]
    ids_list, ram_list, cpus_list = ids.tolist(), ram.tolist(), cpu.tolist()
    assignments, blocked, misses = [], None, 0
    table = mem["table"]
    for index in order:
        if misses >= PATIENCE or not open_pools:
            break
        ram = ram_list[index]
        best = best_fit(free_cpu, free_ram, ram)
        if best < 0:
            misses += 1
            if blocked is None and priority_list[index] != BATCH:
                blocked = ram
            continue
        op_id = ids_list[index]
        cpus = min(int(cpus_list[index]), free_cpu[best])
        assignments.append((best, (op_id,), cpus, ram))
        free_cpu[best] -= cpus
        free_ram[best] -= ram
        if free_cpu[best] < 1:
            open_pools -= 1
        recheck.add(int(table[0, ready.pop(op_id)]))
    return (batch_to_suspend(cluster, free_ram, blocked) if blocked is not None else []), assignments


_decide: Callable | None = None
"""rank_kernel.decide, imported on the first compiled call: numba loads only where a GP tree runs (an import
statement per call costs as much as the kernel's work)."""


def _compiled(mem: dict, cluster, free_cpu: list[int], free_ram: list[float], programs: tuple
              ) -> tuple[list[int], list[tuple]]:
    """The rest of `schedule` for a GP tree's programs, in one compiled call (rank_kernel.decide)."""
    global _decide
    if _decide is None:
        from policyforge.tasks.pipelines.rank_kernel import decide as _decide
    ready, table = mem["ready"], mem["table"]
    out = _decide(table, mem["pipes"], np.fromiter(ready.values(), np.int64, len(ready)),
                 np.array((free_cpu, free_ram), np.float64), float(cluster.now), len(mem["pipelines"]),
                 *mem["scalars"], *programs, PATIENCE).tolist()
    pools = len(free_ram)
    assignments = []
    if out[0]:
        ids = list(ready)
        recheck = mem["recheck"]
        rows = out[2 + pools:]
        for k in range(0, len(rows), 4):
            op_id = ids[int(rows[k])]
            assignments.append((int(rows[k + 1]), (op_id,), int(rows[k + 2]), rows[k + 3]))
            recheck.add(int(table[0, ready.pop(op_id)]))
    blocked = out[1]
    return (batch_to_suspend(cluster, out[2:2 + pools], blocked) if blocked == blocked else []), assignments
