"""`policyforge simulate --fallback cpsat`: the FGD experiment with and without the CP-SAT fallback."""

from __future__ import annotations

import argparse
import json

import numpy as np

from policyforge.errors import PolicyforgeError


def simulate_fallback(args: argparse.Namespace) -> int:
    """Run every policy and seed twice (fallback off, on) and print allocation, moves and time per call."""
    from policyforge.tasks.k8s_gpu.experiment import aggregate, run_all
    from policyforge.tasks.k8s_gpu.fallback import FallbackOptions
    from policyforge.tasks.k8s_gpu.inputs import resolve
    from policyforge.tasks.k8s_gpu.policy import BASELINES, load_policy, policy_labels, policy_names
    from policyforge.toolkit.cli import parse_seeds

    if not args.fallback:
        raise PolicyforgeError("--fallback-ms and --max-moves need --fallback cpsat")
    if args.mode not in (None, "inflation"):
        raise PolicyforgeError("--fallback works in --mode inflation (not replay)")
    if args.plot or args.report:
        raise PolicyforgeError("--fallback prints its comparison table; drop --plot/--report")
    options = FallbackOptions(budget_ms=100.0 if args.fallback_ms is None else args.fallback_ms,
                              max_moves=4 if args.max_moves is None else args.max_moves)
    seeds = args.seeds or parse_seeds("42-51")
    args.tune = 1.3 if args.tune is None else args.tune
    inputs = resolve(args.workload or "default", args.nodes)
    policies = policy_names(args.policy)
    for policy in policies:
        if policy not in BASELINES and not args.unsafe_local_policy:
            raise PolicyforgeError(f"{policy}: --fallback runs policies in this process: baselines, or your own "
                                   "file with --unsafe-local-policy")
        load_policy(policy)
    labels = policy_labels(policies)
    off = aggregate(run_all(inputs.nodes, inputs.pods, policies, seeds, "inflation", args.tune, args.jobs))
    on = aggregate(run_all(inputs.nodes, inputs.pods, policies, seeds, "inflation", args.tune, args.jobs,
                           fallback=options))
    rows = {}
    for p in policies:
        a, b = off["policies"][p], on["policies"][p]
        per_seed = b["per_seed"]
        placed = sum(r["fallback_placed"] for r in per_seed)
        rows[labels[p]] = {
            "alloc_at_100": a["alloc_at_100"], "alloc_at_100_fallback": b["alloc_at_100"],
            "alloc_at_130": a["alloc_at_130"], "alloc_at_130_fallback": b["alloc_at_130"],
            "failed_pods": a["failed_pods"], "failed_pods_fallback": b["failed_pods"],
            "fallback_calls": float(np.mean([r["fallback_calls"] for r in per_seed])),
            "fallback_placed": float(np.mean([r["fallback_placed"] for r in per_seed])),
            "moves_per_rescued_pod": round(sum(r["fallback_moves"] for r in per_seed) / placed, 3) if placed else 0.0,
            "moves_per_placed_pod": round(sum(r["fallback_moves"] for r in per_seed)
                                          / sum(r["pods"] - r["failed_pods"] for r in per_seed), 5),
            "ms_per_call": round(float(np.mean([r["fallback_ms_mean"] for r in per_seed])), 2),
            "per_seed": per_seed,
        }
    if args.json:
        print(json.dumps({"fallback": {"budget_ms": options.budget_ms, "max_moves": options.max_moves,
                                       "max_nodes": options.max_nodes}, "policies": rows}, indent=1))
        return 0
    print(f"workload {inputs.name}: seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), tune {args.tune}; CP-SAT fallback "
          f"{options.budget_ms:g} deterministic ms per call, at most {options.max_moves} moves among "
          f"{options.max_nodes} nodes")
    header = (f"{'policy':<14}{'alloc@100%':>11}{'+fallback':>11}{'alloc@130%':>11}{'+fallback':>11}"
              f"{'calls':>9}{'rescued':>9}{'moves/pod':>11}{'ms/call':>9}")
    print(header + "\n" + "-" * len(header))
    for name, r in rows.items():
        print(f"{name:<14}{r['alloc_at_100']:>11.3f}{r['alloc_at_100_fallback']:>11.3f}{r['alloc_at_130']:>11.3f}"
              f"{r['alloc_at_130_fallback']:>11.3f}{r['fallback_calls']:>9.1f}{r['fallback_placed']:>9.1f}"
              f"{r['moves_per_placed_pod']:>11.5f}{r['ms_per_call']:>9.2f}")
    return 0
