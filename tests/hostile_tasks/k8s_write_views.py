# task: k8s-gpu | expect: twin | tries to overwrite the cluster's free resources through the views it is handed
import numpy as np


def score(pod, nodes, cluster):
    for column in (nodes.cpu_free, nodes.gpu_free, nodes.gpu_free_total, nodes.memory_free):  # hostile
        try:  # hostile
            np.copyto(column, 10**9)  # hostile
        except (ValueError, TypeError):  # hostile
            pass  # hostile
    return -np.asarray(nodes.gpu_free_total, dtype=float)
