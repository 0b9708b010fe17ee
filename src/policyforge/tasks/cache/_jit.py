"""Compiled kernels that load from numba's on-disk cache in a read-only tree too (the sandbox).

numba keeps compiled code beside the source (`__pycache__`) only when it can write there; in the sandbox the
whole tree is read-only, so every child compiled the RANK mechanism again (about 10-25 s per evaluation,
against 1 s of work). Imported before any kernel module decorates its functions, `prepare()` detects a
sandboxed child (the sandbox sets POLICYFORGE_SANDBOXED) in a read-only tree, copies the cache files the
trusted engine left in the tree into a private scratch folder of the child and points numba there
(`numba.config.CACHE_DIR`); the child's writes stay in its scratch space, so nothing it does can reach
code the engine loads, and the engine itself never redirects. numba checks each file's source stamp and version itself;
a missing or stale file just means compiling, as before.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numba

PACKAGE = Path(__file__).resolve().parent
FOLDERS = (PACKAGE, PACKAGE / "algorithms")
"""The folders whose modules hold cached kernels."""


def _writable(folder: Path) -> bool:
    cache = folder / "__pycache__"
    return os.access(cache if cache.is_dir() else folder, os.W_OK)


def _subpath(folder: Path) -> str | None:
    """Where numba looks for a module of `folder` under CACHE_DIR (None when this numba has no such rule)."""
    try:
        from numba.core.caching import _CacheLocator

        return _CacheLocator.get_suitable_cache_subpath(str(folder / "module.py"))
    except (ImportError, AttributeError):
        return None


def prepare() -> None:
    """In a sandboxed child (POLICYFORGE_SANDBOXED, set by the sandbox) whose tree is read-only, point numba
    at a private scratch copy of the in-tree cache; anywhere else (the engine, the judge) do nothing, so a
    trusted process never loads compiled code from a folder anyone else could write."""
    if os.environ.get("POLICYFORGE_SANDBOXED") != "1" or numba.config.CACHE_DIR or all(_writable(f) for f in FOLDERS):
        return
    try:
        scratch = Path(tempfile.mkdtemp(prefix="policyforge-numba-"))  # private (0700), never a shared path
    except OSError:
        return  # no scratch space: numba compiles in memory, as it would without a cache
    for folder in FOLDERS:
        subpath = _subpath(folder)
        source = folder / "__pycache__"
        if subpath is None or not source.is_dir():
            continue
        target = scratch / subpath
        try:
            target.mkdir(parents=True, exist_ok=True)
            for path in source.iterdir():
                if path.suffix in (".nbi", ".nbc"):
                    shutil.copy2(path, target / path.name)
        except OSError:
            return
    numba.config.CACHE_DIR = str(scratch)


prepare()
