"""Fidelity to the FGD paper (ATC'23) on the OpenB `default` trace, tune 1.3, the paper's cluster.

Each of the six paper policies' mean allocation at 100% arrived over seeds 42-51 must be within 1.0
percentage point of the paper's. The ranking is checked on a larger seed set (42-81): two neighbours in the
paper's order (GpuClustering 91.65, GpuPacking 91.78) differ by less than their seed-to-seed noise, so ten
seeds of a different random generator cannot decide their order (see the README).
"""

from __future__ import annotations

import numpy as np
import pytest

from policyforge.tasks.k8s_gpu.experiment import run_all
from policyforge.tasks.k8s_gpu.policy import PAPER_BASELINES
from policyforge.tasks.k8s_gpu.trace import load_nodes, load_pods

PAPER = {"random": 86.30, "dotprod": 90.62, "clustering": 91.65, "packing": 91.78, "bestfit": 92.86, "fgd": 95.23}


@pytest.fixture(scope="module")
def results(openb_dir):
    nodes = load_nodes(openb_dir / "openb_node_list_gpu_node.csv")
    pods = load_pods(openb_dir / "openb_pod_list_default.csv")
    runs = run_all(nodes, pods, list(PAPER_BASELINES), list(range(42, 82)), "inflation", 1.3)
    return {name: np.array([r.summary()["alloc_at_100"] for r in seeds]) for name, seeds in runs.items()}


@pytest.mark.slow
def test_each_paper_policy_within_one_point_on_seeds_42_to_51(results):
    for name, paper in PAPER.items():
        ours = results[name][:10].mean()
        assert abs(ours - paper) <= 1.0, f"{name}: {ours:.2f} vs paper {paper:.2f}"


@pytest.mark.slow
def test_policies_rank_in_the_papers_order(results):
    means = {name: values.mean() for name, values in results.items()}
    assert sorted(means, key=means.get) == sorted(PAPER, key=PAPER.get)
