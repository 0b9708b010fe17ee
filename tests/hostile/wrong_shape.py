# expect: invalid_output | returns two scores for three nodes
import numpy as np


def score(pod, nodes, cluster):
    return np.zeros(2)
