"""The k8s-gpu task's plots: allocation and fragmentation against arrived load (the FGD paper's figures),
and utilisation over a replay's time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from policyforge.toolkit.figures import plt, save


def allocation_plot(curves: dict[str, np.ndarray], path: str | Path, title: str = "",
                    highlight: str | None = None, reference_lines: dict[str, float] | None = None) -> Path:
    """GPU allocation against arrived workload, one line per policy, like the FGD paper's Figure 9a;
    the `highlight` curve (e.g. an evolved policy) is drawn thick, black and on top; `reference_lines`
    (label -> allocation %, e.g. a certified bound) are drawn as dashed horizontal lines."""
    path = Path(path)
    fig, (full, zoom) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    x = np.arange(len(next(iter(curves.values()))))
    for name, curve in curves.items():
        style = {"linewidth": 2.4, "color": "black", "zorder": 5} if name == highlight else {"linewidth": 1.4}
        full.plot(x, curve, label=name, **style)
        zoom.plot(x, curve, label=name, **style)
    full.plot(x, np.minimum(x, 100), color="grey", linestyle=":", linewidth=1, label="ideal")
    for k, (label, value) in enumerate((reference_lines or {}).items()):
        for axis in (full, zoom):
            axis.axhline(value, color=("black", "dimgrey", "grey")[k % 3], linestyle="--", linewidth=1,
                         label=f"{label} {value:.2f}%" if axis is full else None)
    full.set(xlabel="arrived GPU request (% of capacity)", ylabel="GPU allocation (%)", xlim=(0, x[-1]), ylim=(0, 100))
    zoom.set(xlabel="arrived GPU request (% of capacity)", xlim=(80, x[-1]), title="zoom")
    tail = np.concatenate([c[80:] for c in curves.values()] + [np.array(list((reference_lines or {}).values()))])
    tail = tail[~np.isnan(tail)]
    if len(tail):
        zoom.set_ylim(max(0, tail.min() - 1), min(100, tail.max() + 1))
    for axis in (full, zoom):
        axis.grid(alpha=0.3)
    full.legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)


def fragmentation_plot(ratio: dict[str, np.ndarray], amount: dict[str, np.ndarray], path: str | Path,
                       title: str = "") -> Path:
    """Fragmentation against arrived workload: FGD's ratio (share of idle GPU) and amount (of capacity)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.0))
    for name in ratio:
        x = np.arange(len(ratio[name]))
        left.plot(x, ratio[name], label=name, linewidth=1.4)
        right.plot(x, amount[name], label=name, linewidth=1.4)
    left.set(xlabel="arrived GPU request (% of capacity)", ylabel="fragmented share of idle GPU (%)",
             title="fragmentation ratio")
    right.set(xlabel="arrived GPU request (% of capacity)", ylabel="fragmented GPU (% of capacity)",
              title="fragmentation amount")
    for axis in (left, right):
        axis.grid(alpha=0.3)
    left.legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)


def timeline_plot(series: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "",
                  ylabel: str = "GPUs allocated") -> Path:
    """A quantity over simulated time (seconds, drawn in hours), one step line per policy (replay mode)."""
    fig, axis = plt.subplots(figsize=(11, 4.0))
    for name, (t, allocated) in series.items():
        if len(t):
            axis.step((t - t[0]) / 3600.0, allocated, where="post", label=name, linewidth=1.2)
    axis.set(xlabel="simulated time (hours)", ylabel=ylabel)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="upper left")
    if title:
        axis.set_title(title)
    fig.tight_layout()
    return save(fig, path)
