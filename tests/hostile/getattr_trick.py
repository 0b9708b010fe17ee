# expect: rejected | assembles a forbidden attribute name at run time and fetches it with getattr
import numpy as np


def score(pod, nodes, cluster):
    loader = getattr(np, "lo" + "ad")
    return loader("/etc/passwd")
