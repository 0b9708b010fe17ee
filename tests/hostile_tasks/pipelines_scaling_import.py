# task: pipelines | expect: refused | imports Eudoxia's scaling table and makes every operator take no time
from policyforge.tasks.pipelines.features import SCALING  # hostile


def rank(ops, load):
    for name in list(SCALING):  # hostile
        SCALING[name] = lambda cpus, base: 0.0  # hostile
    return -ops.priority * 1000.0 - ops.pipeline_seconds_left
