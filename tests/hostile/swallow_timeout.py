# expect: timeout | an infinite loop that catches every exception, hoping to survive the limit
def score(pod, nodes, cluster):
    while True:
        try:
            while True:
                pass
        except BaseException:
            continue
