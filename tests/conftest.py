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
