"""The mechanism: an event-driven simulation of Eudoxia's executor, driving one policy.

Why event-driven: Eudoxia advances every tick (1 ms by default) and calls its scheduler each time; almost all
of those calls change nothing. Here time jumps, through a heap ordered by (tick, push counter), to the next
tick where something happens, and the policy is called exactly on the ticks where Eudoxia's scheduler could
act: pipelines arrived, or on the tick after a container completed, failed, finished suspending, or reached
an operator boundary (the only tick it may be suspended). Event ticks come from timeline.py, which applies
Eudoxia's tick arithmetic, so results match its tick loop.

Within a tick the order is Eudoxia's: the policy decides (seeing the state after the previous tick), its
suspensions and assignments are validated and applied, then the executor part runs (containers' ticks).
"""

from __future__ import annotations

import gc
import heapq
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from policyforge.contract import unseeded
from policyforge.errors import PolicyCrashed, PolicyError
from policyforge.tasks.pipelines.decisions import parse_decisions
from policyforge.tasks.pipelines.estimates import noisy, truth
from policyforge.tasks.pipelines.model import DISK_GB_PER_SECOND, Workload
from policyforge.tasks.pipelines.policy import Policy
from policyforge.tasks.pipelines.stats import RunRecord
from policyforge.tasks.pipelines.timeline import TimelineCache
from policyforge.tasks.pipelines.views import (
    ASSIGNED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    SUSPENDING,
    ClusterView,
    ContainerView,
    Operators,
    PipelineView,
    PoolView,
    ResultView,
)

BOUNDARY, END, FAIL, SUSPENDED = range(4)
_new_tuple = tuple.__new__
"""Builds a named tuple from a row without its Python-level __new__ (tens of thousands per run)."""
RAM_TOLERANCE = 1e-9
"""GB of slack when comparing requested with free RAM, so float sums cannot reject an exact fit."""


@dataclass(frozen=True)
class ClusterConfig:
    """Pools (CPUs and GB of RAM each), the time quantum and horizon, and the container rule."""

    cpus: tuple[int, ...]
    ram_gb: tuple[float, ...]
    ticks_per_second: int
    duration: float
    multi_operator_containers: bool = True

    @property
    def max_ticks(self) -> int:
        return int(self.duration * self.ticks_per_second)


_FILL = [bytes((state,)) for state in range(6)]
_ASSIGNABLE_STATES = bytes((PENDING, FAILED))


def _fill(states: bytearray, ops: tuple[int, ...], state: int) -> None:
    """Set the state of distinct operators; one slice write when they are consecutive ids (the usual case)."""
    n = len(ops)
    if n > 1:
        low, high = min(ops), max(ops)
        if high - low == n - 1:
            states[low:high + 1] = _FILL[state] * n
            return
    for op in ops:
        states[op] = state


class _Container:
    """Simulator-side container: its timeline is the future, so no view ever references this object."""

    __slots__ = ("id", "pool", "pipeline", "priority", "ops", "cpu", "ram", "start", "ends", "fail_index",
                 "current", "alive", "view")

    def __init__(self, cid, pool, pipeline, priority, ops, cpu, ram, start, plan):
        self.id, self.pool, self.pipeline, self.priority = cid, pool, pipeline, priority
        self.ops, self.cpu, self.ram, self.start = ops, cpu, ram, start
        self.ends, self.fail_index = plan  # ticks after `start` at which each operator (or the OOM) ends
        self.current = 0
        self.alive = True
        self.view: ContainerView | None = None


@dataclass
class _Pool:
    cpu_total: int
    ram_total: float
    cpu_free: int
    ram_free: float
    running: dict[int, ContainerView] = field(default_factory=dict)
    suspending: int = 0
    view: PoolView | None = None  # the policy's snapshot, rebuilt only after the pool changed


MAX_REJECTED_PER_CALL = 64
"""Rejected suspensions and assignments one call may return (the baselines: none; a sloppy whole scheduler
among the hostile tests' honest twins: up to 21). Each costs the trusted replay a check, so without a cap a
policy chooses the judge's cost (400 impossible assignments per call made it take longer than the run)."""


