"""GDSF as a RANK policy: frequency x 1e6 / size on top of the clock, the score of the last evicted object
(Cherkasova's L), so an object's value ages as the victims' scores rise."""


def score(objs, stats):
    return stats.clock + objs.count * 1.0e6 / objs.size
