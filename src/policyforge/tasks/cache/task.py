"""The cache search task: evolve Vulcan RANK eviction functions over libCacheSim-exact traces.

An instance is (trace window, mode, cache size): windows of the Twitter cluster-52 trace (train on early
windows, validation on later ones, test on held-out windows after both) and the whole CloudPhysics trace
(test only), each in bytes and objects mode at 10% and 1% of the window's working set. The score is Vulcan's
miss-ratio reduction relative to FIFO in percent: 100 (mr_FIFO - mr) / mr_FIFO when better, 100 (mr_FIFO -
mr) / mr when worse (request miss ratio). The untrusted half runs the RANK mechanism with the candidate's
`score` and returns its victims; the trusted half replays them on a fresh simulator (rank.judge) and runs
FIFO itself. Mechanism-level baselines (ARC, S3-FIFO, ...) cannot be RANK policy files: they are the task's
`reference_baselines`, computed by trusted compiled code and measured by every run beside the RANK files, so
verdicts compare a candidate with them too. Belady (offline optimal) is no baseline: it is the bound, shown
in the feedback and the benchmark.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from policyforge.contract import (
    CommandLine,
    Decisions,
    Evaluation,
    Instance,
    PolicySpec,
    SearchHints,
    Task,
    versus_best_baseline,
)
from policyforge.errors import PolicyforgeError
from policyforge.tasks.cache import mechanism, rank, sampled
from policyforge.tasks.cache.interface import (
    CACHE_GP_TABLE,
    CACHE_RANK_POLICY,
    CACHE_SAMPLED_GP_TABLE,
    CACHE_SAMPLED_POLICY,
)
from policyforge.tasks.cache.simulate import run_baseline
from policyforge.tasks.cache.trace import Trace, make_trace, read_trace

TWITTER = "twitter_cluster52_10m.csv.zst"
CLOUDPHYSICS = "cloudPhysicsIO.oracleGeneral.bin"
TRACE_LABELS = {TWITTER: "twitter", CLOUDPHYSICS: "cloudphysics"}
BASELINE_FILES = {"fifo": "fifo.py", "lru": "lru.py", "lfu": "lfu.py", "gdsf-rank": "gdsf.py",
                  "gdsf-like": "gdsf_like.py", "size-aware": "size_aware.py"}
MECHANISM_BASELINES = ("arc", "s3fifo", "sieve", "twoq", "lirs", "gdsf", "lhd", "lecar", "cacheus", "wtinylfu")
"""Mechanism-level baselines measured beside the RANK baselines (trusted, compiled; not policy files)."""
REFERENCES = (*MECHANISM_BASELINES, "belady")
"""Every compiled reference figure, the offline optimum (Belady, the bound) included."""
TEST_WINDOWS = tuple(range(5_000_000, 10_000_000, 500_000))
"""Ten held-out Twitter windows per group (after train and validation): a group's verdict has an interval
over windows, as a k8s-gpu workload's has over seeds."""
PROXY_SCALE = 0.25
"""A proxy window's share of its train window (benchmarks/proxy_fidelity.py measured it)."""

PROBE = '''
import numpy as np

COLUMNS = ("size", "insert_time", "last_access", "prev_access", "count", "total_count", "in_ghost", "hit",
           "ewma_size", "ewma_gap")


def _must_fail(action, what):
    try:
        action()
    except (AttributeError, TypeError, ValueError):
        return
    raise AssertionError(what + " succeeded")


def score(objs, stats):
    for name in COLUMNS:
        column = getattr(objs, name)
        _must_fail(lambda: column.__setitem__(Ellipsis, 0.0), "writing objs." + name)
        _must_fail(lambda: setattr(objs, name, column * 0.0), "setting objs." + name)
        _must_fail(lambda: delattr(objs, name), "deleting objs." + name)
    for name in ("capacity", "objects", "requests", "clock"):
        _must_fail(lambda: setattr(stats, name, 1.0e18), "setting stats." + name)
    _must_fail(lambda: setattr(objs, "next_access", objs.size), "adding objs.next_access")
    return np.asarray(objs.last_access, dtype=float)
'''


def default_data_dir() -> Path:
    """The cache traces' folder: $POLICYFORGE_DATA/cache, or data/cache (absolute: the sandbox's cwd differs)."""
    return (Path(os.environ.get("POLICYFORGE_DATA", "data")) / "cache").resolve()


