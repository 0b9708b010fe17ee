"""Weighted shortest remaining work first through the ranking mechanism (the GP seed `wsjf`).

The objective's weight of an operator's pipeline (query 10, interactive 5, batch 1) per second of its
pipeline's estimated work left: urgent, nearly finished pipelines first, without a strict priority order.
"""


def rank(ops, load):
    return ops.weight / (ops.pipeline_seconds_left + 1.0)
