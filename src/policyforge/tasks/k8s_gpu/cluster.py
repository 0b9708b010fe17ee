"""The mechanism's state of a GPU cluster: what is free on every node and GPU, and the only code that changes it.

Policies never see this object; they get read-only views (views.py). Every change goes through `bind` or
`release`, which validate the placement, so no resource can be over-committed whatever a policy returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policyforge.tasks.k8s_gpu.trace import MILLI, NodeTable


@dataclass(frozen=True, slots=True)
class PodRequest:
    """One pod's request, the unit the engine places. `gpu_milli` is per GPU."""

    cpu_milli: int
    memory_mib: int
    num_gpu: int
    gpu_milli: int
    model_mask: int

    @property
    def is_sharing(self) -> bool:
        return self.num_gpu == 1 and self.gpu_milli < MILLI

    @property
    def total_gpu_milli(self) -> int:
        return self.num_gpu * self.gpu_milli


class PlacementError(Exception):
    """A placement that would over-commit a resource or names GPUs that do not exist; a bug or a bad policy."""


class ClusterState:
    """Free CPU, memory and per-GPU milli of every node, with counters kept in step for fast filtering."""

    def __init__(self, nodes: NodeTable) -> None:
        self.nodes = nodes
        n = len(nodes)
        self.max_gpus = max(1, int(nodes.gpu_count.max(initial=0)))
        self.cpu_capacity = nodes.cpu_milli.copy()
        self.memory_capacity = nodes.memory_mib.copy()
        self.gpu_count = nodes.gpu_count.copy()
        self.gpu_model = nodes.gpu_model.copy()
        self.model_bit = np.where(self.gpu_model >= 0, np.left_shift(1, np.maximum(self.gpu_model, 0)), 0)
        self.gpu_exists = np.arange(self.max_gpus)[None, :] < self.gpu_count[:, None]
        self.cpu_free = self.cpu_capacity.copy()
        self.memory_free = self.memory_capacity.copy()
        self.gpu_free = np.where(self.gpu_exists, MILLI, 0).astype(np.int64)
        self.full_free_gpus = self.gpu_count.copy()
        self.max_gpu_free = np.where(self.gpu_count > 0, MILLI, 0).astype(np.int64)
        self.gpu_free_total = self.gpu_count * MILLI
        self.pod_count = np.zeros(n, np.int64)
        self.sharing_pods = np.zeros(n, np.int64)
        self.whole_gpu_pods = np.zeros((n, self.max_gpus), np.int64)
        """Column k-1 counts the pods on a node that hold k whole GPUs (GpuClustering groups by this)."""
        self.version = np.zeros(n, np.int64)
        """Bumped on every change of a node, so caches keyed on (node, version) stay correct."""
        self.total_gpu_milli = int(self.gpu_count.sum()) * MILLI
        self._model_ok: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.cpu_free)

    @property
    def allocated_gpu_milli(self) -> int:
        return self.total_gpu_milli - int(self.gpu_free_total.sum())

    def feasible(self, pod: PodRequest) -> np.ndarray:
        """Indices of nodes that can host `pod`: CPU and memory fit (inclusive), GPU model, GPU capacity."""
        ok = self.cpu_free >= pod.cpu_milli
        ok &= self.memory_free >= pod.memory_mib
        if pod.num_gpu > 0:
            model_ok = self._model_ok.get(pod.model_mask)
            if model_ok is None:
                model_ok = self._model_ok[pod.model_mask] = (self.model_bit & pod.model_mask) != 0
            ok &= model_ok
            if pod.gpu_milli < MILLI:
                ok &= self.max_gpu_free >= pod.gpu_milli
            else:
                ok &= self.full_free_gpus >= pod.num_gpu
        return ok.nonzero()[0]

    def default_gpus(self, node: int, pod: PodRequest) -> tuple[int, ...]:
        """Best fit: a sharing pod takes the tightest GPU that fits, a whole-GPU pod the lowest free indices."""
        if pod.num_gpu == 0:
            return ()
        free = self.gpu_free[node, : self.gpu_count[node]]
        if pod.gpu_milli < MILLI:
            fits = np.flatnonzero(free >= pod.gpu_milli)
            if len(fits) == 0:
                raise PlacementError(f"node {node} has no GPU with {pod.gpu_milli} milli free")
            return (int(fits[np.argmin(free[fits])]),)
        whole = np.flatnonzero(free == MILLI)
        if len(whole) < pod.num_gpu:
            raise PlacementError(f"node {node} has {len(whole)} free GPUs, pod needs {pod.num_gpu}")
        return tuple(int(g) for g in whole[: pod.num_gpu])

    def check_placement(self, node: int, pod: PodRequest, gpus: tuple[int, ...]) -> None:
        """Raise PlacementError unless `pod` fits on `node` using exactly `gpus`."""
        if not 0 <= node < len(self):
            raise PlacementError(f"node index {node} out of range")
        if self.cpu_free[node] < pod.cpu_milli or self.memory_free[node] < pod.memory_mib:
            raise PlacementError(f"node {node} lacks CPU or memory for the pod")
        if len(gpus) != pod.num_gpu:
            raise PlacementError(f"pod needs {pod.num_gpu} GPUs, placement names {len(gpus)}")
        if pod.num_gpu == 0:
            return
        if not self.model_bit[node] & pod.model_mask:
            raise PlacementError(f"node {node}'s GPU model is not one the pod accepts")
        if len(set(gpus)) != len(gpus):
            raise PlacementError(f"GPU indices repeat: {gpus}")
        for g in gpus:
            if not 0 <= g < self.gpu_count[node]:
                raise PlacementError(f"node {node} has no GPU {g}")
            if self.gpu_free[node, g] < pod.gpu_milli:
                raise PlacementError(f"GPU {g} of node {node} has {self.gpu_free[node, g]} milli free, pod needs {pod.gpu_milli}")

    def bind(self, node: int, pod: PodRequest, gpus: tuple[int, ...]) -> None:
        """Place `pod` on `node` and `gpus`, after validating that nothing is over-committed."""
        self.check_placement(node, pod, gpus)
        self.cpu_free[node] -= pod.cpu_milli
        self.memory_free[node] -= pod.memory_mib
        for g in gpus:
            self.gpu_free[node, g] -= pod.gpu_milli
        self._count(node, pod, +1)
        self._refresh(node)

    def release(self, node: int, pod: PodRequest, gpus: tuple[int, ...]) -> None:
        """Return what a departing pod held; refuses to free more than a node has."""
        if self.cpu_free[node] + pod.cpu_milli > self.cpu_capacity[node] or \
                self.memory_free[node] + pod.memory_mib > self.memory_capacity[node]:
            raise PlacementError(f"releasing more CPU or memory than node {node} has")
        for g in gpus:
            if self.gpu_free[node, g] + pod.gpu_milli > MILLI:
                raise PlacementError(f"releasing more than GPU {g} of node {node} holds")
        self.cpu_free[node] += pod.cpu_milli
        self.memory_free[node] += pod.memory_mib
        for g in gpus:
            self.gpu_free[node, g] += pod.gpu_milli
        self._count(node, pod, -1)
        self._refresh(node)

    def _count(self, node: int, pod: PodRequest, delta: int) -> None:
        self.pod_count[node] += delta
        if pod.is_sharing:
            self.sharing_pods[node] += delta
        elif pod.num_gpu:
            self.whole_gpu_pods[node, pod.num_gpu - 1] += delta

    def _refresh(self, node: int) -> None:
        row = self.gpu_free[node].tolist()  # a few GPUs: Python is quicker than three numpy reductions
        self.full_free_gpus[node] = row.count(MILLI)
        self.max_gpu_free[node] = max(row)
        self.gpu_free_total[node] = sum(row)
        self.version[node] += 1

    def check_invariants(self) -> None:
        """Assert that no resource is over-committed and the counters agree with the per-GPU state."""
        assert (self.cpu_free >= 0).all() and (self.cpu_free <= self.cpu_capacity).all()
        assert (self.memory_free >= 0).all() and (self.memory_free <= self.memory_capacity).all()
        assert (self.gpu_free >= 0).all() and (self.gpu_free <= MILLI).all()
        assert (self.gpu_free[~self.gpu_exists] == 0).all()
        assert (self.full_free_gpus == (self.gpu_free == MILLI).sum(1)).all()
        assert (self.gpu_free_total == self.gpu_free.sum(1)).all()
        assert (self.max_gpu_free == self.gpu_free.max(1)).all()
        assert (self.pod_count >= 0).all() and (self.sharing_pods >= 0).all() and (self.whole_gpu_pods >= 0).all()
