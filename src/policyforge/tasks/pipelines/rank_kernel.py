"""One scheduling call of the ranking mechanism for a GP tree, compiled (numba): columns, the tree's rank and
sizes, the order and the best-fit placement in one call.

Why: a GP tree's three functions cost three compiled calls per scheduling call plus the Python around them
(building the columns, sizing, sorting, placing), about 80 % of a candidate's run. Here the tree arrives as
postfix programs (policyforge.program, bound to the rows of `values` by rank_programs.py) and everything
from the mechanism's stored rows to the chosen pools happens in one call. The programs run on the package's
one compiled evaluator (policyforge.program_kernel.evaluate_columns: the ready operators are the columns);
the rest is the arithmetic of ranking.py's Python path in the same order, so the decisions are the same
(tests/test_pipelines_compiled.py checks it, decision for decision). After editing program_kernel.py, delete
this module's numba cache (see program_kernel's docstring): it holds its own copy of the evaluator.

Row layout of `values` (the program's terminals): ranking.COLUMNS, then ranking.Load's fields.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.program_kernel import evaluate_columns

N_COLUMNS = 17
"""len(ranking.COLUMNS); the Load fields follow (rank_programs.py checks both)."""
N_VALUES = N_COLUMNS + 10
# stored rows (ranking._TABLE's first rows): pipeline, STATIC (11), ready_since, after_oom, failures
R_PIPELINE, R_PRIORITY, R_MEMORY, R_READY_SINCE, R_AFTER_OOM, R_FAILURES = 0, 1, 3, 12, 13, 14
# the stored rows each of the first eight columns and the last three static ones come from
_STATIC_ROWS = np.array([1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, -1, -1, 9, 10, 11, -1], np.int64)
BATCH = 3.0


@njit(cache=True, inline="always")
def _min(a, b):
    """np.minimum: NaN from either side."""
    return a if (a != a or a <= b) else b


@njit(cache=True, inline="always")
def _max(a, b):
    """np.maximum: NaN from either side."""
    return a if (a != a or a >= b) else b


@njit(cache=True)
def _program(code, args, consts, start, end, values, stack, out):
    """`out[i]` = the program in code[start:end] on column i of `values`, for every column."""
    evaluate_columns(code[start:end], args[start:end], consts, values, values.shape[1], stack, out)


@njit(cache=True)
def _round_half_even(x):
    """np.round(x) (to the even integer on a tie), for finite and infinite x."""
    r = np.floor(x)
    d = x - r
    if d > 0.5 or (d == 0.5 and r % 2.0 != 0.0):
        r += 1.0
    return r


@njit(cache=True)
def columns(table, pipes, slots, free, now, n_pipelines, largest, most_cpus, cpu_total, ram_total):
    """The (N_VALUES x ready) matrix of what `rank(ops, load)` sees, as ranking._columns and Load compute it;
    `free` holds each pool's free CPUs (integers, as floats) and free RAM."""
    n = slots.shape[0]
    values = np.empty((N_VALUES, n))
    urgent = 0
    for i in range(n):
        s = slots[i]
        for c in range(N_COLUMNS):
            row = _STATIC_ROWS[c]
            if row >= 0:
                values[c, i] = table[row, s]
        p = int(table[R_PIPELINE, s])
        values[8, i] = _min(_max(table[R_MEMORY, s] * 1.25 + 0.5, table[R_AFTER_OOM, s]), largest)
        values[9, i] = table[R_FAILURES, s]
        values[10, i] = now - pipes[0, p]
        values[11, i] = pipes[1, p]
        values[12, i] = pipes[2, p]
        values[16, i] = now - table[R_READY_SINCE, s]
        if table[R_PRIORITY, s] != BATCH:
            urgent += 1
    cpu_sum = 0.0  # a sum of integers: exact, as Python's int sum
    max_cpu = free[0, 0]
    ram_sum = 0.0
    max_ram = free[1, 0]
    for j in range(free.shape[1]):
        cpu_sum += free[0, j]
        ram_sum += free[1, j]
        if free[0, j] > max_cpu:
            max_cpu = free[0, j]
        if free[1, j] > max_ram:
            max_ram = free[1, j]
    load = (now, cpu_sum / cpu_total, ram_sum / ram_total, float(n), float(n_pipelines), float(urgent),
            max_cpu, max_ram, float(most_cpus), largest)
    for k in range(10):
        for i in range(n):
            values[N_COLUMNS + k, i] = load[k]
    return values


@njit(cache=True)
def decide(table, pipes, slots, free, now, n_pipelines, largest, most_cpus, cpu_total, ram_total,
           code, args, consts, bounds, patience):
    """One call of ranking.schedule for a tree, packed in one float array (one array to box: each costs the
    call about as much as the work): how many were placed (k), the RAM of the first blocked urgent operator
    (NaN: none), the free RAM of each pool after placement, then k rows of (position in `slots`, pool, CPUs,
    RAM).

    `bounds` holds where the rank, ram_gb and cpus programs start in `code`, where the last ends, and the
    largest depth of the three; an empty span is a function the tree does not define (the mechanism's own
    size)."""
    values = columns(table, pipes, slots, free, now, n_pipelines, largest, most_cpus, cpu_total, ram_total)
    n = slots.shape[0]
    stack = np.empty((max(1, bounds[4]), n))
    scores = np.empty(n)
    _program(code, args, consts, bounds[0], bounds[1], values, stack, scores)
    for i in range(n):
        scores[i] = -scores[i]
    ram = values[8].copy()
    if bounds[2] > bounds[1]:
        _program(code, args, consts, bounds[1], bounds[2], values, stack, ram)
        for i in range(n):
            ram[i] = _min(_max(_max(ram[i], 0.1), table[R_AFTER_OOM, slots[i]]), largest)
    cpu = values[5].copy()
    if bounds[3] > bounds[2]:
        _program(code, args, consts, bounds[2], bounds[3], values, stack, cpu)
        for i in range(n):
            cpu[i] = _min(_max(_round_half_even(cpu[i]), 1.0), float(most_cpus))
    order = np.argsort(scores, kind="mergesort")  # stable: ties in the order operators became ready
    n_pools = free.shape[1]
    cpus_free = np.empty(n_pools, np.int64)
    ram_free = free[1].copy()
    open_pools = 0
    for j in range(n_pools):
        cpus_free[j] = int(free[0, j])
        if cpus_free[j] >= 1:
            open_pools += 1
    out = np.empty(2 + n_pools + 4 * n)
    count = 0
    misses = 0
    blocked = np.nan
    for index in order:
        if misses >= patience or open_pools == 0:
            break
        need = ram[index]
        best = -1
        leftover = 0.0
        for j in range(n_pools):
            if cpus_free[j] >= 1 and ram_free[j] >= need and (best < 0 or ram_free[j] - need < leftover):
                best = j
                leftover = ram_free[j] - need
        if best < 0:
            misses += 1
            if blocked != blocked and values[0, index] != BATCH:
                blocked = need
            continue
        give = min(int(cpu[index]), cpus_free[best])
        row = 2 + n_pools + 4 * count
        out[row] = index
        out[row + 1] = best
        out[row + 2] = give
        out[row + 3] = need
        count += 1
        cpus_free[best] -= give
        ram_free[best] -= need
        if cpus_free[best] < 1:
            open_pools -= 1
    out[0] = count
    out[1] = blocked
    out[2:2 + n_pools] = ram_free
    return out[:2 + n_pools + 4 * count]
