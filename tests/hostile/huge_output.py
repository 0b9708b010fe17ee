# expect: ok | prints 50 MB; the parent keeps only the capped tail and the evaluation still finishes
def score(pod, nodes, cluster):
    line = "x" * 999
    for _ in range(50_000):
        print(line)
    return [1.0, 2.0, 3.0]
