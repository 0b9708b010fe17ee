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

    if args.fallback or args.fallback_ms is not None or args.max_moves is not None:
        from policyforge.tasks.k8s_gpu.fallback_cli import simulate_fallback

        return simulate_fallback(args)
    if args.task == "pipelines":
        from policyforge.tasks.pipelines.cli import simulate_command

        if not args.params:
            raise PolicyforgeError("--task pipelines needs --params FILE.toml")
        return simulate_command(args.params, args.trace, args.policy or [], args.seeds or [], args.json)
    args.seeds = args.seeds or parse_seeds("42-51")
    if args.tune <= 0 and args.mode == "inflation":
        raise PolicyforgeError("--tune must be positive in inflation mode")
    inputs = resolve(args.workload, args.nodes)
    policies = _policies(args.policy)
    for policy in policies:
        load_policy(policy)  # fail fast, in this process, with a clear line
    labels = _labels(policies)
    total = len(policies) * len(args.seeds)
    bar = _progress(total)
    try:
        results = run_all(inputs.nodes, inputs.pods, policies, args.seeds, args.mode, args.tune, args.jobs,
                          progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    results = {labels[p]: runs for p, runs in results.items()}
    summary = aggregate(results, args.mode)
    if args.with_bound:
        from policyforge.tasks.k8s_gpu.bound_cli import reference_lines

        args.reference_lines = reference_lines(inputs, args.seeds, args.tune, args.mode)
    if args.plot:
        if args.mode != "inflation":
            raise PolicyforgeError("--plot draws allocation against arrived load: use --mode inflation")
        from policyforge.report.plots import allocation_plot

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


def _compare_report(args: argparse.Namespace, inputs, results: dict, summary: dict) -> Path:
    from policyforge.report.compare_report import write_compare_report

    setup = [("workload", inputs.name), ("pods", f"{len(inputs.pods):,}"),
             ("nodes", f"{len(inputs.nodes):,} ({inputs.nodes.total_gpus:,} GPUs)"),
             ("seeds", f"{args.seeds[0]}..{args.seeds[-1]} ({len(args.seeds)})"), ("mode", args.mode)]
    if args.mode == "inflation":
        setup.append(("tune", f"{args.tune}"))
    setup.append(("command", "policyforge " + " ".join(sys.argv[1:])))
    paper = PAPER_ALLOC_AT_100 if inputs.name == "default" and args.mode == "inflation" and args.tune == 1.3 else None
    return write_compare_report(args.report, results, summary, args.mode, setup, paper,
                                f"policyforge simulate: {inputs.name}", getattr(args, "reference_lines", None))


def _progress(total: int):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    # On stderr, shown only on a terminal and only when the work takes more than two seconds.
    return tqdm(total=total, desc="simulating", unit="run", delay=2.0, file=sys.stderr, leave=False, disable=None)


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


def _limits(args: argparse.Namespace) -> dict:
    from dataclasses import asdict

    from policyforge.search.contracts import Limits

    return asdict(Limits(wall_seconds=args.wall_limit, cpu_seconds=args.wall_limit, memory_mb=args.memory_limit))


def cmd_evolve(args: argparse.Namespace) -> int:
    from policyforge.search.loop import Evolution, EvolveConfig
    from policyforge.tasks.k8s_gpu.task import default_task_options

    def display(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if args.resume:
        overrides = {k: v for k, v in (("max_samples", args.max_samples), ("max_cost", args.max_cost)) if v is not None}
        evolution = Evolution(Path(args.resume), resume=True, overrides=overrides)
        run_dir = Path(args.resume)
    else:
        if not args.run_dir:
            raise PolicyforgeError("give --run-dir DIR for a new run, or --resume DIR")
        proposer = args.proposer or ("llm" if args.model else "gp")
        if proposer in ("llm", "mixed") and not args.model:
            raise PolicyforgeError(f"--proposer {proposer} needs --model (and --base-url for a non-OpenAI server)")
        llm = {} if not args.model else {
            "model": args.model, "base_url": args.base_url, "api_key_env": args.api_key_env, "mode": args.llm_mode,
            "price_in_per_mtok": args.price_in, "price_out_per_mtok": args.price_out}
        options = default_task_options(args.workload, display) if args.task == "k8s-gpu" \
            else {"workload": args.workload}
        config = EvolveConfig(
            task=args.task, task_options=options, proposer=proposer, llm=llm, llm_share=args.llm_share,
            max_samples=args.max_samples or 40, max_cost=args.max_cost, seed=args.seed, batch_size=args.jobs,
            islands=args.islands, cascade=not args.no_cascade, limits=_limits(args), executor=args.executor,
            ray_address=args.ray_address, jobs=args.jobs, unsafe=args.unsafe_no_sandbox)
        evolution = Evolution(Path(args.run_dir), config)
        run_dir = Path(args.run_dir)
    if not evolution.config.unsafe:
        from policyforge.search.sandbox import sandbox_available

        if not sandbox_available():
            raise PolicyforgeError("bubblewrap (bwrap) is not installed, so generated code cannot be contained; "
                                   "install it (apt-get install bubblewrap) or pass --unsafe-no-sandbox")
    interrupted = False
    try:
        evolution.run(display)
    except KeyboardInterrupt:
        interrupted = True
        display(f"interrupted; resume with: policyforge evolve --resume {run_dir}")
    finally:
        evolution.evaluator.close()
    code = 130 if interrupted else _show(run_dir, as_json=False)
    _report_after_run(run_dir, display)
    return code


def _report_after_run(run_dir: Path, display) -> None:
    """Write RUN_DIR/report and print its path; a failure here is one warning, never the run's outcome."""
    try:
        display("writing the report (press Ctrl-C to skip)")
        from policyforge.report.run_report import write_run_report

        report = write_run_report(run_dir)
        print(f"report: {report.index}", flush=True)
    except KeyboardInterrupt:
        display(f"report skipped; write it later with: policyforge report {run_dir}")
    except Exception as exc:  # reporting must not mask the run's own result
        display(f"warning: report not written ({type(exc).__name__}: {exc}); retry with: policyforge report {run_dir}")


def _show(run_dir: Path, as_json: bool) -> int:
    from policyforge.search.runs import open_run, summary

    store = open_run(run_dir)
    data = summary(store)
    if as_json:
        print(json.dumps(data, indent=1))
        return 0
    print(f"run {run_dir}: {data['samples']} samples, {data['valid']} valid, cost ${data['cost_usd']:.4f}")
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(data["statuses"].items())))
    print(f"\n{'candidate':<12}{'train':>10}{'validation':>12}{'test':>10}")
    for name, entry in sorted(data["baselines"].items(), key=lambda kv: -(kv[1]["score"] or 0)):
        test = "" if entry["test_score"] is None else f"{entry['test_score']:.3f}"
        print(f"{name:<12}{entry['score'] or float('nan'):>10.3f}{'':>12}{test:>10}")
    for row in data["leaderboard"][:5]:
        validation = "" if row["validation_score"] is None else f"{row['validation_score']:.3f}"
        print(f"#{row['id']:<11}{row['score']:>10.3f}{validation:>12}")
    best = data["best"]
    if best:
        test = "n/a" if best["test_score"] is None else f"{best['test_score']:.3f}"
        print(f"\nbest: candidate {best['id']} ({best['proposer']}), test {test}; "
              f"export with: policyforge runs export {run_dir} --best best.py")
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    return _show(Path(args.run_dir), args.json)


