"""The k8s-gpu task's command line: its own `policyforge simulate` (policies x seeds on a cluster and workload,
in inflation (the FGD paper's experiment) or replay mode, as a table, JSON, a plot or an HTML comparison
report) and `policyforge bound`.

Baselines run in this process (they are the package's own code); a policy FILE is untrusted like any
candidate: it runs where the engine's `PolicyRunner` runs it (the sandbox) and its placements are replayed
here by the trusted simulator, unless the user passes --unsafe-local-policy for their own code. The task class
is handed in (`command_line`), so this module never imports task.py, which imports it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from policyforge.contract import Command, CommandLine, PolicyRunner, Simulate, Task
from policyforge.errors import PolicyforgeError
from policyforge.toolkit.cli import POSITIVE, POSITIVE_INT, number, progress, writable_file, writable_folder

PAPER_ALLOC_AT_100 = {
    "random": 86.30, "dotprod": 90.62, "clustering": 91.65, "packing": 91.78, "bestfit": 92.86, "fgd": 95.23,
}
"""The FGD paper's allocation at 100% arrived on `default`, tune 1.3, seeds 42-51 (mean of its raw rows)."""


def _capacity(text: str) -> float | str:
    """`--replay-capacity`: a positive multiple of the trace's peak GPU request, or `full`."""
    return "full" if text == "full" else number(float, 0, inclusive=False, what=" (or 'full')")(text)


def _refuse(args: argparse.Namespace, names: dict[str, str], why: str) -> None:
    """Options a mode or task would ignore are refused, never silently dropped."""
    given = [flag for attribute, flag in names.items() if getattr(args, attribute, None) not in (None, False)]
    if given:
        raise PolicyforgeError(f"{', '.join(given)} {'has' if len(given) == 1 else 'have'} no effect {why}")


