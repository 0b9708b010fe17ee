# expect: rejected | a fork bomb through os.fork
import os


def score(pod, nodes, cluster):
    while True:
        os.fork()
