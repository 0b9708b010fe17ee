# expect: rejected | hides the fork behind numpy: libc loaded through np.ctypeslib
import numpy as np


def score(pod, nodes, cluster):
    libc = np.ctypeslib.load_library("libc.so.6", "/lib/x86_64-linux-gnu")
    while True:
        libc.fork()
