"""The vetted feature library policies may import: GPU fragmentation as the FGD paper defines it.

A node's fragmentation, measured against the target workload, is the GPU milli that a pod drawn from that
workload could not use, in expectation: for each shape, all the node's idle GPU milli if the shape cannot run
there (wrong model, too little CPU, not enough GPUs with room), otherwise the idle milli of the GPUs too small
for it. Computing it for every candidate of every pod is the hot path of FGD, so results are cached per
(node, node version) and per pod shape: a placement changes one node, so almost everything is reused.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

import numpy as np

from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK, KNOWN_GPU_MODELS, MILLI
from policyforge.tasks.k8s_gpu.views import ClusterView, NodesView, NodeView, PodView
from policyforge.tasks.k8s_gpu.workload import TargetWorkload

__all__ = [
    "fragmentation",
    "fragmentation_after",
    "fgd_score",
    "fgd_gpu",
    "cluster_fragmentation",
    "sigmoid",
    "cpu_left_percent",
    "memory_left_percent",
    "tightest_gpu_free",
    "partial_gpus",
    "partial_gpu_free",
    "same_kind_pods",
    "gpu_pod_kinds",
    "pod_model_share",
    "model_demand_share",
    "model_free_share",
    "model_scarcity",
    "cpu_gpu_balance",
    "workload_cpu_only_share",
    "workload_sharing_share",
    "workload_multi_gpu_share",
    "workload_constrained_share",
]


def sigmoid(x: np.ndarray | float) -> np.ndarray | float:
    """1 / (1 + e^-x), elementwise."""
    if isinstance(x, np.ndarray):
        return 1.0 / (1.0 + np.exp(-x))
    return 1.0 / (1.0 + math.exp(-x))


def _fragmentation(cpu_free: np.ndarray, gpu_free: np.ndarray, model_bit: np.ndarray,
                   workload: TargetWorkload) -> np.ndarray:
    """Expected fragmented GPU milli for node states given as arrays; `gpu_free` has GPUs on the last axis.

    Leading axes are free: cpu_free and model_bit have the shape of gpu_free without its last axis.
    """
    total = gpu_free.sum(-1).astype(np.float64)
    m = workload.gpu_milli
    fits = gpu_free[..., None] >= m  # (..., G, S)
    enough_gpus = fits.sum(-2) >= np.maximum(workload.num_gpu, 1)  # (..., S)
    cpu_ok = cpu_free[..., None] >= workload.cpu_milli
    access = ((model_bit[..., None] & workload.model_mask) != 0) | (workload.model_mask == ALL_MODELS_MASK)
    satisfied = enough_gpus & cpu_ok & access & (m > 0)
    too_small = np.where(fits, 0, gpu_free[..., None]).sum(-2)  # idle milli on GPUs too small for the shape
    per_shape = np.where(satisfied, too_small, total[..., None])
    return _expected(per_shape, workload.probability)


def _expected(per_shape: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """sum_s per_shape[..., s] * probability[s], added left to right in shape order (cumsum is sequential).

    Not `per_shape @ probability`: BLAS adds in an order that depends on the CPU's kernel and on how many rows
    are computed together (rows of a batch of 4 differ in the last bit from the same row alone), so a node's
    fragmentation would depend on which other nodes happened to be stale with it. Left to right is a function
    of the node's state alone, on any machine, and the compiled kernels (node_kernels.py) add in this order."""
    if per_shape.shape[-1] == 0:
        return np.zeros(per_shape.shape[:-1])
    return np.cumsum(per_shape * probability, axis=-1)[..., -1]


class FragmentationCache:
    """Per-run memo of node fragmentation and of hypothetical placements, keyed by node version."""

    def __init__(self, num_nodes: int) -> None:
        self.before = np.zeros(num_nodes)
        self.before_version = np.full(num_nodes, -1, np.int64)
        self.after: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _cache(cluster: ClusterView) -> FragmentationCache:
    return cluster._feature_cache("fragmentation", lambda: FragmentationCache(len(cluster)))


