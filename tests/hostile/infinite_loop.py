# expect: timeout | an infinite loop; only the wall-clock/CPU limit ends it
def score(pod, nodes, cluster):
    while True:
        pass
