"""Plots that open from disk: PNG files drawn with matplotlib's non-interactive backend."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def allocation_plot(curves: dict[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """GPU allocation against arrived workload, one line per policy, like the FGD paper's Figure 9a."""
    path = Path(path)
    fig, (full, zoom) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    x = np.arange(len(next(iter(curves.values()))))
    for name, curve in curves.items():
        full.plot(x, curve, label=name, linewidth=1.4)
        zoom.plot(x, curve, label=name, linewidth=1.4)
    full.plot(x, np.minimum(x, 100), color="grey", linestyle=":", linewidth=1, label="ideal")
    full.set(xlabel="arrived GPU request (% of capacity)", ylabel="GPU allocation (%)", xlim=(0, x[-1]), ylim=(0, 100))
    zoom.set(xlabel="arrived GPU request (% of capacity)", xlim=(80, x[-1]), title="zoom")
    tail = np.concatenate([c[80:] for c in curves.values()])
    tail = tail[~np.isnan(tail)]
    if len(tail):
        zoom.set_ylim(max(0, tail.min() - 1), min(100, tail.max() + 1))
    for axis in (full, zoom):
        axis.grid(alpha=0.3)
    full.legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
