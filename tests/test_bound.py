"""The certified bound: equal to a brute-force optimum on tiny instances, above every baseline on OpenB seeds."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from policyforge.cli import main
from policyforge.tasks.k8s_gpu.bound.certify import BoundSettings, certify
from policyforge.tasks.k8s_gpu.bound.instance import aggregate, arrival_prefix
from policyforge.tasks.k8s_gpu.bound.patterns import maximal_patterns
from policyforge.tasks.k8s_gpu.cluster import PodRequest
from policyforge.tasks.k8s_gpu.policy import BASELINES, load_policy
from policyforge.tasks.k8s_gpu.simulate import run_inflation
from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK, MODEL_INDEX, NodeTable, load_nodes, load_pods

T4, V100 = MODEL_INDEX["T4"], MODEL_INDEX["V100M16"]


def nodes_of(rows: list[tuple[int, int, int, int]]) -> NodeTable:
    cpu, mem, gpus, model = (np.array(c, np.int64) for c in zip(*rows, strict=True))
    return NodeTable(tuple(f"n{i}" for i in range(len(rows))), cpu, mem, gpus, model)


def brute_force(nodes: NodeTable, pods: list[PodRequest]) -> int:
    """The best GPU milli any placement of any subset can allocate: exhaustive search over every pod's
    node and GPU (or leaving it out), memoised on the remaining pods and the canonical cluster state."""
    pods = sorted(pods, key=lambda p: (-p.total_gpu_milli, -p.cpu_milli))
    suffix = np.cumsum([p.total_gpu_milli for p in pods][::-1])[::-1].tolist() + [0]
    models = nodes.gpu_model.tolist()

    @cache
    def best(i: int, state: tuple) -> int:
        if i == len(pods):
            return 0
        pod = pods[i]
        value = best(i + 1, state)
        if value == suffix[i]:
            return value
        for n, (cpu, mem, gpus) in enumerate(state):
            if cpu < pod.cpu_milli or mem < pod.memory_mib or not (1 << models[n]) & pod.model_mask:
                continue
            options = []
            if pod.gpu_milli < 1000:
                for g in sorted(set(gpus)):
                    if g >= pod.gpu_milli:
                        k = gpus.index(g)
                        options.append(gpus[:k] + (g - pod.gpu_milli,) + gpus[k + 1:])
            elif gpus.count(1000) >= pod.num_gpu:
                rest = list(gpus)
                for _ in range(pod.num_gpu):
                    rest.remove(1000)
                options.append(tuple(rest) + (0,) * pod.num_gpu)
            for new in options:
                node = (cpu - pod.cpu_milli, mem - pod.memory_mib, tuple(sorted(new)))
                value = max(value, pod.total_gpu_milli + best(i + 1, state[:n] + (node,) + state[n + 1:]))
        return value

    start = tuple((int(c), int(m), (1000,) * int(g)) for c, m, g in
                  zip(nodes.cpu_milli, nodes.memory_mib, nodes.gpu_count, strict=True))
    return best(0, start)


SHAPES = [
    PodRequest(4000, 8000, 1, 500, ALL_MODELS_MASK), PodRequest(2000, 4000, 1, 300, ALL_MODELS_MASK),
    PodRequest(6000, 8000, 1, 700, ALL_MODELS_MASK), PodRequest(8000, 16000, 1, 1000, ALL_MODELS_MASK),
    PodRequest(12000, 16000, 2, 1000, ALL_MODELS_MASK), PodRequest(3000, 4000, 1, 250, 1 << T4),
    PodRequest(10000, 30000, 1, 600, ALL_MODELS_MASK), PodRequest(1000, 2000, 1, 1000, 1 << V100),
]


def random_instance(seed: int) -> tuple[NodeTable, list[PodRequest]]:
    rng = np.random.default_rng(seed)
    nodes = nodes_of([(16000, 32000, 2, T4), (12000, 48000, 2, V100), (24000, 64000, 4, V100)][: 2 + seed % 2])
    pods = [SHAPES[i] for i in rng.integers(len(SHAPES), size=12 + seed % 3)]
    return nodes, pods


@pytest.mark.parametrize("seed", range(6))
def test_bound_and_packing_equal_the_brute_force_optimum_on_tiny_instances(seed):
    nodes, pods = random_instance(seed)
    optimum = brute_force(nodes, pods)
    instance = aggregate(nodes, pods)
    cert = certify(instance, BoundSettings(max_iterations=10))
    assert cert.upper_milli == optimum
    assert cert.lower_milli == optimum
    cert.packing.verify(instance)
    relaxed = certify(instance, BoundSettings(max_iterations=10, exact=False))
    assert relaxed.upper_milli >= optimum >= relaxed.lower_milli  # the LP bounds alone are valid too


def test_lp_bound_alone_is_tight_when_patterns_decide():
    # Three 600-milli pods cannot share a GPU: two GPUs hold two of them, whatever the LP does.
    nodes = nodes_of([(64000, 64000, 2, T4)])
    pods = [PodRequest(1000, 1000, 1, 600, ALL_MODELS_MASK)] * 3
    cert = certify(aggregate(nodes, pods), BoundSettings(max_iterations=0, exact=False))
    assert cert.upper_milli == cert.lower_milli == 1200


def test_patterns_are_maximal_and_fit_one_gpu():
    patterns = maximal_patterns((500, 300, 250))
    sizes = np.array([500, 300, 250])
    loads = patterns @ sizes
    assert (loads <= 1000).all() and (1000 - loads < 250).all()
    assert {tuple(p) for p in patterns} >= {(2, 0, 0), (0, 2, 1), (1, 0, 2), (0, 0, 4)}


def test_same_instance_same_numbers(tiny):
    nodes, pods = tiny
    a = certify(aggregate(nodes, arrival_prefix(nodes, pods, 3, 1.3, 100)), BoundSettings(max_iterations=5))
    b = certify(aggregate(nodes, arrival_prefix(nodes, pods, 3, 1.3, 100)), BoundSettings(max_iterations=5))
    assert (a.upper_milli, a.lower_milli) == (b.upper_milli, b.lower_milli)


def reduced_openb(openb_dir, every: int = 24) -> tuple[NodeTable, object]:
    """Every 24th node of the paper's cluster (51 nodes of several types) with the default pods."""
    full = load_nodes(openb_dir / "openb_node_list_gpu_node.csv")
    keep = np.arange(0, len(full), every)
    nodes = NodeTable(tuple(full.names[i] for i in keep), full.cpu_milli[keep], full.memory_mib[keep],
                      full.gpu_count[keep], full.gpu_model[keep], "reduced")
    return nodes, load_pods(openb_dir / "openb_pod_list_default.csv")


