"""Eudoxia's TOML parameter files, read as they are: same keys, same defaults, one clear line when wrong.

Keys are validated against Eudoxia's list; a key it does not know, or one we do not model, is an error that
names the file and key rather than a silent misconfiguration. Our own settings live in an optional
`[policyforge]` table so an Eudoxia file stays an Eudoxia file.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policyforge.errors import InputError

DEFAULTS: dict[str, Any] = {
    "duration": 600,
    "ticks_per_second": 1000,
    "waiting_seconds_mean": 10.0,
    "num_pipelines": 4,
    "num_operators": 5,
    "num_segs": 1,
    "interactive_prob": 0.3,
    "query_prob": 0.1,
    "batch_prob": 0.6,
    "dag_linear_prob": 1.0,
    "dag_branch_in_prob": 0.0,
    "dag_branch_out_prob": 0.0,
    "cpu_io_ratio": 0.5,
    "scheduler_algo": "priority",
    "rest_scheduler_addr": "localhost:8080",
    "rest_poll_interval": 1.0,
    "num_pools": 8,
    "cpus_per_pool": 64,
    "ram_gb_per_pool": 256,
    "multi_operator_containers": True,
    "allow_memory_overcommit": False,
    "random_seed": 42,
    "estimator_algo": None,
    "estimator_noise_sigma": 0.0,
}
"""Eudoxia's parameters and defaults (its simulator's `get_param_defaults`)."""

LEGACY_KEYS = {"cpu_pool", "ram_pool", "noisy_estimator_sigma", "estimator_seed"}
"""Older Eudoxia names: `cpu_pool`/`ram_pool` are cluster totals split over the pools."""

UNSUPPORTED = {
    "max_job_seconds": "job timeouts are not modelled",
}

OURS: dict[str, Any] = {"estimate_sigma": None, "generator": "eudoxia"}
"""The `[policyforge]` table: estimate noise (lognormal sigma; default 0.3 unless Eudoxia's noisy estimator is
configured) and the workload generator used without a trace ("eudoxia" or "diverse")."""

DEFAULT_ESTIMATE_SIGMA = 0.3


@dataclass(frozen=True)
class SimParams:
    """Validated parameters. `cpus`/`ram_gb` are per pool."""

    duration: float
    ticks_per_second: int
    cpus: tuple[int, ...]
    ram_gb: tuple[float, ...]
    multi_operator_containers: bool
    random_seed: int
    scheduler_algo: str
    estimate_sigma: float
    estimate_seed: int | None
    generator: str
    workload: dict[str, Any]
    source: str = "<memory>"

    @property
    def max_ticks(self) -> int:
        return int(self.duration * self.ticks_per_second)

    @property
    def num_pools(self) -> int:
        return len(self.cpus)

    @property
    def noise_seed(self) -> int:
        """Seed of the estimate noise: `estimator_seed` when given, else the run's `random_seed`."""
        return self.random_seed if self.estimate_seed is None else self.estimate_seed


