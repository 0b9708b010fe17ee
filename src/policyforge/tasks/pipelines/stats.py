"""What a run records, Eudoxia's statistics computed from it the way Eudoxia computes them, and our score.

Eudoxia's names and definitions: `throughput` is containers completed per second of duration; `p99_latency`
the 99th percentile of container run times (completed and failed containers) in seconds; per priority, the
pipelines that arrived, completed, and the mean and 99th-percentile latency (finish tick minus arrival tick)
of those that completed. Percentiles are numpy's linear interpolation, as in Eudoxia.

The search objective (`score`, higher is better) combines throughput and latency:

    score = weighted completed pipelines per minute / (1 + weighted mean latency / 10 s)

with Eudoxia's priority weights (query 10, interactive 5, batch 1), and where a pipeline still unfinished at
the end counts with its age then (so starving or dropping work can never lower the latency term).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from policyforge.tasks.pipelines.model import BATCH, INTERACTIVE, QUERY, STAT_KEYS

WEIGHTS = {QUERY: 10.0, INTERACTIVE: 5.0, BATCH: 1.0}
"""Eudoxia's priority weights (its `adjusted_latency`)."""
LATENCY_SCALE_SECONDS = 10.0
MAX_REASONS = 20


@dataclass
class RunRecord:
    ticks_per_second: int
    duration: float
    arrivals: dict[int, int] = field(default_factory=lambda: {QUERY: 0, INTERACTIVE: 0, BATCH: 0})
    latencies: dict[int, list[int]] = field(default_factory=lambda: {QUERY: [], INTERACTIVE: [], BATCH: []})
    unfinished: dict[int, list[int]] = field(default_factory=lambda: {QUERY: [], INTERACTIVE: [], BATCH: []})
    container_ticks: list[int] = field(default_factory=list)
    containers_completed: int = 0
    assignments: int = 0
    suspensions: int = 0
    suspended: int = 0
    failures: int = 0
    failure_counts: dict[str, int] = field(default_factory=dict)
    rejections: int = 0
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def arrival(self, priority: int) -> None:
        self.arrivals[priority] += 1

    def completion(self, priority: int, latency_ticks: int) -> None:
        self.latencies[priority].append(latency_ticks)

    def failure(self, error: str) -> None:
        self.failures += 1
        self.failure_counts[error] = self.failure_counts.get(error, 0) + 1

    def reject(self, now: float, reason: str) -> None:
        self.rejections += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(f"t={now:.2f}s: {reason}")

    # ----- Eudoxia's statistics ----------------------------------------------------------------------
    def _category(self, arrived: int, latencies: list[int]) -> dict[str, float | int]:
        tps = self.ticks_per_second
        if latencies:
            mean, p99 = float(np.mean(latencies)) / tps, float(np.percentile(latencies, 99)) / tps
        else:
            mean = p99 = math.nan
        return {"arrival_count": arrived, "completion_count": len(latencies),
                "mean_latency_seconds": mean, "p99_latency_seconds": p99}

    def eudoxia_stats(self) -> dict:
        """Eudoxia's printed statistics, same names."""
        everything = [x for p in (QUERY, INTERACTIVE, BATCH) for x in self.latencies[p]]
        p99 = float(np.percentile(self.container_ticks, 99)) / self.ticks_per_second if self.container_ticks else math.nan
        out = {
            "pipelines_created": sum(self.arrivals.values()),
            "containers_completed": self.containers_completed,
            "throughput": self.containers_completed / self.duration,
            "p99_latency": p99,
            "assignments": self.assignments,
            "suspensions": self.suspensions,
            "failures": self.failures,
            "failure_error_counts": dict(self.failure_counts),
            "pipelines_all": self._category(sum(self.arrivals.values()), everything),
        }
        for priority in (QUERY, INTERACTIVE, BATCH):
            out[STAT_KEYS[priority]] = self._category(self.arrivals[priority], self.latencies[priority])
        return out

    # ----- the objective -----------------------------------------------------------------------------
    def weighted_latency(self) -> float:
        """Priority-weighted mean latency (s) over all arrived pipelines, unfinished ones at their final age."""
        total = weight = 0.0
        for priority, w in WEIGHTS.items():
            ticks = self.latencies[priority] + self.unfinished[priority]
            total += w * sum(ticks) / self.ticks_per_second
            weight += w * len(ticks)
        return total / weight if weight else 0.0

    def score(self) -> float:
        weighted_done = sum(WEIGHTS[p] * len(self.latencies[p]) for p in WEIGHTS)
        per_minute = 60.0 * weighted_done / self.duration
        return per_minute / (1.0 + self.weighted_latency() / LATENCY_SCALE_SECONDS)
