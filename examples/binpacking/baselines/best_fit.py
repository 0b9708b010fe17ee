"""Best fit: the bin the item leaves with the least room (a new bin leaves the most, so it comes last)."""

from binpacking_features import remaining


def score(item, bins):
    return -remaining(item, bins).astype(float)
