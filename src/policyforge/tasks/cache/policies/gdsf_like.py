"""GDSF-like: frequency x 1e6 / size as GDSF, but aged by time instead of by the last victim's priority
(which the RANK interface does not expose): an object's value decays by one access per mean reuse gap."""

import numpy as np


def score(objs, stats):
    gap = np.maximum(objs.ewma_gap, 1.0)
    return objs.count * 1.0e6 / objs.size + 1.0e6 / objs.ewma_size * (objs.last_access / gap)
