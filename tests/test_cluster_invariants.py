"""Property tests: whatever a policy does, no resource is ever over-committed and counters stay exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyforge.errors import PolicyError
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PlacementError, PodRequest
from policyforge.tasks.k8s_gpu.engine import Scheduler
from policyforge.tasks.k8s_gpu.policy import BASELINES, Policy, load_policy
from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK, MODEL_INDEX, NodeTable
from policyforge.tasks.k8s_gpu.workload import TargetWorkload

MODELS = ["T4", "V100M16", "G2"]

node_rows = st.lists(
    st.tuples(st.integers(1000, 64000), st.integers(1024, 262144), st.sampled_from([0, 1, 2, 4, 8]),
              st.sampled_from(MODELS)),
    min_size=1, max_size=12)

pod_requests = st.builds(
    lambda cpu, mem, kind, milli, spec: PodRequest(
        cpu, mem, *(kind if kind != (1, 0) else (1, milli)),
        ALL_MODELS_MASK if not spec else sum(1 << MODEL_INDEX[m] for m in spec)),
    st.integers(0, 40000), st.integers(0, 100000),
    st.sampled_from([(0, 0), (1, 0), (1, 1000), (2, 1000), (4, 1000), (8, 1000)]),
    st.integers(1, 999), st.lists(st.sampled_from(MODELS), max_size=2, unique=True))


def make_nodes(rows) -> NodeTable:
    return NodeTable(tuple(f"n{i}" for i in range(len(rows))), np.array([r[0] for r in rows]),
                     np.array([r[1] for r in rows]), np.array([r[2] for r in rows]),
                     np.array([MODEL_INDEX[r[3]] if r[2] else -1 for r in rows]))


def workload() -> TargetWorkload:
    return TargetWorkload(np.array([1000, 2000]), np.array([1, 1]), np.array([500, 1000]),
                          np.array([ALL_MODELS_MASK, ALL_MODELS_MASK]), np.array([0.5, 0.5]))


def chaotic_policy(seed: int) -> Policy:
    """Scores at random and picks GPUs at random among the valid ones: explores placements baselines avoid."""
    rng = np.random.default_rng(seed)

    def score(pod, nodes, cluster):
        return rng.integers(0, 3, len(nodes)).astype(float)

    def choose_gpus(pod, node, cluster):
        fits = np.flatnonzero(node.gpu_free >= pod.gpu_milli)
        return rng.choice(fits, pod.num_gpu, replace=False)

    return Policy("chaotic", None, score, choose_gpus, "")


@settings(max_examples=60, deadline=None)
@given(node_rows, st.lists(st.tuples(pod_requests, st.booleans()), min_size=1, max_size=60), st.integers(0, 99),
       st.sampled_from(["chaotic", *BASELINES]))
def test_random_placements_and_releases_never_over_commit(rows, steps, seed, policy_name):
    state = ClusterState(make_nodes(rows))
    policy = chaotic_policy(seed) if policy_name == "chaotic" else load_policy(policy_name)
    scheduler = Scheduler(state, policy, workload(), np.random.default_rng(seed), np.random.default_rng(seed + 1))
    running = []
    for request, depart in steps:
        feasible_before = set(state.feasible(request).tolist())
        placement = scheduler.place(request)
        if placement is None:
            assert not feasible_before
        else:
            assert placement.node in feasible_before
            assert len(placement.gpus) == request.num_gpu
            running.append((placement, request))
        if depart and running:
            placement, request = running.pop(seed % len(running))
            state.release(placement.node, request, placement.gpus)
        state.check_invariants()
    # Everything returned: the cluster is whole again.
    for placement, request in running:
        state.release(placement.node, request, placement.gpus)
    state.check_invariants()
    assert (state.cpu_free == state.cpu_capacity).all() and (state.gpu_free_total == state.gpu_count * 1000).all()


@given(node_rows, pod_requests)
def test_bind_refuses_every_infeasible_placement(rows, request):
    state = ClusterState(make_nodes(rows))
    feasible = set(state.feasible(request).tolist())
    for node in range(len(rows)):
        if node not in feasible:
            gpus = tuple(range(min(request.num_gpu, int(state.gpu_count[node]))))
            with pytest.raises(PlacementError):
                state.bind(node, request, gpus)
    state.check_invariants()


def test_release_cannot_free_what_was_never_taken():
    state = ClusterState(make_nodes([(8000, 1000, 2, "T4")]))
    with pytest.raises(PlacementError):
        state.release(0, PodRequest(1000, 10, 1, 500, ALL_MODELS_MASK), (0,))


def test_policy_choosing_an_occupied_gpu_is_rejected():
    state = ClusterState(make_nodes([(8000, 1000, 2, "T4")]))
    state.bind(0, PodRequest(100, 10, 1, 900, ALL_MODELS_MASK), (0,))
    greedy = Policy("greedy", None, lambda p, n, c: np.zeros(len(n)), lambda p, n, c: [0], "")
    scheduler = Scheduler(state, greedy, workload(), np.random.default_rng(0), np.random.default_rng(0))
    with pytest.raises(PolicyError, match="choose_gpus: GPU 0 of node 0 has 100 milli free"):
        scheduler.place(PodRequest(100, 10, 1, 500, ALL_MODELS_MASK))
    state.check_invariants()