@pytest.mark.parametrize("seed", [42, 43, 44])
def test_bound_is_at_least_every_baselines_allocation_on_openb_seeds(openb_dir, seed):
    nodes, pods = reduced_openb(openb_dir)
    results = [run_inflation(nodes, pods, load_policy(name), seed, 1.3) for name in BASELINES]
    for percent in (100, 130):
        instance = aggregate(nodes, arrival_prefix(nodes, pods, seed, 1.3, percent))
        cert = certify(instance, BoundSettings(max_iterations=1))
        bound = cert.percent(cert.upper_milli)
        assert cert.lower_milli <= cert.upper_milli
        for result in results:
            assert result.allocation_at(percent) <= bound + 1e-9, (result.policy, percent)


def test_bound_cli_rejects_bad_options_with_one_line(capsys, tiny):
    assert main(["bound", "--workload", "no-such-workload"]) == 2
    assert "unknown workload" in capsys.readouterr().err
    assert main(["bound", "--workload", "openb-synthetic", "--percent", "140"]) == 2
    assert "--percent 140" in capsys.readouterr().err
    assert main(["bound", "--workload", "openb-synthetic", "--tune", "1.0", "--percent", "130"]) == 2
    assert "--tune 1.0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["bound", "--seeds", "51-42"])
    assert exit_.value.code == 2


def test_simulate_draws_the_bound_as_a_reference_line(tmp_path, capsys):
    spec = str(Path(__file__).parent / "data" / "tiny_cluster.yaml")
    code = main(["simulate", "--workload", spec, "--seeds", "1", "--policy", "bestfit", "--jobs", "1",
                 "--with-bound", "--plot", str(tmp_path / "a.png"), "--report", str(tmp_path / "r")])
    assert code == 0 and (tmp_path / "a.png").stat().st_size > 0
    page = (tmp_path / "r" / "index.html").read_text()
    assert "certified bound @100%" in page and "best packing @100%" in page
