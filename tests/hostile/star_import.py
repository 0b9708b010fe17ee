# expect: rejected | `from numpy import *` brings load/save/ndarray in as bare names
from numpy import *  # noqa: F403


def score(pod, nodes, cluster):
    return load("/etc/passwd")  # noqa: F405
