"""Loading a policy: a baseline by name, or any Python file in the policy interface.

Baselines are ordinary policy files in `policies/`, loaded by the very same code path as a user's file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from policyforge.errors import PolicyError
from policyforge.toolkit.cli import policy_list
from policyforge.toolkit.policy_files import import_policy_file, resolve_policy

POLICY_DIR = Path(__file__).parent / "policies"

BASELINES: dict[str, str] = {
    "random": "random_node.py",
    "firstfit": "firstfit.py",
    "dotprod": "dotprod.py",
    "packing": "packing.py",
    "clustering": "clustering.py",
    "bestfit": "bestfit.py",
    "fgd": "fgd.py",
    "least-allocated": "least_allocated.py",
    "most-allocated": "most_allocated.py",
    "balanced-allocation": "balanced_allocation.py",
}
"""Command-line name of each baseline and its file in `policies/`."""

PAPER_BASELINES = ("random", "dotprod", "clustering", "packing", "bestfit", "fgd")
"""The six policies of the FGD paper's Figure 9a, in the paper's order."""


@dataclass(frozen=True)
class Policy:
    """A loaded policy: its display name, where it came from, and its functions."""

    name: str
    path: Path
    score: Callable
    choose_gpus: Callable | None
    source: str


def baseline_path(name: str) -> Path:
    return POLICY_DIR / BASELINES[name]


def load_policy(name_or_path: str) -> Policy:
    """A baseline by its name, or a policy file by path; PolicyError names what is wrong."""
    path, name = resolve_policy(name_or_path, BASELINES, POLICY_DIR)
    return load_policy_file(path, name=name)


def load_policy_file(path: Path, name: str | None = None) -> Policy:
    module, source = import_policy_file(Path(path), "policyforge_policy")
    return policy_of_module(module, name or Path(path).stem, Path(path), source)


def policy_of_module(module: ModuleType, name: str, path: Path = Path("candidate.py"), source: str = "") -> Policy:
    """The policy an imported module defines; PolicyError names what is missing."""
    score = module.__dict__.get("score")
    if not callable(score):
        raise PolicyError(f"{path}: a policy must define score(pod, nodes, cluster)")
    choose = module.__dict__.get("choose_gpus")
    if choose is not None and not callable(choose):
        raise PolicyError(f"{path}: choose_gpus must be a function")
    return Policy(name, Path(path), score, choose, source)


def policy_names(values: list[str] | None, default: str = "paper") -> list[str]:
    """`--policy` values as policy names: `paper` is the FGD paper's six, `all` every baseline, anything else
    a baseline name or a file."""
    return policy_list(values, default, {"paper": PAPER_BASELINES, "all": list(BASELINES)})


def policy_labels(policies: list[str]) -> dict[str, str]:
    """Display name per policy argument: the baseline name, or the file's stem (its path if stems clash)."""
    stems = [p if p in BASELINES else Path(p).stem for p in policies]
    return {p: (s if stems.count(s) == 1 else p) for p, s in zip(policies, stems, strict=True)}
