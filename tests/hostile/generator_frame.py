# expect: rejected | reaches the module's builtins (and open) through a generator's frame
def gen():
    yield 1


def score(pod, nodes, cluster):
    g = gen()
    builtins = g.gi_frame.f_globals["builtins".join(["", ""])]
    print(builtins)
    return [0.0, 0.0, 0.0]
