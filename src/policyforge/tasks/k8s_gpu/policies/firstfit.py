"""FirstFit: every feasible node scores the same, so the engine's fixed node order decides."""

import numpy as np


def score(pod, nodes, cluster):
    return np.full(len(nodes), 100)
