# expect: rejected | builds a class with dunder attributes through type(type(x))(name, bases, namespace)
def score(pod, nodes, cluster):
    meta = type(int)
    dunder = "_" * 2 + "array_interface" + "_" * 2
    cls = meta("Evil", (), {dunder: {"shape": (3,), "typestr": "<f8", "data": (0, False), "version": 3}})
    return cls()
