"""By priority, then the longest critical path first, through the ranking mechanism (the GP seed
`critical-path`): the chain that will take longest to finish is started first."""


def rank(ops, load):
    return ops.priority * -100000.0 + ops.path_seconds
