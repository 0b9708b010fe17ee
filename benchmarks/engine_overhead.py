"""The search engine's own cost per candidate, apart from simulation, and its throughput with the cascade.

Prints three figures:
1. bookkeeping per candidate: parent sampling, GP proposal, duplicate check, two durable SQLite writes,
   feedback and database insertion, with the evaluation itself replaced by a canned result (target <= 50 ms);
2. sandbox start-up per evaluation: bubblewrap + a fresh Python + imports, measured on a do-nothing task;
3. candidates evaluated per minute by a real `evolve` on 2 cores with the cascade (default: 20 samples of
   the OpenB default workload, or openb-synthetic when the trace is absent).
Run: python benchmarks/engine_overhead.py [--samples 20] [--workload default]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import Future
from pathlib import Path

from policyforge.search.contracts import EvalRequest, EvalResult, Instance, Limits
from policyforge.search.loop import Evolution, EvolveConfig
from policyforge.search.sandbox import run as sandbox_run
from policyforge.search.sandbox import sandbox_available
from policyforge.tasks.k8s_gpu.task import default_task_options, openb_available

TINY = str(Path(__file__).resolve().parent.parent / "tests" / "data" / "tiny_cluster.yaml")


def bookkeeping(samples: int) -> list[float]:
    """Per-candidate engine time with evaluations answered instantly from a canned result."""
    with tempfile.TemporaryDirectory() as folder:
        config = EvolveConfig(task_options={"workload": TINY, "test_workloads": [TINY]}, max_samples=samples,
                              batch_size=1, jobs=1, cascade=False)
        evolution = Evolution(Path(folder) / "run", config)
        train = evolution.train

        def instant(code, stages, threshold):
            future: Future = Future()
            future.set_result(("train", EvalResult("ok", "", {i.id: 90.0 + len(code) % 7 for i in train},
                                                   {i.id: {"alloc_at_100": 90.0} for i in train})))
            return future

        evolution._evaluate_baselines()
        evolution.evaluator.cascade = instant
        times = []
        for sample in range(samples):
            started = time.perf_counter()
            candidate = evolution._propose(sample)
            if evolution.store.get(candidate).status == "proposed":
                evolution._finish_batch([candidate])
            times.append(time.perf_counter() - started)
        evolution.evaluator.close()
        return times


def sandbox_startup(repeats: int) -> list[float]:
    code = "import numpy as np\n\ndef score(pod, nodes, cluster):\n    return np.ones(3)\n"
    request = EvalRequest("selftest", code, (Instance("i1", "train"),), {}, Limits(wall_seconds=30))
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = sandbox_run(request)
        walls.append(time.perf_counter() - started)
        assert result.ok, result
    return walls


def throughput(samples: int, workload: str) -> tuple[float, int, float]:
    with tempfile.TemporaryDirectory() as folder:
        config = EvolveConfig(task_options=default_task_options(workload), max_samples=samples, jobs=2,
                              batch_size=2, seed=0)
        evolution = Evolution(Path(folder) / "run", config)
        evolution._evaluate_baselines()  # baselines and GP seeds are set-up, not samples
        started = time.perf_counter()
        evolution.search()
        seconds = time.perf_counter() - started
        screened = len(evolution.store.all("status = 'screened_out'"))
        evolution.evaluator.close()
        return seconds, screened, samples * 60 / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--workload", default="default" if openb_available() else "openb-synthetic")
    args = parser.parse_args()
    if not sandbox_available():
        print("bubblewrap is not available: install it (apt-get install bubblewrap)")
        return 1
    times = bookkeeping(40)
    print(f"engine bookkeeping per candidate (no simulation): median {1000 * statistics.median(times):.1f} ms, "
          f"p90 {1000 * sorted(times)[int(0.9 * len(times))]:.1f} ms over {len(times)} candidates (target <= 50 ms)")
    walls = sandbox_startup(5)
    print(f"sandbox start-up per evaluation (bubblewrap + fresh Python + imports): median "
          f"{1000 * statistics.median(walls):.0f} ms")
    seconds, screened, per_minute = throughput(args.samples, args.workload)
    print(f"evolve on {args.workload}, 2 cores, cascade on: {args.samples} samples in {seconds:.1f} s "
          f"({screened} stopped at the screen) = {per_minute:.1f} candidates/minute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
