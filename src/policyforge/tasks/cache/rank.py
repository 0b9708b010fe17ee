"""The RANK mechanism (Vulcan's cache interface) and its trusted judge.

A policy is `score(objs, stats)`: one float per row, lowest evicted. Objects are scored when inserted and
on every hit (a lazy priority queue; ties go to the object scored earliest), and the mechanism owns all
state. The run is split in two halves, as the task contract needs:

* `run_policy(trace, mode, capacity, score, admit=None)` is UNTRUSTED: it calls the policy and returns its
  decisions, the ids of the evicted objects in order and the requests whose object its optional `admit`
  hook refused (`{"victims": uint64 array, "rejected": int64 request indices}`), nothing else.
* `judge(trace, mode, capacity, decisions)` is TRUSTED: it replays the victims (and refusals) on a fresh simulator without
  any policy code, raises PolicyError on the first illegal one (not cached, too few, too many) and computes
  the miss ratios.

Speed without losing exactness or leaking the future: calling Python once per request is too slow, so the
mechanism scores a chunk of requests in one call. A chunk ends with the first request that needs an
eviction (or, when the policy has an `admit` hook, with the first miss it could admit): before it nothing is
evicted or refused, so the cache-dependent features (insertion time, accesses since insertion, ghost flag)
follow exactly from the state, and every decision uses only scores of requests up to its own. A chunk
reaching further would leak the future: a later row whose prev_access is an earlier row's last_access is
that object's next access, which a policy could read to evict Belady's victims
(tests/hostile_tasks/cache_lookahead.py). So the number of calls is about the number of evictions.

A GP tree needs no call at all: its postfix program (policyforge.program, carried by the trusted
interpreter's module) runs inside one compiled loop (`_program_kernels.run_rank`) with the same decisions,
victim for victim (`run_program`).

`stats.clock` is the score of the last evicted object (0 before the first eviction), GDSF's L: with it
`clock + count * 1e6 / size` is GDSF. Within a chunk nothing is evicted before the last row, so one value
holds for every row of a call; it is the policy's own past output and says nothing about the future.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from policyforge.errors import PolicyCrashed, PolicyError, PolicyforgeError
from policyforge.program import TERMINAL, GPProgram, bind
from policyforge.tasks.cache import _program_kernels as program_kernels
from policyforge.tasks.cache import _rank_kernels as kernels
from policyforge.tasks.cache.simulate import Result
from policyforge.tasks.cache.trace import Trace, make_trace

POLICY_DIR = Path(__file__).parent / "policies"
RANK_BASELINES = {"rank-fifo": "fifo.py", "rank-lru": "lru.py", "rank-lfu": "lfu.py",
                  "rank-gdsf": "gdsf.py", "rank-gdsf-like": "gdsf_like.py", "rank-size": "size_aware.py"}
FIRST_CHUNK, MIN_CHUNK, MAX_CHUNK = 4096, 64, 65536

ScoreFn = Callable[["Columns", "Columns"], np.ndarray]


_STREAM_CACHE: dict[int, tuple[Trace, np.ndarray]] = {}


def _stream(trace: Trace) -> np.ndarray:
    """Trace-determined columns (previous access, accesses so far, EWMA of sizes and of reuse gaps) as one
    (4, n) array, computed once per trace object."""
    hit = _STREAM_CACHE.get(id(trace))
    if hit is None or hit[0] is not trace:
        columns = np.ascontiguousarray(np.stack(kernels.stream_features(trace.ids, trace.size, trace.n_objects)))
        _STREAM_CACHE.clear()
        _STREAM_CACHE[id(trace)] = (trace, columns)
        return columns
    return hit[1]


class Columns:
    """A read-only bag of columns handed to a policy: `len()` is the number of rows and attributes cannot be
    set. The values must already be the policy's own read-only copies (see `_views`), so nothing it does
    reaches the mechanism."""

    __slots__ = ("_columns", "_rows")

    def __init__(self, rows: int, columns: Mapping[str, np.ndarray | float]) -> None:
        object.__setattr__(self, "_rows", rows)
        object.__setattr__(self, "_columns", columns)

    def __getattr__(self, name: str):
        try:
            return object.__getattribute__(self, "_columns")[name]
        except KeyError:
            raise AttributeError(f"no attribute {name!r}") from None

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"the view is read-only (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"the view is read-only (cannot delete {name!r})")

    def __len__(self) -> int:
        return self._rows

    def __dir__(self) -> list[str]:
        return sorted(object.__getattribute__(self, "_columns"))


OBJS_COLUMNS = ("size", "insert_time", "last_access", "prev_access", "count", "total_count", "in_ghost", "hit",
                "ewma_size", "ewma_gap")
"""The rows of the block `kernels.chunk` builds, in its order."""


class _BlockRows(Mapping):
    """Column name -> that row of a chunk's block, made on access (a policy reads few of the ten)."""

    __slots__ = ("_block",)
    ROW = {name: k for k, name in enumerate(OBJS_COLUMNS)}

    def __init__(self, block: np.ndarray) -> None:
        self._block = block

    def __getitem__(self, name: str) -> np.ndarray:
        return self._block[self.ROW[name]]

    def __iter__(self):
        return iter(OBJS_COLUMNS)

    def __len__(self) -> int:
        return len(OBJS_COLUMNS)


