"""Vulcan's sampled-at-eviction mode: when room is needed, score a small random sample of cached objects
with the current time and evict the lowest.

Where RANK scores an object when it is accessed (the score then stands until its next access), this mode
scores at the moment of the eviction, so a policy can age objects by the current time (`stats.now -
objs.last_access`) and by the clock (`stats.clock`, the score of the last victim). `priority(objs,
stats)` gets one row per sampled object: what is known of it now, nothing of the future.

* `run_policy(trace, mode, capacity, priority, seed)` is UNTRUSTED: it returns the victims in order
  (`{"victims": uint64 object ids, "sampled": 1}`). The sample is drawn by the mechanism's own generator,
  seeded from the instance's keyed randomness (`contract.instance_rng`); the policy sees only the rows.
* `run_program(...)`: the same run with a GP program scored inside the compiled loop (the same victims).
* `judge(trace, mode, capacity, decisions, seed)` is TRUSTED: it replays the victims drawing every
  eviction's sample again from the same seed and refuses a victim that is not in its sample, too few or too
  many victims. (A sandboxed candidate could instead hand back decisions without the `sampled` mark; the
  RANK judge then checks them, which any legal sequence of victims passes: no gain over a RANK policy.)
"""

from __future__ import annotations

import time

import numpy as np

from policyforge.errors import PolicyError
from policyforge.program import GPProgram, bind
from policyforge.tasks.cache import _program_kernels as program_kernels
from policyforge.tasks.cache import _sampled_kernels as kernels
from policyforge.tasks.cache.rank import Columns, ScoreFn, _call, _object_ids, _stream
from policyforge.tasks.cache.simulate import Result
from policyforge.tasks.cache.trace import Trace, make_trace

SAMPLE = 64
"""Objects scored per eviction (drawn with replacement)."""
OBJS_COLUMNS = ("size", "insert_time", "last_access", "prev_access", "count", "total_count", "access_clock")
"""The rows of `_sampled_kernels.block`, in its order."""
SAMPLED_SLOTS = {**{f"objs.{name}": k for k, name in enumerate(OBJS_COLUMNS)},
                 "stats.capacity": program_kernels.S_CAPACITY, "stats.objects": program_kernels.S_OBJECTS,
                 "stats.requests": program_kernels.S_REQUESTS, "stats.clock": program_kernels.S_CLOCK,
                 "stats.now": program_kernels.S_NOW, "stats.ewma_size": kernels.S_EWMA_SIZE,
                 "stats.ewma_gap": kernels.S_EWMA_GAP}
"""Terminal name -> the compiled loop's value slot, for the sampled interface."""


def _views(rows: np.ndarray, trace: Trace, capacity: int, clock: float, now: int,
           stream: np.ndarray) -> tuple[Columns, Columns]:
    """A sample's rows as the policy's own read-only columns, and the scalars of the moment."""
    rows.flags.writeable = False  # a fresh block from the kernel: the policy's own
    objs = Columns(rows.shape[1], {name: rows[k] for k, name in enumerate(OBJS_COLUMNS)})
    stats = Columns(rows.shape[1], {"capacity": float(capacity), "objects": float(trace.n_objects),
                                    "requests": float(len(trace)), "clock": float(clock), "now": float(now),
                                    "ewma_size": float(stream[2, now]), "ewma_gap": float(stream[3, now])})
    return objs, stats


def _start(trace: Trace, seed: int):
    state, members, counters, victims = kernels.new_run(trace.n_objects, len(trace))
    return (state, np.zeros(trace.n_objects), members, counters, victims, np.array([seed], np.uint64),
            np.empty(SAMPLE, np.int64), np.zeros(1))


