"""How many GP candidates a search evaluates per minute, through the engine's real path.

Random well-typed trees of each task's grammar go through `Evaluator` exactly as the loop sends them: the
engine vouches for its own renderings, so they run in the trusted worker pool (every core), the task's `run`
with the compiled tree, then the task's trusted `score`. Printed per task: candidates per minute on the
screen (the task's proxies, or its screen instance) and on the full train set, after a warm-up that starts
the pool and loads the data (its time is printed too). `--end-to-end N` also times an N-sample `evolve` run
per task (baselines, search, validation, test, verdict, report). `--ray` repeats the screen measurement
with `--executor ray` on a local Ray runtime, to show the interpreter path runs there too. `--baselines`
times measuring every baseline file of the task on train, validation and test with an empty result cache
(what a first run pays before it searches); `--task-options JSON` picks the instance set, e.g. the
k8s-gpu set of issue 17's figure (`default` alone, the five old test workloads):
'{"train_workloads": ["default"], "test_workloads": ["default", "cpu050", "gpushare40", "gpuspec33",
"multigpu50"], "train_seeds": [42, 43, 44, 45, 46], "validation_seeds": [52, 53, 54], "test_seeds": [47, 48,
49, 50, 51]}'.

    python benchmarks/search_throughput.py [k8s-gpu cache pipelines] [--candidates 60] [--end-to-end 2000]
        [--ray] [--baselines]

Quote the load average printed with the figures: the machine must be quiet for them to mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from policyforge.contract import screen_instances
from policyforge.search.evaluation import Evaluator
from policyforge.search.loop import EvolveConfig
from policyforge.search.proposers.gp import GPProposer
from policyforge.tasks.registry import get_task

ROOT = Path(__file__).resolve().parent.parent


def trees(task, count: int, seed: int = 0) -> list[str]:
    """`count` distinct random programs of the task's grammar, rendered as the engine renders them."""
    gp = GPProposer.for_task(task)
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < count:
        out[gp.render(gp.random_tree(rng))] = None
    return list(out)


def rate(evaluator: Evaluator, codes: list[str], instances) -> tuple[float, int]:
    """(candidates per minute, how many were valid) evaluating `codes` on `instances`, all in flight."""
    started = time.perf_counter()
    futures = [evaluator.submit(code, instances, split=True) for code in codes]
    valid = sum(f.result().ok for f in futures)
    return len(codes) * 60.0 / (time.perf_counter() - started), valid


def measure(name: str, candidates: int, executor: str, options: dict) -> None:
    task = get_task(name, **options)
    train = [i for i in task.instances() if i.split == "train"]
    proxies = list(task.search_hints().proxy_instances)
    screen = proxies or screen_instances(task)
    kind = "proxies" if proxies else "screen"
    evaluator = Evaluator(EvolveConfig(task=name, executor=executor, task_options=options), task)
    try:
        started = time.perf_counter()
        warm = trees(task, evaluator.executor.jobs if hasattr(evaluator.executor, "jobs") else 2, seed=99)
        for f in [evaluator.submit(c, screen + train, split=True) for c in warm]:
            f.result()
        warmup = time.perf_counter() - started
        codes = trees(task, candidates)
        per_min, valid = rate(evaluator, codes, screen)
        print(f"{name} [{executor}]: screen ({kind}: {len(screen)} instance(s)) {per_min:.0f} candidates/min "
              f"({valid}/{len(codes)} valid); warm-up {warmup:.1f} s", flush=True)
        if executor == "local":
            full = codes[: max(4, candidates // 4)]
            per_min, valid = rate(evaluator, full, train)
            print(f"{name} [{executor}]: full train ({len(train)} instance(s)) {per_min:.1f} candidates/min "
                  f"({valid}/{len(full)} valid)", flush=True)
    finally:
        evaluator.close()


def baselines(name: str, options: dict) -> None:
    from policyforge.contract import keyed
    from policyforge.search.evaluation import ResultCache

    task = get_task(name, **options)
    instances = keyed(task.instances(), "benchmark")
    evaluator = Evaluator(EvolveConfig(task=name, task_options=options), task)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            evaluator.cache = ResultCache(Path(tmp) / "empty.sqlite")
            started = time.perf_counter()
            futures = [evaluator.submit(path.read_text(), instances, cacheable=True)
                       for path in task.baselines().values()]
            valid = sum(f.result().ok for f in futures)
            seconds = time.perf_counter() - started
    finally:
        evaluator.close()
    runs = len(futures) * len(instances)
    print(f"{name}: {len(futures)} baselines x {len(instances)} instances = {runs} runs in {seconds:.1f} s "
          f"({valid}/{len(futures)} ok; pool start and data loading included)", flush=True)


def end_to_end(name: str, samples: int, keep: str | None = None) -> None:
    """Time `policyforge evolve` for `samples` GP samples (baselines, search, validation, test, verdict and
    report), in a temporary run folder, or in KEEP/<task> to read the run afterwards (`runs show`)."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(keep) / name if keep else Path(tmp) / "run"
        command = [sys.executable, "-m", "policyforge.cli", "evolve", "--task", name, "--run-dir", str(run_dir),
                   "--max-samples", str(samples), "--batch-size", "16"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        lines = (done.stdout + "\n" + done.stderr).splitlines()
        verdict = [line for line in lines if line.startswith(("no improvement", "improvement"))]
        print(f"{name}: {samples}-sample evolve end to end in {seconds / 60:.1f} min (exit {done.returncode}); "
              f"{verdict[0] if verdict else lines[-1:]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", default=["k8s-gpu", "cache", "pipelines"])
    parser.add_argument("--keep-runs", metavar="DIR", help="keep the --end-to-end runs in DIR/<task>")
    parser.add_argument("--candidates", type=int, default=60)
    parser.add_argument("--end-to-end", type=int, default=0, metavar="SAMPLES")
    parser.add_argument("--ray", action="store_true")
    parser.add_argument("--baselines", action="store_true")
    parser.add_argument("--task-options", default="{}", help="JSON options of the task (e.g. cache's "
                        "'{\"gp_mode\": \"sampled\"}': GP evolves the sampled-at-eviction mode)")
    parser.add_argument("--no-search", action="store_true", help="skip the candidates-per-minute figures")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cores: {os.cpu_count()}")
    for name in args.tasks:
        if args.baselines:
            baselines(name, json.loads(args.task_options))
        if not args.no_search:
            measure(name, args.candidates, "local", json.loads(args.task_options))
        if args.ray:
            measure(name, max(8, args.candidates // 4), "ray", json.loads(args.task_options))
        if args.end_to_end:
            end_to_end(name, args.end_to_end, args.keep_runs)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
