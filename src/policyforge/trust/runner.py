"""The one way to run a policy under trust: a request built from the task, the sandbox for code, its scores
from the judge.

Every command that runs a policy goes through here: `evolve` (search/evaluation.py routes each candidate to
`run_sandboxed` or, for what the engine vouches for, trust/vouched.py), `evaluate`, the generic and the
tasks' own `simulate` (a `SandboxRunner` is the contract's `PolicyRunner`), `tasks check` and the report's
curves. A user's own policy file is as untrusted as a candidate: it runs where candidates run, and only its
decisions come back, for the task's trusted half to score or replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from policyforge.contract import Decisions, Instance, Task
from policyforge.errors import PolicyError
from policyforge.trust.requests import EvalRequest, EvalResult, Limits

LIMITS = Limits(wall_seconds=3600.0, cpu_seconds=3600.0, memory_mb=4096)
"""Limits of a user's own policy file in `simulate` (a whole experiment, not one screen)."""


def required_functions(task: Task) -> tuple[tuple[str, ...], ...]:
    """Per interface the task accepts, the functions a policy must define."""
    return tuple(spec.required_functions for spec in (task.spec, *task.interfaces))


def allowed_imports(task: Task) -> tuple[str, ...]:
    """The union of the allow-lists of the task's interfaces."""
    return tuple(dict.fromkeys(m for spec in (task.spec, *task.interfaces) for m in spec.allowed_imports))


def sandbox_paths(ref: str, task: Task) -> tuple[str, ...]:
    """What the sandboxed child must read: the task's data and, for a task from a file, that file's folder."""
    from policyforge.tasks.registry import task_file

    own = task_file(ref)
    return tuple(str(p) for p in task.data_paths()) + ((str(Path(own).parent),) if own else ())


@dataclass(frozen=True)
class TaskDoor:
    """What every request to run a policy of one task carries, worked out once: the task's reference and
    options (so another process rebuilds it), what the sandbox mounts, and what the static check allows and
    requires. `data_paths()` may prepare files (the cache task decodes its windows), so a caller that sends
    many requests (the Evaluator) keeps one door."""

    ref: str
    options: dict
    paths: tuple[str, ...]
    allowed_imports: tuple[str, ...]
    required_functions: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, ref: str, task: Task) -> TaskDoor:
        return cls(ref, task.options(), sandbox_paths(ref, task), allowed_imports(task), required_functions(task))

    def request(self, code: str, instances: Sequence[Instance], limits: Limits = LIMITS) -> EvalRequest:
        """The request that runs `code` on `instances`."""
        return EvalRequest(self.ref, code, tuple(instances), self.options, limits, self.paths)


def request_for(ref: str, task: Task, code: str, instances: Sequence[Instance], limits: Limits = LIMITS
                ) -> EvalRequest:
    """The request that runs `code` on `instances` of `task` (named `ref`, so another process rebuilds it)."""
    return TaskDoor.of(ref, task).request(code, instances, limits)


def sandboxed_decisions(request: EvalRequest, task: Task, unsafe: bool = False) -> EvalResult:
    """The policy's decisions from the sandbox (after the static check), not yet judged."""
    from policyforge.trust.sandbox import run

    return run(request, allowed_imports=allowed_imports(task), allow_unsafe=unsafe,
               required_functions=required_functions(task))


def run_sandboxed(request: EvalRequest, unsafe: bool, allowed_imports: tuple[str, ...],
                  required_functions: tuple[tuple[str, ...], ...]) -> EvalResult:
    """What an executor runs: the candidate's decisions from the sandbox, then their trusted scores
    (importable by name, so Ray can ship it; this process never runs candidate code)."""
    from policyforge.trust.judge import judge
    from policyforge.trust.sandbox import run

    result = run(request, allowed_imports=allowed_imports, allow_unsafe=unsafe,
                 required_functions=required_functions)
    return judge(request, result)


@dataclass(frozen=True)
class SandboxRunner:
    """The contract's `PolicyRunner` for task `ref`: a policy file's decisions from the sandbox (rlimits
    only, no bubblewrap, when `unsafe`: the user vouched for their own code)."""

    ref: str
    unsafe: bool = False
    limits: Limits = field(default=LIMITS)

    def decisions(self, task: Task, policy: Path, instances: Sequence[Instance]) -> dict[str, Decisions]:
        """PolicyError (one line, naming the file) when the sandbox refuses the file or it fails."""
        if not Path(policy).is_file():
            raise PolicyError(f"{policy}: policy file not found")
        code = Path(policy).read_text(encoding="utf-8")
        result = sandboxed_decisions(request_for(self.ref, task, code, instances, self.limits), task, self.unsafe)
        if not result.ok:
            raise PolicyError(f"{policy}: {result.status}: {result.reason}")
        return result.decisions
