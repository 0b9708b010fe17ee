"""`sized`'s order through the ranking mechanism (a GP seed, `sized-like`, reproduces it decision for decision).

Queries, then interactive, then batch; within a priority the operator whose pipeline has the least estimated
work left goes first. The mechanism sizes, places (best fit), retries OOMs and preempts for blocked urgent
work; unlike `sized` it counts patience over all priorities and gives up an operator that failed with a whole
pool's RAM, so the two differ in places.
"""


def rank(ops, load):
    return -(ops.priority * 100000.0 + ops.pipeline_seconds_left)
