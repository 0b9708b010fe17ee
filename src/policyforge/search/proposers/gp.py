"""The offline proposer: strongly-typed genetic programming over a task's declared feature grammar.

It needs no LLM and no network, so a search can run (and be tested) anywhere, and it gives LLM proposers a
baseline to beat. Programs are typed expression trees (grammar.py); every offspring is well typed and within
`max_size` nodes and `max_depth` levels by construction, and renders to a policy that always returns one
finite float per candidate. A parent is read back from the `# gp-tree:` line of its module; a parent without
one (an LLM-written or baseline file) counts as absent.

Bloat control is twofold: offspring over `max_size` or `max_depth` are rejected and retried (a hard limit),
and `parsimony` is exposed for the caller to subtract `parsimony * size` from a program's fitness
(`GPProposer.penalised`; `tree_size(code)` reads a module's size).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from policyforge.contract import GPTable, PolicySpec, Task
from policyforge.errors import PolicyforgeError
from policyforge.search.proposers.base import ParentInfo, Proposal
from policyforge.trees.grammar import (
    BOOL,
    NUM,
    OPERATORS,
    PROGRAM,
    SBOOL,
    VEC,
    Grammar,
    Node,
    allowed_at,
    build_grammar,
    child_requirements,
    fits,
    parse_sexpr,
    render,
    tree_depth,
    tree_line,
    tree_of,
)
from policyforge.trees.grammar import tree_size as node_size

ATTEMPTS = 60
"""Offspring tried per proposal before falling back to a fresh random tree."""
INIT_DEPTHS = (2, 3, 4, 5)
"""Ramped half-and-half: initial trees are full or grown to one of these depths (capped by max_depth)."""
P_LEAF = 0.35
"""In the grow method, the chance that a non-forced position becomes a leaf."""
P_INTERNAL = 0.9
"""Koza's bias: crossover and mutation points are internal nodes this often (when the tree has any)."""
SIGMA = 0.2
"""Relative standard deviation of constant perturbation."""
TUNE_SIGMAS = (-4.5, -1.0)
"""Constant tuning's step: a log-normal factor whose log-scale is drawn log-uniformly between e^-4.5 (1%) and
e^-1 (37%) per proposal, so repeated tuning of the same elite searches both near and far without keeping
any state between proposals (a run resumes exactly)."""


def tree_size(code: str) -> int | None:
    """Nodes in the tree of a GP-rendered module, or None when `code` is not one (for parsimony)."""
    line = tree_line(code)
    if line is None:
        return None
    try:
        return node_size(parse_sexpr(line))
    except ValueError:
        return None


def round_sig(value: float, digits: int = 4) -> float:
    """Constants keep a few significant digits so the rendered policy stays readable."""
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True)
class Point:
    """A position in a tree: the child-index path to it, its subtree, the type it must have, its depth."""

    path: tuple[int, ...]
    node: Node
    required: str
    depth: int


def points(tree: Node, required: str = VEC) -> list[Point]:
    """Every position of `tree` (one function's tree) in preorder, with what the grammar requires there."""
    out: list[Point] = []

    def walk(node: Node, path: tuple[int, ...], req: str, depth: int) -> None:
        out.append(Point(path, node, req, depth))
        if node.children:
            wants = child_requirements(OPERATORS[node.op], req)
            for i, (child, want) in enumerate(zip(node.children, wants, strict=True)):
                walk(child, (*path, i), want, depth + 1)

    walk(tree, (), required, 1)
    return out


def replace(tree: Node, path: tuple[int, ...], new: Node) -> Node:
    if not path:
        return new
    children = list(tree.children)
    children[path[0]] = replace(children[path[0]], path[1:], new)
    return Node(tree.op, tuple(children), tree.value)


