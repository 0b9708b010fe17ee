"""Do a task's proxy instances rank policies as its full train instances do?

Multi-fidelity search screens every candidate on `Task.search_hints().proxy_instances` and promotes the best to full train
fidelity (successive halving), so a proxy is worth having only if the order it gives is the full order. Per
task this prints the Spearman rank correlation between each policy's proxy-mean and full-train-mean score
over ALL baselines (policy files and the task's reference baselines) and random GP candidates (the proposer's
own `random_tree`, seeded, plus its seed programs), then the same over subsets that say more about a search:
distinct behaviours only (random trees that decide identically, e.g. a constant score breaking every tie the
same way, counted once), and the baselines alone. It also prints how often the full top tenth survives the
first halving on the proxies (is in the proxies' top half), and the time per proxy and per full instance
(run + trusted score, in-process: trees by the trusted interpreter, baseline files exec'd into a fresh module
per instance, as the engine's worker processes do).

Deterministic given --seed. The 2 worker processes share the machine: quote its load (`uptime`) with the
figures. `--scale X` overrides the task's proxy size (its `proxy_scale` option); `--cache FILE` keeps every
(policy, instance) figure so that trying another proxy size re-measures only the proxies.

Run: python benchmarks/proxy_fidelity.py TASK [TASK ...] [--candidates 100] [--seed 0] [--scale X]
     (TASK: k8s-gpu, cache, pipelines, binpacking for the example task, or any --task reference)

Measured (seed 0, 100 random trees; 2 shared cores, load averages 4-9 from other jobs, so seconds are
inflated; the ratio of proxy to full compares runs of the same benchmark):
- k8s-gpu, default options, proxy 0.1 of the cluster and pods: Spearman +0.976 (N=114; distinct behaviours
  +0.987, N=85; the 10 baselines +1.000), full top tenth all in the proxies' top half (11/11); 0.53 s per
  proxy vs 5.90 s per full instance (11x). At 0.05: +0.958 (baselines +0.952).
- pipelines, default options, proxy 0.25 of the duration: +0.937 (N=106), 11/11; 1.34 vs 5.68 s (4.3x).
  At 0.1: +0.883.
- binpacking (the example), a quarter of the items: +0.892 (N=107; distinct +0.932, N=33), 11/11;
  0.018 vs 0.077 s.
- cache, default options, proxy 0.25 of each window: NOT the 100-tree figure yet. The run was stopped after
  34 policies (the 5 RANK files, the 10 reference baselines, 4 seed programs, random trees 0-14): +0.971
  (baselines +0.936, N=15; trees +0.982, N=19), 3/3; 2.98 vs 9.57 s (3.2x). Random RANK trees took 5-46 s
  per 200k-request window at that load, so 100 of them did not fit; `--cache FILE` resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from policyforge.contract import Instance, Task
from policyforge.search.proposers.gp import GPProposer
from policyforge.tasks.registry import get_task
from policyforge.trees.interpreter import compile_tree
from policyforge.trust.vouched import _features, _grammar

ROOT = Path(__file__).resolve().parent.parent
ALIASES = {"binpacking": f"{ROOT / 'examples' / 'binpacking' / 'task.py'}:OnlineBinPacking"}
TREE, FILE, REFERENCE = "tree", "baseline", "reference"


@dataclass
class Policy:
    """One policy to measure: a GP tree (its rendered code), a baseline file's text, or a reference name."""

    kind: str
    name: str
    code: str


@dataclass
class Outcome:
    """A policy's scores and seconds per instance id; `error` when it failed on any instance."""

    name: str
    kind: str
    scores: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str = ""


# --- the worker side ---------------------------------------------------------------------------------------

_TASK: Task | None = None
_CACHE: dict[str, list[float]] = {}


def _init(ref: str, options: dict[str, Any], cache: dict[str, list[float]]) -> None:
    global _TASK, _CACHE
    _TASK, _CACHE = get_task(ref, **options), cache


