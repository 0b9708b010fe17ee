"""Executors: the local pool, and Ray against a real local Ray runtime that the test starts and stops."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from policyforge.search.executors import LocalExecutor, make_executor
from policyforge.trust.requests import EvalRequest
from policyforge.trust.vouched import TREE, run_trusted

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "binpacking" / "task.py"
TREE_REQUEST_TASK = f"{EXAMPLE}:OnlineBinPacking"


def tree_request() -> EvalRequest:
    """A GP tree of the example task on two of its instances, as the engine would send it."""
    from policyforge.search.proposers.gp import GPProposer
    from policyforge.tasks.registry import get_task

    task = get_task(TREE_REQUEST_TASK, items=60)
    code = GPProposer.for_task(task).seed_programs()[1]
    return EvalRequest(TREE_REQUEST_TASK, code, tuple(task.instances()[:2]), task.options())


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def test_local_executor_runs_concurrently_and_returns_futures():
    executor = LocalExecutor(2)
    try:
        results = [f.result(timeout=10) for f in [executor.submit(square_and_pid, i) for i in range(6)]]
    finally:
        executor.shutdown()
    assert [r[0] for r in results] == [0, 1, 4, 9, 16, 25]


def test_local_compute_work_runs_in_worker_processes_with_the_trusted_interpreter():
    executor = LocalExecutor(2)
    try:
        pids = {f.result(timeout=120)[1] for f in [executor.submit_compute(square_and_pid, i) for i in range(4)]}
        result = executor.submit_compute(run_trusted, tree_request(), TREE).result(timeout=120)
    finally:
        executor.shutdown()
    assert os.getpid() not in pids
    assert result.ok and len(result.scores) == 2, result.reason


def test_unknown_executor_is_a_user_error():
    from policyforge.errors import PolicyforgeError

    with pytest.raises(PolicyforgeError, match="unknown executor"):
        make_executor("slurm", 1)


def test_ray_executor_runs_tasks_in_ray_workers():
    pytest.importorskip("ray", reason="Ray not installed (pip install 'policyforge[ray]')")
    import ray

    executor = make_executor("ray", 2)
    try:
        assert ray.is_initialized()
        # Functions must be importable by the workers (as run_sandboxed is); builtins are.
        assert [f.result(timeout=120) for f in [executor.submit(math.factorial, i) for i in range(5)]] == [1, 1, 2, 6, 24]
        pids = {f.result(timeout=60) for f in [executor.submit(os.getpid) for _ in range(4)]}
        assert os.getpid() not in pids  # ran in Ray worker processes
        # the trusted interpreter path runs in Ray workers too, with the figures of a local run
        on_ray = executor.submit_compute(run_trusted, tree_request(), TREE).result(timeout=120)
        assert on_ray.ok and on_ray.scores == run_trusted(tree_request(), TREE).scores, on_ray.reason
    finally:
        executor.shutdown()
    assert not ray.is_initialized()


def test_a_dead_worker_process_costs_a_fresh_pool_not_the_run():
    """A trusted worker killed mid-evaluation (out of memory, say) breaks the process pool; resetting it
    gives fresh processes for the next submission."""
    from concurrent.futures.process import BrokenProcessPool

    executor = LocalExecutor(2)
    try:
        with pytest.raises(BrokenProcessPool):
            executor.submit_compute(os._exit, 3).result(timeout=120)
        executor.reset_compute()
        assert executor.submit_compute(square_and_pid, 4).result(timeout=120)[0] == 16
    finally:
        executor.shutdown()
