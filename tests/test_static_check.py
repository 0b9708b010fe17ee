"""The static check: what it lets through, what it refuses and why, and that numpy gives no way around it."""

from __future__ import annotations

import importlib
import re
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from policyforge.tasks.k8s_gpu.interface import K8S_GPU_POLICY
from policyforge.tasks.pipelines.interface import PIPELINES_POLICY, PIPELINES_RANK_POLICY
from policyforge.trust import static_check
from policyforge.trust.static_check import (
    FORBIDDEN_ATTRIBUTES,
    FORBIDDEN_NAMES,
    MAX_SOURCE_CHARS,
    RAW_ARRAY_TYPES,
)

DEFAULT_ALLOWED_IMPORTS = K8S_GPU_POLICY.allowed_imports
"""Most cases below are k8s-gpu policies (`score(pod, nodes, cluster)`)."""
EVERY_ALLOWED_IMPORT = tuple(dict.fromkeys(
    K8S_GPU_POLICY.allowed_imports + PIPELINES_POLICY.allowed_imports + PIPELINES_RANK_POLICY.allowed_imports))


def check_source(code: str, allowed_imports: tuple[str, ...] = DEFAULT_ALLOWED_IMPORTS,
                 required_functions: tuple[str, ...] = ("score",)) -> str | None:
    return static_check.check_source(code, allowed_imports, required_functions)

HOSTILE = Path(__file__).parent / "hostile"
BASELINES = Path(__file__).parent.parent / "src" / "policyforge" / "tasks" / "k8s_gpu" / "policies"
HEAD = "import math\nimport numpy as np\n\n"


def policy(body: str, head: str = HEAD) -> str:
    """A module with a score function whose body is `body` (one statement per line)."""
    lines = "".join(f"    {line}\n" for line in body.splitlines())
    return f"{head}def score(pod, nodes, cluster):\n{lines}    return nodes\n"


def expected_status(path: Path) -> str:
    return re.match(r"# expect: (\w+)", path.read_text().splitlines()[0]).group(1)


@pytest.mark.parametrize("path", sorted(HOSTILE.glob("*.py")), ids=lambda p: p.stem)
def test_corpus_static_verdict(path: Path) -> None:
    reason = check_source(path.read_text())
    if expected_status(path) == "rejected":
        assert reason and "\n" not in reason
    else:
        assert reason is None


@pytest.mark.parametrize("path", sorted(p for p in BASELINES.glob("*.py") if p.stem != "__init__"),
                         ids=lambda p: p.stem)
def test_baselines_pass(path: Path) -> None:
    assert check_source(path.read_text()) is None


def test_default_allow_list_is_the_interface_one() -> None:
    assert "policyforge.tasks.k8s_gpu.features" in DEFAULT_ALLOWED_IMPORTS


@pytest.mark.parametrize("head", [
    "import math\n", "import numpy\n", "import numpy as np\n", "import numpy.linalg\n",
    "import numpy.random as npr\n", "from numpy import linalg, argmax\n",
    "from policyforge.tasks.k8s_gpu.features import fragmentation, fragmentation_after\n",
    "from policyforge.tasks.k8s_gpu import features\n",
    "import policyforge.tasks.k8s_gpu.features as F\n", "from __future__ import annotations\n",
])
def test_allowed_imports(head: str) -> None:
    assert check_source(policy("x = 1", head=head)) is None


@pytest.mark.parametrize(("head", "fragment"), [
    ("import os\n", "import of 'os'"),
    ("import numpy.ctypeslib\n", "import of 'numpy.ctypeslib'"),
    ("from numpy.lib import stride_tricks\n", "import of 'numpy.lib'"),
    ("from numpy import load\n", "'load'"),
    ("from numpy import ndarray\n", "'ndarray'"),
    ("from policyforge.tasks.k8s_gpu.features import _cache\n", "'_cache'"),
    ("import policyforge.tasks.k8s_gpu.features\n", "binding 'policyforge'"),
    ("import policyforge.tasks.k8s_gpu.cluster as c\n", "import of"),
    ("from . import x\n", "relative"),
    ("from numpy import *\n", "import *"),
])
def test_refused_imports(head: str, fragment: str) -> None:
    reason = check_source(policy("x = 1", head=head))
    assert reason is not None and fragment in reason


def test_allow_list_is_a_parameter() -> None:
    assert check_source(policy("x = 1"), allowed_imports=("math",)) == (
        "line 2: import of 'numpy' is not allowed (allowed: math)")
    assert check_source(policy("x = 1", head="import os\n"), allowed_imports=("os",)) is None


@pytest.mark.parametrize("name", sorted(FORBIDDEN_NAMES))
def test_forbidden_builtins(name: str) -> None:
    reason = check_source(policy(f"f = {name}"))
    assert reason == f"line 5: {name} is not allowed"


@pytest.mark.parametrize("attr", ["load", "save", "savez", "savetxt", "loadtxt", "genfromtxt", "fromfile",
                                  "tofile", "memmap", "ctypeslib", "lib", "f2py", "distutils", "testing",
                                  "DataSource", "core", "ma", "rec", "base", "setflags", "format"])
def test_forbidden_numpy_attributes(attr: str) -> None:
    assert attr in FORBIDDEN_ATTRIBUTES
    reason = check_source(policy(f"x = np.{attr}"))
    assert reason is not None and f".{attr}" in reason


def test_frombuffer_and_ordinary_numpy_are_fine() -> None:
    assert check_source(policy("x = np.frombuffer(b'abcdabcd', dtype=np.int32)\ny = np.argsort(-x)")) is None


