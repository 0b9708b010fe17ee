"""The best offline packing found: a lower bound, realised on a real ClusterState so the simulator's own
`bind` checks every placement (no resource can be over-committed in a reported packing).

Two deterministic heuristics, both ending with a best-fit fill of every pod still unplaced:
- pattern_packing realises the pattern LP's choice of which pods go to which node type (GPU units by best fit
  decreasing, units spread over the type's nodes keeping CPU per free GPU high);
- rounded_packing rounds the configuration LP (column generation) solution node by node.
The second is usually within a few tenths of a point of the bound; the first seeds its columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policyforge.tasks.k8s_gpu.bound.configs import Config
from policyforge.tasks.k8s_gpu.bound.instance import PackingInstance
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PodRequest
from policyforge.tasks.k8s_gpu.trace import MILLI


@dataclass(frozen=True, slots=True)
class Placed:
    node: int
    pod: PodRequest
    gpus: tuple[int, ...]


@dataclass
class Packing:
    """An explicit placement of a subset of the instance's pods; `allocated_milli` is what it allocates."""

    placements: list[Placed]
    allocated_milli: int

    def verify(self, instance: PackingInstance) -> ClusterState:
        """Replay every placement on a fresh cluster (raises PlacementError on any over-commit) and check
        that no shape is used more often than it arrived."""
        state = ClusterState(instance.nodes)
        for p in self.placements:
            state.bind(p.node, p.pod, p.gpus)
        used: dict[PodRequest, int] = {}
        for p in self.placements:
            used[p.pod] = used.get(p.pod, 0) + 1
        arrived = {s.request: s.count for s in instance.shapes}
        for pod, n in used.items():
            if n > arrived.get(pod, 0):
                raise AssertionError(f"packing places {n} pods of a shape that arrived {arrived.get(pod, 0)} times")
        if state.allocated_gpu_milli != self.allocated_milli:
            raise AssertionError("packing's allocated milli disagrees with its placements")
        return state


def placement_order(instance: PackingInstance) -> list[int]:
    """Shapes hardest first: more GPUs, whole before sharing, more milli, more CPU, more memory."""
    return sorted(range(len(instance.shapes)), key=lambda s: (
        -instance.shapes[s].request.num_gpu, -instance.shapes[s].request.gpu_milli,
        -instance.shapes[s].request.cpu_milli, -instance.shapes[s].request.memory_mib, s))


def best_fit_node(state: ClusterState, pod: PodRequest, candidates: np.ndarray) -> int:
    """The candidate node the pod fills most tightly: least free milli left on the GPU a sharing pod takes
    (or fewest entirely free GPUs left for a whole-GPU pod), then least CPU left, then lowest index."""
    if pod.num_gpu == 0:
        key = state.cpu_free[candidates]
        return int(candidates[np.argmin(key)])
    if pod.gpu_milli < MILLI:
        free = state.gpu_free[candidates]
        room = np.where(free >= pod.gpu_milli, free, MILLI + 1).min(axis=1) - pod.gpu_milli
    else:
        room = state.full_free_gpus[candidates] - pod.num_gpu
    key = np.lexsort((candidates, state.cpu_free[candidates], room))
    return int(candidates[key[0]])


def bind_config(state: ClusterState, instance: PackingInstance, node: int, config: Config) -> list[Placed]:
    """Bind a configuration on `node`: sharing pods on their GPUs first, then whole-GPU pods on free GPUs."""
    out = []
    for g, gpu in enumerate(config.sharing):
        for s in gpu:
            out.append(Placed(node, instance.shapes[s].request, (g,)))
            state.bind(node, out[-1].pod, (g,))
    for s, n in config.whole:
        pod = instance.shapes[s].request
        for _ in range(n):
            gpus = state.default_gpus(node, pod)
            state.bind(node, pod, gpus)
            out.append(Placed(node, pod, gpus))
    return out


def gpu_units(instance: PackingInstance, quota: dict[int, int]) -> list[tuple[int, list[tuple[int, ...]]]]:
    """Pods of one node type grouped into units that must share a node: (GPUs, [shapes per GPU]).

    Whole-GPU pods are units of their GPU count; sharing pods are packed into GPUs by best fit decreasing
    (milli, then CPU), which is within a few slots of the bin-packing optimum on these sizes.
    """
    units: list[tuple[int, list[tuple[int, ...]]]] = []
    loads: list[int] = []
    shared: list[list[int]] = []
    for s in placement_order(instance):
        pod = instance.shapes[s].request
        for _ in range(quota.get(s, 0)):
            if pod.gpu_milli >= MILLI:
                units.append((pod.num_gpu, [(s,)]))
                continue
            room = [MILLI - load - pod.gpu_milli for load in loads]
            fits = [g for g, r in enumerate(room) if r >= 0]
            if fits:
                g = min(fits, key=lambda g: (room[g], g))
                loads[g] += pod.gpu_milli
                shared[g].append(s)
            else:
                loads.append(pod.gpu_milli)
                shared.append([s])
    units += [(1, [tuple(gpu)]) for gpu in shared]
    return units


