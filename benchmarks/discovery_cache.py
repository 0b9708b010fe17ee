"""Offline GP discovery on the cache task: does a searched RANK function beat the baselines on held-out traces?

Runs the GP proposer over Vulcan's RANK interface once per search seed (train: early Twitter windows;
selection: later windows), then, on every held-out test instance (later Twitter windows and CloudPhysics),
prints the selected policy's score (miss-ratio reduction vs FIFO, percent; mean and 95% CI over search
seeds) beside every baseline: the RANK policy files the engine measured and the mechanism-level baselines
(ARC, S3-FIFO, ...) computed by the task's trusted code. The reference per instance is the best baseline
there; the gap to Belady (offline optimal) is printed too.
Run: nice -n 10 python benchmarks/discovery_cache.py [--samples 40] [--seeds 0,1,2] [--run-dir runs/discovery-cache]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from policyforge.search.loop import Evolution, EvolveConfig
from policyforge.search.runs import selected_best
from policyforge.tasks.cache.task import REFERENCES, CacheTask

T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
"""Student's t, two-sided 95%, by degrees of freedom."""


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% confidence interval (NaN with one value)."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, math.nan
    return mean, T95.get(len(values) - 1, 1.96) * float(np.std(values, ddof=1)) / math.sqrt(len(values))


def search(run_dir: Path, seed: int, samples: int, options: dict) -> tuple[dict[str, float], dict[str, dict], float]:
    """(selected policy's test scores, baselines' test scores, wall seconds) of one search."""
    started = time.perf_counter()
    config = EvolveConfig(task="cache", task_options=options, proposer="gp", max_samples=samples, seed=seed,
                          jobs=2, batch_size=2, validate_top=3)
    resume = (run_dir / "run.sqlite").exists()
    evolution = Evolution(run_dir, None if resume else config, resume=resume,
                          overrides={"max_samples": samples} if resume else None)
    evolution.run(lambda line: print(f"[seed {seed}] {line}", file=sys.stderr, flush=True))
    best = selected_best(evolution.store)
    if best is None or not best.test_scores:
        raise SystemExit(f"seed {seed}: no valid candidate with test scores")
    baselines = {c.name: dict(c.test_scores or {}) for c in evolution.store.all("proposer = 'baseline'")}
    print(f"seed {seed}: selected #{best.id}, train {best.score:.2f}, validation {best.validation_score}, "
          f"{evolution.store.count_samples()} samples, {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    return dict(best.test_scores), baselines, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--run-dir", default="runs/discovery-cache")
    args = parser.parse_args()
    task = CacheTask()
    seeds = [int(s) for s in args.seeds.split(",")]
    ours: dict[int, dict[str, float]] = {}
    rank_baselines: dict[str, dict[str, float]] = {}
    for seed in seeds:
        ours[seed], rank_baselines, _ = search(Path(args.run_dir) / f"seed{seed}", seed, args.samples, task.options())
    tests = [i for i in task.instances() if i.split == "test"]
    print(f"\nheld-out verdict: score = miss-ratio reduction vs FIFO (%), evolved = mean ± 95% CI over seeds {seeds}")
    print(f"{'instance':<28}{'evolved':>16}{'best baseline':>22}{'gap':>16}{'Belady':>9}{'beats':>9}")
    gaps, wins, total = [], 0, 0
    for instance in tests:
        mechanisms = task.reference_scores(instance, REFERENCES)
        belady = mechanisms.pop("belady")
        others = {**{n: s[instance.id] for n, s in rank_baselines.items() if instance.id in s}, **mechanisms}
        best_name = max(others, key=others.get)
        values = [ours[s][instance.id] for s in seeds]
        mean, ci = mean_ci(values)
        gap, gap_ci = mean_ci([v - others[best_name] for v in values])
        beaten = sum(mean > v for v in others.values())
        wins += beaten
        total += len(others)
        gaps.append(gap)
        print(f"{instance.id:<28}{mean:>9.2f} ±{ci:>5.2f}{best_name:>12} {others[best_name]:>8.2f}"
              f"{gap:>+9.2f} ±{gap_ci:>5.2f}{belady:>9.2f}{beaten:>5}/{len(others)}")
    print(f"\nmean gap to the best baseline per instance: {np.mean(gaps):+.2f} points; the evolved policy's mean beats "
          f"{wins} of {total} (instance, baseline) pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
