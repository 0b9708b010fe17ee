"""Wall time of each Eudoxia regression case on the pipelines simulator (target <= 0.5 s each).

A case's time covers everything Eudoxia's own run covers: reading params.toml and trace.csv, and simulating
600 s with the case's scheduler (`naive` or `priority`). Best of a few repeats, with the CPU time of that
repeat (on a shared machine, wall time includes waiting for a core). Eudoxia itself steps every tick.
Run: python benchmarks/pipelines_speed.py [--repeats 5] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from policyforge.tasks.pipelines.engine import simulate
from policyforge.tasks.pipelines.params import load_params
from policyforge.tasks.pipelines.policy import load_policy
from policyforge.tasks.pipelines.trace import read_trace
from policyforge.tasks.pipelines.workloads import cluster_of

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "eudoxia-regression"
TARGET_SECONDS = 0.5


def run_case(folder: Path) -> tuple[float, float, float, int]:
    """(wall s, CPU s, of which reading s, containers run)."""
    wall, cpu = time.perf_counter(), time.process_time()
    params = load_params(folder / "params.toml")
    workload = read_trace(folder / "trace.csv", params.ticks_per_second)
    read = time.perf_counter() - wall
    record = simulate(workload, cluster_of(params), load_policy(params.scheduler_algo), params.random_seed,
                      params.estimate_sigma)
    return time.perf_counter() - wall, time.process_time() - cpu, read, len(record.container_ticks)


def reference_loop() -> float:
    """CPU seconds of a fixed pure-Python loop: how fast this machine runs Python right now (contention from
    other processes on a shared machine slows it; about 0.04 s on an idle current server core)."""
    started = time.process_time()
    total = 0
    for i in range(1_000_000):
        total += i
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    cases = sorted(p for p in args.data.iterdir() if (p / "trace.csv").exists()) if args.data.is_dir() else []
    if not cases:
        print(f"{args.data}: no regression cases found", file=sys.stderr)
        return 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f}, reference loop {reference_loop():.3f} s CPU")
    print(f"{'case':<28}{'wall s':>8}{'cpu s':>8}{'read s':>8}{'containers':>12}  target <= {TARGET_SECONDS} s")
    missed = 0
    for folder in cases:
        runs = [run_case(folder) for _ in range(args.repeats)]
        wall, cpu, read, containers = min(runs)
        verdict = "met" if wall <= TARGET_SECONDS else "NOT met"
        missed += wall > TARGET_SECONDS
        print(f"{folder.name:<28}{wall:>8.3f}{cpu:>8.3f}{read:>8.3f}{containers:>12}  {verdict}")
    return 0 if not missed else 2


if __name__ == "__main__":
    sys.exit(main())
