"""What one node can hold: a small MIP over pod shapes and GPU patterns, solved by SCIP (bundled with OR-Tools).

A configuration is a multiset of pod shapes with an explicit GPU for every sharing pod, so anything the
model returns can be bound into a ClusterState as is. Constraints are the simulator's filter: CPU and memory
(inclusive), GPU model, whole GPUs for whole-GPU pods, per-GPU milli for sharing pods (a GPU holding a
sharing pod is no longer entirely free, so it never also serves a whole-GPU pod). GPUs are described by
maximal patterns (patterns.py), whose LP relaxation is tight, so SCIP usually proves optimality at the
root; CP-SAT with one worker could not prove these knapsacks within seconds (measured), hence SCIP.

Determinism: SCIP runs single-threaded with a node limit and no time limit, so answers depend only on the
inputs. The proven bound is returned with every answer and holds even when the node limit stops the search.
"""

from __future__ import annotations

from dataclasses import dataclass

from ortools.linear_solver import pywraplp

from policyforge.tasks.k8s_gpu.bound.instance import PackingInstance
from policyforge.tasks.k8s_gpu.bound.patterns import maximal_patterns
from policyforge.tasks.k8s_gpu.trace import MILLI

NODE_LIMIT = 20_000


@dataclass(frozen=True, slots=True)
class Config:
    """Pods on one node of type `type`: whole-GPU shapes with counts, and the sharing shapes on each GPU."""

    type: int
    whole: tuple[tuple[int, int], ...]
    sharing: tuple[tuple[int, ...], ...]

    def counts(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for s, n in self.whole:
            out[s] = out.get(s, 0) + n
        for gpu in self.sharing:
            for s in gpu:
                out[s] = out.get(s, 0) + 1
        return out

    def value(self, instance: PackingInstance) -> int:
        return sum(instance.shapes[s].value * n for s, n in self.counts().items())


def solve_exactly(solver: pywraplp.Solver) -> int:
    """Solve with a zero relative gap (pywraplp's default 1e-4 would stop short of the optimum)."""
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 0.0)
    return solver.Solve(params)


def mip_solver() -> pywraplp.Solver:
    """SCIP, single-threaded, with a node limit instead of a time limit (so results are reproducible)."""
    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:  # pragma: no cover - SCIP ships with the ortools wheels
        raise RuntimeError("ortools: the SCIP MIP solver is unavailable")
    solver.SetNumThreads(1)
    solver.SetSolverSpecificParametersAsString(f"limits/nodes = {NODE_LIMIT}\nrandomization/randomseedshift = 0\n")
    return solver


class NodeModel:
    """One node of type `t` holding at most `caps[s]` pods of each shape s; add several to one solver for
    an exact multi-node model."""

    def __init__(self, solver: pywraplp.Solver, instance: PackingInstance, t: int, caps: dict[int, int]) -> None:
        self.instance, self.t = instance, t
        node = instance.types[t]
        inf = solver.infinity()
        self.z: dict[int, pywraplp.Variable] = {}
        for s, cap in sorted(caps.items()):
            pod = instance.shapes[s].request
            fit = min(cap, node.cpu_milli // pod.cpu_milli if pod.cpu_milli else cap,
                      node.memory_mib // pod.memory_mib if pod.memory_mib else cap,
                      node.gpus // pod.num_gpu if pod.gpu_milli >= MILLI else cap)
            if fit > 0 and instance.fits(t, s):
                self.z[s] = solver.IntVar(0, fit, "")
        cpu, mem = solver.Constraint(-inf, node.cpu_milli), solver.Constraint(-inf, node.memory_mib)
        for s, z in self.z.items():
            cpu.SetCoefficient(z, instance.shapes[s].request.cpu_milli)
            mem.SetCoefficient(z, instance.shapes[s].request.memory_mib)
        sharing = [s for s in self.z if instance.shapes[s].request.gpu_milli < MILLI]
        self.classes = tuple(sorted({instance.shapes[s].request.gpu_milli for s in sharing}, reverse=True))
        gpus = solver.Constraint(-inf, node.gpus)
        for s, z in self.z.items():
            if s not in sharing:
                gpus.SetCoefficient(z, instance.shapes[s].request.num_gpu)
        self.patterns = maximal_patterns(self.classes) if node.gpus > 1 and sharing else None
        self.p: list[pywraplp.Variable] = []
        if self.patterns is None:
            # One GPU (or no sharing pods): milli adds up on that single GPU, exactly.
            for s in sharing:
                gpus.SetCoefficient(self.z[s], instance.shapes[s].request.gpu_milli / MILLI)
            return
        self.p = [solver.IntVar(0, node.gpus, "") for _ in range(len(self.patterns))]
        for v in self.p:
            gpus.SetCoefficient(v, 1)
        for i, milli in enumerate(self.classes):
            slots = solver.Constraint(-inf, 0)
            for s in sharing:
                if instance.shapes[s].request.gpu_milli == milli:
                    slots.SetCoefficient(self.z[s], 1)
            for j, v in enumerate(self.p):
                if self.patterns[j, i]:
                    slots.SetCoefficient(v, -int(self.patterns[j, i]))

    def config(self) -> Config:
        """The solved configuration, with sharing pods assigned to concrete GPUs (pattern by pattern)."""
        counts = {s: round(z.solution_value()) for s, z in self.z.items()}
        whole = tuple((s, n) for s, n in counts.items() if n and self.instance.shapes[s].request.gpu_milli >= MILLI)
        queue = {m: [s for s in sorted(counts) for _ in range(counts[s])
                     if self.instance.shapes[s].request.gpu_milli == m] for m in self.classes}
        gpus: list[tuple[int, ...]] = []
        if self.patterns is None:
            one = tuple(s for m in self.classes for s in queue[m])
            gpus = [one] if one else []
        else:
            for j, v in enumerate(self.p):
                for _ in range(round(v.solution_value())):
                    gpu: list[int] = []
                    for i, m in enumerate(self.classes):
                        take = min(int(self.patterns[j, i]), len(queue[m]))
                        gpu += queue[m][:take]
                        del queue[m][:take]
                    if gpu:
                        gpus.append(tuple(gpu))
        return Config(self.t, whole, tuple(gpus))


@dataclass(frozen=True)
class Priced:
    """The best configuration found for integer profits, its profit, and a proven bound on any profit."""

    config: Config
    profit: int
    bound: int
    optimal: bool


def best_config(instance: PackingInstance, t: int, profit: dict[int, int], caps: dict[int, int]) -> Priced:
    """The configuration of type `t` maximising sum(profit[s] * count[s]) with count[s] <= caps[s].

    Shapes without positive profit are left out: dropping pods keeps a configuration feasible, so the
    optimum never needs them.
    """
    caps = {s: c for s, c in caps.items() if c > 0 and profit.get(s, 0) > 0}
    empty = Priced(Config(t, (), ()), 0, 0, True)
    if not caps:
        return empty
    solver = mip_solver()
    node = NodeModel(solver, instance, t, caps)
    if not node.z:
        return empty
    objective = solver.Objective()
    for s, z in node.z.items():
        objective.SetCoefficient(z, profit[s])
    objective.SetMaximization()
    status = solve_exactly(solver)
    bound = int(objective.BestBound() + 1e-6)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return Priced(Config(t, (), ()), 0, max(bound, 0), False)
    config = node.config()
    value = sum(profit[s] * n for s, n in config.counts().items())
    return Priced(config, value, max(bound, value), status == pywraplp.Solver.OPTIMAL and bound <= value)