def _views(block: np.ndarray, trace: Trace, capacity: int, clock: float) -> tuple[Columns, Columns]:
    """The policy's views of a chunk: its own read-only copy of the block (which owns its memory, so no view
    of it can be made writable again), a column per row. The mechanism keeps reading the original."""
    mine = block.copy()
    mine.flags.writeable = False
    rows = block.shape[1]
    objs = Columns(rows, _BlockRows(mine))
    stats = Columns(rows, {"capacity": float(capacity), "objects": float(trace.n_objects),
                           "requests": float(len(trace)), "clock": float(clock)})
    return objs, stats


RANK_SLOTS = {**{f"objs.{name}": k for k, name in enumerate(OBJS_COLUMNS)},
              "stats.capacity": program_kernels.S_CAPACITY, "stats.objects": program_kernels.S_OBJECTS,
              "stats.requests": program_kernels.S_REQUESTS, "stats.clock": program_kernels.S_CLOCK}
"""Terminal name -> the compiled loop's value slot (_program_kernels), for the RANK interface."""


def run_program(trace: Trace, mode: str, capacity: int, program: GPProgram) -> dict[str, np.ndarray] | None:
    """The decisions of a GP program's RANK run, computed in one compiled loop (the same victims as
    `run_policy` with the program's module), or None when the loop cannot run this program.

    Only the trusted worker pool hands the task a module carrying an engine-built program; a sandboxed
    module that pretends to carry one only runs this same kernel inside its sandbox, and its decisions are
    judged by the trusted `judge` like any others, so the judge is no weaker for it."""
    code = bind(program, RANK_SLOTS)
    if code is None:
        return None
    sizes = trace.sizes(mode)
    scalars = np.array([float(capacity), float(trace.n_objects), float(len(trace))])
    victims, count = program_kernels.run_rank(trace.ids, sizes, trace.n_objects, int(capacity), _stream(trace),
                                              _ghost_horizon(trace, mode, capacity), *code, scalars)
    return {"victims": _object_ids(trace)[victims[:count]], "rejected": np.empty(0, np.int64)}


def _ghost_horizon(trace: Trace, mode: str, capacity: int) -> int:
    """An eviction is remembered (in_ghost) for as many requests as the cache holds objects."""
    mean_object = max(1.0, trace.wss_bytes / max(1, trace.n_objects)) if mode == "bytes" else 1.0
    return int(capacity / mean_object)


def _object_ids(trace: Trace) -> np.ndarray:
    dense_to_id = np.empty(trace.n_objects, np.uint64)
    dense_to_id[trace.ids] = trace.obj_id
    return dense_to_id


