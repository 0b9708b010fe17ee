"""The trusted task of a request, built once per process and options (the judge, the bounded judge process
and the trusted worker pool each rebuild it from the request's reference and options, never from anything a
candidate handed over)."""

from __future__ import annotations

import json
from functools import lru_cache

from policyforge.contract import Task
from policyforge.trust.requests import EvalRequest


@lru_cache(maxsize=16)
def built_task(ref: str, options_json: str) -> Task:
    """Task `ref` with the options `options_json` (sorted JSON), once per process."""
    from policyforge.tasks.registry import get_task

    return get_task(ref, **json.loads(options_json))


def task_for(request: EvalRequest) -> Task:
    """The trusted task of a request, built once per process and options."""
    return built_task(request.task, json.dumps(request.task_options, sort_keys=True))
