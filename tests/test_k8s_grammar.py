"""k8s-gpu: the grammar's new terminals against hand computations, its seeds against the baselines they
express, and the instance sets (workloads seen in training, workloads never seen, disjoint seeds)."""

from __future__ import annotations

import numpy as np
import pytest

import policyforge.tasks.k8s_gpu.features as F
from policyforge.errors import PolicyforgeError
from policyforge.search.verdict import SEEN, UNSEEN, compare, render_table
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PodRequest
from policyforge.tasks.k8s_gpu.interface import K8S_GPU_GP_TABLE, K8S_GPU_POLICY
from policyforge.tasks.k8s_gpu.policy import load_policy, policy_of_module
from policyforge.tasks.k8s_gpu.simulate import run_inflation
from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK, MODEL_INDEX
from policyforge.tasks.k8s_gpu.views import ClusterView, NodesView, PodView
from policyforge.tasks.k8s_gpu.workload import TargetWorkload
from policyforge.trees.grammar import build_grammar, parse_sexpr
from policyforge.trees.interpreter import compile_tree

T4 = 1 << MODEL_INDEX["T4"]
GRAMMAR = build_grammar(K8S_GPU_POLICY, K8S_GPU_GP_TABLE)
NEW_FEATURES = ("cpu_left_percent", "memory_left_percent", "tightest_gpu_free", "partial_gpus", "partial_gpu_free",
                "same_kind_pods", "gpu_pod_kinds", "pod_model_share", "model_demand_share", "model_free_share",
                "model_scarcity", "cpu_gpu_balance", "workload_cpu_only_share", "workload_sharing_share",
                "workload_multi_gpu_share", "workload_constrained_share")


@pytest.fixture()
def scene(tiny):
    """The tiny cluster (nodes 0-5 V100M16 with 4 GPUs and 32 CPUs, 6-9 T4 with 2 GPUs and 16 CPUs, 10-11 G2
    with 8 GPUs and 64 CPUs, 12-13 CPU nodes) after three pods, and a hand-written target workload."""
    nodes, _ = tiny
    state = ClusterState(nodes)
    assert state.gpu_model.tolist() == [6] * 6 + [3] * 4 + [1] * 2 + [-1] * 2
    share = PodRequest(4000, 8192, 1, 500, ALL_MODELS_MASK)
    state.bind(0, share, (0,))  # node 0: GPU 0 half used
    state.bind(6, PodRequest(8000, 16384, 1, 1000, T4), (0,))  # node 6 (T4): GPU 0 taken whole
    state.bind(6, share, (1,))  # ... and GPU 1 half used
    workload = TargetWorkload(cpu_milli=np.array([4000, 8000, 6000]), num_gpu=np.array([1, 1, 0]),
                              gpu_milli=np.array([500, 1000, 0]), model_mask=np.array([ALL_MODELS_MASK, T4, ALL_MODELS_MASK]),
                              probability=np.array([0.5, 0.25, 0.25]))
    return state, ClusterView(state, workload, np.random.default_rng(0))


def view(state, index):
    return NodesView(state, np.array(index))


def test_new_features_are_declared_terminals():
    for name in NEW_FEATURES:
        assert name in F.__all__ and GRAMMAR.terminals[name].type == "vec"
    assert not {"nodes.index", "nodes.gpu_model", "pod.model_mask"} & set(GRAMMAR.terminals)


def test_resource_and_gpu_features_by_hand(scene):
    state, cluster = scene
    pod = PodView.of(PodRequest(6000, 12288, 1, 500, ALL_MODELS_MASK), 0)
    nodes = view(state, [0, 1, 6, 10])
    np.testing.assert_allclose(F.cpu_left_percent(pod, nodes, cluster),
                               [(28000 - 6000) * 100 / 32000, (32000 - 6000) * 100 / 32000,
                                (4000 - 6000) * 100 / 16000, (64000 - 6000) * 100 / 64000])
    np.testing.assert_allclose(F.memory_left_percent(pod, nodes, cluster)[0], (131072 - 8192 - 12288) * 100 / 131072)
    assert F.tightest_gpu_free(pod, nodes, cluster).tolist() == [500, 1000, 500, 1000]
    whole = PodView.of(PodRequest(8000, 16384, 1, 1000, ALL_MODELS_MASK), 1)
    cpu_only = PodView.of(PodRequest(6000, 12288, 0, 0, ALL_MODELS_MASK), 2)
    assert F.tightest_gpu_free(whole, nodes, cluster).tolist() == [1000] * 4
    assert F.tightest_gpu_free(cpu_only, nodes, cluster).tolist() == [0] * 4
    assert F.partial_gpus(nodes, cluster).tolist() == [1, 0, 1, 0]
    assert F.partial_gpu_free(nodes, cluster).tolist() == [500, 0, 500, 0]
    assert F.same_kind_pods(pod, nodes, cluster).tolist() == [1, 0, 1, 0]
    assert F.same_kind_pods(whole, nodes, cluster).tolist() == [0, 0, 1, 0]
    assert F.same_kind_pods(cpu_only, nodes, cluster).tolist() == [0] * 4
    assert F.gpu_pod_kinds(nodes, cluster).tolist() == [1, 0, 2, 0]


