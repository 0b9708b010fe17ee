"""Task names to task classes; imported lazily so a child process loads only the task it evaluates."""

from __future__ import annotations

import importlib
from typing import Any

from policyforge.errors import PolicyforgeError
from policyforge.tasks.base import Task

TASKS: dict[str, str] = {
    "k8s-gpu": "policyforge.tasks.k8s_gpu.task:K8sGpuTask",
    "pipelines": "policyforge.tasks.pipelines.task:PipelinesTask",
}


def task_names() -> list[str]:
    return list(TASKS)


def get_task(name: str, **options: Any) -> Task:
    """Build task `name` with its options; PolicyforgeError for an unknown name or bad option."""
    target = TASKS.get(name)
    if target is None:
        raise PolicyforgeError(f"unknown task {name!r} (known: {', '.join(TASKS)})")
    module, attribute = target.split(":")
    cls = getattr(importlib.import_module(module), attribute)
    try:
        return cls(**options)
    except TypeError as exc:
        raise PolicyforgeError(f"task {name}: bad option ({exc})") from None
