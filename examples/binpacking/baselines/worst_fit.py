"""Worst fit: the open bin with the most room; a new bin only when no open bin has room."""

import numpy as np


def score(item, bins):
    free = np.asarray(bins.free, dtype=float)
    return np.where(np.asarray(bins.is_new) == 1, -1.0, free)
