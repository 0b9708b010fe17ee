"""Comparing policies over seeds: run every (policy, seed), in parallel processes, and aggregate.

Runs are independent and each is fully determined by its seed, so the aggregate does not depend on how many
worker processes ran them or in which order they finished.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from policyforge.tasks.k8s_gpu.policy import load_policy
from policyforge.tasks.k8s_gpu.simulate import InflationResult, ReplayResult, run_inflation, run_replay
from policyforge.tasks.k8s_gpu.trace import NodeTable, PodTable

INFLATION_FIELDS = ("alloc_at_100", "alloc_at_130", "frag_ratio_at_100", "frag_amount_at_100", "failed_pods",
                    "seconds")
REPLAY_FIELDS = ("gpu_utilisation", "cpu_utilisation", "memory_utilisation", "wait_p50_seconds",
                 "wait_p99_seconds", "never_scheduled", "waited_pods", "seconds")


@dataclass(frozen=True)
class Job:
    policy: str
    seed: int
    mode: str
    tune: float
    speedup: float = 1.0
    fallback: object = None
    """fallback.FallbackOptions or None (off)."""


_WORKER_INPUTS: tuple[NodeTable, PodTable] | None = None


def _init_worker(nodes: NodeTable, pods: PodTable) -> None:
    global _WORKER_INPUTS
    _WORKER_INPUTS = (nodes, pods)


def _run(job: Job) -> InflationResult | ReplayResult:
    nodes, pods = _WORKER_INPUTS
    policy = load_policy(job.policy)
    if job.mode == "replay":
        return run_replay(nodes, pods, policy, job.seed, speedup=job.speedup)
    return run_inflation(nodes, pods, policy, job.seed, job.tune, fallback=job.fallback)


def run_all(nodes: NodeTable, pods: PodTable, policies: list[str], seeds: list[int], mode: str = "inflation",
            tune: float = 1.3, jobs: int | None = None,
            progress: Callable[[int], None] | None = None, speedup: float = 1.0, fallback=None) -> dict[str, list]:
    """Results per policy name, in seed order. Policies are loaded by name or path in each worker;
    `speedup` compresses replay arrivals (see simulate.run_replay); `fallback` turns on the CP-SAT repacking."""
    work = [Job(p, s, mode, tune, speedup, fallback) for p in policies for s in seeds]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(work)))
    results: dict[Job, InflationResult | ReplayResult] = {}
    if workers == 1:
        _init_worker(nodes, pods)
        for job in work:
            results[job] = _run(job)
            if progress:
                progress(1)
    else:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(nodes, pods)) as pool:
            for job, result in zip(work, pool.map(_run, work), strict=True):
                results[job] = result
                if progress:
                    progress(1)
    return {p: [results[Job(p, s, mode, tune, speedup, fallback)] for s in seeds] for p in policies}


def aggregate(results: dict[str, list], mode: str = "inflation") -> dict:
    """Mean and standard deviation over seeds of every headline figure, plus the per-seed rows."""
    fields = REPLAY_FIELDS if mode == "replay" else INFLATION_FIELDS
    out = {}
    for name, runs in results.items():
        rows = [r.summary() for r in runs]
        entry: dict = {}
        for f in fields:
            values = np.array([np.nan if row[f] is None else row[f] for row in rows], float)
            entry[f] = _round(np.nanmean(values)) if not np.isnan(values).all() else None
            entry[f + "_std"] = _round(np.nanstd(values)) if not np.isnan(values).all() else None
        entry["per_seed"] = rows
        out[name] = entry
    return {"policies": out}


def _round(value: float) -> float:
    return round(float(value), 4)


def mean_curves(results: dict[str, list]) -> dict[str, np.ndarray]:
    """Mean allocation-vs-arrived curve per policy (inflation runs)."""
    return {name: np.nanmean([r.allocation_curve() for r in runs], axis=0) for name, runs in results.items()}
