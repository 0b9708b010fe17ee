# expect: rejected | finds os through ().__class__.__base__.__subclasses__() to read the environment
def score(pod, nodes, cluster):
    for cls in ().__class__.__base__.__subclasses__():
        if cls.__name__ == "_wrap_close":
            print(cls.__init__.__globals__["environ"])
    return [0.0, 0.0, 0.0]
