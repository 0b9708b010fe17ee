"""Read-only views a policy sees. Why this shape: they carry ESTIMATED needs only.

No view holds, or can reach through any attribute, an operator's true memory, I/O or CPU need, nor a
container's future (when it will finish or run out of memory): the simulator keeps those in objects no view
references. Views are named tuples of numbers, strings and tuples (writing raises), arrays are
read-only copies, and operator states are read through a read-only memoryview. Names, shapes and units are
declared in interface.py. Named tuples rather than dataclasses: as immutable, and several times cheaper
to build, which matters at tens of thousands of operators per run.
"""

from __future__ import annotations

from itertools import compress, repeat
from typing import NamedTuple

import numpy as np

from policyforge.tasks.pipelines.model import PRIORITY_NAMES

STATE_NAMES = ("pending", "assigned", "running", "suspending", "completed", "failed")
PENDING, ASSIGNED, RUNNING, SUSPENDING, COMPLETED, FAILED = range(6)
_ASSIGNABLE = frozenset(("pending", "failed")).__contains__
_ASSIGNABLE_CODE = frozenset((PENDING, FAILED)).__contains__
_COMPLETED_CODE = COMPLETED.__eq__
_new_tuple = tuple.__new__


class OperatorView(NamedTuple):
    """One operator's identity, dependencies and estimated needs (never the true ones). `parents` are
    positions in the pipeline's `ops` (not ids)."""

    id: int
    pipeline: int
    name: str
    position: int
    parents: tuple[int, ...]
    scaling: str
    est_memory_gb: float
    est_cpu_seconds: float
    est_io_seconds: float


class Operators:
    """A pipeline's operator views, as an immutable sequence built on first use.

    Why lazy: a run sees tens of thousands of operators and most policies only need ids and dependencies;
    those come from the shared per-shape tuples `ids` and `parents` without building a view per operator.
    Holds only what views show (names, dependencies, curves, estimates), never the true needs.
    """

    __slots__ = ("_first", "_pipeline", "_names", "_parents", "_scaling", "_estimates", "_views")

    def __init__(self, first: int, pipeline: int, names: tuple[str, ...], parents: tuple[tuple[int, ...], ...],
                 scaling: tuple[str, ...], estimates) -> None:
        set_ = object.__setattr__
        set_(self, "_first", first)
        set_(self, "_pipeline", pipeline)
        set_(self, "_names", names)
        set_(self, "_parents", parents)
        set_(self, "_scaling", scaling)
        set_(self, "_estimates", estimates)
        set_(self, "_views", None)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("pipeline.ops is read-only")

    def _build(self) -> tuple[OperatorView, ...]:
        views = self._views
        if views is None:
            first, n = self._first, len(self._names)
            views = tuple(map(_new_tuple, repeat(OperatorView, n), zip(
                range(first, first + n), repeat(self._pipeline, n), self._names, range(n), self._parents,
                self._scaling, *self._estimates.T.tolist(), strict=True)))
            object.__setattr__(self, "_views", views)
        return views

    @property
    def ids(self) -> range:
        """The operators' ids, in topological order."""
        return range(self._first, self._first + len(self._names))

    @property
    def parents(self) -> tuple[tuple[int, ...], ...]:
        """Each operator's parents, as positions in the pipeline."""
        return self._parents

    def __len__(self) -> int:
        return len(self._names)

    def __getitem__(self, index):
        return self._build()[index]

    def __iter__(self):
        return iter(self._build())

    def __eq__(self, other) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, Operators) else other)

    def __hash__(self) -> int:
        return hash(self._build())

    def __repr__(self) -> str:
        return repr(self._build())


class PipelineView(NamedTuple):
    """A pipeline and the state of each of its operators when the policy was called."""

    id: int
    name: str
    priority: int
    arrival: float
    ops: Operators
    states: tuple[str, ...]

    @property
    def priority_name(self) -> str:
        return PRIORITY_NAMES[self.priority]

    @property
    def done(self) -> bool:
        return all(s == "completed" for s in self.states)

    @property
    def has_failures(self) -> bool:
        return "failed" in self.states

    def assignable(self, parents_complete: bool = True) -> tuple[int, ...]:
        """Ids of pending or failed operators, in topological order; with `parents_complete`, only those whose
        parents have all completed (without it, their parents may instead go earlier in the same container)."""
        states = self.states
        ids = self.ops.ids
        ready = compress(ids, map(_ASSIGNABLE, states))
        if not parents_complete:
            return tuple(ready)
        first, parents = ids.start, self.ops.parents
        done = [s == "completed" for s in states].__getitem__
        return tuple(i for i in ready if all(map(done, parents[i - first])))


