"""Measuring how far the baselines are from optimal: the bound and best packing per seed, next to every
baseline's allocation on the very same arrival sequence (same workload, seed and tune)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from policyforge.errors import PolicyforgeError
from policyforge.tasks.k8s_gpu.bound.certify import BoundSettings, certify
from policyforge.tasks.k8s_gpu.bound.instance import aggregate, arrival_prefix
from policyforge.tasks.k8s_gpu.experiment import aggregate as aggregate_runs
from policyforge.tasks.k8s_gpu.experiment import run_all
from policyforge.tasks.k8s_gpu.inputs import Inputs


def check_percents(percents: list[int], tune: float) -> None:
    """A bound at p% needs the arrival sequence to reach p%: one line naming the option otherwise."""
    for p in percents:
        if not 1 <= p <= 130:
            raise PolicyforgeError(f"--percent {p}: must be between 1 and 130 (arrived GPU request, % of capacity)")
        if p > round(tune * 100):
            raise PolicyforgeError(f"--percent {p} with --tune {tune}: arrivals stop at {round(tune * 100)}% of "
                                   "capacity; raise --tune or lower --percent")


def bound_seed(inputs: Inputs, seed: int, tune: float, percent: int, settings: BoundSettings) -> dict:
    """The certified bound and best packing for one (workload, seed, tune, percent), as percents."""
    started = time.perf_counter()
    pods = arrival_prefix(inputs.nodes, inputs.pods, seed, tune, percent)
    instance = aggregate(inputs.nodes, pods)
    cert = certify(instance, settings)
    return {
        "seed": seed, "percent": percent, "pods": len(pods),
        "arrived": round(cert.percent(instance.arrived_milli), 4),
        "bound": round(cert.percent(cert.upper_milli), 4),
        "packing": round(cert.percent(cert.lower_milli), 4),
        "gap": round(cert.gap_points, 4),
        "pattern_lp": round(cert.percent(cert.pattern_lp_milli), 4),
        "config_lp": None if cert.config_lp_milli is None else round(cert.percent(cert.config_lp_milli), 4),
        "iterations": cert.iterations, "converged": cert.converged, "exact": cert.exact,
        "seconds": round(time.perf_counter() - started, 2),
    }


def measure(inputs: Inputs, seeds: list[int], tune: float, percents: list[int], settings: BoundSettings,
            policies: list[str], jobs: int | None = None, echo: Callable[[str], None] | None = None) -> dict:
    """Bounds per seed and percent, and the baselines' figures on the same seeds (means over seeds)."""
    check_percents(percents, tune)
    rows = []
    for seed in seeds:
        for percent in percents:
            rows.append(bound_seed(inputs, seed, tune, percent, settings))
            if echo:
                r = rows[-1]
                echo(f"{inputs.name} seed {seed} @{percent}%: bound {r['bound']:.3f}  packing {r['packing']:.3f}  "
                     f"gap {r['gap']:.3f}  ({r['seconds']:.0f} s)")
    baselines = {}
    if policies:
        summary = aggregate_runs(run_all(inputs.nodes, inputs.pods, policies, seeds, "inflation", tune, jobs))
        baselines = {name: {f"alloc_at_{p}": entry[f"alloc_at_{p}"] for p in (100, 130)}
                     | {"per_seed": [{"seed": r["seed"], "alloc_at_100": r["alloc_at_100"],
                                      "alloc_at_130": r["alloc_at_130"]} for r in entry["per_seed"]]}
                     for name, entry in summary["policies"].items()}
    means = {str(p): {key: round(float(np.mean([r[key] for r in rows if r["percent"] == p])), 4)
                      for key in ("bound", "packing", "gap", "arrived")} for p in percents}
    return {"workload": inputs.name, "seeds": seeds, "tune": tune, "bounds": means, "per_seed": rows,
            "policies": baselines}


def table(result: dict) -> str:
    """Per-seed rows (bound, packing, every baseline) and the mean, for each measured percent."""
    lines = []
    names = list(result["policies"])
    for p, mean in result["bounds"].items():
        key = f"alloc_at_{p}"
        lines.append(f"workload {result['workload']}, tune {result['tune']}: GPU allocation (%) with "
                     f"{p}% of capacity arrived")
        header = f"{'seed':<8}{'bound':>9}{'packing':>9}{'gap':>7}" + "".join(f"{n[:12]:>13}" for n in names)
        lines += [header, "-" * len(header)]
        for r in (r for r in result["per_seed"] if str(r["percent"]) == p):
            row = f"{r['seed']:<8}{r['bound']:>9.3f}{r['packing']:>9.3f}{r['gap']:>7.3f}"
            for n in names:
                value = next(x[key] for x in result["policies"][n]["per_seed"] if x["seed"] == r["seed"])
                row += f"{value:>13.3f}" if value is not None else f"{'n/a':>13}"
            lines.append(row)
        row = f"{'mean':<8}{mean['bound']:>9.3f}{mean['packing']:>9.3f}{mean['gap']:>7.3f}"
        row += "".join(f"{result['policies'][n][key]:>13.3f}" for n in names)
        lines += [row, ""]
        if names:
            best = max(names, key=lambda n: result["policies"][n][key])
            lines.append(f"best baseline {best}: {result['policies'][best][key]:.3f}; certified headroom above it "
                         f"{mean['bound'] - result['policies'][best][key]:.3f} points, of which a packing "
                         f"{mean['packing'] - result['policies'][best][key]:.3f} is already realised\n")
    return "\n".join(lines)
