"""LRU as a RANK policy: the least recently accessed object is evicted first."""


def score(objs, stats):
    return objs.last_access
