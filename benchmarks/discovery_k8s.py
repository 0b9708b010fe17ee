"""A first discovery on OpenB: offline GP search on train seeds, selection on validation, held-out figures.

Evolves k8s-gpu policies with the genetic-programming proposer on `default` seeds 42-46 (train), selects
among the best on seeds 52-54 (validation), then prints the winner's allocation at 100% arrived on held-out
seeds 47-51 of `default` and of four other OpenB workloads, beside FGD and BestFit, with the search's wall
time and sample count. Target: beat FGD on held-out `default` and on most other workloads, within 60 minutes.
Run: python benchmarks/discovery_k8s.py [--samples 300] [--run-dir runs/discovery] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from policyforge.search.loop import Evolution, EvolveConfig
from policyforge.search.runs import instance_groups, mean_per_group, selected_best
from policyforge.tasks.k8s_gpu.task import default_task_options


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--run-dir", default="runs/discovery")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.resume:
        evolution = Evolution(Path(args.run_dir), resume=True, overrides={"max_samples": args.samples})
    else:
        config = EvolveConfig(task_options=default_task_options("default"), proposer="gp",
                              max_samples=args.samples, seed=args.seed, jobs=2, batch_size=2, validate_top=5)
        evolution = Evolution(Path(args.run_dir), config)
    evolution.run(lambda line: print(line, file=sys.stderr, flush=True))
    wall = time.perf_counter() - started
    store = evolution.store
    best = selected_best(store)
    baselines = {c.name: c for c in store.all("proposer = 'baseline'")}
    if best is None or best.test_scores is None:
        print("no valid candidate was found")
        return 1
    ours, fgd, bestfit = (mean_per_group(x, instance_groups(store)) for x in (best.test_scores, baselines["fgd"].test_scores,
                                                      baselines["bestfit"].test_scores))
    print(f"search: {store.count_samples()} samples in {wall / 60:.1f} min (including baselines, validation and test)")
    print(f"selected candidate {best.id} ({best.proposer}): train {best.score:.3f}, validation {best.validation_score:.3f}")
    print(f"\n{'workload (seeds 47-51)':<24}{'evolved':>10}{'FGD':>10}{'BestFit':>10}{'vs FGD':>10}")
    wins = 0
    for workload in ours:
        delta = ours[workload] - fgd[workload]
        wins += delta > 0
        print(f"{workload:<24}{ours[workload]:>10.2f}{fgd[workload]:>10.2f}{bestfit[workload]:>10.2f}{delta:>+10.2f}")
    print(f"\nbeats FGD on {wins} of {len(ours)} held-out workloads")
    print(f"\nthe winning policy:\n{best.code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
