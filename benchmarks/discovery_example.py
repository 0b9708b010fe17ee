"""Discovery on the example task written outside the package (online bin packing), honestly measured: the
same machinery as the built-in tasks, several offline GP searches against every baseline.

Each search seed evolves `score(item, bins)` with the GP proposer on 1,000-item sequences (train seeds 1-3
of its three training distributions), selects among the five best on validation seeds 11-13, then measures
the winner and every baseline on held-out seeds 21-30, the never-trained `weibull` distribution included. Prints each
seed's verdict and, per distribution, the difference to that group's best baseline across search seeds with
its 95% interval.
Run: nice -n 10 python benchmarks/discovery_example.py [--samples 2000] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from discovery_common import run_seeds  # noqa: E402

from policyforge.search.loop import EvolveConfig  # noqa: E402

TASK = f"{Path(__file__).resolve().parent.parent / 'examples' / 'binpacking' / 'task.py'}:OnlineBinPacking"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="samples per search seed")
    parser.add_argument("--seeds", default="0,1,2", help="search seeds, comma-separated (at least 3 for intervals)")
    parser.add_argument("--batch-size", type=int, default=8, help="samples proposed from one database state")
    parser.add_argument("--task-options", default='{"items": 1000, "train_seeds": [1, 2, 3], '
                        '"validation_seeds": [11, 12, 13], "test_seeds": [21, 22, 23, 24, 25, 26, 27, 28, 29, 30]}',
                        help="JSON options of the task (default: longer sequences and more seeds than its tests use)")
    parser.add_argument("--run-root", default="runs/discovery-example", help="one run folder per seed inside")
    args = parser.parse_args()

    def config(seed: int) -> EvolveConfig:
        return EvolveConfig(task=TASK, task_options=json.loads(args.task_options), proposer="gp", max_samples=args.samples, seed=seed, jobs=2,
                            batch_size=args.batch_size, validate_top=5)

    return run_seeds(config, Path(args.run_root), [int(s) for s in args.seeds.split(",")], args.samples)


if __name__ == "__main__":
    sys.exit(main())
