"""Importing a policy file as a fresh module: the one code path for baselines and users' files of any task."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from policyforge.errors import PolicyError


def import_policy_file(path: Path, prefix: str) -> tuple[ModuleType, str]:
    """The executed module and its source; PolicyError (one line, naming the file) when it cannot load."""
    path = Path(path)
    if not path.is_file():
        raise PolicyError(f"{path}: policy file not found")
    source = path.read_text(encoding="utf-8")
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise PolicyError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    module_name = f"{prefix}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_loader(module_name, loader=None, origin=str(path))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    sys.modules[module_name] = module
    try:
        exec(code, module.__dict__)
    except Exception as exc:  # a user's module failing at import is a user error
        del sys.modules[module_name]
        raise PolicyError(f"{path}: failed to load: {type(exc).__name__}: {exc}") from None
    return module, source


def resolve_policy(name_or_path: str, baselines: dict[str, str], policy_dir: Path) -> tuple[Path, str | None]:
    """(file, baseline name or None) for a command-line policy argument: a baseline's name or a file path."""
    if name_or_path in baselines:
        return policy_dir / baselines[name_or_path], name_or_path
    path = Path(name_or_path)
    if path.suffix == ".py" or path.exists():
        return path, None
    raise PolicyError(f"unknown policy {name_or_path!r}: give a baseline name ({', '.join(baselines)}) or a .py file")
