"""A GP tree's rank, ram_gb and cpus as one packed program for rank_kernel.decide, or None.

The trusted interpreter's functions carry their postfix program (`fn.program`, policyforge.program); when
`rank` does, and each sizing function given does too, the mechanism runs them compiled (ranking._compiled)
instead of calling them. Anything else (an LLM's or a user's functions, a baseline) returns None and runs
through the Python path. A sandboxed module that attaches a forged program only changes its own decisions,
which the trusted judge replays like any other's; `program.bind` checks each program afresh, so the kernel
never reads outside its arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from policyforge.program import CONST, bind
from policyforge.tasks.pipelines.ranking import COLUMNS, Load

VALUES = (*(f"ops.{name}" for name in COLUMNS), *(f"load.{name}" for name in Load.__slots__))
"""The terminals rank_kernel computes, by row of its `values` matrix."""
SLOTS = {name: row for row, name in enumerate(VALUES)}


def tree_programs(rank: Callable, ram_gb: Callable | None, cpus: Callable | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(code, args, consts, bounds) for rank_kernel.decide: the bound programs (program.bind: a terminal's
    argument its row of VALUES) one after another, a constant's argument its index in the joined constants,
    and `bounds` where rank, ram_gb and cpus start, where the last ends (an absent sizing function is an
    empty span) and the largest depth (one stack serves the three). None when a function given carries no
    program the kernel can run."""
    code: list[np.ndarray] = []
    args: list[np.ndarray] = []
    consts: list[np.ndarray] = []
    bounds = [0]
    depth = 1
    joined = 0  # constants so far
    for fn in (rank, ram_gb, cpus):
        if fn is not None:
            bound = bind(getattr(fn, "program", None), SLOTS)
            if bound is None:
                return None
            ops, arg, const, program_depth = bound
            arg[ops == CONST] += joined
            code.append(ops)
            args.append(arg)
            consts.append(const)
            joined += len(const)
            depth = max(depth, program_depth)
            bounds.append(bounds[-1] + len(ops))
        else:
            bounds.append(bounds[-1])
    bounds.append(depth)
    return (np.concatenate(code).astype(np.int64), np.concatenate(args).astype(np.int64),
            np.concatenate(consts).astype(np.float64), np.array(bounds, np.int64))