class GPProposer:
    """Proposer "gp": crossover, subtree / point mutation and constant perturbation of typed trees.

    `propose` is deterministic given (parents, seed). With two or more GP parents it crosses over with
    probability `p_crossover`, else mutates one parent (subtree : point : constant = p_subtree : p_point :
    p_constant); with one it mutates it; with none it grows a fresh ramped half-and-half tree. The
    Proposal's `prompt` says which operation made the child, `parents` which parents it came from.
    """

    name = "gp"

    def __init__(self, spec: PolicySpec, max_size: int = 40, max_depth: int = 7, parsimony: float = 0.001,
                 p_crossover: float = 0.5, p_subtree: float = 0.3, p_point: float = 0.1,
                 p_constant: float = 0.1, table: GPTable | None = None) -> None:
        if max_size < 3 or max_depth < 2:
            raise ValueError("GP needs max_size >= 3 and max_depth >= 2")
        self.spec = spec
        self.grammar: Grammar = build_grammar(spec, table)
        self.max_size = max_size
        self.max_depth = max_depth
        self.parsimony = parsimony
        self.weights = {"crossover": p_crossover, "subtree": p_subtree, "point": p_point,
                        "constant": p_constant}
        if min(self.weights.values()) < 0 or sum(self.weights.values()) <= 0:
            raise ValueError("GP operator probabilities must be >= 0 and not all 0")

    @classmethod
    def for_task(cls, task: Task, **settings: Any) -> GPProposer:
        """The proposer over what the task's search hints say GP evolves (default: its spec, a derived table)."""
        hints = task.search_hints()
        return cls(hints.gp_spec or task.spec, table=hints.gp_table, **settings)

    # --- reading and writing programs ---------------------------------------------------------------------

    def parse(self, code: str) -> Node | None:
        """The tree of a module this proposer rendered, or None when `code` is not one for this grammar."""
        return tree_of(self.grammar, code)

    def render(self, tree: Node) -> str:
        return render(self.grammar, tree)

    def penalised(self, score: float, code: str) -> float:
        """Fitness with parsimony pressure: `score - parsimony * size` (unchanged for non-GP code). The
        default 0.001 suits scores in percent: 40 nodes cost 0.04 points, a tie-breaker, not a tax."""
        size = tree_size(code)
        return score if size is None else score - self.parsimony * size

    def within_limits(self, tree: Node) -> bool:
        return node_size(tree) <= self.max_size and tree_depth(tree) <= self.max_depth

    def seed_programs(self) -> list[str]:
        """Modules expressing the task's baselines in the grammar (its GPTable's seed trees, in order),
        skipping any larger than GP's limits; PolicyforgeError naming a seed that does not parse or
        type-check (the task author's mistake, said before anything is measured)."""
        out = []
        for name, text in self.grammar.seeds.items():
            try:
                tree = parse_sexpr(text)
            except ValueError as exc:
                raise PolicyforgeError(f"task {self.grammar.task}: GP seed {name!r} does not parse: {exc}") from None
            if not self.grammar.valid_program(tree):
                raise PolicyforgeError(f"task {self.grammar.task}: GP seed {name!r} does not type-check in the "
                                       "task's grammar (an unknown terminal, operator or arity)")
            if self.within_limits(tree):
                out.append(self.render(tree))
        return out

    # --- growing ------------------------------------------------------------------------------------------

    def constant(self, rng: np.random.Generator) -> Node:
        """A task constant half the time, else a log-uniform magnitude 0.01..10^5 (negative one time in 4)."""
        if self.grammar.constants and rng.random() < 0.5:
            constants = self.grammar.constants
            return Node("const", value=float(constants[rng.integers(len(constants))]))
        value = round_sig(10 ** rng.uniform(-2, 5), 3)
        return Node("const", value=-value if rng.random() < 0.25 else value)

    def leaf(self, rng: np.random.Generator, required: str, exclude: str | None = None) -> Node | None:
        """A random leaf that may stand where `required` is expected (None when the type has none)."""
        if required in (BOOL, SBOOL):
            options = [t for t in self.grammar.of_type(SBOOL) if t.name != exclude]
            return Node(options[rng.integers(len(options))].name) if options else None
        vectors = [t for t in self.grammar.of_type(VEC) if t.name != exclude] if required == VEC else []
        if vectors and rng.random() < 0.7:
            return Node(vectors[rng.integers(len(vectors))].name)
        scalars = [t for t in self.grammar.of_type(NUM) if t.name != exclude]
        if scalars and rng.random() < 0.5:
            return Node(scalars[rng.integers(len(scalars))].name)
        return self.constant(rng)

    def grow(self, rng: np.random.Generator, required: str, depth: int, full: bool) -> Node:
        """A random tree of at most `depth` levels: `full` puts operators everywhere above the last level."""
        if depth <= 1 or (not full and rng.random() < P_LEAF):
            leaf = self.leaf(rng, required)
            if leaf is not None:  # None: a bool without bool leaves, which needs a comparison
                return leaf
        ops = [op for op in OPERATORS.values() if allowed_at(op, required)]
        if depth <= 2 and not self.grammar.of_type(SBOOL):
            ops = [op for op in ops if op.family != "where"]  # a condition needs a comparison: 2 levels
        op = ops[rng.integers(len(ops))]
        wants = child_requirements(op, required)
        return Node(op.name, tuple(self.grow(rng, w, depth - 1, full) for w in wants))

    def random_tree(self, rng: np.random.Generator) -> Node:
        """A fresh program: one random function tree, or a PROGRAM of one per evolved function."""
        if not self.grammar.multi:
            return self.random_function(rng)
        for _ in range(100):
            program = Node(PROGRAM, tuple(self.random_function(rng) for _ in self.grammar.signatures))
            if self.within_limits(program):
                return program
        leaf = Node(self.grammar.of_type(VEC)[0].name)
        return Node(PROGRAM, (leaf,) * len(self.grammar.signatures))

    def random_function(self, rng: np.random.Generator) -> Node:
        """Ramped half-and-half, rejecting trees over the limits or constant across candidates."""
        depths = [d for d in INIT_DEPTHS if d <= self.max_depth] or [2]
        for _ in range(1000):
            tree = self.grow(rng, VEC, depths[rng.integers(len(depths))], full=bool(rng.random() < 0.5))
            if self.within_limits(tree) and self.grammar.type_of(tree) == VEC:
                return tree
        vectors = self.grammar.of_type(VEC)
        return Node(vectors[rng.integers(len(vectors))].name)

    # --- variation ----------------------------------------------------------------------------------------

    def pick(self, rng: np.random.Generator, candidates: list[Point]) -> Point | None:
        """Koza's 90/10 choice of a variation point: an internal node usually, a leaf sometimes."""
        if not candidates:
            return None
        inner = [p for p in candidates if p.node.children]
        pool = inner if inner and rng.random() < P_INTERNAL else candidates
        return pool[rng.integers(len(pool))]

    def crossover(self, rng: np.random.Generator, receiver: Node, donor: Node) -> Node | None:
        """Replace a subtree of `receiver` with a type-compatible subtree of `donor` that keeps the limits."""
        point = self.pick(rng, points(receiver))
        if point is None:
            return None
        room_size = self.max_size - node_size(receiver) + node_size(point.node)
        room_depth = self.max_depth - point.depth + 1
        options = [p for p in points(donor)
                   if fits(self.grammar.type_of(p.node), point.required)
                   and node_size(p.node) <= room_size and tree_depth(p.node) <= room_depth
                   and p.node != point.node]
        chosen = self.pick(rng, options)
        return None if chosen is None else replace(receiver, point.path, chosen.node)

    def subtree_mutation(self, rng: np.random.Generator, tree: Node) -> Node:
        point = self.pick(rng, points(tree))
        depth = min(self.max_depth - point.depth + 1, 4)
        new = self.grow(rng, point.required, int(rng.integers(1, depth + 1)), full=False)
        return replace(tree, point.path, new)

    def point_mutation(self, rng: np.random.Generator, tree: Node) -> Node | None:
        """Swap one operator for another of its family, or one leaf for another leaf of a fitting type."""
        options = [p for p in points(tree)
                   if not p.node.children or sum(o.family == OPERATORS[p.node.op].family
                                                 for o in OPERATORS.values()) > 1]
        if not options:
            return None
        point = options[rng.integers(len(options))]
        node = point.node
        if node.children:
            family = OPERATORS[node.op].family
            alternatives = [o.name for o in OPERATORS.values() if o.family == family and o.name != node.op]
            swapped = Node(alternatives[rng.integers(len(alternatives))], node.children)
            return replace(tree, point.path, swapped)
        new = self.leaf(rng, point.required, exclude=node.op)
        return None if new is None or new == node else replace(tree, point.path, new)

    def constant_perturbation(self, rng: np.random.Generator, tree: Node) -> Node | None:
        """Multiply one constant by 1 + N(0, SIGMA) (a zero gets N(0, 1) instead)."""
        options = [p for p in points(tree) if p.node.op == "const"]
        if not options:
            return None
        point = options[rng.integers(len(options))]
        old = point.node.value
        new = round_sig(old * (1 + SIGMA * rng.normal()) if old else rng.normal())
        return None if new == old else replace(tree, point.path, Node("const", value=new))

    def constants(self, tree: Node) -> list[Point]:
        """Every constant of `tree`, paths from its root: in a program of several functions (its root is
        `program`), the constants of every function's tree."""
        if self.grammar.multi:
            return [Point((i, *p.path), p.node, p.required, p.depth + 1) for i, child in enumerate(tree.children)
                    for p in points(child) if p.node.op == "const"]
        return [p for p in points(tree) if p.node.op == "const"]

    def tune_constants(self, rng: np.random.Generator, tree: Node) -> Node | None:
        """Move every constant of `tree` at once (a random-search step over the constant vector): a program
        whose shape is right is usually a few constants away from better, and one-at-a-time perturbation
        cannot move correlated constants together. None when the tree has no constants."""
        options = self.constants(tree)
        if not options:
            return None
        sigma = float(np.exp(rng.uniform(*TUNE_SIGMAS)))
        out = tree
        for point in options:
            old = point.node.value
            new = round_sig(old * float(np.exp(sigma * rng.normal())) if old else sigma * rng.normal())
            out = replace(out, point.path, Node("const", value=new))
        return None if out == tree else out

    def vary(self, rng: np.random.Generator, trees: list[Node]) -> tuple[Node | None, str, tuple[int, ...]]:
        """One attempt at an offspring: (tree or None, what was done, indices of the parents used). In a
        program of several functions, one function is picked uniformly first (crossover exchanges material
        between the parents' trees of that function), so a one-leaf sizing function varies as often as a
        large ranking tree."""
        ops = [k for k in self.weights if k != "crossover" or len(trees) >= 2]
        weights = np.array([self.weights[k] for k in ops])
        if weights.sum() <= 0:
            ops, weights = ["subtree"], np.ones(1)
        op = ops[rng.choice(len(ops), p=weights / weights.sum())]
        first = int(rng.integers(len(trees)))
        second = None
        if op == "crossover":
            second = int(rng.integers(len(trees) - 1))
            second += second >= first
        part, label = None, ""
        if self.grammar.multi:
            part = int(rng.integers(len(self.grammar.signatures)))
            label = f" of {self.grammar.function_names[part]}"
        receiver = trees[first] if part is None else trees[first].children[part]
        if second is not None:
            donor = trees[second] if part is None else trees[second].children[part]
            child, how, used = self.crossover(rng, receiver, donor), op, (first, second)
        else:
            mutate, how = {"subtree": (self.subtree_mutation, "subtree mutation"),
                           "point": (self.point_mutation, "point mutation"),
                           "constant": (self.constant_perturbation, "constant perturbation")}[op]
            child, used = mutate(rng, receiver), (first,)
        if child is not None and part is not None:
            child = replace(trees[first], (part,), child)
        return child, how + label, used

    def _tune_first(self, rng: np.random.Generator, trees: list[Node]
                    ) -> tuple[Node | None, str, tuple[int, ...]]:
        """Tuning of the first tree (best first) that has constants: (child or None, label, parent index)."""
        for index, parent in enumerate(trees):
            for _ in range(ATTEMPTS if self.constants(parent) else 0):
                tree = self.tune_constants(rng, parent)
                if tree is not None and tree not in trees and self.within_limits(tree):
                    return tree, "constant tuning", (index,)
        return None, "", ()

    def propose(self, parents: list[ParentInfo], context: dict[str, Any], seed: int) -> Proposal:
        """An offspring of the GP parents (non-GP parents are ignored), or a fresh tree without any. When the
        engine asks for tuning (`context["tune"]`, the island's best programs as parents, best first), every
        constant of the first GP tree with constants moves at once; without one, the parents vary as usual."""
        started = time.perf_counter()
        rng = np.random.default_rng(seed)
        usable = [(p, t) for p in parents if (t := self.parse(p.code)) is not None]
        trees = [t for _, t in usable]
        child, how, used = None, "", ()
        if context.get("tune"):
            child, how, used = self._tune_first(rng, trees)
        for _ in range(ATTEMPTS if trees and child is None else 0):
            tree, how, used = self.vary(rng, trees)
            if tree is not None and self.within_limits(tree) and tree not in trees \
                    and self.grammar.type_of(tree) == VEC:
                child = tree
                break
        if child is None:
            child, how, used = self.random_tree(rng), "fresh ramped half-and-half tree", ()
        ids = tuple(usable[i][0].id for i in used)
        prompt = f"gp: {how}" + (f" of {', '.join(f'#{i}' for i in ids)}" if ids else "") \
            + f" -> size {node_size(child)}, depth {tree_depth(child)}"
        return Proposal(code=self.render(child), proposer=self.name, parents=ids, prompt=prompt,
                        seconds=time.perf_counter() - started)
