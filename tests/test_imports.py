"""The house drawn from its imports: no module imports itself through others, no package does, and every
task stands on the same floor (the public contract, the compiled-program format and its evaluator, and the
toolkit, nothing of the engine).

Built with `ast` from the source, every import counted: at module level, inside functions (lazy), and under
`if TYPE_CHECKING:`. Packages are checked at every level of the tree: inside each package, its modules and
its subpackages (each with everything below it) are the rooms, and an import between two modules is an edge
between the rooms that hold them where their paths part. So `policyforge`'s rooms are contract, errors, wire,
program, program_kernel, cli, toolkit, trees, trust, search, report and tasks; inside `tasks/k8s_gpu`, task,
cli, simulate, ... and the `bound` subpackage, which may use the simulator as long as nothing it uses uses it back."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
FLOOR = ("policyforge.contract", "policyforge.errors", "policyforge.wire", "policyforge.program",
         "policyforge.program_kernel", "policyforge.toolkit")
"""What a task may import of policyforge, besides its own package: `program_kernel` is the compiled evaluator
of `program`'s format, for a task's own numba loop."""


def on_floor(name: str) -> bool:
    """`name` is a module of the floor or inside one (a prefix alone is not: `policyforge.programs` is not
    `policyforge.program`)."""
    return any(name == f or name.startswith(f + ".") for f in FLOOR)
ENGINE = ("policyforge.search", "policyforge.trust", "policyforge.cli", "policyforge.report")


@lru_cache(maxsize=1)
def modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package's __init__)."""
    out = {}
    for path in sorted((SRC / "policyforge").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if package else parts)] = (path, package)
    return out


def imported(path: Path, package: str) -> set[str]:
    """Every policyforge name `path` imports anywhere in its body (relative imports resolved)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names |= {f"{base}.{a.name}" for a in node.names} | {base}
    return {n for n in names if n == "policyforge" or n.startswith("policyforge.")}


def resolve(name: str) -> str:
    """The module a dotted name lands in (`policyforge.contract.Task` -> `policyforge.contract`)."""
    known = modules()
    while name not in known:
        name = name.rpartition(".")[0]
    return name


@lru_cache(maxsize=1)
def graph() -> dict[str, set[str]]:
    out = {}
    for name, (path, package) in modules().items():
        out[name] = {resolve(n) for n in imported(path, name if package else name.rpartition(".")[0])} - {name}
        # `from policyforge.x import y` names x itself only when y is not a module: drop a package pulled in
        # only as the parent of a module also imported
        out[name] = {m for m in out[name] if not (modules()[m][1] and any(o.startswith(m + ".") for o in out[name]))}
    return out


def rooms(a: str, b: str) -> tuple[str, str] | None:
    """The two rooms an import from module `a` to module `b` joins: the children of the deepest package that
    holds both (None when one is that package itself, an `__init__`)."""
    pa, pb = a.split("."), b.split(".")
    common = 0
    while common < min(len(pa), len(pb)) and pa[common] == pb[common]:
        common += 1
    if common >= min(len(pa), len(pb)):
        return None
    return ".".join(pa[: common + 1]), ".".join(pb[: common + 1])


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_sees_lazy_and_relative_imports():
    edges = graph()
    assert "policyforge.tasks.registry" in edges["policyforge.cli"]  # imported inside functions only
    assert "policyforge.contract" in edges["policyforge.tasks.registry"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert rooms("policyforge.tasks.k8s_gpu.bound.cli", "policyforge.tasks.k8s_gpu.experiment") == \
        ("policyforge.tasks.k8s_gpu.bound", "policyforge.tasks.k8s_gpu.experiment")
    assert rooms("policyforge.search.loop", "policyforge.trust.runner") == ("policyforge.search", "policyforge.trust")
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_through_others():
    assert cycles(graph()) == []


def package_graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, targets in graph().items():
        for target in targets:
            pair = rooms(module, target)
            if pair is not None:
                edges.setdefault(pair[0], set()).add(pair[1])
                edges.setdefault(pair[1], set())
    return edges


def test_no_package_imports_itself_through_others():
    edges = package_graph()
    assert {"policyforge.search", "policyforge.trust", "policyforge.tasks.k8s_gpu.bound"} <= set(edges)
    assert "policyforge.trust" in edges["policyforge.search"]
    assert cycles(edges) == []


def test_every_task_stands_on_the_public_floor():
    """A module under policyforge/tasks imports only the contract, errors, wire, the toolkit and its own task
    package (the registry imports the contract only): nothing of search/, trust/, report/ or the CLI."""
    bad = {}
    for module, targets in graph().items():
        if not module.startswith("policyforge.tasks."):
            continue
        own = ".".join(module.split(".")[:3])
        wrong = sorted(t for t in targets if not on_floor(t) and t != own and not t.startswith(own + "."))
        if wrong:
            bad[module] = wrong
    assert bad == {}
    assert not any(t.startswith(ENGINE) for m, ts in graph().items() if m.startswith("policyforge.tasks") for t in ts)


def test_the_example_task_stands_on_the_same_floor():
    for path in (ROOT / "examples").rglob("*.py"):
        names = {resolve(n) for n in imported(path, "")}
        assert all(on_floor(n) for n in names), (path, names)


def test_the_engine_finds_tasks_only_through_the_registry():
    """No module outside policyforge/tasks imports a task package: they are all found by reference."""
    reach = {m: sorted(t for t in targets if t.startswith("policyforge.tasks.") and t != "policyforge.tasks.registry")
             for m, targets in graph().items() if not m.startswith("policyforge.tasks")}
    assert {m: t for m, t in reach.items() if t} == {}
