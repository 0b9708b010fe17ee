"""Offline GP discovery on the cache task: does a searched RANK function beat every baseline on held-out traces?

Runs the GP proposer over Vulcan's RANK interface once per search seed (train: early Twitter windows;
selection: later windows; held out: ten later Twitter windows per group and the whole CloudPhysics trace), each a full run
whose verdict compares the selected policy with every baseline: the RANK policy files and the task's
mechanism-level reference baselines (ARC, S3-FIFO, SIEVE, 2Q, LIRS, GDSF, LHD, LeCaR, Cacheus, W-TinyLFU),
per group and overall, then across search seeds (discovery_common). Then, per held-out instance: the
evolved score (miss-ratio reduction vs FIFO, %; mean and 95% CI over search seeds), the best baseline there,
the gap to it and to Belady (the offline optimum, a bound and no baseline).
Run: nice -n 10 python benchmarks/discovery_cache.py [--samples 2000] [--seeds 0,1,2] [--run-root runs/discovery-cache]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from discovery_common import run_seeds  # noqa: E402

from policyforge.search.loop import EvolveConfig  # noqa: E402
from policyforge.search.runs import open_run, selected_best  # noqa: E402
from policyforge.search.verdict import mean_interval  # noqa: E402
from policyforge.tasks.cache.task import CacheTask  # noqa: E402


def per_instance(run_root: Path, seeds: list[int]) -> None:
    """The held-out table per instance, with the best baseline of each instance as the reference."""
    task = CacheTask()
    ours: list[dict[str, float]] = []
    baselines: dict[str, dict[str, float]] = {}
    for seed in seeds:
        store = open_run(run_root / f"seed{seed}")
        ours.append(dict(selected_best(store).test_scores))
        baselines = {c.name: dict(c.test_scores) for c in store.all("proposer = 'baseline' AND status = 'ok'")}
        store.close()
    print(f"\n== per held-out instance: score = miss-ratio reduction vs FIFO (%); evolved = mean [95% CI] over "
          f"search seeds {seeds}")
    print(f"{'instance':<30}{'evolved':<24}{'best baseline':<22}{'evolved - best':<26}{'Belady':>8}  beats")
    above = 0
    for instance in (i for i in task.instances() if i.split == "test"):
        values = [s[instance.id] for s in ours]
        here = {n: s[instance.id] for n, s in baselines.items() if instance.id in s}
        best = max(here, key=here.get)
        belady = task.reference_scores(instance, ("belady",))["belady"]
        evolved, gap = mean_interval(values), mean_interval([v - here[best] for v in values])
        beaten = sum(evolved.mean > v for v in here.values())
        above += evolved.mean > here[best]
        print(f"{instance.id:<30}{evolved.text():<24}{best + f' {here[best]:.2f}':<22}{gap.text():<26}"
              f"{belady:>8.2f}  {beaten}/{len(here)}")
    print(f"instances where the evolved mean is above the best baseline there: {above}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="samples per search seed")
    parser.add_argument("--seeds", default="0,1,2", help="search seeds, comma-separated (at least 3 for intervals)")
    parser.add_argument("--run-root", default="runs/discovery-cache", help="one run folder per seed inside")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]

    def config(seed: int) -> EvolveConfig:
        return EvolveConfig(task="cache", task_options=CacheTask().options(), proposer="gp",
                            max_samples=args.samples, seed=seed, jobs=2, batch_size=16, validate_top=3)

    code = run_seeds(config, Path(args.run_root), seeds, args.samples)
    if code == 0:
        per_instance(Path(args.run_root), seeds)
    return code


if __name__ == "__main__":
    sys.exit(main())
