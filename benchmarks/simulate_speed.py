"""Speed and memory of one FGD-paper experiment: one seed of `default` at tune 1.3 on the 1,213-node cluster.

Prints, per policy, the best wall time of a few repeats (trace loading excluded, as it is shared by all runs)
and the process's peak resident memory. Targets: BestFit <= 1 s, FGD <= 5 s, peak memory <= 500 MB.
Run: python benchmarks/simulate_speed.py [--repeats 3] [--policies bestfit,fgd]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from policyforge.tasks.k8s_gpu.inputs import resolve
from policyforge.tasks.k8s_gpu.policy import load_policy
from policyforge.tasks.k8s_gpu.simulate import run_inflation

TARGETS = {"bestfit": 1.0, "fgd": 5.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--policies", default="bestfit,fgd")
    parser.add_argument("--workload", default="default")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    started = time.perf_counter()
    inputs = resolve(args.workload)
    print(f"loaded {inputs.name}: {len(inputs.pods)} pods, {len(inputs.nodes)} nodes in {time.perf_counter() - started:.2f} s")
    for name in args.policies.split(","):
        policy = load_policy(name)
        walls = []
        for _ in range(args.repeats):
            result = run_inflation(inputs.nodes, inputs.pods, policy, args.seed)
            walls.append(result.seconds)
        target = TARGETS.get(name)
        verdict = "" if target is None else f" (target <= {target:.0f} s: {'met' if min(walls) <= target else 'NOT met'})"
        print(f"{name:>12}: {len(result.failed)} pods, best {min(walls):.2f} s, median {sorted(walls)[len(walls) // 2]:.2f} s "
              f"over {args.repeats} runs, {len(result.failed) / min(walls):,.0f} pods/s{verdict}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mb:.0f} MB (target <= 500 MB: {'met' if peak_mb <= 500 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
