# expect: rejected | writes a file with ndarray.tofile
import numpy as np


def score(pod, nodes, cluster):
    values = np.arange(3.0)
    values.tofile("/work/main/pwned.bin")
    return values
