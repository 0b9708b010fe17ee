"""The k8s-gpu fast paths against straightforward references, bit for bit and decision for decision.

- Compiled fragmentation of a node (node_kernels) equals features._fragmentation on the same row, whatever
  rows it is computed with; the feature library's caches (kept per node version) equal recomputing from
  scratch after every one of many random placements.
- A GP tree in the compiled kernel (tree_kernel, what the worker pool runs) places every pod where the trusted
  interpreter through engine.Scheduler places it, for the seed programs, random trees and trees built to
  make NaN and infinities, on an OpenB-shaped cluster whose pods are partly tied to GPU models.
- The compiled replay gives the Python replay's figures, and an illegal decision the same PolicyError.
- The cached arrival sequence and the batched pod requests equal what a plain loop builds.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from policyforge.errors import PolicyError
from policyforge.search.proposers.gp import GPProposer
from policyforge.tasks.k8s_gpu import features
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PodRequest
from policyforge.tasks.k8s_gpu.engine import pod_requests
from policyforge.tasks.k8s_gpu.inputs import BUNDLED_SPECS
from policyforge.tasks.k8s_gpu.interface import K8S_GPU_GP_TABLE, K8S_GPU_POLICY
from policyforge.tasks.k8s_gpu.node_kernels import after_fragmentation, node_fragmentation
from policyforge.tasks.k8s_gpu.policy import Policy, load_policy, policy_of_module
from policyforge.tasks.k8s_gpu.simulate import replay_inflation, run_inflation, sample_cluster, sample_pods
from policyforge.tasks.k8s_gpu.synthetic import load_spec
from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK, MILLI
from policyforge.tasks.k8s_gpu.views import ClusterView, PodView
from policyforge.tasks.k8s_gpu.workload import inflate, target_workload
from policyforge.trees.grammar import build_grammar, parse_sexpr
from policyforge.trees.interpreter import compile_tree


@pytest.fixture(scope="module")
def world():
    """A tenth of the bundled OpenB-shaped cluster and its pods, a third of the GPU pods tied to random
    subsets of the cluster's models (the bundled spec has no such pods, and the model features need them)."""
    nodes, pods, _ = load_spec(BUNDLED_SPECS["openb-synthetic"])
    nodes, pods = sample_cluster(nodes, 0.1), sample_pods(pods, 0.1)
    rng = np.random.default_rng(5)
    models = np.unique(nodes.gpu_model[nodes.gpu_model >= 0])
    mask = pods.model_mask.copy()
    for i in np.flatnonzero((pods.num_gpu > 0) & (rng.random(len(pods)) < 0.33)):
        chosen = rng.choice(models, size=rng.integers(1, len(models) + 1), replace=False)
        mask[i] = int(np.bitwise_or.reduce(1 << chosen))
    return nodes, replace(pods, model_mask=mask)


def _random_state(nodes, rng, steps: int) -> ClusterState:
    """A cluster after `steps` random legal placements of random pods (default GPU choice)."""
    state = ClusterState(nodes)
    for _ in range(steps):
        _place_random(state, rng)
    return state


def _random_pod(rng) -> PodRequest:
    kind = rng.integers(4)
    num, milli = [(0, 0), (1, int(rng.choice([100, 250, 500, 700]))), (1, MILLI), (int(rng.integers(2, 5)), MILLI)][kind]
    mask = ALL_MODELS_MASK if rng.random() < 0.7 else int(rng.integers(1, ALL_MODELS_MASK))
    return PodRequest(int(rng.choice([0, 1000, 4000, 16000])), int(rng.choice([0, 1024, 8192])), num, milli, mask)


def _place_random(state: ClusterState, rng) -> None:
    pod = _random_pod(rng)
    fits = state.feasible(pod)
    if len(fits):
        node = int(rng.choice(fits))
        state.bind(node, pod, state.default_gpus(node, pod))


