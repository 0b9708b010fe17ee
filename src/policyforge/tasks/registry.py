"""Finding a task by reference: a built-in name, `path/to/file.py:ClassName`, `package.module:ClassName`,
or a name registered by an installed package under the entry-point group `policyforge.tasks`.

A task written outside policyforge is found exactly as ours are; ours are simply registered here by name.

A task file's folder is appended to `sys.path` before the file runs, in every process that loads it (the
command line, the trusted scorer, the sandbox's child), as Python does for a script: the task can import the
modules beside it, and its policies can import its feature module by its plain name (listed in the spec's
`allowed_imports`). Appended, so it never shadows an installed module: give those modules distinctive names.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from policyforge.contract import Task
from policyforge.errors import PolicyforgeError

ENTRY_POINT_GROUP = "policyforge.tasks"

BUILTIN: dict[str, str] = {
    "k8s-gpu": "policyforge.tasks.k8s_gpu.task:K8sGpuTask",
    "pipelines": "policyforge.tasks.pipelines.task:PipelinesTask",
    "cache": "policyforge.tasks.cache.task:CacheTask",
}


def _installed() -> dict[str, str]:
    """Tasks other packages registered (entry point name -> "module:Class")."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def task_names() -> list[str]:
    """Names usable as `--task NAME`: ours, then installed ones."""
    return list(dict.fromkeys([*BUILTIN, *_installed()]))


def canonical(ref: str) -> str:
    """The reference as stored in a run's configuration: a file path made absolute (the sandbox and a
    resumed run may start elsewhere), anything else unchanged."""
    path, sep, cls = ref.rpartition(":")
    if sep and path.endswith(".py"):
        return f"{Path(path).resolve()}:{cls}"
    return ref


def task_file(ref: str) -> str | None:
    """The Python file a `file.py:Class` reference names (the sandbox must be able to read it)."""
    path, sep, _ = ref.rpartition(":")
    return str(Path(path).resolve()) if sep and path.endswith(".py") else None


@lru_cache(maxsize=32)
def task_class(ref: str) -> type[Task]:
    """The class a reference names; PolicyforgeError (one line) when it cannot be found or is no Task."""
    target = BUILTIN.get(ref) or _installed().get(ref) or ref
    module_name, sep, attribute = target.rpartition(":")
    if not sep or not module_name or not attribute:
        raise PolicyforgeError(f"unknown task {ref!r}: give one of {', '.join(task_names())}, "
                               "path/to/file.py:ClassName or package.module:ClassName")
    module = _load_file(module_name) if module_name.endswith(".py") else _import(module_name, ref)
    cls = module.__dict__.get(attribute)
    if cls is None:
        raise PolicyforgeError(f"task {ref!r}: {module_name} defines no {attribute}")
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise PolicyforgeError(f"task {ref!r}: {attribute} is not a subclass of policyforge.contract.Task")
    if not getattr(cls, "spec", None):
        raise PolicyforgeError(f"task {ref!r}: {attribute} declares no policy interface (`spec`)")
    for name, group in LOOSE_HOOKS.items():  # a task written against the old contract: say so, not ignore it
        if _defines(cls, name) and not _defines(cls, group):
            raise PolicyforgeError(f"task {ref!r}: {attribute}.{name} is not read by policyforge: return it from "
                                   f"{attribute}.{group}() (see docs/write-your-own-task.md)")
    return cls


LOOSE_HOOKS = {"gp_spec": "search_hints", "gp_table": "search_hints", "trusted_tree_runs": "search_hints",
               "proxy_instances": "search_hints", "screen_instances": "search_hints", "feedback": "search_hints",
               "series": "reporting", "report_sections": "reporting", "simulate": "command_line",
               "add_simulate_arguments": "command_line", "commands": "command_line"}
"""Hooks the contract once had, each now part of a group (contract.SearchHints, Reporting, CommandLine)."""


def _defines(cls: type[Task], name: str) -> bool:
    return any(name in vars(klass) for klass in cls.__mro__ if klass not in (Task, object))


def _import(module_name: str, ref: str):
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise PolicyforgeError(f"task {ref!r}: cannot import {module_name}: {exc}") from None


def _load_file(path_text: str):
    path = Path(path_text).resolve()
    if not path.is_file():
        raise PolicyforgeError(f"{path_text}: task file not found")
    name = "policyforge_user_task_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))  # its own modules and its feature module (see the docstring)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PolicyforgeError(f"{path}: cannot load as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a user's task failing at import is a user error, named by its file
        del sys.modules[name]
        raise PolicyforgeError(f"{path}: failed to load: {type(exc).__name__}: {exc}") from None
    return module


def get_task(ref: str, **options: Any) -> Task:
    """Build task `ref` with its options; PolicyforgeError for an unknown task or a bad option."""
    cls = task_class(ref)
    try:
        return cls(**options)
    except TypeError as exc:
        raise PolicyforgeError(f"task {ref}: bad option ({exc})") from None