def simulate_command(args: argparse.Namespace, runner: PolicyRunner, task_class: type[Task]) -> int:
    from policyforge.tasks.k8s_gpu.experiment import aggregate, mean_curves, run_all
    from policyforge.tasks.k8s_gpu.inputs import resolve
    from policyforge.tasks.k8s_gpu.policy import BASELINES, load_policy, policy_labels, policy_names
    from policyforge.tasks.k8s_gpu.simulate import replay_cluster

    if args.fallback or args.fallback_ms is not None or args.max_moves is not None:
        from policyforge.tasks.k8s_gpu.fallback_cli import simulate_fallback

        return simulate_fallback(args)
    args.mode = args.mode or "inflation"
    if args.mode == "replay":
        _refuse(args, {"tune": "--tune", "plot": "--plot"}, "in replay mode (it follows the trace's own "
                "timeline; --plot draws allocation against inflated load)")
    else:
        _refuse(args, {"replay_capacity": "--replay-capacity", "speedup": "--speedup"}, "in inflation mode")
    args.workload = args.workload or "default"
    args.tune = 1.3 if args.tune is None else args.tune
    args.seeds = args.seeds or list(range(42, 52))
    if args.report:
        writable_folder(args.report, "--report")
    if args.plot:
        writable_file(args.plot, "--plot")
    inputs = resolve(args.workload, args.nodes)
    policies = policy_names(args.policy)
    files = [p for p in policies if p not in BASELINES]
    for path in files:
        if path.endswith(".py") and not Path(path).is_file():
            raise PolicyforgeError(f"{path}: policy file not found")
        if not Path(path).is_file():
            raise PolicyforgeError(f"unknown policy {path!r}: give a baseline name ({', '.join(BASELINES)}) "
                                   "or a .py file")
    if files and args.mode == "replay" and not args.unsafe_local_policy:
        raise PolicyforgeError("replay mode runs a policy file only in this process: pass --unsafe-local-policy "
                               "if you trust it (inflation mode runs it in the sandbox)")
    sandboxed = [] if args.unsafe_local_policy else files
    for path in policies:
        if path not in sandboxed:
            load_policy(path)  # fail fast, with a clear line (baselines, or files the user vouched for)
    labels = policy_labels(policies)
    nodes, speedup = inputs.nodes, 1.0
    if args.mode == "replay":
        capacity = 1.0 if args.replay_capacity is None else args.replay_capacity
        speedup = 2.0 if args.speedup is None else args.speedup
        if capacity != "full":
            nodes = replay_cluster(inputs.nodes, inputs.pods, capacity)
        inputs = type(inputs)(inputs.name, nodes, inputs.pods)
        args.replay_setup = (capacity, speedup)
    local = [p for p in policies if p not in sandboxed]
    bar = progress(len(local) * len(args.seeds) + len(sandboxed))
    try:
        results = run_all(inputs.nodes, inputs.pods, local, args.seeds, args.mode, args.tune, args.jobs,
                          progress=bar.update if bar else None, speedup=speedup)
        for path in sandboxed:
            results[path] = _sandboxed_runs(Path(path), args, runner, task_class)
            if bar:
                bar.update(1)
    finally:
        if bar:
            bar.close()
    results = {labels[p]: results[p] for p in policies}
    summary = aggregate(results, args.mode)
    if args.mode == "replay" and all(not row["waited_pods"] for e in summary["policies"].values()
                                     for row in e["per_seed"]):
        print("warning: no pod waited in this replay under any policy: the cluster is never contended, so the "
              "comparison cannot separate policies; lower --replay-capacity or raise --speedup", file=sys.stderr)
    if args.with_bound:
        from policyforge.tasks.k8s_gpu.bound.cli import reference_lines

        args.reference_lines = reference_lines(inputs, args.seeds, args.tune, args.mode)
    if args.plot:
        if args.mode != "inflation":
            raise PolicyforgeError("--plot draws allocation against arrived load: use --mode inflation")
        from policyforge.tasks.k8s_gpu.plots import allocation_plot

        allocation_plot(mean_curves(results), args.plot,
                        f"{inputs.name}: GPU allocation, mean of {len(args.seeds)} seed(s), tune {args.tune}",
                        reference_lines=getattr(args, "reference_lines", None))
    report = _compare_report(args, inputs, results, summary) if args.report else None
    if args.json:
        print(json.dumps(summary, indent=1, sort_keys=False))
    else:
        paper = inputs.name == "default" and args.mode == "inflation" and args.tune == 1.3
        print(_table(summary, args.mode, paper, inputs, args))
        if args.plot:
            print(f"plot: {args.plot}")
    if report:
        print(f"report: {report}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _sandboxed_runs(path: Path, args: argparse.Namespace, runner: PolicyRunner, task_class: type[Task]) -> list:
    """A policy file's inflation runs: its placements from the sandbox, replayed by the trusted simulator."""
    task = task_class(workload=args.workload, nodes=args.nodes, tune=args.tune, train_seeds=(), validation_seeds=(),
                      test_seeds=tuple(args.seeds), test_workloads=[args.workload])
    instances = [i for i in task.instances() if i.split == "test"]
    decisions = runner.decisions(task, path, instances)
    runs = []
    for instance in instances:
        result = task.replay(instance, decisions[instance.id])  # type: ignore[attr-defined]
        result.policy = path.stem
        runs.append(result)
    return runs


def command_line(task_class: type[Task]) -> CommandLine:
    """What k8s-gpu adds to `policyforge`: its own simulate and the `bound` command."""
    from policyforge.tasks.k8s_gpu.bound.cli import add_bound_arguments, bound_command

    def simulate(args: argparse.Namespace, runner: PolicyRunner) -> int:
        return simulate_command(args, runner, task_class)

    bound = Command("bound", "k8s-gpu: a certified upper bound on GPU allocation and the best packing found, "
                    "next to every baseline", add_bound_arguments, bound_command)
    return CommandLine(Simulate(add_simulate_arguments, simulate), (bound,))


def add_simulate_arguments(sim: argparse.ArgumentParser) -> None:
    """The k8s-gpu options of `policyforge simulate`."""
    sim.add_argument("--workload", default=None,
                     help="OpenB workload name (default, cpu050, gpushare40, ...), a pod-list .csv, a cluster spec "
                          ".yaml, or openb-synthetic (bundled, no download); default: default")
    sim.add_argument("--tune", type=POSITIVE, default=None,
                     help="inflation: inflate arrivals to this multiple of GPU capacity (default 1.3)")
    sim.add_argument("--mode", choices=("inflation", "replay"), default=None,
                     help="inflation (default): the FGD paper's arrivals-only experiment; replay: the trace's own "
                          "timeline on a contended cluster (see --replay-capacity, --speedup)")
    sim.add_argument("--replay-capacity", type=_capacity, default=None, metavar="C|full",
                     help="replay: a proportional sample of the node list (every node type kept) with GPUs for C "
                          "times the trace's peak concurrent GPU request (default 1); 'full' = every node")
    sim.add_argument("--speedup", type=POSITIVE, default=None,
                     help="replay: arrivals this many times as fast, durations kept (default 2)")
    sim.add_argument("--nodes", help="node-list .csv (default: the paper's 1,213-node GPU cluster)")
    sim.add_argument("--plot", metavar="FILE.png", help="inflation: draw allocation against arrived load")
    sim.add_argument("--report", metavar="DIR", help="write an HTML report (tables, per-seed rows, plots) to DIR")
    sim.add_argument("--with-bound", action="store_true", help="draw the certified bound and best packing at 100%% "
                     "arrived (mean over --seeds; about a minute per seed) on --plot and --report")
    sim.add_argument("--fallback", choices=("cpsat",), help="repack a few nodes with CP-SAT when a pod would fail "
                     "(Priority Matters); reports allocation with and without it")
    sim.add_argument("--fallback-ms", type=POSITIVE, help="with --fallback: CP-SAT deterministic ms per call "
                     "(default 100)")
    sim.add_argument("--max-moves", type=POSITIVE_INT, help="with --fallback: placed pods one call may move "
                     "(default 4)")


def _compare_report(args: argparse.Namespace, inputs, results: dict, summary: dict) -> Path:
    from policyforge.tasks.k8s_gpu.compare_report import write_compare_report

    setup = [("workload", inputs.name), ("pods", f"{len(inputs.pods):,}"),
             ("nodes", f"{len(inputs.nodes):,} ({inputs.nodes.total_gpus:,} GPUs)"),
             ("seeds", f"{args.seeds[0]}..{args.seeds[-1]} ({len(args.seeds)})"), ("mode", args.mode)]
    if args.mode == "inflation":
        setup.append(("tune", f"{args.tune}"))
    else:
        capacity, speedup = args.replay_setup
        setup.append(("replay cluster", "the full node list" if capacity == "full" else
                      f"every node type, GPUs for {capacity:g}x the trace's peak request"))
        setup.append(("arrivals", f"{speedup:g}x as fast as recorded"))
    setup.append(("command", "policyforge " + " ".join(sys.argv[1:])))
    paper = PAPER_ALLOC_AT_100 if inputs.name == "default" and args.mode == "inflation" and args.tune == 1.3 else None
    return write_compare_report(args.report, results, summary, args.mode, setup, paper,
                                f"policyforge simulate: {inputs.name}", getattr(args, "reference_lines", None))


def _table(summary: dict, mode: str, paper: bool, inputs, args) -> str:
    head = (f"workload {inputs.name}: {len(inputs.pods)} pods, {len(inputs.nodes)} nodes, "
            f"{inputs.nodes.total_gpus} GPUs; seeds {args.seeds[0]}..{args.seeds[-1]} ({len(args.seeds)}); mode {mode}")
    if mode == "replay":
        capacity, speedup = getattr(args, "replay_setup", (None, 1.0))
        head += (f" (replay cluster: {'the full node list' if capacity == 'full' else f'GPUs for {capacity:g}x the trace peak'}"
                 f", arrivals {speedup:g}x as fast)")
        cols = [("gpu_utilisation", "GPU util %"), ("cpu_utilisation", "CPU util %"),
                ("memory_utilisation", "mem util %"), ("wait_p50_seconds", "wait p50 s"),
                ("wait_p99_seconds", "wait p99 s"), ("waited_pods", "pods waited"), ("never_scheduled", "never placed")]
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


