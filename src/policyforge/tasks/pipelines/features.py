"""The feature library a pipelines policy may import: priorities and the CPU-scaling arithmetic.

Everything here is a pure function of what views expose (curve names, estimates), vectorised over CPU
counts so a policy can compare many sizes at once.
"""

from __future__ import annotations

import numpy as np

from policyforge.tasks.pipelines.model import BATCH, DISK_GB_PER_SECOND, INTERACTIVE, QUERY, SCALING

__all__ = ["QUERY", "INTERACTIVE", "BATCH", "PRIORITIES", "WEIGHTS", "DISK_GB_PER_SECOND", "CURVES",
           "cpu_seconds", "run_seconds", "useful_cpus", "suspend_seconds", "best_fit", "batch_to_suspend"]

PRIORITIES = (QUERY, INTERACTIVE, BATCH)
"""Most urgent first."""
WEIGHTS = {QUERY: 10.0, INTERACTIVE: 5.0, BATCH: 1.0}
"""The objective's weight of a completed pipeline of each priority."""
CURVES = tuple(SCALING)


def cpu_seconds(scaling: str, baseline_seconds, cpus):
    """Seconds of CPU work given `cpus` (scalar or array) for `baseline_seconds` of single-CPU work."""
    n = np.maximum(np.asarray(cpus, dtype=float), 1.0)
    curve = SCALING[scaling]
    if np.ndim(n) == 0:
        return float(curve(float(n), baseline_seconds))
    return np.array([curve(float(x), baseline_seconds) for x in n.ravel()], float).reshape(n.shape)


def run_seconds(op, cpus):
    """An operator's estimated run time with `cpus` CPUs: its I/O then its CPU work (from its estimates)."""
    return op.est_io_seconds + cpu_seconds(op.scaling, op.est_cpu_seconds, cpus)


def useful_cpus(scaling: str, max_cpus: int, gain: float = 0.05) -> int:
    """The fewest CPUs (up to `max_cpus`) beyond which one more CPU speeds the work up by less than `gain`
    (relative): 1 for const, 3 for linear3, 7 for linear7, and a judgement for unbounded curves."""
    previous = cpu_seconds(scaling, 1.0, 1)
    for n in range(2, max(1, int(max_cpus)) + 1):
        now = cpu_seconds(scaling, 1.0, n)
        if previous - now < gain * previous:
            return n - 1
        previous = now
    return max(1, int(max_cpus))


def suspend_seconds(ram_gb: float) -> float:
    """How long suspending a container holding `ram_gb` takes (its RAM is written out at 20 GB/s)."""
    return ram_gb / DISK_GB_PER_SECOND


def best_fit(free_cpu: list[int], free_ram: list[float], ram: float) -> int:
    """The pool with a free CPU and room for `ram` that is left with the least free RAM (the first on ties);
    -1 when none fits. Keeps large holes for large operators."""
    best, leftover = -1, None
    for i in range(len(free_cpu)):
        if free_cpu[i] >= 1 and free_ram[i] >= ram and (leftover is None or free_ram[i] - ram < leftover):
            best, leftover = i, free_ram[i] - ram
    return best


def batch_to_suspend(cluster, free_ram: list[float], needed_ram: float) -> list[int]:
    """At most one batch container, at an operator boundary, whose suspension leaves `needed_ram` free in
    its pool (given what is still free there): the preemption for a blocked urgent operator."""
    for c in cluster.suspendable:
        if c.priority == BATCH and free_ram[c.pool] + c.ram_gb >= needed_ram:
            return [c.id]
    return []
