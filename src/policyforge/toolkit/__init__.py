"""The public toolkit: what a task (ours, or one written outside policyforge) may use beside the contract.

A task package imports `policyforge.contract`, `policyforge.errors`, `policyforge.wire` and this package,
nothing else of policyforge (tests/test_imports.py holds every built-in task to it), so every task stands on
the same floor and the engine finds it only through the registry (`policyforge.tasks.registry`).

- `cli`: argparse number types, seed lists, output-path checks made before work starts, progress lines;
  for a task's own `simulate` options and commands (`Task.command_line`).
- `figures`: matplotlib's non-interactive backend and an atomic PNG save, for report sections and plots.
- `html`: escaped, self-contained HTML pages and tables (inline CSS, a strict Content-Security-Policy).
- `policy_files`: import a policy file (a baseline, or a user's own file run in-process by their choice)
  as a fresh module.
- `fetch`: the data folder (`$POLICYFORGE_DATA`, else ./data) and SHA-256-checked dataset downloads.
"""