def test_compiled_node_fragmentation_is_the_features_one_bit_for_bit(world):
    nodes, pods = world
    workload = target_workload(pods)
    w = (workload.cpu_milli, workload.num_gpu, workload.gpu_milli, workload.model_mask, workload.probability)
    rng = np.random.default_rng(1)
    state = _random_state(nodes, rng, 300)
    batch = features._fragmentation(state.cpu_free, state.gpu_free, state.model_bit, workload)
    for j in range(len(state)):
        row = features._fragmentation(state.cpu_free[j:j + 1], state.gpu_free[j:j + 1], state.model_bit[j:j + 1],
                                      workload)[0]
        compiled = node_fragmentation(state.cpu_free[j], state.gpu_free[j], int(state.model_bit[j]), *w,
                                      ALL_MODELS_MASK)
        assert compiled == row == batch[j]  # one row alone, in a batch, compiled: the same bits


def test_cached_fragmentation_equals_recomputing_it_after_every_placement(world, monkeypatch):
    """The feature library keeps fragmentation per (node, version) and per pod shape, computed by the compiled
    kernels outside the sandbox: after each of many random placements, every cached value equals a fresh
    computation with empty caches by the numpy code (what a sandboxed child runs), and the compiled
    hypothetical placement equals the library's."""
    numpy_only = monkeypatch.context
    nodes, pods = world
    workload = target_workload(pods)
    w = (workload.cpu_milli, workload.num_gpu, workload.gpu_milli, workload.model_mask, workload.probability)
    rng = np.random.default_rng(2)
    state = ClusterState(nodes)
    caches: dict = {}
    from policyforge.tasks.k8s_gpu.views import NodesView

    for step in range(150):
        pod = _random_pod(rng)
        view = PodView.of(pod, 0)
        every = NodesView(state, np.arange(len(state)))
        cached = ClusterView(state, workload, rng, caches)
        candidates = state.feasible(pod)
        some = NodesView(state, candidates)
        got = [features.fragmentation(every, cached)]
        if len(candidates):
            got += [fn(view, some, cached) for fn in (features.fragmentation_after, features.fgd_score)]
        with numpy_only() as patch:
            patch.setattr(features, "_kernels", lambda: None)
            expected = [features.fragmentation(every, ClusterView(state, workload, rng, {}))]
            if len(candidates):
                expected += [fn(view, some, ClusterView(state, workload, rng, {}))
                             for fn in (features.fragmentation_after, features.fgd_score)]
        assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
        if len(candidates):
            per_gpu = features._after_per_gpu(view, cached, candidates)
            out = np.zeros(state.max_gpus)
            for k, j in enumerate(candidates[:20].tolist()):
                after_fragmentation(out, state.cpu_free[j], state.gpu_free[j], int(state.model_bit[j]),
                                    pod.cpu_milli, pod.num_gpu, pod.gpu_milli, pod.is_sharing, *w, ALL_MODELS_MASK)
                assert np.array_equal(out[: per_gpu.shape[1]], per_gpu[k])
        if step % 3 == 0 or not len(candidates):
            _place_random(state, rng)
        else:
            node = int(rng.choice(candidates))
            state.bind(node, pod, state.default_gpus(node, pod))


def test_fgd_score_counts_the_steps_of_its_integer_sigmoid():
    """Counting steps is floor(sigmoid(x) * 100) in floating point, near 0 (where rounding gives 50 to tiny
    negative x) as elsewhere."""
    x = np.concatenate([np.random.default_rng(3).uniform(-40, 40, 200_000), np.linspace(-1e-15, 1e-15, 2001),
                        features.FGD_STEPS, np.nextafter(features.FGD_STEPS, -np.inf), [0.0]])
    counted = np.searchsorted(features.FGD_STEPS, x, side="right")
    assert np.array_equal(counted, [math.floor(1.0 / (1.0 + math.exp(-v)) * 100.0) for v in x])
    assert counted[-1] == 50 and np.searchsorted(features.FGD_STEPS, -1e-16, side="right") == 50


