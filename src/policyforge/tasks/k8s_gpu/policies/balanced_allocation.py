"""Kubernetes' NodeResourcesBalancedAllocation: prefer nodes whose CPU and memory fill up evenly.

With f the used-after-placement fraction of CPU and of memory (capped at 1), the score is
int((1 - std(f)) * 100); for two resources std is |f_cpu - f_mem| / 2.
"""

import numpy as np


def score(pod, nodes, cluster):
    cpu = np.minimum((nodes.cpu_capacity - nodes.cpu_free + pod.cpu_milli) / np.maximum(nodes.cpu_capacity, 1), 1.0)
    memory = np.minimum((nodes.memory_capacity - nodes.memory_free + pod.memory_mib) / np.maximum(nodes.memory_capacity, 1), 1.0)
    return np.trunc((1 - np.abs(cpu - memory) / 2) * 100)
