"""Executors: the local pool, and Ray against a real local Ray runtime that the test starts and stops."""

from __future__ import annotations

import math
import os

import pytest

from policyforge.search.executors import LocalExecutor, make_executor


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def test_local_executor_runs_concurrently_and_returns_futures():
    executor = LocalExecutor(2)
    try:
        results = [f.result(timeout=10) for f in [executor.submit(square_and_pid, i) for i in range(6)]]
    finally:
        executor.shutdown()
    assert [r[0] for r in results] == [0, 1, 4, 9, 16, 25]


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
    finally:
        executor.shutdown()
    assert not ray.is_initialized()
