# expect: rejected | reads and rewrites the simulator's private state behind the views
def score(pod, nodes, cluster):
    nodes._state.gpu_free[:] = 1000
    return [0.0, 0.0, 0.0]
