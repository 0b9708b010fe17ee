"""Evaluating candidates: the sandbox behind an executor, the cheap-screen cascade, and a result cache.

The executor (local processes or Ray) only ever runs `run_sandboxed`; orchestration (the cascade's "screen
first, pay full price only if promising") happens in local threads that wait on it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policyforge import __version__
from policyforge.fetch import data_dir
from policyforge.search.contracts import EvalRequest, EvalResult, Instance, Limits
from policyforge.search.executors import make_executor

if TYPE_CHECKING:
    from policyforge.contract import Task
    from policyforge.search.loop import EvolveConfig


def run_sandboxed(request: EvalRequest, unsafe: bool, allowed_imports: tuple[str, ...],
                  required_functions: tuple[tuple[str, ...], ...]) -> EvalResult:
    """What an executor runs: the candidate's decisions from the sandbox, then their trusted scores
    (importable by name, so Ray can ship it; this process never runs candidate code)."""
    from policyforge.search.judge import judge
    from policyforge.search.sandbox import run

    result = run(request, allowed_imports=allowed_imports, allow_unsafe=unsafe,
                 required_functions=required_functions)
    return judge(request, result)


def required_functions(task: Task) -> tuple[tuple[str, ...], ...]:
    """Per interface the task accepts, the functions a policy must define."""
    return tuple(spec.required_functions for spec in (task.spec, *task.interfaces))


def allowed_imports(task: Task) -> tuple[str, ...]:
    """The union of the allow-lists of the task's interfaces."""
    return tuple(dict.fromkeys(m for spec in (task.spec, *task.interfaces) for m in spec.allowed_imports))


def sandbox_paths(ref: str, task: Task) -> tuple[str, ...]:
    """What the sandboxed child must read: the task's data and, for a task from a file, that file's folder."""
    from policyforge.tasks.registry import task_file

    own = task_file(ref)
    return tuple(str(p) for p in task.data_paths()) + ((str(Path(own).parent),) if own else ())


def merge(results: list[EvalResult]) -> EvalResult:
    """One result from per-instance parts: the first failure wins, otherwise scores and metrics are joined."""
    for r in results:
        if not r.ok:
            return replace(r, seconds=sum(x.seconds for x in results))
    scores: dict[str, float] = {}
    metrics: dict[str, dict[str, float]] = {}
    for r in results:
        scores.update(r.scores)
        metrics.update(r.metrics)
    return EvalResult("ok", "", scores, metrics, sum(r.seconds for r in results), "".join(r.output for r in results)[-4000:])