SHARED_WORKLOADS = 8
MAX_PLANS = 200_000
"""Plans kept per workload (timelines: timeline.CACHE_LIMIT): a policy's sizes decide how many distinct ones a
run makes, so the shared cache must not grow with them, within a run as between runs; past the cap a plan is
computed and not stored."""
_shared: dict[int, tuple[Workload, float, TimelineCache, dict]] = {}


def _shared_plans(workload: Workload, tick_len: float) -> tuple[TimelineCache, dict]:
    """The timelines and container plans of `workload`, shared by every engine of this process that runs it.

    Why: a search runs each instance's workload again and again (each candidate, then the trusted replay of
    its decisions), and a plan is a pure function of the workload's operators, the CPUs and the RAM, so the
    replay finds every plan its run made. Entries hold the workload itself, so an id cannot be reused while
    its entry lives; the oldest workload's entry goes when a ninth arrives."""
    entry = _shared.get(id(workload))
    if entry is None or entry[0] is not workload or entry[1] != tick_len:
        if len(_shared) >= SHARED_WORKLOADS:
            del _shared[next(iter(_shared))]
        entry = _shared[id(workload)] = (workload, tick_len, TimelineCache(tick_len), {})
    timelines, plans = entry[2], entry[3]
    if len(plans) > MAX_PLANS or len(timelines.cache) > MAX_PLANS or len(timelines.ticks) > MAX_PLANS:
        plans.clear()
        timelines.cache.clear()
        timelines.ticks.clear()
    return timelines, plans


