"""The pipelines search task: evolve schedulers for data pipelines on Eudoxia's model.

Instances are (scenario, seed) pairs of the diverse generator; train, validation and test use disjoint
seeds, and test adds the other scenarios, so a reported figure is never one the search selected on. The
score (higher is better) is weighted completed pipelines per minute / (1 + weighted mean latency / 10 s);
see stats.py. A task built with `params=FILE.toml` uses an Eudoxia parameter file's cluster and generator
instead, one instance per seed.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from policyforge.contract import (
    CommandLine,
    Decisions,
    Evaluation,
    Instance,
    PolicySpec,
    SearchHints,
    Task,
    check_held_out,
    instance_rng,
    versus_best_baseline,
)
from policyforge.errors import PolicyforgeError
from policyforge.tasks.pipelines.engine import ClusterConfig, DecisionLog, ScriptedPolicy, simulate
from policyforge.tasks.pipelines.interface import (
    PIPELINES_POLICY,
    PIPELINES_RANK_GP_TABLE,
    PIPELINES_RANK_POLICY,
)
from policyforge.tasks.pipelines.model import STAT_KEYS, Workload
from policyforge.tasks.pipelines.policy import BASELINES, RANK_BASELINES, baseline_path, policy_of_module
from policyforge.tasks.pipelines.scenarios import SCENARIOS, scenario
from policyforge.tasks.pipelines.workloads import inputs, params_workload

PROBE = '''
TRUE_NEEDS = ("memory_gb", "storage_read_gb", "baseline_cpu_seconds", "segments", "peak_memory_gb", "io_seconds",
              "cpu_scaling", "ends", "fail_index")


def _must_fail(action, what):
    try:
        action()
    except (AttributeError, TypeError, ValueError, IndexError):
        return
    raise AssertionError(what + " succeeded")


def schedule(state, results, arrivals, cluster):
    for p in arrivals:
        _must_fail(lambda: setattr(p, "priority", 1), "setting pipeline.priority")
        _must_fail(lambda: p.states.__setitem__(0, "completed"), "writing pipeline.states")
        for op in p.ops:
            _must_fail(lambda: setattr(op, "est_memory_gb", 0.0), "setting operator.est_memory_gb")
            for name in TRUE_NEEDS:
                _must_fail(lambda: getattr(op, name), "reading operator." + name)
    for r in results:
        _must_fail(lambda: setattr(r, "outcome", "completed"), "setting result.outcome")
    for name in ("cpu_free", "ram_free_gb", "cpu_total", "ram_total_gb"):
        array = getattr(cluster, name)
        _must_fail(lambda: array.__setitem__(Ellipsis, 0), "writing cluster." + name)
    _must_fail(lambda: setattr(cluster, "pools", ()), "setting cluster.pools")
    for pool in cluster.pools:
        _must_fail(lambda: setattr(pool, "cpu_free", 10 ** 6), "setting pool.cpu_free")
        for c in pool.containers:
            _must_fail(lambda: setattr(c, "ram_gb", 10 ** 6), "setting container.ram_gb")
            for name in TRUE_NEEDS:
                _must_fail(lambda: getattr(c, name), "reading container." + name)
    return [], []
'''


PROXY_SCALE = 0.25
"""A proxy scenario's share of the full duration (benchmarks/proxy_fidelity.py measured it)."""


@lru_cache(maxsize=32)
def _workload(name: str, seed: int, scale: float = 1.0) -> tuple[Workload, ClusterConfig, float]:
    """The scenario's workload and cluster; `scale` < 1 shortens the duration (a proxy: the generator draws
    the same arrivals and stops earlier, so the proxy is the full scenario's first part)."""
    s = scenario(name)
    if scale != 1.0:
        s = replace(s, duration=s.duration * scale)
    from policyforge.tasks.pipelines.generator import generate

    config = ClusterConfig((s.cpus_per_pool,) * s.num_pools, (float(s.ram_gb_per_pool),) * s.num_pools,
                           s.ticks_per_second, s.duration, s.multi_operator_containers)
    return generate(s, seed), config, s.estimate_sigma


Seed = int | np.random.Generator
"""A public seed, or a keyed generator (a search instance)."""


def instance_inputs(instance: Instance) -> tuple[Workload, ClusterConfig, float, Seed, Seed | None]:
    """(workload, cluster, estimate sigma, policy seed, estimate-noise seed) of an instance; `scale` (a
    proxy's) shortens the duration.

    A search instance (keyed by the engine) draws its workload, its estimate noise and its policy's
    generator from three independent keyed streams, so its seed is only a label; a public one (`simulate`)
    uses its seed as Eudoxia does. A trace is public either way: only its noise and policy stream are keyed."""
    params = instance.params
    seed, scale = int(params["seed"]), float(params.get("scale", 1.0))
    if instance.key:
        hidden = int(instance_rng(instance, "workload").integers(2 ** 63))
        noise, policy = instance_rng(instance, "estimates"), instance_rng(instance, "policy")
        if "params" in params:
            if params.get("trace"):
                sim, workload, config = inputs(str(params["params"]), str(params["trace"]), hidden, scale)
                return workload, config, sim.estimate_sigma, policy, noise
            workload, config, sigma = params_workload(str(params["params"]), hidden, scale)
            return workload, config, sigma, policy, noise
        workload, config, sigma = _workload(str(params["scenario"]), hidden, scale)
        return workload, config, sigma, policy, noise
    if "params" in params:
        if params.get("trace"):
            sim, workload, config = inputs(str(params["params"]), str(params["trace"]), seed, scale)
            return workload, config, sim.estimate_sigma, seed, sim.noise_seed
        workload, config, sigma = params_workload(str(params["params"]), seed, scale)
        return workload, config, sigma, seed, None
    workload, config, sigma = _workload(str(params["scenario"]), seed, scale)
    return workload, config, sigma, seed, None


