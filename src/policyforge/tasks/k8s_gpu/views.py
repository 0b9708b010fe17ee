"""Read-only views a policy sees: the pod, its candidate nodes, the whole cluster.

Every array a view hands out is a fresh read-only copy, so a policy can neither change the simulator's state
nor flip a flag to make it writable (numpy lets a view of a writable array be made writable again). Arrays are
gathered lazily: a policy pays only for what it reads. Names, shapes and units are declared in interface.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from policyforge.tasks.k8s_gpu.cluster import ClusterState, PodRequest
from policyforge.tasks.k8s_gpu.trace import KNOWN_GPU_MODELS, MILLI
from policyforge.tasks.k8s_gpu.workload import TargetWorkload


def _frozen(array: np.ndarray) -> np.ndarray:
    out = np.array(array, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, slots=True)
class PodView:
    """The pod being placed. `gpu_milli` is per GPU: 1000 is a whole GPU, less means it shares one GPU."""

    cpu_milli: int
    memory_mib: int
    num_gpu: int
    gpu_milli: int
    model_mask: int
    shape_id: int

    @property
    def total_gpu_milli(self) -> int:
        return self.num_gpu * self.gpu_milli

    @property
    def is_sharing(self) -> bool:
        return self.num_gpu == 1 and self.gpu_milli < MILLI

    @property
    def is_cpu_only(self) -> bool:
        return self.num_gpu == 0

    @property
    def allowed_models(self) -> tuple[str, ...]:
        return tuple(m for i, m in enumerate(KNOWN_GPU_MODELS) if self.model_mask >> i & 1)

    @staticmethod
    def of(request: PodRequest, shape_id: int) -> PodView:
        return PodView(request.cpu_milli, request.memory_mib, request.num_gpu, request.gpu_milli,
                       request.model_mask, shape_id)


class _ArrayView:
    """Shared lazy accessors over a set of node indices (all nodes, or the candidates)."""

    __slots__ = ("_state", "_index", "__dict__")

    def __init__(self, state: ClusterState, index: np.ndarray | None) -> None:
        self._state = state
        self._index = index

    def _take(self, array: np.ndarray) -> np.ndarray:
        if self._index is None:
            return _frozen(array)
        out = array[self._index]  # fancy indexing already copies
        out.flags.writeable = False
        return out

    @cached_property
    def cpu_free(self) -> np.ndarray:
        return self._take(self._state.cpu_free)

    @cached_property
    def cpu_capacity(self) -> np.ndarray:
        return self._take(self._state.cpu_capacity)

    @cached_property
    def memory_free(self) -> np.ndarray:
        return self._take(self._state.memory_free)

    @cached_property
    def memory_capacity(self) -> np.ndarray:
        return self._take(self._state.memory_capacity)

    @cached_property
    def gpu_count(self) -> np.ndarray:
        return self._take(self._state.gpu_count)

    @cached_property
    def gpu_free(self) -> np.ndarray:
        return self._take(self._state.gpu_free)

    @cached_property
    def gpu_free_total(self) -> np.ndarray:
        return self._take(self._state.gpu_free_total)

    @cached_property
    def full_free_gpus(self) -> np.ndarray:
        return self._take(self._state.full_free_gpus)

    @cached_property
    def max_gpu_free(self) -> np.ndarray:
        return self._take(self._state.max_gpu_free)

    @cached_property
    def gpu_model(self) -> np.ndarray:
        return self._take(self._state.gpu_model)

    @cached_property
    def pod_count(self) -> np.ndarray:
        return self._take(self._state.pod_count)

    @cached_property
    def sharing_pods(self) -> np.ndarray:
        return self._take(self._state.sharing_pods)

    @cached_property
    def whole_gpu_pods(self) -> np.ndarray:
        return self._take(self._state.whole_gpu_pods)


class NodesView(_ArrayView):
    """The candidate nodes that passed the filter; every array has one row per candidate."""

    __slots__ = ()

    @cached_property
    def index(self) -> np.ndarray:
        """Cluster-wide node index of each candidate."""
        return _frozen(self._index)

    def __len__(self) -> int:
        return len(self._index)


class ClusterView(_ArrayView):
    """Every node of the cluster, the target workload, and a seeded random generator for the policy."""

    __slots__ = ("_workload", "_rng", "_caches")

    def __init__(self, state: ClusterState, workload: TargetWorkload, rng: np.random.Generator,
                 caches: dict | None = None) -> None:
        super().__init__(state, None)
        self._workload = workload
        self._rng = rng
        self._caches = {} if caches is None else caches

    def _feature_cache(self, name: str, factory):
        """Per-run storage for the vetted feature library (policies cannot reach private names)."""
        cache = self._caches.get(name)
        if cache is None:
            cache = self._caches[name] = factory()
        return cache

    @property
    def workload(self) -> TargetWorkload:
        """The pod shapes the cluster expects and their probabilities (FGD's target workload)."""
        return self._workload

    @property
    def random(self) -> np.random.Generator:
        """A generator seeded from the run's seed: the only randomness a policy may use."""
        return self._rng

    @property
    def num_nodes(self) -> int:
        return len(self._state)

    @property
    def total_gpu_milli(self) -> int:
        return self._state.total_gpu_milli

    @property
    def allocated_gpu_milli(self) -> int:
        return self._state.allocated_gpu_milli

    def __len__(self) -> int:
        return len(self._state)


@dataclass(frozen=True, slots=True)
class NodeView:
    """One chosen node, for a policy's `choose_gpus`; `gpu_free` lists only the GPUs the node has."""

    index: int
    cpu_free: int
    memory_free: int
    gpu_model: int
    gpu_free: np.ndarray

    @staticmethod
    def of(state: ClusterState, node: int) -> NodeView:
        free = _frozen(state.gpu_free[node, : state.gpu_count[node]])
        return NodeView(node, int(state.cpu_free[node]), int(state.memory_free[node]),
                        int(state.gpu_model[node]), free)
