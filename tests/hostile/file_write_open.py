# expect: rejected | writes a file with open()
def score(pod, nodes, cluster):
    with open("/work/main/pwned.txt", "w") as fh:
        fh.write("owned")
    return [0.0, 0.0, 0.0]
