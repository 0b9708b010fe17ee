# task: pipelines | expect: twin | rewrites the objective's weights it may import (read-only: it must fail)
from policyforge.tasks.pipelines.features import WEIGHTS  # hostile


def rank(ops, load):
    try:  # hostile
        WEIGHTS[3] = 1000.0  # hostile
    except TypeError:  # hostile
        pass  # hostile
    return -ops.priority * 1000.0 - ops.pipeline_seconds_left