class Engine:
    """One run: a workload, a cluster, a policy and a seed."""

    def __init__(self, workload: Workload, config: ClusterConfig, policy: Policy, seed: int | np.random.Generator,
                 estimate_sigma: float, estimate_seed: int | np.random.Generator | None = None) -> None:
        if workload.ticks_per_second != config.ticks_per_second:
            raise ValueError("workload and cluster disagree on ticks_per_second")
        ticks = [p.arrival_tick for p in workload.pipelines]
        if any(b < a for a, b in zip(ticks, ticks[1:], strict=False)) or (ticks and ticks[0] < 0):
            raise ValueError("pipelines must be in arrival order, at non-negative ticks")
        self.workload, self.config, self.policy = workload, config, policy
        self.tick_len = 1.0 / config.ticks_per_second
        self.timelines, self.plans = _shared_plans(workload, self.tick_len)
        self.pipelines = workload.pipelines
        profiles: dict[tuple, int] = {}  # distinct segment tuples: timelines and true needs are per profile
        facts: list[tuple[float, float, float, str]] = []
        blocks: dict[tuple, tuple] = {}  # equal operator tuples (frequent in traces) are analysed once
        self.op_segments, self.op_profile, self.op_pipeline = [], [], []
        self.first_op: list[int] = []
        self.op_blocks: list[tuple] = []  # per pipeline: segments, profiles, names, parents, curves (shared)
        for pid, pipeline in enumerate(self.pipelines):
            self.first_op.append(len(self.op_segments))
            block = blocks.get(pipeline.operators)
            if block is None:
                ids = []
                for op in pipeline.operators:
                    if op.segments not in profiles:
                        profiles[op.segments] = len(facts)
                        facts.append(truth(op))
                    ids.append(profiles[op.segments])
                ops = pipeline.operators
                block = blocks[ops] = ([op.segments for op in ops], ids, tuple(op.name for op in ops),
                                       tuple(op.parents for op in ops), tuple(facts[i][3] for i in ids))
            self.op_blocks.append(block)
            self.op_segments.extend(block[0])
            self.op_profile.extend(block[1])
            self.op_pipeline.extend(repeat(pid, len(block[0])))
        index = np.array(self.op_profile, np.int64)
        table = np.array([f[:3] for f in facts], float).reshape(-1, 3)
        self.estimates = noisy(table[index], estimate_sigma, seed if estimate_seed is None else estimate_seed)
        self.estimates.flags.writeable = False
        self.states = bytearray(len(self.op_segments))  # all PENDING (0)
        self.states_view = memoryview(self.states).toreadonly()
        self.done_ops = [0] * len(self.pipelines)
        self.pools = [_Pool(c, float(r), c, float(r)) for c, r in zip(config.cpus, config.ram_gb, strict=True)]
        self.containers: dict[int, _Container] = {}
        self.heap: list[tuple] = []
        self.seq = 0
        self.next_container = 1
        self.arrived_ops = 0
        self.infos: list[PipelineView] = []
        self.outstanding: dict[int, None] = {}
        self.pending_results: list[tuple[tuple, ResultView]] = []
        self.flagged: list[_Container] = []
        self.call_due = -1
        self.record = RunRecord(config.ticks_per_second, config.duration)
        self.random = unseeded(np.random.default_rng(seed))  # the policy's: no path back to any seed
        self.call_rejections = 0
        self.policy_state: dict = {}
        self.log: DecisionLog | None = None
        self.scripted = policy if isinstance(policy, ScriptedPolicy) else None
        """When set, every call's parsed decisions are appended (the sandboxed half's output)."""

    # ----- the loop ------------------------------------------------------------------------------------
    def run(self) -> RunRecord:
        arrivals = [p.arrival_tick for p in self.pipelines]
        count, ai = len(arrivals), 0
        horizon = self.config.max_ticks
        heap = self.heap
        if self.policy.init is not None:
            self._guard(self.policy.init, self.policy_state, self._cluster(0))
        while True:
            t = arrivals[ai] if ai < count else horizon
            if heap and heap[0][0] < t:
                t = heap[0][0]
            if 0 <= self.call_due < t:
                t = self.call_due
            if t >= horizon:
                break
            new = []
            while ai < count and arrivals[ai] == t:
                new.append(self._arrive(ai, t))
                ai += 1
            if new or self.call_due == t:
                self._call(t, tuple(new))
            while heap and heap[0][0] == t:
                _, _, kind, c = heapq.heappop(heap)
                if c.alive or kind == SUSPENDED:
                    self._event(kind, c, t)
        for pid in self.outstanding:  # age at the end of the run, for the latency term of the score
            pipeline = self.pipelines[pid]
            self.record.unfinished[pipeline.priority].append(horizon - pipeline.arrival_tick)
        return self.record

    def _push(self, tick: int, kind: int, c: _Container) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (tick, self.seq, kind, c))

    def _arrive(self, pid: int, t: int) -> PipelineView:
        pipeline = self.pipelines[pid]
        first = self.first_op[pid]
        n = len(pipeline.operators)
        _, _, names, parents, scaling = self.op_blocks[pid]
        ops = Operators(first, pid, names, parents, scaling, self.estimates[first:first + n].copy())
        view = PipelineView(pid, pipeline.name, pipeline.priority, t * self.tick_len, ops, ("pending",) * n)
        self.infos.append(view)
        self.outstanding[pid] = None
        self.arrived_ops += n
        self.record.arrival(pipeline.priority)
        return view

    # ----- the policy's turn ---------------------------------------------------------------------------
    def _cluster(self, t: int) -> ClusterView:
        for i, p in enumerate(self.pools):
            if p.view is None:
                p.view = _new_tuple(PoolView, (i, p.cpu_total, p.ram_total, p.cpu_free, p.ram_free,
                                               tuple(p.running.values()), p.suspending))
        pools = tuple([p.view for p in self.pools])
        suspendable = tuple([c.view for c in self.flagged if c.alive]) if self.flagged else ()
        return ClusterView(t, self.tick_len, self.config.duration, self.config.multi_operator_containers, pools,
                           suspendable, self.random, self.infos, self.states_view[:self.arrived_ops],
                           self.outstanding)

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:  # the policy's own bug: reported as a crash, not as invalid output
            raise PolicyCrashed(f"policy {self.policy.name}: {fn.__name__} raised {type(exc).__name__}: {exc}") from None

    def _call(self, t: int, new: tuple[PipelineView, ...]) -> None:
        self.call_due = -1
        if self.scripted is not None:  # the trusted replay: the log's decisions need no views
            self.pending_results = []
            out = self.scripted.decisions_at(t)
        else:
            if len(self.pending_results) > 1:
                self.pending_results.sort(key=lambda item: item[0])
            results = tuple([view for _, view in self.pending_results])
            self.pending_results = []
            out = self._guard(self.policy.schedule, self.policy_state, results, new, self._cluster(t))
        suspensions, assignments = parse_decisions(out, self.policy.name)
        if self.log is not None:
            self.log.append(t, suspensions, assignments)
        chosen: set[int] = set()
        self.call_rejections = 0
        for cid in suspensions:
            self._suspend(cid, t, chosen)
        for c in self.flagged:  # a boundary is suspendable on this call only
            if c.alive:
                self._set_view(c, False)
        self.flagged = []
        used: set[int] = set()
        for assignment in assignments:
            self._assign(assignment, t, used)

    def _reject(self, t: int, reason: str) -> None:
        self.call_rejections += 1
        if self.call_rejections > MAX_REJECTED_PER_CALL:
            raise PolicyError(f"t={t * self.tick_len:.2f}s: more than {MAX_REJECTED_PER_CALL} rejected decisions in "
                              f"one call (the last: {reason})")
        self.record.reject(t * self.tick_len, reason)

    def _suspend(self, cid: int, t: int, chosen: set[int]) -> None:
        c = self.containers.get(cid)
        if c is None or not c.alive:
            return self._reject(t, f"suspend container {cid}: no such running container")
        if cid in chosen:
            return self._reject(t, f"suspend container {cid}: already suspended in this call")
        if c.view is None or not c.view.suspendable:
            return self._reject(t, f"suspend container {cid}: not at an operator boundary")
        chosen.add(cid)
        c.alive = False
        pool = self.pools[c.pool]
        pool.view = None
        del pool.running[cid]
        pool.suspending += 1
        _fill(self.states, c.ops[c.current:], SUSPENDING)
        write = int((c.ram / DISK_GB_PER_SECOND) / self.tick_len)
        self._push(t + write - 1 if write >= 1 else t, SUSPENDED, c)
        self.record.suspensions += 1

    def _assign(self, assignment, t: int, used: set[int]) -> None:
        pool_id, ops, cpu, ram = assignment
        problem = self._check(pool_id, ops, cpu, ram, used)
        if problem:
            return self._reject(t, f"assign {list(ops)} to pool {pool_id}: {problem}")
        used.update(ops)
        pool = self.pools[pool_id]
        pool.view = None
        pool.cpu_free -= cpu
        pool.ram_free -= ram
        pid = self.op_pipeline[ops[0]]
        c = _Container(self.next_container, pool_id, pid, self.pipelines[pid].priority, ops, cpu, ram, t,
                       self._plan(ops, cpu, ram))
        self.next_container += 1
        self.containers[c.id] = c
        states = self.states
        _fill(states, ops, ASSIGNED)
        states[ops[0]] = RUNNING
        c.view = pool.running[c.id] = _new_tuple(ContainerView, (c.id, pool_id, pid, c.priority, ops, cpu, ram,
                                                                  t * self.tick_len, 0, False))
        kind = FAIL if c.fail_index == 0 else END if len(ops) == 1 else BOUNDARY
        self.seq += 1
        heapq.heappush(self.heap, (t + c.ends[0], self.seq, kind, c))
        self.record.assignments += 1

    def _plan(self, ops: tuple[int, ...], cpu: int, ram: float) -> tuple[list[int], int]:
        """Offsets (ticks after the start) of the last tick of each operator up to the first OOM, whose own
        last tick closes the list, and the index of the operator that fails (len(ops) when none does)."""
        key = ((self.op_profile[ops[0]],) if len(ops) == 1 else tuple(map(self.op_profile.__getitem__, ops)), cpu,
               ram)
        plan = self.plans.get(key)
        if plan is None:
            ends, elapsed, failing = [], 0, len(ops)
            for k, op in enumerate(ops):
                ticks, oom = self.timelines.run(self.op_profile[op], self.op_segments[op], cpu, ram)
                if oom:
                    ends.append(elapsed + oom - 1)
                    failing = k
                    break
                elapsed += ticks
                ends.append(elapsed - 1)
            plan = (ends, failing)
            if len(self.plans) < MAX_PLANS:  # stored only up to the cap: the cache outlives this run
                self.plans[key] = plan
        return plan

    def _check(self, pool_id: int, ops: tuple[int, ...], cpu: int, ram: float, used: set[int]) -> str | None:
        """Why the assignment is infeasible, or None. The common, feasible case is checked with few Python
        steps (a pipeline's operator ids are consecutive); the reason is searched for only when it fails."""
        if not 0 <= pool_id < len(self.pools):
            return f"no pool {pool_id} (pools 0..{len(self.pools) - 1})"
        if not ops:
            return "no operators"
        if len(ops) > 1 and not self.config.multi_operator_containers:
            return "one operator per container (multi_operator_containers is false)"
        if cpu < 1 or ram <= 0:
            return f"needs at least 1 CPU and some RAM, asked {cpu} CPUs, {ram:g} GB"
        pool = self.pools[pool_id]
        if cpu > pool.cpu_free:
            return f"over-commits CPU: asks {cpu}, {pool.cpu_free} free"
        if ram > pool.ram_free + RAM_TOLERANCE:
            return f"over-commits RAM: asks {ram:g} GB, {pool.ram_free:g} GB free"
        states = self.states
        if len(ops) == 1:  # one operator (the ranking mechanism's every container): accepted in a few steps
            op = ops[0]
            if 0 <= op < self.arrived_ops and op not in used and (states[op] == PENDING or states[op] == FAILED):
                pid = self.op_pipeline[op]
                first = self.first_op[pid]
                if all(states[first + p] == COMPLETED for p in self.op_blocks[pid][3][op - first]):
                    return None
            # otherwise the general checks below find the reason
        low, high = min(ops), max(ops)
        if low < 0 or high >= self.arrived_ops:
            return f"operator {low if low < 0 else high} has not arrived"
        pid = self.op_pipeline[low]
        first = self.first_op[pid]
        if high >= first + len(self.pipelines[pid].operators):
            return "operators of different pipelines"
        if len(set(ops)) != len(ops) or not used.isdisjoint(ops):
            return f"operator {next(o for i, o in enumerate(ops) if o in used or o in ops[:i])} assigned twice"
        if high - low == len(ops) - 1 and ops == tuple(range(low, high + 1)):
            # consecutive ids in order (the usual container): inner parents come earlier by construction,
            # so only the states and the parents outside the range need a look
            start = low - first
            outside = [p for parents in self.op_blocks[pid][3][start:start + len(ops)] for p in parents if p < start]
            if not states[low:high + 1].translate(None, _ASSIGNABLE_STATES) and \
                    all(states[first + p] == COMPLETED for p in outside):
                return None
        operators = self.pipelines[pid].operators
        seen: set[int] = set()
        for op in ops:
            state = states[op]
            if state != PENDING and state != FAILED:
                return f"operator {op} is {('pending', 'assigned', 'running', 'suspending', 'completed', 'failed')[state]}"
            for position in operators[op - first].parents:
                if states[first + position] != COMPLETED and first + position not in seen:
                    return f"operator {op} before its parent {first + position} completes"
            seen.add(op)
        return None

    # ----- the executor's turn -------------------------------------------------------------------------
    def _set_view(self, c: _Container, suspendable: bool) -> None:
        c.view = _new_tuple(ContainerView, (c.id, c.pool, c.pipeline, c.priority, c.ops, c.cpu, c.ram,
                                            c.start * self.tick_len, c.current, suspendable))
        pool = self.pools[c.pool]
        pool.running[c.id] = c.view
        pool.view = None

    def _next_event(self, c: _Container) -> None:
        k = c.current
        kind = FAIL if k == c.fail_index else END if k == len(c.ops) - 1 else BOUNDARY
        self._push(c.start + c.ends[k], kind, c)

    def _event(self, kind: int, c: _Container, t: int) -> None:
        self.call_due = t + 1
        if kind == BOUNDARY:
            self._complete_op(c.ops[c.current], t)
            c.current += 1
            self.states[c.ops[c.current]] = RUNNING
            self._set_view(c, True)
            self.flagged.append(c)
            self._next_event(c)
            return
        pool = self.pools[c.pool]
        pool.view = None
        pool.cpu_free += c.cpu
        pool.ram_free += c.ram
        if kind == SUSPENDED:
            del self.containers[c.id]
            pool.suspending -= 1
            _fill(self.states, c.ops[c.current:], PENDING)
            outcome, error, key = "suspended", None, (1, c.pool, self.seq)
            self.record.suspended += 1
        else:
            c.alive = False
            del pool.running[c.id]
            del self.containers[c.id]
            self.record.container_ticks.append(t - c.start + 1)
            key = (0, c.pool, c.id)
            if kind == END:
                self._complete_op(c.ops[-1], t)
                outcome, error = "completed", None
                self.record.containers_completed += 1
            else:
                _fill(self.states, c.ops[c.current:], FAILED)
                outcome, error = "failed", "OOM"
                self.record.failure("OOM")
        if not pool.running and not pool.suspending:
            pool.cpu_free, pool.ram_free = pool.cpu_total, pool.ram_total  # no float drift on an idle pool
        remaining = c.ops[c.current:] if outcome != "completed" else ()
        seconds = (t - c.start + 1) * self.tick_len
        self.pending_results.append((key, _new_tuple(ResultView, (c.id, c.pool, c.pipeline, c.priority, c.ops,
                                                                  remaining, c.cpu, c.ram, outcome, error, seconds))))

    def _complete_op(self, op: int, t: int) -> None:
        self.states[op] = COMPLETED
        pid = self.op_pipeline[op]
        self.done_ops[pid] += 1
        if self.done_ops[pid] == len(self.pipelines[pid].operators):
            pipeline = self.pipelines[pid]
            self.record.completion(pipeline.priority, t - pipeline.arrival_tick)
            del self.outstanding[pid]


