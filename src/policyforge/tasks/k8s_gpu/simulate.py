"""One simulation run: a cluster, a workload, a policy and a seed, in inflation or replay mode.

Inflation is the FGD paper's experiment (arrivals only, a pod that does not fit fails for good). Replay uses
the trace's creation and deletion times: a pod that does not fit waits and is retried when resources free,
then runs for its traced duration.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field, replace

import numpy as np

from policyforge.contract import Instance, instance_rng, unseeded
from policyforge.errors import PolicyError, PolicyforgeError
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PlacementError
from policyforge.tasks.k8s_gpu.compiled import replay_compiled, run_tree_program, tree_program
from policyforge.tasks.k8s_gpu.engine import Placement, Scheduler, pod_requests, tie_break_rank
from policyforge.tasks.k8s_gpu.features import _fragmentation
from policyforge.tasks.k8s_gpu.metrics import (
    FragmentationRecorder,
    arrived_percent,
    bucket_means,
    time_weighted_mean,
)
from policyforge.tasks.k8s_gpu.policy import Policy
from policyforge.tasks.k8s_gpu.trace import NodeTable, PodTable
from policyforge.tasks.k8s_gpu.views import ClusterView
from policyforge.tasks.k8s_gpu.workload import TargetWorkload, inflate, target_workload

MODES = ("inflation", "replay")


@dataclass(frozen=True)
class Streams:
    """Independent random streams of one run: from a public seed (the paper's experiments), or keyed by the
    engine's secret for a search instance. The policy's generator never leads back to a seed."""

    workload: np.random.Generator
    tie_break: np.random.Generator
    policy: np.random.Generator

    @staticmethod
    def of(seed: int) -> Streams:
        """The published experiment's streams (the policy's has the same draws, minus its seed)."""
        workload, tie_break, policy = np.random.SeedSequence(seed).spawn(3)
        return Streams(np.random.default_rng(workload), np.random.default_rng(tie_break),
                       unseeded(np.random.default_rng(policy)))

    @staticmethod
    def keyed(instance: Instance) -> Streams:
        """A search instance's streams, each keyed by the instance's secret: knowing the seed in its name, the
        trace and the inflation code, a policy still cannot recompute the arrival order."""
        return Streams(instance_rng(instance, "workload"), instance_rng(instance, "tie_break"),
                       instance_rng(instance, "policy"))


@dataclass
class InflationResult:
    """Per arriving pod: the GPU milli arrived so far, allocated after it, and cluster fragmentation."""

    policy: str
    seed: int
    total_gpu_milli: int
    arrived_milli: np.ndarray
    allocated_milli: np.ndarray
    fragmentation_milli: np.ndarray
    failed: np.ndarray
    seconds: float
    node: np.ndarray | None = None
    """Per arriving pod, the node it was bound to (-1: failed): with `gpu_mask`, the run's decisions."""
    gpu_mask: np.ndarray | None = None
    """Per arriving pod, the GPUs it was bound to as a bit mask (bit g: GPU g of its node)."""

    def decisions(self) -> dict[str, np.ndarray]:
        return {"node": self.node, "gpu_mask": self.gpu_mask}
    fallback: dict | None = None
    """With the CP-SAT fallback on: its calls, pods it placed, moves and mean ms per call."""

    @property
    def failed_pods(self) -> int:
        return int(self.failed.sum())

    def _percent(self) -> np.ndarray:
        return arrived_percent(self.arrived_milli, self.total_gpu_milli)

    def allocation_curve(self) -> np.ndarray:
        """GPU allocation % per arrived % 0..130 (each sample rounded to 0.01 as the paper's scripts do)."""
        allocated = np.round(self.allocated_milli * 100.0 / self.total_gpu_milli, 2)
        return bucket_means(self._percent(), allocated)

    def fragmentation_curve(self) -> np.ndarray:
        """Fragmented GPU milli as % of capacity, per arrived %."""
        return bucket_means(self._percent(), self.fragmentation_milli * 100.0 / self.total_gpu_milli)

    def fragmentation_ratio_curve(self) -> np.ndarray:
        """Fragmented share of the idle GPU milli, %, per arrived % (FGD's fragmentation ratio)."""
        idle = self.total_gpu_milli - self.allocated_milli
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(idle > 0, self.fragmentation_milli * 100.0 / idle, np.nan)
        return bucket_means(self._percent(), ratio)

    def allocation_at(self, percent: int) -> float:
        """Allocation % at an arrived %: the paper's bucket mean, or, when no pod arrived within one percent
        of it (small clusters), the allocation after the last pod that arrived before it."""
        value = self.allocation_curve()[percent]
        if not np.isnan(value):
            return float(value)
        before = np.flatnonzero(self._percent() <= percent)
        return float(self.allocated_milli[before[-1]] * 100.0 / self.total_gpu_milli) if len(before) else 0.0

    def summary(self) -> dict:
        alloc = self.allocation_curve()
        alloc[100], alloc[130] = self.allocation_at(100), self.allocation_at(130)
        ratio = self.fragmentation_ratio_curve()
        amount = self.fragmentation_curve()
        return {
            "seed": self.seed,
            **(self.fallback or {}),
            "alloc_at_100": _number(alloc[100]),
            "alloc_at_130": _number(alloc[130]),
            "frag_ratio_at_100": _number(ratio[100]),
            "frag_amount_at_100": _number(amount[100]),
            "failed_pods": self.failed_pods,
            "pods": len(self.failed),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class ReplayResult:
    """Replay of a trace's own timeline: utilisation over simulated time and how long pods waited."""

    policy: str
    seed: int
    utilisation: dict[str, float]
    waiting_seconds: np.ndarray
    never_scheduled: int
    seconds: float
    timeline: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self) -> dict:
        waits = self.waiting_seconds
        return {
            "seed": self.seed,
            "cpu_utilisation": round(100 * self.utilisation["cpu"], 4),
            "memory_utilisation": round(100 * self.utilisation["memory"], 4),
            "gpu_utilisation": round(100 * self.utilisation["gpu"], 4),
            "wait_p50_seconds": float(np.percentile(waits, 50)) if len(waits) else 0.0,
            "wait_p99_seconds": float(np.percentile(waits, 99)) if len(waits) else 0.0,
            "never_scheduled": self.never_scheduled,
            "waited_pods": int((waits > 0).sum()),
            "pods": len(waits) + self.never_scheduled,
            "seconds": round(self.seconds, 3),
        }


