"""The command line: parse, call the library, render. User errors print one line and exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from policyforge.errors import PolicyforgeError

EXIT_USER_ERROR = 2

PAPER_ALLOC_AT_100 = {
    "random": 86.30, "dotprod": 90.62, "clustering": 91.65, "packing": 91.78, "bestfit": 92.86, "fgd": 95.23,
}
"""The FGD paper's allocation at 100% arrived on `default`, tune 1.3, seeds 42-51 (mean of its raw rows)."""


def parse_seeds(text: str) -> list[int]:
    """'42-51', '42,45,50' or '7' into a list of seeds."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else (part, part)
                lo_i, hi_i = int(lo), int(hi)
                if hi_i < lo_i:
                    raise ValueError
                seeds.extend(range(lo_i, hi_i + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad seed list {text!r}: use e.g. 42-51 or 1,2,3") from None
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"bad seed list {text!r}: seeds are non-negative integers")
    return seeds


def _policies(values: list[str] | None) -> list[str]:
    from policyforge.tasks.k8s_gpu.policy import BASELINES, PAPER_BASELINES

    names: list[str] = []
    for value in values or ["paper"]:
        for item in value.split(","):
            item = item.strip()
            if item == "paper":
                names.extend(PAPER_BASELINES)
            elif item == "all":
                names.extend(BASELINES)
            elif item:
                names.append(item)
    return list(dict.fromkeys(names))


def _labels(policies: list[str]) -> dict[str, str]:
    """Display name per policy argument: the baseline name, or the file's stem (its path if stems clash)."""
    from policyforge.tasks.k8s_gpu.policy import BASELINES

    stems = [p if p in BASELINES else Path(p).stem for p in policies]
    return {p: (s if stems.count(s) == 1 else p) for p, s in zip(policies, stems, strict=True)}


