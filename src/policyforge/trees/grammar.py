"""A typed expression grammar derived from a task's declared policy interface, and its trees as code.

The offline (GP) proposer searches over expressions, not text, so every program it writes is a valid policy
by construction. The grammar is generated from the task's PolicySpec (per-candidate fields, scalar fields,
vector features), so another task's spec gives another grammar; the little a spec cannot say (which fields
are identifiers rather than quantities, useful constants, baseline-like seed trees) comes from the task's
GPTable (policyforge.contract).

Types: `vec` (one float per candidate), `num` (a scalar; usable wherever a `vec` is, by broadcasting),
`bool` (elementwise comparison) and `sbool` (a scalar bool such as `pod.is_sharing`; usable wherever a
`bool` is). A `num` position never receives a vector, so `np.clip` bounds and scalar-only subtrees stay
scalar. Trees are stored in a rendered module as an s-expression on a `# gp-tree:` line, and `parse_sexpr`
reads them back exactly.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from policyforge.contract import GPTable, PolicySpec

VEC, NUM, BOOL, SBOOL = "vec", "num", "bool", "sbool"
TREE_MARK = "# gp-tree: "
EPS = 1e-9
"""Protected division: a divisor within EPS of zero counts as 1."""
MAX_NESTING = 100
"""Deeper s-expressions are refused rather than recursed into (a hand-edited parent could be anything)."""
PROGRAM = "program"
"""The root of a program that evolves several functions at once (`GPTable.functions`): one child tree per
function, in order. Never a variation point; each child is typed and depth-limited as a tree of its own."""
SCORE_DOC = "One score per candidate, higher is better."


@dataclass(frozen=True)
class Node:
    """One tree node: an operator with children, a named terminal, or the constant `const` with `value`."""

    op: str
    children: tuple[Node, ...] = ()
    value: float = 0.0


@dataclass(frozen=True)
class Operator:
    """An operator: its arity, its family (operators of one family are interchangeable) and a phrase."""

    name: str
    arity: int
    family: str
    phrase: str


OPERATORS: dict[str, Operator] = {op.name: op for op in (
    Operator("add", 2, "arith", "sum"),
    Operator("sub", 2, "arith", "difference"),
    Operator("mul", 2, "arith", "product"),
    Operator("div", 2, "arith", "ratio (protected)"),
    Operator("min", 2, "arith", "elementwise minimum"),
    Operator("max", 2, "arith", "elementwise maximum"),
    Operator("neg", 1, "unary", "negation"),
    Operator("abs", 1, "unary", "absolute value"),
    Operator("floor", 1, "unary", "floor"),  # integer scores tie, and ties go to a fixed node order
    Operator("where", 3, "where", "choice by condition"),
    Operator("clip", 3, "clip", "clip to scalar bounds"),
    Operator("lt", 2, "compare", "less-than test"),
    Operator("gt", 2, "compare", "greater-than test"),
)}


@dataclass(frozen=True)
class Terminal:
    """A named leaf: its token in trees, its type, how the policy computes it, and what it means."""

    name: str
    type: str
    expr: str
    local: str
    doc: str
    feature: str | None = None
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:  # a comment in the rendered module: one line
        object.__setattr__(self, "doc", " ".join(self.doc.split()))
    """A feature's arguments: names of the evolved function's parameters, passed in this order."""


@dataclass(frozen=True)
class Grammar:
    """The terminals and operators of one task, and the typing rules every tree obeys."""

    task: str
    signatures: tuple[str, ...]
    """`def name(args):` of each evolved function; a tree per function under a PROGRAM root when several."""
    docs: tuple[str, ...]
    length_expr: str
    feature_module: str
    terminals: dict[str, Terminal]
    constants: tuple[float, ...]
    seeds: dict[str, str]
    imports: tuple[str, ...] = ()
    epilogue: tuple[str, ...] = ()

    def of_type(self, type_: str) -> tuple[Terminal, ...]:
        """Named terminals of exactly `type_`."""
        return tuple(t for t in self.terminals.values() if t.type == type_)

    @property
    def multi(self) -> bool:
        return len(self.signatures) > 1

    @property
    def function_names(self) -> tuple[str, ...]:
        return tuple(sig.removeprefix("def ").split("(")[0] for sig in self.signatures)

    def functions(self, tree: Node) -> tuple[Node, ...]:
        """The tree of each evolved function, in the order of `signatures`."""
        return tree.children if self.multi else (tree,)

    def valid_program(self, tree: Node) -> bool:
        """Whether `tree` is a whole program: a vector tree, or a PROGRAM of one per function."""
        if not self.multi:
            return self.validate(tree)
        return tree.op == PROGRAM and len(tree.children) == len(self.signatures) \
            and all(self.validate(c) for c in tree.children)

    def type_of(self, node: Node) -> str:
        """The inferred type: `vec`/`bool` when any per-candidate leaf is inside, `num`/`sbool` otherwise."""
        if node.op == PROGRAM:
            return VEC if all(self.type_of(c) == VEC for c in node.children) else NUM
        if node.op == "const":
            return NUM
        if node.op in self.terminals:
            return self.terminals[node.op].type
        vector = any(self.type_of(c) in (VEC, BOOL) for c in node.children)
        if OPERATORS[node.op].family == "compare":
            return BOOL if vector else SBOOL
        return VEC if vector else NUM

    def validate(self, node: Node, required: str = VEC) -> bool:
        """Whether `node` is a well-typed tree that may stand where `required` is expected."""
        if node.op == "const":
            return not node.children and math.isfinite(node.value) and fits(NUM, required)
        if node.op in self.terminals:
            return not node.children and fits(self.terminals[node.op].type, required)
        op = OPERATORS.get(node.op)
        if op is None or len(node.children) != op.arity or not allowed_at(op, required):
            return False
        wants = child_requirements(op, required)
        return all(self.validate(c, w) for c, w in zip(node.children, wants, strict=True)) \
            and fits(self.type_of(node), required)


def fits(actual: str, required: str) -> bool:
    """A scalar can stand for a vector (numpy broadcasts), never the other way round."""
    return actual == required or (actual, required) in ((NUM, VEC), (SBOOL, BOOL))


def allowed_at(op: Operator, required: str) -> bool:
    """Comparisons make booleans; every other operator makes numbers."""
    return (op.family == "compare") == (required in (BOOL, SBOOL))


def child_requirements(op: Operator, required: str) -> tuple[str, ...]:
    """What each child of `op` must be when `op` itself must be `required`."""
    if op.family == "compare":
        side = VEC if required == BOOL else NUM
        return side, side
    if op.family == "where":
        return (BOOL if required == VEC else SBOOL), required, required
    if op.family == "clip":
        return required, NUM, NUM
    return (required,) * op.arity


def _arguments(signature: str) -> tuple[str, ...]:
    """The parameter names of `name(a, b)`; none for a signature without parentheses (a constant)."""
    if "(" not in signature or ")" not in signature:
        return ()
    inside = signature[signature.index("(") + 1: signature.rindex(")")]
    return tuple(a.strip() for a in inside.split(",") if a.strip())


RESERVED = frozenset({"np", "float", "bool", "len", "raw", "denom"})
"""Names the rendered module uses itself; a terminal's name or local may not shadow them."""


