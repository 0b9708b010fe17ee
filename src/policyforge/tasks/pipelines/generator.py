"""A seeded workload generator with diverse operators: the variety that makes scheduling choices matter.

Eudoxia's generator gives every non-query operator the same profile, so no sizing decision can be learnt
from it. Here each operator draws a profile (scan, filter, join, aggregate, sort, udf, query), and from the
profile a CPU-scaling curve, single-CPU work and memory, lognormally distributed: some operators need one
CPU and much memory, others scale to many CPUs and need little; memory is fixed or grows while reading.
Pipelines have shapes by priority (a query is one operator; interactive and batch pipelines are chains,
fan-ins and diamonds), and arrive as a Poisson process, optionally in bursts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policyforge.tasks.pipelines.model import (
    BATCH,
    INTERACTIVE,
    QUERY,
    Operator,
    Pipeline,
    Segment,
    Workload,
    reorder,
)


@dataclass(frozen=True)
class Profile:
    """Medians and log-spreads of an operator kind; `memory` None means memory grows with the data read."""

    cpu: tuple[float, float]
    curves: tuple[str, ...]
    read: tuple[float, float]
    memory: tuple[float, float] | None
    two_phase: bool = False


PROFILES: dict[str, Profile] = {
    "scan": Profile(cpu=(2.0, 0.6), curves=("const", "log", "sqrt"), read=(25.0, 0.7), memory=None),
    "filter": Profile(cpu=(4.0, 0.6), curves=("sqrt", "linear3", "log"), read=(2.0, 0.8), memory=(4.0, 0.6)),
    "join": Profile(cpu=(20.0, 0.7), curves=("linear7", "sqrt", "log"), read=(1.0, 0.8), memory=(40.0, 0.6)),
    "aggregate": Profile(cpu=(10.0, 0.6), curves=("linear3", "linear7"), read=(1.0, 0.5), memory=(12.0, 0.7)),
    "sort": Profile(cpu=(12.0, 0.6), curves=("linear7", "sqrt"), read=(30.0, 0.6), memory=None, two_phase=True),
    "udf": Profile(cpu=(40.0, 0.8), curves=("squared", "exp", "linear7", "sqrt"), read=(1.0, 0.5), memory=(6.0, 0.7)),
    "query": Profile(cpu=(8.0, 0.7), curves=("linear3", "linear7", "sqrt"), read=(10.0, 0.8), memory=None),
}


@dataclass(frozen=True)
class Scenario:
    """A cluster and the workload it serves. `arrival_rate` is pipelines per second; `burst` the mean number
    of extra pipelines arriving together; `memory_scale` multiplies every operator's memory."""

    name: str
    duration: float = 600.0
    ticks_per_second: int = 100
    num_pools: int = 4
    cpus_per_pool: int = 32
    ram_gb_per_pool: float = 128.0
    multi_operator_containers: bool = True
    arrival_rate: float = 0.5
    burst: float = 0.0
    query_prob: float = 0.3
    interactive_prob: float = 0.3
    batch_prob: float = 0.4
    memory_scale: float = 1.0
    estimate_sigma: float = 0.3


class _Draw:
    """The generator's random choices, in one seeded stream."""

    def __init__(self, seed: int, scenario: Scenario) -> None:
        self.rng = np.random.default_rng(seed)
        self.scenario = scenario
        self.memory_cap = 0.75 * scenario.ram_gb_per_pool  # every operator fits some pool

    def lognormal(self, median: float, spread: float) -> float:
        return float(median * np.exp(spread * self.rng.standard_normal()))

    def segment(self, kind: str) -> tuple[Segment, ...]:
        p = PROFILES[kind]
        curve = p.curves[int(self.rng.integers(len(p.curves)))]
        cpu = round(self.lognormal(*p.cpu), 3)
        read = round(min(self.lognormal(*p.read) * self.scenario.memory_scale, self.memory_cap), 3)
        if p.memory is None:
            if p.two_phase:  # read (memory grows), then merge in a fixed fraction of what was read
                merge = round(max(0.5, read * 0.5), 3)
                return (Segment(round(cpu * 0.3, 3), curve, None, read), Segment(round(cpu * 0.7, 3), curve, merge, 0.0))
            return (Segment(cpu, curve, None, read),)
        memory = round(min(self.lognormal(*p.memory) * self.scenario.memory_scale, self.memory_cap), 3)
        return (Segment(cpu, curve, memory, read),)

    def shape(self, priority: int) -> list[tuple[str, tuple[int, ...]]]:
        """(profile, parents) per operator, parents before children."""
        if priority == QUERY:
            return [("query", ())]
        rng = self.rng
        if priority == INTERACTIVE:
            if rng.random() < 0.5:
                return [("scan", ()), (str(rng.choice(["filter", "aggregate"])), (0,))]
            return [("scan", ()), ("scan", ()), ("join", (0, 1)), ("aggregate", (2,))]
        form = rng.random()
        middle = ["filter", "aggregate", "sort", "udf", "join"]
        if form < 0.4:  # chain
            n = int(rng.integers(4, 10))
            return [("scan", ())] + [(str(rng.choice(middle)), (i,)) for i in range(n - 1)]
        if form < 0.75:  # fan-in: several scans feed a join, then a tail
            k = int(rng.integers(2, 5))
            ops = [("scan", ()) for _ in range(k)] + [("join", tuple(range(k)))]
            for _ in range(int(rng.integers(1, 4))):
                ops.append((str(rng.choice(["aggregate", "udf", "sort"])), (len(ops) - 1,)))
            return ops
        # diamond: scan, two branches, join, udf
        return [("scan", ()), ("filter", (0,)), (str(rng.choice(["aggregate", "sort"])), (0,)), ("join", (1, 2)),
                ("udf", (3,))]


def generate(scenario: Scenario, seed: int) -> Workload:
    """The scenario's workload for `seed`: same scenario and seed, same workload."""
    draw = _Draw(seed, scenario)
    rng = draw.rng
    tps = scenario.ticks_per_second
    probs = np.array([scenario.query_prob, scenario.interactive_prob, scenario.batch_prob], float)
    probs = probs / probs.sum()
    event_rate = scenario.arrival_rate / (1.0 + scenario.burst)
    pipelines: list[Pipeline] = []
    now = float(rng.exponential(1.0 / event_rate))
    while now < scenario.duration:
        tick = int(now * tps)
        for _ in range(1 + int(rng.poisson(scenario.burst)) if scenario.burst > 0 else 1):
            priority = (QUERY, INTERACTIVE, BATCH)[int(rng.choice(3, p=probs))]
            ops = [Operator(f"op{i + 1}", parents, draw.segment(kind))
                   for i, (kind, parents) in enumerate(draw.shape(priority))]
            pipelines.append(Pipeline(f"p{len(pipelines) + 1}", priority, tick, reorder(ops)))
        now += float(rng.exponential(1.0 / event_rate))
    return Workload(tuple(pipelines), tps, f"generator scenario {scenario.name}, seed {seed}")
