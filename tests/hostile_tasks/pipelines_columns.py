# task: pipelines | expect: twin | writes into the columns the mechanism hands in (its own memory, if shared)
import numpy as np


def rank(ops, load):
    for column in (ops.ram_gb, ops.cpus, ops.priority):  # hostile
        try:  # hostile
            np.copyto(column, 0.0)  # hostile
        except (ValueError, TypeError):  # hostile
            pass  # hostile
    return -ops.priority * 1000.0 - ops.pipeline_seconds_left
