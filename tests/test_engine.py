"""The scheduling cycle: tie-breaking, the single-node shortcut, validation of what a policy returns, and
read-only views."""

from __future__ import annotations

import numpy as np
import pytest

from policyforge.errors import PolicyError
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PodRequest
from policyforge.tasks.k8s_gpu.engine import Scheduler, tie_break_rank
from policyforge.tasks.k8s_gpu.policy import Policy
from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK, MODEL_INDEX, NodeTable
from policyforge.tasks.k8s_gpu.workload import TargetWorkload

SHARE = PodRequest(1000, 100, 1, 500, ALL_MODELS_MASK)
WHOLE = PodRequest(1000, 100, 1, 1000, ALL_MODELS_MASK)


def cluster(n=5, gpus=2) -> ClusterState:
    return ClusterState(NodeTable(tuple(f"node-{i}" for i in range(n)), np.full(n, 8000), np.full(n, 4096),
                                  np.full(n, gpus), np.full(n, MODEL_INDEX["T4"])))


def workload() -> TargetWorkload:
    return TargetWorkload(np.array([1000]), np.array([1]), np.array([500]), np.array([ALL_MODELS_MASK]), np.array([1.0]))


def scheduler(state, score, choose=None, seed=0) -> Scheduler:
    return Scheduler(state, Policy("p", None, score, choose, ""), workload(), np.random.default_rng(seed),
                     np.random.default_rng(seed))


def test_ties_go_to_a_fixed_seeded_node_order():
    flat = lambda pod, nodes, cluster: np.zeros(len(nodes))  # noqa: E731
    first = [scheduler(cluster(), flat, seed=s).place(SHARE).node for s in range(20)]
    again = [scheduler(cluster(), flat, seed=s).place(SHARE).node for s in range(20)]
    assert first == again and len(set(first)) > 1
    state = cluster()
    s = scheduler(state, flat, seed=3)
    winner = int(np.argmin(s.rank))
    assert s.place(SHARE).node == winner and s.place(SHARE).node == winner  # same node while it still fits


def test_rank_is_a_permutation_over_nodes_sorted_by_name():
    rank = tie_break_rank(("b", "a", "c"), np.random.default_rng(1))
    assert sorted(rank.tolist()) == [0, 1, 2]
    rank2 = tie_break_rank(("a", "b", "c"), np.random.default_rng(1))
    assert rank[1] == rank2[0] and rank[0] == rank2[1]  # follows names, not input order


def test_highest_score_wins():
    s = scheduler(cluster(), lambda pod, nodes, cluster: nodes.index.astype(float))
    assert s.place(SHARE).node == 4


def test_single_feasible_node_is_taken_without_scoring():
    state = cluster(n=3)
    for node in (0, 1):
        state.bind(node, PodRequest(8000, 0, 0, 0, ALL_MODELS_MASK), ())

    def never(pod, nodes, cluster):
        raise AssertionError("scored a single candidate")

    assert scheduler(state, never).place(SHARE).node == 2


@pytest.mark.parametrize(
    ("returned", "message"),
    [(lambda n: np.zeros(len(n) + 1), "shape"), (lambda n: np.full(len(n), np.nan), "NaN"),
     (lambda n: "high", "not numbers"), (lambda n: np.full(len(n), np.inf), "infinite")],
)
def test_invalid_scores_are_rejected_with_a_reason(returned, message):
    s = scheduler(cluster(), lambda pod, nodes, cluster: returned(nodes))
    with pytest.raises(PolicyError, match=message):
        s.place(SHARE)


@pytest.mark.parametrize("gpus", [[0, 1], [7], ["x"], [-1]])
def test_invalid_gpu_choices_are_rejected(gpus):
    s = scheduler(cluster(), lambda p, n, c: np.zeros(len(n)), lambda p, n, c: gpus)
    with pytest.raises(PolicyError, match="choose_gpus"):
        s.place(SHARE)
    s.state.check_invariants()
    assert s.state.allocated_gpu_milli == 0


def test_default_gpu_choice_is_best_fit():
    state = cluster(n=1, gpus=4)
    state.bind(0, PodRequest(0, 0, 1, 300, ALL_MODELS_MASK), (2,))  # GPU 2 has 700 free
    state.bind(0, PodRequest(0, 0, 1, 100, ALL_MODELS_MASK), (3,))  # GPU 3 has 900 free
    s = scheduler(state, lambda p, n, c: np.zeros(len(n)))
    assert s.place(SHARE).gpus == (2,)  # tightest GPU that fits
    assert s.place(WHOLE).gpus == (0,)  # lowest-index free GPU


def test_views_are_read_only_and_cannot_be_made_writable_into_the_state():
    state = cluster()
    before = state.cpu_free.copy(), state.gpu_free.copy()

    def vandal(pod, nodes, cluster):
        for array in (nodes.cpu_free, cluster.cpu_free, cluster.gpu_free, nodes.gpu_free):
            with pytest.raises(ValueError):
                array[...] = 0
            array.flags.writeable = True  # allowed on a copy, and harmless
            array[...] = 0
        return np.zeros(len(nodes))

    s = scheduler(state, vandal)
    s.place(PodRequest(0, 0, 0, 0, ALL_MODELS_MASK))
    assert (state.cpu_free == before[0]).all() and (state.gpu_free == before[1]).all()


def test_views_expose_no_public_route_to_the_state():
    seen = {}

    def spy(pod, nodes, cluster):
        seen["nodes"] = [a for a in dir(nodes) if not a.startswith("_")]
        seen["cluster"] = [a for a in dir(cluster) if not a.startswith("_")]
        for name in seen["nodes"]:
            assert not isinstance(getattr(nodes, name), ClusterState)
        return np.zeros(len(nodes))

    scheduler(cluster(), spy).place(SHARE)
    assert "cpu_free" in seen["nodes"] and "workload" in seen["cluster"]
