"""The vetted feature library policies may import: GPU fragmentation as the FGD paper defines it.

A node's fragmentation, measured against the target workload, is the GPU milli that a pod drawn from that
workload could not use, in expectation: for each shape, all the node's idle GPU milli if the shape cannot run
there (wrong model, too little CPU, not enough GPUs with room), otherwise the idle milli of the GPUs too small
for it. Computing it for every candidate of every pod is the hot path of FGD, so results are cached per
(node, node version) and per pod shape: a placement changes one node, so almost everything is reused.
"""

from __future__ import annotations

import math

import numpy as np

from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK, MILLI
from policyforge.tasks.k8s_gpu.views import ClusterView, NodesView, NodeView, PodView
from policyforge.tasks.k8s_gpu.workload import TargetWorkload

__all__ = [
    "fragmentation",
    "fragmentation_after",
    "fgd_score",
    "fgd_gpu",
    "cluster_fragmentation",
    "sigmoid",
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
    return per_shape @ workload.probability


class FragmentationCache:
    """Per-run memo of node fragmentation and of hypothetical placements, keyed by node version."""

    def __init__(self, num_nodes: int) -> None:
        self.before = np.zeros(num_nodes)
        self.before_version = np.full(num_nodes, -1, np.int64)
        self.after: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _cache(cluster: ClusterView) -> FragmentationCache:
    return cluster._feature_cache("fragmentation", lambda: FragmentationCache(len(cluster)))


def _before(cluster: ClusterView, index: np.ndarray) -> np.ndarray:
    state, cache = cluster._state, _cache(cluster)
    stale = index[cache.before_version[index] != state.version[index]]
    if len(stale):
        cache.before[stale] = _fragmentation(state.cpu_free[stale], state.gpu_free[stale],
                                             state.model_bit[stale], cluster.workload)
        cache.before_version[stale] = state.version[stale]
    return cache.before[index]


def _after_per_gpu(pod: PodView, cluster: ClusterView, index: np.ndarray) -> np.ndarray:
    """Fragmentation after placing `pod` on each node of `index`; for a sharing pod one column per GPU
    (inf where the GPU cannot take it), otherwise a single column (the default GPU choice)."""
    state, cache = cluster._state, _cache(cluster)
    key = (pod.cpu_milli, pod.num_gpu, pod.gpu_milli, pod.model_mask)
    width = state.max_gpus if pod.is_sharing else 1
    entry = cache.after.get(key)
    if entry is None:
        entry = (np.full(len(state), -1, np.int64), np.zeros((len(state), width)), np.zeros(0))
        cache.after[key] = entry
    versions, values, _ = entry
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
    before = _before(cluster, index)
    after = _after_per_gpu(pod, cluster, index)
    with np.errstate(over="ignore"):
        score = np.floor(sigmoid((before[:, None] - after) / 1000.0) * 100.0)
    return np.where(np.isfinite(after), score, -1.0)


def fgd_score(pod: PodView, nodes: NodesView, cluster: ClusterView) -> np.ndarray:
    """FGD's node score: sigmoid of the fragmentation the placement removes, as an integer 0..100;
    a sharing pod is scored on its best GPU."""
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
