"""A GP tree's rank, ram_gb and cpus as one packed program for rank_kernel.decide, or None.

The trusted interpreter's functions carry their postfix program (`fn.program`, policyforge.program); when
`rank` does, and each sizing function given does too, the mechanism runs them compiled (ranking._compiled)
instead of calling them. Anything else (an LLM's or a user's functions, a baseline) returns None and runs
through the Python path. A sandboxed module that attaches a forged program only changes its own decisions,
which the trusted judge replays like any other's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from policyforge.program import CONST, TERMINAL, GPProgram
from policyforge.tasks.pipelines.ranking import COLUMNS, Load

VALUES = (*(f"ops.{name}" for name in COLUMNS), *(f"load.{name}" for name in Load.__slots__))
"""The terminals rank_kernel computes, by row of its `values` matrix."""


def _program(fn: Callable) -> GPProgram | None:
    program = getattr(fn, "program", None)
    if not isinstance(program, GPProgram):
        return None
    try:  # checked again: a module could have altered it after it was built
        program = GPProgram(program.ops, program.args, program.consts, tuple(program.terminals), program.depth)
    except (ValueError, TypeError):
        return None
    return program if all(name in VALUES for name in program.terminals) else None


def tree_programs(rank: Callable, ram_gb: Callable | None, cpus: Callable | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(code, args, consts, bounds) for rank_kernel.decide: the programs one after another, a terminal's
    argument its row of VALUES, a constant's its index in the joined constants, and `bounds` where rank,
    ram_gb and cpus start and where the last ends (an absent sizing function is an empty span). None when a
    function given carries no program the kernel can run."""
    code: list[int] = []
    args: list[int] = []
    consts: list[float] = []
    bounds = [0]
    for fn in (rank, ram_gb, cpus):
        if fn is not None:
            program = _program(fn)
            if program is None:
                return None
            for op, arg in zip(program.ops.tolist(), program.args.tolist(), strict=True):
                code.append(op)
                args.append(VALUES.index(program.terminals[arg]) if op == TERMINAL else
                            len(consts) + arg if op == CONST else 0)
            consts.extend(program.consts.tolist())
        bounds.append(len(code))
    return (np.array(code, np.int64), np.array(args, np.int64), np.array(consts, np.float64),
            np.array(bounds, np.int64))
