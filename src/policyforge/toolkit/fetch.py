"""Getting a trace into the project's own git-ignored data/ folder, never into the repository.

Either download each file from the public source and check its SHA-256 against the checksums shipped with
the package, or take a local folder (`--from DIR`) by copying or symbolic link, checked the same way. A file
that fails its checksum is removed, never left half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from policyforge.errors import PolicyforgeError

CHECKSUMS = json.loads((Path(__file__).parent / "data_checksums.json").read_text())
SOURCES = {
    "openb": "https://raw.githubusercontent.com/alibaba/clusterdata/master/cluster-trace-gpu-v2023/csv/",
    "cache": "https://raw.githubusercontent.com/1a1a11a/libCacheSim/develop/data/",
}


def data_dir() -> Path:
    """Where fetched datasets live: $POLICYFORGE_DATA, else ./data beside the project."""
    return Path(os.environ.get("POLICYFORGE_DATA", "data"))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(dataset: str, target: Path, source_dir: Path | None = None, link: bool = False,
          base_url: str | None = None, timeout: float = 60.0,
          report: Callable[[str], None] = lambda _: None) -> list[Path]:
    """Place every file of `dataset` in `target`, verified; returns the paths. Files already present and
    intact are kept."""
    if dataset not in CHECKSUMS:
        raise PolicyforgeError(f"unknown dataset {dataset!r} (known: {', '.join(CHECKSUMS)})")
    files: dict[str, str] = CHECKSUMS[dataset]
    target.mkdir(parents=True, exist_ok=True)
    placed = []
    for name, expected in files.items():
        destination = target / name
        if destination.exists() and sha256(destination) == expected:
            placed.append(destination)
            continue
        if destination.exists() or destination.is_symlink():
            destination.unlink()
        if source_dir is not None:
            _from_folder(source_dir / name, destination, expected, link)
        else:
            _download((base_url or SOURCES[dataset]) + name, destination, expected, timeout)
        report(f"{name}: ok")
        placed.append(destination)
    return placed


def _from_folder(source: Path, destination: Path, expected: str, link: bool) -> None:
    if not source.is_file():
        raise PolicyforgeError(f"{source}: not found in the folder given with --from")
    actual = sha256(source)
    if actual != expected:
        raise PolicyforgeError(f"{source}: SHA-256 {actual[:16]}... does not match the expected {expected[:16]}...")
    if link:
        os.symlink(source.resolve(), destination)
    else:
        shutil.copyfile(source, destination)


def _download(url: str, destination: Path, expected: str, timeout: float) -> None:
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        actual = sha256(Path(temporary))
        if actual != expected:
            raise PolicyforgeError(f"{url}: SHA-256 {actual[:16]}... does not match the expected {expected[:16]}...")
        os.replace(temporary, destination)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PolicyforgeError(f"{url}: download failed ({reason}); with no network, use --from DIR") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
