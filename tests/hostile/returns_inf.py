# expect: invalid_output | returns infinity
import math


def score(pod, nodes, cluster):
    return [math.inf, 1.0, 2.0]
