"""FIFO as a RANK policy: the object inserted first is evicted first."""


def score(objs, stats):
    return objs.insert_time
