"""DotProd (Tetris-style alignment), as the FGD paper configures it ("merge" GPU dimension, "max" norm).

A node's free [CPU, total GPU] and the pod's request are divided by the largest node spec (128 CPUs,
8 GPUs); the lower their dot product, the higher the score: int(100 * (1 - dot / 2)).
"""

import numpy as np

MAX_CPU_MILLI = 128000
MAX_GPU_MILLI = 8000


def score(pod, nodes, cluster):
    dot = (nodes.cpu_free / MAX_CPU_MILLI) * (pod.cpu_milli / MAX_CPU_MILLI) \
        + (nodes.gpu_free_total / MAX_GPU_MILLI) * (pod.total_gpu_milli / MAX_GPU_MILLI)
    return np.trunc(100 * (1 - dot / 2))
