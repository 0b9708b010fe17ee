"""How many ticks an operator runs in a container, and on which of them it runs out of memory.

This is where Eudoxia's tick arithmetic lives, so the event-driven engine lands on exactly the ticks Eudoxia's
tick-by-tick loop reaches: a segment takes int(io_seconds / tick) I/O ticks then int(cpu_seconds / tick) CPU
ticks; while reading, memory after the j-th tick is (j * tick) * 20 GB/s (fixed `memory_gb` when set); while
computing it is the segment's peak; the container is killed on the first tick its memory exceeds its RAM.
Results are cached per (operator profile, CPUs, RAM): workloads repeat profiles heavily.
"""

from __future__ import annotations

from policyforge.tasks.pipelines.model import DISK_GB_PER_SECOND, Segment


def segment_ticks(segment: Segment, cpus: int, tick: float) -> tuple[int, int]:
    """(I/O ticks, CPU ticks), truncated as Eudoxia truncates them."""
    return int(segment.io_seconds / tick), int(segment.cpu_seconds(cpus) / tick)


def _first_oom(segment: Segment, io_ticks: int, cpu_ticks: int, ram: float, tick: float) -> int:
    """1-based tick within the segment on which memory first exceeds `ram`; 0 when it never does."""
    if segment.memory_gb is not None:
        return 1 if segment.memory_gb > ram else 0
    if io_ticks and (io_ticks * tick) * DISK_GB_PER_SECOND > ram:
        j = max(1, int(ram / (tick * DISK_GB_PER_SECOND)) - 2)
        while (j * tick) * DISK_GB_PER_SECOND <= ram:  # the exact float test Eudoxia applies each tick
            j += 1
        return j
    if cpu_ticks and segment.storage_read_gb > ram:
        return io_ticks + 1
    return 0


def operator_run(segments: tuple[Segment, ...], cpus: int, ram: float, tick: float,
                 ticks: tuple[tuple[int, int], ...] | None = None) -> tuple[int, int]:
    """(ticks the operator takes, 1-based tick of its OOM or 0). `ticks`: each segment's segment_ticks when
    already known (they depend on the CPUs only, not on the RAM).

    Deviation: an operator whose segments all round to zero ticks takes one tick here; in Eudoxia it would
    never complete (its last-tick check is never reached).
    """
    elapsed = 0
    for k, segment in enumerate(segments):
        io_ticks, cpu_ticks = segment_ticks(segment, cpus, tick) if ticks is None else ticks[k]
        if io_ticks + cpu_ticks:
            oom = _first_oom(segment, io_ticks, cpu_ticks, ram, tick)
            if oom:
                return elapsed + oom, elapsed + oom
        elapsed += io_ticks + cpu_ticks
    return max(elapsed, 1), 0


CACHE_LIMIT = 200_000
"""Entries a TimelineCache keeps; past it, results are computed and not stored. A policy's sizes decide how many
distinct keys a run makes, and the cache may outlive the run (pipelines/engine.py shares it per workload), so
it must not grow with what a policy asks for."""


class TimelineCache:
    """operator_run memoised on (profile id, CPUs, RAM) for one tick length, up to CACHE_LIMIT entries, and
    each profile's segment ticks on (profile id, CPUs): a policy that sizes RAM freely (a GP tree's ram_gb)
    asks for a new RAM almost every time, and the ticks are the costly part (numpy's curves per segment)."""

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self.cache: dict[tuple[int, int, float], tuple[int, int]] = {}
        self.ticks: dict[tuple[int, int], tuple[tuple[int, int], ...]] = {}

    def run(self, profile: int, segments: tuple[Segment, ...], cpus: int, ram: float) -> tuple[int, int]:
        key = (profile, cpus, ram)
        hit = self.cache.get(key)
        if hit is None:
            ticks = self.ticks.get((profile, cpus))
            if ticks is None:
                ticks = tuple(segment_ticks(segment, cpus, self.tick) for segment in segments)
                if len(self.ticks) < CACHE_LIMIT:
                    self.ticks[(profile, cpus)] = ticks
            hit = operator_run(segments, cpus, ram, self.tick, ticks)
            if len(self.cache) < CACHE_LIMIT:
                self.cache[key] = hit
        return hit
