"""`policyforge simulate --task pipelines`: Eudoxia parameter file (+ trace) x policies x seeds.

Prints a table, or with --json one object `{"params", "trace", "policies": {NAME: STATS}}` where STATS has
Eudoxia's statistic names (throughput, p99_latency, assignments, suspensions, failures, pipelines_all,
pipelines_query, pipelines_interactive, pipelines_batch, ...) plus our `score`, `rejected` and `seconds`;
over several seeds numbers are means and `per_seed` lists each run. User errors raise PolicyforgeError.
A policy FILE runs through the engine's `PolicyRunner` (the sandbox); the task class is handed in
(`command_line`), so this module never imports task.py, which imports it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from policyforge.contract import CommandLine, PolicyRunner, Simulate, Task
from policyforge.errors import PolicyError, PolicyforgeError
from policyforge.tasks.pipelines.engine import simulate
from policyforge.tasks.pipelines.policy import BASELINES, load_policy
from policyforge.tasks.pipelines.workloads import inputs
from policyforge.toolkit.cli import policy_list

CATEGORIES = (("query", "pipelines_query"), ("interactive", "pipelines_interactive"), ("batch", "pipelines_batch"))


def command_line(task_class: type[Task]) -> CommandLine:
    """What pipelines adds to `policyforge`: its own simulate (a Eudoxia parameter file and trace)."""

    def run(args: argparse.Namespace, runner: PolicyRunner) -> int:
        if not args.params:
            raise PolicyforgeError("simulate --task pipelines needs --params FILE.toml")
        return simulate_command(args.params, args.trace, args.policy or [], args.seeds or [], args.json,
                                args.unsafe_local_policy, (runner, task_class))

    return CommandLine(Simulate(add_simulate_arguments, run))


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """The pipelines options of `policyforge simulate`."""
    parser.add_argument("--params", metavar="FILE.toml", help="Eudoxia parameter file (required)")
    parser.add_argument("--trace", metavar="FILE.csv", help="Eudoxia trace (default: generate from --params)")


Sandbox = tuple[PolicyRunner, type[Task]]
"""The engine's runner and the task class, for policy files."""


def run_one(params_path: str, trace: str | None, policy_name: str, seed: int | None, unsafe: bool = False,
            sandbox: Sandbox | None = None) -> dict:
    """One simulation: Eudoxia's statistics plus score, rejections and wall time. A policy FILE runs in the
    sandbox and its decisions are replayed here, unless `unsafe` (the user vouches for their own code)."""
    params, workload, config = inputs(params_path, trace, seed)
    started = time.perf_counter()
    if policy_name in BASELINES or unsafe:
        record = simulate(workload, config, load_policy(policy_name), params.random_seed, params.estimate_sigma,
                          params.noise_seed)
    else:
        if sandbox is None:
            raise PolicyError(f"{policy_name}: a policy file needs the engine's sandbox (or unsafe=True)")
        record = _sandboxed(params_path, trace, Path(policy_name), params.random_seed, sandbox)
    out = record.eudoxia_stats()
    out.update(score=record.score(), rejected=record.rejections, rejection_reasons=record.reasons[:5],
               seed=params.random_seed, seconds=time.perf_counter() - started)
    return out


def _sandboxed(params_path: str, trace: str | None, path: Path, seed: int, sandbox: Sandbox):
    """The run of a policy file: its decisions from the sandbox, replayed by the trusted engine."""
    runner, task_class = sandbox
    task = task_class(params=params_path, trace=trace, train_seeds=(), validation_seeds=(), test_seeds=(seed,))
    (instance,) = [i for i in task.instances() if i.split == "test"]
    decisions = runner.decisions(task, path, [instance])
    return task.replay(instance, decisions[instance.id])  # type: ignore[attr-defined]


def _mean(runs: list) -> object:
    first = runs[0]
    if isinstance(first, dict):
        return {k: _mean([r[k] for r in runs]) for k in first if k not in ("rejection_reasons", "seed")}
    if isinstance(first, bool) or not isinstance(first, int | float):
        return first
    return sum(runs) / len(runs)


def simulate_command(params: str, trace: str | None, policies: list[str], seeds: list[int], as_json: bool,
                     unsafe: bool = False, sandbox: Sandbox | None = None) -> int:
    """Run every (policy, seed); an empty `seeds` means the file's random_seed. Returns the exit code."""
    first_params, _, _ = inputs(params, trace, seeds[0] if seeds else None)
    names = policy_list(policies, first_params.scheduler_algo, {"all": list(BASELINES)})
    for name in names:
        if name in BASELINES or unsafe:
            load_policy(name)  # fail fast with a clear line (baselines, or files the user vouched for)
        elif not Path(name).is_file():
            raise PolicyError(f"unknown policy {name!r}: give a baseline name ({', '.join(BASELINES)}) or a .py file")
    labels = {n: (n if n in BASELINES else Path(n).stem) for n in names}
    results: dict[str, dict] = {}
    for name in names:
        runs = [run_one(params, trace, name, seed, unsafe, sandbox) for seed in (seeds or [None])]
        entry = dict(runs[0]) if len(runs) == 1 else _mean(runs)
        if len(runs) > 1:
            entry["per_seed"] = runs
            entry["rejection_reasons"] = [r for run in runs for r in run["rejection_reasons"]][:5]
        results[labels[name]] = entry
    if as_json:
        print(json.dumps({"params": str(params), "trace": trace, "policies": results}, indent=1))
    else:
        print(_table(first_params, params, trace, seeds, results))
    return 0


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if isinstance(value, float) and math.isnan(value) else f"{value:.{digits}f}"


def _table(p, params: str, trace: str | None, seeds: list[int], results: dict[str, dict]) -> str:
    source = f"trace {trace}" if trace else f"{p.generator} generator"
    head = (f"{params}: {p.num_pools} pools x {p.cpus[0]} CPUs / {p.ram_gb[0]:g} GB, {p.duration:g} s at "
            f"{p.ticks_per_second} ticks/s, {source}, seeds {', '.join(map(str, seeds)) if seeds else p.random_seed}")
    cols = (f"{'policy':<14}{'thrpt/s':>9}{'p99 s':>8}{'assign':>8}{'susp':>6}{'fail':>7}"
            f"{'completed q, i, b':>26}{'mean latency s q, i, b':>26}{'score':>9}{'wall s':>8}")
    lines = [head, "", cols, "-" * len(cols)]
    notes = []
    for name, r in results.items():
        done = ", ".join(f"{r[key]['completion_count']:.0f}/{r[key]['arrival_count']:.0f}" for _, key in CATEGORIES)
        latency = ", ".join(_fmt(r[key]["mean_latency_seconds"], 1) for _, key in CATEGORIES)
        lines.append(f"{name:<14}{_fmt(r['throughput'], 3):>9}{_fmt(r['p99_latency']):>8}{r['assignments']:>8.0f}"
                     f"{r['suspensions']:>6.0f}{r['failures']:>7.0f}{done:>26}{latency:>26}{_fmt(r['score']):>9}"
                     f"{r['seconds']:>8.2f}")
        if r["rejected"]:
            notes.append(f"{name}: {r['rejected']:.0f} decision(s) rejected, e.g. {r['rejection_reasons'][0]}")
    if notes:
        print("\n".join(notes), file=sys.stderr)
    return "\n".join(lines)