def _check_names(spec: PolicySpec, params: tuple[str, ...], terminals: dict[str, Terminal]) -> None:
    """ValueError when a terminal would render to code that does not compute what the interpreter computes
    (a keyword or non-identifier as a field or feature name, a local shadowing another name): the trusted
    figure and the exported module must be the same policy."""
    import keyword

    locals_seen: dict[str, str] = {}
    for t in terminals.values():
        parts = t.name.split(".") + [t.local]
        bad = [p for p in parts if not p.isidentifier() or keyword.iskeyword(p)]
        shadow = {t.local, t.feature or ""} & (RESERVED | set(params))
        if bad or shadow or t.local in locals_seen or (t.feature and t.feature in locals_seen):
            raise ValueError(f"task {spec.task}: GP terminal {t.name!r} cannot be rendered faithfully "
                             f"(a keyword, non-identifier or name clash: {sorted(set(bad) | shadow) or t.local})")
        locals_seen[t.local] = t.name
        if t.feature:
            locals_seen[t.feature] = t.name


def build_grammar(spec: PolicySpec, table: GPTable | None = None) -> Grammar:
    """The grammar of `spec`: per-candidate fields (shape K) of the vector view, scalar fields of the scalar
    view, and features returning K values whose arguments the scoring function has."""
    table = table or GPTable()
    score = next(f for f in spec.functions if f.required)
    evolved = [score] if not table.functions else \
        [next(f for f in spec.functions if f.name == name) for name in table.functions]
    params = _arguments(score.signature)
    if any(_arguments(f.signature) != params for f in evolved):
        raise ValueError(f"task {spec.task}: functions evolved together must take the same arguments")
    terminals: dict[str, Terminal] = {}
    for fs in spec.view(table.vector_view).fields:
        name = f"{table.vector_view}.{fs.name}"
        if fs.shape == "K" and fs.kind in ("int", "float") and name not in table.exclude:
            terminals[name] = Terminal(name, VEC, f"np.asarray({name}, dtype=float)",
                                       f"{table.vector_view}_{fs.name}", f"{fs.doc} ({fs.unit})")
    for fs in spec.view(table.scalar_view).fields:
        name = f"{table.scalar_view}.{fs.name}"
        if fs.shape != "scalar" or name in table.exclude:
            continue
        local = f"{table.scalar_view}_{fs.name}"
        if fs.kind == "bool":
            terminals[name] = Terminal(name, SBOOL, f"bool({name})", local, fs.doc)
        elif fs.kind in ("int", "float"):
            terminals[name] = Terminal(name, NUM, f"float({name})", local, f"{fs.doc} ({fs.unit})")
    for fn in spec.features:
        args = table.feature_args.get(fn.name, _arguments(fn.signature))
        per_candidate = re.search(r"\bK\b", fn.returns) is not None
        if per_candidate and args and set(args) <= set(params) and fn.name not in table.exclude:
            call = f"{fn.name}({', '.join(args)})"
            terminals[fn.name] = Terminal(fn.name, VEC, f"np.asarray({call}, dtype=float)", f"feat_{fn.name}",
                                          f"{fn.doc} ({fn.returns})", feature=fn.name,
                                          args=tuple(args))
    _check_names(spec, params, terminals)
    if not any(t.type == VEC for t in terminals.values()):
        raise ValueError(f"task {spec.task}: no per-candidate terminal to build a GP grammar from")
    docs = (SCORE_DOC,) if len(evolved) == 1 else tuple(f"{f.returns[0].upper()}{f.returns[1:]}: {f.doc}."
                                                         for f in evolved)
    return Grammar(spec.task, tuple(f"def {f.signature}:" for f in evolved), docs, f"len({table.vector_view})",
                   spec.feature_module, terminals, table.constants, dict(table.seeds), table.imports,
                   table.epilogue)