def _number(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 4)


def run_inflation(nodes: NodeTable, pods: PodTable, policy: Policy, seed: int, tune: float = 1.3,
                  workload: TargetWorkload | None = None, fragmentation: bool = True,
                  fallback=None, streams: Streams | None = None, memo: str | None = None) -> InflationResult:
    """The FGD experiment: the tuned arrival sequence, placed one pod at a time, failures final.

    `fragmentation=False` skips the fragmentation record (the sandboxed half, whose figures nobody reads).
    `fallback` (a fallback.FallbackOptions, default off) repacks a few nodes with CP-SAT when a pod would
    fail; fragmentation is then not recorded (a repacking changes several nodes in one step), and the run's
    decisions no longer describe it (pods moved), so a fallback run is for trusted policies only. `streams`
    (a search instance's keyed streams) replaces those of `seed`, which then only labels the result, and
    `memo` (the instance's key) names its arrival sequence to remember. A GP tree's compiled program runs in
    one compiled loop (compiled.py) with the same decisions."""
    started = time.perf_counter()
    memo = seed if streams is None else memo
    streams = streams or Streams.of(seed)
    state, workload, sequence = _setup(nodes, pods, tune, streams, workload, memo)
    program = tree_program(policy.score) if fallback is None and policy.choose_gpus is None else None
    if program is not None:
        return _run_program(program, policy.name, seed, state, workload, sequence, streams, fragmentation, started)
    scheduler = Scheduler(state, policy, workload, streams.tie_break, streams.policy)
    n = len(sequence)
    rescue = None
    if fallback is not None:
        from policyforge.tasks.k8s_gpu.fallback import Fallback

        rescue = Fallback(state, fallback)
    recorder = FragmentationRecorder(state, workload, n) if fragmentation and rescue is None else None
    arrived, allocated = np.empty(n, np.int64), np.empty(n, np.int64)
    failed = np.zeros(n, bool)
    node = np.full(n, -1, np.int32)
    gpu_mask = np.zeros(n, np.uint64)
    arrived_total = allocated_total = 0
    for i, request in enumerate(sequence):
        arrived_total += request.total_gpu_milli
        placement = scheduler.place(request)
        if rescue is not None:
            if placement is not None:
                rescue.placed(i, request, placement.node, placement.gpus)
            else:
                found = rescue.rescue(i, request)
                placement = None if found is None else Placement(*found)
        if placement is None:
            failed[i] = True
        else:
            allocated_total += request.total_gpu_milli
            node[i] = placement.node
            gpu_mask[i] = sum(1 << g for g in placement.gpus)
            if recorder is not None:
                recorder.record(i, placement.node)
        arrived[i], allocated[i] = arrived_total, allocated_total
    frag = recorder.totals() if recorder is not None else np.full(n, np.nan)
    return InflationResult(policy.name, seed, state.total_gpu_milli, arrived, allocated, frag, failed,
                           time.perf_counter() - started, node, gpu_mask,
                           rescue.stats.summary() if rescue is not None else None)


