"""Cache request traces: libCacheSim's oracleGeneral binary, its CSV form and zstd-compressed either way.

A trace is read in chunks straight into numpy columns (request time, 64-bit object id, size). A window
`START:END` (request indices, half-open) is a trace of its own: the working set, the dense object numbering
and every request's next access are computed within it, so an oracle never sees past the window's end.
Malformed input raises a one-line PolicyforgeError naming the file and what is wrong.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from policyforge.errors import PolicyforgeError

ORACLE_GENERAL = np.dtype([("time", "<u4"), ("obj_id", "<u8"), ("size", "<u4"), ("next_access", "<i8")])
CHUNK_LINES = 1 << 20
ID_NAMES = ("obj_id", "object", "obj", "id", "key", "lbn", "object_id")
SIZE_NAMES = ("size", "obj_size", "object_size", "bytes")
TIME_NAMES = ("time", "timestamp", "clock_time", "ts")


@dataclass(frozen=True)
class Trace:
    """Requests as columns. `ids` numbers objects 0..n_objects-1 in order of first request; `next_access`
    is the index of the next request to the same object within this trace, -1 for none."""

    name: str
    time: np.ndarray
    obj_id: np.ndarray
    size: np.ndarray
    ids: np.ndarray = field(repr=False)
    next_access: np.ndarray = field(repr=False)
    n_objects: int
    start: int = 0

    def __len__(self) -> int:
        return len(self.obj_id)

    @property
    def wss_bytes(self) -> int:
        """Working set in bytes: every distinct object counted once, at the size of its first request."""
        first = np.zeros(self.n_objects, dtype=bool)
        first_index = np.flatnonzero(np.diff(np.r_[-1, np.maximum.accumulate(self.ids)]) > 0)
        first[self.ids[first_index]] = True
        return int(self.size[first_index].sum())

    @cached_property
    def id_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted distinct object ids, their dense numbers): maps ids back to dense numbers by search."""
        dense_to_id = np.empty(self.n_objects, np.uint64)
        dense_to_id[self.ids] = self.obj_id
        order = np.argsort(dense_to_id)
        return dense_to_id[order], order.astype(np.int64)

    def dense(self, obj_ids: np.ndarray) -> np.ndarray:
        """Dense numbers of `obj_ids`; -1 for an id not in this trace."""
        sorted_ids, numbers = self.id_index
        obj_ids = np.asarray(obj_ids, dtype=np.uint64)
        where = np.minimum(np.searchsorted(sorted_ids, obj_ids), len(sorted_ids) - 1)
        return np.where(sorted_ids[where] == obj_ids, numbers[where], -1).astype(np.int64)

    @property
    def wss_objects(self) -> int:
        return self.n_objects

    def sizes(self, mode: str) -> np.ndarray:
        """Request sizes as the cache counts them: bytes, or 1 per object in objects mode."""
        if mode == "bytes":
            return self.size
        if mode == "objects":
            return np.ones(len(self), dtype=np.int64)
        raise PolicyforgeError(f"unknown mode {mode!r} (bytes or objects)")

    def cache_size(self, value: float, mode: str) -> int:
        """A fraction (<= 1) of the working set in the mode's unit, truncated as libCacheSim does, or an
        absolute size (> 1) in bytes or objects."""
        if value <= 0:
            raise PolicyforgeError(f"cache size must be positive, got {value}")
        if value <= 1:
            wss = self.wss_bytes if mode == "bytes" else self.wss_objects
            return max(1, int(value * wss))
        return int(value)


def parse_window(text: str | None) -> tuple[int, int | None]:
    """`START:END` (either side may be empty) -> (start, end or None)."""
    if not text:
        return 0, None
    match = re.fullmatch(r"\s*(\d*)\s*:\s*(\d*)\s*", text)
    if not match:
        raise PolicyforgeError(f"--window {text!r}: expected START:END request indices, e.g. 0:1000000")
    start = int(match.group(1) or 0)
    end = int(match.group(2)) if match.group(2) else None
    if end is not None and end <= start:
        raise PolicyforgeError(f"--window {text!r}: END must be greater than START")
    return start, end


