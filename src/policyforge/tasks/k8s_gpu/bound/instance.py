"""The offline packing problem behind the bound: which pods arrived, aggregated into what is interchangeable.

Why aggregate: 1,213 nodes fall into 15 types (CPU, memory, GPU count, GPU model) and ~7,000 GPU pods into
~130 shapes (CPU, memory, GPU count, GPU milli, allowed models). Nodes of one type and pods of one shape are
interchangeable, so a model over types and shapes has the same optimum as one over nodes and pods but is
orders of magnitude smaller. CPU-only pods are dropped: they allocate no GPU and any subset may be placed,
so leaving them out never lowers the optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policyforge.errors import PolicyforgeError
from policyforge.tasks.k8s_gpu.cluster import PodRequest
from policyforge.tasks.k8s_gpu.engine import pod_requests
from policyforge.tasks.k8s_gpu.metrics import arrived_percent
from policyforge.tasks.k8s_gpu.simulate import Streams
from policyforge.tasks.k8s_gpu.trace import MILLI, NodeTable, PodTable
from policyforge.tasks.k8s_gpu.workload import inflate


@dataclass(frozen=True, slots=True)
class NodeType:
    """Nodes with identical capacity and GPU model; `members` are their indices in the NodeTable."""

    cpu_milli: int
    memory_mib: int
    gpus: int
    model: int
    members: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def model_bit(self) -> int:
        return 1 << self.model if self.model >= 0 and self.gpus > 0 else 0


@dataclass(frozen=True, slots=True)
class PodShape:
    """Pods with an identical request; `count` of them arrived."""

    request: PodRequest
    count: int

    @property
    def value(self) -> int:
        """GPU milli the shape allocates when placed: the objective coefficient."""
        return self.request.total_gpu_milli


@dataclass(frozen=True)
class PackingInstance:
    """Node types and GPU pod shapes of one offline packing problem, with the capacity it is measured on."""

    nodes: NodeTable
    types: tuple[NodeType, ...]
    shapes: tuple[PodShape, ...]
    capacity_milli: int
    arrived_milli: int
    """GPU milli requested by every arrived pod, the trivial upper bound."""

    def fits(self, t: int, s: int) -> bool:
        """Whether one pod of shape `s` fits an empty node of type `t` (resources and GPU model)."""
        node, pod = self.types[t], self.shapes[s].request
        if pod.cpu_milli > node.cpu_milli or pod.memory_mib > node.memory_mib or pod.num_gpu > node.gpus:
            return False
        return pod.num_gpu == 0 or bool(node.model_bit & pod.model_mask)

    def compatible(self, t: int) -> list[int]:
        return [s for s in range(len(self.shapes)) if self.fits(t, s)]


def node_types(nodes: NodeTable) -> tuple[NodeType, ...]:
    """GPU nodes grouped by (CPU, memory, GPUs, model), in order of first appearance (deterministic)."""
    groups: dict[tuple[int, int, int, int], list[int]] = {}
    for i, key in enumerate(zip(nodes.cpu_milli.tolist(), nodes.memory_mib.tolist(), nodes.gpu_count.tolist(),
                                nodes.gpu_model.tolist(), strict=True)):
        if key[2] > 0:
            groups.setdefault(key, []).append(i)
    return tuple(NodeType(c, m, g, model, tuple(members)) for (c, m, g, model), members in groups.items())


def aggregate(nodes: NodeTable, requests: list[PodRequest]) -> PackingInstance:
    """The packing instance of these pods on this cluster (GPU pods only, grouped by shape)."""
    types = node_types(nodes)
    capacity = int(nodes.gpu_count.sum()) * MILLI
    if capacity == 0:
        raise PolicyforgeError(f"{nodes.source}: the cluster has no GPUs, so a GPU allocation bound is undefined")
    counts: dict[PodRequest, int] = {}
    for pod in requests:
        if pod.num_gpu > 0:
            counts[pod] = counts.get(pod, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[0].total_gpu_milli, kv[0].cpu_milli, kv[0].memory_mib,
                                                     kv[0].model_mask))
    shapes = tuple(PodShape(pod, n) for pod, n in ordered)
    arrived = sum(pod.total_gpu_milli for pod in requests)
    instance = PackingInstance(nodes, types, shapes, capacity, arrived)
    usable = tuple(s for i, s in enumerate(shapes) if any(instance.fits(t, i) for t in range(len(types))))
    return PackingInstance(nodes, types, usable, capacity, arrived)


def arrival_prefix(nodes: NodeTable, pods: PodTable, seed: int, tune: float, percent: int) -> list[PodRequest]:
    """The pods of the FGD experiment's arrival sequence (seed, tune) that arrived by `percent` % of capacity.

    The simulator's allocation at p% is the mean over pods whose arrived request rounds to p (or to p +- 1
    when that bucket is empty), so the prefix runs to the last pod rounding to p, or to p + 1 when no pod
    rounds to p: every sample in that mean is then a placement of a subset of the prefix, and a bound on the
    prefix bounds the figure the simulator reports.
    """
    capacity = int(nodes.gpu_count.sum()) * MILLI
    sequence = pod_requests(inflate(pods, capacity, tune, Streams.of(seed).workload))
    milli = np.fromiter((p.total_gpu_milli for p in sequence), np.int64, len(sequence))
    rounded = arrived_percent(np.cumsum(milli), capacity)
    limit = percent if (rounded == percent).any() else percent + 1
    return sequence[: int(np.searchsorted(rounded, limit, side="right"))]