def run_metrics(record) -> dict[str, float]:
    """Flat named figures of a run (NaN-free: a latency with no completions is left out)."""
    stats = record.eudoxia_stats()
    out = {"score": record.score(), "weighted_latency": record.weighted_latency(), "throughput": stats["throughput"],
           "assignments": stats["assignments"], "suspensions": stats["suspensions"], "failures": stats["failures"],
           "rejected": record.rejections}
    for key in ("pipelines_all", *STAT_KEYS.values()):
        short = key.split("_")[1]
        out[f"{short}_arrived"] = stats[key]["arrival_count"]
        out[f"{short}_completed"] = stats[key]["completion_count"]
        if not math.isnan(stats[key]["mean_latency_seconds"]):
            out[f"{short}_mean_latency"] = stats[key]["mean_latency_seconds"]
    return {k: float(v) for k, v in out.items()}


K8S_DEFAULT_WORKLOADS = ("openb-synthetic", "default")
"""What the command line passes as --workload when none is given (its k8s-gpu defaults): ignored here."""


def _from_workload(workload: str | None, scenario: str, params: str | None) -> tuple[str, str | None]:
    """The generic --workload option: a scenario name or an Eudoxia parameter file."""
    if workload is None or workload in K8S_DEFAULT_WORKLOADS:
        return scenario, params
    if workload in SCENARIOS:
        return workload, params
    if workload.endswith(".toml"):
        return scenario, workload
    raise PolicyforgeError(f"pipelines: --workload {workload!r} is neither a scenario ({', '.join(SCENARIOS)}) "
                           "nor an Eudoxia .toml parameter file")