SPECIAL_TREES = (
    "(div nodes.cpu_free (sub pod.cpu_milli pod.cpu_milli))",  # protected division by zero
    "(mul (mul (mul nodes.cpu_free 128000.0) (mul 128000.0 128000.0)) (mul (mul 128000.0 128000.0) "
    "(mul (mul 128000.0 128000.0) (mul (mul 128000.0 128000.0) (mul 128000.0 128000.0)))))",  # overflow: inf
    "(sub (mul (mul (mul (mul 128000.0 128000.0) (mul 128000.0 128000.0)) (mul (mul 128000.0 128000.0) "
    "(mul 128000.0 128000.0))) (mul (mul (mul 128000.0 128000.0) nodes.memory_free) (mul (mul 128000.0 "
    "128000.0) (mul 128000.0 128000.0)))) (mul (mul (mul (mul 128000.0 128000.0) (mul 128000.0 128000.0)) "
    "(mul (mul 128000.0 128000.0) (mul 128000.0 128000.0))) (mul (mul (mul 128000.0 128000.0) "
    "nodes.cpu_free) (mul (mul 128000.0 128000.0) (mul 128000.0 128000.0)))))",  # inf - inf: NaN, and -inf
    "(mul (mul nodes.cpu_free 1e+306) (sub nodes.gpu_free_total 4000.0))",  # +inf, -inf and NaN (inf * 0)
    "(clip fragmentation_after 1000.0 10.0)",  # bounds crossed: numpy clips to the upper one
    "(clip (neg fgd_score) (sub pod.gpu_milli 500.0) (floor (div pod.cpu_milli 1000.0)))",
    "(where (gt tightest_gpu_free partial_gpu_free) (min model_scarcity model_free_share) "
    "(max pod_model_share model_demand_share))",
    "(add (add (add same_kind_pods gpu_pod_kinds) (add partial_gpus cpu_gpu_balance)) (add (add "
    "workload_cpu_only_share workload_sharing_share) (add workload_multi_gpu_share workload_constrained_share)))",
    "(where pod.is_sharing (sub fragmentation fragmentation_after) (where pod.is_cpu_only cpu_left_percent "
    "(abs (sub memory_left_percent nodes.pod_count))))",
    "(sub nodes.sharing_pods (mul nodes.max_gpu_free nodes.full_free_gpus))",
)


def _trees() -> list[str]:
    """Seed programs, special trees and random trees of the k8s-gpu grammar, as the engine renders them."""
    gp = GPProposer(K8S_GPU_POLICY, table=K8S_GPU_GP_TABLE)
    codes = gp.seed_programs() + [gp.render(parse_sexpr(s)) for s in SPECIAL_TREES]
    codes += [gp.render(gp.random_tree(np.random.default_rng([11, k]))) for k in range(40)]
    return codes


def test_the_compiled_tree_places_every_pod_where_the_interpreter_does(world):
    nodes, pods = world
    grammar = build_grammar(K8S_GPU_POLICY, K8S_GPU_GP_TABLE)
    gp = GPProposer(K8S_GPU_POLICY, table=K8S_GPU_GP_TABLE)
    for k, code in enumerate(_trees()):
        compiled = policy_of_module(compile_tree(grammar, gp.parse(code), features), "tree")
        assert compiled.score.program  # takes the compiled path
        interpreted = Policy("tree", compiled.path, lambda *a, f=compiled.score: f(*a), None, "")
        seed = 40 + k % 3
        fast = run_inflation(nodes, pods, compiled, seed, fragmentation=False)
        slow = run_inflation(nodes, pods, interpreted, seed, fragmentation=False)
        assert np.array_equal(fast.node, slow.node) and np.array_equal(fast.gpu_mask, slow.gpu_mask), code
        assert np.array_equal(fast.allocated_milli, slow.allocated_milli)


