"""A compiled stack machine for GP trees: one call per evolved function instead of one numpy call per node.

Why: the interpreter's numpy program costs about a microsecond per node whatever the vector's length, and
a task that calls its evolved functions on a few candidates at a time (pipelines ranks 2-3 ready operators
per call, tens of thousands of calls per run) spends most of its time there. This kernel runs the same
postfix program over a (terminals x candidates) matrix in one numba call, compiled once per machine
(numba's on-disk cache) and never per candidate: the program is data.

Every instruction computes what the rendered module's numpy expression computes, in IEEE double precision,
elementwise: `div` divides by 1.0 where |divisor| <= EPS or the divisor is NaN (np.where(np.abs(b) > EPS, b,
1.0)); `min`/`max` propagate NaN from either side (np.minimum/np.maximum); `clip(a, lo, hi)` is
min(max(a, lo), hi) with NaN propagating (np.clip); comparisons give 1.0/0.0 and `where` takes a nonzero
condition as true; the result is made finite as np.nan_to_num does. Only the sign of a zero may differ from
numpy's (its minimum/maximum of -0.0 and 0.0), which no later operation can tell apart: division by a zero
is protected, and comparisons, rounding and ordering treat both zeros alike.
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


@njit(cache=True, error_model="numpy")
def run(code, args, consts, depth, values, eps):
    """The program's value for each column of `values` (terminal rows x candidates), made finite."""
    n = values.shape[1]
    stack = np.empty((max(depth, 1), n))
    sp = 0
    for k in range(code.shape[0]):
        op = code[k]
        if op == TERMINAL:
            row = args[k]
            for i in range(n):
                stack[sp, i] = values[row, i]
            sp += 1
        elif op == CONST:
            c = consts[args[k]]
            for i in range(n):
                stack[sp, i] = c
            sp += 1
        elif op in (NEG, ABS, FLOOR):
            t = sp - 1
            for i in range(n):
                a = stack[t, i]
                stack[t, i] = -a if op == NEG else abs(a) if op == ABS else np.floor(a)
        elif op in (WHERE, CLIP):
            t = sp - 3
            for i in range(n):
                a, b, c = stack[t, i], stack[t + 1, i], stack[t + 2, i]
                if op == WHERE:
                    stack[t, i] = b if a != 0.0 else c
                else:
                    m = a if (a != a or a > b) else b
                    stack[t, i] = m if (m != m or m < c) else c
            sp -= 2
        else:
            t = sp - 2
            for i in range(n):
                a, b = stack[t, i], stack[t + 1, i]
                if op == ADD:
                    r = a + b
                elif op == SUB:
                    r = a - b
                elif op == MUL:
                    r = a * b
                elif op == DIV:
                    r = a / (b if abs(b) > eps else 1.0)
                elif op == MIN:
                    r = a if (a != a or a <= b) else b
                elif op == MAX:
                    r = a if (a != a or a >= b) else b
                elif op == LT:
                    r = 1.0 if a < b else 0.0
                else:
                    r = 1.0 if a > b else 0.0
                stack[t, i] = r
            sp -= 1
    out = np.empty(n)
    for i in range(n):
        x = stack[0, i]
        out[i] = 0.0 if x != x else BIG if x > BIG else -BIG if x < -BIG else x
    return out
