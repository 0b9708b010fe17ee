"""The task's own sections of a run report (curves and the like), drawn from trusted replays.

The store keeps one number per instance, so a curve needs a fresh run. Every policy (the selected best and
the baselines alike) runs where candidates always run, in the sandbox, and hands back its decisions; this
process only replays them with the task's trusted `Reporting.series` and lets the task draw its `sections`. So the
report, `serve` and `evolve` never execute candidate code. Series are cached beside the report per
(policyforge source, task, options, code, instance), so a served report only runs again when the best changes.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from policyforge.contract import Instance, Task, keyed
from policyforge.errors import PolicyforgeError
from policyforge.search.evaluation import source_fingerprint, task_fingerprint
from policyforge.search.store import Candidate
from policyforge.toolkit.html import write_atomic
from policyforge.trust.requests import Limits
from policyforge.trust.runner import request_for, sandboxed_decisions

CACHE_FILE = "series-cache.json"
Series = dict[str, list[float]]


def task_sections(config: dict[str, Any], best: Candidate | None, out: Path, notes: list[str],
                  max_groups: int = 2) -> list[tuple[str, str]]:
    """(title, HTML) sections the run's task draws; `notes` collects what was skipped and why."""
    if not config:
        notes.append("the run has not written its configuration yet")
        return []
    from policyforge.tasks.registry import get_task

    try:
        task = get_task(config["task"], **config.get("task_options", {}))
    except (PolicyforgeError, KeyError) as exc:
        notes.append(f"task sections skipped: {exc}")
        return []
    reporting = task.reporting()
    if reporting is None:
        return []  # the task draws nothing: running its policies for series would be wasted
    instances: list[Instance] = []
    tests = [i for i in task.instances() if i.split == "test"]
    for instance in keyed(tests, config["instance_key"]) if config.get("instance_key") else tests:
        if instance.group not in {i.group for i in instances} and len(instances) < max_groups:
            instances.append(instance)
    codes = {name: path.read_text(encoding="utf-8") for name, path in task.baselines().items()}
    if best is not None and best.code:
        codes = {f"best #{best.id}": best.code, **codes}
    else:
        notes.append("no valid candidate yet: only the baselines are drawn")
    if not instances:
        return []
    series = _series(config, task, codes, instances, out, notes)
    try:
        return reporting.sections(series, out)
    except Exception as exc:  # a task's drawing bug loses its sections, not the report
        notes.append(f"task sections failed ({type(exc).__name__}: {exc})")
        return []


def _series(config: dict[str, Any], task: Task, codes: dict[str, str], instances: list[Instance], out: Path,
            notes: list[str]) -> dict[str, dict[str, Series]]:
    from policyforge.trust.tasks import task_for

    ref, options = config["task"], task.options()
    limits = Limits(**(config.get("limits") or {}))
    version = source_fingerprint() + task_fingerprint(task)  # a changed simulator must not reuse old series
    cache_path = out / CACHE_FILE
    cache = _read_cache(cache_path)
    keys = {label: hashlib.sha256(json.dumps([version, ref, options, code]).encode()).hexdigest()
            for label, code in codes.items()}

    def compute(label: str) -> tuple[str, dict[str, Series] | str]:
        request = request_for(ref, task, codes[label], instances, limits)
        result = sandboxed_decisions(request, task, bool(config.get("unsafe")))
        if not result.ok:
            return label, f"{result.status}: {result.reason}"
        reporting = task_for(request).reporting()
        assert reporting is not None  # the same task, rebuilt from its options, draws as the one asked
        try:
            return label, {i.id: reporting.series(i, result.decisions[i.id]) for i in instances}
        except Exception as exc:  # decisions the trusted replay refuses lose one policy's series
            return label, f"decisions rejected ({type(exc).__name__}: {exc})"

    todo = [label for label in codes if keys[label] not in cache]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for label, value in pool.map(compute, todo):
            if isinstance(value, str):
                notes.append(f"{label}: not drawn ({value})")
            else:
                cache[keys[label]] = value
    _write_cache(cache_path, cache)
    return {label: cache[keys[label]] for label in codes if keys[label] in cache}


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, cache: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(cache, allow_nan=True))