def test_type_only_compared_with_one_argument() -> None:
    assert check_source(policy("t = type(nodes) is list or type(pod) == type(nodes)")) is None
    for body in ("t = type('X', (), {})", "t = type", "t = type(*nodes) is list",
                 "t = type(int)", "t = [type(nodes)]", "t = type(type(int) is int)('X', (), {})"):
        assert "one argument" in check_source(policy(body)), body


def test_underscores() -> None:
    assert check_source(policy("for _ in range(3):\n    _tmp = _\n_tmp = 1")) is None
    assert "'_'" in check_source(policy("x = nodes._state"))
    assert "'__'" in check_source(policy("x = __builtins__"))
    assert "'__'" in check_source(policy("x = 1", head=HEAD + "class A:\n    def __init__(self):\n"
                                                     "        pass\n\n"))
    assert "'__'" in check_source(policy("x = 'a__b'"))
    assert "'__'" in check_source(policy("x = b'__'"))


def test_no_attribute_assignment() -> None:
    for body in ("nodes.cpu = 1", "del nodes.cpu", "nodes.cpu += 1", "np.sum = len"):
        assert "assigning or deleting attributes" in check_source(policy(body))


def test_raw_array_types_only_in_type_positions() -> None:
    ok = policy("y = isinstance(nodes, (np.ndarray, list))\nz = type(nodes) is np.ndarray")
    assert check_source(ok) is None
    annotated = HEAD + "def score(pod, nodes, cluster) -> np.ndarray:\n    x: np.ndarray = nodes\n    return x\n"
    assert check_source(annotated) is None
    annotated = annotated.replace("x: np.ndarray", "x: list[np.ndarray] | None")
    assert check_source(annotated) is None
    for body in ("y = np.ndarray((2,))", "make = np.ndarray", "y = np.recarray((1,), dtype=float)",
                 "y = isinstance(nodes, (make := np.ndarray))", "y = isinstance(nodes, np.ndarray((1,)))"):
        assert "isinstance" in check_source(policy(body))


@pytest.mark.parametrize("body", ["isinstance = lambda a, b: b", "def isinstance(a, b):\n    return b",
                                  "for issubclass in []:\n    pass", "f = lambda isinstance: 1"])
def test_checked_builtins_cannot_be_redefined(body: str) -> None:
    """The isinstance() and type() exemptions trust these names to be the builtins."""
    assert "redefining" in check_source(policy(body))


def test_imports_cannot_shadow_checked_builtins() -> None:
    assert "redefining" in check_source(policy("x = 1", head="from numpy import isinstance\n"))
    assert "redefining" in check_source(policy("x = 1", head="import numpy as type\n"))


def test_reflection_paths() -> None:
    assert check_source(policy("x = f'{nodes!r:>10}'")) is None
    assert ".format" in check_source(policy("x = '{0}'.format(nodes)"))
    assert ".gi_frame" in check_source(policy("x = (i for i in nodes).gi_frame"))
    match = "match nodes:\n    case list(__class__=c):\n        pass"
    assert "'_'" in check_source(policy(match))


def test_reasons_and_limits() -> None:
    assert check_source("def score(pod, nodes, cluster)\n    return 1\n") == "syntax error at line 1: expected ':'"
    assert check_source("import numpy as np\n") == "no top-level function score (the interface needs: score)"
    two = static_check.check_source("def rank(ops, load):\n    return ops\n", ("numpy",), (("schedule",), ("rank",)))
    assert two is None
    assert "schedule or rank" in static_check.check_source("x = 1\n", ("numpy",), (("schedule",), ("rank",)))
    assert check_source("class A:\n    def score(self):\n        return 1\n") is not None
    assert "too large" in check_source("#" * (MAX_SOURCE_CHARS + 1))
    assert check_source("\0") is not None
    deep = "def score(pod, nodes, cluster):\n    return " + "1+" * 50_000 + "1\n"
    reason = check_source(deep)
    assert reason is not None and "\n" not in reason


def _reachable_modules() -> dict[str, str]:
    """Every module reachable from the allowed imports through attributes the check lets through; raises
    if one of them leads to an ndarray subclass (whose .mro() yields ndarray, a raw-buffer constructor)."""
    seen: dict[str, str] = {}
    queue: list[tuple[object, str]] = [(importlib.import_module(m), m) for m in EVERY_ALLOWED_IMPORT]
    visited: set[int] = set()
    while queue:
        obj, path = queue.pop()
        if id(obj) in visited:
            continue
        visited.add(id(obj))
        for name in dir(obj):
            if name.startswith("_") or name in FORBIDDEN_ATTRIBUTES:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    value = getattr(obj, name)
            except Exception:
                continue
            if isinstance(value, type) and issubclass(value, np.ndarray) and name not in RAW_ARRAY_TYPES:
                raise AssertionError(f"{path}.{name} is an ndarray subclass")
            if isinstance(value, types.ModuleType):
                seen.setdefault(value.__name__, f"{path}.{name}")
                queue.append((value, f"{path}.{name}"))
            elif isinstance(value, type) and isinstance(obj, types.ModuleType):
                queue.append((value, f"{path}.{name}"))
    return seen


def test_no_path_from_allowed_imports_to_dangerous_modules() -> None:
    """If this fails after a numpy upgrade, add the attribute named in the path to FORBIDDEN_ATTRIBUTES."""
    harmless = {"numpy.lib.scimath"}  # np.emath: complex-valued math functions
    bad = {name: path for name, path in _reachable_modules().items() if name not in harmless and (
           not (name == "math" or name.split(".")[0] in ("numpy", "policyforge"))
           or any(part in ("ctypeslib", "f2py", "testing", "lib", "distutils", "ma", "rec", "core", "_core")
                  for part in name.split(".")[1:2]))}
    assert not bad, f"reachable through allowed attributes: {bad}"
