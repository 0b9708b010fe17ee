"""From an Eudoxia parameter file (and optionally a trace) to what a run needs: workload, cluster, noise."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from policyforge.tasks.pipelines.engine import ClusterConfig
from policyforge.tasks.pipelines.eudoxia_gen import eudoxia_workload
from policyforge.tasks.pipelines.generator import Scenario, generate
from policyforge.tasks.pipelines.model import Workload
from policyforge.tasks.pipelines.params import SimParams, load_params
from policyforge.tasks.pipelines.trace import read_trace


def cluster_of(params: SimParams) -> ClusterConfig:
    return ClusterConfig(params.cpus, params.ram_gb, params.ticks_per_second, params.duration,
                         params.multi_operator_containers)


def generated(params: SimParams) -> Workload:
    """The workload of the parameters' generator: Eudoxia's own, or our diverse one on the same knobs."""
    if params.generator == "eudoxia":
        return eudoxia_workload(params)
    w = params.workload
    return generate(Scenario(
        name=Path(params.source).stem, duration=params.duration, ticks_per_second=params.ticks_per_second,
        num_pools=params.num_pools, cpus_per_pool=min(params.cpus), ram_gb_per_pool=min(params.ram_gb),
        multi_operator_containers=params.multi_operator_containers,
        arrival_rate=w["num_pipelines"] / w["waiting_seconds_mean"], burst=w["num_pipelines"] - 1.0,
        query_prob=w["query_prob"], interactive_prob=w["interactive_prob"], batch_prob=w["batch_prob"],
        estimate_sigma=params.estimate_sigma), params.random_seed)


@lru_cache(maxsize=8)
def _trace(path: str, ticks_per_second: int) -> Workload:
    return read_trace(path, ticks_per_second)


def inputs(params_path: str, trace_path: str | None, seed: int | None, scale: float = 1.0
           ) -> tuple[SimParams, Workload, ClusterConfig]:
    """Parameters (with `seed` as random_seed when given), the trace's or generated workload, and the cluster.
    `scale` < 1 shortens the duration (a proxy instance); a trace then keeps the pipelines that arrive in it."""
    params = load_params(params_path)
    if seed is not None:
        params = replace(params, random_seed=seed)
    if scale != 1.0:
        params = replace(params, duration=params.duration * scale)
    workload = _trace(str(Path(trace_path).resolve()), params.ticks_per_second) if trace_path else generated(params)
    if trace_path and scale != 1.0:
        workload = replace(workload, pipelines=tuple(p for p in workload.pipelines
                                                     if p.arrival_tick < params.max_ticks))
    return params, workload, cluster_of(params)


@lru_cache(maxsize=16)
def params_workload(params_path: str, seed: int, scale: float = 1.0) -> tuple[Workload, ClusterConfig, float]:
    """A task instance from a parameter file: its generator with random_seed = `seed` (`scale`: see inputs)."""
    params, workload, config = inputs(params_path, None, seed, scale)
    return workload, config, params.estimate_sigma
