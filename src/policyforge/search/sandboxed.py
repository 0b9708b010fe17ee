"""A policy file's decisions from the sandbox, for commands other than `evolve` (a task's `simulate`).

A user's own policy file is as untrusted as a candidate: it runs where candidates run, and only its decisions
come back, for the task's trusted half to replay.
"""

from __future__ import annotations

from pathlib import Path

from policyforge.contract import Decisions, Instance, Task
from policyforge.errors import PolicyError
from policyforge.search.contracts import EvalRequest, Limits
from policyforge.search.evaluation import allowed_imports, required_functions, sandbox_paths

LIMITS = Limits(wall_seconds=3600.0, cpu_seconds=3600.0, memory_mb=4096)


def decisions_in_sandbox(ref: str, task: Task, path: Path, instances: list[Instance], unsafe: bool = False,
                         limits: Limits = LIMITS) -> dict[str, Decisions]:
    """The decisions of the policy in `path` on `instances`; PolicyError (one line, naming the file) when the
    sandbox refuses it or it fails."""
    from policyforge.search.sandbox import run

    if not Path(path).is_file():
        raise PolicyError(f"{path}: policy file not found")
    request = EvalRequest(ref, Path(path).read_text(encoding="utf-8"), tuple(instances), task.options(), limits,
                          sandbox_paths(ref, task))
    result = run(request, allowed_imports=allowed_imports(task), allow_unsafe=unsafe,
                 required_functions=required_functions(task))
    if not result.ok:
        raise PolicyError(f"{path}: {result.status}: {result.reason}")
    return result.decisions
