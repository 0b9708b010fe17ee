# expect: crashed | exits the worker with `raise SystemExit` (no import needed; the worker catches it)
def score(pod, nodes, cluster):
    raise SystemExit(3)
