"""The pattern LP: a fast, certified upper bound with all GPU fragmentation and per-type CPU and memory.

Per node type t: x[t,s] pods of shape s placed on type t, q[t,j] GPUs of type t filled with pattern j.
    maximise   sum value_s * x[t,s]
    subject to sum_t x[t,s] <= pods_s                               (pods that arrived)
               sum_j q[t,j] + sum_{whole s} gpus_s * x[t,s] <= nodes_t * gpus_t
               sum_{s of class m} x[t,s] <= sum_j slots_{m,j} * q[t,j]   (sharing pods sit in pattern slots)
               CPU and memory of type t in total; k-GPU pods at most floor(gpus_t / k) per node;
               at most r * nodes_t pods needing more than 1/(r+1) of a node's CPU (or memory), r = 1..4
GPU-level fragmentation is exact up to fractionality; only the split of CPU and memory across the nodes of a
type is relaxed (the node configuration model in certify.py tightens that).

Certificate: GLOP's answer is floating point, so the bound is recomputed from its duals y >= 0 as
    b.y + sum_j max(0, c_j - A_j.y) * upper_j,
which is a valid bound for any y >= 0 because every variable lies in [0, upper_j].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ortools.linear_solver import pywraplp

from policyforge.tasks.k8s_gpu.bound.instance import PackingInstance
from policyforge.tasks.k8s_gpu.bound.patterns import maximal_patterns
from policyforge.tasks.k8s_gpu.trace import MILLI


@dataclass
class SparseLP:
    """max c.x s.t. A x <= b, 0 <= x <= upper; kept as COO arrays so its dual bound can be checked."""

    rhs: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    cols: list[int] = field(default_factory=list)
    coefs: list[float] = field(default_factory=list)

    def row(self, rhs: float) -> int:
        self.rhs.append(float(rhs))
        return len(self.rhs) - 1

    def column(self, cost: float, upper: float, entries: list[tuple[int, float]]) -> int:
        j = len(self.cost)
        self.cost.append(float(cost))
        self.upper.append(float(upper))
        for r, a in entries:
            if a:
                self.rows.append(r)
                self.cols.append(j)
                self.coefs.append(float(a))
        return j

    def solve(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Primal x, duals y (>= 0) and the certified dual bound."""
        lp = pywraplp.Solver.CreateSolver("GLOP")
        inf = lp.infinity()
        x = [lp.NumVar(0, u, "") for u in self.upper]
        constraints = [lp.Constraint(-inf, b) for b in self.rhs]
        for r, j, a in zip(self.rows, self.cols, self.coefs, strict=True):
            constraints[r].SetCoefficient(x[j], a)
        objective = lp.Objective()
        for j, c in enumerate(self.cost):
            if c:
                objective.SetCoefficient(x[j], c)
        objective.SetMaximization()
        status = lp.Solve()
        if status != pywraplp.Solver.OPTIMAL:  # pragma: no cover - 0 is feasible and every variable bounded
            raise RuntimeError(f"GLOP returned status {status}")
        primal = np.array([v.solution_value() for v in x])
        duals = np.maximum(0.0, np.array([c.dual_value() for c in constraints]))
        return primal, duals, self.dual_bound(duals)

    def dual_bound(self, duals: np.ndarray) -> float:
        """b.y + sum_j max(0, c_j - (A^T y)_j) * upper_j: an upper bound on the LP for any y >= 0."""
        reduced = np.array(self.cost) - np.bincount(np.array(self.cols, np.int64),
                                                    weights=np.array(self.coefs) * duals[np.array(self.rows, np.int64)],
                                                    minlength=len(self.cost))
        return float(np.dot(self.rhs, duals) + np.dot(np.maximum(reduced, 0.0), self.upper))


@dataclass(frozen=True)
class PatternBound:
    """The pattern LP's certified bound (milli), its duals on the pod counts, and its fractional placement."""

    bound_milli: float
    shape_duals: np.ndarray
    placed: np.ndarray
    """placed[t, s]: pods of shape s on node type t in the LP solution."""


def sharing_classes(instance: PackingInstance) -> tuple[int, ...]:
    return tuple(sorted({s.request.gpu_milli for s in instance.shapes if s.request.gpu_milli < MILLI}, reverse=True))


def pattern_bound(instance: PackingInstance, granularity_cuts: int = 4) -> PatternBound:
    """Build and solve the pattern LP; see the module docstring for the model."""
    lp = SparseLP()
    classes = sharing_classes(instance)
    patterns = maximal_patterns(classes)
    class_of = {m: i for i, m in enumerate(classes)}
    avail = [lp.row(s.count) for s in instance.shapes]
    x_index: dict[tuple[int, int], int] = {}
    for t, node in enumerate(instance.types):
        compatible = instance.compatible(t)
        gpu_row = lp.row(node.count * node.gpus)
        class_rows = [lp.row(0) for _ in classes]
        cpu_row, mem_row = lp.row(node.count * node.cpu_milli), lp.row(node.count * node.memory_mib)
        multi_rows = {k: lp.row(node.count * (node.gpus // k)) for k in range(2, node.gpus + 1)}
        cuts = [(r, resource, lp.row(r * node.count)) for r in range(1, granularity_cuts + 1) for resource in ("cpu", "mem")]
        for s in compatible:
            pod = instance.shapes[s].request
            entries = [(avail[s], 1), (cpu_row, pod.cpu_milli), (mem_row, pod.memory_mib)]
            if pod.gpu_milli >= MILLI:
                entries.append((gpu_row, pod.num_gpu))
                if pod.num_gpu >= 2:
                    entries.append((multi_rows[pod.num_gpu], 1))
            else:
                entries.append((class_rows[class_of[pod.gpu_milli]], 1))
            for r, resource, row in cuts:
                need, have = (pod.cpu_milli, node.cpu_milli) if resource == "cpu" else (pod.memory_mib, node.memory_mib)
                if need * (r + 1) > have:
                    entries.append((row, 1))
            x_index[t, s] = lp.column(instance.shapes[s].value, instance.shapes[s].count, entries)
        if any(instance.shapes[s].request.gpu_milli < MILLI for s in compatible):
            for pattern in patterns:
                lp.column(0, node.count * node.gpus,
                          [(gpu_row, 1)] + [(class_rows[i], -int(k)) for i, k in enumerate(pattern) if k])
    primal, duals, bound = lp.solve()
    placed = np.zeros((len(instance.types), len(instance.shapes)))
    for (t, s), j in x_index.items():
        placed[t, s] = primal[j]
    return PatternBound(min(bound, float(instance.arrived_milli)), duals[np.array(avail, np.int64)], placed)
