# expect: rejected | writes through the writable array behind a read-only view
def score(pod, nodes, cluster):
    nodes.gpu_free.base[:] = 0
    return [0.0, 0.0, 0.0]
