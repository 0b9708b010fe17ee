"""The CP-SAT fallback: places a pod that would fail, keeps every resource invariant, off by default."""

from __future__ import annotations

import numpy as np
import pytest

from policyforge.cli import main
from policyforge.errors import PolicyforgeError
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PodRequest
from policyforge.tasks.k8s_gpu.fallback import Fallback, FallbackOptions
from policyforge.tasks.k8s_gpu.policy import load_policy
from policyforge.tasks.k8s_gpu.simulate import run_inflation
from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK, MODEL_INDEX, NodeTable

T4 = MODEL_INDEX["T4"]
HALF = PodRequest(2000, 2000, 1, 500, ALL_MODELS_MASK)
WHOLE = PodRequest(2000, 2000, 1, 1000, ALL_MODELS_MASK)


def cluster(gpus: list[int]) -> ClusterState:
    n = len(gpus)
    return ClusterState(NodeTable(tuple(f"n{i}" for i in range(n)), np.full(n, 8000), np.full(n, 8000),
                                  np.array(gpus), np.full(n, T4)))


def test_places_a_pod_that_would_otherwise_fail_with_one_move():
    state = cluster([1, 1])
    rescue = Fallback(state, FallbackOptions(max_nodes=2, targets=1))
    for pod_id, node in enumerate((0, 1)):
        state.bind(node, HALF, (0,))
        rescue.placed(pod_id, HALF, node, (0,))
    assert len(state.feasible(WHOLE)) == 0
    node, gpus = rescue.rescue(2, WHOLE)
    state.check_invariants()
    assert state.gpu_free[node, gpus[0]] == 0 and state.allocated_gpu_milli == 2000
    assert rescue.stats.placed == 1 and rescue.stats.moves == 1
    # the moved pod kept its request and sits on the other node's GPU, which it fills exactly
    moved = [p for pid, p in rescue.residents.pods.items() if pid != 2 and p[1] != node]
    assert len(moved) == 2 and all(p[0] == HALF for p in moved)


def two_move_cluster(max_moves: int) -> tuple[ClusterState, Fallback]:
    """Nodes 0 and 1 hold 300+300+100 milli, node 2 holds 300+300: a whole GPU needs node 2's two pods moved
    into the 300 milli left on nodes 0 and 1, two moves at least."""
    state = cluster([1, 1, 1])
    rescue = Fallback(state, FallbackOptions(max_moves=max_moves, max_nodes=3, targets=1))
    big, tiny_pod = PodRequest(1000, 1000, 1, 300, ALL_MODELS_MASK), PodRequest(1000, 1000, 1, 100, ALL_MODELS_MASK)
    for pod_id, (node, pod) in enumerate([(0, big), (0, big), (0, tiny_pod), (1, big), (1, big), (1, tiny_pod),
                                          (2, big), (2, big)]):
        state.bind(node, pod, (0,))
        rescue.placed(pod_id, pod, node, (0,))
    return state, rescue


def test_respects_the_move_limit_and_changes_nothing_when_it_fails():
    state, rescue = two_move_cluster(max_moves=1)
    before = state.gpu_free.copy()
    assert rescue.rescue(99, WHOLE) is None
    assert (state.gpu_free == before).all()
    assert rescue.stats.calls == 1 and rescue.stats.placed == 0
    state, rescue = two_move_cluster(max_moves=2)
    assert rescue.rescue(99, WHOLE) == (2, (0,))
    assert rescue.stats.moves == 2
    state.check_invariants()
    assert (state.gpu_free == 0).all()


def test_whole_run_keeps_every_invariant_and_never_loses_a_pod(tiny):
    nodes, pods = tiny
    result = run_inflation(nodes, pods, load_policy("bestfit"), 4, 1.3, fallback=FallbackOptions(budget_ms=50))
    assert result.failed_pods == result.fallback["fallback_calls"] - result.fallback["fallback_placed"]
    assert (np.diff(result.allocated_milli) >= 0).all()  # a repacking never drops a placed pod
    assert result.allocated_milli[-1] <= result.total_gpu_milli


def test_fallback_keeps_resources_consistent_after_every_rescue(tiny):
    nodes, pods = tiny
    from policyforge.tasks.k8s_gpu.engine import Scheduler, pod_requests
    from policyforge.tasks.k8s_gpu.simulate import Streams
    from policyforge.tasks.k8s_gpu.workload import inflate, target_workload

    state = ClusterState(nodes)
    streams = Streams.of(7)
    sequence = pod_requests(inflate(pods, state.total_gpu_milli, 1.3, streams.workload))
    scheduler = Scheduler(state, load_policy("fgd"), target_workload(pods), streams.tie_break, streams.policy)
    rescue = Fallback(state, FallbackOptions(budget_ms=50))
    for i, pod in enumerate(sequence):
        placement = scheduler.place(pod)
        if placement is not None:
            rescue.placed(i, pod, placement.node, placement.gpus)
        elif rescue.rescue(i, pod) is not None:
            state.check_invariants()
            # residents agree with the state: re-binding all of them on a fresh cluster reproduces it
            fresh = ClusterState(nodes)
            for request, node, gpus in rescue.residents.pods.values():
                fresh.bind(node, request, gpus)
            assert (fresh.gpu_free == state.gpu_free).all() and (fresh.cpu_free == state.cpu_free).all()
    assert rescue.stats.calls > 0


def test_default_runs_are_unchanged_by_the_option(tiny):
    nodes, pods = tiny
    result = run_inflation(nodes, pods, load_policy("fgd"), 3)
    assert result.fallback is None and "fallback_calls" not in result.summary()
    assert not np.isnan(result.fragmentation_milli).any()


def test_bad_options_are_one_line_errors(capsys):
    with pytest.raises(PolicyforgeError, match="--max-moves 0"):
        FallbackOptions(max_moves=0)
    assert main(["simulate", "--workload", "openb-synthetic", "--max-moves", "3"]) == 2
    assert "--fallback" in capsys.readouterr().err
    assert main(["simulate", "--workload", "openb-synthetic", "--fallback", "cpsat", "--mode", "replay"]) == 2
    assert "replay" in capsys.readouterr().err
