"""Online bin packing: a complete policyforge task written outside the package, the model to copy.

Items of integer sizes arrive one at a time and must be packed, irrevocably, into bins of capacity 100. For
each item the task calls the policy's `score(item, bins)` with the candidate bins: every open bin with room
for the item, plus a new empty bin (always last). The item goes to the highest score (the first on a tie).
The objective is `100 * lower_bound / bins_used`, where the lower bound is ceil(total size / capacity): 100
means no bin could have been saved, higher is better.

Run it by reference, from any folder:

    policyforge tasks check examples/binpacking/task.py:OnlineBinPacking
    policyforge evaluate --task examples/binpacking/task.py:OnlineBinPacking --policy examples/binpacking/baselines/best_fit.py
    policyforge evolve --task examples/binpacking/task.py:OnlineBinPacking --proposer gp --run-dir runs/bp

The two halves of the contract (policyforge.contract): `run` is untrusted (it runs in the sandbox beside the
candidate) and returns only the chosen bin of each item; `score` is trusted and replays those choices on a
fresh `Packing` of its own, which refuses any illegal one. A GP tree handed over by the engine's trusted
interpreter is packed in one compiled loop instead (binpacking_kernel.py), with the same bins.
docs/write-your-own-task.md walks through it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from policyforge.contract import (
    Decisions,
    Evaluation,
    FieldSpec,
    FunctionSpec,
    GPTable,
    Instance,
    PolicyCrashed,
    PolicyError,
    PolicySpec,
    SearchHints,
    Task,
    ViewSpec,
    as_int_array,
    check_held_out,
    finite_evaluation,
    instance_rng,
    policy_function,
)
from policyforge.errors import PolicyforgeError
from policyforge.program import GPProgram

HERE = Path(__file__).resolve().parent
CAPACITY = 100
TRAIN_DISTRIBUTIONS = ("uniform", "small", "bimodal")
HELD_OUT_DISTRIBUTIONS = ("weibull",)
"""Only in test: a reported figure includes a distribution the search never saw."""


# --- the world: item sizes and the one place a placement is accepted or refused ----------------------


def item_sizes(distribution: str, rng: np.random.Generator, count: int) -> np.ndarray:
    """The arrival sequence of an instance: `count` integer sizes in 1..CAPACITY drawn from `rng`.

    The generator comes from `instance_rng(instance, "items")` (see `_sizes`): keyed by the engine's
    secret, so the items a policy has seen do not identify the instance. Seeding a public generator with
    the instance's seed instead would let a policy find the seed from a handful of items and know every
    item still to come."""
    if distribution == "uniform":
        sizes = rng.integers(10, 51, count)
    elif distribution == "small":
        sizes = rng.integers(5, 26, count)
    elif distribution == "bimodal":
        sizes = np.where(rng.random(count) < 0.5, rng.integers(10, 26, count), rng.integers(45, 71, count))
    elif distribution == "weibull":  # FunSearch's Weibull(3, 45) items
        sizes = np.rint(45.0 * rng.weibull(3.0, count))
    else:
        raise PolicyforgeError(f"binpacking: unknown distribution {distribution!r}")
    return np.clip(sizes, 1, CAPACITY).astype(np.int64)


class Packing:
    """Bins opened so far and how full each is. `place` is the rule both halves obey: an item goes into an
    open bin with room, or into bin `open_bins`, which opens a new one; anything else is a PolicyError."""

    def __init__(self, capacity: int, max_bins: int) -> None:
        self.capacity = capacity
        self.used = np.zeros(max_bins, dtype=np.int64)
        self.items = np.zeros(max_bins, dtype=np.int64)
        self.open_bins = 0

    def candidates(self, size: int) -> np.ndarray:
        """The bins that can take an item of `size`: open ones with room, then the new one."""
        fits = np.flatnonzero(self.used[:self.open_bins] + size <= self.capacity)
        return np.append(fits, self.open_bins)

    def place(self, item: int, size: int, bin_id: int) -> None:
        if bin_id == self.open_bins and bin_id < len(self.used):
            self.open_bins += 1
        elif not 0 <= bin_id < self.open_bins:
            raise PolicyError(f"item {item}: bin {bin_id} does not exist ({self.open_bins} open; "
                              f"{self.open_bins} would open a new one)")
        elif self.used[bin_id] + size > self.capacity:
            raise PolicyError(f"item {item} (size {size}) does not fit in bin {bin_id} "
                              f"({self.capacity - self.used[bin_id]} free)")
        self.used[bin_id] += size
        self.items[bin_id] += 1


# --- what a policy sees: read-only views --------------------------------------------------------------


def _frozen(values: np.ndarray) -> np.ndarray:
    array = np.array(values, dtype=np.int64)  # a copy: writing to it could not change the packing anyway
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class ItemView:
    """The arriving item (frozen: assigning an attribute raises)."""

    size: int
    capacity: int
    arrived: int
    open_bins: int


@dataclass(frozen=True)
class BinsView:
    """The K candidate bins as read-only int arrays; the last is the new, empty bin."""

    index: np.ndarray
    free: np.ndarray
    used: np.ndarray
    items: np.ndarray
    is_new: np.ndarray

    @classmethod
    def of(cls, packing: Packing, candidates: np.ndarray) -> BinsView:
        used = packing.used[candidates]
        return cls(_frozen(candidates), _frozen(packing.capacity - used), _frozen(used),
                   _frozen(packing.items[candidates]), _frozen(candidates == packing.open_bins))

    def __len__(self) -> int:
        return len(self.index)


# --- the interface, declared once (prompt, GP grammar, static check and docs come from it) --------------

FEATURE_MODULE = "binpacking_features"

BINPACKING_POLICY = PolicySpec(
    task="binpacking",
    summary=(
        "Online bin packing. Items of integer sizes arrive one at a time and are packed, irrevocably, into "
        f"bins of capacity {CAPACITY}. For each item `score` gets the candidate bins (every open bin with "
        "room for it, plus a new empty bin, always last) and the item goes to the highest score (the first "
        "on a tie). Objective: 100 * ceil(total size / capacity) / bins used; higher is better."
    ),
    functions=(
        FunctionSpec("score", "score(item, bins)", "numpy array of K finite floats",
                     "one score per candidate bin, computed with numpy over all candidates at once"),
    ),
    views=(
        ViewSpec("item", "the arriving item", (
            FieldSpec("size", "scalar", "int", "capacity units", "size of the item"),
            FieldSpec("capacity", "scalar", "int", "capacity units", "capacity of every bin"),
            FieldSpec("arrived", "scalar", "int", "items", "items packed before this one"),
            FieldSpec("open_bins", "scalar", "int", "bins", "bins opened so far"),
        )),
        ViewSpec("bins", "the K candidate bins (read-only arrays; the last is the new bin)", (
            FieldSpec("index", "K", "int", "bin id", "opening order of the bin (the new bin's is open_bins)"),
            FieldSpec("free", "K", "int", "capacity units", "room left in the bin before the item"),
            FieldSpec("used", "K", "int", "capacity units", "room taken in the bin before the item"),
            FieldSpec("items", "K", "int", "items", "items already in the bin"),
            FieldSpec("is_new", "K", "int", "flag", "1 for the new empty bin, 0 for an open one"),
        )),
    ),
    features=(
        FunctionSpec("remaining", "remaining(item, bins)", "K ints, capacity units",
                     "room each bin would have left after taking the item"),
        FunctionSpec("fill_after", "fill_after(item, bins)", "K floats in (0, 1]",
                     "how full each bin would be after taking the item"),
        FunctionSpec("tight_fit", "tight_fit(item, bins)", "K floats in [0, 1]",
                     "1 for an exact fit, falling to 0 at a gap as large as the item"),
    ),
    feature_module=FEATURE_MODULE,
    allowed_imports=("math", "numpy", FEATURE_MODULE),
    rules=(
        "Views are read-only; writing to them raises, and changing a copy changes nothing.",
        "Return exactly one finite number per candidate bin; NaN, infinities or a wrong shape invalidate the policy.",
        "The policy is online: it sees the arriving item and the bins, never the items still to come.",
    ),
)

BINPACKING_GP_TABLE = GPTable(
    vector_view="bins",
    scalar_view="item",
    constants=(0.5, 1.0, 2.0, 10.0, 100.0, 1000.0),
    seeds={
        "first-fit": "(neg bins.index)",  # the oldest bin with room; the new bin's index is the largest
        "best-fit": "(neg remaining)",  # the least room left; the new bin leaves the most
        "worst-fit": "(sub bins.free (mul bins.is_new 1000.0))",  # the most room, new bin only when forced
    },
)
"""The offline proposer's table: the baselines as seed trees, so `--proposer gp` starts from them."""