class ResultView(NamedTuple):
    """A container that completed, failed (OOM) or finished suspending since the previous call.

    `remaining` are its operators not completed (failed ones, or those a suspension returned to pending)."""

    container: int
    pool: int
    pipeline: int
    priority: int
    ops: tuple[int, ...]
    remaining: tuple[int, ...]
    cpu: int
    ram_gb: float
    outcome: str
    error: str | None
    seconds: float

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


class ContainerView(NamedTuple):
    """A running container. `current` indexes `ops`: the operator running (or next to run at a boundary)."""

    id: int
    pool: int
    pipeline: int
    priority: int
    ops: tuple[int, ...]
    cpu: int
    ram_gb: float
    started: float
    current: int
    suspendable: bool


class PoolView(NamedTuple):
    """One pool's capacity, what is not allocated, and its running containers in creation order."""

    id: int
    cpu_total: int
    ram_total_gb: float
    cpu_free: int
    ram_free_gb: float
    containers: tuple[ContainerView, ...]
    suspending: int


def frozen_array(values, dtype) -> np.ndarray:
    out = np.array(values, dtype=dtype)
    out.flags.writeable = False
    return out


class ClusterView:
    """Everything else: time, pools (objects and arrays), pipelines by id, the policy's random generator.

    Built per call; it holds only policy-visible information (arrived pipelines' views, a read-only
    memoryview of arrived operators' states, pool snapshots), never the simulator.
    """

    __slots__ = ("tick", "now", "tick_seconds", "duration", "multi_operator_containers", "pools", "suspendable",
                 "random", "_arrays", "_infos", "_states", "_outstanding")

    def __init__(self, tick: int, tick_seconds: float, duration: float, multi: bool,
                 pools: tuple[PoolView, ...], suspendable: tuple[ContainerView, ...], random: np.random.Generator,
                 infos, states: memoryview, outstanding) -> None:
        set_ = object.__setattr__
        set_(self, "tick", tick)
        set_(self, "now", tick * tick_seconds)
        set_(self, "tick_seconds", tick_seconds)
        set_(self, "duration", duration)
        set_(self, "multi_operator_containers", multi)
        set_(self, "pools", pools)
        set_(self, "suspendable", suspendable)
        set_(self, "random", random)
        set_(self, "_arrays", {})
        set_(self, "_infos", infos)
        set_(self, "_states", states)
        set_(self, "_outstanding", outstanding)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"cluster.{name} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cluster.{name} is read-only")

    @property
    def num_pools(self) -> int:
        return len(self.pools)

    def _array(self, name: str, dtype) -> np.ndarray:
        found = self._arrays.get(name)
        if found is None:
            found = self._arrays[name] = frozen_array([getattr(p, name) for p in self.pools], dtype)
        return found

    @property
    def cpu_total(self) -> np.ndarray:
        """CPUs of each pool (read-only array, one entry per pool)."""
        return self._array("cpu_total", np.int64)

    @property
    def ram_total_gb(self) -> np.ndarray:
        return self._array("ram_total_gb", np.float64)

    @property
    def cpu_free(self) -> np.ndarray:
        """CPUs of each pool not allocated to a container."""
        return self._array("cpu_free", np.int64)

    @property
    def ram_free_gb(self) -> np.ndarray:
        return self._array("ram_free_gb", np.float64)

    def pipeline(self, pid: int) -> PipelineView:
        """The pipeline `pid` (an arrived one) with its operators' current states."""
        if pid < 0:
            raise IndexError(f"no pipeline {pid}")
        info = self._infos[pid]
        ids = info.ops.ids
        states = tuple(map(STATE_NAMES.__getitem__, self._states[ids.start:ids.stop]))
        return _new_tuple(PipelineView, (info.id, info.name, info.priority, info.arrival, info.ops, states))

    def assignable(self, pid: int, parents_complete: bool = True) -> tuple[int, ...]:
        """cluster.pipeline(pid).assignable(parents_complete), without building the pipeline's view."""
        if pid < 0:
            raise IndexError(f"no pipeline {pid}")
        ops = self._infos[pid].ops
        ids = ops.ids
        states = self._states[ids.start:ids.stop]
        ready = compress(ids, map(_ASSIGNABLE_CODE, states))
        if not parents_complete:
            return tuple(ready)
        first, parents, state = ids.start, ops.parents, states.__getitem__
        # map chains rather than generators: called for every touched pipeline on every call of the ranking
        return tuple([i for i in ready if all(map(_COMPLETED_CODE, map(state, parents[i - first])))])

    def outstanding(self) -> tuple[int, ...]:
        """Ids of arrived pipelines not yet completed, in arrival order."""
        return tuple(self._outstanding)