def test_the_compiled_tree_takes_the_compiled_path_and_records_fragmentation_as_the_scheduler(world):
    nodes, pods = world
    grammar = build_grammar(K8S_GPU_POLICY, K8S_GPU_GP_TABLE)
    tree = parse_sexpr("(sub fragmentation fragmentation_after)")
    compiled = policy_of_module(compile_tree(grammar, tree, features), "tree")
    interpreted = Policy("tree", compiled.path, lambda *a, f=compiled.score: f(*a), None, "")
    fast, slow = (run_inflation(nodes, pods, p, 7) for p in (compiled, interpreted))
    assert np.array_equal(fast.fragmentation_milli, slow.fragmentation_milli)
    assert fast.summary() | {"seconds": 0} == slow.summary() | {"seconds": 0}


@pytest.mark.parametrize("name", ["fgd", "bestfit", "random", "packing"])
def test_the_compiled_replay_gives_the_python_replays_figures(world, name):
    nodes, pods = world
    run = run_inflation(nodes, pods, load_policy(name), 3, fragmentation=False)
    fast = replay_inflation(nodes, pods, name, 3, 1.3, run.node, run.gpu_mask)
    slow = replay_inflation(nodes, pods, name, 3, 1.3, run.node, run.gpu_mask, compiled=False)
    for field in ("arrived_milli", "allocated_milli", "failed", "fragmentation_milli", "node", "gpu_mask"):
        assert np.array_equal(getattr(fast, field), getattr(slow, field)), field


def test_the_compiled_replay_names_an_illegal_decision_as_the_python_replay(world):
    nodes, pods = world
    run = run_inflation(nodes, pods, load_policy("firstfit"), 3, fragmentation=False)
    placed = np.flatnonzero(run.node >= 0)
    sharing = next(i for i in placed if bin(int(run.gpu_mask[i])).count("1") == 1)
    bad = {
        "unplaced": (run.node.copy(), run.gpu_mask.copy()),
        "out of range": (run.node.copy(), run.gpu_mask.copy()),
        "gpu missing": (run.node.copy(), run.gpu_mask.copy()),
        "two gpus": (run.node.copy(), run.gpu_mask.copy()),
    }
    bad["unplaced"][0][placed[0]] = -1
    bad["out of range"][0][placed[1]] = len(nodes) + 3
    bad["gpu missing"][1][sharing] = np.uint64(1) << np.uint64(40)
    bad["two gpus"][1][sharing] = np.uint64(3)
    for node, mask in bad.values():
        messages = []
        for compiled in (True, False):
            with pytest.raises(PolicyError) as caught:
                replay_inflation(nodes, pods, "bad", 3, 1.3, node, mask, compiled=compiled)
            messages.append(str(caught.value))
        assert messages[0] == messages[1]


def test_arrival_sequence_and_pod_requests_equal_a_plain_loop(world):
    _, pods = world
    interned: dict[PodRequest, PodRequest] = {}
    plain = [interned.setdefault(r, r) for r in (PodRequest(*row) for row in zip(
        pods.cpu_milli.tolist(), pods.memory_mib.tolist(), pods.num_gpu.tolist(), pods.gpu_milli.tolist(),
        pods.model_mask.tolist(), strict=True))]
    fast = pod_requests(pods)
    assert fast == plain and len({id(r) for r in fast}) == len(interned)
    for seed in (1, 2):
        rng, reference_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        got = inflate(pods, 100_000, 1.3, rng)
        by_name = np.array(sorted(range(len(pods)), key=pods.names.__getitem__), np.int64)
        order = by_name[reference_rng.permutation(len(pods))]
        filled, extra = int(pods.total_gpu_milli.sum()), []
        while True:
            pick = int(by_name[reference_rng.integers(len(pods))])
            if filled + int(pods.gpu_milli[pick]) > 1.3 * 100_000:
                break
            filled += int(pods.total_gpu_milli[pick])
            extra.append(pick)
        assert got.names == pods.take(np.concatenate([order, np.array(extra, np.int64)])).names
