"""A trusted interpreter for GP trees: a tree is data the engine built, so it runs without a sandbox.

A tree the grammar accepts can only read the task's declared view fields and call its declared features,
then combine them with the grammar's operators; it has no way to name anything else. So the engine evaluates
it in its own worker processes: the tree is compiled once per candidate into a flat postfix program, and each
call of an evolved function runs that program over numpy values. Every operation is the one the rendered
module (grammar.render) performs, in the same order, so the decisions are the same, decision for decision
(tests/test_interpreter.py checks it on every built-in task).

`trusted_tree` decides what may take this path: a module whose code is exactly what the engine renders from
its own `# gp-tree:` line. Anything else (an LLM's edit of a GP module, a user file) stays code and goes to
the sandbox.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numpy as np

from policyforge.program import CONST, OPCODES, TERMINAL, GPProgram
from policyforge.trees.grammar import (
    EPS,
    NUM,
    SBOOL,
    VEC,
    Grammar,
    Node,
    _arguments,
    render,
    tree_of,
    tree_size,
)

_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / np.where(np.abs(b) > EPS, b, 1.0),
    "min": np.minimum,
    "max": np.maximum,
    "lt": lambda a, b: a < b,
    "gt": lambda a, b: a > b,
}
_UNARY: dict[str, Callable[[Any], Any]] = {"neg": lambda a: -a, "abs": np.abs, "floor": np.floor}
_TERNARY: dict[str, Callable[[Any, Any, Any], Any]] = {"where": np.where, "clip": np.clip}


MAX_TREE_CHARS = 20_000
MAX_TREE_NODES = 400
"""Larger programs go to the sandbox, whose limits bound them: an edited chain of trees (an LLM's diffs) could
otherwise grow without bound on a path with no time limit. GP's own trees stay far below (40 nodes)."""


def trusted_tree(grammar: Grammar, code: str) -> Node | None:
    """The tree of `code` when `code` is exactly the engine's rendering of a well-typed tree of bounded size
    (and the grammar adds no code of the task's own around it); None otherwise, and the code is treated as
    untrusted."""
    if grammar.imports or grammar.epilogue or len(code) > MAX_TREE_CHARS:
        return None
    tree = tree_of(grammar, code)
    if tree is None or tree_size(tree) > MAX_TREE_NODES or render(grammar, tree) != code:
        return None
    return tree


_run: Callable[..., np.ndarray] | None = None
"""The compiled evaluator over a matrix (policyforge.program_kernel.run, the one every task's compiled loop
shares), imported with the first compiled tree: numba loads only in the processes that evaluate trees."""

_TERMINAL, _CONST, _BINARY_OP, _UNARY_OP, _TERNARY_OP = range(5)


def _postfix(node: Node, terminals: list[str], out: list[tuple[int, Any]]) -> None:
    """`node` as postfix (kind, payload) instructions: a terminal's index, a constant, or an operator's
    function (chosen by arity), so the call loop does no lookups per step."""
    for child in node.children:
        _postfix(child, terminals, out)
    if node.op == "const":
        out.append((_CONST, float(node.value)))
    elif not node.children:
        out.append((_TERMINAL, terminals.index(node.op)))
    elif len(node.children) == 2:
        out.append((_BINARY_OP, _BINARY[node.op]))
    elif len(node.children) == 1:
        out.append((_UNARY_OP, _UNARY[node.op]))
    else:
        out.append((_TERNARY_OP, _TERNARY[node.op]))


def gp_program(node: Node, terminals: list[str]) -> GPProgram:
    """`node` as the public postfix program (policyforge.program) a task may run in its compiled loop."""
    ops: list[int] = []
    args: list[int] = []
    consts: list[float] = []
    depth = high = 0
    for sub in _postorder(node):
        if sub.op == "const":
            ops.append(CONST)
            args.append(len(consts))
            consts.append(float(sub.value))
        elif not sub.children:
            ops.append(TERMINAL)
            args.append(terminals.index(sub.op))
        else:
            ops.append(OPCODES[sub.op])
            args.append(0)
        depth += 1 - len(sub.children)
        high = max(high, depth)
    return GPProgram(np.array(ops), np.array(args), np.array(consts, dtype=float), tuple(terminals), high)


def _postorder(node: Node):
    for child in node.children:
        yield from _postorder(child)
    yield node


class CompiledFunction:
    """One evolved function: a postfix program over the terminals it reads, called like the rendered one.
    `program` is the same program in the public form (policyforge.program) for a task's compiled loop."""

    def __init__(self, grammar: Grammar, signature: str, tree: Node, features: types.ModuleType | None) -> None:
        used = {n.op for n in _nodes(tree)}
        self.terminals = [t for t in grammar.terminals.values() if t.name in used]  # the rendered module's order
        self.params = _arguments(signature.removeprefix("def ").rstrip(":"))
        self.length_view = grammar.length_expr.removeprefix("len(").removesuffix(")")
        self.code: list[tuple[int, Any]] = []
        _postfix(tree, [t.name for t in self.terminals], self.code)
        self.program = gp_program(tree, [t.name for t in self.terminals])
        self.readers = [self._reader(t, features) for t in self.terminals]
        self.machine = _machine(self.program)
        self.plain = not any(t.feature for t in self.terminals)
        self.fields = [(*t.name.split(".", 1), t.type) for t in self.terminals] if self.plain else []
        """(view, attribute, type) per terminal: read straight into the machine's rows (the conversion
        np.asarray(..., dtype=float), float() or bool() is the row assignment's, or done here)."""

    def _reader(self, terminal: Any, features: types.ModuleType | None) -> Callable[[dict[str, Any]], Any]:
        """How one terminal is read from the call's arguments, as the rendered module's header line does."""
        if terminal.feature:
            if features is None:
                raise ValueError(f"terminal {terminal.name} needs the task's feature module")
            fn = getattr(features, terminal.feature)
            args = terminal.args
            return lambda env: np.asarray(fn(*(env[a] for a in args)), dtype=float)
        view, attr = terminal.name.split(".", 1)
        if terminal.type == VEC:
            return lambda env: np.asarray(getattr(env[view], attr), dtype=float)
        if terminal.type == SBOOL:
            return lambda env: bool(getattr(env[view], attr))
        if terminal.type == NUM:
            return lambda env: float(getattr(env[view], attr))
        raise ValueError(f"terminal {terminal.name} has no reader for type {terminal.type}")

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        env = dict(zip(self.params, args, strict=False))
        if kwargs:
            env.update(kwargs)
        n = len(env[self.length_view])
        if self.plain:  # no feature to call: nothing before the machine can warn
            matrix = np.empty((len(self.readers), n))  # terminal rows; a scalar or bool fills its row
            try:
                for row, (view, attr, kind) in enumerate(self.fields):
                    value = getattr(env[view], attr)
                    matrix[row] = value if kind == VEC else float(value) if kind == NUM else bool(value)
            except (ValueError, TypeError):  # a field of another shape: numpy's own broadcasting decides
                pass
            else:
                return _run(*self.machine, matrix)
        return self._numpy(env, n)

    def _numpy(self, env: dict[str, Any], n: int) -> np.ndarray:
        """The program run node by node in numpy (the general path, also for trees that call features)."""
        with np.errstate(all="ignore"):
            values = [read(env) for read in self.readers]
            stack: list[Any] = []
            push, pop = stack.append, stack.pop
            for kind, payload in self.code:
                if kind == _TERMINAL:
                    push(values[payload])
                elif kind == _CONST:
                    push(payload)
                elif kind == _BINARY_OP:
                    b = pop()
                    stack[-1] = payload(stack[-1], b)
                elif kind == _UNARY_OP:
                    stack[-1] = payload(stack[-1])
                else:
                    c, b = pop(), pop()
                    stack[-1] = payload(stack[-1], b, c)
            raw = np.asarray(stack[-1], dtype=float)
            if not np.isfinite(raw).all():  # what nan_to_num would change; finite values pass as they are
                raw = np.nan_to_num(raw)
            return np.array(np.broadcast_to(raw, (n,)), dtype=float)


def _machine(program: GPProgram) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The arguments of the compiled evaluator (program_kernel.run) for `program`: the public postfix program
    itself (its terminals are the matrix's rows), so the interpreter and a task's compiled loop read one
    encoding and run one evaluator."""
    global _run
    if _run is None:
        from policyforge.program_kernel import run

        _run = run
    return program.ops, program.args, program.consts, program.depth


def _postorder(node: Node):
    for child in node.children:
        yield from _postorder(child)
    yield node


def _nodes(node: Node):
    yield node
    for child in node.children:
        yield from _nodes(child)


def compile_tree(grammar: Grammar, tree: Node, features: types.ModuleType | None) -> types.ModuleType:
    """A module object whose evolved functions compute `tree` (what `Task.run` expects of a policy), and
    `gp_program`: function name -> its postfix program (policyforge.program), for a task that runs it
    compiled inside its simulator instead of calling the function (the same values either way)."""
    module = types.ModuleType("gp_tree", "A GP tree evaluated by policyforge's trusted interpreter.")
    programs: dict[str, GPProgram] = {}
    for signature, subtree in zip(grammar.signatures, grammar.functions(tree), strict=True):
        fn = CompiledFunction(grammar, signature, subtree, features)
        name = signature.removeprefix("def ").split("(")[0]
        setattr(module, name, fn)
        programs[name] = fn.program
    module.gp_program = programs
    return module
