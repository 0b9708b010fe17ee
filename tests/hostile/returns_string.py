# expect: invalid_output | returns a string
def score(pod, nodes, cluster):
    return "the best node"