def load_policy(name_or_path: str | Path) -> ScoreFn:
    """A RANK baseline's `score` by name (rank-lru, ...) or a policy file defining score(objs, stats)."""
    return load_hooks(name_or_path)[0]


def load_hooks(name_or_path: str | Path) -> tuple[ScoreFn, ScoreFn | None]:
    """(score, admit or None) of a RANK baseline by name or of a policy file (trusted, in this process)."""
    path = POLICY_DIR / RANK_BASELINES[name_or_path] if name_or_path in RANK_BASELINES else Path(name_or_path)
    if not path.is_file():
        raise PolicyforgeError(f"{name_or_path}: no such policy file or RANK baseline "
                               f"({', '.join(RANK_BASELINES)})")
    spec = importlib.util.spec_from_file_location(f"cache_policy_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise PolicyError(f"{path}: cannot load ({type(exc).__name__}: {exc})") from None
    score = getattr(module, "score", None)
    if not callable(score):
        raise PolicyError(f"{path}: defines no function score(objs, stats)")
    admit = getattr(module, "admit", None)
    return score, admit if callable(admit) else None


def _call(score: ScoreFn, objs, stats, rows: int, name: str = "score") -> np.ndarray:
    try:
        out = score(objs, stats)
    except Exception as exc:
        raise PolicyCrashed(f"{name} raised {type(exc).__name__}: {exc}") from None
    try:
        values = np.array(out, dtype=np.float64)  # always a fresh writable copy: one compiled signature
    except (TypeError, ValueError):
        raise PolicyError(f"{name} returned {type(out).__name__}, not numbers") from None
    if values.shape != (rows,):
        if values.ndim != 0:
            raise PolicyError(f"{name} returned shape {values.shape}, expected ({rows},): one value per row")
        values = np.full(rows, float(values))
    if not np.isfinite(values).all():
        raise PolicyError(f"{name} returned NaN or infinity")
    return values


def _admissions(admit: ScoreFn, objs, stats, hit: np.ndarray) -> np.ndarray:
    """Which rows' objects may enter the cache on a miss: those whose admission value is > 0 (hits are
    unaffected)."""
    values = _call(admit, objs, stats, len(hit), "admit")
    return np.ascontiguousarray(hit | (values > 0))


def run_policy(trace: Trace, mode: str, capacity: int, score: ScoreFn,
               admit: ScoreFn | None = None) -> dict[str, np.ndarray]:
    """UNTRUSTED half: run `score` (and the optional `admit` hook) through the mechanism; returns the decisions
    {"victims": object ids evicted in order, "rejected": request indices whose object was refused entry}."""
    sizes = trace.sizes(mode)
    stream = _stream(trace)
    n, n_obj = len(trace), trace.n_objects
    state = np.zeros((6, n_obj), np.int64)  # cached, stored, inserted, count, evicted, stamp (kernels' rows)
    state[kernels.EVICTED] = -1
    state[kernels.STAMP] = -1
    scratch = np.zeros((4, n_obj), np.int64)
    keys, heap = np.empty(n + 1), np.empty((2, n + 1), np.int64)  # scores; (tie, object) per entry
    victims = np.empty(n, np.int64)
    rejected = np.empty(n, np.int64)
    counters = np.zeros(6, np.int64)  # misses, missed bytes, used, heap size, victims, refusals
    all_admitted = np.ones(MAX_CHUNK, np.bool_)
    horizon = _ghost_horizon(trace, mode, capacity)
    clock = np.zeros(1)  # the score of the last victim
    a, size = 0, FIRST_CHUNK
    while a < n:
        bound = min(n, a + size)
        block = kernels.chunk(a, bound, trace.ids, sizes, capacity, stream, state, scratch, counters, horizon,
                              admit is not None)
        b = a + block.shape[1]  # the call sees no request after the decision its scores feed: no future to read
        objs, stats = _views(block, trace, capacity, clock[0])
        scores = _call(score, objs, stats, b - a)
        admitted = all_admitted[:b - a] if admit is None else _admissions(admit, objs, stats, block[kernels.B_HIT] > 0)
        reached = kernels.advance(a, trace.ids, sizes, capacity, block, scores, admitted, state, keys, heap,
                                  victims, rejected, counters, horizon, clock)
        if reached != b:
            raise AssertionError(f"RANK mechanism: request {reached} was mispredicted (the chunk ends at {b})")
        size = min(MAX_CHUNK, size * 2 if b == bound else max(MIN_CHUNK, 2 * (b - a)))
        a = b
    return {"victims": _object_ids(trace)[victims[:counters[kernels.VICTIMS]]],
            "rejected": rejected[:counters[kernels.REJECTED]].copy()}


def judge(trace: Trace, mode: str, capacity: int, decisions: dict[str, np.ndarray], policy: str = "policy") -> Result:
    """TRUSTED half: replay the victims on a fresh simulator, check each, compute the miss ratios."""
    import time

    started = time.perf_counter()
    victims = np.asarray(decisions.get("victims", np.empty(0)), dtype=np.uint64)
    rejected = np.asarray(decisions.get("rejected", np.empty(0)))
    if rejected.ndim != 1 or (rejected.size and rejected.dtype.kind not in "iu"):
        raise PolicyError("decisions: 'rejected' must be a 1-D array of request indices")
    if rejected.size and (rejected.min() < 0 or rejected.max() >= len(trace)):
        raise PolicyError(f"decisions: a refused request index lies outside 0..{len(trace) - 1}")
    dense = trace.dense(victims)
    sizes = trace.sizes(mode)
    status, misses, miss_bytes, request, decision = kernels.replay(trace.ids, sizes, trace.n_objects,
                                                                   int(capacity), dense,
                                                                   rejected.astype(np.int64))
    if status == 1:
        raise PolicyError(f"decision {decision} (request {request}): object {int(victims[decision])} is not cached")
    if status == 2:
        raise PolicyError(f"request {request} needs an eviction but the decisions ended after {decision}")
    if status == 3:
        raise PolicyError(f"{len(victims) - decision} decisions left over after the last request")
    if status == 4:
        raise PolicyError(f"refusal {decision} (request {int(rejected[decision]) if decision < len(rejected) else request})"
                          " is not the insertion of a missed object, or the refusals are not in request order")
    return Result(policy=policy, mode=mode, cache_size=int(capacity), requests=len(trace), misses=int(misses),
                  miss_bytes=int(miss_bytes), request_bytes=int(sizes.sum()), seconds=time.perf_counter() - started)


def warm_up() -> None:
    """Compile the mechanism's kernels once, here (trusted), so numba's cache beside the source holds them:
    the sandboxed child cannot write that cache and would otherwise compile them on every evaluation
    (_jit copies what is there into the child's scratch space)."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 64, 512).astype(np.uint64)
    tiny = make_trace("warm-up", np.arange(512), ids, 1 + ids.astype(np.int64) % 7)
    lru = GPProgram(np.array([TERMINAL]), np.array([0]), np.empty(0), ("objs.last_access",), 1)
    for mode in ("bytes", "objects"):
        capacity = tiny.cache_size(0.2, mode)
        judge(tiny, mode, capacity, run_policy(tiny, mode, capacity, lambda objs, stats: objs.last_access))
        judge(tiny, mode, capacity, run_program(tiny, mode, capacity, lru))


def reduction_vs_fifo(miss_ratio: float, fifo_miss_ratio: float) -> float:
    """Vulcan's objective per instance: (mr_FIFO - mr) / mr_FIFO, and (mr_FIFO - mr) / mr when worse."""
    if miss_ratio <= fifo_miss_ratio:
        return (fifo_miss_ratio - miss_ratio) / fifo_miss_ratio if fifo_miss_ratio > 0 else 0.0
    return (fifo_miss_ratio - miss_ratio) / miss_ratio