def cmd_runs_export(args: argparse.Namespace) -> int:
    from policyforge.search.runs import export_best, open_run

    best = export_best(open_run(args.run_dir), args.best)
    print(f"candidate {best.id} written to {args.best}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from policyforge.search.contracts import EvalRequest, Limits
    from policyforge.search.evaluation import required_functions, run_sandboxed
    from policyforge.tasks.k8s_gpu.task import default_task_options
    from policyforge.tasks.registry import get_task

    path = Path(args.policy)
    if not path.is_file():
        raise PolicyforgeError(f"{path}: policy file not found")
    options = default_task_options(args.workload) if args.task == "k8s-gpu" else \
        ({"workload": args.workload} if args.workload != "default" else {})
    task = get_task(args.task, **options)
    instances = task.screen_instances() if args.split == "screen" else [i for i in task.instances() if i.split == args.split]
    request = EvalRequest(task.name, path.read_text(encoding="utf-8"), tuple(instances), task.options(),
                          Limits(**_limits(args)))
    result = run_sandboxed(request, args.unsafe_no_sandbox, tuple(task.spec.allowed_imports), required_functions(task))
    if args.json:
        print(json.dumps({"status": result.status, "reason": result.reason, "scores": result.scores,
                          "score": (sum(result.scores.values()) / len(result.scores)) if result.scores else None,
                          "metrics": result.metrics, "seconds": round(result.seconds, 3)}, indent=1))
    else:
        print(f"{result.status}{': ' + result.reason if result.reason else ''}")
        for instance, score in result.scores.items():
            print(f"  {instance}: {score:.3f}")
        if result.scores:
            print(f"  mean: {sum(result.scores.values()) / len(result.scores):.3f}")
    return 0 if result.ok else 1


def cmd_report(args: argparse.Namespace) -> int:
    from policyforge.report.run_report import write_run_report

    report = write_run_report(Path(args.run_dir), Path(args.out) if args.out else None)
    for line in report.notes:
        print(f"note: {line}", file=sys.stderr)
    print(f"report: {report.index}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from policyforge.report.serve import serve

    if args.interval <= 0:
        raise PolicyforgeError("--interval must be positive")
    return serve(Path(args.run_dir), Path(args.out) if args.out else None, args.port, args.interval,
                 echo=lambda line: print(line, flush=True))


def cmd_tasks_list(args: argparse.Namespace) -> int:
    from policyforge.tasks.registry import task_names

    print("\n".join(task_names()))
    return 0


def cmd_tasks_check(args: argparse.Namespace) -> int:
    from policyforge.tasks.conformance import check_task

    failures = check_task(args.name, workload=args.workload, report=print)
    print(f"{args.name}: {'conformant' if not failures else f'{len(failures)} check(s) failed'}")
    return 0 if not failures else 1


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
    sim.add_argument("--task", choices=("k8s-gpu", "pipelines"), default="k8s-gpu")
    sim.add_argument("--params", metavar="FILE.toml", help="pipelines: Eudoxia parameter file")
    sim.add_argument("--trace", metavar="FILE.csv", help="pipelines: Eudoxia trace (default: generate from --params)")
    sim.add_argument("--seeds", type=parse_seeds, default=None,
                     help="e.g. 42-51 or 1,2,3 (k8s-gpu default 42-51; pipelines default: the file's random_seed)")
    sim.add_argument("--tune", type=float, default=1.3, help="inflate arrivals to this multiple of GPU capacity (default 1.3)")
    sim.add_argument("--mode", choices=("inflation", "replay"), default="inflation",
                     help="inflation: the FGD paper's arrivals-only experiment; replay: the trace's own timeline")
    sim.add_argument("--nodes", help="node-list .csv (default: the paper's 1,213-node GPU cluster)")
    sim.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    sim.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    sim.add_argument("--plot", metavar="FILE.png", help="draw allocation against arrived load")
    sim.add_argument("--report", metavar="DIR", help="write an HTML report (tables, per-seed rows, plots) to DIR")
    sim.add_argument("--with-bound", action="store_true", help="k8s-gpu: draw the certified bound and best packing "
                     "at 100%% arrived (mean over --seeds; about a minute per seed) on --plot and --report")
    sim.add_argument("--fallback", choices=("cpsat",), help="k8s-gpu: repack a few nodes with CP-SAT when a pod "
                     "would fail (Priority Matters); reports allocation with and without it")
    sim.add_argument("--fallback-ms", type=float, help="with --fallback: CP-SAT deterministic ms per call (default 100)")
    sim.add_argument("--max-moves", type=int, help="with --fallback: placed pods one call may move (default 4)")
    sim.set_defaults(func=cmd_simulate)

    from policyforge.tasks.k8s_gpu.bound_cli import add_bound_arguments, bound_command

    bound = commands.add_parser("bound", help="k8s-gpu: certified upper bound on GPU allocation and the best "
                                "packing found, next to every baseline")
    add_bound_arguments(bound)
    bound.set_defaults(func=bound_command)

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

    evolve = commands.add_parser("evolve", help="search for a better policy (genetic programming or an LLM)",
                                 description="Evolve policies for a task; every candidate is kept in RUN_DIR/run.sqlite.")
    evolve.add_argument("--task", default="k8s-gpu")
    evolve.add_argument("--workload", default="default", help="k8s-gpu workload: an OpenB name (default), a cluster "
                        "spec .yaml, openb-synthetic (no download), or auto (default if fetched, else openb-synthetic)")
    evolve.add_argument("--proposer", choices=("gp", "llm", "mixed"), help="default: llm when --model is given, else gp")
    evolve.add_argument("--run-dir", help="directory of a new run")
    evolve.add_argument("--resume", metavar="RUN_DIR", help="continue a run after a crash or stop")
    evolve.add_argument("--max-samples", type=int, help="stop after this many samples (default 40)")
    evolve.add_argument("--max-cost", type=float, help="stop when LLM spending reaches this many USD")
    evolve.add_argument("--seed", type=int, default=0)
    evolve.add_argument("--jobs", type=int, default=2, help="evaluations at once (also the batch size)")
    evolve.add_argument("--islands", type=int, default=4)
    evolve.add_argument("--no-cascade", action="store_true", help="evaluate every candidate on the full train set")
    evolve.add_argument("--executor", choices=("local", "ray"), default="local")
    evolve.add_argument("--ray-address", help="an existing Ray cluster (default: start a local one)")
    evolve.add_argument("--model", help="LLM model name (OpenAI-compatible chat completions)")
    evolve.add_argument("--base-url", help="e.g. http://localhost:11434/v1 for Ollama")
    evolve.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    evolve.add_argument("--llm-mode", choices=("full", "diff"), default="diff")
    evolve.add_argument("--llm-share", type=float, default=0.5, help="with --proposer mixed: share of LLM samples")
    evolve.add_argument("--price-in", type=float, default=0.0, help="USD per million prompt tokens")
    evolve.add_argument("--price-out", type=float, default=0.0, help="USD per million completion tokens")
    evolve.add_argument("--wall-limit", type=float, default=300.0, help="seconds per sandboxed evaluation")
    evolve.add_argument("--memory-limit", type=int, default=2048, help="MB per sandboxed evaluation")
    evolve.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="run generated code without bubblewrap (only rlimits); never for untrusted proposers")
    evolve.set_defaults(func=cmd_evolve)

    runs = commands.add_parser("runs", help="inspect or export a run")
    runs_commands = runs.add_subparsers(dest="runs_command", required=True)
    show = runs_commands.add_parser("show", help="leaderboard, baselines and the selected best")
    show.add_argument("run_dir")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_runs_show)
    export = runs_commands.add_parser("export", help="write the selected best policy to a file")
    export.add_argument("run_dir")
    export.add_argument("--best", required=True, metavar="OUT.py")
    export.set_defaults(func=cmd_runs_export)

    report = commands.add_parser("report", help="write a run's HTML report (plots, leaderboard, lineage)",
                                 description="Write RUN_DIR's report: index.html with PNG images beside it, "
                                             "self-contained, opens from disk.")
    report.add_argument("run_dir")
    report.add_argument("--out", metavar="DIR", help="output folder (default: RUN_DIR/report)")
    report.set_defaults(func=cmd_report)

    serve = commands.add_parser("serve", help="serve a run's report on localhost, regenerated while it runs",
                                description="Serve RUN_DIR's report at http://127.0.0.1:PORT/; the page "
                                            "regenerates when the run's database changes and reloads itself.")
    serve.add_argument("run_dir")
    serve.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0 = any free)")
    serve.add_argument("--out", metavar="DIR", help="report folder (default: RUN_DIR/report)")
    serve.add_argument("--interval", type=float, default=10.0,
                       help="regenerate at most every this many seconds (default 10)")
    serve.set_defaults(func=cmd_serve)

    evaluate = commands.add_parser("evaluate", help="evaluate one policy file exactly as the engine does")
    evaluate.add_argument("--task", default="k8s-gpu")
    evaluate.add_argument("--workload", default="default")
    evaluate.add_argument("--policy", required=True)
    evaluate.add_argument("--split", choices=("screen", "train", "validation", "test"), default="train")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--wall-limit", type=float, default=300.0)
    evaluate.add_argument("--memory-limit", type=int, default=2048)
    evaluate.add_argument("--unsafe-no-sandbox", action="store_true")
    evaluate.set_defaults(func=cmd_evaluate)

    tasks = commands.add_parser("tasks", help="list tasks or check one's conformance")
    tasks_commands = tasks.add_subparsers(dest="tasks_command", required=True)
    tasks_commands.add_parser("list").set_defaults(func=cmd_tasks_list)
    check = tasks_commands.add_parser("check", help="same seed same numbers, read-only views, baselines load and score")
    check.add_argument("name")
    check.add_argument("--workload", default="openb-synthetic")
    check.set_defaults(func=cmd_tasks_check)
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
