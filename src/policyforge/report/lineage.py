"""Where the best candidate came from: its ancestors through `parents`, and the edits along one line.

`parents` records every program shown to the proposer, so ancestry is a graph. To show "consecutive
versions" we follow, from the best backwards, the parent whose code is closest to the child's (difflib's
ratio): that is the program the child was most plausibly edited from, and its diff is the most readable.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from policyforge.search.store import Candidate


def ancestors(best: Candidate, by_id: Mapping[int, Candidate]) -> list[Candidate]:
    """Every candidate reachable from `best` through `parents` (best excluded), by id."""
    seen: set[int] = set()
    stack = list(best.parents)
    while stack:
        current = stack.pop()
        if current in seen or current == best.id or current not in by_id:
            continue
        seen.add(current)
        stack.extend(by_id[current].parents)
    return [by_id[i] for i in sorted(seen)]


def similarity(a: str | None, b: str | None) -> float:
    """Share of matching lines (line-wise, so it stays cheap on long generated modules)."""
    return difflib.SequenceMatcher(None, (a or "").splitlines(), (b or "").splitlines()).ratio()


def main_line(best: Candidate, by_id: Mapping[int, Candidate]) -> list[Candidate]:
    """Oldest first, ending with `best`: at each step the parent whose code is closest to the child's."""
    line = [best]
    seen = {best.id}
    while True:
        child = line[-1]
        options = [by_id[p] for p in child.parents if p in by_id and p not in seen]
        if not options:
            break
        parent = max(options, key=lambda p: (similarity(p.code, child.code), -p.id))
        line.append(parent)
        seen.add(parent.id)
    return line[::-1]


def unified_diff(old: Candidate, new: Candidate) -> list[str]:
    """The unified diff from one version's code to the next."""
    return list(difflib.unified_diff((old.code or "").splitlines(), (new.code or "").splitlines(),
                                     fromfile=f"candidate {old.id}", tofile=f"candidate {new.id}", lineterm=""))