@lru_cache(maxsize=1)
def _kernels():
    """The compiled per-node kernels (node_kernels.py), or None in a sandboxed child: its tree is read-only, so
    numba would compile them again in every child. The numpy code computes the same bits either way
    (tests/test_k8s_kernels.py); the kernels only spare FGD's many small numpy calls in the worker pool."""
    if os.environ.get("POLICYFORGE_SANDBOXED") == "1":
        return None
    from policyforge.tasks.k8s_gpu import node_kernels

    return node_kernels


def _workload_args(workload: TargetWorkload) -> tuple:
    return (workload.cpu_milli, workload.num_gpu, workload.gpu_milli, workload.model_mask, workload.probability,
            ALL_MODELS_MASK)


def _before(cluster: ClusterView, index: np.ndarray) -> np.ndarray:
    state, cache = cluster._state, _cache(cluster)
    kernels = _kernels()
    if kernels is not None:
        kernels.refresh_before(index, cache.before, cache.before_version, state.version, state.cpu_free,
                               state.gpu_free, state.model_bit, *_workload_args(cluster.workload))
        return cache.before[index]
    stale = index[cache.before_version[index] != state.version[index]]
    if len(stale):
        cache.before[stale] = _fragmentation(state.cpu_free[stale], state.gpu_free[stale],
                                             state.model_bit[stale], cluster.workload)
        cache.before_version[stale] = state.version[stale]
    return cache.before[index]


def _after_per_gpu(pod: PodView, cluster: ClusterView, index: np.ndarray, gathered: bool = True) -> np.ndarray:
    """Fragmentation after placing `pod` on each node of `index`; for a sharing pod one column per GPU
    (inf where the GPU cannot take it), otherwise a single column (the default GPU choice). With `gathered`
    False and the kernels at hand, the whole cache (a row per node) instead of the rows of `index`."""
    state, cache = cluster._state, _cache(cluster)
    key = (pod.cpu_milli, pod.num_gpu, pod.gpu_milli)  # all a hypothetical placement depends on
    width = state.max_gpus if pod.is_sharing else 1
    entry = cache.after.get(key)
    if entry is None:
        entry = (np.full(len(state), -1, np.int64), np.zeros((len(state), width)), np.zeros(0))
        cache.after[key] = entry
    versions, values, _ = entry
    kernels = _kernels()
    if kernels is not None:
        kernels.refresh_after(index, values, versions, state.version, state.cpu_free, state.gpu_free,
                              state.model_bit, pod.cpu_milli, pod.num_gpu, pod.gpu_milli, pod.is_sharing,
                              *_workload_args(cluster.workload))
        return values if gathered is False else values[index]
    stale = index[versions[index] != state.version[index]]
    if len(stale):
        cpu = state.cpu_free[stale] - pod.cpu_milli
        gpus = state.gpu_free[stale]
        bits = state.model_bit[stale]
        if pod.is_sharing:
            g = state.max_gpus
            trial = gpus[:, None, :] - pod.gpu_milli * np.eye(g, dtype=np.int64)[None]
            frag = _fragmentation(np.repeat(cpu[:, None], g, 1), trial, np.repeat(bits[:, None], g, 1),
                                  cluster.workload)
            values[stale] = np.where(gpus >= pod.gpu_milli, frag, np.inf)
        else:
            after = gpus.copy()
            if pod.num_gpu:
                # Whole-GPU pods take the lowest-index entirely free GPUs.
                free_rank = np.cumsum(after == MILLI, axis=1)
                after[(after == MILLI) & (free_rank <= pod.num_gpu)] = 0
            values[stale, 0] = _fragmentation(cpu, after, bits, cluster.workload)
        versions[stale] = state.version[stale]
    return values[index]


