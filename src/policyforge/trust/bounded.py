"""The trusted scorer in a process of its own, with a time and a memory budget.

A candidate's decisions decide how much work their replay is (pipelines once accepted any number of
impossible assignments per call: 400 a call made the judge slower than the run and grew the engine by 90 MB
an instance). So `Task.score` never runs in the engine: it runs in a judge process (trusted code only: the
task and the decisions as data, never candidate code) started with RLIMIT_AS at the candidate's own memory
limit, and the engine waits at most the instance's budget for its answer:

- time: `FACTOR` times the fastest successful replay of the instance seen so far in this process (the honest
  cost; only sandboxed candidates come here, since baselines and GP trees are judged in the trusted worker
  pool), at least `FLOOR_SECONDS`, at most the candidate's own wall limit (which is also the budget of an
  instance not yet judged);
- memory: the candidate's memory limit (an honest replay needs less than the run it replays).

Over budget, the judge process is killed and the candidate is `invalid_output` with the reason. Judge
processes are kept warm (a task's data loads once per process) and replaced after `CALLS_PER_PROCESS` calls
or after any reply that is not "ok" (a refused or over-budget replay may have left memory behind), so neither
their caches nor a hostile replay can grow without bound.

Run as `python -m policyforge.trust.bounded MEMORY_MB`: one JSON request per line on stdin, one JSON reply
per line on the original stdout (the task's own prints go to stderr).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import resource
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from policyforge.contract import Instance
from policyforge.errors import PolicyError
from policyforge.wire import decode, encode

FACTOR = 10.0
"""Budget over the honest cost: generous for a loaded machine, small against a flood."""
FLOOR_SECONDS = 5.0
"""No budget below this: a process start and a trace load are not the candidate's fault."""
CALLS_PER_PROCESS = 200
"""A judge process is replaced after this many replays (its caches are bounded, this bounds them again)."""
IDLE_PROCESSES = 4
"""Warm judge processes kept per task configuration; more are started when more judgments run at once."""


@dataclass(frozen=True)
class Budget:
    """What one replay may use."""

    seconds: float
    memory_mb: int
    honest_seconds: float | None = None


@dataclass(frozen=True)
class Verdict:
    """A judge process's answer: `status` "ok" (score, metrics), "invalid" (reason) or "over" (budget)."""

    status: str
    score: float = math.nan
    metrics: dict[str, float] | None = None
    reason: str = ""
    seconds: float = 0.0


_honest: dict[tuple, float] = {}
_honest_lock = threading.Lock()


def _cost_key(task: str, options: dict[str, Any], instance: Instance) -> tuple:
    return task, json.dumps(options, sort_keys=True), instance.id, instance.key


def budget(task: str, options: dict[str, Any], instance: Instance, wall_seconds: float, memory_mb: int) -> Budget:
    """The budget of one replay of `instance` (see the module docstring)."""
    with _honest_lock:
        honest = _honest.get(_cost_key(task, options, instance))
    seconds = wall_seconds if honest is None else min(wall_seconds, max(FLOOR_SECONDS, FACTOR * honest))
    return Budget(max(seconds, FLOOR_SECONDS), memory_mb, honest)


def _record_honest(task: str, options: dict[str, Any], instance: Instance, seconds: float) -> None:
    key = _cost_key(task, options, instance)
    with _honest_lock:
        _honest[key] = min(seconds, _honest.get(key, math.inf))


