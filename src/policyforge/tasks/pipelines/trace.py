"""Eudoxia's trace CSV (one row per operator) into a Workload, rejecting a malformed row with one clear line.

Arrival ticks are computed as Eudoxia replays a trace: a pipeline arrives at the first tick whose number is
at least `arrival_seconds / (1 / ticks_per_second)` in floating point (so 9.96 s at 100 ticks/s arrives at
tick 997, as in Eudoxia), and never before the pipeline listed before it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from policyforge.errors import InputError
from policyforge.tasks.pipelines.model import (
    PRIORITY_BY_NAME,
    SCALING,
    Operator,
    Pipeline,
    Segment,
    Workload,
    reorder,
)

COLUMNS = ("pipeline_id", "arrival_seconds", "priority", "operator_id", "parents", "baseline_cpu_seconds",
           "cpu_scaling", "memory_gb", "storage_read_gb")


def arrival_tick(seconds: float, ticks_per_second: int) -> int:
    """The tick at which Eudoxia's trace replay delivers an arrival at `seconds`."""
    return max(0, math.ceil(seconds / (1.0 / ticks_per_second)))


def read_trace(path: str | Path, ticks_per_second: int) -> Workload:
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), None, None, "trace file not found") from None
    except OSError as exc:
        raise InputError(str(path), None, None, f"cannot read: {exc}") from None
    with handle:
        try:
            return _Reader(str(path), ticks_per_second).read(csv.reader(handle))
        except UnicodeDecodeError as exc:
            raise InputError(str(path), None, None, f"not UTF-8 text: {exc}") from None
        except csv.Error as exc:
            raise InputError(str(path), None, None, f"malformed CSV: {exc}") from None


