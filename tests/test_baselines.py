"""Baselines score as the FGD paper's simulator defines them; FGD's fragmentation matches a direct reading
of its definition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyforge.tasks.k8s_gpu import features
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PodRequest
from policyforge.tasks.k8s_gpu.policy import BASELINES, load_policy
from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK, MODEL_INDEX, NodeTable
from policyforge.tasks.k8s_gpu.views import ClusterView, NodesView, PodView
from policyforge.tasks.k8s_gpu.workload import TargetWorkload

T4 = MODEL_INDEX["T4"]


def state_with(gpu_free_rows, cpu=64000, cpu_free=None, models=None) -> ClusterState:
    n = len(gpu_free_rows)
    counts = [len(r) for r in gpu_free_rows]
    state = ClusterState(NodeTable(tuple(f"n{i}" for i in range(n)), np.full(n, cpu), np.full(n, 10**6),
                                   np.array(counts), np.array(models or [T4] * n)))
    for i, row in enumerate(gpu_free_rows):
        state.gpu_free[i, : len(row)] = row
        state._refresh(i)
    if cpu_free is not None:
        state.cpu_free[:] = cpu_free
    return state


def views(state, pod, workload=None, index=None):
    wl = workload or TargetWorkload(np.array([0]), np.array([1]), np.array([500]), np.array([ALL_MODELS_MASK]),
                                    np.array([1.0]))
    index = np.arange(len(state)) if index is None else index
    return PodView.of(pod, 0), NodesView(state, index), ClusterView(state, wl, np.random.default_rng(0))


def score(name, state, pod, workload=None):
    return np.asarray(load_policy(name).score(*views(state, pod, workload)))


@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_loads_and_scores_integers_0_to_100(name, tiny):
    from policyforge.tasks.k8s_gpu.simulate import run_inflation

    nodes, pods = tiny
    result = run_inflation(nodes, pods, load_policy(name), seed=1)
    assert result.allocated_milli[-1] > 0
    state = state_with([[1000, 500], [300, 1000, 1000, 1000], [1000, 1000]])
    s = score(name, state, PodRequest(4000, 100, 1, 250, ALL_MODELS_MASK))
    assert s.shape == (3,) and ((s >= 0) & (s <= 100)).all() and (s == np.round(s)).all()


def test_bestfit_prefers_the_tightest_node_and_normalises():
    state = state_with([[1000, 1000], [500, 0], [1000, 600]])
    s = score("bestfit", state, PodRequest(1000, 0, 1, 400, ALL_MODELS_MASK))
    assert s[1] == 100 and s[0] == 0 and 0 < s[2] < 100
    flat = score("bestfit", state_with([[1000], [1000]]), PodRequest(1000, 0, 1, 400, ALL_MODELS_MASK))
    assert list(flat) == [0, 0]  # all equal: all 0


def test_packing_orders_shared_then_used_then_idle():
    state = state_with([[1000, 1000], [200, 1000], [600, 1000]])
    s = score("packing", state, PodRequest(1000, 0, 1, 500, ALL_MODELS_MASK))
    # node 2 shares GPU 0 (60% free -> 100 - 6 = 94); node 1 must use a whole free GPU (50 - 1); node 0 idle (33 - 2).
    assert list(s) == [31, 49, 94]
    assert list(score("packing", state, PodRequest(1000, 0, 0, 0, ALL_MODELS_MASK))) == [0, 0, 0]


def test_clustering_keeps_kinds_together():
    state = state_with([[1000, 1000], [500, 1000], [0, 1000]])
    state.sharing_pods[1] = 1
    state.whole_gpu_pods[2, 0] = 1
    s = score("clustering", state, PodRequest(1000, 0, 1, 300, ALL_MODELS_MASK))
    fill = lambda free: 25 * (8000 - free) // 8000  # noqa: E731
    assert list(s) == [fill(2000) + 25, fill(1500) + 75, fill(1000) + 0]


def test_dotprod_matches_its_formula():
    state = state_with([[1000, 1000]], cpu_free=[32000])
    s = score("dotprod", state, PodRequest(16000, 0, 1, 1000, ALL_MODELS_MASK))
    dot = (32000 / 128000) * (16000 / 128000) + (2000 / 8000) * (1000 / 8000)
    assert s[0] == int(100 * (1 - dot / 2))


def brute_fragmentation(cpu_free, gpu_free, model, workload):
    """FGD's node fragmentation written out case by case, straight from the definition."""
    total = sum(gpu_free)
    frag = 0.0
    for cpu, num, milli, mask, p in zip(workload.cpu_milli, workload.num_gpu, workload.gpu_milli,
                                        workload.model_mask, workload.probability, strict=True):
        if milli == 0:
            frag += p * total  # CPU-only shapes never count as "satisfied"
            continue
        accessible = mask == ALL_MODELS_MASK or (model >= 0 and (mask >> model) & 1)
        fits = sum(1 for g in gpu_free if g >= milli) >= num
        if accessible and fits and cpu_free >= cpu:
            frag += p * sum(g for g in gpu_free if g < milli)
        else:
            frag += p * total
    return frag


gpu_rows = st.lists(st.integers(0, 1000), min_size=1, max_size=8)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(gpu_rows, st.integers(0, 64000), st.sampled_from(["T4", "G2"])), min_size=1, max_size=6),
       st.lists(st.tuples(st.integers(0, 20000), st.sampled_from([(0, 0), (1, 300), (1, 700), (1, 1000), (2, 1000)]),
                          st.sampled_from([ALL_MODELS_MASK, 1 << T4]), st.integers(1, 10)), min_size=1, max_size=5),
       st.tuples(st.integers(0, 8000), st.sampled_from([(0, 0), (1, 250), (1, 1000), (2, 1000)])))
def test_fgd_fragmentation_and_score_match_the_definition(nodes, shapes, pod_shape):
    state = state_with([r for r, _, _ in nodes], cpu_free=[c for _, c, _ in nodes],
                       models=[MODEL_INDEX[m] for _, _, m in nodes])
    weights = np.array([w for *_, w in shapes], float)
    wl = TargetWorkload(np.array([c for c, _, _, _ in shapes]), np.array([k[0] for _, k, _, _ in shapes]),
                        np.array([k[1] for _, k, _, _ in shapes]), np.array([m for _, _, m, _ in shapes]),
                        weights / weights.sum())
    pod = PodRequest(pod_shape[0], 0, pod_shape[1][0], pod_shape[1][1], ALL_MODELS_MASK)
    feasible = state.feasible(pod)
    pv, nv, cv = views(state, pod, wl, feasible)
    got = features.fragmentation(nv, cv)
    for k, i in enumerate(feasible):
        count = int(state.gpu_count[i])
        expect = brute_fragmentation(int(state.cpu_free[i]), list(state.gpu_free[i, :count]), int(state.gpu_model[i]), wl)
        assert got[k] == pytest.approx(expect)
        # FGD's score: best GPU for a sharing pod, the default GPUs otherwise.
        before = expect
        options = [(g,) for g in range(count) if state.gpu_free[i, g] >= pod.gpu_milli] if pod.is_sharing \
            else [state.default_gpus(int(i), pod)]
        best = -1
        for gpus in options:
            after_gpu = list(state.gpu_free[i, :count])
            for g in gpus:
                after_gpu[g] -= pod.gpu_milli
            after = brute_fragmentation(int(state.cpu_free[i]) - pod.cpu_milli, after_gpu, int(state.gpu_model[i]), wl)
            best = max(best, int(features.sigmoid((before - after) / 1000) * 100))
        assert features.fgd_score(pv, nv, cv)[k] == best
