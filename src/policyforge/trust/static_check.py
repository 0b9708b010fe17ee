"""The sandbox's first line: refuse candidate code that reaches for anything beyond pure computation.

A syntactic allow/deny check on the AST, cheap enough to run before spawning anything. It cannot be complete
(Python is too dynamic), so the OS layer in `sandbox.py` contains whatever slips through; what it buys is
that honest-but-sloppy and most hostile candidates fail fast, with a one-line reason a proposer can act on.

The deny lists below were derived by walking every module reachable from the allowed imports through
non-underscore attributes (numpy 2.x); `tests/test_static_check.py` repeats that walk so a numpy upgrade that
opens a new path fails a test instead of silently widening the sandbox.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.metadata
import importlib.util
import sys
import threading

MAX_SOURCE_CHARS = 200_000

FORBIDDEN_NAMES = frozenset({
    "eval", "exec", "compile", "open", "globals", "locals", "vars", "getattr", "setattr", "delattr",
    "input", "breakpoint", "memoryview", "help", "exit", "quit", "license", "credits", "copyright",
})
"""Builtins that load code, touch files or reflect on namespaces. `type` is handled apart (1-arg only)."""

_IO_ATTRIBUTES = {
    "load", "loads", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt", "fromfile",
    "tofile", "fromregex", "memmap", "DataSource", "dump", "dumps", "open", "recfromcsv", "recfromtxt",
}
_CODE_ATTRIBUTES = {
    # numpy submodules and helpers that reach ctypes, compilers, test runners, pickle or stdlib modules
    "ctypes", "ctypeslib", "cffi", "capsule", "lib", "f2py", "distutils", "testing", "test", "core", "compat",
    "ma", "rec", "show_config", "show_runtime", "get_include", "lookfor", "info", "source", "add_newdoc",
    "add_docstring", "add_newdoc_ufunc",
    # stdlib modules that numpy submodules import as globals (abc ... warnings), and other usual suspects
    "abc", "functools", "operator", "re", "warnings", "os", "sys", "subprocess", "socket", "builtins",
    "importlib", "inspect", "io", "shutil", "pathlib", "pickle", "marshal", "types", "gc", "signal",
    "threading", "multiprocessing", "tempfile", "code", "codeop", "runpy", "posix", "resource", "mmap",
    "select", "selectors", "asyncio", "weakref", "copyreg", "contextlib", "linecache", "tokenize", "dis",
    "ast", "zipfile", "tarfile", "sysconfig", "site", "atexit", "traceback", "urllib", "http", "platform",
}
_MUTATION_ATTRIBUTES = {"base", "flags", "setflags"}
"""`arr.base` is the writable array behind a read-only view; flags/setflags make a view writable again."""
_REFLECTION_ATTRIBUTES = {
    "format", "format_map",  # "{0.__class__}".format(x) walks attributes from a string
    "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code",
    "ag_await", "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "f_trace", "tb_frame", "tb_next",
    "co_code", "co_consts", "co_names",
}
_SEED_ATTRIBUTES = {
    "bit_generator", "seed_seq", "entropy", "spawn_key", "pool_size", "n_children_spawned", "state",
    "get_state", "set_state", "generate_state", "spawn", "jumped", "advance",
}
"""A generator's seed and state: `rng.bit_generator.seed_seq.entropy` was the instance's seed. The engine's
generators no longer lead back to any key (contract.unseeded); refusing the path is defence in depth."""
FORBIDDEN_ATTRIBUTES = frozenset(
    _IO_ATTRIBUTES | _CODE_ATTRIBUTES | _MUTATION_ATTRIBUTES | _REFLECTION_ATTRIBUTES | _SEED_ATTRIBUTES)

RAW_ARRAY_TYPES = frozenset({"ndarray", "recarray", "chararray", "memmap", "matrix"})
"""Constructors that accept a raw buffer (and so can forge object pointers): they may be named where the class
is only looked at (isinstance(), a comparison, an annotation), never called or kept."""


_PROTECTED_NAMES = frozenset({"isinstance", "issubclass", "type"})
_TYPE_NODES = (ast.Attribute, ast.Name, ast.Tuple, ast.Subscript, ast.Constant, ast.BinOp, ast.BitOr,
               ast.Load)


class _Rejected(Exception):
    def __init__(self, node: ast.AST | None, message: str) -> None:
        line = getattr(node, "lineno", None)
        super().__init__(f"line {line}: {message}" if line else message)


_PARSE_LOCK = threading.Lock()
"""Parses one at a time: concurrent `ast.parse` in threads raised "AST constructor recursion depth mismatch"
(SystemError) on CPython 3.11.7 when the engine checked several baselines at once."""


def parse(code: str) -> ast.Module:
    """`ast.parse`, one thread at a time (CPython 3.11's AST constructor keeps a recursion count that
    concurrent parses corrupt)."""
    with _PARSE_LOCK:
        return ast.parse(code)


def check_source(code: str, allowed_imports: tuple[str, ...],
                 required_functions: tuple[str, ...] | tuple[tuple[str, ...], ...] = ()) -> str | None:
    """None when `code` may run in the sandbox, otherwise a one-line reason. `allowed_imports` is the task's
    allow-list (PolicySpec.allowed_imports); `required_functions` the top-level functions its interface
    requires, or one such tuple per interface the task accepts (then one of them must be complete)."""
    if len(code) > MAX_SOURCE_CHARS:
        return f"source too large ({len(code)} characters, limit {MAX_SOURCE_CHARS})"
    try:
        tree = parse(code)
    except SyntaxError as exc:
        return f"syntax error at line {exc.lineno}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"unparsable source: {type(exc).__name__}"
    try:
        _Checker(tuple(allowed_imports)).visit(tree)
    except _Rejected as exc:
        return str(exc)
    except RecursionError:
        return "source too deeply nested"
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    options = [required_functions] if all(isinstance(n, str) for n in required_functions) else required_functions
    missing = [[n for n in names if n not in defined] for names in options]
    if missing and all(missing):
        wanted = " or ".join(", ".join(names) for names in options)
        return f"no top-level function {missing[0][0]} (the interface needs: {wanted})"
    return None


def _exports(module: str) -> frozenset[str] | None:
    """What a policy may use from `module`: its `__all__` when it is a task's own module (a policyforge
    module, or one that belongs to no library: a feature module beside a task file), None (no limit) for
    libraries (the standard library, numpy, any installed distribution). Everything else a task's module
    holds (the simulator it imports, tables it computes with) stays out of a policy's reach; a task module
    without `__all__` exports nothing."""
    if not _task_module(module):
        return None
    try:
        loaded = importlib.import_module(module)
    except ImportError:
        return None
    names = getattr(loaded, "__all__", None)
    if names is None:
        # a package above a task's feature module (policyforge, policyforge.tasks) is a path, not an API
        return None if hasattr(loaded, "__path__") and module.split(".")[0] == "policyforge" else frozenset()
    return frozenset(str(n) for n in names)


@functools.lru_cache(maxsize=256)
def _task_module(module: str) -> bool:
    """True for policyforge's modules, installed tasks' packages and modules of no library (found through a
    task file's folder)."""
    root = module.split(".")[0]
    if root == "policyforge" or root in _task_packages():
        return True
    if root in sys.stdlib_module_names or root in _distributions():
        return False
    try:
        spec = importlib.util.find_spec(root)
    except (ImportError, ValueError):
        return True  # unknown here: refuse its names rather than allow them all
    return spec is None or spec.origin not in ("built-in", "frozen")


@functools.lru_cache(maxsize=1)
def _task_packages() -> frozenset[str]:
    """Top-level packages of installed tasks (entry points `policyforge.tasks`): their modules are task code."""
    try:
        points = importlib.metadata.entry_points(group="policyforge.tasks")
    except Exception:  # a broken installation's metadata: no installed task packages, as the registry finds
        return frozenset()
    return frozenset(point.value.split(":")[0].split(".")[0] for point in points)


@functools.lru_cache(maxsize=1)
def _distributions() -> frozenset[str]:
    """Top-level names that installed distributions provide (numpy, scipy ...): libraries, not task code."""
    return frozenset(importlib.metadata.packages_distributions())


def _not_exported(module: str, exported: frozenset[str], name: str) -> str:
    if not exported:
        return f"{module} declares no __all__, so a policy may use nothing from it ({name})"
    return f"{module} exports only {', '.join(sorted(exported))}; {name} is not among them"


class _Checker(ast.NodeVisitor):
    """Raises _Rejected at the first construct that is not allowed."""

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self.allowed = allowed
        self.type_check_args: set[int] = set()  # ids of nodes allowed to name RAW_ARRAY_TYPES
        self.compared: set[int] = set()  # ids of calls whose value is only compared
        self.feature_aliases: dict[str, tuple[str, frozenset[str]]] = {}  # name -> (module, its __all__)

    # --- imports -------------------------------------------------------------------------------------------
    def _module_ok(self, name: str) -> bool:
        for root in self.allowed:
            if name == root:
                return True
            if name.startswith(root + "."):
                rest = name[len(root) + 1:].split(".")
                return not any(p.startswith("_") or p in FORBIDDEN_ATTRIBUTES for p in rest)
        return False

    def _deny_import(self, node: ast.AST, name: str) -> None:
        raise _Rejected(node, f"import of {name!r} is not allowed (allowed: {', '.join(self.allowed)})")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not self._module_ok(alias.name):
                self._deny_import(node, alias.name)
            top = alias.name.split(".")[0]
            if alias.asname is None and top != alias.name and top not in self.allowed:
                # `import a.b.c` binds `a`, which reaches every loaded submodule of `a`
                raise _Rejected(node, f"write `import {alias.name} as NAME`: binding {top!r} is not allowed")
            self._identifier(node, alias.asname or top)
            exported = _exports(alias.name)
            bound = alias.asname or (alias.name if "." not in alias.name else None)
            if exported is not None and bound:
                self.feature_aliases[bound] = (alias.name, exported)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module == "__future__" and not node.level:
            return  # compiler directives such as `annotations`
        if node.level:
            raise _Rejected(node, "relative imports are not allowed")
        for alias in node.names:
            if alias.name == "*":
                raise _Rejected(node, f"`from {module} import *` is not allowed; import names explicitly")
            if not (self._module_ok(module) or f"{module}.{alias.name}" in self.allowed):
                self._deny_import(node, module)
            if (alias.name.startswith("_") or alias.name in FORBIDDEN_ATTRIBUTES
                    or alias.name in RAW_ARRAY_TYPES or alias.name in FORBIDDEN_NAMES):
                raise _Rejected(node, f"importing {alias.name!r} from {module!r} is not allowed")
            exported = _exports(module)
            if exported is not None and alias.name not in exported:
                raise _Rejected(node, _not_exported(module, exported, repr(alias.name)))
            self._identifier(node, alias.asname or alias.name)
            submodule = _exports(f"{module}.{alias.name}")
            if submodule is not None:
                self.feature_aliases[alias.asname or alias.name] = (f"{module}.{alias.name}", submodule)

    # --- names and attributes ------------------------------------------------------------------------------
    def _identifier(self, node: ast.AST, name: str) -> None:
        """A name being bound (or, from visit_Name, used)."""
        if name.startswith("__"):
            raise _Rejected(node, f"names starting with '__' are not allowed: {name!r}")
        if name in _PROTECTED_NAMES:  # the rules above trust these to be the builtins
            raise _Rejected(node, f"redefining {name} is not allowed")

    def _type_position(self, expr: ast.expr | None) -> None:
        """Let RAW_ARRAY_TYPES appear in `expr` (an isinstance() class or an annotation) when it only names
        types: `np.ndarray`, `(np.ndarray, list)`, `np.ndarray | None`, `list[np.ndarray]`, not a call or
        a `:=` that would keep the class for later."""
        if expr is None or not all(isinstance(n, _TYPE_NODES) for n in ast.walk(expr)):
            return
        self.type_check_args.update(id(n) for n in ast.walk(expr) if isinstance(n, ast.Attribute))

    def _attribute(self, node: ast.AST, attr: str) -> None:
        if attr.startswith("_"):
            raise _Rejected(node, f"attributes starting with '_' are not allowed: .{attr}")
        if attr in _SEED_ATTRIBUTES:
            raise _Rejected(node, f"attribute .{attr} is not allowed (a generator's seed and state: use its draws)")
        if attr in FORBIDDEN_ATTRIBUTES:
            raise _Rejected(node, f"attribute .{attr} is not allowed (files, native code, reflection)")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("__") or not isinstance(node.ctx, ast.Load):
            self._identifier(node, node.id)
        if node.id in FORBIDDEN_NAMES:
            raise _Rejected(node, f"{node.id} is not allowed")
        if node.id == "type":
            raise _Rejected(node, "type() may only be called with one argument, in a comparison")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._attribute(node, node.attr)
        if isinstance(node.value, ast.Name) and node.value.id in self.feature_aliases:
            module, exported = self.feature_aliases[node.value.id]
            if node.attr not in exported:
                raise _Rejected(node, _not_exported(module, exported, f".{node.attr}"))
        if not isinstance(node.ctx, ast.Load):
            raise _Rejected(node, f"assigning or deleting attributes is not allowed (.{node.attr})")
        if node.attr in RAW_ARRAY_TYPES and id(node) not in self.type_check_args:
            raise _Rejected(node, f".{node.attr} may only be used in isinstance(); create arrays with "
                                  "np.array, np.zeros, np.full, ...")
        self.visit(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "type":
            # type(int) is `type` itself, so a kept type(x) would lead to type(name, bases, namespace)
            if (len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred)
                    or id(node) not in self.compared):
                raise _Rejected(node, "type() may only be called with one argument, in a comparison such "
                                      "as `type(x) is float`; use isinstance()")
            self.visit(node.args[0])
            return
        if isinstance(func, ast.Name) and func.id in ("isinstance", "issubclass") and len(node.args) == 2:
            self._type_position(node.args[1])
        for kw in node.keywords:
            if kw.arg is not None:
                self._identifier(node, kw.arg)
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        operands = (node.left, *node.comparators)
        self.compared.update(id(n) for n in operands if isinstance(n, ast.Call))
        self.type_check_args.update(id(n) for n in operands if isinstance(n, ast.Attribute))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if (isinstance(value, str) and "__" in value) or (isinstance(value, bytes) and b"__" in value):
            raise _Rejected(node, "string constants containing '__' are not allowed")

    # --- definitions that bind names -----------------------------------------------------------------------
    def _definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self._identifier(node, node.name)
        if not isinstance(node, ast.ClassDef):
            self._type_position(node.returns)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._type_position(node.annotation)
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _definition

    def visit_arg(self, node: ast.arg) -> None:
        self._identifier(node, node.arg)
        self._type_position(node.annotation)
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._identifier(node, node.name)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        for name in node.names:
            self._identifier(node, name)

    visit_Nonlocal = visit_Global

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        for attr in node.kwd_attrs:  # `case C(attr=x)` reads C().attr
            self._attribute(node, attr)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self._identifier(node, node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._identifier(node, node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self._identifier(node, node.rest)
        self.generic_visit(node)
