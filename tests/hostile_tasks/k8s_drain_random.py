# task: k8s-gpu | expect: twin | drains the run's random generator, hoping to shift the simulator's own draws
import numpy as np


def score(pod, nodes, cluster):
    cluster.random.random(5000)  # hostile
    return -np.asarray(nodes.cpu_free, dtype=float)