def test_model_and_workload_features_by_hand(scene):
    state, cluster = scene
    nodes = view(state, [0, 6, 10, 12])  # V100M16, T4, G2, CPU node
    # Expected GPU milli per pod: 0.5 x 500 (any model) + 0.25 x 1000 (T4 only): half of it is tied to T4.
    np.testing.assert_allclose(F.model_demand_share(nodes, cluster), [0, 0.5, 0, 0])
    free = {"V100M16": 24000 - 500, "T4": 8000 - 1500, "G2": 16000}
    total = sum(free.values())
    np.testing.assert_allclose(F.model_free_share(nodes, cluster),
                               [free["V100M16"] / total, free["T4"] / total, free["G2"] / total, 0])
    np.testing.assert_allclose(F.model_scarcity(nodes, cluster), [0, 0.5 / (free["T4"] / total), 0, 0])
    t4_only = PodView.of(PodRequest(3000, 8192, 1, 700, T4), 0)
    anything = PodView.of(PodRequest(3000, 8192, 1, 700, ALL_MODELS_MASK), 1)
    np.testing.assert_allclose(F.pod_model_share(t4_only, nodes, cluster), [free["T4"] / total] * 4)
    assert F.pod_model_share(anything, nodes, cluster).tolist() == [1.0] * 4
    # GPU pods ask 0.5 x 4000 + 0.25 x 8000 = 4000 CPU milli per 500 GPU milli: 8 per GPU milli.
    pod = PodView.of(PodRequest(6000, 12288, 1, 500, ALL_MODELS_MASK), 2)
    balance = F.cpu_gpu_balance(pod, view(state, [0, 1, 10]), cluster)
    np.testing.assert_allclose(balance, [22000 / (3000 * 8), 26000 / (3500 * 8), 58000 / (7500 * 8)])
    for fn, value in ((F.workload_cpu_only_share, 0.25), (F.workload_sharing_share, 0.5),
                      (F.workload_multi_gpu_share, 0.0), (F.workload_constrained_share, 0.25)):
        assert fn(nodes, cluster).tolist() == [value] * 4


EXACT = {"firstfit": "firstfit", "bestfit": "bestfit", "dotprod": "dotprod", "least-allocated": "least-allocated",
         "most-allocated": "most-allocated", "balanced-allocation": "balanced-allocation",
         "clustering": "clustering", "packing": "packing"}


@pytest.mark.parametrize("seed", [1, 2])
def test_seed_trees_decide_as_their_baselines(tiny, seed):
    """Same decisions, pod for pod and GPU for GPU, through the trusted interpreter; the constant tree is
    FirstFit (all ties go to the engine's fixed node order)."""
    nodes, pods = tiny
    assert K8S_GPU_GP_TABLE.seeds["firstfit"] == "100.0"
    for name, baseline in EXACT.items():
        module = compile_tree(GRAMMAR, parse_sexpr(K8S_GPU_GP_TABLE.seeds[name]), F)
        ours = run_inflation(nodes, pods, policy_of_module(module, name), seed, fragmentation=False)
        theirs = run_inflation(nodes, pods, load_policy(baseline), seed, fragmentation=False)
        assert (ours.node == theirs.node).all() and (ours.gpu_mask == theirs.gpu_mask).all(), name


def test_default_instances_train_on_several_workloads_and_test_on_unseen_ones(openb_dir):
    from policyforge.tasks.k8s_gpu.task import OPENB_WORKLOADS, K8sGpuTask

    task = K8sGpuTask(data_dir=str(openb_dir.parent))
    instances = task.instances()
    split = {s: [i for i in instances if i.split == s] for s in ("train", "validation", "test")}
    seen = {i.group for i in split["train"]}
    assert seen == {i.group for i in split["validation"]} and len(seen) >= 4
    assert any(w.startswith("gpuspec") for w in seen) and any(w.startswith("multigpu") for w in seen)
    assert 4 <= len(split["train"]) <= 6 and 4 <= len(split["validation"]) <= 6
    tested = {i.group for i in split["test"]}
    assert seen <= tested and len(tested - seen) >= 10 and tested == set(OPENB_WORKLOADS)
    assert all(i.group == i.params["workload"] for i in instances)
    seeds = {s: {i.params["seed"] for i in split[s]} for s in split}
    assert not seeds["test"] & (seeds["train"] | seeds["validation"]) and not seeds["train"] & seeds["validation"]
    assert len({i.id for i in instances}) == len(instances)
    assert task.screen_instances()[0].split == "train"
    with pytest.raises(PolicyforgeError, match="both test and train"):
        K8sGpuTask(data_dir=str(openb_dir.parent), test_seeds=(42, 47))
    # Unseen workloads only in test: any seeds are held out.
    K8sGpuTask(data_dir=str(openb_dir.parent), train_workloads=["default"], test_workloads=["cpu050"],
               test_seeds=[42])


def test_a_single_workload_is_searched_on_its_own(openb_dir):
    from policyforge.tasks.k8s_gpu.task import K8sGpuTask

    task = K8sGpuTask(workload="gpuspec33", data_dir=str(openb_dir.parent))
    assert {i.group for i in task.instances()} == {"gpuspec33"}
    assert [len([i for i in task.instances() if i.split == s]) for s in ("train", "validation", "test")] == [5, 3, 5]


def test_verdict_shows_seen_and_unseen_aggregates():
    groups = {f"{w}/s{s}": w for w in ("a", "b", "c") for s in (1, 2)}
    candidate = {i: 1.0 + (0.5 if groups[i] == "a" else 0.0) + 0.01 * int(i[-1]) for i in groups}
    base = {i: 1.0 for i in groups}
    verdict = compare(candidate, {"x": base}, groups, seen={"a"})
    assert [r.group for r in verdict.aggregates] == [SEEN, UNSEEN]
    seen_row, unseen_row = verdict.aggregates
    assert seen_row.candidate == pytest.approx(1.515) and unseen_row.candidate == pytest.approx(1.015)
    assert verdict.overall.candidate == pytest.approx((1.515 + 1.015 * 2) / 3)
    assert any(line.startswith(SEEN) for line in render_table(verdict))
    assert compare(candidate, {"x": base}, groups).aggregates == []
    assert compare(candidate, {"x": base}, groups, seen={"a", "b", "c"}).aggregates == []