def run_policy(trace: Trace, mode: str, capacity: int, priority: ScoreFn, seed: int) -> dict[str, np.ndarray]:
    """UNTRUSTED half: at each eviction, score the drawn sample with `priority`; the lowest (the first of
    equals) is evicted."""
    sizes, stream = trace.sizes(mode), _stream(trace)
    state, aclock, members, counters, victims, rng, sample, clock = _start(trace, seed)
    scalars = np.array([float(capacity), float(trace.n_objects), float(len(trace))])
    none = np.empty(0, np.int64)
    i, victim, score = 0, -1, 0.0
    while True:
        i = kernels.run(i, victim, score, trace.ids, sizes, int(capacity), stream, state, aclock, members,
                        counters, victims, rng, sample, clock, none, none, np.empty(0), 0, scalars)
        if i >= len(trace):
            break
        objs, stats = _views(kernels.block(sample, state, aclock, stream), trace, capacity, clock[0], i, stream)
        scores = _call(priority, objs, stats, SAMPLE, "priority")
        best = int(np.argmin(scores))
        victim, score = int(sample[best]), float(scores[best])
    return {"victims": _object_ids(trace)[victims[:counters[kernels.VICTIMS]]], "sampled": 1}


def run_program(trace: Trace, mode: str, capacity: int, program: GPProgram, seed: int) -> dict[str, np.ndarray] | None:
    """The sampled run of a GP program scored inside the compiled loop (the victims of `run_policy` with the
    program's module), or None when the loop cannot run it. As for RANK (rank.run_program), only the trusted
    worker hands over engine-built programs, and the judge checks whatever comes back."""
    code = bind(program, SAMPLED_SLOTS)
    if code is None:
        return None
    state, aclock, members, counters, victims, rng, sample, clock = _start(trace, seed)
    scalars = np.array([float(capacity), float(trace.n_objects), float(len(trace))])
    kernels.run(0, -1, 0.0, trace.ids, trace.sizes(mode), int(capacity), _stream(trace), state, aclock, members,
                counters, victims, rng, sample, clock, *code, scalars)
    return {"victims": _object_ids(trace)[victims[:counters[kernels.VICTIMS]]], "sampled": 1}


def judge(trace: Trace, mode: str, capacity: int, victims: np.ndarray, seed: int, policy: str = "policy") -> Result:
    """TRUSTED half: replay the victims, each against the sample its eviction draws; the miss ratios."""
    started = time.perf_counter()
    victims = np.asarray(victims, dtype=np.uint64)
    sizes = trace.sizes(mode)
    status, misses, miss_bytes, request, decision = kernels.replay(trace.ids, sizes, trace.n_objects, int(capacity),
                                                                   trace.dense(victims), np.uint64(seed), SAMPLE)
    if status == 1:
        raise PolicyError(f"decision {decision} (request {request}): object {int(victims[decision])} is not in the "
                          "sample drawn for that eviction")
    if status == 2:
        raise PolicyError(f"request {request} needs an eviction but the decisions ended after {decision}")
    if status == 3:
        raise PolicyError(f"{len(victims) - decision} decisions left over after the last request")
    return Result(policy=policy, mode=mode, cache_size=int(capacity), requests=len(trace), misses=int(misses),
                  miss_bytes=int(miss_bytes), request_bytes=int(sizes.sum()), seconds=time.perf_counter() - started)


def warm_up() -> None:
    """Compile the mode's kernels once, trusted, into numba's cache beside the source (see rank.warm_up)."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 64, 512).astype(np.uint64)
    tiny = make_trace("warm-up", np.arange(512), ids, 1 + ids.astype(np.int64) % 7)
    lru = GPProgram(np.array([0]), np.array([0]), np.empty(0), ("objs.last_access",), 1)
    for mode in ("bytes", "objects"):
        capacity = tiny.cache_size(0.2, mode)
        done = run_policy(tiny, mode, capacity, lambda objs, stats: objs.last_access, 7)
        judge(tiny, mode, capacity, done["victims"], 7)
        judge(tiny, mode, capacity, run_program(tiny, mode, capacity, lru, 7)["victims"], 7)
