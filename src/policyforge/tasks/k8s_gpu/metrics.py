"""Metrics of a run: allocation and fragmentation against arrived load (inflation), utilisation over
simulated time and waiting times (replay).

Curves follow the FGD paper's analysis scripts: one sample per arriving pod, the arrived GPU request (failed
pods included) as a percent of capacity rounded to a whole percent, and the mean of the samples in a bucket
(an empty bucket borrows its neighbours within one percent). Allocation is therefore measured per arrived
load, never per event count, so a policy that fails more pods cannot look better by it.
"""

from __future__ import annotations

import numpy as np

from policyforge.tasks.k8s_gpu.cluster import ClusterState
from policyforge.tasks.k8s_gpu.features import _fragmentation
from policyforge.tasks.k8s_gpu.workload import TargetWorkload

MAX_ARRIVED_PERCENT = 130


def arrived_percent(arrived_milli: np.ndarray, total_gpu_milli: int) -> np.ndarray:
    """Arrived GPU request as a whole percent of capacity (round half to even, as the paper's scripts)."""
    return np.round(arrived_milli * 100.0 / total_gpu_milli)


def bucket_means(percent: np.ndarray, values: np.ndarray, top: int = MAX_ARRIVED_PERCENT) -> np.ndarray:
    """Mean of `values` per whole arrived percent 0..top; an empty bucket takes the mean over +-1 percent,
    and stays NaN if that is empty too. NaN samples are ignored."""
    out = np.full(top + 1, np.nan)
    valid = ~np.isnan(values)
    percent, values = percent[valid], values[valid]
    index = percent.astype(np.int64)
    inside = (index >= 0) & (index <= top + 1)
    sums = np.bincount(index[inside], weights=values[inside], minlength=top + 2)
    counts = np.bincount(index[inside], minlength=top + 2)
    for p in range(top + 1):
        if counts[p]:
            out[p] = sums[p] / counts[p]
        else:
            lo, hi = max(p - 1, 0), p + 2
            n = counts[lo:hi].sum()
            if n:
                out[p] = sums[lo:hi].sum() / n
    return out


class FragmentationRecorder:
    """Cluster fragmentation after every step, computed in one vectorised pass at the end.

    A placement changes one node, so the run only records that node's new state (a few array writes);
    `totals()` then evaluates all recorded states at once and accumulates the per-node changes.
    """

    def __init__(self, state: ClusterState, workload: TargetWorkload, capacity: int) -> None:
        self.state = state
        self.workload = workload
        self.initial = _fragmentation(state.cpu_free, state.gpu_free, state.model_bit, workload)
        self.nodes = np.full(capacity, -1, np.int64)
        self.cpu = np.zeros(capacity, np.int64)
        self.gpus = np.zeros((capacity, state.max_gpus), np.int64)

    def record(self, step: int, node: int) -> None:
        """Remember the state of `node`, which changed at `step`."""
        self.nodes[step] = node
        self.cpu[step] = self.state.cpu_free[node]
        self.gpus[step] = self.state.gpu_free[node]

    def totals(self) -> np.ndarray:
        """The cluster's fragmented GPU milli after each step."""
        changed = np.flatnonzero(self.nodes >= 0)
        nodes = self.nodes[changed]
        values = _fragmentation(self.cpu[changed], self.gpus[changed], self.state.model_bit[nodes], self.workload)
        last = self.initial.copy()
        deltas = np.empty(len(changed))
        for k, (node, value) in enumerate(zip(nodes.tolist(), values.tolist(), strict=True)):
            deltas[k] = value - last[node]
            last[node] = value
        steps = np.zeros(len(self.nodes))
        steps[changed] = deltas
        return float(self.initial.sum()) + np.cumsum(steps)


def time_weighted_mean(times: np.ndarray, values: np.ndarray, end: float) -> float:
    """Mean of a step function that takes values[i] from times[i] until the next time (or `end`)."""
    if len(times) == 0:
        return 0.0
    spans = np.diff(np.append(times, end))
    duration = end - times[0]
    if duration <= 0:
        return float(values[-1])
    return float((spans * values).sum() / duration)