# --- trees as data ------------------------------------------------------------------------------------------


def tree_size(node: Node) -> int:
    return 1 + sum(tree_size(c) for c in node.children)


def tree_depth(node: Node) -> int:
    """A lone leaf has depth 1; a PROGRAM is as deep as its deepest function."""
    if node.op == PROGRAM:
        return max((tree_depth(c) for c in node.children), default=0)
    return 1 + max((tree_depth(c) for c in node.children), default=0)


def to_sexpr(node: Node) -> str:
    """One line; constants as repr(float), so the round trip is exact."""
    if node.op == "const":
        return repr(float(node.value))
    if not node.children:
        return node.op
    return f"({node.op} {' '.join(to_sexpr(c) for c in node.children)})"


def parse_sexpr(text: str) -> Node:
    """The tree of an s-expression; ValueError when it is malformed (grammar checks are the caller's)."""
    tokens = re.findall(r"\(|\)|[^\s()]+", text)
    pos = 0

    def read(level: int) -> Node:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError("gp-tree: unexpected end")
        if level > MAX_NESTING:
            raise ValueError("gp-tree: nested too deeply")
        token = tokens[pos]
        pos += 1
        if token == ")":
            raise ValueError("gp-tree: unexpected ')'")
        if token != "(":
            try:
                value = float(token)
            except ValueError:
                if token == "const":
                    raise ValueError("gp-tree: `const` is reserved") from None
                return Node(token)
            if not math.isfinite(value):
                raise ValueError(f"gp-tree: non-finite constant {token}")
            return Node("const", value=value)
        if pos >= len(tokens) or tokens[pos] in ("(", ")"):
            raise ValueError("gp-tree: operator expected after '('")
        op = tokens[pos]
        pos += 1
        children = []
        while pos < len(tokens) and tokens[pos] != ")":
            children.append(read(level + 1))
        if pos >= len(tokens):
            raise ValueError("gp-tree: missing ')'")
        pos += 1
        return Node(op, tuple(children))

    node = read(0)
    if pos != len(tokens):
        raise ValueError("gp-tree: trailing text")
    return node


