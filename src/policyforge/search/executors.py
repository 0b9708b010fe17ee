"""Where sandboxed evaluations run: a local pool (default) or a Ray cluster, behind one tiny interface.

Local evaluations already run in their own sandboxed processes, so the local executor is a thread pool that
bounds how many run at once. Ray ships the same function to remote workers; its futures are adapted to
concurrent.futures so the loop does not care which one it has.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from policyforge.errors import PolicyforgeError


class LocalExecutor:
    """At most `jobs` evaluations at once on this machine."""

    def __init__(self, jobs: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="evaluate")

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self.pool.submit(fn, *args)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


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

    def shutdown(self) -> None:
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """The one Ray remote function: calls `fn` (shipped by reference, so it must be importable)."""
    return fn(*args)


def make_executor(kind: str, jobs: int, address: str | None = None) -> LocalExecutor | RayExecutor:
    if kind == "local":
        return LocalExecutor(jobs)
    if kind == "ray":
        return RayExecutor(address, jobs)
    raise PolicyforgeError(f"unknown executor {kind!r} (local, ray)")
