"""The command line: parse, call the library, render. User errors print one line and exit 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from policyforge.errors import PolicyforgeError
from policyforge.toolkit.cli import (
    NATURAL,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    number,
    parse_seeds,
    writable_folder,
)

EXIT_USER_ERROR = 2



DESCRIPTION = """policyforge: search over programs for resource-management policies.

Compare scheduling policies in a fast, faithful simulator (simulate), search for better ones with genetic
programming or an LLM (evolve), and read the verdict: the selected policy against every baseline on
held-out instances, with 95% confidence intervals (runs show, report)."""

EPILOG = """first steps:
  policyforge data fetch openb                      get the Alibaba OpenB trace (or --workload openb-synthetic)
  policyforge simulate --workload default --policy paper --seeds 42-51
  policyforge evolve --workload auto --run-dir runs/first --max-samples 1000 --batch-size 16
  policyforge runs show runs/first

'policyforge COMMAND --help' describes each command and its options."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `policyforge: error: ...` and exit 2, without the usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"policyforge {self.prog.split(' ', 1)[-1] if ' ' in self.prog else ''}"
                  .rstrip() + f": error: {message} (see --help)\n")


def _share(text: str) -> float:
    value = number(float, 0)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 1")
    return value


def cmd_simulate(args: argparse.Namespace) -> int:
    """The task's own simulate when it brings one (its options were added to the parser), else the generic
    one: every named policy's objective on one split of the task's instances."""
    from policyforge.tasks.registry import canonical, task_class
    from policyforge.trust.runner import SandboxRunner

    own = task_class(args.task).command_line().simulate
    if own is not None:
        return own.run(args, SandboxRunner(canonical(args.task)))
    return _generic_simulate(args)


def _generic_simulate(args: argparse.Namespace) -> int:
    from policyforge.search.executors import default_jobs
    from policyforge.search.simulate import FILE, compare, instances_of, policy_names, table
    from policyforge.tasks.registry import get_task

    ref, options = _task_setup(args.task, args.workload, args.task_options)
    task = get_task(ref, **options)
    names = policy_names(args.policy, task)
    instances = instances_of(task, args.split)
    outcomes = compare(ref, task, names, instances, args.jobs or default_jobs(), unsafe=args.unsafe_local_policy)
    stems = [Path(n).stem if o.kind == FILE else n for n, o in outcomes.items()]
    labels = {n: (s if stems.count(s) == 1 else n) for n, s in zip(outcomes, stems, strict=True)}
    if args.json:
        print(json.dumps({"task": task.name or ref, "objective": task.objective(), "split": args.split,
                          "instances": [i.id for i in instances],
                          "policies": {labels[n]: o.as_dict() for n, o in outcomes.items()}}, indent=1))
    else:
        print(table(task, args.split, outcomes))
    return 0 if all(o.status == "ok" for o in outcomes.values()) else 1


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from policyforge.toolkit.fetch import data_dir, fetch

    target = Path(args.dir) if args.dir else data_dir() / args.dataset
    source = Path(args.from_dir) if args.from_dir else None
    if source is not None and not source.is_dir():
        raise PolicyforgeError(f"--from {source}: no such folder (leave --from out to download instead)")
    if args.link and source is None:
        raise PolicyforgeError("--link needs --from DIR (it links the files of a local folder)")
    files = fetch(args.dataset, target, source, args.link, args.url, report=lambda m: print(m, file=sys.stderr))
    how = f"linked from {source}" if source and args.link else f"copied from {source}" if source else "downloaded"
    print(f"{args.dataset}: {len(files)} files in {target} ({how}, SHA-256 verified)")
    return 0


def _limits(args: argparse.Namespace) -> dict:
    from dataclasses import asdict

    from policyforge.trust.requests import Limits

    return asdict(Limits(wall_seconds=args.wall_limit, cpu_seconds=args.wall_limit, memory_mb=args.memory_limit))


