"""The evolution run's own plots: progress against the baselines, candidate outcomes, LLM spending.

Each takes plain numbers (not store rows) so it can be drawn for a run still in progress, including one
that has no sample yet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from policyforge.toolkit.figures import plt, save

STATUS_GROUPS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("valid", ("ok", "screened_out"), "#2e9e4f"),
    ("rejected", ("rejected",), "#d1453b"),
    ("timeout", ("timeout",), "#f0a030"),
    ("crashed", ("crashed",), "#8c2d7a"),
    ("invalid_output", ("invalid_output",), "#e377c2"),
    ("duplicate", ("duplicate",), "#7f7f7f"),
    ("proposal_error", ("proposal_error",), "#4a6fb5"),
    ("in flight", ("proposed",), "#c7d0da"),
)
"""Outcome groups in stacking order: label, store statuses it counts, colour."""


def best_so_far(samples: list[int], scores: list[float | None], start: float | None) -> np.ndarray:
    """Running maximum of the train score over samples; `start` is the best seed program's score."""
    out = np.full(len(samples), np.nan)
    best = -np.inf if start is None else start
    for i, score in enumerate(scores):
        if score is not None:
            best = max(best, score)
        out[i] = best if np.isfinite(best) else np.nan
    return out


def progress_plot(samples: list[int], scores: list[float | None], start: float | None,
                  baselines: dict[str, float], path: Path, title: str = "") -> Path:
    """Best train score so far per sample, each sample's own score, and each baseline as a horizontal line."""
    fig, axis = plt.subplots(figsize=(11, 4.4))
    if samples:
        x = np.array(samples)
        axis.step(x, best_so_far(samples, scores, start), where="post", color="black", linewidth=2,
                  label="best so far (seeds included)")
        scored = [(s, v) for s, v in zip(samples, scores, strict=True) if v is not None]
        if scored:
            axis.scatter([s for s, _ in scored], [v for _, v in scored], s=14, color="#2458a6", alpha=0.6,
                         label="sample's train score", zorder=3)
        axis.set_xlim(min(samples) - 0.5, max(samples) + 0.5)
    else:
        axis.text(0.5, 0.5, "no samples yet", transform=axis.transAxes, ha="center", color="grey")
    for i, (name, value) in enumerate(sorted(baselines.items(), key=lambda kv: -kv[1])):
        axis.axhline(value, color=plt.cm.tab10(i % 10), linestyle="--", linewidth=1, label=f"{name} {value:.3f}")
    values = [v for v in scores if v is not None] + list(baselines.values()) + ([start] if start is not None else [])
    if not values:
        axis.text(0.5, 0.4, "no scores yet", transform=axis.transAxes, ha="center", color="grey")
    else:
        top, low = max(values), min(list(baselines.values()) + [max(values)])
        axis.set_ylim(low - 0.15 * max(top - low, 1.0), top + 0.1 * max(top - low, 1.0))
    axis.set(xlabel="sample", ylabel="mean train score")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if title:
        axis.set_title(title)
    fig.tight_layout()
    return save(fig, path)


def status_plot(statuses: list[str], path: Path) -> Path:
    """Cumulative count of each outcome over samples, stacked, so the top edge is the sample count."""
    fig, axis = plt.subplots(figsize=(11, 3.8))
    x = np.arange(1, len(statuses) + 1)
    groups = [(label, np.cumsum([s in members for s in statuses]), colour)
              for label, members, colour in STATUS_GROUPS]
    shown = [(label, counts, colour) for label, counts, colour in groups if len(counts) and counts[-1] > 0]
    if shown:
        axis.stackplot(np.concatenate([[0], x]), *[np.concatenate([[0], c]) for _, c, _ in shown],
                       labels=[f"{label} ({c[-1]})" for label, c, _ in shown], colors=[c for _, _, c in shown],
                       alpha=0.85, step="pre")  # sample i fills (i-1, i]
        axis.set_xlim(0, len(statuses))
    else:
        axis.text(0.5, 0.5, "no samples yet", transform=axis.transAxes, ha="center", color="grey")
    axis.set(xlabel="samples drawn", ylabel="candidates (cumulative)")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return save(fig, path)


def cost_plot(samples: list[int], proposers: list[str], tokens: list[int], costs: list[float], path: Path) -> Path:
    """Cumulative tokens and cost over samples, per proposer that spent any."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    spent = {p for p, t, c in zip(proposers, tokens, costs, strict=True) if t or c}
    for name in sorted(spent):
        mask = np.array([p == name for p in proposers])
        x = np.array(samples)[mask]
        left.step(x, np.cumsum(np.array(tokens)[mask]), where="post", label=name)
        right.step(x, np.cumsum(np.array(costs)[mask]), where="post", label=name)
    left.set(xlabel="sample", ylabel="tokens (prompt + completion), cumulative")
    right.set(xlabel="sample", ylabel="cost (USD), cumulative")
    for axis in (left, right):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)
