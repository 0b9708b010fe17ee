"""BestFit, as the FGD paper defines it: prefer the node left with the least free CPU and GPU.

Raw score int(100 * (1 - leftover)), where leftover weighs free-after-placement CPU (over 128 CPUs) and
total GPU milli (over 8 GPUs) half each; then min-max normalised to 0..100 over the candidates with integer
division (all equal: all 0).
"""

import numpy as np

MAX_CPU_MILLI = 128000
MAX_GPU_MILLI = 8000


def score(pod, nodes, cluster):
    leftover = (nodes.cpu_free - pod.cpu_milli) / MAX_CPU_MILLI * 0.5 \
        + (nodes.gpu_free_total - pod.total_gpu_milli) / MAX_GPU_MILLI * 0.5
    raw = np.trunc((1.0 - leftover) * 100).astype(np.int64)
    low, high = raw.min(), raw.max()
    if high == low:
        return np.zeros(len(nodes))
    return (raw - low) * 100 // (high - low)
