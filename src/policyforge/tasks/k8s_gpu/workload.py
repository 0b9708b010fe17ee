"""Workloads: the target workload a policy may plan for, and the paper's inflation of a trace.

The target workload is FGD's "typical pods": the most frequent pod shapes of the trace, covering a share of
its GPU pods, renormalised to probabilities. Inflation reproduces the FGD experiment: pods in a seeded random
order, resampled with replacement until their GPU request reaches `tune` times the cluster's GPU capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policyforge.tasks.k8s_gpu.trace import PodTable


@dataclass(frozen=True)
class TargetWorkload:
    """Pod shapes with their probabilities; one row per shape, arrays read-only."""

    cpu_milli: np.ndarray
    num_gpu: np.ndarray
    gpu_milli: np.ndarray
    model_mask: np.ndarray
    probability: np.ndarray

    def __len__(self) -> int:
        return len(self.probability)

    def __post_init__(self) -> None:
        for array in (self.cpu_milli, self.num_gpu, self.gpu_milli, self.model_mask, self.probability):
            array.flags.writeable = False


def target_workload(pods: PodTable, coverage: float = 0.95, step: int = 1,
                    include_cpu_pods: bool = True) -> TargetWorkload:
    """FGD's typical pods: shapes by decreasing count, added `step` at a time until they cover `coverage`
    of the pods, renormalised. The paper's configuration counts CPU-only pods too (threshold 95%, step 1).

    A shape is (CPU, GPU count, GPU milli per GPU, allowed models); memory is not part of it, as in the paper.
    Ties in count are ordered by the larger shape first, so the result does not depend on input order.
    """
    keep = np.ones(len(pods), bool) if include_cpu_pods else pods.num_gpu > 0
    if not keep.any():
        keep = np.ones(len(pods), bool)
    keys = np.stack([pods.cpu_milli[keep], pods.gpu_milli[keep], pods.num_gpu[keep], pods.model_mask[keep]], 1)
    shapes, counts = np.unique(keys, axis=0, return_counts=True)
    # Decreasing count; among equal counts the lexicographically larger (cpu, milli, num, model) first.
    order = np.lexsort((-shapes[:, 3], -shapes[:, 2], -shapes[:, 1], -shapes[:, 0], -counts))
    shapes, counts = shapes[order], counts[order].astype(np.float64)
    total = counts.sum()
    taken, covered = 0, 0.0
    while covered < coverage * total and taken < len(counts):
        upto = min(taken + step, len(counts))
        covered += counts[taken:upto].sum()
        taken = upto
    chosen, weight = shapes[:taken], counts[:taken]
    return TargetWorkload(
        cpu_milli=chosen[:, 0].copy(), gpu_milli=chosen[:, 1].copy(), num_gpu=chosen[:, 2].copy(),
        model_mask=chosen[:, 3].copy(), probability=weight / weight.sum(),
    )


def inflate(pods: PodTable, total_gpu_milli: int, tune: float, rng: np.random.Generator) -> PodTable:
    """The paper's arrival sequence ("tune"): every trace pod once in a random order, then copies drawn
    uniformly with replacement and appended while the GPU request stays within `tune` x capacity.

    As in the paper's simulator the stop test adds the drawn pod's per-GPU milli (not its total) and is
    strict: the first draw that would pass the target is discarded and the sequence ends. tune <= 0 keeps
    only the shuffled trace.
    """
    by_name = np.array(sorted(range(len(pods)), key=pods.names.__getitem__), np.int64)
    order = by_name[rng.permutation(len(pods))]
    if tune <= 0:
        return pods.take(order)
    if pods.total_gpu_milli.sum() <= 0:
        raise ValueError("the workload requests no GPU, so it cannot be tuned to a GPU load")
    target = tune * total_gpu_milli
    totals = pods.total_gpu_milli
    filled = int(totals.sum())
    per_gpu, total, names = pods.gpu_milli.tolist(), totals.tolist(), by_name.tolist()
    extra: list[int] = []
    while True:
        pick = names[rng.integers(len(pods))]
        if filled + per_gpu[pick] > target:
            break
        filled += total[pick]
        extra.append(pick)
    return pods.take(np.concatenate([order, np.array(extra, np.int64)]))