def _run_program(program, name: str, seed: int, state: ClusterState, workload: TargetWorkload, sequence,
                 streams: Streams, fragmentation: bool, started: float) -> InflationResult:
    """run_inflation for a GP tree's program, compiled (compiled.py): the same decisions and figures."""
    from policyforge.tasks.k8s_gpu.features import ModelTables

    rank = tie_break_rank(state.nodes.names, streams.tie_break)
    tables = ModelTables(ClusterView(state, workload, streams.policy))
    recorder_state = ClusterState(state.nodes) if fragmentation else None
    node, gpu_mask = run_tree_program(program, state, sequence, workload, rank, tables)
    demand = np.array([p.total_gpu_milli for p in sequence], np.int64)
    failed = node < 0
    arrived, allocated = np.cumsum(demand), np.cumsum(np.where(failed, 0, demand))
    if recorder_state is None:
        frag = np.full(len(sequence), np.nan)
    else:
        recorder = FragmentationRecorder(recorder_state, workload, len(sequence))
        for i, (request, target, mask) in enumerate(zip(sequence, node.tolist(), gpu_mask.tolist(), strict=True)):
            if target >= 0:
                recorder_state.bind(target, request, _gpus_of(mask))
                recorder.record(i, target)
        frag = recorder.totals()
    return InflationResult(name, seed, state.total_gpu_milli, arrived, allocated, frag, failed,
                           time.perf_counter() - started, node, gpu_mask)


def _setup(nodes: NodeTable, pods: PodTable, tune: float, streams: Streams, workload: TargetWorkload | None,
           memo: int | str | None = None):
    """A fresh cluster, the target workload and the arrival sequence; with `memo` (the public seed, or a
    search instance's key), the (immutable) workload and sequence are remembered per inputs, as the worker
    pool and the trusted replay meet the same instances again and again."""
    state = ClusterState(nodes)
    if state.total_gpu_milli == 0:
        raise PolicyforgeError(f"{nodes.source}: the cluster has no GPUs, so GPU allocation is undefined")
    if state.max_gpus > 64:
        raise PolicyforgeError(f"{nodes.source}: nodes with more than 64 GPUs are not supported")
    key = (id(nodes), id(pods), id(workload), tune, memo)
    known = _SEQUENCES.get(key) if memo is not None else None
    if known is not None and known[0] is nodes and known[1] is pods and known[2] is workload:
        return state, known[3], known[4]
    target = workload if workload is not None else target_workload(pods)
    sequence = pod_requests(inflate(pods, state.total_gpu_milli, tune, streams.workload))
    if memo is not None:
        if len(_SEQUENCES) >= MEMO_SIZE:
            _SEQUENCES.pop(next(iter(_SEQUENCES)))
        _SEQUENCES[key] = (nodes, pods, workload, target, sequence)
    return state, target, sequence


