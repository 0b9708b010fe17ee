"""GpuClustering, as the FGD paper defines it: keep pods of the same GPU kind together.

A pod's kind is "shares one GPU" or "holds k whole GPUs". Score = 25 * used share of an 8-GPU node, plus
75 if the node holds only this kind, 50 if this kind among others, 25 if it holds no GPU pod, 0 otherwise.
CPU-only pods score 0 everywhere.
"""

import numpy as np

MAX_GPU_MILLI = 8000


def score(pod, nodes, cluster):
    if pod.num_gpu == 0:
        return np.zeros(len(nodes))
    if pod.is_sharing:
        same_kind = nodes.sharing_pods
    else:
        same_kind = nodes.whole_gpu_pods[:, pod.num_gpu - 1]
    kinds = (nodes.sharing_pods > 0) + (nodes.whole_gpu_pods > 0).sum(axis=1)
    fill = 25 * (MAX_GPU_MILLI - nodes.gpu_free_total) // MAX_GPU_MILLI
    bonus = np.where(same_kind > 0, np.where(kinds == 1, 75, 50), np.where(kinds == 0, 25, 0))
    return fill + bonus
