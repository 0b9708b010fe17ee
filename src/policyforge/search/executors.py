"""Where evaluations run: a local pool (default) or a Ray cluster, behind one tiny interface.

Two kinds of work. A sandboxed evaluation already runs in its own sandboxed process, so locally it only needs
a thread that waits for it (`submit`). A trusted evaluation (a GP tree, a baseline file: trust/vouched.py)
computes in the worker itself, so locally it goes to a pool of long-lived processes that keep the task and its
data loaded (`submit_compute`). Ray ships either to its workers; its futures are adapted to
concurrent.futures so the loop does not care which executor it has.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Protocol

from policyforge.errors import PolicyforgeError


class Executor(Protocol):
    """Runs functions somewhere (local processes, a Ray cluster) and hands back futures: `submit` for work
    that waits on a sandboxed child, `submit_compute` for work that computes in the worker itself."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future: ...

    def submit_compute(self, fn: Callable[..., Any], *args: Any) -> Future: ...

    def shutdown(self) -> None: ...


def default_jobs() -> int:
    """Every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class LocalExecutor:
    """At most `jobs` evaluations of each kind at once on this machine."""

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, jobs)
        self.pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="evaluate")
        self._processes: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """`fn` waits on work done elsewhere (a sandboxed child): a thread is enough."""
        return self.pool.submit(fn, *args)

    def submit_compute(self, fn: Callable[..., Any], *args: Any) -> Future:
        """`fn` computes here: a worker process (spawned, not forked: the engine has threads)."""
        with self._lock:
            if self._processes is None:
                self._processes = ProcessPoolExecutor(max_workers=self.jobs,
                                                      mp_context=multiprocessing.get_context("spawn"))
            return self._processes.submit(fn, *args)

    def reset_compute(self) -> None:
        """Replace the process pool if one of its processes died (an out-of-memory kill, say), so the next
        compute submission starts fresh processes; a healthy pool (another thread replaced it) is kept."""
        with self._lock:
            if self._processes is not None and getattr(self._processes, "_broken", False):
                self._processes.shutdown(wait=False, cancel_futures=True)
                self._processes = None

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self._processes is not None:
            self._processes.shutdown(wait=False, cancel_futures=True)


class RayExecutor:
    """Evaluations as Ray tasks; connects to `address` or starts a local Ray runtime."""

    def __init__(self, address: str | None = None, jobs: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise PolicyforgeError("--executor ray needs Ray: pip install 'policyforge[ray]'") from None
        self.ray = ray
        self.started_here = not ray.is_initialized()
        if self.started_here:
            kwargs: dict[str, Any] = {"address": address, "include_dashboard": False, "log_to_driver": False}
            if address is None and jobs:
                kwargs["num_cpus"] = jobs
            try:
                ray.init(**kwargs)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise PolicyforgeError(f"cannot reach Ray at {address or 'a new local runtime'}: {exc}") from None
        self._call = ray.remote(num_cpus=1, max_retries=0)(_call)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._call.remote(fn, *args).future()

    def submit_compute(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._call.remote(fn, *args).future()

    def reset_compute(self) -> None:
        """Ray replaces dead workers itself."""

    def shutdown(self) -> None:
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """The one Ray remote function: calls `fn` (shipped by reference, so it must be importable)."""
    return fn(*args)


def make_executor(kind: str, jobs: int, address: str | None = None) -> LocalExecutor | RayExecutor:
    """`jobs` <= 0 means every core."""
    jobs = jobs if jobs > 0 else default_jobs()
    if kind == "local":
        return LocalExecutor(jobs)
    if kind == "ray":
        return RayExecutor(address, jobs)
    raise PolicyforgeError(f"unknown executor {kind!r} (local, ray)")