_SEQUENCES: dict[tuple, tuple] = {}
"""(nodes, pods, given workload, tune, memo) -> (nodes, pods, given workload, target workload, arrival
sequence): at most MEMO_SIZE, oldest dropped."""
MEMO_SIZE = 96
"""Sequences remembered per process: a worker meets every instance of a suite (the full suite has 82, each
about 100 kB) once per policy, so fewer than the instances would drop each before it is met again."""
_GPU_SETS: dict[int, tuple[int, ...]] = {}
"""GPU bit mask -> the GPU indices it names."""


def _gpus_of(mask: int) -> tuple[int, ...]:
    gpus = _GPU_SETS.get(mask)
    if gpus is None:
        gpus = _GPU_SETS[mask] = tuple(g for g in range(64) if mask >> g & 1)
    return gpus


def replay_inflation(nodes: NodeTable, pods: PodTable, name: str, seed: int, tune: float, node: np.ndarray,
                     gpu_mask: np.ndarray, workload: TargetWorkload | None = None, streams: Streams | None = None,
                     memo: str | None = None, compiled: bool = True) -> InflationResult:
    """The trusted half: the same arrival sequence as `run_inflation`, with the given decisions instead of a
    policy. Every binding is validated by the cluster state; a pod left unplaced must fit no node (the
    mechanism never lets a policy refuse a feasible pod). PolicyError names the first illegal decision.
    With `streams` (keyed), `memo` (the instance's key) names the arrival sequence to remember. `compiled`
    replays in one compiled loop (replay_kernel.py; the same figures), and in Python only to name an illegal
    decision."""
    started = time.perf_counter()
    state, workload, sequence = _setup(nodes, pods, tune, streams or Streams.of(seed), workload,
                                       seed if streams is None else memo)
    n = len(sequence)
    if len(node) != n or len(gpu_mask) != n:
        raise PolicyError(f"decisions for {len(node)} pods, but {n} arrive")
    if compiled:
        initial = _fragmentation(state.cpu_free, state.gpu_free, state.model_bit, workload)
        bad, failed, steps = replay_compiled(state, sequence, workload, node, gpu_mask, initial)
        if bad < 0:
            demand = np.array([p.total_gpu_milli for p in sequence], np.int64)
            return InflationResult(name, seed, state.total_gpu_milli, np.cumsum(demand),
                                   np.cumsum(np.where(failed, 0, demand)), float(initial.sum()) + np.cumsum(steps),
                                   failed, time.perf_counter() - started, np.asarray(node, np.int32),
                                   np.asarray(gpu_mask, np.uint64))
        state = ClusterState(nodes)  # the Python replay below names the illegal decision
    recorder = FragmentationRecorder(state, workload, n)
    arrived, allocated = np.empty(n, np.int64), np.empty(n, np.int64)
    failed = np.zeros(n, bool)
    arrived_total = allocated_total = 0
    masks = np.asarray(gpu_mask).astype(np.uint64).tolist()
    for i, (request, target, mask) in enumerate(zip(sequence, np.asarray(node).tolist(), masks, strict=True)):
        arrived_total += request.total_gpu_milli
        if target < 0:
            fits = state.feasible(request)
            if len(fits):
                raise PolicyError(f"pod {i} left unplaced, but node {int(fits[0])} can host it")
            failed[i] = True
        else:
            gpus = _gpus_of(mask)
            try:
                state.bind(target, request, gpus)
            except PlacementError as exc:
                raise PolicyError(f"pod {i}: illegal placement: {exc}") from None
            allocated_total += request.total_gpu_milli
            recorder.record(i, target)
        arrived[i], allocated[i] = arrived_total, allocated_total
    return InflationResult(name, seed, state.total_gpu_milli, arrived, allocated, recorder.totals(), failed,
                           time.perf_counter() - started, np.asarray(node, np.int32), np.asarray(gpu_mask, np.uint64))


