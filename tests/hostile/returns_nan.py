# expect: invalid_output | returns NaN
def score(pod, nodes, cluster):
    return [float("nan"), 1.0, 2.0]
