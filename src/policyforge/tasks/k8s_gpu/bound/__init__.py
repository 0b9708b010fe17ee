"""How far from optimal any k8s-gpu policy can be: a certified upper bound on the GPU allocation of an
instance of the FGD experiment, and the best packing found, next to every baseline (`policyforge bound`,
`simulate --with-bound`).

- `instance`: the packing instance (the pods arrived at a percent of capacity, the node types);
- `patterns`, `lp`: the pattern LP bound (seconds);
- `configs`, `certify`: the configuration LP by column generation, certified by a Lagrangian bound;
- `exact`: one node MIP per real node, for small clusters;
- `packing`: the best packing found (a lower bound);
- `report`, `cli`: measuring seeds and baselines, tables, the command.
"""