class DecisionLog:
    """Every call's decisions, as flat columns: what crosses from the sandbox to the trusted replay."""

    def __init__(self) -> None:
        self.ticks: list[int] = []
        self.n_suspensions: list[int] = []
        self.suspensions: list[int] = []
        self.n_assignments: list[int] = []
        self.pools: list[int] = []
        self.cpus: list[int] = []
        self.ram: list[float] = []
        self.n_ops: list[int] = []
        self.ops: list[int] = []

    def append(self, tick: int, suspensions: list[int], assignments: list) -> None:
        self.ticks.append(tick)
        self.n_suspensions.append(len(suspensions))
        self.suspensions.extend(suspensions)
        self.n_assignments.append(len(assignments))
        for pool, ops, cpu, ram in assignments:
            self.pools.append(pool)
            self.cpus.append(cpu)
            self.ram.append(ram)
            self.n_ops.append(len(ops))
            self.ops.extend(ops)

    def columns(self) -> dict[str, np.ndarray]:
        i64 = np.int64
        return {"ticks": np.array(self.ticks, i64), "n_suspensions": np.array(self.n_suspensions, i64),
                "suspensions": np.array(self.suspensions, i64), "n_assignments": np.array(self.n_assignments, i64),
                "pools": np.array(self.pools, i64), "cpus": np.array(self.cpus, i64),
                "ram": np.array(self.ram, np.float64), "n_ops": np.array(self.n_ops, i64),
                "ops": np.array(self.ops, i64)}


