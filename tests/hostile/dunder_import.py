# expect: rejected | imports os through __import__
def score(pod, nodes, cluster):
    __import__("os").system("id")
    return [0.0, 0.0, 0.0]
