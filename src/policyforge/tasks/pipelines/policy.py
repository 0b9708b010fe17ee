"""Loading a pipelines policy: a baseline by name, or any Python file defining `schedule`.

Baselines are ordinary policy files in `policies/`, loaded by the very same code path as a user's file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from policyforge.errors import PolicyError
from policyforge.policy_files import import_policy_file, resolve_policy

POLICY_DIR = Path(__file__).parent / "policies"

BASELINES: dict[str, str] = {
    "naive": "naive.py",
    "priority": "priority.py",
    "sized": "sized.py",
}
"""Command-line name of each baseline and its file in `policies/`."""

EUDOXIA_BASELINES = ("naive", "priority")
"""Eudoxia's schedulers of these names, reimplemented in our interface."""


@dataclass(frozen=True)
class Policy:
    name: str
    path: Path
    schedule: Callable
    init: Callable | None
    source: str


def baseline_path(name: str) -> Path:
    return POLICY_DIR / BASELINES[name]


def load_policy(name_or_path: str) -> Policy:
    """A baseline by its name, or a policy file by path; PolicyError names what is wrong."""
    path, name = resolve_policy(name_or_path, BASELINES, POLICY_DIR)
    return load_policy_file(path, name=name)


def load_policy_file(path: Path, name: str | None = None) -> Policy:
    path = Path(path)
    module, source = import_policy_file(path, "policyforge_pipelines_policy")
    schedule = module.__dict__.get("schedule")
    if not callable(schedule):
        raise PolicyError(f"{path}: a policy must define schedule(state, results, arrivals, cluster)")
    init = module.__dict__.get("init")
    if init is not None and not callable(init):
        raise PolicyError(f"{path}: init must be a function")
    return Policy(name or path.stem, path, schedule, init, source)
