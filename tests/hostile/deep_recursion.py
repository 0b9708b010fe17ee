# expect: crashed | recurses without bound
def down(n):
    return down(n + 1) + 1


def score(pod, nodes, cluster):
    return [down(0), 0.0, 0.0]
