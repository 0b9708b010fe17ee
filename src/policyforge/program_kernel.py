"""The compiled evaluator of policyforge.program's postfix programs, the one every compiled loop shares.

A task whose simulator is a numba loop evaluates a GP tree inside it by calling `evaluate` per row: the loop
fills a vector of value slots (one per terminal it computes), maps the program's terminals to those slots
once with `program.bind`, and gets the program's score, with no Python call per decision and no compile per
candidate (the program is data; these functions are compiled once per machine, numba's on-disk cache).
`evaluate_columns` runs the same instructions over many rows at once (one column per candidate; the loop
over an instruction's operands is then the inner one, which pays when one call scores hundreds of
candidates), and `run` is that for a whole matrix, what the trusted interpreter calls.

Every instruction is defined once, below, for one value; both loop orders apply those definitions, so they
cannot disagree. Each computes what the rendered module's numpy expression computes, in IEEE double
precision (policyforge.program states the semantics): min/max are numpy's bit for bit (NaN from either
side, a tie keeps the second operand); clip(a, lo, hi) is min(max(a, lo), hi), which can differ from
np.clip only in the sign of a zero, which no later operation can tell apart (division by a zero is
protected, and comparisons, rounding and ordering treat both zeros alike).

numba is imported here, never by policyforge.program, so importing the format stays cheap; a task imports
this module only on the path that runs a program compiled. A caller's cached kernel holds its own copy of
these functions, which is why a sandboxed child loading it never compiles them; but numba checks only the
caller's source file, so after editing this one, delete the callers' cache files (`find src examples -name
'*.nb[ic]' -delete`) or they keep the old instructions.
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

__all__ = ["evaluate", "evaluate_columns", "run"]

LARGEST = np.finfo(np.float64).max


@njit(cache=True, inline="always")
def _min(a, b):
    return a if (a < b or a != a) else b  # np.minimum: NaN from either side, a tie keeps the second operand


@njit(cache=True, inline="always")
def _max(a, b):
    return a if (a > b or a != a) else b


@njit(cache=True, inline="always")
def _unary(op, a):
    if op == NEG:
        return -a
    if op == ABS:
        return abs(a)
    return np.floor(a)


@njit(cache=True, inline="always")
def _binary(op, a, b):
    if op == ADD:
        return a + b
    if op == SUB:
        return a - b
    if op == MUL:
        return a * b
    if op == DIV:
        return a / (b if abs(b) > EPS else 1.0)  # NaN fails the test too: divided by 1.0
    if op == MIN:
        return _min(a, b)
    if op == MAX:
        return _max(a, b)
    if op == LT:
        return 1.0 if a < b else 0.0
    return 1.0 if a > b else 0.0  # GT


@njit(cache=True, inline="always")
def _ternary(op, a, b, c):
    if op == WHERE:
        return b if a != 0.0 else c
    return _min(_max(a, b), c)  # CLIP


@njit(cache=True, inline="always")
def _finite(x):
    """np.nan_to_num of one value."""
    if x != x:
        return 0.0
    if x > LARGEST:
        return LARGEST
    if x < -LARGEST:
        return -LARGEST
    return x


@njit(cache=True, error_model="numpy")
def evaluate(ops, args, consts, values, stack):
    """The program's value on one row, made finite: `values[s]` holds slot s (a TERMINAL's argument is its
    slot, see program.bind), `stack` is scratch of at least the program's depth (allocate it once per run)."""
    sp = 0
    for k in range(ops.shape[0]):
        op = ops[k]
        if op == TERMINAL:
            stack[sp] = values[args[k]]
            sp += 1
        elif op == CONST:
            stack[sp] = consts[args[k]]
            sp += 1
        elif op in (NEG, ABS, FLOOR):
            stack[sp - 1] = _unary(op, stack[sp - 1])
        elif op in (WHERE, CLIP):
            sp -= 2
            stack[sp - 1] = _ternary(op, stack[sp - 1], stack[sp], stack[sp + 1])
        else:
            sp -= 1
            stack[sp - 1] = _binary(op, stack[sp - 1], stack[sp])
    return _finite(stack[0])


@njit(cache=True, error_model="numpy")
def evaluate_columns(ops, args, consts, values, count, stack, out):
    """`out[i]` = the program's value on column i of `values` (slots x candidates), made finite, for
    i < count; `stack` is scratch of at least (depth, count)."""
    sp = 0
    for k in range(ops.shape[0]):
        op = ops[k]
        if op == TERMINAL:
            row = values[args[k]]
            top = stack[sp]
            for i in range(count):
                top[i] = row[i]
            sp += 1
        elif op == CONST:
            stack[sp, :count] = consts[args[k]]
            sp += 1
        elif op in (NEG, ABS, FLOOR):
            top = stack[sp - 1]
            for i in range(count):
                top[i] = _unary(op, top[i])
        elif op in (WHERE, CLIP):
            sp -= 2
            a, b, c = stack[sp - 1], stack[sp], stack[sp + 1]
            for i in range(count):
                a[i] = _ternary(op, a[i], b[i], c[i])
        else:
            sp -= 1
            a, b = stack[sp - 1], stack[sp]
            for i in range(count):
                a[i] = _binary(op, a[i], b[i])
    result = stack[0]
    for i in range(count):
        out[i] = _finite(result[i])


@njit(cache=True)
def run(ops, args, consts, depth, values):
    """The program's value for every column of `values` (slots x candidates), made finite: a new array."""
    n = values.shape[1]
    out = np.empty(n)
    evaluate_columns(ops, args, consts, values, n, np.empty((max(depth, 1), n)), out)
    return out
