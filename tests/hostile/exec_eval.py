# expect: rejected | runs generated code through eval and exec
def score(pod, nodes, cluster):
    exec("import os")
    return eval("[1.0, 2.0, 3.0]")