def load_params(path: str | Path) -> SimParams:
    """Read and validate a TOML parameter file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), None, None, "parameter file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), None, None, f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        line = int(where.group(1)) if where else None
        column = f", column {where.group(2)}" if where else ""
        raise InputError(str(path), line, None, f"invalid TOML{column}: {message}") from None
    return parse_params(raw, str(path))


def _fail(source: str, key: str, reason: str) -> InputError:
    return InputError(source, None, None, f"key '{key}': {reason}")


def _number(source: str, key: str, value: Any, *, integer: bool = False, positive: bool = False,
            minimum: float | None = None) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer and isinstance(value, float):
        ok = value.is_integer()
    if ok and positive and value <= 0:
        ok = False
    if ok and minimum is not None and value < minimum:
        ok = False
    if not ok:
        want = ("a positive " if positive else "a ") + ("integer" if integer else "number")
        if minimum is not None:
            want += f" >= {minimum:g}"
        raise _fail(source, key, f"expected {want}, got {value!r}")
    return int(value) if integer else float(value)


def parse_params(raw: dict[str, Any], source: str = "<memory>") -> SimParams:
    """Validate a parameter mapping (as read from TOML) and fill Eudoxia's defaults."""
    ours = dict(OURS)
    values = dict(DEFAULTS)
    for key, value in raw.items():
        if key == "policyforge":
            if not isinstance(value, dict):
                raise _fail(source, key, "expected a table")
            for sub, subvalue in value.items():
                if sub not in OURS:
                    raise _fail(source, f"policyforge.{sub}", f"unknown setting (known: {', '.join(OURS)})")
                ours[sub] = subvalue
        elif key in UNSUPPORTED:
            raise _fail(source, key, f"not supported: {UNSUPPORTED[key]}")
        elif key not in DEFAULTS and key not in LEGACY_KEYS:
            raise _fail(source, key, "unknown parameter")
        else:
            values[key] = value
    num_pools = _number(source, "num_pools", values["num_pools"], integer=True, positive=True)
    cpus, ram = _pools(source, raw, values, num_pools)
    probs = {k: _number(source, k, values[k], minimum=0) for k in ("interactive_prob", "query_prob", "batch_prob")}
    if not math.isclose(sum(probs.values()), 1.0, abs_tol=1e-9):
        raise _fail(source, "batch_prob", f"interactive_prob + query_prob + batch_prob must be 1, got {sum(probs.values()):g}")
    shapes = {k: _number(source, k, values[k], minimum=0)
              for k in ("dag_linear_prob", "dag_branch_in_prob", "dag_branch_out_prob")}
    if not math.isclose(sum(shapes.values()), 1.0, abs_tol=1e-9):
        raise _fail(source, "dag_linear_prob", "dag_linear_prob + dag_branch_in_prob + dag_branch_out_prob must be 1")
    ratio = _number(source, "cpu_io_ratio", values["cpu_io_ratio"], minimum=0)
    if ratio > 1:
        raise _fail(source, "cpu_io_ratio", f"must be between 0 and 1, got {ratio:g}")
    for key in ("multi_operator_containers", "allow_memory_overcommit"):
        if not isinstance(values[key], bool):
            raise _fail(source, key, f"expected true or false, got {values[key]!r}")
    if values["allow_memory_overcommit"]:
        raise _fail(source, "allow_memory_overcommit", "not supported: memory overcommit is not modelled")
    if not isinstance(values["scheduler_algo"], str):
        raise _fail(source, "scheduler_algo", f"expected a name, got {values['scheduler_algo']!r}")
    seed = _number(source, "random_seed", values["random_seed"], integer=True, minimum=0)
    workload = {
        "waiting_seconds_mean": _number(source, "waiting_seconds_mean", values["waiting_seconds_mean"], positive=True),
        "num_pipelines": _number(source, "num_pipelines", values["num_pipelines"], integer=True, positive=True),
        "num_operators": _number(source, "num_operators", values["num_operators"], integer=True, positive=True),
        "cpu_io_ratio": ratio, **probs, **shapes,
    }
    _number(source, "num_segs", values["num_segs"], integer=True, positive=True)
    return SimParams(
        duration=_number(source, "duration", values["duration"], positive=True),
        ticks_per_second=_number(source, "ticks_per_second", values["ticks_per_second"], integer=True, positive=True),
        cpus=cpus, ram_gb=ram, multi_operator_containers=values["multi_operator_containers"],
        random_seed=seed, scheduler_algo=values["scheduler_algo"],
        estimate_sigma=_sigma(source, values, ours), estimate_seed=_estimate_seed(source, values, seed),
        generator=_generator(source, ours["generator"]), workload=workload, source=source)


def _pools(source: str, raw: dict[str, Any], values: dict[str, Any], num_pools: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Per-pool CPUs and RAM; the legacy totals are split with the remainder on the first pools, as Eudoxia did."""
    if "cpu_pool" in raw and "cpus_per_pool" not in raw:
        total = _number(source, "cpu_pool", raw["cpu_pool"], integer=True, positive=True)
        base, extra = divmod(total, num_pools)
        cpus = tuple(base + (1 if i < extra else 0) for i in range(num_pools))
    else:
        cpus = (_number(source, "cpus_per_pool", values["cpus_per_pool"], integer=True, positive=True),) * num_pools
    if "ram_pool" in raw and "ram_gb_per_pool" not in raw:
        total = _number(source, "ram_pool", raw["ram_pool"], integer=True, positive=True)
        base, extra = divmod(total, num_pools)
        ram = tuple(float(base + (1 if i < extra else 0)) for i in range(num_pools))
    else:
        ram = (_number(source, "ram_gb_per_pool", values["ram_gb_per_pool"], positive=True),) * num_pools
    if min(cpus) <= 0 or min(ram) <= 0:
        raise _fail(source, "num_pools", "more pools than CPUs or GB of RAM to split among them")
    return cpus, ram


def _sigma(source: str, values: dict[str, Any], ours: dict[str, Any]) -> float:
    if ours["estimate_sigma"] is not None:
        return _number(source, "policyforge.estimate_sigma", ours["estimate_sigma"], minimum=0)
    algo = values.get("estimator_algo")
    if algo not in (None, "noisyoracle"):
        raise _fail(source, "estimator_algo", f"unknown estimator {algo!r} (known: noisyoracle)")
    if algo == "noisyoracle":
        key = "noisy_estimator_sigma" if "noisy_estimator_sigma" in values else "estimator_noise_sigma"
        return _number(source, key, values[key], minimum=0)
    return DEFAULT_ESTIMATE_SIGMA


def _estimate_seed(source: str, values: dict[str, Any], seed: int) -> int | None:
    if "estimator_seed" in values:
        return _number(source, "estimator_seed", values["estimator_seed"], integer=True, minimum=0)
    return None


def _generator(source: str, name: Any) -> str:
    if name not in ("eudoxia", "diverse"):
        raise _fail(source, "policyforge.generator", f"expected 'eudoxia' or 'diverse', got {name!r}")
    return name
