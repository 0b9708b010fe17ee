"""What crosses the trust boundary: a request to run code on instances, its limits, and its result.

Plain frozen data that pickles and serialises to JSON, so the same request goes to the sandbox's child, a
trusted worker process or a Ray worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policyforge.contract import Instance

STATUSES = ("ok", "rejected", "timeout", "crashed", "invalid_output")
"""How an evaluation ended: scored; refused by the static check; killed at a limit; died or raised;
returned something that is not a valid policy output."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed evaluation."""

    wall_seconds: float = 300.0
    cpu_seconds: float = 300.0
    memory_mb: int = 2048
    output_bytes: int = 64_000


@dataclass(frozen=True)
class EvalRequest:
    """What the sandbox runs: a candidate's code on some instances of a task. `task` is a task reference
    (see tasks/registry.py); `data_paths` are what the task reads (mounted read-only into the sandbox)."""

    task: str
    code: str
    instances: tuple[Instance, ...]
    task_options: dict[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    data_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvalResult:
    """The outcome of one sandboxed evaluation.

    `scores` maps instance id -> objective (higher is better); `metrics` instance id -> a flat dict of
    named figures; `reason` says why a non-ok status happened; `output` is the captured (capped) output.
    `decisions` (instance id -> the policy's decisions, as sent by the sandboxed child) is what the trusted
    scorer turns into `scores`; it is never stored.
    """

    status: str
    reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0
    output: str = ""
    decisions: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"
