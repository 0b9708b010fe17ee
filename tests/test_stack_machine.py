"""The compiled evaluator over a matrix (policyforge.program_kernel.run, what the interpreter calls)
computes what the rendered numpy expression computes, value for value.

Every operator of the grammar is applied by both to operands that hold the awkward values (NaN, both
infinities, both zeros, numbers at and around the protected division's threshold, huge and tiny numbers);
the machine's result must equal numpy's after `nan_to_num`, bit for bit, except for the sign of a zero
(which no later operation can tell apart: see program_kernel.py).
"""

from __future__ import annotations

import itertools

import numpy as np

from policyforge.program_kernel import run
from policyforge.trees import interpreter
from policyforge.trees.grammar import EPS, Node
from policyforge.trees.interpreter import _BINARY, _TERNARY, _UNARY, gp_program

AWKWARD = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, EPS, -EPS, 2 * EPS, 1e-300, 1.5, -2.5, 3.0, 1e308, -1e308])


def _numpy(op: str, operands: list[np.ndarray]) -> np.ndarray:
    table = {**_BINARY, **_UNARY, **_TERNARY}
    with np.errstate(all="ignore"):
        return np.nan_to_num(np.asarray(table[op](*operands), dtype=float))


def _machine(op: str, operands: list[np.ndarray]) -> np.ndarray:
    names = [f"t{k}" for k in range(len(operands))]
    tree = Node(op, tuple(Node(name) for name in names))
    return run(*interpreter._machine(gp_program(tree, names)), np.array(operands, dtype=float))


def test_every_operator_equals_numpy_on_awkward_values():
    pairs = np.array(list(itertools.product(AWKWARD, repeat=2))).T
    triples = np.array(list(itertools.product(AWKWARD, repeat=3))).T
    for op, operands in [*((op, list(pairs)) for op in _BINARY), *((op, [AWKWARD]) for op in _UNARY),
                         ("clip", list(triples))]:
        expected, got = _numpy(op, operands), _machine(op, operands)
        assert np.array_equal(expected, got), op
    condition = (triples[0] > 1.0).astype(float)  # where: the grammar's conditions are comparisons
    assert np.array_equal(_numpy("where", [condition > 0, *triples[1:]]),
                          _machine("where", [condition, *triples[1:]]))


def test_constants_and_nesting_follow_postfix_order():
    # (sub (div t0 t1) (clip 2.0 t1 t0)): operand order matters for every non-commutative operator
    tree = Node("sub", (Node("div", (Node("t0"), Node("t1"))), Node("clip", (Node("const", value=2.0),
                                                                           Node("t1"), Node("t0")))))
    t0, t1 = np.array([5.0, -1.0, 7.0]), np.array([2.0, 0.0, 9.0])
    expected = t0 / np.where(np.abs(t1) > EPS, t1, 1.0) - np.clip(2.0, t1, t0)
    assert np.array_equal(run(*interpreter._machine(gp_program(tree, ["t0", "t1"])), np.array([t0, t1])), expected)