def read_trace(path: str | Path, window: tuple[int, int | None] | str | None = None) -> Trace:
    """Read `path` (format from its name: .csv, .csv.zst, .bin/.oracleGeneral[.zst]) within `window`."""
    path = Path(path)
    start, end = parse_window(window) if isinstance(window, str | None) else window
    if not path.is_file():
        raise PolicyforgeError(f"{path}: no such trace file")
    name = path.name[:-4] if path.name.endswith(".zst") else path.name
    with _open(path) as raw:
        if name.endswith(".csv") or name.endswith(".txt"):
            time, obj_id, size = _read_csv(raw, path, start, end)
        else:
            time, obj_id, size = _read_oracle_general(raw, path, start, end)
    if len(obj_id) == 0:
        raise PolicyforgeError(f"{path}: no requests in window {start}:{'' if end is None else end}")
    if end is not None and start + len(obj_id) < end:
        raise PolicyforgeError(f"{path}: window {start}:{end} ends after the trace ({start + len(obj_id)} requests)")
    return make_trace(path.name, time, obj_id, size, start)


def make_trace(name: str, time: np.ndarray, obj_id: np.ndarray, size: np.ndarray, start: int = 0) -> Trace:
    """Columns -> Trace with dense ids (in order of first request) and next access within these requests."""
    obj_id = np.ascontiguousarray(obj_id, dtype=np.uint64)
    unique, first_index, inverse = np.unique(obj_id, return_index=True, return_inverse=True)
    rank = np.empty(len(unique), dtype=np.int64)
    rank[np.argsort(first_index, kind="stable")] = np.arange(len(unique))
    ids = rank[inverse]
    order = np.argsort(ids, kind="stable")
    next_access = np.full(len(ids), -1, dtype=np.int64)
    same = ids[order[1:]] == ids[order[:-1]]
    next_access[order[:-1][same]] = order[1:][same]
    return Trace(name=name, time=np.asarray(time, dtype=np.int64), obj_id=obj_id,
                 size=np.asarray(size, dtype=np.int64), ids=ids, next_access=next_access,
                 n_objects=len(unique), start=start)


