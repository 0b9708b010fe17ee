"""The conformance check every task passes (`policyforge tasks check NAME`), in the spirit of Gymnasium's
env_checker: instances well formed, the same seed gives the same numbers, views are read-only, and every
baseline loads and scores. Runs in-process on trusted code (the baselines and a probe)."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from policyforge.search.contracts import SPLITS
from policyforge.tasks.registry import get_task


def check_task(name: str, report: Callable[[str], None] = lambda _: None, **options: Any) -> list[str]:
    """Run every check; returns the failures (empty when conformant) and reports each result."""
    if name == "k8s-gpu" and "workload" in options:
        from policyforge.tasks.k8s_gpu.task import default_task_options

        options = default_task_options(options["workload"])
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
    first_run: dict[str, tuple] = {}
    for baseline, path in baselines.items():
        def scores_finite(path: Path = path, baseline: str = baseline) -> str | None:
            scores, metrics = task.evaluate(path, screen)
            first_run[baseline] = (scores, metrics)
            bad = [k for k, v in scores.items() if not math.isfinite(v)]
            return f"non-finite scores {bad}" if bad or set(scores) != {i.id for i in screen} else None

        check(f"baseline {baseline} loads and scores", scores_finite)
    any_name = next(iter(first_run), None)
    if any_name:
        check("same seed, same numbers",
              lambda: None if task.evaluate(baselines[any_name], screen) == first_run[any_name] else "results differ")
    probe = getattr(task, "read_only_probe", None)
    if callable(probe):
        def read_only() -> str | None:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "probe.py"
                path.write_text(probe())
                task.evaluate(path, screen)
            return None

        check("views are read-only (a policy that writes to them fails)", read_only)
    return failures