class PipelinesTask(Task):
    """pipelines: start and suspend containers for data pipelines; maximise weighted throughput over latency.

    A policy writes `schedule` whole, or only `rank` (+ `ram_gb`, `cpus`) for the ranking mechanism, which
    the task runs. Decisions: every call's tick, suspensions and assignments; the trusted half replays them
    on a fresh engine, whose own checks accept or reject each exactly as in the sandbox."""

    name = "pipelines"
    spec: PolicySpec = PIPELINES_POLICY
    interfaces = (PIPELINES_RANK_POLICY,)

    def __init__(self, scenario: str = "mixed", train_seeds: list[int] | tuple[int, ...] = (1, 2, 3, 4, 5),
                 validation_seeds: list[int] | tuple[int, ...] = (101, 102, 103),
                 test_seeds: list[int] | tuple[int, ...] = (201, 202, 203),
                 test_scenarios: list[str] | tuple[str, ...] | None = None, params: str | None = None,
                 workload: str | None = None, trace: str | None = None, proxy_scale: float = PROXY_SCALE) -> None:
        if not 0 <= proxy_scale < 1:
            raise PolicyforgeError(f"pipelines: proxy_scale {proxy_scale} must lie in [0, 1) (0: no proxies)")
        self.proxy_scale = float(proxy_scale)
        """A proxy scenario's share of the full duration (0: no proxies)."""
        scenario, params = _from_workload(workload, scenario, params)
        self.params = str(Path(params).resolve()) if params else None
        self.trace = str(Path(trace).resolve()) if trace else None
        if self.trace and not self.params:
            raise PolicyforgeError("pipelines: a trace needs its parameter file (params=FILE.toml)")
        if self.params:
            params_workload(self.params, 0)  # fail now, with the file's own message, if it is malformed
        elif scenario not in SCENARIOS:
            raise PolicyforgeError(f"pipelines: unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
        self.scenario = scenario
        if test_scenarios is None:
            test_scenarios = tuple(SCENARIOS) if scenario == "mixed" and not self.params else (scenario,)
        for name in test_scenarios:
            if name not in SCENARIOS:
                raise PolicyforgeError(f"pipelines: unknown test scenario {name!r}")
        self.test_scenarios = tuple(test_scenarios)
        self.train_seeds, self.validation_seeds = tuple(train_seeds), tuple(validation_seeds)
        self.test_seeds = tuple(test_seeds)
        check_held_out("pipelines", self.train_seeds, self.validation_seeds, self.test_seeds)

    def options(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "train_seeds": list(self.train_seeds),
                "validation_seeds": list(self.validation_seeds), "test_seeds": list(self.test_seeds),
                "test_scenarios": list(self.test_scenarios), "params": self.params,
                "proxy_scale": self.proxy_scale, **({"trace": self.trace} if self.trace else {})}

    def baselines(self) -> dict[str, Path]:
        return {name: baseline_path(name) for name in (*BASELINES, *RANK_BASELINES)}

    def data_paths(self) -> tuple[str, ...]:
        return tuple(p for p in (self.params, self.trace) if p)

    @classmethod
    def command_line(cls) -> CommandLine:
        from policyforge.tasks.pipelines.cli import command_line

        return command_line(cls)

    @classmethod
    def options_from_cli(cls, workload: str | None, report=print) -> dict[str, Any]:
        if workload is None:
            return {}
        cls(workload=workload)  # fail now, before a run starts, with the task's own message
        return {"workload": workload}

    def _instance(self, label: str, split: str, seed: int) -> Instance:
        if self.params:
            stem = Path(self.params).stem
            extra = {"trace": self.trace} if self.trace else {}
            return Instance(f"{stem}/seed{seed}", split, {"params": self.params, "seed": seed, **extra}, stem)
        return Instance(f"{label}/seed{seed}", split, {"scenario": label, "seed": seed}, label)

    def instances(self) -> list[Instance]:
        out = [self._instance(self.scenario, "train", s) for s in self.train_seeds]
        out += [self._instance(self.scenario, "validation", s) for s in self.validation_seeds]
        tests = (self.scenario,) if self.params else self.test_scenarios
        out += [self._instance(name, "test", s) for name in tests for s in self.test_seeds]
        return out

    def search_hints(self) -> SearchHints:
        return SearchHints(tuple(self.proxy_instances()), tuple(self.screen_instances()),
                           # the GP proposer evolves `rank(ops, load)` over the ranking mechanism (ranking.py)
                           gp_spec=PIPELINES_RANK_POLICY, gp_table=PIPELINES_RANK_GP_TABLE,
                           trusted_tree_runs=True,  # every `run` builds a fresh engine from the instance
                           feedback=self.feedback)

    def screen_instances(self) -> list[Instance]:
        return [i for i in self.instances() if i.split == "train"][:1]

    def proxy_instances(self) -> list[Instance]:
        """Per train instance, the same scenario and cluster for the first `proxy_scale` of its duration (on
        public seeds, the same arrivals up to then; a keyed proxy draws its own). The score is per minute and latency-weighted, and a pipeline still
        running at the end counts with its age, so a shorter run is on the same scale."""
        if not self.proxy_scale:
            return []
        return [Instance(f"{i.id}@proxy", "train", {**i.params, "scale": self.proxy_scale}, i.group)
                for i in self.instances() if i.split == "train"]

    def replay(self, instance: Instance, decisions: Decisions):
        """The trusted run the decisions describe (its RunRecord); PolicyError when they diverge from it."""
        workload, config, sigma, seed, noise = instance_inputs(instance)
        return simulate(workload, config, ScriptedPolicy(decisions), seed, sigma, noise)

    def run(self, policy: ModuleType, instance: Instance) -> Decisions:
        workload, config, sigma, seed, noise = instance_inputs(instance)
        log = DecisionLog()
        simulate(workload, config, policy_of_module(policy, "candidate"), seed, sigma, noise, log=log)
        return log.columns()

    def score(self, instance: Instance, decisions: Decisions) -> Evaluation:
        record = self.replay(instance, decisions)
        metrics = run_metrics(record)
        return Evaluation(metrics["score"], metrics)

    def read_only_probe(self) -> str:
        """A policy that tries to write every view and read true needs; each attempt must fail."""
        return PROBE

    def objective(self) -> str:
        return ("Weighted completed pipelines per minute divided by (1 + weighted mean latency / 10 s), mean over "
                "instances; weights query 10, interactive 5, batch 1; a pipeline unfinished at the end counts "
                "with its age then. Higher is better.")

    def feedback(self, scores: dict[str, float], metrics: dict[str, dict[str, float]],
                 baseline_scores: dict[str, dict[str, float]]) -> str:
        lines = []
        for instance, value in scores.items():
            m = metrics.get(instance, {})
            refs = ", ".join(f"{b} {s[instance]:.2f}" for b, s in baseline_scores.items() if instance in s)
            done = " ".join(f"{k[0]} {m.get(k + '_completed', 0):.0f}/{m.get(k + '_arrived', 0):.0f}"
                            for k in ("query", "interactive", "batch"))
            lines.append(f"{instance}: score {value:.2f} (baselines: {refs}); completed {done}; weighted latency "
                         f"{m.get('weighted_latency', float('nan')):.1f} s; OOM failures {m.get('failures', 0):.0f}, "
                         f"suspensions {m.get('suspensions', 0):.0f}, rejected decisions {m.get('rejected', 0):.0f}")
        lines.append(versus_best_baseline(scores, baseline_scores))
        return "\n".join(line for line in lines if line)
