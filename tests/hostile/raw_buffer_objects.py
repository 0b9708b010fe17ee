# expect: rejected | forges object pointers: an object-dtype ndarray over a raw buffer
import numpy as np


def score(pod, nodes, cluster):
    forged = np.ndarray((1,), dtype=object, buffer=bytearray(8))
    return [float(forged[0] is None), 0.0, 0.0]