class _open:
    """A binary stream over the file, decompressing zstd on the fly (no external tools)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handles: list = []

    def __enter__(self):
        handle = self.path.open("rb")
        self.handles.append(handle)
        if self.path.name.endswith(".zst"):
            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(handle, read_size=1 << 20)
            self.handles.append(reader)
            return reader
        return handle

    def __exit__(self, *exc) -> None:
        for handle in reversed(self.handles):
            handle.close()


def _read_block(raw, path: Path, size: int) -> bytes:
    try:
        return raw.read(size)
    except Exception as exc:  # zstandard.ZstdError and OSError: both mean an unreadable file
        raise PolicyforgeError(f"{path}: cannot decompress or read ({exc})") from None


def _read_oracle_general(raw, path: Path, start: int, end: int | None):
    record = ORACLE_GENERAL.itemsize
    chunks = []
    skipped = 0
    position = 0
    want = None if end is None else end - start
    got = 0
    leftover = b""
    while want is None or got < want:
        data = _read_block(raw, path, record * 65536)
        if not data:
            break
        block = leftover + data
        usable = len(block) - len(block) % record
        leftover = block[usable:]
        records = np.frombuffer(block[:usable], dtype=ORACLE_GENERAL)
        position += len(records)
        if skipped < start:
            drop = min(start - skipped, len(records))
            records = records[drop:]
            skipped += drop
        if want is not None:
            records = records[: want - got]
        got += len(records)
        chunks.append(records)
    if leftover and (want is None or got < want):
        raise PolicyforgeError(f"{path}: truncated oracleGeneral record at byte {position * record} "
                               f"({len(leftover)} of {record} bytes); not an oracleGeneral binary trace?")
    data = np.concatenate(chunks) if chunks else np.empty(0, dtype=ORACLE_GENERAL)
    return data["time"].astype(np.int64), data["obj_id"].copy(), data["size"].astype(np.int64)


def _lines(raw, path: Path) -> Iterator[str]:
    text = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")
    number = 0
    while True:
        try:
            line = text.readline()
        except UnicodeDecodeError:
            raise PolicyforgeError(f"{path}: line {number + 1}: not UTF-8 text; is this a CSV trace?") from None
        except Exception as exc:
            raise PolicyforgeError(f"{path}: cannot decompress or read ({exc})") from None
        if not line:
            return
        number += 1
        yield line


def _columns(header: str, path: Path) -> tuple[int, int, int | None, int]:
    """(time column, id column, size column or None, number of columns) from a header line."""
    names = [n.strip().lower() for n in header.lstrip("#").split(",")]

    def find(options: tuple[str, ...]) -> int | None:
        return next((i for i, n in enumerate(names) if n in options), None)

    time_col, id_col, size_col = find(TIME_NAMES), find(ID_NAMES), find(SIZE_NAMES)
    if id_col is None:
        raise PolicyforgeError(f"{path}: line 1: header {header.strip()!r} names no object id column "
                               f"(one of {', '.join(ID_NAMES)})")
    return (time_col if time_col is not None else -1), id_col, size_col, len(names)


def _read_csv(raw, path: Path, start: int, end: int | None):
    lines = _lines(raw, path)
    first = next(lines, None)
    if first is None:
        raise PolicyforgeError(f"{path}: empty file")
    line_number = 1
    if any(c.isalpha() for c in first):
        time_col, id_col, size_col, width = _columns(first, path)
        pending: list[str] = []
    else:  # no header: time, object, size[, ...] as libCacheSim's plain CSV
        width = len(first.split(","))
        if width < 2:
            raise PolicyforgeError(f"{path}: line 1: expected comma-separated time, object id[, size]")
        time_col, id_col, size_col = 0, 1, (2 if width > 2 else None)
        pending = [first]
        line_number = 0
    usecols = [c for c in (time_col, id_col, size_col) if c is not None and c >= 0]
    times, ids, sizes = [], [], []
    index = 0  # request index of the next data line
    want_end = end
    while True:
        batch = pending
        pending = []
        for line in lines:
            batch.append(line)
            if len(batch) >= CHUNK_LINES:
                break
        if not batch:
            break
        first_line = line_number + 1
        line_number += len(batch)
        lo = max(0, start - index)
        hi = len(batch) if want_end is None else min(len(batch), want_end - index)
        index += len(batch)
        if lo >= len(batch):
            continue
        part = batch[lo:hi] if hi > lo else []
        if part:
            t, o, s = _parse_csv_lines(part, path, first_line + lo, width, usecols, time_col, id_col, size_col)
            times.append(t)
            ids.append(o)
            sizes.append(s)
        if want_end is not None and index >= want_end:
            break
    if not ids:
        return np.empty(0, np.int64), np.empty(0, np.uint64), np.empty(0, np.int64)
    return np.concatenate(times), np.concatenate(ids), np.concatenate(sizes)


def _parse_csv_lines(part: list[str], path: Path, first_line: int, width: int, usecols: list[int],
                     time_col: int, id_col: int, size_col: int | None):
    try:
        table = np.loadtxt(part, delimiter=",", dtype=np.uint64, usecols=usecols, ndmin=2)
    except ValueError as exc:
        raise PolicyforgeError(_csv_error(str(exc), path, first_line, part, width)) from None
    column = {c: table[:, k] for k, c in enumerate(usecols)}
    obj = column[id_col]
    time = column[time_col].astype(np.int64) if time_col >= 0 else np.zeros(len(obj), np.int64)
    size = column[size_col].astype(np.int64) if size_col is not None else np.ones(len(obj), np.int64)
    if (size <= 0).any():
        bad = int(np.flatnonzero(size <= 0)[0])
        raise PolicyforgeError(f"{path}: line {first_line + bad}: object size must be positive")
    return time, obj, size


def _csv_error(message: str, path: Path, first_line: int, part: list[str], width: int) -> str:
    for k, line in enumerate(part):
        if line.strip() and len(line.split(",")) != width:
            return (f"{path}: line {first_line + k}: expected {width} comma-separated fields, "
                    f"got {len(line.split(','))}")
    match = re.search(r"at row (\d+), column (\d+)", message)
    what = re.sub(r"\s*at row \d+, column \d+\.?", "", message).strip().rstrip(".")
    if match:
        row, col = int(match.group(1)), int(match.group(2))
        return f"{path}: line {first_line + row}: field {col}: {what} (expected a non-negative integer)"
    return f"{path}: lines {first_line}-{first_line + len(part) - 1}: {what}"
