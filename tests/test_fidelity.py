"""Fidelity to the FGD paper (ATC'23) on the OpenB `default` trace, tune 1.3, the paper's cluster.

Each of the six paper policies' mean allocation at 100% arrived over seeds 42-51 must be within 1.0
percentage point of the paper's. The ranking is checked pair by pair in the paper's order, each pair on the
seeds that decide it: two neighbours (GpuClustering 91.65, GpuPacking 91.78) differ by less than their
seed-to-seed noise, so ten seeds of a different random generator cannot decide their order (see the README):
that pair is compared over seeds 42-81. Every other neighbouring pair is at least 0.9 points apart and won
on each of seeds 42-81 (measured once over all 40 seeds for all six policies), so seeds 42-51 decide it;
running the other four policies on 30 more seeds would check nothing more and took half of this file's time.
"""

from __future__ import annotations

import numpy as np
import pytest

from policyforge.tasks.k8s_gpu.experiment import run_all
from policyforge.tasks.k8s_gpu.policy import PAPER_BASELINES
from policyforge.tasks.k8s_gpu.trace import load_nodes, load_pods

PAPER = {"random": 86.30, "dotprod": 90.62, "clustering": 91.65, "packing": 91.78, "bestfit": 92.86, "fgd": 95.23}
CLOSE = ("clustering", "packing")  # the neighbours that need seeds 42-81


@pytest.fixture(scope="module")
def results(openb_dir):
    """Allocation at 100% per policy: seeds 42-51 for all six, 42-81 for the close pair."""
    nodes = load_nodes(openb_dir / "openb_node_list_gpu_node.csv")
    pods = load_pods(openb_dir / "openb_pod_list_default.csv")
    first = run_all(nodes, pods, list(PAPER_BASELINES), list(range(42, 52)), "inflation", 1.3)
    more = run_all(nodes, pods, list(CLOSE), list(range(52, 82)), "inflation", 1.3)
    return {name: np.array([r.summary()["alloc_at_100"] for r in first[name] + more.get(name, [])])
            for name in first}


@pytest.mark.slow
def test_each_paper_policy_within_one_point_on_seeds_42_to_51(results):
    for name, paper in PAPER.items():
        ours = results[name][:10].mean()
        assert abs(ours - paper) <= 1.0, f"{name}: {ours:.2f} vs paper {paper:.2f}"


@pytest.mark.slow
def test_policies_rank_in_the_papers_order(results):
    order = sorted(PAPER, key=PAPER.get)
    assert [len(results[name]) for name in order] == [40 if name in CLOSE else 10 for name in order]
    for low, high in zip(order, order[1:], strict=False):
        seeds = 40 if {low, high} == set(CLOSE) else 10  # the pair's seeds (42-81 or 42-51), both policies
        assert results[low][:seeds].mean() < results[high][:seeds].mean(), (low, high, seeds)