def _task_setup(ref: str, workload: str | None, options_json: str | None, report=None) -> tuple[str, dict]:
    """(canonical task reference, its options) from `--task`, `--workload` and `--task-options`; the task is
    built once here so a bad task or option fails before anything starts."""
    from policyforge.tasks.registry import canonical, get_task, task_class

    ref = canonical(ref)
    options = task_class(ref).options_from_cli(workload, report or (lambda line: print(line, file=sys.stderr)))
    if options_json:
        try:
            extra = json.loads(options_json)
        except json.JSONDecodeError as exc:
            raise PolicyforgeError(f"--task-options: not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(extra, dict):
            raise PolicyforgeError("--task-options: give a JSON object, e.g. '{\"tune\": 1.2}'")
        options.update(extra)
    get_task(ref, **options)
    return ref, options


def cmd_evolve(args: argparse.Namespace) -> int:
    from policyforge.search.loop import Evolution, EvolveConfig

    def display(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def check_sandbox(unsafe: bool) -> None:
        from policyforge.trust.sandbox import sandbox_available

        if not unsafe and not sandbox_available():
            raise PolicyforgeError("bubblewrap (bwrap) is not installed, so generated code cannot be contained; "
                                   "install it (apt-get install bubblewrap) or pass --unsafe-no-sandbox")

    from policyforge.search.preflight import check_llm

    # Every check runs before the run folder exists or anything is measured (the task checks its own
    # options, workload and files when Evolution builds it, still before creating the folder).
    if args.resume:
        if args.run_dir:
            raise PolicyforgeError("give either --run-dir DIR (a new run) or --resume DIR, not both")
        overrides = {k: v for k, v in (("max_samples", args.max_samples), ("max_cost", args.max_cost)) if v is not None}
        evolution = Evolution(Path(args.resume), resume=True, overrides=overrides)
        check_sandbox(evolution.config.unsafe)
        if evolution.config.proposer in ("llm", "mixed"):
            check_llm(evolution.config.llm)
        run_dir = Path(args.resume)
    else:
        if not args.run_dir:
            raise PolicyforgeError("give --run-dir DIR for a new run, or --resume DIR")
        proposer = args.proposer or ("llm" if args.model else "gp")
        if proposer in ("llm", "mixed") and not args.model:
            raise PolicyforgeError(f"--proposer {proposer} needs --model (and --base-url for a non-OpenAI server)")
        if proposer == "gp" and args.model:
            raise PolicyforgeError("--model has no effect with --proposer gp; use --proposer llm or mixed")
        llm = {} if not args.model else {
            "model": args.model, "base_url": args.base_url, "api_key_env": args.api_key_env, "mode": args.llm_mode,
            "price_in_per_mtok": args.price_in, "price_out_per_mtok": args.price_out}
        check_sandbox(args.unsafe_no_sandbox)
        if llm:
            check_llm(llm)
        task_ref, options = _task_setup(args.task, args.workload, args.task_options, display)
        config = EvolveConfig(
            task=task_ref, task_options=options, proposer=proposer, llm=llm, llm_share=args.llm_share,
            max_samples=args.max_samples or 40, max_cost=args.max_cost, seed=args.seed, batch_size=args.batch_size,
            islands=args.islands, cascade=not args.no_cascade, limits=_limits(args), executor=args.executor,
            ray_address=args.ray_address, jobs=args.jobs, unsafe=args.unsafe_no_sandbox)
        evolution = Evolution(Path(args.run_dir), config)
        run_dir = Path(args.run_dir)
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
    if not interrupted:
        from policyforge.search.runs import open_run

        samples = open_run(run_dir).all("sample IS NOT NULL")
        if samples and all(c.status == "proposal_error" for c in samples):
            print(f"policyforge: error: every proposal failed, e.g. {samples[-1].reason}", file=sys.stderr)
            return 1
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
    from policyforge.search.runs import open_run, run_verdict, summary
    from policyforge.search.verdict import render_table

    store = open_run(run_dir)
    data = summary(store)
    if as_json:
        print(json.dumps(data, indent=1))
        return 0

    def num(value: float | None, width: int) -> str:
        return f"{'':>{width}}" if value is None else f"{value:>{width}.3f}"

    print(f"run {run_dir}: {data['samples']} samples, {data['valid']} valid, cost ${data['cost_usd']:.4f}")
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(data["statuses"].items())))
    for reason, count in sorted(data["proposal_errors"].items(), key=lambda kv: -kv[1])[:3]:
        print(f"proposal error ({count}x): {reason}")
    print(f"\n{'candidate':<30}{'train':>10}{'validation':>12}{'test':>10}")
    for name, entry in sorted(data["baselines"].items(), key=lambda kv: -(kv[1]["score"] or 0)):
        print(f"{'baseline ' + name:<30}{num(entry['score'], 10)}{num(entry['validation_score'], 12)}"
              f"{num(entry['test_score'], 10)}")
    for row in data["leaderboard"][:5]:
        print(f"{'#' + str(row['id']) + ' ' + row['proposer']:<30}{num(row['score'], 10)}"
              f"{num(row['validation_score'], 12)}{num(row['test_score'], 10)}")
    best = data["best"]
    if best:
        test = "n/a" if best["test_score"] is None else f"{best['test_score']:.3f}"
        print(f"\nselected: candidate {best['id']} ({best['proposer']}), best on validation; test {test}; "
              f"export with: policyforge runs export {run_dir} --best best.py")
    verdict = run_verdict(store)
    if verdict is not None:
        print("\nverdict on held-out test instances (paired differences over seeds, 95% interval):")
        print("\n".join(render_table(verdict)))
        print(f"\n{verdict.conclusion}")
        for note in verdict.notes:
            print(f"note: {note}")
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    return _show(Path(args.run_dir), args.json)


