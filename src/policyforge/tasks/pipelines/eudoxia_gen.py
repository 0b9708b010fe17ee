"""Eudoxia's own workload generator, reimplemented so `--params` without a trace gives Eudoxia's workload.

Every `waiting_seconds_mean` (normally distributed, standard deviation a quarter of the mean, in whole ticks)
`num_pipelines` pipelines arrive; each draws a priority, a query is one operator (15 s single-CPU work,
scaling linear3, reading 35 GB) and anything else is a chain of about `num_operators` identical operators
(1 s, const, reading 55 GB). The random draws follow Eudoxia's order, so a seed yields the very trace Eudoxia
writes for it (checked against the regression traces). Non-linear DAG shapes (`dag_branch_*_prob`) are our
own construction: Eudoxia's exact draws for them are not reproduced.
"""

from __future__ import annotations

import numpy as np

from policyforge.tasks.pipelines.model import BATCH, INTERACTIVE, QUERY, Operator, Pipeline, Segment, Workload
from policyforge.tasks.pipelines.params import SimParams

QUERY_SEGMENT = Segment(15.0, "linear3", None, 35.0)
HEAVY_IO_SEGMENT = Segment(1.0, "const", None, 55.0)
"""Eudoxia's most I/O-bound segment class, which its generator gives every non-query operator."""


def eudoxia_workload(params: SimParams) -> Workload:
    w = params.workload
    tps = params.ticks_per_second
    rng = np.random.default_rng(params.random_seed)
    values = [INTERACTIVE, QUERY, BATCH]
    probs = np.array([w["interactive_prob"], w["query_prob"], w["batch_prob"]])
    probs = probs / np.sum(probs, dtype=float)
    wait_mean = int(w["waiting_seconds_mean"] * tps)
    shapes = np.array([w["dag_linear_prob"], w["dag_branch_in_prob"], w["dag_branch_out_prob"]], float)
    pipelines: list[Pipeline] = []
    tick = 0
    while tick < params.max_ticks:
        for _ in range(w["num_pipelines"]):
            priority = int(rng.choice(a=values, p=probs))
            name = f"p{len(pipelines) + 1}"
            if priority == QUERY:
                operators: tuple[Operator, ...] = (Operator("op1", (), (QUERY_SEGMENT,)),)
            else:
                count = max(1, int(rng.normal(w["num_operators"], w["num_operators"] / 4)))
                operators = _shape(count, rng, shapes)
            pipelines.append(Pipeline(name, priority, tick, operators))
        wait = int(rng.normal(wait_mean, wait_mean / 4))
        tick += (wait if wait > 0 else wait_mean) + 1
    return Workload(tuple(pipelines), tps, f"eudoxia generator, seed {params.random_seed}")


def _shape(count: int, rng: np.random.Generator, shapes: np.ndarray) -> tuple[Operator, ...]:
    """A chain (Eudoxia's only shape, drawing nothing) or, when configured, a fan-in or fan-out."""
    kind = 0 if shapes[0] >= 1.0 else int(rng.choice(3, p=shapes / shapes.sum()))
    ops = []
    for i in range(count):
        if kind == 0:
            parents: tuple[int, ...] = (i - 1,) if i else ()
        elif kind == 1:
            parents = tuple(range(count - 1)) if i == count - 1 else ()
        else:
            parents = (0,) if i else ()
        ops.append(Operator(f"op{i + 1}", parents, (HEAVY_IO_SEGMENT,)))
    return tuple(ops)
