"""Offline GP discovery on the pipelines task: do searched RANK and VALUE functions beat Eudoxia's `priority`?

Evolves `rank(ops, load)` with the sizing functions `ram_gb` and `cpus` over the ranking mechanism
(policyforge.tasks.pipelines.ranking) with the GP proposer on the `mixed` scenario's train seeds 1-5,
selects on validation seeds 101-103, then prints the winner's objective on held-out seeds 201-203 of every
scenario beside each baseline (naive, priority, and the hand-written `sized`), with the search's wall time.
Target: beat `priority` on the held-out seeds.
Run: python benchmarks/discovery_pipelines.py [--samples 200] [--run-dir runs/discovery-pipelines] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from policyforge.search.loop import Evolution, EvolveConfig
from policyforge.search.runs import instance_groups, mean_per_group, selected_best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--run-dir", default="runs/discovery-pipelines")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.resume:
        evolution = Evolution(Path(args.run_dir), resume=True, overrides={"max_samples": args.samples})
    else:
        config = EvolveConfig(task="pipelines", task_options={"scenario": "mixed"}, proposer="gp",
                              max_samples=args.samples, seed=args.seed, jobs=2, batch_size=2, validate_top=5)
        evolution = Evolution(Path(args.run_dir), config)
    evolution.run(lambda line: print(line, file=sys.stderr, flush=True))
    wall = time.perf_counter() - started
    store = evolution.store
    best = selected_best(store)
    if best is None or best.test_scores is None:
        print("no valid candidate was found")
        return 1
    baselines = {c.name: mean_per_group(c.test_scores or {}, instance_groups(store)) for c in store.all("proposer = 'baseline'")}
    ours = mean_per_group(best.test_scores, instance_groups(store))
    names = sorted(baselines)
    print(f"search: {store.count_samples()} samples in {wall / 60:.1f} min (including baselines, validation and test)")
    print(f"selected candidate {best.id} ({best.proposer}): train {best.score:.3f}, validation {best.validation_score:.3f}")
    print(f"\n{'scenario (seeds 201-203)':<26}{'evolved':>10}" + "".join(f"{n:>10}" for n in names)
          + f"{'vs priority':>13}")
    for scenario in ours:
        row = "".join(f"{baselines[n].get(scenario, float('nan')):>10.2f}" for n in names)
        delta = ours[scenario] - baselines["priority"][scenario]
        print(f"{scenario:<26}{ours[scenario]:>10.2f}{row}{delta:>+13.2f}")
    mean = {n: float(np.mean(list(v.values()))) for n, v in baselines.items()}
    print(f"{'mean':<26}{np.mean(list(ours.values())):>10.2f}" + "".join(f"{mean[n]:>10.2f}" for n in names))
    print(f"\nthe winning policy:\n{best.code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
