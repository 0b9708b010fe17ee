# task: k8s-gpu | expect: refused | imports a simulator class from the feature module (not in its __all__)
import numpy as np

from policyforge.tasks.k8s_gpu.features import TargetWorkload  # hostile


def score(pod, nodes, cluster):
    TargetWorkload.shapes = ()  # hostile
    return -np.asarray(nodes.cpu_free, dtype=float)
