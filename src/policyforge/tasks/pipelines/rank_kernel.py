"""One scheduling call of the ranking mechanism for a GP tree, compiled (numba): columns, the tree's rank and
sizes, the order and the best-fit placement in one call.

Why: a GP tree's three functions cost three compiled calls per scheduling call plus the Python around them
(building the columns, sizing, sorting, placing), about 80 % of a candidate's run. Here the tree arrives as
postfix programs (policyforge.program, remapped to the rows of `values` by rank_programs.py) and everything
from the mechanism's stored rows to the chosen pools happens in one call. Each step is the arithmetic of
ranking.py's Python path in the same order, and each instruction the rendered module's numpy operation, so the
decisions are the same (tests/test_pipelines_compiled.py checks it, decision for decision).

Row layout of `values` (the program's terminals): ranking.COLUMNS, then ranking.Load's fields.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from policyforge.program import (
    ABS,
    ADD,
    CLIP,
    CONST,
    DIV,
    EPS,
    FLOOR,
    LT,
    MAX,
    MIN,
    MUL,
    NEG,
    SUB,
    TERMINAL,
    WHERE,
)

BIG = np.finfo(np.float64).max
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
def _program(code, args, consts, start, end, values, i, stack):
    """Instructions start..end-1 for candidate `i` (a column of `values`), made finite as np.nan_to_num."""
    sp = 0
    for k in range(start, end):
        op = code[k]
        if op == TERMINAL:
            stack[sp] = values[args[k], i]
            sp += 1
        elif op == CONST:
            stack[sp] = consts[args[k]]
            sp += 1
        elif op == NEG:
            stack[sp - 1] = -stack[sp - 1]
        elif op == ABS:
            stack[sp - 1] = abs(stack[sp - 1])
        elif op == FLOOR:
            stack[sp - 1] = np.floor(stack[sp - 1])
        elif op == WHERE:
            sp -= 2
            stack[sp - 1] = stack[sp] if stack[sp - 1] != 0.0 else stack[sp + 1]
        elif op == CLIP:
            sp -= 2
            stack[sp - 1] = _min(_max(stack[sp - 1], stack[sp]), stack[sp + 1])
        else:
            b = stack[sp - 1]
            a = stack[sp - 2]
            sp -= 1
            if op == ADD:
                r = a + b
            elif op == SUB:
                r = a - b
            elif op == MUL:
                r = a * b
            elif op == DIV:
                r = a / (b if abs(b) > EPS else 1.0)
            elif op == MIN:
                r = _min(a, b)
            elif op == MAX:
                r = _max(a, b)
            elif op == LT:
                r = 1.0 if a < b else 0.0
            else:
                r = 1.0 if a > b else 0.0
            stack[sp - 1] = r
    x = stack[0]
    return 0.0 if x != x else BIG if x > BIG else -BIG if x < -BIG else x


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

    `bounds` holds where the rank, ram_gb and cpus programs start in `code` and where the last ends; an empty
    span is a function the tree does not define (the mechanism's own size)."""
    values = columns(table, pipes, slots, free, now, n_pipelines, largest, most_cpus, cpu_total, ram_total)
    n = slots.shape[0]
    stack = np.empty(max(1, bounds[3] - bounds[0]))
    scores = np.empty(n)
    ram = np.empty(n)
    cpu = np.empty(n)
    for i in range(n):
        scores[i] = -_program(code, args, consts, bounds[0], bounds[1], values, i, stack)
        r = values[8, i]
        if bounds[2] > bounds[1]:
            w = _program(code, args, consts, bounds[1], bounds[2], values, i, stack)
            r = _min(_max(_max(w, 0.1), table[R_AFTER_OOM, slots[i]]), largest)
        ram[i] = r
        c = values[5, i]
        if bounds[3] > bounds[2]:
            w = _program(code, args, consts, bounds[2], bounds[3], values, i, stack)
            c = _min(_max(_round_half_even(w), 1.0), float(most_cpus))
        cpu[i] = c
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
