"""First fit: the oldest open bin with room; a new bin only when none has room."""

import numpy as np


def score(item, bins):
    # Bins are numbered in opening order and the new bin's number is the largest, so lower is better.
    return -np.asarray(bins.index, dtype=float)
