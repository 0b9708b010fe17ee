"""Reading the OpenB node and pod lists into column arrays, rejecting malformed rows with one clear line.

Why columns: the engine works on numpy arrays, so a trace is parsed once into int64 columns and never
touched row by row again.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from policyforge.errors import InputError

MILLI = 1000
"""One whole GPU in GPU milli."""

KNOWN_GPU_MODELS: tuple[str, ...] = (
    "G1", "G2", "G3", "T4", "P4", "P100", "V100M16", "V100M32", "A10", "A100",
    "M40", "1080", "2080", "3090", "A30", "A40", "L4", "H100",
)
"""GPU models a node list or a pod's gpu_spec may name (OpenB's, those the FGD simulator knows, a few newer)."""

MODEL_INDEX = {name: i for i, name in enumerate(KNOWN_GPU_MODELS)}
ALL_MODELS_MASK = (1 << len(KNOWN_GPU_MODELS)) - 1

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
POD_OPTIONAL_COLUMNS = ("gpu_spec", "creation_time", "deletion_time")


@dataclass(frozen=True)
class NodeTable:
    """A cluster's nodes as columns. `gpu_model` is an index into KNOWN_GPU_MODELS, -1 for a CPU node."""

    names: tuple[str, ...]
    cpu_milli: np.ndarray
    memory_mib: np.ndarray
    gpu_count: np.ndarray
    gpu_model: np.ndarray
    source: str = "<memory>"

    def __len__(self) -> int:
        return len(self.names)

    @property
    def total_gpus(self) -> int:
        return int(self.gpu_count.sum())


@dataclass(frozen=True)
class PodTable:
    """A workload's pods as columns.

    `gpu_milli` is per GPU (below 1000 only for a single sharing GPU); `model_mask` is a bit mask over
    KNOWN_GPU_MODELS of the models the pod accepts (all bits set when unconstrained). Times are seconds;
    they are NaN when the file has no time columns.
    """

    names: tuple[str, ...]
    cpu_milli: np.ndarray
    memory_mib: np.ndarray
    num_gpu: np.ndarray
    gpu_milli: np.ndarray
    model_mask: np.ndarray
    creation_time: np.ndarray
    deletion_time: np.ndarray
    source: str = "<memory>"

    def __len__(self) -> int:
        return len(self.names)

    @property
    def total_gpu_milli(self) -> np.ndarray:
        return self.num_gpu * self.gpu_milli

    @property
    def has_times(self) -> bool:
        return bool(len(self)) and not bool(np.isnan(self.creation_time).any())

    def take(self, index: np.ndarray) -> PodTable:
        """The pods at `index`, in that order (repeats allowed: used by workload inflation)."""
        names = tuple(self.names[i] for i in index)
        return PodTable(
            names, self.cpu_milli[index], self.memory_mib[index], self.num_gpu[index],
            self.gpu_milli[index], self.model_mask[index], self.creation_time[index],
            self.deletion_time[index], self.source,
        )