def _key(ref: str, options: dict[str, Any], instance: Instance, policy: Policy) -> str:
    """What a figure depends on: the task (its proxy size aside: the instance's params say it), the instance's
    parameters and the policy."""
    fixed = {k: v for k, v in options.items() if k != "proxy_scale"}
    text = json.dumps([ref, fixed, instance.params, policy.kind, policy.name, policy.code], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _module(task: Task, policy: Policy) -> types.ModuleType:
    if policy.kind == TREE:
        grammar = _grammar(task)
        tree = GPProposer.for_task(task).parse(policy.code)
        assert tree is not None, policy.name
        return compile_tree(grammar, tree, _features(grammar.feature_module))
    module = types.ModuleType("baseline")  # fresh per instance, as the engine's worker loads a baseline file
    exec(compile(policy.code, f"<{policy.name}>", "exec"), module.__dict__)
    return module


def measure(job: tuple[str, dict[str, Any], Policy, list[Instance]]) -> tuple[Outcome, dict[str, list[float]]]:
    """Score one policy on every instance (trusted, in this process); also the new cache entries."""
    ref, options, policy, instances = job
    task = _TASK
    assert task is not None
    out, fresh = Outcome(policy.name, policy.kind), {}
    shared = _module(task, policy) if policy.kind == TREE else None
    for instance in instances:
        key = _key(ref, options, instance, policy)
        if key in _CACHE:
            out.scores[instance.id], out.seconds[instance.id] = _CACHE[key]
            continue
        started = time.perf_counter()
        try:
            if policy.kind == REFERENCE:
                value = task.reference_evaluation(policy.name, instance).score
            else:
                decisions = task.run(shared or _module(task, policy), instance)
                value = task.score(instance, decisions).score
        except Exception as exc:  # PolicyError, PolicyCrashed (a random tree may be invalid), ...: excluded
            out.error = f"{instance.id}: {type(exc).__name__}: {exc}"[:200]
            return out, fresh
        seconds = time.perf_counter() - started
        out.scores[instance.id], out.seconds[instance.id] = value, seconds
        fresh[key] = [value, seconds]
    return out, fresh


# --- statistics ------------------------------------------------------------------------------------------


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank (as scipy.stats.rankdata's default)."""
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    out = np.empty(len(values))
    out[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return out


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho: Pearson's correlation of the average ranks (NaN when either side is constant)."""
    rx, ry = ranks(np.asarray(x, float)), ranks(np.asarray(y, float))
    if len(rx) < 3 or rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def survival(proxy: np.ndarray, full: np.ndarray, top: float = 0.1, keep: float = 0.5) -> tuple[int, int]:
    """How many of the full top `top` share are in the proxies' top `keep` share (ties to the proxy's favour:
    a candidate survives when its proxy score reaches the cut)."""
    n = len(full)
    best = np.argsort(-full, kind="mergesort")[: max(1, round(top * n))]
    cut = np.sort(proxy)[::-1][max(1, round(keep * n)) - 1]
    return int((proxy[best] >= cut).sum()), len(best)


# --- the driver ------------------------------------------------------------------------------------------


def policies(task: Task, candidates: int, seed: int) -> list[Policy]:
    """Every baseline, then the GP proposer's seed programs, then `candidates` random trees (seeded)."""
    out = [Policy(FILE, name, Path(path).read_text()) for name, path in task.baselines().items()]
    out += [Policy(REFERENCE, name, "") for name in task.reference_baselines()]
    gp = GPProposer.for_task(task)
    out += [Policy(TREE, f"seed-program-{k}", code) for k, code in enumerate(gp.seed_programs())]
    out += [Policy(TREE, f"random-{k}", gp.render(gp.random_tree(np.random.default_rng([seed, k]))))
            for k in range(candidates)]
    return out


def report(ref: str, options: dict[str, Any], candidates: int, seed: int, jobs: int, cache_path: Path | None) -> None:
    task = get_task(ref, **options)
    options = task.options()
    proxies = list(task.search_hints().proxy_instances)
    full = [i for i in task.instances() if i.split == "train"]
    if not proxies:
        print(f"{task.name}: no proxy instances")
        return
    cache: dict[str, list[float]] = {}
    if cache_path is not None and cache_path.exists():
        cache = json.loads(cache_path.read_text())
    todo = policies(task, candidates, seed)
    started = time.perf_counter()
    results: list[Outcome] = []
    context = multiprocessing.get_context("spawn")  # a clean interpreter per worker, as the engine's pool
    with context.Pool(jobs, initializer=_init, initargs=(ref, options, cache)) as pool:
        for outcome, fresh in pool.imap(measure, [(ref, options, p, proxies + full) for p in todo]):
            results.append(outcome)
            cache.update(fresh)
            if cache_path is not None and fresh:
                cache_path.parent.mkdir(parents=True, exist_ok=True)
                cache_path.write_text(json.dumps(cache))
    wall = time.perf_counter() - started
    ok = [r for r in results if not r.error]
    failed = [r for r in results if r.error]
    proxy_mean = np.array([np.mean([r.scores[i.id] for i in proxies]) for r in ok])
    full_mean = np.array([np.mean([r.scores[i.id] for i in full]) for r in ok])
    kinds = np.array([r.kind for r in ok])
    timed = [r for r in ok if r.kind != REFERENCE]

    def per_instance(instances: list[Instance]) -> float:
        return float(np.median([r.seconds[i.id] for r in timed for i in instances]))

    print(f"== {task.name}: {len(proxies)} proxies vs {len(full)} train instances; proxy e.g. {proxies[0].id} "
          f"{json.dumps(proxies[0].params)}")
    print(f"policies: {len(results)} ({sum(r.kind != TREE for r in results)} baselines, "
          f"{sum(r.kind == TREE for r in results)} GP trees: seed programs + {candidates} random, seed {seed}); "
          f"failed {len(failed)} (excluded){': ' + failed[0].error if failed else ''}")
    rows = [("all", np.ones(len(ok), bool))]
    _, distinct = np.unique(np.round(np.stack([full_mean, proxy_mean], 1), 9), axis=0, return_index=True)
    keep = np.zeros(len(ok), bool)
    keep[distinct] = True
    rows.append(("distinct behaviours", keep))
    rows.append(("baselines only", kinds != TREE))
    rows.append(("GP trees only", kinds == TREE))
    for label, mask in rows:
        rho = spearman(proxy_mean[mask], full_mean[mask])
        print(f"  Spearman {label:<20} {rho:+.3f}  (N={int(mask.sum())})")
    hit, top = survival(proxy_mean, full_mean)
    print(f"  full top 10% in the proxies' top half: {hit}/{top}")
    proxy_s, full_s = per_instance(proxies), per_instance(full)
    print(f"  seconds per instance (median, run + score, baselines and trees): proxy {proxy_s:.3f}, full "
          f"{full_s:.3f} ({full_s / proxy_s:.1f}x); wall {wall:.0f} s on {jobs} processes")
    order = np.argsort(-full_mean, kind="mergesort")
    print("  baselines by full mean (full/proxy): " + ", ".join(
        f"{ok[k].name} {full_mean[k]:.2f}/{proxy_mean[k]:.2f}" for k in order if ok[k].kind != TREE))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="+", metavar="TASK")
    parser.add_argument("--candidates", type=int, default=100, help="random GP trees (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random trees (default 0)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--scale", type=float, help="the proxies' size (the task's proxy_scale option)")
    parser.add_argument("--options", default="{}", help="JSON task options")
    parser.add_argument("--cache", type=Path, help="JSON file of measured figures, reused across runs")
    args = parser.parse_args()
    for name in args.tasks:
        options = json.loads(args.options)
        if args.scale is not None:
            options["proxy_scale"] = args.scale
        cache = args.cache.with_name(f"{args.cache.stem}-{name.split(':')[-1]}{args.cache.suffix}") if args.cache else None
        report(ALIASES.get(name, name), options, args.candidates, args.seed, args.jobs, cache)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
