"""Requests per second of every cache baseline and of the RANK mechanism on the Twitter trace's first 1M
requests (bytes mode, 10% and 1% of the working set), best of 3 after a warm-up that loads the compiled
kernels; plus the JIT cold-start cost and one RANK instance scored end to end (policy run + trusted judge).

    python benchmarks/cache_speed.py [--trace data/cache/twitter_cluster52_10m.csv.zst] [--requests 1000000]
"""

from __future__ import annotations

import argparse
import time

from policyforge.tasks.cache import rank
from policyforge.tasks.cache.simulate import available, run_baseline
from policyforge.tasks.cache.trace import make_trace, read_trace


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", default="data/cache/twitter_cluster52_10m.csv.zst")
    parser.add_argument("--requests", type=int, default=1_000_000)
    args = parser.parse_args()
    started = time.perf_counter()
    trace = read_trace(args.trace, f"0:{args.requests}")
    print(f"read {len(trace):,} requests in {time.perf_counter() - started:.2f} s")
    tiny = make_trace("warm-up", trace.time[:2000], trace.obj_id[:2000], trace.size[:2000])
    started = time.perf_counter()
    for name in available():
        run_baseline(tiny, name, tiny.cache_size(0.1, "bytes"), "bytes")
    print(f"load/compile all kernels: {time.perf_counter() - started:.2f} s")
    print(f"{'policy':<14}{'10% req/s':>14}{'1% req/s':>14}")
    for name in available():
        rates = []
        for fraction in (0.1, 0.01):
            capacity = trace.cache_size(fraction, "bytes")
            seconds = best_of(lambda n=name, c=capacity: run_baseline(trace, n, c, "bytes"))
            rates.append(len(trace) / seconds)
        print(f"{name:<14}{rates[0]:>14,.0f}{rates[1]:>14,.0f}")
    capacity = trace.cache_size(0.1, "bytes")
    for policy in ("rank-lru", "rank-gdsf-like", "rank-size"):
        score = rank.load_policy(policy)
        rank.run_policy(tiny, "bytes", tiny.cache_size(0.1, "bytes"), score)
        run_seconds = best_of(lambda s=score: rank.run_policy(trace, "bytes", capacity, s), 2)
        decisions = rank.run_policy(trace, "bytes", capacity, score)
        judge_seconds = best_of(lambda d=decisions: rank.judge(trace, "bytes", capacity, d), 2)
        print(f"{policy:<14} run {len(trace) / run_seconds:,.0f} req/s ({run_seconds:.2f} s), trusted judge "
              f"{judge_seconds:.2f} s, one instance {run_seconds + judge_seconds:.2f} s")


if __name__ == "__main__":
    main()
