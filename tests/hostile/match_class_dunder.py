# expect: rejected | reads __class__ through a match pattern, where no attribute node is visible
def score(pod, nodes, cluster):
    match ():
        case tuple(__class__=cls):
            print(cls)
    return [0.0, 0.0, 0.0]
