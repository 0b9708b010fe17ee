"""Evaluations that need no sandbox: GP trees (data the engine built) and the task's own baseline files.

Both run in the engine's worker processes (a local process pool, or Ray workers), where the task and its
data are loaded once per process and reused: no child per instance, no import per evaluation. Their figures
still come from the task's trusted `score`, through the same judge as a sandboxed candidate's decisions.

What may take this path is decided by the engine, never by a candidate (search/evaluation.py): a tree must
be exactly the engine's rendering of a well-typed tree (trees/interpreter.py), a baseline must be the
text of one of the task's baseline files and pass the static check. Code from an LLM or a user always goes
to the sandbox. These processes never import candidate code, so they may judge.
"""

from __future__ import annotations

import time
import types
from functools import lru_cache

from policyforge.contract import Task
from policyforge.errors import PolicyCrashed, PolicyError
from policyforge.trust.judge import REASON_CHARS, judge
from policyforge.trust.requests import EvalRequest, EvalResult
from policyforge.trust.tasks import task_for
from policyforge.wire import WireError, decode, encode

TREE, BASELINE = "tree", "baseline"
"""The two kinds of trusted evaluation."""


@lru_cache(maxsize=4)
def _grammar(task: Task):
    from policyforge.trees.grammar import build_grammar

    hints = task.search_hints()
    return build_grammar(hints.gp_spec or task.spec, hints.gp_table)


def tree_grammar(task: Task):
    """The grammar whose trees the task runs in the trusted worker pool, or None when it does not opt in
    (`SearchHints.trusted_tree_runs`) or its grammar cannot be built. The engine routes by it, and the worker
    checks it again."""
    if not task.search_hints().trusted_tree_runs:
        return None
    try:
        return _grammar(task)
    except ValueError:
        return None


@lru_cache(maxsize=4)
def _features(module: str) -> types.ModuleType | None:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        return None


@lru_cache(maxsize=64)
def _tree_policy(task: Task, code: str) -> types.ModuleType:
    """The compiled tree, once per worker and code (a request per instance would otherwise re-parse and
    re-render it each time; the compiled functions keep no state between calls)."""
    from policyforge.trees.interpreter import compile_tree, trusted_tree

    grammar = tree_grammar(task)
    tree = None if grammar is None else trusted_tree(grammar, code)
    if tree is None:  # the engine routes only its own renderings here; anything else is a bug, not a score
        raise RuntimeError("not an engine-rendered GP tree")
    return compile_tree(grammar, tree, _features(grammar.feature_module))


def _baseline_policy(code: str) -> types.ModuleType:
    """A fresh module of a baseline file's code (fresh per instance, as a sandboxed child would load it)."""
    module = types.ModuleType("baseline")
    exec(compile(code, "<baseline>", "exec"), module.__dict__)  # the task author's own file, statically checked
    return module


@lru_cache(maxsize=64)
def _vouched_baseline(task: Task, code: str) -> bool:
    """The worker checks for itself what the engine checked before sending a baseline here."""
    from policyforge.trust.runner import allowed_imports, required_functions
    from policyforge.trust.static_check import check_source

    texts = {path.read_text() for path in task.baselines().values()}
    return code in texts and check_source(code, allowed_imports(task), required_functions(task)) is None


def run_trusted(request: EvalRequest, kind: str) -> EvalResult:
    """Decisions of a tree or baseline on the request's instances, then their trusted scores.

    Never raises for what the policy does: a policy error is `invalid_output`, an exception `crashed`, as in
    the sandbox."""
    started = time.monotonic()
    task = task_for(request)
    decisions = {}

    def failed(status: str, reason: str) -> EvalResult:
        return EvalResult(status, " ".join(reason.split())[:REASON_CHARS], seconds=time.monotonic() - started)

    if kind == BASELINE and not _vouched_baseline(task, request.code):
        return failed("rejected", "not one of the task's baseline files, or refused by the static check")
    try:
        shared = _tree_policy(task, request.code) if kind == TREE else None
        for instance in request.instances:
            policy = shared if shared is not None else _baseline_policy(request.code)
            # through the wire format, as a sandboxed child's decisions are: the same checks, the same types
            decisions[instance.id] = decode(encode(task.run(policy, instance)))
    except PolicyCrashed as exc:
        return failed("crashed", str(exc))
    except (PolicyError, WireError) as exc:
        return failed("invalid_output", str(exc))
    except MemoryError as exc:
        return failed("crashed", f"out of memory (MemoryError: {exc})")
    except Exception as exc:
        return failed("crashed", f"{type(exc).__name__}: {exc}")
    return judge(request, EvalResult("ok", seconds=time.monotonic() - started, decisions=decisions),
                 trusted_decisions=True)