def pattern_packing(instance: PackingInstance, quota: np.ndarray) -> Packing:
    """Realise the LP's per-type quotas: pack each type's pods into GPU units, give each unit (most GPUs
    and CPU first) to the node of its type that keeps the most CPU per free GPU, then fill."""
    state = ClusterState(instance.nodes)
    placements: list[Placed] = []
    left = np.array([s.count for s in instance.shapes], np.int64)
    for t, node_type in enumerate(instance.types):
        caps = {s: int(min(np.floor(quota[t, s] + 1e-6), left[s])) for s in instance.compatible(t)}
        members = np.array(node_type.members, np.int64)

        def demand(unit: tuple[int, list[tuple[int, ...]]]) -> tuple[int, int]:
            shapes = [instance.shapes[s].request for gpu in unit[1] for s in gpu]
            return sum(p.cpu_milli for p in shapes), sum(p.memory_mib for p in shapes)

        units = sorted(gpu_units(instance, caps), key=lambda u: (-u[0], -demand(u)[0]))
        for gpus, content in units:
            cpu, mem = demand((gpus, content))
            ok = (state.full_free_gpus[members] >= gpus) & (state.cpu_free[members] >= cpu) & \
                (state.memory_free[members] >= mem)
            if not ok.any():
                continue
            spare = (state.cpu_free[members] - cpu) / np.maximum(state.full_free_gpus[members] - gpus, 0.5)
            node = int(members[np.flatnonzero(ok)[np.argmax(spare[ok])]])
            for gpu in content:
                pod = instance.shapes[gpu[0]].request
                index = state.default_gpus(node, pod) if pod.gpu_milli >= MILLI else \
                    (int(np.flatnonzero(state.gpu_free[node, : state.gpu_count[node]] == MILLI)[0]),)
                for s in gpu:
                    state.bind(node, instance.shapes[s].request, index)
                    placements.append(Placed(node, instance.shapes[s].request, index))
                    left[s] -= 1
    return fill(instance, state, placements, left)


def fill(instance: PackingInstance, state: ClusterState, placements: list[Placed], left: np.ndarray) -> Packing:
    """Try every pod not yet placed, hardest first, by best fit in whatever room remains."""
    for s in placement_order(instance):
        pod = instance.shapes[s].request
        while left[s] > 0:
            feasible = state.feasible(pod)
            if len(feasible) == 0:
                break
            node = best_fit_node(state, pod, feasible)
            gpus = state.default_gpus(node, pod)
            state.bind(node, pod, gpus)
            placements.append(Placed(node, pod, gpus))
            left[s] -= 1
    return Packing(placements, state.allocated_gpu_milli)


def packing_configs(instance: PackingInstance, packing: Packing) -> list[Config]:
    """The configuration of every used node of a packing (columns to start column generation from)."""
    shape_of = {s.request: i for i, s in enumerate(instance.shapes)}
    type_of = {n: t for t, node_type in enumerate(instance.types) for n in node_type.members}
    per_node: dict[int, list[Placed]] = {}
    for p in packing.placements:
        per_node.setdefault(p.node, []).append(p)
    out = []
    for node, placed in sorted(per_node.items()):
        whole: dict[int, int] = {}
        gpus: dict[int, list[int]] = {}
        for p in placed:
            s = shape_of[p.pod]
            if p.pod.gpu_milli >= MILLI:
                whole[s] = whole.get(s, 0) + 1
            else:
                gpus.setdefault(p.gpus[0], []).append(s)
        out.append(Config(type_of[node], tuple(sorted(whole.items())),
                          tuple(tuple(sorted(gpus[g])) for g in sorted(gpus))))
    return out


def rounded_packing(instance: PackingInstance, columns: list[Config], weights: list[float]) -> Packing:
    """Round a configuration LP solution: each type's nodes take its configurations floor(weight) times,
    then the largest fractional parts while pods last, and the rest is filled by best fit."""
    state = ClusterState(instance.nodes)
    placements: list[Placed] = []
    left = np.array([s.count for s in instance.shapes], np.int64)
    for t, node_type in enumerate(instance.types):
        mine = [(w, c) for c, w in zip(columns, weights, strict=True) if c.type == t and w > 1e-6]
        whole = [(c, int(np.floor(w + 1e-6))) for w, c in mine]
        frac = sorted(((w - np.floor(w + 1e-6), i) for i, (w, _) in enumerate(mine)), reverse=True)
        plan = [c for c, k in whole for _ in range(k)] + [mine[i][1] for f, i in frac if f > 1e-6]
        free = list(node_type.members)
        for config in plan:
            if not free:
                break
            counts = config.counts()
            if any(left[s] < n for s, n in counts.items()):
                continue
            placements += bind_config(state, instance, free.pop(0), config)
            for s, n in counts.items():
                left[s] -= n
    return fill(instance, state, placements, left)


def exact_packing(instance: PackingInstance, configs: dict[int, Config]) -> Packing:
    """Bind the exact model's configuration on every node."""
    state = ClusterState(instance.nodes)
    placements: list[Placed] = []
    for node, config in sorted(configs.items()):
        placements += bind_config(state, instance, node, config)
    return Packing(placements, state.allocated_gpu_milli)
