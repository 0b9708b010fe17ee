"""Loading a pipelines policy: a baseline by name, or any Python file defining `schedule`.

Baselines are ordinary policy files in `policies/`, loaded by the very same code path as a user's file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from policyforge.errors import PolicyError
from policyforge.toolkit.policy_files import import_policy_file, resolve_policy

POLICY_DIR = Path(__file__).parent / "policies"

BASELINES: dict[str, str] = {
    "naive": "naive.py",
    "priority": "priority.py",
    "sized": "sized.py",
}
"""Command-line name of each baseline and its file in `policies/`: whole `schedule` policies."""

RANK_BASELINES: dict[str, str] = {
    "sized-like": "sized_like.py",
    "wsjf": "wsjf.py",
    "critical-path": "critical_path.py",
}
"""Baselines in the ranking interface (`rank(ops, load)` over ranking.py's mechanism). Each is a GP seed of
the same name, written as the rank function the seed computes: a search that returns an unchanged seed ties a
baseline in the verdict instead of passing for a discovery."""

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
    return POLICY_DIR / (BASELINES[name] if name in BASELINES else RANK_BASELINES[name])


def load_policy(name_or_path: str) -> Policy:
    """A baseline by its name, or a policy file by path; PolicyError names what is wrong."""
    path, name = resolve_policy(name_or_path, {**BASELINES, **RANK_BASELINES}, POLICY_DIR)
    return load_policy_file(path, name=name)


def load_policy_file(path: Path, name: str | None = None) -> Policy:
    path = Path(path)
    module, source = import_policy_file(path, "policyforge_pipelines_policy")
    return policy_of_module(module, name or path.stem, path, source)


def policy_of_module(module: ModuleType, name: str, path: Path = Path("candidate.py"), source: str = "") -> Policy:
    """A module's policy: its own `schedule` (and `init`), or, when it defines `rank` instead, the ranking
    mechanism driven by its `rank` (and optional `ram_gb`, `cpus`). The mechanism is the task's code, run
    here for the policy; the module itself never sees it."""
    functions = module.__dict__
    schedule = functions.get("schedule")
    if schedule is None and callable(functions.get("rank")):
        return ranked_policy(name, path, functions["rank"], functions.get("ram_gb"), functions.get("cpus"), source)
    if not callable(schedule):
        raise PolicyError(f"{path}: a policy must define schedule(state, results, arrivals, cluster) "
                          "or rank(ops, load)")
    init = functions.get("init")
    if init is not None and not callable(init):
        raise PolicyError(f"{path}: init must be a function")
    return Policy(name, path, schedule, init, source)


def ranked_policy(name: str, path: Path, rank: Callable, ram_gb: Callable | None, cpus: Callable | None,
                  source: str = "") -> Policy:
    """The ranking mechanism (ranking.py) as a policy, ordered by `rank` and sized by `ram_gb`/`cpus`."""
    from policyforge.tasks.pipelines import ranking

    for label, fn in (("ram_gb", ram_gb), ("cpus", cpus)):
        if fn is not None and not callable(fn):
            raise PolicyError(f"{path}: {label} must be a function")

    from policyforge.tasks.pipelines.rank_programs import tree_programs

    programs = tree_programs(rank, ram_gb, cpus)  # a GP tree's: the same decisions in one compiled call

    def schedule(state, results, arrivals, cluster):
        return ranking.schedule(state, results, arrivals, cluster, rank, ram_gb=ram_gb, cpus=cpus,
                                programs=programs)

    return Policy(name, path, schedule, ranking.init, source)
