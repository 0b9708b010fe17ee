"""The k8s-gpu task's section of a run report: allocation against arrived load on held-out instances."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from policyforge.tasks.k8s_gpu.plots import allocation_plot
from policyforge.toolkit import html as h


def allocation_sections(series: dict[str, dict[str, dict[str, list[float]]]], out: Path) -> list[tuple[str, str]]:
    """One allocation plot per test instance drawn, the selected best (label `best #ID`) highlighted."""
    instances = list(dict.fromkeys(i for per_instance in series.values() for i in per_instance))
    parts = []
    for k, instance in enumerate(instances, start=1):
        curves = {label: np.array([np.nan if v is None else v for v in runs[instance]["allocation"]], float)
                  for label, runs in series.items() if instance in runs}
        name = f"alloc_test{k}.png"
        allocation_plot(curves, out / name, f"test instance {instance}: GPU allocation",
                        highlight=next((label for label in curves if label.startswith("best #")), None))
        parts.append(h.image(name, f"allocation against arrived load on {instance}"))
    if not parts:
        return []
    intro = ("<p>GPU allocation against arrived GPU request on the first test instance of each held-out "
             "workload, for the selected best and every baseline: each policy ran in the sandbox and its "
             "placements were replayed by the trusted simulator.</p>")
    return [("Allocation on test instances", intro + "".join(parts))]
