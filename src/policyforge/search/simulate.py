"""The generic `policyforge simulate`: policies side by side on a task's instances, for any task.

A task that brings no simulate of its own (`Task.command_line`) still gets this one: every named policy (a
baseline, a reference baseline, or a policy file) on the instances of one split, each scored by the task's
trusted `score` (or `reference_evaluation`). Baseline files run in this process after the static check, as
the engine runs them (trust/vouched.py); a policy file is untrusted and runs in the sandbox, its decisions
scored by the judge (trust/runner.py). Instances carry the public key (`contract.PUBLIC_KEY`), so anyone gets
the same figures; `evolve` keys them with the installation's secret.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from policyforge.contract import SPLITS, Instance, Task
from policyforge.errors import PolicyforgeError
from policyforge.toolkit.cli import policy_list
from policyforge.trust.requests import EvalResult, Limits
from policyforge.trust.runner import LIMITS, TaskDoor, run_sandboxed
from policyforge.trust.vouched import BASELINE, run_trusted

REFERENCE, BASELINE_FILE, FILE = "reference", "baseline", "file"


@dataclass(frozen=True)
class Outcome:
    """One policy over the instances: `status` ok or why not, per-instance scores and metrics, their mean."""

    policy: str
    kind: str
    status: str
    reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        return sum(self.scores.values()) / len(self.scores) if self.status == "ok" and self.scores else None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "status": self.status, "reason": self.reason, "score": self.score,
                "scores": self.scores, "metrics": self.metrics}


def policy_names(values: list[str] | None, task: Task) -> list[str]:
    """`--policy` values (repeated or comma-separated); `all` (the default) is every baseline and reference
    baseline of the task."""
    return policy_list(values, "all", {"all": [*task.baselines(), *task.reference_baselines()]})


def kind_of(name: str, task: Task) -> str:
    """A baseline's name is the baseline (a file of that name does not shadow it); anything else is a file."""
    if name in task.baselines():
        return BASELINE_FILE
    if name in task.reference_baselines():
        return REFERENCE
    if Path(name).suffix != ".py" and os.sep not in name and "/" not in name:
        raise PolicyforgeError(f"unknown policy {name!r}: give a baseline name of {task.name or 'the task'} "
                               f"({', '.join([*task.baselines(), *task.reference_baselines()])}) or a policy "
                               "file's path (ending in .py)")
    if not Path(name).is_file():
        raise PolicyforgeError(f"{name}: policy file not found")
    return FILE


def instances_of(task: Task, split: str) -> list[Instance]:
    if split not in SPLITS:
        raise PolicyforgeError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    instances = [i for i in task.instances() if i.split == split]
    if not instances:
        raise PolicyforgeError(f"task {task.name or type(task).__name__} has no {split} instances")
    return instances


def compare(ref: str, task: Task, names: list[str], instances: list[Instance], jobs: int = 1,
            unsafe: bool = False, limits: Limits = LIMITS) -> dict[str, Outcome]:
    """Every policy of `names` on `instances`, in the order given (names checked before anything runs)."""
    kinds = {name: kind_of(name, task) for name in names}
    door = TaskDoor.of(ref, task)  # once: a task's data_paths may prepare files

    def one(name: str, instance: Instance) -> EvalResult:
        if kinds[name] == REFERENCE:
            evaluation = task.reference_evaluation(name, instance)
            return EvalResult("ok", "", {instance.id: evaluation.score}, {instance.id: dict(evaluation.metrics)})
        path = task.baselines()[name] if kinds[name] == BASELINE_FILE else Path(name)
        request = door.request(Path(path).read_text(encoding="utf-8"), [instance], limits)
        if kinds[name] == BASELINE_FILE:
            return run_trusted(request, BASELINE)
        return run_sandboxed(request, unsafe, door.allowed_imports, door.required_functions)  # one child per instance, as evolve does

    work = [(name, instance) for name in names for instance in instances]
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        parts = list(pool.map(lambda pair: one(*pair), work))
    out: dict[str, Outcome] = {}
    for name in names:
        mine = [r for (n, _), r in zip(work, parts, strict=True) if n == name]
        failed = next((r for r in mine if not r.ok), None)
        if failed is not None:
            out[name] = Outcome(name, kinds[name], failed.status, failed.reason)
            continue
        scores = {k: v for r in mine for k, v in r.scores.items()}
        metrics = {k: v for r in mine for k, v in r.metrics.items()}
        out[name] = Outcome(name, kinds[name], "ok", "", scores, metrics)
    return out


def table(task: Task, split: str, outcomes: dict[str, Outcome]) -> str:
    """Mean score per policy and per group (the task's table rows), best first."""
    groups = list(dict.fromkeys(i.group or i.id for i in task.instances() if i.split == split))
    by_id = {i.id: (i.group or i.id) for i in task.instances()}
    head = f"{'policy':<24}{'score':>10}" + "".join(f"{g[:14]:>16}" for g in groups)
    lines = [f"{task.name or type(task).__name__}, {split} instances: {task.objective()}", "", head, "-" * len(head)]
    ranked = sorted(outcomes.values(), key=lambda o: -(o.score if o.score is not None else float("-inf")))
    for outcome in ranked:
        label = Path(outcome.policy).stem if outcome.kind == FILE else outcome.policy
        if outcome.score is None:
            lines.append(f"{label:<24}{outcome.status + ': ' + outcome.reason}"[:200])
            continue
        row = f"{label:<24}{outcome.score:>10.3f}"
        for group in groups:
            values = [s for i, s in outcome.scores.items() if by_id.get(i) == group]
            row += f"{sum(values) / len(values):>16.3f}" if values else f"{'':>16}"
        lines.append(row)
    return "\n".join(lines)
