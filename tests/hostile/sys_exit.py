# expect: rejected | exits the worker through sys.exit
import sys


def score(pod, nodes, cluster):
    sys.exit(3)
