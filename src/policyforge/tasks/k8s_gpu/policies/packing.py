"""GpuPacking, as the FGD paper defines it: fill partly used GPUs first, then used nodes, then idle nodes.

Scores, high to low: using only shared GPUs, 100 minus a tenth of their free percent (at least 50); having to
use whole free GPUs on a used node, 50 minus how many (at least 33); an entirely idle node, 33 minus its GPU
count (at least that count). CPU-only pods score 0 everywhere.
"""

import numpy as np

MILLI = 1000


def score(pod, nodes, cluster):
    if pod.num_gpu == 0:
        return np.zeros(len(nodes))
    free = nodes.gpu_free
    fully_free = nodes.full_free_gpus
    idle_node = fully_free == nodes.gpu_count
    # The GPUs the pod would use: the tightest ones with room, smallest free first.
    ordered = np.sort(free, axis=1, kind="stable")
    fits = ordered >= pod.gpu_milli
    used = fits & (np.cumsum(fits, axis=1) <= pod.num_gpu)
    whole_used = (used & (ordered == MILLI)).sum(axis=1)
    free_percent = (used * (ordered * 100 // MILLI)).sum(axis=1)
    shared_only = np.maximum(100 - free_percent // 10, 50)
    with_whole = np.maximum(50 - whole_used, 33)
    idle = np.maximum(33 - fully_free, fully_free)
    return np.where(idle_node, idle, np.where(whole_used > 0, with_whole, shared_only))
