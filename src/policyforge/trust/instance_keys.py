"""The engine's secret behind every search instance, so no candidate can recompute an instance's future.

Per installation, not per run: the key lives in the data folder (`instance.key`, created on first use,
readable by its owner only, hidden from the sandbox), so the task's baselines measured by one run are
reused from the result cache by the next (the cache key includes each instance's key). A run copies the key
into its own database when it starts and `--resume` uses that copy, so a resumed run replays exactly even
if the installation's key changed since. $POLICYFORGE_INSTANCE_KEY overrides the file (CI, a shared
cache). Candidates never see it: it is absent from their views, and the static check forbids the file and
reflection paths that could lead to it.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from policyforge.errors import PolicyforgeError
from policyforge.toolkit.fetch import data_dir

ENV = "POLICYFORGE_INSTANCE_KEY"
FILE = "instance.key"


def key_path() -> Path:
    """Where this installation's key lives."""
    return data_dir() / FILE


def installation_key() -> str:
    """This installation's secret (hex), created on first use."""
    given = os.environ.get(ENV, "").strip()
    if given:
        return given
    path = key_path()
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise PolicyforgeError(f"{path}: cannot read the instance key: {exc.strerror}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs once it is written
        for _ in range(100):
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            time.sleep(0.01)
        raise PolicyforgeError(f"{path}: the instance key file is empty; delete it to make a new one") from None
    except OSError as exc:
        raise PolicyforgeError(f"{path}: cannot create the instance key: {exc.strerror}") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
