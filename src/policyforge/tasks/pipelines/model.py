"""The workload model: pipelines are DAGs of operators, operators are sequences of segments.

These objects hold the TRUE resource needs and live only inside the simulator; policies see
`views.OperatorView`, which carries estimates. Everything is immutable (named tuples: cheap to build and to
hash, which matters at tens of thousands of operators) so a workload can be shared by many runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

DISK_GB_PER_SECOND = 20.0
"""Storage scan rate: memory grows at this rate while reading, and suspension writes RAM out at it."""

QUERY, INTERACTIVE, BATCH = 1, 2, 3
"""Priorities with Eudoxia's enum values: lower is more urgent."""

PRIORITY_NAMES = MappingProxyType({QUERY: "QUERY", INTERACTIVE: "INTERACTIVE", BATCH: "BATCH_PIPELINE"})
PRIORITY_BY_NAME = MappingProxyType({name: value for value, name in PRIORITY_NAMES.items()})
STAT_KEYS = MappingProxyType({QUERY: "pipelines_query", INTERACTIVE: "pipelines_interactive", BATCH: "pipelines_batch"})


def _bounded(limit: int):
    def curve(cpus, base):
        return base / cpus if cpus < limit else base / limit
    return curve


def _exp(cpus, base):
    return base / np.power(2, cpus) if cpus < 4 else base / 16


SCALING = MappingProxyType({
    "const": lambda cpus, base: base,
    "log": lambda cpus, base: base / (np.log(cpus) + 1),
    "sqrt": lambda cpus, base: base / np.sqrt(cpus),
    "linear3": _bounded(3),
    "linear7": _bounded(7),
    "squared": lambda cpus, base: base / np.power(cpus, 2),
    "exp": _exp,
})
"""Read-only: policies compute with it (through features.py) in the same process as the simulator. CPU seconds of a segment given `cpus` and its single-CPU `base` seconds, with Eudoxia's formulas (numpy's
log and power, as Eudoxia uses, so tick counts truncate identically)."""


class Segment(NamedTuple):
    """Reads `storage_read_gb` (I/O phase), then computes (CPU phase). Memory is `memory_gb` throughout when
    set; otherwise it grows with the bytes read and stays at `storage_read_gb` during the CPU phase."""

    baseline_cpu_seconds: float
    cpu_scaling: str
    memory_gb: float | None
    storage_read_gb: float

    @property
    def peak_memory_gb(self) -> float:
        return self.memory_gb if self.memory_gb is not None else self.storage_read_gb

    @property
    def io_seconds(self) -> float:
        return self.storage_read_gb / DISK_GB_PER_SECOND

    def cpu_seconds(self, cpus: int) -> float:
        return float(SCALING[self.cpu_scaling](cpus, self.baseline_cpu_seconds))


class Operator(NamedTuple):
    """One node of a pipeline. `parents` are indices into the pipeline's `operators` (always smaller)."""

    name: str
    parents: tuple[int, ...]
    segments: tuple[Segment, ...]

    @property
    def peak_memory_gb(self) -> float:
        return max(s.peak_memory_gb for s in self.segments)


class Pipeline(NamedTuple):
    """A DAG of operators in topological order, arriving at `arrival_tick`."""

    name: str
    priority: int
    arrival_tick: int
    operators: tuple[Operator, ...]


@dataclass(frozen=True)
class Workload:
    """Pipelines in delivery order (arrival ticks never decrease) and where they came from."""

    pipelines: tuple[Pipeline, ...]
    ticks_per_second: int
    source: str = "<memory>"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def num_operators(self) -> int:
        return sum(len(p.operators) for p in self.pipelines)


def topological_order(parents: list[list[int]]) -> list[int]:
    """Eudoxia's DAG iteration: breadth first from the roots (in insertion order), a node once all its parents
    are out. Returns the new order as indices into `parents`."""
    children: list[list[int]] = [[] for _ in parents]
    for node, ps in enumerate(parents):
        for p in ps:
            children[p].append(node)
    queue = [n for n, ps in enumerate(parents) if not ps]
    done: set[int] = set()
    order: list[int] = []
    head = 0
    while head < len(queue):
        node = queue[head]
        head += 1
        done.add(node)
        order.append(node)
        for child in children[node]:
            if child not in done and all(p in done for p in parents[child]):
                queue.append(child)
    return order


def reorder(operators: list[Operator]) -> tuple[Operator, ...]:
    """Operators (parents as indices into `operators`) in topological order, parents re-indexed."""
    order = topological_order([list(op.parents) for op in operators])
    position = {old: new for new, old in enumerate(order)}
    return tuple(Operator(operators[old].name, tuple(position[p] for p in operators[old].parents),
                          operators[old].segments) for old in order)
