"""Discovery on the pipelines task, honestly measured: several offline GP searches against every baseline.

Each search seed evolves `rank(ops, load)` with the sizing functions `ram_gb` and `cpus` over the ranking
mechanism (policyforge.tasks.pipelines.ranking) with the GP proposer on the `mixed` scenario's train seeds
1-5, selects on validation seeds 101-103, then measures the winner and every baseline (naive, priority,
sized) on held-out seeds 201-210 of every scenario (ten per scenario, so each scenario's interval is over ten
held-out seeds). Prints each seed's verdict and, per scenario, the
difference to that scenario's best baseline across search seeds with its 95% interval.
Run: nice -n 10 python benchmarks/discovery_pipelines.py [--samples 2000] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from discovery_common import run_seeds  # noqa: E402

from policyforge.search.loop import EvolveConfig  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="samples per search seed")
    parser.add_argument("--seeds", default="0,1,2", help="search seeds, comma-separated (at least 3 for intervals)")
    parser.add_argument("--run-root", default="runs/discovery-pipelines", help="one run folder per seed inside")
    args = parser.parse_args()

    def config(seed: int) -> EvolveConfig:
        options = {"scenario": "mixed", "test_seeds": list(range(201, 211))}
        return EvolveConfig(task="pipelines", task_options=options, proposer="gp", max_samples=args.samples,
                            seed=seed, jobs=2, batch_size=16, validate_top=5)

    return run_seeds(config, Path(args.run_root), [int(s) for s in args.seeds.split(",")], args.samples)


if __name__ == "__main__":
    sys.exit(main())
