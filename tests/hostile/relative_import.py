# expect: rejected | imports a sibling module relatively
from . import secrets


def score(pod, nodes, cluster):
    return secrets.values
