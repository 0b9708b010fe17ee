"""The exact offline optimum of a small instance: one node model per real node in a single MIP.

Why: the configuration LP can be a little above the integer optimum on a handful of nodes (its rounding
gap shrinks as a type has more nodes), so on small clusters the bound is closed exactly instead.
SCIP runs single-threaded with a node limit, so the answer is reproducible; its proven bound is kept even
when the node limit is reached.
"""

from __future__ import annotations

from dataclasses import dataclass

from ortools.linear_solver import pywraplp

from policyforge.tasks.k8s_gpu.bound.configs import Config, NodeModel, mip_solver, solve_exactly
from policyforge.tasks.k8s_gpu.bound.instance import PackingInstance

MAX_EXACT_NODES = 24
"""Clusters up to this many GPU nodes are solved exactly."""


@dataclass(frozen=True)
class Exact:
    configs: dict[int, Config]
    """Configuration per real node index."""
    value_milli: int
    bound_milli: int
    optimal: bool


def exact_optimum(instance: PackingInstance) -> Exact | None:
    """The optimum packing of a small instance, or None when the cluster is too large for this model."""
    if sum(t.count for t in instance.types) > MAX_EXACT_NODES:
        return None
    solver = mip_solver()
    caps = {s: shape.count for s, shape in enumerate(instance.shapes)}
    models = {node: NodeModel(solver, instance, t, caps)
              for t, node_type in enumerate(instance.types) for node in node_type.members}
    inf = solver.infinity()
    for s, shape in enumerate(instance.shapes):
        row = solver.Constraint(-inf, shape.count)
        for model in models.values():
            if s in model.z:
                row.SetCoefficient(model.z[s], 1)
    objective = solver.Objective()
    for model in models.values():
        for s, z in model.z.items():
            objective.SetCoefficient(z, instance.shapes[s].value)
    objective.SetMaximization()
    status = solve_exactly(solver)
    bound = int(objective.BestBound() + 1e-6)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return Exact({}, 0, bound, False)
    configs = {node: model.config() for node, model in models.items()}
    value = sum(c.value(instance) for c in configs.values())
    return Exact(configs, value, max(bound, value), status == pywraplp.Solver.OPTIMAL and bound <= value)
