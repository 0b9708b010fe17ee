"""`policyforge bound`: how far from optimal the k8s-gpu baselines are on an instance of the FGD experiment."""

from __future__ import annotations

import argparse
import json
import sys

from policyforge.errors import PolicyforgeError


def _percents(text: str) -> list[int]:
    try:
        values = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad percent list {text!r}: use e.g. 100 or 100,130") from None
    if not values:
        raise argparse.ArgumentTypeError(f"bad percent list {text!r}: use e.g. 100 or 100,130")
    return values


def add_bound_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `policyforge bound` (the CLI registers the subcommand and calls bound_command)."""
    from policyforge.toolkit.cli import parse_seeds

    parser.add_argument("--workload", action="append",
                        help="OpenB workload name, pod-list .csv or cluster spec .yaml; repeat or comma-separate "
                             "(default: default)")
    parser.add_argument("--seeds", type=parse_seeds, default=[42], help="e.g. 42-51 (default 42)")
    parser.add_argument("--tune", type=float, default=1.3, help="arrival inflation, as in simulate (default 1.3)")
    parser.add_argument("--percent", type=_percents, default=[100],
                        help="arrived GPU request (%% of capacity) to bound at, e.g. 100,130 (default 100)")
    parser.add_argument("--nodes", help="node-list .csv (default: the paper's 1,213-node GPU cluster)")
    parser.add_argument("--policy", action="append",
                        help="baselines to compare (default all; 'none' for the bound alone)")
    parser.add_argument("--iterations", type=int, default=40,
                        help="column generation rounds (default 40; 0 = pattern LP bound only)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes for the baselines")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


def bound_command(args: argparse.Namespace) -> int:
    from policyforge.tasks.k8s_gpu.bound.certify import BoundSettings
    from policyforge.tasks.k8s_gpu.bound.report import check_percents, measure, table
    from policyforge.tasks.k8s_gpu.inputs import resolve
    from policyforge.tasks.k8s_gpu.policy import load_policy, policy_names

    if args.iterations < 0:
        raise PolicyforgeError(f"--iterations {args.iterations}: must be 0 or more")
    if args.tune <= 0:
        raise PolicyforgeError(f"--tune {args.tune}: must be positive")
    check_percents(args.percent, args.tune)
    workloads = [w.strip() for value in (args.workload or ["default"]) for w in value.split(",") if w.strip()]
    inputs = [resolve(w, args.nodes) for w in workloads]  # every name checked before any long run
    policies = [] if args.policy == ["none"] else policy_names(args.policy, default="all")
    for policy in policies:
        load_policy(policy)
    settings = BoundSettings(max_iterations=args.iterations)
    results = [measure(i, args.seeds, args.tune, args.percent, settings, policies, args.jobs, _progress)
               for i in inputs]
    if args.json:
        print(json.dumps({"workloads": results}, indent=1))
    else:
        print("\n".join(table(r) for r in results))
    return 0


def _progress(line: str) -> None:
    """One line per bounded seed on stderr; stdout stays one table or one JSON object."""
    print(line, file=sys.stderr, flush=True)


def reference_lines(inputs, seeds: list[int], tune: float, mode: str) -> dict[str, float]:
    """Mean certified bound and best packing at 100% arrived over `seeds`, as plot reference lines."""
    from policyforge.tasks.k8s_gpu.bound.certify import BoundSettings
    from policyforge.tasks.k8s_gpu.bound.report import bound_seed, check_percents

    if mode != "inflation":
        raise PolicyforgeError("--with-bound applies to --mode inflation (the bound is on arrived pods)")
    check_percents([100], tune)
    rows = [bound_seed(inputs, seed, tune, 100, BoundSettings()) for seed in seeds]
    return {"certified bound @100%": sum(r["bound"] for r in rows) / len(rows),
            "best packing @100%": sum(r["packing"] for r in rows) / len(rows)}
