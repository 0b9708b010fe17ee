"""What one GP tree's run costs in this process: the task's `run` on the trusted interpreter's module.

Random trees of the task's grammar (the proposer's own `random_tree`, seeded) are compiled as the worker pool
compiles them and run by the task on its first proxy instances (or the first train instance, `--train`):
k8s-gpu and cache run the tree's program in their compiled loops, pipelines calls the interpreter per
decision, the example task packs in its compiled loop. Printed: milliseconds per tree, best of three passes
(each pass runs every tree once per instance, after one warm-up run that loads data and compiled code).

One process on one core, no pool, so a change to a compiled loop shows here even while the machine is
shared; compare two source trees by running both interleaved, e.g. the old one with
`PYTHONPATH=/path/to/old/src`. Still quote `uptime`'s load average with the figures.

Run: python benchmarks/tree_run_cost.py TASK [TASK ...] [--trees 40] [--train]
     (TASK: k8s-gpu, cache, pipelines, binpacking for the example task, or any --task reference)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

import policyforge
from policyforge.contract import keyed
from policyforge.search.proposers.gp import GPProposer
from policyforge.tasks.registry import get_task
from policyforge.trees.grammar import build_grammar
from policyforge.trees.interpreter import compile_tree
from policyforge.trust.vouched import _features

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "binpacking" / "task.py"


def cost(reference: str, trees: int, train: bool) -> tuple[float, list[float]]:
    """(best, every pass) milliseconds per tree."""
    task = get_task(f"{EXAMPLE}:OnlineBinPacking" if reference == "binpacking" else reference)
    hints = task.search_hints()
    spec = hints.gp_spec or task.spec
    gp = GPProposer(spec, table=hints.gp_table)
    grammar = build_grammar(spec, hints.gp_table)
    features = _features(grammar.feature_module)
    chosen = [i for i in task.instances() if i.split == "train"][:1] if train else list(hints.proxy_instances)[:2]
    instances = keyed(chosen or [i for i in task.instances() if i.split == "train"][:1], "tree-run-cost")
    modules = [compile_tree(grammar, gp.random_tree(np.random.default_rng([3, k])), features) for k in range(trees)]
    for instance in instances:
        task.run(modules[0], instance)
    passes = []
    for _ in range(3):
        started = time.perf_counter()
        for module in modules:
            for instance in instances:
                task.run(module, instance)
        passes.append((time.perf_counter() - started) * 1000.0 / trees)
    return min(passes), passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="+")
    parser.add_argument("--trees", type=int, default=40)
    parser.add_argument("--train", action="store_true", help="the first train instance instead of two proxies")
    args = parser.parse_args()
    print(f"source: {Path(policyforge.__file__).parent}; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name in args.tasks:
        best, passes = cost(name, args.trees, args.train)
        print(f"{name}: {best:.2f} ms per tree (passes: {', '.join(f'{p:.2f}' for p in passes)})", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
