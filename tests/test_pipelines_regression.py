"""Fidelity: our `naive` and `priority` baselines reproduce Eudoxia's own regression cases.

The four cases (params.toml, trace.csv, expected.json as Eudoxia printed them) live in the shared data folder
next to the repository. Required: per-priority arrival and completion counts equal, mean latencies within 5%.
They match exactly today, so the container-level statistics are checked exactly too.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from policyforge.tasks.pipelines.engine import simulate
from policyforge.tasks.pipelines.eudoxia_gen import eudoxia_workload
from policyforge.tasks.pipelines.params import load_params
from policyforge.tasks.pipelines.policy import load_policy
from policyforge.tasks.pipelines.trace import read_trace
from policyforge.tasks.pipelines.workloads import cluster_of

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "eudoxia-regression"
CASES = ("naive_defaults_10m", "naive_solo_ops_10m", "priority_defaults_10m", "priority_suspensions_10m")
CATEGORIES = ("pipelines_all", "pipelines_query", "pipelines_interactive", "pipelines_batch")


def case_dir(name: str) -> Path:
    folder = DATA / name
    if not (folder / "expected.json").exists():
        if os.environ.get("POLICYFORGE_REQUIRE_DATA"):
            pytest.fail(f"{folder}: Eudoxia regression case missing")
        pytest.skip(f"{folder}: Eudoxia regression data not present")
    return folder


def run_case(folder: Path) -> tuple[dict, dict]:
    params = load_params(folder / "params.toml")
    workload = read_trace(folder / "trace.csv", params.ticks_per_second)
    policy = load_policy(params.scheduler_algo)
    record = simulate(workload, cluster_of(params), policy, params.random_seed, params.estimate_sigma)
    return record.eudoxia_stats(), json.loads((folder / "expected.json").read_text())


@pytest.mark.parametrize("name", CASES)
def test_baseline_reproduces_eudoxia(name):
    got, expected = run_case(case_dir(name))
    for category in CATEGORIES:
        e, g = expected[category], got[category]
        assert g["arrival_count"] == e["arrival_count"], category
        assert g["completion_count"] == e["completion_count"], category
        if math.isnan(e["mean_latency_seconds"]):
            assert math.isnan(g["mean_latency_seconds"]), category
        else:
            assert g["mean_latency_seconds"] == pytest.approx(e["mean_latency_seconds"], rel=0.05), category
            assert g["p99_latency_seconds"] == pytest.approx(e["p99_latency_seconds"], rel=0.05), category
    for key in ("pipelines_created", "containers_completed", "assignments", "suspensions", "failures",
                "failure_error_counts"):
        assert got[key] == expected[key], key
    assert got["throughput"] == pytest.approx(expected["throughput"])
    assert got["p99_latency"] == pytest.approx(expected["p99_latency"])


@pytest.mark.parametrize("name", ("naive_defaults_10m", "priority_defaults_10m", "priority_suspensions_10m"))
def test_generator_writes_eudoxias_trace(name):
    """With no trace, the parameters' random_seed gives the very pipelines Eudoxia wrote to trace.csv."""
    folder = case_dir(name)
    params = load_params(folder / "params.toml")
    ours = eudoxia_workload(params).pipelines
    theirs = read_trace(folder / "trace.csv", params.ticks_per_second).pipelines
    assert len(ours) == len(theirs)
    tick = 1.0 / params.ticks_per_second
    for a, b in zip(ours, theirs, strict=True):
        assert (a.name, a.priority, a.operators) == (b.name, b.priority, b.operators)
        assert abs(a.arrival_tick - b.arrival_tick) <= 1  # the trace's seconds re-round up by at most a tick
        assert a.arrival_tick * tick == pytest.approx(b.arrival_tick * tick, abs=tick)