def cmd_runs_export(args: argparse.Namespace) -> int:
    from policyforge.search.runs import export_best, open_run

    best = export_best(open_run(args.run_dir), args.best)
    print(f"candidate {best.id} written to {args.best}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from policyforge.contract import keyed, screen_instances
    from policyforge.search.evaluation import merge
    from policyforge.tasks.registry import get_task
    from policyforge.trust.instance_keys import installation_key
    from policyforge.trust.requests import EvalResult, Limits
    from policyforge.trust.runner import allowed_imports, request_for, required_functions, run_sandboxed

    ref, options = _task_setup(args.task, args.workload, args.task_options)
    task = get_task(ref, **options)
    path, label = _evaluated_policy(args.policy, task.baselines(), task.name or ref)
    print(f"evaluating {label}", file=sys.stderr)
    instances = screen_instances(task) if args.split == "screen" else [i for i in task.instances() if i.split == args.split]
    instances = keyed(instances, installation_key())  # the instances evolve measures, keyed the same way
    code, limits = path.read_text(encoding="utf-8"), Limits(**_limits(args))
    imports, functions = allowed_imports(task), required_functions(task)

    def one(instance) -> EvalResult:  # one child per instance, as the engine runs candidates
        return run_sandboxed(request_for(ref, task, code, [instance], limits), args.unsafe_no_sandbox, imports,
                             functions)

    with ThreadPoolExecutor(max(1, min(len(instances), os.cpu_count() or 1))) as pool:
        result = merge(list(pool.map(one, instances)))
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


def _evaluated_policy(policy: str, baselines: dict[str, Path], task: str) -> tuple[Path, str]:
    """(file, what it is) for `evaluate --policy`, resolved as `simulate` resolves it: a baseline's name is the
    baseline (a file of that name does not shadow it); anything else is a file, named by an explicit path
    (ending in .py or containing a folder)."""
    if policy in baselines:
        return Path(baselines[policy]), f"baseline {policy} ({baselines[policy]})"
    path = Path(policy)
    if path.suffix != ".py" and os.sep not in policy and "/" not in policy:
        raise PolicyforgeError(f"unknown policy {policy!r}: give a {task} baseline name ({', '.join(baselines)}) "
                               "or a policy file's path (ending in .py)")
    if not path.is_file():
        raise PolicyforgeError(f"{policy}: policy file not found")
    return path, f"policy file {path}"


def cmd_report(args: argparse.Namespace) -> int:
    from policyforge.report.run_report import write_run_report
    from policyforge.search.runs import open_run

    open_run(args.run_dir).close()  # one line if it is not a run directory
    if args.out:
        writable_folder(args.out, "--out")
    try:
        report = write_run_report(Path(args.run_dir), Path(args.out) if args.out else None)
    except OSError as exc:
        raise PolicyforgeError(f"{exc.filename or args.out or args.run_dir}: cannot write the report "
                               f"({exc.strerror or exc})") from None
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
    from policyforge.search.conformance import check_task

    failures = check_task(args.name, workload=args.workload, report=print)
    print(f"{args.name}: {'conformant' if not failures else f'{len(failures)} check(s) failed'}")
    return 0 if not failures else 1


def build_parser(simulate_task: str | None = None) -> argparse.ArgumentParser:
    """The parser; `simulate_task` is the task whose own options `simulate` takes (default: the first)."""
    from policyforge import __version__
    from policyforge.tasks.registry import task_class, task_names

    names = task_names()
    simulate_task = simulate_task or names[0]
    task_help = (f"a task: {', '.join(names)} (default {names[0]}), path/to/file.py:ClassName or "
                 "package.module:ClassName")
    parser = Parser(prog="policyforge", description=DESCRIPTION, epilog=EPILOG,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"policyforge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = commands.add_parser("simulate", help="compare policies in a task's simulator",
                              description="Run policies in a task's simulator and compare them side by side. A "
                                          "task may bring its own simulate with its own options (see `policyforge "
                                          "simulate --task NAME --help`); any other task gets the generic one: "
                                          "the task's objective per policy on one split of its instances. A "
                                          "policy file runs in the sandbox, like any candidate, unless "
                                          "--unsafe-local-policy is given.")
    sim.add_argument("--task", default=simulate_task, help=task_help)
    sim.add_argument("--policy", action="append",
                     help="baseline name or policy .py file; repeat or comma-separate (default and groups of "
                          "baselines such as 'all': the task's)")
    sim.add_argument("--jobs", type=POSITIVE_INT, default=None, help="worker processes (default: all cores)")
    sim.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    sim.add_argument("--unsafe-local-policy", action="store_true",
                     help="run a policy FILE without the sandbox's isolation (only for code you trust)")
    own = task_class(simulate_task).command_line().simulate
    if own is not None:  # the task's own simulate: seeds, and its own options
        sim.add_argument("--seeds", type=parse_seeds, default=None, help="e.g. 42-51 or 1,2,3 (default: the task's)")
        own.add_arguments(sim)
    else:  # the generic simulate: the task's instances of one split, as evolve would build them
        sim.add_argument("--workload", help="the task's workload, as for evolve (default: the task's own)")
        sim.add_argument("--task-options", metavar="JSON", help="further task options as a JSON object")
        sim.add_argument("--split", choices=("train", "validation", "test"), default="test",
                         help="which of the task's instances (default test)")
    sim.set_defaults(func=cmd_simulate)

    data = commands.add_parser("data", help="get trace data into the project's data/ folder",
                               description="Get trace data into the project's data/ folder (git-ignored).")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    fetch = data_commands.add_parser("fetch", help="download (SHA-256 verified) or copy/link a dataset",
                                     description="Put a dataset into data/NAME/: downloaded from its public "
                                                 "source, or taken from a local folder with --from.")
    fetch.add_argument("dataset", choices=("openb", "cache"),
                       help="openb: the Alibaba GPU cluster trace (26 CSV files); cache: libCacheSim's Twitter and "
                            "CloudPhysics cache traces")
    fetch.add_argument("--from", dest="from_dir", metavar="DIR", help="take the files from this local folder")
    fetch.add_argument("--link", action="store_true", help="with --from: symlink instead of copying")
    fetch.add_argument("--dir", help="target folder (default: data/NAME)")
    fetch.add_argument("--url", help=argparse.SUPPRESS)
    fetch.set_defaults(func=cmd_data_fetch)

    evolve = commands.add_parser("evolve", help="search for a better policy (genetic programming or an LLM)",
                                 description="Evolve policies for a task; every candidate is kept in "
                                             "RUN_DIR/run.sqlite. Ends with the verdict: the policy selected on "
                                             "validation against every baseline on held-out test instances.")
    evolve.add_argument("--task", help=task_help)
    evolve.add_argument("--workload", help="the task's workload, as the task reads it (see `policyforge tasks "
                        "list` and the task's docs; default: the task's own)")
    evolve.add_argument("--task-options", metavar="JSON", help="further task options as a JSON object")
    evolve.add_argument("--proposer", choices=("gp", "llm", "mixed"), help="default: llm when --model is given, else gp")
    evolve.add_argument("--run-dir", help="directory of a new run")
    evolve.add_argument("--resume", metavar="RUN_DIR", help="continue a run after a crash or stop")
    evolve.add_argument("--max-samples", type=POSITIVE_INT, help="stop after this many samples (default 40)")
    evolve.add_argument("--max-cost", type=POSITIVE, help="stop when LLM spending reaches this many USD")
    evolve.add_argument("--seed", type=NATURAL, default=0, help="the run's seed: same seed, same run (default 0)")
    evolve.add_argument("--jobs", type=POSITIVE_INT, default=0, help="evaluations at once (default: every core; "
                        "parallelism only: the run is the same whatever it is)")
    evolve.add_argument("--batch-size", type=POSITIVE_INT, default=2, help="samples proposed from one state of "
                        "the database (part of the search's definition, like --seed; default 2)")
    evolve.add_argument("--islands", type=POSITIVE_INT, default=4,
                        help="independent sub-populations of the programs database (default 4)")
    evolve.add_argument("--no-cascade", action="store_true", help="evaluate every candidate on the full train set")
    evolve.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="where evaluations run: local processes (default) or a Ray cluster")
    evolve.add_argument("--ray-address", help="an existing Ray cluster (default: start a local one)")
    evolve.add_argument("--model", help="LLM model name (OpenAI-compatible chat completions)")
    evolve.add_argument("--base-url", help="e.g. http://localhost:11434/v1 for Ollama (default: OpenAI's API)")
    evolve.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    evolve.add_argument("--llm-mode", choices=("full", "diff"), default="diff",
                        help="full: the LLM writes whole modules; diff (default): SEARCH/REPLACE edits of a parent")
    evolve.add_argument("--llm-share", type=_share, default=0.5, help="with --proposer mixed: share of LLM samples")
    evolve.add_argument("--price-in", type=NON_NEGATIVE, default=0.0, help="USD per million prompt tokens")
    evolve.add_argument("--price-out", type=NON_NEGATIVE, default=0.0, help="USD per million completion tokens")
    evolve.add_argument("--wall-limit", type=POSITIVE, default=300.0, help="seconds per sandboxed evaluation")
    evolve.add_argument("--memory-limit", type=POSITIVE_INT, default=2048, help="MB per sandboxed evaluation")
    evolve.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="run generated code without bubblewrap (only rlimits); never for untrusted proposers")
    evolve.set_defaults(func=cmd_evolve)

    runs = commands.add_parser("runs", help="inspect or export a run", description="Inspect or export a run.")
    runs_commands = runs.add_subparsers(dest="runs_command", required=True, metavar="SUBCOMMAND")
    show = runs_commands.add_parser("show", help="leaderboard, baselines, the selected best and the verdict",
                                    description="Leaderboard, every baseline (train, validation, test), the "
                                                "selected candidate and the verdict on held-out test instances.")
    show.add_argument("run_dir", help="a run directory (holds run.sqlite)")
    show.add_argument("--json", action="store_true", help="print one JSON object (verdict included)")
    show.set_defaults(func=cmd_runs_show)
    export = runs_commands.add_parser("export", help="write the selected best policy to a file",
                                      description="Write the selected policy, a readable Python module, to a file.")
    export.add_argument("run_dir", help="a run directory (holds run.sqlite)")
    export.add_argument("--best", required=True, metavar="OUT.py", help="the file to write")
    export.set_defaults(func=cmd_runs_export)

    report = commands.add_parser("report", help="write a run's HTML report (verdict, plots, leaderboard, lineage)",
                                 description="Write RUN_DIR's report: index.html with PNG images beside it, "
                                             "self-contained, opens from disk.")
    report.add_argument("run_dir", help="a run directory (holds run.sqlite)")
    report.add_argument("--out", metavar="DIR", help="output folder (default: RUN_DIR/report)")
    report.set_defaults(func=cmd_report)

    serve = commands.add_parser("serve", help="serve a run's report on localhost, regenerated while it runs",
                                description="Serve RUN_DIR's report at http://127.0.0.1:PORT/; the page "
                                            "regenerates when the run's database changes and reloads itself.")
    serve.add_argument("run_dir", help="a run directory (holds run.sqlite)")
    serve.add_argument("--port", type=NATURAL, default=8765, help="port on 127.0.0.1 (default 8765; 0 = any free)")
    serve.add_argument("--out", metavar="DIR", help="report folder (default: RUN_DIR/report)")
    serve.add_argument("--interval", type=POSITIVE, default=10.0,
                       help="regenerate at most every this many seconds (default 10)")
    serve.set_defaults(func=cmd_serve)

    evaluate = commands.add_parser("evaluate", help="evaluate one policy exactly as the engine does",
                                   description="Evaluate one policy file, or a baseline by name, on a split of a "
                                               "task's instances, in the sandbox, exactly as `evolve` does. Exit 0 "
                                               "when it scored, 1 when it was rejected, timed out or crashed.")
    evaluate.add_argument("--task", help=task_help)
    evaluate.add_argument("--workload", help="the task's workload (as for evolve; default: its default)")
    evaluate.add_argument("--task-options", metavar="JSON", help="further task options as a JSON object")
    evaluate.add_argument("--policy", required=True,
                          help="a baseline name of the task, or a policy file's path (ending in .py); as in simulate")
    evaluate.add_argument("--split", choices=("screen", "train", "validation", "test"), default="train",
                          help="which instances: screen (the cascade's first), train (default), validation, test")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object: status, scores, metrics")
    evaluate.add_argument("--wall-limit", type=POSITIVE, default=300.0, help="seconds for the evaluation")
    evaluate.add_argument("--memory-limit", type=POSITIVE_INT, default=2048, help="MB for the evaluation")
    evaluate.add_argument("--unsafe-no-sandbox", action="store_true",
                          help="run without bubblewrap (only rlimits); only for code you trust")
    evaluate.set_defaults(func=cmd_evaluate)

    tasks = commands.add_parser("tasks", help="list tasks or check one's conformance",
                                description="List the tasks, or check one's conformance.")
    tasks_commands = tasks.add_subparsers(dest="tasks_command", required=True, metavar="SUBCOMMAND")
    tasks_commands.add_parser("list", help="the task names", description="Print the task names.") \
        .set_defaults(func=cmd_tasks_list)
    check = tasks_commands.add_parser("check", help="same seed same numbers, read-only views, baselines load and score",
                                      description="Check a task's conformance: determinism, read-only views, "
                                                  "baselines run, their decisions cross the wire and score.")
    check.add_argument("name", help="a task name, path/to/file.py:ClassName or package.module:ClassName")
    check.add_argument("--workload", help="the task's workload, as for evolve (default: the task's own)")
    check.set_defaults(func=cmd_tasks_check)

    for name in names:  # subcommands a task brings (e.g. a bound only its simulator can compute)
        try:
            brought = task_class(name).command_line().commands
        except PolicyforgeError:  # a broken installed task loses its commands, not the whole command line
            continue
        for command in brought:
            sub = commands.add_parser(command.name, help=command.help, description=command.help)
            command.add_arguments(sub)
            sub.set_defaults(func=command.run)
    return parser


def _simulate_task(argv: list[str]) -> str | None:
    """The `--task` of a `simulate` command line, found before the full parser is built (the task adds its
    own options to it)."""
    if "simulate" not in argv[:1]:
        return None
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--task")
    return pre.parse_known_args(argv[1:])[0].task


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--version"]:  # answered before the parser imports every task (numba, ortools)
        from policyforge import __version__

        print(f"policyforge {__version__}")
        return 0
    try:
        parser = build_parser(_simulate_task(argv))
    except PolicyforgeError as exc:  # an unknown or broken task named by simulate --task
        print(f"policyforge: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    args = parser.parse_args(argv)
    if getattr(args, "task", "") is None:
        from policyforge.tasks.registry import task_names

        args.task = task_names()[0]
    try:
        return args.func(args)
    except PolicyforgeError as exc:
        print(f"policyforge: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # a path the user gave that cannot be read or written: name it, in one line
        where = exc.filename if exc.filename is not None else ""
        print(f"policyforge: error: {where}{': ' if where else ''}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("policyforge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