class ScriptedPolicy:
    """The trusted replay's stand-in for a policy: on each call it returns the decisions logged for that
    tick, and refuses when the simulation calls at a tick the log does not (the log was not made by this
    simulation). Built from untrusted columns, so every count is checked against the arrays' lengths."""

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self.name = "replay"
        self.init = None
        c = {k: np.asarray(columns[k]) for k in ("ticks", "n_suspensions", "suspensions", "n_assignments", "pools",
                                                 "cpus", "ram", "n_ops", "ops")}
        calls = len(c["ticks"])
        if len(c["n_suspensions"]) != calls or len(c["n_assignments"]) != calls:
            raise PolicyError("decision log: per-call counts do not match the number of calls")
        for count, flat in (("n_suspensions", "suspensions"), ("n_assignments", "pools"), ("n_ops", "ops")):
            if (c[count] < 0).any() or int(c[count].sum()) != len(c[flat]):
                raise PolicyError(f"decision log: {count} does not add up to the length of {flat}")
        n = len(c["pools"])
        if len(c["cpus"]) != n or len(c["ram"]) != n or len(c["n_ops"]) != n:
            raise PolicyError("decision log: assignment columns differ in length")
        self.ticks = c["ticks"].tolist()
        self.susp_end = np.cumsum(c["n_suspensions"]).tolist()
        self.assign_end = np.cumsum(c["n_assignments"]).tolist()
        self.suspensions = c["suspensions"].tolist()
        self.rows = list(zip(c["pools"].tolist(), c["cpus"].tolist(), c["ram"].astype(float).tolist(), strict=True))
        ops = c["ops"].tolist()
        ends = np.cumsum(c["n_ops"]).tolist()
        self.ops = [tuple(ops[e - k:e]) for e, k in zip(ends, c["n_ops"].tolist(), strict=True)]
        self.next = 0

    def schedule(self, state, results, arrivals, cluster):
        return self.decisions_at(cluster.tick)

    def decisions_at(self, tick: int) -> tuple[list[int], list[tuple]]:
        """The logged decisions of the call at `tick` (the engine calls this directly: it needs no views)."""
        k = self.next
        if k >= len(self.ticks) or self.ticks[k] != tick:
            expected = self.ticks[k] if k < len(self.ticks) else "none"
            raise PolicyError(f"decision log diverges from the simulation: it calls at tick {tick}, "
                              f"the log's next call is at tick {expected}")
        self.next += 1
        s0 = self.susp_end[k - 1] if k else 0
        a0 = self.assign_end[k - 1] if k else 0
        assignments = [(pool, self.ops[j], cpu, ram) for j, (pool, cpu, ram) in
                       enumerate(self.rows[a0:self.assign_end[k]], start=a0)]
        return self.suspensions[s0:self.susp_end[k]], assignments

    def finished(self) -> None:
        if self.next != len(self.ticks):
            raise PolicyError(f"decision log has {len(self.ticks) - self.next} calls the simulation never made")


def simulate(workload: Workload, config: ClusterConfig, policy: Policy, seed: int | np.random.Generator = 0,
             estimate_sigma: float = 0.3, estimate_seed: int | np.random.Generator | None = None,
             log: DecisionLog | None = None) -> RunRecord:
    """Run `policy` on `workload` and return its record (Eudoxia's statistics and ours).

    The cyclic garbage collector is paused for the run: the engine makes no reference cycles, and its
    tens of thousands of short-lived tuples would otherwise trigger collections that rescan every operator
    view (about a tenth of the run time). It is restored afterwards, and then collects any cycles a policy made.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        engine = Engine(workload, config, policy, seed, estimate_sigma, estimate_seed)
        engine.log = log
        record = engine.run()
        if isinstance(policy, ScriptedPolicy):
            policy.finished()
        return record
    finally:
        if was_enabled:
            gc.enable()