def tree_of(grammar: Grammar, code: str) -> Node | None:
    """The well-typed program on `code`'s `# gp-tree:` line, or None (no line, malformed, ill-typed)."""
    line = tree_line(code)
    if line is None:
        return None
    try:
        tree = parse_sexpr(line)
    except ValueError:
        return None
    return tree if grammar.valid_program(tree) else None


def tree_line(code: str) -> str | None:
    """The s-expression on a module's `# gp-tree:` line, if it has one."""
    for line in code.splitlines():
        if line.startswith(TREE_MARK):
            return line[len(TREE_MARK):].strip()
    return None


# --- trees as policy modules --------------------------------------------------------------------------------

_NAME_STEM = {"add": "total", "sub": "diff", "mul": "prod", "div": "ratio", "min": "low", "max": "high",
              "neg": "neg", "abs": "mag", "floor": "step", "where": "choice", "clip": "clipped", "lt": "mask",
              "gt": "mask"}
_INFIX = {"add": ("+", 1), "sub": ("-", 1), "mul": ("*", 2), "div": ("/", 2), "lt": ("<", 0), "gt": (">", 0)}
_CALL = {"min": "np.minimum", "max": "np.maximum", "abs": "np.abs", "floor": "np.floor", "where": "np.where",
         "clip": "np.clip"}
ATOM = 10
LONG = 44
"""An operand longer than this many characters gets its own named line."""


class _Renderer:
    """Turns one tree into the body of `score`: a line per used terminal, then named intermediates."""

    def __init__(self, grammar: Grammar, tree: Node) -> None:
        self.grammar = grammar
        self.tree = tree
        self.lines: list[tuple[str, str, str]] = []  # (name, expression, comment)
        self.names: dict[Node, str] = {}
        self.counter = 0
        counts = Counter(_subtrees(tree))
        self.shared = {n for n, c in counts.items() if c > 1 and tree_size(n) >= 3}

    def leaves(self, node: Node) -> list[str]:
        found: list[str] = []
        for sub in _subtrees(node):
            if not sub.children and sub.op != "const" and sub.op not in found:
                found.append(sub.op)
        return found

    def describe(self, node: Node) -> str:
        """A line's comment: what its operator does and the leaves it reads (at most four named)."""
        leaves = self.leaves(node)
        uses = ", ".join(leaves[:4]) + (", ..." if len(leaves) > 4 else "") if leaves else "constants only"
        return f"{OPERATORS[node.op].phrase}; reads {uses}"

    def hoist(self, node: Node, text: str, stem: str | None = None) -> str:
        self.counter += 1
        name = f"{stem or _NAME_STEM[node.op]}{self.counter}"
        self.lines.append((name, text, self.describe(node)))
        self.names[node] = name
        return name

    def atom(self, node: Node) -> str:
        text, prec = self.expr(node)
        if prec >= ATOM:
            return text
        return self.hoist(node, text)

    def operand(self, node: Node) -> tuple[str, int]:
        text, prec = self.expr(node)
        if node.children and len(text) > LONG and node not in self.names:
            return self.hoist(node, text), ATOM
        return text, prec

    def expr(self, node: Node) -> tuple[str, int]:
        """Python text of `node` and its precedence (ATOM for names, calls and literals)."""
        if node in self.names:
            return self.names[node], ATOM
        if node.op == "const":
            value = float(node.value)
            return (repr(value) if value >= 0 else f"({value!r})"), ATOM
        if not node.children:
            return self.grammar.terminals[node.op].local, ATOM
        parts = [self.operand(c) for c in node.children]
        op = node.op
        if op == "neg":
            inner, prec = parts[0]
            text, prec = f"-{inner if prec >= ATOM else f'({inner})'}", 3
        elif op == "div" and not (node.children[1].op == "const" and abs(node.children[1].value) > EPS):
            left = _wrap(parts[0], 2, strict=False)
            divisor = parts[1][0]
            if node.children[1].children and node.children[1] not in self.names:  # named once, used twice
                divisor = self.hoist(node.children[1], divisor, "denom")
            text, prec = f"{left} / np.where(np.abs({divisor}) > {EPS!r}, {divisor}, 1.0)", 2
        elif op in _INFIX:
            symbol, prec = _INFIX[op]
            text = f"{_wrap(parts[0], prec, strict=False)} {symbol} {_wrap(parts[1], prec, strict=True)}"
        else:
            text, prec = f"{_CALL[op]}({', '.join(p[0] for p in parts)})", ATOM
        if node in self.shared and node is not self.tree:
            return self.hoist(node, text), ATOM
        return text, prec

    def body(self) -> list[str]:
        tree = self.tree
        for child in tree.children:  # the top-level operands read best as named lines
            if tree_size(child) >= 3 and tree.op != "where":
                self.atom(child)
        text, _ = self.expr(tree)
        if tree.children:
            comment = self.describe(tree)
        else:
            comment = "the score is this single terminal"
        self.lines.append(("raw", text, comment))
        return [f"{name} = {text}  # {comment}" for name, text, comment in self.lines]