class _Reader:
    """Groups consecutive rows of a pipeline, validating each field where it is read.

    Traces repeat a few pipeline shapes thousands of times, so a pipeline's operator rows (all but its id,
    arrival and priority) are interned: a repeated shape costs one dictionary lookup, and equal pipelines
    share one tuple of operators (which also lets the engine analyse each shape once).
    """

    def __init__(self, source: str, ticks_per_second: int) -> None:
        self.source = source
        self.tps = ticks_per_second
        self.segments: dict[tuple[str, str, str, str], tuple[Segment, ...]] = {}
        self.shapes: dict[tuple, tuple[Operator, ...]] = {}
        self.pipelines: list[Pipeline] = []
        self.seen: set[str] = set()
        self.last_tick = 0

    def fail(self, line: int, column: str | None, reason: str) -> InputError:
        return InputError(self.source, line, column, reason)

    def read(self, rows) -> Workload:
        header = next(rows, None)
        if header is None:
            raise self.fail(1, None, "empty file: expected a header row")
        header = [h.strip() for h in header]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise self.fail(1, None, f"missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})")
        order = [header.index(c) for c in COLUMNS]
        same_order = order == list(range(len(COLUMNS))) and len(header) == len(COLUMNS)
        width = len(header)
        current = None
        shape: list[tuple[str, ...]] = []
        lines: list[int] = []
        for row in rows:
            if len(row) != width:
                if not row or all(not cell.strip() for cell in row):
                    continue
                raise self.fail(rows.line_num, None, f"expected {width} fields, found {len(row)}")
            fields = row if same_order else [row[i] for i in order]
            if fields[0] != current:
                if current is not None:
                    self.close(shape, lines)
                current = fields[0]
                shape, lines = [], []
                self.open(rows.line_num, fields)
            elif fields[2] or fields[1]:
                self.check_continuation(rows.line_num, fields)
            shape.append(tuple(fields[3:]))
            lines.append(rows.line_num)
        if current is not None:
            self.close(shape, lines)
        if not self.pipelines:
            raise self.fail(1, None, "no operator rows")
        return Workload(tuple(self.pipelines), self.tps, self.source)

    def open(self, line: int, first: list[str]) -> None:
        """A pipeline's first row: its name, arrival and priority."""
        name = first[0].strip()
        if not name:
            raise self.fail(line, "pipeline_id", "missing value")
        if name in self.seen:
            raise self.fail(line, "pipeline_id", f"pipeline {name!r} appears again after other pipelines")
        self.seen.add(name)
        self.arrival = self.number(line, "arrival_seconds", first[1])
        self.priority = PRIORITY_BY_NAME.get(first[2].strip())
        if self.priority is None:
            raise self.fail(line, "priority", f"expected one of {', '.join(PRIORITY_BY_NAME)} on a pipeline's "
                                              f"first row, got {first[2]!r}")
        self.name, self.first_line = name, line

    def check_continuation(self, line: int, fields: list[str]) -> None:
        if line == self.first_line:
            return
        if fields[2].strip():
            raise self.fail(line, "priority", "only a pipeline's first row may set the priority")
        if fields[1].strip() and self.number(line, "arrival_seconds", fields[1]) != self.arrival:
            raise self.fail(line, "arrival_seconds", "differs from the pipeline's first row")

    def close(self, shape: list[tuple[str, ...]], lines: list[int]) -> None:
        key = tuple(shape)
        operators = self.shapes.get(key)
        if operators is None:
            operators = self.shapes[key] = self.build(shape, lines)
        self.last_tick = max(self.last_tick, arrival_tick(self.arrival, self.tps))
        self.pipelines.append(Pipeline(self.name, self.priority, self.last_tick, operators))

    def build(self, shape: list[tuple[str, ...]], lines: list[int]) -> tuple[Operator, ...]:
        """A new shape's operators, validated row by row, in Eudoxia's topological order."""
        ids: dict[str, int] = {}
        ops: list[Operator] = []
        for line, (raw_id, parents_text, base, scaling, memory, read) in zip(lines, shape, strict=True):
            op_id = raw_id.strip()
            if not op_id:
                raise self.fail(line, "operator_id", "missing value")
            if op_id in ids:
                raise self.fail(line, "operator_id", f"operator {op_id!r} repeated in pipeline {self.name!r}")
            names = [p.strip() for p in parents_text.split(";") if p.strip()]
            parents = tuple(self.parent(line, p, ids, self.name) for p in names)
            if len(set(parents)) != len(parents):
                raise self.fail(line, "parents", "a parent is listed twice")
            ids[op_id] = len(ops)
            ops.append(Operator(op_id, parents, self.segment(line, base, scaling, memory, read)))
        chain = all(op.parents == ((i - 1,) if i else ()) for i, op in enumerate(ops))
        return tuple(ops) if chain else reorder(ops)  # a chain is already in Eudoxia's order

    def number(self, line: int, column: str, text: str, blank_ok: bool = False) -> float | None:
        text = text.strip()
        if not text:
            if blank_ok:
                return None
            raise self.fail(line, column, "missing value")
        try:
            value = float(text)
        except ValueError:
            raise self.fail(line, column, f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < 0:
            raise self.fail(line, column, f"must be a finite number >= 0, got {text!r}")
        return value

    def segment(self, line: int, base: str, scaling: str, memory: str, read: str) -> tuple[Segment, ...]:
        key = (base, scaling, memory, read)
        found = self.segments.get(key)
        if found is None:
            if scaling.strip() not in SCALING:
                raise self.fail(line, "cpu_scaling", f"unknown curve {scaling!r} (known: {', '.join(SCALING)})")
            found = self.segments[key] = (Segment(self.number(line, "baseline_cpu_seconds", base), scaling.strip(),
                                                  self.number(line, "memory_gb", memory, blank_ok=True),
                                                  self.number(line, "storage_read_gb", read)),)
        return found

    def parent(self, line: int, parent: str, ids: dict[str, int], pipeline: str) -> int:
        index = ids.get(parent)
        if index is None:
            raise self.fail(line, "parents", f"parent {parent!r} is not an earlier operator of pipeline {pipeline!r}")
        return index
