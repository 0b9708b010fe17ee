"""Discovery on OpenB, honestly measured: several offline GP searches, each against every baseline.

Each search seed evolves k8s-gpu policies with the genetic-programming proposer on the task's default
instances (train: seed 42 of `default`, `cpu300`, `gpushare60`, `gpuspec33`, `multigpu50`), selects among the
five best on seed 43 of the same (validation), then measures the winner and all ten baselines on held-out
seeds 47-49 of all 24 OpenB workloads (19 never trained on).
Prints, per search seed, the verdict (paired differences over the held-out seeds against every baseline,
95% intervals, the best baseline of each workload), then per workload the evolved policy's difference to
that workload's best baseline across search seeds, with its 95% interval.
Run: nice -n 10 python benchmarks/discovery_k8s.py [--samples 2000] [--seeds 0,1,2] [--run-root runs/discovery-k8s]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from discovery_common import run_seeds  # noqa: E402

from policyforge.search.loop import EvolveConfig  # noqa: E402
from policyforge.tasks.k8s_gpu.task import default_task_options  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="samples per search seed")
    parser.add_argument("--seeds", default="0,1,2", help="search seeds, comma-separated (at least 3 for intervals)")
    parser.add_argument("--run-root", default="runs/discovery-k8s", help="one run folder per seed inside")
    args = parser.parse_args()
    options = default_task_options("default")

    def config(seed: int) -> EvolveConfig:
        return EvolveConfig(task="k8s-gpu", task_options=options, proposer="gp", max_samples=args.samples, seed=seed, jobs=2,
                            batch_size=16, validate_top=5)

    return run_seeds(config, Path(args.run_root), [int(s) for s in args.seeds.split(",")], args.samples)


if __name__ == "__main__":
    sys.exit(main())
