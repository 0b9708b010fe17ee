"""A GP tree as a flat postfix program a task may run in its own compiled simulator loop.

The engine's trusted interpreter (trees/interpreter.py) compiles every GP tree into this form and
attaches it to the policy module it hands `Task.run` (`module.gp_program`, one per evolved function). A task
that can evaluate the program inside its compiled simulator (policyforge.program_kernel) skips the Python call
per decision; any other task ignores it and calls the module's functions as usual. The opcode numbers are
part of the public contract, so a task reads them from here, never from the engine.

Semantics per instruction, elementwise and in IEEE double precision, exactly as the rendered module computes:
`div` divides by 1.0 where the divisor is within EPS of zero (NaN included); `min`/`max` propagate NaN
(numpy's minimum/maximum); `clip(a, lo, hi)` is min(max(a, lo), hi) with NaN propagating; comparisons give
1.0/0.0 and `where` takes its first operand as the condition; the result is then made finite as
`np.nan_to_num` does (NaN -> 0, +-inf -> +-max float).

policyforge.program_kernel evaluates these programs inside a task's own numba loop (`bind` maps a program's
terminals to the loop's value slots first); it lives apart so that importing the format never imports numba.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

TERMINAL, CONST, ADD, SUB, MUL, DIV, MIN, MAX, NEG, ABS, FLOOR, WHERE, CLIP, LT, GT = range(15)
OPCODES = {"add": ADD, "sub": SUB, "mul": MUL, "div": DIV, "min": MIN, "max": MAX, "neg": NEG, "abs": ABS,
           "floor": FLOOR, "where": WHERE, "clip": CLIP, "lt": LT, "gt": GT}
"""Operator name (the grammar's) -> opcode."""
ARITY = {TERMINAL: 0, CONST: 0, ADD: 2, SUB: 2, MUL: 2, DIV: 2, MIN: 2, MAX: 2, NEG: 1, ABS: 1, FLOOR: 1,
         WHERE: 3, CLIP: 3, LT: 2, GT: 2}
EPS = 1e-9
"""The protected division's threshold (the grammar's)."""


@dataclass(frozen=True)
class GPProgram:
    """One evolved function as postfix code: `ops[k]` an opcode; `args[k]` the index into `terminals` for a
    TERMINAL, into `consts` for a CONST, else 0. `terminals` are the tree's terminal names (`objs.size`,
    `stats.capacity`, a feature's name), `depth` the largest stack the program needs."""

    ops: np.ndarray
    args: np.ndarray
    consts: np.ndarray
    terminals: tuple[str, ...]
    depth: int

    def __post_init__(self) -> None:
        for name in ("ops", "args", "consts"):
            array = np.array(getattr(self, name), dtype=np.float64 if name == "consts" else np.int64)
            array.flags.writeable = False
            object.__setattr__(self, name, array)
        if self.ops.ndim != 1 or self.ops.shape != self.args.shape or self.consts.ndim != 1:
            raise ValueError("GPProgram: ops and args must be 1-D arrays of one length")
        depth = 0
        high = 0
        for op, arg in zip(self.ops.tolist(), self.args.tolist(), strict=True):
            if op not in ARITY:
                raise ValueError(f"GPProgram: unknown opcode {op}")
            if op == TERMINAL and not 0 <= arg < len(self.terminals):
                raise ValueError(f"GPProgram: terminal index {arg} out of range")
            if op == CONST and not 0 <= arg < len(self.consts):
                raise ValueError(f"GPProgram: constant index {arg} out of range")
            if depth < ARITY[op]:
                raise ValueError("GPProgram: stack underflow")
            depth += 1 - ARITY[op]
            high = max(high, depth)
        if depth != 1 or high != self.depth:
            raise ValueError("GPProgram: the program must leave exactly one value and declare its depth")
        if not np.isfinite(self.consts).all():
            raise ValueError("GPProgram: non-finite constant")


def bind(program: object, slots: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """(ops, args, consts, depth) of `program` with each TERMINAL's argument replaced by the slot `slots` gives
    its terminal in the caller's value vector: the arguments of program_kernel.evaluate. None when `program`
    is no GPProgram or reads a terminal the caller does not compute (then the caller calls the policy's
    function instead). The program is checked afresh (opcodes, indices, stack depth): a module from a
    sandbox can carry anything, so whatever an object claims, the kernel never reads outside its arrays."""
    if not isinstance(program, GPProgram):
        return None
    try:
        checked = GPProgram(np.array(program.ops), np.array(program.args), np.array(program.consts),
                            tuple(str(t) for t in program.terminals), int(program.depth))
    except (TypeError, ValueError):
        return None
    if any(t not in slots for t in checked.terminals):
        return None
    args = checked.args.copy()
    terminal = checked.ops == TERMINAL
    args[terminal] = [int(slots[checked.terminals[k]]) for k in checked.args[terminal]]
    return checked.ops.copy(), args, checked.consts.copy(), checked.depth  # writable: one compiled signature
