"""A user's own cluster without a trace: a short YAML spec of node pools and a pod shape mix.

    name: my-cluster
    seed: 0                      # the generated pods depend only on this
    nodes:                       # node pools
      - {count: 100, cpu_milli: 96000, memory_mib: 393216, gpus: 8, model: A100}
    pods:
      count: 5000                # pods to generate
      arrival_rate_per_hour: 60  # optional, for replay: Poisson arrivals
      mean_duration_hours: 24    # optional, for replay: exponential durations
      shapes:                    # the mix; weights need not sum to 1
        - {weight: 3, cpu_milli: 8000, memory_mib: 32768, num_gpu: 1, gpu_milli: 500}
        - {weight: 1, cpu_milli: 32000, memory_mib: 131072, num_gpu: 4, gpu_milli: 1000, gpu_spec: "A100"}

The result is the same NodeTable and PodTable a trace gives, so every command works on it unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from policyforge.errors import InputError
from policyforge.tasks.k8s_gpu.trace import MILLI, MODEL_INDEX, NodeTable, PodTable, parse_model_spec

NODE_KEYS = {"count", "cpu_milli", "memory_mib", "gpus", "model", "name"}
POD_KEYS = {"count", "shapes", "arrival_rate_per_hour", "mean_duration_hours"}
SHAPE_KEYS = {"weight", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec"}
TOP_KEYS = {"name", "seed", "nodes", "pods", "description"}


def _number(where: str, path: str, table: dict, key: str, default=None, integer: bool = True,
            positive: bool = False) -> float:
    value = table.get(key, default)
    if value is None:
        raise InputError(path, None, None, f"{where}: missing '{key}'")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(path, None, None, f"{where}: '{key}' must be a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise InputError(path, None, None, f"{where}: '{key}' must be {'positive' if positive else 'non-negative'}, got {value}")
    if integer and value != int(value):
        raise InputError(path, None, None, f"{where}: '{key}' must be a whole number, got {value}")
    return int(value) if integer else float(value)


def _unknown(where: str, path: str, table: dict, allowed: set[str]) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise InputError(path, None, None, f"{where}: unknown key '{extra[0]}' (allowed: {', '.join(sorted(allowed))})")


def load_spec(path: str | Path) -> tuple[NodeTable, PodTable, str]:
    """Generate the cluster and workload a YAML spec describes; InputError names the offending entry."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise InputError(where, None, None, "file not found")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(where, mark.line + 1 if mark else None, None, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(spec, dict):
        raise InputError(where, None, None, "expected a mapping with 'nodes' and 'pods'")
    _unknown("top level", where, spec, TOP_KEYS)
    seed = _number("top level", where, spec, "seed", default=0)
    nodes = _nodes(spec.get("nodes"), where)
    pods = _pods(spec.get("pods"), where, seed)
    return nodes, pods, str(spec.get("name", path.stem))


def _nodes(pools, where: str) -> NodeTable:
    if not isinstance(pools, list) or not pools:
        raise InputError(where, None, None, "'nodes' must be a non-empty list of node pools")
    names, cpu, mem, gpus, models = [], [], [], [], []
    for k, pool in enumerate(pools):
        label = f"nodes[{k}]"
        if not isinstance(pool, dict):
            raise InputError(where, None, None, f"{label}: expected a mapping")
        _unknown(label, where, pool, NODE_KEYS)
        count = _number(label, where, pool, "count", positive=True)
        n_gpu = _number(label, where, pool, "gpus", default=0)
        model = str(pool.get("model", "") or "")
        if n_gpu and model not in MODEL_INDEX:
            raise InputError(where, None, None, f"{label}: unknown GPU model {model!r}")
        prefix = str(pool.get("name", f"pool{k}"))
        for i in range(count):
            names.append(f"{prefix}-{i:05d}")
            cpu.append(_number(label, where, pool, "cpu_milli", positive=True))
            mem.append(_number(label, where, pool, "memory_mib", positive=True))
            gpus.append(n_gpu)
            models.append(MODEL_INDEX[model] if n_gpu else -1)
    return NodeTable(tuple(names), np.array(cpu, np.int64), np.array(mem, np.int64),
                     np.array(gpus, np.int64), np.array(models, np.int64), where)


def _pods(table, where: str, seed: int) -> PodTable:
    if not isinstance(table, dict):
        raise InputError(where, None, None, "'pods' must be a mapping with 'count' and 'shapes'")
    _unknown("pods", where, table, POD_KEYS)
    count = _number("pods", where, table, "count", positive=True)
    shapes = table.get("shapes")
    if not isinstance(shapes, list) or not shapes:
        raise InputError(where, None, None, "pods: 'shapes' must be a non-empty list")
    rows = []
    for k, shape in enumerate(shapes):
        label = f"pods.shapes[{k}]"
        if not isinstance(shape, dict):
            raise InputError(where, None, None, f"{label}: expected a mapping")
        _unknown(label, where, shape, SHAPE_KEYS)
        num = _number(label, where, shape, "num_gpu", default=0)
        milli = _number(label, where, shape, "gpu_milli", default=MILLI if num else 0)
        if milli > MILLI:
            raise InputError(where, None, None, f"{label}: gpu_milli {milli} is over 1000 (it is per GPU)")
        if num > 1 and milli < MILLI:
            raise InputError(where, None, None, f"{label}: fractional GPU with num_gpu {num}")
        if (num == 0) != (milli == 0):
            raise InputError(where, None, None, f"{label}: num_gpu and gpu_milli must both be 0 or both positive")
        mask = parse_model_spec(str(shape.get("gpu_spec", "") or ""), where, None, f"{label}.gpu_spec")
        rows.append((_number(label, where, shape, "weight", default=1, integer=False, positive=True),
                     _number(label, where, shape, "cpu_milli"), _number(label, where, shape, "memory_mib"),
                     num, milli, mask))
    table_rows = np.array([r[1:] for r in rows], np.int64)
    weights = np.array([r[0] for r in rows], np.float64)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(rows), size=count, p=weights / weights.sum())
    rate = _number("pods", where, table, "arrival_rate_per_hour", default=60, integer=False, positive=True)
    mean_hours = _number("pods", where, table, "mean_duration_hours", default=24, integer=False, positive=True)
    created = np.floor(np.cumsum(rng.exponential(3600.0 / rate, count)))
    deleted = created + np.ceil(rng.exponential(mean_hours * 3600.0, count))
    chosen = table_rows[pick]
    names = tuple(f"pod-{i:06d}" for i in range(count))
    return PodTable(names, chosen[:, 0].copy(), chosen[:, 1].copy(), chosen[:, 2].copy(), chosen[:, 3].copy(),
                    chosen[:, 4].copy(), created, deleted, where)
