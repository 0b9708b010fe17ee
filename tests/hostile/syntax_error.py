# expect: rejected | is not valid Python
def score(pod, nodes, cluster)
    return [0.0, 0.0, 0.0]