def window_file(data_dir: Path, trace: str, start: int, end: int | None) -> Path:
    """Where the decoded columns of one window are kept (so a sandboxed child never re-reads 6M CSV lines)."""
    return data_dir / "windows" / f"{trace}.{start}-{'end' if end is None else end}.npz"


@lru_cache(maxsize=16)
def load_window(data_dir: str, trace: str, start: int, end: int | None) -> Trace:
    """A trace window, from its decoded-columns file when present, else from the trace (then saved if the
    folder is writable: the engine prepares them; a read-only sandbox simply reads the trace)."""
    folder = Path(data_dir)
    kept = window_file(folder, trace, start, end)
    if kept.is_file():
        with np.load(kept) as columns:
            return make_trace(trace, columns["time"], columns["obj_id"], columns["size"], start)
    path = folder / trace
    if not path.exists():
        raise PolicyforgeError(f"{path}: cache trace missing; run `policyforge data fetch cache`")
    window = read_trace(path, (start, end))
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(partial, time=window.time, obj_id=window.obj_id, size=window.size)
        partial.replace(kept)
    except OSError:
        pass
    return window


def _pct(fraction: float) -> str:
    return f"{fraction * 100:g}%"


class CacheTask(Task):
    """cache: rank cached objects (Vulcan's RANK); minimise the miss ratio relative to FIFO.

    Decisions: the ids of the evicted objects in order, and the requests whose object the optional `admit`
    hook refused; the trusted half replays them on a fresh cache and refuses the first victim that is not
    cached, too few or too many, and any refusal that is not a missed object's insertion. A policy defining
    `priority` instead of `score` takes Vulcan's sampled-at-eviction mode (sampled.py), whose judge also
    refuses a victim outside the sample its eviction drew; `gp_mode="sampled"` makes GP evolve it."""

    name = "cache"
    spec: PolicySpec = CACHE_RANK_POLICY
    interfaces = (CACHE_SAMPLED_POLICY,)
    """Vulcan's sampled-at-eviction mode (`priority`, sampled.py), beside RANK (`score`)."""

    def __init__(self, window: int = 200_000, train_windows: list[int] | tuple[int, ...] = (0, 1_000_000),
                 validation_windows: list[int] | tuple[int, ...] = (3_000_000, 4_000_000),
                 test_windows: list[int] | tuple[int, ...] = TEST_WINDOWS,
                 modes: list[str] | tuple[str, ...] = ("bytes", "objects"),
                 fractions: list[float] | tuple[float, ...] = (0.1, 0.01), cloudphysics: bool = True,
                 data_dir: str | None = None, workload: str | None = None,
                 proxy_scale: float = PROXY_SCALE, gp_mode: str = "rank") -> None:
        if workload not in (None, "openb-synthetic", "default", "twitter"):
            raise PolicyforgeError(f"cache: --workload {workload!r} is not a cache workload (the task reads the "
                                   "Twitter and CloudPhysics traces; set windows with --task-options)")
        if window <= 0:
            raise PolicyforgeError(f"cache: window {window} must be positive")
        for mode in modes:
            if mode not in ("bytes", "objects"):
                raise PolicyforgeError(f"cache: mode {mode!r} is neither bytes nor objects")
        if not fractions or any(not 0 < f <= 1 for f in fractions):
            raise PolicyforgeError(f"cache: fractions {list(fractions)} must lie in (0, 1]")
        if not 0 <= proxy_scale < 1 or (proxy_scale and int(window * proxy_scale) < 1):
            raise PolicyforgeError(f"cache: proxy_scale {proxy_scale} must lie in [0, 1) (0: no proxies) and "
                                   "leave a proxy window at least one request long")
        held = set(train_windows) | set(validation_windows)
        if held & set(test_windows):
            raise PolicyforgeError(f"cache: windows {sorted(held & set(test_windows))} are in test and train/validation")
        self.window = int(window)
        self.train_windows, self.validation_windows = tuple(train_windows), tuple(validation_windows)
        self.test_windows = tuple(test_windows)
        self.modes, self.fractions = tuple(modes), tuple(float(f) for f in fractions)
        self.cloudphysics = bool(cloudphysics)
        self.proxy_scale = float(proxy_scale)
        """A proxy window's share of its train window (0: no proxies)."""
        self.data_dir = str(Path(data_dir).resolve()) if data_dir else str(default_data_dir())
        if gp_mode not in ("rank", "sampled"):
            raise PolicyforgeError(f"cache: gp_mode {gp_mode!r} is neither rank nor sampled")
        self.gp_mode = gp_mode
        """What GP evolves: RANK's `score` or the sampled mode's `priority`."""

    def options(self) -> dict[str, Any]:
        return {"window": self.window, "train_windows": list(self.train_windows),
                "validation_windows": list(self.validation_windows), "test_windows": list(self.test_windows),
                "modes": list(self.modes), "fractions": list(self.fractions), "cloudphysics": self.cloudphysics,
                "data_dir": self.data_dir, "proxy_scale": self.proxy_scale, "gp_mode": self.gp_mode}

    @classmethod
    def options_from_cli(cls, workload: str | None, report=print) -> dict[str, Any]:
        cls(workload=workload)  # refuses a workload that is not the cache's, in one line
        return {}

    # --- instances ------------------------------------------------------------------------------------
    def _cases(self, split: str, trace: str, start: int, end: int | None) -> list[Instance]:
        label = TRACE_LABELS[trace]
        where = "" if end is None else f"@{start}"
        return [Instance(f"{label}{where}/{mode}/{_pct(f)}", split,
                         {"trace": trace, "start": start, "end": end, "mode": mode, "fraction": f},
                         f"{label}/{mode}/{_pct(f)}")
                for mode in self.modes for f in self.fractions]

    def instances(self) -> list[Instance]:
        out: list[Instance] = []
        for split, starts in (("train", self.train_windows), ("validation", self.validation_windows),
                              ("test", self.test_windows)):
            for start in starts:
                out += self._cases(split, TWITTER, start, start + self.window)
        if self.cloudphysics:
            out += self._cases("test", CLOUDPHYSICS, 0, None)
        return out

    def search_hints(self) -> SearchHints:
        sampled = self.gp_mode == "sampled"
        return SearchHints(tuple(self.proxy_instances()), tuple(self.screen_instances()),
                           gp_spec=CACHE_SAMPLED_POLICY if sampled else None,
                           gp_table=CACHE_SAMPLED_GP_TABLE if sampled else CACHE_GP_TABLE,
                           trusted_tree_runs=True,  # `run` keeps only read-only caches (trace windows, compiled kernels)
                           feedback=self.feedback)

    def screen_instances(self) -> list[Instance]:
        return [i for i in self.instances() if i.split == "train"][:1]

    def proxy_instances(self) -> list[Instance]:
        """Per train instance, the first `proxy_scale` of its window, same mode and cache fraction: the cache
        is that fraction of the shorter window's own working set (`capacity`), as for any window. `end`
        says where the window stops, `scale` only records the share."""
        if not self.proxy_scale:
            return []
        out = []
        for i in self.instances():
            if i.split == "train":
                start, end = int(i.params["start"]), int(i.params["end"])
                short = start + max(1, int((end - start) * self.proxy_scale))
                out.append(Instance(f"{i.id}@proxy", "train", {**i.params, "end": short, "scale": self.proxy_scale},
                                    i.group))
        return out

    def baselines(self) -> dict[str, Path]:
        return {name: rank.POLICY_DIR / file for name, file in BASELINE_FILES.items()}

    def data_paths(self) -> tuple[str, ...]:
        """The trace folder; first decodes every instance's window once (trusted, in the engine), so the
        sandboxed child loads a small file instead of decompressing millions of CSV lines, and compiles the
        mechanism into numba's cache beside the source, which the child loads instead of compiling it."""
        for instance in self.instances() + self.proxy_instances():
            self.trace(instance)
        rank.warm_up()  # the child loads these compiled kernels instead of compiling them (_jit)
        sampled.warm_up()
        return (self.data_dir,)

    def cache_dir(self) -> Path:
        return Path(self.data_dir) / "results"

    # --- the two halves -------------------------------------------------------------------------------
    def trace(self, instance: Instance) -> Trace:
        p = instance.params
        return load_window(self.data_dir, str(p["trace"]), int(p["start"]),
                           None if p["end"] is None else int(p["end"]))

    def capacity(self, instance: Instance) -> int:
        return self.trace(instance).cache_size(float(instance.params["fraction"]), str(instance.params["mode"]))

    def run(self, policy: ModuleType, instance: Instance) -> Decisions:
        return mechanism.run(policy, instance, self.trace(instance), str(instance.params["mode"]),
                         self.capacity(instance))

    def score(self, instance: Instance, decisions: Decisions) -> Evaluation:
        result = mechanism.judge(instance, self.trace(instance), str(instance.params["mode"]), self.capacity(instance),
                             decisions)
        fifo = self.reference(instance, "fifo")
        return Evaluation(100.0 * rank.reduction_vs_fifo(result.miss_ratio, fifo["miss_ratio"]),
                          {"miss_ratio": result.miss_ratio, "byte_miss_ratio": result.byte_miss_ratio,
                           "fifo_miss_ratio": fifo["miss_ratio"]})

    # --- trusted reference figures ----------------------------------------------------------------------
    def reference_baselines(self) -> tuple[str, ...]:
        return MECHANISM_BASELINES

    def reference_evaluation(self, name: str, instance: Instance) -> Evaluation:
        if name not in REFERENCES:
            raise PolicyforgeError(f"cache: no reference baseline {name!r} (one of {', '.join(REFERENCES)})")
        fifo = self.reference(instance, "fifo")["miss_ratio"]
        ours = self.reference(instance, name)
        return Evaluation(100.0 * rank.reduction_vs_fifo(ours["miss_ratio"], fifo),
                          {"miss_ratio": ours["miss_ratio"], "byte_miss_ratio": ours["byte_miss_ratio"],
                           "fifo_miss_ratio": fifo})

    def reference(self, instance: Instance, name: str) -> dict[str, float]:
        """A compiled baseline's miss ratios on `instance` (trusted; cached per process)."""
        p = instance.params
        return _reference(self.data_dir, str(p["trace"]), int(p["start"]),
                          None if p["end"] is None else int(p["end"]), str(p["mode"]), float(p["fraction"]), name)

    def reference_scores(self, instance: Instance, names: tuple[str, ...] = REFERENCES) -> dict[str, float]:
        """The objective of each mechanism-level baseline on `instance` (percent reduction vs FIFO)."""
        fifo = self.reference(instance, "fifo")["miss_ratio"]
        return {n: 100.0 * rank.reduction_vs_fifo(self.reference(instance, n)["miss_ratio"], fifo) for n in names}

    def read_only_probe(self) -> str:
        """A policy that tries to write, replace and add view attributes; each attempt must fail."""
        return PROBE

    def objective(self) -> str:
        return ("Miss-ratio reduction relative to FIFO in percent, mean over instances: 100 (mr_FIFO - mr) / "
                "mr_FIFO when better than FIFO, 100 (mr_FIFO - mr) / mr when worse (mr = misses / requests). "
                "Higher is better; FIFO scores 0.")

    def feedback(self, scores: dict[str, float], metrics: dict[str, dict[str, float]],
                 baseline_scores: dict[str, dict[str, float]]) -> str:
        by_id = {i.id: i for i in self.instances()}
        lines = []
        for instance_id, value in scores.items():
            m = metrics.get(instance_id, {})
            refs = ", ".join(f"{b} {s[instance_id]:.2f}" for b, s in baseline_scores.items() if instance_id in s)
            line = (f"{instance_id}: score {value:.2f}% (miss ratio {m.get('miss_ratio', float('nan')):.4f}, FIFO "
                    f"{m.get('fifo_miss_ratio', float('nan')):.4f}); baselines: {refs or 'none'}")
            if instance_id in by_id:
                line += f"; Belady (offline optimum) {self.reference_scores(by_id[instance_id], ('belady',))['belady']:.2f}"
            lines.append(line)
        lines.append(versus_best_baseline(scores, baseline_scores))
        return "\n".join(line for line in lines if line)

    # --- command line -----------------------------------------------------------------------------------
    @classmethod
    def command_line(cls) -> CommandLine:
        from policyforge.tasks.cache.cli import command_line

        return command_line()


@lru_cache(maxsize=512)
def _reference(data_dir: str, trace: str, start: int, end: int | None, mode: str, fraction: float,
               name: str) -> dict[str, float]:
    window = load_window(data_dir, trace, start, end)
    result = run_baseline(window, name, window.cache_size(fraction, mode), mode)
    return {"miss_ratio": result.miss_ratio, "byte_miss_ratio": result.byte_miss_ratio}
