"""The trusted half of every evaluation: turn a sandboxed child's decisions into scores.

Runs in a process that never imported candidate code (the engine's evaluation threads or a Ray worker): it
checks the decisions name exactly the requested instances, then has the task replay them on fresh
simulations of its own (`Task.score`), each in a judge process with a time and memory budget tied to the
instance's honest cost (trust/bounded.py), so a candidate cannot choose the judge's cost. Whatever a
decision the true world rejects, anything malformed, or a replay over its budget makes the candidate
`invalid_output` with the reason; it never ends, slows or grows the run.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

from policyforge.contract import Evaluation, Instance
from policyforge.trust import bounded
from policyforge.trust.requests import EvalRequest, EvalResult
from policyforge.trust.tasks import task_for

REASON_CHARS = 300


def _selftest_score(instance: Instance, decisions: Any) -> Evaluation:
    """The sandbox's built-in probes report their own figures (they test containment, not judging)."""
    return Evaluation(float(decisions["score"]), {str(k): float(v) for k, v in decisions["metrics"].items()})


def judge(request: EvalRequest, result: EvalResult, trusted_decisions: bool = False) -> EvalResult:
    """`result` with trusted scores and metrics computed from its decisions (decisions dropped).

    `trusted_decisions`: the decisions come from code the engine vouches for (its own GP trees, the task's
    baseline files, run in this very process: trust/vouched.py), so no candidate chose the replay's cost
    and the task's `score` runs here, without a bounded judge process."""
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
    selftest = request.task.startswith("selftest")
    scores: dict[str, float] = {}
    metrics: dict[str, dict[str, float]] = {}
    for instance in request.instances:
        if trusted_decisions:
            try:
                evaluation = task_for(request).score(instance, result.decisions[instance.id])
                value = float(evaluation.score)
                figures = {str(k): float(v) for k, v in evaluation.metrics.items()}
            except Exception as exc:  # an engine-built policy the task's replay refuses: a bug to show, not a score
                return invalid(f"{instance.id}: decisions rejected ({type(exc).__name__}: {exc})")
        elif not selftest:  # the task's replay: in a judge process of its own, within the instance's budget
            limit = bounded.budget(request.task, request.task_options, instance, request.limits.wall_seconds,
                                   request.limits.memory_mb)
            verdict = bounded.score(request.task, request.task_options, instance, result.decisions[instance.id],
                                    limit)
            if verdict.status != "ok":
                return invalid(f"{instance.id}: {verdict.reason}")
            value, figures = verdict.score, verdict.metrics or {}
        else:
            try:
                evaluation = _selftest_score(instance, result.decisions[instance.id])
                value = float(evaluation.score)
                figures = {str(k): float(v) for k, v in evaluation.metrics.items()}
            except Exception as exc:  # a probe's malformed figures
                return invalid(f"{instance.id}: decisions rejected ({type(exc).__name__}: {exc})")
        if not math.isfinite(value):
            return invalid(f"{instance.id}: the decisions give a non-finite score")
        scores[instance.id] = value
        metrics[instance.id] = {k: v for k, v in figures.items() if math.isfinite(v)}
    return EvalResult("ok", "", scores, metrics, result.seconds + time.monotonic() - started, result.output)
