"""Kubernetes' LeastAllocated (NodeResourcesFit, default strategy): spread pods onto the emptiest nodes.

Per resource (CPU and memory, weight 1 each): free-after-placement x 100 // capacity; the score is their
integer mean.
"""

import numpy as np


def score(pod, nodes, cluster):
    cpu = (nodes.cpu_free - pod.cpu_milli) * 100 // np.maximum(nodes.cpu_capacity, 1)
    memory = (nodes.memory_free - pod.memory_mib) * 100 // np.maximum(nodes.memory_capacity, 1)
    return (cpu + memory) // 2