class _Process:
    """One judge process and its pipes."""

    def __init__(self, memory_mb: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "policyforge.trust.bounded", str(memory_mb)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.calls = 0
        self.buffer = b""

    def ask(self, line: bytes, seconds: float) -> dict | None:
        """The reply to `line`, or None when none came within `seconds` or the process died."""
        deadline = time.monotonic() + seconds
        try:
            self.proc.stdin.write(line + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        self.calls += 1
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self.buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    return None
                self.buffer += chunk
        reply, _, self.buffer = self.buffer.partition(b"\n")
        try:
            return json.loads(reply)
        except ValueError:
            return None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


_idle: dict[int, list[_Process]] = {}
_idle_lock = threading.Lock()


def _take(memory_mb: int) -> _Process:
    with _idle_lock:
        pool = _idle.get(memory_mb, [])
        while pool:
            process = pool.pop()
            if process.proc.poll() is None:
                return process
            process.close()
    return _Process(memory_mb)


def _give_back(process: _Process, memory_mb: int) -> None:
    with _idle_lock:
        pool = _idle.setdefault(memory_mb, [])
        if process.calls < CALLS_PER_PROCESS and len(pool) < IDLE_PROCESSES and process.proc.poll() is None:
            pool.append(process)
            return
    process.close()


@atexit.register
def shutdown() -> None:
    """Stop every idle judge process (busy ones end with their calls; all end when this process does)."""
    with _idle_lock:
        processes = [p for pool in _idle.values() for p in pool]
        _idle.clear()
    for process in processes:
        process.close()


def score(task: str, options: dict[str, Any], instance: Instance, decisions: Any, limit: Budget) -> Verdict:
    """`Task.score` of `instance` on `decisions` in a judge process, within `limit`."""
    line = json.dumps({"task": task, "options": options, "instance": asdict(instance),
                       "decisions": encode(decisions)}).encode()
    started = time.monotonic()
    process = _take(limit.memory_mb)
    reply = process.ask(line, limit.seconds)
    seconds = time.monotonic() - started
    if reply is None:
        dead = process.proc.poll()
        process.close()
        honest = "" if limit.honest_seconds is None else f"; its honest replays take {limit.honest_seconds:.2f} s"
        if dead is not None:
            return Verdict("over", reason=f"the judge's replay died (exit code {dead}; memory budget "
                                          f"{limit.memory_mb} MB{honest})", seconds=seconds)
        return Verdict("over", reason=f"the judge's replay took longer than its budget of {limit.seconds:.1f} s"
                                      f"{honest}", seconds=seconds)
    if reply.get("status") == "ok":
        _give_back(process, limit.memory_mb)
    else:  # a failed replay may have left its memory behind (caches it filled): the next call gets a fresh process
        process.close()
    if reply.get("status") == "ok":
        _record_honest(task, options, instance, float(reply.get("seconds", seconds)))
        return Verdict("ok", float(reply["score"]), {str(k): float(v) for k, v in reply["metrics"].items()},
                       seconds=seconds)
    return Verdict(str(reply.get("status", "invalid")), reason=str(reply.get("reason", "")), seconds=seconds)


# --- the judge process ----------------------------------------------------------------------------------


def _answer(request: dict) -> dict:
    from policyforge.trust.tasks import built_task

    task = built_task(request["task"], json.dumps(request["options"], sort_keys=True))
    instance = Instance(**request["instance"])
    started = time.perf_counter()
    try:
        evaluation = task.score(instance, decode(request["decisions"]))
        value = float(evaluation.score)
        metrics = {str(k): float(v) for k, v in evaluation.metrics.items()}
    except PolicyError as exc:
        return {"status": "invalid", "reason": str(exc)}
    except MemoryError:
        return {"status": "over", "reason": "the judge's replay ran out of its memory budget"}
    except Exception as exc:  # malformed decisions (untrusted data) surface as any exception of the task's
        return {"status": "invalid", "reason": f"decisions rejected ({type(exc).__name__}: {exc})"}
    return {"status": "ok", "score": value, "metrics": metrics, "seconds": time.perf_counter() - started}


def main(argv: list[str]) -> int:
    memory = int(argv[0]) << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever the task prints goes to stderr, never into a reply
    for line in sys.stdin.buffer:
        try:
            reply = _answer(json.loads(line))
        except MemoryError:
            reply = {"status": "over", "reason": "the judge's replay ran out of its memory budget"}
        except Exception as exc:  # a request this process cannot even read: say so rather than hang
            reply = {"status": "invalid", "reason": f"judge error ({type(exc).__name__}: {exc})"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
