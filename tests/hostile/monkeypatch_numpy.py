# expect: rejected | replaces a numpy function the simulator itself uses, to inflate its own score
import numpy as np


def score(pod, nodes, cluster):
    np.count_nonzero = lambda *args, **kwargs: 0
    return [0.0, 0.0, 0.0]
