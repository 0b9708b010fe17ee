# expect: rejected | sleeps through an import that is not allowed
import time


def score(pod, nodes, cluster):
    time.sleep(1000)
    return [0.0, 0.0, 0.0]
