"""The conformance check every task passes (`policyforge tasks check NAME`), in the spirit of Gymnasium's
env_checker: instances well formed, the same seed gives the same numbers, views are read-only, every baseline
loads, runs and scores, its decisions survive the trip from the sandbox, and the trusted half refuses decisions
that are not a run's.

It is `evolve`'s dress rehearsal: every baseline also passes the static check and runs in a worker process
of the engine's pool, judged, exactly as `evolve` measures it; every GP seed parses and type-checks (and runs
in the trusted interpreter when the task opts in); every feature
module declares what it exports. A task it calls conformant does not fail at the start of a run. The rest
runs in-process on trusted code only (the task's own baselines and probe)."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from policyforge.contract import SPLITS, Evaluation, Instance, Task, screen_instances
from policyforge.tasks.registry import canonical, get_task, task_class
from policyforge.toolkit.policy_files import import_policy_file
from policyforge.wire import decode, encode


def check_task(name: str, report: Callable[[str], None] = lambda _: None, workload: str | None = None,
               **options: Any) -> list[str]:
    """Run every check; returns the failures (empty when conformant) and reports each result."""
    options = {**task_class(name).options_from_cli(workload, report), **options}
    task = get_task(name, **options)
    failures: list[str] = []

    def check(label: str, fn: Callable[[], str | None]) -> None:
        try:
            problem = fn()
        except Exception as exc:  # a check that crashes is a failed check, reported with its reason
            problem = f"{type(exc).__name__}: {exc}"
        report(f"{'FAIL' if problem else 'ok  '} {label}{': ' + problem if problem else ''}")
        if problem:
            failures.append(f"{label}: {problem}")

    instances = task.instances()

    def splits() -> str | None:
        ids = [i.id + "@" + i.split for i in instances]
        if len(set(ids)) != len(ids):
            return "duplicate instance ids within a split"
        missing = [s for s in SPLITS if not any(i.split == s for i in instances)]
        train = {i.id for i in instances if i.split == "train"}
        test = {i.id for i in instances if i.split == "test"}
        if train & test:
            return f"instances in both train and test: {sorted(train & test)[:3]}"
        return f"no {', '.join(missing)} instances" if missing else None

    check("instances split into train, validation and test", splits)
    hints = task.search_hints()
    screen = screen_instances(task, hints)
    check("screen instances are train instances",
          lambda: None if screen and all(i in instances and i.split == "train" for i in screen) else "bad screen set")

    def proxies() -> str | None:
        from policyforge.errors import PolicyforgeError
        from policyforge.search.loop import checked_proxies

        try:
            checked_proxies(list(hints.proxy_instances), instances)
        except PolicyforgeError as exc:
            return str(exc)
        return None

    check("proxy instances stand for train instances", proxies)

    check_candidate_paths(task, canonical(name), check, screen)
    baselines = task.baselines()
    first_run: dict[str, dict] = {}
    for baseline, path in baselines.items():
        def scores_finite(path: Path = path, baseline: str = baseline) -> str | None:
            first_run[baseline] = evaluate_trusted(task, path, screen)
            bad = [k for k, v in first_run[baseline].items() if not math.isfinite(v.score)]
            return f"non-finite scores {bad}" if bad or set(first_run[baseline]) != {i.id for i in screen} else None

        check(f"baseline {baseline} runs, its decisions cross the wire and score", scores_finite)
    for reference in task.reference_baselines():
        def reference_finite(reference: str = reference) -> str | None:
            first = [task.reference_evaluation(reference, i).score for i in screen]
            again = [task.reference_evaluation(reference, i).score for i in screen]
            if not all(math.isfinite(v) for v in first):
                return f"non-finite scores {first}"
            return None if first == again else f"results differ: {first} then {again}"

        check(f"reference baseline {reference} scores, finite and the same twice", reference_finite)
    any_name = next(iter(first_run), None)
    if any_name:
        check("same seed, same numbers",
              lambda: None if evaluate_trusted(task, baselines[any_name], screen) == first_run[any_name]
              else "results differ")

        def refuses_empty() -> str | None:
            try:
                task.score(screen[0], {})
            except Exception:  # any refusal will do: the judge turns it into invalid_output
                return None
            return "score() accepted empty decisions: it must replay decisions, not trust them"

        check("the trusted half refuses decisions that are not a run's", refuses_empty)
    probe = task.read_only_probe()
    if probe:
        def read_only() -> str | None:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "probe.py"
                path.write_text(probe)
                evaluate_trusted(task, path, screen)
            return None

        check("views are read-only (a policy that writes to them fails)", read_only)
    return failures


CHECK_KEY = "policyforge-tasks-check"
"""The secret `tasks check` keys its runs with: the keyed path evolve takes, with a key of its own
(a check creates no installation key)."""


def check_candidate_paths(task: Task, ref: str, check: Callable[[str, Callable[[], str | None]], None],
                          screen: list[Instance]) -> None:
    """What `evolve` does with the task's programs before it searches, done the same way: every baseline
    passes the static check and runs in the engine's worker pool with its decisions judged; every GP seed parses,
    type-checks and renders to a module the static check accepts; every feature module a policy may import
    declares the names it exports (`__all__`), and those names exist."""
    from policyforge.trust.runner import allowed_imports, required_functions
    from policyforge.trust.static_check import _task_module, check_source

    allowed, required = allowed_imports(task), required_functions(task)
    gp_spec = task.search_hints().gp_spec
    for spec in dict.fromkeys((task.spec, *task.interfaces, *((gp_spec,) if gp_spec else ()))):
        if spec.feature_module and _task_module(spec.feature_module):  # not a library (numpy) named as one
            check(f"feature module {spec.feature_module} exports exactly its __all__",
                  lambda module=spec.feature_module: _exports_problem(module))
    passed = []
    for baseline, path in task.baselines().items():
        def static(path: Path = path, baseline: str = baseline) -> str | None:
            reason = check_source(Path(path).read_text(encoding="utf-8"), allowed, required)
            if reason is None:
                passed.append(baseline)
                return None
            return f"evolve would refuse it: {reason}"

        check(f"baseline {baseline} passes the static check", static)
    _check_as_evolve(task, ref, check, passed, screen)
    _check_gp_seeds(task, check, allowed, required)


def _exports_problem(module: str) -> str | None:
    import importlib

    try:
        loaded = importlib.import_module(module)
    except Exception as exc:  # a task's module failing at import: the check's failure, with its reason
        return f"cannot import it: {type(exc).__name__}: {exc}"
    names = getattr(loaded, "__all__", None)
    if names is None:
        return "it declares no __all__, so a policy may import nothing from it"
    missing = [n for n in names if not hasattr(loaded, n)]
    private = [n for n in names if str(n).startswith("_")]
    if missing or private:
        return f"__all__ names {', '.join(missing + private)}, which it does not define or are private"
    return None


def _check_as_evolve(task: Task, ref: str, check: Callable[[str, Callable[[], str | None]], None],
                     baselines: list[str], screen: list[Instance]) -> None:
    """Each baseline, and each GP seed of a task that runs trees in the trusted pool, through `evolve`'s
    very path: a worker process of the engine's pool that loads the task from its reference, runs it there
    and judges the decisions."""
    from policyforge.contract import keyed
    from policyforge.errors import PolicyforgeError
    from policyforge.search.executors import LocalExecutor
    from policyforge.search.proposers.gp import GPProposer
    from policyforge.trees.interpreter import trusted_tree
    from policyforge.trust.requests import Limits
    from policyforge.trust.runner import request_for
    from policyforge.trust.vouched import BASELINE, TREE, run_trusted, tree_grammar

    paths = task.baselines()
    instances = tuple(keyed(screen, CHECK_KEY))
    work = [(f"baseline {name} runs in the engine's worker pool and is judged, as evolve runs it", BASELINE,
             paths[name].read_text(encoding="utf-8")) for name in baselines]
    grammar = tree_grammar(task)
    if grammar is not None:
        try:
            seeds = GPProposer.for_task(task).seed_programs()
        except PolicyforgeError:  # a seed that does not parse or type-check: _check_gp_seeds names it
            seeds = []
        work += [(f"GP seed {k + 1} runs in the trusted interpreter and is judged, as evolve runs it", TREE, code)
                 for k, code in enumerate(seeds) if trusted_tree(grammar, code) is not None]
    executor = LocalExecutor(2)
    try:
        futures = [(label, executor.submit_compute(run_trusted, request_for(ref, task, code, instances, Limits()),
                                                   kind)) for label, kind, code in work]
        for label, future in futures:
            result = future.result()
            check(label, lambda result=result: None if result.ok else f"{result.status}: {result.reason}")
    finally:
        executor.shutdown()


def _check_gp_seeds(task: Task, check: Callable[[str, Callable[[], str | None]], None],
                    allowed: tuple[str, ...], required: tuple[tuple[str, ...], ...]) -> None:
    from policyforge.search.proposers.gp import GPProposer
    from policyforge.trees.grammar import parse_sexpr
    from policyforge.trust.static_check import check_source

    proposer = GPProposer.for_task(task)
    for seed, text in proposer.grammar.seeds.items():
        def seed_ok(text: str = text) -> str | None:
            try:
                tree = parse_sexpr(text)
            except ValueError as exc:
                return f"does not parse: {exc}"
            if not proposer.grammar.valid_program(tree):
                return "does not type-check in the task's grammar (an unknown terminal, operator or arity)"
            if not proposer.within_limits(tree):
                return f"is larger than GP's limits (size {proposer.max_size}, depth {proposer.max_depth})"
            reason = check_source(proposer.render(tree), allowed, required)
            return None if reason is None else f"renders to a module the static check refuses: {reason}"

        check(f"GP seed {seed} parses and type-checks", seed_ok)


def evaluate_trusted(task: Task, path: Path, instances: list[Instance]) -> dict[str, Evaluation]:
    """Both halves in this process, for TRUSTED policy files only (the task's baselines, a probe): run,
    send the decisions through the wire format, score."""
    module, _ = import_policy_file(Path(path), "policyforge_conformance")
    out = {}
    for instance in instances:
        decisions = decode(json.loads(json.dumps(encode(task.run(module, instance)), allow_nan=False)))
        out[instance.id] = task.score(instance, decisions)
    return out
