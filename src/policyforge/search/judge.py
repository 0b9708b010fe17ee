"""The trusted half of every evaluation: turn a sandboxed child's decisions into scores.

Runs in a process that never imported candidate code (the engine's evaluation threads or a Ray worker): it
checks the decisions name exactly the requested instances, then has the task replay them on fresh
simulations of its own (`Task.score`). Whatever a decision the true world rejects, or anything malformed,
makes the candidate `invalid_output` with the reason; it never ends the run.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from functools import lru_cache
from typing import Any

from policyforge.contract import Evaluation, Instance, Task
from policyforge.errors import PolicyError
from policyforge.search.contracts import EvalRequest, EvalResult

REASON_CHARS = 300


@lru_cache(maxsize=16)
def _task(ref: str, options_json: str) -> Task:
    from policyforge.tasks.registry import get_task

    return get_task(ref, **json.loads(options_json))


def task_for(request: EvalRequest) -> Task:
    """The trusted task of a request, built once per process and options."""
    return _task(request.task, json.dumps(request.task_options, sort_keys=True))


def _selftest_score(instance: Instance, decisions: Any) -> Evaluation:
    """The sandbox's built-in probes report their own figures (they test containment, not judging)."""
    return Evaluation(float(decisions["score"]), {str(k): float(v) for k, v in decisions["metrics"].items()})


def judge(request: EvalRequest, result: EvalResult) -> EvalResult:
    """`result` with trusted scores and metrics computed from its decisions (decisions dropped)."""
    if not result.ok:
        return replace(result, decisions={})
    started = time.monotonic()

    def invalid(reason: str) -> EvalResult:
        reason = " ".join(reason.split())
        return EvalResult("invalid_output", reason[:REASON_CHARS], seconds=result.seconds + time.monotonic() - started,
                          output=result.output)

    wanted = [i.id for i in request.instances]
    got = list(result.decisions)
    if sorted(got) != sorted(wanted):
        extra, missing = sorted(set(got) - set(wanted)), sorted(set(wanted) - set(got))
        return invalid(f"decisions for the wrong instances (missing {missing[:3]}, unexpected {extra[:3]})")
    score = _selftest_score if request.task.startswith("selftest") else task_for(request).score
    scores: dict[str, float] = {}
    metrics: dict[str, dict[str, float]] = {}
    for instance in request.instances:
        try:
            evaluation = score(instance, result.decisions[instance.id])
            value = float(evaluation.score)
            figures = {str(k): float(v) for k, v in evaluation.metrics.items()}
        except PolicyError as exc:
            return invalid(f"{instance.id}: {exc}")
        except Exception as exc:  # malformed decisions (untrusted data) surface as any exception of the task's
            return invalid(f"{instance.id}: decisions rejected ({type(exc).__name__}: {exc})")
        if not math.isfinite(value):
            return invalid(f"{instance.id}: the decisions give a non-finite score")
        scores[instance.id] = value
        metrics[instance.id] = {k: v for k, v in figures.items() if math.isfinite(v)}
    return EvalResult("ok", "", scores, metrics, result.seconds + time.monotonic() - started, result.output)
