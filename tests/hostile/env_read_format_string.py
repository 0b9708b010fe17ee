# expect: rejected | walks to os.environ inside a format string, where no attribute node is visible
import numpy as np


def score(pod, nodes, cluster):
    print("{0.__globals__[warnings].sys.modules[os].environ}".format(np.atleast_1d))
    return [0.0, 0.0, 0.0]