def cmd_simulate(args: argparse.Namespace) -> int:
    from policyforge.tasks.k8s_gpu.experiment import aggregate, mean_curves, run_all
    from policyforge.tasks.k8s_gpu.inputs import resolve
    from policyforge.tasks.k8s_gpu.policy import load_policy

    if args.tune <= 0 and args.mode == "inflation":
        raise PolicyforgeError("--tune must be positive in inflation mode")
    inputs = resolve(args.workload, args.nodes)
    policies = _policies(args.policy)
    for policy in policies:
        load_policy(policy)  # fail fast, in this process, with a clear line
    labels = _labels(policies)
    total = len(policies) * len(args.seeds)
    bar = _progress(total, args.json)
    try:
        results = run_all(inputs.nodes, inputs.pods, policies, args.seeds, args.mode, args.tune, args.jobs,
                          progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    results = {labels[p]: runs for p, runs in results.items()}
    summary = aggregate(results, args.mode)
    if args.plot:
        if args.mode != "inflation":
            raise PolicyforgeError("--plot draws allocation against arrived load: use --mode inflation")
        from policyforge.report.plots import allocation_plot

        allocation_plot(mean_curves(results), args.plot,
                        f"{inputs.name}: GPU allocation, mean of {len(args.seeds)} seed(s), tune {args.tune}")
    if args.json:
        print(json.dumps(summary, indent=1, sort_keys=False))
    else:
        paper = inputs.name == "default" and args.mode == "inflation" and args.tune == 1.3
        print(_table(summary, args.mode, paper, inputs, args))
        if args.plot:
            print(f"plot: {args.plot}")
    return 0


def _progress(total: int, quiet: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc="simulating", unit="run", delay=2.0, file=sys.stderr, leave=False,
                disable=None if not quiet else None)


def _table(summary: dict, mode: str, paper: bool, inputs, args) -> str:
    head = (f"workload {inputs.name}: {len(inputs.pods)} pods, {len(inputs.nodes)} nodes, "
            f"{inputs.nodes.total_gpus} GPUs; seeds {args.seeds[0]}..{args.seeds[-1]} ({len(args.seeds)}); mode {mode}")
    if mode == "replay":
        cols = [("gpu_utilisation", "GPU util %"), ("cpu_utilisation", "CPU util %"),
                ("memory_utilisation", "mem util %"), ("wait_p50_seconds", "wait p50 s"),
                ("wait_p99_seconds", "wait p99 s"), ("never_scheduled", "never placed")]
    else:
        head += f", tune {args.tune}"
        cols = [("alloc_at_100", "alloc@100%"), ("alloc_at_130", "alloc@130%"),
                ("frag_ratio_at_100", "frag ratio@100%"), ("failed_pods", "failed pods")]
    lines = [head, ""]
    header = f"{'policy':<22}" + "".join(f"{title:>20}" for _, title in cols) + f"{'wall s':>10}"
    if paper:
        header += f"{'paper alloc@100%':>18}"
    lines += [header, "-" * len(header)]
    for name, entry in summary["policies"].items():
        row = f"{name:<22}"
        for key, _ in cols:
            mean, std = entry[key], entry[key + "_std"]
            row += f"{'n/a':>20}" if mean is None else f"{mean:>12.2f} ± {std:<5.2f}"
        row += f"{entry['seconds']:>10.2f}"
        if paper:
            row += f"{PAPER_ALLOC_AT_100[name]:>18.2f}" if name in PAPER_ALLOC_AT_100 else f"{'':>18}"
        lines.append(row)
    return "\n".join(lines)


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from policyforge.fetch import fetch
    from policyforge.tasks.k8s_gpu.inputs import data_dir

    target = Path(args.dir) if args.dir else data_dir() / args.dataset
    source = Path(args.from_dir) if args.from_dir else None
    if source is not None and not source.is_dir():
        print(f"{source}: no such folder; downloading instead", file=sys.stderr)
        source = None
    files = fetch(args.dataset, target, source, args.link, args.url, report=lambda m: print(m, file=sys.stderr))
    how = f"linked from {source}" if source and args.link else f"copied from {source}" if source else "downloaded"
    print(f"{args.dataset}: {len(files)} files in {target} ({how}, SHA-256 verified)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policyforge", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)

    sim = commands.add_parser("simulate", help="compare scheduling policies on a cluster and workload",
                              description="Run policies over seeds on a workload and compare them side by side.")
    sim.add_argument("--workload", default="default",
                     help="OpenB workload name (default, cpu050, gpushare40, ...), a pod-list .csv, a cluster spec "
                          ".yaml, or openb-synthetic (bundled, no download)")
    sim.add_argument("--policy", action="append",
                     help="baseline name or policy .py file; repeat or comma-separate; 'paper' = the FGD paper's six "
                          "(default), 'all' = every baseline")
    sim.add_argument("--seeds", type=parse_seeds, default=parse_seeds("42-51"), help="e.g. 42-51 or 1,2,3 (default 42-51)")
    sim.add_argument("--tune", type=float, default=1.3, help="inflate arrivals to this multiple of GPU capacity (default 1.3)")
    sim.add_argument("--mode", choices=("inflation", "replay"), default="inflation",
                     help="inflation: the FGD paper's arrivals-only experiment; replay: the trace's own timeline")
    sim.add_argument("--nodes", help="node-list .csv (default: the paper's 1,213-node GPU cluster)")
    sim.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    sim.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    sim.add_argument("--plot", metavar="FILE.png", help="draw allocation against arrived load")
    sim.set_defaults(func=cmd_simulate)

    data = commands.add_parser("data", help="get trace data into the project's data/ folder")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    fetch = data_commands.add_parser("fetch", help="download (SHA-256 verified) or copy/link a dataset",
                                     description="Put a dataset into data/NAME/: downloaded from its public "
                                                 "source, or taken from a local folder with --from.")
    fetch.add_argument("dataset", choices=("openb",))
    fetch.add_argument("--from", dest="from_dir", metavar="DIR", help="take the files from this local folder when it exists")
    fetch.add_argument("--link", action="store_true", help="with --from: symlink instead of copying")
    fetch.add_argument("--dir", help="target folder (default: data/NAME)")
    fetch.add_argument("--url", help=argparse.SUPPRESS)
    fetch.set_defaults(func=cmd_data_fetch)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except PolicyforgeError as exc:
        print(f"policyforge: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("policyforge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
