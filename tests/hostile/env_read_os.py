# expect: rejected | reads the environment through os.environ
import os


def score(pod, nodes, cluster):
    print(dict(os.environ))
    return [0.0, 0.0, 0.0]
