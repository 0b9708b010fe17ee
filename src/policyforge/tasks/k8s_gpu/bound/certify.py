"""A certified upper bound on the GPU milli any placement of a set of pods can allocate: the configuration LP
solved by column generation, with a Lagrangian bound that holds at every iteration.

The model (Gilmore-Gomory): a configuration is what one node of a type can hold (configs.py).
    maximise  sum_c value(c) * lambda_c
    s.t.      sum_{c of type t} lambda_c <= nodes of type t        (dual mu_t)
              sum_c count_s(c) * lambda_c <= pods of shape s      (dual pi_s)
Its LP relaxation is as strong as the intra-node packing is hard (fragmentation inside a node is captured
exactly; only the split of pods across nodes is relaxed), and with hundreds of nodes per type that split
loses almost nothing. Pricing (the best configuration of a type under the duals) is a small CP-SAT model.

Certification: for any pi >= 0, relaxing the pod counts gives
    L(pi) = sum_s pi_s * pods_s + sum_t nodes_t * max(0, max_c sum_s (value_s - pi_s) * count_s(c)),
an upper bound on the integer optimum whatever pi is, and it stays valid with CP-SAT's proven bound in place of
the pricing optimum when a solve stops early. Duals are rounded to 1/SCALE milli so L is computed in exact
integers. The bound reported is the smallest L seen, floored to a whole milli.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ortools.linear_solver import pywraplp

from policyforge.errors import PolicyforgeError
from policyforge.tasks.k8s_gpu.bound.configs import Config, best_config
from policyforge.tasks.k8s_gpu.bound.exact import exact_optimum
from policyforge.tasks.k8s_gpu.bound.instance import PackingInstance
from policyforge.tasks.k8s_gpu.bound.lp import pattern_bound
from policyforge.tasks.k8s_gpu.bound.packing import (
    Packing,
    exact_packing,
    packing_configs,
    pattern_packing,
    rounded_packing,
)
from policyforge.tasks.k8s_gpu.trace import MILLI

SCALE = 1000
"""Duals are rounded to 1/SCALE GPU milli; profits are integers in those units."""


@dataclass(frozen=True)
class BoundSettings:
    """Budgets of the bound. All are deterministic (CP-SAT's deterministic time, iteration counts)."""

    max_iterations: int = 40
    """Column generation rounds (0: the pattern LP bound and its packing only)."""
    exact: bool = True
    """Solve clusters of at most MAX_EXACT_NODES GPU nodes exactly."""
    tolerance_milli: float = 1.0
    """Stop when the Lagrangian bound is within this of the LP value."""
    smoothing: float = 0.5
    """Wentges smoothing: weight of the best duals so far in the duals used for pricing."""


@dataclass
class ColumnGeneration:
    """The state and outcome of column generation on one instance."""

    instance: PackingInstance
    columns: list[Config] = field(default_factory=list)
    lp_milli: float = 0.0
    bound_milli: int = 0
    lp_solution: list[float] = field(default_factory=list)
    iterations: int = 0
    pricing_calls: int = 0
    pricing_unproven: int = 0
    converged: bool = False
    seconds: float = 0.0


class Master:
    """The restricted master LP over the columns generated so far (GLOP: deterministic simplex)."""

    def __init__(self, instance: PackingInstance) -> None:
        self.instance = instance
        self.lp = pywraplp.Solver.CreateSolver("GLOP")
        if self.lp is None:  # pragma: no cover - GLOP ships with every ortools wheel
            raise PolicyforgeError("ortools: the GLOP LP solver is unavailable")
        self.type_rows = [self.lp.Constraint(0, t.count, f"t{i}") for i, t in enumerate(instance.types)]
        self.shape_rows = [self.lp.Constraint(0, s.count, f"s{i}") for i, s in enumerate(instance.shapes)]
        self.objective = self.lp.Objective()
        self.objective.SetMaximization()
        self.vars: list = []

    def add(self, config: Config) -> None:
        var = self.lp.NumVar(0, self.instance.types[config.type].count, f"c{len(self.vars)}")
        self.type_rows[config.type].SetCoefficient(var, 1)
        for s, n in config.counts().items():
            self.shape_rows[s].SetCoefficient(var, n)
        self.objective.SetCoefficient(var, config.value(self.instance))
        self.vars.append(var)

    def solve(self) -> tuple[float, list[float], list[float]]:
        """LP value, shape duals (>= 0) and type duals (>= 0)."""
        status = self.lp.Solve()
        if status != pywraplp.Solver.OPTIMAL:  # pragma: no cover - the LP is bounded and 0 is feasible
            raise RuntimeError(f"GLOP returned status {status} on the master LP")
        pi = [max(0.0, row.dual_value()) for row in self.shape_rows]
        mu = [max(0.0, row.dual_value()) for row in self.type_rows]
        return self.objective.Value(), pi, mu

    def solution(self) -> list[float]:
        return [v.solution_value() for v in self.vars]


def homogeneous_columns(instance: PackingInstance) -> list[Config]:
    """One starting column per (type, shape): as many pods of that shape as one node holds."""
    out = []
    for t, node in enumerate(instance.types):
        for s in instance.compatible(t):
            pod = instance.shapes[s].request
            n = instance.shapes[s].count
            if pod.cpu_milli:
                n = min(n, node.cpu_milli // pod.cpu_milli)
            if pod.memory_mib:
                n = min(n, node.memory_mib // pod.memory_mib)
            if pod.gpu_milli >= MILLI:
                n = min(n, node.gpus // pod.num_gpu)
                if n > 0:
                    out.append(Config(t, ((s, n),), ()))
                continue
            per_gpu = MILLI // pod.gpu_milli
            n = min(n, node.gpus * per_gpu)
            gpus = tuple((s,) * min(per_gpu, n - g * per_gpu) for g in range((n + per_gpu - 1) // per_gpu))
            if n > 0:
                out.append(Config(t, (), gpus))
    return out


def lagrangian_bound(instance: PackingInstance, pi_scaled: list[int], pricing_bounds: list[int]) -> float:
    """L(pi) in milli from integer duals (1/SCALE milli) and integer pricing bounds (same units)."""
    total = sum(p * s.count for p, s in zip(pi_scaled, instance.shapes, strict=True))
    total += sum(t.count * max(0, b) for t, b in zip(instance.types, pricing_bounds, strict=True))
    return total / SCALE


def column_generation(instance: PackingInstance, settings: BoundSettings = BoundSettings(),
                      initial: list[Config] = (), log=None) -> ColumnGeneration:
    """Solve the configuration LP by column generation and return the certified bound with the columns.

    Pricing uses Wentges-smoothed duals (a mix of the best duals so far and the master's), which damps the
    dual oscillation that makes plain column generation tail off; any duals give a valid bound.
    """
    started = time.perf_counter()
    result = ColumnGeneration(instance)
    result.bound_milli = instance.arrived_milli
    master = Master(instance)
    seen: set[Config] = set()

    def add(config: Config) -> bool:
        if config in seen or not config.counts():
            return False
        seen.add(config)
        master.add(config)
        result.columns.append(config)
        return True

    for config in [*initial, *homogeneous_columns(instance)]:
        add(config)
    caps = {s: shape.count for s, shape in enumerate(instance.shapes)}
    center: list[int] | None = None
    best = float("inf")
    for iteration in range(1, settings.max_iterations + 1):
        result.iterations = iteration
        lp_value, pi, mu = master.solve()
        result.lp_milli = lp_value
        lp_scaled = [round(p * SCALE) for p in pi]
        alpha = settings.smoothing if center is not None else 0.0
        pi_scaled = lp_scaled if center is None else [round(alpha * c + (1 - alpha) * p)
                                                      for c, p in zip(center, lp_scaled, strict=True)]
        profits = {s: shape.value * SCALE - pi_scaled[s] for s, shape in enumerate(instance.shapes)}
        bounds, added = [], 0
        for t in range(len(instance.types)):
            priced = best_config(instance, t, profits, caps)
            result.pricing_calls += 1
            result.pricing_unproven += not priced.optimal
            bounds.append(priced.bound)
            real_profit = sum((instance.shapes[s].value - pi[s]) * n for s, n in priced.config.counts().items())
            if real_profit - mu[t] > 1e-6 and add(priced.config):
                added += 1
        bound = lagrangian_bound(instance, pi_scaled, bounds)
        if bound < best:
            best, center = bound, pi_scaled
        result.bound_milli = min(result.bound_milli, int(bound + 1e-9))
        if log:
            log(f"iteration {iteration}: LP {lp_value / instance.capacity_milli * 100:.4f}%  "
                f"bound {result.bound_milli / instance.capacity_milli * 100:.4f}%  columns {len(result.columns)}")
        if result.bound_milli - lp_value <= settings.tolerance_milli:
            result.converged = True
            break
        if added == 0 and alpha == 0.0:
            break
        if added == 0:
            center = lp_scaled  # mis-pricing: the smoothed point found nothing; step to the master's duals
    result.lp_milli, _, _ = master.solve()
    result.lp_solution = master.solution()
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class Certificate:
    """A certified upper bound and the best packing found for one instance, with how each was obtained."""

    instance: PackingInstance
    upper_milli: int
    packing: Packing
    pattern_lp_milli: int
    config_lp_milli: float | None
    iterations: int
    converged: bool
    exact: bool
    seconds: float
    how: dict[str, float] = field(default_factory=dict)

    @property
    def lower_milli(self) -> int:
        return self.packing.allocated_milli

    def percent(self, milli: float) -> float:
        return milli * 100.0 / self.instance.capacity_milli

    @property
    def gap_points(self) -> float:
        return self.percent(self.upper_milli - self.lower_milli)


def certify(instance: PackingInstance, settings: BoundSettings = BoundSettings(), log=None) -> Certificate:
    """Bound and packing: pattern LP, packing from its quotas, column generation started from that packing's
    node configurations, rounding of the configuration LP, and the exact model on small clusters."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    pattern = pattern_bound(instance)
    upper = int(pattern.bound_milli + 1e-9)
    timings["pattern_lp"] = time.perf_counter() - started
    packings = [pattern_packing(instance, pattern.placed)]
    config_lp, iterations, converged = None, 0, False
    if settings.max_iterations > 0 and packings[0].allocated_milli < upper:
        columns = packing_configs(instance, packings[0])
        cg = column_generation(instance, settings, initial=columns, log=log)
        upper = min(upper, cg.bound_milli)
        config_lp, iterations, converged = cg.lp_milli, cg.iterations, cg.converged
        packings.append(rounded_packing(instance, cg.columns, cg.lp_solution))
    timings["column_generation"] = time.perf_counter() - started - timings["pattern_lp"]
    exact = exact_optimum(instance) if settings.exact else None
    if exact is not None:
        upper = min(upper, exact.bound_milli)
        packings.append(exact_packing(instance, exact.configs))
    best = max(packings, key=lambda p: p.allocated_milli)
    best.verify(instance)
    if best.allocated_milli > upper:  # pragma: no cover - would mean a bug in a model
        raise AssertionError(f"packing {best.allocated_milli} exceeds the certified bound {upper}")
    return Certificate(instance, upper, best, int(pattern.bound_milli + 1e-9), config_lp, iterations, converged,
                       exact is not None and exact.optimal, time.perf_counter() - started, timings)
