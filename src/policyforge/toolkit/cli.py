"""Command-line helpers any command, ours or a task's, may use: argparse number types, seed lists, checks
on output paths before work starts, and progress for long phases."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from policyforge.errors import PolicyforgeError


def number(kind: type, low: float, inclusive: bool = True, what: str = "") -> object:
    """An argparse type: `kind` at least (or above) `low`, saying so in the error."""

    def convert(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if value < low or (value == low and not inclusive):
            bound = f">= {low:g}" if inclusive else f"> {low:g}"
            raise argparse.ArgumentTypeError(f"{text} must be {bound}{what}")
        return value

    convert.__name__ = kind.__name__
    return convert


POSITIVE_INT = number(int, 1)
NATURAL = number(int, 0)
POSITIVE = number(float, 0, inclusive=False)
NON_NEGATIVE = number(float, 0)


def parse_seeds(text: str) -> list[int]:
    """'42-51', '42,45,50' or '7' into a list of seeds."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else (part, part)
                lo_i, hi_i = int(lo), int(hi)
                if hi_i < lo_i:
                    raise argparse.ArgumentTypeError(f"seed range {part!r} is reversed: write {hi_i}-{lo_i}")
                seeds.extend(range(lo_i, hi_i + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad seed list {text!r}: use e.g. 42-51 or 1,2,3") from None
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"bad seed list {text!r}: seeds are non-negative integers")
    return seeds


def policy_list(values: list[str] | None, default: str, groups: Mapping[str, Sequence[str]]) -> list[str]:
    """`--policy` values (repeated, comma-separated; `default` when none) as names, each group name (`all`,
    say) replaced by its members; duplicates dropped, order kept."""
    names: list[str] = []
    for value in values or [default]:
        for item in (part.strip() for part in value.split(",")):
            if item in groups:
                names.extend(groups[item])
            elif item:
                names.append(item)
    return list(dict.fromkeys(names))


def writable_file(path: str, flag: str) -> None:
    """Before any work: `path` can be created as a file (its folder exists, it is not a folder)."""
    target = Path(path)
    if target.is_dir():
        raise PolicyforgeError(f"{flag} {path}: is a folder; give a file name")
    if not target.parent.is_dir():
        raise PolicyforgeError(f"{flag} {path}: folder {target.parent} does not exist")


def writable_folder(path: str, flag: str) -> None:
    """Before any work: `path` is, or can be created as, a writable folder."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise PolicyforgeError(f"{flag} {path}: a file is in the way; give a folder")
    existing = next((p for p in [target, *target.parents] if p.exists()), Path("."))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PolicyforgeError(f"{flag} {path}: cannot write in {existing} (permission denied)")



class _Lines:
    """Progress as occasional lines on stderr when it is not a terminal (CI, a log file): every 10%."""

    def __init__(self, total: int, what: str) -> None:
        self.total, self.done, self.what, self.shown = total, 0, what, 0

    def update(self, n: int = 1) -> None:
        self.done += n
        step = max(1, self.total // 10)
        if self.done >= self.shown + step or self.done == self.total:
            self.shown = self.done
            print(f"{self.what}: {self.done}/{self.total} runs", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


def progress(total: int, what: str = "simulating"):
    if total < 2:
        return None
    if not sys.stderr.isatty():
        return _Lines(total, what)
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return _Lines(total, what)
    # On a terminal: a bar, shown only when the work takes more than two seconds.
    return tqdm(total=total, desc=what, unit="run", delay=2.0, file=sys.stderr, leave=False)


