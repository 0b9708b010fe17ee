"""Evaluating code on instances: the sandbox or the trusted worker pool behind an executor, and a result cache.

The executor (local threads and processes, or Ray) runs `run_sandboxed` for code and `run_trusted` for what
the engine can vouch for (its own GP trees, the task's baseline files); orchestration happens in local
threads that wait on it. Which instances a candidate is measured on (successive halving) is the loop's
business (search/loop.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from policyforge import __version__
from policyforge.contract import Instance
from policyforge.search.executors import default_jobs, make_executor
from policyforge.toolkit.fetch import data_dir
from policyforge.trust.requests import EvalRequest, EvalResult, Limits
from policyforge.trust.runner import TaskDoor, run_sandboxed
from policyforge.trust.vouched import BASELINE, TREE, run_trusted, tree_grammar

if TYPE_CHECKING:
    from policyforge.contract import Task


class EvaluatorConfig(Protocol):
    """What the Evaluator reads of a run's configuration (search/loop.py's EvolveConfig has it): declared
    here so this module does not import the loop that imports it."""

    task: str
    limits: dict[str, Any]
    unsafe: bool
    executor: str
    jobs: int
    ray_address: str | None


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


def result_cache_path(task: Task) -> Path:
    """Where the task's deterministic results (baselines) are cached: its `cache_dir()`, else `results/` in
    the data folder ($POLICYFORGE_DATA, else ./data); docs/write-your-own-task.md names it."""
    return Path(task.cache_dir() or data_dir() / "results") / "evaluations.sqlite"


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
    """Evaluates code on instances through the right door: the sandbox for code, the trusted worker pool for
    the engine's own GP trees and the task's own baseline files (trust/vouched.py)."""

    def __init__(self, config: EvaluatorConfig, task: Task) -> None:
        self.door = TaskDoor.of(config.task, task)
        """Every request of this run goes through it (trust/runner.py)."""
        self.task_name = config.task
        self.task_options = self.door.options
        self.limits = Limits(**config.limits)
        self.unsafe = config.unsafe
        self.allowed_imports = self.door.allowed_imports
        self.required_functions = self.door.required_functions
        self.task_source = task_fingerprint(task)
        self.baseline_codes = {path.read_text() for path in task.baselines().values()}
        self.grammar = tree_grammar(task)
        self.executor = make_executor(config.executor, config.jobs, config.ray_address)
        self.orchestrator = ThreadPoolExecutor(max_workers=max(4, 2 * (config.jobs or default_jobs())), thread_name_prefix="cascade")
        self.cache = ResultCache(result_cache_path(task))
        self.checked: dict[str, str | None] = {}

    def _request(self, code: str, instances: list[Instance]) -> EvalRequest:
        return self.door.request(code, instances, self.limits)

    def route(self, code: str) -> str:
        """`tree` or `baseline` (trusted worker pool) when the engine can vouch for `code`, else `sandbox`."""
        from policyforge.trees.interpreter import trusted_tree

        if code in self.baseline_codes:
            return BASELINE
        if self.grammar is not None and trusted_tree(self.grammar, code) is not None:
            return TREE
        return "sandbox"

    def _static_check(self, code: str) -> str | None:
        if code not in self.checked:
            from policyforge.trust.static_check import check_source

            self.checked[code] = check_source(code, self.allowed_imports, self.required_functions)
        return self.checked[code]

    def _submit_one(self, code: str, kind: str, instances: list[Instance]) -> Future:
        request = self._request(code, instances)
        if kind == "sandbox":
            return self.executor.submit(run_sandboxed, request, self.unsafe, self.allowed_imports,
                                        self.required_functions)
        return self.executor.submit_compute(run_trusted, request, kind)

    def _result(self, future: Future, code: str, kind: str, group: list[Instance]) -> EvalResult:
        """The future's result; a trusted worker process that died (killed, out of memory) costs this
        evaluation one retry in a fresh pool, then `crashed`, never the run."""
        for attempt in range(2):
            try:
                return future.result()
            except BrokenProcessPool:
                self.executor.reset_compute()
                if attempt == 0:
                    future = self._submit_one(code, kind, group)
        return EvalResult("crashed", "the worker process evaluating it died twice (killed or out of memory)")

    def _run(self, code: str, instances: list[Instance], cacheable: bool, split: bool) -> EvalResult:
        kind = self.route(code)
        if kind == BASELINE:  # the task's own file, yet it must stay a valid example of the interface
            reason = self._static_check(code)
            if reason is not None:
                return EvalResult("rejected", reason)
        keys = {i.id: ResultCache.key(self.task_name, self.task_options, code, i, self.task_source)
                for i in instances} if cacheable else {}
        cached = {i.id: self.cache.get(keys[i.id]) for i in instances} if cacheable else {}
        todo = [i for i in instances if not cached.get(i.id)]
        # Trusted work is split per instance so the pool's processes share it; a sandboxed candidate gets one
        # child per instance when split (its module state must not carry one instance into the next).
        groups = [[i] for i in todo] if split or kind != "sandbox" else ([todo] if todo else [])
        futures = [self._submit_one(code, kind, g) for g in groups]
        parts = [self._result(f, code, kind, g) for f, g in zip(futures, groups, strict=True)]
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

    def close(self) -> None:
        self.orchestrator.shutdown(wait=False, cancel_futures=True)
        self.executor.shutdown()
