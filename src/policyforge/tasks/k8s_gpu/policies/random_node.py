"""Random: one feasible node, drawn uniformly, scores 100 and the others 0 (the FGD paper's Random).

A sharing pod then takes a GPU drawn uniformly among those with room.
"""

import numpy as np


def score(pod, nodes, cluster):
    scores = np.zeros(len(nodes))
    scores[cluster.random.integers(len(nodes))] = 100
    return scores


def choose_gpus(pod, node, cluster):
    if not pod.is_sharing:
        return None  # whole GPUs: the lowest-index free ones
    fits = np.flatnonzero(node.gpu_free >= pod.gpu_milli)
    return [int(cluster.random.choice(fits))]
