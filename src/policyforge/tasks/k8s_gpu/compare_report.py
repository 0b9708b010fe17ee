"""The HTML report of a policy comparison (`simulate --report`): the figures the table prints, per seed,
and the curves behind them, in one page that opens from disk."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from policyforge.tasks.k8s_gpu.plots import allocation_plot, fragmentation_plot, timeline_plot
from policyforge.toolkit import html as h

LABELS = {
    "alloc_at_100": "alloc@100%", "alloc_at_130": "alloc@130%", "frag_ratio_at_100": "frag ratio@100%",
    "frag_amount_at_100": "frag amount@100%", "failed_pods": "failed pods", "gpu_utilisation": "GPU util %",
    "cpu_utilisation": "CPU util %", "memory_utilisation": "mem util %", "wait_p50_seconds": "wait p50 s",
    "wait_p99_seconds": "wait p99 s", "waited_pods": "pods waited", "never_scheduled": "never placed", "seconds": "wall s", "pods": "pods",
}
INFLATION_COLUMNS = ("alloc_at_100", "alloc_at_130", "frag_ratio_at_100", "frag_amount_at_100", "failed_pods", "seconds")
REPLAY_COLUMNS = ("gpu_utilisation", "cpu_utilisation", "memory_utilisation", "wait_p50_seconds", "wait_p99_seconds", "waited_pods",
                  "never_scheduled", "seconds")


def write_compare_report(out_dir: str | Path, results: Mapping[str, Sequence], summary: Mapping, mode: str,
                         setup: Sequence[tuple[str, str]], paper: Mapping[str, float] | None = None,
                         title: str = "policy comparison", reference_lines: Mapping[str, float] | None = None) -> Path:
    """Write DIR/index.html and its images; `results` are the runs per policy label, `summary` is
    `experiment.aggregate(results)`, `setup` the lines describing the experiment, `paper` reference figures,
    `reference_lines` allocation levels (label -> %) drawn on the allocation plot and listed under it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    columns = REPLAY_COLUMNS if mode == "replay" else INFLATION_COLUMNS
    entries = summary["policies"]
    sections = [h.Section("setup", "Setup", h.key_values((k, h.esc(v)) for k, v in setup)),
                h.Section("aggregate", "Mean ± std over seeds", _aggregate(entries, columns, paper))]
    if mode == "inflation":
        sections += [h.Section("allocation", "GPU allocation against arrived load",
                               _allocation(results, out, reference_lines)),
                     h.Section("fragmentation", "Fragmentation against arrived load", _fragmentation(results, out))]
    else:
        sections.append(h.Section("timeline", "GPU allocation over time", _timeline(results, out)))
    sections.append(h.Section("per-seed", "Per-seed rows", _per_seed(entries, columns)))
    subtitle = f"mode {mode} · {len(entries)} policies · generated {time.strftime('%Y-%m-%d %H:%M:%S')}"
    return h.finish_page(out, h.page(title, subtitle, sections))


def _aggregate(entries: Mapping, columns: Sequence[str], paper: Mapping[str, float] | None) -> str:
    headers = ["policy", *(LABELS[c] for c in columns)] + (["paper alloc@100%"] if paper else [])
    rows = []
    for name, entry in entries.items():
        row = [h.esc(name)]
        for c in columns:
            mean, std = entry.get(c), entry.get(c + "_std")
            row.append("n/a" if mean is None else f"{h.num(mean, 2)} ± {h.num(std, 2)}")
        if paper:
            row.append(h.num(paper.get(name), 2))
        rows.append(row)
    return h.table(headers, rows, numeric=range(1, len(headers)), table_id="aggregate-table")


def _per_seed(entries: Mapping, columns: Sequence[str]) -> str:
    rows = [[h.esc(name), h.esc(r.get("seed")), *(h.num(r.get(c), 3 if c != "failed_pods" else 0) for c in columns)]
            for name, entry in entries.items() for r in entry.get("per_seed", [])]
    return h.table(["policy", "seed", *(LABELS[c] for c in columns)], rows, numeric=range(1, len(columns) + 2),
                   table_id="per-seed-table")


def _mean(curves: list[np.ndarray]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # buckets no pod fell into, in every seed
        return np.nanmean(curves, axis=0)


def _allocation(results: Mapping[str, Sequence], out: Path, reference_lines: Mapping[str, float] | None = None) -> str:
    curves = {name: _mean([r.allocation_curve() for r in runs]) for name, runs in results.items()}
    seeds = len(next(iter(results.values())))
    allocation_plot(curves, out / "allocation.png", f"GPU allocation, mean of {seeds} seed(s)",
                    reference_lines=dict(reference_lines or {}))
    listed = h.key_values((h.esc(k), f"{h.num(v, 3)} %") for k, v in (reference_lines or {}).items())
    return h.image("allocation.png", "GPU allocation against arrived GPU request") + (listed if reference_lines else "")


def _fragmentation(results: Mapping[str, Sequence], out: Path) -> str:
    ratio = {name: _mean([r.fragmentation_ratio_curve() for r in runs]) for name, runs in results.items()}
    amount = {name: _mean([r.fragmentation_curve() for r in runs]) for name, runs in results.items()}
    fragmentation_plot(ratio, amount, out / "fragmentation.png", "fragmentation, mean over seeds")
    return h.image("fragmentation.png", "fragmentation ratio and amount against arrived GPU request")


def _timeline(results: Mapping[str, Sequence], out: Path) -> str:
    series = {name: (runs[0].timeline["time"], runs[0].timeline["gpu_used_milli"] / 1000.0)
              for name, runs in results.items() if runs and runs[0].timeline}
    if not series:
        return "<p>No timeline recorded.</p>"
    seed = next(iter(results.values()))[0].seed
    timeline_plot(series, out / "timeline.png", f"seed {seed}", "GPUs allocated (whole-GPU units)")
    return h.image("timeline.png", "GPUs allocated over simulated time")