def peak_gpu_request(pods: PodTable) -> float:
    """The most GPUs the trace's pods hold at once, replayed as recorded (departures before arrivals)."""
    if not pods.has_times or not len(pods):
        return 0.0
    gpus = np.where(pods.num_gpu == 1, pods.gpu_milli, 1000 * pods.num_gpu).astype(float) / 1000
    times = np.concatenate([pods.creation_time, pods.deletion_time])
    deltas = np.concatenate([gpus, -gpus])
    order = np.lexsort((deltas, times))
    return float(np.cumsum(deltas[order]).max())


def _node_types(nodes: NodeTable) -> list[list[int]]:
    """Node indices grouped by type (GPU model, GPU count, CPU, memory), each group in list order."""
    keys = zip(nodes.gpu_model.tolist(), nodes.gpu_count.tolist(), nodes.cpu_milli.tolist(),
               nodes.memory_mib.tolist(), strict=True)
    types: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        types.setdefault(key, []).append(i)
    return list(types.values())


def _sampled(types: list[list[int]], share: float) -> list[int]:
    """The first max(1, round(share * n)) nodes of every type, in list order."""
    return sorted(i for members in types for i in members[: max(1, round(share * len(members)))])


def _keep(nodes: NodeTable, keep: list[int]) -> NodeTable:
    return replace(nodes, names=tuple(nodes.names[i] for i in keep), cpu_milli=nodes.cpu_milli[keep],
                   memory_mib=nodes.memory_mib[keep], gpu_count=nodes.gpu_count[keep],
                   gpu_model=nodes.gpu_model[keep])


def sample_cluster(nodes: NodeTable, share: float) -> NodeTable:
    """A proportional sample of `nodes`: every node type keeps max(1, round(share * n)) of its n nodes, its
    first ones in list order. Every pod that fits the full cluster fits the sample, and the mix of node types
    is the full cluster's (rare types slightly over-represented), so a policy meets the same choices on a
    cluster `share` times the size: the k8s-gpu task's cheap proxy instances."""
    return _keep(nodes, _sampled(_node_types(nodes), share))


def sample_pods(pods: PodTable, share: float) -> PodTable:
    """An evenly spaced `share` of the trace's pods (at least one), in name order as `inflate` reads them, so
    the sample keeps the trace's mix of shapes. With `sample_cluster` and the same tune, the inflated arrival
    sequence is about `share` times as long: the whole trace alone fills most of the full cluster, and would
    overfill a sampled one many times over. A sample without any GPU request (a tiny trace) is the whole
    trace, which inflation needs."""
    count = max(1, min(len(pods), round(share * len(pods))))
    by_name = np.array(sorted(range(len(pods)), key=pods.names.__getitem__), np.int64)
    picked = by_name[np.minimum(((np.arange(count) + 0.5) * len(pods) / count).astype(np.int64), len(pods) - 1)]
    sample = pods.take(np.sort(picked))
    return sample if sample.total_gpu_milli.sum() > 0 else pods


def replay_cluster(nodes: NodeTable, pods: PodTable, capacity: float) -> NodeTable:
    """A proportional sample of `nodes` whose GPUs hold `capacity` times the trace's peak concurrent request.

    Every node type (GPU model, GPU count, CPU, memory) keeps at least one node, so every pod that fits the
    full cluster fits this one; each type keeps the same share of its nodes (its first ones in list order),
    the smallest share that reaches the target (`sample_cluster`). OpenB's `default` peaks at 66 GPUs on a
    6,212-GPU cluster, so its replay cluster at capacity 1 is 16 nodes and 71 GPUs."""
    types = _node_types(nodes)
    target = capacity * peak_gpu_request(pods)
    keep: list[int] = list(range(len(nodes)))
    for step in range(0, 1001):
        chosen = _sampled(types, step / 1000)
        if nodes.gpu_count[chosen].sum() >= target:
            keep = chosen
            break
    return _keep(nodes, keep)


