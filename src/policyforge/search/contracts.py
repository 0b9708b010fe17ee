"""The small seams of the search engine, shared by tasks, sandbox, proposers, executors and the loop.

Each is a frozen dataclass or a one-method protocol, so a new LLM provider, sandbox or executor is one small
module. Everything here is plain data that pickles and serialises to JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from policyforge.contract import SPLITS, Instance  # noqa: F401 - re-exported for the engine

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


@dataclass(frozen=True)
class ParentInfo:
    """A program shown to a proposer: its code and what is known of it."""

    id: int
    code: str
    score: float | None
    scores: dict[str, float] = field(default_factory=dict)
    feedback: str = ""
    status: str = "ok"
    reason: str = ""


@dataclass(frozen=True)
class Proposal:
    """A proposer's answer. `code` is None when the reply could not be parsed or applied (`error` says why)."""

    code: str | None
    proposer: str
    parents: tuple[int, ...] = ()
    prompt: str = ""
    raw_reply: str = ""
    error: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0


class Proposer(Protocol):
    """Writes a new candidate from parent programs. `context` carries the task's interface documentation
    (PolicySpec.render_markdown()), baseline figures and anything else a prompt needs."""

    name: str

    def propose(self, parents: list[ParentInfo], context: dict[str, Any], seed: int) -> Proposal: ...


class Executor(Protocol):
    """Runs functions somewhere (local processes, a Ray cluster) and hands back futures: `submit` for work
    that waits on a sandboxed child, `submit_compute` for work that computes in the worker itself."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future: ...

    def submit_compute(self, fn: Callable[..., Any], *args: Any) -> Future: ...

    def shutdown(self) -> None: ...
