# expect: ok | a slow but legal computation that finishes well within the limit
import math


def score(pod, nodes, cluster):
    acc = 0.0
    for i in range(300_000):
        acc += math.sqrt(i)
    return [acc * 0.0 + n for n in nodes]
