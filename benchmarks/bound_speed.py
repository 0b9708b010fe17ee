"""Runtime and tightness of the certified bound, and the cost of the CP-SAT fallback, on one OpenB seed.

Prints figures only (no assertions): python benchmarks/bound_speed.py [--workload default] [--seed 42]
"""

from __future__ import annotations

import argparse
import time

from policyforge.tasks.k8s_gpu.bound.certify import BoundSettings, certify
from policyforge.tasks.k8s_gpu.bound.instance import aggregate, arrival_prefix
from policyforge.tasks.k8s_gpu.fallback import FallbackOptions
from policyforge.tasks.k8s_gpu.inputs import resolve
from policyforge.tasks.k8s_gpu.policy import load_policy
from policyforge.tasks.k8s_gpu.simulate import run_inflation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="default")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--percent", type=int, default=100)
    parser.add_argument("--fallback", action="store_true", help="also time the fallback (FGD, tune 1.01)")
    args = parser.parse_args()
    inputs = resolve(args.workload)
    started = time.perf_counter()
    instance = aggregate(inputs.nodes, arrival_prefix(inputs.nodes, inputs.pods, args.seed, 1.3, args.percent))
    print(f"{inputs.name} seed {args.seed} @{args.percent}%: {sum(s.count for s in instance.shapes)} GPU pods in "
          f"{len(instance.shapes)} shapes, {len(instance.types)} node types")
    for iterations in (0, 40):
        cpu0 = time.process_time()
        cert = certify(instance, BoundSettings(max_iterations=iterations))
        print(f"  column generation rounds <= {iterations}: bound {cert.percent(cert.upper_milli):.3f}%  "
              f"packing {cert.percent(cert.lower_milli):.3f}%  gap {cert.gap_points:.3f} points  "
              f"(rounds {cert.iterations}, converged {cert.converged}; wall {cert.seconds:.1f} s, "
              f"cpu {time.process_time() - cpu0:.1f} s; phases {', '.join(f'{k} {v:.1f} s' for k, v in cert.how.items())})")
    print(f"  total wall {time.perf_counter() - started:.1f} s")
    if args.fallback:
        for budget in (100.0,):
            result = run_inflation(inputs.nodes, inputs.pods, load_policy("fgd"), args.seed, 1.01,
                                   fallback=FallbackOptions(budget_ms=budget))
            print(f"  fallback {budget:g} ms: {result.fallback}, alloc@100 {result.allocation_at(100):.3f}, "
                  f"run {result.seconds:.1f} s")


if __name__ == "__main__":
    main()
