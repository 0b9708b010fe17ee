"""The search engine's own cost per candidate, apart from simulation, and its throughput with the cascade.

Prints three figures:
1. bookkeeping per candidate: parent sampling, GP proposal, duplicate check, two durable SQLite writes,
   feedback, database insertion and the progress line, with the evaluation itself replaced by a canned
   result, measured over the last 200 of 2,000 samples (target <= 10 ms: it must stay flat as a run grows);
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

from policyforge.search.loop import Evolution, EvolveConfig
from policyforge.tasks.k8s_gpu.task import default_task_options, openb_available
from policyforge.trust.requests import EvalRequest, EvalResult, Instance, Limits
from policyforge.trust.sandbox import run as sandbox_run
from policyforge.trust.sandbox import sandbox_available

TINY = str(Path(__file__).resolve().parent.parent / "tests" / "data" / "tiny_cluster.yaml")


def bookkeeping(samples: int) -> tuple[list[float], float]:
    """Per-candidate engine time with evaluations answered instantly from a canned result, as `search` spends
    it (propose, record, progress line); and, for comparison, one read of the whole table at the end."""
    with tempfile.TemporaryDirectory() as folder:
        config = EvolveConfig(task="k8s-gpu", task_options={"workload": TINY, "test_workloads": [TINY]},
                              max_samples=samples, batch_size=1, jobs=1, cascade=False)
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
        begun = time.time()
        for sample in range(samples):
            started = time.perf_counter()
            candidate = evolution._propose(sample)
            if evolution.store.get(candidate).status == "proposed":
                evolution._finish_batch([candidate])
            evolution.progress(begun, sample + 1).line()
            times.append(time.perf_counter() - started)
        started = time.perf_counter()
        evolution.store.all("sample IS NOT NULL AND status NOT IN ('proposed')")
        full_read = time.perf_counter() - started
        evolution.evaluator.close()
        return times, full_read


def sandbox_startup(repeats: int) -> list[float]:
    code = "import numpy as np\n\ndef score(pod, nodes, cluster):\n    return np.ones(3)\n"
    request = EvalRequest("selftest", code, (Instance("i1", "train"),), {}, Limits(wall_seconds=30))
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = sandbox_run(request, allowed_imports=("numpy",))
        walls.append(time.perf_counter() - started)
        assert result.ok, result
    return walls


def throughput(samples: int, workload: str) -> tuple[float, int, float]:
    with tempfile.TemporaryDirectory() as folder:
        config = EvolveConfig(task="k8s-gpu", task_options=default_task_options(workload), max_samples=samples, jobs=2,
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
    parser.add_argument("--bookkeeping-samples", type=int, default=2000)
    parser.add_argument("--workload", default="default" if openb_available() else "openb-synthetic")
    args = parser.parse_args()
    if not sandbox_available():
        print("bubblewrap is not available: install it (apt-get install bubblewrap)")
        return 1
    times, full_read = bookkeeping(args.bookkeeping_samples)
    first, last = times[:200], times[-200:]
    print(f"engine bookkeeping per candidate (no simulation): median {1000 * statistics.median(first):.1f} ms over "
          f"the first 200 samples, {1000 * statistics.median(last):.1f} ms (p90 "
          f"{1000 * sorted(last)[int(0.9 * len(last))]:.1f} ms) over the last 200 of {len(times)} (target <= 10 ms); "
          f"one read of the whole table at that size would add {1000 * full_read:.0f} ms")
    walls = sandbox_startup(5)
    print(f"sandbox start-up per evaluation (bubblewrap + fresh Python + imports): median "
          f"{1000 * statistics.median(walls):.0f} ms")
    seconds, screened, per_minute = throughput(args.samples, args.workload)
    print(f"evolve on {args.workload}, 2 cores, cascade on: {args.samples} samples in {seconds:.1f} s "
          f"({screened} stopped at the screen) = {per_minute:.1f} candidates/minute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