def fragmentation(nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """Each candidate's expected fragmented GPU milli now, against the cluster's target workload."""
    return _before(cluster, nodes._index).copy()


def fragmentation_after(pod: PodView, nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """Each candidate's expected fragmented GPU milli after taking `pod` on its least fragmenting GPU."""
    return _after_per_gpu(pod, cluster, nodes._index).min(axis=1)


def _fgd_scores_per_gpu(pod: PodView, cluster: ClusterView, index: np.ndarray) -> np.ndarray:
    kernels = _kernels()
    if kernels is not None:
        _before(cluster, index)
        return kernels.fgd_scores(index, _cache(cluster).before, _after_per_gpu(pod, cluster, index, False),
                                  FGD_STEPS)
    before = _before(cluster, index)
    after = _after_per_gpu(pod, cluster, index)
    score = np.searchsorted(FGD_STEPS, (before[:, None] - after) / 1000.0, side="right").astype(np.float64)
    return np.where(np.isfinite(after), score, -1.0)


def _fgd_steps() -> np.ndarray:
    """For k = 1..100, the least float x at which floor(sigmoid(x) * 100), computed in floating point with
    the C library's exp, reaches k (found by bisection down to neighbouring floats)."""
    def score(x: float) -> int:
        return math.floor(1.0 / (1.0 + math.exp(-x)) * 100.0)

    steps = []
    for k in range(1, 101):
        low, high = -50.0, 50.0  # score(-50) = 0 < k <= 100 = score(50)
        while True:
            middle = low + (high - low) / 2
            if middle in (low, high):
                break
            low, high = (low, middle) if score(middle) >= k else (middle, high)
        steps.append(high)
    return np.array(steps)


FGD_STEPS = _fgd_steps()
"""FGD's integer score, floor(sigmoid(x) * 100) in floating point, is the number of these steps at or below
x. Counting gives that integer on every machine and in the compiled kernels alike; np.exp does not (its
AVX-512 code and the C library's differ in the last bit, which moves the floor when sigmoid(x) * 100 lies
within a rounding error of an integer). Near x = 0 the float formula gives 50 down to x of about -3e-16,
as FGD's own arithmetic does; the steps keep that."""


def fgd_score(pod: PodView, nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """FGD's node score: sigmoid of the fragmentation the placement removes, as an integer 0..100;
    a sharing pod is scored on its best GPU."""
    kernels = _kernels()
    if kernels is not None:
        index = nodes._index
        _before(cluster, index)
        return kernels.fgd_best_scores(index, _cache(cluster).before, _after_per_gpu(pod, cluster, index, False),
                                       FGD_STEPS)
    return _fgd_scores_per_gpu(pod, cluster, nodes._index).max(axis=1)


def fgd_gpu(pod: PodView, node: NodeView, cluster: ClusterView) -> tuple[int, ...] | None:
    """The GPU FGD picks for a sharing pod on `node`: the best-scoring one, lowest index on ties.
    None for other pods (the default choice applies)."""
    if not pod.is_sharing:
        return None
    scores = _fgd_scores_per_gpu(pod, cluster, np.array([node.index]))[0]
    return (int(np.argmax(scores)),)


def cluster_fragmentation(cluster: ClusterView) -> float:
    """The whole cluster's expected fragmented GPU milli."""
    return float(_before(cluster, np.arange(len(cluster))).sum())


# --- what the other baselines and the winners of particular workloads read ----------------------------------
#
# Every function below returns one float per candidate, so the GP grammar takes it as a terminal. Values that
# do not depend on the node (a property of the pod or of the workload) are repeated K times.


def cpu_left_percent(pod: PodView, nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """CPU left on each candidate after placing `pod`, as a percent of the node's CPU capacity, computed in
    one division (so floor gives Kubernetes' integer `(free - request) * 100 // capacity` exactly)."""
    state, index = nodes._state, nodes._index
    return (state.cpu_free[index] - pod.cpu_milli) * 100 / np.maximum(state.cpu_capacity[index], 1)


def memory_left_percent(pod: PodView, nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """Memory left on each candidate after placing `pod`, as a percent of the node's memory capacity."""
    state, index = nodes._state, nodes._index
    return (state.memory_free[index] - pod.memory_mib) * 100 / np.maximum(state.memory_capacity[index], 1)


def tightest_gpu_free(pod: PodView, nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """Free GPU milli of the GPU the pod takes by default on each candidate: for a sharing pod the tightest
    GPU with room (its free milli minus the pod's is what stays stranded there); 1000 for a whole-GPU pod
    (it takes idle GPUs); 0 for a CPU-only pod."""
    k = len(nodes._index)
    if pod.num_gpu == 0:
        return np.zeros(k)
    if not pod.is_sharing:
        return np.full(k, float(MILLI))
    free = nodes._state.gpu_free[nodes._index]
    return np.where(free >= pod.gpu_milli, free, MILLI + 1).min(axis=1).astype(np.float64)


def partial_gpus(nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """GPUs of each candidate that are partly used (some but not all of their milli free): per-GPU
    fragmentation that only sharing pods can fill."""
    free = nodes._state.gpu_free[nodes._index]
    exists = nodes._state.gpu_exists[nodes._index]
    return ((free > 0) & (free < MILLI) & exists).sum(axis=1).astype(np.float64)


def partial_gpu_free(nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """Free GPU milli on each candidate's partly used GPUs (milli no whole-GPU pod can use)."""
    free = nodes._state.gpu_free[nodes._index]
    return np.where(free < MILLI, free, 0).sum(axis=1).astype(np.float64)


def same_kind_pods(pod: PodView, nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """Pods on each candidate of the pod's GPU kind (sharing one GPU, or holding as many whole GPUs as it
    asks for); 0 for a CPU-only pod. GpuClustering keeps kinds together."""
    state, index = nodes._state, nodes._index
    if pod.num_gpu == 0:
        return np.zeros(len(index))
    if pod.is_sharing:
        return state.sharing_pods[index].astype(np.float64)
    return state.whole_gpu_pods[index, pod.num_gpu - 1].astype(np.float64)


def gpu_pod_kinds(nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """How many GPU pod kinds each candidate holds (sharing, 1 whole GPU, 2 whole GPUs, ...)."""
    state, index = nodes._state, nodes._index
    return ((state.sharing_pods[index] > 0) + (state.whole_gpu_pods[index] > 0).sum(axis=1)).astype(np.float64)


class ModelTables:
    """Per-run constants of the GPU models: capacity per model and the workload's demand tied to each."""

    def __init__(self, cluster: ClusterView) -> None:
        state, w = cluster._state, cluster.workload
        models = len(KNOWN_GPU_MODELS)
        has_gpu = state.gpu_model >= 0
        self.capacity = np.bincount(state.gpu_model[has_gpu], state.gpu_count[has_gpu] * MILLI,
                                    minlength=models).astype(np.float64)
        bits = 1 << np.arange(models)
        demand = w.probability * w.num_gpu * w.gpu_milli  # expected GPU milli per arriving pod, per shape
        total = demand.sum()
        self.demand_share = np.zeros(models)
        for mask, d in zip(w.model_mask.tolist(), demand.tolist(), strict=True):
            if mask == ALL_MODELS_MASK or d <= 0:
                continue
            allowed = self.capacity * ((mask & bits) != 0)
            if allowed.sum() > 0:
                self.demand_share += d * allowed / allowed.sum()
        if total > 0:
            self.demand_share /= total
        p = w.probability
        gpu = w.num_gpu > 0
        self.cpu_only_share = float(p[~gpu].sum())
        self.sharing_share = float(p[(w.num_gpu == 1) & (w.gpu_milli < MILLI)].sum())
        self.multi_gpu_share = float(p[w.num_gpu > 1].sum())
        self.constrained_share = float(p[gpu & (w.model_mask != ALL_MODELS_MASK)].sum())
        gpu_cpu = (p * w.cpu_milli)[gpu].sum()
        gpu_milli = demand[gpu].sum()
        self.cpu_per_gpu_milli = gpu_cpu / gpu_milli if gpu_milli > 0 else 0.0
        """Expected CPU milli the workload's GPU pods ask per GPU milli."""


def _models(cluster: ClusterView) -> ModelTables:
    return cluster._feature_cache("models", lambda: ModelTables(cluster))


def _free_by_model(cluster: ClusterView) -> np.ndarray:
    state = cluster._state
    has_gpu = state.gpu_model >= 0
    return np.bincount(state.gpu_model[has_gpu], state.gpu_free_total[has_gpu],
                       minlength=len(KNOWN_GPU_MODELS)).astype(np.float64)


def _node_model_values(nodes: NodesView, per_model: np.ndarray) -> np.ndarray:
    model = nodes._state.gpu_model[nodes._index]
    return np.where(model >= 0, per_model[np.maximum(model, 0)], 0.0)


def pod_model_share(pod: PodView, nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """How specific the pod is: the share of the cluster's free GPU milli on models it accepts (1 for a pod
    that accepts any model or needs no GPU; small for a pod that can only use a scarce model)."""
    k = len(nodes._index)
    if pod.num_gpu == 0 or pod.model_mask == ALL_MODELS_MASK:
        return np.ones(k)
    free = _free_by_model(cluster)
    total = free.sum()
    accepted = free[(pod.model_mask >> np.arange(len(free))) & 1 == 1].sum()
    return np.full(k, accepted / total if total > 0 else 0.0)


def model_demand_share(nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """The share of the workload's expected GPU demand that only some models can serve and that falls to
    each candidate's model (a constrained shape's demand split over its models by capacity); 0 for a CPU
    node or a model no constrained pod asks for."""
    return _node_model_values(nodes, _models(cluster).demand_share)


def model_free_share(nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """Each candidate's GPU model's share of the cluster's free GPU milli (0 for a CPU node)."""
    free = _free_by_model(cluster)
    total = free.sum()
    return _node_model_values(nodes, free / total if total > 0 else free)


def model_scarcity(nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """How much of each candidate's model the pods that need it will want: model_demand_share over
    model_free_share (capped at 100). Above 1, pods tied to this model expect more of it than it has left
    relative to the cluster; placing an unconstrained pod there spends capacity only they can use."""
    free = _free_by_model(cluster)
    total = free.sum()
    share = free / total if total > 0 else free
    demand = _models(cluster).demand_share
    scarcity = np.where(demand > 0, np.minimum(demand / np.maximum(share, 1e-3), 100.0), 0.0)
    return _node_model_values(nodes, scarcity)


def cpu_gpu_balance(pod: PodView, nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """CPU left per GPU milli left on each candidate after placing `pod`, over what the workload's GPU pods
    ask per GPU milli: below 1 the node runs out of CPU before its GPUs (they strand), above 1 it has CPU to
    spare for CPU-only pods. Capped at 10 (also for a node left with no free GPU milli)."""
    state, index = nodes._state, nodes._index
    cpu = state.cpu_free[index] - pod.cpu_milli
    gpu = state.gpu_free_total[index] - pod.num_gpu * pod.gpu_milli
    need = _models(cluster).cpu_per_gpu_milli
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((gpu > 0) & (need > 0), cpu / (np.maximum(gpu, 1) * max(need, 1e-9)), 10.0)
    return np.minimum(ratio, 10.0)


def workload_cpu_only_share(nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """The target workload's share of CPU-only pods (the same for every candidate)."""
    return np.full(len(nodes._index), _models(cluster).cpu_only_share)


def workload_sharing_share(nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """The target workload's share of pods that share one GPU (the same for every candidate)."""
    return np.full(len(nodes._index), _models(cluster).sharing_share)


def workload_multi_gpu_share(nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """The target workload's share of pods asking for several whole GPUs (the same for every candidate)."""
    return np.full(len(nodes._index), _models(cluster).multi_gpu_share)


def workload_constrained_share(nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """The target workload's share of GPU pods tied to particular GPU models (the same for every candidate)."""
    return np.full(len(nodes._index), _models(cluster).constrained_share)
