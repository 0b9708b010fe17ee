"""`policyforge simulate --task cache`: a trace (or a window of it) x policies at one cache size, as a table
or `{"policies": {NAME: {"miss_ratio", "byte_miss_ratio", ...}}}`; `--mrc FILE.png` also draws the
miss-ratio curve of the chosen policies over cache sizes. NAME is a baseline or a RANK policy file (run
through the mechanism, then scored by the trusted replay)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from policyforge.contract import CommandLine, PolicyRunner, Simulate
from policyforge.errors import PolicyforgeError
from policyforge.tasks.cache import rank
from policyforge.tasks.cache.simulate import BASELINES, Result, available, run_baseline
from policyforge.tasks.cache.trace import Trace, read_trace
from policyforge.toolkit.cli import policy_list

MRC_FRACTIONS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)


def command_line() -> CommandLine:
    """What cache adds to `policyforge`: its own simulate (a trace, a cache size, miss-ratio curves)."""

    def run(args: argparse.Namespace, runner: PolicyRunner) -> int:  # files run here only when vouched for
        return simulate_command(args)

    return CommandLine(Simulate(add_simulate_arguments, run))


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """The cache task's own options of `policyforge simulate` (--policy, --seeds, --json are everyone's)."""
    parser.add_argument("--trace", metavar="FILE", help="cache: the trace (.oracleGeneral.bin, .csv or .csv.zst)")
    parser.add_argument("--mode", choices=("bytes", "objects"), default="bytes",
                        help="cache: count object sizes (bytes, default) or every object as 1 (objects)")
    parser.add_argument("--window", metavar="START:END", help="cache: simulate requests START..END-1 only, as a "
                        "trace of its own")
    parser.add_argument("--cache-size", metavar="FRACTION_OR_SIZE", type=float, default=0.1,
                        help="cache: a fraction (<= 1) of the working set, or a size in bytes/objects (default 0.1)")
    parser.add_argument("--mrc", metavar="FILE.png", help="cache: also plot miss ratio against cache size")


def policy_names(values: list[str] | None) -> list[str]:
    return policy_list(values, "fifo,lru", {"all": available()})


def run(trace: Trace, name: str, capacity: int, mode: str) -> Result:
    """A baseline by name, else a RANK policy (file or rank-* name) judged by the trusted replay."""
    if name in BASELINES:
        return run_baseline(trace, name, capacity, mode)
    if name in rank.RANK_BASELINES or name.endswith(".py"):
        import time

        started = time.perf_counter()
        decisions = rank.run_policy(trace, mode, capacity, *rank.load_hooks(name))
        result = rank.judge(trace, mode, capacity, decisions, policy=name)
        return Result(**{**result.__dict__, "seconds": time.perf_counter() - started})
    raise PolicyforgeError(f"unknown cache policy {name!r}: one of {', '.join(BASELINES)}, "
                           f"{', '.join(rank.RANK_BASELINES)}, or a policy .py file")


def simulate_command(args: argparse.Namespace) -> int:
    if not args.trace:
        raise PolicyforgeError("--task cache needs --trace FILE (.oracleGeneral.bin, .csv or .csv.zst)")
    mode = args.mode
    files = [n for n in policy_names(args.policy) if n.endswith(".py")]
    if files and not args.unsafe_local_policy:
        raise PolicyforgeError(f"{files[0]}: simulate --task cache runs a policy file in this process, so only "
                               "with --unsafe-local-policy (your own code); `policyforge evaluate --task cache "
                               "--policy FILE` runs it in the sandbox")
    trace = read_trace(args.trace, args.window)
    capacity = trace.cache_size(args.cache_size, mode)
    names = policy_names(args.policy)
    results = {Path(n).stem if n.endswith(".py") else n: run(trace, n, capacity, mode) for n in names}
    if args.json:
        print(json.dumps({"trace": str(args.trace), "window": args.window, "mode": mode, "cache_size": capacity,
                          "requests": len(trace), "policies": {k: r.as_dict() for k, r in results.items()}},
                         indent=1))
    else:
        print(f"{trace.name} window {args.window or 'all'}: {len(trace):,} requests, {trace.n_objects:,} objects; "
              f"cache {capacity:,} {mode}")
        print(f"{'policy':<16}{'miss ratio':>12}{'byte miss':>12}{'seconds':>10}")
        for name, r in results.items():
            print(f"{name:<16}{r.miss_ratio:>12.6f}{r.byte_miss_ratio:>12.6f}{r.seconds:>10.2f}")
    if args.mrc:
        plot_mrc(trace, names, mode, Path(args.mrc))
    return 0


def plot_mrc(trace: Trace, names: list[str], mode: str, path: Path,
             fractions: tuple[float, ...] = MRC_FRACTIONS) -> Path:
    """Miss ratio against cache size (fractions of the working set, log scale) for each policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name in names:
        ratios = [run(trace, name, trace.cache_size(f, mode), mode).miss_ratio for f in fractions]
        axis.plot(fractions, ratios, marker="o", label=Path(name).stem if name.endswith(".py") else name)
    axis.set_xscale("log")
    axis.set_xlabel(f"cache size (fraction of the working set, {mode})")
    axis.set_ylabel("miss ratio")
    axis.set_title(f"{trace.name}: {len(trace):,} requests")
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
