# expect: rejected | defines no score function
def choose(pod, nodes, cluster):
    return [0.0, 0.0, 0.0]
