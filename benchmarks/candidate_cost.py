"""CPU seconds one GP candidate costs a task, in this process: its `run` (decisions) and its trusted `score`
(the replay), per candidate, on the screen (proxies) or on the full train set.

Why beside search_throughput.py: that one measures wall-clock candidates per minute through the worker pool,
which is what a search gets but means little while other jobs share the cores. CPU time of one process moves
less with the load, so a change can be compared with the code before it on a busy machine (run both,
interleaved, and compare their ratio). It is not an idle figure: under a load average of 6 on the 2-core
machine the same code costs about twice the CPU time it costs idle (shared caches and cores), so `2 x 60 /
seconds` printed there is a floor, not the idle rate. The candidates are the random trees
search_throughput.py sends (seed 0), compiled as the trusted worker compiles them.

    python benchmarks/candidate_cost.py [pipelines] [--candidates 20] [--full] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

from policyforge.contract import keyed
from policyforge.tasks.registry import get_task
from policyforge.trust.vouched import _tree_policy
from policyforge.wire import decode, encode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_throughput import trees  # noqa: E402 - the benchmark folder is not a package


def cost(task, code: str, instances) -> tuple[float, float]:
    """(run, score) CPU seconds of one candidate on `instances`, through the wire as the worker sends it."""
    policy = _tree_policy(task, code)
    run = score = 0.0
    for instance in instances:
        started = time.process_time()
        decisions = decode(encode(task.run(policy, instance)))
        middle = time.process_time()
        task.score(instance, decisions)
        run += middle - started
        score += time.process_time() - middle
    return run, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", nargs="?", default="pipelines")
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--full", action="store_true", help="the full train instances instead of the screen")
    parser.add_argument("--profile", action="store_true", help="print cProfile's 30 costliest functions")
    args = parser.parse_args()
    task = get_task(args.task)
    train = [i for i in task.instances() if i.split == "train"]
    instances = keyed(train if args.full else list(task.search_hints().proxy_instances) or train[:1], "benchmark")
    codes = trees(task, args.candidates)
    cost(task, trees(task, 2, seed=99)[0], instances)  # warm-up: data, compiled kernels
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    profile = cProfile.Profile() if args.profile else None
    if profile:
        profile.enable()
    totals = [cost(task, code, instances) for code in codes]
    if profile:
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    run = sum(t[0] for t in totals) / len(codes)
    score = sum(t[1] for t in totals) / len(codes)
    print(f"{args.task} ({'full train' if args.full else 'screen'}, {len(instances)} instance(s)): run "
          f"{run * 1000:.0f} ms + score {score * 1000:.0f} ms CPU per candidate (2 x 60 / that: "
          f"{120 / (run + score):.0f} candidates/min, a floor under load); load average after: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