PROBE = '''
import numpy as np


def score(item, bins):
    for name in ("index", "free", "used", "items", "is_new"):
        try:
            getattr(bins, name)[...] = 0
        except ValueError:
            continue
        raise AssertionError("bins." + name + " is writable")
    for name in ("size", "capacity", "arrived", "open_bins"):
        try:
            setattr(item, name, 0)
        except AttributeError:
            continue
        raise AssertionError("item." + name + " is writable")
    return np.zeros(len(bins))
'''


class OnlineBinPacking(Task):
    """binpacking: score the bins that can take each arriving item; use as few bins as possible.

    Instances are (distribution, seed) pairs; train, validation and test use disjoint seeds and test adds a
    held-out distribution. Decisions: `bin`, the bin each item went to, in arrival order."""

    name = "binpacking"
    spec = BINPACKING_POLICY

    def __init__(self, items: int = 500, train_seeds: list[int] | tuple[int, ...] = (1, 2),
                 validation_seeds: list[int] | tuple[int, ...] = (11,),
                 test_seeds: list[int] | tuple[int, ...] = (21, 22)) -> None:
        if items < 1:
            raise PolicyforgeError(f"binpacking: items must be positive, not {items}")
        self.items = int(items)
        self.train_seeds, self.validation_seeds = tuple(train_seeds), tuple(validation_seeds)
        self.test_seeds = tuple(test_seeds)
        check_held_out("binpacking", self.train_seeds, self.validation_seeds, self.test_seeds)

    def options(self) -> dict[str, Any]:
        return {"items": self.items, "train_seeds": list(self.train_seeds),
                "validation_seeds": list(self.validation_seeds), "test_seeds": list(self.test_seeds)}

    def instances(self) -> list[Instance]:
        def instance(distribution: str, split: str, seed: int) -> Instance:
            return Instance(f"{distribution}/seed{seed}", split,
                            {"distribution": distribution, "seed": seed, "items": self.items}, distribution)

        out = [instance(d, "train", s) for d in TRAIN_DISTRIBUTIONS for s in self.train_seeds]
        out += [instance(d, "validation", s) for d in TRAIN_DISTRIBUTIONS for s in self.validation_seeds]
        out += [instance(d, "test", s) for d in TRAIN_DISTRIBUTIONS + HELD_OUT_DISTRIBUTIONS
                for s in self.test_seeds]
        return out

    def search_hints(self) -> SearchHints:
        """The GP table and trusted tree runs (`run` keeps no state between calls, so GP trees need no
        sandbox), and proxies a quarter of the size."""
        return SearchHints(tuple(self.proxy_instances()), gp_table=BINPACKING_GP_TABLE, trusted_tree_runs=True)

    def proxy_instances(self) -> list[Instance]:
        """Optional: cheaper stand-ins of the train instances for multi-fidelity search, the same
        distribution and seed with a quarter of the items (`run` and `score` read the count from the
        instance). Worth it only if they rank policies as the full instances do: measure with
        benchmarks/proxy_fidelity.py."""
        return [Instance(f"{i.id}@proxy", "train",
                         {**i.params, "items": max(1, self.items // 4), "scale": 0.25}, i.group)
                for i in self.instances() if i.split == "train"]

    def baselines(self) -> dict[str, Path]:
        return {name: HERE / "baselines" / f"{name.replace('-', '_')}.py"
                for name in ("first-fit", "best-fit", "worst-fit")}

    def reference_baselines(self) -> tuple[str, ...]:
        """Harmonic-4 keeps a size class per bin, state the `score` interface does not show, so it is a
        reference baseline: computed here by trusted code, measured and compared like the policy files."""
        return ("harmonic-4",)

    def reference_evaluation(self, name: str, instance: Instance) -> Evaluation:
        if name != "harmonic-4":
            raise PolicyforgeError(f"binpacking: no reference baseline {name!r}")
        return self.score(instance, {"bin": harmonic_bins(_sizes(instance), CAPACITY, classes=4)})

    def run(self, policy: ModuleType, instance: Instance) -> Decisions:
        """UNTRUSTED: pack the instance's items with the policy; the decisions are the chosen bins."""
        sizes = _sizes(instance)
        programs = getattr(policy, "gp_program", None)  # a GP tree's, from the engine's trusted interpreter
        program = programs.get("score") if isinstance(programs, dict) else None
        if isinstance(program, GPProgram):
            from binpacking_kernel import pack_program  # numba: imported only on this path

            chosen = pack_program(sizes, CAPACITY, program)
            if chosen is not None:  # the tree packed in one compiled loop: the bins `score` would choose
                return {"bin": chosen}
        score = policy_function(policy, "score")
        packing = Packing(CAPACITY, len(sizes))
        chosen = np.empty(len(sizes), dtype=np.int64)
        for i, size in enumerate(sizes.tolist()):
            candidates = packing.candidates(size)
            item = ItemView(size, CAPACITY, i, packing.open_bins)
            try:
                raw = score(item, BinsView.of(packing, candidates))
            except Exception as exc:  # the policy's own bug: crashed, with its reason
                raise PolicyCrashed(f"score raised {type(exc).__name__}: {exc}") from None
            values = np.asarray(raw, dtype=float) if _numeric(raw) else None
            if values is None or values.shape != candidates.shape or not np.isfinite(values).all():
                raise PolicyError(f"item {i}: score must return {len(candidates)} finite numbers, "
                                  f"got {_describe(raw)}")
            chosen[i] = candidates[int(np.argmax(values))]
            packing.place(i, size, int(chosen[i]))
        return {"bin": chosen}

    def score(self, instance: Instance, decisions: Decisions) -> Evaluation:
        """TRUSTED: replay the chosen bins on a fresh packing; PolicyError at the first illegal one."""
        sizes = _sizes(instance)
        chosen = as_int_array(decisions, "bin", len(sizes))
        packing = Packing(CAPACITY, len(sizes))
        for i, (size, bin_id) in enumerate(zip(sizes.tolist(), chosen.tolist(), strict=True)):
            packing.place(i, size, bin_id)
        bins, lower_bound = packing.open_bins, math.ceil(int(sizes.sum()) / CAPACITY)
        return finite_evaluation(100.0 * lower_bound / bins, {
            "bins": bins, "lower_bound": lower_bound, "excess_bins": bins - lower_bound,
            "fill_percent": 100.0 * int(sizes.sum()) / (bins * CAPACITY)})

    def read_only_probe(self) -> str:
        return PROBE

    def objective(self) -> str:
        return ("100 * lower bound / bins used, where the lower bound is ceil(total item size / capacity); "
                "mean over instances; 100 is a perfect packing; higher is better.")


def harmonic_bins(sizes: np.ndarray, capacity: int, classes: int) -> np.ndarray:
    """Lee and Lee's Harmonic-k: an item in (capacity/(j+1), capacity/j] goes to a bin of class j that holds j
    such items (j < k); items of at most capacity/k share class-k bins, filled next-fit."""
    chosen = np.empty(len(sizes), dtype=np.int64)
    open_bin: dict[int, tuple[int, int]] = {}  # class -> (bin, items or used size in it)
    bins = 0
    for i, size in enumerate(sizes.tolist()):
        j = min(classes, capacity // size) if size > 0 else classes
        current = open_bin.get(j)
        full = current is None or (current[1] >= j if j < classes else current[1] + size > capacity)
        if full:
            current = (bins, 0)
            bins += 1
        chosen[i] = current[0]
        open_bin[j] = (current[0], current[1] + (1 if j < classes else size))
    return chosen


def _sizes(instance: Instance) -> np.ndarray:
    """The instance's items: the same in `run` and `score` (the same instance, hence the same key)."""
    params = instance.params
    return item_sizes(str(params["distribution"]), instance_rng(instance, "items"), int(params["items"]))


def _numeric(raw: object) -> bool:
    try:
        return np.asarray(raw).dtype.kind in "biuf"
    except (TypeError, ValueError):
        return False


def _describe(raw: object) -> str:
    shape = getattr(raw, "shape", None)
    return f"{type(raw).__name__} of shape {shape}" if shape is not None else type(raw).__name__
