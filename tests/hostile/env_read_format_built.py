# expect: rejected | the same format-string walk with the dunders assembled at run time
import numpy as np


def score(pod, nodes, cluster):
    d = "_" * 2
    template = "{0." + d + "globals" + d + "}"
    print(template.format(np.atleast_1d))
    return [0.0, 0.0, 0.0]
