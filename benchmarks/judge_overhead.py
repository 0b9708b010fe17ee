"""The added cost of trusted scoring: how much of an evaluation's wall time the judge's replay takes.

Every evaluation is the sandboxed child running the policy (its decisions come back), then the trusted
replay of those decisions in the engine's process. Prints, per task and policy, the child's wall time (sandbox
start-up included), the judge's, and the judge's share of the total (target <= 15%). Best of 3.
Run: python benchmarks/judge_overhead.py [TASK ...]
"""

from __future__ import annotations

import sys
import time

from policyforge.tasks.k8s_gpu.task import openb_available
from policyforge.tasks.registry import get_task
from policyforge.trust.judge import judge
from policyforge.trust.requests import EvalRequest, Limits
from policyforge.trust.runner import allowed_imports, required_functions, sandbox_paths
from policyforge.trust.sandbox import run, sandbox_available

CASES = (
    ("k8s-gpu", {"workload": "default", "test_workloads": ["default"]}, ("bestfit", "fgd")),
    ("pipelines", {"scenario": "mixed"}, ("priority", "sized")),
    ("cache", {}, ("lru", "gdsf-like")),
)


def measure(ref: str, options: dict, baseline: str, repeats: int = 3) -> tuple[float, float]:
    task = get_task(ref, **options)
    request = EvalRequest(ref, task.baselines()[baseline].read_text(), tuple(task.screen_instances()), task.options(),
                          Limits(wall_seconds=600, cpu_seconds=600, memory_mb=4096), sandbox_paths(ref, task))
    best = (float("inf"), float("inf"))
    judge(request, run(request, allowed_imports=allowed_imports(task), required_functions=required_functions(task)))
    for _ in range(repeats):  # the first judge above warmed this process's caches, as a run's first does
        started = time.perf_counter()
        result = run(request, allowed_imports=allowed_imports(task), required_functions=required_functions(task))
        child = time.perf_counter() - started
        started = time.perf_counter()
        scored = judge(request, result)
        trusted = time.perf_counter() - started
        assert scored.ok, scored.reason
        best = min(best, (child, trusted), key=sum)
    return best


def main() -> int:
    if not sandbox_available():
        print("bubblewrap is not available: install it (apt-get install bubblewrap)")
        return 1
    print(f"{'task':<11}{'instance':<22}{'policy':<10}{'child s':>9}{'judge s':>9}{'judge share':>13}")
    only = sys.argv[1:]
    for ref, options, baselines in CASES:
        if only and ref not in only:
            continue
        if ref == "k8s-gpu" and not openb_available():
            options = {"workload": "openb-synthetic", "test_workloads": ["openb-synthetic"]}
        instance = get_task(ref, **options).screen_instances()[0].id.split("/")[-2:]
        for baseline in baselines:
            child, trusted = measure(ref, options, baseline)
            print(f"{ref:<11}{'/'.join(instance)[-21:]:<22}{baseline:<10}{child:>9.2f}{trusted:>9.2f}"
                  f"{100 * trusted / (child + trusted):>12.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
