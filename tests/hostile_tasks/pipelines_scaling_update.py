# task: pipelines | expect: refused | reaches the scaling table through the module and update()s it
from policyforge.tasks.pipelines import features  # hostile


def rank(ops, load):
    features.SCALING.update({"const": lambda cpus, base: 0.0})  # hostile
    return -ops.priority * 1000.0 - ops.pipeline_seconds_left