def _read_rows(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise InputError(str(path), None, None, "file not found")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(str(path), None, None, f"not a readable CSV file ({exc})") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError(str(path), 1, None, "empty file: expected a header line")
    header = [cell.strip() for cell in rows[0]]
    for column in required:
        if column not in header:
            raise InputError(str(path), 1, column, "missing column")
    body = [row for row in rows[1:] if any(cell.strip() for cell in row)]
    if not body:
        raise InputError(str(path), 2, None, "empty file: no data rows after the header")
    return header, rows[1:]


class _RowReader:
    """Reads typed fields of one row, raising InputError that names file, line and column."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = str(path)
        self.position = {name: i for i, name in enumerate(header)}
        self.width = len(header)

    def check_width(self, row: list[str], line: int) -> None:
        """A short row names the first column it lacks."""
        if len(row) < self.width:
            missing = next(name for name, i in self.position.items() if i == len(row))
            raise InputError(self.path, line, missing, f"row has {len(row)} fields, header has {self.width}")

    def text(self, row: list[str], line: int, column: str) -> str:
        index = self.position.get(column)
        if index is None:
            return ""
        if index >= len(row):
            raise InputError(self.path, line, column, f"row has {len(row)} fields, header has {self.width}")
        return row[index].strip()

    def count(self, row: list[str], line: int, column: str) -> int:
        raw = self.text(row, line, column)
        try:
            value = float(raw)
        except ValueError:
            raise InputError(self.path, line, column, f"not a number: {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise InputError(self.path, line, column, f"not a finite number: {raw!r}")
        if value < 0:
            raise InputError(self.path, line, column, f"negative value: {raw}")
        if value != int(value):
            raise InputError(self.path, line, column, f"not a whole number: {raw}")
        return int(value)

    def optional_time(self, row: list[str], line: int, column: str) -> float:
        raw = self.text(row, line, column)
        if raw == "":
            return float("nan")
        try:
            value = float(raw)
        except ValueError:
            raise InputError(self.path, line, column, f"not a number: {raw!r}") from None
        if value != value or value < 0 or value == float("inf"):
            raise InputError(self.path, line, column, f"not a non-negative time: {raw!r}")
        return value


def parse_model_spec(spec: str, path: str, line: int | None, column: str = "gpu_spec") -> int:
    """A `|`-separated list of GPU models as a bit mask; empty means any model."""
    names = [part.strip() for part in spec.split("|") if part.strip()]
    if not names:
        return ALL_MODELS_MASK
    mask = 0
    for name in names:
        if name not in MODEL_INDEX:
            raise InputError(path, line, column, f"unknown GPU model {name!r} (known: {', '.join(KNOWN_GPU_MODELS)})")
        mask |= 1 << MODEL_INDEX[name]
    return mask


def load_nodes(path: str | Path) -> NodeTable:
    """Read a node list `sn,cpu_milli,memory_mib,gpu,model`."""
    path = Path(path)
    header, rows = _read_rows(path, NODE_COLUMNS)
    reader = _RowReader(path, header)
    names, cpu, mem, gpus, models = [], [], [], [], []
    for offset, row in enumerate(rows):
        line = offset + 2
        if not any(cell.strip() for cell in row):
            continue
        reader.check_width(row, line)
        name = reader.text(row, line, "sn")
        if not name:
            raise InputError(str(path), line, "sn", "empty node name")
        count = reader.count(row, line, "gpu")
        model = reader.text(row, line, "model")
        if count > 0 and not model:
            raise InputError(str(path), line, "model", f"node has {count} GPUs but no GPU model")
        if model and model not in MODEL_INDEX:
            raise InputError(str(path), line, "model", f"unknown GPU model {model!r} (known: {', '.join(KNOWN_GPU_MODELS)})")
        names.append(name)
        cpu.append(reader.count(row, line, "cpu_milli"))
        mem.append(reader.count(row, line, "memory_mib"))
        gpus.append(count)
        models.append(MODEL_INDEX[model] if (model and count > 0) else -1)
    return NodeTable(
        tuple(names), np.array(cpu, np.int64), np.array(mem, np.int64), np.array(gpus, np.int64),
        np.array(models, np.int64), str(path),
    )


def load_pods(path: str | Path) -> PodTable:
    """Read a pod list; `gpu_spec` and the time columns are optional (the multigpu files lack them)."""
    path = Path(path)
    header, rows = _read_rows(path, POD_COLUMNS)
    reader = _RowReader(path, header)
    names, cpu, mem, num, milli, masks, created, deleted = [], [], [], [], [], [], [], []
    for offset, row in enumerate(rows):
        line = offset + 2
        if not any(cell.strip() for cell in row):
            continue
        reader.check_width(row, line)
        n_gpu = reader.count(row, line, "num_gpu")
        g_milli = reader.count(row, line, "gpu_milli")
        if g_milli > MILLI:
            raise InputError(str(path), line, "gpu_milli", f"{g_milli} is over 1000 (gpu_milli is per GPU)")
        if n_gpu > 1 and g_milli < MILLI:
            raise InputError(str(path), line, "gpu_milli",
                             f"fractional GPU ({g_milli}) with num_gpu {n_gpu}: only a single GPU can be shared")
        if n_gpu == 0 and g_milli > 0:
            raise InputError(str(path), line, "gpu_milli", f"{g_milli} GPU milli requested with num_gpu 0")
        if n_gpu > 0 and g_milli == 0:
            raise InputError(str(path), line, "gpu_milli", f"num_gpu {n_gpu} but gpu_milli 0")
        create = reader.optional_time(row, line, "creation_time")
        delete = reader.optional_time(row, line, "deletion_time")
        if create == create and delete == delete and delete < create:
            raise InputError(str(path), line, "deletion_time", f"{delete:g} is before creation_time {create:g}")
        names.append(reader.text(row, line, "name") or f"pod-{line}")
        cpu.append(reader.count(row, line, "cpu_milli"))
        mem.append(reader.count(row, line, "memory_mib"))
        num.append(n_gpu)
        milli.append(g_milli)
        masks.append(parse_model_spec(reader.text(row, line, "gpu_spec"), str(path), line))
        created.append(create)
        deleted.append(delete)
    return PodTable(
        tuple(names), np.array(cpu, np.int64), np.array(mem, np.int64), np.array(num, np.int64),
        np.array(milli, np.int64), np.array(masks, np.int64), np.array(created, np.float64),
        np.array(deleted, np.float64), str(path),
    )
