# task: k8s-gpu | expect: refused | binds the feature module and walks to its simulator imports
import numpy as np

from policyforge.tasks.k8s_gpu import features as f  # hostile


def score(pod, nodes, cluster):
    shapes = f.TargetWorkload  # hostile
    del shapes  # hostile
    return -np.asarray(nodes.cpu_free, dtype=float)
