# expect: rejected | writes a file with np.save
import numpy as np


def score(pod, nodes, cluster):
    np.save("/work/main/pwned.npy", np.zeros(3))
    return np.zeros(3)
