"""Inflation and the target workload follow the FGD paper's simulator."""

from __future__ import annotations

import numpy as np

from policyforge.tasks.k8s_gpu.trace import PodTable
from policyforge.tasks.k8s_gpu.workload import inflate, target_workload


def table(rows):
    """rows of (cpu, num_gpu, gpu_milli)."""
    a = np.array(rows, np.int64)
    n = len(rows)
    return PodTable(tuple(f"p{i:03d}" for i in range(n)), a[:, 0], np.ones(n, np.int64), a[:, 1], a[:, 2],
                    np.full(n, (1 << 18) - 1, np.int64), np.zeros(n), np.ones(n))


def test_inflation_keeps_every_trace_pod_then_adds_copies_up_to_the_target():
    pods = table([(1000, 1, 500), (2000, 1, 1000), (3000, 0, 0), (4000, 2, 1000)])
    capacity = 10_000
    out = inflate(pods, capacity, 1.3, np.random.default_rng(0))
    assert sorted(out.names[:4]) == sorted(pods.names)
    total = int(out.total_gpu_milli.sum())
    # Stops at the first draw whose per-GPU milli would pass the target: total stays within one draw's GPUs.
    assert total <= 1.3 * capacity + 1000
    assert total + 1000 > 1.3 * capacity - 2000


def test_inflation_is_a_function_of_the_seed():
    pods = table([(i * 100, 1, 100 + i) for i in range(50)])
    a = inflate(pods, 20_000, 1.3, np.random.default_rng(7))
    b = inflate(pods, 20_000, 1.3, np.random.default_rng(7))
    c = inflate(pods, 20_000, 1.3, np.random.default_rng(8))
    assert a.names == b.names and a.names != c.names


def test_target_workload_covers_95_percent_of_pods_with_the_most_frequent_shapes():
    rows = [(1000, 1, 500)] * 60 + [(2000, 1, 1000)] * 30 + [(3000, 0, 0)] * 6 + [(9, 1, 100)] * 4
    wl = target_workload(table(rows))
    assert len(wl) == 3  # 60 + 30 + 6 = 96% >= 95%
    assert np.allclose(wl.probability, np.array([60, 30, 6]) / 96)
    assert list(wl.gpu_milli) == [500, 1000, 0]
