"""GP trees as data: the typed grammar derived from a task's declared interface (`grammar`: what a tree may
say, and a tree rendered as a readable policy module) and the trusted interpreter that runs a tree without a
sandbox (`interpreter`). Shared by the GP proposer (search/proposers/gp.py), which builds trees, and the
trusted path (trust/vouched.py), which runs only what is exactly the rendering of a well-typed tree."""