def _wrap(part: tuple[str, int], prec: int, strict: bool) -> str:
    text, own = part
    if strict and text.startswith("-"):
        return f"({text})"  # `a - -b` is legal but reads badly
    return text if own > prec or (own == prec and not strict) else f"({text})"


def _subtrees(node: Node):
    yield node
    for child in node.children:
        yield from _subtrees(child)


def _function(grammar: Grammar, signature: str, doc: str, tree: Node) -> list[str]:
    """One evolved function: a line per used terminal, named intermediates, a finite result per candidate."""
    used = [t for t in grammar.terminals.values() if any(n.op == t.name for n in _subtrees(tree))]
    body = _Renderer(grammar, tree).body()
    header = [f"{t.local} = {t.expr}  # {t.doc}" for t in used]
    return [
        signature,
        f'    """{doc}"""',
        '    with np.errstate(all="ignore"):',
        *[f"        {line}" for line in header + body],
        f"    return np.array(np.broadcast_to(np.nan_to_num(np.asarray(raw, dtype=float)), "
        f"({grammar.length_expr},)), dtype=float)",
    ]


def render(grammar: Grammar, tree: Node) -> str:
    """A readable policy module computing `tree`: finite, one float per candidate, whatever the inputs."""
    used = [t for t in grammar.terminals.values() if any(n.op == t.name for n in _subtrees(tree))]
    features = sorted(t.feature for t in used if t.feature)
    imports = ["import numpy as np"]
    if features:
        imports.append(f"from {grammar.feature_module} import {', '.join(features)}")
    imports += grammar.imports
    functions: list[str] = []
    for signature, doc, subtree in zip(grammar.signatures, grammar.docs, grammar.functions(tree), strict=True):
        functions += ["", "", *_function(grammar, signature, doc, subtree)]
    lines = [
        f'"""Policy generated by policyforge\'s genetic-programming proposer (tree size {tree_size(tree)}, '
        f"depth {tree_depth(tree)}).",
        "",
        "Every operation is elementwise over the candidates; division is protected (a divisor within 1e-9 of",
        "zero counts as 1); the result is made finite and one float per candidate. The `gp-tree` line is the",
        'program itself, read back by the proposer; the code below is generated from it."""',
        "",
        *imports,
        "",
        f"{TREE_MARK}{to_sexpr(tree)}",
        *functions,
        *grammar.epilogue,
    ]
    return "\n".join(lines) + "\n"
