"""The shared compiled evaluator (policyforge.program_kernel) computes what the rendered numpy expression
computes, for random well-typed programs on awkward values, in each of its loop orders.

Random trees of every operator (comparisons only as a `where`'s condition, as the grammar types them) over
four terminals are evaluated by numpy with the interpreter's own operator table (the rendered module's
expressions) and then `nan_to_num`; the evaluator's row-by-row `evaluate`, its column-wise
`evaluate_columns` and `run` must give the same numbers (a zero's sign aside: see program_kernel.py). The
terminal values mix NaN, both infinities, both zeros, values at the protected division's threshold and
ordinary numbers. Then `program.bind`: terminals land in the caller's slots, and nothing malformed passes.
"""

from __future__ import annotations

import numpy as np
import pytest

from policyforge.program import EPS, OPCODES, GPProgram, bind
from policyforge.program_kernel import evaluate, evaluate_columns, run
from policyforge.trees.grammar import Node
from policyforge.trees.interpreter import _BINARY, _TERNARY, _UNARY, gp_program

TERMINALS = ["t0", "t1", "t2", "t3"]
AWKWARD = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, EPS, -EPS, 2 * EPS, 1e-300, 1.5, -2.5, 3.0, 1e308, -1e308])
CONSTANTS = (0.0, -0.0, 0.5, 1.0, -3.0, EPS, 1e308)
NUMERIC = ["add", "sub", "mul", "div", "min", "max", "neg", "abs", "floor", "where", "clip"]


def random_tree(rng: np.random.Generator, depth: int) -> Node:
    """A float-valued tree; `where` takes a comparison as its condition."""
    if depth == 0 or rng.random() < 0.2:
        if rng.random() < 0.3:
            return Node("const", (), float(rng.choice(CONSTANTS)))
        return Node(str(rng.choice(TERMINALS)))
    op = str(rng.choice(NUMERIC))
    if op == "where":
        condition = Node(str(rng.choice(["lt", "gt"])), (random_tree(rng, depth - 1), random_tree(rng, depth - 1)))
        return Node(op, (condition, random_tree(rng, depth - 1), random_tree(rng, depth - 1)))
    arity = 1 if op in _UNARY else 3 if op in _TERNARY else 2
    return Node(op, tuple(random_tree(rng, depth - 1) for _ in range(arity)))


def numpy_value(node: Node, values: dict[str, np.ndarray]) -> np.ndarray:
    if node.op == "const":
        return np.full(len(values["t0"]), node.value)
    if not node.children:
        return values[node.op]
    operands = [numpy_value(child, values) for child in node.children]
    table = {**_BINARY, **_UNARY, **_TERNARY}
    return table[node.op](*operands)


@pytest.mark.parametrize("seed", range(4))
def test_random_programs_equal_numpy_in_every_loop_order(seed):
    rng = np.random.default_rng(seed)
    n = 64
    matrix = rng.choice(AWKWARD, size=(len(TERMINALS), n))
    values = dict(zip(TERMINALS, matrix, strict=True))
    operators = set()
    for _ in range(150):
        tree = random_tree(rng, 5)
        with np.errstate(all="ignore"):
            expected = np.nan_to_num(np.asarray(numpy_value(tree, values), dtype=float))
        program = gp_program(tree, TERMINALS)
        ops, args, consts, depth = bind(program, {t: k for k, t in enumerate(TERMINALS)})
        operators |= set(ops.tolist())
        stack = np.empty(depth)
        rows = np.array([evaluate(ops, args, consts, np.ascontiguousarray(matrix[:, i]), stack) for i in range(n)])
        columns = np.full(n, 7.0)
        evaluate_columns(ops, args, consts, matrix, n - 3, np.empty((depth, n)), columns)
        assert np.array_equal(rows, expected)
        assert np.array_equal(columns[: n - 3], expected[: n - 3]) and (columns[n - 3:] == 7.0).all()
        assert np.array_equal(run(ops, args, consts, depth, matrix), expected)
    assert operators >= set(OPCODES.values())  # every operator was exercised


def test_bind_maps_terminals_to_the_callers_slots():
    # (sub t1 (div t0 2.0)) read from a caller whose slots are t0 -> 5, t1 -> 2
    tree = Node("sub", (Node("t1"), Node("div", (Node("t0"), Node("const", (), 2.0)))))
    ops, args, consts, depth = bind(gp_program(tree, ["t0", "t1"]), {"t0": 5, "t1": 2})
    row = np.zeros(6)
    row[5], row[2] = 8.0, 1.0
    assert evaluate(ops, args, consts, row, np.empty(depth)) == 1.0 - 8.0 / 2.0
    assert bind(gp_program(tree, ["t0", "t1"]), {"t0": 5}) is None  # a terminal the caller lacks


def test_bind_refuses_anything_but_a_well_formed_program():
    good = GPProgram(np.array([0]), np.array([0]), np.empty(0), ("t0",), 1)
    assert bind(good, {"t0": 0}) is not None
    assert bind({"ops": [0]}, {"t0": 0}) is None
    forged = GPProgram(np.array([0]), np.array([0]), np.empty(0), ("t0",), 1)
    object.__setattr__(forged, "args", np.array([10**9]))  # out of range: refused before any kernel reads it
    assert bind(forged, {"t0": 0}) is None
    object.__setattr__(forged, "args", np.array([0]))
    object.__setattr__(forged, "depth", 0)  # a stack too small for the program
    assert bind(forged, {"t0": 0}) is None
