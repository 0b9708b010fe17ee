# expect: crashed | grows a list of 1 MB blocks until memory runs out
def score(pod, nodes, cluster):
    blocks = []
    while True:
        blocks.append(bytearray(1 << 20))
