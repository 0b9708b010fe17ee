"""The task's built-in scenarios: clusters and workloads where scheduling choices matter.

Each is loaded enough that a careless policy falls behind (queues build, memory runs out) yet a careful one
can keep up; they differ in what is scarce. `mixed` is the training scenario; the others test whether a
policy generalises.
"""

from __future__ import annotations

from policyforge.errors import PolicyforgeError
from policyforge.tasks.pipelines.generator import Scenario

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("mixed"),
    Scenario("query-burst", num_pools=2, cpus_per_pool=64, ram_gb_per_pool=256, arrival_rate=0.6, burst=3.0,
             query_prob=0.6, interactive_prob=0.2, batch_prob=0.2),
    Scenario("memory-tight", num_pools=8, cpus_per_pool=16, ram_gb_per_pool=64, arrival_rate=0.55, memory_scale=1.5),
    Scenario("solo", multi_operator_containers=False, arrival_rate=0.6),
)}


def scenario(name: str) -> Scenario:
    found = SCENARIOS.get(name)
    if found is None:
        raise PolicyforgeError(f"unknown pipelines scenario {name!r} (known: {', '.join(SCENARIOS)})")
    return found
