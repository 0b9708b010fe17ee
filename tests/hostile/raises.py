# expect: crashed | raises an exception
def score(pod, nodes, cluster):
    raise ValueError("no idea which node")
