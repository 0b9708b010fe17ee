"""The feature library a bin-packing policy may import: `from binpacking_features import remaining`.

Pure functions of what the views expose, vectorised over the K candidate bins. The module exports exactly
its `__all__` (numpy is bound under a private name, so a policy cannot reach it through here) and holds
nothing mutable: a policy shares this module with every later call in its process, so nothing here can
carry state from one decision to the next.

It is found by its plain name because the registry puts a task file's folder on `sys.path`; the name is
distinctive so it never collides with an installed module.
"""

import numpy as _np

__all__ = ("remaining", "fill_after", "tight_fit")


def remaining(item, bins):
    """Room (capacity units) each candidate bin would have left after taking the item."""
    return _np.asarray(bins.free) - item.size


def fill_after(item, bins):
    """How full (0..1] each candidate bin would be after taking the item."""
    return (_np.asarray(bins.used) + item.size) / float(item.capacity)


def tight_fit(item, bins):
    """1.0 for a bin the item fills exactly, falling linearly to 0.0 at a gap of a whole item size: an
    exact fit wastes nothing, a gap smaller than the item is room that may stay empty."""
    gap = _np.asarray(bins.free, dtype=float) - item.size
    return _np.clip(1.0 - gap / max(float(item.size), 1.0), 0.0, 1.0)
