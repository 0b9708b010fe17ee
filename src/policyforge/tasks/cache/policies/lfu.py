"""LFU-like: fewest accesses since insertion go first; among equals the least recently accessed (the
fraction keeps recency below one access)."""


def score(objs, stats):
    return objs.count + objs.last_access / stats.requests
