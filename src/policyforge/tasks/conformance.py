"""The conformance check every task passes (`policyforge tasks check NAME`), in the spirit of Gymnasium's
env_checker: instances well formed, the same seed gives the same numbers, views are read-only, every baseline
loads, runs and scores, its decisions survive the trip from the sandbox, and the trusted half refuses decisions
that are not a run's. Runs in-process on trusted code only (the task's own baselines and probe)."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from policyforge.contract import SPLITS, Evaluation, Instance, Task
from policyforge.policy_files import import_policy_file
from policyforge.tasks.registry import get_task, task_class
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
    screen = task.screen_instances()
    check("screen instances are train instances",
          lambda: None if screen and all(i in instances and i.split == "train" for i in screen) else "bad screen set")

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


def evaluate_trusted(task: Task, path: Path, instances: list[Instance]) -> dict[str, Evaluation]:
    """Both halves in this process, for TRUSTED policy files only (the task's baselines, a probe): run,
    send the decisions through the wire format, score."""
    module, _ = import_policy_file(Path(path), "policyforge_conformance")
    out = {}
    for instance in instances:
        decisions = decode(json.loads(json.dumps(encode(task.run(module, instance)), allow_nan=False)))
        out[instance.id] = task.score(instance, decisions)
    return out
