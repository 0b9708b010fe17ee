"""Shared fixtures: a tiny synthetic cluster for fast tests, and the real OpenB trace when it is present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policyforge.tasks.k8s_gpu.synthetic import load_spec

DATA = Path(__file__).parent / "data"
OPENB = Path(os.environ.get("POLICYFORGE_DATA", Path(__file__).parent.parent / "data")) / "openb"


@pytest.fixture(scope="session")
def tiny():
    """(nodes, pods) of tests/data/tiny_cluster.yaml."""
    nodes, pods, _ = load_spec(DATA / "tiny_cluster.yaml")
    return nodes, pods


@pytest.fixture(scope="session")
def openb_dir() -> Path:
    """The OpenB trace folder; CI links it (POLICYFORGE_REQUIRE_DATA=1 makes its absence a failure)."""
    if not (OPENB / "openb_pod_list_default.csv").exists():
        if os.environ.get("POLICYFORGE_REQUIRE_DATA"):
            pytest.fail(f"{OPENB}: OpenB trace missing; run `policyforge data fetch openb`")
        pytest.skip("OpenB trace not fetched (policyforge data fetch openb)")
    return OPENB


# --- layers ----------------------------------------------------------------------------------------------
# Every test is in one layer, chosen by its file below (a test marked with a layer itself keeps its own):
#   unit         one part, in this process: no sandboxed child, no browser, no reference data set
#   integration  parts together or across a boundary: the sandbox and judge, a task under its contract,
#                the CLI's commands (in this process), our figures against reference ones (the FGD paper,
#                libCacheSim, Eudoxia)
#   e2e          a user's whole workflow through the command line: evolve runs (search, sandbox, baselines,
#                verdict), resume after kill -9, reports in Chromium, serve
# `pytest -m unit` answers in about 10 s; `-m "not e2e"` skips the whole runs. A new test file gets a
# line here (tests/test_layers.py fails until it has one). `slow` still marks the full OpenB experiment.
LAYERS = {
    "unit": ("test_baselines.py", "test_cache_rank.py", "test_cache_trace.py", "test_cluster_invariants.py",
             "test_engine.py", "test_fetch.py", "test_gp.py", "test_interface.py", "test_metrics.py",
             "test_search_core.py", "test_simulate.py", "test_static_check.py", "test_trace.py",
             "test_verdict.py", "test_workload.py", "test_layers.py", "test_interpreter.py", "test_stack_machine.py",
             "test_k8s_grammar.py", "test_imports.py", "test_docs.py", "test_k8s_kernels.py", "test_program_kernel.py"),
    "integration": ("test_bound.py", "test_cache_cli.py", "test_cache_fidelity.py", "test_cache_oracle.py",
                    "test_cache_task.py", "test_cache_sampled.py", "test_cli.py", "test_cli_errors.py",
                    "test_executors.py", "test_external_task.py", "test_fallback.py", "test_fidelity.py",
                    "test_judge.py", "test_llm_proposer.py", "test_pipelines.py", "test_pipelines_ranking.py", "test_pipelines_compiled.py",
                    "test_pipelines_regression.py", "test_pipelines_terminals.py", "test_sandbox.py",
                    "test_proxies.py", "test_foresight.py", "test_conformance_rehearsal.py", "test_search_loop.py"),
    "e2e": ("test_evolve.py", "test_report.py"),
}
LAYER_OF = {name: layer for layer, names in LAYERS.items() for name in names}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if any(item.get_closest_marker(layer) for layer in LAYERS):
            continue
        layer = LAYER_OF.get(item.path.name)
        if layer:
            item.add_marker(layer)
