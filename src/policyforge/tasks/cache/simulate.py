"""Run a baseline on a trace: the one entry point the CLI, the tests and the benchmarks share.

Baselines are mechanism-level: each is a compiled (numba) kernel that owns its queues and returns
(misses, missed bytes); `RANK` policy files go through `policyforge.tasks.cache.rank` instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from policyforge.errors import PolicyforgeError
from policyforge.tasks.cache.trace import Trace

SEED = 42


@dataclass(frozen=True)
class Result:
    policy: str
    mode: str
    cache_size: int
    requests: int
    misses: int
    miss_bytes: int
    request_bytes: int
    seconds: float

    @property
    def miss_ratio(self) -> float:
        return self.misses / self.requests

    @property
    def byte_miss_ratio(self) -> float:
        return self.miss_bytes / self.request_bytes

    def as_dict(self) -> dict:
        return {"miss_ratio": self.miss_ratio, "byte_miss_ratio": self.byte_miss_ratio, "misses": self.misses,
                "requests": self.requests, "cache_size": self.cache_size, "mode": self.mode,
                "seconds": self.seconds}


def _plain(kernel: Callable) -> Callable:
    return lambda trace, sizes, capacity, seed: kernel(trace.ids, sizes, trace.n_objects, capacity)


def _kernels() -> dict[str, Callable]:
    """Name -> run(trace, sizes, capacity, seed) -> (misses, miss_bytes). Imported lazily: compiling or
    loading the numba cache costs time only for the baselines used."""
    from policyforge.tasks.cache.algorithms import (
        arc,
        belady,
        cacheus,
        classic,
        gdsf,
        lecar,
        lhd,
        lirs,
        s3fifo,
        twoq,
        wtinylfu,
    )

    return {
        "fifo": _plain(classic.fifo),
        "lru": _plain(classic.lru),
        "arc": _plain(arc.arc),
        "s3fifo": _plain(s3fifo.s3fifo),
        "sieve": _plain(classic.sieve),
        "twoq": _plain(twoq.twoq),
        "lirs": _plain(lirs.lirs),
        "gdsf": _plain(gdsf.gdsf),
        "wtinylfu": lambda t, s, c, seed: wtinylfu.wtinylfu(t.ids, s, t.n_objects, c,
                                                            *wtinylfu.sketch_hashes(t.ids, t.obj_id, t.n_objects)),
        "lecar": lambda t, s, c, seed: lecar.lecar(t.ids, s, t.n_objects, c, seed),
        "cacheus": lambda t, s, c, seed: cacheus.cacheus(t.ids, s, t.n_objects, c, seed),
        "lhd": lambda t, s, c, seed: lhd.lhd(t.ids, s, t.n_objects, c, seed),
        "belady": lambda t, s, c, seed: belady.belady(t.ids, s, t.next_access, t.n_objects, c),
        "belady-size": lambda t, s, c, seed: belady.belady_size(t.ids, s, t.next_access, t.n_objects, c, 128, seed),
    }


BASELINES = ("fifo", "lru", "arc", "s3fifo", "sieve", "twoq", "lirs", "gdsf", "lhd", "lecar", "cacheus",
             "wtinylfu", "belady", "belady-size")
LIBCACHESIM_NAMES = {"FIFO": "fifo", "LRU": "lru", "ARC": "arc", "S3FIFO": "s3fifo", "Sieve": "sieve",
                     "TwoQ": "twoq", "LIRS": "lirs", "GDSF": "gdsf", "LHD": "lhd", "LeCaR": "lecar",
                     "Cacheus": "cacheus", "WTinyLFU": "wtinylfu", "Belady": "belady", "BeladySize": "belady-size"}
RANDOMISED = ("lhd", "lecar", "cacheus", "belady-size")


def run_baseline(trace: Trace, name: str, cache_size: int, mode: str, seed: int = SEED) -> Result:
    """Simulate baseline `name` on `trace` with a cache of `cache_size` (bytes or objects, per `mode`)."""
    kernels = _kernels()
    if name not in kernels:
        known = ", ".join(k for k in BASELINES if k in kernels)
        raise PolicyforgeError(f"unknown cache policy {name!r} (baselines: {known}; or a policy file)")
    sizes = trace.sizes(mode)
    started = time.perf_counter()
    misses, miss_bytes = kernels[name](trace, sizes, int(cache_size), seed)
    return Result(policy=name, mode=mode, cache_size=int(cache_size), requests=len(trace), misses=int(misses),
                  miss_bytes=int(miss_bytes), request_bytes=int(np.sum(sizes)), seconds=time.perf_counter() - started)


def available() -> tuple[str, ...]:
    kernels = _kernels()
    return tuple(k for k in BASELINES if k in kernels)
