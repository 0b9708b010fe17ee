"""Loading a policy: a baseline by name, or any Python file in the policy interface.

Baselines are ordinary policy files in `policies/`, loaded by the very same code path as a user's file.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from policyforge.errors import PolicyError

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
    """A baseline by its command-line name, or a policy file by path; PolicyError names what is wrong."""
    if name_or_path in BASELINES:
        return load_policy_file(baseline_path(name_or_path), name=name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".py" or path.exists():
        return load_policy_file(path)
    known = ", ".join(BASELINES)
    raise PolicyError(f"unknown policy {name_or_path!r}: give a baseline name ({known}) or a .py file")


def load_policy_file(path: Path, name: str | None = None) -> Policy:
    if not path.is_file():
        raise PolicyError(f"{path}: policy file not found")
    source = path.read_text(encoding="utf-8")
    module = _import_file(path, source)
    score = getattr(module, "score", None)
    if not callable(score):
        raise PolicyError(f"{path}: a policy must define score(pod, nodes, cluster)")
    choose = getattr(module, "choose_gpus", None)
    if choose is not None and not callable(choose):
        raise PolicyError(f"{path}: choose_gpus must be a function")
    return Policy(name or path.stem, path, score, choose, source)


def _import_file(path: Path, source: str) -> ModuleType:
    module_name = f"policyforge_policy_{abs(hash(str(path.resolve())))}"
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise PolicyError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    spec = importlib.util.spec_from_loader(module_name, loader=None, origin=str(path))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    sys.modules[module_name] = module
    try:
        exec(code, module.__dict__)
    except Exception as exc:  # a user's module failing at import is a user error
        del sys.modules[module_name]
        raise PolicyError(f"{path}: failed to load: {type(exc).__name__}: {exc}") from None
    return module
