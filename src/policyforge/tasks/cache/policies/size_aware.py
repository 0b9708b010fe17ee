"""Size-aware recency: LRU where an object twice the mean size looks as old as one accessed a mean reuse
gap earlier; objects just evicted and requested again (ghost hits) get one gap of credit."""

import numpy as np


def score(objs, stats):
    gap = np.maximum(objs.ewma_gap, 1.0)
    return objs.last_access - gap * (objs.size / objs.ewma_size - 1.0) + gap * objs.in_ghost