def run_replay(nodes: NodeTable, pods: PodTable, policy: Policy, seed: int,
               workload: TargetWorkload | None = None, speedup: float = 1.0) -> ReplayResult:
    """Replay creation and deletion times; unschedulable pods wait and are retried when a node frees up.
    `speedup` divides the time between arrivals, durations kept, to raise contention (see `replay_cluster`)."""
    if not pods.has_times:
        raise PolicyforgeError(f"{pods.source}: replay needs creation_time and deletion_time columns")
    if speedup <= 0:
        raise PolicyforgeError("replay speed-up must be positive")
    started = time.perf_counter()
    streams = Streams.of(seed)
    state = ClusterState(nodes)
    workload = workload if workload is not None else target_workload(pods)
    scheduler = Scheduler(state, policy, workload, streams.tie_break, streams.policy)
    requests = pod_requests(pods)
    first = float(pods.creation_time.min()) if len(pods) else 0.0
    created = first + (pods.creation_time - first) / speedup
    duration = pods.deletion_time - pods.creation_time
    # Events (time, kind, order, pod): kind 0 = departure first, so freed resources serve arrivals at that time.
    events: list[tuple[float, int, int, int]] = [(float(created[i]), 1, i, i) for i in range(len(pods))]
    heapq.heapify(events)
    placements: dict[int, Placement] = {}
    start_time = np.full(len(pods), np.nan)
    pending: list[int] = []
    times, cpu_used, mem_used, gpu_used = [], [], [], []
    total_cpu = max(int(state.cpu_capacity.sum()), 1)
    total_mem = max(int(state.memory_capacity.sum()), 1)
    total_gpu = max(state.total_gpu_milli, 1)

    def try_place(i: int, now: float) -> bool:
        placement = scheduler.place(requests[i])
        if placement is None:
            return False
        placements[i] = placement
        start_time[i] = now
        heapq.heappush(events, (now + float(duration[i]), 0, i, i))
        return True

    while events:
        now = events[0][0]
        freed: set[int] = set()
        while events and events[0][0] == now:
            _, kind, _, i = heapq.heappop(events)
            if kind == 0:
                placement = placements.pop(i)
                state.release(placement.node, requests[i], placement.gpus)
                freed.add(placement.node)
            elif not try_place(i, now):
                pending.append(i)
        if freed and pending:
            pending = _retry(pending, freed, state, pods, try_place, now)
        times.append(now)
        cpu_used.append(total_cpu - int(state.cpu_free.sum()))
        mem_used.append(total_mem - int(state.memory_free.sum()))
        gpu_used.append(state.allocated_gpu_milli)
    end = times[-1] if times else 0.0
    t = np.array(times)
    utilisation = {
        "cpu": time_weighted_mean(t, np.array(cpu_used) / total_cpu, end),
        "memory": time_weighted_mean(t, np.array(mem_used) / total_mem, end),
        "gpu": time_weighted_mean(t, np.array(gpu_used) / total_gpu, end),
    }
    scheduled = ~np.isnan(start_time)
    waits = (start_time - created)[scheduled]
    return ReplayResult(policy.name, seed, utilisation, waits, int((~scheduled).sum()),
                        time.perf_counter() - started,
                        {"time": t, "gpu_used_milli": np.array(gpu_used)})


def _retry(pending: list[int], freed: set[int], state: ClusterState, pods: PodTable,
           try_place, now: float) -> list[int]:
    """Retry, in arrival order, the waiting pods that now fit on a node that just freed resources.

    Placing pods only takes resources, so a pod that fits none of the freed nodes before this round cannot
    fit after it: the test is done once, vectorised over all waiting pods.
    """
    waiting = np.array(pending, np.int64)
    cpu, memory = pods.cpu_milli[waiting], pods.memory_mib[waiting]
    num, milli, mask = pods.num_gpu[waiting], pods.gpu_milli[waiting], pods.model_mask[waiting]
    sharing = (num == 1) & (milli < 1000)
    hopeful = np.zeros(len(waiting), bool)
    for n in freed:
        fits = (state.cpu_free[n] >= cpu) & (state.memory_free[n] >= memory)
        gpu_ok = ((state.model_bit[n] & mask) != 0) & np.where(
            sharing, state.max_gpu_free[n] >= milli, state.full_free_gpus[n] >= num)
        hopeful |= fits & ((num == 0) | gpu_ok)
    if not hopeful.any():
        return pending
    return [int(i) for i, retry in zip(waiting, hopeful, strict=True) if not (retry and try_place(int(i), now))]
