"""Verdicts: is the selected candidate better than every baseline on held-out instances, and by how much?

Task-agnostic statistics over per-instance scores (higher is better). Instances of one group (a workload,
trace or scenario: `Instance.group`) are repeats of the same question under different seeds, and every
policy is measured on the same instances, so the candidate and a baseline are compared by paired
differences: per group, the mean difference over that group's seeds with a 95% Student-t interval; overall,
the mean over groups of the group means (each group counts once, whatever its seed count), with the
interval of that stratified mean (Welch-Satterthwaite degrees of freedom). When some held-out groups were
also trained on and others never were, the same stratified aggregate is shown for each kind (`seen`,
`unseen`): a search can look good on what it saw and fail on what it did not. An improvement is claimed only
when the interval excludes zero; otherwise the conclusion says, in words, that none was found.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

OVERALL = "overall"
SEEN = "seen (trained on)"
UNSEEN = "unseen"

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom, then a few anchors; between anchors
# the quantile is interpolated linearly in 1/df (close between anchors, on the wide side at fractional df < 2).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
        29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}
_Z95 = 1.960


def t95(df: float) -> float:
    """The two-sided 95% Student-t quantile for `df` (possibly fractional) degrees of freedom."""
    if df < 1:
        raise ValueError("a t interval needs at least one degree of freedom")
    if df in _T95:
        return _T95[int(df)]
    anchors = sorted(_T95) + [math.inf]
    for lo, hi in zip(anchors, anchors[1:], strict=False):
        if lo <= df < hi:
            q_lo, q_hi = _T95[lo], _T95.get(hi, _Z95)
            x_lo, x_hi, x = 1 / lo, (0.0 if hi == math.inf else 1 / hi), 1 / df
            return q_lo + (q_hi - q_lo) * (x_lo - x) / (x_lo - x_hi)
    return _Z95


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% interval; `low`/`high` are None when undefined (a single observation)."""

    mean: float
    low: float | None
    high: float | None
    n: int

    @property
    def defined(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def above_zero(self) -> bool:
        return self.low is not None and self.low > 0

    @property
    def below_zero(self) -> bool:
        return self.high is not None and self.high < 0

    def text(self, digits: int = 2) -> str:
        """`+0.12 [+0.03, +0.21]`, or `+0.12 [interval undefined: 1 seed]`."""
        if not self.defined:
            return f"{self.mean:+.{digits}f} [interval undefined: {self.n} seed{'s' if self.n != 1 else ''}]"
        return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"


def mean_interval(values: Sequence[float]) -> Interval:
    """Mean and 95% Student-t interval of independent repeats (undefined for fewer than two)."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = math.fsum(values) / n
    if n < 2:
        return Interval(mean, None, None, n)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t95(n - 1) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def stratified_interval(groups: Sequence[Sequence[float]]) -> Interval:
    """The mean over groups of each group's mean, with a 95% interval (Welch-Satterthwaite df).

    Undefined when any group has a single value: its variance, and so the whole interval, is unknown."""
    if not groups or any(len(g) == 0 for g in groups):
        raise ValueError("every group needs values")
    k = len(groups)
    means = [math.fsum(g) / len(g) for g in groups]
    mean = math.fsum(means) / k
    n = sum(len(g) for g in groups)
    if any(len(g) < 2 for g in groups):
        return Interval(mean, None, None, n)
    terms = []  # the variance contribution of each group mean, and its degrees of freedom
    for g, m in zip(groups, means, strict=True):
        var = math.fsum((v - m) ** 2 for v in g) / (len(g) - 1)
        terms.append((var / len(g) / k**2, len(g) - 1))
    variance = math.fsum(t for t, _ in terms)
    if variance == 0:
        return Interval(mean, mean, mean, n)
    df = variance**2 / math.fsum(t**2 / d for t, d in terms if t > 0)
    half = t95(max(df, 1.0)) * math.sqrt(variance)
    return Interval(mean, mean - half, mean + half, n)


@dataclass(frozen=True)
class GroupVerdict:
    """One held-out group (or `overall`): the candidate's mean, every baseline's mean, and the paired
    difference candidate - baseline with its interval, for every baseline."""

    group: str
    seeds: int
    candidate: float
    baselines: dict[str, float]
    best_baseline: str
    differences: dict[str, Interval]
    best_paired: tuple[tuple[float, ...], ...] = ()
    """The per-instance differences to the best baseline, one tuple per group (several for `overall`)."""

    @property
    def vs_best(self) -> Interval:
        return self.differences[self.best_baseline]


@dataclass(frozen=True)
class Verdict:
    """The selected candidate against every baseline, per group and overall, and what that means in words."""

    candidate: str
    groups: list[GroupVerdict]
    overall: GroupVerdict
    improved: bool
    conclusion: str
    notes: list[str] = field(default_factory=list)
    aggregates: list[GroupVerdict] = field(default_factory=list)
    """Stratified rows over the groups seen in training and over the others (empty unless both exist)."""

    def to_json(self) -> dict[str, Any]:
        def group(g: GroupVerdict) -> dict[str, Any]:
            return {"group": g.group, "seeds": g.seeds, "candidate": g.candidate, "baselines": g.baselines,
                    "best_baseline": g.best_baseline,
                    "differences": {n: asdict(i) for n, i in g.differences.items()}}

        return {"candidate": self.candidate, "improved": self.improved, "conclusion": self.conclusion,
                "notes": list(self.notes), "groups": [group(g) for g in self.groups],
                "aggregates": [group(g) for g in self.aggregates], "overall": group(self.overall)}


def _group_order(instances: Iterable[str], groups: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for instance in instances:
        out.setdefault(groups.get(instance, OVERALL if not groups else instance), []).append(instance)
    return out


def compare(candidate: Mapping[str, float], baselines: Mapping[str, Mapping[str, float]],
            groups: Mapping[str, str], name: str = "selected candidate",
            seen: Collection[str] | None = None) -> Verdict:
    """The verdict of `candidate` (instance -> score) against `baselines` (name -> instance -> score).

    `groups` maps instance id -> group. Only instances every policy was measured on count. `seen` names the
    groups the search trained or validated on; when held-out groups of both kinds exist, each kind gets a
    stratified row of its own (`Verdict.aggregates`)."""
    if not baselines:
        raise ValueError("a verdict needs at least one baseline")
    common = [i for i in candidate if all(i in s for s in baselines.values())]
    if not common:
        raise ValueError("the candidate and the baselines share no measured instance")
    by_group = _group_order(common, groups)
    rows: list[GroupVerdict] = []
    for group, ids in by_group.items():
        means = {b: math.fsum(s[i] for i in ids) / len(ids) for b, s in baselines.items()}
        best = max(means, key=lambda b: (means[b], b))
        diffs = {b: mean_interval([candidate[i] - s[i] for i in ids]) for b, s in baselines.items()}
        paired = (tuple(candidate[i] - baselines[best][i] for i in ids),)
        rows.append(GroupVerdict(group, len(ids), math.fsum(candidate[i] for i in ids) / len(ids), means, best,
                                 diffs, paired))
    overall = _stratified(OVERALL, candidate, baselines, rows, by_group)
    aggregates = []
    if seen is not None:
        kinds = {SEEN: [r for r in rows if r.group in seen], UNSEEN: [r for r in rows if r.group not in seen]}
        if all(kinds.values()):
            aggregates = [_stratified(kind, candidate, baselines, part, {r.group: by_group[r.group] for r in part})
                          for kind, part in kinds.items()]
    improved = overall.vs_best.above_zero
    return Verdict(name, rows, overall, improved, _conclusion(name, rows, overall, improved),
                   aggregates=aggregates)


def _stratified(name: str, candidate: Mapping[str, float], baselines: Mapping[str, Mapping[str, float]],
                rows: list[GroupVerdict], by_group: Mapping[str, list[str]]) -> GroupVerdict:
    """One row over several groups: each group's mean counts once, intervals from the stratified mean."""
    means = {b: math.fsum(r.baselines[b] for r in rows) / len(rows) for b in baselines}
    best = max(means, key=lambda b: (means[b], b))
    diffs = {b: stratified_interval([[candidate[i] - s[i] for i in ids] for ids in by_group.values()])
             for b, s in baselines.items()}
    seeds = min(len(ids) for ids in by_group.values())
    paired = tuple(tuple(candidate[i] - baselines[best][i] for i in ids) for ids in by_group.values())
    return GroupVerdict(name, seeds, math.fsum(r.candidate for r in rows) / len(rows), means, best, diffs, paired)


def _conclusion(name: str, rows: list[GroupVerdict], overall: GroupVerdict, improved: bool) -> str:
    vs = overall.vs_best
    if improved:
        head = (f"improvement: {name} beats the best baseline overall, {overall.best_baseline}, by {vs.text()} "
                "(95% interval excludes zero)")
    else:
        head = (f"no improvement found: {name} is not better than the best baseline overall, "
                f"{overall.best_baseline}: {vs.text()}")
        if not vs.defined:
            single = [label(r.group) for r in rows if r.seeds < 2]
            head += (f"; {', '.join(single)} {'has' if len(single) == 1 else 'have'} a single held-out instance, "
                     "so the overall interval is undefined and no gain can be claimed")
        elif vs.below_zero:
            head += " (worse: the interval is below zero)"
        else:
            head += " (the interval includes zero)"
    wins = [label(r.group) for r in rows if r.vs_best.above_zero]
    losses = [label(r.group) for r in rows if r.vs_best.below_zero]
    ties = [label(r.group) for r in rows if label(r.group) not in wins and label(r.group) not in losses]
    parts = []
    if len(rows) > 1:
        parts.append(f"against each group's best baseline: better on {len(wins)} of {len(rows)}"
                     + (f" ({', '.join(wins)})" if wins else ""))
        if losses:
            parts.append(f"worse on {', '.join(losses)}")
        if ties:
            parts.append(f"no difference shown on {', '.join(ties)}")
    return head + (". " + "; ".join(parts) + "." if parts else ".")


@dataclass(frozen=True)
class SeedsSummary:
    """Several search seeds of the same experiment, for one group: the difference to the group's best
    baseline across search seeds (each seed's mean difference is one value), and over the held-out seeds
    (each instance's difference averaged over search seeds). A gain is claimed only when both intervals
    exclude zero: the search must be repeatable and the held-out difference larger than seed noise."""

    group: str
    best_baseline: str
    baseline: float
    candidate: Interval
    difference: Interval
    held_out: Interval

    @property
    def claim(self) -> str:
        """`gain`, `loss` or `none`."""
        if self.difference.above_zero and self.held_out.above_zero:
            return "gain"
        if self.difference.below_zero and self.held_out.below_zero:
            return "loss"
        return "none"


def across_search_seeds(verdicts: Sequence[Verdict]) -> list[SeedsSummary]:
    """Combine verdicts of independent search seeds on the same held-out instances (groups in the first
    verdict's order, `overall` last). The reference is each group's best baseline, the same in every seed
    because baselines are deterministic."""
    if not verdicts:
        raise ValueError("no verdicts to combine")
    out = []
    for row in [*verdicts[0].groups, *verdicts[0].aggregates, verdicts[0].overall]:
        best = row.best_baseline
        found = [next(r for r in [*v.groups, *v.aggregates, v.overall] if r.group == row.group) for v in verdicts]
        averaged = [[math.fsum(vals) / len(vals) for vals in zip(*(r.best_paired[g] for r in found), strict=True)]
                    for g in range(len(row.best_paired))]
        out.append(SeedsSummary(row.group, best, row.baselines[best], mean_interval([r.candidate for r in found]),
                                mean_interval([r.candidate - r.baselines[best] for r in found]),
                                stratified_interval(averaged)))
    return out


FILE_SUFFIXES = (".yaml", ".yml", ".csv", ".json", ".toml", ".txt", ".bin", ".zst", ".gz")


def label(group: str) -> str:
    """A group's display name: a file path shows as its file name (`/a/b/tiny.yaml` -> `tiny.yaml`); any
    other name as it is (`twitter/bytes/10%` stays whole)."""
    looks_like_file = group.startswith(("/", "./", "../", "~")) or group.lower().endswith(FILE_SUFFIXES)
    return group.rstrip("/").rsplit("/", 1)[-1] if looks_like_file and "/" in group else group


def render_table(verdict: Verdict, digits: int = 2) -> list[str]:
    """Plain-text rows: per group, the candidate, every baseline, the best one, and the difference to it
    (the `overall` row only when there are several groups)."""
    names = sorted(verdict.overall.baselines, key=lambda b: -verdict.overall.baselines[b])
    rows = [*verdict.groups, *verdict.aggregates, verdict.overall] if len(verdict.groups) > 1 else verdict.groups
    width = max(16, *(len(label(r.group)) + 2 for r in rows))
    head = f"{'held-out group':<{width}}{'seeds':>6}{'selected':>10}" + "".join(f"{n[:12]:>13}" for n in names)
    head += f"  {'best baseline':<21}selected - best (95% CI)"
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = "".join(f"{r.baselines[n]:>13.{digits}f}" for n in names)
        lines.append(f"{label(r.group):<{width}}{r.seeds:>6}{r.candidate:>10.{digits}f}{cells}  "
                     f"{r.best_baseline:<21}{r.vs_best.text(digits)}")
    return lines
