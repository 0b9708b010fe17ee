"""Whole runs: determinism, the fragmentation record, replay's waiting and retrying."""

from __future__ import annotations

import numpy as np

from policyforge.tasks.k8s_gpu.cluster import ClusterState
from policyforge.tasks.k8s_gpu.engine import pod_requests
from policyforge.tasks.k8s_gpu.features import _fragmentation
from policyforge.tasks.k8s_gpu.metrics import FragmentationRecorder
from policyforge.tasks.k8s_gpu.policy import load_policy
from policyforge.tasks.k8s_gpu.simulate import run_inflation, run_replay
from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK, MODEL_INDEX, NodeTable, PodTable
from policyforge.tasks.k8s_gpu.workload import target_workload


def test_same_seed_same_numbers_different_seed_different_order(tiny):
    nodes, pods = tiny
    a = run_inflation(nodes, pods, load_policy("fgd"), seed=5)
    b = run_inflation(nodes, pods, load_policy("fgd"), seed=5)
    c = run_inflation(nodes, pods, load_policy("fgd"), seed=6)
    assert (a.allocated_milli == b.allocated_milli).all() and (a.fragmentation_milli == b.fragmentation_milli).all()
    assert not np.array_equal(a.arrived_milli, c.arrived_milli)


def test_random_policy_is_seeded(tiny):
    nodes, pods = tiny
    a = run_inflation(nodes, pods, load_policy("random"), seed=9).allocated_milli
    b = run_inflation(nodes, pods, load_policy("random"), seed=9).allocated_milli
    assert (a == b).all()


def test_inflation_reaches_tune_and_allocation_never_exceeds_capacity(tiny):
    nodes, pods = tiny
    result = run_inflation(nodes, pods, load_policy("bestfit"), seed=1, tune=1.3)
    capacity = result.total_gpu_milli
    assert result.arrived_milli[-1] >= 1.2 * capacity
    assert (np.diff(result.allocated_milli) >= 0).all() and result.allocated_milli[-1] <= capacity
    curve = result.allocation_curve()
    assert len(curve) == 131 and np.nanmax(curve) <= 100
    assert result.failed_pods == int(result.failed.sum()) > 0


def test_fragmentation_record_equals_recomputing_the_whole_cluster_each_step(tiny):
    nodes, pods = tiny
    workload = target_workload(pods)
    state = ClusterState(nodes)
    from policyforge.tasks.k8s_gpu.engine import Scheduler

    scheduler = Scheduler(state, load_policy("bestfit"), workload, np.random.default_rng(0), np.random.default_rng(0))
    requests = pod_requests(pods)
    recorder = FragmentationRecorder(state, workload, len(requests))
    expected = []
    for i, request in enumerate(requests):
        placement = scheduler.place(request)
        if placement:
            recorder.record(i, placement.node)
        expected.append(_fragmentation(state.cpu_free, state.gpu_free, state.model_bit, workload).sum())
    assert np.allclose(recorder.totals(), expected)


def timeline_pods(rows) -> PodTable:
    """rows of (cpu, gpu_milli, created, deleted) for single-GPU pods."""
    a = np.array(rows, float)
    n = len(rows)
    return PodTable(tuple(f"p{i}" for i in range(n)), a[:, 0].astype(np.int64), np.ones(n, np.int64),
                    np.ones(n, np.int64), a[:, 1].astype(np.int64), np.full(n, ALL_MODELS_MASK), a[:, 2], a[:, 3])


def test_replay_waits_for_freed_resources_and_runs_the_full_duration():
    nodes = NodeTable(("n0",), np.array([8000]), np.array([1000]), np.array([1]), np.array([MODEL_INDEX["T4"]]))
    pods = timeline_pods([(1000, 1000, 0, 100), (1000, 1000, 10, 30), (1000, 600, 20, 25)])
    result = run_replay(nodes, pods, load_policy("bestfit"), seed=0)
    # p1 waits for p0 (until 100), then runs 20 s; p2 waits until p1 leaves at 120.
    assert sorted(result.waiting_seconds.tolist()) == [0.0, 90.0, 100.0]
    assert result.never_scheduled == 0
    # GPU busy from 0 to 120 fully, then 60% until 125: time-weighted over [0, 125].
    assert np.isclose(result.utilisation["gpu"], (120 * 1.0 + 5 * 0.6) / 125)


def test_replay_reports_pods_that_never_fit():
    nodes = NodeTable(("n0",), np.array([8000]), np.array([1000]), np.array([1]), np.array([MODEL_INDEX["T4"]]))
    pods = timeline_pods([(9000, 500, 0, 10), (1000, 500, 0, 10)])
    result = run_replay(nodes, pods, load_policy("fgd"), seed=0)
    assert result.never_scheduled == 1 and result.waiting_seconds.tolist() == [0.0]


def test_replay_on_a_synthetic_cluster_is_deterministic(tiny):
    nodes, pods = tiny
    a = run_replay(nodes, pods, load_policy("fgd"), seed=2).summary()
    b = run_replay(nodes, pods, load_policy("fgd"), seed=2).summary()
    a.pop("seconds"), b.pop("seconds")
    assert a == b and a["pods"] == len(pods)
