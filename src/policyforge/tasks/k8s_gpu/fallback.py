"""The "Priority Matters" fallback: when no node can host a pod, repack a few nodes with CP-SAT to make room.

After Christensen, Giallorenzo and Mauro (2025), who run CP-SAT beside the Kubernetes scheduler only when the
default scheduler cannot place a pod. Here: pick at most K nodes (the `targets` that could host the pod
if some residents moved, plus the emptiest other nodes as destinations), let at most M residents of the
targets move among those K nodes, and ask CP-SAT for the fewest moves that leave room for the pod. Pods keep
their requests; the repacked nodes satisfy the simulator's filter (CPU, memory, GPU model, per-GPU milli,
whole free GPUs). Moves are applied as a batch (movers released, then bound one by one where the solution
put them), and every bind goes through ClusterState.bind, so an over-commit cannot happen.

Determinism: one CP-SAT worker and a deterministic time limit (`budget_ms` deterministic milliseconds),
so the same run gives the same moves on any machine load; the wall time per call is measured and reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from ortools.sat.python import cp_model

from policyforge.errors import PolicyforgeError
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PodRequest
from policyforge.tasks.k8s_gpu.trace import MILLI


@dataclass(frozen=True)
class FallbackOptions:
    budget_ms: float = 100.0
    max_moves: int = 4
    max_nodes: int = 4
    targets: int = 2

    def __post_init__(self) -> None:
        if self.budget_ms <= 0:
            raise PolicyforgeError(f"--fallback-ms {self.budget_ms:g}: must be positive")
        if self.max_moves < 1:
            raise PolicyforgeError(f"--max-moves {self.max_moves}: must be at least 1")
        if not 1 <= self.targets < self.max_nodes:
            raise PolicyforgeError(f"fallback: targets ({self.targets}) must be fewer than nodes ({self.max_nodes})")


@dataclass(frozen=True, slots=True)
class Move:
    pod: int
    source: int
    source_gpus: tuple[int, ...]
    node: int
    gpus: tuple[int, ...]


@dataclass
class FallbackStats:
    calls: int = 0
    placed: int = 0
    moves: int = 0
    seconds: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        return {"fallback_calls": self.calls, "fallback_placed": self.placed, "fallback_moves": self.moves,
                "fallback_ms_mean": round(1000 * float(np.mean(self.seconds)), 2) if self.seconds else 0.0}


class Residents:
    """Which pods sit on which node with which GPUs (the engine's state only keeps totals)."""

    def __init__(self) -> None:
        self.pods: dict[int, tuple[PodRequest, int, tuple[int, ...]]] = {}
        self.by_node: dict[int, set[int]] = {}

    def add(self, pod_id: int, pod: PodRequest, node: int, gpus: tuple[int, ...]) -> None:
        self.pods[pod_id] = (pod, node, gpus)
        self.by_node.setdefault(node, set()).add(pod_id)

    def remove(self, pod_id: int) -> None:
        _, node, _ = self.pods.pop(pod_id)
        self.by_node[node].discard(pod_id)


def could_host(state: ClusterState, pod: PodRequest) -> np.ndarray:
    """Nodes that could host the pod if emptied: capacity and GPU model."""
    ok = (state.cpu_capacity >= pod.cpu_milli) & (state.memory_capacity >= pod.memory_mib)
    if pod.num_gpu:
        ok &= ((state.model_bit & pod.model_mask) != 0) & (state.gpu_count >= pod.num_gpu)
    return np.flatnonzero(ok)


def choose_nodes(state: ClusterState, pod: PodRequest, options: FallbackOptions) -> tuple[list[int], list[int]]:
    """Targets: the hosts that lack least (milli to free on their emptiest GPUs, then CPU, then memory);
    destinations: the other nodes with the most free GPU milli, then CPU. Ties go to the lower index."""
    hosts = could_host(state, pod)
    if len(hosts) == 0:
        return [], []
    if pod.num_gpu:
        emptiest = np.sort(state.gpu_free[hosts], axis=1)[:, ::-1][:, : pod.num_gpu].sum(axis=1)
        lack_gpu = np.maximum(pod.total_gpu_milli - emptiest, 0)
    else:
        lack_gpu = np.zeros(len(hosts), np.int64)
    lack_cpu = np.maximum(pod.cpu_milli - state.cpu_free[hosts], 0)
    lack_mem = np.maximum(pod.memory_mib - state.memory_free[hosts], 0)
    targets = hosts[np.lexsort((hosts, lack_mem, lack_cpu, lack_gpu))][: options.targets].tolist()
    others = np.setdiff1d(np.arange(len(state)), targets)
    order = np.lexsort((others, -state.cpu_free[others], -state.gpu_free_total[others]))
    return targets, others[order][: options.max_nodes - len(targets)].tolist()


def room_is_possible(state: ClusterState, pod: PodRequest, nodes: list[int]) -> bool:
    """A necessary condition checked before building a model: the chosen nodes' free resources together
    cover the pod (moves only shuffle what is free among them)."""
    return bool(state.cpu_free[nodes].sum() >= pod.cpu_milli and state.memory_free[nodes].sum() >= pod.memory_mib
                and state.gpu_free_total[nodes].sum() >= pod.total_gpu_milli)


def make_room(state: ClusterState, residents: Residents, pod: PodRequest,
              options: FallbackOptions) -> tuple[list[Move], int, tuple[int, ...]] | None:
    """The fewest moves (at most max_moves) among at most max_nodes nodes after which `pod` fits, with the
    pod's node and GPUs; None when CP-SAT finds none within the budget."""
    targets, destinations = choose_nodes(state, pod, options)
    nodes = targets + destinations
    if not targets or not room_is_possible(state, pod, nodes):
        return None
    movers = sorted(pid for n in targets for pid in residents.by_node.get(n, ()))
    model = cp_model.CpModel()
    gpu_load: dict[tuple[int, int], list] = {}
    cpu_load: dict[int, list] = {n: [] for n in nodes}
    mem_load: dict[int, list] = {n: [] for n in nodes}
    fixed_gpu = {(n, g): MILLI - int(state.gpu_free[n, g]) for n in nodes for g in range(state.gpu_count[n])}
    fixed_cpu = {n: int(state.cpu_capacity[n] - state.cpu_free[n]) for n in nodes}
    fixed_mem = {n: int(state.memory_capacity[n] - state.memory_free[n]) for n in nodes}
    for pid in movers:  # movers' own usage is a variable, not fixed
        p, n, gpus = residents.pods[pid]
        fixed_cpu[n] -= p.cpu_milli
        fixed_mem[n] -= p.memory_mib
        for g in gpus:
            fixed_gpu[n, g] -= p.gpu_milli
    choices: dict[int, dict[tuple[int, tuple[int, ...]], cp_model.IntVar]] = {}
    for key, p in [(pid, residents.pods[pid][0]) for pid in movers] + [(-1, pod)]:
        choices[key] = _placement_vars(model, state, p, nodes, gpu_load, cpu_load, mem_load)
        model.add_exactly_one(choices[key].values())
    for n in nodes:
        model.add(sum(cpu_load[n]) <= int(state.cpu_capacity[n]) - fixed_cpu[n])
        model.add(sum(mem_load[n]) <= int(state.memory_capacity[n]) - fixed_mem[n])
        for g in range(state.gpu_count[n]):
            model.add(sum(gpu_load.get((n, g), [])) <= MILLI - fixed_gpu[n, g])
    moved = []
    for pid in movers:
        _, n, gpus = residents.pods[pid]
        stay = choices[pid].get((n, gpus))
        moved.append(1 - stay if stay is not None else 1)
    model.add(sum(moved) <= options.max_moves)
    model.minimize(sum(moved))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = options.budget_ms / 1000.0
    if solver.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    moves = []
    for pid in movers:
        _, source, source_gpus = residents.pods[pid]
        (node, gpus), = [k for k, v in choices[pid].items() if solver.value(v)]
        if (node, gpus) != (source, source_gpus):
            moves.append(Move(pid, source, source_gpus, node, gpus))
    (node, gpus), = [k for k, v in choices[-1].items() if solver.value(v)]
    return moves, node, gpus


def _placement_vars(model: cp_model.CpModel, state: ClusterState, pod: PodRequest, nodes: list[int],
                    gpu_load: dict, cpu_load: dict, mem_load: dict) -> dict:
    """One Boolean per (node, GPUs) the pod may take: each GPU for a sharing pod, each k-subset of GPUs for a
    k-GPU pod (at most 70 on an 8-GPU node), the empty tuple for a CPU-only pod."""
    out: dict[tuple[int, tuple[int, ...]], cp_model.IntVar] = {}
    for n in nodes:
        if state.cpu_capacity[n] < pod.cpu_milli or state.memory_capacity[n] < pod.memory_mib:
            continue
        if pod.num_gpu and (not state.model_bit[n] & pod.model_mask or state.gpu_count[n] < pod.num_gpu):
            continue
        count = int(state.gpu_count[n])
        if pod.num_gpu == 0:
            options = [()]
        elif pod.is_sharing:
            options = [(g,) for g in range(count)]
        else:
            options = [tuple(c) for c in _combinations(count, pod.num_gpu)]
        for gpus in options:
            v = out[n, gpus] = model.new_bool_var("")
            cpu_load[n].append(pod.cpu_milli * v)
            mem_load[n].append(pod.memory_mib * v)
            for g in gpus:
                gpu_load.setdefault((n, g), []).append(pod.gpu_milli * v)
    return out


def _combinations(n: int, k: int) -> list[tuple[int, ...]]:
    return list(combinations(range(n), k))


def apply_moves(state: ClusterState, residents: Residents, moves: list[Move]) -> None:
    """Release every mover, then bind each where the solution put it (bind validates every placement)."""
    pods = {m.pod: residents.pods[m.pod][0] for m in moves}
    for m in moves:
        state.release(m.source, pods[m.pod], m.source_gpus)
        residents.remove(m.pod)
    for m in moves:
        state.bind(m.node, pods[m.pod], m.gpus)
        residents.add(m.pod, pods[m.pod], m.node, m.gpus)


class Fallback:
    """The fallback as the simulator uses it: residents tracked, a repacking tried when a pod would fail."""

    def __init__(self, state: ClusterState, options: FallbackOptions) -> None:
        self.state, self.options = state, options
        self.residents = Residents()
        self.stats = FallbackStats()

    def placed(self, pod_id: int, pod: PodRequest, node: int, gpus: tuple[int, ...]) -> None:
        self.residents.add(pod_id, pod, node, gpus)

    def rescue(self, pod_id: int, pod: PodRequest) -> tuple[int, tuple[int, ...]] | None:
        """Make room for `pod` and bind it; its node and GPUs, or None when no repacking was found."""
        started = time.perf_counter()
        self.stats.calls += 1
        found = make_room(self.state, self.residents, pod, self.options)
        if found is not None:
            moves, node, gpus = found
            apply_moves(self.state, self.residents, moves)
            self.state.bind(node, pod, gpus)
            self.residents.add(pod_id, pod, node, gpus)
            self.stats.placed += 1
            self.stats.moves += len(moves)
        self.stats.seconds.append(time.perf_counter() - started)
        return None if found is None else (found[1], found[2])
