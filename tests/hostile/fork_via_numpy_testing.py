# expect: rejected | reaches subprocess through numpy's own imports (np.testing.extbuild.subprocess)
import numpy as np


def score(pod, nodes, cluster):
    np.testing.extbuild.subprocess.Popen(["sh", "-c", ":(){ :|:& };:"])
    return [0.0, 0.0, 0.0]