@functools.lru_cache(maxsize=1)
def source_fingerprint() -> str:
    """A hash of policyforge's own source: any change to the simulator invalidates cached results."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def task_fingerprint(task: Task) -> str:
    """A hash of the Python files beside the module defining the task's class: editing a task that lives
    outside policyforge (its simulator, its objective) invalidates its cached results too."""
    module = sys.modules.get(type(task).__module__)
    origin = getattr(module, "__file__", None)
    digest = hashlib.sha256()
    if origin:
        for path in sorted(Path(origin).resolve().parent.glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


class ResultCache:
    """Scores of deterministic evaluations (baselines) keyed by task, options, code and instance, so a
    second run does not pay for them again. Kept beside the data, outside the repository."""

    def __init__(self, path) -> None:
        self.lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self.db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, score REAL, metrics TEXT)")
        except (OSError, sqlite3.Error):
            self.db = None

    @staticmethod
    def key(task: str, options: dict[str, Any], code: str, instance: Instance, task_source: str = "") -> str:
        blob = json.dumps([source_fingerprint(), task_source, task, options, code, instance.id, instance.params,
                           instance.key], sort_keys=True)  # the key: figures of one secret's instances only
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> tuple[float, dict] | None:
        if self.db is None:
            return None
        with self.lock:
            row = self.db.execute("SELECT score, metrics FROM results WHERE key = ?", (key,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def put(self, key: str, score: float, metrics: dict) -> None:
        if self.db is None:
            return
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", (key, score, json.dumps(metrics)))


class Evaluator:
    def __init__(self, config: EvolveConfig, task: Task) -> None:
        self.task_name = config.task
        self.task_options = task.options()
        self.limits = Limits(**config.limits)
        self.unsafe = config.unsafe
        self.allowed_imports = allowed_imports(task)
        self.required_functions = required_functions(task)
        self.data_paths = sandbox_paths(config.task, task)
        self.task_source = task_fingerprint(task)
        self.per_child = max(1, int(task.instances_per_sandbox))
        self.executor = make_executor(config.executor, config.jobs, config.ray_address)
        self.orchestrator = ThreadPoolExecutor(max_workers=max(4, 2 * config.jobs), thread_name_prefix="cascade")
        self.cache = ResultCache(Path(task.cache_dir() or data_dir() / "results") / "evaluations.sqlite")

    def _request(self, code: str, instances: list[Instance], scale: int = 1) -> EvalRequest:
        limits = self.limits if scale <= 1 else replace(self.limits, wall_seconds=self.limits.wall_seconds * scale,
                                                        cpu_seconds=self.limits.cpu_seconds * scale)
        return EvalRequest(self.task_name, code, tuple(instances), self.task_options, limits, self.data_paths)

    def _run(self, code: str, instances: list[Instance], cacheable: bool, split: bool) -> EvalResult:
        keys = {i.id: ResultCache.key(self.task_name, self.task_options, code, i, self.task_source)
                for i in instances} if cacheable else {}
        cached = {i.id: self.cache.get(keys[i.id]) for i in instances} if cacheable else {}
        todo = [i for i in instances if not cached.get(i.id)]
        # Several instances share a child only for the task's own baseline files (`cacheable`): candidate code
        # could keep module state from one instance (the whole trace, say) and read the future in the next.
        per_child = self.per_child if cacheable else 1
        groups = [todo[k:k + per_child] for k in range(0, len(todo), per_child)] if split else \
            ([todo] if todo else [])
        futures = [self.executor.submit(run_sandboxed, self._request(code, g, len(g) if per_child > 1 else 1),
                                        self.unsafe, self.allowed_imports, self.required_functions)
                   for g in groups]
        parts = [f.result() for f in futures]
        for hit in (i for i in instances if cached.get(i.id)):
            score, metrics = cached[hit.id]
            parts.append(EvalResult("ok", "", {hit.id: score}, {hit.id: metrics}))
        result = merge(parts) if parts else EvalResult("ok")
        if cacheable and result.ok:
            for i in todo:
                self.cache.put(keys[i.id], result.scores[i.id], result.metrics.get(i.id, {}))
        # Keep instance order stable regardless of which parts came from the cache.
        if result.ok:
            result = replace(result, scores={i.id: result.scores[i.id] for i in instances},
                             metrics={i.id: result.metrics.get(i.id, {}) for i in instances})
        return result

    def submit(self, code: str, instances: list[Instance], cacheable: bool = False, split: bool = False) -> Future:
        """Evaluate `code` on `instances`; `split` runs one sandbox per instance (parallel), `cacheable`
        reuses earlier results of identical deterministic evaluations."""
        return self.orchestrator.submit(self._run, code, instances, cacheable, split or cacheable)

    def cascade(self, code: str, stages: list[tuple[str, list[Instance]]], threshold: float | None) -> Future:
        """Run stages in order; stop after the screen when its mean score is below `threshold`.
        Resolves to (last stage run, result over all stages run)."""

        def work() -> tuple[str, EvalResult]:
            parts: list[EvalResult] = []
            for name, instances in stages:
                if not instances:
                    continue
                # One sandbox per instance keeps every core busy even when a single candidate is in flight.
                result = self._run(code, instances, False, split=len(instances) > 1)
                parts.append(result)
                if not result.ok:
                    return name, merge(parts)
                if name == "screen" and threshold is not None:
                    mean = sum(result.scores.values()) / len(result.scores)
                    if mean < threshold:
                        return name, merge(parts)
            return stages[-1][0], merge(parts)

        return self.orchestrator.submit(work)

    def close(self) -> None:
        self.orchestrator.shutdown(wait=False, cancel_futures=True)
        self.executor.shutdown()
