# expect: timeout | a legal, finite pure-Python computation that needs far longer than the limit
def score(pod, nodes, cluster):
    total = 0
    for i in range(10**10):
        total += i % 7
    return [total, total, total]
