"""Where the cache tests find libCacheSim's traces (the project's data/cache, linked by `policyforge data
fetch cache`) and its figures (../shared/data/cache/expected)."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest

from policyforge.tasks.cache.trace import Trace, read_trace

ROOT = Path(__file__).resolve().parents[1]
CACHE_DATA = Path(os.environ.get("POLICYFORGE_DATA", ROOT / "data")) / "cache"
EXPECTED = ROOT.parent / "shared" / "data" / "cache" / "expected"
TRACES = {"cloudPhysicsIO": ("cloudPhysicsIO.oracleGeneral.bin", None),
          "twitter_cluster52_first1m": ("twitter_cluster52_10m.csv.zst", "0:1000000"),
          # not in expected/: compared with libCacheSim live (tests/test_cache_oracle.py)
          "twitter_cluster52_2m_200k": ("twitter_cluster52_10m.csv.zst", "2000000:2200000")}
# (policy, mode) -> why our figure may be further from libCacheSim's than the tolerance (xfail, not pass)
KNOWN_DEVIATIONS: dict[tuple[str, str], str] = {}
"""(policy, mode) -> why ours may differ beyond the tolerance there (none at present)."""


def expected_rows() -> list[tuple[str, dict]]:
    rows = []
    for name in TRACES:
        path = EXPECTED / f"{name}.json"
        if path.exists():
            rows += [(name, row) for row in json.loads(path.read_text())["rows"]]
    return rows


@cache
def trace(name: str) -> Trace:
    file, window = TRACES[name]
    path = CACHE_DATA / file
    if not path.exists():
        if os.environ.get("POLICYFORGE_REQUIRE_DATA"):
            pytest.fail(f"{path}: cache trace missing; run `policyforge data fetch cache`")
        pytest.skip("cache traces not fetched (policyforge data fetch cache)")
    return read_trace(path, window)
