"""Allocation-against-arrived curves of the best candidate and the baselines on held-out test instances.

The store keeps one number per instance, so a curve needs a fresh simulation. Baselines are package files
and load by name. The best candidate's code is generated, and a curve needs the simulator's per-pod record,
which the sandboxed evaluation does not return; so that code runs here, in this process and outside the
sandbox, and only when it passes the same static check the sandbox applies first, under the run's
wall-clock limit (an alarm, when called from the main thread) so an endless loop costs one curve, not the
report. Curves are cached beside the report per (policyforge source, task options, code, instance), so a
served report only simulates again when the best changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from policyforge.errors import PolicyforgeError
from policyforge.report.html import write_atomic
from policyforge.search.evaluation import source_fingerprint
from policyforge.search.static_check import check_source
from policyforge.search.store import Candidate

CACHE_FILE = "curves-cache.json"


@dataclass
class Panel:
    """One test instance: a curve (allocation %, indexed by arrived % 0..130) per policy label."""

    instance: str
    curves: dict[str, np.ndarray]


@dataclass
class CurveSet:
    panels: list[Panel] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def held_out_curves(config: dict[str, Any], best: Candidate | None, cache_dir: Path, max_instances: int = 2) -> CurveSet:
    """Curves on up to `max_instances` test instances; `notes` says what was skipped and why."""
    if not config:
        return CurveSet(notes=["the run has not written its configuration yet"])
    if config.get("task") != "k8s-gpu":
        return CurveSet(notes=[f"allocation curves are drawn for the k8s-gpu task only (this run: {config.get('task')})"])
    from policyforge.tasks.registry import get_task

    try:
        task = get_task("k8s-gpu", **config.get("task_options", {}))
    except PolicyforgeError as exc:
        return CurveSet(notes=[f"allocation curves skipped: {exc}"])
    instances = [i for i in task.instances() if i.split == "test"][:max_instances]
    if not instances:
        return CurveSet(notes=["the run has no test instances, so there are no test curves"])
    out = CurveSet()
    limit = float((config.get("limits") or {}).get("wall_seconds", 300.0))
    policies = _policies(task, best, out.notes, limit)
    version = source_fingerprint()  # a changed simulator must not reuse old curves
    cache_path = cache_dir / CACHE_FILE
    cache = _read_cache(cache_path)
    for instance in instances:
        panel = Panel(instance.id, {})
        for label, (source, policy) in policies.items():
            key = hashlib.sha256(json.dumps([version, task.options(), source, instance.id]).encode()).hexdigest()
            if key not in cache:
                try:
                    with deadline(limit):
                        cache[key] = _simulate(task, instance.params, policy)
                except Exception as exc:  # a policy or input failure loses one curve, not the report
                    out.notes.append(f"{label} on {instance.id}: no curve ({type(exc).__name__}: {exc})")
                    continue
            panel.curves[label] = np.array([np.nan if v is None else v for v in cache[key]], float)
        if panel.curves:
            out.panels.append(panel)
    _write_cache(cache_path, cache)
    for _, policy in policies.values():
        sys.modules.pop(policy.score.__module__, None)
    return out


class CurveTimeout(Exception):
    """The simulation of one curve ran past the run's wall-clock limit."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise CurveTimeout in the block after `seconds` (main thread only; elsewhere no limit is possible)."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise CurveTimeout(f"longer than the run's {seconds:g} s wall-clock limit")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _policies(task: Any, best: Candidate | None, notes: list[str], limit: float) -> dict[str, tuple[str, Any]]:
    """Label -> (source, loaded policy): the best first (when its code may run here), then the baselines."""
    from policyforge.tasks.k8s_gpu.policy import load_policy, load_policy_file

    policies: dict[str, tuple[str, Any]] = {}
    if best is None or not best.code:
        notes.append("no valid candidate yet: only the baselines' curves are drawn")
    else:
        label = f"best #{best.id}"
        reason = check_source(best.code, tuple(task.spec.allowed_imports))
        if reason is not None:
            notes.append(f"candidate {best.id} fails the static check ({reason}), so its curve is not drawn: "
                         "curves run the code in this process, outside the sandbox")
        else:
            with tempfile.TemporaryDirectory(prefix="policyforge-report-") as tmp:
                path = Path(tmp) / f"candidate_{best.id}.py"
                path.write_text(best.code, encoding="utf-8")
                try:
                    with deadline(limit):
                        policies[label] = (best.code, load_policy_file(path, name=label))
                except (PolicyforgeError, CurveTimeout) as exc:
                    notes.append(f"candidate {best.id} does not load here ({exc}), so its curve is not drawn")
    for name in task.reference_baselines():
        policy = load_policy(name)
        policies[name] = (policy.source, policy)
    return policies


def _simulate(task: Any, params: dict[str, Any], policy: Any) -> list[float | None]:
    from policyforge.tasks.k8s_gpu.inputs import resolve
    from policyforge.tasks.k8s_gpu.simulate import run_inflation

    inputs = resolve(str(params["workload"]), data_root=task.data_dir)
    curve = run_inflation(inputs.nodes, inputs.pods, policy, int(params["seed"]), task.tune).allocation_curve()
    return [None if np.isnan(v) else round(float(v), 4) for v in curve]


def _read_cache(path: Path) -> dict[str, list[float | None]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, list) and all(x is None or isinstance(x, float | int) for x in v)}


def _write_cache(path: Path, cache: dict[str, list[float | None]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(cache))
