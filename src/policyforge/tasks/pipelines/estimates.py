"""What a policy is told about an operator: estimates, never the truth.

Each true need (peak memory, single-CPU CPU seconds, I/O seconds) is multiplied by its own lognormal factor
(median 1, `sigma` of its logarithm): errors are relative, as real estimators' are ("20% high", "2x low"),
and never negative. Draws come from one generator seeded per run, in operator order, so the same workload
and seed give every policy the same estimates.
"""

from __future__ import annotations

import numpy as np

from policyforge.tasks.pipelines.model import Operator


def truth(op: Operator) -> tuple[float, float, float, str]:
    """(peak memory GB, single-CPU CPU seconds, I/O seconds, dominant scaling curve) of an operator. The
    dominant curve is that of its segment with the most single-CPU work: it decides how CPUs help."""
    segments = op.segments
    if len(segments) == 1:
        s = segments[0]
        return s.peak_memory_gb, s.baseline_cpu_seconds, s.io_seconds, s.cpu_scaling
    return (max(s.peak_memory_gb for s in segments), sum(s.baseline_cpu_seconds for s in segments),
            sum(s.io_seconds for s in segments), max(segments, key=lambda s: s.baseline_cpu_seconds).cpu_scaling)


def noisy(values: np.ndarray, sigma: float, seed: int | np.random.Generator) -> np.ndarray:
    """Each value times an independent lognormal(0, sigma) factor, rounded to 6 decimals (rows: operators)."""
    array = np.asarray(values, float).reshape(-1, 3)
    if sigma > 0:
        array = array * np.random.default_rng(seed).lognormal(0.0, sigma, size=array.shape)
    return np.round(array, 6)
